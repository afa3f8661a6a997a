/* SPDX-License-Identifier: Apache-2.0 */
/* SQL of notifications out: finished runs, the delivery queue. */
#include "store/notify.h"

#include <stdio.h>
#include <stdlib.h>

#include "store/query.h"

int store_notify_finished(struct store_conn *c, int limit, cJSON **out,
                          struct weir_err *err)
{
    char lim[WEIR_I64_LEN];
    const char *params[1] = {lim};

    WEIR_I64(lim, limit);
    return store_json_query(
        c,
        "SELECT coalesce(jsonb_agg(x ORDER BY o), '[]')::text FROM"
        " (SELECT row_number() OVER (ORDER BY r.finished_at, r.id) AS o,"
        " jsonb_build_object('id', r.id, 'dag', r.dag_id, 'version',"
        " r.dag_version_id, 'state', r.state, 'reason', r.reason, 'error', "
        "r.error,"
        " 'finished_at', weir_iso(r.finished_at), 'end', r.finished_at::text,"
        " 'failed_steps', coalesce((SELECT jsonb_agg(DISTINCT t.step_id)"
        " FROM tasks t WHERE t.run_id = r.id AND t.state = 'failed'), '[]'))"
        " AS x FROM runs r, notify_cursor k WHERE r.finished_at IS NOT NULL"
        " AND (r.finished_at, r.id) > (k.finished_at, k.run_id)"
        " ORDER BY r.finished_at, r.id LIMIT $1::int) s",
        1, params, out, err);
}

int store_notify_enqueue(struct store_conn *c, int64_t run_id, const char *end,
                         const char *url, const char *body,
                         struct weir_err *err)
{
    char id[WEIR_I64_LEN];
    const char *params[4] = {id, end, url, body};

    WEIR_I64(id, run_id);
    return store_cmd(c,
                     "INSERT INTO notifications (run_id, finished_at, url,"
                     " body) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                     4, params, err);
}

int store_notify_cursor(struct store_conn *c, const char *end, int64_t run_id,
                        struct weir_err *err)
{
    char id[WEIR_I64_LEN];
    const char *params[2] = {end, id};

    WEIR_I64(id, run_id);
    return store_cmd(c,
                     "UPDATE notify_cursor SET finished_at = $1, run_id = $2",
                     2, params, err);
}

int store_notify_due(struct store_conn *c, int limit, cJSON **out,
                     struct weir_err *err)
{
    char lim[WEIR_I64_LEN];
    const char *params[1] = {lim};

    WEIR_I64(lim, limit);
    return store_json_query(
        c,
        "SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'url', url,"
        " 'body', body, 'attempts', attempts) ORDER BY id), '[]')::text FROM"
        " (SELECT id, url, body, attempts FROM notifications"
        " WHERE delivered_at IS NULL AND next_try_at <= now()"
        " ORDER BY next_try_at, id LIMIT $1::int) s",
        1, params, out, err);
}

int store_notify_result(struct store_conn *c, int64_t id, bool ok,
                        const char *error, struct weir_err *err)
{
    char nid[WEIR_I64_LEN], tries[WEIR_I64_LEN];
    const char *params[4] = {nid, ok ? "t" : "f", error, tries};

    WEIR_I64(nid, id);
    WEIR_I64(tries, NOTIFY_TRIES);
    return store_cmd(
        c,
        "UPDATE notifications SET attempts = attempts + 1,"
        " delivered_at = CASE WHEN $2::boolean THEN now() END,"
        " last_error = $3, next_try_at = CASE WHEN $2::boolean THEN"
        " next_try_at WHEN attempts + 1 >= $4::int THEN 'infinity'"
        " ELSE now() + least(power(2, attempts + 1), 300)"
        " * interval '1 second' END WHERE id = $1",
        4, params, err);
}
