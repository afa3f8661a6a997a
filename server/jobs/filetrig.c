/* SPDX-License-Identifier: Apache-2.0 */
/* File triggers (see filetrig.h for the design). */
#include "jobs/filetrig.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cJSON.h>

#include "engine/fire.h"
#include "grow.h"
#include "jobs/chores.h"
#include "log.h"
#include "store/leader.h"
#include "store/store.h"

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
    bool by_watch;          /* its last change was seen by a scan that a
                               folder event started */
};

/* A folder watched with uv_fs_event for the globs that name files in it. */
struct fwatch {
    struct filetrig *ft; /* its filetrig */
    char *dir;           /* the folder (owned) */
    bool wanted;         /* named by the latest scan */
    uv_fs_event_t ev;    /* the handle; data is the fwatch */
    struct fwatch *next; /* next watch of the filetrig */
};

struct filetrig {
    uv_timer_t timer;        /* starts scans; data is the filetrig */
    uv_work_t req;           /* the scan; data is the filetrig */
    struct engine *e;        /* borrowed */
    char *root;              /* the DAGs folder */
    bool scanning;           /* a scan is in flight */
    bool closing;            /* filetrig_close() was called */
    bool evented;            /* a folder event since the latest scan
                                started */
    bool kicked;             /* filetrig_kick() since then */
    uint64_t timer_due;      /* loop time the timer fires at, when active */
    bool by_watch;           /* the scan in flight was started by events */
    struct fentry *v;        /* files seen */
    size_t n, cap;           /* entries in v, allocated */
    uint64_t gen;            /* scans so far */
    char **dirs;             /* scan: folders to watch (owned) */
    size_t n_dirs, cap_dirs; /* entries in dirs, allocated */
    bool unwatchable;        /* scan: a glob has wildcards in its folders */
    int64_t due_ms;          /* scan: ms to the earliest end of a stable
                                period, -1 for none */
    struct fwatch *watches;  /* folders watched */
    int n_open;              /* handles not closed yet */
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
    if (!WEIR_GROW(ft->v, ft->cap, ft->n + 1, 64, 0))
        return NULL;
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
    struct engine_slot s = {f->dag, f->key, 0, reason, NULL, NULL, NULL};
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
    if (rc == 0 && !seen)
        log_info("event=file_stable dag=%s trigger=\"%s\" path=%s size=%lld "
                 "noticed=%s outcome=%s",
                 f->dag, f->key, f->path, (long long)f->size,
                 f->by_watch ? "watch" : "poll",
                 fire_outcome_name(res.outcome));
    return rc;
}

/* Remember folder dir (of length n) for a watch; false if no memory. */
static bool dir_want(struct filetrig *ft, const char *dir, size_t n)
{
    char *d;

    for (size_t i = 0; i < ft->n_dirs; i++)
        if (strlen(ft->dirs[i]) == n && memcmp(ft->dirs[i], dir, n) == 0)
            return true;
    if (!WEIR_GROW(ft->dirs, ft->cap_dirs, ft->n_dirs + 1, 8, 0))
        return false;
    if ((d = strndup(dir, n)) == NULL)
        return false;
    ft->dirs[ft->n_dirs++] = d;
    return true;
}

/* The folder of pattern to watch: the part before its last slash, when
 * that part has no wildcard; else the glob is polled. */
static void dir_of_glob(struct filetrig *ft, const char *pattern)
{
    const char *slash = strrchr(pattern, '/');

    if (slash == NULL || strcspn(pattern, "*?[") < (size_t)(slash - pattern) ||
        !dir_want(ft, pattern, slash > pattern ? (size_t)(slash - pattern) : 1))
        ft->unwatchable = true;
}

/* A stable period ends in ms (a failed firing is retried after a poll
 * interval). */
static void due_at(struct filetrig *ft, int64_t ms)
{
    if (ms <= 0)
        ms = CHORE_FILES_POLL_MS;
    if (ft->due_ms < 0 || ms < ft->due_ms)
        ft->due_ms = ms;
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
    dir_of_glob(ft, pattern);
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
            f->by_watch = ft->by_watch;
        } else if (!f->done && now - f->since_ms >= t->stable_ms) {
            if (act(ft, c, f, t->stable_ms, &err) == 0)
                f->done = true;
            else
                log_warn("event=file_trigger_failed dag=%s trigger=\"%s\" "
                         "path=%s msg=\"%s\"",
                         d->id, t->key, f->path, err.msg);
        }
        if (!f->done)
            due_at(ft, f->since_ms + t->stable_ms - now);
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
    ft->due_ms = -1;
    ft->unwatchable = false;
    for (size_t i = 0; i < ft->n_dirs; i++)
        free(ft->dirs[i]);
    ft->n_dirs = 0;
    if (store_conn_get(ft->e->store, &c, &err) != 0 ||
        store_sched_dags(c, &rows, &n, &err) != 0) {
        store_conn_put(c);
        for (size_t i = 0; i < ft->n; i++)
            ft->v[i].gen = ft->gen; /* keep what we know */
        ft->unwatchable = true;     /* poll until the database answers */
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

/* scan_work_cb, fenced: the runs it creates are a leader's writes
 * (store/leader.h). */
static void scan_fenced_cb(uv_work_t *req)
{
    store_fence_enter();
    scan_work_cb(req);
    store_fence_leave();
}

static void maybe_free(struct filetrig *ft)
{
    if (ft->n_open > 0)
        return;
    ft->gen++;
    entries_sweep(ft); /* frees every entry */
    free(ft->v);
    for (size_t i = 0; i < ft->n_dirs; i++)
        free(ft->dirs[i]);
    free(ft->dirs);
    free(ft->root);
    free(ft);
}

static void timer_close_cb(uv_handle_t *h)
{
    struct filetrig *ft = h->data;

    ft->n_open--;
    maybe_free(ft);
}

static void watch_close_cb(uv_handle_t *h)
{
    struct fwatch *w = h->data;
    struct filetrig *ft = w->ft;

    free(w->dir);
    free(w);
    ft->n_open--;
    maybe_free(ft);
}

static void close_all(struct filetrig *ft)
{
    struct fwatch *w = ft->watches, *next;

    ft->watches = NULL;
    uv_close((uv_handle_t *)&ft->timer, timer_close_cb);
    for (; w != NULL; w = next) {
        next = w->next;
        uv_close((uv_handle_t *)&w->ev, watch_close_cb);
    }
}

static void timer_cb(uv_timer_t *t);

/* Start a scan in ms, or sooner if one is due sooner already. */
static void arm(struct filetrig *ft, int64_t ms)
{
    uint64_t due = uv_now(ft->timer.loop) + (uint64_t)ms;

    if (uv_is_active((uv_handle_t *)&ft->timer) && ft->timer_due <= due)
        return;
    ft->timer_due = due;
    uv_timer_start(&ft->timer, timer_cb, (uint64_t)ms, 0);
}

static void event_cb(uv_fs_event_t *h, const char *name, int events, int status)
{
    struct fwatch *w = h->data;

    (void)name;
    (void)events;
    (void)status; /* an error too: scan, the disk is the truth */
    w->ft->evented = true;
    if (!w->ft->scanning && !w->ft->closing)
        arm(w->ft, CHORE_FILES_EVENT_MS);
}

/* Watch folder dir; false when it cannot be (not there yet, inotify
 * limits): its globs are polled then. */
static bool watch_add(struct filetrig *ft, const char *dir)
{
    struct fwatch *w = calloc(1, sizeof(*w));
    int rc;

    if (w == NULL || (w->dir = strdup(dir)) == NULL) {
        free(w);
        return false;
    }
    w->ft = ft;
    w->wanted = true;
    uv_fs_event_init(ft->timer.loop, &w->ev);
    w->ev.data = w;
    ft->n_open++;
    rc = uv_fs_event_start(&w->ev, event_cb, dir, 0);
    if (rc != 0) {
        if (rc != UV_ENOENT)
            log_warn("event=file_watch_fallback dir=%s err=%s", dir,
                     uv_strerror(rc));
        uv_close((uv_handle_t *)&w->ev, watch_close_cb);
        return false;
    }
    w->next = ft->watches;
    ft->watches = w;
    log_info("event=file_watch_started dir=%s", dir);
    return true;
}

/* Watch the folders the latest scan named, and only those. */
static void watches_sync(struct filetrig *ft)
{
    struct fwatch **pp = &ft->watches;

    for (struct fwatch *w = ft->watches; w != NULL; w = w->next)
        w->wanted = false;
    for (size_t i = 0; i < ft->n_dirs; i++) {
        struct fwatch *w = ft->watches;

        while (w != NULL && strcmp(w->dir, ft->dirs[i]) != 0)
            w = w->next;
        if (w != NULL)
            w->wanted = true;
        else if (!watch_add(ft, ft->dirs[i]))
            ft->unwatchable = true;
    }
    while (*pp != NULL) {
        struct fwatch *w = *pp;

        if (w->wanted) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        log_info("event=file_watch_stopped dir=%s", w->dir);
        uv_close((uv_handle_t *)&w->ev, watch_close_cb);
    }
}

static void scan_after_cb(uv_work_t *req, int status)
{
    struct filetrig *ft = req->data;
    int64_t delay;

    (void)status;
    ft->scanning = false;
    if (ft->closing) {
        close_all(ft);
        return;
    }
    watches_sync(ft);
    delay = ft->unwatchable ? CHORE_FILES_POLL_MS : CHORE_FILES_RESCAN_MS;
    if (ft->due_ms >= 0 && ft->due_ms < delay)
        delay = ft->due_ms;
    if ((ft->evented || ft->kicked) && delay > CHORE_FILES_EVENT_MS)
        delay = CHORE_FILES_EVENT_MS;
    arm(ft, delay);
}

static void timer_cb(uv_timer_t *t)
{
    struct filetrig *ft = t->data;

    if (ft->scanning || ft->closing)
        return;
    ft->by_watch = ft->evented;
    ft->evented = ft->kicked = false;
    ft->req.data = ft;
    if (uv_queue_work(t->loop, &ft->req, scan_fenced_cb, scan_after_cb) == 0)
        ft->scanning = true;
    else
        arm(ft, CHORE_FILES_POLL_MS);
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
    ft->n_open = 1;
    arm(ft, CHORE_FILES_POLL_MS);
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
        close_all(ft);
}

void filetrig_kick(struct filetrig *ft)
{
    if (ft == NULL || ft->closing)
        return;
    ft->kicked = true;
    if (!ft->scanning)
        arm(ft, 0);
}
