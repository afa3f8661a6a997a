/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The statements of the execution engine: runs, tasks, attempts, workers
 * and log lines (store_runs.c, store_work.c, store_read.c). Every state
 * written here is checked against the state machines of state.h first.
 *
 * Lock order, the same in every transaction, so that two never wait on
 * each other: an attempt row, then its run row, then the DAG row, then
 * task rows. A claim locks only queued or due tasks (SKIP LOCKED), which
 * no other transaction writes.
 */
#ifndef WEIR_STORE_RUN_H
#define WEIR_STORE_RUN_H

#include <cJSON.h>

#include "engine/state.h"
#include "store/store.h"

#define STORE_ID_MAX 72 /* bytes for a DAG or step id and its NUL */

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
};

/* A task row. */
struct store_task {
    int64_t id;                 /* task id */
    char step_id[STORE_ID_MAX]; /* its step */
    int cell;                   /* matrix cell, 0 without a matrix */
    enum task_state state;      /* where it is */
    int try_count;              /* tries started */
    int max_tries;              /* retries + 1 */
    int upstream_pending;       /* upstream tasks not finished */
    cJSON *outputs;             /* object, or NULL */
    cJSON *matrix;              /* the cell's {axis: value}, or NULL */
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
};

/* One task state write of store_tasks_apply(). */
struct store_task_change {
    int64_t task_id;      /* which task */
    int try;              /* its try count, for the log */
    enum task_state from; /* its state as read (the write is guarded) */
    enum task_state to;   /* its new state (may equal from) */
    int pending;          /* its new upstream_pending */
    const char *error;    /* why it failed, or NULL */
    const char *outputs;  /* JSON object text to store, or NULL */
    int64_t retry_ms;     /* up_for_retry: delay from now; else -1 */
    const char *message;  /* a gate's rendered message, or NULL */
};

/* One task claimed by a worker: its new attempt. */
struct store_claim {
    int64_t attempt_id;         /* the attempt row */
    char lease_id[40];          /* its fencing token (a UUID) */
    int64_t task_id;            /* the task */
    int64_t run_id;             /* its run */
    int try;                    /* the try number */
    char step_id[STORE_ID_MAX]; /* the task's step */
    double wait_s; /* seconds from claimable (queued_at, or a retry's
                      next_try_at) to this claim; -1 when unknown */
};

/* An attempt as completion and heartbeats see it. */
struct store_attempt {
    int64_t id;                 /* attempt id */
    int64_t task_id;            /* its task */
    int64_t run_id;             /* its task's run */
    char step_id[STORE_ID_MAX]; /* its task's step */
    int try;                    /* its try number */
    enum attempt_state state;   /* where it is */
    bool lease_ok;              /* the lease id given is the current one */
    bool expired;               /* its lease deadline has passed */
};

void store_run_cleanup(struct store_run *r);
void store_tasks_free(struct store_task *v, size_t n);

/* ---- runs and tasks (store_runs.c) ---- */

/* What store_dag_lock() read under the lock. */
struct store_dag_locked {
    bool paused;        /* no triggered run may start */
    bool file_missing;  /* its file is gone: no run may start */
    int64_t version_id; /* the current version, 0 if none */
    int running;        /* its runs in state running */
};

/*
 * Lock DAG id's row for a run creation or a run's end and fill *out;
 * the count of running runs is read after the lock is granted.
 * WEIR_ENOTFOUND when there is no such DAG (or it was deleted).
 */
WEIR_MUSTCHECK int store_dag_lock(struct store_conn *c, const char *id,
                                  struct store_dag_locked *out,
                                  struct weir_err *err);

/*
 * WEIR_ECONFLICT, naming the DAG, when l says that DAG id cannot start a
 * run (its file is gone, or it has no valid version); 0 otherwise.
 */
WEIR_MUSTCHECK int store_dag_startable(const char *id,
                                       const struct store_dag_locked *l,
                                       struct weir_err *err);

/* The run of DAG id with this idempotency key, or WEIR_ENOTFOUND. */
WEIR_MUSTCHECK int store_run_by_key(struct store_conn *c, const char *dag_id,
                                    const char *key, int64_t *run_id,
                                    struct weir_err *err);

/* Insert a run; *id gets its id. */
WEIR_MUSTCHECK int store_run_insert(struct store_conn *c,
                                    const struct store_run_new *n, int64_t *id,
                                    struct weir_err *err);

/*
 * Insert the tasks of a run from a JSON array text of objects
 * {step_id, cell, matrix, max_tries, queue, upstream_pending}, in order
 * (task ids then follow step order and cells).
 */
WEIR_MUSTCHECK int store_tasks_insert(struct store_conn *c, int64_t run_id,
                                      int priority, const char *tasks_json,
                                      struct weir_err *err);

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
 * Lock the n attempts ids (distinct) in id order, each read into out[i]
 * and its lease checked against leases[i] as store_attempt_get() does;
 * found[i] is false when there is no such attempt. With store_runs_lock()
 * after it: the locks of a batch of completions, attempts then runs.
 */
WEIR_MUSTCHECK int store_attempts_lock(struct store_conn *c, const int64_t *ids,
                                       const char *const *leases, size_t n,
                                       struct store_attempt *out, bool *found,
                                       struct weir_err *err);

/*
 * Lock the runs ids (distinct, ascending) in that order and read each
 * into out[i] (store_run_cleanup() each). WEIR_ENOTFOUND when one is
 * missing.
 */
WEIR_MUSTCHECK int store_runs_lock(struct store_conn *c, const int64_t *ids,
                                   size_t n, struct store_run *out,
                                   struct weir_err *err);

/* Every task of run id, in id order, as a new array. */
WEIR_MUSTCHECK int store_run_tasks(struct store_conn *c, int64_t run_id,
                                   struct store_task **out, size_t *n,
                                   struct weir_err *err);

/*
 * The tasks of run run_id whose ids are among the n_ids given, and every
 * task of the n_steps steps named, in id order, as a new array. Each
 * part is an index lookup: the cost follows what is asked for, not the
 * size of the run.
 */
WEIR_MUSTCHECK int store_run_tasks_some(struct store_conn *c, int64_t run_id,
                                        const int64_t *ids, size_t n_ids,
                                        const char *const *steps,
                                        size_t n_steps, struct store_task **out,
                                        size_t *n, struct weir_err *err);

/*
 * Write n task changes of run run_id in one statement, each guarded by
 * its from state. Each state change is checked and logged first.
 * WEIR_ECONFLICT when a task was not in its from state any more.
 */
WEIR_MUSTCHECK int store_tasks_apply(struct store_conn *c, int64_t run_id,
                                     const struct store_task_change *v,
                                     size_t n, struct weir_err *err);

/* The end of an attempt (running, locked), for store_run_write(). */
struct store_attempt_end {
    const struct store_attempt *a; /* the attempt */
    enum attempt_state to;         /* its end state */
    const int *exit_code;          /* or NULL */
    const char *outputs;           /* JSON object text, or NULL */
    const char *error;             /* or NULL */
};

/* What store_run_write() saw of the run's other tasks (those not in v),
 * as they were before its writes. */
struct store_run_probe {
    bool open; /* one of them is unfinished */
    bool bad;  /* one of them failed, upstream_failed or was canceled;
                  only looked for when none is unfinished */
};

/*
 * One statement for a transition of run run_id: the n_ends attempts' ends
 * (attempts of this run), the n task changes as store_tasks_apply() writes them
 * (checked, logged, guarded: WEIR_ECONFLICT), and, when probe is not
 * NULL, whether the run's other tasks leave it unfinished, through the
 * partial index of unfinished tasks rather than a read of every task.
 * The caller holds the run's row lock, under which every task of a run
 * reaches or leaves a finished state.
 */
WEIR_MUSTCHECK int store_run_write(struct store_conn *c, int64_t run_id,
                                   const struct store_attempt_end *ends,
                                   size_t n_ends,
                                   const struct store_task_change *v, size_t n,
                                   struct store_run_probe *probe,
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

/* ---- workers and attempts (store_work.c) ---- */

/* Insert or update worker `name` (queues: JSON array text, labels: JSON
 * object text); *id gets its id. */
WEIR_MUSTCHECK int store_worker_register(struct store_conn *c, const char *name,
                                         const char *queues, int slots,
                                         const char *labels, int64_t *id,
                                         struct weir_err *err);

/*
 * Record that worker_id was seen (last_seen_at, state online), in a
 * statement of its own. WEIR_ENOTFOUND when the worker is not registered.
 */
WEIR_MUSTCHECK int store_worker_seen(struct store_conn *c, int64_t worker_id,
                                     struct weir_err *err);

/*
 * Claim up to max tasks for worker_id in one statement: queued tasks, and
 * up_for_retry ones whose time has come, of the worker's queues, most
 * urgent first, then oldest; each becomes running with a new attempt
 * whose lease ends ttl_ms from now. *out (new array) gets the claims.
 * When nothing was claimed, *retry_ms gets the milliseconds until the
 * earliest up_for_retry task of the worker's queues may be claimed (0 if
 * one is due, -1 when there is none). *spare counts claimable tasks the
 * statement held locked without claiming them (a concurrent claim skipped
 * them): the caller wakes the waiters again. An unknown worker claims
 * nothing (store_worker_seen() tells).
 */
WEIR_MUSTCHECK int store_task_claim(struct store_conn *c, int64_t worker_id,
                                    int max, int64_t ttl_ms,
                                    struct store_claim **out, size_t *n,
                                    int64_t *retry_ms, int *spare,
                                    struct weir_err *err);

/* Read attempt id, locked when lock is set, checking lease (NULL: no
 * check). WEIR_ENOTFOUND when there is no such attempt. */
WEIR_MUSTCHECK int store_attempt_get(struct store_conn *c, int64_t id,
                                     const char *lease, bool lock,
                                     struct store_attempt *out,
                                     struct weir_err *err);

/*
 * Append log lines (a JSON array text of {seq, ts, stream, line}) to a
 * running attempt whose lease is current; lines already stored (same
 * seq) are left alone. capped (a JSON object text, or NULL) records what
 * the worker's cap cut (attempts.log_capped). WEIR_ECONFLICT for a stale
 * lease.
 */
WEIR_MUSTCHECK int store_logs_append(struct store_conn *c, int64_t id,
                                     const char *lease, const char *lines,
                                     const char *capped, int *inserted,
                                     struct weir_err *err);

/* Finish attempt a (running, locked) as `to`, with exit_code (NULL: none),
 * outputs (JSON object text or NULL) and error (or NULL). */
WEIR_MUSTCHECK int store_attempt_finish(struct store_conn *c,
                                        const struct store_attempt *a,
                                        enum attempt_state to,
                                        const int *exit_code,
                                        const char *outputs, const char *error,
                                        struct weir_err *err);

/* Up to max running attempts whose lease deadline passed (new array). */
WEIR_MUSTCHECK int store_attempts_expired(struct store_conn *c, int max,
                                          int64_t **ids, size_t *n,
                                          struct weir_err *err);

/* Milliseconds until the earliest lease deadline, -1 when none runs. */
WEIR_MUSTCHECK int store_lease_next(struct store_conn *c, int64_t *ms,
                                    struct weir_err *err);

/*
 * Give every running attempt at least ttl_ms more: after the server or
 * the database was down, workers could not heartbeat meanwhile.
 */
WEIR_MUSTCHECK int store_leases_extend(struct store_conn *c, int64_t ttl_ms,
                                       struct weir_err *err);

/* ---- reads for the API (store_read.c) ---- */

/* Which runs a listing shows; NULL (or 0) filters nothing. */
struct store_runs_filter {
    const char *dag_id;      /* of one DAG */
    const char *state;       /* in one state */
    const char *environment; /* in one environment */
    const char *trigger;     /* started by one trigger kind ("manual") */
    int64_t since;           /* created at or after (s since the epoch) */
    int64_t cursor;          /* ids below it (0: from the newest) */
    int limit;               /* at most that many */
};

/* The runs of f, newest first, as a new JSON array; each says whether a
 * task of it awaits approval (awaiting_approval). */
WEIR_MUSTCHECK int store_runs_list(struct store_conn *c,
                                   const struct store_runs_filter *f,
                                   cJSON **out, struct weir_err *err);

/* Run id with its tasks and their attempts as a new JSON object, or
 * WEIR_ENOTFOUND. */
WEIR_MUSTCHECK int store_run_detail(struct store_conn *c, int64_t id,
                                    cJSON **out, struct weir_err *err);

/* store_run_detail() as the JSON text PostgreSQL made (a new string), for
 * a reply that adds nothing to it: no parse, no print. */
WEIR_MUSTCHECK int store_run_detail_text(struct store_conn *c, int64_t id,
                                         char **out, struct weir_err *err);

/* Log lines of attempt id with seq > after, at most limit, as a new JSON
 * array; WEIR_ENOTFOUND when there is no such attempt. */
WEIR_MUSTCHECK int store_logs_read(struct store_conn *c, int64_t id,
                                   int64_t after, int limit, cJSON **out,
                                   struct weir_err *err);

#endif
