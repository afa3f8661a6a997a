/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of the dags and dag_versions tables: listing, one DAG, its versions
 * and sources, and what loading the DAGs folder writes (a new version only
 * when the text changed; a failed load only sets last_error).
 */
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

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

void store_dag_list_free(struct store_dag *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        store_dag_cleanup(&v[i]);
    free(v);
}

void store_dag_versions_free(struct store_dag_version *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++) {
        free(v[i].hash);
        free(v[i].origin);
        free(v[i].path);
    }
    free(v);
}

static int dag_from_row(const PGresult *r, int row, struct store_dag *d,
                        struct weir_err *err)
{
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
    struct store_dag *v = NULL;
    size_t rows = 0, i;
    int rc;

    rc = store_query(c, DAG_COLUMNS "ORDER BY d.id", 0, NULL, &r, err);
    if (rc < 0)
        return rc;
    rows = (size_t)PQntuples(r);
    v = calloc(rows ? rows : 1, sizeof(*v));
    if (v == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    for (i = 0; rc == 0 && i < rows; i++)
        rc = dag_from_row(r, (int)i, &v[i], err);
    PQclear(r);
    if (rc < 0) {
        store_dag_list_free(v, i);
        return rc;
    }
    *out = v;
    *n = rows;
    return 0;
}

int store_dag_get(struct store_conn *c, const char *id, struct store_dag *out,
                  struct weir_err *err)
{
    const char *params[1] = {id};
    PGresult *r = NULL;
    int rc;

    rc = store_query(c, DAG_COLUMNS "AND d.id = $1", 1, params, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0)
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no DAG \"%s\"", id);
    else
        rc = dag_from_row(r, 0, out, err);
    PQclear(r);
    return rc;
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

static int version_from_row(const PGresult *r, int row,
                            struct store_dag_version *v, struct weir_err *err)
{
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
    struct store_dag_version *v = NULL;
    PGresult *r = NULL;
    bool exists = true;
    size_t rows = 0, i = 0;
    int rc;

    rc = store_query(c,
                     "SELECT id, hash, origin, path,"
                     " extract(epoch FROM created_at)::bigint"
                     " FROM dag_versions WHERE dag_id = $1 ORDER BY id DESC",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    rows = (size_t)PQntuples(r);
    v = calloc(rows ? rows : 1, sizeof(*v));
    if (v == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    for (i = 0; rc == 0 && i < rows; i++)
        rc = version_from_row(r, (int)i, &v[i], err);
    PQclear(r);
    if (rc == 0 && rows == 0)
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
    char id[24];
    const char *params[1] = {id};
    PGresult *r = NULL;
    char *text;
    int rc;

    snprintf(id, sizeof(id), "%lld", (long long)version_id);
    rc = store_query(c, "SELECT dag_id, source FROM dag_versions WHERE id = $1",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return weir_err_set(err, WEIR_ENOTFOUND, "no DAG version %s", id);
    }
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

int store_dag_owner(struct store_conn *c, const char *id, char *origin,
                    size_t origin_len, char **path, struct weir_err *err)
{
    const char *params[1] = {id};
    PGresult *r = NULL;
    char *p = NULL;
    int rc;

    rc = store_query(c, "SELECT origin, path FROM dags WHERE id = $1", 1,
                     params, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0)
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no DAG \"%s\"", id);
    else
        rc = store_val_dup(r, 0, 1, &p, err);
    if (rc == 0) {
        snprintf(origin, origin_len, "%s", PQgetvalue(r, 0, 0));
        *path = p;
    }
    PQclear(r);
    return rc;
}
