/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The leader election thread (see leader.h for the rules).
 *
 * Design: one bgthread round per CHORE_LEADER_MS. A follower tries the
 * lock and reads the row (who leads, the epoch); a leader pings with the
 * same read. All state is the thread's, except the status that the API
 * reads (under status_mu) and a pending rename (under l->mu). The
 * duties start and stop on this thread, fenced (store_fence_enter()),
 * so that the folder scan of a new leader is a leader write too.
 */
#include "jobs/leader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bgthread.h"
#include "jobs/chores.h"
#include "jobs/scheduler.h"
#include "log.h"
#include "store/leader.h"

struct leader {
    struct leader_config cfg;     /* as given; name points to name */
    char name[LEADER_NAME_MAX];   /* this server's name */
    pthread_mutex_t mu;           /* guards rename */
    char rename[LEADER_NAME_MAX]; /* a new name to apply, or "" */
    struct store_leader *conn;    /* the election session, or NULL */
    bool leading;                 /* duties are up */
    int64_t epoch;                /* the epoch won, when leading */
    int64_t since_ms;             /* when it won (monotonic) */
    int64_t retry_ms;             /* compete again from (monotonic) */
    bool said_down;               /* the database failure was logged */
    struct bgthread *bg;          /* runs leader_round() */
};

static pthread_mutex_t status_mu = PTHREAD_MUTEX_INITIALIZER;
static struct leader_status status; /* what the API reads */

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void status_set(const struct leader *l, const struct store_leader_row *r)
{
    pthread_mutex_lock(&status_mu);
    status.leader = l->leading;
    snprintf(status.name, sizeof(status.name), "%s", l->name);
    if (r != NULL) {
        status.epoch = r->epoch;
        snprintf(status.leader_name, sizeof(status.leader_name), "%s", r->name);
    }
    pthread_mutex_unlock(&status_mu);
}

void leader_status_get(struct leader_status *out)
{
    pthread_mutex_lock(&status_mu);
    *out = status;
    pthread_mutex_unlock(&status_mu);
}

static int64_t backoff_ms(const struct leader *l)
{
    int64_t half = (int64_t)l->cfg.timeout_s * 500;

    return half > CHORE_LEADER_BACKOFF_MS ? half : CHORE_LEADER_BACKOFF_MS;
}

/* Stop leading at once: writes first (the fence), then the duties, then
 * the session (which frees the lock). */
static void step_down(struct leader *l, const char *why)
{
    char q[300];

    store_fence_epoch_set(0);
    l->leading = false;
    status_set(l, NULL);
    log_warn("event=leader_stepped_down name=\"%s\" epoch=%lld led_ms=%lld "
             "why=%s",
             l->name, (long long)l->epoch, (long long)(mono_ms() - l->since_ms),
             log_quote(why, q, sizeof(q)));
    store_fence_enter();
    l->cfg.down(l->cfg.arg);
    store_fence_leave();
    store_leader_close(l->conn);
    l->conn = NULL;
    l->retry_ms = mono_ms() + backoff_ms(l);
}

static void session_lost(struct leader *l, const struct weir_err *err)
{
    char q[300];

    if (!l->said_down)
        log_warn("event=leader_session_failed msg=%s",
                 log_quote(err->msg, q, sizeof(q)));
    l->said_down = true;
    store_leader_close(l->conn);
    l->conn = NULL;
}

/* Apply a pending rename (the listening address became known). */
static void apply_rename(struct leader *l)
{
    char name[LEADER_NAME_MAX], app[64];
    struct weir_err err = {0};

    pthread_mutex_lock(&l->mu);
    snprintf(name, sizeof(name), "%s", l->rename);
    l->rename[0] = '\0';
    pthread_mutex_unlock(&l->mu);
    if (name[0] == '\0')
        return;
    snprintf(l->name, sizeof(l->name), "%s", name);
    snprintf(app, sizeof(app), "weir-leader %.51s", name);
    if (l->conn != NULL &&
        store_leader_rename(l->conn, app, name, l->leading ? l->epoch : 0,
                            &err) < 0)
        log_warn("event=leader_rename_failed name=\"%s\"", name);
    status_set(l, NULL);
}

/* A leader's round: still ours? */
static void leader_check(struct leader *l)
{
    struct store_leader_row row = {0};
    struct weir_err err = {0};
    char why[300];

    if (store_fence_broken()) {
        step_down(l, "a write found a newer leader epoch");
        return;
    }
    if (store_leader_read(l->conn, &row, &err) < 0) {
        snprintf(why, sizeof(why), "session lost: %s", err.msg);
        step_down(l, why);
        return;
    }
    if (row.epoch != l->epoch) {
        snprintf(why, sizeof(why), "epoch is now %lld", (long long)row.epoch);
        step_down(l, why);
        return;
    }
    status_set(l, &row);
}

/* The lock is ours: a new epoch, then the duties. Returns what up said. */
static int take_over(struct leader *l, struct store_leader_row *row,
                     struct weir_err *err)
{
    char q[300];
    int rc;

    if (store_leader_bump(l->conn, l->name, &l->epoch, err) < 0) {
        session_lost(l, err); /* closing frees the lock */
        return 0;
    }
    l->leading = true;
    l->since_ms = mono_ms();
    row->epoch = l->epoch;
    snprintf(row->name, sizeof(row->name), "%s", l->name);
    store_fence_epoch_set(l->epoch);
    status_set(l, row);
    log_info("event=leader_elected name=\"%s\" epoch=%lld", l->name,
             (long long)l->epoch);
    store_fence_enter();
    rc = l->cfg.up(l->cfg.arg, err);
    store_fence_leave();
    if (rc < 0) {
        log_error("event=leader_duties_failed code=%s msg=%s", weir_errname(rc),
                  log_quote(err->msg, q, sizeof(q)));
        step_down(l, "its duties did not start");
    }
    return rc;
}

/* A follower's round: try the lock. Returns what up said on a win. */
static int follower_try(struct leader *l, struct weir_err *err)
{
    struct store_leader_row row = {0};
    char app[64];
    bool won = false;

    if (mono_ms() < l->retry_ms)
        return 0;
    snprintf(app, sizeof(app), "weir-leader %.51s", l->name);
    if (l->conn == NULL && store_leader_open(l->cfg.url, app, l->cfg.timeout_s,
                                             &l->conn, err) < 0) {
        l->conn = NULL;
        session_lost(l, err);
        return 0;
    }
    if (store_leader_try(l->conn, &won, &row, err) < 0) {
        session_lost(l, err);
        return 0;
    }
    if (l->said_down)
        log_info("event=leader_session_back");
    l->said_down = false;
    status_set(l, &row);
    return won ? take_over(l, &row, err) : 0;
}

/* One round; returns what up said when this round won and failed. */
static int round_once(struct leader *l, struct weir_err *err)
{
    apply_rename(l);
    if (l->leading)
        leader_check(l);
    else
        return follower_try(l, err);
    return 0;
}

static int64_t leader_round(void *arg)
{
    struct weir_err err = {0};

    (void)round_once(arg, &err); /* take_over() logged a failure */
    return CHORE_LEADER_MS;
}

static void leader_free(struct leader *l)
{
    pthread_mutex_destroy(&l->mu);
    free(l);
}

int leader_start(const struct leader_config *cfg, struct leader **out,
                 struct weir_err *err)
{
    struct leader *l = calloc(1, sizeof(*l));
    int rc;

    if (l == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    l->cfg = *cfg;
    snprintf(l->name, sizeof(l->name), "%s", cfg->name);
    l->cfg.name = l->name;
    pthread_mutex_init(&l->mu, NULL);
    status_set(l, NULL);
    rc = round_once(l, err);
    if (rc == 0)
        rc = bgthread_start("weir-leader", leader_round, l, &l->bg, err);
    if (rc < 0) {
        if (l->leading)
            step_down(l, "the server did not start");
        store_leader_close(l->conn);
        leader_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

void leader_stop(struct leader *l)
{
    if (l == NULL)
        return;
    bgthread_stop(l->bg);
    if (l->leading)
        step_down(l, "the server stops");
    store_leader_close(l->conn);
    leader_free(l);
}

void leader_rename(struct leader *l, const char *name)
{
    if (l == NULL)
        return;
    pthread_mutex_lock(&l->mu);
    snprintf(l->rename, sizeof(l->rename), "%s", name);
    pthread_mutex_unlock(&l->mu);
    pthread_mutex_lock(&status_mu); /* health says it at once */
    snprintf(status.name, sizeof(status.name), "%s", name);
    pthread_mutex_unlock(&status_mu);
}
