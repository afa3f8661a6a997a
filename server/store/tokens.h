/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The api_tokens table: tokens are recorded and looked up by their
 * SHA-256, a live token is one neither revoked nor expired, and a worker
 * (and so its attempts) is bound to the token that registered it.
 */
#ifndef WEIR_STORE_TOKENS_H
#define WEIR_STORE_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "store/pool.h"
#include "store/read.h"

/* A token to record (store_token_insert()). */
struct store_token_new {
    const char *hash;   /* SHA-256 hex of the secret */
    const char *role;   /* the first grant's role */
    const char *name;   /* free text; NULL or "" for none */
    int64_t expires_s;  /* lifetime in seconds; 0: never expires */
    const char *queues; /* JSON array of queue names; NULL: any queue */
    const char *grants; /* JSON array of role grants; NULL: one unscoped
                           grant of role (with queues as its scope) */
};

/* Record a token. A name already held by a live token is WEIR_EEXISTS
 * (live names are unique: tokens are revoked by name). */
WEIR_MUSTCHECK int store_token_insert(struct store_conn *c,
                                      const struct store_token_new *t,
                                      struct weir_err *err);

/* The live token with this hash into *out, noting its use (at most once a
 * minute). WEIR_ENOTFOUND when there is none. */
WEIR_MUSTCHECK int store_token_lookup(struct store_conn *c, const char *hash,
                                      struct store_token *out,
                                      struct weir_err *err);

/* The role (at least 16 bytes) and the name of the live token with this
 * hash, each into its buffer unless that is NULL. WEIR_ENOTFOUND when
 * there is none. */
WEIR_MUSTCHECK int store_token_get(struct store_conn *c, const char *hash,
                                   char *role, size_t role_len, char *name,
                                   size_t name_len, struct weir_err *err);

/* Revoke the live token named `name`: WEIR_ENOTFOUND when none is,
 * WEIR_ECONFLICT when it is the last live admin token. */
WEIR_MUSTCHECK int store_token_revoke(struct store_conn *c, const char *name,
                                      struct weir_err *err);

/* Whether a live admin token exists. */
WEIR_MUSTCHECK int store_token_admin_exists(struct store_conn *c, bool *have,
                                            struct weir_err *err);

/* Revoke the token with this hash (undoing a creation that could not be
 * completed). */
WEIR_MUSTCHECK int store_token_revoke_hash(struct store_conn *c,
                                           const char *hash,
                                           struct weir_err *err);

/*
 * Record `hash` as an admin token if, and only if, no live admin token
 * exists (checked under an advisory lock, so two servers starting at once
 * create one). *created says whether it was recorded.
 */
WEIR_MUSTCHECK int store_token_first_admin(struct store_conn *c,
                                           const char *hash, bool *created,
                                           struct weir_err *err);

/* Bind worker worker_id to token token_id, in the transaction that
 * registered it: WEIR_EFORBIDDEN when another live token holds it. */
WEIR_MUSTCHECK int store_worker_bind(struct store_conn *c, int64_t worker_id,
                                     int64_t token_id, struct weir_err *err);

#endif
