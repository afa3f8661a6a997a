/* SPDX-License-Identifier: Apache-2.0 */
/* Sessions of single sign-on, for admins (api/sessions_admin.h). */
#include "api/sessions_admin.h"

#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "engine/sessions_admin.h"
#include "log.h"

void api_sessions_list(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct weir_err err = {0};
    cJSON *list = NULL, *o;

    if (engine_sessions_list(api->store, &list, &err) < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "sessions", list);
    http_reply_json(req, 200, o);
}

void api_session_end(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const char *text = http_req_param(req, "id");
    int64_t id = api_parse_id(text);
    struct weir_err err = {0};
    int rc = id > 0 ? engine_session_end(api->store, id, &err)
                    : weir_err_set(&err, WEIR_ENOTFOUND, "no session \"%.40s\"",
                                   text);
    cJSON *o;

    if (rc < 0) {
        if (rc == WEIR_ENOTFOUND)
            weir_err_set(&err, WEIR_ENOTFOUND, "no live session %.40s", text);
        http_reply_err(req, &err);
        return;
    }
    log_info("event=session_ended id=%lld by=admin", (long long)id);
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)id);
    cJSON_AddBoolToObject(o, "ended", true);
    http_reply_json(req, 200, o);
}

void api_sessions_end_user(struct http_req *req)
{
    static const struct api_key keys[] = {{"user", API_STR | API_REQUIRED}};
    struct api *api = http_req_app(req);
    const cJSON *b = http_req_json(req);
    const char *user = cJSON_GetStringValue(cJSON_GetObjectItem(b, "user"));
    struct weir_err err = {0};
    int64_t n = 0;
    char q[300];
    int rc = api_body_check(b, keys, WEIR_ARRAY_LEN(keys), "sessions/end body",
                            &err);
    cJSON *o;

    if (rc == 0 && (user[0] == '\0' || strlen(user) >= STORE_SESSION_USER_MAX))
        rc = weir_err_set(&err, WEIR_EINVAL,
                          "user: expected a name of 1 to %d bytes",
                          STORE_SESSION_USER_MAX - 1);
    if (rc == 0)
        rc = engine_sessions_end_user(api->store, user, &n, &err);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    log_info("event=sessions_ended user=%s count=%lld",
             log_quote(user, q, sizeof(q)), (long long)n);
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "user", user);
    cJSON_AddNumberToObject(o, "ended", (double)n);
    http_reply_json(req, 200, o);
}
