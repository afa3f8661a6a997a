/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The secrets key ring (docs/security.md, "Secrets"): the keys of every
 * --secrets-key-file, and sealing and opening values with AES-256-GCM
 * (OpenSSL EVP). The first key seals; every key opens. Each key is named
 * by its id, the first 16 hex digits of its SHA-256, stored beside each
 * ciphertext. The ring is loaded once at start, before any thread reads
 * it, and never changes after.
 */
#ifndef WEIR_ENGINE_SECRETKEY_H
#define WEIR_ENGINE_SECRETKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "weir.h"

#define SECRETKEY_LEN       32        /* bytes of an AES-256 key */
#define SECRETKEY_NONCE_LEN 12        /* bytes of a GCM nonce */
#define SECRETKEY_TAG_LEN   16        /* bytes of a GCM tag */
#define SECRETKEY_ID_LEN    16        /* hex digits of a key id */
#define SECRETKEY_MAX       16        /* keys of one ring */
#define SECRETKEY_VALUE_MAX 65536     /* bytes of one secret value */
#define SECRETKEY_FILE_MAX  (1 << 16) /* bytes of one key file */

/*
 * Load the keys of the n files (n >= 1) into the ring, in order: each
 * file is a regular file that neither group nor others may read or write
 * (mode 0600 or 0400), holding one key per line as 64 hex digits (blank
 * lines and lines starting with '#' are skipped). WEIR_EINVAL names the
 * file (and line) and what is wrong; nothing is loaded then.
 */
WEIR_MUSTCHECK int secretkey_load(const char *const *files, size_t n,
                                  struct weir_err *err);

/* Forget (and wipe) the keys; a no-op when none were loaded. */
void secretkey_unload(void);

/* Whether a ring was loaded (the server has a secrets key). */
bool secretkey_ready(void);

/* The id of the key that seals ("" when there is no ring; borrowed). */
const char *secretkey_first_id(void);

/* The number of keys in the ring. */
size_t secretkey_count(void);

/*
 * Seal len bytes of plain under the first key, with a fresh random nonce
 * into nonce and the secret's name and environment ("" for all) as the
 * associated data: *ct (malloc, len + SECRETKEY_TAG_LEN bytes, into
 * *ct_len) holds the ciphertext then the tag; key_id gets the key's id.
 * WEIR_ECONFLICT when there is no ring.
 */
WEIR_MUSTCHECK int secretkey_seal(const char *name, const char *env,
                                  const char *plain, size_t len,
                                  unsigned char nonce[SECRETKEY_NONCE_LEN],
                                  unsigned char **ct, size_t *ct_len,
                                  char key_id[SECRETKEY_ID_LEN + 1],
                                  struct weir_err *err);

/*
 * Open what secretkey_seal() made with the key key_id: *plain (malloc,
 * NUL-terminated, *len bytes; the caller wipes and frees it). WEIR_ECONFLICT
 * when there is no ring or no key key_id in it; WEIR_EINTERNAL when the
 * tag does not match (a wrong key, or the row was altered or moved).
 */
WEIR_MUSTCHECK int
secretkey_open(const char *name, const char *env, const char *key_id,
               const unsigned char nonce[SECRETKEY_NONCE_LEN],
               const unsigned char *ct, size_t ct_len, char **plain,
               size_t *len, struct weir_err *err);

#endif
