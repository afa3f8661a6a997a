/* SPDX-License-Identifier: Apache-2.0 */
/* Run timeouts and deadlines (see deadline.h for the design). */
#include "engine/deadline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "engine/internal.h"
#include "log.h"
#include "store/deadline.h"
#include "store/store.h"

#define DEADLINE_BATCH   50   /* runs handled per pass */
#define DEADLINE_DAGS    1024 /* DAGs counted in the missed counter */
#define DEADLINE_MSG_MAX 128  /* the error written on a run */

/* ---- the counter of /metrics ---- */

struct missed {
    char dag[STORE_ID_MAX]; /* the DAG id */
    unsigned long long n;   /* deadlines it missed */
};

static pthread_mutex_t missed_mu = PTHREAD_MUTEX_INITIALIZER;
static struct missed missed_v[DEADLINE_DAGS]; /* in order of first miss */
static size_t missed_n;                       /* entries in missed_v */

static void missed_count(const char *dag)
{
    pthread_mutex_lock(&missed_mu);
    for (size_t i = 0; i < missed_n; i++) {
        if (strcmp(missed_v[i].dag, dag) == 0) {
            missed_v[i].n++;
            pthread_mutex_unlock(&missed_mu);
            return;
        }
    }
    if (missed_n < DEADLINE_DAGS) {
        snprintf(missed_v[missed_n].dag, sizeof(missed_v[0].dag), "%s", dag);
        missed_v[missed_n++].n = 1;
    }
    pthread_mutex_unlock(&missed_mu);
}

cJSON *engine_deadline_missed_counts(void)
{
    cJSON *o = cJSON_CreateObject();

    pthread_mutex_lock(&missed_mu);
    for (size_t i = 0; o != NULL && i < missed_n; i++)
        if (cJSON_AddNumberToObject(o, missed_v[i].dag,
                                    (double)missed_v[i].n) == NULL) {
            cJSON_Delete(o);
            o = NULL;
        }
    pthread_mutex_unlock(&missed_mu);
    return o;
}

/* ---- arming a new run ---- */

int engine_deadline_arm(struct store_conn *c, const struct dag *d,
                        int64_t run_id, struct weir_err *err)
{
    const struct dag_deadline *dl = &d->deadline;
    int64_t base = 0, at = 0;
    bool rerun = false;
    int rc = 0;

    if (d->run_timeout_ms == 0 && dl->finish_within_ms == 0 &&
        !dl->has_succeed_by)
        return 0;
    if (dl->finish_within_ms > 0 || dl->has_succeed_by)
        rc = store_deadline_base(c, run_id, &base, &rerun, err);
    if (rc == 0 && dl->finish_within_ms > 0)
        at = base + dl->finish_within_ms;
    /* succeed_by promises a slot's freshness: a past slot run again (a
     * backfill, a manual run with a logical time) cannot keep it. */
    if (rc == 0 && dl->has_succeed_by && !rerun) {
        struct weir_err e2 = {0};
        int64_t s = 0;

        /* "at or after" the base: a base within a second counts from the
         * next whole second. */
        if (dag_succeed_by_at(d->timezone, (base + 999) / 1000,
                              dl->succeed_by_min, &s, &e2) != 0)
            log_warn("event=deadline_zone_failed run=%lld zone=%s msg=\"%s\"",
                     (long long)run_id, d->timezone, e2.msg);
        else if (at == 0 || s * 1000 < at)
            at = s * 1000;
    }
    if (rc == 0)
        rc = store_deadline_set(c, run_id, d->run_timeout_ms, at, err);
    return rc;
}

/* ---- a run timeout ---- */

/* The on_failure hook's task left skipped, because no task of the file
 * failed (every one was canceled), runs all the same: the run failed. */
static void hook_due(struct run_ctx *x)
{
    for (size_t i = 0; i < x->n; i++)
        if (x->rt[i].t != NULL &&
            x->dag->steps[x->rt[i].step].hook == DAG_HOOK_ON_FAILURE &&
            x->rt[i].orig == TASK_PENDING && x->tasks[i].state == TASK_SKIPPED)
            ctx_set_state(x, i, TASK_QUEUED);
}

/* End every unfinished task of the file's steps of x (full context): a
 * running one fails with msg, the others are canceled; then what follows
 * from that (hooks) is decided. */
static int timeout_tasks(struct run_ctx *x, const char *msg,
                         struct weir_err *err)
{
    bool *ended = calloc(x->n + 1, sizeof(*ended));
    int rc = 0;

    if (ended == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    for (size_t i = 0; i < x->n && rc == 0; i++) {
        enum task_state s = x->tasks[i].state;

        if (x->rt[i].t == NULL || /* room for a mapped step's cells */
            task_state_terminal(s) ||
            x->dag->steps[x->rt[i].step].hook != DAG_HOOK_NONE)
            continue;
        free(x->rt[i].error);
        x->rt[i].error = strdup(msg);
        if (x->rt[i].error == NULL)
            rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
        ctx_set_state(x, i, s == TASK_RUNNING ? TASK_FAILED : TASK_CANCELED);
        ended[i] = true;
    }
    for (size_t i = 0; i < x->n && rc == 0; i++)
        if (ended[i])
            rc = ctx_propagate(x, i, err);
    if (rc == 0)
        hook_due(x);
    free(ended);
    return rc;
}

static int timeout_one(struct engine *e, struct store_conn *c, int64_t id,
                       struct weir_err *err)
{
    struct store_deadline_row row;
    char msg[DEADLINE_MSG_MAX], dur[32];
    struct run_ctx x;
    bool ended = false;
    int rc;

    memset(&x, 0, sizeof(x));
    rc = ctx_load_settled(e, c, id, &x, err);
    if (rc == 0)
        rc = store_deadline_row(c, id, &row, err);
    if (rc < 0 || !row.timeout_due)
        goto out;
    snprintf(msg, sizeof(msg), "run timeout %s",
             duration_format(x.dag->run_timeout_ms, dur, sizeof(dur)));
    rc = timeout_tasks(&x, msg, err);
    if (rc == 0)
        rc = ctx_flush(c, &x, err);
    if (rc == 0)
        rc = store_deadline_error(c, id, msg, err);
    if (rc == 0)
        rc = ctx_run_maybe_end(c, &x, &ended, err);
    if (rc == 0 && ended)
        rc = ctx_start_held_runs(e, c, &x, err);
    if (rc == 0)
        log_info("event=run_timeout run=%lld dag=%s msg=\"%s\" ended=%s",
                 (long long)id, x.run.dag_id, msg, ended ? "yes" : "no");
out:
    ctx_cleanup(e, &x);
    return rc;
}

/* ---- a missed deadline ---- */

/* The deadline_missed notification's body. */
static char *missed_body(const struct run_ctx *x, const char *deadline_at,
                         const char *late_at, const char *link_base)
{
    cJSON *o = cJSON_CreateObject();
    char link[600];
    char *text = NULL;

    snprintf(link, sizeof(link), "%s/#/runs/%lld", link_base,
             (long long)x->run.id);
    if (o != NULL && cJSON_AddStringToObject(o, "event", "deadline_missed") &&
        cJSON_AddNumberToObject(o, "run_id", (double)x->run.id) &&
        cJSON_AddStringToObject(o, "dag", x->run.dag_id) &&
        cJSON_AddStringToObject(o, "state", run_state_name(x->run.state)) &&
        cJSON_AddStringToObject(o, "deadline_at", deadline_at) &&
        cJSON_AddStringToObject(o, "late_at", late_at) &&
        cJSON_AddBoolToObject(o, "cancel", x->dag->deadline.cancel) &&
        (link_base[0] == '\0' ? cJSON_AddNullToObject(o, "link")
                              : cJSON_AddStringToObject(o, "link", link)))
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* Cancel x's run (full context) for its missed deadline. */
static int missed_cancel(struct engine *e, struct store_conn *c,
                         struct run_ctx *x, const char *deadline_at,
                         struct weir_err *err)
{
    enum run_state from = x->run.state;
    char msg[DEADLINE_MSG_MAX];
    int rc;

    for (size_t i = 0; i < x->n; i++)
        if (x->rt[i].t != NULL && !task_state_terminal(x->tasks[i].state))
            ctx_set_state(x, i, TASK_CANCELED);
    rc = ctx_flush(c, x, err);
    if (rc == 0)
        rc = store_run_set_state(c, x->run.id, from, RUN_CANCELED, err);
    snprintf(msg, sizeof(msg), "deadline missed: not finished by %s",
             deadline_at);
    if (rc == 0)
        rc = store_deadline_error(c, x->run.id, msg, err);
    if (rc == 0)
        x->run.state = RUN_CANCELED;
    if (rc == 0 && from == RUN_RUNNING)
        rc = ctx_start_held_runs(e, c, x, err);
    return rc;
}

/* Mark run id late if it is due; *marked says so, and dag (STORE_ID_MAX
 * bytes) gets its DAG. */
static int missed_one(struct engine *e, struct store_conn *c, int64_t id,
                      const char *link_base, bool *marked, char *dag,
                      struct weir_err *err)
{
    struct store_deadline_row row;
    char at[40], iso[40];
    struct run_ctx x;
    const char *url;
    char *body = NULL;
    int rc;

    memset(&x, 0, sizeof(x));
    rc = ctx_load_settled(e, c, id, &x, err);
    *marked = false;
    if (rc == 0)
        rc = store_deadline_row(c, id, &row, err);
    if (rc < 0 || !row.deadline_due)
        goto out;
    rc = store_deadline_mark_late(c, id, at, iso, err);
    if (rc == 0 && x.dag->deadline.cancel)
        rc = missed_cancel(e, c, &x, row.deadline_at, err);
    url = x.dag->on_failure.webhook;
    if (rc == 0 && url != NULL) {
        body = missed_body(&x, row.deadline_at, iso, link_base);
        rc = body ? store_notify_enqueue(c, id, at, url, body, err)
                  : weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    *marked = rc == 0;
    snprintf(dag, STORE_ID_MAX, "%s", x.run.dag_id);
    if (rc == 0)
        log_info("event=deadline_missed run=%lld dag=%s deadline_at=%s "
                 "canceled=%s",
                 (long long)id, x.run.dag_id, row.deadline_at,
                 x.dag->deadline.cancel ? "yes" : "no");
out:
    cJSON_free(body);
    ctx_cleanup(e, &x);
    return rc;
}

/* ---- the pass ---- */

/* Handle due run `id` of `kind` in a transaction of its own. */
static int handle_one(struct engine *e, struct store_conn *c, int64_t id,
                      const char *kind, const char *link_base,
                      struct weir_err *err)
{
    bool timeout = strcmp(kind, "timeout") == 0, marked = false;
    char dag[STORE_ID_MAX] = "";
    int rc = store_tx_begin(c, err);

    if (rc == 0 && timeout)
        rc = timeout_one(e, c, id, err);
    else if (rc == 0)
        rc = missed_one(e, c, id, link_base, &marked, dag, err);
    if (rc == 0)
        rc = store_tx_commit(c, err);
    else
        store_tx_rollback(c);
    if (rc == 0)
        hub_bump(e->hub);
    if (rc == 0 && marked)
        missed_count(dag);
    return rc;
}

int engine_deadline_pass(struct engine *e, const char *link_base,
                         int64_t *next_ms, struct weir_err *err)
{
    struct store_conn *c = NULL;
    cJSON *due = NULL;
    const cJSON *d;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = store_deadline_due(c, DEADLINE_BATCH, &due, next_ms, err);
    cJSON_ArrayForEach(d, due)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "id");
        const char *kind =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "kind"));
        struct weir_err e2 = {0};
        char q[300];

        if (rc < 0 || !cJSON_IsNumber(id) || kind == NULL)
            continue;
        if (handle_one(e, c, (int64_t)id->valuedouble, kind, link_base, &e2) <
            0)
            log_warn("event=deadline_run_failed run=%.0f kind=%s msg=%s",
                     id->valuedouble, kind, log_quote(e2.msg, q, sizeof(q)));
    }
    /* Another batch may be waiting: look again soon. */
    if (rc == 0 && cJSON_GetArraySize(due) >= DEADLINE_BATCH)
        *next_ms = 0;
    cJSON_Delete(due);
    store_conn_put(c);
    return rc;
}
