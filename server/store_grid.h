/* SPDX-License-Identifier: Apache-2.0 */
/* The store's read of the dashboard's runs-by-steps grid. */
#ifndef WEIR_STORE_GRID_H
#define WEIR_STORE_GRID_H

#include <stdint.h>

#include <cJSON.h>

#include "store.h"

/*
 * The runs of DAG dag_id with ids below cursor (0: from the newest),
 * newest first, at most limit, as a new JSON array of {"id", "state",
 * "created_at", "started_at", "finished_at", "tasks": {STEP: {"state",
 * "cells"}}}. Returns 0 or a WEIR_E* code with err.
 */
WEIR_MUSTCHECK int store_grid_read(struct store_conn *c, const char *dag_id,
                                   int64_t cursor, int limit, cJSON **out,
                                   struct weir_err *err);

#endif
