/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Leases: claim attempts for a worker and turn each into the document the
 * worker runs, with run:, env: and workdir: rendered here, where params,
 * the matrix cell and upstream outputs are known. An attempt whose
 * templates fail to render fails at once, without retry (its DAG would
 * fail the same way again), and is not sent.
 *
 * A lease call with nothing to claim waits on the work hub until a commit
 * bumps it, its wait ends, or the earliest retry of its queues comes due.
 * While it waits it checks, at least once a second and before claiming
 * after a wake-up, that its client is still connected: a worker that was
 * stopped must not be given attempts that would then wait for their lease
 * to expire.
 */
#include <string.h>

#include "engine/cache.h"
#include "engine/internal.h"
#include "engine/policy.h"
#include "engine/secrets.h"
#include "log.h"
#include "store/artifacts.h"
#include "store/cache.h"
#include "store/store.h"
#include "tmpl.h"

#define MIN_WAIT_MS   20   /* shortest sleep between two empty claims */
#define GONE_CHECK_MS 1000 /* longest wait between two client checks */

static int render(struct run_ctx *x, size_t i, const char *text,
                  enum tmpl_mode mode, char **out, struct weir_err *err)
{
    struct resolve r = {.x = x, .task = i};
    int rc = tmpl_render(text, mode, resolve_cb, &r, out, err);

    resolve_cleanup(&r);
    return rc;
}

/* A failed load of the tasks a template names is the lease's failure,
 * not the attempt's: its run: text is fine. */
static bool load_failed(const struct run_ctx *x)
{
    return x->fatal != 0;
}

/* Prefix err's message with where it happened. */
static int where(struct weir_err *err, int rc, const char *what)
{
    return rc == 0 ? 0 : weir_err_set(err, rc, "%s: %s", what, err->msg);
}

/* "inputs": every upstream step's outputs; a list of cells for a matrix. */
static cJSON *inputs_json(const struct run_ctx *x, const struct dag_step *st)
{
    cJSON *o = cJSON_CreateObject();

    for (size_t u = 0; o != NULL && u < st->n_upstream; u++) {
        const struct dag_step *up = &x->dag->steps[st->upstream[u]];
        size_t f = x->first[st->upstream[u]];
        cJSON *v;

        if (up->n_cells == 1 && !dag_step_mapped(up)) {
            v = x->tasks[f].outputs ? cJSON_Duplicate(x->tasks[f].outputs, 1)
                                    : cJSON_CreateObject();
        } else {
            v = cJSON_CreateArray();
            for (size_t k = 0; v != NULL && k < x->cells[st->upstream[u]];
                 k++) {
                const struct store_task *t = &x->tasks[f + k];
                cJSON *cell;

                if (t->matrix == NULL) /* a mapped step's placeholder */
                    continue;
                cell = cJSON_CreateObject();

                cJSON_AddItemToArray(v, cell);
                cJSON_AddItemToObject(cell, "matrix",
                                      cJSON_Duplicate(t->matrix, 1));
                cJSON_AddItemToObject(cell, "outputs",
                                      t->outputs
                                          ? cJSON_Duplicate(t->outputs, 1)
                                          : cJSON_CreateObject());
            }
        }
        cJSON_AddItemToObject(o, up->id, v);
    }
    return o;
}

static cJSON *trigger_json(const struct store_run *run)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "kind", run->trigger_kind);
    cJSON_AddStringToObject(o, "key", run->trigger_key);
    if (run->reason != NULL)
        cJSON_AddStringToObject(o, "reason", run->reason);
    else
        cJSON_AddNullToObject(o, "reason");
    cJSON_AddItemToObject(o, "payload",
                          run->trigger_payload
                              ? cJSON_Duplicate(run->trigger_payload, 1)
                              : cJSON_CreateNull());
    return o;
}

static void add_str_or_null(cJSON *o, const char *key, const char *v)
{
    if (v != NULL)
        cJSON_AddStringToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

/* Render the templates of task i: command, env object, workdir. */
static int render_step(struct run_ctx *x, size_t i, char **command, cJSON *env,
                       char **workdir, struct weir_err *err)
{
    const struct dag_step *st = &x->dag->steps[x->rt[i].step];
    int rc = 0;

    if (st->run == NULL)
        return weir_err_set(err, WEIR_EINVAL, "step \"%s\" has no command",
                            st->id);
    rc = where(err, render(x, i, st->run, TMPL_SHELL, command, err), "run");
    for (size_t k = 0; rc == 0 && k < st->n_env; k++) {
        char *v = NULL;

        if (st->env[k].secret)
            continue; /* engine_secrets_fill() renders it, last */
        rc = render(x, i, st->env[k].value, TMPL_PLAIN, &v, err);
        if (rc == 0)
            cJSON_AddStringToObject(env, st->env[k].name, v);
        free(v);
        rc = where(err, rc, st->env[k].name);
    }
    if (rc == 0 && st->workdir != NULL)
        rc = where(err, render(x, i, st->workdir, TMPL_PLAIN, workdir, err),
                   "workdir");
    return rc;
}

/* The fields that come from the run, its DAG and the claim. */
static void add_identity(cJSON *o, const struct run_ctx *x,
                         const struct store_claim *cl, size_t i)
{
    const struct store_task *t = &x->tasks[i];

    cJSON_AddNumberToObject(o, "attempt_id", (double)cl->attempt_id);
    cJSON_AddStringToObject(o, "lease_id", cl->lease_id);
    cJSON_AddNumberToObject(o, "run_id", (double)x->run.id);
    cJSON_AddNumberToObject(o, "task_id", (double)t->id);
    cJSON_AddStringToObject(o, "dag", x->run.dag_id);
    add_str_or_null(o, "dag_hash", x->run.dag_hash);
    add_str_or_null(o, "dag_path", x->run.dag_path);
    add_str_or_null(o, "dags_revision", x->run.dags_revision);
    cJSON_AddStringToObject(o, "step", t->step_id);
    cJSON_AddNumberToObject(o, "cell", t->cell);
    cJSON_AddNumberToObject(o, "try", cl->try);
    add_str_or_null(o, "logical_time", x->run.logical_time);
    add_str_or_null(o, "environment", x->run.environment);
}

/* The attempt document of claim cl, task i of x, whose upstream steps
 * are loaded. */
static int attempt_doc(struct run_ctx *x, size_t i,
                       const struct store_claim *cl, cJSON **out,
                       struct weir_err *err)
{
    const struct dag_step *st = &x->dag->steps[x->rt[i].step];
    cJSON *o = cJSON_CreateObject(), *env = cJSON_CreateObject();
    char *command = NULL, *workdir = NULL;
    int rc = render_step(x, i, &command, env, &workdir, err);

    if (rc < 0 || o == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(env);
        free(command);
        free(workdir);
        return rc < 0 ? rc : weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    add_identity(o, x, cl, i);
    cJSON_AddStringToObject(o, "command", command);
    add_str_or_null(o, "workdir", workdir);
    cJSON_AddItemToObject(o, "env", env);
    cJSON_AddItemToObject(o, "params", cJSON_Duplicate(x->run.params, 1));
    cJSON_AddItemToObject(o, "matrix",
                          x->tasks[i].matrix
                              ? cJSON_Duplicate(x->tasks[i].matrix, 1)
                              : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "inputs", inputs_json(x, st));
    cJSON_AddItemToObject(o, "trigger", trigger_json(&x->run));
    if (st->timeout_ms > 0)
        cJSON_AddNumberToObject(o, "timeout_ms", (double)st->timeout_ms);
    else
        cJSON_AddNullToObject(o, "timeout_ms");
    cJSON_AddNumberToObject(o, "kill_grace_ms", ENGINE_KILL_GRACE_MS);
    free(command);
    free(workdir);
    *out = o;
    return 0;
}

/* The attempt of cl could not be rendered: fail it, no retry. */
static int fail_unrendered(struct engine *e, struct store_conn *c,
                           const struct store_claim *cl, const char *msg,
                           struct weir_err *err)
{
    struct store_attempt a = {0};
    struct outcome o = {ATTEMPT_FAILED, NULL, NULL,  msg,
                        true,           NULL, false, false};
    char q[300];
    int rc = store_tx_begin(c, err);

    log_warn("event=render_failed run=%lld task=%lld try=%d msg=%s",
             (long long)cl->run_id, (long long)cl->task_id, cl->try,
             log_quote(msg, q, sizeof(q)));
    if (rc == 0)
        rc = store_attempt_get(c, cl->attempt_id, cl->lease_id, true, &a, err);
    if (rc == 0 && a.state == ATTEMPT_RUNNING)
        rc = engine_finish_attempt(e, c, &a, &o, err);
    if (rc == 0)
        rc = store_tx_commit(c, err);
    hub_bump(e->hub);
    return rc;
}

/* Note in want that the attempt of cl, task i of x, was given the outputs
 * of each task of its upstream steps (none: nothing to note). */
static void note_inputs(const struct run_ctx *x, size_t i,
                        const struct store_claim *cl, cJSON *want)
{
    const struct dag_step *st = &x->dag->steps[x->rt[i].step];

    for (size_t u = 0; u < st->n_upstream; u++) {
        const struct dag_step *up = &x->dag->steps[st->upstream[u]];
        size_t f = x->first[st->upstream[u]];

        for (size_t k = 0; k < x->cells[st->upstream[u]]; k++) {
            const struct store_task *t = &x->tasks[f + k];
            const cJSON *dv =
                cJSON_GetObjectItemCaseSensitive(t->outputs, "data.version");
            cJSON *o = cJSON_CreateObject();

            cJSON_AddItemToArray(want, o);
            cJSON_AddNumberToObject(o, "a", (double)cl->attempt_id);
            cJSON_AddNumberToObject(o, "r", (double)x->run.id);
            cJSON_AddNumberToObject(o, "t", (double)t->id);
            cJSON_AddNumberToObject(o, "try", t->try_count);
            cJSON_AddStringToObject(o, "s", up->id);
            cJSON_AddNumberToObject(o, "c", t->cell);
            cJSON_AddBoolToObject(o, "m", up->n_cells > 1 || up->n_matrix > 0);
            cJSON_AddItemToObject(o, "dv",
                                  cJSON_IsString(dv)
                                      ? cJSON_CreateString(dv->valuestring)
                                      : cJSON_CreateNull());
        }
    }
}

/* Record which attempts produced the inputs noted in want, in one
 * statement (store_attempts_inputs_from()). */
static int record_inputs(struct store_conn *c, const cJSON *want,
                         struct weir_err *err)
{
    char *text;
    int rc;

    if (cJSON_GetArraySize(want) == 0)
        return 0;
    text = cJSON_PrintUnformatted(want);
    if (text == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    rc = store_attempts_inputs_from(c, text, err);
    cJSON_free(text);
    return rc;
}

/* A claim whose templates did not render, failed after the commit; or
 * one found in the step cache, finished then (cache.c says why). */
struct unrendered {
    struct store_claim cl;                         /* the claim */
    char msg[sizeof(((struct weir_err *)0)->msg)]; /* why */
    bool cached;                                   /* a cache hit */
};

/*
 * Look the claim cl of task i of x, a step with `cache:`, up in the step
 * cache. On a hit *doc is deleted (the worker gets nothing) and *hit set;
 * a key that does not render deletes *doc with rerr saying why (the
 * attempt fails); the rc is the lease's failure.
 */
static int cache_check(struct store_conn *c, struct run_ctx *x, size_t i,
                       const struct store_claim *cl, cJSON **doc, bool *hit,
                       struct weir_err *rerr, struct weir_err *err)
{
    char hex[65];
    int64_t from = 0;
    int rc;

    if (cache_key_hash(x, i, *doc, hex, rerr) < 0) {
        cJSON_Delete(*doc);
        *doc = NULL;
        return 0;
    }
    rc = store_cache_claim(c, cl->attempt_id, cl->run_id, hex, &from, err);
    if (rc == 0 && from != 0) {
        cJSON_Delete(*doc);
        *doc = NULL;
        *hit = true;
    }
    return rc;
}

/*
 * Load into x (the run of v[k]) what rendering the claims of v[k..n) in
 * that run reads: their tasks and every cell of their upstream steps.
 */
static int claims_prefetch(struct run_ctx *x, const struct store_claim *v,
                           size_t k, size_t n, struct weir_err *err)
{
    int64_t *ids = malloc((n - k) * sizeof(*ids));
    bool *ups = calloc(x->dag->n_steps + 1, sizeof(*ups));
    size_t n_ids = 0;
    int rc;

    if (ids == NULL || ups == NULL) {
        free(ids);
        free(ups);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    for (size_t j = k; j < n; j++) {
        const struct dag_step *st;

        if (v[j].run_id != x->run.id)
            continue;
        ids[n_ids++] = v[j].task_id;
        st = dag_step_get(x->dag, v[j].step_id);
        for (size_t u = 0; st != NULL && u < st->n_upstream; u++)
            ups[st->upstream[u]] = true;
    }
    rc = ctx_fetch(x, ids, n_ids, ups, err);
    free(ids);
    free(ups);
    return rc;
}

/*
 * Render every claim into arr, loading each run once and only the tasks
 * the documents read. keep[0..n_keep) are contexts of runs already open
 * in this transaction (the completions'): their claims are rendered from
 * them. A claim that does not render is failed at once
 * (fail_unrendered()) when later is NULL, else noted in *later (a new
 * array, n entries) for the caller to fail after its commit. In a run
 * that was retried, each rendered attempt with upstream steps gets its
 * inputs_from: which attempts produced what it was given (in a run never
 * retried each upstream task has one successful attempt, found without a
 * record, and the lease path saves the statement).
 */
static int claims_to_docs(struct engine *e, struct store_conn *c,
                          const struct store_claim *v, size_t n, cJSON *arr,
                          struct run_ctx *keep, size_t n_keep,
                          struct unrendered **later, size_t *n_later,
                          struct weir_err *err)
{
    struct run_ctx own = {0}, *x = NULL;
    cJSON *want = cJSON_CreateArray();
    int rc = want == NULL ? weir_err_set(err, WEIR_ENOMEM, "out of memory") : 0;

    if (later != NULL) {
        *later = NULL;
        *n_later = 0;
    }
    for (size_t k = 0; k < n && rc == 0; k++) {
        struct weir_err rerr = {0};
        cJSON *doc = NULL;
        bool hit = false;
        long i;

        if (x == NULL || x->run.id != v[k].run_id) {
            ctx_cleanup(e, &own);
            x = NULL;
            for (size_t j = 0; j < n_keep && x == NULL; j++)
                if (keep[j].run.id == v[k].run_id)
                    x = &keep[j];
            if (x == NULL) {
                x = &own;
                rc = ctx_open(e, c, v[k].run_id, false, x, err);
            }
            if (rc == 0)
                rc = claims_prefetch(x, v, k, n, err);
        }
        i = rc == 0 ? ctx_find(x, v[k].task_id) : -1;
        if (rc == 0 && i < 0)
            rc = weir_err_set(err, WEIR_EINTERNAL, "claimed task vanished");
        if (rc == 0 && engine_pool_fits(&v[k], &rerr) &&
            attempt_doc(x, (size_t)i, &v[k], &doc, &rerr) == 0 &&
            x->dag->steps[x->rt[i].step].cache)
            rc = cache_check(c, x, (size_t)i, &v[k], &doc, &hit, &rerr, err);
        /* secrets after the cache key: no key is made from a secret */
        if (rc == 0 && doc != NULL)
            rc = engine_secrets_fill(c, x, (size_t)i, &doc, &rerr, err);
        if (rc == 0 && (doc != NULL || hit) && x->run.retry_count > 0)
            note_inputs(x, (size_t)i, &v[k], want);
        if (rc == 0 && doc != NULL) {
            cJSON_AddItemToArray(arr, doc); /* leases_left() adds its lease */
        } else if (rc == 0 && hit && later == NULL) {
            rc = cache_finish(e, c, &v[k], err);
        } else if (rc == 0 && load_failed(x)) {
            *err = x->fatal_err;
            rc = x->fatal;
        } else if (rc == 0 && later == NULL) {
            rc = fail_unrendered(e, c, &v[k], rerr.msg, err);
        } else if (rc == 0) {
            struct unrendered *grown =
                realloc(*later, (*n_later + 1) * sizeof(*grown));

            if (grown == NULL) {
                rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
                break;
            }
            *later = grown;
            grown[*n_later].cl = v[k];
            grown[*n_later].cached = hit;
            snprintf(grown[*n_later].msg, sizeof(grown[*n_later].msg), "%s",
                     rerr.msg);
            (*n_later)++;
        }
    }
    ctx_cleanup(e, &own);
    if (rc == 0)
        rc = record_inputs(c, want, err);
    cJSON_Delete(want);
    return rc;
}

/*
 * Note that the worker was seen, at most once per heartbeat interval (the
 * workers row is written by heartbeats as well): a lease call on a busy
 * worker would otherwise write it, and flush the WAL, several times a
 * second. WEIR_ENOTFOUND for a worker that is not registered.
 */
static int worker_seen(struct engine *e, struct store_conn *c,
                       int64_t worker_id, struct weir_err *err)
{
    int rc;

    if (!hub_worker_seen_due(e->hub, worker_id, e->lease_ttl_ms / 3))
        return 0;
    rc = store_worker_seen(c, worker_id, err);
    if (rc < 0)
        hub_worker_seen_forget(e->hub, worker_id);
    return rc;
}

/* Record as failed the attempts claimed in a committed transaction whose
 * templates could not be rendered (claims_to_docs() set them aside). */
static void fail_later(struct engine *e, struct store_conn *c,
                       const struct unrendered *later, size_t n_later)
{
    for (size_t k = 0; k < n_later; k++) {
        struct weir_err ferr = {0};
        char q[300];

        if (later[k].cached) {
            if (cache_finish(e, c, &later[k].cl, &ferr) != 0)
                log_warn("event=cache_finish_failed attempt=%lld msg=%s",
                         (long long)later[k].cl.attempt_id,
                         log_quote(ferr.msg, q, sizeof(q)));
        } else if (fail_unrendered(e, c, &later[k].cl, later[k].msg, &ferr) !=
                   0)
            log_warn("event=render_fail_unrecorded attempt=%lld msg=%s",
                     (long long)later[k].cl.attempt_id,
                     log_quote(ferr.msg, q, sizeof(q)));
    }
}

/*
 * The leases in arr end ttl after t0, taken just before their transaction
 * began (its now() is their start): the time the transaction and its
 * commit took is already gone when the answer leaves. Each document gets
 * "lease_ttl_ms", what is left, so that a worker, counting from when the
 * answer reached it, starts nothing whose lease it cannot keep (at least
 * 1 ms: 0 means "not said").
 */
static void leases_left(const struct engine *e, cJSON *arr, int64_t t0)
{
    int64_t left = e->lease_ttl_ms - (hub_now_ms() - t0);
    cJSON *d;

    cJSON_ArrayForEach(d, arr)
    {
        cJSON_AddNumberToObject(d, "lease_ttl_ms",
                                (double)(left > 1 ? left : 1));
    }
}

/* One claim; *retry_ms gets the wait until a retry comes due (or -1). */
static int lease_once(struct engine *e, int64_t worker_id, int max, cJSON *arr,
                      int64_t *retry_ms, struct weir_err *err)
{
    struct store_conn *c = NULL;
    struct store_claim *v = NULL;
    struct unrendered *later = NULL;
    size_t n = 0, n_later = 0;
    int spare = 0;
    int rc = store_conn_get(e->store, &c, err);

    int64_t t0;

    if (rc == 0)
        rc = worker_seen(e, c, worker_id, err);
    /* The claim commits with its documents rendered: a failure to render
     * (the database went away) leaves no attempt claimed and never
     * delivered, and the answer goes out right after the commit. */
    t0 = hub_now_ms();
    if (rc == 0)
        rc = store_tx_begin(c, err);
    if (rc == 0)
        rc = policy_task_claim(c, worker_id, max, e->lease_ttl_ms, &v, &n,
                               retry_ms, &spare, err);
    for (size_t k = 0; rc == 0 && k < n; k++)
        if (v[k].wait_s >= 0)
            engine_dispatch_observe(v[k].wait_s);
    if (rc == 0 && n > 0)
        rc = claims_to_docs(e, c, v, n, arr, NULL, 0, &later, &n_later, err);
    if (rc == 0)
        rc = store_tx_commit(c, err);
    if (rc == 0)
        leases_left(e, arr, t0);
    if (rc == 0)
        fail_later(e, c, later, n_later);
    store_conn_put(c);
    free(v);
    free(later);
    /* Tasks a concurrent claim skipped because this one held them, or
     * that a claim rolled back gave back. */
    if (spare > 0 || (rc < 0 && n > 0))
        hub_bump(e->hub);
    return rc;
}

static enum attempt_state result_state(const struct engine_result *res)
{
    if (res->timed_out)
        return ATTEMPT_TIMED_OUT;
    if (res->has_exit && res->exit_code == 0)
        return ATTEMPT_SUCCESS;
    return ATTEMPT_FAILED;
}

/* Whether a commit must wake the waiting lease calls: not when it claimed
 * every task it made claimable (the claims v[0..n)) and gave no pool's
 * slots back (tasks waiting for a pool may be other workers'). */
static bool must_wake(const struct made *m, const struct store_claim *v,
                      size_t n)
{
    if (m->n > MADE_MAX || m->pool_freed)
        return true;
    for (size_t i = 0; i < m->n; i++) {
        bool claimed = false;

        for (size_t k = 0; k < n && !claimed; k++)
            claimed = v[k].task_id == m->ids[i];
        if (!claimed)
            return true;
    }
    return false;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* What a batch of completions holds in its transaction. */
struct batch {
    struct store_attempt *a; /* per completion: its attempt */
    bool *found;             /* per completion: the attempt exists */
    struct outcome *o;       /* per completion: its outcome */
    char **outputs;          /* per completion: outputs text, or NULL */
    int64_t *runs;           /* the distinct runs, ascending */
    size_t n_runs;           /* entries in runs and x */
    struct run_ctx *x;       /* per run: its context */
};

static void batch_free(struct engine *e, struct batch *b, size_t n)
{
    for (size_t i = 0; b->outputs != NULL && i < n; i++)
        cJSON_free(b->outputs[i]);
    for (size_t r = 0; b->x != NULL && r < b->n_runs; r++)
        ctx_cleanup(e, &b->x[r]);
    free(b->a);
    free(b->found);
    free(b->o);
    free(b->outputs);
    free(b->runs);
    free(b->x);
}

/* Lock the completions' attempts (then their runs, opened into b->x), and
 * mark the stale and the unknown ones in v[i].rc. */
static int batch_lock(struct engine *e, struct store_conn *c,
                      struct engine_completion *v, size_t n, struct batch *b,
                      struct made *made, struct weir_err *err)
{
    struct store_run *runs = NULL;
    int64_t *ids = calloc(n, sizeof(*ids));
    const char **leases = calloc(n, sizeof(*leases));
    int rc = 0;

    b->a = calloc(n, sizeof(*b->a));
    b->found = calloc(n, sizeof(*b->found));
    b->runs = calloc(n, sizeof(*b->runs));
    b->x = calloc(n, sizeof(*b->x));
    if (ids == NULL || leases == NULL || b->a == NULL || b->found == NULL ||
        b->runs == NULL || b->x == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        ids[i] = v[i].attempt_id;
        leases[i] = v[i].res.lease_id;
    }
    if (rc == 0 && n == 1) {
        /* The common case: both locks in one statement. */
        runs = calloc(1, sizeof(*runs));
        rc = runs ? store_attempt_lock_run(c, ids[0], leases[0], &b->a[0], runs,
                                           err)
                  : weir_err_set(err, WEIR_ENOMEM, "out of memory");
        b->found[0] = rc == 0;
        if (rc == WEIR_ENOTFOUND)
            rc = 0;
    } else if (rc == 0) {
        rc = store_attempts_lock(c, ids, leases, n, b->a, b->found, err);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        v[i].rc = 0;
        if (!b->found[i])
            v[i].rc = weir_err_set(&v[i].err, WEIR_ENOTFOUND, "no attempt %lld",
                                   (long long)v[i].attempt_id);
        else if (!b->a[i].lease_ok || b->a[i].state != ATTEMPT_RUNNING)
            v[i].rc = engine_stale_lease(&v[i].err, v[i].attempt_id);
        if (v[i].rc == 0)
            b->runs[b->n_runs++] = b->a[i].run_id;
    }
    if (rc == 0 && b->n_runs > 0) {
        qsort(b->runs, b->n_runs, sizeof(*b->runs), cmp_i64);
        size_t k = 0;

        for (size_t r = 0; r < b->n_runs; r++)
            if (k == 0 || b->runs[k - 1] != b->runs[r])
                b->runs[k++] = b->runs[r];
        b->n_runs = k;
        if (runs == NULL) {
            runs = calloc(b->n_runs, sizeof(*runs));
            rc = runs ? store_runs_lock(c, b->runs, b->n_runs, runs, err)
                      : weir_err_set(err, WEIR_ENOMEM, "out of memory");
        }
    }
    for (size_t r = 0; rc == 0 && r < b->n_runs; r++) {
        rc = ctx_open_row(e, c, &runs[r], &b->x[r], err);
        b->x[r].made = made;
    }
    for (size_t r = 0; runs != NULL && r < (b->n_runs ? b->n_runs : 1); r++)
        store_run_cleanup(&runs[r]);
    free(runs);
    free(ids);
    free(leases);
    return rc;
}

/* Record the accepted completions, run by run. */
static int batch_finish(struct engine *e, struct engine_completion *v, size_t n,
                        struct batch *b, struct weir_err *err)
{
    struct store_attempt *a = calloc(n, sizeof(*a));
    struct outcome *o = calloc(n, sizeof(*o));
    int rc = a && o ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");

    b->outputs = calloc(n, sizeof(*b->outputs));
    if (rc == 0 && b->outputs == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct engine_result *res = &v[i].res;

        if (v[i].rc != 0 || res->outputs == NULL)
            continue;
        b->outputs[i] = cJSON_PrintUnformatted(res->outputs);
        if (b->outputs[i] == NULL)
            rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    for (size_t r = 0; rc == 0 && r < b->n_runs; r++) {
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
            const struct engine_result *res = &v[i].res;

            if (v[i].rc != 0 || b->a[i].run_id != b->runs[r])
                continue;
            a[k] = b->a[i];
            o[k] = (struct outcome){result_state(res),
                                    res->has_exit ? &res->exit_code : NULL,
                                    b->outputs[i],
                                    res->error,
                                    false,
                                    res->outputs,
                                    false,
                                    false};
            k++;
        }
        rc = engine_finish_in(e, &b->x[r], a, o, k, err);
    }
    free(a);
    free(o);
    return rc;
}

int engine_complete_batch(struct engine *e, struct engine_completion *v,
                          size_t n, int64_t worker_id, int max,
                          cJSON **attempts, struct weir_err *err)
{
    struct store_conn *c = NULL;
    struct batch b = {0};
    struct made made = {0};
    struct store_claim *cl = NULL;
    struct unrendered *later = NULL;
    size_t n_cl = 0, n_later = 0;
    int64_t retry_ms = -1, t0;
    int spare = 0;
    cJSON *arr = worker_id != 0 ? cJSON_CreateArray() : NULL;
    int rc = worker_id != 0 && arr == NULL
                 ? weir_err_set(err, WEIR_ENOMEM, "out of memory")
                 : store_conn_get(e->store, &c, err);

    if (rc == 0 && n == 0)
        rc = weir_err_set(err, WEIR_EINVAL, "no completion");
    t0 = hub_now_ms();
    if (rc == 0)
        rc = store_tx_begin(c, err);
    if (rc == 0)
        rc = batch_lock(e, c, v, n, &b, &made, err);
    if (rc == 0)
        rc = batch_finish(e, v, n, &b, err);
    /* The next attempts for the slots these completions free, in the same
     * transaction: one commit and one round trip per step, or per batch.
     * Nothing when no completion was accepted; a worker that is not
     * registered claims nothing. */
    if (rc == 0 && worker_id != 0 && b.n_runs > 0) {
        rc = worker_seen(e, c, worker_id, err);
        if (rc == 0)
            rc = policy_task_claim(c, worker_id, max, e->lease_ttl_ms, &cl,
                                   &n_cl, &retry_ms, &spare, err);
        else if (rc == WEIR_ENOTFOUND)
            rc = 0;
    }
    for (size_t k = 0; rc == 0 && k < n_cl; k++)
        if (cl[k].wait_s >= 0)
            engine_dispatch_observe(cl[k].wait_s);
    if (rc == 0 && n_cl > 0)
        rc = claims_to_docs(e, c, cl, n_cl, arr, b.x, b.n_runs, &later,
                            &n_later, err);
    if (rc == 0)
        rc = store_tx_commit(c, err);
    if (rc == 0 && arr != NULL)
        leases_left(e, arr, t0);
    batch_free(e, &b, n);
    if (rc == 0)
        fail_later(e, c, later, n_later);
    store_conn_put(c);
    if (rc == 0 && (spare > 0 || n_later > 0 || must_wake(&made, cl, n_cl)))
        hub_bump(e->hub);
    free(cl);
    free(later);
    if (rc < 0) {
        cJSON_Delete(arr);
        return rc;
    }
    *attempts = arr;
    return 0;
}

/* The attempts of worker_id to cancel that it does not know of, into
 * w->cancel (left NULL when there are none). */
static int cancels_once(struct engine *e, int64_t worker_id,
                        struct engine_cancel_watch *w, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = store_worker_cancels(c, worker_id, w->seen, w->n_seen, &ids, &n,
                                  err);
    store_conn_put(c);
    if (rc == 0 && n > 0 && (w->cancel = cJSON_CreateArray()) == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++)
        cJSON_AddItemToArray(w->cancel, cJSON_CreateNumber((double)ids[i]));
    free(ids);
    return rc;
}

int engine_lease_wait(struct engine *e, int64_t worker_id, int max,
                      int64_t wait_ms, engine_gone_fn gone, void *arg,
                      struct engine_cancel_watch *watch, cJSON **out,
                      struct weir_err *err)
{
    int64_t deadline =
        hub_now_ms() + (wait_ms < 0                    ? 0
                        : wait_ms > ENGINE_WAIT_MAX_MS ? ENGINE_WAIT_MAX_MS
                                                       : wait_ms);
    int64_t until = 0; /* when to claim again without a bump */
    cJSON *arr = cJSON_CreateArray();
    int rc = arr ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");
    bool claim = true;
    uint64_t gen = 0;

    while (rc == 0) {
        int64_t retry_ms = -1, now, slice;

        if (claim) {
            gen = hub_generation(e->hub);
            /* a cancel commits with a bump: checked on every wake-up */
            if (watch != NULL)
                rc = cancels_once(e, worker_id, watch, err);
            if (rc == 0 && max > 0)
                rc = lease_once(e, worker_id, max, arr, &retry_ms, err);
            now = hub_now_ms();
            until = deadline;
            if (retry_ms >= 0 && now + retry_ms < until)
                until = now + retry_ms;
            if (until < now + MIN_WAIT_MS)
                until = now + MIN_WAIT_MS;
        }
        now = hub_now_ms();
        if (rc < 0 || cJSON_GetArraySize(arr) > 0 || now >= deadline ||
            hub_closed(e->hub) || (watch != NULL && watch->cancel != NULL))
            break;
        slice = gone != NULL && until > now + GONE_CHECK_MS
                    ? now + GONE_CHECK_MS
                    : until;
        claim = hub_wait(e->hub, gen, slice) || hub_now_ms() >= until;
        /* A client that went away must not get attempts it cannot run. */
        if (gone != NULL && gone(arg)) {
            log_info("event=lease_abandoned worker=%lld", (long long)worker_id);
            break;
        }
    }
    if (rc < 0) {
        cJSON_Delete(arr);
        return rc;
    }
    *out = arr;
    return 0;
}
