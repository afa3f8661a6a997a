/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the table files of store/ share, and nothing outside store/ sees:
 * running a statement, reading values out of its rows, the JSON
 * pass-through (PostgreSQL builds the JSON, C parses it once), array
 * parameters, and transaction control.
 */
#ifndef WEIR_STORE_QUERY_H
#define WEIR_STORE_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>
#include <libpq-fe.h>

#include "store/pool.h"
#include "weir.h"

/* Advisory lock keys (class, key) of the server's critical sections. */
#define STORE_LOCK_CLASS   2003134834 /* "weir" as a 32-bit number */
#define STORE_LOCK_MIGRATE 1          /* applying migrations */
#define STORE_LOCK_TOKENS  2          /* creating the first admin token */
#define STORE_LOCK_FOLLOWS 16 /* after-trigger cycle check and its sync */
#define STORE_LOCK_LEADER  32 /* held by the leader of several servers */

/* A session that lives apart from the pool (the leader's, the listening
 * one): TCP keepalives and a user timeout so that a peer gone without a
 * word shows as a broken session within seconds, and values as text. */
struct store_session_opts {
    const char *app_name;   /* application_name (wins over the URL's) */
    const char *connect_s;  /* connect_timeout, per host */
    const char *idle_s;     /* keepalives_idle */
    const char *interval_s; /* keepalives_interval */
    const char *count;      /* keepalives_count */
    const char *user_ms;    /* tcp_user_timeout */
};

/* Open such a session to url, read-write unless the URL says otherwise
 * (a standby refuses LISTEN and the leader's epoch update). NULL only
 * when out of memory; otherwise check PQstatus(). */
PGconn *store_session_open(const char *url, const struct store_session_opts *o);

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
 * store_query() for a statement that should return a row: when it
 * returned none, WEIR_ENOTFOUND with the message fmt formats (and *out
 * untouched).
 */
WEIR_MUSTCHECK int store_query_one(struct store_conn *c, const char *sql, int n,
                                   const char *const *params, PGresult **out,
                                   struct weir_err *err, const char *fmt, ...)
    WEIR_PRINTF(7, 8);

/* store_query() for a statement whose result is not needed. */
WEIR_MUSTCHECK int store_cmd(struct store_conn *c, const char *sql, int n,
                             const char *const *params, struct weir_err *err);

/* The columns store_attempt_from_row() reads, of attempts a joined to
 * tasks t (attempts.c, and runs.c for a completion's two locks). */
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
 * store_query() for an UPDATE that must touch exactly `want` rows: else
 * WEIR_ECONFLICT, or WEIR_ENOTFOUND when notfound is set, with msg.
 */
WEIR_MUSTCHECK int store_cmd_rows(struct store_conn *c, const char *sql, int n,
                                  const char *const *params,
                                  unsigned long long want, bool notfound,
                                  const char *msg, struct weir_err *err);

/*
 * store_query() for a statement whose single value is JSON text, parsed
 * into *out (a new cJSON the caller deletes); WEIR_ENOTFOUND ("not found")
 * when it returned no row or SQL NULL.
 */
WEIR_MUSTCHECK int store_json_query(struct store_conn *c, const char *sql,
                                    int n, const char *const *params,
                                    cJSON **out, struct weir_err *err);

/* store_json_query() for a statement that always returns a value (an
 * aggregate): none is a bug of the SQL, WEIR_EINTERNAL, not a 404. */
WEIR_MUSTCHECK int store_json_value(struct store_conn *c, const char *sql,
                                    int n, const char *const *params,
                                    cJSON **out, struct weir_err *err);

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

/* The JSON text at (row, col) parsed into *out (a new cJSON); SQL NULL
 * leaves *out NULL. WEIR_EINTERNAL when the text does not parse. */
WEIR_MUSTCHECK int store_val_json(const PGresult *r, int row, int col,
                                  cJSON **out, struct weir_err *err);

/* Reads row `row` of a result into item, an element of the array that
 * store_rows_map() fills (zeroed before). */
typedef int (*store_row_cb)(const PGresult *r, int row, void *item,
                            struct weir_err *err);
/* Releases what an item holds (after a store_row_cb, failed or not). */
typedef void (*store_item_cb)(void *item);

/*
 * Every row of r read by read_cb into a new array of items of size bytes
 * (*out, never NULL even without rows; *n items). On failure the items
 * read so far, the failed one too, go through cleanup_cb (NULL when items
 * hold nothing), the array is freed, and *out and *n stay untouched.
 */
WEIR_MUSTCHECK int store_rows_map(const PGresult *r, size_t size,
                                  store_row_cb read_cb,
                                  store_item_cb cleanup_cb, void **out,
                                  size_t *n, struct weir_err *err);

/* ids as a PostgreSQL array literal, "{1,2,3}" (a new string); NULL when
 * out of memory. */
char *store_ids_literal(const int64_t *ids, size_t n);

/* strs as a PostgreSQL text array literal, {"a","b"}, quotes and
 * backslashes escaped (a new string); NULL when out of memory. */
char *store_strs_literal(const char *const *strs, size_t n);

/* Transaction control; store_rollback() cannot fail in a way that
 * matters (a broken connection is reset by its next borrower). */
WEIR_MUSTCHECK int store_begin(struct store_conn *c, struct weir_err *err);
WEIR_MUSTCHECK int store_commit(struct store_conn *c, struct weir_err *err);
void store_rollback(struct store_conn *c);
/* End the open transaction: commit when rc is 0 (returning the commit's
 * result), roll back otherwise (returning rc). */
WEIR_MUSTCHECK int store_end(struct store_conn *c, int rc,
                             struct weir_err *err);

/* The libpq connection of c, for what the helpers cannot send: a
 * migration's script of many statements (migrate.c). */
PGconn *store_conn_pg(struct store_conn *c);

/* Whether c is inside a transaction (its own or a caller's). */
bool store_in_tx(const struct store_conn *c);

#endif
