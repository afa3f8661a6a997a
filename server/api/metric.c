/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The metric routes: post samples (one or a batch) and read a metric's
 * series with the triggers that watch it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/authz.h"
#include "store/read.h" /* reads: samples */

#define SAMPLES_LIMIT_DEFAULT 500
#define SAMPLES_LIMIT_MAX     10000
#define METRIC_TIME_MAX       253402300799.0 /* 9999-12-31T23:59:59Z */

/* Labels are an object of strings and numbers. */
static int labels_check(const cJSON *l, const char *where, struct weir_err *err)
{
    const cJSON *m;

    if (l == NULL || cJSON_IsNull(l))
        return 0;
    if (!cJSON_IsObject(l))
        return weir_err_set(err, WEIR_EINVAL,
                            "%s: \"labels\" must be an object", where);
    cJSON_ArrayForEach(m, l)
    {
        if (!cJSON_IsString(m) && !cJSON_IsNumber(m))
            return weir_err_set(err, WEIR_EINVAL,
                                "%s: label \"%s\" must be a string or a "
                                "number",
                                where, m->string);
    }
    return 0;
}

/* One {"name", "value", "labels"?, "time"?} into *v (borrowing from o). */
static int sample_read(const cJSON *o, size_t i, struct metric_in *v,
                       struct weir_err *err)
{
    static const char *const keys[] = {"name", "value", "labels", "time"};
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *val = cJSON_GetObjectItemCaseSensitive(o, "value");
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(o, "labels");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "time");
    char where[40];
    int rc = 0;

    snprintf(where, sizeof(where), "sample %zu", i);
    memset(v, 0, sizeof(*v));
    if (!cJSON_IsObject(o))
        return weir_err_set(err, WEIR_EINVAL,
                            "%s: expected an object {\"name\", \"value\", "
                            "\"labels\", \"time\"}",
                            where);
    rc = api_check_keys(o, keys, WEIR_ARRAY_LEN(keys), where, err);
    if (rc == 0 && (!cJSON_IsString(name) || name->valuestring[0] == '\0' ||
                    strlen(name->valuestring) > METRIC_NAME_MAX))
        rc = weir_err_set(err, WEIR_EINVAL,
                          "%s: \"name\" must be a string of 1 to %d bytes",
                          where, METRIC_NAME_MAX);
    if (rc == 0 && (!cJSON_IsNumber(val) || !isfinite(val->valuedouble)))
        rc = weir_err_set(err, WEIR_EINVAL,
                          "%s: \"value\" must be a finite number", where);
    if (rc == 0)
        rc = labels_check(labels, where, err);
    if (rc == 0 && cJSON_IsNumber(t)) {
        v->has_time = true;
        v->time = t->valuedouble;
    } else if (rc == 0 && t != NULL && !cJSON_IsNull(t)) {
        v->has_time = true;
        rc = metrics_parse_time(cJSON_IsString(t) ? t->valuestring : NULL,
                                where, &v->time, err);
    }
    if (rc == 0 && v->has_time && !(v->time >= 0 && v->time <= METRIC_TIME_MAX))
        rc = weir_err_set(err, WEIR_EINVAL,
                          "%s: \"time\" must be seconds since 1970 up to "
                          "the year 9999 (0 to %.0f)",
                          where, METRIC_TIME_MAX);
    if (rc < 0)
        return rc;
    v->name = name->valuestring;
    v->value = val->valuedouble;
    v->labels = cJSON_IsObject(labels) ? labels : NULL;
    return 0;
}

/* POST /api/v1/metrics: {"name", "value", ...} or {"metrics": [...]}. */
void api_metric_post(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const cJSON *b = http_req_json(req);
    const cJSON *batch = cJSON_GetObjectItemCaseSensitive(b, "metrics");
    struct weir_err err = {0};
    struct metric_in *v = NULL;
    size_t n = 0, i = 0;
    const cJSON *m;
    cJSON *o;
    int runs = 0, rc = api_batch_size(b, "metrics", &n, &err);

    if (rc == 0 && (v = calloc(n, sizeof(*v))) == NULL)
        rc = weir_err_set(&err, WEIR_ENOMEM, "out of memory");
    if (rc == 0 && batch == NULL)
        rc = sample_read(b, 0, &v[0], &err);
    cJSON_ArrayForEach(m, batch)
    {
        if (rc == 0)
            rc = sample_read(m, i, &v[i], &err);
        i++;
    }
    if (rc == 0)
        rc = metrics_accept(api->engine, v, n, &err);
    for (i = 0; rc == 0 && i < n; i++)
        runs += v[i].runs;
    free(v);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "accepted", (double)n);
    cJSON_AddNumberToObject(o, "runs", runs);
    http_reply_json(req, 202, o);
}

/* The metric triggers watching name, as [{dag, trigger, below|above}]. */
static int watchers(struct api *api, struct store_conn *c, const char *name,
                    cJSON *arr, struct weir_err *err)
{
    struct trig_dag *f = NULL;
    size_t nf = 0;
    int rc = trig_dags_find(api->engine, c, DAG_TRIG_METRIC, &name, 1, false,
                            &f, &nf, err);

    for (size_t i = 0; rc == 0 && i < nf; i++)
        for (size_t k = 0; k < f[i].d->n_triggers; k++) {
            const struct dag_trigger *t = &f[i].d->triggers[k];
            cJSON *o;

            if (t->kind != DAG_TRIG_METRIC || strcmp(t->target, name) != 0)
                continue;
            o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "dag", f[i].id);
            cJSON_AddStringToObject(o, "trigger", t->key);
            if (t->has_below)
                cJSON_AddNumberToObject(o, "below", t->below);
            if (t->has_above)
                cJSON_AddNumberToObject(o, "above", t->above);
            cJSON_AddNumberToObject(o, "for", t->for_samples);
            cJSON_AddItemToArray(arr, o);
        }
    trig_dags_free(api->engine, f, nf);
    return rc;
}

/* GET /api/v1/metrics/{name}?since=RFC3339&limit=N */
void api_metric_get(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const char *name = http_req_param(req, "name");
    const char *since = http_req_query(req, "since");
    int64_t limit = api_query_num(req, "limit", SAMPLES_LIMIT_DEFAULT, 1,
                                  SAMPLES_LIMIT_MAX);
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    cJSON *samples = NULL, *o = NULL;
    double t = 0;
    /* a metric belongs to no one DAG: a reader of all of them */
    int rc = api_authorize(req, GRANT_ACT_READ, NULL, NULL, &err);

    if (rc == 0 && limit < 0)
        rc = weir_err_set(&err, WEIR_EINVAL, "limit must be 1 to %d",
                          SAMPLES_LIMIT_MAX);
    if (rc == 0 && since != NULL && since[0] != '\0')
        rc = metrics_parse_time(since, "since", &t, &err);
    if (rc == 0)
        rc = store_conn_get(api->store, &c, &err);
    if (rc == 0)
        rc = store_metric_samples(c, name, since && since[0] ? &t : NULL,
                                  (int)limit, &samples, &err);
    if (rc == 0) {
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddItemToObject(o, "samples", samples);
        rc =
            watchers(api, c, name, cJSON_AddArrayToObject(o, "triggers"), &err);
    }
    store_conn_put(c);
    if (rc < 0) {
        cJSON_Delete(o);
        http_reply_err(req, &err);
        return;
    }
    http_reply_json(req, 200, o);
}
