/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of the read models (store/read.h). The runs-by-steps grid: a page
 * of a DAG's runs, each with one state per step; a matrix step's cells
 * fold into the state that needs a person's eye first (failed before
 * running before success). The latest runs of every DAG, for the DAGs
 * page's squares: one index range scan per DAG, each saying whether it
 * waits for a person (a running run with a task awaiting approval).
 */
#include "store/read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dag.h"
#include "store/after.h"
#include "store/query.h"

/* A run's timeout and deadline (migration 0015), and why the engine
 * ended it. */
#define RUN_DEADLINE_JSON                                                      \
    "jsonb_build_object('timeout_at', weir_iso(r.timeout_at), 'deadline_at',"  \
    " weir_iso(r.deadline_at), 'late', r.late, 'late_at',"                     \
    " weir_iso(r.late_at), 'error', r.error)"

/* A run as JSON; times through weir_iso() of the schema. */
#define RUN_JSON                                                               \
    "jsonb_build_object('id', r.id, 'dag', r.dag_id, 'version_id',"            \
    " r.dag_version_id, 'state', r.state, 'params', r.params,"                 \
    " 'environment', r.environment, 'trigger', jsonb_build_object('kind',"     \
    " r.trigger_kind, 'key', r.trigger_key, 'payload', r.trigger_payload),"    \
    " 'reason', r.reason, 'priority', r.priority, 'logical_time',"             \
    " weir_iso(coalesce(r.logical_time, r.created_at)), 'created_at',"         \
    " weir_iso(r.created_at), 'started_at', weir_iso(r.started_at),"           \
    " 'finished_at', weir_iso(r.finished_at), 'retry_count',"                  \
    " r.retry_count, 'retried_at', weir_iso(r.retried_at), 'canceled_by',"     \
    " r.canceled_by, 'param_changes', r.param_changes, 'backfill_id',"         \
    " r.backfill_id, 'no_cache', r.no_cache) || " RUN_DEADLINE_JSON

/* The attempt that attempt a (la: a task's last) reused from the step
 * cache, or SQL NULL. */
#define CACHED_FROM_OF(COL)                                                    \
    "(SELECT jsonb_build_object('run_id', ct.run_id, 'attempt_id', ca.id,"     \
    " 'task', ct.id, 'step', ct.step_id, 'try', ca.try) FROM attempts ca"      \
    " JOIN tasks ct ON ct.id = ca.task_id WHERE ca.id = " COL ")"
#define CACHED_FROM_A  CACHED_FROM_OF("a.cached_from_attempt_id")
#define CACHED_FROM_LA CACHED_FROM_OF("la.cached_from_attempt_id")

/* The attempts of task t as a JSON array. */
#define ATTEMPTS_JSON                                                          \
    "(SELECT coalesce(jsonb_agg(jsonb_build_object('id', a.id, 'try', a.try,"  \
    " 'state', a.state, 'exit_code', a.exit_code, 'worker', w.name,"           \
    " 'error', a.error, 'outputs', a.outputs, 'inputs_from', a.inputs_from,"   \
    " 'log_capped', a.log_capped, 'cached_from', " CACHED_FROM_A               \
    ", 'started_at',"                                                          \
    " weir_iso(a.started_at), 'finished_at', weir_iso(a.finished_at))"         \
    " ORDER BY a.try), '[]') FROM attempts a LEFT JOIN workers w"              \
    " ON w.id = a.worker_id WHERE a.task_id = t.id)"

/* The tasks of run r, with their attempts, as a JSON array; $2 and $3
 * are the step ids of the hooks (dag_hook_name()). */
#define TASKS_JSON                                                             \
    "(SELECT coalesce(jsonb_agg(jsonb_build_object('id', t.id, 'step',"        \
    " t.step_id, 'cell', t.cell, 'matrix', t.matrix, 'state', t.state,"        \
    " 'try_count', t.try_count, 'max_tries', t.max_tries, 'queue', t.queue,"   \
    " 'pool', t.pool, 'pool_slots', t.pool_slots,"                             \
    " 'outputs', t.outputs, 'error', t.error, 'next_try_at',"                  \
    " weir_iso(t.next_try_at), 'started_at', weir_iso(t.started_at),"          \
    " 'finished_at', weir_iso(t.finished_at), 'decision', t.decision,"         \
    " 'decided_by', t.decided_by, 'decided_at', weir_iso(t.decided_at),"       \
    " 'decision_comment', t.decision_comment, 'approval_message',"             \
    " t.approval_message, 'hook', CASE WHEN t.step_id IN ($2, $3)"             \
    " THEN t.step_id END, 'cached_from', (SELECT " CACHED_FROM_LA              \
    " FROM attempts la WHERE la.task_id = t.id AND t.state = 'success'"        \
    " ORDER BY la.try DESC LIMIT 1), "                                         \
    "'attempts', " ATTEMPTS_JSON                                               \
    ") ORDER BY t.id), '[]') FROM tasks t WHERE t.run_id = r.id)"

/* The events run r consumed (trigger_events): how many, and the first
 * 100 without their payloads (GET /api/v1/events?run=ID has them all). */
#define CONSUMED_JSON                                                          \
    "'events_consumed', (SELECT count(DISTINCT event_id) FROM trigger_events"  \
    " WHERE run_id = r.id), 'events', (SELECT coalesce(jsonb_agg("             \
    "jsonb_build_object('id', e.id, 'ext_id', e.ext_id, 'name', e.name,"       \
    " 'received_at', weir_iso(e.received_at)) ORDER BY e.id), '[]') FROM"      \
    " (SELECT * FROM events WHERE id IN (SELECT event_id FROM trigger_events"  \
    " WHERE run_id = r.id) ORDER BY id LIMIT 100) e)"

/* The steps of run r mapped over an upstream's output, {step: {cells}}:
 * cells null until the list is read (migration 0018). */
#define MAPS_JSON                                                              \
    "'maps', (SELECT coalesce(jsonb_object_agg(t.step_id,"                     \
    " jsonb_build_object('cells', CASE WHEN t.map_cells >= 0"                  \
    " THEN t.map_cells END)), '{}') FROM tasks t WHERE t.run_id = r.id"        \
    " AND t.map_cells IS NOT NULL)"

/* The SQL of store_run_detail(). */
static const char run_detail_sql[] =
    "SELECT " RUN_JSON " || jsonb_build_object('tasks', " TASKS_JSON
    ", " CONSUMED_JSON ", " MAPS_JSON ", " STORE_UPSTREAM_JSON
    ") FROM runs r WHERE r.id = $1";

int store_runs_list(struct store_conn *c, const struct store_runs_filter *f,
                    cJSON **out, struct weir_err *err)
{
    char cur[WEIR_I64_LEN], lim[WEIR_I64_LEN], since[WEIR_I64_LEN];
    const char *params[9] = {f->dag_id,
                             f->state,
                             cur,
                             lim,
                             f->environment,
                             f->trigger,
                             f->since > 0 ? since : NULL,
                             f->late,
                             f->scope};

    WEIR_I64(cur, f->cursor);
    WEIR_I64(lim, f->limit);
    WEIR_I64(since, f->since);
    return store_json_query(
        c,
        "SELECT coalesce(jsonb_agg(j ORDER BY id DESC), '[]')"
        " FROM (SELECT r.id, " RUN_JSON " || jsonb_build_object("
        "'awaiting_approval', EXISTS (SELECT 1 FROM tasks t WHERE"
        " t.run_id = r.id AND t.state = 'awaiting_approval')) AS j"
        " FROM runs r WHERE ($1::text IS NULL OR r.dag_id = $1)"
        " AND ($2::text IS NULL OR r.state = $2)"
        " AND ($3::bigint = 0 OR r.id < $3)"
        " AND ($5::text IS NULL OR r.environment = $5)"
        " AND ($6::text IS NULL OR r.trigger_kind = $6)"
        " AND ($7::bigint IS NULL OR r.created_at >= to_timestamp($7))"
        " AND ($8::boolean IS NULL OR r.late = $8)"
        " AND weir_scope_ok($9::jsonb, r.dag_id, r.environment)"
        " ORDER BY r.id DESC LIMIT $4) s",
        9, params, out, err);
}

int store_run_detail_text(struct store_conn *c, int64_t id, char **out,
                          struct weir_err *err)
{
    PGresult *r = NULL;
    char idb[WEIR_I64_LEN];
    const char *params[3] = {idb, dag_hook_name(DAG_HOOK_ON_FAILURE),
                             dag_hook_name(DAG_HOOK_ON_SUCCESS)};
    int rc;

    WEIR_I64(idb, id);
    rc = store_query(c, run_detail_sql, 3, params, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0 || store_val(r, 0, 0) == NULL) {
        PQclear(r);
        return weir_err_set(err, WEIR_ENOTFOUND, "no run %s", idb);
    }
    *out = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return *out ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");
}

int store_run_detail(struct store_conn *c, int64_t id, cJSON **out,
                     struct weir_err *err)
{
    char idb[WEIR_I64_LEN];
    const char *params[3] = {idb, dag_hook_name(DAG_HOOK_ON_FAILURE),
                             dag_hook_name(DAG_HOOK_ON_SUCCESS)};
    int rc;

    WEIR_I64(idb, id);
    rc = store_json_query(c, run_detail_sql, 3, params, out, err);
    if (rc == WEIR_ENOTFOUND)
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no run %s", idb);
    return rc;
}

int store_logs_read(struct store_conn *c, int64_t id, int64_t after, int limit,
                    cJSON **out, struct weir_err *err)
{
    char idb[WEIR_I64_LEN], aft[WEIR_I64_LEN], lim[WEIR_I64_LEN];
    const char *params[3] = {idb, aft, lim};
    int rc;

    WEIR_I64(idb, id);
    WEIR_I64(aft, after);
    WEIR_I64(lim, limit);
    rc = store_json_query(
        c,
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM attempts WHERE id = $1)"
        " THEN (SELECT coalesce(jsonb_agg(jsonb_build_object('seq', seq,"
        " 'ts', (extract(epoch FROM ts) * 1000)::bigint, 'stream', stream,"
        " 'line', line) ORDER BY seq), '[]') FROM (SELECT * FROM log_lines"
        " WHERE attempt_id = $1 AND seq > $2 ORDER BY seq LIMIT $3) l) END",
        3, params, out, err);
    if (rc == WEIR_ENOTFOUND)
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no attempt %s", idb);
    return rc;
}

/* Order in which the cells' states win when folded into one. */
#define GRID_STATE_ORDER                                                       \
    "ARRAY['failed', 'upstream_failed', 'running', 'up_for_retry',"            \
    " 'awaiting_approval', 'queued', 'pending', 'canceled', 'skipped',"        \
    " 'success']"

static const char grid_sql[] =
    "SELECT coalesce(jsonb_agg(j ORDER BY id DESC), '[]') FROM (SELECT r.id,"
    " jsonb_build_object('id', r.id, 'state', r.state, 'late', r.late,"
    " 'created_at', weir_iso(r.created_at), 'started_at',"
    " weir_iso(r.started_at),"
    " 'finished_at', weir_iso(r.finished_at), 'tasks', (SELECT"
    " coalesce(jsonb_object_agg(g.step_id, jsonb_build_object('state', g.st,"
    " 'cells', g.n)), '{}') FROM (SELECT t.step_id, count(*) AS n,"
    " (array_agg(t.state ORDER BY array_position(" GRID_STATE_ORDER
    ", t.state)))[1] AS st FROM tasks t WHERE t.run_id = r.id"
    " GROUP BY t.step_id) g)) AS j FROM runs r WHERE r.dag_id = $1"
    " AND ($2::bigint = 0 OR r.id < $2)"
    " AND weir_scope_ok($4::jsonb, r.dag_id, r.environment)"
    " ORDER BY r.id DESC LIMIT $3) s";

int store_grid_read(struct store_conn *c, const char *dag_id, int64_t cursor,
                    int limit, const char *scope, cJSON **out,
                    struct weir_err *err)
{
    char cur[WEIR_I64_LEN], lim[WEIR_I64_LEN];
    const char *params[4] = {dag_id, cur, lim, scope};

    WEIR_I64(cur, cursor);
    WEIR_I64(lim, limit);
    return store_json_query(c, grid_sql, 4, params, out, err);
}

int store_recent_runs(struct store_conn *c, int per_dag, const char *scope,
                      cJSON **out, struct weir_err *err)
{
    char lim[WEIR_I64_LEN];
    const char *params[2] = {lim, scope};

    WEIR_I64(lim, per_dag);
    return store_json_query(
        c,
        "SELECT coalesce(jsonb_object_agg(d.id, (SELECT coalesce(jsonb_agg("
        "jsonb_build_object('id', x.id, 'state', x.state,"
        " 'awaiting_approval', x.state = 'running' AND EXISTS (SELECT 1"
        " FROM tasks t WHERE t.run_id = x.id AND t.state ="
        " 'awaiting_approval')) ORDER BY x.id DESC), '[]') FROM (SELECT"
        " r.id, r.state FROM runs r WHERE r.dag_id = d.id AND"
        " weir_scope_ok($2::jsonb, r.dag_id, r.environment) ORDER BY r.id"
        " DESC LIMIT $1) x)), '{}') FROM dags d",
        2, params, out, err);
}

int store_workers_list(struct store_conn *c, int64_t lost_ms, cJSON **out,
                       struct weir_err *err)
{
    char lost[WEIR_I64_LEN];
    const char *params[1] = {lost};

    WEIR_I64(lost, lost_ms);
    return store_json_value(
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
    char seen[WEIR_I64_LEN];
    const char *params[1] = {seen};

    WEIR_I64(seen, seen_ms);
    return store_json_value(
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
