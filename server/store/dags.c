/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of the dags table: reading DAG rows, their flags (paused, a file
 * gone, the last load error), the concurrency cap, and the row lock of a
 * run creation or a run's end.
 */
#include "store/dags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/query.h"
#include "store/read.h"

#define DAG_COLUMNS                                                            \
    "SELECT d.id, d.origin, d.path, d.paused, d.current_version_id, v.hash,"   \
    " d.last_error, extract(epoch FROM d.updated_at)::bigint, d.file_missing"  \
    " FROM dags d LEFT JOIN dag_versions v ON v.id = d.current_version_id"     \
    " WHERE d.deleted_at IS NULL "

void store_dag_cleanup(struct store_dag *d)
{
    free(d->id);
    free(d->origin);
    free(d->path);
    free(d->hash);
    free(d->last_error);
    memset(d, 0, sizeof(*d));
}

/* store_dag_cleanup() as a store_item_cb. */
static void dag_item_cb(void *item)
{
    store_dag_cleanup(item);
}

void store_dag_list_free(struct store_dag *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        store_dag_cleanup(&v[i]);
    free(v);
}

/* A row of DAG_COLUMNS into item, a struct store_dag (store_row_cb). */
static int dag_from_row(const PGresult *r, int row, void *item,
                        struct weir_err *err)
{
    struct store_dag *d = item;
    int rc;

    memset(d, 0, sizeof(*d));
    rc = store_val_dup(r, row, 0, &d->id, err);
    if (rc == 0)
        rc = store_val_dup(r, row, 1, &d->origin, err);
    if (rc == 0)
        rc = store_val_dup(r, row, 2, &d->path, err);
    if (rc == 0)
        rc = store_val_dup(r, row, 5, &d->hash, err);
    if (rc == 0)
        rc = store_val_dup(r, row, 6, &d->last_error, err);
    if (rc < 0) {
        store_dag_cleanup(d);
        return rc;
    }
    d->paused = strcmp(PQgetvalue(r, row, 3), "t") == 0;
    d->version_id = store_val_i64(r, row, 4);
    d->updated_at = store_val_i64(r, row, 7);
    d->file_missing = strcmp(PQgetvalue(r, row, 8), "t") == 0;
    return 0;
}

int store_dag_list(struct store_conn *c, struct store_dag **out, size_t *n,
                   struct weir_err *err)
{
    PGresult *r = NULL;
    void *v = NULL;
    int rc;

    rc = store_query(c, DAG_COLUMNS "ORDER BY d.id", 0, NULL, &r, err);
    if (rc < 0)
        return rc;
    rc = store_rows_map(r, sizeof(struct store_dag), dag_from_row, dag_item_cb,
                        &v, n, err);
    PQclear(r);
    if (rc == 0)
        *out = v;
    return rc;
}

int store_dag_get(struct store_conn *c, const char *id, struct store_dag *out,
                  struct weir_err *err)
{
    const char *params[1] = {id};
    PGresult *r = NULL;
    int rc;

    rc = store_query_one(c, DAG_COLUMNS "AND d.id = $1", 1, params, &r, err,
                         "no DAG \"%s\"", id);
    if (rc < 0)
        return rc;
    rc = dag_from_row(r, 0, out, err);
    PQclear(r);
    return rc;
}

int store_dag_owner(struct store_conn *c, const char *id, char *origin,
                    size_t origin_len, char **path, struct weir_err *err)
{
    const char *params[1] = {id};
    PGresult *r = NULL;
    char *p = NULL;
    int rc;

    rc = store_query_one(c, "SELECT origin, path FROM dags WHERE id = $1", 1,
                         params, &r, err, "no DAG \"%s\"", id);
    if (rc < 0)
        return rc;
    rc = store_val_dup(r, 0, 1, &p, err);
    if (rc == 0) {
        snprintf(origin, origin_len, "%s", PQgetvalue(r, 0, 0));
        *path = p;
    }
    PQclear(r);
    return rc;
}

int store_dag_set_paused(struct store_conn *c, const char *id, bool paused,
                         struct weir_err *err)
{
    const char *params[2] = {id, paused ? "true" : "false"};
    char msg[100];

    snprintf(msg, sizeof(msg), "no DAG \"%s\"", id);
    return store_cmd_rows(c,
                          "UPDATE dags SET paused = $2, updated_at = now()"
                          " WHERE id = $1",
                          2, params, 1, true, msg, err);
}

/*
 * Flag the unfinished tasks of DAG id's active runs for the cap $2 (NULL:
 * none); rows already flagged so are left alone (and unlocked).
 */
static const char reflag_sql[] =
    "UPDATE tasks t SET capped_dag = CASE WHEN $2::integer IS NULL THEN NULL"
    " ELSE $1 END FROM runs r WHERE r.dag_id = $1"
    " AND r.state IN ('queued', 'running') AND t.run_id = r.id"
    " AND t.state NOT IN ('success', 'failed', 'skipped', 'upstream_failed',"
    " 'canceled') AND t.capped_dag IS DISTINCT FROM"
    " CASE WHEN $2::integer IS NULL THEN NULL ELSE $1 END";

/*
 * The cap of DAG id is now `concurrency` (0: none). The tasks are flagged
 * before the DAG's row is locked (a completion may hold tasks and then
 * want that row: taking them in the other order could deadlock), and
 * again after, for tasks a run creation added in between. Retried runs
 * are flagged anew when their tasks are reset.
 */
int store_dag_cap_set(struct store_conn *c, const char *id, int concurrency,
                      struct weir_err *err)
{
    char cap[WEIR_I64_LEN];
    const char *params[2] = {id, concurrency > 0 ? cap : NULL};
    PGresult *r = NULL;
    bool changed = false;
    int rc;

    WEIR_I64(cap, concurrency);
    rc = store_begin(c, err);
    if (rc == 0)
        rc = store_cmd(c, reflag_sql, 2, params, err);
    if (rc == 0)
        rc = store_query(c,
                         "UPDATE dags SET concurrency = $2::integer"
                         " WHERE id = $1 AND concurrency IS DISTINCT FROM"
                         " $2::integer",
                         2, params, &r, err);
    changed = rc == 0 && strcmp(PQcmdTuples(r), "1") == 0;
    PQclear(r);
    if (rc == 0 && changed)
        rc = store_cmd(c, reflag_sql, 2, params, err);
    rc = store_end(c, rc, err);
    if (rc == 0 && changed)
        log_info("event=dag_cap dag=%s concurrency=%d", id, concurrency);
    return rc;
}

int store_dag_lock(struct store_conn *c, const char *id,
                   struct store_dag_locked *out, struct weir_err *err)
{
    const char *params[1] = {id};
    PGresult *r = NULL;
    int rc;

    /* Two statements: a count in the locking statement would use the
     * snapshot taken before the lock was granted, and miss the runs a
     * transaction that held the lock meanwhile committed. */
    rc = store_query_one(
        c,
        "SELECT paused, current_version_id, file_missing FROM dags"
        " WHERE id = $1 AND deleted_at IS NULL FOR NO KEY UPDATE",
        1, params, &r, err, "no DAG \"%s\"", id);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->paused = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    out->version_id = store_val_i64(r, 0, 1);
    out->file_missing = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
    PQclear(r);
    r = NULL;
    rc = store_query(c,
                     /* a canceled run (or one its run_timeout failed)
                      * holds its slot while a step of it still runs
                      * (until it is reported or its lease expires) */
                     "SELECT (SELECT count(*) FROM runs WHERE dag_id = $1"
                     " AND state = 'running') + (SELECT count(DISTINCT"
                     " t.run_id) FROM attempts a JOIN tasks t ON t.id ="
                     " a.task_id JOIN runs r ON r.id = t.run_id WHERE"
                     " a.state = 'running' AND r.dag_id = $1 AND r.state IN"
                     " ('canceled', 'failed'))",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    out->running = (int)store_val_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

int store_dag_startable(const char *id, const struct store_dag_locked *l,
                        struct weir_err *err)
{
    if (l->file_missing)
        return weir_err_set(err, WEIR_ECONFLICT,
                            "DAG \"%s\" cannot start a run: its file is gone "
                            "from the DAGs folder (restore the file, or "
                            "delete the DAG)",
                            id);
    if (l->version_id == 0)
        return weir_err_set(err, WEIR_ECONFLICT,
                            "DAG \"%s\" has no valid version loaded", id);
    return 0;
}

/* A row of store_sched_dags() into item, a struct store_sched_dag
 * (store_row_cb). */
static int sched_dag_from_row(const PGresult *r, int row, void *item,
                              struct weir_err *err)
{
    struct store_sched_dag *d = item;

    (void)err;
    snprintf(d->id, sizeof(d->id), "%s", PQgetvalue(r, row, 0));
    d->version_id = store_val_i64(r, row, 1);
    d->paused = strcmp(PQgetvalue(r, row, 2), "t") == 0;
    d->missing = strcmp(PQgetvalue(r, row, 3), "t") == 0;
    return 0;
}

int store_sched_dags(struct store_conn *c, struct store_sched_dag **out,
                     size_t *n, struct weir_err *err)
{
    PGresult *r = NULL;
    void *v = NULL;
    int rc;

    rc = store_query(c,
                     "SELECT id, current_version_id, paused, file_missing"
                     " FROM dags WHERE current_version_id IS NOT NULL"
                     " AND deleted_at IS NULL"
                     " ORDER BY id",
                     0, NULL, &r, err);
    if (rc < 0)
        return rc;
    rc = store_rows_map(r, sizeof(struct store_sched_dag), sched_dag_from_row,
                        NULL, &v, n, err);
    PQclear(r);
    if (rc == 0)
        *out = v;
    return rc;
}

int store_dag_file_error(struct store_conn *c, const char *path,
                         const char *placeholder_id, const char *text,
                         bool *recorded, struct weir_err *err)
{
    const char *params[3] = {path, text, placeholder_id};
    PGresult *r = NULL;
    int rc;

    rc = store_query(c,
                     "UPDATE dags SET"
                     " last_error_at = CASE WHEN last_error IS DISTINCT FROM $2"
                     " THEN now() ELSE last_error_at END,"
                     " updated_at = CASE WHEN last_error IS DISTINCT FROM $2"
                     " THEN now() ELSE updated_at END,"
                     " last_error = $2, file_missing = false, deleted_at = NULL"
                     " WHERE origin = 'file' AND path = $1",
                     2, params, &r, err);
    if (rc < 0)
        return rc;
    *recorded = strcmp(PQcmdTuples(r), "0") != 0;
    PQclear(r);
    if (*recorded || placeholder_id == NULL)
        return 0;
    rc = store_query(c,
                     "INSERT INTO dags (id, origin, path, last_error,"
                     " last_error_at) VALUES ($3, 'file', $1, $2, now())"
                     " ON CONFLICT (id) DO NOTHING",
                     3, params, &r, err);
    if (rc < 0)
        return rc;
    *recorded = strcmp(PQcmdTuples(r), "0") != 0;
    PQclear(r);
    return 0;
}

/*
 * The statements of mark_missing(): a DAG that never loaded has nothing
 * to keep once its file is gone, the others are marked. [0] for the file
 * DAGs of the paths $1 (a text array), [1] for those of every other path.
 */
static const char *const missing_del_sql[2] = {
    "DELETE FROM dags WHERE origin = 'file' AND current_version_id IS NULL"
    " AND path = ANY ($1::text[]) AND NOT EXISTS (SELECT 1 FROM dag_versions"
    " v WHERE v.dag_id = dags.id)",
    "DELETE FROM dags WHERE origin = 'file' AND current_version_id IS NULL"
    " AND NOT (path = ANY ($1::text[])) AND NOT EXISTS (SELECT 1 FROM"
    " dag_versions v WHERE v.dag_id = dags.id)"};
static const char *const missing_upd_sql[2] = {
    "UPDATE dags SET file_missing = true, updated_at = now()"
    " WHERE origin = 'file' AND path = ANY ($1::text[]) AND NOT file_missing",
    "UPDATE dags SET file_missing = true, updated_at = now()"
    " WHERE origin = 'file' AND NOT (path = ANY ($1::text[]))"
    " AND NOT file_missing"};

/*
 * File DAGs lost their file: those of the n paths given, or, with others,
 * those of every path but these. A DAG that never loaded is deleted, the
 * others keep their versions and get file_missing. *n_missing (may be
 * NULL) gets how many were newly marked.
 */
static int mark_missing(struct store_conn *c, const char *const *paths,
                        size_t n, bool others, int *n_missing,
                        struct weir_err *err)
{
    char *arr = store_strs_literal(paths, n);
    const char *params[1] = {arr};
    PGresult *r = NULL;
    int rc;

    if (arr == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    rc = store_cmd(c, missing_del_sql[others], 1, params, err);
    if (rc == 0)
        rc = store_query(c, missing_upd_sql[others], 1, params, &r, err);
    if (rc == 0 && n_missing != NULL)
        *n_missing = atoi(PQcmdTuples(r));
    PQclear(r);
    free(arr);
    return rc;
}

int store_sched_file_gone(struct store_conn *c, const char *path,
                          int *n_missing, struct weir_err *err)
{
    return mark_missing(c, &path, 1, false, n_missing, err);
}

int store_dag_files_missing(struct store_conn *c, const char *const *paths,
                            size_t n, int *n_missing, struct weir_err *err)
{
    return mark_missing(c, paths, n, true, n_missing, err);
}
