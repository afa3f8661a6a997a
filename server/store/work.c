/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of the worker protocol: registration, the claim (one statement:
 * lock claimable tasks with SKIP LOCKED, make them running, create their
 * attempts), leases and their fencing, log lines, and lease expiry.
 *
 * A lease id is read as text and compared in C, so that a malformed one
 * from a client is merely stale, never a database error.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/internal.h"
#include "store/run.h"

#define I64(buf, v) snprintf(buf, sizeof(buf), "%lld", (long long)(v))

int store_worker_register(struct store_conn *c, const char *name,
                          const char *queues, int slots, const char *labels,
                          int64_t *id, struct weir_err *err)
{
    char slots_b[24];
    const char *params[4] = {name, queues, slots_b, labels};
    PGresult *r = NULL;
    int rc;

    I64(slots_b, slots);
    rc = store_query(
        c,
        "INSERT INTO workers (name, queues, slots, labels) VALUES ($1,"
        " ARRAY(SELECT jsonb_array_elements_text($2::jsonb)), $3, $4)"
        " ON CONFLICT (name) DO UPDATE SET queues = excluded.queues,"
        " slots = excluded.slots, labels = excluded.labels, state = 'online',"
        " last_seen_at = now() RETURNING id",
        4, params, &r, err);
    if (rc < 0)
        return rc;
    *id = store_val_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

int store_worker_seen(struct store_conn *c, int64_t worker_id,
                      struct weir_err *err)
{
    char id[24];
    const char *params[1] = {id};
    PGresult *r = NULL;
    int rc;

    I64(id, worker_id);
    rc = store_query(c,
                     "UPDATE workers SET last_seen_at = now(), state ="
                     " 'online' WHERE id = $1",
                     1, params, &r, err);
    if (rc == 0 && strcmp(PQcmdTuples(r), "1") != 0)
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no worker %s: register first",
                          id);
    PQclear(r);
    return rc;
}

/*
 * The rows of a claim statement: one per claimed attempt, ordered by
 * attempt id, and, when the fast claim took nothing, one row with a NULL
 * attempt id whose column 9 is the wait until a retry comes due (or
 * NULL). Column 8 counts the rows locked but not taken, column 10 says
 * whether tasks of capped DAGs wait in the worker's queues. Claims are
 * appended to v[*n...].
 */
static void claims_from_result(const PGresult *r, int64_t worker_id,
                               struct store_claim *v, size_t *n,
                               int64_t *retry_ms, int *spare, bool *capped)
{
    struct weir_err ignored;

    for (int i = 0; i < PQntuples(r); i++) {
        enum task_state from = TASK_QUEUED;
        struct store_claim *cl = &v[*n];

        *capped = *capped || (store_val(r, i, 10) != NULL &&
                              strcmp(PQgetvalue(r, i, 10), "t") == 0);
        if (store_val(r, i, 0) == NULL) {
            /* NULL: no retry waits (greatest(0, NULL) in SQL would have
             * said 0, "one is due", and waiters would claim every
             * MIN_WAIT_MS); a past time is due now. */
            if (store_val(r, i, 9) != NULL)
                *retry_ms =
                    store_val_i64(r, i, 9) > 0 ? store_val_i64(r, i, 9) : 0;
            continue;
        }
        cl->attempt_id = store_val_i64(r, i, 0);
        snprintf(cl->lease_id, sizeof(cl->lease_id), "%s", PQgetvalue(r, i, 1));
        cl->task_id = store_val_i64(r, i, 2);
        cl->run_id = store_val_i64(r, i, 3);
        cl->try = (int)store_val_i64(r, i, 4);
        cl->wait_s = store_val(r, i, 6) != NULL
                         ? strtod(store_val(r, i, 6), NULL)
                         : -1.0;
        snprintf(cl->step_id, sizeof(cl->step_id), "%s", PQgetvalue(r, i, 7));
        *spare = (int)store_val_i64(r, i, 8);
        (*n)++;
        /* The statement chose only claimable states; this logs it. */
        if (task_state_parse(PQgetvalue(r, i, 5), &from, &ignored) != 0 ||
            state_task_change(cl->run_id, cl->task_id, cl->try, from,
                              TASK_RUNNING, &ignored) != 0)
            log_error("event=claim_state run=%lld task=%lld",
                      (long long)cl->run_id, (long long)cl->task_id);
        log_info("event=attempt_leased run=%lld task=%lld try=%d attempt=%lld"
                 " worker=%lld",
                 (long long)cl->run_id, (long long)cl->task_id, cl->try,
                 (long long)cl->attempt_id, (long long)worker_id);
    }
}

/* A task of a capped DAG that may be claimed now. */
#define CAPPED_CLAIMABLE                                                       \
    " t.state IN ('queued', 'up_for_retry') AND (t.state = 'queued' OR"        \
    " t.next_try_at <= now())"

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
    " (SELECT n FROM sp), NULL::bigint, (SELECT capped FROM k)"                \
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
    " AND t.capped_dag IS NULL"
    " AND t.queue = ANY ((SELECT queues FROM w)::text[])"
    " ORDER BY t.priority DESC, t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED),"
    " r AS (SELECT t.id, t.state, t.priority, t.step_id,"
    " t.next_try_at AS ready_at FROM tasks t WHERE t.state = 'up_for_retry'"
    " AND t.next_try_at <= now() AND t.capped_dag IS NULL"
    " AND t.queue = ANY ((SELECT queues FROM w)::text[])"
    " ORDER BY t.priority DESC, t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED),"
    " c AS (SELECT * FROM q UNION ALL SELECT * FROM r"
    " ORDER BY priority DESC, id LIMIT $2),"
    " sp AS (SELECT (SELECT count(*) FROM q) + (SELECT count(*) FROM r)"
    " - (SELECT count(*) FROM c) AS n),"
    " k AS MATERIALIZED (SELECT EXISTS (SELECT 1"
    CAPPED_ROOM("(SELECT queues FROM w)::text[]") ") AS capped),"
    CLAIM_TAIL
    " UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0,"
    " (SELECT ceil(extract(epoch FROM min(t.next_try_at) - now()) * 1000)"
    "::bigint FROM tasks t WHERE t.state = 'up_for_retry'"
    " AND (t.capped_dag IS NULL OR t.next_try_at > now())"
    " AND t.queue = ANY ((SELECT queues FROM w)::text[])),"
    " (SELECT capped FROM k) WHERE NOT EXISTS (SELECT 1 FROM c) ORDER BY 1";
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
    " k AS (SELECT false AS capped)," CLAIM_TAIL " ORDER BY 1";

/* A PostgreSQL array literal of the ids in column 0 of r (DAG ids need
 * no quoting: [a-z0-9_-]). NULL when out of memory. */
static char *ids_array(const PGresult *r)
{
    size_t rows = (size_t)PQntuples(r), len = 3;
    char *s;

    for (size_t i = 0; i < rows; i++)
        len += strlen(PQgetvalue(r, (int)i, 0)) + 1;
    s = malloc(len);
    if (s == NULL)
        return NULL;
    strcpy(s, "{");
    for (size_t i = 0; i < rows; i++) {
        if (i > 0)
            strcat(s, ",");
        strcat(s, PQgetvalue(r, (int)i, 0));
    }
    strcat(s, "}");
    return s;
}

/*
 * The capped claim: up to max tasks of capped DAGs, appended to v[*n...].
 * In a transaction (its own, or the caller's when one is open, as the
 * completion that claims the worker's next attempts has): the DAG rows are
 * locked first, so that two claims never both see room for the same slot
 * (a count inside one statement would: under READ COMMITTED both see the
 * snapshot before the other).
 */
static int claim_capped(struct store_conn *c, const char *params[3], int max,
                        int64_t worker_id, struct store_claim *v, size_t *n,
                        int *spare, struct weir_err *err)
{
    char maxb[24];
    const char *p4[4] = {params[0], maxb, params[2], NULL};
    PGresult *r = NULL;
    int64_t ignored_ms = -1;
    bool ignored = false;
    int more = 0;
    bool own = PQtransactionStatus(c->pg) == PQTRANS_IDLE;
    int rc = own ? store_begin(c, err) : 0;

    I64(maxb, max);
    if (rc == 0)
        rc = store_query(c, capped_lock_sql, 1, params, &r, err);
    if (rc == 0 && PQntuples(r) > 0) {
        char *ids = ids_array(r);

        PQclear(r);
        r = NULL;
        p4[3] = ids;
        rc = ids ? store_query(c, capped_claim_sql, 4, p4, &r, err)
                 : weir_err_set(err, WEIR_ENOMEM, "out of memory");
        free(ids);
        if (rc == 0)
            claims_from_result(r, worker_id, v, n, &ignored_ms, &more,
                               &ignored);
    }
    PQclear(r);
    if (own)
        rc = store_end(c, rc, err);
    if (rc == 0)
        *spare += more;
    return rc;
}

/*
 * Set when a fast claim took every slot while a capped DAG had room and
 * work: the next claim serves capped DAGs first. Turns so taken keep a
 * backlog of uncapped work from holding capped DAGs back for ever.
 */
static atomic_bool capped_first;

int store_task_claim(struct store_conn *c, int64_t worker_id, int max,
                     int64_t ttl_ms, struct store_claim **out, size_t *n,
                     int64_t *retry_ms, int *spare, struct weir_err *err)
{
    char wid[24], maxb[24], ttl[24];
    const char *params[3] = {wid, maxb, ttl};
    struct store_claim *v = calloc(max > 0 ? (size_t)max : 1, sizeof(*v));
    PGresult *r = NULL;
    bool capped = false, first = atomic_exchange(&capped_first, false);
    size_t k = 0;
    int rc = 0;

    if (v == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    I64(wid, worker_id);
    I64(ttl, ttl_ms);
    *retry_ms = -1;
    *spare = 0;
    if (first)
        rc = claim_capped(c, params, max, worker_id, v, &k, spare, err);
    if (rc == 0 && k < (size_t)max) {
        I64(maxb, max - (int)k);
        rc = store_query(c, claim_sql, 3, params, &r, err);
        if (rc == 0)
            claims_from_result(r, worker_id, v, &k, retry_ms, spare, &capped);
        PQclear(r);
    }
    if (rc == 0 && capped && !first && k < (size_t)max)
        rc =
            claim_capped(c, params, max - (int)k, worker_id, v, &k, spare, err);
    else if (rc == 0 && capped && !first)
        atomic_store(&capped_first, true);
    /* The wait for a retry matters only when nothing was claimed. */
    if (k > 0)
        *retry_ms = -1;
    if (rc < 0) {
        free(v);
        return rc;
    }
    *out = v;
    *n = k;
    return 0;
}

/*
 * Flag the unfinished tasks of DAG id's active runs for the cap $2 (NULL:
 * none); rows already flagged so are left alone (and unlocked).
 */
static const char reflag_sql[] =
    "UPDATE tasks t SET capped_dag = CASE WHEN $2::integer IS NULL THEN NULL"
    " ELSE $1 END FROM runs r WHERE r.dag_id = $1"
    " AND r.state IN ('queued', 'running') AND t.run_id = r.id"
    " AND t.state NOT IN ('success', 'failed', 'skipped', 'upstream_failed',"
    " 'canceled') AND t.capped_dag IS DISTINCT FROM"
    " CASE WHEN $2::integer IS NULL THEN NULL ELSE $1 END";

/*
 * The cap of DAG id is now `concurrency` (0: none). The tasks are flagged
 * before the DAG's row is locked (a completion may hold tasks and then
 * want that row: taking them in the other order could deadlock), and
 * again after, for tasks a run creation added in between. Retried runs
 * are flagged anew when their tasks are reset.
 */
int store_dag_cap_set(struct store_conn *c, const char *id, int concurrency,
                      struct weir_err *err)
{
    char cap[24];
    const char *params[2] = {id, concurrency > 0 ? cap : NULL};
    PGresult *r = NULL;
    bool changed = false;
    int rc;

    I64(cap, concurrency);
    rc = store_begin(c, err);
    if (rc == 0)
        rc = store_cmd(c, reflag_sql, 2, params, err);
    if (rc == 0)
        rc = store_query(c,
                         "UPDATE dags SET concurrency = $2::integer"
                         " WHERE id = $1 AND concurrency IS DISTINCT FROM"
                         " $2::integer",
                         2, params, &r, err);
    changed = rc == 0 && strcmp(PQcmdTuples(r), "1") == 0;
    PQclear(r);
    if (rc == 0 && changed)
        rc = store_cmd(c, reflag_sql, 2, params, err);
    rc = store_end(c, rc, err);
    if (rc == 0 && changed)
        log_info("event=dag_cap dag=%s concurrency=%d", id, concurrency);
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
    char idb[24];
    const char *params[1] = {idb};
    PGresult *r = NULL;
    struct store_attempt a;
    int rc;

    I64(idb, id);
    rc = store_query(c,
                     lock ? "SELECT " STORE_ATTEMPT_COLS
                            " FROM attempts a JOIN tasks t ON t.id = a.task_id"
                            " WHERE a.id = $1 FOR UPDATE OF a"
                          : "SELECT " STORE_ATTEMPT_COLS
                            " FROM attempts a JOIN tasks t ON t.id = a.task_id"
                            " WHERE a.id = $1",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return weir_err_set(err, WEIR_ENOTFOUND, "no attempt %lld",
                            (long long)id);
    }
    rc = store_attempt_from_row(r, 0, 0, lease, &a, err);
    PQclear(r);
    if (rc == 0)
        *out = a;
    return rc;
}

int store_logs_append(struct store_conn *c, int64_t id, const char *lease,
                      const char *lines, const char *capped, int *inserted,
                      struct weir_err *err)
{
    char idb[24];
    const char *params[4] = {idb, lease, lines, capped};
    PGresult *r = NULL;
    int rc;

    I64(idb, id);
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
    if (store_val_i64(r, 0, 0) == 0)
        rc = weir_err_set(err, WEIR_ECONFLICT,
                          "the lease of attempt %lld is stale: the attempt "
                          "finished, expired or was leased again",
                          (long long)id);
    else
        *inserted = (int)store_val_i64(r, 0, 1);
    PQclear(r);
    return rc;
}

int store_attempt_finish(struct store_conn *c, const struct store_attempt *a,
                         enum attempt_state to, const int *exit_code,
                         const char *outputs, const char *error,
                         struct weir_err *err)
{
    char idb[24], code[24];
    const char *params[5] = {idb, attempt_state_name(to),
                             exit_code ? code : NULL, outputs, error};
    int rc = state_attempt_change(a->run_id, a->task_id, a->try, a->id,
                                  a->state, to, err);

    I64(idb, a->id);
    if (exit_code != NULL)
        I64(code, *exit_code);
    if (rc == 0)
        rc = store_cmd(c,
                       "UPDATE attempts SET state = $2, exit_code = $3,"
                       " outputs = $4, error = $5, finished_at = now()"
                       " WHERE id = $1 AND state = 'running'",
                       5, params, err);
    return rc;
}

int store_attempts_expired(struct store_conn *c, int max, int64_t **ids,
                           size_t *n, struct weir_err *err)
{
    char maxb[24];
    const char *params[1] = {maxb};
    PGresult *r = NULL;
    int64_t *v;
    size_t rows;
    int rc;

    I64(maxb, max);
    rc = store_query(c,
                     "SELECT id FROM attempts WHERE state = 'running' AND"
                     " lease_deadline < now() ORDER BY lease_deadline LIMIT $1",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    rows = (size_t)PQntuples(r);
    v = calloc(rows ? rows : 1, sizeof(*v));
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
    char ttl[24];
    const char *params[1] = {ttl};

    I64(ttl, ttl_ms);
    return store_cmd(c,
                     "UPDATE attempts SET lease_deadline = greatest("
                     "lease_deadline, now() + $1 * interval '1 millisecond')"
                     " WHERE state = 'running'",
                     1, params, err);
}
