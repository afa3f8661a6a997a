/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 (FIPS 180-4) by OpenSSL's libcrypto, for DAG version hashes,
 * stored token hashes and ETags. Nothing here is hand-written
 * cryptography: these are thin calls of EVP_Digest(). */
#ifndef WEIR_SHA256_H
#define WEIR_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

/* The digest of len bytes at data. */
void sha256_digest(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* The digest of len bytes at data as 64 lowercase hex digits and a NUL. */
void sha256_hex(const void *data, size_t len, char hex[65]);

#endif
