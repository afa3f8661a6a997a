/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of pools: the table, the DAGs that name a pool, the read model of
 * the API and /metrics, and the pooled claim (store/pools.h).
 */
#include "store/pools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/claim_row.h"
#include "store/pools_sql.h"
#include "store/query.h"
#include "store/read.h"

int store_pools_list(struct store_conn *c, cJSON **out, struct weir_err *err)
{
    return store_json_value(
        c,
        "SELECT coalesce(jsonb_agg(jsonb_build_object('name', p.name,"
        " 'slots', p.slots, 'used', u.used, 'running', u.n, 'waiting', q.n,"
        " 'created_at', weir_iso(p.created_at), 'updated_at',"
        " weir_iso(p.updated_at)) ORDER BY p.name), '[]')::text"
        " FROM pools p CROSS JOIN LATERAL (SELECT"
        " coalesce(sum(x.pool_slots), 0) AS used, count(*) AS n FROM tasks x"
        " WHERE x.pool = p.name AND x.state = 'running') u"
        " CROSS JOIN LATERAL (SELECT count(*) AS n FROM tasks x"
        " WHERE x.pool = p.name AND x.state IN ('queued', 'up_for_retry')"
        " AND (x.state = 'queued' OR x.next_try_at <= now())) q",
        0, NULL, out, err);
}

int store_pool_set(struct store_conn *c, const char *name, int slots,
                   bool *created, struct weir_err *err)
{
    char sb[WEIR_I64_LEN];
    const char *params[2] = {name, sb};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(sb, slots);
    rc = store_query(c,
                     "INSERT INTO pools (name, slots) VALUES ($1, $2)"
                     " ON CONFLICT (name) DO UPDATE SET slots = $2,"
                     " updated_at = now() RETURNING (xmax = 0)",
                     2, params, &r, err);
    if (rc == WEIR_ECONFLICT)
        return weir_err_set(err, WEIR_EINVAL,
                            "pool \"%s\" with %d slots is not valid", name,
                            slots);
    if (rc < 0)
        return rc;
    *created = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return 0;
}

int store_pool_users(struct store_conn *c, const char *name, bool *exists,
                     cJSON **dags, struct weir_err *err)
{
    const char *params[1] = {name};
    PGresult *r = NULL;
    int rc = store_query(c, "SELECT 1 FROM pools WHERE name = $1 FOR UPDATE", 1,
                         params, &r, err);

    if (rc < 0)
        return rc;
    *exists = PQntuples(r) == 1;
    PQclear(r);
    return store_json_value(
        c,
        "SELECT coalesce(jsonb_agg(d.id ORDER BY d.id), '[]')::text"
        " FROM dags d WHERE $1 = ANY (d.pools) AND d.deleted_at IS NULL"
        " AND NOT d.file_missing",
        1, params, dags, err);
}

int store_pool_delete(struct store_conn *c, const char *name,
                      struct weir_err *err)
{
    const char *params[1] = {name};

    return store_cmd_rows(c, "DELETE FROM pools WHERE name = $1", 1, params, 1,
                          true, "no such pool", err);
}

int store_pools_slots(struct store_conn *c, const char *const *names, size_t n,
                      int *slots, struct weir_err *err)
{
    char *arr = store_strs_literal(names, n);
    const char *params[1] = {arr};
    PGresult *r = NULL;
    int rc;

    if (arr == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    rc = store_query(c, "SELECT name, slots FROM pools WHERE name = ANY ($1)",
                     1, params, &r, err);
    free(arr);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        slots[i] = -1;
        for (int k = 0; k < PQntuples(r); k++)
            if (strcmp(PQgetvalue(r, k, 0), names[i]) == 0)
                slots[i] = (int)store_val_i64(r, k, 1);
    }
    PQclear(r);
    return 0;
}

int store_dag_pools_set(struct store_conn *c, const char *id,
                        const char *const *names, size_t n,
                        struct weir_err *err)
{
    char *arr = store_strs_literal(names, n);
    const char *params[2] = {id, arr};
    int rc;

    if (arr == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    rc = store_cmd(c,
                   "UPDATE dags SET pools = $2::text[] WHERE id = $1"
                   " AND pools IS DISTINCT FROM $2::text[]",
                   2, params, err);
    free(arr);
    return rc;
}

/* ---- the pooled claim ---- */

/* The worker's queues, as the statements below read them. */
#define QUEUES "(SELECT queues FROM w)::text[]"

/*
 * First statement: lock, in name order (two claims never wait on each
 * other crosswise), the pools with room and claimable tasks in the
 * worker's queues; column 1 says whether some of those tasks belong to
 * capped DAGs.
 */
/* SQL joined with macros: kept as written, one clause a line. */
/* clang-format off */
static const char lock_sql[] =
    "WITH w AS MATERIALIZED (SELECT queues FROM workers WHERE id = $1)"
    " SELECT p.name, EXISTS (SELECT 1 FROM tasks t WHERE t.pool = p.name"
    " AND t.capped_dag IS NOT NULL AND" POOL_CLAIMABLE
    " AND t.queue = ANY (" QUEUES "))"
    POOL_ROOM(QUEUES)
    " ORDER BY p.name FOR UPDATE OF p";

/*
 * Second statement, when capped DAGs have tasks in those pools: lock
 * their rows, skipping any another claim holds (waiting for it while
 * holding pool rows could deadlock with a capped claim, which takes DAG
 * rows first and pool rows after).
 */
static const char dags_sql[] =
    "WITH w AS MATERIALIZED (SELECT queues FROM workers WHERE id = $1)"
    " SELECT d.id FROM dags d WHERE d.concurrency IS NOT NULL"
    " AND d.id IN (SELECT t.capped_dag FROM tasks t"
    " WHERE t.pool = ANY ($2::text[]) AND t.capped_dag IS NOT NULL"
    " AND" POOL_CLAIMABLE " AND t.queue = ANY (" QUEUES "))"
    " ORDER BY d.id FOR NO KEY UPDATE OF d SKIP LOCKED";

/*
 * Last statement, under those locks and so with a snapshot that sees
 * every claim of these pools committed before: per pool, room = slots -
 * slots of running tasks; lock its most urgent claimable tasks (at most
 * room: each takes one slot or more); keep those of capped DAGs within
 * their DAG's room; then take, in order, the tasks whose running sum of
 * slots fits the room (a task too big for the pool itself is taken to be
 * failed and takes nothing); claim the most urgent $2 of all.
 */
static const char claim_sql[] =
    "WITH w AS MATERIALIZED (SELECT queues FROM workers WHERE id = $1),"
    " g AS (SELECT p.name, p.slots, p.slots - (SELECT"
    " coalesce(sum(x.pool_slots), 0) FROM tasks x WHERE x.pool = p.name"
    " AND x.state = 'running') AS room FROM pools p"
    " WHERE p.name = ANY ($4::text[])),"
    " dr AS (SELECT d.id, d.concurrency - (SELECT count(*) FROM tasks x"
    " WHERE x.capped_dag = d.id AND x.state = 'running') AS room"
    " FROM dags d WHERE d.id = ANY ($5::text[])"
    " AND d.concurrency IS NOT NULL),"
    " l AS (SELECT t.*, g.slots AS size, g.room FROM g CROSS JOIN LATERAL"
    " (SELECT t.id, t.state, t.priority, t.step_id, t.pool, t.pool_slots,"
    " t.capped_dag, CASE WHEN t.state = 'queued' THEN t.queued_at"
    " ELSE t.next_try_at END AS ready_at FROM tasks t"
    " WHERE t.pool = g.name AND" POOL_CLAIMABLE
    " AND t.queue = ANY (" QUEUES ")"
    " AND (t.capped_dag IS NULL OR t.capped_dag = ANY ($5::text[]))"
    " ORDER BY t.priority DESC, t.id LIMIT least(greatest(g.room, 0), $2)"
    " FOR UPDATE OF t SKIP LOCKED) t),"
    " m AS (SELECT l.*, l.size > 0 AND l.pool_slots > l.size AS big,"
    " row_number() OVER (PARTITION BY l.capped_dag"
    " ORDER BY l.priority DESC, l.id) AS dn FROM l),"
    " f AS (SELECT m.* FROM m LEFT JOIN dr ON dr.id = m.capped_dag"
    " WHERE m.capped_dag IS NULL OR m.dn <= dr.room),"
    " s AS (SELECT f.*, sum(CASE WHEN f.big THEN 0 ELSE f.pool_slots END)"
    " OVER (PARTITION BY f.pool ORDER BY f.priority DESC, f.id) AS upto"
    " FROM f),"
    " ok AS (SELECT * FROM s WHERE s.big OR s.upto <= s.room),"
    " c AS (SELECT * FROM ok ORDER BY priority DESC, id LIMIT $2),"
    " sp AS (SELECT (SELECT count(*) FROM ok) - (SELECT count(*) FROM c)"
    " AS n),"
    " u AS (UPDATE tasks t SET state = 'running',"
    " try_count = t.try_count + 1, next_try_at = NULL,"
    " started_at = coalesce(t.started_at, now())"
    " FROM c WHERE t.id = c.id"
    " RETURNING t.id, t.run_id, t.try_count, c.state AS old, c.ready_at,"
    " c.step_id, c.pool, c.pool_slots,"
    " CASE WHEN c.big THEN c.size ELSE 0 END AS size),"
    " a AS (INSERT INTO attempts (task_id, try, worker_id, lease_deadline)"
    " SELECT u.id, u.try_count, $1, now() + $3 * interval '1 millisecond'"
    " FROM u RETURNING id, lease_id, task_id, try)"
    " SELECT a.id, a.lease_id, a.task_id, u.run_id, a.try, u.old,"
    " extract(epoch FROM clock_timestamp() - u.ready_at), u.step_id,"
    " (SELECT n FROM sp), u.pool, u.pool_slots, u.size"
    " FROM a JOIN u ON u.id = a.task_id ORDER BY 1";
/* clang-format on */

/* The rows of claim_sql appended to v[*n...]. */
static void claims_read(const PGresult *r, int64_t worker_id,
                        struct store_claim *v, size_t *n, int *spare)
{
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_claim *cl = &v[*n];

        store_claim_row(r, i, cl, spare);
        snprintf(cl->pool, sizeof(cl->pool), "%s", PQgetvalue(r, i, 9));
        cl->pool_slots = (int)store_val_i64(r, i, 10);
        cl->pool_size = (int)store_val_i64(r, i, 11);
        (*n)++;
        store_claim_log(r, i, cl, worker_id);
    }
}

/* Column col of every row of r as a PostgreSQL array literal (a new
 * string), NULL when out of memory. */
static char *column_literal(const PGresult *r, int col)
{
    size_t rows = (size_t)PQntuples(r);
    const char **v = malloc((rows ? rows : 1) * sizeof(*v));
    char *text;

    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < rows; i++)
        v[i] = PQgetvalue(r, (int)i, col);
    text = store_strs_literal(v, rows);
    free(v);
    return text;
}

int store_task_claim_pooled(struct store_conn *c, int64_t worker_id, int max,
                            int64_t ttl_ms, struct store_claim *v, size_t *n,
                            int *spare, struct weir_err *err)
{
    char wid[WEIR_I64_LEN], maxb[WEIR_I64_LEN], ttl[WEIR_I64_LEN];
    const char *params[5] = {wid, maxb, ttl, NULL, "{}"};
    PGresult *r = NULL;
    char *pools = NULL, *dags = NULL;
    bool capped = false;
    int more = 0;
    int rc;

    WEIR_I64(wid, worker_id);
    WEIR_I64(maxb, max);
    WEIR_I64(ttl, ttl_ms);
    rc = store_query(c, lock_sql, 1, params, &r, err);
    if (rc < 0 || PQntuples(r) == 0)
        goto out;
    for (int i = 0; i < PQntuples(r); i++)
        capped |= strcmp(PQgetvalue(r, i, 1), "t") == 0;
    pools = column_literal(r, 0);
    PQclear(r);
    r = NULL;
    if (pools == NULL) {
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
        goto out;
    }
    if (capped) {
        const char *dp[2] = {wid, pools};

        rc = store_query(c, dags_sql, 2, dp, &r, err);
        if (rc == 0 && (dags = column_literal(r, 0)) == NULL)
            rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
        PQclear(r);
        r = NULL;
        if (rc < 0)
            goto out;
        params[4] = dags;
    }
    params[3] = pools;
    rc = store_query(c, claim_sql, 5, params, &r, err);
    if (rc == 0)
        claims_read(r, worker_id, v, n, &more);
out:
    PQclear(r);
    free(pools);
    free(dags);
    if (rc == 0)
        *spare += more;
    return rc;
}
