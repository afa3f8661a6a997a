/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `run_timeout:` and `deadline:` of the DAG loader: the values loaded,
 * their JSON form, every validation message with its line:col, and the
 * wall-clock arithmetic of succeed_by (zones, DST edges).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dag.h"
#include "dag_load_assert.h"

#define STEP "steps:\n  - id: a\n    run: echo\n"

static void test_values(void **state)
{
    struct dag *d;
    cJSON *j;
    char *text;

    (void)state;
    d = load_ok("run_timeout: 2h\n"
                "deadline:\n  finish_within: 90m\n  succeed_by: \"6:05\"\n"
                "  cancel: true\n" STEP);
    assert_int_equal(d->run_timeout_ms, 2LL * 3600 * 1000);
    assert_int_equal(d->deadline.finish_within_ms, 90LL * 60 * 1000);
    assert_true(d->deadline.has_succeed_by);
    assert_int_equal(d->deadline.succeed_by_min, 6 * 60 + 5);
    assert_true(d->deadline.cancel);
    assert_int_equal(d->deadline.pos.line, 3);
    j = dag_to_json(d);
    text = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "deadline"));
    assert_string_equal(text,
                        "{\"finish_within\":\"1h30m\",\"succeed_by\":\"06:05\","
                        "\"cancel\":true}");
    assert_string_equal(cJSON_GetObjectItem(j, "run_timeout")->valuestring,
                        "2h");
    cJSON_free(text);
    cJSON_Delete(j);
    dag_free(d);

    /* Unquoted 06:00, and succeed_by alone: cancel defaults to false. */
    d = load_ok("deadline: {succeed_by: 06:00}\n" STEP);
    assert_int_equal(d->run_timeout_ms, 0);
    assert_int_equal(d->deadline.finish_within_ms, 0);
    assert_int_equal(d->deadline.succeed_by_min, 360);
    assert_false(d->deadline.cancel);
    dag_free(d);

    /* Neither key: nothing armed, both null in the JSON. */
    d = load_ok(STEP);
    assert_int_equal(d->run_timeout_ms, 0);
    assert_false(d->deadline.has_succeed_by);
    assert_int_equal(d->deadline.pos.line, 0);
    j = dag_to_json(d);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "deadline")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "run_timeout")));
    cJSON_Delete(j);
    dag_free(d);
}

static void test_errors(void **state)
{
    (void)state;
    load_bad("run_timout: 2h\n" STEP, 1, 1,
             "unknown key \"run_timout\" at the top level (did you mean "
             "\"run_timeout\"?)");
    load_bad("dealine: {finish_within: 1h}\n" STEP, 1, 1,
             "unknown key \"dealine\" at the top level (did you mean "
             "\"deadline\"?)");
    load_bad("deadline:\n  finish_witin: 1h\n  succeed_by: \"06:00\"\n" STEP, 2,
             3,
             "unknown key \"finish_witin\" in deadline (did you mean "
             "\"finish_within\"?)");
    load_bad("deadline:\n  finish_within: 1h\n  cancle: true\n" STEP, 3, 3,
             "unknown key \"cancle\" in deadline (did you mean \"cancel\"?)");
    load_bad("run_timeout: 2x\n" STEP, 1, 14,
             "bad duration \"2x\" for \"run_timeout\": expected a unit (ms, "
             "s, m, h, d) after 2");
    load_bad("run_timeout: 0s\n" STEP, 1, 14,
             "\"run_timeout\" must be longer than 0s, got \"0s\"");
    load_bad("run_timeout: [1h]\n" STEP, 1, 14,
             "\"run_timeout\" must be a duration such as \"30s\" or "
             "\"1h30m\", got a list");
    load_bad("deadline:\n  finish_within: soon\n" STEP, 2, 18,
             "bad duration \"soon\" for \"finish_within\": expected a "
             "number at \"soon\"; write e.g. 30s, 10m, 1h30m");
    load_bad("deadline:\n  succeed_by: \"25:00\"\n" STEP, 2, 15,
             "bad time \"25:00\" for \"succeed_by\": expected HH:MM with "
             "hours 00-23 and minutes 00-59");
    load_bad("deadline:\n  succeed_by: \"06:60\"\n" STEP, 2, 15,
             "bad time \"06:60\" for \"succeed_by\": expected HH:MM with "
             "hours 00-23 and minutes 00-59");
    load_bad("deadline:\n  succeed_by: 6am\n" STEP, 2, 15,
             "\"succeed_by\" must be a time of day such as \"06:00\" "
             "(HH:MM, in the DAG's time zone), got \"6am\"");
    load_bad("deadline:\n  cancel: true\n" STEP, 2, 3,
             "\"deadline\" needs \"finish_within\" (a duration) or "
             "\"succeed_by\" (a time of day), or both");
    load_bad("deadline: 1h\n" STEP, 1, 11,
             "\"deadline\" must be a mapping with \"finish_within\", "
             "\"succeed_by\" and \"cancel\", got \"1h\"");
    load_bad("deadline:\n  finish_within: 1h\n  cancel: maybe\n" STEP, 3, 11,
             "\"cancel\" must be true or false, got \"maybe\"");
}

/* 2026-03-08 (US spring forward at 02:00) and 2026-11-01 (fall back). */
static void test_succeed_by_at(void **state)
{
    struct weir_err err = {0};
    int64_t at = 0;

    (void)state;
    /* UTC: 2026-12-07T05:00:00Z, 06:00 -> the same day. */
    assert_int_equal(dag_succeed_by_at("UTC", 1796619600, 360, &at, &err), 0);
    assert_int_equal(at, 1796619600 + 3600);
    /* Exactly at 06:00 counts ("at or after"). */
    assert_int_equal(dag_succeed_by_at("UTC", 1796623200, 360, &at, &err), 0);
    assert_int_equal(at, 1796623200);
    /* One second later: tomorrow's 06:00. */
    assert_int_equal(dag_succeed_by_at("UTC", 1796623201, 360, &at, &err), 0);
    assert_int_equal(at, 1796623200 + 86400);
    if (access("/usr/share/zoneinfo/America/New_York", R_OK) != 0 &&
        getenv("TZDIR") == NULL) {
        skip();
        return;
    }
    /* New York, 2026-12-07T05:00:00Z is 00:00 EST: 06:00 EST = 11:00Z. */
    assert_int_equal(
        dag_succeed_by_at("America/New_York", 1796619600, 360, &at, &err), 0);
    assert_int_equal(at, 1796619600 + 6 * 3600);
    /* 2026-03-08T05:00:00Z is 00:00 EST; 02:30 does not exist that day:
     * the end of the gap, 03:00 EDT = 07:00Z. */
    assert_int_equal(
        dag_succeed_by_at("America/New_York", 1772946000, 150, &at, &err), 0);
    assert_int_equal(at, 1772946000 + 2 * 3600);
    /* 2026-11-01T04:00:00Z is 00:00 EDT; 01:30 happens twice: the first,
     * 01:30 EDT = 05:30Z. */
    assert_int_equal(
        dag_succeed_by_at("America/New_York", 1793505600, 90, &at, &err), 0);
    assert_int_equal(at, 1793505600 + 90 * 60);
    assert_int_equal(dag_succeed_by_at("Nowhere/Zone", 0, 0, &at, &err),
                     WEIR_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_succeed_by_at),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
