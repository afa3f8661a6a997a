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

#include "dagcache.h"
#include "hub.h"
#include "store.h"

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

#endif
