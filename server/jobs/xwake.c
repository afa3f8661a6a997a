/* SPDX-License-Identifier: Apache-2.0 */
/* Wake-ups across servers (see xwake.h). */
#include "jobs/xwake.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "jobs/scheduler.h"
#include "log.h"
#include "store/listen.h"
#include "store/pool.h"

struct xwake {
    struct hub *hub;          /* the local work hub (borrowed) */
    char *url;                /* the database (owned copy) */
    int efd;                  /* eventfd: a local request or the stop */
    atomic_bool wake_pending; /* a local bump waits to be sent */
    pthread_mutex_t mu;       /* guards dag, n_dag and stop */
    char dag[STORE_ID_MAX];   /* the DAG of the pending change */
    unsigned n_dag;           /* pending DAG changes (0: none) */
    bool stop;                /* xwake_stop() was called */
    struct store_listen *ln;  /* the session, NULL while lost (thread's) */
    pthread_t thread;         /* runs xwake_main() */
    int64_t lost_at;          /* hub_now_ms() of the loss, for the log */
    unsigned tries;           /* reconnects tried since the loss */
};

/* ---- what other threads call: never blocking ---- */

static void efd_kick(struct xwake *x)
{
    uint64_t one = 1;

    /* EAGAIN means the counter is already huge: the thread will wake. */
    if (write(x->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn("event=xwake_kick_failed errno=%d", errno);
}

/* The hub's bump hook: under the hub's mutex, so only a flag and, when
 * the flag was clear, one write. */
static void bump_cb(void *arg)
{
    struct xwake *x = arg;

    if (!atomic_exchange(&x->wake_pending, true))
        efd_kick(x);
}

/* The scheduler's change hook. Several changes before the thread sends
 * them become one notification without a DAG id: every receiver reads
 * every DAG anyway. */
static void dag_cb(const char *dag_id, void *arg)
{
    struct xwake *x = arg;
    unsigned n;

    pthread_mutex_lock(&x->mu);
    n = x->n_dag++;
    if (n == 0)
        snprintf(x->dag, sizeof(x->dag), "%s", dag_id ? dag_id : "");
    else if (dag_id == NULL || strcmp(x->dag, dag_id) != 0)
        x->dag[0] = '\0';
    pthread_mutex_unlock(&x->mu);
    if (n == 0)
        efd_kick(x);
}

/* ---- the thread ---- */

static bool stopping(struct xwake *x)
{
    bool s;

    pthread_mutex_lock(&x->mu);
    s = x->stop;
    pthread_mutex_unlock(&x->mu);
    return s;
}

/* Empty the eventfd: what it signalled is in the flags. */
static void efd_drain(struct xwake *x)
{
    uint64_t n;

    if (read(x->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        log_warn("event=xwake_read_failed errno=%d", errno);
}

/*
 * Wait up to timeout_ms (-1: no limit) for the eventfd and, when fd is
 * not -1, for events on fd. Returns the revents of fd (0 when it is not
 * ready), after draining the eventfd when that was ready.
 */
static int wait_on(struct xwake *x, int fd, short events, int timeout_ms)
{
    struct pollfd p[2] = {{x->efd, POLLIN, 0}, {fd, events, 0}};
    int n;

    do
        n = poll(p, fd >= 0 ? 2 : 1, timeout_ms);
    while (n < 0 && errno == EINTR);
    if (n > 0 && (p[0].revents & POLLIN))
        efd_drain(x);
    return fd >= 0 && n > 0 ? (int)p[1].revents : 0;
}

/* One connection attempt, to listening. It blocks while libpq connects
 * (store_listen_open()): a stop meanwhile waits for it. */
static int connect_once(struct xwake *x, struct store_listen **out,
                        struct weir_err *err)
{
    if (stopping(x))
        return weir_err_set(err, WEIR_EUNAVAIL, "stopping");
    return store_listen_open(x->url, XWAKE_APP_NAME, out, err);
}

/* What one read of the session brought. */
struct got {
    bool wake;                 /* another server committed work or a cancel */
    bool dag;                  /* another server changed DAGs */
    char dag_id[STORE_ID_MAX]; /* which, when one; "" for several */
};

static void got_cb(const char *channel, const char *payload, void *arg)
{
    struct got *g = arg;

    if (strcmp(channel, STORE_CHAN_WAKE) == 0) {
        g->wake = true;
    } else if (strcmp(channel, STORE_CHAN_DAG) == 0) {
        if (g->dag && strcmp(g->dag_id, payload) != 0)
            g->dag_id[0] = '\0';
        else if (!g->dag)
            snprintf(g->dag_id, sizeof(g->dag_id), "%s", payload);
        g->dag = true;
    }
}

/* Read the session and act on what other servers said, once per kind. */
static int receive(struct xwake *x, struct weir_err *err)
{
    struct got g = {0};
    int rc = store_listen_read(x->ln, got_cb, &g, err);

    if (g.wake)
        hub_bump_remote(x->hub);
    if (g.dag)
        sched_dag_refresh(g.dag_id[0] ? g.dag_id : NULL);
    if (rc > 0)
        log_debug("event=xwake_received notes=%d wake=%d dag=%d", rc, g.wake,
                  g.dag);
    return rc < 0 ? rc : 0;
}

/* Send what the hooks asked for. Returns how many notifications went
 * out, or WEIR_EUNAVAIL; what was not sent stays pending. */
static int send_pending(struct xwake *x, struct weir_err *err)
{
    char dag[STORE_ID_MAX];
    unsigned n;
    int sent = 0;

    if (atomic_exchange(&x->wake_pending, false)) {
        if (store_listen_notify(x->ln, STORE_CHAN_WAKE, "", err) < 0) {
            atomic_store(&x->wake_pending, true);
            return WEIR_EUNAVAIL;
        }
        sent++;
    }
    pthread_mutex_lock(&x->mu);
    n = x->n_dag;
    x->n_dag = 0;
    memcpy(dag, x->dag, sizeof(dag));
    pthread_mutex_unlock(&x->mu);
    if (n == 0)
        return sent;
    if (store_listen_notify(x->ln, STORE_CHAN_DAG, dag, err) == 0)
        return sent + 1;
    pthread_mutex_lock(&x->mu);
    if (x->n_dag == 0)
        memcpy(x->dag, dag, sizeof(dag));
    else if (strcmp(x->dag, dag) != 0)
        x->dag[0] = '\0';
    x->n_dag += n;
    pthread_mutex_unlock(&x->mu);
    return WEIR_EUNAVAIL;
}

static void lose(struct xwake *x, const struct weir_err *err)
{
    char q[300];

    store_listen_close(x->ln);
    x->ln = NULL;
    x->lost_at = hub_now_ms();
    x->tries = 0;
    log_warn("event=listen_lost msg=%s", log_quote(err->msg, q, sizeof(q)));
}

/* Wait out *backoff (a stop ends the wait), then try once. Listening
 * again, re-check everything: what was sent meanwhile is lost. */
static void reconnect(struct xwake *x, int64_t *backoff)
{
    int64_t until = hub_now_ms() + *backoff, left;
    struct weir_err err = {0};
    char q[300];

    while (!stopping(x) && (left = until - hub_now_ms()) > 0)
        (void)wait_on(x, -1, 0, (int)left);
    if (stopping(x))
        return;
    x->tries++;
    if (connect_once(x, &x->ln, &err) < 0) {
        *backoff = *backoff * 2 > XWAKE_BACKOFF_MAX_MS ? XWAKE_BACKOFF_MAX_MS
                                                       : *backoff * 2;
        log_debug("event=listen_retry tries=%u msg=%s", x->tries,
                  log_quote(err.msg, q, sizeof(q)));
        return;
    }
    *backoff = XWAKE_BACKOFF_MIN_MS;
    log_info("event=listen_restored down_ms=%lld tries=%u pid=%d",
             (long long)(hub_now_ms() - x->lost_at), x->tries,
             store_listen_pid(x->ln));
    hub_bump_remote(x->hub);
    sched_dag_refresh(NULL);
}

static void *xwake_main(void *arg)
{
    struct xwake *x = arg;
    int64_t backoff = XWAKE_BACKOFF_MIN_MS;

    while (!stopping(x)) {
        struct weir_err err = {0};
        int rc;

        if (x->ln == NULL) {
            reconnect(x, &backoff);
            continue;
        }
        /* A send may have brought notifications into libpq's buffer,
         * where poll() cannot see them: read after every send. */
        rc = send_pending(x, &err);
        if (rc > 0)
            rc = receive(x, &err);
        if (rc == 0 && wait_on(x, store_listen_socket(x->ln), POLLIN, -1) != 0)
            rc = receive(x, &err);
        if (rc < 0 && !stopping(x))
            lose(x, &err);
    }
    return NULL;
}

/* ---- start and stop ---- */

static void xwake_free(struct xwake *x)
{
    store_listen_close(x->ln);
    if (x->efd >= 0)
        close(x->efd);
    pthread_mutex_destroy(&x->mu);
    free(x->url);
    free(x);
}

int xwake_start(const char *url, struct hub *hub, struct xwake **out,
                struct weir_err *err)
{
    struct xwake *x = calloc(1, sizeof(*x));
    struct weir_err cerr = {0};
    char q[300];
    int rc;

    if (x == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    pthread_mutex_init(&x->mu, NULL);
    x->hub = hub;
    x->url = strdup(url);
    x->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (x->url == NULL || x->efd < 0) {
        rc = x->url == NULL ? weir_err_set(err, WEIR_ENOMEM, "out of memory")
                            : weir_err_set(err, WEIR_EINTERNAL,
                                           "cannot create an eventfd: %s",
                                           strerror(errno));
        xwake_free(x);
        return rc;
    }
    /* Listening before the API serves, when the database lets us. */
    if (connect_once(x, &x->ln, &cerr) == 0) {
        log_info("event=listen_ready app=%s pid=%d", XWAKE_APP_NAME,
                 store_listen_pid(x->ln));
    } else {
        x->lost_at = hub_now_ms();
        log_warn("event=listen_lost msg=%s", log_quote(cerr.msg, q, sizeof(q)));
    }
    rc = pthread_create(&x->thread, NULL, xwake_main, x);
    if (rc != 0) {
        xwake_free(x);
        return weir_err_set(err, WEIR_EINTERNAL,
                            "cannot start thread weir-xwake: %s", strerror(rc));
    }
    pthread_setname_np(x->thread, "weir-xwake");
    hub_set_bump_hook(hub, bump_cb, x);
    sched_set_change_hook(dag_cb, x);
    *out = x;
    return 0;
}

void xwake_stop(struct xwake *x)
{
    if (x == NULL)
        return;
    sched_set_change_hook(NULL, NULL);
    hub_set_bump_hook(x->hub, NULL, NULL);
    pthread_mutex_lock(&x->mu);
    x->stop = true;
    pthread_mutex_unlock(&x->mu);
    efd_kick(x);
    pthread_join(x->thread, NULL);
    xwake_free(x);
}
