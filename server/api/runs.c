/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The run routes: trigger a run of a DAG, list runs (newest first, by
 * cursor), one run with its tasks and attempts, and an attempt's log
 * lines.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/auth.h"
#include "api/authz.h"
#include "api/authz_targets.h"
#include "duration.h"
#include "store/read.h" /* reads: runs, run detail, logs */
#include "suggest.h"

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
    static const struct api_key keys[] = {
        {"params", API_OBJ | API_NULL},
        {"params_text", API_OBJ | API_NULL},
        {"environment", API_STR | API_NULL},
        {"idempotency_key", API_STR | API_NULL},
        {"logical_time", API_STR | API_NULL},
        {"no_cache", API_BOOL | API_NULL},
    };
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(b, "params");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(b, "params_text");
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(b, "environment");
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(b, "idempotency_key");
    const cJSON *lt;
    int rc = api_body_check(b, keys, WEIR_ARRAY_LEN(keys), "trigger body", err);

    if (rc < 0)
        return rc;
    if (cJSON_IsString(key) &&
        (strlen(key->valuestring) == 0 || strlen(key->valuestring) > KEY_MAX))
        return weir_err_set(err, WEIR_EINVAL,
                            "\"idempotency_key\" must be 1 to %d bytes",
                            KEY_MAX);
    t->params = cJSON_IsObject(p) ? p : NULL;
    t->params_text = cJSON_IsObject(pt) ? pt : NULL;
    t->environment = cJSON_IsString(env) ? env->valuestring : NULL;
    t->idempotency_key = cJSON_IsString(key) ? key->valuestring : NULL;
    lt = cJSON_GetObjectItemCaseSensitive(b, "logical_time");
    t->logical_time = cJSON_IsString(lt) ? lt->valuestring : NULL;
    if (t->logical_time != NULL && strlen(t->logical_time) > KEY_MAX)
        return weir_err_set(err, WEIR_EINVAL,
                            "\"logical_time\" is a date or an RFC 3339 time");
    t->no_cache = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "no_cache"));
    return 0;
}

/* "manual by token NAME" into buf. */
static void trigger_reason(const struct http_req *req, char *buf, size_t len)
{
    const struct store_token *t = api_caller(req);

    if (t != NULL && t->name[0] != '\0')
        snprintf(buf, len, "manual by token %.219s", t->name);
    else
        snprintf(buf, len, "manual by an unnamed token");
}

void api_run_trigger(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct engine_trigger t = {0};
    struct weir_err err = {0};
    char reason[256], by[256];
    int64_t run_id = 0;
    bool existed = false;
    cJSON *o;
    int rc;

    t.dag_id = http_req_param(req, "id");
    rc = trigger_body(http_req_json(req), &t, &err);
    if (rc == 0)
        rc = api_authorize_trigger(req, t.dag_id, t.environment, &err);
    if (rc == 0) {
        trigger_reason(req, reason, sizeof(reason));
        t.reason = reason;
        api_caller_name(req, by, sizeof(by));
        t.by = by;
        rc = engine_run_create(api->engine, &t, &run_id, &existed, &err);
    }
    /* a key names one run: not one of another environment */
    if (rc == 0 && existed)
        rc = api_check_idempotent(req, t.dag_id, t.environment, run_id, &err);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "run_id", (double)run_id);
    cJSON_AddBoolToObject(o, "existing", existed);
    http_reply_json(req, existed ? 200 : 201, o);
}

/* The trigger kinds a run may have (the CHECK of runs.trigger_kind). */
static const char *const trigger_kinds[] = {
    "manual", "cron", "event", "metric", "webhook", "file", "backfill"};

/* ?since=: a time (2026-01-31T12:00:00Z, UTC) or a duration before now
 * (90m, 2h, 7d) into *since (seconds since the epoch). */
static int since_arg(const char *text, int64_t *since, struct weir_err *err)
{
    struct tm tm = {0};
    int64_t ms = 0;
    const char *end;

    if (text == NULL || *text == '\0')
        return 0;
    end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL)
        end = strptime(text, "%Y-%m-%d", &tm);
    if (end != NULL && (*end == '\0' || strcmp(end, "Z") == 0)) {
        *since = (int64_t)timegm(&tm);
        return 0;
    }
    if (duration_parse(text, &ms, err) == 0 && ms > 0) {
        *since = (int64_t)time(NULL) - ms / 1000;
        return 0;
    }
    return weir_err_set(err, WEIR_EINVAL,
                        "since: \"%.60s\" is neither a UTC time "
                        "(2026-01-31T12:00:00Z) nor a duration (2h, 7d)",
                        text);
}

/* ?late=true|false (runs marked late by their deadline, or not). */
static int late_arg(const char *v, const char **out, struct weir_err *err)
{
    if (v == NULL || *v == '\0')
        return 0;
    if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
        return weir_err_set(err, WEIR_EINVAL,
                            "late: expected true or false, got \"%.40s\"", v);
    *out = v;
    return 0;
}

/* The filters of a runs listing from the query into f. */
static int runs_filter(struct http_req *req, struct store_runs_filter *f,
                       struct weir_err *err)
{
    const char *q[4] = {"dag", "state", "env", "trigger"};
    const char **dst[4] = {&f->dag_id, &f->state, &f->environment, &f->trigger};
    int64_t limit =
        api_query_num(req, "limit", RUNS_LIMIT_DEFAULT, 1, RUNS_LIMIT_MAX);
    enum run_state st;
    const char *s;
    int rc = 0;

    f->cursor = api_query_num(req, "cursor", 0, 0, INT64_MAX);
    f->limit = (int)limit;
    if (limit < 0 || f->cursor < 0)
        return weir_err_set(err, WEIR_EINVAL,
                            "limit must be 1 to %d and cursor a run id",
                            RUNS_LIMIT_MAX);
    for (size_t i = 0; i < WEIR_ARRAY_LEN(q); i++) {
        const char *v = http_req_query(req, q[i]);

        *dst[i] = v && *v ? v : NULL;
    }
    if (f->state != NULL)
        rc = run_state_parse(f->state, &st, err);
    for (size_t i = 0; rc == 0 && f->trigger != NULL; i++) {
        if (i == WEIR_ARRAY_LEN(trigger_kinds)) {
            s = suggest_word(f->trigger, trigger_kinds, i);
            return weir_err_set(
                err, WEIR_EINVAL,
                "trigger: unknown kind \"%.40s\"%s%s%s (manual, cron, "
                "event, metric, webhook, file or backfill)",
                f->trigger, s ? " (did you mean \"" : "", s ? s : "",
                s ? "\"?)" : "");
        }
        if (strcmp(f->trigger, trigger_kinds[i]) == 0)
            break;
    }
    if (rc == 0)
        rc = since_arg(http_req_query(req, "since"), &f->since, err);
    if (rc == 0)
        rc = late_arg(http_req_query(req, "late"), &f->late, err);
    return rc;
}

void api_runs_list(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct store_runs_filter f = {0};
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    cJSON *runs = NULL, *o;
    char *scope = NULL;
    int n, rc = runs_filter(req, &f, &err);

    /* only the runs the caller may read, filtered before the page */
    if (rc == 0)
        rc = api_read_scope(req, &scope, &err);
    f.scope = scope;
    if (rc == 0)
        rc = store_conn_get(api->store, &c, &err);
    if (rc == 0)
        rc = store_runs_list(c, &f, &runs, &err);
    store_conn_put(c);
    free(scope);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    api_hide_upstreams(req, runs);
    o = cJSON_CreateObject();
    n = cJSON_GetArraySize(runs);
    cJSON_AddItemToObject(o, "runs", runs);
    if (n == f.limit)
        cJSON_AddItemToObject(
            o, "next_cursor",
            cJSON_Duplicate(
                cJSON_GetObjectItem(cJSON_GetArrayItem(runs, n - 1), "id"), 1));
    else
        cJSON_AddNullToObject(o, "next_cursor");
    http_reply_json(req, 200, o);
}

/* The run detail text with what the caller may not read hidden. */
static void reply_detail_hidden(struct http_req *req, const char *text)
{
    cJSON *o = cJSON_Parse(text);
    struct weir_err err = {0};

    if (o == NULL) {
        weir_err_set(&err, WEIR_ENOMEM, "out of memory");
        http_reply_err(req, &err);
        return;
    }
    api_hide_upstream(req, o);
    http_reply_json(req, 200, o);
}

void api_run_get(struct http_req *req)
{
    struct api *api = http_req_app(req);
    int64_t id = 0;
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    char *text = NULL;
    int rc = api_run_id(req, &id, &err);

    if (rc == 0)
        rc = api_authorize_run(req, GRANT_ACT_READ, id, &err);
    if (rc == 0)
        rc = store_conn_get(api->store, &c, &err);
    /* read: the run as PostgreSQL built it, passed through as text (every
     * poll of a run page comes here) */
    if (rc == 0)
        rc = store_run_detail_text(c, id, &text, &err);
    store_conn_put(c);
    if (rc < 0)
        http_reply_err(req, &err);
    else if (!api_reads_all_dags(req))
        reply_detail_hidden(req, text);
    else
        http_reply_json_text(req, 200, text);
    free(text);
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
        rc = api_authorize_attempt(req, GRANT_ACT_READ, id, &err);
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
