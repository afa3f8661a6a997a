/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The leader of several servers on one database: the one that runs the
 * duties that must run once (cron and catch-up, the DAGs folder and file
 * triggers, event retention, lease expiry, notifications, backfills,
 * deadlines). Every server serves the API and the workers.
 *
 * Thread "weir-leader" tries the leader lock every CHORE_LEADER_MS on a
 * connection of its own (store/leader.h). The winner adds one to the
 * epoch, then starts the duties (up); from then on it pings its session
 * every CHORE_LEADER_MS and steps down (down, at once) when the session
 * is lost, the epoch moved, or a fenced write found it deposed
 * (store_fence_broken()). A server that stepped down waits
 * CHORE_LEADER_BACKOFF_MS (or half the timeout, if longer) before it
 * competes again, so that another one takes over. The duties' writes are
 * fenced by the epoch: each such thread calls store_fence_enter().
 */
#ifndef WEIR_JOBS_LEADER_H
#define WEIR_JOBS_LEADER_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define LEADER_NAME_MAX 128 /* bytes of a server's name and its NUL */

struct leader;

/* What GET /api/v1/health and /metrics report. */
struct leader_status {
    bool leader;                       /* this server leads */
    int64_t epoch;                     /* the latest epoch seen */
    char name[LEADER_NAME_MAX];        /* this server's name */
    char leader_name[LEADER_NAME_MAX]; /* the latest leader's */
};

/* How to run the election and the duties. */
struct leader_config {
    const char *url;  /* the database (borrowed) */
    const char *name; /* this server's name (copied) */
    int timeout_s;    /* a lost leader is replaced within this */
    int (*up)(void *arg, struct weir_err *err); /* start the duties */
    void (*down)(void *arg); /* stop them (those up started) */
    void *arg;               /* for up and down */
};

/*
 * Make a first attempt at once (when it wins, the duties are up before
 * this returns: a lone server has loaded its DAGs folder before it
 * serves), then start the thread. Returns 0 with *out; WEIR_ENOMEM,
 * WEIR_EINTERNAL, or what up returned on that first attempt.
 */
WEIR_MUSTCHECK int leader_start(const struct leader_config *cfg,
                                struct leader **out, struct weir_err *err);

/* Step down if leading (the duties stop), stop the thread, free it.
 * NULL is a no-op. */
void leader_stop(struct leader *l);

/* This server's name, once known (the listening address when --name
 * was not given): the session and, when leading, the row are renamed at
 * the next round. Any thread; a no-op on NULL. */
void leader_rename(struct leader *l, const char *name);

/* The current status; any thread. */
void leader_status_get(struct leader_status *out);

#endif
