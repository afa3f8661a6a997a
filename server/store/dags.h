/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dags table: a DAG's row (origin, file, flags, current version, cap)
 * as the API, the scheduler loop and the folder loader read and change
 * it, and the row lock that a run creation or a run's end takes first.
 * Versions and how a file or a submission records one: store/versions.h.
 */
#ifndef WEIR_STORE_DAGS_H
#define WEIR_STORE_DAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "store/pool.h"
#include "store/read.h"

/* The origin and path of DAG id (path may be NULL, new string), or
 * WEIR_ENOTFOUND. */
WEIR_MUSTCHECK int store_dag_owner(struct store_conn *c, const char *id,
                                   char *origin, size_t origin_len, char **path,
                                   struct weir_err *err);

/* Set DAG id's paused flag; WEIR_ENOTFOUND when there is no such DAG. */
WEIR_MUSTCHECK int store_dag_set_paused(struct store_conn *c, const char *id,
                                        bool paused, struct weir_err *err);

/*
 * In one transaction: set the concurrency cap of DAG id (its current
 * version's `concurrency:`, 0 for none) and, when that makes the DAG
 * capped or uncapped, flag its unfinished tasks for the claim that
 * applies (docs/architecture.md, "Concurrency caps").
 */
WEIR_MUSTCHECK int store_dag_cap_set(struct store_conn *c, const char *id,
                                     int concurrency, struct weir_err *err);

/* What store_dag_lock() read under the lock. */
struct store_dag_locked {
    bool paused;        /* no triggered run may start */
    bool file_missing;  /* its file is gone: no run may start */
    int64_t version_id; /* the current version, 0 if none */
    int running;        /* its runs in state running */
};

/*
 * Lock DAG id's row for a run creation or a run's end and fill *out;
 * the count of running runs is read after the lock is granted.
 * WEIR_ENOTFOUND when there is no such DAG (or it was deleted).
 */
WEIR_MUSTCHECK int store_dag_lock(struct store_conn *c, const char *id,
                                  struct store_dag_locked *out,
                                  struct weir_err *err);

/*
 * WEIR_ECONFLICT, naming the DAG, when l says that DAG id cannot start a
 * run (its file is gone, or it has no valid version); 0 otherwise.
 */
WEIR_MUSTCHECK int store_dag_startable(const char *id,
                                       const struct store_dag_locked *l,
                                       struct weir_err *err);

/* A DAG as the scheduler sees it. */
struct store_sched_dag {
    char id[STORE_ID_MAX]; /* the DAG id */
    int64_t version_id;    /* current version, 0 when it never loaded */
    bool paused;           /* no new scheduled runs */
    bool missing;          /* its file is gone from the DAGs folder */
};

/*
 * Every DAG with a current version, ordered by id, into a new array *out
 * of *n entries (freed with free()).
 */
WEIR_MUSTCHECK int store_sched_dags(struct store_conn *c,
                                    struct store_sched_dag **out, size_t *n,
                                    struct weir_err *err);

/*
 * Record a failed load of the file at path: the DAG that path holds keeps
 * its current version and gets last_error = text. When no DAG has that
 * path, a placeholder row with id placeholder_id is created (unless that id
 * is taken; then *recorded is false and nothing is written).
 */
WEIR_MUSTCHECK int store_dag_file_error(struct store_conn *c, const char *path,
                                        const char *placeholder_id,
                                        const char *text, bool *recorded,
                                        struct weir_err *err);

/*
 * The file at path (relative to the DAGs folder) is gone: the DAG it held
 * keeps its versions and gets last_error "<path>: file not found in the
 * DAGs folder", the text a folder scan writes; a placeholder row of a file
 * that never loaded is deleted. *n_missing (may be NULL) gets how many
 * rows were marked.
 */
WEIR_MUSTCHECK int store_sched_file_gone(struct store_conn *c, const char *path,
                                         int *n_missing, struct weir_err *err);

/*
 * Set last_error on every file DAG whose path is not among the n paths
 * given (their files are gone); their versions stay. *n_missing (may be
 * NULL) gets how many rows that was.
 */
WEIR_MUSTCHECK int store_dag_files_missing(struct store_conn *c,
                                           const char *const *paths, size_t n,
                                           int *n_missing,
                                           struct weir_err *err);

#endif
