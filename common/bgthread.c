/* SPDX-License-Identifier: Apache-2.0 */
#include "bgthread.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct bgthread {
    int64_t (*round)(void *arg); /* one pass; returns the next wait, ms */
    void *arg;                   /* round's argument */
    pthread_t thread;            /* runs bg_main() */
    pthread_mutex_t mu;          /* guards stop and woken */
    pthread_cond_t cv;           /* on CLOCK_MONOTONIC */
    bool stop;                   /* bgthread_stop() was called */
    bool woken;                  /* bgthread_wake() since the last round */
    char name[16];               /* the thread's name */
};

/* now + ms on the monotonic clock */
static struct timespec deadline_after(int64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static void *bg_main(void *arg)
{
    struct bgthread *t = arg;

    pthread_setname_np(pthread_self(), t->name);
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        int64_t wait;
        struct timespec until;

        t->woken = false;
        pthread_mutex_unlock(&t->mu);
        wait = t->round(t->arg);
        until = deadline_after(wait > 0 ? wait : 0);
        pthread_mutex_lock(&t->mu);
        while (!t->stop && !t->woken &&
               pthread_cond_timedwait(&t->cv, &t->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

int bgthread_start(const char *name, int64_t (*round)(void *arg), void *arg,
                   struct bgthread **out, struct weir_err *err)
{
    struct bgthread *t = calloc(1, sizeof(*t));
    pthread_condattr_t attr;

    if (t == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    t->round = round;
    t->arg = arg;
    snprintf(t->name, sizeof(t->name), "%s", name);
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&t->thread, NULL, bg_main, t) != 0) {
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return weir_err_set(err, WEIR_EINTERNAL, "cannot start the %s thread",
                            name);
    }
    *out = t;
    return 0;
}

void bgthread_wake(struct bgthread *t)
{
    pthread_mutex_lock(&t->mu);
    t->woken = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

void bgthread_stop(struct bgthread *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
