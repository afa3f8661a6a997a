/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scheduling policy that storage does not hold: which claim goes first
 * when DAGs with a concurrency cap compete with uncapped work for a
 * worker's slots, and when the server refreshes the planner's statistics
 * of young tables itself. store/ runs the statements; the choices are
 * here, in process-wide state every thread may touch.
 */
#ifndef WEIR_ENGINE_POLICY_H
#define WEIR_ENGINE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/*
 * Claim up to max tasks for worker_id, each leased for ttl_ms, as a new
 * array *out of *n claims (free()); *retry_ms and *spare as
 * store_task_claim() says. Tasks of uncapped DAGs are claimed first;
 * when that claim leaves slots free and a capped DAG with room waits,
 * the capped claim fills them. When the uncapped claim took every slot
 * while a capped DAG waited, the next claim (of any worker) serves capped
 * DAGs first: turns so taken keep a backlog of uncapped work from holding
 * capped DAGs back for ever.
 * Pooled tasks are claimed after both (store_task_claim_pooled()), and
 * get turns the same way.
 */
WEIR_MUSTCHECK int policy_task_claim(struct store_conn *c, int64_t worker_id,
                                     int max, int64_t ttl_ms,
                                     struct store_claim **out, size_t *n,
                                     int64_t *retry_ms, int *spare,
                                     struct weir_err *err);

/*
 * Insert the tasks of run run_id (store_tasks_insert()) and, in the same
 * transaction, refresh the statistics of tasks and attempts while this
 * server has inserted few tasks (see policy.c).
 */
WEIR_MUSTCHECK int policy_tasks_insert(struct store_conn *c, int64_t run_id,
                                       int priority, const char *tasks_json,
                                       struct weir_err *err);

#endif
