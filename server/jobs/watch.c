/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DAGs folder watch (see watch.h for the rules).
 *
 * Design: everything here but the batch work runs on the loop thread. The
 * loop collects paths from uv_fs_event / uv_fs_poll callbacks into a
 * pending list with a due time; one timer dispatches the due paths as a
 * batch to the thread pool. While a batch runs, the loop does not touch
 * the set of known files, which the batch alone reads and updates; the
 * loop reads it again in the after-work callback (to poll files of
 * folders in fallback mode).
 */
#include "jobs/watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dagwalk.h"
#include "gitrev.h"
#include "grow.h"
#include "jobs/chores.h"
#include "jobs/dagsrev.h"
#include "log.h"
#include "store/leader.h"
#include "store/store.h"

#define REV_LEN (GITREV_HEX_MAX + 1) /* a revision and its NUL */

/* What a watch entry watches, and how. */
enum wkind {
    WK_DIR_EVENT, /* a folder, with uv_fs_event */
    WK_DIR_POLL,  /* a folder, with uv_fs_poll (fallback) */
    WK_FILE_POLL, /* a DAG file of a polled folder, with uv_fs_poll */
};

/* One handle of the watch. */
struct wentry {
    struct watch *w;     /* its watch */
    char *rel;           /* path under the root, "" for the root */
    enum wkind kind;     /* what it is */
    uint64_t dev, ino;   /* the folder's identity when watched */
    bool seen;           /* found by the sync in progress */
    struct wentry *next; /* next entry of the watch */
    union {
        uv_fs_event_t ev;  /* WK_DIR_EVENT */
        uv_fs_poll_t poll; /* WK_DIR_POLL, WK_FILE_POLL */
    } h;                   /* the handle; its data is the entry */
};

/* A growing list of strings. */
struct strv {
    char **v;   /* the strings (owned) */
    size_t n;   /* used */
    size_t cap; /* allocated */
};

/* A folder found by a walk. */
struct wdir {
    char *rel;         /* path under the root (owned) */
    uint64_t dev, ino; /* its identity */
};

/* A path waiting for its quiet time to end. */
struct pending {
    char *rel;    /* the file, under the root (owned) */
    uint64_t due; /* loop time (ms) to reload it */
};

/* One batch of reloads, run in the thread pool. */
struct batch {
    uv_work_t req;     /* the work request; data is the batch */
    struct watch *w;   /* its watch */
    struct strv files; /* files to reload or mark gone */
    bool sync;         /* walk the tree first */
    bool baseline;     /* the first sync: record what is there, load nothing */
    struct wdir *dirs; /* sync: the folders found */
    size_t n_dirs;     /* entries in dirs */
    size_t cap_dirs;   /* allocated entries of dirs */
    int loaded;        /* files loaded */
    int failed;        /* files in error */
    int gone;          /* files that were gone */
    bool db_failed;    /* an outcome could not be recorded */
    uint64_t started;  /* loop time at dispatch */
};

struct watch {
    uv_loop_t *loop;        /* the scheduler loop */
    struct dagdir *dd;      /* loads files (borrowed) */
    struct store *store;    /* marks gone files (borrowed) */
    char *root;             /* the folder */
    bool force_poll;        /* poll every folder */
    watch_changed_cb cb;    /* after each batch */
    void *arg;              /* for cb */
    uv_timer_t timer;       /* dispatches due paths */
    struct wentry *entries; /* every handle but the timer */
    struct pending *pend;   /* paths waiting */
    size_t n_pend;          /* entries in pend */
    size_t cap_pend;        /* allocated entries */
    uint64_t sync_due;      /* loop time of the next sync, 0 for none */
    bool baseline_done;     /* the first sync ran */
    struct strv known;      /* DAG files seen (only a batch writes it) */
    bool in_flight;         /* a batch runs */
    uv_timer_t rev_timer;   /* looks at the folder's git revision */
    char rev[REV_LEN];      /* the revision it last saw, "" for none */
    bool closing;           /* watch_close() was called */
    int n_open;             /* handles not closed yet */
};

/* ---- small helpers ---- */

static void strv_cleanup(struct strv *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Append s (taken; freed on failure). */
static int strv_add(struct strv *l, char *s)
{
    if (s != NULL && !WEIR_GROW(l->v, l->cap, l->n + 1, 32, 0)) {
        free(s);
        return WEIR_ENOMEM;
    }
    if (s == NULL)
        return WEIR_ENOMEM;
    l->v[l->n++] = s;
    return 0;
}

static long strv_find(const struct strv *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return (long)i;
    return -1;
}

static void strv_remove(struct strv *l, const char *s)
{
    long i = strv_find(l, s);

    if (i < 0)
        return;
    free(l->v[i]);
    l->v[i] = l->v[--l->n];
}

static void dirs_free(struct wdir *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i].rel);
    free(v);
}

/* ---- the walk (thread pool) ---- */

/* What a walk fills: the batch's folders, and the DAG files found. */
struct walk_out {
    struct batch *b;    /* whose dirs get each folder */
    struct strv *files; /* each DAG file, relative to the root */
};

static int walk_folder(void *ctx, const char *rel, const struct stat *st)
{
    struct walk_out *o = ctx;
    struct batch *b = o->b;
    char *copy = strdup(rel);

    if (copy == NULL ||
        !WEIR_GROW(b->dirs, b->cap_dirs, b->n_dirs + 1, 16, 0)) {
        free(copy);
        return WEIR_ENOMEM;
    }
    b->dirs[b->n_dirs].rel = copy;
    b->dirs[b->n_dirs].dev = st->st_dev;
    b->dirs[b->n_dirs].ino = st->st_ino;
    b->n_dirs++;
    return 0;
}

static int walk_file(void *ctx, const char *rel, const char *full)
{
    struct walk_out *o = ctx;

    (void)full;
    return strv_add(o->files, strdup(rel));
}

/* A folder gone meanwhile is skipped. */
static int walk_unreadable(void *ctx, const char *full, int errnum)
{
    (void)ctx;
    (void)full;
    (void)errnum;
    return 0;
}

/* Every folder and DAG file under the root (common/dagwalk.h). */
static int walk(const char *root, struct batch *b, struct strv *files)
{
    struct walk_out o = {b, files};
    struct dagwalk wk = {root, &o, walk_folder, walk_file, walk_unreadable,
                         NULL};
    struct weir_err err = {0};

    return dagwalk_run(&wk, &err);
}

/* ---- reloads (thread pool) ---- */

/* Mark rel gone; false when that could not be recorded. */
static bool file_gone(struct batch *b, const char *rel)
{
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    int marked = 0;
    char q[300];
    int rc = store_conn_get(b->w->store, &c, &err);

    if (rc == 0)
        rc = store_sched_file_gone(c, rel, &marked, &err);
    store_conn_put(c);
    if (rc < 0) {
        b->db_failed = true;
        log_warn("event=dag_file_gone_failed path=%s msg=%s", rel,
                 log_quote(err.msg, q, sizeof(q)));
        return false;
    }
    b->gone++;
    log_info("event=dag_file_gone path=%s marked=%d", rel, marked);
    return true;
}

/* Load rel; false when its outcome could not be recorded. */
static bool file_load(struct batch *b, const char *rel)
{
    struct weir_err err = {0};
    char q[300];
    int rc = dagdir_load(b->w->dd, rel, NULL, &err);

    if (rc == 0) {
        b->loaded++;
    } else if (rc == WEIR_EINVAL) {
        b->failed++;
    } else {
        b->db_failed = true;
        log_warn("event=dag_reload_failed path=%s code=%s msg=%s", rel,
                 weir_errname(rc), log_quote(err.msg, q, sizeof(q)));
        return false;
    }
    return true;
}

/* One file of the batch: loaded when it is a file, else gone. */
static void file_sync(struct batch *b, const char *rel)
{
    struct strv *known = &b->w->known;
    char *full = dagwalk_join(b->w->root, rel);
    struct stat st;
    bool exists = full && stat(full, &st) == 0 && S_ISREG(st.st_mode);

    free(full);
    /* Not recorded: unknown again, so the retry sync loads it as new. */
    if (exists && !file_load(b, rel))
        strv_remove(known, rel);
    else if (exists && strv_find(known, rel) < 0 &&
             strv_add(known, strdup(rel)) != 0)
        b->db_failed = true; /* out of memory: a later sync retries */
    /* Not recorded: still known, so the retry sync finds it vanished. */
    if (!exists && file_gone(b, rel))
        strv_remove(known, rel);
}

/* Walk the tree; load new files and mark vanished ones (but on the first
 * sync only record them: dagdir_scan() loaded them just before). */
static void tree_sync(struct batch *b)
{
    struct watch *w = b->w;
    struct strv found = {0};

    if (walk(w->root, b, &found) != 0) {
        log_warn("event=watch_walk_failed dir=%s msg=out_of_memory", w->root);
        b->db_failed = true;
        strv_cleanup(&found);
        return;
    }
    for (size_t i = 0; !b->baseline && i < found.n; i++)
        if (strv_find(&w->known, found.v[i]) < 0 && !file_load(b, found.v[i]))
            found.v[i][0] = '\0'; /* not recorded: new again next time */
    /* A vanished file whose mark failed stays known: gone again next time. */
    for (size_t i = 0; !b->baseline && i < w->known.n; i++)
        if (strv_find(&found, w->known.v[i]) < 0 &&
            !file_gone(b, w->known.v[i]) &&
            strv_add(&found, strdup(w->known.v[i])) != 0)
            b->db_failed = true;
    strv_cleanup(&w->known);
    for (size_t i = 0; i < found.n; i++)
        if (found.v[i][0] != '\0' && strv_add(&w->known, found.v[i]) != 0)
            b->db_failed = true;
        else if (found.v[i][0] == '\0')
            free(found.v[i]);
    free(found.v);
}

static void batch_work_cb(uv_work_t *req)
{
    struct batch *b = req->data;

    if (b->sync)
        tree_sync(b);
    for (size_t i = 0; i < b->files.n; i++)
        file_sync(b, b->files.v[i]);
    /* the revision the folder is at now, its files just recorded */
    if (!dagsrev_record(b->w->store, b->w->root))
        b->db_failed = true;
}

/* batch_work_cb, fenced: the versions it records are a leader's writes
 * (store/leader.h). */
static void batch_fenced_cb(uv_work_t *req)
{
    store_fence_enter();
    batch_work_cb(req);
    store_fence_leave();
}

/* ---- handles (loop thread) ---- */

static void maybe_free(struct watch *w)
{
    if (!w->closing || w->n_open > 0 || w->in_flight)
        return;
    for (size_t i = 0; i < w->n_pend; i++)
        free(w->pend[i].rel);
    free(w->pend);
    strv_cleanup(&w->known);
    free(w->root);
    free(w);
}

static void handle_close_cb(uv_handle_t *h)
{
    struct watch *w = h->data;

    w->n_open--;
    maybe_free(w);
}

static void entry_close_cb(uv_handle_t *h)
{
    struct wentry *e = h->data;
    struct watch *w = e->w;

    free(e->rel);
    free(e);
    w->n_open--;
    maybe_free(w);
}

static void entry_close(struct wentry *e)
{
    uv_close(e->kind == WK_DIR_EVENT ? (uv_handle_t *)&e->h.ev
                                     : (uv_handle_t *)&e->h.poll,
             entry_close_cb);
}

static void arm(struct watch *w);

static void want_sync(struct watch *w, uint64_t delay)
{
    uint64_t due = uv_now(w->loop) + delay;

    if (w->sync_due == 0 || due < w->sync_due)
        w->sync_due = due;
    arm(w);
}

/* Wait for rel's quiet time again. */
static void want_file(struct watch *w, const char *rel)
{
    uint64_t due = uv_now(w->loop) + CHORE_DAGS_DEBOUNCE_MS;
    char *copy;

    for (size_t i = 0; i < w->n_pend; i++) {
        if (strcmp(w->pend[i].rel, rel) == 0) {
            w->pend[i].due = due;
            arm(w);
            return;
        }
    }
    if (!WEIR_GROW(w->pend, w->cap_pend, w->n_pend + 1, 16, 0)) {
        want_sync(w, CHORE_DAGS_DEBOUNCE_MS); /* finds the change instead */
        return;
    }
    copy = strdup(rel);
    if (copy == NULL) {
        want_sync(w, CHORE_DAGS_DEBOUNCE_MS);
        return;
    }
    w->pend[w->n_pend++] = (struct pending){copy, due};
    arm(w);
}

static void event_cb(uv_fs_event_t *h, const char *name, int events, int status)
{
    struct wentry *e = h->data;
    char *rel;

    (void)events;
    if (e->w->closing)
        return;
    if (status < 0 || name == NULL) {
        if (status < 0)
            log_warn("event=watch_error dir=%s err=%s", e->rel,
                     uv_strerror(status));
        want_sync(e->w, CHORE_DAGS_DEBOUNCE_MS);
        return;
    }
    if (name[0] == '.')
        return;
    if (!dagwalk_is_dag_file(name)) { /* a folder, or the folder itself */
        want_sync(e->w, CHORE_DAGS_DEBOUNCE_MS);
        return;
    }
    rel = dagwalk_join(e->rel, name);
    if (rel == NULL)
        want_sync(e->w, CHORE_DAGS_DEBOUNCE_MS);
    else
        want_file(e->w, rel);
    free(rel);
}

static void poll_cb(uv_fs_poll_t *h, int status, const uv_stat_t *prev,
                    const uv_stat_t *curr)
{
    struct wentry *e = h->data;

    (void)status;
    (void)prev;
    (void)curr;
    if (e->w->closing)
        return;
    if (e->kind == WK_FILE_POLL)
        want_file(e->w, e->rel);
    else
        want_sync(e->w, CHORE_DAGS_DEBOUNCE_MS);
}

/* A new entry for rel of kind, started; NULL when it could not start. */
static struct wentry *entry_start(struct watch *w, const char *rel,
                                  enum wkind kind, int *uv_rc)
{
    struct wentry *e = calloc(1, sizeof(*e));
    char *full = NULL;
    int rc = UV_ENOMEM;

    if (e == NULL || (e->rel = strdup(rel)) == NULL ||
        (full = dagwalk_join(w->root, rel)) == NULL)
        goto fail;
    e->w = w;
    e->kind = kind;
    rc = kind == WK_DIR_EVENT ? uv_fs_event_init(w->loop, &e->h.ev)
                              : uv_fs_poll_init(w->loop, &e->h.poll);
    if (rc != 0)
        goto fail;
    if (kind == WK_DIR_EVENT)
        e->h.ev.data = e;
    else
        e->h.poll.data = e;
    w->n_open++;
    if (kind == WK_DIR_EVENT)
        rc = uv_fs_event_start(&e->h.ev, event_cb, full, 0);
    else
        rc = uv_fs_poll_start(&e->h.poll, poll_cb, full, CHORE_DAGS_POLL_MS);
    free(full);
    *uv_rc = rc;
    if (rc != 0) {
        entry_close(e);
        return NULL;
    }
    e->next = w->entries;
    w->entries = e;
    return e;
fail:
    *uv_rc = rc;
    free(full);
    if (e != NULL)
        free(e->rel);
    free(e);
    return NULL;
}

/* Watch folder d, with uv_fs_event or, failing that, uv_fs_poll. */
static bool dir_watch(struct watch *w, const struct wdir *d)
{
    struct wentry *e = NULL;
    int rc = UV_EINVAL;

    if (!w->force_poll)
        e = entry_start(w, d->rel, WK_DIR_EVENT, &rc);
    if (e == NULL) {
        if (!w->force_poll)
            log_warn("event=watch_fallback dir=%s err=%s poll_ms=%d",
                     d->rel[0] ? d->rel : ".", uv_strerror(rc),
                     CHORE_DAGS_POLL_MS);
        e = entry_start(w, d->rel, WK_DIR_POLL, &rc);
    }
    if (e == NULL) {
        log_error("event=watch_failed dir=%s err=%s", d->rel[0] ? d->rel : ".",
                  uv_strerror(rc));
        return false;
    }
    e->dev = d->dev;
    e->ino = d->ino;
    e->seen = true;
    return true;
}

static struct wentry *entry_find(struct watch *w, const char *rel, bool file)
{
    for (struct wentry *e = w->entries; e != NULL; e = e->next)
        if ((e->kind == WK_FILE_POLL) == file && strcmp(e->rel, rel) == 0)
            return e;
    return NULL;
}

/* Is rel's folder watched by polling? */
static bool dir_polled(struct watch *w, const char *rel)
{
    const char *slash = strrchr(rel, '/');
    char dir[4096];
    struct wentry *e;

    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - rel) : 0, rel);
    e = entry_find(w, dir, false);
    return e != NULL && e->kind == WK_DIR_POLL;
}

/* Make the handles match the folders a sync found; true when a folder
 * is watched that was not before. */
static bool entries_update(struct watch *w, const struct batch *b)
{
    struct wentry **pp = &w->entries;
    bool added = false;
    int rc;

    for (struct wentry *e = w->entries; e != NULL; e = e->next)
        e->seen = false;
    for (size_t i = 0; i < b->n_dirs; i++) {
        struct wentry *e = entry_find(w, b->dirs[i].rel, false);

        if (e != NULL && e->dev == b->dirs[i].dev && e->ino == b->dirs[i].ino)
            e->seen = true;
        else
            added |= dir_watch(w, &b->dirs[i]);
    }
    for (size_t i = 0; i < w->known.n; i++) {
        struct wentry *e = entry_find(w, w->known.v[i], true);

        if (e != NULL)
            e->seen = true;
        else if (dir_polled(w, w->known.v[i]) &&
                 (e = entry_start(w, w->known.v[i], WK_FILE_POLL, &rc)))
            e->seen = true;
    }
    while (*pp != NULL) {
        struct wentry *e = *pp;

        if (e->seen) {
            pp = &e->next;
            continue;
        }
        *pp = e->next;
        entry_close(e);
    }
    return added;
}

/* ---- batches (loop thread) ---- */

static void batch_free(struct batch *b)
{
    strv_cleanup(&b->files);
    dirs_free(b->dirs, b->n_dirs);
    free(b);
}

static void batch_after_cb(uv_work_t *req, int status)
{
    struct batch *b = req->data;
    struct watch *w = b->w;
    bool more = false;

    (void)status;
    w->in_flight = false;
    if (w->closing) {
        batch_free(b);
        maybe_free(w);
        return;
    }
    if (b->sync)
        more = entries_update(w, b);
    log_info("event=watch_batch files=%zu sync=%s loaded=%d invalid=%d "
             "gone=%d dirs=%zu ms=%llu",
             b->files.n, b->sync ? "yes" : "no", b->loaded, b->failed, b->gone,
             b->n_dirs, (unsigned long long)(uv_now(w->loop) - b->started));
    if (b->loaded + b->failed + b->gone > 0)
        w->cb(w->arg);
    /* Files made in a new folder before its watch started: a sync sees
     * them; a failed database write is retried by one too. */
    if (more)
        want_sync(w, 0);
    if (b->db_failed)
        want_sync(w, CHORE_DAGS_RETRY_MS);
    batch_free(b);
    arm(w);
}

/* Take the due paths into a new batch; NULL when nothing is due. */
static struct batch *batch_take(struct watch *w, uint64_t now)
{
    struct batch *b = calloc(1, sizeof(*b));
    size_t o = 0;

    if (b == NULL)
        return NULL;
    b->w = w;
    b->started = now;
    b->sync = w->sync_due != 0 && w->sync_due <= now;
    b->baseline = b->sync && !w->baseline_done;
    if (b->sync)
        w->sync_due = 0;
    for (size_t i = 0; i < w->n_pend; i++) {
        if (w->pend[i].due <= now && strv_add(&b->files, w->pend[i].rel) == 0)
            continue; /* taken */
        w->pend[o++] = w->pend[i];
    }
    w->n_pend = o;
    if (!b->sync && b->files.n == 0) {
        free(b);
        return NULL;
    }
    w->baseline_done |= b->baseline;
    return b;
}

static void timer_cb(uv_timer_t *t)
{
    struct watch *w = t->data;
    struct batch *b;

    if (w->closing || w->in_flight)
        return;
    b = batch_take(w, uv_now(w->loop));
    if (b == NULL) {
        arm(w);
        return;
    }
    b->req.data = b;
    if (uv_queue_work(w->loop, &b->req, batch_fenced_cb, batch_after_cb) != 0) {
        log_error("event=watch_queue_failed");
        batch_free(b);
        return;
    }
    w->in_flight = true;
}

/* A checkout of another revision that changed no DAG file (a script
 * beside one) sends no event for a DAG file: the revision is looked at
 * every CHORE_DAGS_REV_MS, and a change syncs the folder, which records
 * it. */
static void rev_timer_cb(uv_timer_t *t)
{
    struct watch *w = t->data;
    char rev[GITREV_HEX_MAX + 1] = "";

    if (w->closing)
        return;
    if (!gitrev_get(w->root, rev))
        rev[0] = '\0';
    if (strcmp(rev, w->rev) == 0)
        return;
    log_info("event=dags_revision_seen dir=%s revision=%s", w->root,
             rev[0] ? rev : "none");
    memcpy(w->rev, rev, sizeof(rev));
    want_sync(w, CHORE_DAGS_DEBOUNCE_MS);
}

/* Arm the timer for the earliest due path, unless a batch runs (its end
 * arms it again). */
static void arm(struct watch *w)
{
    uint64_t due = w->sync_due, now = uv_now(w->loop);

    if (w->closing || w->in_flight)
        return;
    for (size_t i = 0; i < w->n_pend; i++)
        if (due == 0 || w->pend[i].due < due)
            due = w->pend[i].due;
    if (due == 0)
        uv_timer_stop(&w->timer);
    else
        uv_timer_start(&w->timer, timer_cb, due > now ? due - now : 0, 0);
}

/* ---- public ---- */

int watch_start(uv_loop_t *loop, struct dagdir *dd, struct store *store,
                const char *root, bool force_poll, watch_changed_cb changed_cb,
                void *arg, struct watch **out, struct weir_err *err)
{
    struct watch *w = calloc(1, sizeof(*w));
    size_t len;

    if (w == NULL || (w->root = strdup(root)) == NULL) {
        free(w);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    len = strlen(w->root);
    while (len > 1 && w->root[len - 1] == '/')
        w->root[--len] = '\0';
    w->loop = loop;
    w->dd = dd;
    w->store = store;
    w->force_poll = force_poll;
    w->cb = changed_cb;
    w->arg = arg;
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    uv_timer_init(loop, &w->rev_timer);
    w->rev_timer.data = w;
    w->n_open = 2;
    if (!gitrev_get(w->root, w->rev))
        w->rev[0] = '\0';
    uv_timer_start(&w->rev_timer, rev_timer_cb, CHORE_DAGS_REV_MS,
                   CHORE_DAGS_REV_MS);
    want_sync(w, 0); /* the first sync starts the watches */
    *out = w;
    return 0;
}

void watch_close(struct watch *w)
{
    if (w == NULL || w->closing)
        return;
    w->closing = true;
    w->timer.data = w;
    uv_close((uv_handle_t *)&w->timer, handle_close_cb);
    uv_close((uv_handle_t *)&w->rev_timer, handle_close_cb);
    while (w->entries != NULL) {
        struct wentry *e = w->entries;

        w->entries = e->next;
        entry_close(e);
    }
    maybe_free(w);
}
