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
#include <stdint.h>

#include "err.h"
#include "store/store.h"

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

/* What a new token is. */
struct auth_token_spec {
    enum auth_role role; /* what it may call */
    const char *name;    /* free text, unique among live tokens; NULL: none */
    int64_t expires_s;   /* lifetime in seconds; 0: never expires */
    const char *queues;  /* worker role: JSON array of the queues it may
                            serve; NULL: any */
};

/*
 * Create a token as spec says, record its hash, and put the token into out
 * (AUTH_TOKEN_LEN + 1 bytes). The token itself is stored nowhere: this is
 * the only time it is known. A live token of the same name is WEIR_EEXISTS.
 */
WEIR_MUSTCHECK int auth_token_create(struct store_conn *c,
                                     const struct auth_token_spec *spec,
                                     char *out, struct weir_err *err);

/*
 * On a database without a live admin token: with token_file, create one,
 * write it there (mode 0600, never following a link) and print only the
 * file's path; without, create nothing and log how to make one. With a
 * live admin token present, does nothing.
 */
WEIR_MUSTCHECK int auth_first_admin(struct store_conn *c,
                                    const char *token_file,
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

/*
 * auth_caller(), keeping only the role.
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
