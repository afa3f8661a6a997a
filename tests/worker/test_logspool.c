/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the log spool: every line back in order through bounded
 * batches, a batch taken again until acknowledged, the cap and its notes,
 * NUL bytes, and a spool in memory that runs out of room.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logspool.h"

/* A spool file in a fresh folder; path gets its name. */
static struct logspool *spool_file(const struct logspool_cap *cap, char *dir,
                                   char *path, size_t len)
{
    struct weir_err err = {0};
    struct logspool *s = NULL;

    assert_non_null(mkdtemp(dir));
    snprintf(path, len, "%s/log.spool", dir);
    if (logspool_new(path, cap, &s, &err) != 0)
        fail_msg("logspool_new: %s", err.msg);
    return s;
}

static void spool_remove(struct logspool *s, const char *dir, const char *path)
{
    logspool_free(s);
    unlink(path);
    rmdir(dir);
}

/* Every line waiting, batch by batch, into one array (acknowledged). */
static cJSON *drain(struct logspool *s, int max_lines, size_t max_bytes)
{
    cJSON *all = cJSON_CreateArray(), *b, *l;
    struct weir_err err = {0};

    for (;;) {
        if (logspool_batch(s, max_lines, max_bytes, &b, &err) != 0)
            fail_msg("logspool_batch: %s", err.msg);
        if (b == NULL)
            break;
        assert_true(cJSON_GetArraySize(b) <= max_lines);
        while ((l = cJSON_DetachItemFromArray(b, 0)) != NULL)
            cJSON_AddItemToArray(all, l);
        cJSON_Delete(b);
        logspool_ack(s);
    }
    assert_int_equal(logspool_waiting(s), 0);
    return all;
}

static const char *line_of(const cJSON *l, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(l, key));
}

static double seq_of(const cJSON *l)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(l, "seq"));
}

static void test_all_lines_in_order(void **state)
{
    char dir[] = "/tmp/weir-spool-XXXXXX", path[64], text[32];
    struct logspool *s = spool_file(NULL, dir, path, sizeof(path));
    struct weir_err err = {0};
    cJSON *b = NULL, *again = NULL, *all;
    struct stat st;
    int i = 0;

    (void)state;
    for (int k = 0; k < 200000; k++) {
        snprintf(text, sizeof(text), "line %d", k);
        logspool_add(s, k % 3 ? LOGSPOOL_STDOUT : LOGSPOOL_STDERR, 1000 + k,
                     text, strlen(text));
    }
    /* a batch not acknowledged is not sent twice... */
    assert_int_equal(logspool_batch(s, 5000, 1 << 20, &b, &err), 0);
    assert_int_equal(cJSON_GetArraySize(b), 5000);
    assert_int_equal(logspool_waiting(s), 195000);
    cJSON_Delete(b);
    /* ...and a new batch after an ack starts after it */
    logspool_ack(s);
    assert_int_equal(logspool_batch(s, 10, 1 << 20, &again, &err), 0);
    assert_int_equal(seq_of(cJSON_GetArrayItem(again, 0)), 5000);
    cJSON_Delete(again);
    logspool_ack(s);
    logspool_finish(s);
    all = drain(s, 5000, 64 * 1024);
    assert_int_equal(cJSON_GetArraySize(all), 200000 - 5010);
    for (const cJSON *l = all->child; l != NULL; l = l->next, i++) {
        int k = 5010 + i;

        snprintf(text, sizeof(text), "line %d", k);
        assert_int_equal(seq_of(l), k);
        assert_string_equal(line_of(l, "line"), text);
        assert_string_equal(line_of(l, "stream"), k % 3 ? "stdout" : "stderr");
    }
    assert_null(logspool_capped_json(s));
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 200000 * 16);
    cJSON_Delete(all);
    spool_remove(s, dir, path);
}

static void test_cap(void **state)
{
    struct logspool_cap cap = {.max_lines = 10};
    char dir[] = "/tmp/weir-spool-XXXXXX", path[64], text[32];
    struct logspool *s = spool_file(&cap, dir, path, sizeof(path));
    cJSON *all, *c;
    int n;

    (void)state;
    for (int k = 1; k <= 50; k++) {
        snprintf(text, sizeof(text), "%d", k);
        logspool_add(s, LOGSPOOL_STDOUT, k, text, strlen(text));
    }
    logspool_add(s, LOGSPOOL_SYSTEM, 99, "weir-worker: timed out", 22);
    logspool_finish(s);
    all = drain(s, 4, 1 << 20);
    n = cJSON_GetArraySize(all);
    /* 10 lines (seq 1..10), the note at the cut, the note after it, and
     * the summary at seq 0 */
    assert_int_equal(n, 13);
    for (int k = 0; k < 10; k++) {
        snprintf(text, sizeof(text), "%d", k + 1);
        assert_int_equal(seq_of(cJSON_GetArrayItem(all, k)), k + 1);
        assert_string_equal(line_of(cJSON_GetArrayItem(all, k), "line"), text);
    }
    assert_non_null(strstr(line_of(cJSON_GetArrayItem(all, 10), "line"),
                           "the log is capped here"));
    assert_non_null(strstr(line_of(cJSON_GetArrayItem(all, 10), "line"), path));
    assert_string_equal(line_of(cJSON_GetArrayItem(all, 11), "line"),
                        "weir-worker: timed out");
    assert_int_equal(seq_of(cJSON_GetArrayItem(all, 10)), 11);
    assert_int_equal(seq_of(cJSON_GetArrayItem(all, 11)), 52);
    assert_int_equal(seq_of(cJSON_GetArrayItem(all, 12)), 0);
    assert_non_null(strstr(line_of(cJSON_GetArrayItem(all, 12), "line"),
                           "log capped: 10 of 50 lines (11 of 91 bytes)"));
    c = logspool_capped_json(s);
    assert_int_equal(
        cJSON_GetNumberValue(cJSON_GetObjectItem(c, "lines_total")), 50);
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(c, "lines_kept")),
                     10);
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(c, "bytes_kept")),
                     11);
    cJSON_Delete(c);
    cJSON_Delete(all);
    spool_remove(s, dir, path);
}

static void test_byte_cap_and_nul(void **state)
{
    struct logspool_cap cap = {.max_bytes = 5};
    struct weir_err err = {0};
    struct logspool *s = NULL;
    cJSON *all;

    (void)state;
    assert_int_equal(logspool_new(NULL, &cap, &s, &err), 0);
    logspool_add(s, LOGSPOOL_STDERR, 1, "a\0b", 3);
    logspool_add(s, LOGSPOOL_STDOUT, 2, "cde", 3); /* 6 bytes: cut */
    logspool_finish(s);
    all = drain(s, 100, 1 << 20);
    assert_int_equal(cJSON_GetArraySize(all), 3);
    assert_string_equal(line_of(cJSON_GetArrayItem(all, 0), "line"),
                        "a\xef\xbf\xbd"
                        "b");
    assert_non_null(strstr(line_of(cJSON_GetArrayItem(all, 2), "line"),
                           "log capped: 1 of 2 lines (3 of 6 bytes)"));
    cJSON_Delete(all);
    logspool_free(s);
}

static void test_memory_full(void **state)
{
    struct weir_err err = {0};
    struct logspool *s = NULL;
    char text[1000];
    cJSON *all;
    int n;

    (void)state;
    memset(text, 'x', sizeof(text));
    assert_int_equal(logspool_new(NULL, NULL, &s, &err), 0);
    for (int k = 0; k < 2000; k++)
        logspool_add(s, LOGSPOOL_STDOUT, k, text, sizeof(text));
    logspool_finish(s);
    all = drain(s, 5000, 1 << 20);
    n = cJSON_GetArraySize(all);
    /* what fits in 1 MiB, then a note at the break and one at the end */
    assert_true(n > 1000 && n < 1100);
    assert_non_null(strstr(line_of(cJSON_GetArrayItem(all, n - 2), "line"),
                           "could not be written"));
    assert_non_null(strstr(line_of(cJSON_GetArrayItem(all, n - 1), "line"),
                           "lines and 0 notes could not be kept"));
    cJSON_Delete(all);
    logspool_free(s);
}

static void test_damaged(void **state)
{
    char dir[] = "/tmp/weir-spool-XXXXXX", path[64];
    struct logspool *s = spool_file(NULL, dir, path, sizeof(path));
    cJSON *all;
    FILE *f;

    (void)state;
    for (int k = 0; k < 10; k++)
        logspool_add(s, LOGSPOOL_STDOUT, k, "ok", 2);
    logspool_sync(s);
    /* the step owns its folder: it may scribble on the spool */
    f = fopen(path, "r+");
    assert_non_null(f);
    assert_int_equal(fseek(f, 18 * 3, SEEK_SET), 0);
    fputs("\xff\xff\xff\xff\x09", f);
    fclose(f);
    logspool_finish(s);
    all = drain(s, 100, 1 << 20);
    assert_int_equal(cJSON_GetArraySize(all), 4);
    assert_string_equal(line_of(cJSON_GetArrayItem(all, 2), "line"), "ok");
    assert_non_null(strstr(line_of(cJSON_GetArrayItem(all, 3), "line"),
                           "is damaged at byte 54: 7 lines from there lost"));
    cJSON_Delete(all);
    spool_remove(s, dir, path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_lines_in_order),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_byte_cap_and_nul),
        cmocka_unit_test(test_memory_full),
        cmocka_unit_test(test_damaged),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
