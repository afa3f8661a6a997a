/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for cron expressions: parsing and its messages, next fire
 * times (including DST edges in real zones), and ISO-8601 times. A last
 * test checks cron_next against a plain minute-by-minute reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cron.h"

static struct cron_expr parse_ok(const char *text)
{
    struct weir_err err = {0};
    struct cron_expr c;
    int off = -1;

    if (cron_parse(text, &c, &err, &off) != 0)
        fail_msg("cron_parse(\"%s\"): %s at %d", text, err.msg, off);
    return c;
}

static void expect_error(const char *text, int code, const char *msg,
                         int offset)
{
    struct weir_err err = {0};
    struct cron_expr c = {.minutes = 42};
    int off = -1;

    assert_int_equal(cron_parse(text, &c, &err, &off), code);
    assert_int_equal(err.code, code);
    assert_string_equal(err.msg, msg);
    assert_int_equal(off, offset);
    assert_int_equal(c.minutes, 42); /* untouched on failure */
}

static const struct tz *zone(const char *name)
{
    struct weir_err err = {0};
    struct tz *tz = NULL;

    if (name == NULL)
        return NULL;
    if (tz_load(name, &tz, &err) != 0)
        fail_msg("tz_load(%s): %s", name, err.msg);
    return tz;
}

static int64_t at(const char *text, const struct tz *tz)
{
    struct weir_err err = {0};
    int64_t t = 0;

    if (cron_parse_time(text, tz, &t, &err) != 0)
        fail_msg("cron_parse_time(%s): %s", text, err.msg);
    return t;
}

/*
 * Starting after `after` (wall time in zone_name), each fire time must be
 * the next string of `want`, ending at NULL.
 */
static void expect_next(const char *expr, const char *zone_name,
                        const char *after, const char *const *want)
{
    struct cron_expr c = parse_ok(expr);
    const struct tz *tz = zone(zone_name);
    int64_t t = at(after, tz);
    char buf[40];

    for (; *want != NULL; want++) {
        int64_t next = 0;

        assert_int_equal(cron_next(&c, tz, t, &next), 0);
        assert_true(next > t);
        assert_string_equal(cron_format_time(next, tz, buf, sizeof(buf)),
                            *want);
        t = next;
    }
}

#define NEXT(expr, zone_name, after, ...)                                      \
    expect_next(expr, zone_name, after,                                        \
                (const char *const[]){__VA_ARGS__, NULL})

static void assert_expr_equal(struct cron_expr a, struct cron_expr b)
{
    assert_true(a.minutes == b.minutes);
    assert_int_equal(a.hours, b.hours);
    assert_int_equal(a.mdays, b.mdays);
    assert_int_equal(a.months, b.months);
    assert_int_equal(a.wdays, b.wdays);
    assert_int_equal(a.mday_star, b.mday_star);
    assert_int_equal(a.wday_star, b.wday_star);
    assert_int_equal(a.hour_star, b.hour_star);
}

/* The DST tests read the installed tzdata; without it they fail up front. */
static int need_tzdata(void **state)
{
    (void)state;
    unsetenv("TZDIR");
    if (access("/usr/share/zoneinfo/America/New_York", R_OK) != 0) {
        print_message("no tzdata in /usr/share/zoneinfo\n");
        return -1;
    }
    return 0;
}

/* ---- parsing ------------------------------------------------------------- */

static void test_presets(void **state)
{
    (void)state;
    assert_expr_equal(parse_ok("@hourly"), parse_ok("0 * * * *"));
    assert_expr_equal(parse_ok("@daily"), parse_ok("0 0 * * *"));
    assert_expr_equal(parse_ok("@midnight"), parse_ok("0 0 * * *"));
    assert_expr_equal(parse_ok("@weekly"), parse_ok("0 0 * * 0"));
    assert_expr_equal(parse_ok("@monthly"), parse_ok("0 0 1 * *"));
    assert_expr_equal(parse_ok("@yearly"), parse_ok("0 0 1 1 *"));
    assert_expr_equal(parse_ok("@annually"), parse_ok("0 0 1 1 *"));
    assert_expr_equal(parse_ok("  @Daily \t"), parse_ok("0 0 * * *"));
    NEXT("@weekly", NULL, "2026-03-04T10:00Z", "2026-03-08T00:00:00+00:00",
         "2026-03-15T00:00:00+00:00");
    NEXT("@yearly", NULL, "2026-01-01T00:00Z", "2027-01-01T00:00:00+00:00");
    NEXT("@hourly", NULL, "2026-03-04T10:00Z", "2026-03-04T11:00:00+00:00");
}

static void test_fields(void **state)
{
    struct cron_expr c;

    (void)state;
    c = parse_ok("0-59/30 */2 1-31/10 * *");
    assert_true(c.minutes == ((1ULL << 0) | (1ULL << 30)));
    assert_int_equal(c.hours, 0x555555);
    assert_int_equal(c.mdays, (1u << 1) | (1u << 11) | (1u << 21) | (1u << 31));
    assert_int_equal(c.months, 0x1ffe);
    assert_int_equal(c.wdays, 0x7f);
    assert_true(c.hour_star && !c.mday_star && c.wday_star);
    c = parse_ok("5/15 1,2,3-5 3 * 1");
    assert_true(c.minutes ==
                ((1ULL << 5) | (1ULL << 20) | (1ULL << 35) | (1ULL << 50)));
    assert_int_equal(c.hours, 0x3e);
    assert_false(c.hour_star || c.mday_star || c.wday_star);
    c = parse_ok("*/7 * * * *");
    for (int m = 0; m < 60; m++)
        assert_int_equal((int)(c.minutes >> m & 1), m % 7 == 0);
    NEXT("*/7 * * * *", NULL, "2026-05-05T10:55Z", "2026-05-05T10:56:00+00:00",
         "2026-05-05T11:00:00+00:00", "2026-05-05T11:07:00+00:00");
    NEXT("59 * * * *", NULL, "2026-05-05T10:59Z", "2026-05-05T11:59:00+00:00");
    NEXT("59 * * * *", NULL, "2026-05-05T10:58:59Z",
         "2026-05-05T10:59:00+00:00");
    NEXT("0 0 1-31/10 * *", NULL, "2026-04-15T00:00Z",
         "2026-04-21T00:00:00+00:00", "2026-05-01T00:00:00+00:00",
         "2026-05-11T00:00:00+00:00", "2026-05-21T00:00:00+00:00",
         "2026-05-31T00:00:00+00:00", "2026-06-01T00:00:00+00:00");
    NEXT("15 14 1 * *", NULL, "2026-12-01T14:15Z", "2027-01-01T14:15:00+00:00");
    NEXT("0 23 31 12 *", NULL, "2026-01-01T00:00Z",
         "2026-12-31T23:00:00+00:00");
}

static void test_names_and_sunday(void **state)
{
    struct cron_expr c;

    (void)state;
    c = parse_ok("0 0 * jan,Mar,DEC mon-FRI");
    assert_int_equal(c.months, (1u << 1) | (1u << 3) | (1u << 12));
    assert_int_equal(c.wdays, 0x3e);
    assert_expr_equal(parse_ok("0 0 * * 7"), parse_ok("0 0 * * 0"));
    assert_expr_equal(parse_ok("0 0 * * SUN"), parse_ok("0 0 * * 0"));
    assert_int_equal(parse_ok("0 0 * * 5-7").wdays, 0x61);
    assert_int_equal(parse_ok("0 0 * * FRI-SUN").wdays, 0x61);
    assert_int_equal(parse_ok("0 0 * * 0-7").wdays, 0x7f);
    assert_int_equal(parse_ok("0 0 * * */2").wdays, 0x55);
    assert_int_equal(parse_ok("0 0 * FEB-APR *").months, 0x1c);
    /* 2026-03-07 is a Saturday. */
    NEXT("0 9 * * 7", NULL, "2026-03-07T12:00Z", "2026-03-08T09:00:00+00:00");
    NEXT("0 9 * * SAT-SUN", NULL, "2026-03-07T12:00Z",
         "2026-03-08T09:00:00+00:00", "2026-03-14T09:00:00+00:00");
}

static void test_dom_dow_rule(void **state)
{
    (void)state;
    /* Both restricted: the 13th or any Friday. */
    NEXT("0 0 13 * 5", NULL, "2026-02-01T00:00Z", "2026-02-06T00:00:00+00:00",
         "2026-02-13T00:00:00+00:00", "2026-02-20T00:00:00+00:00",
         "2026-02-27T00:00:00+00:00", "2026-03-06T00:00:00+00:00",
         "2026-03-13T00:00:00+00:00", "2026-03-20T00:00:00+00:00");
    NEXT("0 0 1 * MON", NULL, "2026-05-26T00:00Z", "2026-06-01T00:00:00+00:00",
         "2026-06-08T00:00:00+00:00");
    NEXT("0 0 15 * 1", NULL, "2026-05-26T00:00Z", "2026-06-01T00:00:00+00:00",
         "2026-06-08T00:00:00+00:00", "2026-06-15T00:00:00+00:00",
         "2026-06-22T00:00:00+00:00");
    /* A field starting with '*' is a star: both must match. */
    NEXT("0 0 */2 * 1", NULL, "2026-02-01T00:00Z", "2026-02-09T00:00:00+00:00",
         "2026-02-23T00:00:00+00:00", "2026-03-09T00:00:00+00:00");
    NEXT("0 0 ? * MON", NULL, "2026-02-01T00:00Z", "2026-02-02T00:00:00+00:00",
         "2026-02-09T00:00:00+00:00");
    NEXT("0 0 1-3 * ?", NULL, "2026-02-01T00:00Z", "2026-02-02T00:00:00+00:00",
         "2026-02-03T00:00:00+00:00", "2026-03-01T00:00:00+00:00");
    NEXT("0 0 13 * */7", NULL, "2026-01-01T00:00Z", "2026-09-13T00:00:00+00:00",
         "2026-12-13T00:00:00+00:00");
}

static void test_leap_years(void **state)
{
    (void)state;
    NEXT("0 0 29 2 *", NULL, "2025-01-01T00:00Z", "2028-02-29T00:00:00+00:00",
         "2032-02-29T00:00:00+00:00");
    /* 2100 is not a leap year; 2000 was. */
    NEXT("0 0 29 2 *", NULL, "2096-03-01T00:00Z", "2104-02-29T00:00:00+00:00");
    NEXT("0 0 29 2 *", NULL, "1997-01-01T00:00Z", "2000-02-29T00:00:00+00:00");
    NEXT("0 12 28-31 2 *", NULL, "2100-02-27T00:00Z",
         "2100-02-28T12:00:00+00:00", "2101-02-28T12:00:00+00:00");
    NEXT("0 0 31 * *", NULL, "2026-01-31T00:00Z", "2026-03-31T00:00:00+00:00",
         "2026-05-31T00:00:00+00:00");
}

static void test_never(void **state)
{
    (void)state;
    expect_error("0 0 30 2 *", WEIR_ENEVER, "day 30 never occurs in February",
                 4);
    expect_error("0 0 31 4,6,9,11 *", WEIR_ENEVER,
                 "day 31 never occurs in April, June, September or November",
                 4);
    expect_error("0 0 31 2,4 *", WEIR_ENEVER,
                 "day 31 never occurs in February or April", 4);
    expect_error("0 0 30,31 FEB ?", WEIR_ENEVER,
                 "days 30 and 31 never occur in February", 4);
    expect_error("0 0 30 2 */7", WEIR_ENEVER, "day 30 never occurs in February",
                 4);
    /* With a day of week it fires on those weekdays instead. */
    NEXT("0 0 30 2 MON", NULL, "2026-02-01T00:00Z",
         "2026-02-02T00:00:00+00:00");
    parse_ok("0 0 29 2 *");
    parse_ok("0 0 31 1-12 *");
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_error("61 * * * *", WEIR_EPARSE,
                 "minute field: 61 is out of range 0-59", 0);
    expect_error("* 24 * * *", WEIR_EPARSE,
                 "hour field: 24 is out of range 0-23", 2);
    expect_error("* * 0 * *", WEIR_EPARSE,
                 "day-of-month field: 0 is out of range 1-31", 4);
    expect_error("* * 32 * *", WEIR_EPARSE,
                 "day-of-month field: 32 is out of range 1-31", 4);
    expect_error("* * * 13 *", WEIR_EPARSE,
                 "month field: 13 is out of range 1-12", 6);
    expect_error("* * * * 8", WEIR_EPARSE,
                 "day-of-week field: 8 is out of range 0-7", 8);
    expect_error("* * * * FUNDAY", WEIR_EPARSE,
                 "day-of-week field: unknown name \"FUNDAY\" (expected "
                 "SUN-SAT)",
                 8);
    expect_error("* * * JANUARY *", WEIR_EPARSE,
                 "month field: unknown name \"JANUARY\" (expected JAN-DEC)", 6);
}

/* Messages about the shape of the text rather than a value. */
static void test_syntax_errors(void **state)
{
    (void)state;
    expect_error("abc * * * *", WEIR_EPARSE,
                 "minute field: expected a number 0-59, got \"abc\"", 0);
    expect_error("* * * * * *", WEIR_EPARSE,
                 "expected 5 fields (minute hour day-of-month month "
                 "day-of-week), got 6",
                 10);
    expect_error("* * * *", WEIR_EPARSE,
                 "expected 5 fields (minute hour day-of-month month "
                 "day-of-week), got 4",
                 7);
    expect_error("", WEIR_EPARSE,
                 "expected 5 fields (minute hour day-of-month month "
                 "day-of-week), got 0",
                 0);
    expect_error("*/0 * * * *", WEIR_EPARSE,
                 "minute field: step must be a positive number", 2);
    expect_error("*/ * * * *", WEIR_EPARSE,
                 "minute field: step must be a positive number", 2);
    expect_error("* * * * 1-5/x", WEIR_EPARSE,
                 "day-of-week field: step must be a positive number", 12);
    expect_error("10-5 * * * *", WEIR_EPARSE,
                 "minute field: range 10-5 is reversed (start after end)", 0);
    expect_error("* * * * FRI-MON", WEIR_EPARSE,
                 "day-of-week field: range FRI-MON is reversed (start after "
                 "end)",
                 8);
    expect_error("? * * * *", WEIR_EPARSE,
                 "minute field: ? is only allowed in day-of-month and "
                 "day-of-week",
                 0);
    expect_error("1,,2 * * * *", WEIR_EPARSE,
                 "minute field: expected a number 0-59", 2);
    expect_error("* * * 1- *", WEIR_EPARSE,
                 "month field: expected a number 1-12 or a name JAN-DEC", 8);
    expect_error("-5 * * * *", WEIR_EPARSE,
                 "minute field: unexpected character '-' (expected a number "
                 "0-59)",
                 0);
    expect_error("5x * * * *", WEIR_EPARSE,
                 "minute field: unexpected character 'x'", 1);
    expect_error("*/5/2 * * * *", WEIR_EPARSE,
                 "minute field: unexpected character '/'", 3);
    expect_error("0\n0 * * * *", WEIR_EPARSE,
                 "minute field: unexpected byte 0x0a", 1);
    expect_error("@reboot", WEIR_EPARSE,
                 "@reboot is not supported: a cron trigger fires at times, "
                 "not at startup",
                 0);
    expect_error("@fortnightly", WEIR_EPARSE,
                 "unknown preset \"@fortnightly\" (expected @hourly, @daily, "
                 "@midnight, @weekly, @monthly, @yearly or @annually)",
                 0);
    expect_error(" @daily now", WEIR_EPARSE, "unexpected text after @daily", 8);
}

static void test_whitespace(void **state)
{
    (void)state;
    assert_expr_equal(parse_ok("  0\t 0 *  *\t*  "), parse_ok("0 0 * * *"));
    assert_int_equal(
        cron_parse("0 0 * * *", &(struct cron_expr){0}, NULL, NULL), 0);
    assert_int_equal(cron_parse("0 0 * *", &(struct cron_expr){0}, NULL, NULL),
                     WEIR_EPARSE);
}

/* ---- next fire time and DST ---------------------------------------------- */

static void test_new_york_spring(void **state)
{
    const char *ny = "America/New_York";

    (void)state;
    /* 2026-03-08: 02:00 EST jumps to 03:00 EDT. */
    NEXT("30 2 * * *", ny, "2026-03-07T12:00", "2026-03-08T03:00:00-04:00",
         "2026-03-09T02:30:00-04:00");
    /* 02:00 and 02:30 both fall in the gap: one fire at 03:00. */
    NEXT("0,30 2 * * *", ny, "2026-03-08T00:00", "2026-03-08T03:00:00-04:00",
         "2026-03-09T02:00:00-04:00");
    /* 03:00 itself also maps to the transition: still one fire. */
    NEXT("0,30 2,3 * * *", ny, "2026-03-08T01:00", "2026-03-08T03:00:00-04:00",
         "2026-03-08T03:30:00-04:00");
    NEXT("*/15 * * * *", ny, "2026-03-08T01:30", "2026-03-08T01:45:00-05:00",
         "2026-03-08T03:00:00-04:00", "2026-03-08T03:15:00-04:00");
    NEXT("30 * * * *", ny, "2026-03-08T00:45", "2026-03-08T01:30:00-05:00",
         "2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00");
    NEXT("0 3 * * *", ny, "2026-03-08T00:00", "2026-03-08T03:00:00-04:00",
         "2026-03-09T03:00:00-04:00");
    /* From the last second before the gap, and from its end. */
    NEXT("30 2 * * *", ny, "2026-03-08T01:59:59-05:00",
         "2026-03-08T03:00:00-04:00");
    NEXT("30 2 * * *", ny, "2026-03-08T03:00-04:00",
         "2026-03-09T02:30:00-04:00");
}

static void test_new_york_fall(void **state)
{
    const char *ny = "America/New_York";

    (void)state;
    /* 2026-11-01: 02:00 EDT falls back to 01:00 EST. Fixed hour: once. */
    NEXT("30 1 * * *", ny, "2026-10-31T12:00", "2026-11-01T01:30:00-04:00",
         "2026-11-02T01:30:00-05:00");
    NEXT("30 1 * * *", ny, "2026-11-01T01:40-04:00",
         "2026-11-02T01:30:00-05:00");
    NEXT("30 1 * * *", ny, "2026-11-01T01:10-05:00",
         "2026-11-02T01:30:00-05:00");
    NEXT("*/20 1 * * *", ny, "2026-11-01T00:00", "2026-11-01T01:00:00-04:00",
         "2026-11-01T01:20:00-04:00", "2026-11-01T01:40:00-04:00",
         "2026-11-02T01:00:00-05:00");
    /* Hour `*`: real-time pace through both passes. */
    NEXT("*/15 * * * *", ny, "2026-11-01T01:30", "2026-11-01T01:45:00-04:00",
         "2026-11-01T01:00:00-05:00", "2026-11-01T01:15:00-05:00",
         "2026-11-01T01:30:00-05:00", "2026-11-01T01:45:00-05:00",
         "2026-11-01T02:00:00-05:00");
    NEXT("30 * * * *", ny, "2026-11-01T00:00", "2026-11-01T00:30:00-04:00",
         "2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00",
         "2026-11-01T02:30:00-05:00");
    NEXT("30 * * * *", ny, "2026-11-01T01:40-04:00",
         "2026-11-01T01:30:00-05:00", "2026-11-01T02:30:00-05:00");
    /* From the last second before the clocks go back. */
    NEXT("*/15 * * * *", ny, "2026-11-01T01:59:59-04:00",
         "2026-11-01T01:00:00-05:00");
    NEXT("30 1 * * *", ny, "2026-11-01T01:59:59-04:00",
         "2026-11-02T01:30:00-05:00");
}

static void test_london(void **state)
{
    const char *ln = "Europe/London";

    (void)state;
    /* 2026-03-29 01:00 UTC: 01:00 GMT becomes 02:00 BST. */
    NEXT("30 1 * * *", ln, "2026-03-28T12:00", "2026-03-29T02:00:00+01:00",
         "2026-03-30T01:30:00+01:00");
    NEXT("0 * * * *", ln, "2026-03-29T00:30", "2026-03-29T02:00:00+01:00",
         "2026-03-29T03:00:00+01:00");
    /* 2026-10-25 01:00 UTC: 02:00 BST falls back to 01:00 GMT. */
    NEXT("30 1 * * *", ln, "2026-10-24T12:00", "2026-10-25T01:30:00+01:00",
         "2026-10-26T01:30:00+00:00");
    NEXT("*/30 * * * *", ln, "2026-10-25T00:45", "2026-10-25T01:00:00+01:00",
         "2026-10-25T01:30:00+01:00", "2026-10-25T01:00:00+00:00",
         "2026-10-25T01:30:00+00:00", "2026-10-25T02:00:00+00:00");
}

static void test_far_future(void **state)
{
    const char *ny = "America/New_York";

    (void)state;
    /* 2045 lies past the file's table: the footer rule applies. */
    NEXT("0 2 * * *", ny, "2045-03-11T12:00", "2045-03-12T03:00:00-04:00",
         "2045-03-13T02:00:00-04:00");
    NEXT("30 1 * * *", ny, "2045-11-04T12:00", "2045-11-05T01:30:00-04:00",
         "2045-11-06T01:30:00-05:00");
    NEXT("30 * * * *", ny, "2045-11-05T00:45", "2045-11-05T01:30:00-04:00",
         "2045-11-05T01:30:00-05:00", "2045-11-05T02:30:00-05:00");
    NEXT("0 12 1 7 *", "Europe/London", "2088-01-01T00:00",
         "2088-07-01T12:00:00+01:00");
}

static void test_odd_offsets(void **state)
{
    (void)state;
    NEXT("0 9 * * *", "Asia/Kolkata", "2026-06-01T00:00Z",
         "2026-06-01T09:00:00+05:30", "2026-06-02T09:00:00+05:30");
    NEXT("0 9 * * *", "Asia/Kathmandu", "2026-06-01T00:00Z",
         "2026-06-01T09:00:00+05:45");
    NEXT("*/30 * * * *", "Asia/Kathmandu", "2026-06-01T00:00Z",
         "2026-06-01T06:00:00+05:45", "2026-06-01T06:30:00+05:45");
    assert_int_equal(at("2026-06-01T09:00", zone("Asia/Kathmandu")),
                     at("2026-06-01T03:15Z", NULL));
    /* Mexico City: no DST since 2022, so April stays at -06:00. */
    NEXT("0 2 * * 0", "America/Mexico_City", "2026-04-01T00:00",
         "2026-04-05T02:00:00-06:00");
    NEXT("0 2 * * 0", "America/Mexico_City", "2026-11-25T00:00",
         "2026-11-29T02:00:00-06:00");
}

/* Around every 2026 edge, chains of fire times only go forward. */
static void test_monotonic(void **state)
{
    static const char *const exprs[] = {"* * * * *",  "*/15 * * * *",
                                        "30 1 * * *", "0,30 2 * * *",
                                        "30 * * * *", "0 1-3 * * *"};
    static const char *const edges[][2] = {
        {"America/New_York", "2026-03-08T07:00Z"},
        {"America/New_York", "2026-11-01T06:00Z"},
        {"Europe/London", "2026-03-29T01:00Z"},
        {"Europe/London", "2026-10-25T01:00Z"},
    };

    (void)state;
    for (size_t e = 0; e < 4; e++) {
        const struct tz *tz = zone(edges[e][0]);
        int64_t edge = at(edges[e][1], NULL);

        for (size_t x = 0; x < sizeof(exprs) / sizeof(exprs[0]); x++) {
            struct cron_expr c = parse_ok(exprs[x]);

            for (int64_t after = edge - 10800; after < edge + 10800;
                 after += 437) {
                int64_t next = 0;

                assert_int_equal(cron_next(&c, tz, after, &next), 0);
                assert_true(next > after);
                assert_true(next - after <= 93600);
            }
        }
    }
}

static void test_next_limits(void **state)
{
    struct cron_expr c = parse_ok("* * * * *"), empty = {0};
    int64_t next = 7;

    (void)state;
    assert_int_equal(cron_next(&c, NULL, INT64_MAX, &next), WEIR_ERANGE);
    assert_int_equal(cron_next(&c, NULL, INT64_MIN, &next), WEIR_ERANGE);
    assert_int_equal(cron_next(&empty, NULL, 0, &next), WEIR_ENEVER);
    assert_int_equal(next, 7);
    assert_int_equal(cron_next(&c, NULL, 59, &next), 0);
    assert_int_equal(next, 60);
    assert_int_equal(cron_next(&c, NULL, 60, &next), 0);
    assert_int_equal(next, 120);
    assert_int_equal(cron_next(&c, NULL, -1, &next), 0);
    assert_int_equal(next, 0);
}

/* ---- ISO-8601 ------------------------------------------------------------ */

static void test_format_time(void **state)
{
    char buf[40];

    (void)state;
    assert_string_equal(
        cron_format_time(1795939200, zone("America/Mexico_City"), buf, 32),
        "2026-11-29T02:00:00-06:00");
    assert_string_equal(cron_format_time(0, NULL, buf, sizeof(buf)),
                        "1970-01-01T00:00:00+00:00");
    assert_string_equal(cron_format_time(1780283700, zone("UTC"), buf, 32),
                        "2026-06-01T03:15:00+00:00");
    assert_string_equal(
        cron_format_time(1780283700, zone("Asia/Kathmandu"), buf, 32),
        "2026-06-01T09:00:00+05:45");
    assert_string_equal(
        cron_format_time(1767225600, zone("America/St_Johns"), buf, 32),
        "2025-12-31T20:30:00-03:30");
    assert_string_equal(cron_format_time(-1, NULL, buf, 32),
                        "1969-12-31T23:59:59+00:00");
    /* Local mean time has seconds in its offset. */
    assert_string_equal(
        cron_format_time(-5364644638, zone("America/New_York"), buf, 40),
        "1800-01-01T00:00:00-04:56:02");
    assert_string_equal(cron_format_time(0, NULL, buf, 11), "1970-01-01");
}

static void test_parse_time(void **state)
{
    const struct tz *ny = zone("America/New_York");

    (void)state;
    assert_int_equal(at("2026-06-01T12:00:00Z", NULL), 1780315200);
    assert_int_equal(at("2026-06-01T12:00", NULL), 1780315200);
    assert_int_equal(at("2026-06-01 12:00z", ny), 1780315200);
    assert_int_equal(at("2026-06-01T12:00+05:30", ny), 1780295400);
    assert_int_equal(at("2026-06-01T12:00-04:00", NULL), 1780329600);
    assert_int_equal(at("2026-06-01T08:00", ny), 1780315200);
    assert_int_equal(at("2026-06-01T08:00:30", ny), 1780315230);
    /* Gap: the transition instant; overlap: the first occurrence. */
    assert_int_equal(at("2026-03-08T02:30", ny), 1772953200);
    assert_int_equal(at("2026-11-01T01:30", ny), 1793511000);
}

static void parse_time_error(const char *text, const char *msg)
{
    struct weir_err err = {0};
    int64_t t = 5;

    assert_int_equal(cron_parse_time(text, NULL, &t, &err), WEIR_EPARSE);
    assert_string_equal(err.msg, msg);
    assert_int_equal(t, 5);
}

static void test_parse_time_errors(void **state)
{
    (void)state;
    parse_time_error("2026-06-01", "time: expected YYYY-MM-DDTHH:MM[:SS] with "
                                   "an optional Z or +HH:MM, at byte 10");
    parse_time_error("2026-06-01T12:00+0530",
                     "time: expected YYYY-MM-DDTHH:MM[:SS] with an optional Z "
                     "or +HH:MM, at byte 16");
    parse_time_error("2026-06-01T12:00Z junk",
                     "time: expected YYYY-MM-DDTHH:MM[:SS] with an optional Z "
                     "or +HH:MM, at byte 17");
    parse_time_error("", "time: expected YYYY-MM-DDTHH:MM[:SS] with an "
                         "optional Z or +HH:MM, at byte 0");
    parse_time_error("2026-13-01T00:00", "time: 2026-13-01 is not a date");
    parse_time_error("2026-02-29T00:00", "time: 2026-02-29 is not a date");
    parse_time_error("2026-06-01T24:00", "time: 24:00:00 is not a time of day");
    parse_time_error("2026-06-01T23:60", "time: 23:60:00 is not a time of day");
    parse_time_error("2026-06-01T12:00+24:00",
                     "time: expected YYYY-MM-DDTHH:MM[:SS] with an optional Z "
                     "or +HH:MM, at byte 16");
}

static void test_bad_zone(void **state)
{
    struct weir_err err = {0};
    struct tz *tz = NULL;

    (void)state;
    assert_int_equal(tz_load("../../etc/passwd", &tz, &err), WEIR_EINVAL);
    assert_int_equal(tz_load("America/Nowhere", &tz, &err), WEIR_ENOTFOUND);
    assert_null(tz);
}

/* ---- reference check ----------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static int rnd(int n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (int)(rng_state % (uint64_t)n);
}

/* A random field over lo..hi in one of the shapes users write. */
static void random_field(char *buf, size_t len, int lo, int hi, bool day)
{
    int a = lo + rnd(hi - lo + 1), b = lo + rnd(hi - lo + 1);

    if (a > b) {
        int t = a;
        a = b;
        b = t;
    }
    switch (rnd(8)) {
    case 0:
        snprintf(buf, len, "*/%d", 1 + rnd(hi / 2 + 1));
        break;
    case 1:
        snprintf(buf, len, "%d", a);
        break;
    case 2:
        snprintf(buf, len, "%d-%d/%d", a, b, 1 + rnd(5));
        break;
    case 3:
        snprintf(buf, len, "%d,%d-%d", lo + rnd(hi - lo + 1), a, b);
        break;
    case 4:
        snprintf(buf, len, "%d/%d", a, 1 + rnd(10));
        break;
    default:
        snprintf(buf, len, "%s", day && rnd(2) ? "?" : "*");
        break;
    }
}

/* Is calendar day `day` (days since 1970) one the expression allows? */
static bool ref_day(const struct cron_expr *c, int64_t day)
{
    static const int ml[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t y = 1970, rest = day;
    int m = 0, wd = (int)(((day % 7) + 11) % 7);
    bool dom, dow;

    for (;;) {
        int n = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 366 : 365;

        if (rest < n)
            break;
        rest -= n;
        y++;
    }
    for (;; m++) {
        int n =
            ml[m] + (m == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
        if (rest < n)
            break;
        rest -= n;
    }
    if (!(c->months >> (m + 1) & 1))
        return false;
    dom = c->mdays >> (rest + 1) & 1;
    dow = c->wdays >> wd & 1;
    return (c->mday_star || c->wday_star) ? (dom && dow) : (dom || dow);
}

/* The first fire after `after`, by trying every matching wall minute. */
static int64_t ref_next(const struct cron_expr *c, const struct tz *tz,
                        int64_t after)
{
    int64_t best = INT64_MAX, start = (after + tz_offset_at(tz, after)) / 86400;

    for (int64_t day = start - 2; day < start + 11346; day++) {
        if (best != INT64_MAX && day * 86400 > best + 172800)
            break;
        if (!ref_day(c, day))
            continue;
        for (int m = 0; m < 1440; m++) {
            int64_t first[2];
            int n;

            if (!(c->hours >> (m / 60) & 1) || !(c->minutes >> (m % 60) & 1))
                continue;
            n = tz_local_to_utc(tz, day * 86400 + (int64_t)m * 60, first);
            if (first[0] > after && first[0] < best)
                best = first[0];
            if (n == 2 && c->hour_star && first[1] > after && first[1] < best)
                best = first[1];
        }
    }
    return best;
}

static void test_reference(void **state)
{
    static const char *const zones[] = {"UTC",
                                        "America/New_York",
                                        "Europe/London",
                                        "Asia/Kathmandu",
                                        "Australia/Lord_Howe",
                                        "America/Santiago"};

    (void)state;
    for (int i = 0; i < 300; i++) {
        char f[5][32], text[180];
        const struct tz *tz = zone(zones[rnd(6)]);
        struct cron_expr c;
        int64_t after, next = 0, want;

        random_field(f[0], 32, 0, 59, false);
        random_field(f[1], 32, 0, 23, false);
        random_field(f[2], 32, 1, 31, true);
        random_field(f[3], 32, 1, 12, false);
        random_field(f[4], 32, 0, 7, true);
        snprintf(text, sizeof(text), "%s %s %s %s %s", f[0], f[1],
                 rnd(2) ? f[2] : "*", rnd(3) ? "*" : f[3], f[4]);
        if (cron_parse(text, &c, NULL, NULL) != 0)
            continue;
        after = 1767225600 + (int64_t)rnd(1 << 30);
        if (rnd(2) && tz_next_transition(tz, after) != INT64_MAX) {
            static const int edge[] = {-1, 0, 1, -60, 60, -1800, 1800};

            after = tz_next_transition(tz, after);
            after += rnd(2) ? edge[rnd(7)] : rnd(14400) - 7200;
        }
        want = ref_next(&c, tz, after);
        assert_int_equal(cron_next(&c, tz, after, &next), 0);
        if (next != want) {
            char buf[3][40];

            fail_msg("\"%s\" in %s after %s: got %s, want %s", text,
                     tz_name(tz), cron_format_time(after, tz, buf[0], 40),
                     cron_format_time(next, tz, buf[1], 40),
                     cron_format_time(want, tz, buf[2], 40));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_names_and_sunday),
        cmocka_unit_test(test_dom_dow_rule),
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_never),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_whitespace),
        cmocka_unit_test(test_new_york_spring),
        cmocka_unit_test(test_new_york_fall),
        cmocka_unit_test(test_london),
        cmocka_unit_test(test_far_future),
        cmocka_unit_test(test_odd_offsets),
        cmocka_unit_test(test_monotonic),
        cmocka_unit_test(test_next_limits),
        cmocka_unit_test(test_format_time),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_parse_time_errors),
        cmocka_unit_test(test_bad_zone),
        cmocka_unit_test(test_reference),
    };

    return cmocka_run_group_tests(tests, need_tzdata, NULL);
}
