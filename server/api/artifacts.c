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
#include "api/authz.h"
#include "api/authz_targets.h"
#include "store/read.h" /* reads: listings and lineage */

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
    api_filter_readable(req, list, "dag", "environment");
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
    if (rc == 0) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "versions");

        /* the versions the caller may read; none: as if there were none */
        api_filter_readable(req, v, "dag", "environment");
        api_artifact_prod_readable(o);
        if (cJSON_GetArraySize(v) == 0) {
            cJSON_Delete(o);
            rc = weir_err_set(&err, WEIR_ENOTFOUND, "no artifact \"%.128s\"",
                              http_req_param(req, "name"));
        }
    }
    if (rc < 0)
        http_reply_err(req, &err);
    else
        http_reply_json(req, 200, o);
}

/* Read {"to": STAGE, "comment": TEXT?} into p. */
static int promotion_request(const cJSON *b, struct engine_promotion *p,
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
    return 0;
}

void api_artifact_promote(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct engine_promotion p = {.name = http_req_param(req, "name"),
                                 .version = http_req_param(req, "version")};
    struct weir_err err = {0};
    bool waits = false;
    char by[BY_MAX];
    cJSON *o = NULL;
    int rc = promotion_request(http_req_json(req), &p, &err);

    /* the DAG that made it, in the environment of the stage it goes to */
    if (rc == 0)
        rc = api_authorize_artifact(req, GRANT_ACT_PROMOTE, p.name, p.version,
                                    p.to, &err);
    if (rc == 0)
        rc = api_check_promotion_archive(req, p.name, p.version, p.to, &err);
    if (rc == 0) {
        api_caller_name(req, by, sizeof(by));
        p.by = by;
        rc = engine_artifact_promote(api->engine, &p, &o, &waits, &err);
    }
    if (rc < 0)
        http_reply_err(req, &err);
    else
        http_reply_json(req, waits ? 202 : 200, o);
}

static void promotion_decide(struct http_req *req, bool approve)
{
    struct api *api = http_req_app(req);
    const cJSON *b = http_req_json(req);
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(b, "comment");
    static const struct api_key keys[] = {{"comment", API_STR | API_NULL}};
    struct engine_promotion p = {.name = http_req_param(req, "name"),
                                 .version = http_req_param(req, "version")};
    struct weir_err err = {0};
    char by[BY_MAX];
    cJSON *o = NULL;
    int rc = api_body_check(b, keys, WEIR_ARRAY_LEN(keys),
                            approve ? "approve body" : "reject body", &err);

    if (rc == 0 && cJSON_IsString(cm) && strlen(cm->valuestring) > COMMENT_MAX)
        rc = weir_err_set(&err, WEIR_EINVAL,
                          "\"comment\" is longer than %d bytes", COMMENT_MAX);
    /* a promotion waits only on its way to prod */
    if (rc == 0)
        rc = api_authorize_artifact(req, GRANT_ACT_PROMOTE, p.name, p.version,
                                    "prod", &err);
    if (rc == 0 && approve)
        rc = api_check_promotion_archive(req, p.name, p.version, "prod", &err);
    if (rc == 0) {
        api_caller_name(req, by, sizeof(by));
        p.by = by;
        p.comment = cJSON_IsString(cm) ? cm->valuestring : NULL;
        rc = engine_artifact_decide(api->engine, &p, approve, &o, &err);
    }
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
    int64_t id = 0, version = 0;
    const struct dag *d = NULL;
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    cJSON *o = NULL;
    int rc = api_run_id(req, &id, &err);

    if (rc == 0)
        rc = api_authorize_run(req, GRANT_ACT_READ, id, &err);
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
    api_hide_upstream(req, o);
    if (d != NULL)
        dagcache_release(api->cache, d);
    http_reply_json(req, 200, o);
}
