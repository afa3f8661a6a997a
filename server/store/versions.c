/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of DAG versions: listing them and their source; a valid file of the
 * DAGs folder or a submitted text becomes a version (a new one only when
 * the DAG never had that text) and the current one; deleting an API DAG
 * (or a file DAG whose file is gone) with its versions and runs. Writers
 * lock the DAG's row first, so a folder load, a submission or a trigger
 * of the same id waits.
 */
#include "store/versions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/query.h"
#include "store/read.h"

/* Free the strings of item, a struct store_dag_version (store_item_cb). */
static void version_item_cb(void *item)
{
    struct store_dag_version *v = item;

    free(v->hash);
    free(v->origin);
    free(v->path);
}

void store_dag_versions_free(struct store_dag_version *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        version_item_cb(&v[i]);
    free(v);
}

static int dag_exists(struct store_conn *c, const char *id, bool *exists,
                      struct weir_err *err)
{
    const char *params[1] = {id};
    PGresult *r = NULL;
    int rc;

    rc = store_query(c,
                     "SELECT 1 FROM dags WHERE id = $1"
                     " AND deleted_at IS NULL",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    *exists = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

/* A row of store_dag_versions() into item, a struct store_dag_version
 * (store_row_cb). */
static int version_from_row(const PGresult *r, int row, void *item,
                            struct weir_err *err)
{
    struct store_dag_version *v = item;
    int rc;

    v->id = store_val_i64(r, row, 0);
    v->created_at = store_val_i64(r, row, 4);
    rc = store_val_dup(r, row, 1, &v->hash, err);
    if (rc == 0)
        rc = store_val_dup(r, row, 2, &v->origin, err);
    if (rc == 0)
        rc = store_val_dup(r, row, 3, &v->path, err);
    return rc;
}

int store_dag_versions(struct store_conn *c, const char *id,
                       struct store_dag_version **out, size_t *n,
                       struct weir_err *err)
{
    const char *params[1] = {id};
    void *v = NULL;
    PGresult *r = NULL;
    bool exists = true;
    size_t rows = 0;
    int rc;

    rc = store_query(c,
                     "SELECT id, hash, origin, path,"
                     " extract(epoch FROM created_at)::bigint"
                     " FROM dag_versions WHERE dag_id = $1 ORDER BY id DESC",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    rc = store_rows_map(r, sizeof(struct store_dag_version), version_from_row,
                        version_item_cb, &v, &rows, err);
    PQclear(r);
    if (rc < 0)
        return rc;
    if (rows == 0)
        rc = dag_exists(c, id, &exists, err);
    if (rc == 0 && !exists)
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no DAG \"%s\"", id);
    if (rc < 0) {
        store_dag_versions_free(v, rows);
        return rc;
    }
    *out = v;
    *n = rows;
    return 0;
}

int store_dag_version_source(struct store_conn *c, int64_t version_id,
                             char **source, size_t *len, char *dag_id,
                             size_t dag_id_len, struct weir_err *err)
{
    char id[WEIR_I64_LEN];
    const char *params[1] = {id};
    PGresult *r = NULL;
    char *text;
    int rc;

    WEIR_I64(id, version_id);
    rc = store_query_one(
        c, "SELECT dag_id, source FROM dag_versions WHERE id = $1", 1, params,
        &r, err, "no DAG version %s", id);
    if (rc < 0)
        return rc;
    text = strdup(PQgetvalue(r, 0, 1));
    if (text == NULL) {
        PQclear(r);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    snprintf(dag_id, dag_id_len, "%s", PQgetvalue(r, 0, 0));
    *len = (size_t)PQgetlength(r, 0, 1);
    *source = text;
    PQclear(r);
    return 0;
}

/*
 * The version of DAG id with this hash, added (origin "file" when path is
 * given, else "api") when the DAG never had that text. *created says
 * whether it was added. Run inside the caller's transaction.
 */
static int version_find_or_add(struct store_conn *c, const char *id,
                               const char *path, const char *hash,
                               const char *source, int64_t *version_id,
                               bool *created, struct weir_err *err)
{
    const char *params[5] = {id, path, hash, source, path ? "file" : "api"};
    const char *key[2] = {id, hash};
    PGresult *r = NULL;
    int rc;

    rc = store_query(c,
                     "INSERT INTO dag_versions (dag_id, path, hash, source, "
                     "origin) VALUES ($1, $2, $3, $4, $5)"
                     " ON CONFLICT (dag_id, hash) DO NOTHING RETURNING id",
                     5, params, &r, err);
    if (rc < 0)
        return rc;
    *created = PQntuples(r) > 0;
    if (!*created) {
        PQclear(r);
        r = NULL;
        rc = store_query(c,
                         "SELECT id FROM dag_versions"
                         " WHERE dag_id = $1 AND hash = $2",
                         2, key, &r, err);
        if (rc < 0)
            return rc;
    }
    if (PQntuples(r) == 0)
        rc =
            weir_err_set(err, WEIR_EINTERNAL, "version of \"%s\" vanished", id);
    else
        *version_id = store_val_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

/* Lock the DAG's row, creating it when missing; refuse a DAG of the API. */
static int claim_dag_row(struct store_conn *c, const char *id, const char *path,
                         struct weir_err *err)
{
    const char *params[2] = {id, path};
    PGresult *r = NULL;
    bool api = false;
    int rc;

    rc = store_cmd(c,
                   "INSERT INTO dags (id, origin, path) VALUES ($1, 'file', $2)"
                   " ON CONFLICT (id) DO NOTHING",
                   2, params, err);
    if (rc == 0)
        rc = store_query(c, "SELECT origin FROM dags WHERE id = $1 FOR UPDATE",
                         1, params, &r, err);
    if (rc < 0)
        return rc;
    api = PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, 0), "api") == 0;
    PQclear(r);
    if (api)
        return weir_err_set(err, WEIR_ECONFLICT,
                            "DAG id \"%s\" is already used by a DAG submitted "
                            "through the API",
                            id);
    return 0;
}

static int file_make_current(struct store_conn *c, const char *id,
                             const char *path, int64_t version_id,
                             struct weir_err *err)
{
    char vid[WEIR_I64_LEN];
    const char *params[3] = {id, vid, path};
    int rc;

    WEIR_I64(vid, version_id);
    rc = store_cmd(c,
                   "UPDATE dags SET current_version_id = $2, path = $3,"
                   " last_error = NULL, last_error_at = NULL,"
                   " file_missing = false, deleted_at = NULL,"
                   " updated_at = now()"
                   " WHERE id = $1 AND (current_version_id IS DISTINCT FROM $2"
                   " OR path IS DISTINCT FROM $3 OR last_error IS NOT NULL"
                   " OR file_missing)",
                   3, params, err);
    if (rc < 0)
        return rc;
    /* A file that failed before it ever loaded left a placeholder under
     * another id; the file now names its DAG, so the placeholder goes. */
    params[1] = path;
    return store_cmd(c,
                     "DELETE FROM dags WHERE origin = 'file' AND path = $2"
                     " AND id <> $1 AND current_version_id IS NULL"
                     " AND NOT EXISTS (SELECT 1 FROM dag_versions v"
                     " WHERE v.dag_id = dags.id)",
                     2, params, err);
}

int store_dag_upsert_file(struct store_conn *c, const char *id,
                          const char *path, const char *source, size_t len,
                          const char *hash, int64_t *version_id, bool *created,
                          struct weir_err *err)
{
    int64_t vid = 0;
    bool added = false;
    int rc;

    if (strlen(source) != len)
        return weir_err_set(err, WEIR_EINVAL, "%s: holds a NUL byte", path);
    rc = store_begin(c, err);
    if (rc == 0)
        rc = claim_dag_row(c, id, path, err);
    if (rc == 0)
        rc = version_find_or_add(c, id, path, hash, source, &vid, &added, err);
    if (rc == 0)
        rc = file_make_current(c, id, path, vid, err);
    if (rc == 0)
        rc = store_commit(c, err);
    if (rc < 0) {
        store_rollback(c);
        return rc;
    }
    *version_id = vid;
    *created = added;
    return 0;
}

/* The origin and path of DAG id, its row locked until the transaction
 * ends. WEIR_ENOTFOUND when there is no such DAG. */
/* What lock_dag_row() read besides the origin and path. */
struct dag_row_flags {
    bool file_missing; /* a file DAG whose file is gone */
    bool deleted;      /* such a DAG, deleted with its runs kept */
};

static int lock_dag_row_flags(struct store_conn *c, const char *id, bool *file,
                              char *path, size_t path_len,
                              struct dag_row_flags *fl, struct weir_err *err)
{
    const char *params[1] = {id};
    PGresult *r = NULL;
    int rc;

    rc = store_query_one(
        c,
        "SELECT origin, path, file_missing, deleted_at IS NOT NULL"
        " FROM dags WHERE id = $1 FOR UPDATE",
        1, params, &r, err, "no DAG \"%s\"", id);
    if (rc < 0)
        return rc;
    *file = strcmp(PQgetvalue(r, 0, 0), "file") == 0;
    snprintf(path, path_len, "%s", PQgetvalue(r, 0, 1));
    fl->file_missing = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
    fl->deleted = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
    PQclear(r);
    return 0;
}

static int lock_dag_row(struct store_conn *c, const char *id, bool *file,
                        char *path, size_t path_len, struct weir_err *err)
{
    struct dag_row_flags fl = {0};

    return lock_dag_row_flags(c, id, file, path, path_len, &fl, err);
}

/* Create the API DAG's row unless it exists, then lock it; refuse a DAG
 * of the DAGs folder. */
static int claim_api_row(struct store_conn *c, const char *id, bool *created,
                         struct weir_err *err)
{
    const char *params[1] = {id};
    PGresult *r = NULL;
    char path[512];
    bool file = false;
    int rc;

    rc = store_query(c,
                     "INSERT INTO dags (id, origin) VALUES ($1, 'api')"
                     " ON CONFLICT (id) DO NOTHING RETURNING 1",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    *created = PQntuples(r) > 0;
    PQclear(r);
    rc = lock_dag_row(c, id, &file, path, sizeof(path), err);
    if (rc == 0 && file)
        rc = weir_err_set(err, WEIR_ECONFLICT,
                          "DAG \"%s\" is defined by file %s; edit the file", id,
                          path);
    return rc;
}

static int api_make_current(struct store_conn *c, const char *id,
                            int64_t version_id, struct weir_err *err)
{
    char vid[WEIR_I64_LEN];
    const char *params[2] = {id, vid};

    WEIR_I64(vid, version_id);
    return store_cmd(c,
                     "UPDATE dags SET current_version_id = $2,"
                     " last_error = NULL, last_error_at = NULL,"
                     " updated_at = now()"
                     " WHERE id = $1 AND (current_version_id IS DISTINCT FROM"
                     " $2 OR last_error IS NOT NULL)",
                     2, params, err);
}

int store_dag_api_upsert(struct store_conn *c, const char *id,
                         const char *source, size_t len, const char *hash,
                         struct store_dag_api_result *out, struct weir_err *err)
{
    struct store_dag_api_result res = {0};
    int rc;

    if (strlen(source) != len)
        return weir_err_set(err, WEIR_EINVAL, "the DAG text holds a NUL byte");
    rc = store_begin(c, err);
    if (rc == 0)
        rc = claim_api_row(c, id, &res.dag_created, err);
    if (rc == 0)
        rc = version_find_or_add(c, id, NULL, hash, source, &res.version_id,
                                 &res.version_created, err);
    if (rc == 0)
        rc = api_make_current(c, id, res.version_id, err);
    if (rc == 0)
        rc = store_commit(c, err);
    if (rc < 0) {
        store_rollback(c);
        return rc;
    }
    *out = res;
    return 0;
}

/*
 * Refuse while DAG id has runs that are not finished, or attempts still
 * running on workers: a canceled run's commands run until the cancel
 * reaches their workers, and a worker whose attempt vanished would not
 * learn that it should stop.
 */
static int check_nothing_running(struct store_conn *c, const char *id,
                                 struct weir_err *err)
{
    const char *params[1] = {id};
    PGresult *r = NULL;
    int64_t runs, attempts;
    int rc;

    rc = store_query(c,
                     "SELECT (SELECT count(*) FROM runs WHERE dag_id = $1"
                     " AND state IN ('queued', 'running')),"
                     " (SELECT count(*) FROM attempts a"
                     " JOIN tasks t ON t.id = a.task_id"
                     " JOIN runs r ON r.id = t.run_id"
                     " WHERE r.dag_id = $1 AND a.state = 'running')",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    runs = store_val_i64(r, 0, 0);
    attempts = store_val_i64(r, 0, 1);
    PQclear(r);
    if (runs > 0)
        return weir_err_set(err, WEIR_ECONFLICT,
                            "DAG \"%s\" has %lld queued or running run(s); "
                            "cancel them or wait for them to finish",
                            id, (long long)runs);
    if (attempts > 0)
        return weir_err_set(err, WEIR_ECONFLICT,
                            "DAG \"%s\" has %lld attempt(s) still running on "
                            "workers; they stop once their workers learn of "
                            "the cancel: try again shortly",
                            id, (long long)attempts);
    return 0;
}

/* Delete the runs (their tasks, attempts and logs cascade), then the
 * versions, then the row; the row's current version goes first, as it
 * refers to one of the versions. */
static int delete_dag_rows(struct store_conn *c, const char *id,
                           int64_t *n_runs, struct weir_err *err)
{
    const char *params[1] = {id};
    PGresult *r = NULL;
    int rc;

    rc = store_query(c, "DELETE FROM runs WHERE dag_id = $1", 1, params, &r,
                     err);
    if (rc < 0)
        return rc;
    *n_runs = atoll(PQcmdTuples(r));
    PQclear(r);
    rc = store_cmd(c, "UPDATE dags SET current_version_id = NULL WHERE id = $1",
                   1, params, err);
    if (rc == 0)
        rc = store_cmd(c, "DELETE FROM dag_versions WHERE dag_id = $1", 1,
                       params, err);
    if (rc == 0)
        rc = store_cmd(c, "DELETE FROM dags WHERE id = $1", 1, params, err);
    return rc;
}

/* Hide DAG id (its file is gone) and keep its runs, which refer to its
 * versions: *kept gets how many. */
static int hide_dag_row(struct store_conn *c, const char *id, int64_t *kept,
                        struct weir_err *err)
{
    const char *params[1] = {id};
    PGresult *r = NULL;
    int rc;

    rc = store_query(c, "SELECT count(*) FROM runs WHERE dag_id = $1", 1,
                     params, &r, err);
    if (rc < 0)
        return rc;
    *kept = store_val_i64(r, 0, 0);
    PQclear(r);
    if (*kept == 0)
        return 0;
    return store_cmd(c,
                     "UPDATE dags SET deleted_at = now(), paused = false,"
                     " updated_at = now() WHERE id = $1",
                     1, params, err);
}

int store_dag_api_delete(struct store_conn *c, const char *id, bool with_runs,
                         int64_t *n_runs, int64_t *n_kept, struct weir_err *err)
{
    struct dag_row_flags fl = {0};
    char path[512];
    bool file = false;
    int64_t runs = 0, kept = 0;
    int rc;

    rc = store_begin(c, err);
    if (rc == 0)
        rc = lock_dag_row_flags(c, id, &file, path, sizeof(path), &fl, err);
    if (rc == 0 && fl.deleted && !with_runs)
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no DAG \"%s\"", id);
    if (rc == 0 && file && !fl.file_missing)
        rc = weir_err_set(err, WEIR_ECONFLICT,
                          "DAG \"%s\" is defined by file %s; remove the file",
                          id, path);
    if (rc == 0)
        rc = check_nothing_running(c, id, err);
    if (rc == 0 && file && !with_runs)
        rc = hide_dag_row(c, id, &kept, err);
    if (rc == 0 && kept == 0)
        rc = delete_dag_rows(c, id, &runs, err);
    if (rc == 0)
        rc = store_commit(c, err);
    if (rc < 0) {
        store_rollback(c);
        return rc;
    }
    if (n_runs != NULL)
        *n_runs = runs;
    if (n_kept != NULL)
        *n_kept = kept;
    return 0;
}
