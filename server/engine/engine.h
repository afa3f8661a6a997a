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
#include "engine/state.h"
#include "store/read.h" /* types; the engine files include store/store.h */

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
    const char *logical_time;    /* RFC 3339 time or date, or NULL */
    bool no_cache;               /* skip step cache lookups (still fill) */
    const char *by; /* who triggers (token or user name), or NULL: the
                       approval policy's "who started the run" */
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
    const char *by;          /* who the new run counts as started by (an
                                upstream run's starter, an event's
                                poster), or NULL/"" for no one */
    const char *by2;         /* who it counts as retried by (the upstream
                                run's retrier), or NULL/"" */
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
 * Claim up to max attempts for worker_id, waiting up to wait_ms (capped at
 * ENGINE_WAIT_MAX_MS) for work to appear, and checking gone(arg) (may be
 * NULL) while it waits: at least once a second and before each claim
 * after a wake-up. *out gets a new JSON array of attempt documents (maybe
 * empty). An attempt whose command cannot be rendered is failed at once
 * and not returned. WEIR_ENOTFOUND for an unknown worker. A client gone claims
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

/* One completion of a batch (engine_complete_batch()). */
struct engine_completion {
    int64_t attempt_id;       /* the attempt */
    struct engine_result res; /* what the worker reports */
    int rc;                   /* out: 0, WEIR_ECONFLICT (stale lease,
                                 engine_stale_lease()) or WEIR_ENOTFOUND */
    struct weir_err err;      /* out: why, when rc is not 0 */
};

/*
 * The completion call of the worker protocol, the one way an attempt
 * ends by its worker's report: record the n completions v[] in one
 * transaction (attempts locked in id order, then their runs in id order;
 * each run's completions applied with one read and one write) and, when
 * worker_id is not 0, claim up to max attempts for that worker in the
 * same transaction, so that a step costs one commit and one round trip.
 * A stale or unknown completion is only marked in its rc (nothing
 * recorded for it); the others are recorded. The claim keeps the order
 * and filters of a lease, is made only when at least one completion was
 * accepted, and an unknown worker claims nothing. *attempts gets a new
 * array of their documents (NULL when worker_id is 0). The waiting lease
 * calls are woken unless this transaction claimed every task it made
 * claimable. A negative return is the failure of the whole batch,
 * nothing recorded.
 */
WEIR_MUSTCHECK int engine_complete_batch(struct engine *e,
                                         struct engine_completion *v, size_t n,
                                         int64_t worker_id, int max,
                                         cJSON **attempts,
                                         struct weir_err *err);

/*
 * The one message of a stale lease: err gets WEIR_ECONFLICT saying that
 * attempt_id finished, expired or was leased again; returns WEIR_ECONFLICT.
 */
int engine_stale_lease(struct weir_err *err, int64_t attempt_id);

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
    const char *step;          /* the gate's step id */
    bool approve;              /* approve (success) or reject (failed) */
    const char *by;            /* who decided: the token's name */
    const char *comment;       /* or NULL */
    const char *const *groups; /* the decider's groups (a signed-in user's),
                                  for `approvers:`; NULL for a token */
    size_t n_groups;           /* entries in groups */
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

/* ---- DAGs (engine/dags.c) ---- */

/* What engine_dag_record() did. */
struct engine_dag_recorded {
    int64_t version_id;    /* the DAG's current version now */
    bool dag_created;      /* the DAG did not exist before (API only) */
    bool version_created;  /* the source text was new for this DAG */
    const struct dag *dag; /* the cached version: a reference the caller
                              drops with dagcache_release() */
    struct dag_pos pos;    /* a refusal that points into the document (an
                              after-trigger cycle): where; else 0:0 */
};

/*
 * The one rule for recording a loaded DAG (taken: cached or freed) as a
 * version, wherever it came from: relpath is its file under the DAGs
 * folder, or NULL for a DAG submitted over the API. The DAG becomes its
 * current version (a new version only when the text changed), its task
 * cap follows the version, and the version is cached. WEIR_ECONFLICT
 * (nothing written; err names the other origin) when the id belongs to a
 * DAG of the other origin, or (out->pos set to the trigger) when its
 * after triggers close a cycle across DAGs (engine/after.h).
 */
WEIR_MUSTCHECK int engine_dag_record(struct dagcache *cache,
                                     struct store_conn *c, const char *relpath,
                                     struct dag *dag,
                                     struct engine_dag_recorded *out,
                                     struct weir_err *err);

/* engine_dag_record() of a DAG submitted over the API, on a connection of
 * its own. */
WEIR_MUSTCHECK int engine_dag_submit(struct engine *e, struct dag *dag,
                                     struct engine_dag_recorded *out,
                                     struct weir_err *err);

/*
 * Delete DAG id (an API DAG, or a file DAG whose file is gone) with its
 * versions and runs; a file DAG's runs stay unless with_runs. *n_runs and
 * *n_kept (may be NULL) get the runs deleted and kept. WEIR_ENOTFOUND for
 * no such DAG; WEIR_ECONFLICT while its file exists or it has runs or
 * attempts still going.
 */
WEIR_MUSTCHECK int engine_dag_delete(struct engine *e, const char *id,
                                     bool with_runs, int64_t *n_runs,
                                     int64_t *n_kept, struct weir_err *err);

/* Pause or unpause DAG id; WEIR_ENOTFOUND for no such DAG. */
WEIR_MUSTCHECK int engine_dag_pause(struct engine *e, const char *id,
                                    bool paused, struct weir_err *err);

/* ---- workers and attempts (engine/workers.c) ---- */

/* A worker registering. */
struct engine_worker {
    const char *name;   /* its name */
    const char *queues; /* JSON array of the queues it serves */
    int slots;          /* attempts it runs at once */
    const char *labels; /* JSON object */
    int64_t token_id;   /* the token it is bound to */
};

/* Register (or re-register) worker w and bind it to w->token_id, in one
 * transaction; *id gets its id. WEIR_EFORBIDDEN when another live token
 * holds that worker. */
WEIR_MUSTCHECK int engine_worker_register(struct engine *e,
                                          const struct engine_worker *w,
                                          int64_t *id, struct weir_err *err);

/* The heartbeat of attempt_id: its lease is extended by the lease time;
 * *cancel says whether its run was canceled (the worker stops it). A
 * stale lease is engine_stale_lease(). */
WEIR_MUSTCHECK int engine_attempt_beat(struct engine *e, int64_t attempt_id,
                                       const char *lease_id, bool *cancel,
                                       struct weir_err *err);

/* Append log lines (JSON array text of {seq, ts, stream, line}) to
 * attempt_id, a re-sent seq counted once; capped (JSON text or NULL) is
 * what the worker's cap cut. *inserted gets the new lines. A stale lease
 * is engine_stale_lease(). */
WEIR_MUSTCHECK int engine_logs_append(struct engine *e, int64_t attempt_id,
                                      const char *lease_id, const char *lines,
                                      const char *capped, int *inserted,
                                      struct weir_err *err);

/* ---- API tokens (engine/tokens.c) ---- */

#define ENGINE_TOKEN_PREFIX "weir_"
#define ENGINE_TOKEN_LEN    69 /* prefix and 64 hex characters */

/* What a new token is. */
#define ENGINE_TOKEN_NAME_MAX 200 /* bytes of a token's name */
#define ENGINE_TOKEN_QUEUES   64  /* queues of one worker token */

/* Whether name may name a token; WEIR_EINVAL saying what a name is. */
WEIR_MUSTCHECK int engine_token_name_check(const char *name,
                                           struct weir_err *err);

/*
 * The queues of a token of role: q is NULL or JSON null (any queue; *text
 * NULL), or an array of 1 to ENGINE_TOKEN_QUEUES names of 1 to 64 of
 * [A-Za-z0-9_.-], for a worker token only, that fits the stored list.
 * *text gets it as JSON text (cJSON_free it). WEIR_EINVAL says what is
 * wrong (without naming the field: the caller does).
 */
WEIR_MUSTCHECK int engine_token_queues(const cJSON *q, const char *role,
                                       char **text, struct weir_err *err);

struct engine_token_spec {
    const char *role;   /* its first grant's role */
    const char *name;   /* free text, unique among live tokens; NULL: none */
    int64_t expires_s;  /* lifetime in seconds; 0: never expires */
    const char *queues; /* worker role: JSON array of the queues it may
                           serve; NULL: any */
    const char *grants; /* JSON array of its role grants; NULL: one
                           unscoped grant of role */
};

/*
 * Create a token as spec says, record its hash on c, and put the token
 * into out (ENGINE_TOKEN_LEN + 1 bytes). The token itself is stored
 * nowhere: this is the only time it is known. A live token of the same
 * name is WEIR_EEXISTS.
 */
WEIR_MUSTCHECK int engine_token_create(struct store_conn *c,
                                       const struct engine_token_spec *spec,
                                       char *out, struct weir_err *err);

/* engine_token_create() on a connection of its own. */
WEIR_MUSTCHECK int engine_token_new(struct engine *e,
                                    const struct engine_token_spec *spec,
                                    char *out, struct weir_err *err);

/*
 * On a database without a live admin token: with token_file, create one,
 * write it there (mode 0600, never following a link) and print only the
 * file's path; without, create nothing and log how to make one. With a
 * live admin token present, does nothing.
 */
WEIR_MUSTCHECK int engine_token_first_admin(struct store_conn *c,
                                            const char *token_file,
                                            struct weir_err *err);

/* The live token whose SHA-256 hex is hash into *out, its use noted (at
 * most once a minute). WEIR_ENOTFOUND when there is none. */
WEIR_MUSTCHECK int engine_token_lookup(struct store *s, const char *hash,
                                       struct store_token *out,
                                       struct weir_err *err);

/* Revoke the live token named name: WEIR_ENOTFOUND when none is,
 * WEIR_ECONFLICT when it is the last live admin token. */
WEIR_MUSTCHECK int engine_token_revoke(struct engine *e, const char *name,
                                       struct weir_err *err);

/* ---- the model registry (engine/artifacts.c) ---- */

/* A promotion asked for, or a decision on one. */
struct engine_promotion {
    const char *name;          /* artifact name */
    const char *version;       /* its version */
    const char *to;            /* the stage (promotions only) */
    const char *by;            /* token name of who asks or decides */
    const char *comment;       /* free text, or NULL */
    const char *const *groups; /* the decider's groups (a signed-in user's),
                                  for `approvers:`; NULL for a token */
    size_t n_groups;           /* entries in groups */
};

/*
 * Move artifact version r->name/r->version to stage r->to under the rules
 * of the DAG version that produced it (docs/api.md: an approval before
 * prod, max_prod, promote_from). *out gets the outcome object; *waits is
 * true when the promotion awaits an approval.
 */
WEIR_MUSTCHECK int engine_artifact_promote(struct engine *e,
                                           const struct engine_promotion *r,
                                           cJSON **out, bool *waits,
                                           struct weir_err *err);

/* Approve or reject the promotion of r->name/r->version that awaits
 * approval; *out gets the outcome object. WEIR_EFORBIDDEN for the asker
 * approving without self_approve, WEIR_ECONFLICT when nothing waits. */
WEIR_MUSTCHECK int engine_artifact_decide(struct engine *e,
                                          const struct engine_promotion *r,
                                          bool approve, cJSON **out,
                                          struct weir_err *err);

/* The engine's other faces: triggers and events, metrics. */
#include "engine/events.h"  /* IWYU pragma: export */
#include "engine/metrics.h" /* IWYU pragma: export */

/* ---- pools (engine/pools.c) ---- */

/*
 * Create pool name with `slots` slots (0 to 1,000,000; 0 starts nothing),
 * or give the existing one that many (*created says which); waiting
 * lease calls are woken, so that new room is used at once. WEIR_EINVAL
 * for a name that is not a valid pool name or a count out of range.
 */
WEIR_MUSTCHECK int engine_pool_set(struct engine *e, const char *name,
                                   long long slots, bool *created,
                                   struct weir_err *err);

/*
 * Delete pool name. WEIR_ENOTFOUND when there is none; WEIR_ECONFLICT,
 * naming them, when loaded DAGs name it, unless force. *users (may be
 * NULL) gets a new JSON array of the DAGs that named it. Tasks waiting
 * for a deleted pool stay queued until a pool of that name is set again.
 */
WEIR_MUSTCHECK int engine_pool_delete(struct engine *e, const char *name,
                                      bool force, cJSON **users,
                                      struct weir_err *err);

/*
 * Check the pools dag names against the pools there are, as a load does:
 * each missing pool (with a "did you mean") and each step taking more
 * slots than its pool has is a diagnostic at its `pool:` or `pool_slots:`
 * in diags, and WEIR_EINVAL. Other failures in err.
 */
struct dag_diags;
WEIR_MUSTCHECK int engine_dag_pools_check(struct store_conn *c,
                                          const struct dag *dag,
                                          struct dag_diags *diags,
                                          struct weir_err *err);

/* engine_dag_pools_check() on a connection of its own. */
WEIR_MUSTCHECK int engine_dag_pools_check_e(struct engine *e,
                                            const struct dag *dag,
                                            struct dag_diags *diags,
                                            struct weir_err *err);

/* Record which pools dag (being recorded as DAG dag->id's current
 * version) names (engine_dag_record()). */
WEIR_MUSTCHECK int engine_dag_pools_record(struct store_conn *c,
                                           const struct dag *dag,
                                           struct weir_err *err);

#endif
