/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What people do to runs: cancel, retry and decide approval gates, each
 * in one transaction that locks the run row first (as every engine
 * transaction does), and the dispatch latency histogram of /metrics.
 *
 * Cancel leaves running attempts running: the commit wakes the lease
 * long-polls, and the worker's answers with the attempt ids to cancel (the
 * heartbeat's {"cancel": true} is the fallback); the worker stops the
 * process group and reports, and that report is recorded as a canceled
 * attempt without touching the task (engine_finish_attempt()). Until then
 * (or until its lease expires) the run keeps its max_active_runs slot:
 * store_dag_lock() counts it, and the attempt's end starts held runs.
 *
 * Retry puts a set of tasks back to pending that is closed downstream: a
 * task downstream of a reset task is reset too, since the inputs it ran
 * with are about to change; this also keeps every upstream_pending count
 * exact for propagation. Kept tasks are finished (the run was), so a
 * reset task's upstream_pending is the number of its upstream tasks that
 * were reset.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "engine/approvals.h"
#include "engine/internal.h"
#include "log.h"
#include "store/approvals.h"
#include "store/store.h"
#include "suggest.h"

/* ---- transactions ---- */

static int tx_open_as(struct engine *e, int64_t run_id, bool settled,
                      struct store_conn **c, struct run_ctx *x,
                      struct weir_err *err)
{
    int rc = store_conn_get(e->store, c, err);

    memset(x, 0, sizeof(*x));
    if (rc == 0)
        rc = store_tx_begin(*c, err);
    if (rc == 0)
        rc = settled ? ctx_load_settled(e, *c, run_id, x, err)
                     : ctx_load(e, *c, run_id, true, x, err);
    return rc;
}

static int tx_open(struct engine *e, int64_t run_id, struct store_conn **c,
                   struct run_ctx *x, struct weir_err *err)
{
    return tx_open_as(e, run_id, false, c, x, err);
}

/* Commit when rc is 0, give the connection back (rolling back
 * otherwise), free the run, and wake lease calls after a commit. */
static int tx_close(struct engine *e, struct store_conn *c, struct run_ctx *x,
                    int rc, struct weir_err *err)
{
    if (rc == 0)
        rc = store_tx_commit(c, err);
    ctx_cleanup(e, x);
    store_conn_put(c);
    if (rc == 0)
        hub_bump(e->hub);
    return rc;
}

/* {task_id, step, cell, was} of task i, appended to arr. */
static void add_task_ref(cJSON *arr, const struct run_ctx *x, size_t i,
                         enum task_state was)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "task_id", (double)x->tasks[i].id);
    cJSON_AddStringToObject(o, "step", x->tasks[i].step_id);
    cJSON_AddNumberToObject(o, "cell", x->tasks[i].cell);
    cJSON_AddStringToObject(o, "was", task_state_name(was));
    cJSON_AddItemToArray(arr, o);
}

/* The index of step id in x's DAG; WEIR_ENOTFOUND (or `code`) with a
 * suggestion when there is none. */
static int find_step(const struct run_ctx *x, const char *id, int code,
                     size_t *out, struct weir_err *err)
{
    const char *cands[256];
    size_t n = 0;
    const char *s;

    for (size_t i = 0; i < x->dag->n_steps; i++) {
        if (strcmp(x->dag->steps[i].id, id) == 0) {
            *out = i;
            return 0;
        }
        if (n < WEIR_ARRAY_LEN(cands))
            cands[n++] = x->dag->steps[i].id;
    }
    s = suggest_word(id, cands, n);
    return weir_err_set(err, code, "DAG \"%s\" has no step \"%s\"%s%s%s",
                        x->dag->id, id, s ? " (did you mean \"" : "",
                        s ? s : "", s ? "\"?)" : "");
}

/* ---- cancel ---- */

static int cancel_in_tx(struct engine *e, struct store_conn *c,
                        struct run_ctx *x, const char *by, cJSON *canceled,
                        struct weir_err *err)
{
    enum run_state from = x->run.state;
    int rc;

    if (run_state_terminal(from))
        return weir_err_set(err, WEIR_ECONFLICT,
                            "run %lld already finished (%s)",
                            (long long)x->run.id, run_state_name(from));
    for (size_t i = 0; i < x->n; i++) {
        if (x->rt[i].t == NULL || task_state_terminal(x->tasks[i].state))
            continue;
        add_task_ref(canceled, x, i, x->tasks[i].state);
        ctx_set_state(x, i, TASK_CANCELED);
    }
    rc = ctx_flush(c, x, err);
    if (rc == 0)
        rc = store_run_set_state(c, x->run.id, from, RUN_CANCELED, err);
    if (rc == 0)
        rc = store_run_canceled_by(c, x->run.id, by, err);
    if (rc == 0)
        x->run.state = RUN_CANCELED;
    if (rc == 0 && from == RUN_RUNNING)
        rc = ctx_start_held_runs(e, c, x, err);
    return rc;
}

int engine_run_cancel(struct engine *e, int64_t run_id, const char *by,
                      cJSON **out, struct weir_err *err)
{
    struct store_conn *c = NULL;
    struct run_ctx x;
    cJSON *o = cJSON_CreateObject();
    cJSON *canceled = cJSON_AddArrayToObject(o, "canceled");
    /* settled: a claim in flight would otherwise turn a task read as
     * queued into running under the cancel, whose guarded write then
     * failed ("a task changed state meanwhile") and left the run going */
    int rc = tx_open_as(e, run_id, true, &c, &x, err);

    if (rc == 0 && canceled == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    if (rc == 0)
        rc = cancel_in_tx(e, c, &x, by, canceled, err);
    rc = tx_close(e, c, &x, rc, err);
    if (rc < 0) {
        cJSON_Delete(o);
        return rc;
    }
    log_info("event=run_canceled run=%lld by=%s tasks=%d", (long long)run_id,
             by, cJSON_GetArraySize(canceled));
    cJSON_AddNumberToObject(o, "run_id", (double)run_id);
    cJSON_AddStringToObject(o, "state", run_state_name(RUN_CANCELED));
    *out = o;
    return 0;
}

/* ---- retry ---- */

/* Mark the tasks to reset in reset[]: the chosen ones, then everything
 * downstream of them (steps are in topological order). */
static void retry_mark(const struct run_ctx *x, const size_t *from, bool *reset,
                       bool *step_reset)
{
    const struct dag *d = x->dag;

    for (size_t s = 0; s < d->n_steps; s++) {
        const struct dag_step *st = &d->steps[s];
        bool all = from != NULL && *from == s;

        for (size_t m = 0; !all && m < st->n_needs; m++)
            all = step_reset[st->needs_idx[m]];
        for (size_t k = 0; k < x->cells[s]; k++) {
            size_t i = x->first[s] + k;
            enum task_state ts = x->tasks[i].state;

            reset[i] = all || (from == NULL && ts != TASK_SUCCESS &&
                               ts != TASK_SKIPPED);
            step_reset[s] |= reset[i];
        }
    }
}

/* The reset row of task i: upstream_pending counts its reset upstream
 * tasks; max_tries gives it its step's full tries after try_count. */
static struct store_task_reset reset_row(const struct run_ctx *x, size_t i,
                                         const bool *reset)
{
    const struct dag_step *st = &x->dag->steps[x->rt[i].step];
    struct store_task_reset r = {x->tasks[i].id, x->tasks[i].try_count,
                                 x->tasks[i].state, 0,
                                 x->tasks[i].try_count + st->retries + 1};

    for (size_t m = 0; m < st->n_needs; m++) {
        size_t u = st->needs_idx[m];

        for (size_t k = 0; k < x->cells[u]; k++)
            r.pending += reset[x->first[u] + k];
    }
    return r;
}

/* Write the resets and make the loaded run match them. */
static int retry_reset(struct store_conn *c, struct run_ctx *x,
                       const bool *reset, cJSON *list, struct weir_err *err)
{
    struct store_task_reset *v = calloc(x->n ? x->n : 1, sizeof(*v));
    size_t n = 0;
    int rc;

    if (v == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    for (size_t i = 0; i < x->n; i++)
        if (reset[i])
            v[n++] = reset_row(x, i, reset);
    rc = store_tasks_reset(c, x->run.id, v, n, err);
    for (size_t k = 0; rc == 0 && k < n; k++) {
        size_t i = (size_t)ctx_find(x, v[k].task_id);
        struct store_task *t = &x->tasks[i];

        add_task_ref(list, x, i, t->state);
        t->state = x->rt[i].orig = TASK_PENDING;
        t->upstream_pending = x->rt[i].orig_pending = v[k].pending;
        t->max_tries = v[k].max_tries;
        cJSON_Delete(t->outputs);
        t->outputs = NULL;
    }
    free(v);
    return rc;
}

/* The run's new state: running, or queued while max_active_runs holds
 * its DAG (a queued run starts through start_held_runs later). */
static int retry_run_state(struct store_conn *c, struct run_ctx *x, int *count,
                           struct weir_err *err)
{
    struct store_dag_locked l = {0};
    enum run_state to = RUN_RUNNING;
    int rc = store_dag_lock(c, x->run.dag_id, &l, err);

    if (rc == 0 && x->dag->max_active_runs > 0 &&
        l.running >= x->dag->max_active_runs)
        to = RUN_QUEUED;
    if (rc == 0)
        rc = store_run_retry(c, x->run.id, x->run.state, to, count, err);
    if (rc == 0)
        x->run.state = to;
    return rc;
}

/*
 * Apply r->params and r->params_text (typed as the DAG of x declares them,
 * engine_params_typed()) to the params of x (the values the tasks that
 * run again see) into *params, and note each key whose value differs in
 * changed ({key: {from, to}}).
 */
static int retry_params_apply(const struct run_ctx *x,
                              const struct engine_retry *r, cJSON **params,
                              cJSON *changed, struct weir_err *err)
{
    cJSON *p = x->run.params ? cJSON_Duplicate(x->run.params, 1)
                             : cJSON_CreateObject();
    cJSON *req = NULL;
    const cJSON *m;
    int rc = p ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");

    if (rc == 0)
        rc = engine_params_typed(x->dag, x->run.environment, r->params,
                                 r->params_text, &req, err);
    for (m = rc == 0 && req ? req->child : NULL; m != NULL; m = m->next) {
        const cJSON *old = cJSON_GetObjectItemCaseSensitive(p, m->string);
        cJSON *d;

        if (old != NULL && cJSON_Compare(old, m, true))
            continue;
        d = cJSON_AddObjectToObject(changed, m->string);
        cJSON_AddItemToObject(
            d, "from", old ? cJSON_Duplicate(old, 1) : cJSON_CreateNull());
        cJSON_AddItemToObject(d, "to", cJSON_Duplicate(m, 1));
        cJSON_DeleteItemFromObjectCaseSensitive(p, m->string);
        cJSON_AddItemToObject(p, m->string, cJSON_Duplicate(m, 1));
    }
    cJSON_Delete(req);
    if (rc < 0)
        cJSON_Delete(p);
    else
        *params = p;
    return rc;
}

/*
 * Change the params of x as r asks, for retry number count: the run row
 * gets the new values and a param_changes entry, x the new values.
 * changed gets {key: {from, to}}; nothing is written when it stays empty.
 */
static int retry_params(struct store_conn *c, struct run_ctx *x,
                        const struct engine_retry *r, int count, cJSON *changed,
                        struct weir_err *err)
{
    cJSON *params = NULL, *entry = NULL;
    char *ptext = NULL, *etext = NULL;
    int rc;

    if (r->params == NULL && r->params_text == NULL)
        return 0;
    rc = retry_params_apply(x, r, &params, changed, err);
    if (rc < 0 || cJSON_GetArraySize(changed) == 0)
        goto out;
    entry = cJSON_CreateObject();
    cJSON_AddStringToObject(entry, "by", r->by ? r->by : "");
    cJSON_AddNumberToObject(entry, "retry", count);
    cJSON_AddItemToObject(entry, "from",
                          r->from ? cJSON_CreateString(r->from)
                                  : cJSON_CreateNull());
    cJSON_AddItemToObject(entry, "changed", cJSON_Duplicate(changed, 1));
    ptext = cJSON_PrintUnformatted(params);
    etext = cJSON_PrintUnformatted(entry);
    rc = ptext && etext
             ? store_run_params_change(c, x->run.id, ptext, etext, err)
             : weir_err_set(err, WEIR_ENOMEM, "out of memory");
    if (rc == 0) {
        cJSON_Delete(x->run.params);
        x->run.params = params;
        params = NULL;
    }
out:
    cJSON_Delete(params);
    cJSON_Delete(entry);
    cJSON_free(ptext);
    cJSON_free(etext);
    return rc;
}

static int retry_in_tx(struct engine *e, struct store_conn *c,
                       struct run_ctx *x, const struct engine_retry *r,
                       cJSON *o, struct weir_err *err)
{
    const char *from = r->from;
    cJSON *changed = cJSON_AddObjectToObject(o, "changed");
    bool *reset = calloc(x->n ? x->n : 1, sizeof(bool));
    bool *step_reset = calloc(x->dag->n_steps + 1, sizeof(bool));
    cJSON *list = cJSON_AddArrayToObject(o, "reset");
    bool ended = false;
    size_t s = 0;
    int count = 0;
    int rc = reset && step_reset && list && changed
                 ? 0
                 : weir_err_set(err, WEIR_ENOMEM, "out of memory");

    if (rc == 0 && !run_state_terminal(x->run.state))
        rc = weir_err_set(err, WEIR_ECONFLICT,
                          "run %lld is %s: only a finished run can be retried",
                          (long long)x->run.id, run_state_name(x->run.state));
    if (rc == 0 && from != NULL)
        rc = find_step(x, from, WEIR_EINVAL, &s, err);
    if (rc == 0)
        retry_mark(x, from ? &s : NULL, reset, step_reset);
    if (rc == 0)
        rc = map_retry_collapse(x, reset, step_reset, err);
    if (rc == 0)
        rc = retry_reset(c, x, reset, list, err);
    if (rc == 0 && cJSON_GetArraySize(list) == 0)
        rc = weir_err_set(err, WEIR_ECONFLICT,
                          "run %lld has nothing to retry: every task "
                          "succeeded or was skipped (retry from a step)",
                          (long long)x->run.id);
    if (rc == 0)
        rc = retry_run_state(c, x, &count, err);
    if (rc == 0)
        rc = retry_params(c, x, r, count, changed, err);
    if (rc == 0 && r->by != NULL)
        rc = store_run_retried_by_set(c, x->run.id, r->by, err);
    if (rc == 0 && x->run.state == RUN_RUNNING)
        rc = ctx_decide_ready(x, err);
    if (rc == 0)
        rc = ctx_flush(c, x, err);
    if (rc == 0)
        rc = ctx_run_maybe_end(c, x, &ended, err);
    if (rc == 0 && ended)
        rc = ctx_start_held_runs(e, c, x, err);
    cJSON_AddNumberToObject(o, "retry_count", count);
    free(reset);
    free(step_reset);
    return rc;
}

int engine_run_retry(struct engine *e, int64_t run_id,
                     const struct engine_retry *r, cJSON **out,
                     struct weir_err *err)
{
    struct store_conn *c = NULL;
    struct run_ctx x;
    cJSON *o = cJSON_CreateObject();
    int rc = tx_open(e, run_id, &c, &x, err);
    enum run_state state = RUN_RUNNING;

    if (rc == 0 && o == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    if (rc == 0)
        rc = retry_in_tx(e, c, &x, r, o, err);
    state = x.run.state;
    rc = tx_close(e, c, &x, rc, err);
    if (rc < 0) {
        cJSON_Delete(o);
        return rc;
    }
    log_info("event=run_retried run=%lld from=%s tasks=%d state=%s"
             " params_changed=%d",
             (long long)run_id, r->from ? r->from : "-",
             cJSON_GetArraySize(cJSON_GetObjectItem(o, "reset")),
             run_state_name(state),
             cJSON_GetArraySize(cJSON_GetObjectItem(o, "changed")));
    cJSON_AddNumberToObject(o, "run_id", (double)run_id);
    cJSON_AddStringToObject(o, "state", run_state_name(state));
    *out = o;
    return 0;
}

/* ---- approval gates ---- */

/* Approve task i: a gate succeeds with who and why as its outputs; a
 * step with a command (approve_before) is queued to run. */
static int approve_task(struct run_ctx *x, size_t i,
                        const struct engine_decision *d, struct weir_err *err)
{
    const struct dag_step *st = &x->dag->steps[x->rt[i].step];
    struct rtask *r = &x->rt[i];
    cJSON *outs;
    char *text;

    if (st->run != NULL) {
        ctx_set_state(x, i, TASK_QUEUED);
        return 0;
    }
    outs = cJSON_CreateObject();
    cJSON_AddStringToObject(outs, "approved_by", d->by);
    if (d->comment != NULL)
        cJSON_AddStringToObject(outs, "comment", d->comment);
    else
        cJSON_AddNullToObject(outs, "comment");
    text = outs ? cJSON_PrintUnformatted(outs) : NULL;
    r->outputs = text ? strdup(text) : NULL;
    cJSON_free(text);
    cJSON_Delete(r->t->outputs);
    /* downstream if: decided in this transaction reads them */
    r->t->outputs = outs;
    if (r->outputs == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    ctx_set_state(x, i, TASK_SUCCESS);
    return ctx_propagate(x, i, err);
}

static int reject_task(struct run_ctx *x, size_t i,
                       const struct engine_decision *d, struct weir_err *err)
{
    char msg[600];

    snprintf(msg, sizeof(msg), "rejected by %s%s%s", d->by,
             d->comment ? ": " : "", d->comment ? d->comment : "");
    x->rt[i].error = strdup(msg);
    if (x->rt[i].error == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    ctx_set_state(x, i, TASK_FAILED);
    return ctx_propagate(x, i, err);
}

static int decide_in_tx(struct engine *e, struct store_conn *c,
                        struct run_ctx *x, const struct engine_decision *d,
                        struct weir_err *err)
{
    bool ended = false;
    size_t s = 0, first;
    int rc = find_step(x, d->step, WEIR_ENOTFOUND, &s, err);

    first = rc == 0 ? x->first[s] : 0;
    if (rc == 0 && x->tasks[first].state != TASK_AWAITING_APPROVAL)
        rc = weir_err_set(err, WEIR_ECONFLICT,
                          "step \"%s\" of run %lld is %s, not "
                          "awaiting_approval",
                          d->step, (long long)x->run.id,
                          task_state_name(x->tasks[first].state));
    if (rc == 0)
        rc = engine_gate_check(c, x, s, d, err);
    for (size_t k = 0; rc == 0 && k < x->cells[s]; k++) {
        if (x->tasks[first + k].state != TASK_AWAITING_APPROVAL)
            continue;
        rc = d->approve ? approve_task(x, first + k, d, err)
                        : reject_task(x, first + k, d, err);
        if (rc == 0)
            rc = store_task_decision(c, x->tasks[first + k].id, d->approve,
                                     d->by, d->comment, err);
    }
    if (rc == 0)
        rc = ctx_flush(c, x, err);
    if (rc == 0)
        rc = ctx_run_maybe_end(c, x, &ended, err);
    if (rc == 0 && ended)
        rc = ctx_start_held_runs(e, c, x, err);
    return rc;
}

int engine_step_decide(struct engine *e, int64_t run_id,
                       const struct engine_decision *d, cJSON **out,
                       struct weir_err *err)
{
    struct store_conn *c = NULL;
    struct run_ctx x;
    cJSON *o = cJSON_CreateObject();
    char task_state[32] = "", run_state[32] = "";
    int rc = tx_open(e, run_id, &c, &x, err);

    if (rc == 0 && o == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    if (rc == 0)
        rc = decide_in_tx(e, c, &x, d, err);
    if (rc == 0) {
        size_t s = 0;
        struct weir_err ignored;

        if (find_step(&x, d->step, WEIR_ENOTFOUND, &s, &ignored) == 0)
            snprintf(task_state, sizeof(task_state), "%s",
                     task_state_name(x.tasks[x.first[s]].state));
        snprintf(run_state, sizeof(run_state), "%s",
                 run_state_name(x.run.state));
    }
    rc = tx_close(e, c, &x, rc, err);
    if (rc < 0) {
        cJSON_Delete(o);
        return rc;
    }
    log_info("event=approval run=%lld step=%s decision=%s by=%s",
             (long long)run_id, d->step, d->approve ? "approved" : "rejected",
             d->by);
    cJSON_AddNumberToObject(o, "run_id", (double)run_id);
    cJSON_AddStringToObject(o, "step", d->step);
    cJSON_AddStringToObject(o, "state", task_state);
    cJSON_AddStringToObject(o, "run_state", run_state);
    *out = o;
    return 0;
}

/* ---- dispatch latency ---- */

static const double dispatch_le[ENGINE_DISPATCH_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,  0.5,    1,     2.5,  5,     10,
};

/* Per-bucket (not cumulative) counts; the last slot is above 10 s. */
static atomic_uint_fast64_t dispatch_count[ENGINE_DISPATCH_BUCKETS + 1];
static atomic_uint_fast64_t dispatch_sum_us; /* microseconds observed */

void engine_dispatch_observe(double seconds)
{
    size_t b = 0;

    if (!(seconds >= 0))
        seconds = 0;
    while (b < ENGINE_DISPATCH_BUCKETS && seconds > dispatch_le[b])
        b++;
    atomic_fetch_add_explicit(&dispatch_count[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&dispatch_sum_us,
                              (uint_fast64_t)(seconds * 1e6 + 0.5),
                              memory_order_relaxed);
}

void engine_dispatch_read(struct engine_dispatch_hist *out)
{
    uint64_t total = 0;

    for (size_t b = 0; b <= ENGINE_DISPATCH_BUCKETS; b++) {
        total += atomic_load_explicit(&dispatch_count[b], memory_order_relaxed);
        if (b < ENGINE_DISPATCH_BUCKETS) {
            out->le[b] = dispatch_le[b];
            out->count[b] = total;
        }
    }
    out->total = total;
    out->sum =
        (double)atomic_load_explicit(&dispatch_sum_us, memory_order_relaxed) /
        1e6;
}
