/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The attempts table and the log lines of attempts: the claim that turns
 * claimable tasks into attempts with a lease, the lease's fencing,
 * heartbeats, expiry and extension, an attempt's end, and its log lines.
 *
 * A lease id is read as text and compared in C, so that a malformed one
 * from a client is merely stale, never a database error.
 */
#ifndef WEIR_STORE_ATTEMPTS_H
#define WEIR_STORE_ATTEMPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "engine/state.h"
#include "store/pool.h"

/* One task claimed by a worker: its new attempt. */
struct store_claim {
    int64_t attempt_id;         /* the attempt row */
    char lease_id[40];          /* its fencing token (a UUID) */
    int64_t task_id;            /* the task */
    int64_t run_id;             /* its run */
    int try;                    /* the try number */
    char step_id[STORE_ID_MAX]; /* the task's step */
    double wait_s;           /* seconds from claimable (queued_at, or a retry's
                                next_try_at) to this claim; -1 when unknown */
    char pool[STORE_ID_MAX]; /* the task's pool, "" for none */
    int pool_slots;          /* the slots it takes there */
    int pool_size; /* the pool's slots when fewer than pool_slots (the task
                      can never run: the caller fails it), else 0 */
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

/*
 * The claim of tasks of DAGs without a concurrency cap, in one statement:
 * queued tasks, and up_for_retry ones whose time has come, of worker_id's
 * queues, most urgent first, then oldest; each becomes running with a new
 * attempt whose lease ends ttl_ms from now. Up to max claims are appended
 * to v[*n...] (v has room for *n + max). When nothing was claimed,
 * *retry_ms gets the milliseconds until the earliest up_for_retry task of
 * the worker's queues may be claimed (0 if one is due, -1 when there is
 * none). When a task was claimed, *spare gets the claimable tasks the
 * statement held locked without claiming them (a concurrent claim skipped
 * them): the caller wakes the waiters again. *capped_waits says whether a
 * capped DAG with room has claimable tasks in these queues, *pooled_waits
 * whether a pool with room has (store_task_claim_pooled() takes those:
 * this claim leaves every pooled task out). An unknown worker claims
 * nothing (store_worker_seen() tells).
 */
WEIR_MUSTCHECK int store_task_claim(struct store_conn *c, int64_t worker_id,
                                    int max, int64_t ttl_ms,
                                    struct store_claim *v, size_t *n,
                                    int64_t *retry_ms, int *spare,
                                    bool *capped_waits, bool *pooled_waits,
                                    struct weir_err *err);

/*
 * The claim of tasks of capped DAGs (docs/architecture.md, "Concurrency
 * caps"): up to max claims appended to v[*n...] as store_task_claim()
 * does, never more running tasks of a DAG than its cap; *spare grows by
 * the tasks held locked but not taken. Runs in c's open transaction, or
 * in one of its own: the DAG rows are locked first.
 */
WEIR_MUSTCHECK int store_task_claim_capped(struct store_conn *c,
                                           int64_t worker_id, int max,
                                           int64_t ttl_ms,
                                           struct store_claim *v, size_t *n,
                                           int *spare, struct weir_err *err);

/* Read attempt id, locked when lock is set, checking lease (NULL: no
 * check). WEIR_ENOTFOUND when there is no such attempt. */
WEIR_MUSTCHECK int store_attempt_get(struct store_conn *c, int64_t id,
                                     const char *lease, bool lock,
                                     struct store_attempt *out,
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
 * The heartbeat of attempt id: extend its lease to ttl_ms from now and
 * touch its worker's last_seen_at. *cancel says the attempt should stop:
 * its task is no longer running this try (its run was canceled).
 * *held is false (and nothing changes) when the lease is stale or the
 * attempt finished: the engine words the refusal.
 */
WEIR_MUSTCHECK int store_attempt_beat(struct store_conn *c, int64_t id,
                                      const char *lease, int64_t ttl_ms,
                                      bool *cancel, bool *held,
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

/*
 * Append log lines (a JSON array text of {seq, ts, stream, line}) to a
 * running attempt whose lease is current; lines already stored (same
 * seq) are left alone. capped (a JSON object text, or NULL) records what
 * the worker's cap cut (attempts.log_capped). *held is false (and
 * nothing is stored) for a stale lease.
 */
WEIR_MUSTCHECK int store_logs_append(struct store_conn *c, int64_t id,
                                     const char *lease, const char *lines,
                                     const char *capped, int *inserted,
                                     bool *held, struct weir_err *err);

#endif
