/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine's decisions over one loaded run: readiness of downstream
 * tasks, the end of an attempt, the end of a run, and the start of the
 * runs that max_active_runs held back.
 *
 * Trigger rules, decided when a task's last upstream task finishes:
 * all_success holds when every upstream task succeeded or was skipped,
 * but not when all of them were skipped; all_done always holds then;
 * none_failed when none failed or is upstream_failed; one_failed when at
 * least one did; one_success when at least one succeeded. A task whose
 * rule does not hold is upstream_failed when an upstream task failed (or
 * is upstream_failed), else skipped, so a task whose upstreams were all
 * skipped is skipped. A task with no upstream always passes its rule.
 * The step of a hook whose rule does not hold is skipped.
 * Then if: (false: skipped; an evaluation error: failed with the
 * message), then approval gates, else queued.
 *
 * Retry delay: retry_delay * retry_backoff^(try - 1), capped by
 * max_retry_delay, plus a random jitter of up to 10% of that, so that
 * tasks failing together do not all come back at the same instant.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "duration.h"
#include "engine_int.h"
#include "log.h"
#include "store_artifacts.h"

/* Counts of upstream task states. */
struct ups {
    size_t n, success, skipped, failed, terminal;
};

const struct dag *engine_dag(struct dagcache *cache, struct store_conn *c,
                             int64_t version_id)
{
    const struct dag *d = dagcache_acquire(cache, version_id);
    char dag_id[DAG_ID_MAX + 1], name[DAG_ID_MAX + 8];
    struct dag_diags diags;
    struct weir_err err = {0};
    struct dag *dag = NULL;
    char *source = NULL;
    size_t len = 0;

    if (d != NULL || version_id == 0)
        return d;
    if (store_dag_version_source(c, version_id, &source, &len, dag_id,
                                 sizeof(dag_id), &err) != 0) {
        log_warn("event=dag_version_unavailable version=%lld error=%s",
                 (long long)version_id, weir_errname(err.code));
        return NULL;
    }
    /* The DAG id defaults to the file stem: give the stored id as stem. */
    snprintf(name, sizeof(name), "%s.yaml", dag_id);
    dag_diags_init(&diags);
    if (dag_load(name, source, len, &dag, &diags) == 0)
        d = dagcache_insert(cache, version_id, dag);
    else
        log_warn("event=dag_version_invalid version=%lld dag=%s errors=%zu",
                 (long long)version_id, dag_id, diags.n);
    dag_diags_cleanup(&diags);
    free(source);
    return d;
}

/* Match the task rows to the DAG: step order, then cells. */
static int ctx_map(struct run_ctx *x, struct weir_err *err)
{
    size_t k = 0;

    for (size_t s = 0; s < x->dag->n_steps; s++) {
        const struct dag_step *st = &x->dag->steps[s];

        x->first[s] = k;
        for (size_t cell = 0; cell < st->n_cells; cell++, k++) {
            if (k >= x->n || strcmp(x->tasks[k].step_id, st->id) != 0 ||
                x->tasks[k].cell != (int)cell)
                return weir_err_set(err, WEIR_EINTERNAL,
                                    "run %lld: its tasks do not match its "
                                    "DAG version",
                                    (long long)x->run.id);
            x->rt[k].t = &x->tasks[k];
            x->rt[k].step = s;
            x->rt[k].orig = x->tasks[k].state;
            x->rt[k].orig_pending = x->tasks[k].upstream_pending;
            x->rt[k].retry_ms = -1;
        }
    }
    if (k != x->n)
        return weir_err_set(err, WEIR_EINTERNAL,
                            "run %lld: more tasks than its DAG has",
                            (long long)x->run.id);
    return 0;
}

int ctx_load(struct engine *e, struct store_conn *c, int64_t run_id, bool lock,
             struct run_ctx *x, struct weir_err *err)
{
    int rc;

    memset(x, 0, sizeof(*x));
    rc = store_run_get(c, run_id, lock, &x->run, err);
    if (rc < 0)
        return rc;
    x->dag = engine_dag(e->cache, c, x->run.version_id);
    if (x->dag == NULL)
        return weir_err_set(err, WEIR_EINTERNAL,
                            "the DAG version %lld of run %lld cannot be "
                            "loaded",
                            (long long)x->run.version_id, (long long)run_id);
    rc = store_run_tasks(c, run_id, &x->tasks, &x->n, err);
    if (rc < 0)
        return rc;
    x->rt = calloc(x->n ? x->n : 1, sizeof(*x->rt));
    x->first = calloc(x->dag->n_steps ? x->dag->n_steps : 1, sizeof(size_t));
    if (x->rt == NULL || x->first == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    return ctx_map(x, err);
}

void ctx_cleanup(struct engine *e, struct run_ctx *x)
{
    for (size_t i = 0; x->rt != NULL && i < x->n; i++) {
        free(x->rt[i].error);
        free(x->rt[i].outputs);
    }
    free(x->rt);
    free(x->first);
    store_tasks_free(x->tasks, x->n);
    dagcache_release(e->cache, x->dag);
    store_run_cleanup(&x->run);
    memset(x, 0, sizeof(*x));
}

long ctx_find(const struct run_ctx *x, int64_t task_id)
{
    for (size_t i = 0; i < x->n; i++)
        if (x->tasks[i].id == task_id)
            return (long)i;
    return -1;
}

static void set_state(struct run_ctx *x, size_t i, enum task_state to)
{
    x->rt[i].t->state = to;
    x->rt[i].dirty = true;
}

static struct ups count_ups(const struct run_ctx *x, const struct dag_step *st)
{
    struct ups u = {0};

    for (size_t m = 0; m < st->n_needs; m++) {
        size_t s = st->needs_idx[m];

        for (size_t k = 0; k < x->dag->steps[s].n_cells; k++) {
            enum task_state ts = x->tasks[x->first[s] + k].state;

            u.n++;
            u.success += ts == TASK_SUCCESS;
            u.skipped += ts == TASK_SKIPPED;
            u.failed += ts == TASK_FAILED || ts == TASK_UPSTREAM_FAILED;
            u.terminal += task_state_terminal(ts);
        }
    }
    return u;
}

static bool rule_holds(enum dag_trigger_rule rule, const struct ups *u)
{
    if (u->n == 0)
        return true;
    switch (rule) {
    case DAG_RULE_ALL_SUCCESS:
        return u->success + u->skipped == u->n && u->skipped < u->n;
    case DAG_RULE_ALL_DONE:
        return u->terminal == u->n;
    case DAG_RULE_NONE_FAILED:
        return u->failed == 0;
    case DAG_RULE_ONE_FAILED:
        return u->failed > 0;
    case DAG_RULE_ONE_SUCCESS:
        return u->success > 0;
    }
    return false;
}

static bool needs_approval(const struct run_ctx *x, const struct dag_step *st)
{
    const char *env = x->run.environment;

    if (st->approval)
        return true;
    for (size_t i = 0; env != NULL && i < x->dag->n_environments; i++) {
        const struct dag_environment *de = &x->dag->environments[i];

        if (strcmp(de->name, env) != 0)
            continue;
        for (size_t j = 0; j < de->n_approve_before; j++)
            if (strcmp(de->approve_before[j], st->id) == 0)
                return true;
    }
    return false;
}

/* Evaluate the if: of task i; *run says whether it holds. A failure
 * leaves its message in the task's error. */
static int eval_if(struct run_ctx *x, size_t i, const char *text, bool *run)
{
    struct resolve r = {.x = x, .task = i};
    struct weir_err err = {0};
    struct expr_value v;
    struct expr *ex = NULL;
    int rc = expr_parse(text, strlen(text), &ex, &err, NULL);

    if (rc == 0)
        rc = expr_eval(ex, resolve_cb, &r, &v, &err);
    if (rc == 0)
        *run = expr_truthy(&v);
    else
        x->rt[i].error = strdup(err.msg);
    resolve_cleanup(&r);
    expr_free(ex);
    return rc;
}

/* Decide task i, whose upstream tasks have all finished. */
static void decide(struct run_ctx *x, size_t i)
{
    const struct dag_step *st = &x->dag->steps[x->rt[i].step];
    struct ups u = count_ups(x, st);
    bool run = true;

    if (!rule_holds(st->trigger_rule, &u))
        set_state(x, i,
                  u.failed > 0 && st->hook == DAG_HOOK_NONE
                      ? TASK_UPSTREAM_FAILED
                      : TASK_SKIPPED);
    else if (st->if_expr != NULL && eval_if(x, i, st->if_expr, &run) != 0)
        set_state(x, i, TASK_FAILED);
    else if (!run)
        set_state(x, i, TASK_SKIPPED);
    else if (needs_approval(x, st))
        set_state(x, i, TASK_AWAITING_APPROVAL);
    else
        set_state(x, i, TASK_QUEUED);
}

/* Task `start` became terminal: count it off its downstream tasks and
 * decide those whose upstreams are all done, iteratively. */
static int propagate(struct run_ctx *x, size_t start, struct weir_err *err)
{
    size_t *stack = malloc((x->n + 1) * sizeof(*stack));
    size_t top = 0;
    int rc = 0;

    if (stack == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    stack[top++] = start;
    while (top > 0 && rc == 0) {
        size_t s = x->rt[stack[--top]].step;

        for (size_t j = s + 1; j < x->dag->n_steps && rc == 0; j++) {
            const struct dag_step *d = &x->dag->steps[j];

            for (size_t m = 0; m < d->n_needs && rc == 0; m++) {
                if (d->needs_idx[m] != s)
                    continue;
                for (size_t k = 0; k < d->n_cells; k++) {
                    size_t t = x->first[j] + k;

                    if (x->tasks[t].upstream_pending <= 0) {
                        rc = weir_err_set(err, WEIR_EINTERNAL,
                                          "task %lld has no pending upstream",
                                          (long long)x->tasks[t].id);
                        break;
                    }
                    x->rt[t].dirty = true;
                    if (--x->tasks[t].upstream_pending > 0 ||
                        x->tasks[t].state != TASK_PENDING)
                        continue;
                    decide(x, t);
                    if (task_state_terminal(x->tasks[t].state))
                        stack[top++] = t;
                }
            }
        }
    }
    free(stack);
    return rc;
}

/* Decide the root tasks of a run that starts. */
static int decide_roots(struct run_ctx *x, struct weir_err *err)
{
    int rc = 0;

    for (size_t i = 0; i < x->n && rc == 0; i++) {
        if (x->tasks[i].state != TASK_PENDING ||
            x->tasks[i].upstream_pending != 0)
            continue;
        decide(x, i);
        if (task_state_terminal(x->tasks[i].state))
            rc = propagate(x, i, err);
    }
    return rc;
}

/* Write every changed task in one statement. */
static int flush(struct store_conn *c, struct run_ctx *x, struct weir_err *err)
{
    struct store_task_change *v = calloc(x->n ? x->n : 1, sizeof(*v));
    size_t n = 0;
    int rc;

    if (v == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    for (size_t i = 0; i < x->n; i++) {
        struct rtask *r = &x->rt[i];

        if (!r->dirty)
            continue;
        v[n++] = (struct store_task_change){r->t->id,
                                            r->t->try_count,
                                            r->orig,
                                            r->t->state,
                                            r->t->upstream_pending,
                                            r->error,
                                            r->outputs,
                                            r->retry_ms};
    }
    rc = store_tasks_apply(c, x->run.id, v, n, err);
    free(v);
    for (size_t i = 0; rc == 0 && i < x->n; i++) {
        x->rt[i].dirty = false;
        x->rt[i].orig = x->tasks[i].state;
        x->rt[i].orig_pending = x->tasks[i].upstream_pending;
    }
    return rc;
}

/* End a running run whose tasks are all terminal; *ended says so. */
static int run_maybe_end(struct store_conn *c, struct run_ctx *x, bool *ended,
                         struct weir_err *err)
{
    bool bad = false;
    enum run_state to;
    int rc;

    *ended = false;
    if (x->run.state != RUN_RUNNING)
        return 0;
    for (size_t i = 0; i < x->n; i++) {
        enum task_state s = x->tasks[i].state;

        if (!task_state_terminal(s))
            return 0;
        bad |=
            s == TASK_FAILED || s == TASK_UPSTREAM_FAILED || s == TASK_CANCELED;
    }
    to = bad ? RUN_FAILED : RUN_SUCCESS;
    rc = store_run_set_state(c, x->run.id, RUN_RUNNING, to, err);
    if (rc == 0) {
        x->run.state = to;
        *ended = true;
    }
    return rc;
}

/* Start the tasks of run_id (queued runs become running first). */
int engine_run_start(struct engine *e, struct store_conn *c, int64_t run_id,
                     bool *ended, struct weir_err *err)
{
    struct run_ctx x;
    int rc = ctx_load(e, c, run_id, true, &x, err);

    *ended = false;
    if (rc == 0 && x.run.state == RUN_QUEUED) {
        rc = store_run_set_state(c, run_id, RUN_QUEUED, RUN_RUNNING, err);
        x.run.state = RUN_RUNNING;
    }
    if (rc == 0)
        rc = decide_roots(&x, err);
    if (rc == 0)
        rc = flush(c, &x, err);
    if (rc == 0)
        rc = run_maybe_end(c, &x, ended, err);
    ctx_cleanup(e, &x);
    return rc;
}

/* A run of dag_id ended: start its oldest queued runs while there is
 * room under max_active_runs (a run that ends at once leaves room). */
static int start_held_runs(struct engine *e, struct store_conn *c,
                           const char *dag_id, int max_active,
                           struct weir_err *err)
{
    bool paused = false, ended = false;
    int64_t version = 0, next = 0;
    int running = 0, rc;

    if (max_active <= 0)
        return 0;
    for (;;) {
        rc = store_dag_lock(c, dag_id, &paused, &version, &running, err);
        if (rc < 0 || running >= max_active)
            return rc;
        rc = store_run_next_queued(c, dag_id, &next, err);
        if (rc == WEIR_ENOTFOUND)
            return 0;
        if (rc == 0)
            rc = engine_run_start(e, c, next, &ended, err);
        if (rc < 0)
            return rc;
    }
}

/* Whether exit code `code` of step st may be retried. */
static bool exit_retryable(const struct dag_step *st, int code)
{
    bool listed = st->n_retry_on_exit == 0;

    for (size_t i = 0; i < st->n_retry_on_exit; i++)
        listed |= st->retry_on_exit[i] == code;
    for (size_t i = 0; i < st->n_no_retry_on_exit; i++)
        if (st->no_retry_on_exit[i] == code)
            return false;
    return listed;
}

static int64_t retry_delay_ms(const struct dag_step *st, int try)
{
    double d = (double)st->retry_delay_ms *
               pow(st->retry_backoff, (double)(try > 1 ? try - 1 : 0));
    uint32_t rnd = 0;

    if (st->max_retry_delay_ms > 0 && d > (double)st->max_retry_delay_ms)
        d = (double)st->max_retry_delay_ms;
    if (d > (double)DURATION_MAX_MS)
        d = (double)DURATION_MAX_MS;
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        rnd = 0;
    return (int64_t)(d + d * 0.1 * ((double)rnd / 4294967296.0));
}

/* The task state an attempt's outcome leads to. */
static enum task_state task_outcome(const struct dag_step *st,
                                    const struct store_task *t,
                                    const struct outcome *o)
{
    bool retry;

    if (o->state == ATTEMPT_SUCCESS)
        return TASK_SUCCESS;
    retry = !o->no_retry && t->try_count < t->max_tries;
    if (retry && o->state == ATTEMPT_FAILED && o->exit_code != NULL)
        retry = exit_retryable(st, *o->exit_code);
    return retry ? TASK_UP_FOR_RETRY : TASK_FAILED;
}

/* Task i's attempt ended as o says: its new state and what follows. */
static int task_attempt_ended(struct run_ctx *x, size_t i,
                              const struct outcome *o, struct weir_err *err)
{
    const struct dag_step *st = &x->dag->steps[x->rt[i].step];
    struct rtask *r = &x->rt[i];
    enum task_state to = task_outcome(st, r->t, o);

    set_state(x, i, to);
    if (to == TASK_SUCCESS) {
        r->outputs = strdup(o->outputs ? o->outputs : "{}");
        if (r->outputs == NULL)
            return weir_err_set(err, WEIR_ENOMEM, "out of memory");
        /* Downstream `if:` decided in this same transaction reads them. */
        cJSON_Delete(r->t->outputs);
        r->t->outputs = cJSON_Parse(r->outputs);
        if (r->t->outputs == NULL)
            return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    } else if (to == TASK_UP_FOR_RETRY) {
        r->retry_ms = retry_delay_ms(st, r->t->try_count);
        log_info("event=retry_scheduled run=%lld task=%lld try=%d "
                 "delay_ms=%lld",
                 (long long)x->run.id, (long long)r->t->id, r->t->try_count,
                 (long long)r->retry_ms);
    } else if (o->error != NULL) {
        r->error = strdup(o->error);
    }
    return task_state_terminal(to) ? propagate(x, i, err) : 0;
}

int engine_finish_attempt(struct engine *e, struct store_conn *c,
                          const struct store_attempt *a,
                          const struct outcome *o, struct weir_err *err)
{
    struct run_ctx x;
    bool ended = false, live;
    long i;
    int rc = ctx_load(e, c, a->run_id, true, &x, err);

    i = rc == 0 ? ctx_find(&x, a->task_id) : -1;
    /* A task no longer running this try (its run was canceled, maybe
     * retried since) keeps its state; the attempt is recorded canceled. */
    live = i >= 0 && x.tasks[i].state == TASK_RUNNING &&
           x.tasks[i].try_count == a->try;
    if (rc == 0)
        rc = store_attempt_finish(c, a, live ? o->state : ATTEMPT_CANCELED,
                                  o->exit_code, o->outputs, o->error, err);
    if (rc == 0 && live && o->state == ATTEMPT_SUCCESS)
        rc = store_artifact_record(c, a->id, o->outputs, err);
    if (rc == 0 && live)
        rc = task_attempt_ended(&x, (size_t)i, o, err);
    if (rc == 0)
        rc = flush(c, &x, err);
    if (rc == 0)
        rc = run_maybe_end(c, &x, &ended, err);
    if (rc == 0 && ended)
        rc = start_held_runs(e, c, x.run.dag_id, x.dag->max_active_runs, err);
    ctx_cleanup(e, &x);
    return rc;
}

/* ---- the run context for engine_control.c ---- */

void ctx_set_state(struct run_ctx *x, size_t i, enum task_state to)
{
    set_state(x, i, to);
}

int ctx_propagate(struct run_ctx *x, size_t i, struct weir_err *err)
{
    return propagate(x, i, err);
}

int ctx_decide_ready(struct run_ctx *x, struct weir_err *err)
{
    return decide_roots(x, err);
}

int ctx_flush(struct store_conn *c, struct run_ctx *x, struct weir_err *err)
{
    return flush(c, x, err);
}

int ctx_run_maybe_end(struct store_conn *c, struct run_ctx *x, bool *ended,
                      struct weir_err *err)
{
    return run_maybe_end(c, x, ended, err);
}

int ctx_start_held_runs(struct engine *e, struct store_conn *c,
                        const struct run_ctx *x, struct weir_err *err)
{
    return start_held_runs(e, c, x->run.dag_id, x->dag->max_active_runs, err);
}
