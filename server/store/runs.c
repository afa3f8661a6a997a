/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of runs: creating a run, reading one (alone, with the attempt of a
 * completion, or a batch) under its row lock, and writing its state,
 * parameters, canceler and retry count.
 */
#include "store/runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/query.h"

void store_run_cleanup(struct store_run *r)
{
    cJSON_Delete(r->params);
    cJSON_Delete(r->trigger_payload);
    free(r->environment);
    free(r->trigger_kind);
    free(r->trigger_key);
    free(r->reason);
    free(r->logical_time);
    free(r->dag_path);
    free(r->dag_hash);
    free(r->dags_revision);
    memset(r, 0, sizeof(*r));
}

int store_run_by_key(struct store_conn *c, const char *dag_id, const char *key,
                     int64_t *run_id, struct weir_err *err)
{
    const char *params[2] = {dag_id, key};
    PGresult *r = NULL;
    int rc;

    rc = store_query_one(c,
                         "SELECT id FROM runs WHERE dag_id = $1"
                         " AND idempotency_key = $2",
                         2, params, &r, err, "no run with that key");
    if (rc < 0)
        return rc;
    *run_id = store_val_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

int store_run_insert(struct store_conn *c, const struct store_run_new *n,
                     int64_t *id, struct weir_err *err)
{
    char version[WEIR_I64_LEN], prio[WEIR_I64_LEN], lt[WEIR_I64_LEN];
    const char *params[12] = {
        n->dag_id,      version,        run_state_name(n->state),
        n->params,      n->environment, n->trigger_kind,
        n->trigger_key, n->payload,     n->idempotency_key,
        n->reason,      prio,           n->logical_time ? lt : NULL};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(version, n->version_id);
    WEIR_I64(prio, n->priority);
    WEIR_I64(lt, n->logical_time);
    rc = store_query(c,
                     "INSERT INTO runs (dag_id, dag_version_id, state, params,"
                     " environment, trigger_kind, trigger_key,"
                     " trigger_payload, idempotency_key, reason, priority,"
                     " started_at, logical_time) VALUES ($1, $2, $3, $4, $5,"
                     " $6, $7, $8, $9, $10, $11, CASE WHEN $3 = 'running'"
                     " THEN now() END, to_timestamp($12::bigint))"
                     " RETURNING id",
                     12, params, &r, err);
    if (rc < 0)
        return rc;
    *id = store_val_i64(r, 0, 0);
    PQclear(r);
    log_info("event=run_created run=%lld dag=%s state=%s trigger=%s",
             (long long)*id, n->dag_id, run_state_name(n->state),
             n->trigger_kind);
    return 0;
}

int store_sched_run_insert(struct store_conn *c, const struct store_run_new *n,
                           int64_t logical_time, int64_t *id, bool *inserted,
                           struct weir_err *err)
{
    char version[WEIR_I64_LEN], prio[WEIR_I64_LEN], lt[WEIR_I64_LEN];
    char bf[WEIR_I64_LEN];
    const char *params[12] = {n->dag_id,
                              version,
                              n->params,
                              n->environment,
                              n->trigger_kind,
                              n->trigger_key,
                              n->payload,
                              n->reason,
                              prio,
                              logical_time ? lt : NULL,
                              run_state_name(n->state),
                              n->backfill_id ? bf : NULL};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(version, n->version_id);
    WEIR_I64(prio, n->priority);
    WEIR_I64(lt, logical_time);
    WEIR_I64(bf, n->backfill_id);
    rc = store_query(c,
                     "INSERT INTO runs (dag_id, dag_version_id, params,"
                     " environment, trigger_kind, trigger_key,"
                     " trigger_payload, reason, priority, logical_time, state,"
                     " started_at, backfill_id) VALUES ($1, $2, $3, $4, $5,"
                     " $6, $7, $8, $9, to_timestamp($10::bigint), $11,"
                     " CASE WHEN $11 = 'running' THEN now() END, $12)"
                     " ON CONFLICT (dag_id, trigger_key, logical_time)"
                     " WHERE logical_time IS NOT NULL DO NOTHING RETURNING id",
                     12, params, &r, err);
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

/* The columns run_from_row() reads, of runs r and dag_versions v. */
#define RUN_ROW_SQL                                                            \
    "SELECT r.id, r.dag_id, r.dag_version_id, r.state, r.params,"              \
    " r.environment, r.trigger_kind, r.trigger_key, r.trigger_payload,"        \
    " r.reason, weir_iso(coalesce(r.logical_time, r.created_at)),"             \
    " v.path, v.hash, r.retry_count, r.logical_time IS NOT NULL,"              \
    " CASE WHEN v.path IS NOT NULL THEN"                                       \
    " (SELECT revision FROM dags_revision WHERE id = 1) END"
#define RUN_ROW_COLS 16 /* the columns of RUN_ROW_SQL */

static int run_from_row(const PGresult *r, int row, int c,
                        struct store_run *out, struct weir_err *err)
{
    struct store_run v = {0};
    int rc;

    v.id = store_val_i64(r, row, c);
    snprintf(v.dag_id, sizeof(v.dag_id), "%s", PQgetvalue(r, row, c + 1));
    v.version_id = store_val_i64(r, row, c + 2);
    rc = run_state_parse(PQgetvalue(r, row, c + 3), &v.state, err);
    if (rc == 0)
        rc = store_val_json(r, row, c + 4, &v.params, err);
    if (rc == 0)
        rc = store_val_dup(r, row, c + 5, &v.environment, err);
    if (rc == 0)
        rc = store_val_dup(r, row, c + 6, &v.trigger_kind, err);
    if (rc == 0)
        rc = store_val_dup(r, row, c + 7, &v.trigger_key, err);
    if (rc == 0)
        rc = store_val_json(r, row, c + 8, &v.trigger_payload, err);
    if (rc == 0)
        rc = store_val_dup(r, row, c + 9, &v.reason, err);
    if (rc == 0)
        rc = store_val_dup(r, row, c + 10, &v.logical_time, err);
    if (rc == 0)
        rc = store_val_dup(r, row, c + 11, &v.dag_path, err);
    if (rc == 0)
        rc = store_val_dup(r, row, c + 12, &v.dag_hash, err);
    v.retry_count = (int)store_val_i64(r, row, c + 13);
    v.logical_time_own = PQgetvalue(r, row, c + 14)[0] == 't';
    if (rc == 0)
        rc = store_val_dup(r, row, c + 15, &v.dags_revision, err);
    if (rc < 0) {
        store_run_cleanup(&v);
        return rc;
    }
    *out = v;
    return 0;
}

int store_run_get(struct store_conn *c, int64_t id, bool lock,
                  struct store_run *out, struct weir_err *err)
{
    static const char base[] = RUN_ROW_SQL
        " FROM runs r JOIN dag_versions v ON v.id = r.dag_version_id"
        " WHERE r.id = $1";
    char sql[sizeof(base) + 20], idb[WEIR_I64_LEN];
    const char *params[1] = {idb};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(idb, id);
    snprintf(sql, sizeof(sql), "%s%s", base, lock ? " FOR UPDATE OF r" : "");
    rc = store_query_one(c, sql, 1, params, &r, err, "no run %lld",
                         (long long)id);
    if (rc < 0)
        return rc;
    rc = run_from_row(r, 0, 0, out, err);
    PQclear(r);
    return rc;
}

int store_attempt_lock_run(struct store_conn *c, int64_t id, const char *lease,
                           struct store_attempt *a, struct store_run *run,
                           struct weir_err *err)
{
    char idb[WEIR_I64_LEN];
    const char *params[1] = {idb};
    PGresult *r = NULL;
    struct store_attempt v = {0};
    int rc;

    WEIR_I64(idb, id);
    /* Both locks of a completion in one round trip, attempt then run. */
    rc = store_query_one(c,
                         RUN_ROW_SQL
                         ", " STORE_ATTEMPT_COLS
                         " FROM attempts a JOIN tasks t ON t.id = a.task_id"
                         " JOIN runs r ON r.id = t.run_id"
                         " JOIN dag_versions v ON v.id = r.dag_version_id"
                         " WHERE a.id = $1 FOR UPDATE OF a, r",
                         1, params, &r, err, "no attempt %lld", (long long)id);
    if (rc < 0)
        return rc;
    rc = store_attempt_from_row(r, 0, RUN_ROW_COLS, lease, &v, err);
    if (rc == 0)
        rc = run_from_row(r, 0, 0, run, err);
    PQclear(r);
    if (rc == 0)
        *a = v;
    return rc;
}

int store_runs_lock(struct store_conn *c, const int64_t *ids, size_t n,
                    struct store_run *out, struct weir_err *err)
{
    char *id_arr = store_ids_literal(ids, n);
    const char *params[1] = {id_arr};
    PGresult *r = NULL;
    size_t k = 0;
    int rc;

    if (id_arr == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    rc = store_query(
        c,
        RUN_ROW_SQL
        " FROM runs r"
        " JOIN dag_versions v ON v.id = r.dag_version_id"
        " WHERE r.id = ANY ($1::bigint[]) ORDER BY r.id FOR UPDATE OF r",
        1, params, &r, err);
    free(id_arr);
    if (rc < 0)
        return rc;
    if ((size_t)PQntuples(r) != n)
        rc = weir_err_set(err, WEIR_ENOTFOUND, "a run vanished");
    for (k = 0; rc == 0 && k < n; k++) {
        rc = run_from_row(r, (int)k, 0, &out[k], err);
        if (rc == 0 && out[k].id != ids[k])
            rc = weir_err_set(err, WEIR_EINTERNAL, "runs out of order");
    }
    PQclear(r);
    if (rc < 0)
        for (size_t i = 0; i < n; i++)
            store_run_cleanup(&out[i]);
    return rc;
}

int store_run_set_state(struct store_conn *c, int64_t id, enum run_state from,
                        enum run_state to, struct weir_err *err)
{
    char idb[WEIR_I64_LEN];
    const char *params[3] = {idb, run_state_name(from), run_state_name(to)};
    PGresult *r = NULL;
    int rc = state_run_change(id, from, to, err);

    WEIR_I64(idb, id);
    if (rc == 0)
        rc = store_query(c,
                         "UPDATE runs SET state = $3,"
                         " started_at = CASE WHEN $3 = 'running' THEN now()"
                         " ELSE started_at END,"
                         " finished_at = CASE WHEN $3 IN ('success', 'failed',"
                         " 'canceled') THEN now() END"
                         " WHERE id = $1 AND state = $2",
                         3, params, &r, err);
    if (rc < 0)
        return rc;
    if (strcmp(PQcmdTuples(r), "1") != 0)
        rc = weir_err_set(err, WEIR_ECONFLICT, "run %lld is not %s any more",
                          (long long)id, run_state_name(from));
    PQclear(r);
    return rc;
}

int store_run_next_queued(struct store_conn *c, const char *dag_id,
                          int64_t *run_id, struct weir_err *err)
{
    const char *params[1] = {dag_id};
    PGresult *r = NULL;
    int rc;

    rc = store_query_one(
        c,
        "SELECT id FROM runs WHERE dag_id = $1 AND state ="
        " 'queued' ORDER BY priority DESC, id LIMIT 1 FOR UPDATE",
        1, params, &r, err, "no queued run");
    if (rc < 0)
        return rc;
    *run_id = store_val_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

int store_run_retry(struct store_conn *c, int64_t id, enum run_state from,
                    enum run_state to, int *count, struct weir_err *err)
{
    char idb[WEIR_I64_LEN];
    const char *params[3] = {idb, run_state_name(from), run_state_name(to)};
    PGresult *r = NULL;
    int rc = state_run_change(id, from, to, err);

    WEIR_I64(idb, id);
    if (rc == 0)
        rc = store_query(c,
                         "UPDATE runs SET state = $3, finished_at = NULL,"
                         " canceled_by = NULL, retry_count = retry_count + 1,"
                         " retried_at = now(), started_at = CASE WHEN $3 ="
                         " 'running' THEN now() ELSE started_at END"
                         " WHERE id = $1 AND state = $2 RETURNING retry_count",
                         3, params, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) != 1)
        rc = weir_err_set(err, WEIR_ECONFLICT, "run %lld is not %s any more",
                          (long long)id, run_state_name(from));
    else
        *count = (int)store_val_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

int store_run_params_change(struct store_conn *c, int64_t id,
                            const char *params, const char *change,
                            struct weir_err *err)
{
    char idb[WEIR_I64_LEN];
    const char *p[3] = {idb, params, change};

    WEIR_I64(idb, id);
    return store_cmd(c,
                     "UPDATE runs SET params = $2::jsonb, param_changes ="
                     " param_changes || jsonb_build_array(jsonb_build_object("
                     "'at', weir_iso(now())) || $3::jsonb) WHERE id = $1",
                     3, p, err);
}

int store_run_canceled_by(struct store_conn *c, int64_t id, const char *by,
                          struct weir_err *err)
{
    char idb[WEIR_I64_LEN];
    const char *params[2] = {idb, by};

    WEIR_I64(idb, id);
    return store_cmd(c, "UPDATE runs SET canceled_by = $2 WHERE id = $1", 2,
                     params, err);
}
