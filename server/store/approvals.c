/* SPDX-License-Identifier: Apache-2.0 */
/* Who started and retried a run (store/approvals.h). */
#include "store/approvals.h"

#include <inttypes.h>
#include <stdio.h>

#include "store/query.h"

static int set_by(struct store_conn *c, const char *sql, int64_t run_id,
                  const char *by, struct weir_err *err)
{
    char id[24];
    const char *params[2] = {id, by};

    snprintf(id, sizeof(id), "%" PRId64, run_id);
    return store_cmd_rows(c, sql, 2, params, 1, true, "no such run", err);
}

int store_run_started_by_set(struct store_conn *c, int64_t run_id,
                             const char *by, struct weir_err *err)
{
    return set_by(c, "UPDATE runs SET started_by = $2 WHERE id = $1", run_id,
                  by, err);
}

int store_run_retried_by_set(struct store_conn *c, int64_t run_id,
                             const char *by, struct weir_err *err)
{
    return set_by(c, "UPDATE runs SET retried_by = $2 WHERE id = $1", run_id,
                  by, err);
}

int store_run_starters(struct store_conn *c, int64_t run_id,
                       struct store_run_starters *out, struct weir_err *err)
{
    char id[24];
    const char *params[1] = {id};
    PGresult *r = NULL;
    int rc;

    snprintf(id, sizeof(id), "%" PRId64, run_id);
    rc = store_query_one(c,
                         "SELECT coalesce(r.started_by, b.created_by, ''),"
                         " coalesce(r.retried_by, '') FROM runs r"
                         " LEFT JOIN backfills b ON b.id = r.backfill_id"
                         " WHERE r.id = $1",
                         1, params, &r, err, "no run %" PRId64, run_id);
    if (rc < 0)
        return rc;
    snprintf(out->started_by, sizeof(out->started_by), "%s",
             PQgetvalue(r, 0, 0));
    snprintf(out->retried_by, sizeof(out->retried_by), "%s",
             PQgetvalue(r, 0, 1));
    PQclear(r);
    return 0;
}
