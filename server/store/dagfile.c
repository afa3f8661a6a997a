/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of loading the DAGs folder: a valid file becomes a version (a new
 * one only when its text changed) and the DAG's current version; a file
 * that fails leaves the current version alone and sets last_error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

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

int store_version_find_or_add(struct store_conn *c, const char *id,
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

static int make_current(struct store_conn *c, const char *id, const char *path,
                        int64_t version_id, struct weir_err *err)
{
    char vid[24];
    const char *params[3] = {id, vid, path};
    int rc;

    snprintf(vid, sizeof(vid), "%lld", (long long)version_id);
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
        rc = store_version_find_or_add(c, id, path, hash, source, &vid, &added,
                                       err);
    if (rc == 0)
        rc = make_current(c, id, path, vid, err);
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

/* paths as a PostgreSQL array literal: {"a","b"}, quotes and backslashes
 * escaped. A new string, or NULL when out of memory. */
static char *array_literal(const char *const *paths, size_t n)
{
    size_t len = 3;
    char *s, *o;

    for (size_t i = 0; i < n; i++)
        len += 2 * strlen(paths[i]) + 3;
    s = malloc(len);
    if (s == NULL)
        return NULL;
    o = s;
    *o++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *o++ = ',';
        *o++ = '"';
        for (const char *p = paths[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                *o++ = '\\';
            *o++ = *p;
        }
        *o++ = '"';
    }
    *o++ = '}';
    *o = '\0';
    return s;
}

int store_dags_mark_missing(struct store_conn *c, const char *match,
                            const char *arg, int *n_missing,
                            struct weir_err *err)
{
    const char *params[1] = {arg};
    char del[320], upd[320];
    PGresult *r = NULL;
    int rc;

    /* A DAG that never loaded has nothing to keep once its file is gone. */
    snprintf(del, sizeof(del),
             "DELETE FROM dags WHERE origin = 'file'"
             " AND current_version_id IS NULL AND %s"
             " AND NOT EXISTS (SELECT 1 FROM dag_versions v"
             " WHERE v.dag_id = dags.id)",
             match);
    snprintf(upd, sizeof(upd),
             "UPDATE dags SET file_missing = true, updated_at = now()"
             " WHERE origin = 'file' AND %s AND NOT file_missing",
             match);
    rc = store_cmd(c, del, 1, params, err);
    if (rc == 0)
        rc = store_query(c, upd, 1, params, &r, err);
    if (rc == 0 && n_missing != NULL)
        *n_missing = atoi(PQcmdTuples(r));
    PQclear(r);
    return rc;
}

int store_dag_files_missing(struct store_conn *c, const char *const *paths,
                            size_t n, int *n_missing, struct weir_err *err)
{
    char *arr = array_literal(paths, n);
    int rc;

    if (arr == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    rc = store_dags_mark_missing(c, "NOT (path = ANY ($1::text[]))", arr,
                                 n_missing, err);
    free(arr);
    return rc;
}
