/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the database URL checks (server/store/dburl.c): libpq's
 * parse errors reach the user with the password hidden, the password is
 * found in both forms of a multi-host string, and hiding it in a message
 * holds at the edges (short secrets, a full buffer, a secret made of the
 * stars that replace it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/dburl.h"

/* dburl_check(url) must succeed with the password want (NULL: none). */
static void check_ok(const char *url, const char *want)
{
    struct weir_err err = {0};
    char *secret = (char *)"untouched";

    assert_int_equal(dburl_check(url, &secret, &err), 0);
    if (want == NULL)
        assert_null(secret);
    else
        assert_string_equal(secret, want);
    free(secret);
}

static void test_multi_host_forms(void **state)
{
    (void)state;
    check_ok("host=/srv/a,/srv/b port=5432,5433 dbname=weir user=weir "
             "target_session_attrs=read-write",
             NULL);
    check_ok("host=db1,db2 dbname=weir password=k3y", "k3y");
    check_ok("postgresql://weir@db1:5432,db2:5432/weir"
             "?target_session_attrs=read-write",
             NULL);
    check_ok("postgresql://weir:s%40cret@db1:5432,db2:5432/weir", "s@cret");
    check_ok("postgresql://%2Fsrv%2Fa:5432,%2Fsrv%2Fb:5432/weir", NULL);
}

/* dburl_check(url) must fail with EINVAL, saying has, never hidden. */
static void check_bad(const char *url, const char *has, const char *hidden)
{
    struct weir_err err = {0};
    char *secret = NULL;

    assert_int_equal(dburl_check(url, &secret, &err), WEIR_EINVAL);
    assert_null(secret);
    assert_non_null(strstr(err.msg, "--database-url is not a valid"));
    if (strstr(err.msg, has) == NULL)
        fail_msg("\"%s\" not in: %s", has, err.msg);
    if (hidden != NULL && strstr(err.msg, hidden) != NULL)
        fail_msg("\"%s\" shown in: %s", hidden, err.msg);
}

static void test_parse_errors(void **state)
{
    (void)state;
    /* no password: libpq's words whole */
    check_bad("host=/srv/a hots=/srv/b", "invalid connection option \"hots\"",
              NULL);
    check_bad("postgresql://db1,db2/weir?bogus=1", "\"bogus\"", NULL);
    /* a password: what libpq quotes is hidden, option names are not */
    check_bad("host=/srv/a password=two words", "missing \"=\" after", "words");
    check_bad("host=/srv/a password=a b=c", "\"(hidden)\"", "\"b\"");
    check_bad("postgresql://u:pw%zz@db1/weir", "invalid percent-encoded", "pw");
    check_bad("postgresql://u:topsecret@[::1/weir", "IPv6", "topsecret");
}

static void test_redact(void **state)
{
    char msg[64];

    (void)state;
    strcpy(msg, "failed for k3y at k3y");
    dburl_redact(msg, sizeof(msg), "k3y");
    assert_string_equal(msg, "failed for *** at ***");
    strcpy(msg, "nothing here");
    dburl_redact(msg, sizeof(msg), NULL);
    dburl_redact(msg, sizeof(msg), "");
    assert_string_equal(msg, "nothing here");
    strcpy(msg, "a long-password-here b");
    dburl_redact(msg, sizeof(msg), "long-password-here");
    assert_string_equal(msg, "a *** b");
    /* a secret shorter than its stars, the buffer full: the end goes */
    memset(msg, 'x', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    msg[10] = 'q';
    dburl_redact(msg, sizeof(msg), "q");
    assert_int_equal(strlen(msg), sizeof(msg) - 1);
    assert_memory_equal(msg + 10, "***", 3);
    msg[sizeof(msg) - 2] = 'q'; /* at the very end: cut there */
    dburl_redact(msg, sizeof(msg), "q");
    assert_true(strlen(msg) < sizeof(msg));
    assert_null(strchr(msg, 'q'));
    /* the stars themselves contain the secret: no endless loop */
    strcpy(msg, "a*b");
    dburl_redact(msg, sizeof(msg), "*");
    assert_string_equal(msg, "a***b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multi_host_forms),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_redact),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
