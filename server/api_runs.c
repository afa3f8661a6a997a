/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The run routes: trigger a run of a DAG, list runs (newest first, by
 * cursor), one run with its tasks and attempts, and an attempt's log
 * lines.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "store_run.h"

#define RUNS_LIMIT_DEFAULT 50
#define RUNS_LIMIT_MAX     500
#define LOGS_LIMIT_DEFAULT 1000
#define LOGS_LIMIT_MAX     10000
#define KEY_MAX            200 /* bytes of an idempotency key */

/* A positive id from text, or 0. */
int64_t api_parse_id(const char *text)
{
    char *end = NULL;
    long long v = text ? strtoll(text, &end, 10) : 0;

    if (text == NULL || end == text || *end != '\0' || v <= 0)
        return 0;
    return (int64_t)v;
}

int64_t api_query_num(struct http_req *req, const char *name, int64_t def,
                      int64_t min, int64_t max)
{
    const char *v = http_req_query(req, name);
    char *end = NULL;
    long long n;

    if (v == NULL || *v == '\0')
        return def;
    n = strtoll(v, &end, 10);
    if (*end != '\0' || n < min || n > max)
        return -1;
    return (int64_t)n;
}

/* Read the optional trigger body into t. */
static int trigger_body(const cJSON *b, struct engine_trigger *t,
                        struct weir_err *err)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(b, "params");
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(b, "environment");
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(b, "idempotency_key");

    if (b != NULL && !cJSON_IsObject(b))
        return weir_err_set(err, WEIR_EINVAL, "expected a JSON object");
    if ((p != NULL && !cJSON_IsObject(p) && !cJSON_IsNull(p)) ||
        (env != NULL && !cJSON_IsString(env) && !cJSON_IsNull(env)) ||
        (key != NULL && !cJSON_IsString(key) && !cJSON_IsNull(key)))
        return weir_err_set(err, WEIR_EINVAL,
                            "expected {\"params\": {...}, \"environment\": "
                            "\"...\", \"idempotency_key\": \"...\"}, each "
                            "optional");
    if (cJSON_IsString(key) &&
        (strlen(key->valuestring) == 0 || strlen(key->valuestring) > KEY_MAX))
        return weir_err_set(err, WEIR_EINVAL,
                            "\"idempotency_key\" must be 1 to %d bytes",
                            KEY_MAX);
    t->params = cJSON_IsObject(p) ? p : NULL;
    t->environment = cJSON_IsString(env) ? env->valuestring : NULL;
    t->idempotency_key = cJSON_IsString(key) ? key->valuestring : NULL;
    return 0;
}

/* "manual by token NAME" into buf. */
static void trigger_reason(struct api *api, struct http_req *req, char *buf,
                           size_t len)
{
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    char name[220] = "";

    if (store_conn_get(api->store, &c, &err) == 0 &&
        auth_token_name(c, http_req_header(req, "Authorization"), name,
                        sizeof(name), &err) == 0 &&
        name[0] != '\0')
        snprintf(buf, len, "manual by token %s", name);
    else
        snprintf(buf, len, "manual by an unnamed token");
    store_conn_put(c);
}

void api_run_trigger(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct engine_trigger t = {0};
    struct weir_err err = {0};
    char reason[256];
    int64_t run_id = 0;
    bool existed = false;
    cJSON *o;
    int rc;

    t.dag_id = http_req_param(req, "id");
    rc = trigger_body(http_req_json(req), &t, &err);
    if (rc == 0) {
        trigger_reason(api, req, reason, sizeof(reason));
        t.reason = reason;
        rc = engine_run_create(api->engine, &t, &run_id, &existed, &err);
    }
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "run_id", (double)run_id);
    cJSON_AddBoolToObject(o, "existing", existed);
    http_reply_json(req, existed ? 200 : 201, o);
}

void api_runs_list(struct http_req *req)
{
    struct api *api = http_req_app(req);
    int64_t limit =
        api_query_num(req, "limit", RUNS_LIMIT_DEFAULT, 1, RUNS_LIMIT_MAX);
    int64_t cursor = api_query_num(req, "cursor", 0, 0, INT64_MAX);
    const char *state = http_req_query(req, "state");
    const char *dag = http_req_query(req, "dag");
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    enum run_state st;
    cJSON *runs = NULL, *o;
    int n, rc = 0;

    if (limit < 0 || cursor < 0)
        rc = weir_err_set(&err, WEIR_EINVAL,
                          "limit must be 1 to %d and cursor a run id",
                          RUNS_LIMIT_MAX);
    if (rc == 0 && state != NULL && *state != '\0')
        rc = run_state_parse(state, &st, &err);
    if (rc == 0)
        rc = store_conn_get(api->store, &c, &err);
    if (rc == 0)
        rc = store_runs_list(c, dag && *dag ? dag : NULL,
                             state && *state ? state : NULL, cursor, (int)limit,
                             &runs, &err);
    store_conn_put(c);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    n = cJSON_GetArraySize(runs);
    cJSON_AddItemToObject(o, "runs", runs);
    if (n == (int)limit)
        cJSON_AddItemToObject(
            o, "next_cursor",
            cJSON_Duplicate(
                cJSON_GetObjectItem(cJSON_GetArrayItem(runs, n - 1), "id"), 1));
    else
        cJSON_AddNullToObject(o, "next_cursor");
    http_reply_json(req, 200, o);
}

void api_run_get(struct http_req *req)
{
    struct api *api = http_req_app(req);
    int64_t id = api_parse_id(http_req_param(req, "id"));
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    cJSON *o = NULL;
    int rc = 0;

    if (id == 0)
        rc = weir_err_set(&err, WEIR_ENOTFOUND, "no run \"%s\"",
                          http_req_param(req, "id"));
    if (rc == 0)
        rc = store_conn_get(api->store, &c, &err);
    if (rc == 0)
        rc = store_run_detail(c, id, &o, &err);
    store_conn_put(c);
    if (rc < 0)
        http_reply_err(req, &err);
    else
        http_reply_json(req, 200, o);
}

void api_attempt_logs_get(struct http_req *req)
{
    struct api *api = http_req_app(req);
    int64_t id = api_parse_id(http_req_param(req, "id"));
    int64_t after = api_query_num(req, "after", -1, -1, INT64_MAX);
    int64_t limit =
        api_query_num(req, "limit", LOGS_LIMIT_DEFAULT, 1, LOGS_LIMIT_MAX);
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    cJSON *lines = NULL, *o, *last;
    int rc = 0;

    if (id == 0)
        rc = weir_err_set(&err, WEIR_ENOTFOUND, "no attempt");
    else if (limit < 0 || after < -1)
        rc = weir_err_set(&err, WEIR_EINVAL,
                          "after must be a sequence number and limit 1 to %d",
                          LOGS_LIMIT_MAX);
    if (rc == 0)
        rc = store_conn_get(api->store, &c, &err);
    if (rc == 0)
        rc = store_logs_read(c, id, after, (int)limit, &lines, &err);
    store_conn_put(c);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    last = cJSON_GetArrayItem(lines, cJSON_GetArraySize(lines) - 1);
    cJSON_AddItemToObject(o, "lines", lines);
    cJSON_AddNumberToObject(o, "next_after",
                            last ? cJSON_GetObjectItem(last, "seq")->valuedouble
                                 : (double)after);
    http_reply_json(req, 200, o);
}
