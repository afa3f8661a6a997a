/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of runs and tasks: creating a run and its tasks, reading a run with
 * its tasks under a row lock, and writing task and run states. Batches go
 * in as one JSON parameter read with jsonb_to_recordset, so a fan-out of
 * a thousand cells is one statement, not a thousand.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/internal.h"
#include "store/run.h"

#define I64(buf, v) snprintf(buf, sizeof(buf), "%lld", (long long)(v))

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
    memset(r, 0, sizeof(*r));
}

void store_tasks_free(struct store_task *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++) {
        cJSON_Delete(v[i].outputs);
        cJSON_Delete(v[i].matrix);
    }
    free(v);
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
    rc = store_query(c,
                     "SELECT paused, current_version_id, file_missing FROM dags"
                     " WHERE id = $1 AND deleted_at IS NULL FOR NO KEY UPDATE",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return weir_err_set(err, WEIR_ENOTFOUND, "no DAG \"%s\"", id);
    }
    memset(out, 0, sizeof(*out));
    out->paused = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    out->version_id = store_val_i64(r, 0, 1);
    out->file_missing = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
    PQclear(r);
    r = NULL;
    rc = store_query(c,
                     /* a canceled run holds its slot while a step of
                      * it still runs (until it is reported or its lease
                      * expires) */
                     "SELECT (SELECT count(*) FROM runs WHERE dag_id = $1"
                     " AND state = 'running') + (SELECT count(DISTINCT"
                     " t.run_id) FROM attempts a JOIN tasks t ON t.id ="
                     " a.task_id JOIN runs r ON r.id = t.run_id WHERE"
                     " a.state = 'running' AND r.dag_id = $1 AND r.state ="
                     " 'canceled')",
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

int store_run_by_key(struct store_conn *c, const char *dag_id, const char *key,
                     int64_t *run_id, struct weir_err *err)
{
    const char *params[2] = {dag_id, key};
    PGresult *r = NULL;
    int rc;

    rc = store_query(c,
                     "SELECT id FROM runs WHERE dag_id = $1"
                     " AND idempotency_key = $2",
                     2, params, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0)
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no run with that key");
    else
        *run_id = store_val_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

int store_run_insert(struct store_conn *c, const struct store_run_new *n,
                     int64_t *id, struct weir_err *err)
{
    char version[24], prio[24];
    const char *params[11] = {n->dag_id,
                              version,
                              run_state_name(n->state),
                              n->params,
                              n->environment,
                              n->trigger_kind,
                              n->trigger_key,
                              n->payload,
                              n->idempotency_key,
                              n->reason,
                              prio};
    PGresult *r = NULL;
    int rc;

    I64(version, n->version_id);
    I64(prio, n->priority);
    rc = store_query(c,
                     "INSERT INTO runs (dag_id, dag_version_id, state, params,"
                     " environment, trigger_kind, trigger_key,"
                     " trigger_payload, idempotency_key, reason, priority,"
                     " started_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
                     " $9, $10, $11, CASE WHEN $3 = 'running' THEN now()"
                     " END) RETURNING id",
                     11, params, &r, err);
    if (rc < 0)
        return rc;
    *id = store_val_i64(r, 0, 0);
    PQclear(r);
    log_info("event=run_created run=%lld dag=%s state=%s trigger=%s",
             (long long)*id, n->dag_id, run_state_name(n->state),
             n->trigger_kind);
    return 0;
}

/*
 * Statistics for young tables. Statements are prepared once per pooled
 * connection and PostgreSQL keeps a generic plan for each, built from
 * what the tables looked like then; on a new database that is an almost
 * empty tasks table, for which a sequential scan beats any index, and the
 * plan stays while the table grows, until autovacuum next analyzes it
 * (up to a minute or more later, plans of every connection then made
 * again). So while this server has inserted few tasks, it analyzes tasks
 * and attempts itself each time the count it inserted grows fourfold,
 * from ANALYZE_FIRST on, in the transaction that inserted them (skipping
 * a table a vacuum holds, never waiting); past ANALYZE_LAST autovacuum
 * alone keeps the statistics.
 */
#define ANALYZE_FIRST 1000L
#define ANALYZE_LAST  300000L

static atomic_long tasks_inserted;
static atomic_long analyze_at = ANALYZE_FIRST;

static int analyze_if_young(struct store_conn *c, long added,
                            struct weir_err *err)
{
    long total = atomic_fetch_add(&tasks_inserted, added) + added;
    long at = atomic_load(&analyze_at);

    if (total < at || at > ANALYZE_LAST ||
        !atomic_compare_exchange_strong(&analyze_at, &at, at * 4))
        return 0;
    log_info("event=analyze tables=tasks,attempts tasks_inserted=%ld", total);
    return store_cmd(c, "ANALYZE (SKIP_LOCKED) tasks, attempts", 0, NULL, err);
}

int store_tasks_insert(struct store_conn *c, int64_t run_id, int priority,
                       const char *tasks_json, struct weir_err *err)
{
    char run[24], prio[24];
    const char *params[3] = {run, prio, tasks_json};
    PGresult *r = NULL;
    long added;
    int rc;

    I64(run, run_id);
    I64(prio, priority);
    rc = store_query(c,
                     "INSERT INTO tasks (run_id, step_id, cell, matrix,"
                     " max_tries, queue, priority, upstream_pending,"
                     " capped_dag)"
                     " SELECT $1, x.step_id, x.cell, x.matrix, x.max_tries,"
                     " x.queue, $2, x.upstream_pending, (" STORE_CAPPED_DAG
                     " $1)"
                     " FROM jsonb_to_recordset($3::jsonb)"
                     " AS x(step_id text, cell int, matrix jsonb,"
                     " max_tries int, queue text, upstream_pending int, o int)"
                     " ORDER BY x.o",
                     3, params, &r, err);
    if (rc < 0)
        return rc;
    added = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return analyze_if_young(c, added, err);
}

/* Parse the JSON text at (row, col) into *out; NULL stays NULL. */
static int json_col(const PGresult *r, int row, int col, cJSON **out,
                    struct weir_err *err)
{
    const char *v = store_val(r, row, col);

    *out = NULL;
    if (v == NULL)
        return 0;
    *out = cJSON_Parse(v);
    if (*out == NULL)
        return weir_err_set(err, WEIR_EINTERNAL,
                            "cannot parse stored JSON (malformed, or nested "
                            "deeper than cJSON reads)");
    return 0;
}

/* The run at columns c..c+12 of row `row` of r. */
/* The columns run_from_row() reads, of runs r and dag_versions v. */
#define RUN_ROW_SQL                                                            \
    "SELECT r.id, r.dag_id, r.dag_version_id, r.state, r.params,"              \
    " r.environment, r.trigger_kind, r.trigger_key, r.trigger_payload,"        \
    " r.reason, weir_iso(coalesce(r.logical_time, r.created_at)),"             \
    " v.path, v.hash, r.retry_count"
#define RUN_ROW_COLS 14 /* the columns of RUN_ROW_SQL */

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
        rc = json_col(r, row, c + 4, &v.params, err);
    if (rc == 0)
        rc = store_val_dup(r, row, c + 5, &v.environment, err);
    if (rc == 0)
        rc = store_val_dup(r, row, c + 6, &v.trigger_kind, err);
    if (rc == 0)
        rc = store_val_dup(r, row, c + 7, &v.trigger_key, err);
    if (rc == 0)
        rc = json_col(r, row, c + 8, &v.trigger_payload, err);
    if (rc == 0)
        rc = store_val_dup(r, row, c + 9, &v.reason, err);
    if (rc == 0)
        rc = store_val_dup(r, row, c + 10, &v.logical_time, err);
    if (rc == 0)
        rc = store_val_dup(r, row, c + 11, &v.dag_path, err);
    if (rc == 0)
        rc = store_val_dup(r, row, c + 12, &v.dag_hash, err);
    v.retry_count = (int)store_val_i64(r, row, c + 13);
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
    char sql[sizeof(base) + 20], idb[24];
    const char *params[1] = {idb};
    PGresult *r = NULL;
    int rc;

    I64(idb, id);
    snprintf(sql, sizeof(sql), "%s%s", base, lock ? " FOR UPDATE OF r" : "");
    rc = store_query(c, sql, 1, params, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0)
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no run %lld", (long long)id);
    else
        rc = run_from_row(r, 0, 0, out, err);
    PQclear(r);
    return rc;
}

int store_attempt_lock_run(struct store_conn *c, int64_t id, const char *lease,
                           struct store_attempt *a, struct store_run *run,
                           struct weir_err *err)
{
    char idb[24];
    const char *params[1] = {idb};
    PGresult *r = NULL;
    struct store_attempt v = {0};
    int rc;

    I64(idb, id);
    /* Both locks of a completion in one round trip, attempt then run. */
    rc = store_query(c,
                     RUN_ROW_SQL
                     ", " STORE_ATTEMPT_COLS
                     " FROM attempts a JOIN tasks t ON t.id = a.task_id"
                     " JOIN runs r ON r.id = t.run_id"
                     " JOIN dag_versions v ON v.id = r.dag_version_id"
                     " WHERE a.id = $1 FOR UPDATE OF a, r",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return weir_err_set(err, WEIR_ENOTFOUND, "no attempt %lld",
                            (long long)id);
    }
    rc = store_attempt_from_row(r, 0, RUN_ROW_COLS, lease, &v, err);
    if (rc == 0)
        rc = run_from_row(r, 0, 0, run, err);
    PQclear(r);
    if (rc == 0)
        *a = v;
    return rc;
}

/* ids as a PostgreSQL array literal, "{1,2,3}"; NULL: no memory. */
static char *ids_literal(const int64_t *ids, size_t n)
{
    char *text = malloc(n * 21 + 3), *p = text;

    if (text == NULL)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%lld", i ? "," : "", (long long)ids[i]);
    *p++ = '}';
    *p = '\0';
    return text;
}

/* strs as a PostgreSQL text array literal; NULL: no memory. */
static char *strs_literal(const char *const *strs, size_t n)
{
    size_t len = 3;
    char *text, *p;

    for (size_t i = 0; i < n; i++)
        len += 2 * strlen(strs[i]) + 3;
    text = p = malloc(len);
    if (text == NULL)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *p++ = ',';
        *p++ = '"';
        for (const char *q = strs[i]; *q != '\0'; q++) {
            if (*q == '"' || *q == '\\')
                *p++ = '\\';
            *p++ = *q;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return text;
}

int store_attempts_lock(struct store_conn *c, const int64_t *ids,
                        const char *const *leases, size_t n,
                        struct store_attempt *out, bool *found,
                        struct weir_err *err)
{
    char *id_arr = ids_literal(ids, n);
    const char *params[1] = {id_arr};
    PGresult *r = NULL;
    int rc = 0;

    if (id_arr == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    /* In id order, so that two batches never wait on each other. */
    if (rc == 0)
        rc = store_query(c,
                         "SELECT " STORE_ATTEMPT_COLS
                         " FROM unnest($1::bigint[]) AS k(id)"
                         " JOIN attempts a ON a.id = k.id"
                         " JOIN tasks t ON t.id = a.task_id"
                         " ORDER BY a.id FOR UPDATE OF a",
                         1, params, &r, err);
    free(id_arr);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        found[i] = false;
    for (int row = 0; rc == 0 && row < PQntuples(r); row++) {
        int64_t id = store_val_i64(r, row, 0);

        for (size_t i = 0; rc == 0 && i < n; i++) {
            struct store_attempt *a = &out[i];

            if (ids[i] != id || found[i])
                continue;
            rc = store_attempt_from_row(r, row, 0, leases[i], a, err);
            found[i] = true;
        }
    }
    PQclear(r);
    return rc;
}

int store_runs_lock(struct store_conn *c, const int64_t *ids, size_t n,
                    struct store_run *out, struct weir_err *err)
{
    char *id_arr = ids_literal(ids, n);
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

static int task_from_row(const PGresult *r, int row, struct store_task *t,
                         struct weir_err *err)
{
    int rc;

    t->id = store_val_i64(r, row, 0);
    snprintf(t->step_id, sizeof(t->step_id), "%s", PQgetvalue(r, row, 1));
    t->cell = (int)store_val_i64(r, row, 2);
    t->try_count = (int)store_val_i64(r, row, 4);
    t->max_tries = (int)store_val_i64(r, row, 5);
    t->upstream_pending = (int)store_val_i64(r, row, 6);
    rc = task_state_parse(PQgetvalue(r, row, 3), &t->state, err);
    if (rc == 0)
        rc = json_col(r, row, 7, &t->outputs, err);
    if (rc == 0)
        rc = json_col(r, row, 8, &t->matrix, err);
    return rc;
}

/* Every row of r (TASK_COLS) into a new array *out of *n tasks
 * (store_tasks_free()). */
static int tasks_from_result(const PGresult *r, struct store_task **out,
                             size_t *n, struct weir_err *err)
{
    size_t rows = (size_t)PQntuples(r), i;
    struct store_task *v = calloc(rows ? rows : 1, sizeof(*v));
    int rc = v ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");

    for (i = 0; rc == 0 && i < rows; i++)
        rc = task_from_row(r, (int)i, &v[i], err);
    if (rc < 0) {
        store_tasks_free(v, rows);
        return rc;
    }
    *out = v;
    *n = rows;
    return 0;
}

int store_run_tasks(struct store_conn *c, int64_t run_id,
                    struct store_task **out, size_t *n, struct weir_err *err)
{
    char idb[24];
    const char *params[1] = {idb};
    PGresult *r = NULL;
    int rc;

    I64(idb, run_id);
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

int store_run_tasks_some(struct store_conn *c, int64_t run_id,
                         const int64_t *ids, size_t n_ids,
                         const char *const *steps, size_t n_steps,
                         struct store_task **out, size_t *n,
                         struct weir_err *err)
{
    char idb[24];
    char *id_arr = ids_literal(ids, n_ids), *step_arr = NULL;
    const char *params[3] = {idb, id_arr, NULL};
    PGresult *r = NULL;
    int rc = 0;

    step_arr = strs_literal(steps, n_steps);
    params[2] = step_arr;
    if (id_arr == NULL || step_arr == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    I64(idb, run_id);
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

/* The JSON array of changes for store_run_write(), and their ids as an
 * array literal; false: no memory. */
static bool changes_text(const struct store_task_change *v, size_t n,
                         char **json, char **ids)
{
    cJSON *arr = cJSON_CreateArray();
    int64_t *idv = malloc((n ? n : 1) * sizeof(*idv));

    for (size_t i = 0; arr != NULL && i < n; i++) {
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
    *json = arr && idv ? cJSON_PrintUnformatted(arr) : NULL;
    *ids = idv ? ids_literal(idv, n) : NULL;
    cJSON_Delete(arr);
    free(idv);
    return *json != NULL && *ids != NULL;
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
    *json = arr && idv ? cJSON_PrintUnformatted(arr) : NULL;
    *ids = idv ? ids_literal(idv, n) : NULL;
    cJSON_Delete(arr);
    free(idv);
    return *json != NULL && *ids != NULL;
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
    char run[24];
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
    I64(run, run_id);
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

int store_run_set_state(struct store_conn *c, int64_t id, enum run_state from,
                        enum run_state to, struct weir_err *err)
{
    char idb[24];
    const char *params[3] = {idb, run_state_name(from), run_state_name(to)};
    PGresult *r = NULL;
    int rc = state_run_change(id, from, to, err);

    I64(idb, id);
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

    rc = store_query(c,
                     "SELECT id FROM runs WHERE dag_id = $1 AND state ="
                     " 'queued' ORDER BY priority DESC, id LIMIT 1 FOR UPDATE",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0)
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no queued run");
    else
        *run_id = store_val_i64(r, 0, 0);
    PQclear(r);
    return rc;
}
