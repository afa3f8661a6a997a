/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the file helpers: private files, bounded reads, and tree
 * removal that never follows a link and stops at the depth limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

static char base[64];

static int setup(void **state)
{
    (void)state;
    snprintf(base, sizeof(base), "/tmp/weir-test-fsutil-XXXXXX");
    assert_non_null(mkdtemp(base));
    return 0;
}

static int teardown(void **state)
{
    struct weir_err err = {0};

    (void)state;
    if (fsutil_tree_remove(base, &err) != 0)
        fail_msg("teardown: %s", err.msg);
    return 0;
}

static void join(char *dst, const char *a, const char *b)
{
    int n = snprintf(dst, PATH_MAX, "%s/%s", a, b);

    assert_true(n > 0 && n < PATH_MAX);
}

static void test_write_and_read(void **state)
{
    char path[PATH_MAX];
    struct weir_err err = {0};
    struct stat st;
    char *text = NULL;
    size_t len = 0;

    (void)state;
    join(path, base, "f");
    assert_int_equal(fsutil_file_write(path, "hello", 5, &err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(fsutil_file_write(path, "again", 5, &err), WEIR_EEXISTS);
    assert_int_equal(fsutil_file_read(path, 5, &text, &len, &err), 0);
    assert_int_equal(len, 5);
    assert_string_equal(text, "hello");
    free(text);
    text = NULL;
    assert_int_equal(fsutil_file_read(path, 4, &text, &len, &err),
                     WEIR_ETOOBIG);
    assert_null(text);
    join(path, base, "missing");
    assert_int_equal(fsutil_file_read(path, 4, &text, &len, &err), WEIR_EIO);
}

static void test_remove_missing_is_success(void **state)
{
    char path[PATH_MAX];
    struct weir_err err = {0};

    (void)state;
    join(path, base, "nothing-here");
    assert_int_equal(fsutil_tree_remove(path, &err), 0);
}

static void test_remove_refuses_link_at_top(void **state)
{
    char target[PATH_MAX], link[PATH_MAX], keep[PATH_MAX];
    struct weir_err err = {0};

    (void)state;
    join(target, base, "target");
    join(link, base, "link");
    join(keep, target, "keep");
    assert_int_equal(mkdir(target, 0700), 0);
    assert_int_equal(fsutil_file_write(keep, "x", 1, &err), 0);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(fsutil_tree_remove(link, &err), WEIR_EIO);
    assert_int_equal(access(keep, F_OK), 0);
}

static void test_remove_stops_at_depth(void **state)
{
    char path[PATH_MAX], top[PATH_MAX];
    struct weir_err err = {0};

    (void)state;
    join(top, base, "deep");
    snprintf(path, sizeof(path), "%s", top);
    for (int i = 0; i <= FSUTIL_TREE_MAX_DEPTH + 1; i++) {
        assert_int_equal(mkdir(path, 0700), 0);
        assert_true(strlen(path) + 3 < sizeof(path));
        strcat(path, "/d");
    }
    assert_int_equal(fsutil_tree_remove(top, &err), WEIR_ETOOBIG);
    assert_non_null(strstr(err.msg, "folders deep"));
    /* a shallower tree goes entirely */
    path[strlen(top) + 2 * (FSUTIL_TREE_MAX_DEPTH - 2)] = '\0';
    assert_int_equal(fsutil_tree_remove(path, &err), 0);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(fsutil_tree_remove(top, &err), 0);
    assert_int_equal(access(top, F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_missing_is_success, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_remove_refuses_link_at_top, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_remove_stops_at_depth, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
