/* SPDX-License-Identifier: Apache-2.0 */
/* The work hub: a generation counter, a mutex and a monotonic condvar. */
#include "hub.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct hub {
    pthread_mutex_t mu; /* guards gen and closed */
    pthread_cond_t cv;  /* broadcast on every bump and on close */
    uint64_t gen;       /* bumped by every commit that adds work */
    bool closed;        /* the server is stopping */
};

int64_t hub_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct hub *hub_new(void)
{
    struct hub *h = calloc(1, sizeof(*h));
    pthread_condattr_t attr;

    if (h == NULL)
        return NULL;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &attr);
    pthread_condattr_destroy(&attr);
    return h;
}

void hub_free(struct hub *h)
{
    if (h == NULL)
        return;
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

uint64_t hub_generation(struct hub *h)
{
    uint64_t g;

    pthread_mutex_lock(&h->mu);
    g = h->gen;
    pthread_mutex_unlock(&h->mu);
    return g;
}

void hub_bump(struct hub *h)
{
    pthread_mutex_lock(&h->mu);
    h->gen++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

bool hub_wait(struct hub *h, uint64_t gen, int64_t deadline_ms)
{
    struct timespec ts = {deadline_ms / 1000, (deadline_ms % 1000) * 1000000};
    bool woken;

    pthread_mutex_lock(&h->mu);
    while (h->gen == gen && !h->closed && hub_now_ms() < deadline_ms)
        pthread_cond_timedwait(&h->cv, &h->mu, &ts);
    woken = h->gen != gen || h->closed;
    pthread_mutex_unlock(&h->mu);
    return woken;
}

void hub_close(struct hub *h)
{
    pthread_mutex_lock(&h->mu);
    h->closed = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

bool hub_closed(struct hub *h)
{
    bool c;

    pthread_mutex_lock(&h->mu);
    c = h->closed;
    pthread_mutex_unlock(&h->mu);
    return c;
}
