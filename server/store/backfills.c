/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of backfills: the plan, the chore's progress through it, and the
 * API's JSON of backfills with the states of their runs.
 */
#include "store/backfills.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/query.h"

void store_backfill_cleanup(struct store_backfill *b)
{
    cJSON_Delete(b->params);
    free(b->trigger_key);
    memset(b, 0, sizeof(*b));
}

int store_backfill_insert(struct store_conn *c,
                          const struct store_backfill_new *n, int64_t *id,
                          struct weir_err *err)
{
    char from[WEIR_I64_LEN], to[WEIR_I64_LEN], max[WEIR_I64_LEN];
    char skipped[WEIR_I64_LEN];
    char *slots = store_ids_literal(n->slots, n->n_slots);
    const char *params[11] = {
        n->dag_id,    n->trigger_key,         from,      to,    n->reprocess,
        max,          n->reverse ? "t" : "f", n->params, slots, skipped,
        n->created_by};
    PGresult *r = NULL;
    int rc;

    if (slots == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    WEIR_I64(from, n->from);
    WEIR_I64(to, n->to);
    WEIR_I64(max, n->max_active);
    WEIR_I64(skipped, n->skipped);
    rc = store_query(c,
                     "INSERT INTO backfills (dag_id, trigger_key, from_time,"
                     " to_time, reprocess, max_active, reverse, params, slots,"
                     " skipped, created_by) VALUES ($1, $2,"
                     " to_timestamp($3::bigint), to_timestamp($4::bigint), $5,"
                     " $6, $7, $8, $9::bigint[], $10, $11) RETURNING id",
                     11, params, &r, err);
    free(slots);
    if (rc < 0)
        return rc;
    *id = store_val_i64(r, 0, 0);
    PQclear(r);
    log_info("event=backfill_created backfill=%lld dag=%s trigger=\"%s\" "
             "slots=%zu skipped=%d",
             (long long)*id, n->dag_id, n->trigger_key, n->n_slots, n->skipped);
    return 0;
}

int store_slot_runs(struct store_conn *c, const char *dag_id, int64_t from,
                    int64_t to, struct store_slot_run **out, size_t *n,
                    struct weir_err *err)
{
    char f[WEIR_I64_LEN], t[WEIR_I64_LEN];
    const char *params[3] = {dag_id, f, t};
    struct store_slot_run *v = NULL;
    PGresult *r = NULL;
    size_t rows;
    int rc;

    WEIR_I64(f, from);
    WEIR_I64(t, to);
    rc = store_query(c,
                     "SELECT extract(epoch FROM logical_time)::bigint,"
                     " (array_agg(id ORDER BY id DESC))[1],"
                     " (array_agg(state ORDER BY id DESC))[1]"
                     " FROM runs WHERE dag_id = $1"
                     " AND logical_time >= to_timestamp($2::bigint)"
                     " AND logical_time <= to_timestamp($3::bigint)"
                     " GROUP BY logical_time ORDER BY logical_time",
                     3, params, &r, err);
    if (rc < 0)
        return rc;
    rows = (size_t)PQntuples(r);
    v = calloc(rows ? rows : 1, sizeof(*v));
    if (v == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < rows; i++) {
        v[i].at = store_val_i64(r, (int)i, 0);
        v[i].run_id = store_val_i64(r, (int)i, 1);
        snprintf(v[i].state, sizeof(v[i].state), "%s",
                 PQgetvalue(r, (int)i, 2));
    }
    PQclear(r);
    if (rc == 0) {
        *out = v;
        *n = rows;
    }
    return rc;
}

/* The first column of every row of sql ($1 = arg) into a new array. */
static int ids_query(struct store_conn *c, const char *sql, const char *arg,
                     int64_t **ids, size_t *n, struct weir_err *err)
{
    const char *params[1] = {arg};
    PGresult *r = NULL;
    int64_t *v;
    size_t rows;
    int rc = store_query(c, sql, arg ? 1 : 0, params, &r, err);

    if (rc < 0)
        return rc;
    rows = (size_t)PQntuples(r);
    v = malloc((rows ? rows : 1) * sizeof(*v));
    if (v == NULL) {
        PQclear(r);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < rows; i++)
        v[i] = store_val_i64(r, (int)i, 0);
    PQclear(r);
    *ids = v;
    *n = rows;
    return 0;
}

int store_backfills_running(struct store_conn *c, int64_t **ids, size_t *n,
                            struct weir_err *err)
{
    return ids_query(c,
                     "SELECT id FROM backfills WHERE state = 'running'"
                     " ORDER BY id",
                     NULL, ids, n, err);
}

int store_backfill_dag(struct store_conn *c, int64_t id, char *dag_id,
                       struct weir_err *err)
{
    char idb[WEIR_I64_LEN];
    const char *params[1] = {idb};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(idb, id);
    rc = store_query_one(c,
                         "SELECT dag_id FROM backfills WHERE id = $1"
                         " AND state = 'running'",
                         1, params, &r, err, "no running backfill %lld",
                         (long long)id);
    if (rc < 0)
        return rc;
    snprintf(dag_id, STORE_ID_MAX, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int store_backfill_lock(struct store_conn *c, int64_t id, bool skip_locked,
                        struct store_backfill *out, struct weir_err *err)
{
    static const char base[] =
        "SELECT b.id, b.dag_id, b.state = 'running', b.max_active,"
        " b.next_slot, cardinality(b.slots), (SELECT count(*) FROM runs r"
        " WHERE r.backfill_id = b.id AND r.state IN ('queued', 'running')),"
        " b.params, b.trigger_key FROM backfills b WHERE b.id = $1"
        " FOR UPDATE OF b";
    char sql[sizeof(base) + 16], idb[WEIR_I64_LEN];
    const char *params[1] = {idb};
    struct store_backfill v = {0};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(idb, id);
    snprintf(sql, sizeof(sql), "%s%s", base, skip_locked ? " SKIP LOCKED" : "");
    rc = store_query_one(c, sql, 1, params, &r, err, "no backfill %lld",
                         (long long)id);
    if (rc < 0)
        return rc;
    v.id = store_val_i64(r, 0, 0);
    snprintf(v.dag_id, sizeof(v.dag_id), "%s", PQgetvalue(r, 0, 1));
    v.running = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
    v.max_active = (int)store_val_i64(r, 0, 3);
    v.next_slot = (int)store_val_i64(r, 0, 4);
    v.planned = (int)store_val_i64(r, 0, 5);
    v.active = (int)store_val_i64(r, 0, 6);
    rc = store_val_json(r, 0, 7, &v.params, err);
    if (rc == 0 && (v.trigger_key = strdup(PQgetvalue(r, 0, 8))) == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    PQclear(r);
    if (rc == 0)
        *out = v;
    else
        store_backfill_cleanup(&v);
    return rc;
}

int store_backfill_slots(struct store_conn *c, int64_t id, int first, int want,
                         int64_t *out, int *n, struct weir_err *err)
{
    char idb[WEIR_I64_LEN], lo[WEIR_I64_LEN], hi[WEIR_I64_LEN];
    const char *params[3] = {idb, lo, hi};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(idb, id);
    WEIR_I64(lo, first + 1); /* SQL arrays count from 1 */
    WEIR_I64(hi, first + want);
    rc = store_query(c,
                     "SELECT unnest(slots[$2::int:$3::int]) FROM backfills"
                     " WHERE id = $1",
                     3, params, &r, err);
    if (rc < 0)
        return rc;
    *n = PQntuples(r) < want ? PQntuples(r) : want;
    for (int i = 0; i < *n; i++)
        out[i] = store_val_i64(r, i, 0);
    PQclear(r);
    return 0;
}

int store_backfill_advance(struct store_conn *c, int64_t id, int next_slot,
                           struct weir_err *err)
{
    char idb[WEIR_I64_LEN], nb[WEIR_I64_LEN];
    const char *params[2] = {idb, nb};

    WEIR_I64(idb, id);
    WEIR_I64(nb, next_slot);
    return store_cmd(c, "UPDATE backfills SET next_slot = $2 WHERE id = $1", 2,
                     params, err);
}

int store_backfill_end(struct store_conn *c, int64_t id, const char *state,
                       const char *by, struct weir_err *err)
{
    char idb[WEIR_I64_LEN];
    const char *params[3] = {idb, state, by};
    int rc;

    WEIR_I64(idb, id);
    rc = store_cmd(c,
                   "UPDATE backfills SET state = $2, canceled_by = $3,"
                   " finished_at = now() WHERE id = $1 AND state = 'running'",
                   3, params, err);
    if (rc == 0)
        log_info("event=backfill_ended backfill=%lld state=%s", (long long)id,
                 state);
    return rc;
}

int store_backfill_fail(struct store_conn *c, int64_t id, const char *error,
                        struct weir_err *err)
{
    char idb[WEIR_I64_LEN];
    const char *params[2] = {idb, error};

    WEIR_I64(idb, id);
    return store_cmd(c,
                     "UPDATE backfills SET state = 'failed', error = $2,"
                     " finished_at = now() WHERE id = $1 AND state = 'running'",
                     2, params, err);
}

int store_backfill_active_runs(struct store_conn *c, int64_t id, int64_t **ids,
                               size_t *n, struct weir_err *err)
{
    char idb[WEIR_I64_LEN];

    WEIR_I64(idb, id);
    return ids_query(c,
                     "SELECT id FROM runs WHERE backfill_id = $1::bigint"
                     " AND state IN ('queued', 'running') ORDER BY id",
                     idb, ids, n, err);
}

int store_backfill_orphans(struct store_conn *c,
                           struct store_backfill_orphan **out, size_t *n,
                           struct weir_err *err)
{
    struct store_backfill_orphan *v;
    PGresult *r = NULL;
    size_t rows;
    int rc = store_query(c,
                         "SELECT r.id, b.id, coalesce(b.canceled_by, '')"
                         " FROM runs r JOIN backfills b ON b.id = r.backfill_id"
                         " WHERE r.state IN ('queued', 'running')"
                         " AND r.backfill_id IS NOT NULL"
                         " AND b.state = 'canceled' ORDER BY r.id LIMIT 100",
                         0, NULL, &r, err);

    if (rc < 0)
        return rc;
    rows = (size_t)PQntuples(r);
    v = calloc(rows ? rows : 1, sizeof(*v));
    if (v == NULL) {
        PQclear(r);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < rows; i++) {
        v[i].run_id = store_val_i64(r, (int)i, 0);
        v[i].backfill_id = store_val_i64(r, (int)i, 1);
        snprintf(v[i].by, sizeof(v[i].by), "%s", PQgetvalue(r, (int)i, 2));
    }
    PQclear(r);
    *out = v;
    *n = rows;
    return 0;
}

/* One backfill b as a JSON object, with the counts of its runs p. */
#define BACKFILL_JSON                                                          \
    "jsonb_build_object('id', b.id, 'dag_id', b.dag_id, 'trigger',"            \
    " b.trigger_key, 'from', weir_iso(b.from_time), 'to',"                     \
    " weir_iso(b.to_time), 'reprocess', b.reprocess, 'max_active',"            \
    " b.max_active, 'reverse', b.reverse, 'params', b.params, 'state',"        \
    " b.state, 'error', b.error, 'created_by', b.created_by, 'canceled_by',"   \
    " b.canceled_by,"                                                          \
    " 'created_at', weir_iso(b.created_at), 'finished_at',"                    \
    " weir_iso(b.finished_at), 'progress', jsonb_build_object('planned',"      \
    " cardinality(b.slots), 'skipped', b.skipped, 'created', b.next_slot,"     \
    " 'pending', cardinality(b.slots) - b.next_slot, 'queued', p.queued,"      \
    " 'running', p.running, 'done', p.done, 'failed', p.failed, 'canceled',"   \
    " p.canceled))"
#define BACKFILL_FROM                                                          \
    " FROM backfills b CROSS JOIN LATERAL (SELECT"                             \
    " count(*) FILTER (WHERE state = 'queued') AS queued,"                     \
    " count(*) FILTER (WHERE state = 'running') AS running,"                   \
    " count(*) FILTER (WHERE state = 'success') AS done,"                      \
    " count(*) FILTER (WHERE state = 'failed') AS failed,"                     \
    " count(*) FILTER (WHERE state = 'canceled') AS canceled"                  \
    " FROM runs WHERE backfill_id = b.id) p"

int store_backfills_json(struct store_conn *c, int64_t id, const char *dag_id,
                         cJSON **out, struct weir_err *err)
{
    char idb[WEIR_I64_LEN];
    const char *one[1] = {idb};
    const char *many[1] = {dag_id};
    int rc;

    WEIR_I64(idb, id);
    if (dag_id != NULL) {
        rc = store_json_query(
            c,
            "SELECT (SELECT coalesce(jsonb_agg(x ORDER BY"
            " (x->>'id')::bigint DESC), '[]') FROM (SELECT " BACKFILL_JSON
            " AS x" BACKFILL_FROM " WHERE b.dag_id = d.id ORDER BY b.id DESC"
            " LIMIT 100) s)::text FROM dags d WHERE d.id = $1",
            1, many, out, err);
        if (rc == WEIR_ENOTFOUND)
            rc = weir_err_set(err, WEIR_ENOTFOUND, "no DAG \"%s\"", dag_id);
        return rc;
    }
    rc = store_json_query(c,
                          "SELECT " BACKFILL_JSON "::text" BACKFILL_FROM
                          " WHERE b.id = $1::bigint",
                          1, one, out, err);
    if (rc == WEIR_ENOTFOUND)
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no backfill %lld",
                          (long long)id);
    return rc;
}
