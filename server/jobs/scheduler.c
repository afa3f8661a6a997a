/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scheduler loop (see scheduler.h for the rules).
 *
 * Design: the loop thread owns the table of active DAGs and their cron
 * triggers, the cron timer, the folder watch and the firings in progress.
 * A refresh (after a folder batch, or sched_dag_changed()) reads every
 * DAG's state in the thread pool and hands a new table to the loop, which
 * keeps the next fire time of triggers it already knew (same key, same
 * expression, same zone), so a reload never loses or repeats a slot. A
 * firing waits out its jitter on a timer of its own, then creates its
 * run in the thread pool.
 */
#include "jobs/scheduler.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "cron.h"
#include "engine/audit.h"
#include "engine/cache.h"
#include "engine/events.h"
#include "engine/fire.h"
#include "jobs/chores.h"
#include "jobs/filetrig.h"
#include "jobs/watch.h"
#include "log.h"
#include "store/leader.h"
#include "store/store.h"

#define SCHED_CATCHUP_MAX 1000 /* missed slots one trigger makes up for */
#define SCHED_GROUP_WAYS                                                       \
    4 /* due slots are split into this many                                    \
         transactions, one per pool thread */

/* One cron trigger of an active DAG. */
struct strig {
    char *key;             /* the trigger's key */
    char *expr;            /* its cron text */
    struct cron_expr cron; /* parsed */
    int64_t jitter_ms;     /* random delay up to this */
    bool catchup;          /* a run for every slot missed while down */
    int64_t last_run;      /* slot of its latest run at refresh, 0 if none */
    int64_t next;          /* next slot, Unix seconds; 0 when none */
};

/* An active DAG with cron triggers. */
struct sdag {
    char id[STORE_ID_MAX]; /* the DAG id */
    int64_t version_id;    /* the version the triggers come from */
    struct tz *tz;         /* its zone */
    struct strig *trigs;   /* its cron triggers */
    size_t n;              /* entries in trigs */
};

/* A refresh of the table, read in the thread pool. */
struct refresh {
    uv_work_t req;       /* the work request; data is the refresh */
    struct sched *s;     /* its scheduler */
    struct sdag *dags;   /* the new table */
    size_t n;            /* entries in dags */
    int rc;              /* 0, or why it failed */
    struct weir_err err; /* the failure */
};

/* One slot becoming a run. */
struct fslot {
    char dag_id[STORE_ID_MAX]; /* the DAG */
    char *key;                 /* the trigger's key */
    int64_t slot;              /* Unix seconds */
    char iso[40];              /* the slot in the DAG's zone */
    char *reason;              /* "cron EXPR (SLOT)" */
    char *payload;             /* JSON text */
    int rc;                    /* outcome */
    struct weir_err err;       /* failure */
    int64_t run_id;            /* the run made, 0 when none */
    bool created;              /* false: the slot already had its run */
    int64_t begin_ms;          /* wall clock when its work began */
    int64_t done_ms;           /* wall clock after the commit */
};

/* Slots becoming runs, in order, in one work item: the slots a catch-up
 * makes up for (one trigger, a transaction each), or the due slots of
 * every trigger without jitter (one transaction for all), or the due slot
 * of one trigger with jitter. */
struct firing {
    struct sched *s;     /* its scheduler */
    uv_timer_t jt;       /* waits out the jitter; data is the firing */
    uv_work_t req;       /* creates the runs; data is the firing */
    struct firing *next; /* next firing of the scheduler */
    bool queued;         /* the work is queued or running */
    struct fslot *slots; /* in slot order */
    size_t n;            /* entries in slots */
    size_t cap;          /* allocated entries */
    bool catchup;        /* made up for missed slots */
    int64_t jitter_ms;   /* delay chosen */
};

struct sched {
    struct engine *e;          /* creates runs (borrowed) */
    struct dagdir *dd;         /* the folder (borrowed) */
    char *root;                /* its path */
    bool force_poll;           /* watch by polling */
    uv_loop_t loop;            /* the loop */
    uv_async_t async;          /* wakes the loop: stop or refresh */
    uv_timer_t timer;          /* the earliest slot */
    pthread_t thread;          /* runs the loop */
    pthread_mutex_t mu;        /* guards stop_req and refresh_req */
    bool stop_req;             /* sched_stop() was called */
    bool refresh_req;          /* sched_dag_changed() was called */
    struct watch *watch;       /* the folder watch */
    struct filetrig *files;    /* file triggers */
    struct sdag *dags;         /* active DAGs with cron triggers */
    size_t n_dags;             /* entries in dags */
    bool refreshing;           /* a refresh runs */
    bool refresh_again;        /* another was asked for meanwhile */
    bool stopping;             /* the loop is closing its handles */
    struct firing *firings;    /* firings in progress */
    uv_timer_t prune_timer;    /* starts the event prunes */
    uv_timer_t retry_timer;    /* a failed refresh tried again */
    uv_work_t prune_req;       /* the prune in flight; data is the scheduler */
    bool pruning;              /* prune_req is queued or running */
    int64_t pruned;            /* events the latest prune deleted */
    int prune_rc;              /* its outcome */
    struct weir_err prune_err; /* its failure */
    uint64_t rng;              /* jitter's random state */
    bool caught_up;            /* the first table was merged (catch-up done) */
};

/* The running scheduler, for sched_dag_changed(); and the hook that
 * tells the other servers (sched_set_change_hook()). */
static pthread_mutex_t current_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sched *current;
static sched_change_fn change_hook; /* or NULL; under current_mu */
static void *change_arg;            /* its argument */

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Uniform in [0, max]. */
static int64_t random_upto(struct sched *s, int64_t max)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return max <= 0 ? 0 : (int64_t)(s->rng % (uint64_t)(max + 1));
}

static void sdags_free(struct sdag *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++) {
        for (size_t k = 0; k < v[i].n; k++) {
            free(v[i].trigs[k].key);
            free(v[i].trigs[k].expr);
        }
        free(v[i].trigs);
        tz_free(v[i].tz);
    }
    free(v);
}

/* ---- refresh (thread pool, then loop) ---- */

/* The cron triggers of version row->version_id into *out; out->n stays 0
 * when it has none or they cannot be had (logged). */
static int sdag_build(struct sched *s, struct store_conn *c,
                      const struct store_sched_dag *row, struct sdag *out)
{
    const struct dag *d = engine_dag(s->e->cache, c, row->version_id);
    struct weir_err err = {0};
    size_t cnt = 0;
    int rc = 0;

    memcpy(out->id, row->id, sizeof(out->id));
    out->version_id = row->version_id;
    for (size_t i = 0; d != NULL && i < d->n_triggers; i++)
        cnt += d->triggers[i].kind == DAG_TRIG_CRON;
    if (cnt > 0 && tz_load(d->timezone, &out->tz, &err) != 0) {
        log_warn("event=tz_unavailable dag=%s tz=%s", d->id, d->timezone);
        cnt = 0;
    }
    if (cnt > 0 && (out->trigs = calloc(cnt, sizeof(*out->trigs))) == NULL)
        rc = WEIR_ENOMEM;
    else
        out->n = cnt;
    for (size_t i = 0, k = 0; rc == 0 && k < cnt; i++) {
        const struct dag_trigger *t = &d->triggers[i];
        struct strig *st = &out->trigs[k];

        if (t->kind != DAG_TRIG_CRON)
            continue;
        st->key = strdup(t->key);
        st->expr = strdup(t->target);
        st->cron = t->cron;
        st->jitter_ms = t->jitter_ms;
        st->catchup = t->catchup;
        k++;
        if (st->key == NULL || st->expr == NULL)
            rc = WEIR_ENOMEM;
        else if (store_sched_last_slot(c, d->id, st->key, &st->last_run,
                                       &err) != 0)
            log_warn("event=cron_last_slot_unknown dag=%s trigger=\"%s\" "
                     "msg=\"%s\"",
                     d->id, st->key, err.msg);
    }
    dagcache_release(s->e->cache, d);
    return rc;
}

static void refresh_work_cb(uv_work_t *req)
{
    struct refresh *r = req->data;
    struct store_conn *c = NULL;
    struct store_sched_dag *rows = NULL;
    size_t n = 0;

    r->rc = store_conn_get(r->s->e->store, &c, &r->err);
    if (r->rc == 0)
        r->rc = store_sched_dags(c, &rows, &n, &r->err);
    if (r->rc == 0 && (r->dags = calloc(n ? n : 1, sizeof(*r->dags))) == NULL)
        r->rc = weir_err_set(&r->err, WEIR_ENOMEM, "out of memory");
    for (size_t i = 0; r->rc == 0 && i < n; i++) {
        if (rows[i].paused || rows[i].missing)
            continue;
        struct sdag *d = &r->dags[r->n];

        r->rc = sdag_build(r->s, c, &rows[i], d);
        if (r->rc == 0 && d->n == 0) {
            tz_free(d->tz);
            memset(d, 0, sizeof(*d));
            continue;
        }
        r->n++;
        if (r->rc != 0)
            weir_err_set(&r->err, r->rc, "out of memory");
    }
    store_conn_put(c);
    free(rows);
}

static const struct strig *old_trig(const struct sched *s, const char *id,
                                    const char *zone, const struct strig *t)
{
    for (size_t i = 0; i < s->n_dags; i++) {
        const struct sdag *d = &s->dags[i];

        if (strcmp(d->id, id) != 0 || strcmp(tz_name(d->tz), zone) != 0)
            continue;
        for (size_t k = 0; k < d->n; k++)
            if (strcmp(d->trigs[k].key, t->key) == 0 &&
                strcmp(d->trigs[k].expr, t->expr) == 0)
                return &d->trigs[k];
    }
    return NULL;
}

static void catch_up(struct sched *s, const struct sdag *d,
                     const struct strig *t, int64_t now);

/* Next fire times of the new table: kept for known triggers, else the
 * first slot from the current second on. */
static void table_merge(struct sched *s, struct sdag *v, size_t n)
{
    int64_t after = wall_ms() / 1000 - 1;

    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < v[i].n; k++) {
            struct strig *t = &v[i].trigs[k];
            const struct strig *o = old_trig(s, v[i].id, tz_name(v[i].tz), t);
            char buf[40];

            if (o != NULL) {
                t->next = o->next;
                continue;
            }
            if (cron_next(&t->cron, v[i].tz, after, &t->next) != 0)
                t->next = 0;
            /* A slot due this very second joins the missed ones, in their
             * one firing: armed apart, its own firing could make its run
             * before theirs (the two run on the thread pool at once). */
            if (!s->caught_up && t->last_run != 0) {
                catch_up(s, &v[i], t, after + 2);
                if (t->next != 0 && t->next <= after + 1 &&
                    cron_next(&t->cron, v[i].tz, after + 1, &t->next) != 0)
                    t->next = 0;
            }
            log_info("event=cron_armed dag=%s trigger=\"%s\" next=%s", v[i].id,
                     t->key,
                     t->next
                         ? cron_format_time(t->next, v[i].tz, buf, sizeof(buf))
                         : "never");
        }
    }
    s->caught_up = true;
    sdags_free(s->dags, s->n_dags);
    s->dags = v;
    s->n_dags = n;
}

static void arm(struct sched *s);
static void refresh_start(struct sched *s);

static void retry_timer_cb(uv_timer_t *t)
{
    refresh_start(t->data);
}

static void refresh_after_cb(uv_work_t *req, int status)
{
    struct refresh *r = req->data;
    struct sched *s = r->s;
    char q[300];

    (void)status;
    s->refreshing = false;
    if (!s->stopping && r->rc == 0) {
        table_merge(s, r->dags, r->n);
        r->dags = NULL;
        arm(s);
        filetrig_kick(s->files);
    } else if (!s->stopping) {
        log_warn("event=sched_refresh_failed code=%s msg=%s retry_ms=%d",
                 weir_errname(r->rc), log_quote(r->err.msg, q, sizeof(q)),
                 CHORE_SCHED_RETRY_MS);
        /* Tried again after a pause, not at once: a database that fails
         * fast would make that a loop. The retry reads every DAG, so it
         * also covers changes asked for meanwhile. */
        s->refresh_again = false;
        uv_timer_start(&s->retry_timer, retry_timer_cb, CHORE_SCHED_RETRY_MS,
                       0);
    }
    sdags_free(r->dags, r->n);
    free(r);
    if (!s->stopping && s->refresh_again)
        refresh_start(s);
}

static void refresh_start(struct sched *s)
{
    struct refresh *r;

    if (s->stopping)
        return;
    if (s->refreshing) {
        s->refresh_again = true;
        return;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        log_error("event=sched_refresh_failed msg=\"out of memory\"");
        return;
    }
    r->s = s;
    r->req.data = r;
    s->refresh_again = false;
    if (uv_queue_work(&s->loop, &r->req, refresh_work_cb, refresh_after_cb)) {
        free(r);
        return;
    }
    s->refreshing = true;
}

static void folder_changed_cb(void *arg)
{
    refresh_start(arg);
}

/* ---- firings ---- */

static void firing_free(struct firing *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->slots[i].key);
        free(f->slots[i].reason);
        cJSON_free(f->slots[i].payload);
    }
    free(f->slots);
    free(f);
}

static void firing_close_cb(uv_handle_t *h)
{
    struct firing *f = h->data;
    struct firing **pp = &f->s->firings;

    while (*pp != NULL && *pp != f)
        pp = &(*pp)->next;
    if (*pp == f)
        *pp = f->next;
    firing_free(f);
}

/* Every slot of f in one transaction, so that the slots of many DAGs due
 * at one second share one commit. On failure nothing is kept. */
static int firing_group(struct firing *f, struct weir_err *err)
{
    struct engine *e = f->s->e;
    struct store_conn *c = NULL;
    struct fire_result *res = calloc(f->n, sizeof(*res));
    int64_t begin = wall_ms(), done;
    bool bump = false;
    int rc = res != NULL ? store_conn_get(e->store, &c, err)
                         : weir_err_set(err, WEIR_ENOMEM, "out of memory");

    if (rc == 0)
        rc = store_tx_begin(c, err);
    for (size_t i = 0; rc == 0 && i < f->n; i++) {
        const struct fslot *fs = &f->slots[i];
        struct engine_slot slot = {fs->dag_id,  fs->key, fs->slot, fs->reason,
                                   fs->payload, NULL,    NULL};

        rc = engine_fire_in_tx(e, c, &slot, &res[i], err);
    }
    if (rc == 0)
        rc = store_tx_commit(c, err);
    store_conn_put(c); /* rolls back a transaction left open */
    done = wall_ms();
    for (size_t i = 0; rc == 0 && i < f->n; i++) {
        struct fslot *fs = &f->slots[i];

        fs->created = res[i].outcome == FIRE_CREATED;
        fs->run_id = fs->created ? res[i].run_id : 0;
        fs->begin_ms = begin;
        fs->done_ms = done;
        bump = bump || fs->created;
    }
    if (bump)
        hub_bump(e->hub);
    free(res);
    return rc;
}

static void firing_make(struct firing *f)
{
    struct weir_err err = {0};
    char q[300];

    if (!f->catchup && f->n > 1) {
        if (firing_group(f, &err) == 0)
            return;
        /* One slot's failure must not cost the others their runs. */
        log_warn("event=cron_group_failed slots=%zu msg=%s", f->n,
                 log_quote(err.msg, q, sizeof(q)));
    }
    for (size_t i = 0; i < f->n; i++) {
        struct fslot *fs = &f->slots[i];
        struct engine_slot slot = {fs->dag_id,  fs->key, fs->slot, fs->reason,
                                   fs->payload, NULL,    NULL};

        fs->begin_ms = wall_ms();
        fs->rc = engine_run_create_slot(f->s->e, &slot, &fs->run_id,
                                        &fs->created, &fs->err);
        fs->done_ms = wall_ms();
    }
}

static void firing_work_cb(uv_work_t *req)
{
    store_fence_enter(); /* a leader's writes (store/leader.h) */
    firing_make(req->data);
    store_fence_leave();
}

static void firing_after_cb(uv_work_t *req, int status)
{
    struct firing *f = req->data;
    char q[300];

    (void)status;
    for (size_t i = 0; i < f->n; i++) {
        const struct fslot *fs = &f->slots[i];

        if (fs->rc == 0)
            log_info("event=cron_fired dag=%s trigger=\"%s\" slot=%s "
                     "late_ms=%lld begin_late_ms=%lld jitter_ms=%lld run=%lld "
                     "created=%s catchup=%s group=%zu",
                     fs->dag_id, fs->key, fs->iso,
                     (long long)(fs->done_ms - fs->slot * 1000),
                     (long long)(fs->begin_ms - fs->slot * 1000),
                     (long long)f->jitter_ms, (long long)fs->run_id,
                     fs->created ? "yes" : "no", f->catchup ? "yes" : "no",
                     f->n);
        else
            log_warn("event=cron_fire_failed dag=%s trigger=\"%s\" slot=%s "
                     "code=%s msg=%s",
                     fs->dag_id, fs->key, fs->iso, weir_errname(fs->rc),
                     log_quote(fs->err.msg, q, sizeof(q)));
    }
    uv_close((uv_handle_t *)&f->jt, firing_close_cb);
}

static void jitter_cb(uv_timer_t *t)
{
    struct firing *f = t->data;

    uv_timer_stop(t);
    f->queued = true;
    f->req.data = f;
    if (uv_queue_work(&f->s->loop, &f->req, firing_work_cb, firing_after_cb)) {
        log_error("event=cron_fire_failed dag=%s msg=\"cannot queue\"",
                  f->slots[0].dag_id);
        uv_close((uv_handle_t *)&f->jt, firing_close_cb);
    }
}

/* A payload saying why: {"cron", "timezone", "slot"}; NULL if no memory. */
static char *slot_payload(const struct sdag *d, const struct strig *t,
                          const char *iso, bool catchup)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;

    if (o != NULL && cJSON_AddStringToObject(o, "cron", t->expr) &&
        cJSON_AddStringToObject(o, "timezone", tz_name(d->tz)) &&
        cJSON_AddStringToObject(o, "slot", iso) &&
        cJSON_AddBoolToObject(o, "catchup", catchup))
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* A firing with room for cap slots; NULL if no memory. */
static struct firing *firing_new(struct sched *s, size_t cap, bool catchup)
{
    struct firing *f = calloc(1, sizeof(*f));

    if (f != NULL && (f->slots = calloc(cap, sizeof(*f->slots))) == NULL) {
        free(f);
        f = NULL;
    }
    if (f != NULL) {
        f->s = s;
        f->cap = cap;
        f->catchup = catchup;
    }
    return f;
}

/* Add slot `slot` of trigger t of DAG d to f (which has room); false when
 * memory ran out. */
static bool firing_add(struct firing *f, const struct sdag *d,
                       const struct strig *t, int64_t slot)
{
    struct fslot *fs = &f->slots[f->n++];

    memcpy(fs->dag_id, d->id, sizeof(fs->dag_id));
    fs->slot = slot;
    cron_format_time(slot, d->tz, fs->iso, sizeof(fs->iso));
    fs->key = strdup(t->key);
    fs->payload = slot_payload(d, t, fs->iso, f->catchup);
    if (fs->key == NULL || fs->payload == NULL ||
        asprintf(&fs->reason, "cron %s (%s)%s", t->expr, fs->iso,
                 f->catchup ? ", caught up" : "") < 0) {
        fs->reason = NULL;
        return false;
    }
    return true;
}

/* Start f after jitter_ms; f belongs to the scheduler from now on. */
static void firing_start(struct sched *s, struct firing *f, int64_t jitter_ms)
{
    f->jitter_ms = jitter_ms;
    uv_timer_init(&s->loop, &f->jt);
    f->jt.data = f;
    f->next = s->firings;
    s->firings = f;
    uv_timer_start(&f->jt, jitter_cb, (uint64_t)jitter_ms, 0);
}

/* Start making the runs of slots[0..n) of trigger t of DAG d, in order,
 * after its jitter. */
static void fire(struct sched *s, const struct sdag *d, const struct strig *t,
                 const int64_t *slots, size_t n, bool catchup)
{
    struct firing *f = n > 0 ? firing_new(s, n, catchup) : NULL;
    bool ok = f != NULL;

    for (size_t i = 0; ok && i < n; i++)
        ok = firing_add(f, d, t, slots[i]);
    if (!ok) {
        log_error("event=cron_fire_failed dag=%s msg=\"out of memory\"", d->id);
        if (f != NULL)
            firing_free(f);
        return;
    }
    firing_start(s, f, random_upto(s, t->jitter_ms));
}

/* Slots of t missed while the server was down (after its latest run, up
 * to now): every one with catchup (at most SCHED_CATCHUP_MAX, the latest),
 * else only the latest. */
static void catch_up(struct sched *s, const struct sdag *d,
                     const struct strig *t, int64_t now)
{
    int64_t *slots = NULL, at = t->last_run, next = 0;
    size_t n = 0, skipped = 0;

    if (t->last_run == 0 ||
        (slots = calloc(SCHED_CATCHUP_MAX, sizeof(*slots))) == NULL)
        return;
    while (cron_next(&t->cron, d->tz, at, &next) == 0 && next < now) {
        if (n == SCHED_CATCHUP_MAX) {
            memmove(slots, slots + 1, (n - 1) * sizeof(*slots));
            n--;
            skipped++;
        }
        slots[n++] = at = next;
    }
    if (n > 0 && !t->catchup) {
        skipped += n - 1;
        slots[0] = slots[n - 1];
        n = 1;
    }
    if (n > 0)
        log_info("event=cron_catchup dag=%s trigger=\"%s\" slots=%zu "
                 "skipped=%zu",
                 d->id, t->key, n, skipped);
    if (n > 0)
        fire(s, d, t, slots, n, true);
    free(slots);
}

/* Add the due slot of t (no jitter) to *group, made with room for cap,
 * starting the group when it is full. */
static void group_add(struct sched *s, struct firing **group, size_t cap,
                      const struct sdag *d, const struct strig *t)
{
    if (*group == NULL && (*group = firing_new(s, cap, false)) == NULL) {
        log_error("event=cron_fire_failed dag=%s msg=\"out of memory\"", d->id);
        return;
    }
    if (!firing_add(*group, d, t, t->next)) {
        log_error("event=cron_fire_failed dag=%s msg=\"out of memory\"", d->id);
        firing_free(*group);
        *group = NULL;
        return;
    }
    if ((*group)->n == (*group)->cap) {
        firing_start(s, *group, 0);
        *group = NULL;
    }
}

/* Due slots of triggers without jitter at now (ms). */
static size_t due_count(const struct sched *s, int64_t now)
{
    size_t n = 0;

    for (size_t i = 0; i < s->n_dags; i++)
        for (size_t k = 0; k < s->dags[i].n; k++) {
            const struct strig *t = &s->dags[i].trigs[k];

            n += t->next != 0 && t->next * 1000 <= now && t->jitter_ms == 0;
        }
    return n;
}

/* Due slots: those of triggers without jitter are split into up to
 * SCHED_GROUP_WAYS transactions that run side by side (in the table's
 * order, which is the DAG ids', so two groups never lock DAGs in
 * opposite orders); each with jitter has its own. Fewer commits, and
 * still every pool thread at work. */
static void timer_cb(uv_timer_t *timer)
{
    struct sched *s = timer->data;
    struct firing *group = NULL;
    int64_t now = wall_ms();
    size_t cap = (due_count(s, now) + SCHED_GROUP_WAYS - 1) / SCHED_GROUP_WAYS;

    for (size_t i = 0; i < s->n_dags; i++) {
        struct sdag *d = &s->dags[i];

        for (size_t k = 0; k < d->n; k++) {
            struct strig *t = &d->trigs[k];
            int64_t from = t->next;

            if (t->next == 0 || t->next * 1000 > now)
                continue;
            if (t->jitter_ms > 0)
                fire(s, d, t, &t->next, 1, false);
            else
                group_add(s, &group, cap, d, t);
            if (from < now / 1000 - 1)
                from = now / 1000 - 1; /* fell behind: skip to the present */
            if (cron_next(&t->cron, d->tz, from, &t->next) != 0)
                t->next = 0;
        }
    }
    if (group != NULL)
        firing_start(s, group, 0);
    arm(s);
}

/* Arm the timer for the earliest next slot. */
static void arm(struct sched *s)
{
    int64_t first = 0, now = wall_ms(), delay;

    if (s->stopping)
        return;
    for (size_t i = 0; i < s->n_dags; i++)
        for (size_t k = 0; k < s->dags[i].n; k++) {
            int64_t n = s->dags[i].trigs[k].next;

            if (n != 0 && (first == 0 || n < first))
                first = n;
        }
    if (first == 0) {
        uv_timer_stop(&s->timer);
        return;
    }
    delay = first * 1000 > now ? first * 1000 - now : 0;
    /* libuv's timers run on the monotonic clock, slots on the wall clock,
     * which may be slewed against it (NTP): wake up a second early and
     * arm again from the wall clock, so the last stretch is short. */
    if (delay > 2 * CHORE_CRON_EARLY_MS)
        delay -= CHORE_CRON_EARLY_MS;
    uv_timer_start(&s->timer, timer_cb, (uint64_t)delay, 0);
}

/* ---- event retention ---- */

static void prune_work_cb(uv_work_t *req)
{
    struct sched *s = req->data;

    s->pruned = 0;
    store_fence_enter();
    s->prune_rc = events_prune(s->e->store, &s->pruned, &s->prune_err);
    if (s->prune_rc == 0)
        cache_prune_logged(s->e->store);
    engine_audit_prune_logged(s->e->store); /* audit retention */
    store_fence_leave();
}

static void prune_after_cb(uv_work_t *req, int status)
{
    struct sched *s = req->data;
    char q[300];

    (void)status;
    s->pruning = false;
    if (s->prune_rc < 0)
        log_warn("event=events_prune_failed code=%s msg=%s",
                 weir_errname(s->prune_rc),
                 log_quote(s->prune_err.msg, q, sizeof(q)));
    else if (s->pruned > 0)
        log_info("event=events_pruned deleted=%lld", (long long)s->pruned);
}

static void prune_timer_cb(uv_timer_t *t)
{
    struct sched *s = t->data;

    if (s->pruning || s->stopping)
        return;
    s->prune_req.data = s;
    if (uv_queue_work(&s->loop, &s->prune_req, prune_work_cb, prune_after_cb) ==
        0)
        s->pruning = true;
}

/* ---- the loop ---- */

static void stop_in_loop(struct sched *s)
{
    s->stopping = true;
    uv_close((uv_handle_t *)&s->async, NULL);
    uv_close((uv_handle_t *)&s->timer, NULL);
    uv_close((uv_handle_t *)&s->prune_timer, NULL);
    uv_close((uv_handle_t *)&s->retry_timer, NULL);
    watch_close(s->watch);
    s->watch = NULL;
    filetrig_close(s->files);
    s->files = NULL;
    for (struct firing *f = s->firings; f != NULL; f = f->next)
        if (!f->queued)
            uv_close((uv_handle_t *)&f->jt, firing_close_cb);
}

static void async_cb(uv_async_t *a)
{
    struct sched *s = a->data;
    bool stop, refresh;

    pthread_mutex_lock(&s->mu);
    stop = s->stop_req;
    refresh = s->refresh_req;
    s->refresh_req = false;
    pthread_mutex_unlock(&s->mu);
    if (stop && !s->stopping)
        stop_in_loop(s);
    else if (refresh)
        refresh_start(s);
}

static void *sched_main(void *arg)
{
    struct sched *s = arg;

    uv_run(&s->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void sched_free(struct sched *s)
{
    sdags_free(s->dags, s->n_dags);
    pthread_mutex_destroy(&s->mu);
    free(s->root);
    free(s);
}

int sched_start(struct engine *e, struct dagdir *dd, const char *root,
                bool force_poll, struct sched **out, struct weir_err *err)
{
    struct sched *s = calloc(1, sizeof(*s));
    int rc;

    if (s == NULL || (root != NULL && (s->root = strdup(root)) == NULL)) {
        free(s);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    s->e = e;
    s->dd = dd;
    s->force_poll = force_poll;
    s->rng = (uint64_t)wall_ms() * 2654435761u ^ (uint64_t)getpid() ^ 1;
    pthread_mutex_init(&s->mu, NULL);
    if (uv_loop_init(&s->loop) != 0) {
        sched_free(s);
        return weir_err_set(err, WEIR_EINTERNAL, "cannot start a libuv loop");
    }
    uv_async_init(&s->loop, &s->async, async_cb);
    s->async.data = s;
    uv_timer_init(&s->loop, &s->timer);
    s->timer.data = s;
    uv_timer_init(&s->loop, &s->prune_timer);
    s->prune_timer.data = s;
    uv_timer_init(&s->loop, &s->retry_timer);
    s->retry_timer.data = s;
    uv_timer_start(&s->prune_timer, prune_timer_cb, CHORE_EVENTS_PRUNE_FIRST_MS,
                   CHORE_EVENTS_PRUNE_EVERY_MS);
    rc = root == NULL ? 0 /* no folder: DAGs from the database only */
                      : watch_start(&s->loop, dd, e->store, root, force_poll,
                                    folder_changed_cb, s, &s->watch, err);
    if (rc == 0 && root != NULL)
        rc = filetrig_start(&s->loop, e, root, &s->files, err);
    if (rc == 0) {
        /* Known before the first read of the DAGs: a change notified from
         * now on asks for another read, so none falls between the read
         * and this (a new leader's scheduler starts while others work). */
        pthread_mutex_lock(&current_mu);
        current = s;
        pthread_mutex_unlock(&current_mu);
        refresh_start(s);
    }
    if (rc == 0 && pthread_create(&s->thread, NULL, sched_main, s) != 0)
        rc = weir_err_set(err, WEIR_EINTERNAL,
                          "cannot start the scheduler thread");
    if (rc < 0) {
        pthread_mutex_lock(&current_mu);
        if (current == s)
            current = NULL;
        pthread_mutex_unlock(&current_mu);
        stop_in_loop(s);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        sched_free(s);
        return rc;
    }
    log_info("event=sched_started dir=%s watch=%s", root ? root : "-",
             root == NULL ? "none"
             : force_poll ? "poll"
                          : "inotify");
    *out = s;
    return 0;
}

void sched_stop(struct sched *s)
{
    int rc;

    if (s == NULL)
        return;
    pthread_mutex_lock(&current_mu);
    current = NULL;
    pthread_mutex_unlock(&current_mu);
    pthread_mutex_lock(&s->mu);
    s->stop_req = true;
    pthread_mutex_unlock(&s->mu);
    uv_async_send(&s->async);
    pthread_join(s->thread, NULL);
    rc = uv_loop_close(&s->loop);
    if (rc != 0)
        log_error("event=sched_loop_close_failed err=%s", uv_strerror(rc));
    sched_free(s);
}

void sched_set_change_hook(sched_change_fn fn, void *arg)
{
    pthread_mutex_lock(&current_mu);
    change_hook = fn;
    change_arg = arg;
    pthread_mutex_unlock(&current_mu);
}

void sched_dag_changed(const char *dag_id)
{
    pthread_mutex_lock(&current_mu);
    if (change_hook != NULL)
        change_hook(dag_id, change_arg);
    pthread_mutex_unlock(&current_mu);
    sched_dag_refresh(dag_id);
}

void sched_dag_refresh(const char *dag_id)
{
    pthread_mutex_lock(&current_mu);
    if (current != NULL) {
        pthread_mutex_lock(&current->mu);
        current->refresh_req = true;
        pthread_mutex_unlock(&current->mu);
        uv_async_send(&current->async);
        log_info("event=sched_dag_changed dag=%s", dag_id ? dag_id : "-");
    }
    pthread_mutex_unlock(&current_mu);
}
