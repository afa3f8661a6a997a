/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of tasks: a run's tasks in, out and through their states. Batches
 * go in as one JSON parameter read with jsonb_to_recordset, so a fan-out
 * of a thousand cells is one statement, not a thousand.
 */
#include "store/tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/query.h"

/* tasks.capped_dag of a task of the run whose id follows: the run's DAG
 * id while that DAG has a concurrency cap, else NULL. */
#define CAPPED_DAG                                                             \
    "SELECT d.id FROM runs r JOIN dags d ON d.id = r.dag_id"                   \
    " WHERE d.concurrency IS NOT NULL AND r.id ="

/* Free what item, a struct store_task, holds (store_item_cb). */
static void task_item_cb(void *item)
{
    struct store_task *t = item;

    cJSON_Delete(t->outputs);
    cJSON_Delete(t->matrix);
}

void store_tasks_free(struct store_task *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        task_item_cb(&v[i]);
    free(v);
}

int store_tasks_insert(struct store_conn *c, int64_t run_id, int priority,
                       const char *tasks_json, int64_t *added,
                       struct weir_err *err)
{
    char run[WEIR_I64_LEN], prio[WEIR_I64_LEN];
    const char *params[3] = {run, prio, tasks_json};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(run, run_id);
    WEIR_I64(prio, priority);
    rc = store_query(c,
                     "INSERT INTO tasks (run_id, step_id, cell, matrix,"
                     " max_tries, queue, priority, upstream_pending,"
                     " capped_dag, pool, pool_slots, map_cells)"
                     " SELECT $1, x.step_id, x.cell, x.matrix, x.max_tries,"
                     " x.queue, $2, x.upstream_pending, (" CAPPED_DAG " $1),"
                     " x.pool, coalesce(x.pool_slots, 1), x.map_cells"
                     " FROM jsonb_to_recordset($3::jsonb)"
                     " AS x(step_id text, cell int, matrix jsonb,"
                     " max_tries int, queue text, upstream_pending int, o int,"
                     " pool text, pool_slots int, map_cells int)"
                     " ORDER BY x.o",
                     3, params, &r, err);
    if (rc < 0)
        return rc;
    *added = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

int store_tasks_analyze(struct store_conn *c, struct weir_err *err)
{
    return store_cmd(c, "ANALYZE (SKIP_LOCKED) tasks, attempts", 0, NULL, err);
}

/* A row of the task columns into item, a struct store_task
 * (store_row_cb). */
static int task_from_row(const PGresult *r, int row, void *item,
                         struct weir_err *err)
{
    struct store_task *t = item;
    int rc;

    t->id = store_val_i64(r, row, 0);
    snprintf(t->step_id, sizeof(t->step_id), "%s", PQgetvalue(r, row, 1));
    t->cell = (int)store_val_i64(r, row, 2);
    t->try_count = (int)store_val_i64(r, row, 4);
    t->max_tries = (int)store_val_i64(r, row, 5);
    t->upstream_pending = (int)store_val_i64(r, row, 6);
    rc = task_state_parse(PQgetvalue(r, row, 3), &t->state, err);
    if (rc == 0)
        rc = store_val_json(r, row, 7, &t->outputs, err);
    if (rc == 0)
        rc = store_val_json(r, row, 8, &t->matrix, err);
    return rc;
}

/* Every row of r (TASK_COLS) into a new array *out of *n tasks
 * (store_tasks_free()). */
static int tasks_from_result(const PGresult *r, struct store_task **out,
                             size_t *n, struct weir_err *err)
{
    void *v = NULL;
    int rc = store_rows_map(r, sizeof(struct store_task), task_from_row,
                            task_item_cb, &v, n, err);

    if (rc == 0)
        *out = v;
    return rc;
}

int store_run_tasks(struct store_conn *c, int64_t run_id,
                    struct store_task **out, size_t *n, struct weir_err *err)
{
    char idb[WEIR_I64_LEN];
    const char *params[1] = {idb};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(idb, run_id);
    rc = store_query(c,
                     "SELECT id, step_id, cell, state, try_count, max_tries,"
                     " upstream_pending, outputs, matrix FROM tasks"
                     " WHERE run_id = $1 ORDER BY id",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    rc = tasks_from_result(r, out, n, err);
    PQclear(r);
    return rc;
}

int store_run_tasks_lock_open(struct store_conn *c, int64_t run_id,
                              struct weir_err *err)
{
    char idb[WEIR_I64_LEN];
    const char *params[1] = {idb};

    WEIR_I64(idb, run_id);
    return store_cmd(c,
                     "SELECT id FROM tasks WHERE run_id = $1 AND state NOT IN"
                     " ('success', 'failed', 'skipped', 'upstream_failed',"
                     " 'canceled') ORDER BY id FOR UPDATE",
                     1, params, err);
}

int store_run_tasks_some(struct store_conn *c, int64_t run_id,
                         const int64_t *ids, size_t n_ids,
                         const char *const *steps, size_t n_steps,
                         struct store_task **out, size_t *n,
                         struct weir_err *err)
{
    char idb[WEIR_I64_LEN];
    char *id_arr = store_ids_literal(ids, n_ids), *step_arr = NULL;
    const char *params[3] = {idb, id_arr, NULL};
    PGresult *r = NULL;
    int rc = 0;

    step_arr = store_strs_literal(steps, n_steps);
    params[2] = step_arr;
    if (id_arr == NULL || step_arr == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    WEIR_I64(idb, run_id);
    /* Index lookups (by id, by run and step), never a scan of the run.
     * Each shape has its own text: an empty array would let the planner
     * prove a branch false and pick any index of the table for it. */
    if (rc == 0)
        rc = store_query(
            c,
            n_steps == 0 ? "SELECT id, step_id, cell, state, try_count,"
                           " max_tries, upstream_pending, outputs, matrix"
                           " FROM tasks WHERE id = ANY ($2::bigint[])"
                           " AND run_id = $1 AND $3::text[] IS NOT NULL"
                           " ORDER BY 1"
            : n_ids == 0
                ? "SELECT id, step_id, cell, state, try_count, max_tries,"
                  " upstream_pending, outputs, matrix FROM tasks"
                  " WHERE run_id = $1 AND step_id = ANY ($3::text[])"
                  " AND $2::bigint[] IS NOT NULL ORDER BY 1"
                : "SELECT id, step_id, cell, state, try_count, max_tries,"
                  " upstream_pending, outputs, matrix FROM tasks"
                  " WHERE id = ANY ($2::bigint[]) AND run_id = $1"
                  " UNION ALL SELECT id, step_id, cell, state, try_count,"
                  " max_tries, upstream_pending, outputs, matrix FROM tasks"
                  " WHERE run_id = $1 AND step_id = ANY ($3::text[])"
                  " AND id <> ALL ($2::bigint[]) ORDER BY 1",
            3, params, &r, err);
    free(id_arr);
    free(step_arr);
    if (rc < 0)
        return rc;
    rc = tasks_from_result(r, out, n, err);
    PQclear(r);
    return rc;
}

/* The text of a batch for store_run_write(): arr printed into *json, the
 * n ids of idv as an array literal into *ids; both freed here (either
 * may be NULL: out of memory). False when out of memory. */
static bool batch_text(cJSON *arr, int64_t *idv, size_t n, char **json,
                       char **ids)
{
    *json = arr && idv ? cJSON_PrintUnformatted(arr) : NULL;
    *ids = idv ? store_ids_literal(idv, n) : NULL;
    cJSON_Delete(arr);
    free(idv);
    return *json != NULL && *ids != NULL;
}

/* The JSON array of changes for store_run_write(), and their ids as an
 * array literal; false: no memory. */
static bool changes_text(const struct store_task_change *v, size_t n,
                         char **json, char **ids)
{
    cJSON *arr = cJSON_CreateArray();
    int64_t *idv = malloc((n ? n : 1) * sizeof(*idv));

    for (size_t i = 0; arr != NULL && idv != NULL && i < n; i++) {
        cJSON *o = cJSON_CreateObject();

        idv[i] = v[i].task_id;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddNumberToObject(o, "id", (double)v[i].task_id);
        cJSON_AddStringToObject(o, "old", task_state_name(v[i].from));
        cJSON_AddStringToObject(o, "state", task_state_name(v[i].to));
        cJSON_AddNumberToObject(o, "pending", v[i].pending);
        if (v[i].error != NULL)
            cJSON_AddStringToObject(o, "error", v[i].error);
        if (v[i].outputs != NULL)
            cJSON_AddRawToObject(o, "outputs", v[i].outputs);
        if (v[i].retry_ms >= 0)
            cJSON_AddNumberToObject(o, "retry_ms", (double)v[i].retry_ms);
        if (v[i].message != NULL)
            cJSON_AddStringToObject(o, "message", v[i].message);
    }
    return batch_text(arr, idv, n, json, ids);
}

/* The JSON array of attempt ends for store_run_write(), and their ids as
 * an array literal; false: no memory. */
static bool ends_text(const struct store_attempt_end *e, size_t n, char **json,
                      char **ids)
{
    cJSON *arr = cJSON_CreateArray();
    int64_t *idv = malloc((n ? n : 1) * sizeof(*idv));

    for (size_t i = 0; arr != NULL && idv != NULL && i < n; i++) {
        cJSON *o = cJSON_CreateObject();

        idv[i] = e[i].a->id;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddNumberToObject(o, "id", (double)e[i].a->id);
        cJSON_AddStringToObject(o, "state", attempt_state_name(e[i].to));
        if (e[i].exit_code != NULL)
            cJSON_AddNumberToObject(o, "exit_code", *e[i].exit_code);
        if (e[i].outputs != NULL)
            cJSON_AddRawToObject(o, "outputs", e[i].outputs);
        if (e[i].error != NULL)
            cJSON_AddStringToObject(o, "error", e[i].error);
    }
    return batch_text(arr, idv, n, json, ids);
}

/*
 * $1 run, $2 task changes (JSON), $3 their ids, $4 attempt ends (JSON),
 * $5 their ids, $6 whether to probe the other tasks. Both updates find
 * their rows by primary key ($3, $5), so that neither scans its table;
 * "unfinished" is the predicate of tasks_open_idx (migration 0002).
 */
static const char write_sql[] =
    "WITH u AS (UPDATE tasks t SET state = x.state,"
    " upstream_pending = x.pending, error = coalesce(x.error, t.error),"
    " outputs = coalesce(x.outputs, t.outputs),"
    " approval_message = coalesce(x.message, t.approval_message),"
    " next_try_at = CASE WHEN x.retry_ms IS NULL THEN NULL"
    " ELSE now() + x.retry_ms * interval '1 millisecond' END,"
    " queued_at = CASE WHEN x.state = 'queued' AND x.old <> 'queued'"
    " THEN now() ELSE t.queued_at END,"
    " finished_at = CASE WHEN x.state IN ('success', 'failed', 'skipped',"
    " 'upstream_failed', 'canceled') THEN coalesce(t.finished_at, now())"
    " END"
    " FROM jsonb_to_recordset($2::jsonb) AS x(id bigint, old text,"
    " state text, pending int, error text, outputs jsonb, retry_ms bigint,"
    " message text)"
    " WHERE t.id = ANY ($3::bigint[]) AND t.id = x.id AND t.state = x.old"
    " RETURNING 1),"
    " f AS (UPDATE attempts a SET state = y.state, exit_code = y.exit_code,"
    " outputs = y.outputs, error = y.error, finished_at = now()"
    " FROM jsonb_to_recordset($4::jsonb) AS y(id bigint, state text,"
    " exit_code int, outputs jsonb, error text)"
    " WHERE a.id = ANY ($5::bigint[]) AND a.id = y.id"
    " AND a.state = 'running' RETURNING 1),"
    " o AS (SELECT 1 FROM tasks t WHERE $6 AND t.run_id = $1"
    " AND t.state IN ('pending', 'queued', 'running', 'up_for_retry',"
    " 'awaiting_approval') AND t.id <> ALL ($3::bigint[]) LIMIT 1)"
    " SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM f),"
    " EXISTS (SELECT 1 FROM o),"
    " CASE WHEN $6 AND NOT EXISTS (SELECT 1 FROM o) THEN EXISTS (SELECT 1"
    " FROM tasks t WHERE t.run_id = $1 AND t.state IN ('failed',"
    " 'upstream_failed', 'canceled') AND t.id <> ALL ($3::bigint[])) END";

int store_run_write(struct store_conn *c, int64_t run_id,
                    const struct store_attempt_end *ends, size_t n_ends,
                    const struct store_task_change *v, size_t n,
                    struct store_run_probe *probe, struct weir_err *err)
{
    char run[WEIR_I64_LEN];
    const char *params[6] = {run, NULL, NULL, NULL, NULL, probe ? "t" : "f"};
    char *json = NULL, *ids = NULL, *ejson = NULL, *eids = NULL;
    PGresult *r = NULL;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < n; i++)
        if (v[i].from != v[i].to)
            rc = state_task_change(run_id, v[i].task_id, v[i].try, v[i].from,
                                   v[i].to, err);
    for (size_t i = 0; rc == 0 && i < n_ends; i++)
        rc = state_attempt_change(ends[i].a->run_id, ends[i].a->task_id,
                                  ends[i].a->try, ends[i].a->id,
                                  ends[i].a->state, ends[i].to, err);
    if (rc < 0 || (n == 0 && n_ends == 0 && probe == NULL))
        return rc;
    if (!changes_text(v, n, &json, &ids) ||
        !ends_text(ends, n_ends, &ejson, &eids)) {
        cJSON_free(json);
        free(ids);
        cJSON_free(ejson);
        free(eids);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    WEIR_I64(run, run_id);
    params[1] = json;
    params[2] = ids;
    params[3] = ejson;
    params[4] = eids;
    rc = store_query(c, write_sql, 6, params, &r, err);
    cJSON_free(json);
    free(ids);
    cJSON_free(ejson);
    free(eids);
    if (rc < 0)
        return rc;
    if (strtoull(PQgetvalue(r, 0, 0), NULL, 10) != n)
        rc = weir_err_set(err, WEIR_ECONFLICT,
                          "run %lld: a task changed state meanwhile",
                          (long long)run_id);
    if (probe != NULL) {
        probe->open = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
        probe->bad = !probe->open && strcmp(PQgetvalue(r, 0, 3), "t") == 0;
    }
    PQclear(r);
    return rc;
}

int store_tasks_apply(struct store_conn *c, int64_t run_id,
                      const struct store_task_change *v, size_t n,
                      struct weir_err *err)
{
    return store_run_write(c, run_id, NULL, 0, v, n, NULL, err);
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
    rc = store_cmd_rows(
        c,
        "UPDATE tasks t SET state = 'pending', upstream_pending = x.pending,"
        " max_tries = x.max_tries, outputs = NULL, error = NULL,"
        " next_try_at = NULL, queued_at = NULL, started_at = NULL,"
        " finished_at = NULL, decision = NULL, decided_by = NULL,"
        " decided_at = NULL, decision_comment = NULL,"
        " capped_dag = (" CAPPED_DAG " t.run_id)"
        " FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, old text,"
        " pending int, max_tries int)"
        " WHERE t.id = x.id AND t.state = x.old",
        1, params, n, false, msg, err);
    cJSON_free(text);
    return rc;
}

int store_task_decision(struct store_conn *c, int64_t task_id, bool approved,
                        const char *by, const char *comment,
                        struct weir_err *err)
{
    char idb[WEIR_I64_LEN];
    const char *params[4] = {idb, approved ? "approved" : "rejected", by,
                             comment};

    WEIR_I64(idb, task_id);
    return store_cmd(c,
                     "UPDATE tasks SET decision = $2, decided_by = $3,"
                     " decided_at = now(), decision_comment = $4"
                     " WHERE id = $1",
                     4, params, err);
}
