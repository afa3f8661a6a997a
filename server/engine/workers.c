/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the worker protocol writes besides leases and completions: a
 * worker registered and bound to its token, an attempt's heartbeat, and
 * its log lines. Every call on an attempt is fenced by its lease id; a
 * stale one changes nothing and gets engine_stale_lease()'s message.
 */
#include "engine/engine.h"

#include "store/store.h"

int engine_stale_lease(struct weir_err *err, int64_t attempt_id)
{
    return weir_err_set(err, WEIR_ECONFLICT,
                        "the lease of attempt %lld is stale: the attempt "
                        "finished, expired or was leased again",
                        (long long)attempt_id);
}

int engine_worker_register(struct engine *e, const struct engine_worker *w,
                           int64_t *id, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int64_t wid = 0;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = store_tx_begin(c, err);
    if (rc == 0)
        rc = store_worker_register(c, w->name, w->queues, w->slots, w->labels,
                                   &wid, err);
    if (rc == 0)
        rc = store_worker_bind(c, wid, w->token_id, err);
    if (rc == 0)
        rc = store_tx_commit(c, err);
    else if (c != NULL)
        store_tx_rollback(c);
    store_conn_put(c);
    if (rc == 0)
        *id = wid;
    return rc;
}

int engine_attempt_beat(struct engine *e, int64_t attempt_id,
                        const char *lease_id, bool *cancel,
                        struct weir_err *err)
{
    struct store_conn *c = NULL;
    bool held = true;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = store_attempt_beat(c, attempt_id, lease_id, e->lease_ttl_ms,
                                cancel, &held, err);
    store_conn_put(c);
    return rc == 0 && !held ? engine_stale_lease(err, attempt_id) : rc;
}

int engine_logs_append(struct engine *e, int64_t attempt_id,
                       const char *lease_id, const char *lines,
                       const char *capped, int *inserted, struct weir_err *err)
{
    struct store_conn *c = NULL;
    bool held = true;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = store_logs_append(c, attempt_id, lease_id, lines, capped, inserted,
                               &held, err);
    store_conn_put(c);
    return rc == 0 && !held ? engine_stale_lease(err, attempt_id) : rc;
}
