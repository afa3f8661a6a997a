/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token management for admins (docs/security.md, "Tokens"):
 *
 *   GET    /api/v1/tokens               -> {tokens: [{id, name, role,
 *          created_at, last_used_at, expires_at, revoked_at, queues,
 *          grants, state}]}, never a secret
 *   POST   /api/v1/tokens               {role?, grants?, name, expires?,
 *          queues?} -> 201 {token, role, name, expires_at?, queues?,
 *          grants}: the secret is in this reply only; role is an unscoped
 *          grant, grants are texts ("operator:env=dev") or objects, and
 *          queues scope the worker grant
 *   DELETE /api/v1/tokens/{name}        revoke (also POST .../revoke)
 *
 * A revoked or expired token is refused at the next request, and a
 * worker's open long-poll notices it within a second (api_workers.c).
 */
#include <string.h>

#include "api/api.h"
#include "api/auth.h"
#include "api/authz.h"
#include "duration.h"

/* Read {"role"?, "grants"?, "name", "expires"?, "queues"?} into spec;
 * *queues and *grants get the texts spec points to (cJSON_free()). */
static int token_request(const cJSON *b, struct engine_token_spec *spec,
                         char **queues, char **grants, struct weir_err *err)
{
    static const struct api_key keys[] = {
        {"role", API_STR | API_NULL},     {"grants", API_ARR | API_NULL},
        {"name", API_STR | API_REQUIRED}, {"expires", API_STR | API_NULL},
        {"queues", API_ARR | API_NULL},
    };
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(b, "role");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(b, "name");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(b, "expires");
    struct grant_set set = {0};
    int64_t ms = 0;
    int rc = api_body_check(b, keys, WEIR_ARRAY_LEN(keys), "token body", err);

    if (rc == 0)
        rc = api_token_grants(cJSON_IsString(r) ? r->valuestring : NULL,
                              cJSON_GetObjectItemCaseSensitive(b, "queues"),
                              cJSON_GetObjectItemCaseSensitive(b, "grants"),
                              &set, err);
    if (rc < 0)
        return rc;
    if (engine_token_name_check(n->valuestring, err) < 0)
        return weir_err_set(err, WEIR_EINVAL, "\"name\": %s", err->msg);
    if (cJSON_IsString(e)) {
        rc = duration_parse(e->valuestring, &ms, err);
        if (rc == 0 && ms < 1000)
            rc = weir_err_set(err, WEIR_ERANGE,
                              "\"expires\" must be at least 1s");
        if (rc < 0)
            return weir_err_set(err, WEIR_EINVAL, "\"expires\": %s", err->msg);
    }
    spec->name = n->valuestring;
    spec->expires_s = ms / 1000;
    return api_token_spec_grants(&set, spec, queues, grants, err);
}

/* POST /api/v1/tokens: a new token, shown in this reply only. */
void api_token_create(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct engine_token_spec spec = {0};
    char token[AUTH_TOKEN_LEN + 1];
    struct weir_err err = {0};
    char *queues = NULL, *grants = NULL;
    cJSON *o;
    int rc;

    rc = token_request(http_req_json(req), &spec, &queues, &grants, &err);
    if (rc == 0)
        rc = engine_token_new(api->engine, &spec, token, &err);
    if (rc < 0) {
        cJSON_free(queues);
        cJSON_free(grants);
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "token", token);
    cJSON_AddStringToObject(o, "role", spec.role);
    cJSON_AddStringToObject(o, "name", spec.name);
    if (spec.expires_s > 0)
        cJSON_AddNumberToObject(o, "expires_in_s", (double)spec.expires_s);
    if (queues != NULL)
        cJSON_AddRawToObject(o, "queues", queues);
    cJSON_AddRawToObject(o, "grants", grants);
    explicit_bzero(token, sizeof(token));
    cJSON_free(queues);
    cJSON_free(grants);
    http_reply_json(req, 201, o);
}

/* GET /api/v1/tokens */
void api_tokens_list(struct http_req *req)
{
    api_reply_list(req, "tokens", store_token_list);
}

/* DELETE /api/v1/tokens/{name} and POST /api/v1/tokens/{name}/revoke */
void api_token_revoke(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const char *name = http_req_param(req, "name");
    struct weir_err err = {0};
    cJSON *o;

    if (engine_token_revoke(api->engine, name, &err) < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddBoolToObject(o, "revoked", true);
    http_reply_json(req, 200, o);
}
