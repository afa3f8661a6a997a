/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of the dashboard's reads. The runs-by-steps grid: a page of a DAG's
 * runs, each with one state per step; a matrix step's cells fold into the
 * state that needs a person's eye first (failed before running before
 * success). And the latest runs of every DAG, for the DAGs page's squares,
 * one index range scan per DAG, each saying whether it waits for a person
 * (a running run with a task awaiting approval).
 */
#include <stdio.h>

#include "store/grid.h"
#include "store/internal.h"

/* Order in which the cells' states win when folded into one. */
#define GRID_STATE_ORDER                                                       \
    "ARRAY['failed', 'upstream_failed', 'running', 'up_for_retry',"            \
    " 'awaiting_approval', 'queued', 'pending', 'canceled', 'skipped',"        \
    " 'success']"

static const char grid_sql[] =
    "SELECT coalesce(jsonb_agg(j ORDER BY id DESC), '[]') FROM (SELECT r.id,"
    " jsonb_build_object('id', r.id, 'state', r.state, 'created_at',"
    " weir_iso(r.created_at), 'started_at', weir_iso(r.started_at),"
    " 'finished_at', weir_iso(r.finished_at), 'tasks', (SELECT"
    " coalesce(jsonb_object_agg(g.step_id, jsonb_build_object('state', g.st,"
    " 'cells', g.n)), '{}') FROM (SELECT t.step_id, count(*) AS n,"
    " (array_agg(t.state ORDER BY array_position(" GRID_STATE_ORDER
    ", t.state)))[1] AS st FROM tasks t WHERE t.run_id = r.id"
    " GROUP BY t.step_id) g)) AS j FROM runs r WHERE r.dag_id = $1"
    " AND ($2::bigint = 0 OR r.id < $2) ORDER BY r.id DESC LIMIT $3) s";

int store_grid_read(struct store_conn *c, const char *dag_id, int64_t cursor,
                    int limit, cJSON **out, struct weir_err *err)
{
    char cur[24], lim[24];
    const char *params[3] = {dag_id, cur, lim};

    snprintf(cur, sizeof(cur), "%lld", (long long)cursor);
    snprintf(lim, sizeof(lim), "%d", limit);
    return store_json_query(c, grid_sql, 3, params, out, err);
}

int store_recent_runs(struct store_conn *c, int per_dag, cJSON **out,
                      struct weir_err *err)
{
    char lim[24];
    const char *params[1] = {lim};

    snprintf(lim, sizeof(lim), "%d", per_dag);
    return store_json_query(
        c,
        "SELECT coalesce(jsonb_object_agg(d.id, (SELECT coalesce(jsonb_agg("
        "jsonb_build_object('id', x.id, 'state', x.state,"
        " 'awaiting_approval', x.state = 'running' AND EXISTS (SELECT 1"
        " FROM tasks t WHERE t.run_id = x.id AND t.state ="
        " 'awaiting_approval')) ORDER BY x.id DESC), '[]') FROM (SELECT"
        " r.id, r.state FROM runs r WHERE r.dag_id = d.id ORDER BY r.id"
        " DESC LIMIT $1) x)), '{}') FROM dags d",
        1, params, out, err);
}
