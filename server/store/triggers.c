/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of triggers: guards, suppressed firings, events and their sums,
 * hook deliveries, files seen, and the last slot of a cron trigger.
 */
#include "store/triggers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/query.h"
#include "store/read.h"

int store_trig_guard(struct store_conn *c, const char *dag_id, const char *key,
                     int64_t logical_time, int64_t cooldown_ms, const char *tz,
                     struct store_guard *out, struct weir_err *err)
{
    char lt[WEIR_I64_LEN], cd[WEIR_I64_LEN];
    const char *params[5] = {dag_id, key, lt, cd, tz};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(lt, logical_time);
    WEIR_I64(cd, cooldown_ms);
    rc = store_query(
        c,
        "SELECT $3::bigint <> 0 AND EXISTS (SELECT 1 FROM runs"
        " WHERE dag_id = $1 AND trigger_key = $2"
        " AND logical_time = to_timestamp($3::bigint)),"
        " (SELECT id FROM runs WHERE dag_id = $1 AND trigger_key = $2"
        " AND state = 'queued' ORDER BY id LIMIT 1),"
        " $4::bigint > 0 AND coalesce(l.last + $4::bigint * interval '1 ms'"
        " > clock_timestamp(), false),"
        " weir_iso(l.last + $4::bigint * interval '1 ms'),"
        " (SELECT count(*) FROM runs WHERE dag_id = $1"
        " AND trigger_kind NOT IN ('manual', 'backfill') AND created_at >="
        " (date_trunc('day', clock_timestamp() AT TIME ZONE $5)"
        " AT TIME ZONE $5))"
        " FROM (SELECT max(created_at) AS last FROM runs WHERE dag_id = $1"
        " AND trigger_kind NOT IN ('manual', 'backfill')) l",
        5, params, &r, err);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->slot_taken = strcmp(store_val(r, 0, 0), "t") == 0;
    out->queued_run = store_val_i64(r, 0, 1);
    out->cooling = strcmp(store_val(r, 0, 2), "t") == 0;
    if (store_val(r, 0, 3) != NULL)
        snprintf(out->cooldown_until, sizeof(out->cooldown_until), "%s",
                 store_val(r, 0, 3));
    out->today = (int)store_val_i64(r, 0, 4);
    PQclear(r);
    return 0;
}

int store_trig_suppress(struct store_conn *c, const char *dag_id,
                        const char *key, const char *why, struct weir_err *err)
{
    const char *params[3] = {dag_id, key, why};

    return store_cmd(c,
                     "INSERT INTO trigger_suppressed (dag_id, trigger_key,"
                     " reason) VALUES ($1, $2, $3)",
                     3, params, err);
}

int store_trig_consume(struct store_conn *c, const char *dag_id,
                       const char *key, int64_t run_id, struct weir_err *err)
{
    char id[WEIR_I64_LEN];
    const char *params[3] = {dag_id, key, id};

    WEIR_I64(id, run_id);
    return store_cmd(c,
                     "UPDATE trigger_events SET run_id = $3 WHERE dag_id = $1"
                     " AND trigger_key = $2 AND run_id IS NULL",
                     3, params, err);
}

int store_event_insert(struct store_conn *c, const char *ext_id,
                       const char *name, const char *payload, int64_t *id,
                       bool *dup, struct weir_err *err)
{
    const char *params[3] = {ext_id, name, payload};
    PGresult *r = NULL;
    int rc;

    rc = store_query(c,
                     "INSERT INTO events (ext_id, name, payload)"
                     " VALUES ($1, $2, $3) ON CONFLICT (ext_id) DO NOTHING"
                     " RETURNING id",
                     3, params, &r, err);
    if (rc == 0 && PQntuples(r) == 0) {
        PQclear(r);
        r = NULL;
        rc = store_query(c, "SELECT id FROM events WHERE ext_id = $1", 1,
                         params, &r, err);
        *dup = true;
    } else {
        *dup = false;
    }
    if (rc == 0 && PQntuples(r) == 1)
        *id = store_val_i64(r, 0, 0);
    else if (rc == 0)
        rc = weir_err_set(err, WEIR_EINTERNAL, "event insert returned no id");
    PQclear(r);
    return rc;
}

int store_events_insert_many(struct store_conn *c, const char *json, size_t n,
                             int64_t *ids, bool *dups, struct weir_err *err)
{
    const char *params[1] = {json};
    PGresult *r = NULL;
    int rc;

    /* Ids are drawn first, so that each row's fate can be joined back. */
    rc = store_query(
        c,
        "WITH v AS MATERIALIZED (SELECT o, x, n, p,"
        " nextval(pg_get_serial_sequence('events', 'id')) AS id"
        " FROM ROWS FROM (jsonb_to_recordset($1::jsonb)"
        " AS (x text, n text, p jsonb)) WITH ORDINALITY AS t(x, n, p, o)),"
        " ins AS (INSERT INTO events (id, ext_id, name, payload)"
        " OVERRIDING SYSTEM VALUE SELECT id, x, n, coalesce(p, '{}')"
        " FROM v ORDER BY o ON CONFLICT (ext_id) DO NOTHING RETURNING id)"
        " SELECT coalesce(i.id, e.id, (SELECT min(w.id) FROM v w JOIN ins j"
        " ON j.id = w.id WHERE w.x = v.x)), i.id IS NULL"
        " FROM v LEFT JOIN ins i ON i.id = v.id"
        " LEFT JOIN events e ON i.id IS NULL AND e.ext_id = v.x"
        " ORDER BY v.o",
        1, params, &r, err);
    if (rc < 0)
        return rc;
    if ((size_t)PQntuples(r) != n)
        rc = weir_err_set(err, WEIR_EINTERNAL,
                          "event insert returned %d rows for %zu events",
                          PQntuples(r), n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        ids[i] = store_val_i64(r, (int)i, 0);
        dups[i] = strcmp(store_val(r, (int)i, 1), "t") == 0;
    }
    PQclear(r);
    return rc;
}

int store_trig_event_add(struct store_conn *c, const char *dag_id,
                         const char *key, int64_t event_id, double value,
                         double *sum, int *count, struct weir_err *err)
{
    char id[WEIR_I64_LEN], v[40];
    const char *params[4] = {dag_id, key, id, v};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(id, event_id);
    snprintf(v, sizeof(v), "%.17g", value);
    rc = store_cmd(c,
                   "INSERT INTO trigger_events (dag_id, trigger_key,"
                   " event_id, value) VALUES ($1, $2, $3, $4)"
                   " ON CONFLICT DO NOTHING",
                   4, params, err);
    if (rc == 0)
        rc = store_query(c,
                         "SELECT coalesce(sum(value), 0), count(*)"
                         " FROM trigger_events WHERE dag_id = $1"
                         " AND trigger_key = $2 AND run_id IS NULL",
                         2, params, &r, err);
    if (rc < 0)
        return rc;
    *sum = strtod(store_val(r, 0, 0), NULL);
    *count = (int)store_val_i64(r, 0, 1);
    PQclear(r);
    return 0;
}

int store_trig_state(struct store_conn *c, const char *dag_id, const char *key,
                     int64_t cooldown_ms, struct store_trig_state *out,
                     struct weir_err *err)
{
    char cd[WEIR_I64_LEN];
    const char *params[3] = {dag_id, key, cd};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(cd, cooldown_ms);
    rc = store_query(
        c,
        "SELECT (SELECT coalesce(sum(value), 0) FROM trigger_events"
        " WHERE dag_id = $1 AND trigger_key = $2 AND run_id IS NULL),"
        " (SELECT count(*) FROM trigger_events WHERE dag_id = $1"
        " AND trigger_key = $2 AND run_id IS NULL),"
        " (SELECT weir_iso(max(created_at)) FROM runs WHERE dag_id = $1"
        " AND trigger_key = $2),"
        " (SELECT CASE WHEN $3::bigint > 0 AND max(created_at)"
        " + $3::bigint * interval '1 ms' > clock_timestamp() THEN "
        "weir_iso(max(created_at) + $3::bigint"
        " * interval '1 ms') END FROM runs WHERE dag_id = $1"
        " AND trigger_kind NOT IN ('manual', 'backfill')),"
        " (SELECT armed FROM metric_trigger_state WHERE dag_id = $1"
        " AND trigger_key = $2),"
        " (SELECT coalesce(jsonb_agg(jsonb_build_object('at', weir_iso(at),"
        " 'reason', reason) ORDER BY id DESC), '[]')::text FROM"
        " (SELECT id, at, reason FROM trigger_suppressed WHERE dag_id = $1"
        " AND trigger_key = $2 ORDER BY id DESC LIMIT 20) s)",
        3, params, &r, err);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->accumulated = strtod(store_val(r, 0, 0), NULL);
    out->pending = (int)store_val_i64(r, 0, 1);
    snprintf(out->last_fired, sizeof(out->last_fired), "%s",
             store_val(r, 0, 2) ? store_val(r, 0, 2) : "");
    snprintf(out->cooldown_until, sizeof(out->cooldown_until), "%s",
             store_val(r, 0, 3) ? store_val(r, 0, 3) : "");
    out->armed =
        store_val(r, 0, 4) == NULL ? -1 : strcmp(store_val(r, 0, 4), "t") == 0;
    rc = store_val_json(r, 0, 5, &out->suppressed, err);
    PQclear(r);
    return rc;
}

int store_events_list(struct store_conn *c, int limit, int64_t cursor,
                      int64_t run_id, int64_t max_bytes, const char *scope,
                      cJSON **out, struct weir_err *err)
{
    char lim[WEIR_I64_LEN], cur[WEIR_I64_LEN], run[WEIR_I64_LEN],
        max[WEIR_I64_LEN];
    const char *params[5] = {lim, cur, run, max, scope};

    WEIR_I64(lim, limit);
    WEIR_I64(cur, cursor);
    WEIR_I64(run, run_id);
    WEIR_I64(max, max_bytes);
    /* The page: the newest limit events, cut where their payloads pass
     * max_bytes (the first one always goes); one more is looked at to say
     * whether anything is left. Payloads are only measured until then. */
    return store_json_query(
        c,
        "WITH s AS (SELECT e.id, row_number() OVER w AS n, sum(octet_length("
        "e.payload::text)) OVER w AS upto FROM events e WHERE ($2::bigint = 0"
        " OR e.id < $2::bigint) AND ($3::bigint = 0 OR e.id IN (SELECT"
        " t.event_id FROM trigger_events t WHERE t.run_id = $3::bigint))"
        " AND ($5::jsonb IS NULL OR EXISTS (SELECT 1 FROM trigger_events t"
        " JOIN runs r ON r.id = t.run_id WHERE t.event_id = e.id AND"
        " weir_scope_ok($5::jsonb, r.dag_id, r.environment)))"
        " WINDOW w AS (ORDER BY e.id DESC) ORDER BY e.id DESC"
        " LIMIT $1::int + 1), page AS (SELECT id FROM s WHERE n <= $1::int"
        " AND (n = 1 OR upto <= $4::bigint))"
        " SELECT jsonb_build_object('events', coalesce((SELECT jsonb_agg("
        "jsonb_build_object('id', e.id, 'ext_id', e.ext_id, 'name', e.name,"
        " 'payload', e.payload, 'received_at', weir_iso(e.received_at),"
        " 'runs', coalesce((SELECT jsonb_agg(DISTINCT t.run_id) FROM"
        " trigger_events t JOIN runs r ON r.id = t.run_id WHERE t.event_id ="
        " e.id AND ($5::jsonb IS NULL OR weir_scope_ok($5::jsonb, r.dag_id,"
        " r.environment))), '[]')) ORDER BY e.id DESC) FROM events e WHERE"
        " e.id IN"
        " (SELECT id FROM page)), '[]'), 'more', (SELECT count(*) FROM s) >"
        " (SELECT count(*) FROM page))::text",
        5, params, out, err);
}

int store_events_prune(struct store_conn *c, int64_t retention_s, int limit,
                       int64_t *deleted, struct weir_err *err)
{
    char keep[WEIR_I64_LEN], lim[WEIR_I64_LEN];
    const char *params[2] = {keep, lim};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(keep, retention_s);
    WEIR_I64(lim, limit);
    rc = store_query(c,
                     "DELETE FROM events WHERE id IN (SELECT e.id FROM events e"
                     " WHERE e.received_at < now() - $1::bigint * interval"
                     " '1 second' AND NOT EXISTS (SELECT 1 FROM"
                     " trigger_events t WHERE t.event_id = e.id)"
                     " ORDER BY e.received_at LIMIT $2::int)",
                     2, params, &r, err);
    if (rc < 0)
        return rc;
    *deleted = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

int store_hook_delivery_add(struct store_conn *c, const char *dag_id,
                            const char *key, const char *delivery, bool *fresh,
                            struct weir_err *err)
{
    const char *params[3] = {dag_id, key, delivery};
    PGresult *r = NULL;
    int rc = store_query(c,
                         "INSERT INTO webhook_deliveries (dag_id, trigger_key,"
                         " delivery_id) VALUES ($1, $2, $3)"
                         " ON CONFLICT DO NOTHING",
                         3, params, &r, err);

    if (rc < 0)
        return rc;
    *fresh = strtoll(PQcmdTuples(r), NULL, 10) == 1;
    PQclear(r);
    return 0;
}

int store_hook_deliveries_prune(struct store_conn *c, int64_t keep_s,
                                int64_t *deleted, struct weir_err *err)
{
    char keep[WEIR_I64_LEN];
    const char *params[1] = {keep};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(keep, keep_s);
    rc = store_query(c,
                     "DELETE FROM webhook_deliveries WHERE received_at < now()"
                     " - $1::bigint * interval '1 second'",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    *deleted = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

int store_file_seen(struct store_conn *c, const char *dag_id, const char *key,
                    const char *path, int64_t size, int64_t mtime_ns, bool mark,
                    bool *seen, struct weir_err *err)
{
    char sz[WEIR_I64_LEN], mt[WEIR_I64_LEN];
    const char *params[5] = {dag_id, key, path, sz, mt};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(sz, size);
    WEIR_I64(mt, mtime_ns);
    if (mark)
        return store_cmd(c,
                         "INSERT INTO file_trigger_seen (dag_id, trigger_key,"
                         " path, size, mtime_ns) VALUES ($1, $2, $3, $4, $5)"
                         " ON CONFLICT (dag_id, trigger_key, path) DO UPDATE"
                         " SET size = $4, mtime_ns = $5, seen_at = now()",
                         5, params, err);
    rc = store_query(c,
                     "SELECT 1 FROM file_trigger_seen WHERE dag_id = $1"
                     " AND trigger_key = $2 AND path = $3 AND size = $4"
                     " AND mtime_ns = $5",
                     5, params, &r, err);
    if (rc == 0)
        *seen = PQntuples(r) > 0;
    PQclear(r);
    return rc;
}

int store_sched_last_slot(struct store_conn *c, const char *dag_id,
                          const char *key, int64_t *slot, struct weir_err *err)
{
    const char *params[2] = {dag_id, key};
    PGresult *r = NULL;
    int rc = store_query(c,
                         "SELECT extract(epoch FROM coalesce((SELECT"
                         " max(logical_time) FROM runs WHERE dag_id = $1 AND"
                         " trigger_key = $2 AND logical_time IS NOT NULL),"
                         " (SELECT v.created_at FROM dags d JOIN dag_versions"
                         " v ON v.id = d.current_version_id WHERE d.id = $1"
                         ")))::bigint",
                         2, params, &r, err);

    if (rc < 0)
        return rc;
    *slot = store_val_i64(r, 0, 0);
    PQclear(r);
    return 0;
}
