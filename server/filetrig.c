/* SPDX-License-Identifier: Apache-2.0 */
/* File triggers (see filetrig.h for the design). */
#include "filetrig.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cJSON.h>

#include "engine_fire.h"
#include "log.h"
#include "store_sched.h"
#include "store_trig.h"

/* A file one trigger watches. */
struct fentry {
    char dag[STORE_ID_MAX]; /* the DAG */
    char *key;              /* the trigger's key */
    char *path;             /* the file */
    int64_t size;           /* its size at the last scan */
    int64_t mtime_ns;       /* its modification time then */
    int64_t since_ms;       /* when it last changed (monotonic) */
    uint64_t gen;           /* the scan that last saw it */
    bool done;              /* acted on (or known seen) at this size/time */
};

struct filetrig {
    uv_timer_t timer; /* starts scans; data is the filetrig */
    uv_work_t req;    /* the scan; data is the filetrig */
    struct engine *e; /* borrowed */
    char *root;       /* the DAGs folder */
    bool scanning;    /* a scan is in flight */
    bool closing;     /* filetrig_close() was called */
    struct fentry *v; /* files seen */
    size_t n, cap;    /* entries in v, allocated */
    uint64_t gen;     /* scans so far */
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct fentry *entry_get(struct filetrig *ft, const char *dag,
                                const char *key, const char *path)
{
    struct fentry *f;

    for (size_t i = 0; i < ft->n; i++)
        if (strcmp(ft->v[i].path, path) == 0 &&
            strcmp(ft->v[i].key, key) == 0 && strcmp(ft->v[i].dag, dag) == 0)
            return &ft->v[i];
    if (ft->n == ft->cap) {
        size_t cap = ft->cap ? ft->cap * 2 : 64;
        struct fentry *nv = realloc(ft->v, cap * sizeof(*nv));

        if (nv == NULL)
            return NULL;
        ft->v = nv;
        ft->cap = cap;
    }
    f = &ft->v[ft->n];
    memset(f, 0, sizeof(*f));
    snprintf(f->dag, sizeof(f->dag), "%s", dag);
    f->key = strdup(key);
    f->path = strdup(path);
    if (f->key == NULL || f->path == NULL) {
        free(f->key);
        free(f->path);
        return NULL;
    }
    f->size = -1;
    ft->n++;
    return f;
}

/* Forget files no scan saw this time (deleted, or no longer matched). */
static void entries_sweep(struct filetrig *ft)
{
    size_t k = 0;

    for (size_t i = 0; i < ft->n; i++) {
        if (ft->v[i].gen == ft->gen) {
            ft->v[k++] = ft->v[i];
            continue;
        }
        free(ft->v[i].key);
        free(ft->v[i].path);
    }
    ft->n = k;
}

static char *file_payload(const struct fentry *f)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;

    if (o != NULL && cJSON_AddStringToObject(o, "path", f->path) &&
        cJSON_AddNumberToObject(o, "size", (double)f->size) &&
        cJSON_AddNumberToObject(o, "mtime", (double)f->mtime_ns / 1e9))
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* File f is stable: fire unless the trigger already acted on it. */
static int act(struct filetrig *ft, struct store_conn *c, struct fentry *f,
               int64_t stable_ms, struct weir_err *err)
{
    char reason[600];
    char *payload = NULL;
    struct fire_result res = {0};
    struct engine_slot s = {f->dag, f->key, 0, reason, NULL};
    bool seen = false;
    int rc = store_tx_begin(c, err);

    if (rc == 0)
        rc = store_file_seen(c, f->dag, f->key, f->path, f->size, f->mtime_ns,
                             false, &seen, err);
    if (rc == 0 && !seen) {
        payload = file_payload(f);
        s.payload = payload;
        snprintf(reason, sizeof(reason), "file %s (%lld bytes, stable %lld ms)",
                 f->path, (long long)f->size, (long long)stable_ms);
        rc = payload ? engine_fire_in_tx(ft->e, c, &s, &res, err)
                     : weir_err_set(err, WEIR_ENOMEM, "out of memory");
        if (rc == 0)
            rc = store_file_seen(c, f->dag, f->key, f->path, f->size,
                                 f->mtime_ns, true, &seen, err);
    }
    if (rc == 0)
        rc = store_tx_commit(c, err);
    else
        store_tx_rollback(c);
    cJSON_free(payload);
    if (rc == 0 && res.outcome == FIRE_CREATED)
        hub_bump(ft->e->hub);
    return rc;
}

/* One glob of trigger t of DAG d. */
static void scan_glob(struct filetrig *ft, struct store_conn *c,
                      const struct dag *d, const struct dag_trigger *t,
                      int64_t now)
{
    char pattern[4096];
    struct weir_err err = {0};
    glob_t g;

    snprintf(pattern, sizeof(pattern), "%s%s%s",
             t->target[0] == '/' ? "" : ft->root,
             t->target[0] == '/' ? "" : "/", t->target);
    if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
        return; /* no match (or unreadable folders): nothing to do */
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct stat st;
        struct fentry *f;
        int64_t mt;

        if (stat(g.gl_pathv[i], &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if ((f = entry_get(ft, d->id, t->key, g.gl_pathv[i])) == NULL)
            break;
        f->gen = ft->gen;
        mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        if (f->size != (int64_t)st.st_size || f->mtime_ns != mt) {
            f->size = (int64_t)st.st_size;
            f->mtime_ns = mt;
            f->since_ms = now;
            f->done = false;
        } else if (!f->done && now - f->since_ms >= t->stable_ms) {
            if (act(ft, c, f, t->stable_ms, &err) == 0)
                f->done = true;
            else
                log_warn("event=file_trigger_failed dag=%s trigger=\"%s\" "
                         "path=%s msg=\"%s\"",
                         d->id, t->key, f->path, err.msg);
        }
    }
    globfree(&g);
}

static void scan_work_cb(uv_work_t *req)
{
    struct filetrig *ft = req->data;
    struct store_sched_dag *rows = NULL;
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    int64_t now = mono_ms();
    size_t n = 0;

    ft->gen++;
    if (store_conn_get(ft->e->store, &c, &err) != 0 ||
        store_sched_dags(c, &rows, &n, &err) != 0) {
        store_conn_put(c);
        for (size_t i = 0; i < ft->n; i++)
            ft->v[i].gen = ft->gen; /* keep what we know */
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct dag *d =
            rows[i].paused || rows[i].missing
                ? NULL
                : engine_dag(ft->e->cache, c, rows[i].version_id);

        for (size_t k = 0; d != NULL && k < d->n_triggers; k++)
            if (d->triggers[k].kind == DAG_TRIG_FILE)
                scan_glob(ft, c, d, &d->triggers[k], now);
        dagcache_release(ft->e->cache, d);
    }
    entries_sweep(ft);
    store_conn_put(c);
    free(rows);
}

static void close_cb(uv_handle_t *h)
{
    struct filetrig *ft = h->data;

    ft->gen++;
    entries_sweep(ft); /* frees every entry */
    free(ft->v);
    free(ft->root);
    free(ft);
}

static void scan_after_cb(uv_work_t *req, int status)
{
    struct filetrig *ft = req->data;

    (void)status;
    ft->scanning = false;
    if (ft->closing)
        uv_close((uv_handle_t *)&ft->timer, close_cb);
}

static void timer_cb(uv_timer_t *t)
{
    struct filetrig *ft = t->data;

    if (ft->scanning || ft->closing)
        return;
    ft->req.data = ft;
    if (uv_queue_work(t->loop, &ft->req, scan_work_cb, scan_after_cb) == 0)
        ft->scanning = true;
}

int filetrig_start(uv_loop_t *loop, struct engine *e, const char *root,
                   struct filetrig **out, struct weir_err *err)
{
    struct filetrig *ft = calloc(1, sizeof(*ft));

    if (ft == NULL || (ft->root = strdup(root)) == NULL) {
        free(ft);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    ft->e = e;
    uv_timer_init(loop, &ft->timer);
    ft->timer.data = ft;
    uv_timer_start(&ft->timer, timer_cb, FILETRIG_POLL_MS, FILETRIG_POLL_MS);
    *out = ft;
    return 0;
}

void filetrig_close(struct filetrig *ft)
{
    if (ft == NULL || ft->closing)
        return;
    ft->closing = true;
    uv_timer_stop(&ft->timer);
    if (!ft->scanning)
        uv_close((uv_handle_t *)&ft->timer, close_cb);
}
