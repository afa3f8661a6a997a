/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The database URL (a libpq connection string or URL, one host or
 * several): checked before the first connection, and its password kept
 * out of every message that quotes libpq.
 */
#ifndef WEIR_STORE_DBURL_H
#define WEIR_STORE_DBURL_H

#include <stddef.h>

#include "err.h"

/*
 * Parse url as libpq will. Returns 0 with *secret set to a copy of its
 * password (NULL when it has none; the caller frees it), or WEIR_EINVAL
 * with err saying what is wrong, libpq's words with any quoted part that
 * could hold the password hidden, or WEIR_ENOMEM.
 */
WEIR_MUSTCHECK int dburl_check(const char *url, char **secret,
                               struct weir_err *err);

/* Replace every occurrence of secret (may be NULL) in msg, a string in a
 * buffer of len bytes, with "***". */
void dburl_redact(char *msg, size_t len, const char *secret);

#endif
