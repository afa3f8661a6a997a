/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DAGs folder: every *.yaml / *.yml file under it (recursively, names
 * starting with '.' skipped) is loaded, validated and recorded.
 *
 * A valid file becomes its DAG's current version (a new version only when
 * the text changed) and is cached in memory. A file that fails keeps its
 * DAG's last good version and records the diagnostics, as
 * "path:line:col: message" lines, in the DAG's last_error; a file that has
 * never loaded gets a placeholder DAG named after its file name's stem
 * (lower-cased, other characters turned into '-'), so that the error is
 * visible in the API. Two files declaring one DAG id: the one loaded
 * later (in path order at start) is the one in error.
 */
#ifndef WEIR_DAGDIR_H
#define WEIR_DAGDIR_H

#include "engine/dagcache.h"
#include "err.h"
#include "store/store.h"

struct dagdir;

/* What one scan did. */
struct dagdir_stats {
    int files;        /* DAG files found */
    int loaded;       /* valid files */
    int new_versions; /* versions added */
    int failed;       /* files in error */
    int missing;      /* DAGs whose file is gone */
};

/*
 * A DAGs folder at root, recording into store and caching into cache
 * (both borrowed; they must outlive it). Returns 0 with *out or
 * WEIR_ENOMEM.
 */
WEIR_MUSTCHECK int dagdir_new(const char *root, struct store *store,
                              struct dagcache *cache, struct dagdir **out,
                              struct weir_err *err);

/* Free it; dagdir_free(NULL) is a no-op. */
void dagdir_free(struct dagdir *dd);

/*
 * Load every DAG file under the root, in path order, then mark DAGs whose
 * file is gone. Files in error do not fail the scan; a missing root or a
 * database failure does (WEIR_EIO, WEIR_EUNAVAIL...).
 */
WEIR_MUSTCHECK int dagdir_scan(struct dagdir *dd, struct dagdir_stats *st,
                               struct weir_err *err);

/*
 * Load one file, path relative to the root, and record the outcome: the
 * unit a folder watch reloads. Returns 0 when it loaded; *new_version
 * (may be NULL) says whether its text was new. WEIR_EINVAL when the file
 * is in error (recorded; err holds the first problem); other codes when
 * the outcome could not be recorded.
 */
WEIR_MUSTCHECK int dagdir_load(struct dagdir *dd, const char *relpath,
                               bool *new_version, struct weir_err *err);

#endif
