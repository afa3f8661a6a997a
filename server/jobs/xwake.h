/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wake-ups across servers: several servers on one database tell each
 * other of their commits with PostgreSQL's LISTEN/NOTIFY, so that a run
 * triggered, a task freed or a run canceled through one server reaches
 * the long-polls (lease and cancel) waiting in every other within
 * milliseconds, and a DAG paused, unpaused or changed through one
 * server's API reaches every other server's scheduler.
 *
 * Design: one thread, "weir-xwake", owns a dedicated session
 * (store/listen.h; application_name weir-server-listen), LISTENing on
 * STORE_CHAN_WAKE and STORE_CHAN_DAG. A local bump of the work hub
 * (hub_set_bump_hook()) and a local sched_dag_changed()
 * (sched_set_change_hook()) only set a flag and, when it was clear,
 * write an eventfd: they never block. The thread waits with poll() on
 * that eventfd and on the session's socket; it sends one NOTIFY per
 * flag it finds set (bumps made while one is being sent make one more
 * after it), and turns each notification of another server into a bump
 * of the local hub (hub_bump_remote(): not sent on again) or a refresh
 * of the local scheduler (sched_dag_refresh()). A server skips its own
 * notifications by the backend pid of its session.
 *
 * When the session is lost (database restart, failover, a terminated
 * backend) the thread logs event=listen_lost and reconnects with a
 * backoff from XWAKE_BACKOFF_MIN_MS doubling to XWAKE_BACKOFF_MAX_MS
 * (each attempt is libpq's blocking connect, which gives each host of a
 * multi-host URL its connect_timeout); once
 * listening again (event=listen_restored) it bumps the local hub, asks
 * the local scheduler for a refresh and sends one wake-up to the others,
 * since notifications sent meanwhile are lost either way.
 */
#ifndef WEIR_JOBS_XWAKE_H
#define WEIR_JOBS_XWAKE_H

#include "engine/hub.h"
#include "err.h"

#define XWAKE_APP_NAME       "weir-server-listen" /* application_name */
#define XWAKE_BACKOFF_MIN_MS 50   /* first wait before a reconnect */
#define XWAKE_BACKOFF_MAX_MS 1000 /* longest wait between two reconnects */

struct xwake;

/*
 * Connect to the database at url (copied) and start the thread over hub
 * (borrowed; it must outlive it), then set the hub's bump hook and the
 * scheduler's change hook. A database that cannot be reached now does
 * not fail the start: the thread keeps trying (event=listen_lost).
 * Returns 0 with *out, or WEIR_ENOMEM / WEIR_EINTERNAL.
 */
WEIR_MUSTCHECK int xwake_start(const char *url, struct hub *hub,
                               struct xwake **out, struct weir_err *err);

/* Clear both hooks, stop the thread, close the session and free it;
 * NULL is a no-op. A connection attempt in progress (the database is
 * unreachable) is waited for: at most connect_timeout per host. */
void xwake_stop(struct xwake *x);

#endif
