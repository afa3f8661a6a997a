/* SPDX-License-Identifier: Apache-2.0 */
/*
 * API tokens (made by engine/tokens.c): the caller of a request. What its
 * grants allow is checked in api/authz.c.
 */
#ifndef WEIR_AUTH_H
#define WEIR_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"
#include "err.h"

#define AUTH_TOKEN_PREFIX ENGINE_TOKEN_PREFIX /* tokens are made there */
#define AUTH_TOKEN_LEN    ENGINE_TOKEN_LEN

/*
 * The live token of an Authorization header value ("Bearer weir_...";
 * NULL when the request had none) into *out. WEIR_EAUTH when the header is
 * missing or malformed or names no live (unrevoked, unexpired) token;
 * WEIR_EUNAVAIL when the database cannot be asked.
 */
WEIR_MUSTCHECK int auth_caller(struct store *s, const char *header,
                               struct store_token *out, struct weir_err *err);

/* The SHA-256 (hex, 65 bytes with the NUL) of the token of an
 * "Authorization: Bearer" header value, or WEIR_EAUTH saying what is wrong
 * with the header. No database round trip. */
WEIR_MUSTCHECK int auth_bearer_hash(const char *header, char hash[65],
                                    struct weir_err *err);

#endif
