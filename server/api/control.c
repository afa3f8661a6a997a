/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control routes: cancel and retry a run, approve or reject an
 * approval gate, pause and unpause a DAG (admin tokens, by auth.c's
 * roles: POST is admin-only outside the worker protocol), the worker list
 * (admin and read) and GET /metrics, Prometheus text format 0.0.4, which
 * needs a token like every route but health (read or admin).
 *
 *   POST /api/v1/runs/{id}/cancel                -> {run_id, state, canceled}
 *   POST /api/v1/runs/{id}/retry {from?, params?} -> {run_id, state,
 *                                                   retry_count, reset,
 *                                                   changed}
 *   POST /api/v1/runs/{id}/steps/{step}/approve {comment?}
 *   POST /api/v1/runs/{id}/steps/{step}/reject {comment?}
 *                                                -> {run_id, step, state,
 *                                                   run_state}
 *   POST /api/v1/dags/{id}/pause, /unpause       -> {dag, paused}
 *   GET  /api/v1/workers                         -> {workers: [...]}
 *   GET  /metrics
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/auth.h"
#include "api/authz.h"
#include "engine/deadline.h"
#include "jobs/leader.h"
#include "jobs/scheduler.h"
#include "store/read.h" /* reads: workers, metrics */

#define COMMENT_MAX 1000 /* bytes of an approval comment */
#define BY_MAX      220  /* bytes of a token name, with room to spare */

/* An optional string member of an optional object body; *out NULL when
 * absent or null. */
static int body_string(const cJSON *b, const char *key, size_t max,
                       const char **out, struct weir_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, key);

    *out = NULL;
    if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsString(v))
        return weir_err_set(err, WEIR_EINVAL,
                            "\"%s\" must be a string or null, not %s", key,
                            api_json_type_name(v));
    if (cJSON_IsString(v) && strlen(v->valuestring) > max)
        return weir_err_set(err, WEIR_EINVAL, "\"%s\" is longer than %zu bytes",
                            key, max);
    if (cJSON_IsString(v))
        *out = v->valuestring;
    return 0;
}

static void reply(struct http_req *req, int rc, const struct weir_err *err,
                  cJSON *o)
{
    if (rc < 0)
        http_reply_err(req, err);
    else
        http_reply_json(req, 200, o);
}

/* A body that may only be empty or {}: cancel, pause and unpause. */
static int empty_body(struct http_req *req, const char *where,
                      struct weir_err *err)
{
    return api_body_check(http_req_json(req), NULL, 0, where, err);
}

void api_run_cancel(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct weir_err err = {0};
    char by[BY_MAX];
    int64_t id = 0;
    cJSON *o = NULL;
    int rc = api_run_id(req, &id, &err);

    if (rc == 0)
        rc = empty_body(req, "cancel body", &err);
    if (rc == 0)
        rc = api_authorize_run(req, GRANT_ACT_CANCEL, id, &err);
    if (rc == 0) {
        api_caller_name(req, by, sizeof(by));
        rc = engine_run_cancel(api->engine, id, by, &o, &err);
    }
    reply(req, rc, &err, o);
}

/* Read {"from": STEP?, "params": {NAME: VALUE, ...}?, "params_text":
 * {NAME: "TEXT", ...}?} into r. */
static int retry_request(const cJSON *b, struct engine_retry *r,
                         struct weir_err *err)
{
    static const struct api_key keys[] = {{"from", API_STR | API_NULL},
                                          {"params", API_OBJ | API_NULL},
                                          {"params_text", API_OBJ | API_NULL}};
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(b, "params");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(b, "params_text");
    int rc = api_body_check(b, keys, WEIR_ARRAY_LEN(keys), "retry body", err);

    if (rc == 0)
        rc = body_string(b, "from", 64, &r->from, err);
    if (rc == 0 && cJSON_IsObject(p))
        r->params = p;
    if (rc == 0 && cJSON_IsObject(pt))
        r->params_text = pt;
    return rc;
}

void api_run_retry(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct engine_retry r = {0};
    struct weir_err err = {0};
    char by[BY_MAX];
    int64_t id = 0;
    cJSON *o = NULL;
    int rc = api_run_id(req, &id, &err);

    if (rc == 0)
        rc = retry_request(http_req_json(req), &r, &err);
    if (rc == 0)
        rc = api_authorize_run(req, GRANT_ACT_RETRY, id, &err);
    if (rc == 0) {
        api_caller_name(req, by, sizeof(by));
        r.by = by;
        rc = engine_run_retry(api->engine, id, &r, &o, &err);
    }
    reply(req, rc, &err, o);
}

static void step_decide(struct http_req *req, bool approve)
{
    static const struct api_key comment_keys[] = {
        {"comment", API_STR | API_NULL}};
    struct api *api = http_req_app(req);
    struct engine_decision d = {.step = http_req_param(req, "step"),
                                .approve = approve};
    struct weir_err err = {0};
    char by[BY_MAX];
    int64_t id = 0;
    cJSON *o = NULL;
    int rc = api_run_id(req, &id, &err);

    if (rc == 0)
        rc = api_body_check(http_req_json(req), comment_keys,
                            WEIR_ARRAY_LEN(comment_keys),
                            approve ? "approve body" : "reject body", &err);
    if (rc == 0)
        rc = body_string(http_req_json(req), "comment", COMMENT_MAX, &d.comment,
                         &err);
    if (rc == 0)
        rc = api_authorize_run(req, GRANT_ACT_APPROVE, id, &err);
    if (rc == 0) {
        api_caller_name(req, by, sizeof(by));
        api_caller_groups(req, &d.groups, &d.n_groups);
        d.by = by;
        rc = engine_step_decide(api->engine, id, &d, &o, &err);
    }
    reply(req, rc, &err, o);
}

void api_step_approve(struct http_req *req)
{
    step_decide(req, true);
}

void api_step_reject(struct http_req *req)
{
    step_decide(req, false);
}

static void dag_pause(struct http_req *req, bool paused)
{
    struct api *api = http_req_app(req);
    const char *id = http_req_param(req, "id");
    struct weir_err err = {0};
    cJSON *o = NULL;
    int rc = empty_body(req, paused ? "pause body" : "unpause body", &err);

    if (rc == 0)
        rc = api_authorize(req, GRANT_ACT_PAUSE, id, NULL, &err);
    if (rc == 0)
        rc = engine_dag_pause(api->engine, id, paused, &err);
    if (rc == 0) {
        /* The scheduler's table leaves paused DAGs out: an unpaused cron
         * DAG is armed again only when the table is rebuilt. */
        sched_dag_changed(id);
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "dag", id);
        cJSON_AddBoolToObject(o, "paused", paused);
    }
    reply(req, rc, &err, o);
}

void api_dag_pause(struct http_req *req)
{
    dag_pause(req, true);
}

void api_dag_unpause(struct http_req *req)
{
    dag_pause(req, false);
}

void api_workers_list(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    cJSON *list = NULL, *o = NULL;
    /* workers serve every DAG: a reader of all of them */
    int rc = api_authorize(req, GRANT_ACT_READ, NULL, NULL, &err);

    if (rc == 0)
        rc = store_conn_get(api->store, &c, &err);
    if (rc == 0)
        rc = store_workers_list(c, 2 * api->engine->lease_ttl_ms, &list, &err);
    store_conn_put(c);
    if (rc == 0) {
        o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "workers", list);
    }
    reply(req, rc, &err, o);
}

/* ---- /metrics ---- */

/* A growing text buffer; ok turns false once an allocation failed. */
struct text {
    char *s;    /* the text, NUL-terminated */
    size_t n;   /* bytes used */
    size_t cap; /* bytes allocated */
    bool ok;    /* no allocation failed */
};

static void text_add(struct text *t, const char *fmt, ...) WEIR_PRINTF(2, 3);

static void text_add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int len;

    for (;;) {
        if (!t->ok)
            return;
        va_start(ap, fmt);
        len = vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap);
        va_end(ap);
        if (len < 0) {
            t->ok = false;
        } else if ((size_t)len < t->cap - t->n) {
            t->n += (size_t)len;
            return;
        } else {
            size_t cap = (t->cap + (size_t)len + 1) * 2;
            char *s = realloc(t->s, cap);

            t->ok = s != NULL;
            t->s = s ? s : t->s;
            t->cap = s ? cap : t->cap;
        }
    }
}

/* A label value escaped for the text format (backslash, quote, newline). */
static void text_label(struct text *t, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\' || *v == '"')
            text_add(t, "\\%c", *v);
        else if (*v == '\n')
            text_add(t, "\\n");
        else
            text_add(t, "%c", *v);
    }
}

static double count_of(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* One gauge per state of a state machine. */
static void text_states(struct text *t, const char *name, const char *help,
                        const cJSON *counts, const char *(*state_name)(int),
                        int n)
{
    text_add(t, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    for (int s = 0; s < n; s++)
        text_add(t, "%s{state=\"%s\"} %.0f\n", name, state_name(s),
                 count_of(counts, state_name(s)));
}

static const char *run_name_cb(int s)
{
    return run_state_name((enum run_state)s);
}

static const char *task_name_cb(int s)
{
    return task_state_name((enum task_state)s);
}

static void text_dispatch(struct text *t)
{
    struct engine_dispatch_hist h;

    engine_dispatch_read(&h);
    text_add(t, "# HELP weir_dispatch_seconds Time from a task becoming "
                "claimable to its attempt being leased.\n"
                "# TYPE weir_dispatch_seconds histogram\n");
    for (size_t b = 0; b < ENGINE_DISPATCH_BUCKETS; b++)
        text_add(t, "weir_dispatch_seconds_bucket{le=\"%g\"} %llu\n", h.le[b],
                 (unsigned long long)h.count[b]);
    text_add(t,
             "weir_dispatch_seconds_bucket{le=\"+Inf\"} %llu\n"
             "weir_dispatch_seconds_sum %.6f\n"
             "weir_dispatch_seconds_count %llu\n",
             (unsigned long long)h.total, h.sum, (unsigned long long)h.total);
}

/* Deadlines missed since the start, per DAG (engine/deadline.h). */
static void text_deadline(struct text *t)
{
    cJSON *counts = engine_deadline_missed_counts();
    const cJSON *c;

    t->ok &= counts != NULL;
    text_add(t, "# HELP weir_deadline_missed_total Runs marked late by their "
                "DAG's deadline since the server started.\n"
                "# TYPE weir_deadline_missed_total counter\n");
    cJSON_ArrayForEach(c, counts)
    {
        text_add(t, "weir_deadline_missed_total{dag=\"");
        text_label(t, c->string);
        text_add(t, "\"} %.0f\n", c->valuedouble);
    }
    cJSON_Delete(counts);
}

/* This server's part among several (jobs/leader.h). */
static void text_leader(struct text *t)
{
    struct leader_status st;

    leader_status_get(&st);
    text_add(t,
             "# HELP weir_leader 1 when this server is the leader.\n"
             "# TYPE weir_leader gauge\nweir_leader %d\n"
             "# HELP weir_leader_epoch The latest leader epoch seen.\n"
             "# TYPE weir_leader_epoch gauge\nweir_leader_epoch %lld\n",
             st.leader ? 1 : 0, (long long)st.epoch);
}

static void metrics_text(struct text *t, const cJSON *m)
{
    const cJSON *q;

    text_states(t, "weir_runs", "Runs by state.",
                cJSON_GetObjectItemCaseSensitive(m, "runs"), run_name_cb,
                RUN_STATE_COUNT);
    text_states(t, "weir_tasks", "Tasks by state.",
                cJSON_GetObjectItemCaseSensitive(m, "tasks"), task_name_cb,
                TASK_STATE_COUNT);
    text_add(t, "# HELP weir_queue_depth Queued tasks per queue.\n"
                "# TYPE weir_queue_depth gauge\n");
    cJSON_ArrayForEach(q, cJSON_GetObjectItemCaseSensitive(m, "queues"))
    {
        text_add(t, "weir_queue_depth{queue=\"");
        text_label(t, q->string);
        text_add(t, "\"} %.0f\n", cJSON_IsNumber(q) ? q->valuedouble : 0);
    }
    text_add(t,
             "# HELP weir_workers Registered workers seen within two lease "
             "TTLs.\n# TYPE weir_workers gauge\nweir_workers %.0f\n",
             count_of(m, "workers"));
    text_dispatch(t);
    text_deadline(t);
    text_leader(t);
}

/* The gauges of each pool (store_pools_list()). */
static void text_pools(struct text *t, const cJSON *pools)
{
    static const char *const g[3][2] = {
        {"slots", "Slots of each pool."},
        {"used", "Slots of each pool held by running tasks."},
        {"waiting", "Claimable tasks waiting for each pool."}};
    const cJSON *p;

    for (size_t k = 0; k < 3; k++) {
        text_add(t, "# HELP weir_pool_%s %s\n# TYPE weir_pool_%s gauge\n",
                 g[k][0], g[k][1], g[k][0]);
        cJSON_ArrayForEach(p, pools)
        {
            text_add(t, "weir_pool_%s{pool=\"", g[k][0]);
            text_label(t, cJSON_GetStringValue(
                              cJSON_GetObjectItemCaseSensitive(p, "name")));
            text_add(t, "\"} %.0f\n", count_of(p, g[k][0]));
        }
    }
}

void api_metrics(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    struct text t = {malloc(4096), 0, 4096, true};
    cJSON *m = NULL, *pools = NULL;
    /* counts over every DAG: a reader of all of them */
    int rc = api_authorize(req, GRANT_ACT_READ, NULL, NULL, &err);

    if (rc == 0)
        rc = store_conn_get(api->store, &c, &err);
    t.ok = t.s != NULL;
    if (t.s != NULL)
        t.s[0] = '\0';

    if (rc == 0)
        rc = store_metrics(c, 2 * api->engine->lease_ttl_ms, &m, &err);
    if (rc == 0)
        rc = store_pools_list(c, &pools, &err);
    store_conn_put(c);
    if (rc == 0)
        metrics_text(&t, m);
    if (rc == 0)
        text_pools(&t, pools);
    if (rc == 0 && !t.ok)
        rc = weir_err_set(&err, WEIR_ENOMEM, "out of memory");
    if (rc < 0)
        http_reply_err(req, &err);
    else
        http_reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8",
                        t.s);
    cJSON_Delete(m);
    cJSON_Delete(pools);
    free(t.s);
}
