/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for server lists (srvlist.h) and the protocol version
 * (protocol.h): what workers and the CLI accept, and what a server
 * refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"
#include "srvlist.h"

static void expect_bad(const char *text, bool strict, const char *msg)
{
    static struct srvlist l;
    struct weir_err err = {0};

    memset(&l, 0, sizeof(l));
    l.n = 1;
    strcpy(l.url[0], "http://kept");
    assert_int_equal(srvlist_add(&l, text, "WEIR_SERVER", strict, &err),
                     WEIR_EINVAL);
    assert_string_equal(err.msg, msg);
    assert_int_equal(l.n, 1); /* unchanged on failure */
}

static void test_lists(void **state)
{
    static struct srvlist l;
    struct weir_err err = {0};

    (void)state;
    memset(&l, 0, sizeof(l));
    assert_int_equal(srvlist_add(&l, "http://a:1/", "--server", true, &err), 0);
    assert_int_equal(
        srvlist_add(&l, " https://b:2 ,http://c:3//", "--server", true, &err),
        0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.url[0], "http://a:1");
    assert_string_equal(l.url[1], "https://b:2");
    assert_string_equal(l.url[2], "http://c:3");
    /* without strict, the HTTP client refuses other schemes later */
    memset(&l, 0, sizeof(l));
    assert_int_equal(srvlist_add(&l, "file:///x", "--server", false, &err), 0);
    assert_string_equal(l.url[0], "file:///x");
}

static void test_bad_lists(void **state)
{
    (void)state;
    expect_bad("http://a,,http://b", true,
               "WEIR_SERVER: server 2 of the list is empty (expected "
               "URL[,URL...])");
    expect_bad("", false,
               "WEIR_SERVER: server 1 of the list is empty (expected "
               "URL[,URL...])");
    expect_bad("http://a, ", false,
               "WEIR_SERVER: server 2 of the list is empty (expected "
               "URL[,URL...])");
    expect_bad("ftp://a", true,
               "WEIR_SERVER: \"ftp://a\" is not a server URL (expected "
               "http://HOST:PORT or https://HOST:PORT)");
    expect_bad("http://", true,
               "WEIR_SERVER: \"http://\" is not a server URL (expected "
               "http://HOST:PORT or https://HOST:PORT)");
    expect_bad("http://a,http://b,http://c,http://d,http://e,http://f,"
               "http://g,http://h,http://i,http://j,http://k,http://l,"
               "http://m,http://n,http://o,http://p",
               true, "WEIR_SERVER: at most 16 servers in all");
}

static void test_reached(void **state)
{
    (void)state;
    assert_true(srvlist_reached(0, 200));
    assert_true(srvlist_reached(0, 404));
    assert_true(srvlist_reached(0, 500));
    assert_false(srvlist_reached(0, 502));
    assert_false(srvlist_reached(0, 503));
    assert_false(srvlist_reached(0, 504));
    assert_false(srvlist_reached(WEIR_EUNAVAIL, 0));
}

static void test_protocol(void **state)
{
    struct weir_err err = {0};
    long major = 0;

    (void)state;
    assert_int_equal(protocol_parse(NULL, &major, &err), 0);
    assert_int_equal(major, WEIR_PROTOCOL_IMPLIED);
    assert_int_equal(protocol_parse("3.14", &major, &err), 0);
    assert_int_equal(major, 3);
    assert_int_equal(protocol_check(NULL, &err), 0);
    assert_int_equal(protocol_check("1", &err), 0);
    assert_int_equal(protocol_check("1.5", &err), 0);
    assert_int_equal(protocol_check("2", &err), WEIR_EPROTOCOL);
    assert_string_equal(err.msg,
                        "the worker speaks protocol version 2, this server "
                        "only 1: upgrade the servers before the workers (or "
                        "run a worker of protocol 1)");
    assert_int_equal(weir_err_http_status(WEIR_EPROTOCOL), 400);
    assert_string_equal(weir_errname(WEIR_EPROTOCOL), "PROTOCOL");
    for (size_t i = 0; i < 6; i++) {
        static const char *const bad[] = {"", "0", "x", "1.", "1.x", "-1"};

        assert_int_equal(protocol_parse(bad[i], &major, &err), WEIR_EINVAL);
    }
    assert_string_equal(err.msg, "the Weir-Protocol header must be MAJOR or "
                                 "MAJOR.MINOR (e.g. \"1\"), got \"-1\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_bad_lists),
        cmocka_unit_test(test_reached),
        cmocka_unit_test(test_protocol),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
