/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reads for the dashboard: GET /api/v1/dags/{id}/grid, the runs-by-steps
 * grid, a page of the DAG's runs (newest first, by cursor) with one state
 * per step; the latest runs of every DAG (GET /api/v1/recent-runs); and one
 * version of a DAG with its source.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/authz.h"
#include "store/read.h" /* reads: the grid, recent runs */

#define GRID_LIMIT_DEFAULT 25
#define GRID_LIMIT_MAX     100
#define RECENT_DEFAULT     10 /* runs per DAG of GET /api/v1/recent-runs */
#define RECENT_MAX         50

void api_dag_grid(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const char *id = http_req_param(req, "id");
    int64_t limit =
        api_query_num(req, "limit", GRID_LIMIT_DEFAULT, 1, GRID_LIMIT_MAX);
    int64_t cursor = api_query_num(req, "cursor", 0, 0, INT64_MAX);
    struct store_conn *c = NULL;
    struct store_dag row = {0};
    struct weir_err err = {0};
    cJSON *runs = NULL, *o, *last;
    char *scope = NULL;
    int rc = api_authorize_dag_read(req, id, &err);

    if (rc == 0 && (limit < 0 || cursor < 0))
        rc = weir_err_set(&err, WEIR_EINVAL,
                          "limit must be 1 to %d and cursor a run id",
                          GRID_LIMIT_MAX);
    if (rc == 0)
        rc = api_read_scope(req, &scope, &err);
    if (rc == 0)
        rc = store_conn_get(api->store, &c, &err);
    if (rc == 0)
        rc = store_dag_get(c, id, &row, &err);
    if (rc == 0)
        rc = store_grid_read(c, id, cursor, (int)limit, scope, &runs, &err);
    store_conn_put(c);
    store_dag_cleanup(&row);
    free(scope);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "dag", id);
    last = cJSON_GetArrayItem(runs, cJSON_GetArraySize(runs) - 1);
    cJSON_AddItemToObject(o, "runs", runs);
    if (last != NULL && cJSON_GetArraySize(runs) == (int)limit)
        cJSON_AddNumberToObject(o, "next_cursor",
                                cJSON_GetObjectItem(last, "id")->valuedouble);
    else
        cJSON_AddNullToObject(o, "next_cursor");
    http_reply_json(req, 200, o);
}

/* GET /api/v1/dags/{id}/versions/{version}: one version with its source
 * and its normalized form ("dag"), for the dashboard's diff between two
 * versions and the graph of a run made from an older version. */
void api_dag_version_get(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const char *id = http_req_param(req, "id");
    int64_t vid = api_parse_id(http_req_param(req, "version"));
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    const struct dag *d = NULL;
    cJSON *o;

    if (api_authorize_dag_read(req, id, &err) < 0) {
        http_reply_err(req, &err);
        return;
    }
    if (vid != 0 && store_conn_get(api->store, &c, &err) == 0)
        d = engine_dag(api->cache, c, vid);
    store_conn_put(c);
    if (err.code != 0) {
        http_reply_err(req, &err);
        return;
    }
    if (d == NULL || strcmp(d->id, id) != 0) {
        dagcache_release(api->cache, d);
        http_reply_error(req, WEIR_ENOTFOUND, "DAG %s has no version \"%s\"",
                         id, http_req_param(req, "version"));
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)vid);
    cJSON_AddStringToObject(o, "hash", d->hash);
    cJSON_AddStringToObject(o, "source", d->source);
    cJSON_AddItemToObject(o, "dag", dag_to_json(d));
    dagcache_release(api->cache, d);
    http_reply_json(req, 200, o);
}

/* GET /api/v1/recent-runs?per_dag=N: {"dags": {DAG: [{"id", "state"}]}}, the
 * newest N runs of every DAG in one call. */
void api_recent_runs(struct http_req *req)
{
    struct api *api = http_req_app(req);
    int64_t per = api_query_num(req, "per_dag", RECENT_DEFAULT, 1, RECENT_MAX);
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    cJSON *dags = NULL, *o, *d, *next;
    char *scope = NULL;
    int rc = 0;

    if (per < 0)
        rc = weir_err_set(&err, WEIR_EINVAL, "per_dag must be 1 to %d",
                          RECENT_MAX);
    if (rc == 0)
        rc = api_read_scope(req, &scope, &err);
    if (rc == 0)
        rc = store_conn_get(api->store, &c, &err);
    if (rc == 0)
        rc = store_recent_runs(c, (int)per, scope, &dags, &err);
    store_conn_put(c);
    free(scope);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    /* only the DAGs the caller may read */
    for (d = dags->child; d != NULL; d = next) {
        next = d->next;
        if (!api_may_read_dag(req, d->string))
            cJSON_Delete(cJSON_DetachItemViaPointer(dags, d));
    }
    o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "dags", dags);
    http_reply_json(req, 200, o);
}
