/* SPDX-License-Identifier: Apache-2.0 */
#include "sha256.h"

#include <stdlib.h>

#include <openssl/evp.h>

void sha256_digest(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
    unsigned int n = 0;

    /* Fails only when libcrypto cannot allocate its context: a digest
     * that is silently wrong would be worse than stopping. */
    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 ||
        n != SHA256_LEN)
        abort();
}

void sha256_hex(const void *data, size_t len, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t d[SHA256_LEN];

    sha256_digest(data, len, d);
    for (size_t i = 0; i < SHA256_LEN; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[64] = '\0';
}
