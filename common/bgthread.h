/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A background thread that works in rounds: round(arg) does one pass and
 * returns how long to wait before the next, in milliseconds. The wait is
 * on CLOCK_MONOTONIC, so a change of the wall clock neither stalls nor
 * hurries a chore; bgthread_wake() starts the next round now, and
 * bgthread_stop() ends the wait at once, lets a round in progress finish,
 * and joins. Every background chore of the server that is not on the
 * scheduler's libuv loop runs on one of these (lease expiry, webhook
 * notifications, the HTTP connection watchdog).
 */
#ifndef WEIR_BGTHREAD_H
#define WEIR_BGTHREAD_H

#include <stdint.h>

#include "err.h"

struct bgthread;

/*
 * Start a thread named name (at most 15 bytes are shown by ps and gdb)
 * that runs round(arg) at once, then again after each returned wait (a
 * wait < 0 counts as 0). Returns 0 with *out, or WEIR_ENOMEM /
 * WEIR_EINTERNAL with err naming the thread.
 */
WEIR_MUSTCHECK int bgthread_start(const char *name, int64_t (*round)(void *arg),
                                  void *arg, struct bgthread **out,
                                  struct weir_err *err);

/* Run the next round without waiting out the current wait; any thread. */
void bgthread_wake(struct bgthread *t);

/* Stop the thread (a round in progress finishes first), join it and free
 * it. NULL is a no-op. Not from the thread itself. */
void bgthread_stop(struct bgthread *t);

#endif
