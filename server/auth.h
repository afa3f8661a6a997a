/* SPDX-License-Identifier: Apache-2.0 */
/*
 * API tokens: "weir_" and 64 hex characters from getrandom(), stored only
 * as their SHA-256, each with a role that bounds what it may call:
 * admin (everything), worker (only paths under /api/v1/workers/ and
 * /api/v1/attempts/), read (only GET).
 */
#ifndef WEIR_AUTH_H
#define WEIR_AUTH_H

#include <stdbool.h>

#include "err.h"
#include "store.h"

#define AUTH_TOKEN_PREFIX "weir_"
#define AUTH_TOKEN_LEN    69 /* prefix and 64 hex characters */

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
 * Create a token of `role` with a free-text name (NULL for none), record
 * its hash, and put the token into out (AUTH_TOKEN_LEN + 1 bytes). The
 * token itself is stored nowhere: this is the only time it is known.
 */
WEIR_MUSTCHECK int auth_token_create(struct store_conn *c, enum auth_role role,
                                     const char *name, char *out,
                                     struct weir_err *err);

/*
 * On a database without a live admin token, create one, print it on stdout
 * as "admin token: weir_..." and, when token_file is not NULL, write it
 * there (mode 0600). With an admin token present, does nothing.
 */
WEIR_MUSTCHECK int auth_first_admin(struct store_conn *c,
                                    const char *token_file,
                                    struct weir_err *err);

/*
 * Check an Authorization header value ("Bearer weir_..."; NULL when the
 * request had none) against the database. Returns 0 with *role, WEIR_EAUTH
 * when the header is missing, malformed or names no live token, or
 * WEIR_EUNAVAIL when the database cannot be asked.
 */
WEIR_MUSTCHECK int auth_check(struct store *s, const char *header,
                              enum auth_role *role, struct weir_err *err);

/*
 * The name of the token in an Authorization header already accepted by
 * auth_check() into name (len bytes; "" for an unnamed token).
 */
WEIR_MUSTCHECK int auth_token_name(struct store_conn *c, const char *header,
                                   char *name, size_t len,
                                   struct weir_err *err);

/* 0 when role may call method on path, else WEIR_EFORBIDDEN with err
 * saying what the role may do. */
WEIR_MUSTCHECK int auth_allows(enum auth_role role, const char *method,
                               const char *path, struct weir_err *err);

#endif
