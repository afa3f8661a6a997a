/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The backfill routes (engine/backfill.h): POST is admin-only (auth.c's
 * roles), GET admin or read.
 *
 *   POST /api/v1/dags/{id}/backfills {from, to, trigger?, reprocess?,
 *        max_active?, reverse?, dry_run?, params?, params_text?}
 *                                  -> 201 {backfill_id, trigger, planned,
 *                                     skipped, created, max_active}, or
 *                                     200 {..., slots} for a dry run
 *   GET  /api/v1/dags/{id}/backfills -> {backfills: [...]}
 *   GET  /api/v1/backfills/{id}      -> the backfill with its progress
 *   POST /api/v1/backfills/{id}/cancel -> {backfill_id, state,
 *                                          canceled_runs}
 */
#include <math.h>
#include <string.h>

#include "api/api.h"
#include "api/authz.h"
#include "engine/backfill.h"

#define TIME_MAX 64 /* bytes of a from or to */

/* A string member of b, or NULL. */
static const char *str_of(const cJSON *b, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Read the backfill body into r. */
static int backfill_body(const cJSON *b, struct engine_backfill_req *r,
                         struct weir_err *err)
{
    static const struct api_key keys[] = {
        {"from", API_STR | API_REQUIRED},    {"to", API_STR | API_REQUIRED},
        {"trigger", API_STR | API_NULL},     {"reprocess", API_STR | API_NULL},
        {"max_active", API_NUM | API_NULL},  {"reverse", API_BOOL | API_NULL},
        {"dry_run", API_BOOL | API_NULL},    {"params", API_OBJ | API_NULL},
        {"params_text", API_OBJ | API_NULL},
    };
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(b, "max_active");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(b, "params");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(b, "params_text");
    int rc =
        api_body_check(b, keys, WEIR_ARRAY_LEN(keys), "backfill body", err);

    if (rc < 0)
        return rc;
    r->from = str_of(b, "from");
    r->to = str_of(b, "to");
    if (strlen(r->from) > TIME_MAX || strlen(r->to) > TIME_MAX)
        return weir_err_set(err, WEIR_EINVAL,
                            "\"from\" and \"to\" are dates or times of at "
                            "most %d bytes",
                            TIME_MAX);
    if (cJSON_IsNumber(max) &&
        (max->valuedouble != floor(max->valuedouble) || max->valuedouble < 1 ||
         max->valuedouble > BACKFILL_ACTIVE_MAX))
        return weir_err_set(err, WEIR_EINVAL,
                            "\"max_active\" must be a whole number from 1 "
                            "to %d",
                            BACKFILL_ACTIVE_MAX);
    r->max_active = cJSON_IsNumber(max) ? (int)max->valuedouble : 0;
    r->trigger = str_of(b, "trigger");
    r->reprocess = str_of(b, "reprocess");
    r->reverse = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "reverse"));
    r->dry_run = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "dry_run"));
    r->params = cJSON_IsObject(p) ? p : NULL;
    r->params_text = cJSON_IsObject(pt) ? pt : NULL;
    return 0;
}

void api_backfill_create(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct engine_backfill_req r = {0};
    struct weir_err err = {0};
    char by[220];
    cJSON *o = NULL;
    int rc;

    api_caller_name(req, by, sizeof(by));
    r.dag_id = http_req_param(req, "id");
    r.by = by;
    /* many runs of the DAG: a grant of trigger not limited to
     * environments */
    rc = api_authorize(req, GRANT_ACT_TRIGGER, r.dag_id, NULL, &err);
    if (rc == 0)
        rc = backfill_body(http_req_json(req), &r, &err);
    if (rc == 0)
        rc = engine_backfill_create(api->engine, &r, &o, &err);
    if (rc < 0)
        http_reply_err(req, &err);
    else
        http_reply_json(req, r.dry_run ? 200 : 201, o);
}

void api_backfills_list(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct weir_err err = {0};
    cJSON *arr = NULL, *o;
    int rc = api_authorize_dag_read(req, http_req_param(req, "id"), &err);

    if (rc == 0)
        rc = engine_backfills_get(api->engine, 0, http_req_param(req, "id"),
                                  &arr, &err);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    /* a backfill names no environment: shown to a read grant of the DAG
     * with no env= limit only */
    if (!api_may_read(req, http_req_param(req, "id"), NULL)) {
        cJSON_Delete(arr);
        arr = cJSON_CreateArray();
    }
    o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "backfills", arr);
    http_reply_json(req, 200, o);
}

/* The path's backfill id, or a 404 saying so. */
static int backfill_id(struct http_req *req, int64_t *id, struct weir_err *err)
{
    *id = api_parse_id(http_req_param(req, "id"));
    if (*id == 0)
        return weir_err_set(err, WEIR_ENOTFOUND, "no backfill \"%.40s\"",
                            http_req_param(req, "id"));
    return 0;
}

void api_backfill_get(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct weir_err err = {0};
    cJSON *o = NULL;
    int64_t id = 0;
    int rc = backfill_id(req, &id, &err);

    if (rc == 0)
        rc = api_authorize_backfill(req, GRANT_ACT_READ, id, &err);
    if (rc == 0)
        rc = engine_backfills_get(api->engine, id, NULL, &o, &err);
    if (rc < 0)
        http_reply_err(req, &err);
    else
        http_reply_json(req, 200, o);
}

void api_backfill_cancel(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct weir_err err = {0};
    char by[220];
    cJSON *o = NULL;
    int64_t id = 0;
    int rc = api_body_check(http_req_json(req), NULL, 0, "cancel body", &err);

    api_caller_name(req, by, sizeof(by));
    if (rc == 0)
        rc = backfill_id(req, &id, &err);
    if (rc == 0)
        rc = api_authorize_backfill(req, GRANT_ACT_CANCEL, id, &err);
    if (rc == 0)
        rc = engine_backfill_cancel(api->engine, id, by, &o, &err);
    if (rc < 0)
        http_reply_err(req, &err);
    else
        http_reply_json(req, 200, o);
}
