/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for SHA-256 (libcrypto underneath) against published test
 * vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sha256.h"

static void to_hex(const uint8_t *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static void test_fips_vectors(void **state)
{
    char hex[65];

    (void)state;
    sha256_hex("", 0, hex);
    assert_string_equal(
        hex,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_hex("abc", 3, hex);
    assert_string_equal(
        hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
               hex);
    assert_string_equal(
        hex,
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* A long input: one million "a" (the FIPS 180-2 vector). */
static void test_million_a(void **state)
{
    static char a[1000000];
    char hex[65];

    (void)state;
    memset(a, 'a', sizeof(a));
    sha256_hex(a, sizeof(a), hex);
    assert_string_equal(
        hex,
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* The raw digest is the bytes the hex spells. */
static void test_digest_bytes(void **state)
{
    uint8_t d[SHA256_LEN];
    char hex[65];

    (void)state;
    sha256_digest("abc", 3, d);
    to_hex(d, SHA256_LEN, hex);
    assert_string_equal(
        hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_vectors),
        cmocka_unit_test(test_million_a),
        cmocka_unit_test(test_digest_bytes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
