/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reads the authorization of a request needs (api/authz.c): the DAG
 * and the environment a run, an attempt, a backfill or an artifact version
 * belongs to, so that a handler can ask whether the caller's grants cover
 * them before it acts.
 */
#include <stdio.h>

#include "store/query.h"
#include "store/read.h"

/* The DAG (column 0) and environment (column 1, may be NULL) of the one
 * row sql returns into s; WEIR_ENOTFOUND with what when none. */
static int scope_read(struct store_conn *c, const char *sql, int n,
                      const char *const *params, struct store_scope *s,
                      const char *what, struct weir_err *err)
{
    PGresult *r = NULL;
    int rc = store_query_one(c, sql, n, params, &r, err, "%s", what);

    if (rc < 0)
        return rc;
    snprintf(s->dag, sizeof(s->dag), "%s", PQgetvalue(r, 0, 0));
    s->has_env = !PQgetisnull(r, 0, 1);
    snprintf(s->env, sizeof(s->env), "%s",
             s->has_env ? PQgetvalue(r, 0, 1) : "");
    PQclear(r);
    return 0;
}

int store_run_scope(struct store_conn *c, int64_t run_id,
                    struct store_scope *out, struct weir_err *err)
{
    char id[WEIR_I64_LEN], what[64];
    const char *params[1] = {id};

    WEIR_I64(id, run_id);
    snprintf(what, sizeof(what), "no run %s", id);
    return scope_read(c, "SELECT dag_id, environment FROM runs WHERE id = $1",
                      1, params, out, what, err);
}

int store_attempt_scope(struct store_conn *c, int64_t attempt_id,
                        struct store_scope *out, struct weir_err *err)
{
    char id[WEIR_I64_LEN], what[64];
    const char *params[1] = {id};

    WEIR_I64(id, attempt_id);
    snprintf(what, sizeof(what), "no attempt %s", id);
    return scope_read(c,
                      "SELECT r.dag_id, r.environment FROM attempts a"
                      " JOIN tasks t ON t.id = a.task_id"
                      " JOIN runs r ON r.id = t.run_id WHERE a.id = $1",
                      1, params, out, what, err);
}

int store_backfill_scope(struct store_conn *c, int64_t backfill_id,
                         struct store_scope *out, struct weir_err *err)
{
    char id[WEIR_I64_LEN], what[64];
    const char *params[1] = {id};

    WEIR_I64(id, backfill_id);
    snprintf(what, sizeof(what), "no backfill %s", id);
    return scope_read(c,
                      "SELECT dag_id, NULL::text FROM backfills WHERE id = $1",
                      1, params, out, what, err);
}

int store_artifact_scope(struct store_conn *c, const char *name,
                         const char *version, struct store_scope *out,
                         struct weir_err *err)
{
    const char *params[2] = {name, version};

    return scope_read(c,
                      "SELECT coalesce(dag_id, ''), environment FROM artifacts"
                      " WHERE name = $1 AND version = $2",
                      2, params, out, "no such artifact version", err);
}
