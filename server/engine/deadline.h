/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Run timeouts and deadlines (docs/dag-format.md, "Run timeouts and
 * deadlines"). A run of a DAG with `run_timeout:` or `deadline:` gets its
 * times when it is created (engine_deadline_arm()); the deadline chore
 * (jobs/deadline.c) calls engine_deadline_pass(), which ends the runs
 * past their timeout and marks late those past their deadline.
 *
 * A run timeout ends every unfinished task of the file's steps in one
 * transaction, as a cancel does: a running task fails with the error
 * "run timeout 2h" (its worker is told to stop the attempt, as for a
 * cancel), the others are canceled; an on_failure hook then runs as after
 * any failure, and the run ends failed with that error. A missed deadline
 * marks the run late once (the flag is in the row), queues a
 * deadline_missed notification to the on_failure webhook in the same
 * transaction, and, with `cancel: true`, cancels the run.
 */
#ifndef WEIR_ENGINE_DEADLINE_H
#define WEIR_ENGINE_DEADLINE_H

#include <cJSON.h>

#include "engine/engine.h"

/*
 * Place the times of new run run_id of DAG d on connection c, inside the
 * transaction that creates it: its run_timeout (timeout_at follows each
 * start) and its deadline, the earlier of finish_within after its logical
 * time (else its creation) and the first succeed_by at or after that
 * time. A backfill run or a manual run given a logical time counts
 * finish_within from its creation and has no succeed_by. Nothing is
 * written for a DAG with neither.
 */
WEIR_MUSTCHECK int engine_deadline_arm(struct store_conn *c,
                                       const struct dag *d, int64_t run_id,
                                       struct weir_err *err);

/*
 * One pass of the chore: every run past its timeout or deadline is
 * handled, each in its own transaction; link_base (the server's public
 * URL, "" when unknown) starts the link of a notification. *next_ms gets
 * the time until the next timeout or deadline, -1 when none is pending.
 * A run that fails to be handled is logged and left for the next pass.
 */
WEIR_MUSTCHECK int engine_deadline_pass(struct engine *e, const char *link_base,
                                        int64_t *next_ms, struct weir_err *err);

/* Deadlines missed since the server started, per DAG, as a new object
 * {dag_id: count} (NULL when out of memory); any thread. */
cJSON *engine_deadline_missed_counts(void);

#endif
