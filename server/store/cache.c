/* SPDX-License-Identifier: Apache-2.0 */
/* SQL of step caching (store/cache.h). */
#include "store/cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/query.h"
#include "weir.h"

int store_cache_claim(struct store_conn *c, int64_t attempt_id, int64_t run_id,
                      const char *key_hash, int64_t *from, struct weir_err *err)
{
    char aid[WEIR_I64_LEN], rid[WEIR_I64_LEN];
    const char *params[3] = {aid, rid, key_hash};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(aid, attempt_id);
    WEIR_I64(rid, run_id);
    rc = store_query_one(
        c,
        "WITH hit AS (SELECT s.attempt_id FROM step_cache s, runs r"
        " WHERE s.key_hash = $3 AND s.expires_at > now() AND r.id = $2"
        " AND NOT r.no_cache AND s.attempt_id <> $1)"
        " UPDATE attempts SET cache_key = $3, cached_from_attempt_id ="
        " (SELECT attempt_id FROM hit), worker_id = CASE WHEN EXISTS"
        " (SELECT 1 FROM hit) THEN NULL ELSE worker_id END WHERE id = $1"
        " RETURNING coalesce(cached_from_attempt_id, 0)",
        3, params, &r, err, "no attempt %s", aid);
    if (rc < 0)
        return rc;
    *from = store_val_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

int store_cache_outputs(struct store_conn *c, int64_t attempt_id,
                        char **outputs, struct weir_err *err)
{
    char aid[WEIR_I64_LEN];
    const char *params[1] = {aid};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(aid, attempt_id);
    rc = store_query_one(c,
                         "SELECT coalesce(s.outputs, '{}')::text FROM"
                         " attempts a JOIN attempts s ON s.id ="
                         " a.cached_from_attempt_id WHERE a.id = $1",
                         1, params, &r, err,
                         "the attempt attempt %s was cached from is gone", aid);
    if (rc < 0)
        return rc;
    *outputs = strdup(store_val(r, 0, 0));
    PQclear(r);
    return *outputs ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");
}

int store_cache_give_try(struct store_conn *c, int64_t attempt_id, bool hit,
                         bool *given, struct weir_err *err)
{
    char aid[WEIR_I64_LEN];
    const char *params[2] = {aid, hit ? "true" : "false"};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(aid, attempt_id);
    rc = store_query(c,
                     "UPDATE tasks t SET max_tries = t.max_tries + 1"
                     " FROM attempts a WHERE a.id = $1 AND a.state ="
                     " 'running' AND ($2::boolean OR"
                     " a.cached_from_attempt_id IS NOT NULL)"
                     " AND t.id = a.task_id AND t.state = 'running'"
                     " AND t.try_count = a.try RETURNING t.id",
                     2, params, &r, err);
    if (rc < 0)
        return rc;
    *given = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

int store_cache_fill(struct store_conn *c, int64_t attempt_id, int64_t ttl_ms,
                     const char *outputs, struct weir_err *err)
{
    char aid[WEIR_I64_LEN], ttl[WEIR_I64_LEN];
    const char *params[3] = {aid, ttl, outputs};

    WEIR_I64(aid, attempt_id);
    WEIR_I64(ttl, ttl_ms);
    return store_cmd(
        c,
        "INSERT INTO step_cache AS s (key_hash, dag_id, step_id, attempt_id,"
        " run_id, outputs, expires_at) SELECT a.cache_key, r.dag_id,"
        " t.step_id, a.id, r.id, coalesce($3::jsonb, '{}'), now() +"
        " $2::bigint * interval '1 millisecond' FROM attempts a JOIN tasks t"
        " ON t.id = a.task_id JOIN runs r ON r.id = t.run_id WHERE a.id = $1"
        " AND a.cache_key IS NOT NULL AND a.cached_from_attempt_id IS NULL"
        " ON CONFLICT (key_hash) DO UPDATE SET attempt_id = "
        "excluded.attempt_id,"
        " run_id = excluded.run_id, outputs = excluded.outputs, created_at ="
        " now(), expires_at = excluded.expires_at",
        3, params, err);
}

int store_run_no_cache(struct store_conn *c, int64_t run_id,
                       struct weir_err *err)
{
    char rid[WEIR_I64_LEN];
    const char *params[1] = {rid};

    WEIR_I64(rid, run_id);
    return store_cmd(c, "UPDATE runs SET no_cache = true WHERE id = $1", 1,
                     params, err);
}

int store_cache_prune(struct store_conn *c, int limit, int64_t *deleted,
                      struct weir_err *err)
{
    char lim[WEIR_I64_LEN];
    const char *params[1] = {lim};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(lim, limit);
    rc = store_query(c,
                     "DELETE FROM step_cache WHERE key_hash IN (SELECT"
                     " key_hash FROM step_cache WHERE expires_at <= now()"
                     " ORDER BY expires_at LIMIT $1::int)",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    *deleted = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}
