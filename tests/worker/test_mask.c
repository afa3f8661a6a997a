/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the worker's masking of secret values (worker/mask.c): whole
 * values in a line, values split across two pieces of a stream, the
 * longest of two overlapping values, text that only starts like a value,
 * and outputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mask.h"

/* A mask of the NULL-terminated values. */
static struct mask *mask_of(const char *const *values)
{
    cJSON *o = cJSON_CreateObject();
    struct weir_err err = {0};
    struct mask *m = NULL;
    char name[16];

    for (int i = 0; values[i] != NULL; i++) {
        snprintf(name, sizeof(name), "S%d", i);
        cJSON_AddStringToObject(o, name, values[i]);
    }
    if (mask_new(o, &m, &err) != 0)
        fail_msg("mask_new: %s", err.msg);
    cJSON_Delete(o);
    return m;
}

/* Feed text to s and return what came out (a static buffer). */
static const char *feed(const struct mask *m, struct mask_stream *s,
                        const char *text, bool last)
{
    static char buf[512];
    struct weir_err err = {0};
    char *out = NULL;
    size_t n = 0;

    if (mask_feed(m, s, text, strlen(text), last, &out, &n, &err) != 0)
        fail_msg("mask_feed: %s", err.msg);
    assert_int_equal(strlen(out), n);
    snprintf(buf, sizeof(buf), "%s", out);
    free(out);
    return buf;
}

static void test_whole_values(void **state)
{
    static const char *const v[] = {"hunter2", "s3cr3t", NULL};
    struct mask *m = mask_of(v);
    struct mask_stream s = {0};

    (void)state;
    assert_string_equal(feed(m, &s, "pw=hunter2 and s3cr3t, hunter2!", true),
                        "pw=*** and ***, ***!");
    assert_string_equal(feed(m, &s, "nothing here", true), "nothing here");
    assert_int_equal(s.n, 0);
    mask_free(m);
}

static void test_split_across_pieces(void **state)
{
    static const char *const v[] = {"correct-horse", NULL};
    struct mask *m = mask_of(v);
    struct mask_stream s = {0};

    (void)state;
    /* the first piece ends with the start of the value: kept back */
    assert_string_equal(feed(m, &s, "token: corr", false), "token: ");
    assert_int_equal(s.n, 4);
    assert_string_equal(feed(m, &s, "ect-horse done", true), "*** done");
    assert_int_equal(s.n, 0);
    /* split in three */
    assert_string_equal(feed(m, &s, "a correct", false), "a ");
    assert_string_equal(feed(m, &s, "-hor", false), "");
    assert_string_equal(feed(m, &s, "se", true), "***");
    mask_free(m);
}

static void test_prefix_that_is_not_a_value(void **state)
{
    static const char *const v[] = {"abcdef", NULL};
    struct mask *m = mask_of(v);
    struct mask_stream s = {0};

    (void)state;
    assert_string_equal(feed(m, &s, "xx abc", false), "xx ");
    assert_string_equal(feed(m, &s, "xyz", true), "abcxyz");
    /* at the end of a line nothing is kept back */
    assert_string_equal(feed(m, &s, "tail abc", true), "tail abc");
    assert_int_equal(s.n, 0);
    mask_free(m);
}

static void test_longest_first(void **state)
{
    static const char *const v[] = {"pass", "password", NULL};
    struct mask *m = mask_of(v);
    struct mask_stream s = {0};

    (void)state;
    assert_string_equal(feed(m, &s, "password pass", true), "*** ***");
    mask_free(m);
}

static void test_no_mask_passes(void **state)
{
    struct mask_stream s = {0};
    cJSON *empty = cJSON_CreateObject();
    struct weir_err err = {0};
    struct mask *m = (struct mask *)1;

    (void)state;
    assert_int_equal(mask_new(empty, &m, &err), 0);
    assert_null(m);
    assert_int_equal(mask_new(NULL, &m, &err), 0);
    assert_null(m);
    assert_string_equal(feed(NULL, &s, "hunter2", false), "hunter2");
    cJSON_Delete(empty);
}

static void test_outputs(void **state)
{
    static const char *const v[] = {"hunter2", NULL};
    struct mask *m = mask_of(v);
    struct weir_err err = {0};
    cJSON *o =
        cJSON_Parse("{\"dsn\": \"postgres://u:hunter2@db/x\", \"n\": 3, "
                    "\"hunter2\": \"key\", \"list\": [\"a hunter2 b\"]}");

    (void)state;
    assert_int_equal(mask_json(m, o, &err), 0);
    assert_string_equal(cJSON_GetObjectItem(o, "dsn")->valuestring,
                        "postgres://u:***@db/x");
    assert_non_null(cJSON_GetObjectItem(o, "***"));
    assert_string_equal(
        cJSON_GetArrayItem(cJSON_GetObjectItem(o, "list"), 0)->valuestring,
        "a *** b");
    assert_int_equal(cJSON_GetObjectItem(o, "n")->valueint, 3);
    cJSON_Delete(o);
    mask_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_values),
        cmocka_unit_test(test_split_across_pieces),
        cmocka_unit_test(test_prefix_that_is_not_a_value),
        cmocka_unit_test(test_longest_first),
        cmocka_unit_test(test_no_mask_passes),
        cmocka_unit_test(test_outputs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
