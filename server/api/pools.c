/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pool routes (docs/dag-format.md, "Pools"): the list for every
 * token that may read, and setting and deleting a pool for admin tokens
 * (auth.c: a read token may only GET).
 *
 *   GET    /api/v1/pools               -> {pools: [{name, slots, used,
 *                                          running, waiting, created_at,
 *                                          updated_at}]}
 *   PUT    /api/v1/pools/{name} {slots} -> {name, slots, created}
 *   DELETE /api/v1/pools/{name}[?force=true] -> {name, deleted, dags}
 *          (409 naming the DAGs that use it, without force)
 */
#include <math.h>
#include <string.h>

#include "api/api.h"
#include "api/authz.h"
#include "store/read.h"

void api_pools_list(struct http_req *req)
{
    struct weir_err err = {0};

    /* pools are shared by every DAG: a reader of all of them */
    if (api_authorize(req, GRANT_ACT_READ, NULL, NULL, &err) < 0) {
        http_reply_err(req, &err);
        return;
    }
    api_reply_list(req, "pools", store_pools_list);
}

void api_pool_put(struct http_req *req)
{
    static const struct api_key keys[] = {{"slots", API_NUM | API_REQUIRED}};
    struct api *api = http_req_app(req);
    const char *name = http_req_param(req, "name");
    const cJSON *b = http_req_json(req);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(b, "slots");
    struct weir_err err = {0};
    bool created = false;
    cJSON *o;
    int rc = api_body_check(b, keys, WEIR_ARRAY_LEN(keys), "pool body", &err);

    if (rc == 0 &&
        (s->valuedouble != floor(s->valuedouble) || fabs(s->valuedouble) > 1e9))
        rc = weir_err_set(&err, WEIR_EINVAL,
                          "\"slots\" must be a whole number from 0 to "
                          "1000000, got %g",
                          s->valuedouble);
    if (rc == 0)
        rc = engine_pool_set(api->engine, name, (long long)s->valuedouble,
                             &created, &err);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddNumberToObject(o, "slots", s->valuedouble);
    cJSON_AddBoolToObject(o, "created", created);
    http_reply_json(req, created ? 201 : 200, o);
}

void api_pool_delete(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const char *name = http_req_param(req, "name");
    const char *force = http_req_query(req, "force");
    struct weir_err err = {0};
    cJSON *users = NULL, *o;
    int rc = 0;

    if (force != NULL && strcmp(force, "true") != 0 &&
        strcmp(force, "false") != 0)
        rc = weir_err_set(&err, WEIR_EINVAL,
                          "force must be true or false, not \"%.40s\"", force);
    if (rc == 0)
        rc = engine_pool_delete(api->engine, name,
                                force != NULL && strcmp(force, "true") == 0,
                                &users, &err);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddBoolToObject(o, "deleted", true);
    cJSON_AddItemToObject(o, "dags", users);
    http_reply_json(req, 200, o);
}
