/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The statements behind people's control of runs and DAGs: cancel, retry,
 * approval decisions, pause, the heartbeat that carries a cancel, the
 * worker list and the gauges of /metrics. Every state written here is
 * checked against state.h first, as in store_runs.c.
 */
#ifndef WEIR_STORE_CONTROL_H
#define WEIR_STORE_CONTROL_H

#include <cJSON.h>

#include "engine/state.h"
#include "store/store.h"

/* One task of a retried run going back to pending. */
struct store_task_reset {
    int64_t task_id;      /* which task */
    int try;              /* its try count (kept), for the log */
    enum task_state from; /* its state as read (the write is guarded) */
    int pending;          /* its new upstream_pending */
    int max_tries;        /* its new max_tries */
};

/*
 * Put n tasks of run_id back to pending (checked and logged), clearing
 * what their last life left: outputs, error, times, an approval decision.
 * WEIR_ECONFLICT when a task was not in its from state any more.
 */
WEIR_MUSTCHECK int store_tasks_reset(struct store_conn *c, int64_t run_id,
                                     const struct store_task_reset *v, size_t n,
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

/* Record the decision on approval task task_id: who, now, comment (or
 * NULL). */
WEIR_MUSTCHECK int store_task_decision(struct store_conn *c, int64_t task_id,
                                       bool approved, const char *by,
                                       const char *comment,
                                       struct weir_err *err);

/*
 * The running attempts of worker_id that should stop (their task no
 * longer runs this try: the run was canceled), not counting the n_seen
 * ids of seen: *out gets a new array of their ids (free()), *n its
 * length (0: *out is NULL).
 */
WEIR_MUSTCHECK int store_worker_cancels(struct store_conn *c, int64_t worker_id,
                                        const int64_t *seen, size_t n_seen,
                                        int64_t **out, size_t *n,
                                        struct weir_err *err);

/*
 * The heartbeat of attempt id: extend its lease to ttl_ms from now and
 * touch its worker's last_seen_at. *cancel says the attempt should stop:
 * its task is no longer running this try (its run was canceled).
 * WEIR_ECONFLICT when the lease is stale or the attempt finished.
 */
WEIR_MUSTCHECK int store_attempt_beat(struct store_conn *c, int64_t id,
                                      const char *lease, int64_t ttl_ms,
                                      bool *cancel, struct weir_err *err);

/* Set DAG id's paused flag; WEIR_ENOTFOUND when there is no such DAG. */
WEIR_MUSTCHECK int store_dag_set_paused(struct store_conn *c, const char *id,
                                        bool paused, struct weir_err *err);

/*
 * Every registered worker, by name, as a new JSON array of {id, name,
 * queues, slots, labels, state, registered_at, last_seen_at,
 * running_attempts}. A worker not seen for lost_ms shows state "lost".
 */
WEIR_MUSTCHECK int store_workers_list(struct store_conn *c, int64_t lost_ms,
                                      cJSON **out, struct weir_err *err);

/*
 * The gauges of /metrics as a new JSON object: {runs: {state: n},
 * tasks: {state: n}, queues: {queue: queued tasks} (every queue with
 * queued tasks or a worker serving it), workers: n seen within seen_ms}.
 */
WEIR_MUSTCHECK int store_metrics(struct store_conn *c, int64_t seen_ms,
                                 cJSON **out, struct weir_err *err);

#endif
