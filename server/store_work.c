/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of the worker protocol: registration, the claim (one statement:
 * lock claimable tasks with SKIP LOCKED, make them running, create their
 * attempts), leases and their fencing, log lines, and lease expiry.
 *
 * A lease id is compared as text, so that a malformed one from a client
 * is merely stale, never a database error.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_int.h"
#include "store_run.h"

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
 * The rows of the claim statement: one per claimed attempt, ordered by
 * attempt id, and, when nothing was claimed, one row with a NULL attempt
 * id whose last column is the wait until a retry comes due (or NULL).
 */
static int claims_from_result(const PGresult *r, int64_t worker_id,
                              struct store_claim **out, size_t *n,
                              int64_t *retry_ms, int *spare,
                              struct weir_err *err)
{
    size_t rows = (size_t)PQntuples(r), k = 0;
    struct store_claim *v = calloc(rows ? rows : 1, sizeof(*v));
    struct weir_err ignored;

    if (v == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    *retry_ms = -1;
    *spare = 0;
    for (int i = 0; i < (int)rows; i++) {
        enum task_state from = TASK_QUEUED;
        struct store_claim *cl = &v[k];

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
        k++;
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
    *out = v;
    *n = k;
    return 0;
}

/*
 * Queued tasks and due retries are chosen by two index scans (the partial
 * indexes tasks_claim_idx and tasks_retry_idx), each locking at most $2
 * rows with SKIP LOCKED; the most urgent $2 of both are claimed. The rows
 * one scan locked but the merge did not take are counted as "spare": a
 * concurrent claim skipped them, so the caller wakes the waiters again.
 */
static const char claim_sql[] =
    "WITH w AS MATERIALIZED (SELECT queues FROM workers WHERE id = $1),"
    " q AS (SELECT t.id, t.state, t.priority, t.step_id,"
    " t.queued_at AS ready_at FROM tasks t WHERE t.state = 'queued'"
    " AND t.queue = ANY ((SELECT queues FROM w)::text[])"
    " ORDER BY t.priority DESC, t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED),"
    " r AS (SELECT t.id, t.state, t.priority, t.step_id,"
    " t.next_try_at AS ready_at FROM tasks t WHERE t.state = 'up_for_retry'"
    " AND t.next_try_at <= now()"
    " AND t.queue = ANY ((SELECT queues FROM w)::text[])"
    " ORDER BY t.priority DESC, t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED),"
    " c AS (SELECT * FROM q UNION ALL SELECT * FROM r"
    " ORDER BY priority DESC, id LIMIT $2),"
    " u AS (UPDATE tasks t SET state = 'running',"
    " try_count = t.try_count + 1, next_try_at = NULL,"
    " started_at = coalesce(t.started_at, now())"
    " FROM c WHERE t.id = c.id"
    " RETURNING t.id, t.run_id, t.try_count, c.state AS old, c.ready_at,"
    " c.step_id),"
    " a AS (INSERT INTO attempts (task_id, try, worker_id, lease_deadline)"
    " SELECT u.id, u.try_count, $1, now() + $3 * interval '1 millisecond'"
    " FROM u RETURNING id, lease_id, task_id, try)"
    " SELECT a.id, a.lease_id, a.task_id, u.run_id, a.try, u.old,"
    " extract(epoch FROM clock_timestamp() - u.ready_at), u.step_id,"
    " (SELECT count(*) FROM q) + (SELECT count(*) FROM r)"
    " - (SELECT count(*) FROM c), NULL::bigint"
    " FROM a JOIN u ON u.id = a.task_id"
    " UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0,"
    " (SELECT ceil(extract(epoch FROM min(t.next_try_at)"
    " - now()) * 1000)::bigint FROM tasks t WHERE t.state = 'up_for_retry'"
    " AND t.queue = ANY ((SELECT queues FROM w)::text[]))"
    " WHERE NOT EXISTS (SELECT 1 FROM c) ORDER BY 1";

int store_task_claim(struct store_conn *c, int64_t worker_id, int max,
                     int64_t ttl_ms, struct store_claim **out, size_t *n,
                     int64_t *retry_ms, int *spare, struct weir_err *err)
{
    char wid[24], maxb[24], ttl[24];
    const char *params[3] = {wid, maxb, ttl};
    PGresult *r = NULL;
    int rc;

    I64(wid, worker_id);
    I64(maxb, max);
    I64(ttl, ttl_ms);
    rc = store_query(c, claim_sql, 3, params, &r, err);
    if (rc < 0)
        return rc;
    rc = claims_from_result(r, worker_id, out, n, retry_ms, spare, err);
    PQclear(r);
    return rc;
}

int store_attempt_get(struct store_conn *c, int64_t id, const char *lease,
                      bool lock, struct store_attempt *out,
                      struct weir_err *err)
{
    char idb[24];
    const char *params[2] = {idb, lease};
    PGresult *r = NULL;
    struct store_attempt a = {0};
    int rc;

    I64(idb, id);
    rc = store_query(c,
                     lock ? "SELECT a.id, a.task_id, t.run_id, a.try, a.state,"
                            " a.lease_id::text = $2,"
                            " a.lease_deadline < now(), t.step_id"
                            " FROM attempts a JOIN tasks t ON t.id = a.task_id"
                            " WHERE a.id = $1 FOR UPDATE OF a"
                          : "SELECT a.id, a.task_id, t.run_id, a.try, a.state,"
                            " a.lease_id::text = $2,"
                            " a.lease_deadline < now(), t.step_id"
                            " FROM attempts a JOIN tasks t ON t.id = a.task_id"
                            " WHERE a.id = $1",
                     2, params, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return weir_err_set(err, WEIR_ENOTFOUND, "no attempt %lld",
                            (long long)id);
    }
    a.id = store_val_i64(r, 0, 0);
    a.task_id = store_val_i64(r, 0, 1);
    a.run_id = store_val_i64(r, 0, 2);
    a.try = (int)store_val_i64(r, 0, 3);
    rc = attempt_state_parse(PQgetvalue(r, 0, 4), &a.state, err);
    a.lease_ok = lease != NULL && strcmp(PQgetvalue(r, 0, 5), "t") == 0;
    a.expired = strcmp(PQgetvalue(r, 0, 6), "t") == 0;
    snprintf(a.step_id, sizeof(a.step_id), "%s", PQgetvalue(r, 0, 7));
    PQclear(r);
    if (rc == 0)
        *out = a;
    return rc;
}

int store_logs_append(struct store_conn *c, int64_t id, const char *lease,
                      const char *lines, int *inserted, struct weir_err *err)
{
    char idb[24];
    const char *params[3] = {idb, lease, lines};
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
        " ON CONFLICT (attempt_id, seq) DO NOTHING RETURNING 1)"
        " SELECT (SELECT count(*) FROM ok), (SELECT count(*) FROM ins)",
        3, params, &r, err);
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
