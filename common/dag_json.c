/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The normalized DAG as JSON: every default applied, steps in topological
 * order, matrix cells expanded, durations written the way YAML writes them.
 * This is what `weir dag show` prints and what the API returns for a DAG.
 */
#include "dag.h"

#include <stdio.h>

#include "duration.h"

/* Build helpers return false when cJSON ran out of memory. */

static bool add_str(cJSON *obj, const char *key, const char *value)
{
    if (value == NULL)
        return cJSON_AddNullToObject(obj, key) != NULL;
    return cJSON_AddStringToObject(obj, key, value) != NULL;
}

static bool add_num(cJSON *obj, const char *key, double value)
{
    return cJSON_AddNumberToObject(obj, key, value) != NULL;
}

/* A limit where 0 means "no limit" is written as null then. */
static bool add_limit(cJSON *obj, const char *key, int value)
{
    if (value == 0)
        return cJSON_AddNullToObject(obj, key) != NULL;
    return add_num(obj, key, value);
}

static bool add_bool(cJSON *obj, const char *key, bool value)
{
    return cJSON_AddBoolToObject(obj, key, value) != NULL;
}

/* A duration as "1h30m", or null when it is 0 and 0 means "none". */
static bool add_duration(cJSON *obj, const char *key, int64_t ms,
                         bool zero_is_none)
{
    char buf[64];

    if (ms == 0 && zero_is_none)
        return cJSON_AddNullToObject(obj, key) != NULL;
    return add_str(obj, key, duration_format(ms, buf, sizeof(buf)));
}

/* A copy of a cJSON value (an empty object for NULL). */
static bool add_json(cJSON *obj, const char *key, const cJSON *value)
{
    cJSON *copy = value ? cJSON_Duplicate(value, true) : cJSON_CreateObject();

    if (copy == NULL)
        return false;
    cJSON_AddItemToObject(obj, key, copy);
    return true;
}

static bool add_strings(cJSON *obj, const char *key, char *const *v, size_t n)
{
    cJSON *arr = cJSON_AddArrayToObject(obj, key);

    if (arr == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        cJSON *s = cJSON_CreateString(v[i]);

        if (s == NULL)
            return false;
        cJSON_AddItemToArray(arr, s);
    }
    return true;
}

static bool add_ints(cJSON *obj, const char *key, const int *v, size_t n)
{
    cJSON *arr = cJSON_AddArrayToObject(obj, key);

    if (arr == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        cJSON *num = cJSON_CreateNumber(v[i]);

        if (num == NULL)
            return false;
        cJSON_AddItemToArray(arr, num);
    }
    return true;
}

static bool add_hook(cJSON *obj, const char *key, const struct dag_hook *h)
{
    cJSON *o;

    if (h->run == NULL && h->webhook == NULL)
        return cJSON_AddNullToObject(obj, key) != NULL;
    o = cJSON_AddObjectToObject(obj, key);
    if (o == NULL)
        return false;
    if (h->run)
        return add_str(o, "run", h->run);
    return add_str(o, "webhook", h->webhook);
}

/* after: {dag, state}, as written in full. */
static bool add_after(cJSON *o, const struct dag_trigger *t)
{
    cJSON *a = cJSON_AddObjectToObject(o, "after");

    return a != NULL && add_str(a, "dag", t->target) &&
           add_str(a, "state", dag_after_state_name(t->after_state));
}

static bool trigger_kind_fields(cJSON *o, const struct dag_trigger *t)
{
    bool ok = t->kind == DAG_TRIG_AFTER
                  ? add_after(o, t)
                  : add_str(o, dag_trigger_kind_name(t->kind), t->target);

    switch (t->kind) {
    case DAG_TRIG_CRON:
        return ok && add_bool(o, "catchup", t->catchup) &&
               add_duration(o, "jitter", t->jitter_ms, true);
    case DAG_TRIG_EVENT:
        ok = ok && add_str(o, "when", t->when) &&
             add_str(o, "accumulate", t->accumulate);
        if (t->accumulate)
            ok = ok && add_num(o, "threshold", t->threshold);
        return ok;
    case DAG_TRIG_METRIC:
        if (t->has_below)
            ok = ok && add_num(o, "below", t->below);
        if (t->has_above)
            ok = ok && add_num(o, "above", t->above);
        return ok && add_num(o, "for", t->for_samples) &&
               add_json(o, "labels", t->labels);
    case DAG_TRIG_FILE:
        return ok && add_duration(o, "stable", t->stable_ms, false);
    case DAG_TRIG_WEBHOOK:
        return ok && add_str(o, "secret_env", t->secret_env) &&
               add_num(o, "max_body", t->max_body) &&
               add_str(o, "when", t->when);
    case DAG_TRIG_AFTER:
    case DAG_TRIG_DATA:
        return ok && add_str(o, "when", t->when);
    }
    return ok;
}

static cJSON *trigger_to_json(const struct dag *dag,
                              const struct dag_trigger *t)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL && add_str(o, "id", t->key) &&
              trigger_kind_fields(o, t) &&
              add_str(o, "priority",
                      dag_priority_name(t->has_priority ? t->priority
                                                        : dag->priority)) &&
              add_json(o, "params", t->params);

    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static bool add_env(cJSON *obj, const struct dag_step *s)
{
    cJSON *env = cJSON_AddObjectToObject(obj, "env");

    if (env == NULL)
        return false;
    for (size_t i = 0; i < s->n_env; i++)
        if (!add_str(env, s->env[i].name, s->env[i].value))
            return false;
    return true;
}

/* A mapped step: "matrix" {axis: "${{ steps.X.outputs.Y }}"} and "map"
 * {axis, step, output}; the cells are known at run time only. Another
 * step has no "map" key, and "matrix" null when it has no matrix. */
static bool add_map(cJSON *obj, const struct dag_step *s)
{
    char expr[2 * DAG_ID_MAX + 256];
    cJSON *m, *map;

    if (!dag_step_mapped(s))
        return s->n_matrix > 0 || cJSON_AddNullToObject(obj, "matrix") != NULL;
    snprintf(expr, sizeof(expr), "${{ steps.%s.outputs.%s }}", s->map_step,
             s->map_output);
    m = cJSON_AddObjectToObject(obj, "matrix");
    map = cJSON_AddObjectToObject(obj, "map");
    return m != NULL && map != NULL && add_str(m, s->matrix[0].name, expr) &&
           add_str(map, "axis", s->matrix[0].name) &&
           add_str(map, "step", s->map_step) &&
           add_str(map, "output", s->map_output);
}

static bool add_matrix(cJSON *obj, const struct dag_step *s)
{
    cJSON *m, *cells;

    if (s->n_matrix == 0 || dag_step_mapped(s))
        return add_map(obj, s) && cJSON_AddNullToObject(obj, "cells") != NULL;
    m = cJSON_AddObjectToObject(obj, "matrix");
    if (m == NULL)
        return false;
    for (size_t i = 0; i < s->n_matrix; i++)
        if (!add_json(m, s->matrix[i].name, s->matrix[i].values))
            return false;
    cells = cJSON_AddArrayToObject(obj, "cells");
    if (cells == NULL)
        return false;
    for (size_t c = 0; c < s->n_cells; c++) {
        cJSON *cell = dag_step_cell(s, c);

        if (cell == NULL)
            return false;
        cJSON_AddItemToArray(cells, cell);
    }
    return add_map(obj, s);
}

static bool add_step_retry(cJSON *o, const struct dag_step *s)
{
    return add_num(o, "retries", s->retries) &&
           add_duration(o, "retry_delay", s->retry_delay_ms, false) &&
           add_num(o, "retry_backoff", s->retry_backoff) &&
           add_duration(o, "max_retry_delay", s->max_retry_delay_ms, true) &&
           add_duration(o, "timeout", s->timeout_ms, true) &&
           add_ints(o, "retry_on_exit", s->retry_on_exit, s->n_retry_on_exit) &&
           add_ints(o, "no_retry_on_exit", s->no_retry_on_exit,
                    s->n_no_retry_on_exit);
}

/* "cache": {key, ttl}, only for a cached step (key null: the default). */
static bool add_cache(cJSON *o, const struct dag_step *s)
{
    cJSON *c = cJSON_AddObjectToObject(o, "cache");

    return c != NULL && add_str(c, "key", s->cache_key) &&
           add_duration(c, "ttl", s->cache_ttl_ms, false);
}

static cJSON *step_to_json(const struct dag_step *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *approval = NULL;
    bool ok =
        o != NULL && add_str(o, "id", s->id) && add_str(o, "run", s->run) &&
        add_env(o, s) && add_str(o, "workdir", s->workdir) &&
        add_strings(o, "needs", s->needs, s->n_needs) &&
        add_str(o, "queue", s->queue) && add_step_retry(o, s) &&
        add_str(o, "trigger_rule", dag_trigger_rule_name(s->trigger_rule)) &&
        add_str(o, "if", s->if_expr) && add_matrix(o, s) &&
        add_str(o, "hook", dag_hook_name(s->hook)) &&
        add_str(o, "pool", s->pool) && add_num(o, "pool_slots", s->pool_slots);

    if (ok && s->approval) {
        approval = cJSON_AddObjectToObject(o, "approval");
        ok = approval != NULL &&
             add_str(approval, "message", s->approval_message) &&
             add_strings(approval, "approvers", s->approvers.names,
                         s->approvers.n) &&
             cJSON_AddBoolToObject(approval, "self_approve", s->self_approve) !=
                 NULL;
    } else if (ok) {
        ok = cJSON_AddNullToObject(o, "approval") != NULL;
    }
    if (ok && s->cache)
        ok = add_cache(o, s);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static bool add_environments(cJSON *obj, const struct dag *dag)
{
    cJSON *envs = cJSON_AddObjectToObject(obj, "environments");

    if (envs == NULL)
        return false;
    for (size_t i = 0; i < dag->n_environments; i++) {
        const struct dag_environment *e = &dag->environments[i];
        cJSON *o = cJSON_AddObjectToObject(envs, e->name);

        if (o == NULL || !add_json(o, "params", e->params) ||
            !add_str(o, "queue", e->queue) ||
            !add_strings(o, "approve_before", e->approve_before,
                         e->n_approve_before) ||
            !add_strings(o, "approvers", e->approvers.names, e->approvers.n) ||
            cJSON_AddBoolToObject(o, "self_approve", e->self_approve) == NULL)
            return false;
    }
    return true;
}

/* `artifacts`, only when the DAG declares some. */
static bool add_artifacts(cJSON *obj, const struct dag *dag)
{
    cJSON *arts;

    if (dag->n_artifacts == 0)
        return true;
    arts = cJSON_AddObjectToObject(obj, "artifacts");
    if (arts == NULL)
        return false;
    for (size_t i = 0; i < dag->n_artifacts; i++) {
        const struct dag_artifact *a = &dag->artifacts[i];
        cJSON *o = cJSON_AddObjectToObject(arts, a->name), *from;

        if (o == NULL ||
            cJSON_AddNumberToObject(o, "max_prod", a->max_prod) == NULL ||
            cJSON_AddBoolToObject(o, "self_approve", a->self_approve) == NULL ||
            !add_strings(o, "approvers", a->approvers.names, a->approvers.n))
            return false;
        if (a->n_promote_from == 0)
            continue;
        from = cJSON_AddObjectToObject(o, "promote_from");
        for (size_t k = 0; from != NULL && k < a->n_promote_from; k++) {
            const struct dag_promote_from *f = &a->promote_from[k];
            cJSON *envs =
                f->stage ? cJSON_AddArrayToObject(from, f->stage) : NULL;

            for (size_t e = 0; envs != NULL && e < f->n_envs; e++)
                cJSON_AddItemToArray(envs, cJSON_CreateString(f->envs[e]));
        }
        if (from == NULL)
            return false;
    }
    return true;
}

/* `deadline:` as {finish_within, succeed_by, cancel}, or null. */
static bool add_deadline(cJSON *o, const struct dag_deadline *d)
{
    char hhmm[32];
    cJSON *v;

    if (d->finish_within_ms == 0 && !d->has_succeed_by)
        return cJSON_AddNullToObject(o, "deadline") != NULL;
    v = cJSON_AddObjectToObject(o, "deadline");
    snprintf(hhmm, sizeof(hhmm), "%02d:%02d", d->succeed_by_min / 60,
             d->succeed_by_min % 60);
    return v != NULL &&
           add_duration(v, "finish_within", d->finish_within_ms, true) &&
           add_str(v, "succeed_by", d->has_succeed_by ? hhmm : NULL) &&
           add_bool(v, "cancel", d->cancel);
}

static bool add_dag_fields(cJSON *o, const struct dag *dag)
{
    return add_str(o, "dag", dag->id) &&
           add_str(o, "description", dag->description) &&
           add_strings(o, "tags", dag->tags, dag->n_tags) &&
           add_str(o, "hash", dag->hash) &&
           add_json(o, "params", dag->params) &&
           add_str(o, "timezone", dag->timezone) &&
           add_duration(o, "cooldown", dag->cooldown_ms, true) &&
           add_limit(o, "max_runs_per_day", dag->max_runs_per_day) &&
           add_limit(o, "max_active_runs", dag->max_active_runs) &&
           add_limit(o, "concurrency", dag->concurrency) &&
           add_str(o, "priority", dag_priority_name(dag->priority)) &&
           add_str(o, "environment", dag->environment) &&
           add_environments(o, dag) && add_artifacts(o, dag) &&
           add_hook(o, "on_failure", &dag->on_failure) &&
           add_hook(o, "on_success", &dag->on_success) &&
           add_duration(o, "run_timeout", dag->run_timeout_ms, true) &&
           add_deadline(o, &dag->deadline);
}

cJSON *dag_to_json(const struct dag *dag)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *triggers, *steps;

    if (o == NULL || !add_dag_fields(o, dag))
        goto fail;
    triggers = cJSON_AddArrayToObject(o, "triggers");
    steps = cJSON_AddArrayToObject(o, "steps");
    if (triggers == NULL || steps == NULL)
        goto fail;
    for (size_t i = 0; i < dag->n_triggers; i++) {
        cJSON *t = trigger_to_json(dag, &dag->triggers[i]);

        if (t == NULL)
            goto fail;
        cJSON_AddItemToArray(triggers, t);
    }
    for (size_t i = 0; i < dag->n_steps; i++) {
        cJSON *s = step_to_json(&dag->steps[i]);

        if (s == NULL)
            goto fail;
        cJSON_AddItemToArray(steps, s);
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}
