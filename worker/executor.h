/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Run one command as its own process group on a libuv loop, capture its
 * output as timestamped lines, and stop it on timeout or cancel.
 *
 * Design. The command runs as `/bin/sh -c COMMAND`, spawned with
 * POSIX_SPAWN_SETSID so that it leads a new session and process group;
 * signals go to the whole group (kill(-pid, sig)) and so reach everything
 * the command started that did not leave the group itself. Stopping is
 * SIGTERM to the group, then SIGKILL to the group after the grace period.
 * stdout and stderr are pipes read on the loop and split into lines. The
 * run is complete when the command has exited and both pipes reached EOF.
 * A process left behind may keep a pipe open after the command exited; the
 * executor then waits at most `linger_ms` for EOF, kills the group, reads
 * what the pipes still hold and closes them itself, so completion never
 * hangs (the result's output_cut says it happened). When the run is
 * complete, anything still in the group is killed with SIGKILL: an attempt
 * leaves nothing running behind it. Each group is recorded with the
 * worker's guard (guard.h) from its spawn until then, so that it is
 * stopped even when the worker dies. Every function and callback runs on
 * the loop's thread.
 *
 * The group is addressed by the leader's pid. Until the leader has been
 * reaped that id cannot name another group. After that it stays reserved
 * for as long as one member of the group lives, which is the case the kill
 * after exit is for; when no member is left the kill finds nothing, unless
 * the pid space wrapped around within the linger window and a new group
 * leader got the same number.
 */
#ifndef WEIR_EXECUTOR_H
#define WEIR_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "err.h"

/*
 * The longest line delivered in one piece, in bytes. A longer line is cut
 * into pieces of at most this size, each delivered as a line of its own;
 * a cut never splits a UTF-8 sequence that is complete in the output.
 */
#define EXEC_LINE_MAX 65536

/* How long to wait for EOF on the pipes after exit when linger_ms is 0. */
#define EXEC_LINGER_DEFAULT_MS 2000

/* The output streams, numbered like their file descriptors. */
enum exec_stream {
    EXEC_STDOUT = 1, /* the command's standard output */
    EXEC_STDERR = 2, /* the command's standard error */
};

/* What to run. Every pointer is borrowed for the length of exec_start(). */
struct exec_spec {
    const char *command;    /* shell text, run as /bin/sh -c command */
    const char *cwd;        /* working directory; NULL: the worker's own */
    char *const *env;       /* NULL-terminated "NAME=VALUE"; NULL: ours */
    uint64_t timeout_ms;    /* SIGTERM to the group after this; 0: none */
    uint64_t kill_grace_ms; /* from SIGTERM to SIGKILL; 0: at once */
    uint64_t linger_ms;     /* wait for EOF after exit; 0: the default */
    const char *run_as;     /* user to run as (needs root), or NULL */
};

/* How a run ended, given to the completion callback. */
struct exec_result {
    int64_t exit_code;    /* exit status, or -1 when a signal ended it */
    int term_signal;      /* the signal that ended the command, or 0 */
    bool timed_out;       /* the timeout expired and the group was stopped */
    bool canceled;        /* exec_cancel() stopped the group */
    bool output_cut;      /* a pipe was still open when the linger ran out */
    int64_t start_ms;     /* wall clock at spawn, ms since the epoch */
    uint64_t duration_ms; /* from spawn to the command's exit */
};

struct exec;

/*
 * One line of output: `text` holds `len` bytes without the newline, plus a
 * NUL after them for convenience (the text itself may contain NUL bytes and
 * invalid UTF-8; it is passed on as it came). `time_ms` is the wall clock,
 * in ms since the epoch, when the bytes were read. `text` is valid only
 * during the call. `more` says the line goes on: this is a piece of a line
 * longer than EXEC_LINE_MAX, and the next line of the stream continues it.
 * The callback may call exec_cancel().
 */
typedef void (*exec_line_cb)(void *ctx, enum exec_stream stream,
                             int64_t time_ms, const char *text, size_t len,
                             bool more);

/*
 * The run is complete: called exactly once, after every line was delivered
 * and every libuv handle of the run was closed. The executor frees itself
 * when this callback returns; the struct exec pointer must not be used
 * after that. exec_cancel() from inside the callback is a no-op.
 */
typedef void (*exec_done_cb)(void *ctx, const struct exec_result *result);

/*
 * Start spec->command on loop. On success *out points to the running
 * execution, which lives until done_cb has returned (see exec_done_cb);
 * line_cb (may be NULL) gets every line and done_cb (required) the result,
 * both with ctx. On failure (the shell could not be started, for instance
 * because spec->cwd does not exist) returns a negative WEIR_E* code with err
 * filled, *out is untouched and no callback is ever called; memory already
 * taken is released by the loop's next turn.
 */
WEIR_MUSTCHECK int exec_start(uv_loop_t *loop, const struct exec_spec *spec,
                              exec_line_cb line_cb, exec_done_cb done_cb,
                              void *ctx, struct exec **out,
                              struct weir_err *err);

/*
 * Stop the run: SIGTERM to the group now, SIGKILL after the grace period.
 * When the command has already exited and only the pipes are awaited, stop
 * waiting: kill what is left of the group and complete (the result then
 * keeps the real exit status and canceled stays false). Calling it again,
 * after a timeout, from done_cb, or with NULL does nothing.
 */
void exec_cancel(struct exec *e);

/* argv[1] that starts the worker's binary as the --run-as trampoline. */
#define EXEC_AS_ARG "--exec-as"

/*
 * The trampoline: argv is {binary, EXEC_AS_ARG, USER, PROGRAM, ARG...}.
 * Takes USER's groups, gid and uid (all of them, for good), sets HOME to
 * USER's home, and executes PROGRAM with the environment it was given.
 * Returns only on failure (126), after saying why on stderr, which is the
 * step's log.
 */
int exec_as_main(int argc, char **argv);

/* The process id of the command (also its process group id). */
int exec_pid(const struct exec *e);

#endif
