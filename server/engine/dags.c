/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What happens to DAGs themselves: a loaded document recorded as a
 * version (from the DAGs folder or submitted over the API, one rule for
 * both), an API DAG deleted, a DAG paused or unpaused.
 */
#include "engine/engine.h"

#include "engine/after.h"
#include "store/store.h"

int engine_dag_record(struct dagcache *cache, struct store_conn *c,
                      const char *relpath, struct dag *dag,
                      struct engine_dag_recorded *out, struct weir_err *err)
{
    struct store_dag_api_result res = {0};
    int rc = after_dag_check(c, dag, &out->pos, err);

    if (rc < 0) {
        dag_free(dag);
        return rc;
    }
    if (relpath != NULL)
        rc = store_dag_upsert_file(c, dag->id, relpath, dag->source,
                                   dag->source_len, dag->hash, &res.version_id,
                                   &res.version_created, err);
    else
        rc = store_dag_api_upsert(c, dag->id, dag->source, dag->source_len,
                                  dag->hash, &res, err);
    /* The DAG's task cap is read by every claim: it follows each version
     * recorded, whichever way the version came. */
    if (rc == 0)
        rc = store_dag_cap_set(c, dag->id, dag->concurrency, err);
    /* What the version follows, with the cycle check's lock released. */
    if (rc == 0)
        rc = after_dag_sync(c, dag, err);
    after_dag_release(c);
    if (rc < 0) {
        dag_free(dag);
        return rc;
    }
    *out = (struct engine_dag_recorded){
        res.version_id,
        res.dag_created,
        res.version_created,
        dagcache_insert(cache, res.version_id, dag),
        {0, 0}};
    if (out->dag == NULL) /* recorded, but not cached: dag is freed */
        return weir_err_set(err, WEIR_ENOMEM, "out of memory caching DAG");
    return 0;
}

int engine_dag_submit(struct engine *e, struct dag *dag,
                      struct engine_dag_recorded *out, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = engine_dag_record(e->cache, c, NULL, dag, out, err);
    else
        dag_free(dag);
    store_conn_put(c);
    return rc;
}

int engine_dag_delete(struct engine *e, const char *id, bool with_runs,
                      int64_t *n_runs, int64_t *n_kept, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = store_dag_api_delete(c, id, with_runs, n_runs, n_kept, err);
    store_conn_put(c);
    return rc;
}

int engine_dag_pause(struct engine *e, const char *id, bool paused,
                     struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = store_dag_set_paused(c, id, paused, err);
    store_conn_put(c);
    return rc;
}
