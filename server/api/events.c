/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The trigger routes: post events (one or a batch), list them with the
 * runs they fed, webhook deliveries, and the state of a DAG's triggers.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/authz.h"
#include "jsoncheck.h"
#include "store/read.h" /* read: the events listing */
#include "suggest.h"

#define EVENTS_BATCH_MAX  10000      /* events in one request */
#define EVENTS_LIMIT_MAX  500        /* events in one listing */
#define EVENTS_PAGE_BYTES (8L << 20) /* their payloads in one listing */

int api_batch_size(const cJSON *b, const char *key, size_t *n,
                   struct weir_err *err)
{
    const cJSON *batch = cJSON_GetObjectItemCaseSensitive(b, key);

    *n = batch ? (size_t)cJSON_GetArraySize(batch) : 1;
    if (batch != NULL && (!cJSON_IsArray(batch) || cJSON_GetArraySize(b) != 1))
        return weir_err_set(err, WEIR_EINVAL,
                            "a batch is {\"%s\": [...]} and nothing else", key);
    if (*n == 0 || *n > API_BATCH_MAX)
        return weir_err_set(err, WEIR_EINVAL,
                            "a batch holds 1 to %d items, not %zu",
                            API_BATCH_MAX, *n);
    return 0;
}

/* One {"name", "payload"?, "id"?} into *v (borrowing from o). */
static int event_read(const cJSON *o, size_t i, struct event_in *v,
                      struct weir_err *err)
{
    static const char *const keys[] = {"name", "payload", "id"};
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(o, "payload");
    char where[40];
    int rc;

    snprintf(where, sizeof(where), "event %zu", i);
    if (!cJSON_IsObject(o))
        return weir_err_set(err, WEIR_EINVAL,
                            "%s: expected an object {\"name\", \"payload\", "
                            "\"id\"}",
                            where);
    rc = api_check_keys(o, keys, WEIR_ARRAY_LEN(keys), where, err);
    if (rc == 0 && !cJSON_IsString(name))
        rc = weir_err_set(err, WEIR_EINVAL, "%s: \"name\" must be a string",
                          where);
    if (rc == 0 && id != NULL && !cJSON_IsString(id) && !cJSON_IsNull(id))
        rc = weir_err_set(err, WEIR_EINVAL, "%s: \"id\" must be a string",
                          where);
    if (rc == 0 && json_size(payload, EVENT_PAYLOAD_MAX) > EVENT_PAYLOAD_MAX)
        rc = weir_err_set(err, WEIR_ETOOBIG,
                          "%s: \"payload\" is over the limit of %d bytes "
                          "(as compact JSON)",
                          where, EVENT_PAYLOAD_MAX);
    if (rc < 0)
        return rc;
    *v = (struct event_in){
        .ext_id = cJSON_IsString(id) ? id->valuestring : NULL,
        .name = name->valuestring,
        .payload = payload,
    };
    return 0;
}

static cJSON *event_reply(const struct event_in *v)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "id", (double)v->id);
    cJSON_AddBoolToObject(o, "duplicate", v->duplicate);
    cJSON_AddNumberToObject(o, "runs", v->runs);
    return o;
}

/* POST /api/v1/events: {"name", ...} or {"events": [...]}. */
void api_events_post(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const cJSON *b = http_req_json(req);
    const cJSON *batch = cJSON_GetObjectItemCaseSensitive(b, "events");
    struct weir_err err = {0};
    struct event_in *v = NULL;
    char by[256];
    size_t n = 0, i = 0;
    const cJSON *m;
    cJSON *o, *arr;
    int rc = api_batch_size(b, "events", &n, &err);

    if (rc == 0 && (v = calloc(n, sizeof(*v))) == NULL)
        rc = weir_err_set(&err, WEIR_ENOMEM, "out of memory");
    if (rc == 0 && batch == NULL)
        rc = event_read(b, 0, &v[0], &err);
    cJSON_ArrayForEach(m, batch)
    {
        if (rc == 0)
            rc = event_read(m, i, &v[i], &err);
        i++;
    }
    api_caller_name(req, by, sizeof(by)); /* its runs start as the poster */
    for (i = 0; rc == 0 && i < n; i++)
        v[i].by = by;
    if (rc == 0)
        rc = events_accept(api->engine, v, n, &err);
    if (rc < 0) {
        free(v);
        http_reply_err(req, &err);
        return;
    }
    if (batch == NULL) {
        o = event_reply(&v[0]);
    } else {
        o = cJSON_CreateObject();
        arr = cJSON_AddArrayToObject(o, "events");
        for (i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, event_reply(&v[i]));
    }
    free(v);
    http_reply_json(req, 202, o);
}

/* GET /api/v1/events?limit=N&cursor=C&run=R: newest first. */
void api_events_list(struct http_req *req)
{
    struct api *api = http_req_app(req);
    int64_t limit = api_query_num(req, "limit", 50, 1, EVENTS_LIMIT_MAX);
    int64_t cursor = api_query_num(req, "cursor", 0, 0, INT64_MAX);
    int64_t run = api_query_num(req, "run", 0, 1, INT64_MAX);
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    cJSON *events, *o = NULL;
    char *scope = NULL;
    int n, rc = 0;

    if (limit < 0 || cursor < 0 || run < 0)
        rc = weir_err_set(&err, WEIR_EINVAL,
                          "limit must be 1 to %d, cursor an event id and run "
                          "a run id",
                          EVENTS_LIMIT_MAX);
    /* a caller limited to some DAGs sees the events that started their
     * runs, filtered before the page */
    if (rc == 0)
        rc = api_read_scope(req, &scope, &err);
    if (rc == 0)
        rc = store_conn_get(api->store, &c, &err);
    if (rc == 0)
        rc = store_events_list(c, (int)limit, cursor, run, EVENTS_PAGE_BYTES,
                               scope, &o, &err);
    store_conn_put(c);
    free(scope);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    /* {events, more} -> {events, next_cursor}: the last id while events
     * are left (the page may end early when the payloads are large) */
    events = cJSON_GetObjectItemCaseSensitive(o, "events");
    n = cJSON_GetArraySize(events);
    if (n > 0 && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "more")))
        cJSON_AddNumberToObject(
            o, "next_cursor",
            cJSON_GetObjectItem(cJSON_GetArrayItem(events, n - 1), "id")
                ->valuedouble);
    else
        cJSON_AddNullToObject(o, "next_cursor");
    cJSON_DeleteItemFromObjectCaseSensitive(o, "more");
    http_reply_json(req, 200, o);
}

/* POST /api/v1/hooks/{dag}/{trigger}: no token; an HMAC signature. */
void api_hook_post(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct weir_err err = {0};
    const char *delivery = http_req_header(req, "X-Weir-Delivery");
    struct hook_in h = {
        .dag_id = http_req_param(req, "dag"),
        .trigger = http_req_param(req, "trigger"),
        .sig = http_req_header(req, "X-Hub-Signature-256"),
        .timestamp = http_req_header(req, "X-Weir-Timestamp"),
        .delivery =
            delivery ? delivery : http_req_header(req, "X-GitHub-Delivery"),
    };
    cJSON *o;

    h.body = http_req_body(req, &h.len);
    if (events_webhook(api->engine, &h, &err) < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    if (h.duplicate)
        cJSON_AddNullToObject(o, "event_id");
    else
        cJSON_AddNumberToObject(o, "event_id", (double)h.event_id);
    cJSON_AddNumberToObject(o, "runs", h.runs);
    cJSON_AddBoolToObject(o, "duplicate", h.duplicate);
    http_reply_json(req, 202, o);
}

/* GET /api/v1/dags/{id}/triggers */
void api_dag_triggers(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct weir_err err = {0};
    cJSON *o = NULL;

    if (api_authorize_dag_read(req, http_req_param(req, "id"), &err) < 0 ||
        events_dag_triggers(api->engine, http_req_param(req, "id"), &o, &err) <
            0) {
        http_reply_err(req, &err);
        return;
    }
    http_reply_json(req, 200, o);
}
