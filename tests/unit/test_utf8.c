/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the UTF-8 well-formedness check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "utf8.h"

static size_t bad_at(const char *s)
{
    return utf8_invalid_offset((const unsigned char *)s, strlen(s));
}

static void test_valid(void **state)
{
    (void)state;
    assert_int_equal(bad_at(""), 0);
    assert_int_equal(bad_at("plain"), 5);
    assert_int_equal(bad_at("caf\xc3\xa9"), 5);
    assert_int_equal(bad_at("\xe2\x82\xac"), 3);     /* euro sign */
    assert_int_equal(bad_at("\xf0\x9f\x98\x80"), 4); /* emoji */
    assert_int_equal(bad_at("\xf4\x8f\xbf\xbf"), 4); /* U+10FFFF */
    assert_int_equal(bad_at("\xed\x9f\xbf"), 3);     /* U+D7FF */
}

static void test_invalid(void **state)
{
    (void)state;
    assert_int_equal(bad_at("ab\xff"), 2);           /* never valid */
    assert_int_equal(bad_at("ab\xc0\xaf"), 2);       /* overlong '/' */
    assert_int_equal(bad_at("\xe0\x80\xaf"), 0);     /* overlong */
    assert_int_equal(bad_at("x\xed\xa0\x80"), 1);    /* surrogate */
    assert_int_equal(bad_at("\xf4\x90\x80\x80"), 0); /* past U+10FFFF */
    assert_int_equal(bad_at("ok\xe2\x82"), 2);       /* cut short */
    assert_int_equal(bad_at("\xc3("), 0);            /* bad continuation */
    assert_int_equal(bad_at("\x80"), 0);             /* lone continuation */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
