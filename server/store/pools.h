/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pools table (named sets of slots shared by every DAG, not the
 * connection pool of pool.h) and the claim of pooled tasks.
 *
 * A pool's slots in use are never counted in a column: they are the sum
 * of pool_slots over the pool's running tasks, read under the pool row's
 * lock by the claim, so that no end of an attempt (success, failure, lost
 * lease, cancel) has a counter to give back.
 */
#ifndef WEIR_STORE_POOLS_H
#define WEIR_STORE_POOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "store/attempts.h"
#include "store/pool.h"

/*
 * Create pool name with `slots` slots, or set the slots of the existing
 * one (*created says which). WEIR_EINVAL for a name or count that the
 * table refuses.
 */
WEIR_MUSTCHECK int store_pool_set(struct store_conn *c, const char *name,
                                  int slots, bool *created,
                                  struct weir_err *err);

/*
 * The DAGs whose current version names pool `name` (loaded, not
 * deleted), as a new JSON array of ids, sorted; *exists says whether the
 * pool exists. Locks the pool row: run inside a transaction.
 */
WEIR_MUSTCHECK int store_pool_users(struct store_conn *c, const char *name,
                                    bool *exists, cJSON **dags,
                                    struct weir_err *err);

/* Delete pool name; WEIR_ENOTFOUND when there is none. */
WEIR_MUSTCHECK int store_pool_delete(struct store_conn *c, const char *name,
                                     struct weir_err *err);

/*
 * The slots of each of the n pools names[] into slots[] (-1 for a pool
 * that does not exist).
 */
WEIR_MUSTCHECK int store_pools_slots(struct store_conn *c,
                                     const char *const *names, size_t n,
                                     int *slots, struct weir_err *err);

/* Record that DAG id's current version names the n pools names[]. */
WEIR_MUSTCHECK int store_dag_pools_set(struct store_conn *c, const char *id,
                                       const char *const *names, size_t n,
                                       struct weir_err *err);

/*
 * The claim of pooled tasks, in c's open transaction: the rows of the
 * pools with room and claimable tasks in worker_id's queues are locked
 * (in name order), then, per pool, the most urgent tasks whose slots fit
 * in what is free (a task that does not fit holds back the less urgent
 * ones, so that a task taking many slots is not starved), are claimed as
 * store_task_claim() does: up to max claims appended to v[*n...], *spare
 * grows by the fitting tasks held locked but not taken. Tasks of capped
 * DAGs also respect their DAG's cap; a capped DAG whose row another claim
 * holds is left for the next claim. A task needing more slots than its
 * pool has (the pool was made smaller) is claimed with pool_size set so
 * that the caller fails it.
 */
WEIR_MUSTCHECK int store_task_claim_pooled(struct store_conn *c,
                                           int64_t worker_id, int max,
                                           int64_t ttl_ms,
                                           struct store_claim *v, size_t *n,
                                           int *spare, struct weir_err *err);

#endif
