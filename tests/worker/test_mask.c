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
#include "outputs.h"

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

/* Each line of a multi-line value (a PEM key) is masked on its own,
 * for a step's output is masked line by line; short lines are not. */
static void test_multi_line_value(void **state)
{
    static const char *const v[] = {"-----BEGIN KEY-----\r\nMIIEvQIBADAN\n"
                                    "ab\n-----END KEY-----\n",
                                    NULL};
    struct mask *m = mask_of(v);
    struct mask_stream s = {0};

    (void)state;
    assert_string_equal(feed(m, &s, "-----BEGIN KEY-----", true), "***");
    assert_string_equal(feed(m, &s, "key: MIIEvQIBADAN.", true), "key: ***.");
    assert_string_equal(feed(m, &s, "-----END KEY-----", true), "***");
    assert_string_equal(feed(m, &s, "ab cd", true), "ab cd");
    mask_free(m);
}

/* A cut of masked text drops a tail that starts a value, so that a cut
 * inside a value shows none of it; an uncut text is kept whole. */
static void test_cut(void **state)
{
    static const char *const v[] = {"hunter2-SECRET", "zz", NULL};
    struct mask *m = mask_of(v);
    const char *t = "the db password is set now: hunter2-SECRET";

    (void)state;
    /* 36 bytes end in "hunte": cut back to where the value starts */
    assert_int_equal(mask_cut(m, t, strlen(t), 36), 28);
    /* a tail that starts no value stays */
    assert_int_equal(mask_cut(m, t, strlen(t), 20), 20);
    /* the last byte starts "zz" */
    assert_int_equal(mask_cut(m, "abz", 3, 3), 3);
    assert_int_equal(mask_cut(m, "abzq", 4, 3), 2);
    assert_int_equal(mask_cut(NULL, t, strlen(t), 36), 36);
    mask_free(m);
}

/* A bad outputs line quoted in the error is masked before it is cut to
 * a snippet: a value past the snippet's length shows none of its bytes. */
static void test_outputs_error_masked(void **state)
{
    static const char *const v[] = {"hunter2-SECRET", NULL};
    struct mask *m = mask_of(v);
    struct weir_err err = {0};
    cJSON *out = NULL;
    const char *t = "the db password is set now, really: hunter2-SECRET\n";

    (void)state;
    assert_int_equal(outputs_parse_masked(t, strlen(t), m, &out, &err),
                     WEIR_EPARSE);
    assert_null(strstr(err.msg, "hunt"));
    assert_non_null(strstr(err.msg, "really: ***"));
    /* without a mask the cut shows the value's first bytes: the case the
     * mask guards */
    assert_int_equal(outputs_parse(t, strlen(t), &out, &err), WEIR_EPARSE);
    assert_non_null(strstr(err.msg, "hunt"));
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
        cmocka_unit_test(test_multi_line_value),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_outputs_error_masked),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
