/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The statements of step caching (table step_cache, migration 0017):
 * the lookup at the claim of a cached step, the fill at a successful
 * completion, a run's no_cache flag and the cleanup of expired entries.
 * Keys arrive hashed (64 lowercase hex digits); no raw key is stored.
 * Every function runs inside the caller's transaction, if any.
 */
#ifndef WEIR_STORE_CACHE_H
#define WEIR_STORE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/pool.h"

/*
 * Give attempt_id (just claimed, of run_id) its key hash, and look the
 * hash up: *from gets the attempt of an unexpired entry, recorded as the
 * attempt's cached_from_attempt_id, or 0 when there is none or the run
 * was made with no_cache. One statement.
 */
WEIR_MUSTCHECK int store_cache_claim(struct store_conn *c, int64_t attempt_id,
                                     int64_t run_id, const char *key_hash,
                                     int64_t *from, struct weir_err *err);

/*
 * The outputs (JSON object text, a new string the caller frees) of the
 * attempt that attempt_id was cached from; WEIR_ENOTFOUND when that
 * attempt is gone.
 */
WEIR_MUSTCHECK int store_cache_outputs(struct store_conn *c, int64_t attempt_id,
                                       char **outputs, struct weir_err *err);

/*
 * Fill the cache from attempt_id, which succeeded with outputs (JSON
 * text, or NULL for none), under the key hash it was claimed with, for
 * ttl_ms; an attempt claimed without a key fills nothing. An entry of
 * the same key is replaced.
 */
WEIR_MUSTCHECK int store_cache_fill(struct store_conn *c, int64_t attempt_id,
                                    int64_t ttl_ms, const char *outputs,
                                    struct weir_err *err);

/*
 * Give a try back to the task of attempt_id (running) when that attempt
 * is a cache hit no worker ran: hit says it is one, else it is when its
 * cached_from_attempt_id is set. Its task, still running that try, gets
 * max_tries one more; *given says whether it did.
 */
WEIR_MUSTCHECK int store_cache_give_try(struct store_conn *c,
                                        int64_t attempt_id, bool hit,
                                        bool *given, struct weir_err *err);

/* Mark run_id as made with no_cache: its claims skip the lookups. */
WEIR_MUSTCHECK int store_run_no_cache(struct store_conn *c, int64_t run_id,
                                      struct weir_err *err);

/* Delete up to limit expired entries; *deleted gets how many. */
WEIR_MUSTCHECK int store_cache_prune(struct store_conn *c, int limit,
                                     int64_t *deleted, struct weir_err *err);

#endif
