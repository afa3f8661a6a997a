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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "duration.h"
#include "engine/after.h"
#include "engine/cache.h"
#include "engine/internal.h"
#include "log.h"
#include "store/artifacts.h"
#include "store/store.h"
#include "tmpl.h"

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

        for (size_t k = 0; k < x->cells[s]; k++) {
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

/*
 * Evaluate the if: of task i: *run says whether it holds. An evaluation
 * error leaves its message in the task's error and sets *failed; a
 * failed load of the tasks it names is returned (the transition fails).
 */
static int eval_if(struct run_ctx *x, size_t i, const char *text, bool *run,
                   bool *failed, struct weir_err *err)
{
    struct resolve r = {.x = x, .task = i};
    struct weir_err e2 = {0};
    struct expr_value v;
    struct expr *ex = NULL;
    int rc = expr_parse(text, strlen(text), &ex, &e2, NULL);

    *failed = false;
    if (rc == 0)
        rc = expr_eval(ex, resolve_cb, &r, &v, &e2);
    if (rc == 0)
        *run = expr_truthy(&v);
    resolve_cleanup(&r);
    expr_free(ex);
    if (x->fatal != 0) {
        *err = x->fatal_err;
        return x->fatal;
    }
    if (rc != 0) {
        *failed = true;
        x->rt[i].error = strdup(e2.msg);
    }
    return 0;
}

/*
 * Task i, an approval gate, is reached: it awaits approval, with its
 * message rendered now against the run (a message that cannot be
 * rendered is kept as written, with why). A failed load of the tasks the
 * message names fails the transition.
 */
static int gate_reached(struct run_ctx *x, size_t i, const struct dag_step *st,
                        struct weir_err *err)
{
    struct resolve r = {.x = x, .task = i};
    struct weir_err e2 = {0};
    char *text = NULL;
    int rc = 0;

    set_state(x, i, TASK_AWAITING_APPROVAL);
    if (st->approval_message == NULL)
        return 0;
    rc = tmpl_render(st->approval_message, TMPL_PLAIN, resolve_cb, &r, &text,
                     &e2);
    resolve_cleanup(&r);
    if (x->fatal != 0) {
        free(text);
        *err = x->fatal_err;
        return x->fatal;
    }
    if (rc != 0) {
        size_t len = strlen(st->approval_message) + strlen(e2.msg) + 40;

        text = malloc(len);
        if (text != NULL)
            snprintf(text, len, "%s (cannot render: %s)", st->approval_message,
                     e2.msg);
    }
    if (text == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    free(x->rt[i].message);
    x->rt[i].message = text;
    return 0;
}

/* Decide task i, whose upstream tasks have all finished. */
static int decide(struct run_ctx *x, size_t i, struct weir_err *err)
{
    const struct dag_step *st = &x->dag->steps[x->rt[i].step];
    struct ups u;
    int rc = ctx_need_steps(x, st->needs_idx, st->n_needs, err);

    if (rc < 0)
        return rc;
    u = count_ups(x, st);
    if (!rule_holds(st->trigger_rule, &u)) {
        /* A hook that is not due is skipped, never upstream_failed. */
        set_state(x, i,
                  u.failed > 0 && st->hook == DAG_HOOK_NONE
                      ? TASK_UPSTREAM_FAILED
                      : TASK_SKIPPED);
        return 0;
    }
    if (dag_step_mapped(st) && x->tasks[i].matrix == NULL)
        return map_expand(x, i, err);
    return ctx_decide_cell(x, i, err);
}

int ctx_decide_cell(struct run_ctx *x, size_t i, struct weir_err *err)
{
    const struct dag_step *st = &x->dag->steps[x->rt[i].step];
    bool run = true, failed = false;
    int rc = 0;

    if (st->if_expr != NULL) {
        rc = eval_if(x, i, st->if_expr, &run, &failed, err);
        if (rc < 0)
            return rc;
    }
    if (failed)
        set_state(x, i, TASK_FAILED);
    else if (!run)
        set_state(x, i, TASK_SKIPPED);
    else if (needs_approval(x, st))
        rc = gate_reached(x, i, st, err);
    else
        set_state(x, i, TASK_QUEUED);
    return 0;
}

/* Mark in flags (one per step) the steps that need step s. */
static void downstream_of(const struct dag *d, size_t s, bool *flags)
{
    for (size_t j = s + 1; j < d->n_steps; j++)
        for (size_t m = 0; m < d->steps[j].n_needs; m++)
            if (d->steps[j].needs_idx[m] == s)
                flags[j] = true;
}

/* Task `start` became terminal: count it off its downstream tasks and
 * decide those whose upstreams are all done, iteratively. */
static int propagate(struct run_ctx *x, size_t start, struct weir_err *err)
{
    size_t *stack = malloc((x->n + 1) * sizeof(*stack));
    bool *down = calloc(x->dag->n_steps + 1, sizeof(*down));
    size_t top = 0;
    int rc = 0;

    if (stack == NULL || down == NULL) {
        free(stack);
        free(down);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    stack[top++] = start;
    while (top > 0 && rc == 0) {
        size_t s = x->rt[stack[--top]].step;

        memset(down, 0, x->dag->n_steps * sizeof(*down));
        downstream_of(x->dag, s, down);
        rc = ctx_fetch(x, NULL, 0, down, err);
        for (size_t j = s + 1; j < x->dag->n_steps && rc == 0; j++) {
            const struct dag_step *d = &x->dag->steps[j];

            for (size_t m = 0; m < d->n_needs && rc == 0; m++) {
                if (d->needs_idx[m] != s)
                    continue;
                /* cells[j] as it was: the cells a mapped step makes
                 * while deciding its placeholder are decided already */
                for (size_t k = 0, nc = x->cells[j]; k < nc && rc == 0; k++) {
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
                    rc = decide(x, t, err);
                    if (rc == 0 && task_state_terminal(x->tasks[t].state))
                        stack[top++] = t;
                }
            }
        }
    }
    free(stack);
    free(down);
    return rc;
}

/* Decide the loaded tasks that wait for no upstream: the root tasks of a
 * run that starts, the reset tasks of a retried run. */
static int decide_roots(struct run_ctx *x, struct weir_err *err)
{
    int rc = 0;

    for (size_t i = 0; i < x->n && rc == 0; i++) {
        if (x->rt[i].t == NULL || x->tasks[i].state != TASK_PENDING ||
            x->tasks[i].upstream_pending != 0)
            continue;
        rc = decide(x, i, err);
        if (rc == 0 && task_state_terminal(x->tasks[i].state))
            rc = propagate(x, i, err);
    }
    return rc;
}

static bool state_bad(enum task_state s)
{
    return s == TASK_FAILED || s == TASK_UPSTREAM_FAILED || s == TASK_CANCELED;
}

/* Note a task made claimable in x->made. */
static void made_note(struct run_ctx *x, int64_t id)
{
    if (x->made == NULL)
        return;
    if (x->made->n < MADE_MAX)
        x->made->ids[x->made->n] = id;
    x->made->n++;
}

/*
 * Write every changed task, and the ends of n_ends attempts, in one
 * statement. An open context also learns there whether the run's
 * other tasks are finished (for run_maybe_end()).
 */
static int flush(struct store_conn *c, struct run_ctx *x,
                 const struct store_attempt_end *ends, size_t n_ends,
                 struct weir_err *err)
{
    struct store_task_change *v = calloc(x->n ? x->n : 1, sizeof(*v));
    struct store_run_probe probe = {0};
    bool probing = !x->full && x->run.state == RUN_RUNNING;
    bool wrote_open = false, wrote_bad = false;
    size_t n = 0;
    int rc;

    if (v == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    for (size_t i = 0; i < x->n; i++) {
        struct rtask *r = &x->rt[i];

        if (r->t == NULL || !r->dirty)
            continue;
        v[n++] = (struct store_task_change){r->t->id,
                                            r->t->try_count,
                                            r->orig,
                                            r->t->state,
                                            r->t->upstream_pending,
                                            r->error,
                                            r->outputs,
                                            r->retry_ms,
                                            r->message};
        wrote_open |= !task_state_terminal(r->t->state);
        wrote_bad |= state_bad(r->t->state);
    }
    rc = store_run_write(c, x->run.id, ends, n_ends, v, n,
                         probing ? &probe : NULL, err);
    for (size_t k = 0; rc == 0 && k < n; k++)
        if (v[k].from != v[k].to &&
            (v[k].to == TASK_QUEUED || v[k].to == TASK_UP_FOR_RETRY))
            made_note(x, v[k].task_id);
    free(v);
    if (rc == 0 && probing) {
        x->probed = true;
        x->others_open = probe.open;
        x->others_bad = probe.bad;
        x->wrote_open = wrote_open;
        x->wrote_bad = wrote_bad;
    }
    for (size_t i = 0; rc == 0 && i < x->n; i++) {
        if (x->rt[i].t == NULL)
            continue;
        x->rt[i].dirty = false;
        x->rt[i].orig = x->tasks[i].state;
        x->rt[i].orig_pending = x->tasks[i].upstream_pending;
    }
    return rc;
}

/*
 * End a running run whose tasks are all terminal; *ended says so. A full
 * context looks at its tasks; an open one at what its last flush saw.
 */
static int run_maybe_end(struct store_conn *c, struct run_ctx *x, bool *ended,
                         struct weir_err *err)
{
    bool bad = false;
    enum run_state to;
    int rc;

    *ended = false;
    if (x->run.state != RUN_RUNNING)
        return 0;
    if (x->full) {
        for (size_t i = 0; i < x->n; i++) {
            enum task_state s = x->tasks[i].state;

            if (x->rt[i].t == NULL) /* room for cells not made */
                continue;
            if (!task_state_terminal(s))
                return 0;
            bad |= state_bad(s);
        }
    } else {
        if (!x->probed) {
            rc = flush(c, x, NULL, 0, err);
            if (rc < 0)
                return rc;
        }
        if (x->others_open || x->wrote_open)
            return 0;
        bad = x->others_bad || x->wrote_bad;
    }
    to = bad ? RUN_FAILED : RUN_SUCCESS;
    rc = store_run_set_state(c, x->run.id, RUN_RUNNING, to, err);
    if (rc == 0) {
        x->run.state = to;
        *ended = true;
        rc = after_run_ended(x->e, x, err);
    }
    return rc;
}

/* Start the tasks of run_id (queued runs become running first), loading
 * only its root tasks and what deciding them reaches. */
static int run_start(struct engine *e, struct store_conn *c, int64_t run_id,
                     bool *ended, struct made *made, struct weir_err *err)
{
    struct run_ctx x;
    bool *roots = NULL;
    int rc = ctx_open(e, c, run_id, true, &x, err);

    *ended = false;
    x.made = made;
    if (rc == 0 && x.run.state == RUN_QUEUED) {
        rc = store_run_set_state(c, run_id, RUN_QUEUED, RUN_RUNNING, err);
        x.run.state = RUN_RUNNING;
    }
    if (rc == 0) {
        roots = calloc(x.dag->n_steps + 1, sizeof(*roots));
        if (roots == NULL)
            rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    for (size_t s = 0; rc == 0 && s < x.dag->n_steps; s++)
        roots[s] = x.dag->steps[s].n_needs == 0;
    if (rc == 0)
        rc = ctx_fetch(&x, NULL, 0, roots, err);
    if (rc == 0)
        rc = decide_roots(&x, err);
    if (rc == 0)
        rc = flush(c, &x, NULL, 0, err);
    if (rc == 0)
        rc = run_maybe_end(c, &x, ended, err);
    free(roots);
    ctx_cleanup(e, &x);
    return rc;
}

int engine_run_start(struct engine *e, struct store_conn *c, int64_t run_id,
                     bool *ended, struct weir_err *err)
{
    return run_start(e, c, run_id, ended, NULL, err);
}

/* A run of dag_id ended: start its oldest queued runs while there is
 * room under max_active_runs (a run that ends at once leaves room). */
static int start_held_runs(struct engine *e, struct store_conn *c,
                           const char *dag_id, int max_active,
                           struct made *made, struct weir_err *err)
{
    struct store_dag_locked l = {0};
    bool ended = false;
    int64_t next = 0;
    int rc;

    if (max_active <= 0)
        return 0;
    for (;;) {
        rc = store_dag_lock(c, dag_id, &l, err);
        if (rc < 0 || l.running >= max_active)
            return rc;
        rc = store_run_next_queued(c, dag_id, &next, err);
        if (rc == WEIR_ENOTFOUND)
            return 0;
        if (rc == 0)
            rc = run_start(e, c, next, &ended, made, err);
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
    if (o->untried)
        return TASK_UP_FOR_RETRY;
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
        r->t->outputs = o->outputs_doc != NULL
                            ? cJSON_Duplicate(o->outputs_doc, 1)
                            : cJSON_Parse(r->outputs);
        if (r->t->outputs == NULL)
            return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    } else if (to == TASK_UP_FOR_RETRY) {
        r->retry_ms = o->untried ? 0 : retry_delay_ms(st, r->t->try_count);
        log_info("event=retry_scheduled run=%lld task=%lld try=%d "
                 "delay_ms=%lld",
                 (long long)x->run.id, (long long)r->t->id, r->t->try_count,
                 (long long)r->retry_ms);
    } else if (o->error != NULL) {
        r->error = strdup(o->error);
    }
    return task_state_terminal(to) ? propagate(x, i, err) : 0;
}

/*
 * Add to flags (the downstream steps of a finished task) their upstream
 * steps, when these are few cells: what deciding a downstream task and
 * rendering it for the claim that follows read, in the same statement,
 * for chains and small graphs. A large upstream (a wide matrix) is left
 * to the loads on demand, so that each of its cells' completions does
 * not read all the others.
 */
#define PREFETCH_CELLS 64
static void prefetch_upstream(const struct dag *d, bool *flags)
{
    bool *ups = calloc(d->n_steps + 1, sizeof(*ups));
    size_t cells = 0;

    if (ups == NULL)
        return;
    for (size_t j = 0; j < d->n_steps; j++)
        for (size_t u = 0; flags[j] && u < d->steps[j].n_upstream; u++)
            ups[d->steps[j].upstream[u]] = true;
    for (size_t s = 0; s < d->n_steps; s++)
        cells += ups[s] && !flags[s] ? d->steps[s].n_cells : 0;
    for (size_t s = 0; cells <= PREFETCH_CELLS && s < d->n_steps; s++)
        flags[s] |= ups[s];
    free(ups);
}

int engine_finish_in(struct engine *e, struct run_ctx *x,
                     const struct store_attempt *a, const struct outcome *o,
                     size_t n, struct weir_err *err)
{
    struct store_attempt_end *ends = calloc(n ? n : 1, sizeof(*ends));
    bool ended = false, *down = calloc(x->dag->n_steps + 1, sizeof(*down));
    bool late = false; /* an attempt of a finished (canceled) run ended */
    int64_t *ids = calloc(n ? n : 1, sizeof(*ids));
    int rc = 0;

    if (ends == NULL || down == NULL || ids == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    /* The tasks, and the tasks they may make ready: what a transition
     * reads in the common case, in one statement. */
    for (size_t k = 0; rc == 0 && k < n; k++) {
        const struct dag_step *st = dag_step_get(x->dag, a[k].step_id);

        ids[k] = a[k].task_id;
        if (st != NULL)
            downstream_of(x->dag, (size_t)(st - x->dag->steps), down);
    }
    if (rc == 0) {
        prefetch_upstream(x->dag, down);
        rc = ctx_fetch(x, ids, n, down, err);
    }
    for (size_t k = 0; rc == 0 && k < n; k++) {
        long i = ctx_find(x, a[k].task_id);
        /* A task no longer running this try (its run was canceled, maybe
         * retried since) keeps its state; the attempt is recorded
         * canceled. */
        bool live = i >= 0 && x->tasks[i].state == TASK_RUNNING &&
                    x->tasks[i].try_count == a[k].try;

        late |= !live && run_state_terminal(x->run.state);
        ends[k] = (struct store_attempt_end){
            &a[k], live ? o[k].state : ATTEMPT_CANCELED, o[k].exit_code,
            o[k].outputs, o[k].error};
        /* a cached success links the artifacts of the attempt it reuses */
        if (live && o[k].state == ATTEMPT_SUCCESS && !o[k].cached)
            rc = store_artifact_record(x->c, a[k].id, o[k].outputs, err);
        if (rc == 0 && live && x->dag->steps[x->rt[i].step].cache)
            rc =
                cache_fill(x, &x->dag->steps[x->rt[i].step], &a[k], &o[k], err);
        if (rc == 0 && live && o[k].state == ATTEMPT_SUCCESS)
            rc = after_attempt_data(e, x, &a[k], o[k].outputs, err);
        if (rc == 0 && live)
            rc = task_attempt_ended(x, (size_t)i, &o[k], err);
        if (rc == 0 && live && x->made != NULL)
            x->made->pool_freed |= x->dag->steps[x->rt[i].step].pool != NULL;
    }
    if (rc == 0)
        rc = flush(x->c, x, ends, n, err);
    if (rc == 0)
        rc = run_maybe_end(x->c, x, &ended, err);
    /* A canceled run's slot is free once its last step is over. */
    if (rc == 0 && (ended || late))
        rc = start_held_runs(e, x->c, x->run.dag_id, x->dag->max_active_runs,
                             x->made, err);
    free(ends);
    free(down);
    free(ids);
    return rc;
}

int engine_finish_attempt(struct engine *e, struct store_conn *c,
                          const struct store_attempt *a,
                          const struct outcome *o, struct weir_err *err)
{
    struct run_ctx x;
    int rc = ctx_open(e, c, a->run_id, true, &x, err);

    if (rc == 0)
        rc = engine_finish_in(e, &x, a, o, 1, err);
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
    return flush(c, x, NULL, 0, err);
}

int ctx_run_maybe_end(struct store_conn *c, struct run_ctx *x, bool *ended,
                      struct weir_err *err)
{
    return run_maybe_end(c, x, ended, err);
}

int ctx_start_held_runs(struct engine *e, struct store_conn *c,
                        const struct run_ctx *x, struct weir_err *err)
{
    return start_held_runs(e, c, x->run.dag_id, x->dag->max_active_runs,
                           x->made, err);
}
