/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The workers table: registration, being seen, and which of a worker's
 * running attempts should stop. Binding a worker to the token that
 * registered it: store/tokens.h.
 */
#ifndef WEIR_STORE_WORKERS_H
#define WEIR_STORE_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "store/pool.h"

/* Insert or update worker `name` (queues: JSON array text, labels: JSON
 * object text); *id gets its id. */
WEIR_MUSTCHECK int store_worker_register(struct store_conn *c, const char *name,
                                         const char *queues, int slots,
                                         const char *labels, int64_t *id,
                                         struct weir_err *err);

/*
 * Record that worker_id was seen (last_seen_at, state online), in a
 * statement of its own. WEIR_ENOTFOUND when the worker is not registered.
 */
WEIR_MUSTCHECK int store_worker_seen(struct store_conn *c, int64_t worker_id,
                                     struct weir_err *err);

/*
 * The running attempts of worker_id that should stop (their task no
 * longer runs this try: the run was canceled), not counting the n_seen
 * ids of seen: *out gets a new array of their ids (free()), *n its
 * length (0: *out is NULL).
 */
WEIR_MUSTCHECK int store_worker_cancels(struct store_conn *c, int64_t worker_id,
                                        const int64_t *seen, size_t n_seen,
                                        int64_t **out, size_t *n,
                                        struct weir_err *err);

#endif
