/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DAGs submitted over the API (admin tokens):
 *
 *   POST   /api/v1/dags       YAML body (application/yaml, text/yaml) or
 *                             {"source": "..."} (application/json)
 *                             -> 201 new DAG, 200 update:
 *                                {dag, version_id, hash, created,
 *                                 new_version}
 *                             -> 400 {error: {code, message, details:
 *                                [{line, column, message}]}}
 *   DELETE /api/v1/dags/{id}  -> 204
 *
 * A submitted document is validated like a file of the DAGs folder and
 * must name its DAG with `dag:` (there is no file name to take it from).
 * An id held by a file is refused with 409: the file stays the one place
 * that DAG is defined. Deleting removes the DAG with its versions and
 * runs, and only while none of its runs is queued or running.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/authz.h"
#include "api/authz_targets.h"
#include "engine/secrets.h"
#include "jobs/scheduler.h"
#include "log.h"

#define SUBMIT_NAME "api" /* what messages call a submitted document */

/* How the body of a submission is written. */
enum submit_kind {
    SUBMIT_YAML, /* the document itself */
    SUBMIT_JSON, /* {"source": "<the document>"} */
};

/* Whether Content-Type `type` (parameters ignored) is `want`. */
static bool type_is(const char *type, const char *want)
{
    size_t n = strcspn(type, "; \t");

    return n == strlen(want) && strncasecmp(type, want, n) == 0;
}

/* The kind of body Content-Type announces; none means YAML, and so do
 * text/plain and the form type that command-line HTTP clients send for a
 * file when told nothing else. */
static int submit_kind_get(const char *type, enum submit_kind *out,
                           struct weir_err *err)
{
    static const char *const yaml[] = {
        "application/yaml", "application/x-yaml",
        "text/yaml",        "text/x-yaml",
        "text/plain",       "application/x-www-form-urlencoded"};

    if (type == NULL || type[0] == '\0') {
        *out = SUBMIT_YAML;
        return 0;
    }
    if (type_is(type, "application/json")) {
        *out = SUBMIT_JSON;
        return 0;
    }
    for (size_t i = 0; i < WEIR_ARRAY_LEN(yaml); i++) {
        if (type_is(type, yaml[i])) {
            *out = SUBMIT_YAML;
            return 0;
        }
    }
    return weir_err_set(err, WEIR_EINVAL,
                        "Content-Type %.100s is not accepted: send the DAG as "
                        "application/yaml or text/yaml, or as "
                        "{\"source\": \"...\"} in application/json",
                        type);
}

/* The "source" of a JSON submission into *text (borrowed from *root, a
 * new tree the caller deletes). */
static int json_source(char *body, size_t len, cJSON **root, const char **text,
                       size_t *text_len, struct weir_err *err)
{
    static const struct api_key keys[] = {{"source", API_STR | API_REQUIRED}};
    const cJSON *s;
    cJSON *j = NULL;
    int rc = http_json_parse(body, len, false, &j, err);

    if (rc < 0)
        return rc;
    rc = api_body_check(j, keys, WEIR_ARRAY_LEN(keys), "DAG submission", err);
    if (rc < 0) {
        cJSON_Delete(j);
        return rc;
    }
    s = cJSON_GetObjectItemCaseSensitive(j, "source");
    if (!cJSON_IsString(s)) {
        cJSON_Delete(j);
        return weir_err_set(err, WEIR_EINVAL,
                            "expected {\"source\": \"<the DAG as YAML>\"}");
    }
    *root = j;
    *text = s->valuestring;
    *text_len = strlen(s->valuestring);
    return 0;
}

/* The YAML text of a submission: the body, or the "source" of a JSON
 * body (then *root holds it). */
static int submit_source(struct http_req *req, cJSON **root, const char **text,
                         size_t *len, struct weir_err *err)
{
    enum submit_kind kind = SUBMIT_YAML;
    size_t body_len = 0;
    /* http_json_parse() may write in the text (not for this caller, which
     * refuses a \u0000 escape rather than replacing it). */
    char *body = (char *)http_req_body(req, &body_len);
    int rc = submit_kind_get(http_req_header(req, "Content-Type"), &kind, err);

    if (rc < 0)
        return rc;
    if (kind == SUBMIT_JSON)
        return json_source(body, body_len, root, text, len, err);
    if (strlen(body) != body_len)
        return weir_err_set(err, WEIR_EINVAL, "the DAG text holds a NUL byte");
    *text = body;
    *len = body_len;
    return 0;
}

/* The error reply for a document in error (code from dag_load), with
 * every diagnostic under "details". */
static void reply_invalid(struct http_req *req, int code,
                          const struct dag_diags *d)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    cJSON *details = cJSON_CreateArray();
    char first[400];

    if (d->v[0].pos.line > 0)
        snprintf(first, sizeof(first), "%s:%d:%d: %s", SUBMIT_NAME,
                 d->v[0].pos.line, d->v[0].pos.col, d->v[0].msg);
    else
        snprintf(first, sizeof(first), "%s: %s", SUBMIT_NAME, d->v[0].msg);
    cJSON_AddStringToObject(e, "code", weir_errname(code));
    cJSON_AddStringToObject(e, "message", first);
    cJSON_AddItemToObject(e, "details", details);
    for (size_t i = 0; i < d->n; i++) {
        cJSON *o = cJSON_CreateObject();

        cJSON_AddItemToArray(details, o);
        cJSON_AddNumberToObject(o, "line", d->v[i].pos.line);
        cJSON_AddNumberToObject(o, "column", d->v[i].pos.col);
        cJSON_AddStringToObject(o, "message", d->v[i].msg);
    }
    cJSON_AddBoolToObject(e, "truncated", d->truncated);
    log_info("event=dag_submit_invalid errors=%zu", d->n);
    http_reply_json(req, weir_err_http_status(code), root);
}

/* Load and check a submitted text. 0 with *out; on a document in error
 * the reply is sent and *replied set; other failures are in err. */
static int submit_load(struct http_req *req, const char *text, size_t len,
                       struct dag **out, bool *replied, struct weir_err *err)
{
    struct dag_diags diags;
    struct dag *dag = NULL;
    int rc;

    dag_diags_init(&diags);
    rc = dag_load(SUBMIT_NAME, text, len, &dag, &diags);
    /* A valid document that does not say `dag:` would take its id from
     * the name "api": refuse it instead, from the same parse. */
    if (rc == 0 && !dag->id_given) {
        dag_diags_add(&diags, (struct dag_pos){1, 1},
                      "a DAG submitted over the API must name itself with a "
                      "\"dag:\" key");
        rc = WEIR_EINVAL;
    }
    /* Which pools exist only the database knows: checked here. */
    if (rc == 0)
        rc = engine_dag_pools_check_e(((struct api *)http_req_app(req))->engine,
                                      dag, &diags, err);
    /* Which secrets exist too (engine/secrets.c). */
    if (rc == 0)
        rc = engine_dag_secrets_check_e(
            ((struct api *)http_req_app(req))->engine, dag, &diags, err);
    if (rc == WEIR_ENOMEM) {
        weir_err_set(err, rc, "out of memory loading the DAG");
    } else if (rc < 0 && diags.n > 0) {
        reply_invalid(req, rc, &diags);
        *replied = true;
    } else if (rc < 0) {
        weir_err_set(err, rc, "the DAG could not be loaded");
    }
    dag_diags_cleanup(&diags);
    if (rc < 0) {
        dag_free(dag);
        return rc;
    }
    *out = dag;
    return 0;
}

/* A version the engine refused at a place in the document (a cycle of
 * after triggers): a load error, as those of submit_load(). */
static bool reply_refused(struct http_req *req, struct dag_pos pos,
                          const struct weir_err *err)
{
    struct dag_diags diags;

    dag_diags_init(&diags);
    dag_diags_add(&diags, pos, "%s", err->msg);
    reply_invalid(req, WEIR_EINVAL, &diags);
    dag_diags_cleanup(&diags);
    return true;
}

static cJSON *submit_reply(const struct engine_dag_recorded *res)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "dag", res->dag->id);
    cJSON_AddNumberToObject(o, "version_id", (double)res->version_id);
    cJSON_AddStringToObject(o, "hash", res->dag->hash);
    cJSON_AddBoolToObject(o, "created", res->dag_created);
    cJSON_AddBoolToObject(o, "new_version", res->version_created);
    return o;
}

void api_dag_submit(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct engine_dag_recorded res = {0};
    struct weir_err err = {0};
    struct dag *dag = NULL;
    cJSON *root = NULL, *o;
    const char *text = NULL;
    size_t len = 0;
    bool replied = false;
    int rc;

    rc = submit_source(req, &root, &text, &len, &err);
    if (rc == 0)
        rc = submit_load(req, text, len, &dag, &replied, &err);
    /* the DAG is known once its text is read: the author's scope */
    if (rc == 0 &&
        ((rc = api_authorize(req, GRANT_ACT_SUBMIT, dag->id, NULL, &err)) < 0 ||
         (rc = api_authorize_submit_targets(req, dag, &err)) < 0))
        dag_free(dag);
    if (rc == 0)
        api_audit_note_dag(req, dag->id);
    if (rc == 0)
        rc = engine_dag_submit(api->engine, dag, &res, &err);
    if (rc == WEIR_ECONFLICT && res.pos.line > 0) { /* an after cycle */
        api_cycle_hide(req, &err);
        replied = reply_refused(req, res.pos, &err);
    }
    cJSON_Delete(root);
    if (rc != 0) {
        if (!replied)
            http_reply_err(req, &err);
        return;
    }
    sched_dag_changed(res.dag->id);
    log_info("event=dag_submitted dag=%s version=%lld new_dag=%s "
             "new_version=%s",
             res.dag->id, (long long)res.version_id,
             res.dag_created ? "yes" : "no",
             res.version_created ? "yes" : "no");
    o = submit_reply(&res);
    dagcache_release(api->cache, res.dag);
    http_reply_json(req, res.dag_created ? 201 : 200, o);
}

void api_dag_delete(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const char *id = http_req_param(req, "id");
    const char *with = http_req_query(req, "with_runs");
    struct weir_err err = {0};
    int64_t runs = 0, kept = 0;
    int rc = api_authorize(req, GRANT_ACT_DELETE, id, NULL, &err);

    if (rc == 0 && with != NULL && strcmp(with, "true") != 0 &&
        strcmp(with, "false") != 0)
        rc = weir_err_set(&err, WEIR_EINVAL,
                          "with_runs must be true or false, not \"%s\"", with);
    if (rc == 0)
        rc = engine_dag_delete(api->engine, id,
                               with && strcmp(with, "true") == 0, &runs, &kept,
                               &err);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    sched_dag_changed(id);
    log_info("event=dag_deleted dag=%s runs=%lld runs_kept=%lld", id,
             (long long)runs, (long long)kept);
    http_reply_text(req, 204, "application/json", "");
}
