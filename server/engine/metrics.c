/* SPDX-License-Identifier: Apache-2.0 */
/* Metric samples and the metric triggers they feed (see metrics.h). */
#include "engine/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "civil.h"
#include "engine/events.h"
#include "engine/fire.h"
#include "log.h"
#include "store/metrics.h"
#include "store/store.h"

#define PRUNE_EVERY_S 60 /* least time between prunes */

static pthread_mutex_t prune_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t prune_last; /* Unix seconds of the last prune */
static int64_t retention_s = METRICS_RETENTION_DEFAULT_S; /* samples kept */

void metrics_set_retention(int64_t seconds)
{
    pthread_mutex_lock(&prune_mu);
    retention_s = seconds;
    pthread_mutex_unlock(&prune_mu);
}

int metrics_parse_time(const char *text, const char *what, double *out,
                       struct weir_err *err)
{
    int y, mo, d, h, mi, s, oh = 0, om = 0, n = 0, k = 0;
    double frac = 0;
    const char *p;
    char sign;

    if (text == NULL ||
        sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s,
               &n) != 6 ||
        n != 19 || mo < 1 || mo > 12 || d < 1 ||
        d > civil_days_in_month(y, mo) || h > 23 || mi > 59 || s > 60)
        goto bad;
    p = text + n;
    if (*p == '.') {
        char *end = NULL;

        frac = strtod(p, &end);
        if (end == p + 1)
            goto bad;
        p = end;
    }
    sign = *p;
    if (sign == 'Z' && p[1] == '\0') {
        /* UTC */
    } else if ((sign == '+' || sign == '-') &&
               sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) == 2 && k == 5 &&
               p[6] == '\0' && oh < 24 && om < 60) {
        if (sign == '+') {
            oh = -oh;
            om = -om;
        }
    } else {
        goto bad;
    }
    *out = (double)(civil_days_from_date(y, mo, d) * 86400 + h * 3600 +
                    mi * 60 + s + oh * 3600 + om * 60) +
           frac;
    return 0;
bad:
    return weir_err_set(err, WEIR_EINVAL,
                        "%s: expected an RFC 3339 time such as "
                        "2026-11-29T02:00:00Z, not \"%s\"",
                        what, text ? text : "");
}

/* Whether every matcher of t->labels equals the sample's label. */
static bool labels_match(const struct dag_trigger *t, const cJSON *labels)
{
    const cJSON *m;

    cJSON_ArrayForEach(m, t->labels)
    {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(labels, m->string);
        char a[64], b[64];

        if (l == NULL)
            return false;
        if (cJSON_IsString(m) && cJSON_IsString(l)) {
            if (strcmp(m->valuestring, l->valuestring) != 0)
                return false;
            continue;
        }
        snprintf(a, sizeof(a), "%s", cJSON_IsString(m) ? m->valuestring : "");
        snprintf(b, sizeof(b), "%s", cJSON_IsString(l) ? l->valuestring : "");
        if (cJSON_IsNumber(m))
            snprintf(a, sizeof(a), "%.17g", m->valuedouble);
        if (cJSON_IsNumber(l))
            snprintf(b, sizeof(b), "%.17g", l->valuedouble);
        if (strcmp(a, b) != 0)
            return false;
    }
    return true;
}

/* Which line v is past: "<" below, ">" above, NULL on the good side. */
static const char *past_line(const struct dag_trigger *t, double v,
                             double *line)
{
    if (t->has_below && v < t->below) {
        *line = t->below;
        return "<";
    }
    if (t->has_above && v > t->above) {
        *line = t->above;
        return ">";
    }
    return NULL;
}

static char *fire_payload(const struct metric_in *v, const char *op,
                          double line, int samples)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;

    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "name", v->name);
    cJSON_AddNumberToObject(o, "value", v->value);
    cJSON_AddItemToObject(o, "labels",
                          v->labels ? cJSON_Duplicate(v->labels, 1)
                                    : cJSON_CreateObject());
    cJSON_AddNumberToObject(o, op[0] == '<' ? "below" : "above", line);
    cJSON_AddNumberToObject(o, "samples", samples);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* Trigger t of d crossed: fire it; *fired when a run was made or fed. */
static int cross(struct engine *e, struct store_conn *c, const struct dag *d,
                 const struct dag_trigger *t, struct metric_in *v,
                 const char *op, double line, bool *fired, struct weir_err *err)
{
    char reason[300];
    char *payload = fire_payload(v, op, line, t->for_samples);
    struct engine_slot s = {d->id, t->key, 0, reason, payload, NULL, NULL};
    struct fire_result res = {0};
    int rc;

    if (payload == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    snprintf(reason, sizeof(reason), "metric %s=%g %s %g for %d sample%s",
             v->name, v->value, op, line, t->for_samples,
             t->for_samples == 1 ? "" : "s");
    rc = engine_fire_in_tx(e, c, &s, &res, err);
    *fired = rc == 0 &&
             (res.outcome == FIRE_CREATED || res.outcome == FIRE_COALESCED);
    v->runs += *fired;
    cJSON_free(payload);
    return rc;
}

/* Offer sample v to metric trigger t of DAG d (locked). */
static int feed(struct engine *e, struct store_conn *c, const struct dag *d,
                const struct dag_trigger *t, struct metric_in *v,
                struct weir_err *err)
{
    bool armed = true, fired = false;
    int streak = 0, rc;
    double line = 0;
    const char *op = past_line(t, v->value, &line);

    if (!labels_match(t, v->labels))
        return 0;
    rc = store_metric_state_get(c, d->id, t->key, &armed, &streak, err);
    if (rc < 0)
        return rc;
    if (!armed) {
        if (op == NULL)
            log_info("event=metric_rearmed dag=%s trigger=\"%s\" value=%g",
                     d->id, t->key, v->value);
        return op == NULL
                   ? store_metric_state_set(c, d->id, t->key, true, 0, err)
                   : 0;
    }
    streak = op == NULL ? 0 : streak + 1;
    if (streak >= t->for_samples) {
        rc = cross(e, c, d, t, v, op, line, &fired, err);
        if (rc == 0 && fired) {
            armed = false;
            streak = 0;
        } else {
            streak = t->for_samples; /* suppressed: retry on the next */
        }
    }
    if (rc == 0)
        rc = store_metric_state_set(c, d->id, t->key, armed, streak, err);
    return rc;
}

/* Delete old samples when a minute passed since the last time. */
static int prune(struct store_conn *c, struct weir_err *err)
{
    int64_t now = (int64_t)time(NULL), keep;
    bool due;

    pthread_mutex_lock(&prune_mu);
    due = now - prune_last >= PRUNE_EVERY_S;
    if (due)
        prune_last = now;
    keep = retention_s;
    pthread_mutex_unlock(&prune_mu);
    return due ? store_metric_prune(c, keep, err) : 0;
}

static int accept_one(struct engine *e, struct store_conn *c,
                      struct metric_in *v, const struct trig_dag *f, size_t nf,
                      struct weir_err *err)
{
    char *labels = v->labels ? cJSON_PrintUnformatted(v->labels) : NULL;
    int rc = v->labels && !labels
                 ? weir_err_set(err, WEIR_ENOMEM, "out of memory")
                 : 0;

    if (rc == 0)
        rc = store_metric_insert(c, v->name, v->has_time ? &v->time : NULL,
                                 v->value, labels ? labels : "{}", err);
    cJSON_free(labels);
    for (size_t i = 0; rc == 0 && i < nf; i++)
        for (size_t t = 0; rc == 0 && t < f[i].d->n_triggers; t++) {
            const struct dag_trigger *tr = &f[i].d->triggers[t];

            if (tr->kind == DAG_TRIG_METRIC && strcmp(tr->target, v->name) == 0)
                rc = feed(e, c, f[i].d, tr, v, err);
        }
    return rc;
}

int metrics_accept(struct engine *e, struct metric_in *v, size_t n,
                   struct weir_err *err)
{
    struct store_conn *c = NULL;
    struct trig_dag *f = NULL;
    struct weir_err perr = {0};
    const char **names = calloc(n ? n : 1, sizeof(*names));
    size_t nf = 0;
    int rc = names ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");

    for (size_t i = 0; rc == 0 && i < n; i++)
        names[i] = v[i].name;
    if (rc == 0)
        rc = store_conn_get(e->store, &c, err);
    if (rc == 0)
        rc = store_tx_begin(c, err);
    if (rc == 0)
        rc =
            trig_dags_find(e, c, DAG_TRIG_METRIC, names, n, true, &f, &nf, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = accept_one(e, c, &v[i], f, nf, err);
    if (rc == 0)
        rc = store_tx_commit(c, err);
    if (rc == 0 && prune(c, &perr) < 0)
        log_warn("event=metric_prune_failed msg=\"%s\"", perr.msg);
    store_conn_put(c);
    trig_dags_free(e, f, nf);
    free(names);
    if (rc == 0)
        hub_bump(e->hub);
    return rc;
}
