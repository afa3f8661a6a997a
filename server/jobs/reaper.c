/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lease expiry thread: sleep on a monotonic condvar, expire, repeat.
 *
 * While the server or the database is down, workers cannot heartbeat, so
 * a lease that ran out then says nothing about its worker. At the start,
 * and after the store saw the database gone, every running attempt first
 * gets one more lease TTL; only then are deadlines enforced again.
 */
#include "jobs/reaper.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "store/store.h"

#define RETRY_MS 1000 /* pause after a database failure */

struct reaper {
    struct engine *e;   /* what it expires attempts of */
    pthread_t thread;   /* the thread */
    pthread_mutex_t mu; /* guards stop */
    pthread_cond_t cv;  /* signalled by reaper_stop() */
    bool stop;          /* the thread must end */
};

/* Sleep ms or until stopped; false once stopped. */
static bool nap(struct reaper *r, int64_t ms)
{
    int64_t until = hub_now_ms() + ms;
    struct timespec ts = {until / 1000, (until % 1000) * 1000000};
    bool go;

    pthread_mutex_lock(&r->mu);
    while (!r->stop && hub_now_ms() < until)
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    go = !r->stop;
    pthread_mutex_unlock(&r->mu);
    return go;
}

/* Extend every running lease by one TTL. */
static int grace(struct reaper *r, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc = store_conn_get(r->e->store, &c, err);

    if (rc == 0)
        rc = store_leases_extend(c, r->e->lease_ttl_ms, err);
    store_conn_put(c);
    if (rc == 0)
        log_info("event=lease_grace ttl_ms=%lld",
                 (long long)r->e->lease_ttl_ms);
    return rc;
}

static void *reaper_main(void *arg)
{
    struct reaper *r = arg;
    int64_t wait = 0;
    unsigned outages = store_outages(r->e->store);
    bool owed = true; /* a grace is due: the server was down until now */

    while (nap(r, wait)) {
        struct weir_err err = {0};
        int64_t next = -1;
        unsigned seen = store_outages(r->e->store);
        char q[300];

        if (seen != outages) {
            outages = seen;
            owed = true;
        }
        if (owed && grace(r, &err) == 0)
            owed = false;
        if (owed || engine_expire(r->e, &next, &err) != 0) {
            log_warn("event=lease_expiry_failed msg=%s",
                     log_quote(err.msg, q, sizeof(q)));
            wait = RETRY_MS;
            continue;
        }
        wait =
            next < 0 || next > r->e->lease_ttl_ms ? r->e->lease_ttl_ms : next;
        /* Deadlines are compared in the database: let one pass. */
        wait += 5;
    }
    return NULL;
}

int reaper_start(struct engine *e, struct reaper **out, struct weir_err *err)
{
    struct reaper *r = calloc(1, sizeof(*r));
    pthread_condattr_t attr;

    if (r == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    r->e = e;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&r->thread, NULL, reaper_main, r) != 0) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return weir_err_set(err, WEIR_EINTERNAL,
                            "cannot start the lease expiry thread");
    }
    *out = r;
    return 0;
}

void reaper_stop(struct reaper *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
