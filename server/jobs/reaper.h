/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lease expiry: a thread that marks attempts whose lease deadline passed
 * as lost (their tasks retried while tries remain).
 *
 * It sleeps until the earliest lease deadline, but never longer than the
 * lease TTL: a lease created while it sleeps ends a full TTL after its
 * creation, so it is never due before the thread wakes, and no wake-up on
 * new leases is needed. While the database is down it retries every
 * second.
 */
#ifndef WEIR_REAPER_H
#define WEIR_REAPER_H

#include "engine/engine.h"

struct reaper;

/* Start the thread over e (borrowed; it must outlive the reaper).
 * Returns 0 with *out, or WEIR_ENOMEM / WEIR_EINTERNAL. */
WEIR_MUSTCHECK int reaper_start(struct engine *e, struct reaper **out,
                                struct weir_err *err);

/* Stop the thread and free it; reaper_stop(NULL) is a no-op. */
void reaper_stop(struct reaper *r);

#endif
