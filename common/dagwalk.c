/* SPDX-License-Identifier: Apache-2.0 */
#include "dagwalk.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

struct names {
    char **v;   /* the entries' names */
    size_t n;   /* used */
    size_t cap; /* allocated */
};

static void names_free(struct names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

bool dagwalk_is_dag_file(const char *name)
{
    size_t n = strlen(name);

    return name[0] != '.' && ((n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
                              (n > 4 && strcmp(name + n - 4, ".yml") == 0));
}

char *dagwalk_join(const char *a, const char *b)
{
    char *s = NULL;

    if (a[0] == '\0' || b[0] == '\0')
        return strdup(a[0] == '\0' ? b : a);
    if (asprintf(&s, "%s/%s", a, b) < 0)
        return NULL;
    return s;
}

/* The names in folder full, sorted, '.'-names left out; *errnum set and
 * WEIR_EIO when it cannot be read. */
static int read_names(const char *full, struct names *out, int *errnum)
{
    DIR *d = opendir(full);
    struct dirent *e;
    int rc = 0;

    if (d == NULL) {
        *errnum = errno;
        return WEIR_EIO;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char *name;

        if (e->d_name[0] == '.')
            continue;
        name = strdup(e->d_name);
        if (name == NULL || !WEIR_GROW(out->v, out->cap, out->n + 1, 32, 0)) {
            free(name);
            rc = WEIR_ENOMEM;
        } else {
            out->v[out->n++] = name;
        }
    }
    closedir(d);
    if (out->n > 1)
        qsort(out->v, out->n, sizeof(*out->v), name_cmp);
    return rc;
}

/* The folders from the root down to the one being walked, by device and
 * inode: a link back to one of them is not walked again (a folder holding
 * k links to itself would otherwise cost k^depth visits). */
struct trail {
    dev_t dev[DAGWALK_MAX_DEPTH + 1];
    ino_t ino[DAGWALK_MAX_DEPTH + 1];
};

static int walk(const struct dagwalk *w, const char *rel, int depth,
                struct trail *tr, struct weir_err *err);

static bool on_trail(const struct trail *tr, int depth, const struct stat *st)
{
    for (int i = 0; i < depth; i++)
        if (tr->dev[i] == st->st_dev && tr->ino[i] == st->st_ino)
            return true;
    return false;
}

/* One entry of folder rel: a folder to walk or a DAG file to hand over. */
static int walk_entry(const struct dagwalk *w, const char *rel,
                      const char *name, int depth, struct trail *tr,
                      struct weir_err *err)
{
    char *child = dagwalk_join(rel, name);
    char *full = child ? dagwalk_join(w->root, child) : NULL;
    struct stat st;
    int rc = 0;

    if (full == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    else if (stat(full, &st) == 0 && S_ISDIR(st.st_mode))
        rc = on_trail(tr, depth + 1, &st) ? 0
                                          : walk(w, child, depth + 1, tr, err);
    else if (dagwalk_is_dag_file(name))
        rc = w->file(w->ctx, child, full);
    free(full);
    free(child);
    return rc;
}

static int walk(const struct dagwalk *w, const char *rel, int depth,
                struct trail *tr, struct weir_err *err)
{
    char *full = dagwalk_join(w->root, rel);
    struct names names = {0};
    struct stat st;
    int errnum = 0, rc;

    if (full == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    rc = read_names(full, &names, &errnum);
    if (rc == WEIR_EIO)
        rc = w->unreadable != NULL
                 ? w->unreadable(w->ctx, full, errnum)
                 : weir_err_set(err, WEIR_EIO, "%s: cannot open folder: %s",
                                full, strerror(errnum));
    else if (rc == WEIR_ENOMEM)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    else if (stat(full, &st) == 0) {
        tr->dev[depth] = st.st_dev;
        tr->ino[depth] = st.st_ino;
        if (w->folder != NULL)
            rc = w->folder(w->ctx, rel, &st);
    }
    if (rc == 0 && names.n > 0 && depth >= DAGWALK_MAX_DEPTH) {
        if (w->too_deep != NULL)
            w->too_deep(w->ctx, full);
    } else {
        for (size_t i = 0; rc == 0 && i < names.n; i++)
            rc = walk_entry(w, rel, names.v[i], depth, tr, err);
    }
    names_free(&names);
    free(full);
    return rc;
}

int dagwalk_run(const struct dagwalk *w, struct weir_err *err)
{
    struct trail tr;

    memset(&tr, 0, sizeof(tr));
    return walk(w, "", 0, &tr, err);
}
