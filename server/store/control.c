/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of cancel, retry, approval decisions, pause, heartbeats with a
 * cancel flag, the worker list and the /metrics gauges. Batches go in as
 * one JSON parameter, as in store_runs.c; reads build their JSON in
 * PostgreSQL, as in store_read.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/control.h"
#include "store/internal.h"

#define I64(buf, v) snprintf(buf, sizeof(buf), "%lld", (long long)(v))

/* store_json_query() for a statement that always returns a value (an
 * aggregate): none is a bug of the SQL, WEIR_EINTERNAL, not a 404. */
static int json_value(struct store_conn *c, const char *sql, int n,
                      const char *const *params, cJSON **out,
                      struct weir_err *err)
{
    int rc = store_json_query(c, sql, n, params, out, err);

    if (rc == WEIR_ENOTFOUND)
        rc = weir_err_set(err, WEIR_EINTERNAL, "no JSON value returned");
    return rc;
}

/* An UPDATE that must touch exactly `want` rows, else WEIR_ECONFLICT
 * (or WEIR_ENOTFOUND when notfound is set) with msg. */
static int update_rows(struct store_conn *c, const char *sql, int n,
                       const char *const *params, unsigned long long want,
                       bool notfound, const char *msg, struct weir_err *err)
{
    PGresult *r = NULL;
    int rc = store_query(c, sql, n, params, &r, err);

    if (rc < 0)
        return rc;
    if (strtoull(PQcmdTuples(r), NULL, 10) != want)
        rc = weir_err_set(err, notfound ? WEIR_ENOTFOUND : WEIR_ECONFLICT, "%s",
                          msg);
    PQclear(r);
    return rc;
}

static char *resets_json(const struct store_task_reset *v, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    char *text;

    for (size_t i = 0; arr != NULL && i < n; i++) {
        cJSON *o = cJSON_CreateObject();

        cJSON_AddItemToArray(arr, o);
        cJSON_AddNumberToObject(o, "id", (double)v[i].task_id);
        cJSON_AddStringToObject(o, "old", task_state_name(v[i].from));
        cJSON_AddNumberToObject(o, "pending", v[i].pending);
        cJSON_AddNumberToObject(o, "max_tries", v[i].max_tries);
    }
    text = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return text;
}

int store_tasks_reset(struct store_conn *c, int64_t run_id,
                      const struct store_task_reset *v, size_t n,
                      struct weir_err *err)
{
    const char *params[1] = {NULL};
    char msg[96];
    char *text;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = state_task_change(run_id, v[i].task_id, v[i].try, v[i].from,
                               TASK_PENDING, err);
    if (rc < 0 || n == 0)
        return rc;
    text = resets_json(v, n);
    if (text == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    params[0] = text;
    snprintf(msg, sizeof(msg), "run %lld: a task changed state meanwhile",
             (long long)run_id);
    rc = update_rows(
        c,
        "UPDATE tasks t SET state = 'pending', upstream_pending = x.pending,"
        " max_tries = x.max_tries, outputs = NULL, error = NULL,"
        " next_try_at = NULL, queued_at = NULL, started_at = NULL,"
        " finished_at = NULL, decision = NULL, decided_by = NULL,"
        " decided_at = NULL, decision_comment = NULL,"
        " capped_dag = (" STORE_CAPPED_DAG " t.run_id)"
        " FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, old text,"
        " pending int, max_tries int)"
        " WHERE t.id = x.id AND t.state = x.old",
        1, params, n, false, msg, err);
    cJSON_free(text);
    return rc;
}

int store_run_retry(struct store_conn *c, int64_t id, enum run_state from,
                    enum run_state to, int *count, struct weir_err *err)
{
    char idb[24];
    const char *params[3] = {idb, run_state_name(from), run_state_name(to)};
    PGresult *r = NULL;
    int rc = state_run_change(id, from, to, err);

    I64(idb, id);
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
    char idb[24];
    const char *p[3] = {idb, params, change};

    I64(idb, id);
    return store_cmd(c,
                     "UPDATE runs SET params = $2::jsonb, param_changes ="
                     " param_changes || jsonb_build_array(jsonb_build_object("
                     "'at', weir_iso(now())) || $3::jsonb) WHERE id = $1",
                     3, p, err);
}

int store_run_canceled_by(struct store_conn *c, int64_t id, const char *by,
                          struct weir_err *err)
{
    char idb[24];
    const char *params[2] = {idb, by};

    I64(idb, id);
    return store_cmd(c, "UPDATE runs SET canceled_by = $2 WHERE id = $1", 2,
                     params, err);
}

int store_task_decision(struct store_conn *c, int64_t task_id, bool approved,
                        const char *by, const char *comment,
                        struct weir_err *err)
{
    char idb[24];
    const char *params[4] = {idb, approved ? "approved" : "rejected", by,
                             comment};

    I64(idb, task_id);
    return store_cmd(c,
                     "UPDATE tasks SET decision = $2, decided_by = $3,"
                     " decided_at = now(), decision_comment = $4"
                     " WHERE id = $1",
                     4, params, err);
}

int store_worker_cancels(struct store_conn *c, int64_t worker_id,
                         const int64_t *seen, size_t n_seen, int64_t **out,
                         size_t *n, struct weir_err *err)
{
    char idb[24], *list = malloc(n_seen * 24 + 3);
    const char *params[2] = {idb, list};
    PGresult *r = NULL;
    int64_t *v = NULL;
    size_t len = 0;
    int rc;

    if (list == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    I64(idb, worker_id);
    len += (size_t)sprintf(list, "{");
    for (size_t i = 0; i < n_seen; i++)
        len += (size_t)sprintf(list + len, "%s%lld", i > 0 ? "," : "",
                               (long long)seen[i]);
    sprintf(list + len, "}");
    rc = store_query(c,
                     "SELECT a.id FROM attempts a JOIN tasks t"
                     " ON t.id = a.task_id WHERE a.worker_id = $1"
                     " AND a.state = 'running' AND a.id <> ALL($2::bigint[])"
                     " AND (t.state <> 'running' OR t.try_count <> a.try)",
                     2, params, &r, err);
    free(list);
    if (rc < 0)
        return rc;
    *n = (size_t)PQntuples(r);
    if (*n > 0 && (v = calloc(*n, sizeof(*v))) == NULL) {
        PQclear(r);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < *n; i++)
        v[i] = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
    PQclear(r);
    *out = v;
    return 0;
}

int store_attempt_beat(struct store_conn *c, int64_t id, const char *lease,
                       int64_t ttl_ms, bool *cancel, struct weir_err *err)
{
    char idb[24], ttl[24];
    const char *params[3] = {idb, lease, ttl};
    PGresult *r = NULL;
    int rc;

    I64(idb, id);
    I64(ttl, ttl_ms);
    rc = store_query(
        c,
        "WITH a AS (UPDATE attempts SET lease_deadline = now() + $3 *"
        " interval '1 millisecond' WHERE id = $1 AND lease_id::text = $2"
        " AND state = 'running' RETURNING task_id, try, worker_id),"
        " w AS (UPDATE workers SET last_seen_at = now(), state = 'online'"
        " WHERE id = (SELECT worker_id FROM a))"
        " SELECT t.state <> 'running' OR t.try_count <> a.try"
        " FROM a JOIN tasks t ON t.id = a.task_id",
        3, params, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) != 1)
        rc = weir_err_set(err, WEIR_ECONFLICT,
                          "the lease of attempt %lld is stale: the attempt "
                          "finished, expired or was leased again",
                          (long long)id);
    else
        *cancel = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return rc;
}

int store_dag_set_paused(struct store_conn *c, const char *id, bool paused,
                         struct weir_err *err)
{
    const char *params[2] = {id, paused ? "true" : "false"};
    char msg[100];

    snprintf(msg, sizeof(msg), "no DAG \"%s\"", id);
    return update_rows(c,
                       "UPDATE dags SET paused = $2, updated_at = now()"
                       " WHERE id = $1",
                       2, params, 1, true, msg, err);
}

int store_workers_list(struct store_conn *c, int64_t lost_ms, cJSON **out,
                       struct weir_err *err)
{
    char lost[24];
    const char *params[1] = {lost};

    I64(lost, lost_ms);
    return json_value(
        c,
        "SELECT coalesce(jsonb_agg(jsonb_build_object('id', w.id, 'name',"
        " w.name, 'queues', to_jsonb(w.queues), 'slots', w.slots, 'labels',"
        " w.labels, 'state', CASE WHEN w.state = 'online' AND w.last_seen_at"
        " < now() - $1 * interval '1 millisecond' THEN 'lost'"
        " ELSE w.state END, 'registered_at', weir_iso(w.registered_at),"
        " 'last_seen_at', weir_iso(w.last_seen_at), 'running_attempts',"
        " (SELECT count(*) FROM attempts a WHERE a.worker_id = w.id"
        " AND a.state = 'running')) ORDER BY w.name), '[]')"
        " FROM workers w",
        1, params, out, err);
}

int store_metrics(struct store_conn *c, int64_t seen_ms, cJSON **out,
                  struct weir_err *err)
{
    char seen[24];
    const char *params[1] = {seen};

    I64(seen, seen_ms);
    return json_value(
        c,
        "SELECT jsonb_build_object("
        "'runs', (SELECT coalesce(jsonb_object_agg(state, n), '{}') FROM"
        " (SELECT state, count(*) AS n FROM runs GROUP BY state) s),"
        " 'tasks', (SELECT coalesce(jsonb_object_agg(state, n), '{}') FROM"
        " (SELECT state, count(*) AS n FROM tasks GROUP BY state) s),"
        " 'queues', (SELECT coalesce(jsonb_object_agg(q.queue, (SELECT"
        " count(*) FROM tasks t WHERE t.state = 'queued' AND t.queue ="
        " q.queue)), '{}') FROM (SELECT queue FROM tasks WHERE state ="
        " 'queued' UNION SELECT unnest(queues) FROM workers) q),"
        " 'workers', (SELECT count(*) FROM workers WHERE last_seen_at >"
        " now() - $1 * interval '1 millisecond'))",
        1, params, out, err);
}
