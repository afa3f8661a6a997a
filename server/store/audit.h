/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit_log table (migration 0026): one row per mutating API request,
 * appended in the transaction that makes the change.
 *
 * How the change's transaction is found. The HTTP thread that runs a
 * mutating request arms a record (store_audit_arm()) for the length of
 * its handler. While armed and not yet written:
 *   - store_commit() first asks PostgreSQL whether the transaction wrote
 *     anything (an xid is assigned only by a write: txid_current_if_
 *     assigned()); if it did, the record is inserted in it, just before
 *     the COMMIT. A read-only transaction (a lookup, a check) gets none.
 *   - a statement sent outside any transaction is wrapped in one
 *     (BEGIN, the statement, COMMIT), so that a change made by a single
 *     statement gets its record the same way.
 * The record counts as written only once its COMMIT succeeded; a commit
 * that fails (a deferred constraint, a lost connection) or a rollback
 * takes the record with the change, and the request's end writes one
 * apart saying it failed. So no row says "ok" for a change that rolled
 * back, and a change is never committed without its row.
 */
#ifndef WEIR_STORE_AUDIT_H
#define WEIR_STORE_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/pool.h"

/* One row to append; every text is borrowed, NULL for SQL NULL where a
 * column allows it. */
struct store_audit_rec {
    const char *actor;      /* token name or user; "" when unknown */
    const char *grants;     /* JSON array text of the actor's grants */
    const char *action;     /* "runs.cancel", "tokens.create", ... */
    const char *target;     /* "runs/12", "dags/etl", ... */
    const char *dag;        /* the DAG concerned, or NULL */
    const char *run_id;     /* a run whose DAG is the DAG concerned, or NULL */
    const char *backfill;   /* a backfill whose DAG it is, or NULL */
    const char *params;     /* JSON object text, secrets redacted */
    const char *outcome;    /* "ok", "refused" or "failed" */
    int status;             /* HTTP status; 0 for NULL (written at commit) */
    const char *message;    /* why refused or failed; "" for none */
    const char *client;     /* the client's address */
    const char *request_id; /* X-Request-Id, or NULL */
};

/* A record armed for the calling thread's request (store_audit_arm()). */
struct store_audit_armed {
    struct store_audit_rec rec; /* the row an "ok" commit appends */
    bool pending;               /* inserted in the open transaction */
    bool written;               /* its transaction committed */
    bool busy;                  /* inside the hook: no recursion */
};

/* Arm a for this thread (a outlives it); NULL disarms. */
void store_audit_arm(struct store_audit_armed *a);

/* For store_commit(): before its COMMIT, append the armed record when
 * the transaction wrote something. 0, or the insert's error (the caller
 * then does not commit). */
WEIR_MUSTCHECK int store_audit_before_commit(struct store_conn *c,
                                             struct weir_err *err);

/* For store_commit() and store_rollback(): the transaction ended,
 * committed or not. */
void store_audit_tx_end(bool committed);

/* For store_query(): whether sql, sent outside a transaction while a
 * record is armed, must run in one of its own (store_audit_query()). */
bool store_audit_wraps(struct store_conn *c, const char *sql);

/* sql in a transaction of its own, committed through store_commit(). */
WEIR_MUSTCHECK int store_audit_query(struct store_conn *c, const char *sql,
                                     int n, const char *const *params,
                                     PGresult **out, struct weir_err *err);

/* Append rec in a transaction of its own (a request that ends without a
 * committed change: refused, failed, or nothing to change). */
WEIR_MUSTCHECK int store_audit_append(struct store_conn *c,
                                      const struct store_audit_rec *rec,
                                      struct weir_err *err);

/*
 * Append rec (a record of the server's own, such as "role_map.load")
 * unless the latest record of its action has the same params->>key as
 * value: the record of a change of something read at start. Serialized
 * among servers by a transaction-scoped advisory lock. *appended says
 * whether it did.
 */
WEIR_MUSTCHECK int store_audit_append_changed(struct store_conn *c,
                                              const struct store_audit_rec *rec,
                                              const char *key,
                                              const char *value, bool *appended,
                                              struct weir_err *err);

/*
 * Delete the rows older than retention_s seconds, and append, in the same
 * transaction, one row (action "audit.prune", actor "weir-server") saying
 * how many and up to when, when any went. *deleted gets how many.
 */
WEIR_MUSTCHECK int store_audit_prune(struct store_conn *c, int64_t retention_s,
                                     int64_t *deleted, struct weir_err *err);

#endif
