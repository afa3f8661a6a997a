/* SPDX-License-Identifier: Apache-2.0 */
/*
 * API tokens (made by engine/tokens.c), each with a role that bounds what
 * it may call:
 * admin (everything), worker (only paths under /api/v1/workers/ and
 * /api/v1/attempts/), read (only GET).
 */
#ifndef WEIR_AUTH_H
#define WEIR_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"
#include "err.h"

#define AUTH_TOKEN_PREFIX ENGINE_TOKEN_PREFIX /* tokens are made there */
#define AUTH_TOKEN_LEN    ENGINE_TOKEN_LEN

enum auth_role {
    AUTH_ROLE_ADMIN,  /* every route */
    AUTH_ROLE_WORKER, /* the worker protocol only */
    AUTH_ROLE_READ,   /* GET routes only */
};

/* "admin", "worker" or "read". */
const char *auth_role_name(enum auth_role role);

/* The role named `name`; WEIR_EINVAL (err says the valid names) if none. */
WEIR_MUSTCHECK int auth_role_parse(const char *name, enum auth_role *out,
                                   struct weir_err *err);

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

/* 0 when role may call method on path, else WEIR_EFORBIDDEN with err
 * saying what the role may do. */
WEIR_MUSTCHECK int auth_allows(enum auth_role role, const char *method,
                               const char *path, struct weir_err *err);

#endif
