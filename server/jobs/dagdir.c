/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading the DAGs folder into the database (see dagdir.h for the rules).
 * The claims table remembers which file holds which DAG id, so that one
 * file's reload can tell that another file already uses its id.
 */
#include "jobs/dagdir.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dagwalk.h"
#include "engine/engine.h"
#include "engine/secrets.h"
#include "grow.h"
#include "jobs/dagsrev.h"
#include "log.h"
#include "store/store.h"

/* A DAG id and the file that declares it. */
struct claim {
    char *id;   /* the DAG id */
    char *path; /* relative to the root */
};

struct dagdir {
    char *root;             /* the folder */
    struct store *store;    /* where versions go (borrowed) */
    struct dagcache *cache; /* where parsed versions go (borrowed) */
    pthread_mutex_t mu;     /* guards claims */
    struct claim *claims;   /* ids held by files */
    size_t n_claims;        /* entries in claims */
    size_t cap_claims;      /* allocated entries */
};

/* A growing list of relative paths. */
struct pathlist {
    char **v;   /* the paths */
    size_t n;   /* used */
    size_t cap; /* allocated */
};

static void pathlist_cleanup(struct pathlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Append path (taken; freed on failure). */
static int pathlist_add(struct pathlist *l, char *path)
{
    if (path == NULL || !WEIR_GROW(l->v, l->cap, l->n + 1, 32, 0)) {
        free(path);
        return WEIR_ENOMEM;
    }
    l->v[l->n++] = path;
    return 0;
}

static int walk_file(void *ctx, const char *rel, const char *full)
{
    (void)full;
    return pathlist_add(ctx, strdup(rel));
}

static void walk_too_deep(void *ctx, const char *full)
{
    (void)ctx;
    log_warn("event=dagdir_too_deep path=%s", full);
}

/* The DAG files under the root (common/dagwalk.h), sorted within each
 * folder. */
static int walk(const struct dagdir *dd, struct pathlist *out,
                struct weir_err *err)
{
    struct dagwalk w = {dd->root, out, NULL, walk_file, NULL, walk_too_deep};
    int rc = dagwalk_run(&w, err);

    if (rc == WEIR_ENOMEM)
        weir_err_set(err, rc, "out of memory");
    return rc;
}

/* ---- claims ---- */

/* The path claiming id other than `path`, whose file still exists; a copy
 * or NULL. */
static char *claim_other(struct dagdir *dd, const char *id, const char *path)
{
    char *other = NULL;

    pthread_mutex_lock(&dd->mu);
    for (size_t i = 0; i < dd->n_claims; i++) {
        struct claim *c = &dd->claims[i];
        char *full;
        struct stat st;

        if (strcmp(c->id, id) != 0 || strcmp(c->path, path) == 0)
            continue;
        full = dagwalk_join(dd->root, c->path);
        if (full != NULL && stat(full, &st) == 0)
            other = strdup(c->path);
        free(full);
        break;
    }
    pthread_mutex_unlock(&dd->mu);
    return other;
}

static bool claims_grow(struct dagdir *dd)
{
    return WEIR_GROW(dd->claims, dd->cap_claims, dd->n_claims + 1, 32, 0);
}

/* Record that path holds id, replacing any older claim on id. Out of
 * memory only loses the collision check for this id. */
static void claim_set(struct dagdir *dd, const char *id, const char *path)
{
    char *nid = strdup(id), *npath = strdup(path);
    struct claim *c = NULL;

    if (nid == NULL || npath == NULL)
        goto out;
    pthread_mutex_lock(&dd->mu);
    for (size_t i = 0; i < dd->n_claims && c == NULL; i++)
        if (strcmp(dd->claims[i].id, id) == 0)
            c = &dd->claims[i];
    if (c != NULL) {
        free(c->id);
        free(c->path);
    } else if (claims_grow(dd)) {
        c = &dd->claims[dd->n_claims++];
    }
    if (c != NULL) {
        c->id = nid;
        c->path = npath;
        nid = npath = NULL;
    }
    pthread_mutex_unlock(&dd->mu);
out:
    free(nid);
    free(npath);
}

static void claims_clear(struct dagdir *dd)
{
    pthread_mutex_lock(&dd->mu);
    for (size_t i = 0; i < dd->n_claims; i++) {
        free(dd->claims[i].id);
        free(dd->claims[i].path);
    }
    dd->n_claims = 0;
    pthread_mutex_unlock(&dd->mu);
}

/* ---- loading ---- */

/* The diagnostics as "path:line:col: message" lines; a new string or
 * NULL when out of memory. */
static char *diags_text(const struct dag_diags *d, const char *relpath)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL)
        return NULL;
    dag_diags_print(d, relpath, f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    if (len > 0 && buf[len - 1] == '\n')
        buf[len - 1] = '\0';
    return buf;
}

/* A DAG id made from the file name's stem, "" when nothing is left. */
static void placeholder_id(const char *relpath, char out[DAG_ID_MAX + 1])
{
    const char *base = strrchr(relpath, '/');
    const char *dot;
    size_t len, o = 0;

    base = base ? base + 1 : relpath;
    dot = strrchr(base, '.');
    len = dot ? (size_t)(dot - base) : strlen(base);
    for (size_t i = 0; i < len && o < DAG_ID_MAX; i++) {
        int ch = tolower((unsigned char)base[i]);

        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
            out[o++] = (char)ch;
        else if (o > 0)
            out[o++] = ch == '_' ? '_' : '-';
    }
    out[o] = '\0';
}

/* Record a file in error; returns WEIR_EINVAL once recorded. */
static int record_failure(struct store_conn *c, const char *relpath,
                          const struct dag_diags *diags, struct weir_err *err)
{
    char pid[DAG_ID_MAX + 1];
    char *text = diags_text(diags, relpath);
    bool recorded = false;
    int rc;

    if (text == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    placeholder_id(relpath, pid);
    rc = store_dag_file_error(c, relpath, pid[0] ? pid : NULL, text, &recorded,
                              err);
    if (rc == 0) {
        char q[300];

        log_warn("event=dag_invalid path=%s recorded=%s errors=%zu first=%s",
                 relpath, recorded ? "yes" : "no", diags->n,
                 log_quote(text, q, sizeof(q)));
        text[strcspn(text, "\n")] = '\0';
        rc = weir_err_set(err, WEIR_EINVAL, "%s", text);
    }
    free(text);
    return rc;
}

/* Record a valid file's DAG (taken) as a version and cache it, by the
 * engine's one rule for recording versions. */
static int record_version(struct dagdir *dd, struct store_conn *c,
                          const char *relpath, struct dag *dag,
                          struct dag_diags *diags, bool *new_version,
                          struct weir_err *err)
{
    struct engine_dag_recorded res = {0};
    int rc = engine_dag_record(dd->cache, c, relpath, dag, &res, err);

    if (rc == WEIR_ECONFLICT)
        dag_diags_add(diags,
                      res.pos.line > 0 ? res.pos : (struct dag_pos){1, 1}, "%s",
                      err->msg);
    if (rc < 0)
        return rc == WEIR_ECONFLICT ? WEIR_EINVAL : rc;
    claim_set(dd, res.dag->id, relpath);
    log_info("event=dag_loaded dag=%s path=%s version=%lld new=%s", res.dag->id,
             relpath, (long long)res.version_id,
             res.version_created ? "yes" : "no");
    dagcache_release(dd->cache, res.dag);
    if (new_version != NULL)
        *new_version = res.version_created;
    return 0;
}

/* Another file already holding the DAG's id makes this one invalid. */
static int check_collision(struct dagdir *dd, const struct dag *dag,
                           const char *relpath, struct dag_diags *diags)
{
    char *other = claim_other(dd, dag->id, relpath);

    if (other == NULL)
        return 0;
    dag_diags_add(diags, (struct dag_pos){1, 1},
                  "DAG id \"%s\" is already used by %s", dag->id, other);
    free(other);
    return WEIR_EINVAL;
}

int dagdir_load(struct dagdir *dd, const char *relpath, bool *new_version,
                struct weir_err *err)
{
    struct dag_diags diags;
    struct dag *dag = NULL;
    struct store_conn *c = NULL;
    char *full = dagwalk_join(dd->root, relpath);
    int rc;

    if (full == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    dag_diags_init(&diags);
    rc = dag_load_file(full, &dag, &diags);
    free(full);
    if (rc == WEIR_ENOMEM) {
        weir_err_set(err, rc, "out of memory loading %s", relpath);
        goto out;
    }
    if (rc == 0)
        rc = check_collision(dd, dag, relpath, &diags);
    if (store_conn_get(dd->store, &c, err) != 0) {
        rc = err->code;
        goto out;
    }
    /* Which pools exist only the database knows: checked here. */
    if (rc == 0)
        rc = engine_dag_pools_check(c, dag, &diags, err);
    if (rc == 0)
        rc = engine_dag_secrets_check(c, dag, &diags, err);
    if (rc == 0) {
        rc = record_version(dd, c, relpath, dag, &diags, new_version, err);
        dag = NULL;
    }
    if (rc != 0 && diags.n > 0)
        rc = record_failure(c, relpath, &diags, err);
out:
    store_conn_put(c);
    dag_free(dag);
    dag_diags_cleanup(&diags);
    return rc;
}

/* ---- the folder ---- */

int dagdir_new(const char *root, struct store *store, struct dagcache *cache,
               struct dagdir **out, struct weir_err *err)
{
    struct dagdir *dd = calloc(1, sizeof(*dd));
    size_t len = strlen(root);

    if (dd == NULL || (dd->root = strdup(root)) == NULL) {
        free(dd);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    while (len > 1 && dd->root[len - 1] == '/')
        dd->root[--len] = '\0';
    dd->store = store;
    dd->cache = cache;
    pthread_mutex_init(&dd->mu, NULL);
    *out = dd;
    return 0;
}

void dagdir_free(struct dagdir *dd)
{
    if (dd == NULL)
        return;
    claims_clear(dd);
    free(dd->claims);
    pthread_mutex_destroy(&dd->mu);
    free(dd->root);
    free(dd);
}

static int load_all(struct dagdir *dd, const struct pathlist *files,
                    struct dagdir_stats *st, struct weir_err *err)
{
    for (size_t i = 0; i < files->n; i++) {
        struct weir_err e = {0};
        bool created = false;
        int rc = dagdir_load(dd, files->v[i], &created, &e);

        if (rc == 0) {
            st->loaded++;
            st->new_versions += created;
        } else if (rc == WEIR_EINVAL) {
            st->failed++;
        } else {
            *err = e;
            return rc;
        }
    }
    return 0;
}

int dagdir_scan(struct dagdir *dd, struct dagdir_stats *st,
                struct weir_err *err)
{
    struct pathlist files = {0};
    struct store_conn *c = NULL;
    struct stat sb;
    int rc;

    memset(st, 0, sizeof(*st));
    if (stat(dd->root, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return weir_err_set(err, WEIR_EIO, "DAGs folder %s: %s", dd->root,
                            errno ? strerror(errno) : "not a folder");
    rc = walk(dd, &files, err);
    if (rc < 0)
        goto out;
    st->files = (int)files.n;
    claims_clear(dd);
    rc = load_all(dd, &files, st, err);
    if (rc == 0)
        rc = store_conn_get(dd->store, &c, err);
    if (rc == 0)
        rc = store_dag_files_missing(c, (const char *const *)files.v, files.n,
                                     &st->missing, err);
    store_conn_put(c);
    if (rc == 0 && !dagsrev_record(dd->store, dd->root))
        rc = weir_err_set(err, WEIR_EUNAVAIL,
                          "cannot record the DAGs folder's git revision");
    if (rc == 0)
        log_info("event=dags_loaded dir=%s files=%d valid=%d invalid=%d "
                 "new_versions=%d missing=%d",
                 dd->root, st->files, st->loaded, st->failed, st->new_versions,
                 st->missing);
out:
    pathlist_cleanup(&files);
    return rc;
}
