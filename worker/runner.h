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
 * A buffer in a call's body belongs to that call until its after-work
 * callback: the loop never frees what a pool thread may be reading.
 *
 * A lease long-poll is open while a slot is free, and a "max": 0 one
 * while every slot is busy and a command runs: both bring the ids of
 * running attempts whose run was canceled (the server answers at once),
 * so a cancel stops the process group within a round trip, not at the
 * next heartbeat. An
 * attempt whose lease (lease_ttl_ms in its document, counted from when
 * the answer reached the host) ends within lease_margin_ms is not
 * started. Failed calls back off per kind; while the server cannot be
 * reached it is probed (GET /api/v1/health) every 250 ms, and the first
 * call that gets through resets every backoff and sends what waited.
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
    uint64_t lease_margin_ms;     /* start no attempt this close to its
                                     lease's end */
    const char *run_as;           /* user steps run as, or NULL */
    unsigned run_uid;             /* run_as's uid, owner of its folders */
    unsigned run_gid;             /* run_as's primary gid */
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

/* Whether the runner stopped on its own for a cause retries cannot mend
 * (the server refused the worker's protocol version): the worker then
 * exits non-zero. */
bool runner_failed(const struct runner *r);

/* Free the runner after closed_cb; runner_free(NULL) is a no-op. */
void runner_free(struct runner *r);

#endif
