/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The claim order between capped and uncapped DAGs, and the self-ANALYZE
 * of young tables (engine/policy.h).
 */
#include "engine/policy.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "log.h"
#include "store/store.h"

/*
 * Set when an uncapped claim took every slot while a capped DAG had room
 * and work: the next claim serves capped DAGs first.
 */
static atomic_bool capped_first;

/*
 * Set when an unpooled claim took every slot while a pool had room and
 * work: the next claim serves pools first.
 */
static atomic_bool pooled_first;

int policy_task_claim(struct store_conn *c, int64_t worker_id, int max,
                      int64_t ttl_ms, struct store_claim **out, size_t *n,
                      int64_t *retry_ms, int *spare, struct weir_err *err)
{
    struct store_claim *v = calloc(max > 0 ? (size_t)max : 1, sizeof(*v));
    bool capped = false, first = atomic_exchange(&capped_first, false);
    bool pooled = false,
         pfirst = !first && atomic_exchange(&pooled_first, false);
    size_t k = 0;
    int rc = 0;

    if (v == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    *retry_ms = -1;
    *spare = 0;
    if (first)
        rc = store_task_claim_capped(c, worker_id, max, ttl_ms, v, &k, spare,
                                     err);
    else if (pfirst)
        rc = store_task_claim_pooled(c, worker_id, max, ttl_ms, v, &k, spare,
                                     err);
    if (rc == 0 && k < (size_t)max)
        rc = store_task_claim(c, worker_id, max - (int)k, ttl_ms, v, &k,
                              retry_ms, spare, &capped, &pooled, err);
    /* Lock order: DAG rows (the capped claim) before pool rows (the
     * pooled claim), never after: a claim that served pools first leaves
     * capped DAGs to the next one. */
    if (rc == 0 && capped && !first && !pfirst && k < (size_t)max)
        rc = store_task_claim_capped(c, worker_id, max - (int)k, ttl_ms, v, &k,
                                     spare, err);
    else if (rc == 0 && capped && !first)
        atomic_store(&capped_first, true);
    if (rc == 0 && pooled && !pfirst && k < (size_t)max)
        rc = store_task_claim_pooled(c, worker_id, max - (int)k, ttl_ms, v, &k,
                                     spare, err);
    else if (rc == 0 && pooled && !pfirst)
        atomic_store(&pooled_first, true);
    /* The wait for a retry matters only when nothing was claimed. */
    if (k > 0)
        *retry_ms = -1;
    if (rc < 0) {
        free(v);
        return rc;
    }
    *out = v;
    *n = k;
    return 0;
}

/*
 * Statistics for young tables. Statements are prepared once per pooled
 * connection and PostgreSQL keeps a generic plan for each, built from
 * what the tables looked like then; on a new database that is an almost
 * empty tasks table, for which a sequential scan beats any index, and the
 * plan stays while the table grows, until autovacuum next analyzes it
 * (up to a minute or more later, plans of every connection then made
 * again). So while this server has inserted few tasks, it analyzes tasks
 * and attempts itself each time the count it inserted grows fourfold,
 * from ANALYZE_FIRST on, in the transaction that inserted them (skipping
 * a table a vacuum holds, never waiting); past ANALYZE_LAST autovacuum
 * alone keeps the statistics.
 */
#define ANALYZE_FIRST 1000L
#define ANALYZE_LAST  300000L

static atomic_long tasks_inserted;
static atomic_long analyze_at = ANALYZE_FIRST;

int policy_tasks_insert(struct store_conn *c, int64_t run_id, int priority,
                        const char *tasks_json, struct weir_err *err)
{
    int64_t added = 0;
    int rc = store_tasks_insert(c, run_id, priority, tasks_json, &added, err);
    long total, at;

    if (rc < 0)
        return rc;
    total = atomic_fetch_add(&tasks_inserted, (long)added) + (long)added;
    at = atomic_load(&analyze_at);
    if (total < at || at > ANALYZE_LAST ||
        !atomic_compare_exchange_strong(&analyze_at, &at, at * 4))
        return 0;
    log_info("event=analyze tables=tasks,attempts tasks_inserted=%ld", total);
    return store_tasks_analyze(c, err);
}
