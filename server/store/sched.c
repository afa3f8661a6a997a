/* SPDX-License-Identifier: Apache-2.0 */
/* SQL of the scheduler loop: DAG states, a vanished file, slot runs. */
#include "store/sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/internal.h"

int store_sched_dags(struct store_conn *c, struct store_sched_dag **out,
                     size_t *n, struct weir_err *err)
{
    struct store_sched_dag *v = NULL;
    PGresult *r = NULL;
    size_t rows;
    int rc;

    rc = store_query(c,
                     "SELECT id, current_version_id, paused, file_missing"
                     " FROM dags WHERE current_version_id IS NOT NULL"
                     " AND deleted_at IS NULL"
                     " ORDER BY id",
                     0, NULL, &r, err);
    if (rc < 0)
        return rc;
    rows = (size_t)PQntuples(r);
    v = calloc(rows ? rows : 1, sizeof(*v));
    if (v == NULL) {
        PQclear(r);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < rows; i++) {
        snprintf(v[i].id, sizeof(v[i].id), "%s", PQgetvalue(r, (int)i, 0));
        v[i].version_id = store_val_i64(r, (int)i, 1);
        v[i].paused = strcmp(PQgetvalue(r, (int)i, 2), "t") == 0;
        v[i].missing = strcmp(PQgetvalue(r, (int)i, 3), "t") == 0;
    }
    PQclear(r);
    *out = v;
    *n = rows;
    return 0;
}

int store_sched_file_gone(struct store_conn *c, const char *path,
                          int *n_missing, struct weir_err *err)
{
    return store_dags_mark_missing(c, "path = $1", path, n_missing, err);
}

int store_sched_run_insert(struct store_conn *c, const struct store_run_new *n,
                           int64_t logical_time, int64_t *id, bool *inserted,
                           struct weir_err *err)
{
    char version[24], prio[24], lt[24];
    const char *params[11] = {n->dag_id,
                              version,
                              n->params,
                              n->environment,
                              n->trigger_kind,
                              n->trigger_key,
                              n->payload,
                              n->reason,
                              prio,
                              logical_time ? lt : NULL,
                              run_state_name(n->state)};
    PGresult *r = NULL;
    int rc;

    snprintf(version, sizeof(version), "%lld", (long long)n->version_id);
    snprintf(prio, sizeof(prio), "%d", n->priority);
    snprintf(lt, sizeof(lt), "%lld", (long long)logical_time);
    rc = store_query(c,
                     "INSERT INTO runs (dag_id, dag_version_id, params,"
                     " environment, trigger_kind, trigger_key,"
                     " trigger_payload, reason, priority, logical_time, state,"
                     " started_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
                     " to_timestamp($10::bigint), $11,"
                     " CASE WHEN $11 = 'running' THEN now() END)"
                     " ON CONFLICT (dag_id, trigger_key, logical_time)"
                     " WHERE logical_time IS NOT NULL DO NOTHING RETURNING id",
                     11, params, &r, err);
    if (rc < 0)
        return rc;
    *inserted = PQntuples(r) > 0;
    *id = *inserted ? store_val_i64(r, 0, 0) : 0;
    PQclear(r);
    if (*inserted)
        log_info("event=run_created run=%lld dag=%s state=%s trigger=%s",
                 (long long)*id, n->dag_id, run_state_name(n->state),
                 n->trigger_kind);
    return 0;
}

int store_sched_last_slot(struct store_conn *c, const char *dag_id,
                          const char *key, int64_t *slot, struct weir_err *err)
{
    const char *params[2] = {dag_id, key};
    PGresult *r = NULL;
    int rc = store_query(c,
                         "SELECT extract(epoch FROM coalesce((SELECT"
                         " max(logical_time) FROM runs WHERE dag_id = $1 AND"
                         " trigger_key = $2 AND logical_time IS NOT NULL),"
                         " (SELECT v.created_at FROM dags d JOIN dag_versions"
                         " v ON v.id = d.current_version_id WHERE d.id = $1"
                         ")))::bigint",
                         2, params, &r, err);

    if (rc < 0)
        return rc;
    *slot = store_val_i64(r, 0, 0);
    PQclear(r);
    return 0;
}
