/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The deadline chore: a thread that ends runs past their run_timeout and
 * marks late the runs past their deadline (engine/deadline.h), then
 * sleeps until the next such time, but never longer than
 * CHORE_DEADLINE_MS, since a run created meanwhile may be due sooner.
 * It waits for the server's public URL (the link of its notifications)
 * before its first pass. Everything it decides is in the database, so a
 * restart picks up where it left off.
 */
#ifndef WEIR_JOBS_DEADLINE_H
#define WEIR_JOBS_DEADLINE_H

#include "engine/engine.h"

struct deadlines;

/* Start the thread over e (borrowed; it must outlive the chore).
 * Returns 0 with *out, or WEIR_ENOMEM / WEIR_EINTERNAL. */
WEIR_MUSTCHECK int deadline_chore_start(struct engine *e,
                                        struct deadlines **out,
                                        struct weir_err *err);

/* Stop the thread and free it; NULL is a no-op. */
void deadline_chore_stop(struct deadlines *d);

#endif
