/* SPDX-License-Identifier: Apache-2.0 */
/* The lease expiry thread: sleep on a monotonic condvar, expire, repeat. */
#include "reaper.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"

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

static void *reaper_main(void *arg)
{
    struct reaper *r = arg;
    int64_t wait = 0;

    while (nap(r, wait)) {
        struct weir_err err = {0};
        int64_t next = -1;
        char q[300];

        if (engine_expire(r->e, &next, &err) != 0) {
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
