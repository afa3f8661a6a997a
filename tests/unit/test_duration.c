/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for duration parsing and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "duration.h"

static int64_t parse_ok(const char *text)
{
    struct weir_err err = {0};
    int64_t ms = -1;

    assert_int_equal(duration_parse(text, &ms, &err), 0);
    return ms;
}

static void expect_error(const char *text, int code, const char *msg)
{
    struct weir_err err = {0};
    int64_t ms = 12345;

    assert_int_equal(duration_parse(text, &ms, &err), code);
    assert_string_equal(err.msg, msg);
    assert_int_equal(ms, 12345);
}

static void test_units(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("30s"), 30000);
    assert_int_equal(parse_ok("10m"), 600000);
    assert_int_equal(parse_ok("2h"), 7200000);
    assert_int_equal(parse_ok("1d"), 86400000);
    assert_int_equal(parse_ok("250ms"), 250);
    assert_int_equal(parse_ok("0s"), 0);
}

static void test_sums(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("1h30m"), 5400000);
    assert_int_equal(parse_ok("1d2h3m4s5ms"), 93784005);
    assert_int_equal(parse_ok("1m500ms"), 60500);
    assert_int_equal(parse_ok("366d"), DURATION_MAX_MS);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("", WEIR_EPARSE,
                 "empty duration; expected e.g. 30s, 10m, 1h30m");
    expect_error("10x", WEIR_EPARSE,
                 "expected a unit (ms, s, m, h, d) after 10");
    expect_error("10", WEIR_EPARSE,
                 "expected a unit (ms, s, m, h, d) after 10");
    expect_error("h", WEIR_EPARSE,
                 "expected a number at \"h\"; write e.g. 30s, 10m, 1h30m");
    expect_error("-5s", WEIR_EPARSE,
                 "expected a number at \"-5s\"; write e.g. 30s, 10m, 1h30m");
    expect_error("30m1h", WEIR_EPARSE,
                 "units must go from largest to smallest, each once, as in "
                 "1h30m");
    expect_error("1h1h", WEIR_EPARSE,
                 "units must go from largest to smallest, each once, as in "
                 "1h30m");
    expect_error("1 h", WEIR_EPARSE,
                 "expected a unit (ms, s, m, h, d) after 1");
    expect_error("367d", WEIR_ERANGE, "duration \"367d\" is longer than 366d");
    expect_error("99999999999999999999s", WEIR_ERANGE,
                 "duration \"99999999999999999999s\" is too long");
}

static void test_format(void **state)
{
    char buf[32];

    (void)state;
    assert_string_equal(duration_format(5400000, buf, sizeof(buf)), "1h30m");
    assert_string_equal(duration_format(0, buf, sizeof(buf)), "0s");
    assert_string_equal(duration_format(93784005, buf, sizeof(buf)),
                        "1d2h3m4s5ms");
    assert_string_equal(duration_format(250, buf, sizeof(buf)), "250ms");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_sums),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_format),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
