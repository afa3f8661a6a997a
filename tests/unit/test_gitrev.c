/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for gitrev: the revision of folders laid out as git lays out
 * checkouts, worktrees and submodules, written here file by file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gitrev.h"

#define A40 "0123456789abcdef0123456789abcdef01234567"
#define B40 "89abcdef0123456789abcdef0123456789abcdef"
#define C64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char root[256]; /* the fixture folder of one test */

#define REL_MAX      1024                     /* a path below root */
#define FIXTURE_PATH (sizeof(root) + REL_MAX) /* root, '/' and that */

/* Make the folders of root/rel. */
static void mkdirs(const char *rel)
{
    char path[FIXTURE_PATH];

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        (void)mkdir(path, 0700);
        *p = '/';
    }
    (void)mkdir(path, 0700);
}

/* Write text to root/rel, making its folders. */
static void put(const char *rel, const char *text)
{
    char path[FIXTURE_PATH], dir[REL_MAX];
    const char *slash = strrchr(rel, '/');
    FILE *f;

    if (slash != NULL) {
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - rel), rel);
        mkdirs(dir);
    }
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* The revision of root/rel, or "" when it has none. */
static const char *rev(const char *rel)
{
    static char out[GITREV_HEX_MAX + 1];
    char path[1024];

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    strcpy(out, "untouched");
    if (!gitrev_get(path, out)) {
        assert_string_equal(out, "untouched");
        return "";
    }
    return out;
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/weir-gitrev-XXXXXX");
    return mkdtemp(root) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_detached_head(void **state)
{
    (void)state;
    put("repo/.git/HEAD", A40 "\n");
    mkdirs("repo/dags/sub");
    assert_string_equal(rev("repo"), A40);
    /* a folder inside the checkout has its revision */
    assert_string_equal(rev("repo/dags/sub"), A40);
    put("sha256/.git/HEAD", C64 "\n");
    assert_string_equal(rev("sha256"), C64);
}

static void test_loose_ref(void **state)
{
    (void)state;
    put("repo/.git/HEAD", "ref: refs/heads/main\n");
    put("repo/.git/refs/heads/main", B40 "\n");
    put("repo/.git/packed-refs",
        "# pack-refs with: peeled\n" A40 " refs/heads/main\n");
    /* the loose ref wins over a stale packed one */
    assert_string_equal(rev("repo"), B40);
    /* a symbolic ref is followed */
    put("repo/.git/refs/heads/alias", "ref: refs/heads/main\n");
    put("repo/.git/HEAD", "ref: refs/heads/alias\n");
    assert_string_equal(rev("repo"), B40);
}

static void test_packed_ref(void **state)
{
    (void)state;
    put("repo/.git/HEAD", "ref: refs/heads/release/v1\n");
    put("repo/.git/packed-refs",
        "# pack-refs with: peeled fully-peeled sorted\n" A40
        " refs/heads/release/v0\n" B40 " refs/heads/release/v1\n"
        "^" A40 "\n" A40 " refs/tags/v1\n");
    assert_string_equal(rev("repo"), B40);
}

static void test_worktree_gitdir_file(void **state)
{
    char text[600];

    (void)state;
    put("main/.git/HEAD", "ref: refs/heads/main\n");
    put("main/.git/refs/heads/main", A40 "\n");
    put("main/.git/refs/heads/topic", B40 "\n");
    put("main/.git/worktrees/wt/HEAD", "ref: refs/heads/topic\n");
    put("main/.git/worktrees/wt/commondir", "../..\n");
    snprintf(text, sizeof(text), "gitdir: %s/main/.git/worktrees/wt\n", root);
    put("wt/.git", text);
    assert_string_equal(rev("wt"), B40);
    assert_string_equal(rev("main"), A40);
    /* a submodule: a relative gitdir, refs packed in its own folder */
    put("main/.git/modules/sub/HEAD", "ref: refs/heads/main\n");
    put("main/.git/modules/sub/packed-refs",
        A40 " refs/heads/other\n" B40 " refs/heads/main\n");
    put("main/sub/.git", "gitdir: ../.git/modules/sub\n");
    assert_string_equal(rev("main/sub"), B40);
}

static void test_not_a_checkout(void **state)
{
    (void)state;
    mkdirs("plain/dags");
    assert_string_equal(rev("plain/dags"), "");
    assert_string_equal(rev("missing"), "");
    /* a .git folder without HEAD */
    mkdirs("empty/.git");
    assert_string_equal(rev("empty"), "");
}

static void test_garbage(void **state)
{
    (void)state;
    put("short/.git/HEAD", "0123456789abcdef\n");
    assert_string_equal(rev("short"), "");
    put("upper/.git/HEAD", "0123456789ABCDEF0123456789ABCDEF01234567\n");
    assert_string_equal(rev("upper"), "");
    put("dangling/.git/HEAD", "ref: refs/heads/none\n");
    assert_string_equal(rev("dangling"), "");
    /* a ref name must stay inside the git folder */
    put("escape/.git/HEAD", "ref: refs/../../outside\n");
    put("outside", A40 "\n");
    assert_string_equal(rev("escape"), "");
    put("badref/.git/HEAD", "ref: refs/heads/main\n");
    put("badref/.git/refs/heads/main", "not an id\n");
    assert_string_equal(rev("badref"), "");
    put("loop/.git/HEAD", "ref: refs/heads/a\n");
    put("loop/.git/refs/heads/a", "ref: refs/heads/b\n");
    put("loop/.git/refs/heads/b", "ref: refs/heads/a\n");
    assert_string_equal(rev("loop"), "");
    put("badfile/.git", "not a gitdir line\n");
    assert_string_equal(rev("badfile"), "");
    put("emptyfile/.git", "");
    assert_string_equal(rev("emptyfile"), "");
    put("nul/.git/HEAD", "");
    assert_string_equal(rev("nul"), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_detached_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loose_ref, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packed_ref, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worktree_gitdir_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_not_a_checkout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
