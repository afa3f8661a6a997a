/* SPDX-License-Identifier: Apache-2.0 */
/* SQL of the after and data triggers (store/after.h). */
#include "store/after.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/query.h"

#define XSTR(x) #x
#define STR(x)  XSTR(x)

/* The follows of a version as [{key, kind, target, state}] JSON text. */
static char *follows_json(const struct dag *d)
{
    cJSON *arr = cJSON_CreateArray();
    char *text = NULL;

    for (size_t i = 0; arr != NULL && i < d->n_triggers; i++) {
        const struct dag_trigger *t = &d->triggers[i];
        cJSON *o;

        if ((t->kind != DAG_TRIG_AFTER && t->kind != DAG_TRIG_DATA) ||
            t->target == NULL || t->key == NULL)
            continue;
        o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            goto out;
        }
        if (cJSON_AddStringToObject(o, "key", t->key) == NULL ||
            cJSON_AddStringToObject(o, "kind",
                                    dag_trigger_kind_name(t->kind)) == NULL ||
            cJSON_AddStringToObject(o, "target", t->target) == NULL ||
            cJSON_AddStringToObject(
                o, "state", dag_after_state_name(t->after_state)) == NULL)
            goto out;
    }
    text = arr ? cJSON_PrintUnformatted(arr) : NULL;
out:
    cJSON_Delete(arr);
    return text;
}

int store_follows_set(struct store_conn *c, const struct dag *d,
                      struct weir_err *err)
{
    char *rows = follows_json(d);
    const char *params[2] = {d->id, rows};
    int rc;

    if (rows == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    /* Rows of the old version that the new one does not have first,
     * then the new ones: a reader between the two sees no extra row. */
    rc = store_cmd(c,
                   "DELETE FROM trigger_follows f WHERE f.dag_id = $1 AND"
                   " NOT EXISTS (SELECT 1 FROM jsonb_to_recordset($2::jsonb)"
                   " AS x(key text, kind text, target text, state text)"
                   " WHERE x.key = f.trigger_key AND x.kind = f.kind"
                   " AND x.target = f.target AND x.state = f.state)",
                   2, params, err);
    if (rc == 0)
        rc = store_cmd(c,
                       "INSERT INTO trigger_follows (dag_id, trigger_key,"
                       " kind, target, state) SELECT $1, x.key, x.kind,"
                       " x.target, x.state FROM jsonb_to_recordset($2::jsonb)"
                       " AS x(key text, kind text, target text, state text)"
                       " ON CONFLICT (dag_id, trigger_key) DO NOTHING",
                       2, params, err);
    cJSON_free(rows);
    return rc;
}

int store_follows_edges(struct store_conn *c, const char *except,
                        struct store_edge **out, size_t *n,
                        struct weir_err *err)
{
    const char *params[1] = {except};
    PGresult *r = NULL;
    struct store_edge *v;
    int rc = store_query(c,
                         "SELECT dag_id, target FROM trigger_follows"
                         " WHERE kind = 'after' AND dag_id <> $1",
                         1, params, &r, err);
    int rows;

    if (rc < 0)
        return rc;
    rows = PQntuples(r);
    v = calloc((size_t)rows + 1, sizeof(*v));
    if (v == NULL) {
        PQclear(r);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    for (int i = 0; i < rows; i++) {
        snprintf(v[i].down, sizeof(v[i].down), "%s", store_val(r, i, 0));
        snprintf(v[i].up, sizeof(v[i].up), "%s", store_val(r, i, 1));
    }
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return 0;
}

int store_followers(struct store_conn *c, const char *kind, const char *target,
                    struct store_follower **out, size_t *n,
                    struct weir_err *err)
{
    const char *params[2] = {kind, target};
    PGresult *r = NULL;
    struct store_follower *v;
    int rc = store_query(c,
                         "SELECT f.dag_id, f.trigger_key, f.state,"
                         " d.current_version_id FROM trigger_follows f"
                         " JOIN dags d ON d.id = f.dag_id"
                         " WHERE f.kind = $1 AND f.target = $2"
                         " AND d.current_version_id IS NOT NULL"
                         " ORDER BY f.dag_id, f.trigger_key",
                         2, params, &r, err);
    int rows;

    if (rc < 0)
        return rc;
    rows = PQntuples(r);
    v = calloc((size_t)rows + 1, sizeof(*v));
    for (int i = 0; v != NULL && i < rows; i++) {
        snprintf(v[i].dag_id, sizeof(v[i].dag_id), "%s", store_val(r, i, 0));
        snprintf(v[i].state, sizeof(v[i].state), "%s", store_val(r, i, 2));
        v[i].version_id = store_val_i64(r, i, 3);
        v[i].key = strdup(store_val(r, i, 1));
        if (v[i].key == NULL) {
            store_followers_free(v, (size_t)i);
            v = NULL;
        }
    }
    PQclear(r);
    if (v == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    *out = v;
    *n = (size_t)rows;
    return 0;
}

void store_followers_free(struct store_follower *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i].key);
    free(v);
}

int store_run_outputs(struct store_conn *c, int64_t run_id, size_t max_bytes,
                      char **out, struct weir_err *err)
{
    char id[WEIR_I64_LEN], max[WEIR_I64_LEN];
    const char *params[2] = {id, max};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(id, run_id);
    WEIR_I64(max, max_bytes);
    rc = store_query(c,
                     "SELECT CASE WHEN octet_length(o::text) <= $2::bigint"
                     " THEN o::text ELSE '{}' END FROM (SELECT coalesce("
                     "jsonb_object_agg(step_id, outputs), '{}') AS o FROM"
                     " (SELECT DISTINCT ON (step_id) step_id, outputs"
                     " FROM tasks WHERE run_id = $1 AND state = 'success'"
                     " AND outputs IS NOT NULL AND outputs <> '{}'"
                     " ORDER BY step_id, cell) s) a",
                     2, params, &r, err);
    if (rc < 0)
        return rc;
    *out = strdup(store_val(r, 0, 0));
    PQclear(r);
    if (*out == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    return 0;
}

int store_data_version_add(struct store_conn *c,
                           const struct store_data_version *v, bool *created,
                           struct weir_err *err)
{
    char run[WEIR_I64_LEN], att[WEIR_I64_LEN];
    const char *params[6] = {v->name, v->version, run,
                             att,     v->dag_id,  v->step_id};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(run, v->run_id);
    WEIR_I64(att, v->attempt_id);
    rc = store_query(c,
                     "INSERT INTO data_versions (name, version, run_id,"
                     " attempt_id, dag_id, step_id) VALUES ($1, $2, $3, $4,"
                     " $5, $6) ON CONFLICT (name, version) DO NOTHING"
                     " RETURNING 1",
                     6, params, &r, err);
    if (rc < 0)
        return rc;
    *created = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

int store_follows_lock(struct store_conn *c, struct weir_err *err)
{
    return store_cmd(c,
                     "SELECT pg_advisory_lock(" STR(STORE_LOCK_CLASS) ", " STR(
                         STORE_LOCK_FOLLOWS) ")",
                     0, NULL, err);
}

void store_follows_unlock(struct store_conn *c)
{
    struct weir_err err = {0};

    /* A session that cannot say so is closed, which frees its locks. */
    if (store_cmd(c,
                  "SELECT pg_advisory_unlock(" STR(STORE_LOCK_CLASS) ", " STR(
                      STORE_LOCK_FOLLOWS) ")",
                  0, NULL, &err) < 0)
        store_conn_recycle(c);
}

int store_after_pending_add(struct store_conn *c,
                            const struct store_after_pending *p,
                            struct weir_err *err)
{
    char depth[WEIR_I64_LEN], run[WEIR_I64_LEN];
    const char *params[6] = {p->dag_id,  p->key, p->reason,
                             p->payload, depth,  run};

    WEIR_I64(depth, p->depth);
    WEIR_I64(run, p->from_run);
    /* the upstream's starters (a backfill's creator for its runs) */
    return store_cmd(c,
                     "INSERT INTO after_pending (dag_id, trigger_key, reason,"
                     " payload, depth, started_by, retried_by)"
                     " SELECT $1, $2, $3, $4::jsonb, $5::integer,"
                     " (SELECT coalesce(r.started_by, b.created_by) FROM runs r"
                     " LEFT JOIN backfills b ON b.id = r.backfill_id"
                     " WHERE r.id = $6::bigint),"
                     " (SELECT retried_by FROM runs WHERE id = $6::bigint)",
                     6, params, err);
}

int store_after_pending_take(struct store_conn *c,
                             struct store_after_pending *p, bool *found,
                             struct weir_err *err)
{
    PGresult *r = NULL;
    int rc = store_query(c,
                         "DELETE FROM after_pending WHERE id = (SELECT id"
                         " FROM after_pending ORDER BY id LIMIT 1 FOR UPDATE"
                         " SKIP LOCKED) RETURNING id, dag_id, trigger_key,"
                         " reason, payload::text, depth,"
                         " coalesce(started_by, ''), coalesce(retried_by, '')",
                         0, NULL, &r, err);

    memset(p, 0, sizeof(*p));
    *found = false;
    if (rc < 0)
        return rc;
    if (PQntuples(r) > 0) {
        p->id = store_val_i64(r, 0, 0);
        snprintf(p->dag_id, sizeof(p->dag_id), "%s", store_val(r, 0, 1));
        p->key = strdup(store_val(r, 0, 2));
        p->reason = strdup(store_val(r, 0, 3));
        p->payload = strdup(store_val(r, 0, 4));
        p->depth = (int)store_val_i64(r, 0, 5);
        snprintf(p->started_by, sizeof(p->started_by), "%s",
                 store_val(r, 0, 6));
        snprintf(p->retried_by, sizeof(p->retried_by), "%s",
                 store_val(r, 0, 7));
        *found = true;
        if (p->key == NULL || p->reason == NULL || p->payload == NULL) {
            store_after_pending_free(p);
            rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
        }
    }
    PQclear(r);
    return rc;
}

int store_after_pending_any(struct store_conn *c, bool *any,
                            struct weir_err *err)
{
    PGresult *r = NULL;
    int rc =
        store_query(c, "SELECT 1 FROM after_pending LIMIT 1", 0, NULL, &r, err);

    *any = false;
    if (rc < 0)
        return rc;
    *any = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

void store_after_pending_free(struct store_after_pending *p)
{
    free(p->key);
    free(p->reason);
    free(p->payload);
    memset(p, 0, sizeof(*p));
}
