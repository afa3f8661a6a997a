/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Notifications out: `on_success: {webhook: URL}` and `on_failure:
 * {webhook: URL}` of a DAG become a JSON POST when a run of it finishes.
 *
 * Design: a thread of its own, so a slow or dead receiver never delays
 * scheduling or the API. About once a second it (1) reads the runs that
 * finished after its cursor (a row in the database), finds each run's
 * hooks in the run's own DAG version, queues a delivery for each webhook
 * and moves the cursor, in one transaction, so a restart neither loses
 * nor repeats one; then (2) POSTs the deliveries that are due with
 * libcurl (5 s timeout each). A 2xx answer delivers it; anything else is
 * tried again after 2, 4, 8, ... seconds (at most 5 minutes), up to
 * NOTIFY_TRIES times. The body is {run_id, dag, state, reason,
 * failed_steps, finished_at, link}; link is WEIR_PUBLIC_URL (the
 * server's environment, e.g. http://weir.example:8080) + "/runs/ID", or
 * the path alone without it. A run retried and finished again is
 * notified again.
 */
#ifndef WEIR_NOTIFY_H
#define WEIR_NOTIFY_H

#include "engine.h"

#define NOTIFY_PERIOD_MS 1000 /* between two passes */

struct notify;

/* Start the thread over e (borrowed). Returns 0 with *out, or
 * WEIR_EINTERNAL / WEIR_ENOMEM. */
WEIR_MUSTCHECK int notify_start(struct engine *e, struct notify **out,
                                struct weir_err *err);

/* Stop the thread (a delivery in progress finishes first) and free it.
 * NULL is a no-op. */
void notify_stop(struct notify *n);

#endif
