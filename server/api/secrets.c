/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secrets for admins (docs/security.md, "Secrets"):
 *
 *   GET    /api/v1/secrets                 -> {secrets: [{name, environment,
 *          version, key_id, created_by, created_at}]}, never a value
 *   PUT    /api/v1/secrets/{name}[?env=E]  body {"value": "...",
 *          "dags": ["team-a-*"]} (dags optional: the DAGs that may name it)
 * with Content-Type application/json, or the raw value otherwise
 *          -> {name, environment, version} (POST is the same)
 *   DELETE /api/v1/secrets/{name}[?env=E]  -> {name, environment, deleted}
 *   POST   /api/v1/secrets/rotate-key      -> {resealed, key_id}
 *
 * Without --secrets-key-file every route answers 409 saying so. Only an
 * admin token may call them (the one place to map a finer grant to).
 */
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "api/api.h"
#include "api/authz.h"
#include "engine/secretkey.h"
#include "engine/secrets.h"

/* The checks every secrets route makes first; 0 when it may go on. */
static int secrets_allowed(struct http_req *req, struct weir_err *err)
{
    /* an admin grant without scope (the route checked it; again here so
     * that this file says who may) */
    int rc = api_authorize(req, GRANT_ACT_ADMIN, NULL, NULL, err);

    if (rc < 0)
        return rc;
    if (!secretkey_ready())
        return weir_err_set(err, WEIR_ECONFLICT,
                            "this server has no secrets key: start it with "
                            "--secrets-key-file FILE");
    return 0;
}

static const char *env_arg(struct http_req *req)
{
    const char *e = http_req_query(req, "env");

    return e != NULL ? e : "";
}

/* GET /api/v1/secrets */
void api_secrets_list(struct http_req *req)
{
    struct weir_err err = {0};

    if (secrets_allowed(req, &err) < 0) {
        http_reply_err(req, &err);
        return;
    }
    api_reply_list(req, "secrets", engine_secrets_list);
}

/* The value of the request: the "value" of a JSON body, or the raw body.
 * *json gets the parsed body to delete (its string is the value). */
static int value_get(struct http_req *req, const char **value, size_t *len,
                     cJSON **json, struct weir_err *err)
{
    const char *type = http_req_header(req, "Content-Type");
    size_t n = 0;
    char *body = (char *)http_req_body(req, &n);
    const cJSON *v;
    int rc;

    if (type == NULL || strncasecmp(type, "application/json", 16) != 0) {
        *value = body;
        *len = n;
        return 0;
    }
    rc = http_json_parse(body, n, false, json, err);
    if (rc < 0)
        return weir_err_set(err, WEIR_EINVAL, "secret body: %s", err->msg);
    v = cJSON_GetObjectItemCaseSensitive(*json, "value");
    if (!cJSON_IsObject(*json) ||
        cJSON_GetArraySize(*json) !=
            1 + (cJSON_GetObjectItemCaseSensitive(*json, "dags") != NULL) ||
        !cJSON_IsString(v))
        return weir_err_set(err, WEIR_EINVAL,
                            "expected {\"value\": \"...\", \"dags\": "
                            "[\"PATTERN\", ...]} (dags optional), or the raw "
                            "value with a Content-Type other than JSON");
    *value = v->valuestring;
    *len = strlen(v->valuestring);
    return 0;
}

/* Wipe the request's body, which held the value. */
static void wipe_body(struct http_req *req)
{
    size_t n = 0;
    char *body = (char *)http_req_body(req, &n);

    if (body != NULL && n > 0)
        OPENSSL_cleanse(body, n);
}

/* PUT and POST /api/v1/secrets/{name} */
void api_secret_put(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const char *name = http_req_param(req, "name"), *env = env_arg(req);
    const char *value = NULL;
    struct weir_err err = {0};
    cJSON *json = NULL, *o;
    char who[128];
    size_t len = 0;
    int version = 0;
    int rc = secrets_allowed(req, &err);

    if (rc == 0)
        rc = value_get(req, &value, &len, &json, &err);
    api_caller_name(req, who, sizeof(who));
    if (rc == 0)
        rc = engine_secret_set_scoped(
            api->engine, name, env, value, len,
            cJSON_GetObjectItemCaseSensitive(json, "dags"), who, &version,
            &err);
    if (value != NULL)
        OPENSSL_cleanse((void *)value, len);
    cJSON_Delete(json);
    wipe_body(req);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "environment", env);
    cJSON_AddNumberToObject(o, "version", version);
    http_reply_json(req, version == 1 ? 201 : 200, o);
}

/* DELETE /api/v1/secrets/{name} */
void api_secret_delete(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const char *name = http_req_param(req, "name"), *env = env_arg(req);
    struct weir_err err = {0};
    cJSON *o;
    int rc = secrets_allowed(req, &err);

    if (rc == 0)
        rc = engine_secret_delete(api->engine, name, env, &err);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "environment", env);
    cJSON_AddBoolToObject(o, "deleted", true);
    http_reply_json(req, 200, o);
}

/* POST /api/v1/secrets/rotate-key */
void api_secrets_rotate(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct weir_err err = {0};
    int n = 0;
    cJSON *o;
    int rc = secrets_allowed(req, &err);

    if (rc == 0)
        rc = engine_secrets_rotate(api->engine, &n, &err);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "resealed", n);
    cJSON_AddStringToObject(o, "key_id", secretkey_first_id());
    http_reply_json(req, 200, o);
}
