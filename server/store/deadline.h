/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The statements of run timeouts and deadlines (engine/deadline.c): the
 * times placed on a new run, the scan of runs past them, and the marks
 * the chore leaves (late, error). Migration 0015 holds the columns and
 * the trigger that arms timeout_at at every start of a run.
 */
#ifndef WEIR_STORE_DEADLINE_H
#define WEIR_STORE_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "store/pool.h"

/* The time a new run's deadline counts from, as Unix milliseconds into
 * *out: its logical time, else its creation; *rerun true for a backfill
 * run or a manual run given a logical time, whose base is its creation
 * (it runs a past slot now). */
WEIR_MUSTCHECK int store_deadline_base(struct store_conn *c, int64_t run_id,
                                       int64_t *out, bool *rerun,
                                       struct weir_err *err);

/* Arm run_id: its run_timeout (ms, 0 for none; timeout_at follows from
 * its start) and its deadline (Unix ms, 0 for none). */
WEIR_MUSTCHECK int store_deadline_set(struct store_conn *c, int64_t run_id,
                                      int64_t timeout_ms, int64_t deadline_ms,
                                      struct weir_err *err);

/*
 * Up to limit runs past a time, as a new array *out of {id, kind} (kind
 * "timeout": running, not ended by its timeout yet; "deadline":
 * unfinished and not late), and *next_ms the time until the next such
 * time of another run (-1 when there is none).
 */
WEIR_MUSTCHECK int store_deadline_due(struct store_conn *c, int limit,
                                      cJSON **out, int64_t *next_ms,
                                      struct weir_err *err);

/* What the chore reads of a run, its row locked. */
struct store_deadline_row {
    bool active;          /* queued or running */
    bool timeout_due;     /* running, past timeout_at, no error yet */
    bool deadline_due;    /* unfinished, past deadline_at, not late */
    int64_t version_id;   /* its DAG version */
    char deadline_at[40]; /* RFC 3339, "" when none */
};

/* Read run_id, whose row the caller locked; WEIR_ENOTFOUND for no such
 * run. */
WEIR_MUSTCHECK int store_deadline_row(struct store_conn *c, int64_t run_id,
                                      struct store_deadline_row *out,
                                      struct weir_err *err);

/* Mark run_id late now; *at gets late_at as exact text (for the
 * notification's key) and *iso as RFC 3339 (each 40 bytes). */
WEIR_MUSTCHECK int store_deadline_mark_late(struct store_conn *c,
                                            int64_t run_id, char *at, char *iso,
                                            struct weir_err *err);

/* Record why the engine ended run_id (shown as the run's error). */
WEIR_MUSTCHECK int store_deadline_error(struct store_conn *c, int64_t run_id,
                                        const char *error,
                                        struct weir_err *err);

#endif
