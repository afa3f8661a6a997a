/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Step caching in the engine (docs/dag-format.md, "Step caching"). At the
 * claim of a task of a step with `cache:`, its key is computed from the
 * attempt document just rendered and looked up; on a hit the attempt is
 * not sent to the worker but finished as a success with the outputs of
 * the attempt it reuses (cache_finish(), after the claim's commit). A
 * successful attempt claimed with a key fills the cache when it
 * completes (cache_fill(), in the completion's transaction). Steps
 * without `cache:` cost nothing here.
 */
#ifndef WEIR_ENGINE_CACHE_H
#define WEIR_ENGINE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "engine/engine.h"

struct dag_step;
struct run_ctx;
struct outcome;
struct store_claim;
struct store_attempt;
struct store_conn;
struct store;

/*
 * The SHA-256 (hex) of the cache key of task i of x, whose attempt
 * document is doc: the DAG and step ids and the matrix cell, with either
 * the rendered `cache: {key}` and the run's environment or, by default,
 * the rendered command, env and workdir, the run's params and
 * environment, its logical time when it was given one, its trigger's kind
 * and payload, the upstream outputs given, the DAG file's path and the
 * DAG version's hash. A key template that fails to render is the
 * attempt's failure (err says why).
 */
WEIR_MUSTCHECK int cache_key_hash(struct run_ctx *x, size_t i, const cJSON *doc,
                                  char hex[65], struct weir_err *err);

/*
 * Finish the claimed attempt of cl, found in the cache (its
 * cached_from_attempt_id set at the claim), as a success with the outputs
 * of the attempt it reuses, in a transaction of its own. An attempt no
 * longer running is left alone; one whose source is gone fails (it may
 * be retried, and then runs).
 */
WEIR_MUSTCHECK int cache_finish(struct engine *e, struct store_conn *c,
                                const struct store_claim *cl,
                                struct weir_err *err);

/*
 * Attempt a (running, locked) ends without its cache hit finished: its
 * lease expired (the server stopped, or its finish failed, between the
 * claim's commit and cache_finish()), or (hit true) the attempt it reused
 * is gone. When a is such a hit (hit, or its cached_from_attempt_id is
 * set), no worker ran it: the try is given back to its task (max_tries
 * one more) and o->untried set, so that the task becomes claimable again
 * at once instead of counting a lost or failed try. Else nothing changes.
 */
WEIR_MUSTCHECK int cache_untried(struct store_conn *c,
                                 const struct store_attempt *a, bool hit,
                                 struct outcome *o, struct weir_err *err);

/* Fill the cache from attempt a of x, of step st, which ended as o says
 * (nothing unless a success that did not come from the cache). */
WEIR_MUSTCHECK int cache_fill(struct run_ctx *x, const struct dag_step *st,
                              const struct store_attempt *a,
                              const struct outcome *o, struct weir_err *err);

/* Delete expired entries in batches of CACHE_PRUNE_BATCH, each its own
 * statement, at most CACHE_PRUNE_ROUNDS of them, and log what was done
 * (run by the event retention chore, jobs/chores.h). */
#define CACHE_PRUNE_BATCH  500 /* entries per statement */
#define CACHE_PRUNE_ROUNDS 100 /* statements per prune */
void cache_prune_logged(struct store *st);

#endif
