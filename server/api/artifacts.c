/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The model registry and lineage routes:
 *
 *   GET  /api/v1/artifacts[?name=]                 -> {artifacts: [...]}
 *   GET  /api/v1/artifacts/{name}                  -> {name, prod, versions}
 *   POST /api/v1/artifacts/{name}/versions/{version}/promote
 *        {"to": STAGE, "comment": TEXT?}           -> {name, version, from,
 *                                                     stage, by, at,
 *                                                     archived}
 *   POST /api/v1/artifacts/{name}/versions/{version}/approve, /reject
 *        {"comment": TEXT?}                        -> the same
 *   GET  /api/v1/runs/{id}/lineage                 -> the run's lineage
 *
 * A promotion to prod waits for an approval (202, outcome
 * "awaiting_approval") when the DAG version that produced the artifact
 * asks people before things reach production: it has an approval gate,
 * or its environment "prod" lists approve_before steps. Who asked cannot
 * approve unless that DAG says self_approve for the artifact; its
 * promote_from says which environments' versions may reach a stage. An
 * archived version that was in prod may go back there (a rollback, with a
 * reason in "comment").
 */
#include <string.h>

#include "api/api.h"
#include "store/artifacts.h"

#define BY_MAX      220  /* bytes of a token name, with room to spare */
#define COMMENT_MAX 1000 /* bytes of a promotion comment */

void api_artifacts_list(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const char *name = http_req_query(req, "name");
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    cJSON *list = NULL, *o;
    int rc = store_conn_get(api->store, &c, &err);

    if (rc == 0)
        rc = store_artifacts_list(c, name && *name ? name : NULL, &list, &err);
    store_conn_put(c);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "artifacts", list);
    http_reply_json(req, 200, o);
}

void api_artifact_get(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    cJSON *o = NULL;
    int rc = store_conn_get(api->store, &c, &err);

    if (rc == 0)
        rc = store_artifact_get(c, http_req_param(req, "name"), &o, &err);
    store_conn_put(c);
    if (rc < 0)
        http_reply_err(req, &err);
    else
        http_reply_json(req, 200, o);
}

/* Whether DAG d asks for a person before production (see the top). */
static bool dag_gates_prod(const struct dag *d)
{
    for (size_t i = 0; d != NULL && i < d->n_steps; i++)
        if (d->steps[i].approval)
            return true;
    for (size_t i = 0; d != NULL && i < d->n_environments; i++)
        if (strcmp(d->environments[i].name, "prod") == 0 &&
            d->environments[i].n_approve_before > 0)
            return true;
    return false;
}

/*
 * The DAG version that produced name/version into *d (a cache reference
 * the caller drops with dagcache_release(); NULL when it cannot be had):
 * what it says of its promotions.
 */
static int promotion_dag(struct api *api, struct store_conn *c,
                         const char *name, const char *version,
                         const struct dag **d, struct weir_err *err)
{
    int64_t dag_version = 0;
    int rc = store_artifact_dag_version(c, name, version, &dag_version, err);

    *d = rc == 0 ? engine_dag(api->cache, c, dag_version) : NULL;
    return rc;
}

/* The rules of DAG d (may be NULL) for promoting p->name to p->to: an
 * approval for prod, max_prod, the environments that may feed p->to
 * (borrowed from d). */
static void promotion_rules(const struct dag *d, struct store_promotion *p)
{
    const struct dag_artifact *a = dag_artifact_find(d, p->name);

    p->needs_approval = dag_gates_prod(d);
    p->max_prod = dag_artifact_max_prod(d, p->name);
    for (size_t i = 0; a != NULL && i < a->n_promote_from; i++) {
        if (a->promote_from[i].stage == NULL ||
            strcmp(a->promote_from[i].stage, p->to) != 0)
            continue;
        p->from_restricted = true;
        p->from_envs = (const char *const *)a->promote_from[i].envs;
        p->n_from_envs = a->promote_from[i].n_envs;
    }
}

/* Read {"to": STAGE, "comment": TEXT?} into p. */
static int promotion_request(const cJSON *b, struct store_promotion *p,
                             struct weir_err *err)
{
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(b, "to");
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(b, "comment");
    static const struct api_key keys[] = {{"to", API_STR | API_REQUIRED},
                                          {"comment", API_STR | API_NULL}};
    int rc = api_body_check(b, keys, WEIR_ARRAY_LEN(keys), "promote body", err);

    if (rc < 0)
        return rc;
    if (cJSON_IsString(cm) && strlen(cm->valuestring) > COMMENT_MAX)
        return weir_err_set(err, WEIR_EINVAL,
                            "\"comment\" is longer than %d bytes", COMMENT_MAX);
    p->to = to->valuestring;
    p->comment = cJSON_IsString(cm) ? cm->valuestring : NULL;
    p->reason = p->comment; /* the asker's comment says why */
    return 0;
}

void api_artifact_promote(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct store_promotion p = {.name = http_req_param(req, "name"),
                                .version = http_req_param(req, "version")};
    const struct dag *d = NULL;
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    char by[BY_MAX];
    cJSON *o = NULL;
    int rc = promotion_request(http_req_json(req), &p, &err);

    if (rc == 0) {
        api_caller_name(api, req, by, sizeof(by));
        p.by = by;
        rc = store_conn_get(api->store, &c, &err);
    }
    if (rc == 0)
        rc = promotion_dag(api, c, p.name, p.version, &d, &err);
    if (rc == 0) {
        promotion_rules(d, &p);
        rc = store_artifact_promote(c, &p, &o, &err);
    }
    if (d != NULL)
        dagcache_release(api->cache, d);
    store_conn_put(c);
    if (rc < 0)
        http_reply_err(req, &err);
    else
        http_reply_json(
            req, p.needs_approval && !strcmp(p.to, "prod") ? 202 : 200, o);
}

static void promotion_decide(struct http_req *req, bool approve)
{
    struct api *api = http_req_app(req);
    const cJSON *b = http_req_json(req);
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(b, "comment");
    static const struct api_key keys[] = {{"comment", API_STR | API_NULL}};
    struct store_decision dd = {.name = http_req_param(req, "name"),
                                .version = http_req_param(req, "version"),
                                .approve = approve};
    const struct dag_artifact *a;
    const struct dag *d = NULL;
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    char by[BY_MAX];
    cJSON *o = NULL;
    int rc = api_body_check(b, keys, WEIR_ARRAY_LEN(keys),
                            approve ? "approve body" : "reject body", &err);

    if (rc == 0 && cJSON_IsString(cm) && strlen(cm->valuestring) > COMMENT_MAX)
        rc = weir_err_set(&err, WEIR_EINVAL,
                          "\"comment\" is longer than %d bytes", COMMENT_MAX);
    if (rc == 0) {
        api_caller_name(api, req, by, sizeof(by));
        rc = store_conn_get(api->store, &c, &err);
    }
    if (rc == 0)
        rc = promotion_dag(api, c, dd.name, dd.version, &d, &err);
    if (rc == 0) {
        a = dag_artifact_find(d, dd.name);
        dd.max_prod = dag_artifact_max_prod(d, dd.name);
        dd.self_approve = a != NULL && a->self_approve;
        dd.by = by;
        dd.comment = cJSON_IsString(cm) ? cm->valuestring : NULL;
        rc = store_artifact_decide(c, &dd, &o, &err);
    }
    if (d != NULL)
        dagcache_release(api->cache, d);
    store_conn_put(c);
    if (rc < 0)
        http_reply_err(req, &err);
    else
        http_reply_json(req, 200, o);
}

void api_artifact_approve(struct http_req *req)
{
    promotion_decide(req, true);
}

void api_artifact_reject(struct http_req *req)
{
    promotion_decide(req, false);
}

/* The outputs of step id among the lineage's steps: an object, or for a
 * matrix step a list of {matrix, outputs}. */
static cJSON *step_outputs(const cJSON *steps, const char *id, bool matrix)
{
    cJSON *list = matrix ? cJSON_CreateArray() : NULL;
    const cJSON *s;

    cJSON_ArrayForEach(s, steps)
    {
        const cJSON *sid = cJSON_GetObjectItemCaseSensitive(s, "step");
        const cJSON *out = cJSON_GetObjectItemCaseSensitive(s, "outputs");
        cJSON *cell;

        if (!cJSON_IsString(sid) || strcmp(sid->valuestring, id) != 0)
            continue;
        if (!matrix)
            return cJSON_IsObject(out) ? cJSON_Duplicate(out, 1)
                                       : cJSON_CreateNull();
        cell = cJSON_CreateObject();
        cJSON_AddItemToObject(
            cell, "matrix",
            cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(s, "matrix"), 1));
        cJSON_AddItemToObject(cell, "outputs",
                              cJSON_IsObject(out) ? cJSON_Duplicate(out, 1)
                                                  : cJSON_CreateNull());
        cJSON_AddItemToArray(list, cell);
    }
    return list ? list : cJSON_CreateNull();
}

/* Give every step of the lineage its needs and the outputs it read. */
static void add_inputs(cJSON *lineage, const struct dag *d)
{
    cJSON *steps = cJSON_GetObjectItemCaseSensitive(lineage, "steps");
    cJSON *s;

    cJSON_ArrayForEach(s, steps)
    {
        const cJSON *sid = cJSON_GetObjectItemCaseSensitive(s, "step");
        cJSON *needs = cJSON_CreateArray(), *inputs = cJSON_CreateObject();

        for (size_t i = 0; d && cJSON_IsString(sid) && i < d->n_steps; i++) {
            const struct dag_step *st = &d->steps[i];

            if (strcmp(st->id, sid->valuestring) != 0)
                continue;
            for (size_t k = 0; k < st->n_needs; k++) {
                const struct dag_step *up = &d->steps[st->needs_idx[k]];

                cJSON_AddItemToArray(needs, cJSON_CreateString(up->id));
                cJSON_AddItemToObject(inputs, up->id,
                                      step_outputs(steps, up->id, up->matrix));
            }
        }
        cJSON_AddItemToObject(s, "needs", needs);
        cJSON_AddItemToObject(s, "inputs", inputs);
    }
}

void api_run_lineage(struct http_req *req)
{
    struct api *api = http_req_app(req);
    int64_t id = api_parse_id(http_req_param(req, "id")), version = 0;
    const struct dag *d = NULL;
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    cJSON *o = NULL;
    int rc = 0;

    if (id == 0)
        rc = weir_err_set(&err, WEIR_ENOTFOUND, "no run \"%s\"",
                          http_req_param(req, "id"));
    if (rc == 0)
        rc = store_conn_get(api->store, &c, &err);
    if (rc == 0)
        rc = store_run_lineage(c, id, &o, &version, &err);
    if (rc == 0)
        d = engine_dag(api->cache, c, version);
    store_conn_put(c);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    add_inputs(o, d);
    if (d != NULL)
        dagcache_release(api->cache, d);
    http_reply_json(req, 200, o);
}
