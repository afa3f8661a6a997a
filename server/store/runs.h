/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runs table: creating a run (by people, or for a trigger slot),
 * reading one under its row lock, and changing its state, parameters and
 * retry count. Every state written here is checked against the state
 * machines of engine/state.h first.
 *
 * Lock order, the same in every transaction, so that two never wait on
 * each other: an attempt row, then its run row, then the DAG row, then
 * task rows. A claim locks only queued or due tasks (SKIP LOCKED), which
 * no other transaction writes.
 */
#ifndef WEIR_STORE_RUNS_H
#define WEIR_STORE_RUNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "engine/state.h"
#include "store/attempts.h"
#include "store/pool.h"

/* A run row, with its version's file path and hash. */
struct store_run {
    int64_t id;                /* run id */
    char dag_id[STORE_ID_MAX]; /* its DAG */
    int64_t version_id;        /* the DAG version it runs */
    enum run_state state;      /* where it is */
    cJSON *params;             /* object of the run's parameters */
    char *environment;         /* or NULL */
    char *trigger_kind;        /* "manual", "cron", ... */
    char *trigger_key;         /* the trigger's stable key */
    cJSON *trigger_payload;    /* or NULL */
    char *reason;              /* why it started, or NULL */
    char *logical_time;        /* ISO 8601; the creation time if none */
    char *dag_path;            /* the version's file, or NULL (API DAG) */
    char *dag_hash;            /* SHA-256 of the version */
    int retry_count;           /* times it was retried */
    bool logical_time_own;     /* logical_time was given (by its trigger,
                                  backfill or request), not its creation */
    char *dags_revision;       /* the DAGs folder's git revision now, or
                                  NULL (not a checkout; API DAG) */
};

/* What a new run is made of. */
struct store_run_new {
    const char *dag_id;          /* its DAG */
    int64_t version_id;          /* the version it runs */
    enum run_state state;        /* RUN_RUNNING or RUN_QUEUED */
    const char *params;          /* JSON object text */
    const char *environment;     /* or NULL */
    const char *trigger_kind;    /* "manual", ... */
    const char *trigger_key;     /* stable key of the trigger */
    const char *payload;         /* JSON text, or NULL */
    const char *idempotency_key; /* or NULL */
    const char *reason;          /* for people, or NULL */
    int priority;                /* 0 low .. 3 critical */
    int64_t logical_time;        /* store_run_insert(): Unix seconds, or 0
                                    for none */
    int64_t backfill_id;         /* the backfill it belongs to, or 0 */
};

/* Free what r holds and zero it; the struct itself is the caller's. */
void store_run_cleanup(struct store_run *r);

/* The run of DAG id with this idempotency key, or WEIR_ENOTFOUND. */
WEIR_MUSTCHECK int store_run_by_key(struct store_conn *c, const char *dag_id,
                                    const char *key, int64_t *run_id,
                                    struct weir_err *err);

/* Insert a run; *id gets its id. */
WEIR_MUSTCHECK int store_run_insert(struct store_conn *c,
                                    const struct store_run_new *n, int64_t *id,
                                    struct weir_err *err);

/*
 * Insert a run for the trigger slot (n->dag_id, n->trigger_key,
 * logical_time in Unix seconds), unless that slot already has one: then
 * nothing is written and *inserted is false. *id gets the new run's id.
 */
WEIR_MUSTCHECK int store_sched_run_insert(struct store_conn *c,
                                          const struct store_run_new *n,
                                          int64_t logical_time, int64_t *id,
                                          bool *inserted, struct weir_err *err);

/* Read run id into *out (cleaned with store_run_cleanup()); with lock,
 * the row stays locked until the transaction ends. */
WEIR_MUSTCHECK int store_run_get(struct store_conn *c, int64_t id, bool lock,
                                 struct store_run *out, struct weir_err *err);

/*
 * The two locks of a completion in one statement: attempt id (read as
 * store_attempt_get() does, lease checked), then its run's row, read into
 * *run (store_run_cleanup()). WEIR_ENOTFOUND when there is no such
 * attempt.
 */
WEIR_MUSTCHECK int store_attempt_lock_run(struct store_conn *c, int64_t id,
                                          const char *lease,
                                          struct store_attempt *a,
                                          struct store_run *run,
                                          struct weir_err *err);

/*
 * Lock the runs ids (distinct, ascending) in that order and read each
 * into out[i] (store_run_cleanup() each). WEIR_ENOTFOUND when one is
 * missing.
 */
WEIR_MUSTCHECK int store_runs_lock(struct store_conn *c, const int64_t *ids,
                                   size_t n, struct store_run *out,
                                   struct weir_err *err);

/* Move run id from `from` to `to` (checked, logged, guarded), setting
 * started_at or finished_at. */
WEIR_MUSTCHECK int store_run_set_state(struct store_conn *c, int64_t id,
                                       enum run_state from, enum run_state to,
                                       struct weir_err *err);

/* The oldest queued run of DAG id, locked; WEIR_ENOTFOUND if none. */
WEIR_MUSTCHECK int store_run_next_queued(struct store_conn *c,
                                         const char *dag_id, int64_t *run_id,
                                         struct weir_err *err);

/*
 * Move finished run id from `from` to `to` (running or queued) for a
 * retry: finished_at and canceled_by cleared, retry_count + 1 (into
 * *count), retried_at now, started_at now when it runs at once.
 */
WEIR_MUSTCHECK int store_run_retry(struct store_conn *c, int64_t id,
                                   enum run_state from, enum run_state to,
                                   int *count, struct weir_err *err);

/*
 * Set the params of run id to params (JSON object text) and append change
 * (JSON object text, without "at": it gets now) to its param_changes.
 */
WEIR_MUSTCHECK int store_run_params_change(struct store_conn *c, int64_t id,
                                           const char *params,
                                           const char *change,
                                           struct weir_err *err);

/* Record who canceled run id (a token name). */
WEIR_MUSTCHECK int store_run_canceled_by(struct store_conn *c, int64_t id,
                                         const char *by, struct weir_err *err);

#endif
