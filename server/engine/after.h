/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DAG-to-DAG and data-aware triggers (docs/dag-format.md, "After another
 * DAG" and "Data"). A run that ends fires, in the transaction that ends
 * it, the after triggers that follow its DAG and accept its end (state,
 * when:); an attempt that succeeds with data.name and data.version
 * outputs records that version, and when it is new fires, in the
 * transaction that completes the attempt, the data triggers that follow
 * the dataset. Both fire through engine_fire_in_tx(), so every guard
 * applies. The followers are found through trigger_follows, kept in step
 * with each DAG's current version by after_dag_record(), which also
 * refuses a version whose after triggers close a cycle across DAGs.
 */
#ifndef WEIR_ENGINE_AFTER_H
#define WEIR_ENGINE_AFTER_H

#include "dag.h"
#include "engine/engine.h"

struct run_ctx;
struct store_attempt;

/*
 * Run x (its row locked) just ended: queue the firings of the after
 * triggers following its DAG (after_pending), on x's connection and
 * transaction; after_pass() makes them. A follower whose trigger is gone
 * from its current version is skipped; one whose when: cannot be
 * evaluated gets a suppressed firing saying why. A firing queued marks
 * x->made so that the commit wakes the waiting threads.
 */
WEIR_MUSTCHECK int after_run_ended(struct engine *e, struct run_ctx *x,
                                   struct weir_err *err);

/*
 * Attempt a of x's run succeeded with outputs (JSON object text, or
 * NULL): when they name a dataset (data.name) and its version
 * (data.version) not recorded before, record it and queue the firings
 * of the data triggers following that dataset, as after_run_ended().
 */
WEIR_MUSTCHECK int after_attempt_data(struct engine *e, struct run_ctx *x,
                                      const struct store_attempt *a,
                                      const char *outputs,
                                      struct weir_err *err);

/*
 * Hold the follows lock for recording DAG d as current (c outside a
 * transaction): WEIR_ECONFLICT, with *pos the after trigger's position
 * and err naming the cycle ("a -> b -> a"), when d's after triggers
 * with the other DAGs' close a cycle; then the lock is released. On 0
 * the caller records d, calls after_dag_sync() once d is current, and
 * after_dag_release() in every case.
 */
WEIR_MUSTCHECK int after_dag_check(struct store_conn *c, const struct dag *d,
                                   struct dag_pos *pos, struct weir_err *err);

/* DAG d is current now: make trigger_follows say what it follows. */
WEIR_MUSTCHECK int after_dag_sync(struct store_conn *c, const struct dag *d,
                                  struct weir_err *err);

/* Release the lock after_dag_check() took. */
void after_dag_release(struct store_conn *c);

/*
 * Fire up to max queued firings, oldest first, each in a transaction of
 * its own that takes its row, so each is made exactly once, and none is
 * lost to a crash. The upstream's transaction never locks a follower's
 * DAG row, so two DAGs following each other cannot deadlock. A firing
 * that fails (not a follower changed or gone: skipped) is undone,
 * logged (event=after_fire_failed) and recorded as suppressed; its row
 * is consumed all the same, but for a failure that passes (the database
 * away, a deadlock, a serialization failure): then the pass ends with
 * that error and the row waits for the next. *done: how many were taken.
 */
WEIR_MUSTCHECK int after_pass(struct engine *e, int max, int *done,
                              struct weir_err *err);

#endif
