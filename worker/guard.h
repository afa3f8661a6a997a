/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guard: a small process per worker that stops the worker's steps
 * when the worker dies without stopping them itself (SIGKILL, a crash).
 *
 * Design. guard_start() spawns the worker's own binary in guard mode
 * (posix_spawn of /proc/self/exe, never fork) with the read end of a pipe
 * as its stdin; the worker keeps the write end (close-on-exec, so steps
 * never hold it). The executor records each step's process group when it
 * starts ("+PGID GRACE_MS\n") and when it is over ("-PGID\n"); each record
 * is one write of less than PIPE_BUF bytes, so records never interleave.
 * When the pipe reaches EOF (every copy of the write end closed: the worker
 * exited or died), the guard sends SIGTERM to every group still recorded,
 * SIGKILL after the longest grace recorded (or as soon as they are all
 * gone), and exits. It ignores SIGINT, SIGTERM and SIGHUP: a Ctrl-C or a
 * stop of the worker ends it through the EOF, after the worker.
 *
 * Not covered: a step killed between its spawn and its record (the worker
 * dying in that instant), and processes that leave their step's process
 * group (setsid, setpgid) on purpose.
 */
#ifndef WEIR_GUARD_H
#define WEIR_GUARD_H

#include <stdint.h>

#include "err.h"

/* argv[1] that starts the binary in guard mode. */
#define GUARD_ARG "--guard"

/*
 * Start this process's guard (at most once, before any step runs).
 * Returns 0, or a negative WEIR_E* code with err filled when it could not
 * be started; steps then run unguarded.
 */
WEIR_MUSTCHECK int guard_start(struct weir_err *err);

/* Record that process group pgid started (grace_ms: its kill grace), and
 * that it is over. No-ops without a guard; a failed write is logged once. */
void guard_watch(int pgid, uint64_t grace_ms);
void guard_unwatch(int pgid);

/* Close the pipe (the guard then exits) and reap the guard. */
void guard_stop(void);

/* The guard process itself: reads records from stdin until EOF, stops
 * what is left, returns the exit status. */
int guard_main(void);

#endif
