/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's main loop logic: register with the server, lease attempts
 * while slots are free, run each through attempt.h and executor.h, stream
 * its lines, heartbeat its lease, and report its end.
 *
 * Design. Everything here runs on one libuv loop thread. HTTP calls block,
 * so each is a uv_queue_work() job whose result comes back to the loop in
 * the after-work callback; the thread pool must have room for a lease
 * long-poll plus a heartbeat, a log batch and a completion per slot (main
 * sizes UV_THREADPOOL_SIZE). Per attempt, at most one log batch is in
 * flight; lines wait in a bounded buffer, a failed batch is sent again
 * (the server ignores sequence numbers it already has), and the
 * completion goes only after the last batch. A 409 on a heartbeat or a log
 * batch means the lease is stale: the attempt is stopped and not reported.
 */
#ifndef WEIR_RUNNER_H
#define WEIR_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "client.h"
#include "err.h"
#include "logspool.h"

struct runner_config {
    const char *name;             /* the worker's name at registration */
    const char *const *queues;    /* queues served */
    size_t n_queues;              /* entries in queues */
    int slots;                    /* attempts run at once, >= 1 */
    const char *dags_dir;         /* the DAG folder workdirs resolve in */
    const char *scratch_dir;      /* where attempt folders are made */
    uint64_t shutdown_grace_ms;   /* after runner_stop(), before cancel */
    struct logspool_cap log_cap;  /* what of a log is uploaded; 0s: all */
    void (*closed_cb)(void *ctx); /* the runner has nothing left to do */
    void *ctx;                    /* for closed_cb */
};

struct runner;

/*
 * A runner on loop using client (both borrowed; they must outlive it).
 * cfg's strings are borrowed too. Nothing happens before runner_start().
 */
WEIR_MUSTCHECK int runner_new(uv_loop_t *loop, struct client *client,
                              const struct runner_config *cfg,
                              struct runner **out, struct weir_err *err);

/* Register, then lease and run attempts until runner_stop(). */
void runner_start(struct runner *r);

/*
 * Stop leasing. Running attempts may finish within the shutdown grace;
 * then they are canceled (SIGTERM, SIGKILL after their own grace) and
 * reported. With `now` (a second signal), cancel them at once. When
 * nothing is left, closed_cb is called; the loop then only holds the
 * caller's own handles.
 */
void runner_stop(struct runner *r, bool now);

/* Free the runner after closed_cb; runner_free(NULL) is a no-op. */
void runner_free(struct runner *r);

#endif
