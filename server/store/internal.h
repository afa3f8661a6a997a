/* SPDX-License-Identifier: Apache-2.0 */
/* What the store_*.c files share: the connection and statement helpers. */
#ifndef WEIR_STORE_INT_H
#define WEIR_STORE_INT_H

#include <stdint.h>

#include <cJSON.h>
#include <libpq-fe.h>

#include "store/store.h"

/* Advisory lock keys (class, key) of the server's critical sections. */
#define STORE_LOCK_CLASS   2003134834 /* "weir" as a 32-bit number */
#define STORE_LOCK_MIGRATE 1          /* applying migrations */
#define STORE_LOCK_TOKENS  2          /* creating the first admin token */

/* One pooled connection. */
/* tasks.capped_dag of a task of the run whose id follows: the run's DAG
 * id while that DAG has a concurrency cap, else NULL. */
#define STORE_CAPPED_DAG                                                       \
    "SELECT d.id FROM runs r JOIN dags d ON d.id = r.dag_id"                   \
    " WHERE d.concurrency IS NOT NULL AND r.id ="

/* A statement prepared on one connection, found again by its text. */
struct store_stmt {
    char *sql;     /* the statement's text (owned) */
    uint64_t hash; /* hash of sql, to compare cheaply */
};

struct store_conn {
    struct store *owner;      /* the pool it belongs to */
    PGconn *pg;               /* NULL until first connected */
    unsigned outages_seen;    /* the pool's outage count when last checked */
    struct store_stmt *stmts; /* prepared here; index i is named "w<i>" */
    size_t n_stmts;           /* entries in stmts */
    bool recycle;             /* close the session when given back */
};

/*
 * Run one statement with text parameters (params[i] NULL is SQL NULL).
 * Returns 0 with *out a result that returned rows or completed (the caller
 * PQclear()s it), or a WEIR_E* code with err: WEIR_EUNAVAIL when the
 * connection is gone, WEIR_EEXISTS for a unique violation, WEIR_ECONFLICT
 * for another constraint, WEIR_EINTERNAL otherwise.
 */
WEIR_MUSTCHECK int store_query(struct store_conn *c, const char *sql, int n,
                               const char *const *params, PGresult **out,
                               struct weir_err *err);

/*
 * store_query() for a statement whose single value is JSON text, parsed
 * into *out (a new cJSON the caller deletes); WEIR_ENOTFOUND ("not found")
 * when it returned no row or SQL NULL.
 */
WEIR_MUSTCHECK int store_json_query(struct store_conn *c, const char *sql,
                                    int n, const char *const *params,
                                    cJSON **out, struct weir_err *err);

/* store_query() for a statement whose result is not needed. */
WEIR_MUSTCHECK int store_cmd(struct store_conn *c, const char *sql, int n,
                             const char *const *params, struct weir_err *err);

/* The columns store_attempt_from_row() reads, of attempts a joined to
 * tasks t. */
#define STORE_ATTEMPT_COLS                                                     \
    "a.id, a.task_id, t.run_id, a.try, a.state, a.lease_deadline < now(),"     \
    " t.step_id, a.lease_id::text"

/* The attempt in columns c.. of row (STORE_ATTEMPT_COLS) into *out; its
 * lease is current when lease (the one offered, or NULL) is its lease id. */
struct store_attempt;
WEIR_MUSTCHECK int store_attempt_from_row(const PGresult *r, int row, int c,
                                          const char *lease,
                                          struct store_attempt *out,
                                          struct weir_err *err);

/*
 * File DAGs whose path matches `match` (SQL over $1 = arg) lost their
 * file: a DAG that never loaded is deleted, the others keep their
 * versions and get file_missing. *n_missing (may be NULL) gets how many
 * were newly marked.
 */
WEIR_MUSTCHECK int store_dags_mark_missing(struct store_conn *c,
                                           const char *match, const char *arg,
                                           int *n_missing,
                                           struct weir_err *err);

/* Transaction control; store_rollback() cannot fail in a way that
 * matters (a broken connection is reset by its next borrower). */
WEIR_MUSTCHECK int store_begin(struct store_conn *c, struct weir_err *err);
WEIR_MUSTCHECK int store_commit(struct store_conn *c, struct weir_err *err);
void store_rollback(struct store_conn *c);
/* End the open transaction: commit when rc is 0 (returning the commit's
 * result), roll back otherwise (returning rc). */
WEIR_MUSTCHECK int store_end(struct store_conn *c, int rc,
                             struct weir_err *err);

/* The value at (row, col), NULL when SQL NULL (borrowed from r). */
const char *store_val(const PGresult *r, int row, int col);

/* The value at (row, col) as an integer, 0 when SQL NULL. */
int64_t store_val_i64(const PGresult *r, int row, int col);

/*
 * A copy of the value at (row, col) into *out (NULL when SQL NULL).
 * Returns 0 or WEIR_ENOMEM.
 */
WEIR_MUSTCHECK int store_val_dup(const PGresult *r, int row, int col,
                                 char **out, struct weir_err *err);

/*
 * The version of DAG id with this hash, added (origin "file" when path is
 * given, else "api") when the DAG never had that text. *created says
 * whether it was added. Run inside the caller's transaction.
 */
WEIR_MUSTCHECK int store_version_find_or_add(struct store_conn *c,
                                             const char *id, const char *path,
                                             const char *hash,
                                             const char *source,
                                             int64_t *version_id, bool *created,
                                             struct weir_err *err);

#endif
