/* SPDX-License-Identifier: Apache-2.0 */
/* SQL of metrics: samples, their retention, and metric trigger arming. */
#include "store/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/query.h"
#include "store/read.h"

int store_metric_insert(struct store_conn *c, const char *name,
                        const double *time, double value, const char *labels,
                        struct weir_err *err)
{
    char t[40], v[40];
    const char *params[4] = {name, time ? t : NULL, v, labels};

    if (time != NULL)
        snprintf(t, sizeof(t), "%.6f", *time);
    snprintf(v, sizeof(v), "%.17g", value);
    return store_cmd(c,
                     "INSERT INTO metric_samples (name, time, value, labels)"
                     " VALUES ($1, coalesce(to_timestamp($2::float8), now()),"
                     " $3, $4)",
                     4, params, err);
}

int store_metric_prune(struct store_conn *c, int64_t retention_s,
                       struct weir_err *err)
{
    char s[WEIR_I64_LEN];
    const char *params[1] = {s};

    WEIR_I64(s, retention_s);
    return store_cmd(c,
                     "DELETE FROM metric_samples WHERE time < now() -"
                     " $1::bigint * interval '1 second'",
                     1, params, err);
}

int store_metric_state_get(struct store_conn *c, const char *dag_id,
                           const char *key, bool *armed, int *streak,
                           struct weir_err *err)
{
    const char *params[2] = {dag_id, key};
    PGresult *r = NULL;
    int rc = store_cmd(c,
                       "INSERT INTO metric_trigger_state (dag_id, trigger_key)"
                       " VALUES ($1, $2) ON CONFLICT DO NOTHING",
                       2, params, err);

    if (rc == 0)
        rc = store_query(c,
                         "SELECT armed, streak FROM metric_trigger_state"
                         " WHERE dag_id = $1 AND trigger_key = $2",
                         2, params, &r, err);
    if (rc < 0)
        return rc;
    *armed = strcmp(store_val(r, 0, 0), "t") == 0;
    *streak = (int)store_val_i64(r, 0, 1);
    PQclear(r);
    return 0;
}

int store_metric_state_set(struct store_conn *c, const char *dag_id,
                           const char *key, bool armed, int streak,
                           struct weir_err *err)
{
    char s[WEIR_I64_LEN];
    const char *params[4] = {dag_id, key, armed ? "t" : "f", s};

    WEIR_I64(s, streak);
    return store_cmd(c,
                     "UPDATE metric_trigger_state SET armed = $3, streak = $4,"
                     " updated_at = now() WHERE dag_id = $1"
                     " AND trigger_key = $2",
                     4, params, err);
}

int store_metric_samples(struct store_conn *c, const char *name,
                         const double *since, int limit, cJSON **out,
                         struct weir_err *err)
{
    char lim[WEIR_I64_LEN], t[40];
    const char *params[3] = {name, since ? t : NULL, lim};

    WEIR_I64(lim, limit);
    if (since != NULL)
        snprintf(t, sizeof(t), "%.6f", *since);
    return store_json_query(
        c,
        "SELECT coalesce(jsonb_agg(jsonb_build_object('time', weir_iso(time),"
        " 'value', value, 'labels', labels) ORDER BY time, id), '[]')::text"
        " FROM (SELECT id, time, value, labels FROM metric_samples"
        " WHERE name = $1 AND ($2::float8 IS NULL OR time >= "
        "to_timestamp($2::float8))"
        " ORDER BY time DESC, id DESC LIMIT $3::int) s",
        3, params, out, err);
}
