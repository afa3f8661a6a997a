/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The checks of what a request reaches beside its own target: the rules
 * are in api/authz_targets.h and docs/security.md.
 */
#include "api/authz_targets.h"

#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/authz.h"

int api_authorize_submit_targets(struct http_req *req, const struct dag *d,
                                 struct weir_err *err)
{
    for (size_t i = 0; i < d->n_triggers; i++) {
        const struct dag_trigger *t = &d->triggers[i];

        if (t->kind != DAG_TRIG_AFTER || t->target == NULL ||
            api_authorize_dag_read(req, t->target, err) == 0)
            continue;
        return weir_err_set(err, WEIR_EFORBIDDEN,
                            "trigger \"%.128s\" follows DAG \"%.128s\": %s",
                            t->key, t->target, err->msg);
    }
    if (d->n_triggers == 0)
        return 0;
    /* a schedule or a trigger starts runs without anyone asking: the
     * author must also be allowed to start them, where they will run */
    if (api_authorize(req, GRANT_ACT_TRIGGER, d->id,
                      d->environment != NULL ? d->environment : "", err) == 0)
        return 0;
    return weir_err_set(err, WEIR_EFORBIDDEN,
                        "DAG \"%.128s\" has a schedule or triggers, which "
                        "start runs by themselves: %s",
                        d->id, err->msg);
}

bool api_reads_all_dags(const struct http_req *req)
{
    const struct grant_set *s = api_caller_grants(req);

    for (size_t i = 0; i < s->n; i++)
        if (grant_role_allows(s->g[i].role, GRANT_ACT_READ) &&
            s->g[i].dags[0] == '\0')
            return true;
    return false;
}

/* The DAG the upstream run of an after or data trigger belongs to, as
 * its payload names it, or NULL. */
static const char *upstream_dag(const cJSON *trigger)
{
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(trigger, "kind");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(trigger, "payload");
    const cJSON *dag;

    if (!cJSON_IsString(kind))
        return NULL;
    if (strcmp(kind->valuestring, "data") == 0)
        p = cJSON_GetObjectItemCaseSensitive(p, "payload");
    else if (strcmp(kind->valuestring, "after") != 0)
        return NULL;
    dag = cJSON_GetObjectItemCaseSensitive(p, "dag");
    return cJSON_IsString(dag) ? dag->valuestring : NULL;
}

void api_hide_upstream(const struct http_req *req, cJSON *run)
{
    cJSON *trigger = cJSON_GetObjectItemCaseSensitive(run, "trigger");
    const char *dag = upstream_dag(trigger);

    if (dag == NULL || api_may_read_dag(req, dag))
        return;
    cJSON_ReplaceItemInObjectCaseSensitive(trigger, "payload",
                                           cJSON_CreateNull());
    /* the reason names the upstream run too */
    if (cJSON_HasObjectItem(run, "reason"))
        cJSON_ReplaceItemInObjectCaseSensitive(
            run, "reason",
            cJSON_CreateString("started by a trigger on a run this caller "
                               "may not read"));
    if (cJSON_HasObjectItem(run, "upstream"))
        cJSON_ReplaceItemInObjectCaseSensitive(run, "upstream",
                                               cJSON_CreateNull());
}

void api_hide_upstreams(const struct http_req *req, cJSON *runs)
{
    cJSON *r;

    if (api_reads_all_dags(req))
        return;
    cJSON_ArrayForEach(r, runs) api_hide_upstream(req, r);
}

/* The default environment of DAG dag into buf ("" when none). */
static void default_env(struct http_req *req, const char *dag, char *buf,
                        size_t len)
{
    struct api *api = http_req_app(req);
    struct store_dag row = {0};
    struct store_conn *c = NULL;
    const struct dag *d = NULL;
    struct weir_err err = {0};

    buf[0] = '\0';
    if (store_conn_get(api->store, &c, &err) == 0 &&
        store_dag_get(c, dag, &row, &err) == 0 && row.version_id > 0)
        d = engine_dag(api->cache, c, row.version_id);
    if (d != NULL && d->environment != NULL)
        snprintf(buf, len, "%s", d->environment);
    if (d != NULL)
        dagcache_release(api->cache, d);
    store_conn_put(c);
    store_dag_cleanup(&row);
}

int api_check_idempotent(struct http_req *req, const char *dag, const char *env,
                         int64_t run_id, struct weir_err *err)
{
    struct api *api = http_req_app(req);
    struct store_scope s = {0};
    struct store_conn *c = NULL;
    char def[128];
    const char *have;
    int rc = store_conn_get(api->store, &c, err);

    if (rc == 0)
        rc = store_run_scope(c, run_id, &s, err);
    store_conn_put(c);
    if (rc < 0)
        return rc;
    if (env == NULL) {
        default_env(req, dag, def, sizeof(def));
        env = def;
    }
    have = s.has_env ? s.env : "";
    if (strcmp(have, env) == 0)
        return 0;
    if (api_may_read(req, s.dag, s.has_env ? s.env : NULL))
        return weir_err_set(err, WEIR_ECONFLICT,
                            "idempotency_key is taken by run %lld in "
                            "another environment (\"%.128s\")",
                            (long long)run_id, have);
    return weir_err_set(err, WEIR_ECONFLICT,
                        "idempotency_key is taken in another environment");
}

void api_cycle_hide(const struct http_req *req, struct weir_err *err)
{
    static const char mark[] = "across DAGs: ";
    char out[sizeof(err->msg)], id[DAG_ID_MAX + 1];
    char *p = strstr(err->msg, mark);
    size_t o;

    if (p == NULL || api_reads_all_dags(req))
        return;
    p += sizeof(mark) - 1;
    o = (size_t)snprintf(out, sizeof(out), "%.*s", (int)(p - err->msg),
                         err->msg);
    while (*p && o < sizeof(out)) {
        size_t n = strcspn(p, " ");

        snprintf(id, sizeof(id), "%.*s", (int)n, p);
        o += (size_t)snprintf(
            out + o, sizeof(out) - o, "%s",
            api_may_read_dag(req, id) ? id : "a DAG you cannot read");
        p += n;
        if (strncmp(p, " -> ", 4) == 0) {
            o += (size_t)snprintf(out + o, sizeof(out) - o, " -> ");
            p += 4;
        } else if (*p) {
            o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", p);
            break;
        }
    }
    weir_err_set(err, err->code, "%s", out);
}
