/* SPDX-License-Identifier: Apache-2.0 */
/* SQL of run timeouts and deadlines (store/deadline.h). */
#include "store/deadline.h"

#include <stdio.h>
#include <string.h>

#include "store/query.h"

int store_deadline_base(struct store_conn *c, int64_t run_id, int64_t *out,
                        bool *rerun, struct weir_err *err)
{
    char id[WEIR_I64_LEN];
    const char *params[1] = {id};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(id, run_id);
    /* A backfill run, or a manual run given a logical time, runs a past
     * slot again now: its clock starts at its creation. */
    rc = store_query_one(c,
                         "SELECT floor(extract(epoch FROM CASE WHEN re"
                         " THEN created_at ELSE coalesce(logical_time,"
                         " created_at) END) * 1000)::bigint, re FROM"
                         " (SELECT created_at, logical_time, trigger_kind ="
                         " 'backfill' OR (trigger_kind = 'manual' AND"
                         " logical_time IS NOT NULL) AS re"
                         " FROM runs WHERE id = $1) s",
                         1, params, &r, err, "no run %s", id);
    if (rc < 0)
        return rc;
    *out = store_val_i64(r, 0, 0);
    *rerun = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    PQclear(r);
    return 0;
}

int store_deadline_set(struct store_conn *c, int64_t run_id, int64_t timeout_ms,
                       int64_t deadline_ms, struct weir_err *err)
{
    char id[WEIR_I64_LEN], t[WEIR_I64_LEN], d[WEIR_I64_LEN];
    const char *params[3] = {id, timeout_ms > 0 ? t : NULL,
                             deadline_ms > 0 ? d : NULL};

    WEIR_I64(id, run_id);
    WEIR_I64(t, timeout_ms);
    WEIR_I64(d, deadline_ms);
    return store_cmd(c,
                     "UPDATE runs SET run_timeout_ms = $2::bigint,"
                     " deadline_at = to_timestamp($3::bigint / 1000.0)"
                     " WHERE id = $1",
                     3, params, err);
}

int store_deadline_due(struct store_conn *c, int limit, cJSON **out,
                       int64_t *next_ms, struct weir_err *err)
{
    char lim[WEIR_I64_LEN];
    const char *params[1] = {lim};
    cJSON *o = NULL;
    const cJSON *next;
    int rc;

    WEIR_I64(lim, limit);
    /* Both scans are range scans of the partial indexes of migration
     * 0015: they hold only unfinished runs with such a time. */
    rc = store_json_query(
        c,
        "SELECT jsonb_build_object('due', coalesce((SELECT jsonb_agg(x)"
        " FROM ((SELECT jsonb_build_object('id', id, 'kind', 'timeout') AS x"
        " FROM runs WHERE state = 'running' AND error IS NULL"
        " AND timeout_at IS NOT NULL AND timeout_at <= now()"
        " ORDER BY timeout_at LIMIT $1::int) UNION ALL"
        " (SELECT jsonb_build_object('id', id, 'kind', 'deadline')"
        " FROM runs WHERE state IN ('queued', 'running') AND NOT late"
        " AND deadline_at IS NOT NULL AND deadline_at <= now()"
        " ORDER BY deadline_at LIMIT $1::int)) s), '[]'),"
        " 'next_ms', ceil(extract(epoch FROM least("
        "(SELECT min(timeout_at) FROM runs WHERE state = 'running'"
        " AND error IS NULL AND timeout_at IS NOT NULL"
        " AND timeout_at > now()),"
        " (SELECT min(deadline_at) FROM runs WHERE state IN ('queued',"
        " 'running') AND NOT late AND deadline_at IS NOT NULL"
        " AND deadline_at > now())) - now()) * 1000))::text",
        1, params, &o, err);
    if (rc < 0)
        return rc;
    next = cJSON_GetObjectItemCaseSensitive(o, "next_ms");
    *next_ms = cJSON_IsNumber(next) ? (int64_t)next->valuedouble : -1;
    *out = cJSON_DetachItemFromObjectCaseSensitive(o, "due");
    cJSON_Delete(o);
    return *out != NULL ? 0 : weir_err_set(err, WEIR_EINTERNAL, "no due list");
}

int store_deadline_row(struct store_conn *c, int64_t run_id,
                       struct store_deadline_row *out, struct weir_err *err)
{
    char id[WEIR_I64_LEN];
    const char *params[1] = {id};
    const char *at;
    PGresult *r = NULL;
    int rc;

    WEIR_I64(id, run_id);
    rc = store_query_one(
        c,
        "SELECT state IN ('queued', 'running'), state = 'running'"
        " AND error IS NULL AND timeout_at <= now(), state IN"
        " ('queued', 'running') AND NOT late AND deadline_at <= now(),"
        " dag_version_id, weir_iso(deadline_at) FROM runs WHERE id = $1",
        1, params, &r, err, "no run %s", id);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->active = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    out->timeout_due = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    out->deadline_due = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
    out->version_id = store_val_i64(r, 0, 3);
    at = store_val(r, 0, 4);
    snprintf(out->deadline_at, sizeof(out->deadline_at), "%s", at ? at : "");
    PQclear(r);
    return 0;
}

int store_deadline_mark_late(struct store_conn *c, int64_t run_id, char *at,
                             char *iso, struct weir_err *err)
{
    char id[WEIR_I64_LEN];
    const char *params[1] = {id};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(id, run_id);
    rc = store_query_one(c,
                         "UPDATE runs SET late = true, late_at = now()"
                         " WHERE id = $1 AND NOT late"
                         " RETURNING late_at::text, weir_iso(late_at)",
                         1, params, &r, err, "run %s is late already", id);
    if (rc < 0)
        return rc;
    snprintf(at, 40, "%s", PQgetvalue(r, 0, 0));
    snprintf(iso, 40, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    return 0;
}

int store_deadline_error(struct store_conn *c, int64_t run_id,
                         const char *error, struct weir_err *err)
{
    char id[WEIR_I64_LEN];
    const char *params[2] = {id, error};

    WEIR_I64(id, run_id);
    return store_cmd(c, "UPDATE runs SET error = $2 WHERE id = $1", 2, params,
                     err);
}
