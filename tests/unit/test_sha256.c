/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for SHA-256 and HMAC-SHA256 against published test vectors. */
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

static void test_incremental_million_a(void **state)
{
    struct sha256 s;
    uint8_t chunk[1001], d[SHA256_LEN];
    char hex[65];

    (void)state;
    memset(chunk, 'a', sizeof(chunk));
    sha256_init(&s);
    for (int i = 0; i < 1000; i++)
        sha256_update(&s, chunk, i % 2 ? 999 : 1001);
    sha256_final(&s, d);
    to_hex(d, SHA256_LEN, hex);
    assert_string_equal(
        hex,
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_hmac_rfc4231(void **state)
{
    uint8_t key[20], d[SHA256_LEN], longkey[131];
    char hex[65];

    (void)state;
    memset(key, 0x0b, sizeof(key));
    hmac_sha256(key, sizeof(key), "Hi There", 8, d);
    to_hex(d, SHA256_LEN, hex);
    assert_string_equal(
        hex,
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
    to_hex(d, SHA256_LEN, hex);
    assert_string_equal(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(longkey, 0xaa, sizeof(longkey));
    hmac_sha256(longkey, sizeof(longkey),
                "Test Using Larger Than Block-Size Key - Hash Key First", 54,
                d);
    to_hex(d, SHA256_LEN, hex);
    assert_string_equal(
        hex,
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_vectors),
        cmocka_unit_test(test_incremental_million_a),
        cmocka_unit_test(test_hmac_rfc4231),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
