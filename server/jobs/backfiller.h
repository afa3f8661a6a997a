/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The backfill chore: a thread that creates the next runs of every
 * running backfill (engine_backfill_tick()) every CHORE_BACKFILL_MS, so
 * that a backfill goes on as its runs end, and after a restart from where
 * the plan stored in the database says. While the database is down it
 * retries every CHORE_BACKFILL_RETRY_MS.
 */
#ifndef WEIR_BACKFILLER_H
#define WEIR_BACKFILLER_H

#include "engine/engine.h"
#include "jobs/chores.h"

struct backfiller;

/* Start the thread over e (borrowed; it must outlive the chore). Returns
 * 0 with *out, or WEIR_ENOMEM / WEIR_EINTERNAL. */
WEIR_MUSTCHECK int backfiller_start(struct engine *e, struct backfiller **out,
                                    struct weir_err *err);

/* Stop the thread and free it; backfiller_stop(NULL) is a no-op. */
void backfiller_stop(struct backfiller *b);

#endif
