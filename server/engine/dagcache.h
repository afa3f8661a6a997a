/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loaded DAG versions in memory, keyed by version id. A struct dag is
 * immutable, so threads share one by reference count: a borrower holds it
 * from dagcache_acquire() (or dagcache_insert()) to dagcache_release().
 * The cache is only a cache: whatever is missing is loaded again from the
 * source text stored in dag_versions.
 */
#ifndef WEIR_DAGCACHE_H
#define WEIR_DAGCACHE_H

#include <stdint.h>

#include "dag.h"

struct dagcache;

/* A new, empty cache; NULL when out of memory. */
struct dagcache *dagcache_new(void);

/* Free the cache and every DAG in it; nothing may be borrowed any more.
 * dagcache_free(NULL) is a no-op. */
void dagcache_free(struct dagcache *cache);

/* The DAG of version_id with one more reference, or NULL when it is not
 * cached. */
const struct dag *dagcache_acquire(struct dagcache *cache, int64_t version_id);

/*
 * Cache dag (taken) as version_id and return it with one reference for the
 * caller. When another thread cached that version first, dag is freed and
 * the cached one is returned. NULL only when out of memory (dag is freed).
 */
const struct dag *dagcache_insert(struct dagcache *cache, int64_t version_id,
                                  struct dag *dag);

/* Drop a reference from dagcache_acquire() or dagcache_insert().
 * dagcache_release(cache, NULL) is a no-op. */
void dagcache_release(struct dagcache *cache, const struct dag *dag);

#endif
