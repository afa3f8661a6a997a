/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server's PostgreSQL access: a small pool of libpq connections and
 * every SQL statement of the server (store_*.c). Nothing outside store*
 * sees SQL or libpq.
 *
 * A thread borrows a connection with store_conn_get() for the length of a
 * request and gives it back with store_conn_put(). A connection that broke
 * (PostgreSQL restarted, network gone) is reset by its next borrower; while
 * the database cannot be reached, calls fail with WEIR_EUNAVAIL, which the
 * HTTP layer reports as 503.
 */
#ifndef WEIR_STORE_H
#define WEIR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "err.h"

struct store;
struct store_conn;

/*
 * A pool of `size` connections to the database at url (a libpq connection
 * string or URL). Connections are opened by their first borrower, so this
 * does not touch the network. Returns 0 with *out, or WEIR_ENOMEM.
 */
WEIR_MUSTCHECK int store_new(const char *url, int size, struct store **out,
                             struct weir_err *err);

/* Close every connection and free the pool; every connection must have
 * been given back. store_free(NULL) is a no-op. */
void store_free(struct store *s);

/*
 * Borrow a connection, waiting up to 10 s for one to be free, and connect
 * or reset it when needed. Returns 0 with *out, or WEIR_EUNAVAIL with err
 * saying why (no free connection, or the database cannot be reached).
 */
WEIR_MUSTCHECK int store_conn_get(struct store *s, struct store_conn **out,
                                  struct weir_err *err);

/* Give a borrowed connection back; an open transaction is rolled back.
 * store_conn_put(NULL) is a no-op. */
void store_conn_put(struct store_conn *c);

/*
 * Close c's session when it is given back (the next borrower opens a new
 * one). libpq grows a connection's buffers to the largest message it
 * sent or received and never shrinks them: after a statement of
 * megabytes, this returns that memory.
 */
void store_conn_recycle(struct store_conn *c);

/*
 * How many times a statement found the database gone since the start. A
 * change tells that requests (heartbeats among them) failed meanwhile.
 */
unsigned store_outages(struct store *s);

/* A round trip to the database: 0, or WEIR_EUNAVAIL. */
WEIR_MUSTCHECK int store_ping(struct store_conn *c, struct weir_err *err);

/*
 * Apply every compiled-in migration that the database has not recorded in
 * schema_migrations, in order, each in its own transaction under an
 * advisory lock, so that several servers starting at once apply each
 * migration once. *applied (may be NULL) gets how many were applied.
 */
WEIR_MUSTCHECK int store_migrate(struct store_conn *c, int *applied,
                                 struct weir_err *err);

/*
 * Transactions for modules that run several store calls as one unit: the
 * engine. A transaction left open is rolled back by store_conn_put().
 */
WEIR_MUSTCHECK int store_tx_begin(struct store_conn *c, struct weir_err *err);
WEIR_MUSTCHECK int store_tx_commit(struct store_conn *c, struct weir_err *err);
void store_tx_rollback(struct store_conn *c);

/* ---- API tokens (store_tokens.c) ---- */

/* A token to record (store_token_insert()). */
struct store_token_new {
    const char *hash;   /* SHA-256 hex of the secret */
    const char *role;   /* "admin", "worker" or "read" */
    const char *name;   /* free text; NULL or "" for none */
    int64_t expires_s;  /* lifetime in seconds; 0: never expires */
    const char *queues; /* JSON array of queue names; NULL: any queue */
};

/* A live token (neither revoked nor expired) as read back. */
struct store_token {
    int64_t id;        /* api_tokens.id */
    char role[16];     /* "admin", "worker" or "read" */
    char name[256];    /* free text; "" for an unnamed token */
    char queues[2048]; /* JSON array of the queues it may serve; "": any */
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

/* Every token, oldest first, as a JSON array of {id, name, role,
 * created_at, last_used_at, expires_at, revoked_at, queues, state}; never
 * a secret or a hash. */
WEIR_MUSTCHECK int store_token_list(struct store_conn *c, cJSON **out,
                                    struct weir_err *err);

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

/* 0 when worker worker_id is bound to the token whose SHA-256 hex is
 * hash; WEIR_ENOTFOUND for no such worker, WEIR_EFORBIDDEN for another
 * token's worker. */
WEIR_MUSTCHECK int store_worker_owned(struct store_conn *c, int64_t worker_id,
                                      const char *hash, struct weir_err *err);

/* 0 when each existing attempt of ids (a PostgreSQL array literal such as
 * "{1,2}") was leased by a worker bound to the token of hash;
 * WEIR_EFORBIDDEN naming the first that was not. Unknown ids are left to
 * the caller. */
WEIR_MUSTCHECK int store_attempts_owned(struct store_conn *c, const char *ids,
                                        const char *hash, struct weir_err *err);

/* ---- DAGs and versions (store_dags.c) ---- */

/* A row of dags, with the hash of its current version. */
struct store_dag {
    char *id;           /* the DAG id */
    char *origin;       /* "file" or "api" */
    char *path;         /* file under the DAGs folder, or NULL */
    bool paused;        /* no new scheduled runs */
    int64_t version_id; /* current version, 0 when it never loaded */
    char *hash;         /* SHA-256 of that version, or NULL */
    char *last_error;   /* diagnostics of the last failed load, or NULL */
    int64_t updated_at; /* Unix seconds */
    bool file_missing;  /* its file is gone from the DAGs folder */
};

/* A row of dag_versions without its source. */
struct store_dag_version {
    int64_t id;         /* version id */
    char *hash;         /* SHA-256 of the source */
    char *origin;       /* "file" or "api" */
    char *path;         /* the file it came from, or NULL */
    int64_t created_at; /* Unix seconds */
};

/* Free the strings of d; the struct itself is the caller's. */
void store_dag_cleanup(struct store_dag *d);

/* Free an array from store_dag_list(). */
void store_dag_list_free(struct store_dag *v, size_t n);

/* Free an array from store_dag_versions(). */
void store_dag_versions_free(struct store_dag_version *v, size_t n);

/* Every DAG, ordered by id, into a new array *out of *n entries. */
WEIR_MUSTCHECK int store_dag_list(struct store_conn *c, struct store_dag **out,
                                  size_t *n, struct weir_err *err);

/* The DAG with this id into *out; WEIR_ENOTFOUND when there is none. */
WEIR_MUSTCHECK int store_dag_get(struct store_conn *c, const char *id,
                                 struct store_dag *out, struct weir_err *err);

/* The versions of DAG id, newest first; WEIR_ENOTFOUND for no such DAG. */
WEIR_MUSTCHECK int store_dag_versions(struct store_conn *c, const char *id,
                                      struct store_dag_version **out, size_t *n,
                                      struct weir_err *err);

/*
 * The source text of a version, as a new NUL-terminated string *source of
 * *len bytes, and its DAG id into dag_id (DAG id max + 1 bytes).
 * WEIR_ENOTFOUND when there is no such version.
 */
WEIR_MUSTCHECK int store_dag_version_source(struct store_conn *c,
                                            int64_t version_id, char **source,
                                            size_t *len, char *dag_id,
                                            size_t dag_id_len,
                                            struct weir_err *err);

/* The origin and path of DAG id (path may be NULL, new string), or
 * WEIR_ENOTFOUND. */
WEIR_MUSTCHECK int store_dag_owner(struct store_conn *c, const char *id,
                                   char *origin, size_t origin_len, char **path,
                                   struct weir_err *err);

/*
 * In one transaction: set the concurrency cap of DAG id (its current
 * version's `concurrency:`, 0 for none) and, when that makes the DAG
 * capped or uncapped, flag its unfinished tasks for the claim that
 * applies (docs/architecture.md, "Concurrency caps").
 */
WEIR_MUSTCHECK int store_dag_cap_set(struct store_conn *c, const char *id,
                                     int concurrency, struct weir_err *err);

/*
 * In one transaction: make sure DAG id exists with origin 'file' and this
 * path, add a version for (id, hash) unless it exists, make it current and
 * clear last_error, and drop placeholder rows (never loaded) that the same
 * path left under another id. *version_id gets the current version,
 * *created whether it is new. WEIR_ECONFLICT when id belongs to a DAG
 * submitted over the API.
 */
WEIR_MUSTCHECK int store_dag_upsert_file(struct store_conn *c, const char *id,
                                         const char *path, const char *source,
                                         size_t len, const char *hash,
                                         int64_t *version_id, bool *created,
                                         struct weir_err *err);

/*
 * Record a failed load of the file at path: the DAG that path holds keeps
 * its current version and gets last_error = text. When no DAG has that
 * path, a placeholder row with id placeholder_id is created (unless that id
 * is taken; then *recorded is false and nothing is written).
 */
WEIR_MUSTCHECK int store_dag_file_error(struct store_conn *c, const char *path,
                                        const char *placeholder_id,
                                        const char *text, bool *recorded,
                                        struct weir_err *err);

/*
 * Set last_error on every file DAG whose path is not among the n paths
 * given (their files are gone); their versions stay. *n_missing (may be
 * NULL) gets how many rows that was.
 */
WEIR_MUSTCHECK int store_dag_files_missing(struct store_conn *c,
                                           const char *const *paths, size_t n,
                                           int *n_missing,
                                           struct weir_err *err);

#endif
