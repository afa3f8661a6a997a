/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET /api/v1/dags/{id}/grid: the dashboard's runs-by-steps grid, a page
 * of the DAG's runs (newest first, by cursor) with one state per step.
 */
#include "api.h"
#include "store_grid.h"

#define GRID_LIMIT_DEFAULT 25
#define GRID_LIMIT_MAX     100

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
    int rc = 0;

    if (limit < 0 || cursor < 0)
        rc = weir_err_set(&err, WEIR_EINVAL,
                          "limit must be 1 to %d and cursor a run id",
                          GRID_LIMIT_MAX);
    if (rc == 0)
        rc = store_conn_get(api->store, &c, &err);
    if (rc == 0)
        rc = store_dag_get(c, id, &row, &err);
    if (rc == 0)
        rc = store_grid_read(c, id, cursor, (int)limit, &runs, &err);
    store_conn_put(c);
    store_dag_cleanup(&row);
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
