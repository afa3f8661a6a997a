/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The statements of notifications out (notify.c): finished runs
 * past the notifier's cursor, the queue of webhook deliveries, and their
 * outcomes with the backoff of the next try.
 */
#ifndef WEIR_STORE_NOTIFY_H
#define WEIR_STORE_NOTIFY_H

#include <cJSON.h>

#include "store/pool.h"

#define NOTIFY_TRIES 8 /* deliveries tried before giving up */

/*
 * Up to limit runs that finished after the cursor, oldest first, as a new
 * array *out of {id, dag, version, state, reason, error (why the engine
 * ended it, or null), finished_at (RFC 3339),
 * end (exact text, for the cursor), failed_steps: [...]}.
 */
WEIR_MUSTCHECK int store_notify_finished(struct store_conn *c, int limit,
                                         cJSON **out, struct weir_err *err);

/* Queue a delivery of body (JSON text) to url for run_id's end `end`
 * (nothing when that end is queued already). */
WEIR_MUSTCHECK int store_notify_enqueue(struct store_conn *c, int64_t run_id,
                                        const char *end, const char *url,
                                        const char *body, struct weir_err *err);

/* Move the cursor past run_id, which finished at `end`. */
WEIR_MUSTCHECK int store_notify_cursor(struct store_conn *c, const char *end,
                                       int64_t run_id, struct weir_err *err);

/* Up to limit deliveries due now, as a new array *out of {id, url, body,
 * attempts}. */
WEIR_MUSTCHECK int store_notify_due(struct store_conn *c, int limit,
                                    cJSON **out, struct weir_err *err);

/*
 * Record a try of delivery id: delivered, or failed with error (the next
 * try waits 2^attempts seconds, at most 5 minutes; after NOTIFY_TRIES
 * tries there is none).
 */
WEIR_MUSTCHECK int store_notify_result(struct store_conn *c, int64_t id,
                                       bool ok, const char *error,
                                       struct weir_err *err);

#endif
