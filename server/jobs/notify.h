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
 * nor repeats one; then (2) POSTs the deliveries that are due with the
 * shared HTTP client, common/httpc.h (5 s timeout each). A 2xx answer
 * delivers it; anything else is tried again after 2, 4, 8, ... seconds
 * (at most 5 minutes), up to NOTIFY_TRIES times. The body is {run_id, dag,
 * state, reason, error, failed_steps, finished_at, link} (error: why the
 * engine ended the run, such as "run timeout 2h", else null); link opens the
 * run in the dashboard: the server's public URL (--public-url, by default its
 * own listen address) + "/#/runs/ID". Runs are queued only once that URL is
 * known. The receiver's answer body is read and discarded; its status is
 * logged. A run retried and finished again is notified again.
 */
#ifndef WEIR_NOTIFY_H
#define WEIR_NOTIFY_H

#include "engine/engine.h"

struct notify;

/*
 * The URL the dashboard is reached at (such as https://weir.example or
 * http://127.0.0.1:8080; a trailing "/" is dropped), copied, for the
 * links of the notifications queued from now on. Callable from any
 * thread; until the first call no run is queued for notification.
 */
void notify_set_public_url(const char *url);

/* Copy that URL into buf (len bytes, cut to fit); false while it is not
 * known yet. Any thread. */
bool notify_public_url(char *buf, size_t len);

/* Start the thread over e (borrowed). Returns 0 with *out, or
 * WEIR_EINTERNAL / WEIR_ENOMEM. */
WEIR_MUSTCHECK int notify_start(struct engine *e, struct notify **out,
                                struct weir_err *err);

/* Stop the thread (a delivery in progress finishes first) and free it.
 * NULL is a no-op. */
void notify_stop(struct notify *n);

#endif
