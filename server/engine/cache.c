/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Step caching: the key of a claimed task, the finish of an attempt found
 * in the cache, the fill at a success and the cleanup of expired entries
 * (engine/cache.h). A hit is finished after the claim's commit, like an
 * attempt whose templates did not render (lease.c): finishing it locks
 * its run, and a claim that waited for a run's lock while holding the
 * rows of its claimed tasks could deadlock with a cancel that holds the
 * run and waits for those rows. Until then the attempt is running with a
 * lease no worker holds; if the server stops first (or the finish
 * fails), its lease expires and the reaper ends it lost, but as no worker
 * ran it, that is not a try (cache_untried()): the task is claimed again
 * at once, which looks the cache up again.
 */
#include "engine/cache.h"

#include <string.h>

#include "engine/internal.h"
#include "log.h"
#include "sha256.h"
#include "store/cache.h"
#include "store/store.h"
#include "tmpl.h"

/*
 * Fields of the attempt document a default key is made of, in order,
 * then its logical time and trigger (add_run()): what the document gives
 * the step that can differ between two runs of one DAG version (the
 * worker makes WEIR_ENV of environment; dag_path is where a relative
 * workdir starts). Left out: the ids and try number of the run, task and
 * attempt, which differ in every run, and the step's timeouts, which are
 * in dag_hash.
 */
static const char *const default_fields[] = {
    "dag_hash", "dag_path", "command",     "env",
    "workdir",  "params",   "environment", "inputs",
};

static int add_field(cJSON *k, const cJSON *doc, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, name);
    cJSON *d = v != NULL ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();

    if (d == NULL || !cJSON_AddItemToObject(k, name, d)) {
        cJSON_Delete(d);
        return WEIR_ENOMEM;
    }
    return 0;
}

/*
 * The run's logical time (WEIR_LOGICAL_TIME) when it was given one (a
 * schedule, a backfill, "logical_time" in the request), else null: a run
 * without one sees its creation time, which would make every key new.
 * The trigger's kind and payload ($WEIR_TRIGGER); not its key or reason,
 * which name the trigger or backfill and say why, not what.
 */
static int add_run(cJSON *k, const struct run_ctx *x)
{
    const cJSON *p = x->run.trigger_payload;
    cJSON *t = cJSON_AddObjectToObject(k, "trigger");
    cJSON *d = p != NULL ? cJSON_Duplicate(p, 1) : cJSON_CreateNull();
    const char *lt = x->run.logical_time_own ? x->run.logical_time : NULL;

    if (t == NULL || d == NULL || !cJSON_AddItemToObject(t, "payload", d)) {
        cJSON_Delete(d);
        return WEIR_ENOMEM;
    }
    if (cJSON_AddStringToObject(t, "kind", x->run.trigger_kind) == NULL ||
        (lt != NULL ? cJSON_AddStringToObject(k, "logical_time", lt)
                    : cJSON_AddNullToObject(k, "logical_time")) == NULL)
        return WEIR_ENOMEM;
    return 0;
}

int cache_key_hash(struct run_ctx *x, size_t i, const cJSON *doc, char hex[65],
                   struct weir_err *err)
{
    const struct dag_step *st = &x->dag->steps[x->rt[i].step];
    cJSON *k = cJSON_CreateObject();
    char *text = NULL;
    int rc = k == NULL ? WEIR_ENOMEM : 0;

    /* The identity first: two steps, cells or environments never share
     * a key. v 2: the key of v 1 left out the fields of the run. */
    if (rc == 0 && (cJSON_AddNumberToObject(k, "v", 2) == NULL ||
                    cJSON_AddStringToObject(k, "dag", x->run.dag_id) == NULL ||
                    cJSON_AddStringToObject(k, "step", st->id) == NULL))
        rc = WEIR_ENOMEM;
    if (rc == 0)
        rc = add_field(k, doc, "matrix");
    if (rc == 0 && st->cache_key != NULL)
        rc = add_field(k, doc, "environment");
    if (rc == 0 && st->cache_key != NULL) {
        struct resolve r = {.x = x, .task = i};
        char *key = NULL;

        rc = tmpl_render(st->cache_key, TMPL_PLAIN, resolve_cb, &r, &key, err);
        resolve_cleanup(&r);
        if (rc < 0) {
            cJSON_Delete(k);
            return weir_err_set(err, rc, "cache.key: %s", err->msg);
        }
        if (cJSON_AddStringToObject(k, "key", key) == NULL)
            rc = WEIR_ENOMEM;
        free(key);
    }
    for (size_t f = 0;
         rc == 0 && st->cache_key == NULL && f < WEIR_ARRAY_LEN(default_fields);
         f++)
        rc = add_field(k, doc, default_fields[f]);
    if (rc == 0 && st->cache_key == NULL)
        rc = add_run(k, x);
    if (rc == 0 && (text = cJSON_PrintUnformatted(k)) == NULL)
        rc = WEIR_ENOMEM;
    if (rc == 0)
        sha256_hex(text, strlen(text), hex);
    cJSON_free(text);
    cJSON_Delete(k);
    return rc == 0 ? 0 : weir_err_set(err, rc, "out of memory");
}

int cache_finish(struct engine *e, struct store_conn *c,
                 const struct store_claim *cl, struct weir_err *err)
{
    struct store_attempt a = {0};
    struct outcome o = {ATTEMPT_SUCCESS, NULL, NULL, NULL,
                        false,           NULL, true, false};
    struct weir_err gone = {0};
    char *outputs = NULL;
    int rc = store_tx_begin(c, err);

    if (rc == 0)
        rc = store_attempt_get(c, cl->attempt_id, cl->lease_id, true, &a, err);
    if (rc == 0 && a.state == ATTEMPT_RUNNING) {
        rc = store_cache_outputs(c, cl->attempt_id, &outputs, &gone);
        if (rc == WEIR_ENOTFOUND) {
            /* removed with its run since the claim: run it after all */
            o = (struct outcome){ATTEMPT_FAILED, NULL, NULL,  gone.msg,
                                 false,          NULL, false, false};
            rc = cache_untried(c, &a, true, &o, err);
        } else if (rc < 0) {
            *err = gone;
        }
        o.outputs = outputs;
        if (rc == 0)
            rc = engine_finish_attempt(e, c, &a, &o, err);
    }
    if (rc == 0)
        rc = store_tx_commit(c, err);
    else
        store_tx_rollback(c);
    if (rc == 0)
        log_info("event=cache_hit run=%lld task=%lld try=%d attempt=%lld",
                 (long long)cl->run_id, (long long)cl->task_id, cl->try,
                 (long long)cl->attempt_id);
    free(outputs);
    hub_bump(e->hub);
    return rc;
}

int cache_untried(struct store_conn *c, const struct store_attempt *a, bool hit,
                  struct outcome *o, struct weir_err *err)
{
    bool given = false;
    int rc = store_cache_give_try(c, a->id, hit, &given, err);

    if (rc == 0 && given) {
        o->untried = true;
        o->error = hit ? "the cache entry it reused is gone: run again, not "
                         "counted as a try"
                       : "the server did not finish this cache hit before its "
                         "lease expired: claimed again, not counted as a try";
        log_info("event=cache_hit_untried run=%lld task=%lld try=%d "
                 "attempt=%lld",
                 (long long)a->run_id, (long long)a->task_id, a->try,
                 (long long)a->id);
    }
    return rc;
}

int cache_fill(struct run_ctx *x, const struct dag_step *st,
               const struct store_attempt *a, const struct outcome *o,
               struct weir_err *err)
{
    if (!st->cache || o->cached || o->state != ATTEMPT_SUCCESS)
        return 0;
    return store_cache_fill(x->c, a->id, st->cache_ttl_ms, o->outputs, err);
}

void cache_prune_logged(struct store *st)
{
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    int64_t got = CACHE_PRUNE_BATCH, total = 0;
    int rc = store_conn_get(st, &c, &err);
    char q[300];

    for (int i = 0;
         rc == 0 && got == CACHE_PRUNE_BATCH && i < CACHE_PRUNE_ROUNDS; i++) {
        rc = store_cache_prune(c, CACHE_PRUNE_BATCH, &got, &err);
        total += rc == 0 ? got : 0;
    }
    store_conn_put(c);
    if (rc < 0)
        log_warn("event=cache_prune_failed code=%s msg=%s", weir_errname(rc),
                 log_quote(err.msg, q, sizeof(q)));
    if (total > 0)
        log_info("event=cache_pruned deleted=%lld", (long long)total);
}
