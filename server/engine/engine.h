/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The execution engine: what happens to runs, tasks and attempts between
 * the HTTP handlers and the store. Creating a run, claiming and rendering
 * attempts for a worker (with a long-poll wait on the work hub), finishing
 * an attempt (retry or not), deciding downstream tasks (trigger rules,
 * if:, approval gates), ending runs and starting the runs max_active_runs
 * held back, and expiring leases.
 *
 * Every transition runs in one transaction that first locks the run row,
 * so that two completions in one run (matrix cells) are serialized and
 * exactly one of them sees the run's last task finish. Each commit that
 * may have made work claimable bumps the hub.
 */
#ifndef WEIR_ENGINE_H
#define WEIR_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "engine/dagcache.h"
#include "engine/hub.h"
#include "store/store.h"

#define ENGINE_WAIT_MAX_MS   60000 /* longest long-poll of one lease call */
#define ENGINE_KILL_GRACE_MS 10000 /* SIGTERM to SIGKILL, sent to workers */

/* What the engine works with (all borrowed). */
struct engine {
    struct store *store;    /* the database */
    struct dagcache *cache; /* loaded DAG versions */
    struct hub *hub;        /* wakes waiting lease calls */
    int64_t lease_ttl_ms;   /* how long a lease lives without a heartbeat */
};

/* A manual trigger. */
struct engine_trigger {
    const char *dag_id;          /* the DAG */
    const cJSON *params;         /* object of overrides, or NULL */
    const cJSON *params_text;    /* object of overrides as text (-p), or NULL */
    const char *environment;     /* or NULL for the DAG's default */
    const char *idempotency_key; /* or NULL */
    const char *reason;          /* for people */
};

/* What a worker reports at the end of an attempt. */
struct engine_result {
    const char *lease_id; /* the attempt's fencing token */
    bool has_exit;        /* exit_code is meaningful */
    int exit_code;        /* the command's exit status */
    bool timed_out;       /* killed at the step's timeout */
    const cJSON *outputs; /* object of strings, or NULL */
    const char *error;    /* what went wrong on the worker, or NULL */
};

/*
 * The parsed DAG of a version, from the cache or parsed again from its
 * stored source, with a reference the caller drops with
 * dagcache_release(). NULL (logged) when it cannot be had.
 */
const struct dag *engine_dag(struct dagcache *cache, struct store_conn *c,
                             int64_t version_id);

/*
 * Create a run of t->dag_id in one transaction: the run, one task per
 * step and matrix cell, the root tasks decided. *run_id gets its id;
 * *existed is true when a run with the same idempotency key was returned
 * instead. WEIR_EINVAL for an unknown param or environment (err names it),
 * WEIR_ECONFLICT for a paused DAG or one that never loaded, WEIR_ENOTFOUND
 * for no such DAG.
 */
WEIR_MUSTCHECK int engine_run_create(struct engine *e,
                                     const struct engine_trigger *t,
                                     int64_t *run_id, bool *existed,
                                     struct weir_err *err);

/* A run for one slot of a DAG's trigger (a cron fire time). */
struct engine_slot {
    const char *dag_id;      /* the DAG */
    const char *trigger_key; /* the trigger's key in the current version */
    int64_t logical_time;    /* the slot, Unix seconds; 0 for none */
    const char *reason;      /* for people */
    const char *payload;     /* JSON text saying why, or NULL */
};

/*
 * Create the run of slot s like engine_run_create() does (one
 * transaction: run, tasks, root tasks decided, hub bumped), with the
 * trigger's params and priority, trigger_kind its kind, and logical_time
 * the slot. A slot that already has its run (a restart, another server)
 * gets nothing new: *created is false and *run_id 0. WEIR_ECONFLICT for a
 * paused DAG, one that never loaded, or a current version without that
 * trigger; WEIR_ENOTFOUND for no such DAG.
 */
WEIR_MUSTCHECK int engine_run_create_slot(struct engine *e,
                                          const struct engine_slot *s,
                                          int64_t *run_id, bool *created,
                                          struct weir_err *err);

/*
 * Claim up to max attempts for worker_id, waiting up to wait_ms (capped at
 * ENGINE_WAIT_MAX_MS) for work to appear. *out gets a new JSON array of
 * attempt documents (maybe empty). An attempt whose command cannot be
 * rendered is failed at once and not returned. WEIR_ENOTFOUND for an
 * unknown worker.
 */
WEIR_MUSTCHECK int engine_lease(struct engine *e, int64_t worker_id, int max,
                                int64_t wait_ms, cJSON **out,
                                struct weir_err *err);

/* Whether the client of a waiting lease call went away (its socket was
 * closed); arg is the caller's. */
typedef bool (*engine_gone_fn)(void *arg);

/*
 * What a lease call watches besides work: the worker's running attempts
 * whose run was canceled. The call answers as soon as one that is not in
 * seen turns up, with their ids in cancel.
 */
struct engine_cancel_watch {
    const int64_t *seen; /* attempts the worker already stops */
    size_t n_seen;       /* entries in seen */
    cJSON *cancel;       /* out: array of attempt ids, or NULL; the
                            caller's to delete */
};

/*
 * engine_lease(), checking gone(arg) while it waits: at least once a
 * second and before each claim after a wake-up. A client gone claims
 * nothing more: *out gets what was claimed so far (an empty array). max
 * may be 0 (claim nothing) when watch is not NULL: the call then only
 * waits for a cancel. Each document carries lease_ttl_ms, the lease's
 * time left when it was claimed.
 */
WEIR_MUSTCHECK int engine_lease_wait(struct engine *e, int64_t worker_id,
                                     int max, int64_t wait_ms,
                                     engine_gone_fn gone, void *arg,
                                     struct engine_cancel_watch *watch,
                                     cJSON **out, struct weir_err *err);

/*
 * Record the end of attempt_id. WEIR_ECONFLICT when the lease id is not
 * the attempt's current one or the attempt already ended; WEIR_ENOTFOUND
 * when there is no such attempt.
 */
WEIR_MUSTCHECK int engine_complete(struct engine *e, int64_t attempt_id,
                                   const struct engine_result *res,
                                   struct weir_err *err);

/*
 * Mark every running attempt whose lease deadline passed as lost (its
 * task retried while tries remain). *next_ms gets the time until the
 * next deadline, -1 when no attempt runs.
 */
WEIR_MUSTCHECK int engine_expire(struct engine *e, int64_t *next_ms,
                                 struct weir_err *err);

/* ---- control of runs by people (engine_control.c) ---- */

/*
 * Cancel run_id on behalf of `by` (a token name, recorded on the run):
 * every task not finished becomes canceled (a running attempt learns it
 * from its next heartbeat), the run becomes canceled, and a queued run of
 * its DAG may start in its place. *out gets a new object {run_id, state,
 * canceled: [{task_id, step, cell, was}]}. WEIR_ECONFLICT when the run
 * already finished, WEIR_ENOTFOUND when there is no such run.
 */
WEIR_MUSTCHECK int engine_run_cancel(struct engine *e, int64_t run_id,
                                     const char *by, cJSON **out,
                                     struct weir_err *err);

/* What a retry asks for. */
struct engine_retry {
    const char *from;         /* the step to run again from, or NULL */
    const cJSON *params;      /* object of params to change, or NULL */
    const cJSON *params_text; /* the same as text to type (-p), or NULL */
    const char *by;           /* token name of who asks */
};

/*
 * Retry finished run_id. Without from (NULL): every task that did not
 * succeed and was not skipped, and every task downstream of one, goes
 * back to pending. With from: that step's tasks and every task
 * downstream of it. Kept tasks keep their state and outputs. A reset
 * task keeps its try count and gets max_tries = try_count + retries + 1,
 * so its next try is try_count + 1 with its full retries again. Reset
 * tasks whose upstream tasks are all done are decided at once; the run
 * becomes running (queued while max_active_runs holds it), its
 * retry_count grows by one and retried_at is set. *out gets
 * {run_id, state, retry_count, reset: [{task_id, step, cell}], changed}.
 * With r->params, the run's params take those values (each must be a
 * param the DAG declares) for the tasks that run again, and the change is
 * appended to the run's param_changes with who, when, the retry and its
 * step (changed: {key: {from, to}}, only the keys whose value differs).
 * WEIR_ECONFLICT for a run not finished, WEIR_EINVAL for an unknown step
 * or param (err suggests a close one).
 */
WEIR_MUSTCHECK int engine_run_retry(struct engine *e, int64_t run_id,
                                    const struct engine_retry *r, cJSON **out,
                                    struct weir_err *err);

/* A person's decision on an approval gate. */
struct engine_decision {
    const char *step;    /* the gate's step id */
    bool approve;        /* approve (success) or reject (failed) */
    const char *by;      /* who decided: the token's name */
    const char *comment; /* or NULL */
};

/*
 * Decide the approval gate d->step of run_id, whose tasks must be
 * awaiting_approval: approve makes a gate (approval:) success with
 * outputs {approved_by, comment}, and queues a step with a command that
 * an environment's approve_before held; reject makes it failed with
 * error "rejected by BY: COMMENT".
 * Who, when and the comment are recorded on the task; downstream tasks
 * and the run follow as after a completed attempt. *out gets
 * {run_id, step, state, run_state}. WEIR_ECONFLICT when the task is not
 * awaiting approval, WEIR_ENOTFOUND for no such run or step.
 */
WEIR_MUSTCHECK int engine_step_decide(struct engine *e, int64_t run_id,
                                      const struct engine_decision *d,
                                      cJSON **out, struct weir_err *err);

/* Upper bounds (seconds) of the dispatch latency histogram's buckets. */
#define ENGINE_DISPATCH_BUCKETS 14

/* A copy of the dispatch latency histogram. */
struct engine_dispatch_hist {
    double le[ENGINE_DISPATCH_BUCKETS];      /* bucket upper bounds */
    uint64_t count[ENGINE_DISPATCH_BUCKETS]; /* cumulative counts */
    uint64_t total;                          /* observations (+Inf) */
    double sum;                              /* seconds observed */
};

/*
 * Count one dispatch: seconds from a task becoming claimable to its
 * attempt being leased. Lock-free (atomic counters); any thread.
 */
void engine_dispatch_observe(double seconds);

/* Read the histogram into *out (each counter read atomically). */
void engine_dispatch_read(struct engine_dispatch_hist *out);

#endif
