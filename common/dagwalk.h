/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one walk of a DAGs folder, shared by the server's load
 * (jobs/dagdir.c), its watch (jobs/watch.c) and `weir validate`, so that
 * all three see the same files: every file named *.yaml or *.yml under
 * the root, in folders at most DAGWALK_MAX_DEPTH deep, names that start
 * with '.' left out, entries of a folder in byte order. A link to a
 * folder is followed, unless it leads back to a folder on the way down
 * to it (a loop of links is walked once).
 */
#ifndef WEIR_DAGWALK_H
#define WEIR_DAGWALK_H

#include <stdbool.h>
#include <sys/stat.h>

#include "err.h"

#define DAGWALK_MAX_DEPTH 16 /* folder levels below the root walked */

struct dagwalk {
    const char *root; /* the folder walked */
    void *ctx;        /* passed to each callback */
    /* A folder reached (rel "" for the root) and its stat; NULL to
     * ignore. A return < 0 stops the walk with that code. */
    int (*folder)(void *ctx, const char *rel, const struct stat *st);
    /* A DAG file, rel to the root and full (root/rel). A return < 0
     * stops the walk with that code. */
    int (*file)(void *ctx, const char *rel, const char *full);
    /* A folder that cannot be read (errnum says why): return 0 to go on
     * without it, or < 0 to stop the walk with that code. NULL: the walk
     * stops with WEIR_EIO, "FOLDER: cannot open folder: why". */
    int (*unreadable)(void *ctx, const char *full, int errnum);
    /* A folder at DAGWALK_MAX_DEPTH, whose entries are not read; NULL to
     * ignore. */
    void (*too_deep)(void *ctx, const char *full);
};

/* Walk w->root. Returns 0, a callback's code, WEIR_ENOMEM, or WEIR_EIO
 * (err says which folder and why). */
WEIR_MUSTCHECK int dagwalk_run(const struct dagwalk *w, struct weir_err *err);

/* Whether a file's name (not a path) names a DAG file. */
bool dagwalk_is_dag_file(const char *name);

/* "a/b" (just b when a is ""), malloc'd; NULL when out of memory. */
char *dagwalk_join(const char *a, const char *b);

#endif
