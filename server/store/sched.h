/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The statements of the scheduler loop (store_sched.c): what it needs to
 * know about every DAG to keep its cron timers, a DAG file that went away,
 * and the insert of a run for one trigger slot, which does nothing when
 * that slot already has its run.
 */
#ifndef WEIR_STORE_SCHED_H
#define WEIR_STORE_SCHED_H

#include "store/run.h"

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
 * The file at path (relative to the DAGs folder) is gone: the DAG it held
 * keeps its versions and gets last_error "<path>: file not found in the
 * DAGs folder", the text a folder scan writes; a placeholder row of a file
 * that never loaded is deleted. *n_missing (may be NULL) gets how many
 * rows were marked.
 */
WEIR_MUSTCHECK int store_sched_file_gone(struct store_conn *c, const char *path,
                                         int *n_missing, struct weir_err *err);

/*
 * Insert a run for the trigger slot (n->dag_id, n->trigger_key,
 * logical_time in Unix seconds), unless that slot already has one: then
 * nothing is written and *inserted is false. *id gets the new run's id.
 */
WEIR_MUSTCHECK int store_sched_run_insert(struct store_conn *c,
                                          const struct store_run_new *n,
                                          int64_t logical_time, int64_t *id,
                                          bool *inserted, struct weir_err *err);

/*
 * The latest slot (Unix seconds) that trigger key of dag_id has a run
 * for; for a trigger that has none yet, when the DAG's current version was
 * loaded; 0 when neither is known: where a catch-up starts from.
 */
WEIR_MUSTCHECK int store_sched_last_slot(struct store_conn *c,
                                         const char *dag_id, const char *key,
                                         int64_t *slot, struct weir_err *err);

#endif
