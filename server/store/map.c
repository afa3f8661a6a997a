/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of mapped steps: counting, making and taking back the cells of a
 * step whose matrix is known at run time only. The new cells come in as
 * one JSON parameter, so ten thousand cells are one statement.
 */
#include "store/map.h"

#include <stdlib.h>
#include <string.h>

#include "store/query.h"

int store_map_cells(struct store_conn *c, int64_t run_id,
                    const char *const *steps, size_t n, size_t *counts,
                    struct weir_err *err)
{
    char run[WEIR_I64_LEN];
    char *arr = store_strs_literal(steps, n);
    const char *params[2] = {run, arr};
    PGresult *r = NULL;
    int rc;

    if (arr == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    WEIR_I64(run, run_id);
    rc = store_query(c,
                     "SELECT step_id, count(*) FROM tasks WHERE run_id = $1"
                     " AND step_id = ANY ($2::text[]) GROUP BY step_id",
                     2, params, &r, err);
    free(arr);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        counts[i] = 0;
        for (int row = 0; row < PQntuples(r); row++)
            if (strcmp(store_val(r, row, 0), steps[i]) == 0)
                counts[i] = (size_t)store_val_i64(r, row, 1);
    }
    PQclear(r);
    return 0;
}

int store_map_expand(struct store_conn *c, int64_t task_id, const char *matrix0,
                     const char *cells, struct weir_err *err)
{
    char id[WEIR_I64_LEN];
    const char *params[3] = {id, matrix0, cells};

    WEIR_I64(id, task_id);
    return store_cmd(
        c,
        "WITH p AS (UPDATE tasks SET matrix = $2::jsonb,"
        " map_cells = jsonb_array_length($3::jsonb) + 1 WHERE id = $1"
        " AND cell = 0 AND state = 'pending' RETURNING *)"
        " INSERT INTO tasks (run_id, step_id, cell, matrix, max_tries, queue,"
        " priority, upstream_pending, capped_dag, pool, pool_slots)"
        " SELECT p.run_id, p.step_id, x.cell, x.matrix, p.max_tries, p.queue,"
        " p.priority, 0, p.capped_dag, p.pool, p.pool_slots FROM p,"
        " jsonb_to_recordset($3::jsonb) AS x(cell int, matrix jsonb)"
        " ORDER BY x.cell",
        3, params, err);
}

int store_map_collapse(struct store_conn *c, int64_t run_id,
                       const char *step_id, struct weir_err *err)
{
    char run[WEIR_I64_LEN];
    const char *params[2] = {run, step_id};

    WEIR_I64(run, run_id);
    return store_cmd(c,
                     "WITH d AS (DELETE FROM tasks WHERE run_id = $1"
                     " AND step_id = $2 AND cell > 0)"
                     " UPDATE tasks SET matrix = NULL, map_cells = -1"
                     " WHERE run_id = $1 AND step_id = $2 AND cell = 0",
                     2, params, err);
}

int store_map_empty(struct store_conn *c, int64_t task_id, struct weir_err *err)
{
    char id[WEIR_I64_LEN];
    const char *params[1] = {id};

    WEIR_I64(id, task_id);
    return store_cmd(c, "UPDATE tasks SET map_cells = 0 WHERE id = $1", 1,
                     params, err);
}
