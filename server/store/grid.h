/* SPDX-License-Identifier: Apache-2.0 */
/* The store's reads for the dashboard: the runs-by-steps grid and the
 * latest runs of every DAG. */
#ifndef WEIR_STORE_GRID_H
#define WEIR_STORE_GRID_H

#include <stdint.h>

#include <cJSON.h>

#include "store/store.h"

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

#endif
