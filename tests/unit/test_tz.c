/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the TZif reader: offsets, wall-time resolution in gaps and
 * overlaps, transitions, POSIX footer rules (from hand-made files, so the
 * results do not depend on the installed tzdata), and refused names/files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tz.h"

/* Instant of a UTC calendar time (timegm never looks at TZ). */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi};

    return (int64_t)timegm(&tm);
}

static struct tz *load(const char *name)
{
    struct weir_err err = {0};
    struct tz *tz = NULL;

    if (tz_load(name, &tz, &err) != 0)
        fail_msg("tz_load(%s): %s", name, err.msg);
    return tz;
}

/* Most tests read the installed tzdata; without it they fail up front. */
static int need_tzdata(void **state)
{
    (void)state;
    if (access("/usr/share/zoneinfo/America/New_York", R_OK) != 0) {
        print_message("no tzdata in /usr/share/zoneinfo\n");
        return -1;
    }
    unsetenv("TZDIR");
    return 0;
}

/* ---- hand-made TZif files ------------------------------------------------ */

static char tmpdir[64];

struct tzif_spec {
    char version;         /* 0 (v1), '2' or '3' */
    int ntrans;           /* transitions */
    const int64_t *trans; /* their instants */
    const uint8_t *idx;   /* type index of each */
    int ntypes;           /* local time types */
    const int32_t *offs;  /* UTC offset of each type */
    const char *footer;   /* POSIX TZ string (v2+) */
};

static unsigned char *put_be(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

/* One header and data block with times of `tsize` bytes. */
static unsigned char *put_block(unsigned char *p, const struct tzif_spec *s,
                                int tsize)
{
    memcpy(p, "TZif", 4);
    p[4] = (unsigned char)s->version;
    memset(p + 5, 0, 15);
    p += 20;
    p = put_be(p, 0, 4);
    p = put_be(p, 0, 4);
    p = put_be(p, 0, 4);
    p = put_be(p, (uint64_t)s->ntrans, 4);
    p = put_be(p, (uint64_t)s->ntypes, 4);
    p = put_be(p, 4, 4);
    for (int i = 0; i < s->ntrans; i++)
        p = put_be(p, (uint64_t)s->trans[i], tsize);
    for (int i = 0; i < s->ntrans; i++)
        *p++ = s->idx[i];
    for (int i = 0; i < s->ntypes; i++) {
        p = put_be(p, (uint32_t)s->offs[i], 4);
        *p++ = 0;
        *p++ = 0;
    }
    memcpy(p, "ABC", 4);
    return p + 4;
}

static void write_file(const char *name, const void *data, size_t len)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void write_tzif(const char *name, const struct tzif_spec *s)
{
    unsigned char buf[4096], *p = put_block(buf, s, 4);

    if (s->version != 0) {
        p = put_block(p, s, 8);
        p += sprintf((char *)p, "\n%s\n", s->footer);
    }
    write_file(name, buf, (size_t)(p - buf));
}

/* A file with no transitions, only a footer. */
static void write_rule(const char *name, const char *footer)
{
    static const int32_t off0[] = {0};
    struct tzif_spec s = {'3', 0, NULL, NULL, 1, off0, footer};

    write_tzif(name, &s);
}

static int make_files(void **state)
{
    static const int64_t v1_trans[] = {1000000000, 1100000000};
    static const uint8_t v1_idx[] = {1, 2};
    static const int32_t v1_offs[] = {3600, 7200, -1800};
    /* New York's 2007 changes only; the footer must carry every later year. */
    static const int64_t slim_trans[] = {1173596400, 1194156000};
    static const uint8_t slim_idx[] = {1, 0};
    static const int32_t slim_offs[] = {-18000, -14400};
    struct tzif_spec v1 = {0, 2, v1_trans, v1_idx, 3, v1_offs, NULL};
    struct tzif_spec slim = {
        '2', 2, slim_trans, slim_idx, 2, slim_offs, "EST5EDT,M3.2.0,M11.1.0"};
    static unsigned char big[300 * 1024];
    char sub[96];

    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/weir-tz-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(sub, sizeof(sub), "%s/T", tmpdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_rule("T/Plus3", "<+03>-3");
    write_rule("T/Julian", "AAA3BBB,J60/2,J300/2");
    write_rule("T/Zero", "AAA3BBB,59/2,299/2");
    write_rule("T/Neg", "<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
    write_rule("T/Late", "IST-2IDT,M3.4.4/26,M10.5.0");
    write_rule("T/Perm", "EST5EDT,0/0,J365/25");
    write_rule("T/BadRule", "EST5EDT,M13.1.0,M11.1.0");
    write_tzif("T/V1", &v1);
    write_tzif("T/Slim", &slim);
    write_file("T/Junk", "not a zone file at all, certainly not TZif", 42);
    write_file("T/Short", "TZif2\0\0\0", 8);
    memcpy(big, "TZif2", sizeof("TZif2"));
    big[33] = 0x10; /* a million transitions */
    big[39] = 1;    /* one type */
    write_file("T/Counts", big, 44);
    write_file("T/Huge", big, sizeof(big));
    setenv("TZDIR", tmpdir, 1);
    return 0;
}

static int remove_files(void **state)
{
    char cmd[128];

    (void)state;
    unsetenv("TZDIR");
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- tests on installed zones ------------------------------------------- */

static void test_utc_builtin(void **state)
{
    struct tz *a, *b;
    int64_t first[2];

    (void)state;
    setenv("TZDIR", "/nonexistent-weir-dir", 1);
    a = load("UTC");
    b = load("Etc/UTC");
    unsetenv("TZDIR");
    assert_string_equal(tz_name(a), "UTC");
    assert_string_equal(tz_name(b), "Etc/UTC");
    assert_int_equal(tz_offset_at(a, utc(2026, 7, 1, 0, 0)), 0);
    assert_true(tz_next_transition(b, 0) == INT64_MAX);
    assert_int_equal(tz_local_to_utc(a, 1000, first), 1);
    assert_int_equal(first[0], 1000);
    tz_free(a);
    tz_free(b);
    tz_free(NULL);
}

static void test_offsets(void **state)
{
    struct tz *ny = load("America/New_York"), *ln = load("Europe/London");

    (void)state;
    assert_string_equal(tz_name(ny), "America/New_York");
    assert_int_equal(tz_offset_at(ny, utc(2026, 1, 15, 12, 0)), -5 * 3600);
    assert_int_equal(tz_offset_at(ny, utc(2026, 7, 15, 12, 0)), -4 * 3600);
    assert_int_equal(tz_offset_at(ln, utc(2026, 1, 15, 12, 0)), 0);
    assert_int_equal(tz_offset_at(ln, utc(2026, 7, 15, 12, 0)), 3600);
    assert_int_equal(tz_offset_at(load("Asia/Kolkata"), 1780000000), 19800);
    assert_int_equal(tz_offset_at(load("Asia/Kathmandu"), 1780000000), 20700);
    assert_int_equal(tz_offset_at(load("America/St_Johns"), 1767225600),
                     -12600);
    /* Mexico dropped DST in 2022: -6 all year. */
    assert_int_equal(
        tz_offset_at(load("America/Mexico_City"), utc(2026, 7, 1, 0, 0)),
        -6 * 3600);
    /* The edges themselves. */
    assert_int_equal(tz_offset_at(ny, utc(2026, 3, 8, 7, 0) - 1), -18000);
    assert_int_equal(tz_offset_at(ny, utc(2026, 3, 8, 7, 0)), -14400);
    assert_int_equal(tz_offset_at(ny, utc(2026, 11, 1, 6, 0) - 1), -14400);
    assert_int_equal(tz_offset_at(ny, utc(2026, 11, 1, 6, 0)), -18000);
    tz_free(ny);
    tz_free(ln);
}

static void test_far_future(void **state)
{
    struct tz *ny = load("America/New_York");

    (void)state;
    /* Past the file's table: the footer rule decides. */
    assert_int_equal(tz_next_transition(ny, utc(2045, 1, 1, 0, 0)),
                     utc(2045, 3, 12, 7, 0));
    assert_int_equal(tz_next_transition(ny, utc(2045, 3, 12, 7, 0)),
                     utc(2045, 11, 5, 6, 0));
    assert_int_equal(tz_offset_at(ny, utc(2099, 7, 1, 0, 0)), -14400);
    assert_int_equal(tz_offset_at(ny, utc(2150, 12, 1, 0, 0)), -18000);
    assert_int_equal(tz_offset_at(load("Europe/London"), utc(2060, 8, 1, 0, 0)),
                     3600);
}

static void test_next_transition(void **state)
{
    struct tz *ny = load("America/New_York"), *ln = load("Europe/London");

    (void)state;
    assert_int_equal(tz_next_transition(ny, utc(2026, 1, 1, 0, 0)),
                     utc(2026, 3, 8, 7, 0));
    /* Strictly after: from the transition itself, the next one. */
    assert_int_equal(tz_next_transition(ny, utc(2026, 3, 8, 7, 0)),
                     utc(2026, 11, 1, 6, 0));
    assert_int_equal(tz_next_transition(ny, utc(2026, 3, 8, 7, 0) - 1),
                     utc(2026, 3, 8, 7, 0));
    assert_int_equal(tz_next_transition(ln, utc(2026, 1, 1, 0, 0)),
                     utc(2026, 3, 29, 1, 0));
    assert_int_equal(tz_next_transition(ln, utc(2026, 3, 29, 1, 0)),
                     utc(2026, 10, 25, 1, 0));
    assert_true(tz_next_transition(load("Asia/Kolkata"), 0) == INT64_MAX);
    assert_true(tz_next_transition(load("America/Mexico_City"),
                                   utc(2023, 1, 1, 0, 0)) == INT64_MAX);
}

static void test_local_to_utc(void **state)
{
    struct tz *ny = load("America/New_York"), *ln = load("Europe/London");
    int64_t first[2];

    (void)state;
    /* Normal. */
    assert_int_equal(tz_local_to_utc(ny, utc(2026, 6, 1, 9, 0), first), 1);
    assert_int_equal(first[0], utc(2026, 6, 1, 13, 0));
    /* Gap: 02:30 does not exist; the answer is the transition instant. */
    assert_int_equal(tz_local_to_utc(ny, utc(2026, 3, 8, 2, 30), first), 0);
    assert_int_equal(first[0], utc(2026, 3, 8, 7, 0));
    assert_int_equal(tz_local_to_utc(ny, utc(2026, 3, 8, 2, 0), first), 0);
    assert_int_equal(first[0], utc(2026, 3, 8, 7, 0));
    assert_int_equal(tz_local_to_utc(ny, utc(2026, 3, 8, 3, 0), first), 1);
    assert_int_equal(first[0], utc(2026, 3, 8, 7, 0));
    assert_int_equal(tz_local_to_utc(ny, utc(2026, 3, 8, 1, 59), first), 1);
    assert_int_equal(first[0], utc(2026, 3, 8, 6, 59));
    /* Overlap: 01:30 happens in EDT, then again in EST. */
    assert_int_equal(tz_local_to_utc(ny, utc(2026, 11, 1, 1, 30), first), 2);
    assert_int_equal(first[0], utc(2026, 11, 1, 5, 30));
    assert_int_equal(first[1], utc(2026, 11, 1, 6, 30));
    assert_int_equal(tz_local_to_utc(ny, utc(2026, 11, 1, 2, 0), first), 1);
    assert_int_equal(first[0], utc(2026, 11, 1, 7, 0));
    /* London, both edges at 01:00 UTC. */
    assert_int_equal(tz_local_to_utc(ln, utc(2026, 3, 29, 1, 15), first), 0);
    assert_int_equal(first[0], utc(2026, 3, 29, 1, 0));
    assert_int_equal(tz_local_to_utc(ln, utc(2026, 10, 25, 1, 15), first), 2);
    assert_int_equal(first[0], utc(2026, 10, 25, 0, 15));
    assert_int_equal(first[1], utc(2026, 10, 25, 1, 15));
}

static void test_bad_names(void **state)
{
    static const char *const bad[] = {
        "",
        "../etc/passwd",
        "/etc/passwd",
        "America/../../etc",
        "New York",
        "Europe/Lon.don",
        "UTC\n",
        "Zone;rm",
        /* each spelling would be one more zone cached for good */
        "America//New_York",
        "America/New_York/",
        "Europe/",
    };
    struct weir_err err = {0};
    struct tz *tz = (struct tz *)&err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(tz_load(bad[i], &tz, &err), WEIR_EINVAL);
        assert_ptr_equal(tz, (struct tz *)&err);
    }
    assert_int_equal(tz_load("/etc/passwd", &tz, &err), WEIR_EINVAL);
    assert_string_equal(err.msg, "time zone \"/etc/passwd\": expected a name "
                                 "such as America/New_York, not a path");
    assert_int_equal(tz_load("New York", &tz, &err), WEIR_EINVAL);
    assert_string_equal(err.msg, "time zone name: character 4 is not one of "
                                 "A-Z a-z 0-9 _ + - /");
    assert_int_equal(tz_load("Mars/Olympus_Mons", &tz, &err), WEIR_ENOTFOUND);
    assert_string_equal(err.msg,
                        "unknown time zone \"Mars/Olympus_Mons\" (no file "
                        "/usr/share/zoneinfo/Mars/Olympus_Mons)");
    assert_int_equal(tz_load("America", &tz, &err), WEIR_ENOTFOUND);
    assert_int_equal(tz_load("America//New_York", &tz, &err), WEIR_EINVAL);
    assert_string_equal(err.msg, "time zone \"America//New_York\": expected "
                                 "a name such as America/New_York, not a "
                                 "path");
}

struct thread_arg {
    const char *zone; /* loaded by the thread */
    int32_t want;     /* offset at 2026-07-01 */
    int bad;          /* results that differed */
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;

    for (int i = 0; i < 200; i++) {
        struct weir_err err;
        struct tz *tz;

        if (tz_load(a->zone, &tz, &err) != 0 ||
            tz_offset_at(tz, utc(2026, 7, 1, 0, 0)) != a->want)
            a->bad++;
        tz_free(tz);
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct thread_arg args[] = {{"Europe/Paris", 7200, 0},
                                {"Asia/Tokyo", 32400, 0},
                                {"Europe/Paris", 7200, 0},
                                {"America/Chicago", -18000, 0}};
    pthread_t th[4];

    (void)state;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]),
                         0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].bad, 0);
    }
}

/* ---- tests on hand-made files -------------------------------------------- */

static void test_footer_forms(void **state)
{
    struct tz *tz;

    (void)state;
    tz = load("T/Plus3");
    assert_int_equal(tz_offset_at(tz, 0), 10800);
    assert_true(tz_next_transition(tz, 0) == INT64_MAX);
    /* Jn: day 60 is March 1 even in a leap year. */
    tz = load("T/Julian");
    assert_int_equal(tz_next_transition(tz, utc(2028, 1, 1, 0, 0)),
                     utc(2028, 3, 1, 5, 0));
    assert_int_equal(tz_next_transition(tz, utc(2028, 3, 1, 5, 0)),
                     utc(2028, 10, 27, 4, 0));
    assert_int_equal(tz_offset_at(tz, utc(2028, 6, 1, 0, 0)), -7200);
    /* n: zero-based, February 29 counts. */
    tz = load("T/Zero");
    assert_int_equal(tz_next_transition(tz, utc(2028, 1, 1, 0, 0)),
                     utc(2028, 2, 29, 5, 0));
    assert_int_equal(tz_next_transition(tz, utc(2028, 2, 29, 5, 0)),
                     utc(2028, 10, 26, 4, 0));
    /* Negative transition time: -1:00 is 23:00 the day before. */
    tz = load("T/Neg");
    assert_int_equal(tz_next_transition(tz, utc(2026, 1, 1, 0, 0)),
                     utc(2026, 3, 29, 1, 0));
    assert_int_equal(tz_next_transition(tz, utc(2026, 3, 29, 1, 0)),
                     utc(2026, 10, 25, 1, 0));
    /* 26:00 on the fourth Thursday is 02:00 the next day. */
    tz = load("T/Late");
    assert_int_equal(tz_next_transition(tz, utc(2026, 1, 1, 0, 0)),
                     utc(2026, 3, 27, 0, 0));
    assert_int_equal(tz_next_transition(tz, utc(2026, 3, 27, 0, 0)),
                     utc(2026, 10, 24, 23, 0));
    assert_int_equal(tz_offset_at(tz, utc(2026, 3, 26, 23, 59)), 7200);
    assert_int_equal(tz_offset_at(tz, utc(2026, 3, 27, 0, 0)), 10800);
}

static void test_permanent_dst(void **state)
{
    struct tz *tz = load("T/Perm");

    (void)state;
    assert_int_equal(tz_offset_at(tz, utc(2026, 6, 1, 0, 0)), -14400);
    assert_int_equal(tz_offset_at(tz, utc(2026, 12, 31, 23, 0)), -14400);
    assert_int_equal(tz_offset_at(tz, utc(2027, 1, 1, 5, 0)), -14400);
    assert_int_equal(tz_offset_at(tz, utc(2027, 1, 1, 4, 59)), -14400);
    assert_true(tz_next_transition(tz, utc(2026, 6, 1, 0, 0)) == INT64_MAX);
}

static void test_v1_and_slim(void **state)
{
    struct tz *tz = load("T/V1");

    (void)state;
    assert_int_equal(tz_offset_at(tz, 999999999), 3600);
    assert_int_equal(tz_offset_at(tz, 1000000000), 7200);
    assert_int_equal(tz_offset_at(tz, 2000000000), -1800);
    assert_int_equal(tz_next_transition(tz, 0), 1000000000);
    assert_true(tz_next_transition(tz, 1100000000) == INT64_MAX);
    /* A slim file: every year after 2007 comes from the footer. */
    tz = load("T/Slim");
    assert_int_equal(tz_offset_at(tz, utc(2007, 6, 1, 0, 0)), -14400);
    assert_int_equal(tz_next_transition(tz, utc(2026, 1, 1, 0, 0)),
                     utc(2026, 3, 8, 7, 0));
    assert_int_equal(tz_next_transition(tz, utc(2100, 1, 1, 0, 0)),
                     utc(2100, 3, 14, 7, 0));
    assert_int_equal(tz_offset_at(tz, utc(2100, 7, 1, 0, 0)), -14400);
}

static void test_bad_files(void **state)
{
    struct weir_err err = {0};
    struct tz *tz = NULL;
    char want[256];

    (void)state;
    assert_int_equal(tz_load("T/Junk", &tz, &err), WEIR_EPARSE);
    snprintf(want, sizeof(want),
             "time zone \"T/Junk\": %s/T/Junk is not a valid TZif file",
             tmpdir);
    assert_string_equal(err.msg, want);
    assert_int_equal(tz_load("T/Short", &tz, &err), WEIR_EPARSE);
    assert_int_equal(tz_load("T/Counts", &tz, &err), WEIR_EPARSE);
    assert_int_equal(tz_load("T/BadRule", &tz, &err), WEIR_EPARSE);
    assert_int_equal(tz_load("T/Huge", &tz, &err), WEIR_ETOOBIG);
    assert_int_equal(tz_load("T", &tz, &err), WEIR_ENOTFOUND);
    assert_int_equal(tz_load("T/Missing", &tz, &err), WEIR_ENOTFOUND);
    assert_null(tz);
    /* UTC needs no file. */
    assert_int_equal(tz_offset_at(load("UTC"), 0), 0);
}

int main(void)
{
    const struct CMUnitTest system_tests[] = {
        cmocka_unit_test(test_utc_builtin),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_far_future),
        cmocka_unit_test(test_next_transition),
        cmocka_unit_test(test_local_to_utc),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_threads),
    };
    const struct CMUnitTest file_tests[] = {
        cmocka_unit_test(test_footer_forms),
        cmocka_unit_test(test_permanent_dst),
        cmocka_unit_test(test_v1_and_slim),
        cmocka_unit_test(test_bad_files),
    };
    int failed = cmocka_run_group_tests_name("installed zones", system_tests,
                                             need_tzdata, NULL);

    return failed + cmocka_run_group_tests_name("hand-made zone files",
                                                file_tests, make_files,
                                                remove_files);
}
