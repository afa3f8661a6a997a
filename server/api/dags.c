/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DAG routes: the list, one DAG (with its normalized form and source)
 * and its versions. What the database row does not hold (description,
 * tags, schedules) comes from the current version's parsed DAG, taken
 * from the cache or parsed again from the stored source.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/authz.h"
#include "log.h"

#define DAGS_LIMIT_MAX 1000 /* DAGs in one page of the list */

/* The parsed DAG of a version, with a cache reference the caller drops
 * with dagcache_release(); NULL (logged) when it cannot be had. */
static const struct dag *version_dag(struct api *api, struct store_conn *c,
                                     int64_t version_id)
{
    return engine_dag(api->cache, c, version_id);
}

static void add_time(cJSON *o, const char *key, int64_t t)
{
    char buf[40];

    cron_format_time(t, NULL, buf, sizeof(buf));
    cJSON_AddStringToObject(o, key, buf);
}

static void add_string_or_null(cJSON *o, const char *key, const char *v)
{
    if (v != NULL)
        cJSON_AddStringToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

/* "schedules": each cron trigger with its next fire time after now, and
 * "next_fire_at": the earliest of them. */
static void add_schedules(cJSON *o, const struct dag *dag, int64_t now)
{
    cJSON *arr = cJSON_AddArrayToObject(o, "schedules");
    struct weir_err err = {0};
    struct tz *tz = NULL;
    int64_t first = 0;

    if (dag != NULL && tz_load(dag->timezone, &tz, &err) != 0)
        log_warn("event=tz_unavailable dag=%s tz=%s", dag->id, dag->timezone);
    for (size_t i = 0; dag != NULL && tz != NULL && i < dag->n_triggers; i++) {
        const struct dag_trigger *t = &dag->triggers[i];
        cJSON *s;
        int64_t next;
        char buf[40];

        if (t->kind != DAG_TRIG_CRON || cron_next(&t->cron, tz, now, &next))
            continue;
        s = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, s);
        cJSON_AddStringToObject(s, "trigger", t->key);
        cJSON_AddStringToObject(s, "cron", t->target);
        cJSON_AddStringToObject(s, "timezone", dag->timezone);
        cJSON_AddStringToObject(s, "next_fire_at",
                                cron_format_time(next, tz, buf, sizeof(buf)));
        if (first == 0 || next < first)
            first = next;
    }
    if (first != 0) {
        char buf[40];

        cJSON_AddStringToObject(o, "next_fire_at",
                                cron_format_time(first, tz, buf, sizeof(buf)));
    } else {
        cJSON_AddNullToObject(o, "next_fire_at");
    }
    tz_free(tz);
}

/* The summary of a DAG: its row and what its current version says. */
static cJSON *dag_summary(const struct store_dag *row, const struct dag *dag,
                          int64_t now)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *tags;

    cJSON_AddStringToObject(o, "id", row->id);
    add_string_or_null(o, "description", dag ? dag->description : NULL);
    tags = cJSON_AddArrayToObject(o, "tags");
    for (size_t i = 0; dag != NULL && i < dag->n_tags; i++)
        cJSON_AddItemToArray(tags, cJSON_CreateString(dag->tags[i]));
    cJSON_AddBoolToObject(o, "paused", row->paused);
    cJSON_AddBoolToObject(o, "file_missing", row->file_missing);
    /* One word for people: a missing file first (it starts nothing), a
     * file that never loaded, then paused. */
    cJSON_AddStringToObject(o, "state",
                            row->file_missing ? "missing"
                            : row->version_id == 0 && row->last_error ? "broken"
                            : row->paused                             ? "paused"
                                          : "active");
    cJSON_AddStringToObject(o, "origin", row->origin);
    add_string_or_null(o, "path", row->path);
    add_string_or_null(o, "version", row->hash);
    if (row->version_id != 0)
        cJSON_AddNumberToObject(o, "version_id", (double)row->version_id);
    else
        cJSON_AddNullToObject(o, "version_id");
    add_string_or_null(o, "last_error", row->last_error);
    add_time(o, "updated_at", row->updated_at);
    add_schedules(o, dag, now);
    return o;
}

/* GET /api/v1/dags[?limit=N&cursor=ID]: by id; a page of N DAGs with ids
 * after cursor when limit is given, else all of them. */
void api_dags_list(struct http_req *req)
{
    struct api *api = http_req_app(req);
    int64_t limit = api_query_num(req, "limit", 0, 1, DAGS_LIMIT_MAX);
    const char *cursor = http_req_query(req, "cursor");
    struct store_conn *c = NULL;
    struct store_dag *rows = NULL;
    struct weir_err err = {0};
    int64_t now = (int64_t)time(NULL), shown = 0;
    const char *next = NULL, *last = NULL;
    size_t n = 0;
    cJSON *root, *arr;

    if (limit < 0) {
        http_reply_error(req, WEIR_EINVAL, "limit must be 1 to %d",
                         DAGS_LIMIT_MAX);
        return;
    }
    if (store_conn_get(api->store, &c, &err) != 0 ||
        store_dag_list(c, &rows, &n, &err) != 0) {
        store_conn_put(c);
        http_reply_err(req, &err);
        return;
    }
    root = cJSON_CreateObject();
    arr = cJSON_AddArrayToObject(root, "dags");
    for (size_t i = 0; i < n; i++) {
        const struct dag *d;

        /* only the DAGs the caller may read, before the paging */
        if ((cursor != NULL && strcmp(rows[i].id, cursor) <= 0) ||
            !api_may_read_dag(req, rows[i].id))
            continue;
        if (limit != 0 && shown == limit) {
            next = last;
            break;
        }
        d = version_dag(api, c, rows[i].version_id);
        cJSON_AddItemToArray(arr, dag_summary(&rows[i], d, now));
        dagcache_release(api->cache, d);
        last = rows[i].id;
        shown++;
    }
    add_string_or_null(root, "next_cursor", next);
    store_conn_put(c);
    store_dag_list_free(rows, n);
    http_reply_json(req, 200, root);
}

void api_dag_get(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct store_conn *c = NULL;
    struct store_dag row = {0};
    struct weir_err err = {0};
    const struct dag *d;
    cJSON *o;

    if (api_authorize_dag_read(req, http_req_param(req, "id"), &err) != 0 ||
        store_conn_get(api->store, &c, &err) != 0 ||
        store_dag_get(c, http_req_param(req, "id"), &row, &err) != 0) {
        store_conn_put(c);
        http_reply_err(req, &err);
        return;
    }
    d = version_dag(api, c, row.version_id);
    store_conn_put(c);
    o = dag_summary(&row, d, (int64_t)time(NULL));
    if (d != NULL) {
        cJSON_AddItemToObject(o, "dag", dag_to_json(d));
        cJSON_AddStringToObject(o, "source", d->source);
    } else {
        cJSON_AddNullToObject(o, "dag");
        cJSON_AddNullToObject(o, "source");
    }
    dagcache_release(api->cache, d);
    store_dag_cleanup(&row);
    http_reply_json(req, 200, o);
}

void api_dag_versions(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const char *id = http_req_param(req, "id");
    struct store_conn *c = NULL;
    struct store_dag row = {0};
    struct store_dag_version *v = NULL;
    struct weir_err err = {0};
    size_t n = 0;
    cJSON *root, *arr;

    if (api_authorize_dag_read(req, id, &err) != 0 ||
        store_conn_get(api->store, &c, &err) != 0 ||
        store_dag_get(c, id, &row, &err) != 0 ||
        store_dag_versions(c, id, &v, &n, &err) != 0) {
        store_conn_put(c);
        store_dag_cleanup(&row);
        http_reply_err(req, &err);
        return;
    }
    store_conn_put(c);
    root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "dag", id);
    arr = cJSON_AddArrayToObject(root, "versions");
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();

        cJSON_AddItemToArray(arr, o);
        cJSON_AddNumberToObject(o, "id", (double)v[i].id);
        cJSON_AddStringToObject(o, "hash", v[i].hash);
        cJSON_AddStringToObject(o, "origin", v[i].origin);
        add_string_or_null(o, "path", v[i].path);
        add_time(o, "created_at", v[i].created_at);
        cJSON_AddBoolToObject(o, "current", v[i].id == row.version_id);
    }
    store_dag_versions_free(v, n);
    store_dag_cleanup(&row);
    http_reply_json(req, 200, root);
}
