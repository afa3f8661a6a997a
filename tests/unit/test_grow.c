/* SPDX-License-Identifier: Apache-2.0 */
/* The growable array of common/grow.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "grow.h"

/* Doubling from the first size, and the elements kept. */
static void test_doubles_and_keeps(void **state)
{
    int *v = NULL;
    size_t cap = 0;

    (void)state;
    assert_true(WEIR_GROW(v, cap, 1, 8, 0));
    assert_int_equal(cap, 8);
    for (int i = 0; i < 8; i++)
        v[i] = i;
    assert_true(WEIR_GROW(v, cap, 9, 8, 0));
    assert_int_equal(cap, 16);
    assert_true(WEIR_GROW(v, cap, 100, 8, 0));
    assert_int_equal(cap, 128);
    for (int i = 0; i < 8; i++)
        assert_int_equal(v[i], i);
    assert_true(WEIR_GROW(v, cap, 5, 8, 0)); /* room already */
    assert_int_equal(cap, 128);
    free(v);
}

/* The maximum caps the capacity, and a need past it is refused with the
 * array untouched. */
static void test_maximum(void **state)
{
    char *p = NULL;
    size_t cap = 0;

    (void)state;
    assert_true(WEIR_GROW(p, cap, 100, 64, 150));
    assert_int_equal(cap, 128);
    assert_true(WEIR_GROW(p, cap, 129, 64, 150));
    assert_int_equal(cap, 150);
    p[149] = 'x';
    assert_false(WEIR_GROW(p, cap, 151, 64, 150));
    assert_int_equal(cap, 150);
    assert_int_equal(p[149], 'x');
    free(p);
}

/* A size that would overflow size_t is refused, not wrapped. */
static void test_overflow(void **state)
{
    uint64_t *v = NULL;
    size_t cap = 0;

    (void)state;
    assert_false(WEIR_GROW(v, cap, SIZE_MAX / 4, 8, 0));
    assert_null(v);
    assert_int_equal(cap, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubles_and_keeps),
        cmocka_unit_test(test_maximum),
        cmocka_unit_test(test_overflow),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
