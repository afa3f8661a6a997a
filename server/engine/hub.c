/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The work hub: a generation counter, a mutex and a monotonic condvar,
 * the hook that carries local bumps to other servers, and when each
 * worker's last-seen time was last written.
 */
#include "engine/hub.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "grow.h"

#define SEEN_MAX 4096 /* workers remembered; past it the table starts over */

/* When a worker's last-seen time was last written to the database. */
struct hub_seen {
    int64_t worker_id; /* the worker */
    int64_t at_ms;     /* hub_now_ms() of that write */
};

struct hub {
    pthread_mutex_t mu;      /* guards gen and closed */
    pthread_cond_t cv;       /* broadcast on every bump and on close */
    uint64_t gen;            /* bumped by every commit that adds work */
    bool closed;             /* the server is stopping */
    hub_bump_fn hook;        /* called by hub_bump(), or NULL; under mu */
    void *hook_arg;          /* the hook's argument */
    pthread_mutex_t seen_mu; /* guards seen, n_seen, cap_seen */
    struct hub_seen *seen;   /* one entry per worker seen, unordered */
    size_t n_seen;           /* entries in seen */
    size_t cap_seen;         /* allocated entries */
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
    pthread_mutex_init(&h->seen_mu, NULL);
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
    pthread_mutex_destroy(&h->seen_mu);
    free(h->seen);
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
    if (h->hook != NULL)
        h->hook(h->hook_arg);
    pthread_mutex_unlock(&h->mu);
}

void hub_set_bump_hook(struct hub *h, hub_bump_fn fn, void *arg)
{
    pthread_mutex_lock(&h->mu);
    h->hook = fn;
    h->hook_arg = arg;
    pthread_mutex_unlock(&h->mu);
}

void hub_bump_remote(struct hub *h)
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

/* The entry of worker_id, or NULL; seen_mu held. */
static struct hub_seen *seen_find(struct hub *h, int64_t worker_id)
{
    for (size_t i = 0; i < h->n_seen; i++)
        if (h->seen[i].worker_id == worker_id)
            return &h->seen[i];
    return NULL;
}

/* A new entry for worker_id, or NULL when out of memory; seen_mu held. */
static struct hub_seen *seen_add(struct hub *h, int64_t worker_id)
{
    if (h->n_seen == SEEN_MAX)
        h->n_seen = 0;
    if (!WEIR_GROW(h->seen, h->cap_seen, h->n_seen + 1, 16, 0))
        return NULL;
    h->seen[h->n_seen].worker_id = worker_id;
    return &h->seen[h->n_seen++];
}

bool hub_worker_seen_due(struct hub *h, int64_t worker_id, int64_t interval_ms)
{
    int64_t now = hub_now_ms();
    struct hub_seen *s;
    bool due = true;

    pthread_mutex_lock(&h->seen_mu);
    s = seen_find(h, worker_id);
    if (s != NULL && now - s->at_ms < interval_ms)
        due = false;
    else if (s == NULL)
        s = seen_add(h, worker_id);
    if (due && s != NULL)
        s->at_ms = now;
    pthread_mutex_unlock(&h->seen_mu);
    return due;
}

void hub_worker_seen_forget(struct hub *h, int64_t worker_id)
{
    struct hub_seen *s;

    pthread_mutex_lock(&h->seen_mu);
    s = seen_find(h, worker_id);
    if (s != NULL)
        *s = h->seen[--h->n_seen];
    pthread_mutex_unlock(&h->seen_mu);
}
