/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The statements behind DAGs submitted over the API (origin 'api'):
 * recording a submitted version and deleting such a DAG with its history.
 * A DAG id held by a file of the DAGs folder is never touched here, as the
 * folder loader never touches an API DAG (store_dagfile.c).
 */
#ifndef WEIR_STORE_DAGAPI_H
#define WEIR_STORE_DAGAPI_H

#include "store/store.h"

/* What store_dag_api_upsert() did. */
struct store_dag_api_result {
    int64_t version_id;   /* the DAG's current version now */
    bool dag_created;     /* the DAG did not exist before */
    bool version_created; /* the source text was new for this DAG */
};

/*
 * In one transaction: create DAG id with origin 'api' unless it exists,
 * add a version for (id, hash) with source (len bytes, no NUL) unless the
 * DAG already has that text, make it current and clear last_error.
 * Returns 0 with *out, or WEIR_ECONFLICT (nothing written) when id
 * belongs to a DAG of the DAGs folder; err names its file.
 */
WEIR_MUSTCHECK int store_dag_api_upsert(struct store_conn *c, const char *id,
                                        const char *source, size_t len,
                                        const char *hash,
                                        struct store_dag_api_result *out,
                                        struct weir_err *err);

/*
 * In one transaction: delete DAG id, an API DAG or a file DAG whose file
 * is gone, with every version and every run (tasks, attempts and log
 * lines go with the runs). A file DAG's runs are kept unless with_runs:
 * its row is then hidden (deleted_at) and stays for its runs, whose
 * count goes to *n_kept (may be NULL). *n_runs (may be NULL) gets how
 * many runs went. WEIR_ENOTFOUND for no such DAG (a hidden one, unless
 * with_runs); WEIR_ECONFLICT (nothing written) when its file is still
 * there, it still has queued or running runs, or attempts still running
 * on workers (a canceled run's, until the workers stop them).
 */
WEIR_MUSTCHECK int store_dag_api_delete(struct store_conn *c, const char *id,
                                        bool with_runs, int64_t *n_runs,
                                        int64_t *n_kept, struct weir_err *err);

#endif
