/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token management for admins (docs/security.md, "Tokens"):
 *
 *   GET    /api/v1/tokens               -> {tokens: [{id, name, role,
 *          created_at, last_used_at, expires_at, revoked_at, queues,
 *          state}]}, never a secret
 *   POST   /api/v1/tokens               {role, name, expires?, queues?}
 *          -> 201 {token, role, name, expires_at?, queues?}: the secret is
 *          in this reply only
 *   DELETE /api/v1/tokens/{name}        revoke (also POST .../revoke)
 *
 * A revoked or expired token is refused at the next request, and a
 * worker's open long-poll notices it within a second (api_workers.c).
 */
#include <string.h>

#include "api/api.h"
#include "api/auth.h"
#include "duration.h"

/* Read {"role", "name", "expires"?, "queues"?} into spec. */
static int token_request(const cJSON *b, struct engine_token_spec *spec,
                         char **queues, struct weir_err *err)
{
    static const char *const keys[] = {"role", "name", "expires", "queues"};
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(b, "role");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(b, "name");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(b, "expires");
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(b, "queues");
    enum auth_role role = AUTH_ROLE_READ;
    int64_t ms = 0;
    int rc = cJSON_IsObject(b)
                 ? api_check_keys(b, keys, WEIR_ARRAY_LEN(keys), "token", err)
                 : 0;

    if (rc == 0 &&
        (!cJSON_IsObject(b) || !cJSON_IsString(r) || !cJSON_IsString(n)))
        return weir_err_set(err, WEIR_EINVAL,
                            "expected {\"role\": \"admin\" | \"worker\" | "
                            "\"read\", \"name\": \"...\", \"expires\": "
                            "\"90d\" (optional), \"queues\": [...] "
                            "(optional, worker tokens)}");
    if (rc == 0)
        rc = auth_role_parse(r->valuestring, &role, err);
    if (rc < 0)
        return rc;
    if (engine_token_name_check(n->valuestring, err) < 0)
        return weir_err_set(err, WEIR_EINVAL, "\"name\": %s", err->msg);
    if (e != NULL && !cJSON_IsNull(e)) {
        if (!cJSON_IsString(e))
            return weir_err_set(err, WEIR_EINVAL,
                                "\"expires\" must be a duration such as "
                                "\"90d\" or \"12h\"");
        rc = duration_parse(e->valuestring, &ms, err);
        if (rc == 0 && ms < 1000)
            rc = weir_err_set(err, WEIR_ERANGE,
                              "\"expires\" must be at least 1s");
        if (rc < 0)
            return weir_err_set(err, WEIR_EINVAL, "\"expires\": %s", err->msg);
    }
    spec->role = auth_role_name(role);
    spec->name = n->valuestring;
    spec->expires_s = ms / 1000;
    if (engine_token_queues(q, spec->role, queues, err) < 0)
        return weir_err_set(err, WEIR_EINVAL, "\"queues\": %s", err->msg);
    spec->queues = *queues;
    return 0;
}

/* POST /api/v1/tokens: a new token, shown in this reply only. */
void api_token_create(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct engine_token_spec spec = {NULL, NULL, 0, NULL};
    char token[AUTH_TOKEN_LEN + 1];
    struct weir_err err = {0};
    char *queues = NULL;
    cJSON *o;
    int rc;

    rc = token_request(http_req_json(req), &spec, &queues, &err);
    if (rc == 0)
        rc = engine_token_new(api->engine, &spec, token, &err);
    if (rc < 0) {
        cJSON_free(queues);
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
    explicit_bzero(token, sizeof(token));
    cJSON_free(queues);
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
