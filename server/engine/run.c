/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine's transactions: creating a run, completing an attempt, and
 * expiring leases. Each borrows a connection, runs one transaction (one
 * per attempt for expiry) and bumps the hub after committing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cache.h"
#include "engine/deadline.h"
#include "engine/fire.h"
#include "engine/internal.h"
#include "engine/policy.h"
#include "log.h"
#include "store/approvals.h"
#include "store/cache.h"
#include "store/store.h"
#include "suggest.h"

#define EXPIRE_BATCH 100 /* expired attempts handled per pass */

/* The environment named name (or the DAG's default); *out NULL when the
 * run has none. WEIR_EINVAL for a name the DAG does not declare. */
static int find_env(const struct dag *d, const char *name,
                    const struct dag_environment **out, struct weir_err *err)
{
    const char *cands[64];
    size_t n = 0;
    const char *s;

    *out = NULL;
    if (name == NULL)
        name = d->environment;
    if (name == NULL)
        return 0;
    for (size_t i = 0; i < d->n_environments; i++) {
        if (strcmp(d->environments[i].name, name) == 0) {
            *out = &d->environments[i];
            return 0;
        }
        if (n < WEIR_ARRAY_LEN(cands))
            cands[n++] = d->environments[i].name;
    }
    s = suggest_word(name, cands, n);
    return weir_err_set(
        err, WEIR_EINVAL, "unknown environment \"%s\" for DAG \"%s\"%s%s%s",
        name, d->id, s ? " (did you mean \"" : "", s ? s : "", s ? "\"?)" : "");
}

/* Replace or add every member of src in dst. */
static int overlay(cJSON *dst, const cJSON *src, struct weir_err *err)
{
    const cJSON *m;

    cJSON_ArrayForEach(m, src)
    {
        cJSON *copy = cJSON_Duplicate(m, 1);

        if (copy == NULL)
            return weir_err_set(err, WEIR_ENOMEM, "out of memory");
        cJSON_DeleteItemFromObjectCaseSensitive(dst, m->string);
        cJSON_AddItemToObject(dst, m->string, copy);
    }
    return 0;
}

/* name must be a param d declares (err suggests a close one). */
static int param_declared(const struct dag *d, const char *name,
                          struct weir_err *err)
{
    const char *cands[256];
    size_t n = 0;
    const cJSON *m;
    const char *s;

    if (cJSON_GetObjectItemCaseSensitive(d->params, name) != NULL)
        return 0;
    cJSON_ArrayForEach(m, d->params)
    {
        if (n < WEIR_ARRAY_LEN(cands))
            cands[n++] = m->string;
    }
    s = suggest_word(name, cands, n);
    return weir_err_set(
        err, WEIR_EINVAL, "unknown param \"%s\" for DAG \"%s\"%s%s%s", name,
        d->id, s ? " (did you mean \"" : "", s ? s : "", s ? "\"?)" : "");
}

/* The value that gives param name its type: the environment's, else the
 * DAG's default (declared). */
static const cJSON *param_decl(const struct dag *d,
                               const struct dag_environment *env,
                               const char *name)
{
    const cJSON *v = NULL;

    if (env != NULL)
        v = cJSON_GetObjectItemCaseSensitive(env->params, name);
    if (v == NULL || cJSON_IsNull(v))
        v = cJSON_GetObjectItemCaseSensitive(d->params, name);
    return v;
}

/* The type of a param whose value in effect is v, as docs/dag-format.md
 * names it; NULL for one declared null (any type). */
static const char *param_type(const cJSON *v)
{
    if (cJSON_IsBool(v))
        return "bool";
    if (cJSON_IsNumber(v))
        return "number";
    if (cJSON_IsString(v))
        return "string";
    if (cJSON_IsArray(v))
        return "list";
    if (cJSON_IsObject(v))
        return "map";
    return NULL;
}

/* text as a value of the type of decl (a new item), or NULL when it is
 * not one. A param declared null takes the text as a string. */
static cJSON *param_from_text(const cJSON *decl, const char *text)
{
    char *end = NULL;
    double num;
    cJSON *v;

    if (cJSON_IsBool(decl)) {
        if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0)
            return cJSON_CreateBool(text[0] == 't');
        return NULL;
    }
    if (cJSON_IsNumber(decl)) {
        num = strtod(text, &end);
        if (text[0] == '\0' || *end != '\0' || !isfinite(num))
            return NULL;
        return cJSON_CreateNumber(num);
    }
    if (!cJSON_IsArray(decl) && !cJSON_IsObject(decl))
        return cJSON_CreateString(text);
    v = cJSON_Parse(text);
    if (v != NULL && (cJSON_IsArray(decl) != cJSON_IsArray(v) ||
                      cJSON_IsObject(decl) != cJSON_IsObject(v))) {
        cJSON_Delete(v);
        v = NULL;
    }
    return v;
}

/* What a value of each type looks like, for messages. */
static const char *type_hint(const char *type)
{
    if (strcmp(type, "bool") == 0)
        return "true or false";
    if (strcmp(type, "number") == 0)
        return "a number such as 3 or 0.9";
    if (strcmp(type, "list") == 0)
        return "a JSON list such as [\"a\", \"b\"]";
    return "a JSON object such as {\"k\": 1}";
}

/* Add request value v of param m->string (typed JSON, or text when
 * as_text) to out, checked against its declared type. */
static int param_add(const struct dag *d, const struct dag_environment *env,
                     const cJSON *m, bool as_text, cJSON *out,
                     struct weir_err *err)
{
    const cJSON *decl = param_decl(d, env, m->string);
    const char *type = param_type(decl), *given;
    char shown[64];
    cJSON *v;
    char *text;

    if (cJSON_GetObjectItemCaseSensitive(out, m->string) != NULL)
        return weir_err_set(err, WEIR_EINVAL,
                            "param \"%s\" is given twice (in \"params\" and "
                            "\"params_text\")",
                            m->string);
    if (as_text && !cJSON_IsString(m))
        return weir_err_set(err, WEIR_EINVAL,
                            "\"params_text\": param \"%s\" must be a string",
                            m->string);
    if (as_text) {
        v = param_from_text(decl, m->valuestring);
        if (v == NULL)
            return weir_err_set(err, WEIR_EINVAL,
                                "param \"%s\" of DAG \"%s\" is a %s: \"%.60s\" "
                                "is not %s",
                                m->string, d->id, type, m->valuestring,
                                type_hint(type));
    } else {
        given = param_type(m);
        if (type != NULL && (given == NULL || strcmp(type, given) != 0)) {
            text = cJSON_PrintUnformatted(m);
            snprintf(shown, sizeof(shown), "%s", text ? text : "?");
            cJSON_free(text);
            return weir_err_set(err, WEIR_EINVAL,
                                "param \"%s\" of DAG \"%s\" is a %s, not "
                                "a %s (%s)",
                                m->string, d->id, type, given ? given : "null",
                                shown);
        }
        v = cJSON_Duplicate(m, 1);
    }
    if (v == NULL || !cJSON_AddItemToObject(out, m->string, v)) {
        cJSON_Delete(v);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    return 0;
}

int engine_params_typed(const struct dag *d, const char *env_name,
                        const cJSON *typed, const cJSON *text, cJSON **out,
                        struct weir_err *err)
{
    const struct dag_environment *env = NULL;
    cJSON *o = NULL;
    const cJSON *m;
    int rc = 0;

    *out = NULL;
    if (typed == NULL && text == NULL)
        return 0;
    rc = find_env(d, env_name, &env, err);
    o = cJSON_CreateObject();
    if (rc == 0 && o == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    for (m = typed ? typed->child : NULL; rc == 0 && m != NULL; m = m->next) {
        rc = param_declared(d, m->string, err);
        if (rc == 0)
            rc = param_add(d, env, m, false, o, err);
    }
    for (m = text ? text->child : NULL; rc == 0 && m != NULL; m = m->next) {
        rc = param_declared(d, m->string, err);
        if (rc == 0)
            rc = param_add(d, env, m, true, o, err);
    }
    if (rc < 0)
        cJSON_Delete(o);
    else
        *out = o;
    return rc;
}

/* The run's params as JSON text: defaults, environment, request. */
static int build_params(const struct dag *d, const struct dag_environment *env,
                        const cJSON *req, char **out, struct weir_err *err)
{
    cJSON *p = d->params ? cJSON_Duplicate(d->params, 1) : cJSON_CreateObject();
    int rc = p ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");

    if (rc == 0 && env != NULL && env->params != NULL)
        rc = overlay(p, env->params, err);
    if (rc == 0 && req != NULL)
        rc = overlay(p, req, err);
    if (rc == 0) {
        *out = cJSON_PrintUnformatted(p);
        if (*out == NULL)
            rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    cJSON_Delete(p);
    return rc;
}

/* One task per step and cell, in step order, as JSON text. */
static int build_tasks(const struct dag *d, const struct dag_environment *env,
                       char **out, struct weir_err *err)
{
    cJSON *arr = cJSON_CreateArray();
    size_t o = 0;

    for (size_t s = 0; arr != NULL && s < d->n_steps; s++) {
        const struct dag_step *st = &d->steps[s];
        size_t pending = 0;

        for (size_t m = 0; m < st->n_needs; m++)
            pending += d->steps[st->needs_idx[m]].n_cells;
        for (size_t k = 0; k < st->n_cells; k++) {
            cJSON *t = cJSON_CreateObject();

            cJSON_AddItemToArray(arr, t);
            cJSON_AddNumberToObject(t, "o", (double)o++);
            cJSON_AddStringToObject(t, "step_id", st->id);
            cJSON_AddNumberToObject(t, "cell", (double)k);
            if (st->n_matrix > 0 && !dag_step_mapped(st))
                cJSON_AddItemToObject(t, "matrix", dag_step_cell(st, k));
            if (dag_step_mapped(st)) /* cells unknown until it runs */
                cJSON_AddNumberToObject(t, "map_cells", -1);
            cJSON_AddNumberToObject(t, "max_tries", st->retries + 1);
            cJSON_AddStringToObject(t, "queue",
                                    env && env->queue ? env->queue : st->queue);
            cJSON_AddNumberToObject(t, "upstream_pending", (double)pending);
            if (st->pool != NULL && !st->approval) {
                cJSON_AddStringToObject(t, "pool", st->pool);
                cJSON_AddNumberToObject(t, "pool_slots", st->pool_slots);
            }
        }
    }
    *out = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (*out == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    return 0;
}

/* What a run is made of, whoever asks for it. */
struct spec {
    const char *dag_id;             /* the DAG */
    const char *environment;        /* or NULL for the DAG's default */
    const cJSON *params;            /* overrides, or NULL */
    const cJSON *params_text;       /* manual runs: overrides as text */
    const char *idempotency_key;    /* manual runs, or NULL */
    const struct dag_trigger *trig; /* NULL for a manual run */
    const struct engine_slot *slot; /* with trig: the firing */
    const char *reason;             /* manual runs: for people */
    int64_t logical_time;           /* manual or backfill runs: Unix
                                       seconds, or 0 for none */
    int64_t backfill_id;            /* a backfill's run (params typed
                                       already), or 0 */
    const char *backfill_key;       /* with backfill_id: its trigger key */
    bool no_cache;                  /* manual runs: skip cache lookups */
};

/* Insert the run of sp and its tasks of DAG d (version `version`) and
 * start it unless max_active_runs holds it; *created false when its slot
 * already had its run. */
static int insert_run(struct engine *e, struct store_conn *c,
                      const struct dag *d, const struct spec *sp,
                      int64_t version, int running, int64_t *run_id,
                      bool *created, struct weir_err *err)
{
    const struct dag_environment *env = NULL;
    const struct dag_trigger *tr = sp->trig;
    struct store_run_new n = {0};
    char *params = NULL, *tasks = NULL;
    cJSON *req = NULL;
    bool ended = false;
    int rc = find_env(d, sp->environment, &env, err);

    if (rc == 0 && tr == NULL && sp->backfill_id == 0)
        rc = engine_params_typed(d, sp->environment, sp->params,
                                 sp->params_text, &req, err);
    if (rc == 0)
        rc = build_params(d, env, tr || sp->backfill_id ? sp->params : req,
                          &params, err);
    if (rc == 0)
        rc = build_tasks(d, env, &tasks, err);
    n = (struct store_run_new){
        .dag_id = sp->dag_id,
        .version_id = version,
        .state = d->max_active_runs > 0 && running >= d->max_active_runs
                     ? RUN_QUEUED
                     : RUN_RUNNING,
        .params = params,
        .environment = env ? env->name : NULL,
        .trigger_kind = tr                ? dag_trigger_kind_name(tr->kind)
                        : sp->backfill_id ? "backfill"
                                          : "manual",
        .trigger_key = tr                ? tr->key
                       : sp->backfill_id ? sp->backfill_key
                                         : "manual",
        .payload = tr ? sp->slot->payload : NULL,
        .idempotency_key = sp->idempotency_key,
        .reason = tr ? sp->slot->reason : sp->reason,
        .priority = (int)(tr && tr->has_priority ? tr->priority : d->priority),
        .logical_time = sp->logical_time,
        .backfill_id = sp->backfill_id,
    };
    *created = true;
    if (rc == 0 && tr == NULL && sp->backfill_id == 0)
        rc = store_run_insert(c, &n, run_id, err);
    else if (rc == 0)
        rc = store_sched_run_insert(
            c, &n, tr ? sp->slot->logical_time : sp->logical_time, run_id,
            created, err);
    if (rc == 0 && *created && sp->no_cache)
        rc = store_run_no_cache(c, *run_id, err);
    if (rc == 0 && *created)
        rc = policy_tasks_insert(c, *run_id, n.priority, tasks, err);
    if (rc == 0 && *created)
        rc = engine_deadline_arm(c, d, *run_id, err);
    if (rc == 0 && *created && n.state == RUN_RUNNING)
        rc = engine_run_start(e, c, *run_id, &ended, err);
    cJSON_free(params);
    cJSON_free(tasks);
    cJSON_Delete(req);
    return rc;
}

/* Insert and start the manual run t of version `version`. */
static int create_in_tx(struct engine *e, struct store_conn *c,
                        const struct engine_trigger *t, int64_t version,
                        int running, int64_t *run_id, struct weir_err *err)
{
    const struct dag *d = engine_dag(e->cache, c, version);
    struct spec sp = {.dag_id = t->dag_id,
                      .environment = t->environment,
                      .params = t->params,
                      .params_text = t->params_text,
                      .idempotency_key = t->idempotency_key,
                      .reason = t->reason,
                      .no_cache = t->no_cache};
    bool created = false;
    int rc;

    if (d == NULL)
        return weir_err_set(err, WEIR_EINTERNAL,
                            "the current version of DAG \"%s\" cannot be "
                            "loaded",
                            t->dag_id);
    rc = t->logical_time == NULL
             ? 0
             : engine_time_parse(d, "logical_time", t->logical_time, false,
                                 &sp.logical_time, NULL, err);
    if (rc == 0)
        rc = insert_run(e, c, d, &sp, version, running, run_id, &created, err);
    if (rc == 0 && created && t->by != NULL)
        rc = store_run_started_by_set(c, *run_id, t->by, err);
    if (rc == WEIR_EEXISTS && t->logical_time != NULL)
        rc = weir_err_set(err, WEIR_EEXISTS,
                          "DAG \"%s\" already has a manual run at logical "
                          "time %s",
                          t->dag_id, t->logical_time);
    dagcache_release(e->cache, d);
    return rc;
}

int engine_backfill_run_insert(struct engine *e, struct store_conn *c,
                               const struct dag *d,
                               const struct store_dag_locked *l,
                               const struct engine_backfill_slot *b,
                               int64_t *run_id, bool *created,
                               struct weir_err *err)
{
    struct spec sp = {.dag_id = d->id,
                      .params = b->params,
                      .reason = b->reason,
                      .logical_time = b->logical_time,
                      .backfill_id = b->backfill_id,
                      .backfill_key = b->trigger_key};

    return insert_run(e, c, d, &sp, l->version_id, l->running, run_id, created,
                      err);
}

int engine_run_create(struct engine *e, const struct engine_trigger *t,
                      int64_t *run_id, bool *existed, struct weir_err *err)
{
    struct store_conn *c = NULL;
    struct store_dag_locked l = {0};
    int rc = store_conn_get(e->store, &c, err);

    *existed = false;
    if (rc == 0)
        rc = store_tx_begin(c, err);
    if (rc == 0)
        rc = store_dag_lock(c, t->dag_id, &l, err);
    if (rc == 0 && t->idempotency_key != NULL) {
        rc = store_run_by_key(c, t->dag_id, t->idempotency_key, run_id, err);
        if (rc == 0) {
            *existed = true;
            store_conn_put(c);
            return 0;
        }
        if (rc == WEIR_ENOTFOUND)
            rc = 0;
    }
    if (rc == 0)
        rc = store_dag_startable(t->dag_id, &l, err);
    if (rc == 0 && l.paused)
        rc = weir_err_set(err, WEIR_ECONFLICT, "DAG \"%s\" is paused",
                          t->dag_id);
    if (rc == 0)
        rc = create_in_tx(e, c, t, l.version_id, l.running, run_id, err);
    if (rc == 0)
        rc = store_tx_commit(c, err);
    store_conn_put(c);
    if (rc == 0)
        hub_bump(e->hub);
    return rc;
}

/* Attempt id's lease expired: lost, in a transaction of its own. */
static int expire_one(struct engine *e, struct store_conn *c, int64_t id,
                      struct weir_err *err)
{
    struct store_attempt a = {0};
    char msg[120];
    struct outcome o = {ATTEMPT_LOST, NULL, NULL,  msg,
                        false,        NULL, false, false};
    int rc = store_tx_begin(c, err);

    snprintf(msg, sizeof(msg),
             "lease expired: no heartbeat or completion within %lld ms",
             (long long)e->lease_ttl_ms);
    if (rc == 0)
        rc = store_attempt_get(c, id, NULL, true, &a, err);
    if (rc == 0 && a.state == ATTEMPT_RUNNING && a.expired)
        rc = cache_untried(c, &a, false, &o, err);
    if (rc == 0 && a.state == ATTEMPT_RUNNING && a.expired)
        rc = engine_finish_attempt(e, c, &a, &o, err);
    if (rc == 0)
        rc = store_tx_commit(c, err);
    else
        store_tx_rollback(c);
    return rc;
}

int engine_expire(struct engine *e, int64_t *next_ms, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = store_attempts_expired(c, EXPIRE_BATCH, &ids, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = expire_one(e, c, ids[i], err);
    if (rc == 0)
        rc = store_lease_next(c, next_ms, err);
    store_conn_put(c);
    free(ids);
    if (n > 0)
        hub_bump(e->hub);
    return rc;
}

/* ---- trigger firings (the scheduler loop, events, webhooks) ---- */

static const struct dag_trigger *find_trigger(const struct dag *d,
                                              const char *key)
{
    for (size_t i = 0; i < d->n_triggers; i++)
        if (strcmp(d->triggers[i].key, key) == 0)
            return &d->triggers[i];
    return NULL;
}

const char *fire_outcome_name(enum fire_outcome o)
{
    static const char *const names[] = {"created", "existed", "coalesced",
                                        "suppressed"};

    return (size_t)o < WEIR_ARRAY_LEN(names) ? names[o] : "?";
}

/* Which guard, if any, stops trig of d now; out->outcome and why set. */
static int guard(struct store_conn *c, const struct dag *d,
                 const struct dag_trigger *trig, const struct engine_slot *s,
                 const struct store_dag_locked *l, struct fire_result *out,
                 struct weir_err *err)
{
    struct store_guard g = {0};
    int rc;

    out->outcome = FIRE_SUPPRESSED;
    if (l->file_missing) {
        snprintf(out->why, sizeof(out->why),
                 "the DAG's file is gone from the DAGs folder");
        return 0;
    }
    if (l->paused) {
        snprintf(out->why, sizeof(out->why), "DAG is paused");
        return 0;
    }
    rc = store_trig_guard(c, d->id, trig->key, s->logical_time, d->cooldown_ms,
                          d->timezone, &g, err);
    if (rc < 0)
        return rc;
    if (g.slot_taken) {
        out->outcome = FIRE_EXISTED;
    } else if (trig->kind != DAG_TRIG_CRON && g.queued_run != 0) {
        out->outcome = FIRE_COALESCED;
        out->run_id = g.queued_run;
        snprintf(out->why, sizeof(out->why),
                 "folded into queued run %lld (max_active_runs %d)",
                 (long long)g.queued_run, d->max_active_runs);
    } else if (g.cooling) {
        snprintf(out->why, sizeof(out->why), "cooldown until %s",
                 g.cooldown_until);
    } else if (d->max_runs_per_day > 0 && g.today >= d->max_runs_per_day) {
        snprintf(out->why, sizeof(out->why),
                 "daily cap reached: %d triggered runs today (%s)", g.today,
                 d->timezone);
    } else {
        out->outcome = FIRE_CREATED;
    }
    return 0;
}

/* The firing s of trig in DAG d (locked; version `version`). */
static int fire_in_tx(struct engine *e, struct store_conn *c,
                      const struct dag *d, const struct dag_trigger *trig,
                      const struct engine_slot *s,
                      const struct store_dag_locked *l, struct fire_result *out,
                      struct weir_err *err)
{
    struct spec sp = {
        .dag_id = s->dag_id, .params = trig->params, .trig = trig, .slot = s};
    bool created = false;
    int rc = guard(c, d, trig, s, l, out, err);

    if (rc == 0 && out->outcome == FIRE_CREATED) {
        rc = insert_run(e, c, d, &sp, l->version_id, l->running, &out->run_id,
                        &created, err);
        if (!created)
            out->outcome = FIRE_EXISTED;
    }
    /* the approval policy excludes the upstream's people or the poster */
    if (rc == 0 && created && s->by != NULL && s->by[0] != '\0')
        rc = store_run_started_by_set(c, out->run_id, s->by, err);
    if (rc == 0 && created && s->by2 != NULL && s->by2[0] != '\0')
        rc = store_run_retried_by_set(c, out->run_id, s->by2, err);
    if (rc == 0 &&
        (out->outcome == FIRE_SUPPRESSED || out->outcome == FIRE_COALESCED))
        rc = store_trig_suppress(c, d->id, trig->key, out->why, err);
    /* Only event and webhook triggers have pending events to consume. */
    if (rc == 0 &&
        (trig->kind == DAG_TRIG_EVENT || trig->kind == DAG_TRIG_WEBHOOK) &&
        (out->outcome == FIRE_CREATED || out->outcome == FIRE_COALESCED))
        rc = store_trig_consume(c, d->id, trig->key, out->run_id, err);
    return rc;
}

int engine_fire_in_tx(struct engine *e, struct store_conn *c,
                      const struct engine_slot *s, struct fire_result *out,
                      struct weir_err *err)
{
    const struct dag *d = NULL;
    const struct dag_trigger *trig = NULL;
    struct store_dag_locked l = {0};
    int rc = store_dag_lock(c, s->dag_id, &l, err);

    memset(out, 0, sizeof(*out));
    if (rc == 0 && l.version_id == 0)
        rc = weir_err_set(err, WEIR_ECONFLICT,
                          "DAG \"%s\" has no valid version loaded", s->dag_id);
    if (rc == 0 && (d = engine_dag(e->cache, c, l.version_id)) == NULL)
        rc = weir_err_set(err, WEIR_EINTERNAL,
                          "DAG \"%s\": its current version cannot be loaded",
                          s->dag_id);
    if (rc == 0 && (trig = find_trigger(d, s->trigger_key)) == NULL)
        rc = weir_err_set(err, WEIR_ECONFLICT,
                          "DAG \"%s\": its current version has no trigger "
                          "\"%s\"",
                          s->dag_id, s->trigger_key);
    if (rc == 0)
        rc = fire_in_tx(e, c, d, trig, s, &l, out, err);
    if (rc == 0 && out->outcome != FIRE_EXISTED)
        log_info("event=trigger_fired dag=%s trigger=\"%s\" outcome=%s "
                 "run=%lld why=\"%s\"",
                 s->dag_id, s->trigger_key, fire_outcome_name(out->outcome),
                 (long long)out->run_id, out->why);
    dagcache_release(e->cache, d);
    return rc;
}

int engine_run_create_slot(struct engine *e, const struct engine_slot *s,
                           int64_t *run_id, bool *created, struct weir_err *err)
{
    struct store_conn *c = NULL;
    struct fire_result res = {0};
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = store_tx_begin(c, err);
    if (rc == 0)
        rc = engine_fire_in_tx(e, c, s, &res, err);
    if (rc == 0)
        rc = store_tx_commit(c, err);
    store_conn_put(c);
    if (rc < 0)
        return rc;
    if (res.outcome == FIRE_CREATED)
        hub_bump(e->hub);
    *run_id = res.outcome == FIRE_CREATED ? res.run_id : 0;
    *created = res.outcome == FIRE_CREATED;
    return 0;
}
