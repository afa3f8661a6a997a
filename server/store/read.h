/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The read models of the API and the dashboard: run lists, one run with
 * its tasks and attempts, log lines, the runs-by-steps grid, the latest
 * runs of every DAG, the worker list and the gauges of /metrics. Each is
 * one statement whose JSON PostgreSQL builds (jsonb_build_object), which
 * keeps the column lists in one place and the C side to one parse.
 */
#ifndef WEIR_STORE_READ_H
#define WEIR_STORE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "store/pool.h"

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

/* Log lines of attempt id with seq > after, at most limit, as a new JSON
 * array; WEIR_ENOTFOUND when there is no such attempt. */
WEIR_MUSTCHECK int store_logs_read(struct store_conn *c, int64_t id,
                                   int64_t after, int limit, cJSON **out,
                                   struct weir_err *err);

/*
 * The runs of DAG dag_id with ids below cursor (0: from the newest),
 * newest first, at most limit, as a new JSON array of {"id", "state",
 * "created_at", "started_at", "finished_at", "tasks": {STEP: {"state",
 * "cells"}}}. Returns 0 or a WEIR_E* code with err.
 */
WEIR_MUSTCHECK int store_grid_read(struct store_conn *c, const char *dag_id,
                                   int64_t cursor, int limit, cJSON **out,
                                   struct weir_err *err);

/*
 * The newest per_dag runs of every DAG, as a new JSON object {DAG: [{"id",
 * "state"}, ...]} (newest first). Returns 0 or a WEIR_E* code with err.
 */
WEIR_MUSTCHECK int store_recent_runs(struct store_conn *c, int per_dag,
                                     cJSON **out, struct weir_err *err);

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
