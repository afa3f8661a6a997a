/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 and HMAC-SHA256 (FIPS 180-4, RFC 2104), for DAG version hashes,
 * stored token hashes and webhook signatures. */
#ifndef WEIR_SHA256_H
#define WEIR_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

struct sha256 {
    uint32_t h[8];     /* chaining state */
    uint64_t bytes;    /* message length so far */
    uint8_t block[64]; /* partial block */
    size_t used;       /* bytes in block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]);

/* One call: digest of data. */
void sha256_digest(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* Digest of data as 64 lowercase hex characters and a NUL in hex[65]. */
void sha256_hex(const void *data, size_t len, char hex[65]);

/* HMAC-SHA256 of data under key. */
void hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                 uint8_t out[SHA256_LEN]);

#endif
