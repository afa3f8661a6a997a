/* SPDX-License-Identifier: Apache-2.0 */
/* weir_getopt(): exact long names, clear errors, getopt_long otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "opts.h"

static const struct option longs[] = {
    {"limit", required_argument, NULL, 'l'},
    {"json", no_argument, NULL, 'j'},
    {"slots", required_argument, NULL, 's'},
    {"since", required_argument, NULL, 'S'},
    {NULL, 0, NULL, 0},
};

/* Parse argv (NULL-terminated); returns the options' letters in order,
 * '?' included, and leaves the last error in err. */
static void parse(char **argv, char *seen, size_t len, struct weir_err *err)
{
    int argc = 0, c;
    size_t n = 0;

    while (argv[argc] != NULL)
        argc++;
    optind = 1;
    while ((c = weir_getopt(argc, argv, "jl:", longs, err)) != -1) {
        if (n + 1 < len)
            seen[n++] = (char)c;
        if (c == '?')
            break;
    }
    seen[n] = '\0';
}

static void test_accepts_and_permutes(void **state)
{
    char a0[] = "weir", a1[] = "run1", a2[] = "--limit", a3[] = "5",
         a4[] = "--json", a5[] = "-l7", a6[] = "--since=1h";
    char *argv[] = {a0, a1, a2, a3, a4, a5, a6, NULL};
    struct weir_err err = {0};
    char seen[16];

    (void)state;
    parse(argv, seen, sizeof(seen), &err);
    assert_string_equal(seen, "ljlS");
    assert_int_equal(optind, 6);
    assert_string_equal(argv[optind], "run1"); /* positionals moved last */
}

static void test_unknown_with_suggestion(void **state)
{
    char a0[] = "weir", a1[] = "--limt", a2[] = "5";
    char *argv[] = {a0, a1, a2, NULL};
    struct weir_err err = {0};
    char seen[16];

    (void)state;
    parse(argv, seen, sizeof(seen), &err);
    assert_string_equal(seen, "?");
    assert_string_equal(err.msg,
                        "unknown option --limt (did you mean --limit?)");
}

static void test_abbreviation_refused(void **state)
{
    char a0[] = "weir-worker", a1[] = "--slot", a2[] = "3";
    char *argv[] = {a0, a1, a2, NULL};
    struct weir_err err = {0};
    char seen[16];

    (void)state;
    parse(argv, seen, sizeof(seen), &err);
    assert_string_equal(seen, "?");
    assert_string_equal(err.msg,
                        "unknown option --slot (did you mean --slots?)");
}

static void test_values(void **state)
{
    char a0[] = "weir", a1[] = "--json=yes", b1[] = "--limit", c1[] = "-l",
         d1[] = "-x";
    char *argv1[] = {a0, a1, NULL}, *argv2[] = {a0, b1, NULL},
         *argv3[] = {a0, c1, NULL}, *argv4[] = {a0, d1, NULL};
    struct weir_err err = {0};
    char seen[16];

    (void)state;
    parse(argv1, seen, sizeof(seen), &err);
    assert_string_equal(err.msg, "--json takes no value");
    parse(argv2, seen, sizeof(seen), &err);
    assert_string_equal(err.msg, "--limit needs a value");
    parse(argv3, seen, sizeof(seen), &err);
    assert_string_equal(err.msg, "-l needs a value");
    parse(argv4, seen, sizeof(seen), &err);
    assert_string_equal(err.msg, "unknown option -x");
}

/* A value that looks like an option, and what follows "--", are data. */
static void test_values_that_look_like_options(void **state)
{
    char a0[] = "weir", a1[] = "--limit", a2[] = "--weird", a3[] = "--",
         a4[] = "--not-an-option";
    char *argv[] = {a0, a1, a2, a3, a4, NULL};
    struct weir_err err = {0};
    char seen[16];

    (void)state;
    parse(argv, seen, sizeof(seen), &err);
    assert_string_equal(seen, "l");
    assert_string_equal(argv[optind], "--not-an-option");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_and_permutes),
        cmocka_unit_test(test_unknown_with_suggestion),
        cmocka_unit_test(test_abbreviation_refused),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_values_that_look_like_options),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
