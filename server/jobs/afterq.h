/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The after-firing chore: a thread that makes the after and data
 * firings queued by runs' ends and new data versions (engine/after.h,
 * after_pass()), woken by the work hub's bumps (a commit that queued
 * one bumps it), and every CHORE_AFTER_MS anyway. The queue is in the
 * database, so a restart fires what a crash left.
 */
#ifndef WEIR_JOBS_AFTERQ_H
#define WEIR_JOBS_AFTERQ_H

#include "engine/engine.h"

struct afterq;

/* Start the thread over e (borrowed; it must outlive the chore).
 * Returns 0 with *out, or WEIR_ENOMEM / WEIR_EINTERNAL. */
WEIR_MUSTCHECK int afterq_start(struct engine *e, struct afterq **out,
                                struct weir_err *err);

/* Stop the thread and free it; NULL is a no-op. */
void afterq_stop(struct afterq *q);

#endif
