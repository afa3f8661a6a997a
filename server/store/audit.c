/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit_log table: the record armed per request and appended in the
 * transaction of its change (see audit.h), the rows written apart, the
 * listing of GET /api/v1/audit, and the retention prune.
 */
#include "store/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/query.h"
#include "store/read.h"

/* The record of the request this thread runs, or NULL. */
static _Thread_local struct store_audit_armed *armed;

#define AUDIT_INSERT                                                           \
    "INSERT INTO audit_log (actor, actor_grants, action, target, dag,"         \
    " params, outcome, status, message, client, request_id)"                   \
    " VALUES ($1, $2::jsonb, $3, $4, coalesce($5, (SELECT r.dag_id FROM runs"  \
    " r WHERE r.id = $6::bigint), (SELECT b.dag_id FROM backfills b WHERE"     \
    " b.id = $7::bigint)), $8::jsonb, $9, $10::int, $11, $12, $13)"

static int rec_insert(struct store_conn *c, const struct store_audit_rec *r,
                      struct weir_err *err)
{
    char status[WEIR_I64_LEN];
    const char *params[13] = {r->actor ? r->actor : "",
                              r->grants ? r->grants : "[]",
                              r->action,
                              r->target ? r->target : "",
                              r->dag,
                              r->run_id,
                              r->backfill,
                              r->params ? r->params : "{}",
                              r->outcome,
                              r->status > 0 ? status : NULL,
                              r->message ? r->message : "",
                              r->client ? r->client : "",
                              r->request_id};

    WEIR_I64(status, r->status);
    return store_cmd(c, AUDIT_INSERT, 13, params, err);
}

int store_audit_append_changed(struct store_conn *c,
                               const struct store_audit_rec *rec,
                               const char *key, const char *value,
                               bool *appended, struct weir_err *err)
{
    const char *params[3] = {rec->action, key, value};
    PGresult *r = NULL;
    int rc = store_begin(c, err);

    *appended = false;
    if (rc == 0)
        rc = store_cmd(c,
                       "SELECT pg_advisory_xact_lock(hashtext('weir.audit.'"
                       " || $1::text))",
                       1, params, err);
    if (rc == 0)
        rc = store_query(c,
                         "SELECT 1 FROM (SELECT params->>$2::text AS v FROM"
                         " audit_log WHERE action = $1 ORDER BY id DESC LIMIT"
                         " 1) l WHERE l.v = $3",
                         3, params, &r, err);
    if (rc == 0 && PQntuples(r) == 0) {
        rc = rec_insert(c, rec, err);
        *appended = rc == 0;
    }
    PQclear(r);
    rc = store_end(c, rc, err);
    if (rc < 0)
        *appended = false;
    return rc;
}

void store_audit_arm(struct store_audit_armed *a)
{
    armed = a;
}

int store_audit_before_commit(struct store_conn *c, struct weir_err *err)
{
    PGresult *r = NULL;
    bool wrote;
    int rc;

    if (armed == NULL || armed->busy || armed->written || armed->pending ||
        !store_in_tx(c))
        return 0;
    armed->busy = true;
    rc = store_query(c, "SELECT txid_current_if_assigned() IS NOT NULL", 0,
                     NULL, &r, err);
    wrote = rc == 0 && PQntuples(r) == 1 && store_val(r, 0, 0) != NULL &&
            strcmp(store_val(r, 0, 0), "t") == 0;
    PQclear(r);
    if (rc == 0 && wrote)
        rc = rec_insert(c, &armed->rec, err);
    if (rc == 0 && wrote)
        armed->pending = true;
    armed->busy = false;
    return rc;
}

void store_audit_tx_end(bool committed)
{
    if (armed == NULL || armed->busy || !armed->pending)
        return;
    armed->pending = false;
    armed->written = committed;
}

bool store_audit_wraps(struct store_conn *c, const char *sql)
{
    /* BEGIN starts the caller's own transaction: not wrapped */
    return armed != NULL && !armed->busy && !armed->written &&
           !store_in_tx(c) && strcmp(sql, "BEGIN") != 0;
}

int store_audit_query(struct store_conn *c, const char *sql, int n,
                      const char *const *params, PGresult **out,
                      struct weir_err *err)
{
    PGresult *r = NULL;
    int rc;

    armed->busy = true; /* BEGIN itself is not wrapped */
    rc = store_begin(c, err);
    armed->busy = false;
    if (rc == 0)
        rc = store_query(c, sql, n, params, &r, err);
    if (rc == 0)
        rc = store_commit(c, err);
    if (rc < 0 && store_in_tx(c))
        store_rollback(c);
    if (rc < 0) {
        PQclear(r);
        return rc;
    }
    *out = r;
    return 0;
}

int store_audit_append(struct store_conn *c, const struct store_audit_rec *rec,
                       struct weir_err *err)
{
    return rec_insert(c, rec, err);
}

/* The one row a prune appends, in its transaction. */
static int prune_record(struct store_conn *c, int64_t deleted,
                        const char *before, struct weir_err *err)
{
    char params[160];
    struct store_audit_rec rec = {.actor = "weir-server",
                                  .grants = "[]",
                                  .action = "audit.prune",
                                  .target = "audit",
                                  .params = params,
                                  .outcome = "ok"};

    snprintf(params, sizeof(params), "{\"deleted\": %lld, \"before\": \"%s\"}",
             (long long)deleted, before);
    return rec_insert(c, &rec, err);
}

int store_audit_prune(struct store_conn *c, int64_t retention_s,
                      int64_t *deleted, struct weir_err *err)
{
    char keep[WEIR_I64_LEN], before[64] = "";
    const char *params[1] = {keep};
    PGresult *r = NULL;
    int64_t n = 0;
    int rc = store_begin(c, err);

    WEIR_I64(keep, retention_s);
    /* The one door through the table's guard trigger (migration 0026). */
    if (rc == 0)
        rc = store_cmd(c, "SELECT set_config('weir.audit_prune', 'on', true)",
                       0, NULL, err);
    if (rc == 0)
        rc = store_query(c,
                         "WITH cut AS (SELECT now() - $1::bigint * interval"
                         " '1 second' AS t), d AS (DELETE FROM audit_log a"
                         " USING cut WHERE a.at < cut.t RETURNING 1)"
                         " SELECT count(*), weir_iso((SELECT t FROM cut))"
                         " FROM d",
                         1, params, &r, err);
    if (rc == 0) {
        n = store_val_i64(r, 0, 0);
        snprintf(before, sizeof(before), "%s",
                 store_val(r, 0, 1) ? store_val(r, 0, 1) : "");
    }
    PQclear(r);
    if (rc == 0)
        rc = store_cmd(c, "SELECT set_config('weir.audit_prune', 'off', true)",
                       0, NULL, err);
    if (rc == 0 && n > 0)
        rc = prune_record(c, n, before, err);
    rc = store_end(c, rc, err);
    if (rc == 0)
        *deleted = n;
    return rc;
}

int store_audit_list(struct store_conn *c, const struct store_audit_filter *f,
                     cJSON **out, struct weir_err *err)
{
    char cursor[WEIR_I64_LEN], limit[WEIR_I64_LEN];
    const char *params[7] = {f->actor, f->action, f->dag, f->since,
                             f->until, cursor,    limit};

    WEIR_I64(cursor, f->cursor);
    WEIR_I64(limit, f->limit);
    return store_json_value(
        c,
        "WITH page AS (SELECT * FROM audit_log WHERE ($1::text IS NULL OR"
        " actor = $1) AND ($2::text IS NULL OR action = $2) AND ($3::text IS"
        " NULL OR dag = $3) AND ($4::timestamptz IS NULL OR at >= $4) AND"
        " ($5::timestamptz IS NULL OR at < $5) AND ($6::bigint = 0 OR id <"
        " $6) ORDER BY id DESC LIMIT $7::int + 1), shown AS (SELECT * FROM"
        " page ORDER BY id DESC LIMIT $7::int) SELECT jsonb_build_object("
        "'records', coalesce((SELECT jsonb_agg(jsonb_build_object('id', id,"
        " 'at', weir_iso(at), 'actor', actor, 'actor_grants', actor_grants,"
        " 'action', action, 'target', target, 'dag', dag, 'params', params,"
        " 'outcome', outcome, 'status', status, 'message', message, 'client',"
        " client, 'request_id', request_id) ORDER BY id DESC) FROM shown),"
        " '[]'), 'next_cursor', CASE WHEN (SELECT count(*) FROM page) >"
        " $7::int THEN (SELECT min(id) FROM shown)::text END)::text",
        7, params, out, err);
}
