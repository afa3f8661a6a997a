/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DAG version cache: a small array searched linearly under a mutex
 * (a server has tens to hundreds of live versions). Past DAGCACHE_MAX
 * entries, the least recently used one that nobody borrows is dropped.
 */
#include "engine/dagcache.h"

#include <pthread.h>
#include <stdlib.h>

#include "grow.h"

#define DAGCACHE_MAX 512 /* entries kept before evicting unused ones */

struct entry {
    int64_t version_id; /* key */
    struct dag *dag;    /* the loaded version (owned) */
    int refs;           /* borrowers now */
    uint64_t used;      /* tick of the last acquire, for eviction */
};

struct dagcache {
    pthread_mutex_t mu; /* guards everything below */
    struct entry *v;    /* entries */
    size_t n;           /* used entries */
    size_t cap;         /* allocated entries */
    uint64_t tick;      /* counts acquires */
};

struct dagcache *dagcache_new(void)
{
    struct dagcache *c = calloc(1, sizeof(*c));

    if (c != NULL)
        pthread_mutex_init(&c->mu, NULL);
    return c;
}

void dagcache_free(struct dagcache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        WEIR_ASSERT(c->v[i].refs == 0);
        dag_free(c->v[i].dag);
    }
    free(c->v);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static struct entry *find(struct dagcache *c, int64_t version_id)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].version_id == version_id)
            return &c->v[i];
    return NULL;
}

const struct dag *dagcache_acquire(struct dagcache *c, int64_t version_id)
{
    struct entry *e;
    const struct dag *d = NULL;

    pthread_mutex_lock(&c->mu);
    e = find(c, version_id);
    if (e != NULL) {
        e->refs++;
        e->used = ++c->tick;
        d = e->dag;
    }
    pthread_mutex_unlock(&c->mu);
    return d;
}

/* Drop the least recently used entry nobody borrows, if any. */
static void evict_one(struct dagcache *c)
{
    size_t victim = c->n;

    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].refs == 0 &&
            (victim == c->n || c->v[i].used < c->v[victim].used))
            victim = i;
    if (victim == c->n)
        return;
    dag_free(c->v[victim].dag);
    c->v[victim] = c->v[--c->n];
}

static bool grow(struct dagcache *c)
{
    return WEIR_GROW(c->v, c->cap, c->n + 1, 16, 0);
}

const struct dag *dagcache_insert(struct dagcache *c, int64_t version_id,
                                  struct dag *dag)
{
    struct entry *e;
    const struct dag *d = NULL;

    pthread_mutex_lock(&c->mu);
    e = find(c, version_id);
    if (e == NULL) {
        if (c->n >= DAGCACHE_MAX)
            evict_one(c);
        if (grow(c)) {
            e = &c->v[c->n++];
            *e = (struct entry){version_id, dag, 0, 0};
            dag = NULL;
        }
    }
    if (e != NULL) {
        e->refs++;
        e->used = ++c->tick;
        d = e->dag;
    }
    pthread_mutex_unlock(&c->mu);
    dag_free(dag);
    return d;
}

void dagcache_release(struct dagcache *c, const struct dag *dag)
{
    if (dag == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].dag == dag) {
            WEIR_ASSERT(c->v[i].refs > 0);
            c->v[i].refs--;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
}
