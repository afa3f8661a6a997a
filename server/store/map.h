/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tasks of mapped steps (a matrix made at run time from an upstream's
 * output): how many cells each has in a run, making them, and taking them
 * back to their placeholder when a retry runs the upstream again.
 */
#ifndef WEIR_STORE_MAP_H
#define WEIR_STORE_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store/pool.h"

/*
 * For each of the n steps named, the task rows run_id has for it
 * (counts[i]; 0 for a step it has none of).
 */
WEIR_MUSTCHECK int store_map_cells(struct store_conn *c, int64_t run_id,
                                   const char *const *steps, size_t n,
                                   size_t *counts, struct weir_err *err);

/*
 * Make the cells of placeholder task_id (cell 0 of its step, pending):
 * cell 0 gets matrix0 (JSON object text) and map_cells, the count of
 * cells, and one new task per element of
 * cells (JSON array text of {"cell": k, "matrix": {...}}) is inserted
 * pending with no pending upstream, as a copy of the placeholder (queue,
 * priority, tries).
 */
WEIR_MUSTCHECK int store_map_expand(struct store_conn *c, int64_t task_id,
                                    const char *matrix0, const char *cells,
                                    struct weir_err *err);

/* Note that placeholder task_id read an empty list: no cells. */
WEIR_MUSTCHECK int store_map_empty(struct store_conn *c, int64_t task_id,
                                   struct weir_err *err);

/*
 * Take step_id of run_id back to its placeholder: its cells past 0 are
 * deleted (their attempts with them) and cell 0 loses its matrix.
 */
WEIR_MUSTCHECK int store_map_collapse(struct store_conn *c, int64_t run_id,
                                      const char *step_id,
                                      struct weir_err *err);

#endif
