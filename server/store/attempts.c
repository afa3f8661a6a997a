/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of attempts: the claim (one statement: lock claimable tasks with
 * SKIP LOCKED, make them running, create their attempts), leases and
 * their fencing, heartbeats, expiry, an attempt's end and log lines.
 * Which claim goes first is the engine's choice (engine/policy.c).
 */
#include "store/attempts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/claim_row.h"
#include "store/pools_sql.h"
#include "store/query.h"

/*
 * The rows of a claim statement: one per claimed attempt, ordered by
 * attempt id, and, when the fast claim took nothing, one row with a NULL
 * attempt id whose column 9 is the wait until a retry comes due (or
 * NULL). Column 8 counts the rows locked but not taken, column 10 says
 * whether tasks of capped DAGs wait in the worker's queues, column 11
 * whether pooled tasks do (in pools with room). Claims are appended to
 * v[*n...].
 */
void store_claim_row(const PGresult *r, int i, struct store_claim *cl,
                     int *spare)
{
    memset(cl, 0, sizeof(*cl));
    cl->attempt_id = store_val_i64(r, i, 0);
    snprintf(cl->lease_id, sizeof(cl->lease_id), "%s", PQgetvalue(r, i, 1));
    cl->task_id = store_val_i64(r, i, 2);
    cl->run_id = store_val_i64(r, i, 3);
    cl->try = (int)store_val_i64(r, i, 4);
    cl->wait_s =
        store_val(r, i, 6) != NULL ? strtod(store_val(r, i, 6), NULL) : -1.0;
    snprintf(cl->step_id, sizeof(cl->step_id), "%s", PQgetvalue(r, i, 7));
    *spare = (int)store_val_i64(r, i, 8);
}

void store_claim_log(const PGresult *r, int i, const struct store_claim *cl,
                     int64_t worker_id)
{
    enum task_state from = TASK_QUEUED;
    struct weir_err ignored;

    /* The statement chose only claimable states; this logs it. */
    if (task_state_parse(PQgetvalue(r, i, 5), &from, &ignored) != 0 ||
        state_task_change(cl->run_id, cl->task_id, cl->try, from, TASK_RUNNING,
                          &ignored) != 0)
        log_error("event=claim_state run=%lld task=%lld", (long long)cl->run_id,
                  (long long)cl->task_id);
    if (cl->pool[0] == '\0')
        log_info("event=attempt_leased run=%lld task=%lld try=%d attempt=%lld"
                 " worker=%lld",
                 (long long)cl->run_id, (long long)cl->task_id, cl->try,
                 (long long)cl->attempt_id, (long long)worker_id);
    else
        log_info("event=attempt_leased run=%lld task=%lld try=%d attempt=%lld"
                 " worker=%lld pool=%s slots=%d",
                 (long long)cl->run_id, (long long)cl->task_id, cl->try,
                 (long long)cl->attempt_id, (long long)worker_id, cl->pool,
                 cl->pool_slots);
}

static void claims_from_result(const PGresult *r, int64_t worker_id,
                               struct store_claim *v, size_t *n,
                               int64_t *retry_ms, int *spare, bool *capped,
                               bool *pooled)
{
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_claim *cl = &v[*n];

        *capped = *capped || (store_val(r, i, 10) != NULL &&
                              strcmp(PQgetvalue(r, i, 10), "t") == 0);
        *pooled = *pooled || (store_val(r, i, 11) != NULL &&
                              strcmp(PQgetvalue(r, i, 11), "t") == 0);
        if (store_val(r, i, 0) == NULL) {
            /* NULL: no retry waits (greatest(0, NULL) in SQL would have
             * said 0, "one is due", and waiters would claim every
             * MIN_WAIT_MS); a past time is due now. */
            if (store_val(r, i, 9) != NULL)
                *retry_ms =
                    store_val_i64(r, i, 9) > 0 ? store_val_i64(r, i, 9) : 0;
            continue;
        }
        store_claim_row(r, i, cl, spare);
        (*n)++;
        store_claim_log(r, i, cl, worker_id);
    }
}

/* A task of a capped DAG that may be claimed now, by this claim: pooled
 * tasks are the pooled claim's (store/pools.c). */
#define CAPPED_CLAIMABLE                                                       \
    " t.state IN ('queued', 'up_for_retry') AND (t.state = 'queued' OR"        \
    " t.next_try_at <= now()) AND t.pool IS NULL"

/*
 * The capped DAGs d (dags_capped_idx) with room under their cap, by a
 * count no lock protects, and claimable tasks in the queues QUEUES.
 */
#define CAPPED_ROOM(QUEUES)                                                    \
    " FROM dags d WHERE d.concurrency IS NOT NULL"                             \
    " AND d.concurrency > (SELECT count(*) FROM tasks x"                       \
    " WHERE x.capped_dag = d.id AND x.state = 'running')"                      \
    " AND EXISTS (SELECT 1 FROM tasks t WHERE t.capped_dag = d.id "            \
    "AND" CAPPED_CLAIMABLE " AND t.queue = ANY (" QUEUES "))"

/*
 * What both claims share, after the chosen tasks `c`, the count of rows
 * locked but not taken `sp` and the capped flag `k`: make the tasks
 * running, add their attempts, return one row per attempt.
 */
#define CLAIM_TAIL                                                             \
    " u AS (UPDATE tasks t SET state = 'running',"                             \
    " try_count = t.try_count + 1, next_try_at = NULL,"                        \
    " started_at = coalesce(t.started_at, now())"                              \
    " FROM c WHERE t.id = c.id"                                                \
    " RETURNING t.id, t.run_id, t.try_count, c.state AS old, c.ready_at,"      \
    " c.step_id),"                                                             \
    " a AS (INSERT INTO attempts (task_id, try, worker_id, lease_deadline)"    \
    " SELECT u.id, u.try_count, $1, now() + $3 * interval '1 millisecond'"     \
    " FROM u RETURNING id, lease_id, task_id, try)"                            \
    " SELECT a.id, a.lease_id, a.task_id, u.run_id, a.try, u.old,"             \
    " extract(epoch FROM clock_timestamp() - u.ready_at), u.step_id,"          \
    " (SELECT n FROM sp), NULL::bigint, (SELECT capped FROM k),"               \
    " (SELECT pooled FROM pp)"                                                 \
    " FROM a JOIN u ON u.id = a.task_id"

/*
 * The fast claim, for tasks of DAGs without a concurrency cap (capped_dag
 * IS NULL). Queued tasks and due retries are chosen by two index scans
 * (the partial indexes tasks_claim_idx and tasks_retry_idx), each locking
 * at most $2 rows with SKIP LOCKED; the most urgent $2 of both are
 * claimed. The rows one scan locked but the merge did not take are
 * counted as "spare": a concurrent claim skipped them, so the caller
 * wakes the waiters again. `k` says whether the capped claim would find
 * work in these queues (a capped DAG with room and claimable tasks: a
 * probe of dags_capped_idx, nothing when no DAG is capped). The wait
 * until a retry comes due
 * leaves out capped retries already due: those wait for their DAG's room,
 * which a task leaving running announces.
 */
/* SQL joined with macros: kept as written, one clause a line. */
/* clang-format off */
static const char claim_sql[] =
    "WITH w AS MATERIALIZED (SELECT queues FROM workers WHERE id = $1),"
    " q AS (SELECT t.id, t.state, t.priority, t.step_id,"
    " t.queued_at AS ready_at FROM tasks t WHERE t.state = 'queued'"
    " AND t.capped_dag IS NULL AND t.pool IS NULL"
    " AND t.queue = ANY ((SELECT queues FROM w)::text[])"
    " ORDER BY t.priority DESC, t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED),"
    " r AS (SELECT t.id, t.state, t.priority, t.step_id,"
    " t.next_try_at AS ready_at FROM tasks t WHERE t.state = 'up_for_retry'"
    " AND t.next_try_at <= now() AND t.capped_dag IS NULL AND t.pool IS NULL"
    " AND t.queue = ANY ((SELECT queues FROM w)::text[])"
    " ORDER BY t.priority DESC, t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED),"
    " c AS (SELECT * FROM q UNION ALL SELECT * FROM r"
    " ORDER BY priority DESC, id LIMIT $2),"
    " sp AS (SELECT (SELECT count(*) FROM q) + (SELECT count(*) FROM r)"
    " - (SELECT count(*) FROM c) AS n),"
    " k AS MATERIALIZED (SELECT EXISTS (SELECT 1"
    CAPPED_ROOM("(SELECT queues FROM w)::text[]") ") AS capped),"
    " pp AS MATERIALIZED (SELECT EXISTS (SELECT 1"
    POOL_ROOM("(SELECT queues FROM w)::text[]") ") AS pooled),"
    CLAIM_TAIL
    " UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0,"
    " (SELECT ceil(extract(epoch FROM min(t.next_try_at) - now()) * 1000)"
    "::bigint FROM tasks t WHERE t.state = 'up_for_retry'"
    " AND ((t.capped_dag IS NULL AND t.pool IS NULL)"
    " OR t.next_try_at > now())"
    " AND t.queue = ANY ((SELECT queues FROM w)::text[])),"
    " (SELECT capped FROM k), (SELECT pooled FROM pp)"
    " WHERE NOT EXISTS (SELECT 1 FROM c) ORDER BY 1";
/* clang-format on */

/*
 * The capped claim, first statement: lock, in id order (two claims never
 * wait on each other crosswise), the rows of the capped DAGs that have
 * claimable tasks in the worker's queues and, by a count that the lock
 * does not protect yet, room under their cap.
 */
/* clang-format off */
static const char capped_lock_sql[] =
    "SELECT d.id"
    CAPPED_ROOM("(SELECT queues FROM workers WHERE id = $1)::text[]")
    " ORDER BY d.id FOR NO KEY UPDATE OF d";
/* clang-format on */

/*
 * The capped claim, second statement, under those locks and so with a
 * snapshot that sees every claim of these DAGs committed before: per DAG,
 * room = cap - running tasks; lock at most that many of its most urgent
 * claimable tasks (SKIP LOCKED), and claim the most urgent $2 of all.
 */
static const char capped_claim_sql[] =
    "WITH w AS MATERIALIZED (SELECT queues FROM workers WHERE id = $1),"
    " g AS (SELECT d.id, d.concurrency - (SELECT count(*) FROM tasks x"
    " WHERE x.capped_dag = d.id AND x.state = 'running') AS room"
    " FROM dags d WHERE d.id = ANY ($4::text[])"
    " AND d.concurrency IS NOT NULL),"
    " l AS (SELECT t.* FROM g CROSS JOIN LATERAL (SELECT t.id, t.state,"
    " t.priority, t.step_id, CASE WHEN t.state = 'queued' THEN t.queued_at"
    " ELSE t.next_try_at END AS ready_at FROM tasks t"
    " WHERE t.capped_dag = g.id AND" CAPPED_CLAIMABLE
    " AND t.queue = ANY ((SELECT queues FROM w)::text[])"
    " ORDER BY t.priority DESC, t.id LIMIT least(greatest(g.room, 0), $2)"
    " FOR UPDATE OF t SKIP LOCKED) t),"
    " c AS (SELECT * FROM l ORDER BY priority DESC, id LIMIT $2),"
    " sp AS (SELECT (SELECT count(*) FROM l) - (SELECT count(*) FROM c) AS n),"
    " k AS (SELECT false AS capped), pp AS (SELECT false AS pooled)," CLAIM_TAIL
    " ORDER BY 1";

/* The DAG ids of column 0 of r as a PostgreSQL array literal (a new
 * string); NULL when out of memory. */
static char *dag_ids_literal(const PGresult *r)
{
    size_t rows = (size_t)PQntuples(r);
    const char **ids = malloc((rows ? rows : 1) * sizeof(*ids));
    char *text;

    if (ids == NULL)
        return NULL;
    for (size_t i = 0; i < rows; i++)
        ids[i] = PQgetvalue(r, (int)i, 0);
    text = store_strs_literal(ids, rows);
    free(ids);
    return text;
}

/*
 * In a transaction (its own, or the caller's when one is open, as the
 * completion that claims the worker's next attempts has): the DAG rows are
 * locked first, so that two claims never both see room for the same slot
 * (a count inside one statement would: under READ COMMITTED both see the
 * snapshot before the other).
 */
int store_task_claim_capped(struct store_conn *c, int64_t worker_id, int max,
                            int64_t ttl_ms, struct store_claim *v, size_t *n,
                            int *spare, struct weir_err *err)
{
    char wid[WEIR_I64_LEN], maxb[WEIR_I64_LEN], ttl[WEIR_I64_LEN];
    const char *params[4] = {wid, maxb, ttl, NULL};
    PGresult *r = NULL;
    int64_t ignored_ms = -1;
    bool ignored = false;
    int more = 0;
    bool own = !store_in_tx(c);
    int rc = own ? store_begin(c, err) : 0;

    WEIR_I64(wid, worker_id);
    WEIR_I64(maxb, max);
    WEIR_I64(ttl, ttl_ms);
    if (rc == 0)
        rc = store_query(c, capped_lock_sql, 1, params, &r, err);
    if (rc == 0 && PQntuples(r) > 0) {
        char *ids = dag_ids_literal(r);

        PQclear(r);
        r = NULL;
        params[3] = ids;
        rc = ids ? store_query(c, capped_claim_sql, 4, params, &r, err)
                 : weir_err_set(err, WEIR_ENOMEM, "out of memory");
        free(ids);
        if (rc == 0)
            claims_from_result(r, worker_id, v, n, &ignored_ms, &more, &ignored,
                               &ignored);
    }
    PQclear(r);
    if (own)
        rc = store_end(c, rc, err);
    if (rc == 0)
        *spare += more;
    return rc;
}

int store_task_claim(struct store_conn *c, int64_t worker_id, int max,
                     int64_t ttl_ms, struct store_claim *v, size_t *n,
                     int64_t *retry_ms, int *spare, bool *capped_waits,
                     bool *pooled_waits, struct weir_err *err)
{
    char wid[WEIR_I64_LEN], maxb[WEIR_I64_LEN], ttl[WEIR_I64_LEN];
    const char *params[3] = {wid, maxb, ttl};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(wid, worker_id);
    WEIR_I64(maxb, max);
    WEIR_I64(ttl, ttl_ms);
    *retry_ms = -1;
    *capped_waits = false;
    *pooled_waits = false;
    rc = store_query(c, claim_sql, 3, params, &r, err);
    if (rc == 0)
        claims_from_result(r, worker_id, v, n, retry_ms, spare, capped_waits,
                           pooled_waits);
    PQclear(r);
    return rc;
}

int store_attempt_from_row(const PGresult *r, int row, int c, const char *lease,
                           struct store_attempt *out, struct weir_err *err)
{
    memset(out, 0, sizeof(*out));
    out->id = store_val_i64(r, row, c);
    out->task_id = store_val_i64(r, row, c + 1);
    out->run_id = store_val_i64(r, row, c + 2);
    out->try = (int)store_val_i64(r, row, c + 3);
    out->expired = strcmp(PQgetvalue(r, row, c + 5), "t") == 0;
    snprintf(out->step_id, sizeof(out->step_id), "%s",
             PQgetvalue(r, row, c + 6));
    out->lease_ok =
        lease != NULL && strcmp(PQgetvalue(r, row, c + 7), lease) == 0;
    return attempt_state_parse(PQgetvalue(r, row, c + 4), &out->state, err);
}

int store_attempt_get(struct store_conn *c, int64_t id, const char *lease,
                      bool lock, struct store_attempt *out,
                      struct weir_err *err)
{
    char idb[WEIR_I64_LEN];
    const char *params[1] = {idb};
    PGresult *r = NULL;
    struct store_attempt a;
    int rc;

    WEIR_I64(idb, id);
    rc = store_query_one(
        c,
        lock ? "SELECT " STORE_ATTEMPT_COLS
               " FROM attempts a JOIN tasks t ON t.id = a.task_id"
               " WHERE a.id = $1 FOR UPDATE OF a"
             : "SELECT " STORE_ATTEMPT_COLS
               " FROM attempts a JOIN tasks t ON t.id = a.task_id"
               " WHERE a.id = $1",
        1, params, &r, err, "no attempt %lld", (long long)id);
    if (rc < 0)
        return rc;
    rc = store_attempt_from_row(r, 0, 0, lease, &a, err);
    PQclear(r);
    if (rc == 0)
        *out = a;
    return rc;
}

int store_attempts_lock(struct store_conn *c, const int64_t *ids,
                        const char *const *leases, size_t n,
                        struct store_attempt *out, bool *found,
                        struct weir_err *err)
{
    char *id_arr = store_ids_literal(ids, n);
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

int store_attempt_beat(struct store_conn *c, int64_t id, const char *lease,
                       int64_t ttl_ms, bool *cancel, bool *held,
                       struct weir_err *err)
{
    char idb[WEIR_I64_LEN], ttl[WEIR_I64_LEN];
    const char *params[3] = {idb, lease, ttl};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(idb, id);
    WEIR_I64(ttl, ttl_ms);
    rc = store_query(
        c,
        "WITH a AS (UPDATE attempts SET lease_deadline = now() + $3 *"
        " interval '1 millisecond' WHERE id = $1 AND lease_id::text = $2"
        " AND state = 'running' RETURNING task_id, try, worker_id),"
        " w AS (UPDATE workers SET last_seen_at = now(), state = 'online'"
        " WHERE id = (SELECT worker_id FROM a))"
        " SELECT t.state <> 'running' OR t.try_count <> a.try"
        " FROM a JOIN tasks t ON t.id = a.task_id",
        3, params, &r, err);
    if (rc < 0)
        return rc;
    *held = PQntuples(r) == 1;
    if (*held)
        *cancel = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return rc;
}

int store_attempt_finish(struct store_conn *c, const struct store_attempt *a,
                         enum attempt_state to, const int *exit_code,
                         const char *outputs, const char *error,
                         struct weir_err *err)
{
    char idb[WEIR_I64_LEN], code[WEIR_I64_LEN];
    const char *params[5] = {idb, attempt_state_name(to),
                             exit_code ? code : NULL, outputs, error};
    int rc = state_attempt_change(a->run_id, a->task_id, a->try, a->id,
                                  a->state, to, err);

    WEIR_I64(idb, a->id);
    if (exit_code != NULL)
        WEIR_I64(code, *exit_code);
    if (rc == 0)
        rc = store_cmd(c,
                       "UPDATE attempts SET state = $2, exit_code = $3,"
                       " outputs = $4, error = $5, finished_at = now()"
                       " WHERE id = $1 AND state = 'running'",
                       5, params, err);
    return rc;
}

/* Column 0 of a row into item, an int64_t (store_row_cb). */
static int id_from_row(const PGresult *r, int row, void *item,
                       struct weir_err *err)
{
    (void)err;
    *(int64_t *)item = store_val_i64(r, row, 0);
    return 0;
}

int store_attempts_expired(struct store_conn *c, int max, int64_t **ids,
                           size_t *n, struct weir_err *err)
{
    char maxb[WEIR_I64_LEN];
    const char *params[1] = {maxb};
    PGresult *r = NULL;
    void *v = NULL;
    int rc;

    WEIR_I64(maxb, max);
    rc = store_query(c,
                     "SELECT id FROM attempts WHERE state = 'running' AND"
                     " lease_deadline < now() ORDER BY lease_deadline LIMIT $1",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    rc = store_rows_map(r, sizeof(int64_t), id_from_row, NULL, &v, n, err);
    PQclear(r);
    if (rc == 0)
        *ids = v;
    return rc;
}

int store_lease_next(struct store_conn *c, int64_t *ms, struct weir_err *err)
{
    PGresult *r = NULL;
    int rc;

    /* NULL when nothing runs (not greatest(0, NULL), which is 0). */
    rc = store_query(c,
                     "SELECT ceil(extract(epoch FROM"
                     " min(lease_deadline) - now()) * 1000)::bigint"
                     " FROM attempts WHERE state = 'running'",
                     0, NULL, &r, err);
    if (rc < 0)
        return rc;
    *ms = store_val(r, 0, 0) == NULL   ? -1
          : store_val_i64(r, 0, 0) > 0 ? store_val_i64(r, 0, 0)
                                       : 0;
    PQclear(r);
    return 0;
}

int store_leases_extend(struct store_conn *c, int64_t ttl_ms,
                        struct weir_err *err)
{
    char ttl[WEIR_I64_LEN];
    const char *params[1] = {ttl};

    WEIR_I64(ttl, ttl_ms);
    return store_cmd(c,
                     "UPDATE attempts SET lease_deadline = greatest("
                     "lease_deadline, now() + $1 * interval '1 millisecond')"
                     " WHERE state = 'running'",
                     1, params, err);
}

int store_logs_append(struct store_conn *c, int64_t id, const char *lease,
                      const char *lines, const char *capped, int *inserted,
                      bool *held, struct weir_err *err)
{
    char idb[WEIR_I64_LEN];
    const char *params[4] = {idb, lease, lines, capped};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(idb, id);
    rc = store_query(
        c,
        "WITH ok AS (SELECT 1 FROM attempts WHERE id = $1 AND"
        " lease_id::text = $2 AND state = 'running' FOR SHARE),"
        " ins AS (INSERT INTO log_lines (attempt_id, seq, ts, stream, line)"
        " SELECT $1, x.seq, to_timestamp(x.ts / 1000.0), x.stream, x.line"
        " FROM jsonb_to_recordset($3::jsonb) AS x(seq bigint, ts bigint,"
        " stream text, line text) WHERE EXISTS (SELECT 1 FROM ok)"
        " ON CONFLICT (attempt_id, seq) DO NOTHING RETURNING 1),"
        " cap AS (UPDATE attempts SET log_capped = $4::jsonb WHERE id = $1"
        " AND $4::jsonb IS NOT NULL AND EXISTS (SELECT 1 FROM ok))"
        " SELECT (SELECT count(*) FROM ok), (SELECT count(*) FROM ins)",
        4, params, &r, err);
    if (rc < 0)
        return rc;
    *held = store_val_i64(r, 0, 0) != 0;
    if (*held)
        *inserted = (int)store_val_i64(r, 0, 1);
    PQclear(r);
    return rc;
}
