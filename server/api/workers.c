/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker protocol (docs/architecture.md, "Worker protocol"): register,
 * lease (long-poll), heartbeat, log batches and completion. Every call on
 * an attempt carries its lease id, the fencing token; a stale one gets
 * 409 CONFLICT and changes nothing.
 *
 *   register  {name, queues?, slots?, labels?}
 *             -> {worker_id, lease_ttl_ms, heartbeat_interval_ms}
 *   lease     {max? (1..100, default 1; 0 with cancel_seen), wait_ms?
 *             (capped at 60000), cancel_seen?: [attempt id, ...]}
 *             -> {attempts: [attempt document, ...], cancel?: [id, ...]}
 *             (with cancel_seen, the call also answers, at once, with
 *             the worker's running attempts whose run was canceled and
 *             that it did not list)
 *   heartbeat {lease_id} -> {cancel}
 *   logs      {lease_id, lines: [{seq, ts, stream, line}]} -> {inserted}
 *   complete  {lease_id, exit_code, timed_out?, outputs?, error?,
 *             lease?: {worker_id, max}, more?: [{attempt_id, lease_id,
 *             ...}]} -> {ok, attempts?, results?: [{attempt_id, status}]}
 *             (api_attempts.c: one transaction records the completions
 *             and claims the next attempts)
 *
 * An attempt document (engine/lease.c) holds attempt_id, lease_id,
 * run_id, task_id, dag, dag_hash, dag_path, step, cell, try,
 * logical_time, environment, command, workdir, env, params, matrix,
 * inputs, trigger {kind, key, reason, payload}, timeout_ms,
 * kill_grace_ms and lease_ttl_ms (the lease's time left when claimed).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/auth.h"
#include "engine/secrets.h"

#define NAME_MAX_LEN 200 /* bytes of a worker name */
#define QUEUES_MAX   64  /* queues one worker serves */
#define LEASE_MAX    100 /* attempts one lease call may ask for */

static const char stale_hint[] = "expected {\"lease_id\": \"...\"}";

static bool valid_queue(const char *q)
{
    size_t n = strlen(q);

    if (n == 0 || n > 64)
        return false;
    return strspn(q, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789_.-") == n;
}

/* Check the register body; queues and labels become JSON text. */
static int register_body(const cJSON *b, const char **name, char **queues,
                         int *slots, char **labels, struct weir_err *err)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(b, "name");
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(b, "queues");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(b, "slots");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(b, "labels");
    static const struct api_key keys[] = {{"name", API_STR | API_REQUIRED},
                                          {"queues", API_ARR},
                                          {"slots", API_NUM},
                                          {"labels", API_OBJ}};
    const cJSON *m;
    int rc =
        api_body_check(b, keys, WEIR_ARRAY_LEN(keys), "register body", err);

    if (rc < 0)
        return rc;
    if (!cJSON_IsString(n) || n->valuestring[0] == '\0' ||
        strlen(n->valuestring) > NAME_MAX_LEN ||
        (q != NULL && (!cJSON_IsArray(q) || cJSON_GetArraySize(q) == 0 ||
                       cJSON_GetArraySize(q) > QUEUES_MAX)) ||
        (s != NULL && (!cJSON_IsNumber(s) || s->valuedouble < 1 ||
                       s->valuedouble > 10000)) ||
        (l != NULL && !cJSON_IsObject(l)))
        return weir_err_set(err, WEIR_EINVAL,
                            "expected {\"name\": \"...\", \"queues\": "
                            "[\"default\", ...], \"slots\": 1..10000, "
                            "\"labels\": {...}}");
    cJSON_ArrayForEach(m, q)
    {
        if (!cJSON_IsString(m) || !valid_queue(m->valuestring))
            return weir_err_set(err, WEIR_EINVAL,
                                "a queue name is 1 to 64 of "
                                "[A-Za-z0-9_.-]");
    }
    *name = n->valuestring;
    *slots = s ? (int)s->valuedouble : 1;
    *queues = q ? cJSON_PrintUnformatted(q) : strdup("[\"default\"]");
    *labels = l ? cJSON_PrintUnformatted(l) : strdup("{}");
    if (*queues == NULL || *labels == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    return 0;
}

/* A worker token limited to queues registers only for those. */
static int queues_allowed(const struct store_token *tok, const char *queues,
                          struct weir_err *err)
{
    cJSON *allowed, *asked;
    const cJSON *q, *a;
    int rc = 0;

    if (tok->queues[0] == '\0')
        return 0;
    allowed = cJSON_Parse(tok->queues);
    asked = cJSON_Parse(queues);
    if (allowed == NULL || asked == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    if (rc != 0) {
        cJSON_Delete(allowed);
        cJSON_Delete(asked);
        return rc;
    }
    cJSON_ArrayForEach(q, asked)
    {
        cJSON_ArrayForEach(a, allowed)
        {
            if (strcmp(a->valuestring, q->valuestring) == 0)
                break;
        }
        if (a == NULL) {
            rc = weir_err_set(err, WEIR_EFORBIDDEN,
                              "token \"%s\" may serve only the queues %s, "
                              "not \"%s\"",
                              tok->name, tok->queues, q->valuestring);
            break;
        }
    }
    cJSON_Delete(allowed);
    cJSON_Delete(asked);
    return rc;
}

void api_worker_register(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const struct store_token *tok = api_caller(req);
    struct weir_err err = {0};
    char *queues = NULL, *labels = NULL;
    struct engine_worker w = {0};
    int64_t id = 0;
    int slots = 1;
    cJSON *o;
    int rc;

    rc = register_body(http_req_json(req), &w.name, &queues, &slots, &labels,
                       &err);
    if (rc == 0 && tok == NULL)
        rc = weir_err_set(&err, WEIR_EAUTH, "this route needs an API token");
    if (rc == 0)
        rc = queues_allowed(tok, queues, &err);
    if (rc == 0) {
        w = (struct engine_worker){w.name, queues, slots, labels, tok->id};
        /* registered and bound to the caller's token in one transaction */
        rc = engine_worker_register(api->engine, &w, &id, &err);
    }
    free(queues);
    free(labels);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "worker_id", (double)id);
    cJSON_AddNumberToObject(o, "lease_ttl_ms",
                            (double)api->engine->lease_ttl_ms);
    cJSON_AddNumberToObject(o, "heartbeat_interval_ms",
                            (double)(api->engine->lease_ttl_ms / 3));
    http_reply_json(req, 200, o);
}

/* The attempt ids of "cancel_seen" into a new array *out (NULL when
 * empty); WEIR_EINVAL naming the entry that is not an id. */
static int seen_args(const cJSON *s, int64_t **out, size_t *n,
                     struct weir_err *err)
{
    int64_t *v = NULL;
    const cJSON *id;
    size_t k = 0;
    int size = cJSON_GetArraySize(s);

    if (!cJSON_IsArray(s))
        return weir_err_set(err, WEIR_EINVAL,
                            "cancel_seen: expected an array of attempt ids");
    if (size > 0 && (v = calloc((size_t)size, sizeof(*v))) == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    cJSON_ArrayForEach(id, s)
    {
        if (!cJSON_IsNumber(id) || id->valuedouble < 1 ||
            id->valuedouble > 9e15 ||
            id->valuedouble != (double)(int64_t)id->valuedouble) {
            free(v);
            return weir_err_set(err, WEIR_EINVAL,
                                "cancel_seen[%zu]: expected an attempt id", k);
        }
        v[k++] = (int64_t)id->valuedouble;
    }
    *out = v;
    *n = k;
    return 0;
}

/* Read {"max": N, "wait_ms": W, "cancel_seen": [...]} (all optional);
 * *watch says whether cancel_seen was given (then max may be 0). */
static int lease_args(const cJSON *b, int *max, int64_t *wait_ms,
                      struct engine_cancel_watch *w, bool *watch,
                      struct weir_err *err)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(b, "max");
    const cJSON *wt = cJSON_GetObjectItemCaseSensitive(b, "wait_ms");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(b, "cancel_seen");
    static const struct api_key keys[] = {
        {"max", API_NUM}, {"wait_ms", API_NUM}, {"cancel_seen", API_ARR}};
    int rc = api_body_check(b, keys, WEIR_ARRAY_LEN(keys), "lease body", err);
    int64_t *seen = NULL;
    size_t n = 0;

    if (rc < 0)
        return rc;
    if ((b != NULL && !cJSON_IsObject(b)) ||
        (m != NULL &&
         (!cJSON_IsNumber(m) || m->valuedouble < (s != NULL ? 0 : 1) ||
          m->valuedouble > LEASE_MAX)) ||
        (wt != NULL && (!cJSON_IsNumber(wt) || wt->valuedouble < 0)))
        return weir_err_set(err, WEIR_EINVAL,
                            "expected {\"max\": 1..%d (0 with cancel_seen), "
                            "\"wait_ms\": 0..%d, \"cancel_seen\": [id, ...]}",
                            LEASE_MAX, ENGINE_WAIT_MAX_MS);
    if (s != NULL && (rc = seen_args(s, &seen, &n, err)) < 0)
        return rc;
    *max = m ? (int)m->valuedouble : 1;
    *wait_ms = wt ? (int64_t)wt->valuedouble : 0;
    w->seen = seen;
    w->n_seen = n;
    *watch = s != NULL;
    return 0;
}

/* What the long-poll of a lease checks while it waits. */
struct lease_wait {
    struct http_req *req; /* the lease call */
    struct api *api;      /* its server */
    int64_t checked_ms;   /* when its token was last checked (monotonic) */
    bool revoked;         /* its token stopped being live meanwhile */
};

#define TOKEN_CHECK_MS 1000 /* longest a long-poll trusts its token */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The worker's connection closed (it stopped or gave up the long-poll),
 * or its token was revoked or expired: the wait ends either way. The
 * engine calls this at least once a second and after every wake-up; the
 * token is asked about at most once a second. */
static bool client_gone_cb(void *arg)
{
    struct lease_wait *w = arg;
    struct store_token tok;
    struct weir_err err = {0};
    int64_t now = now_ms();

    if (http_req_gone(w->req))
        return true;
    if (now - w->checked_ms >= TOKEN_CHECK_MS) {
        w->checked_ms = now;
        /* Asked again on purpose: the token may be revoked while the
         * call waits, which api_caller() (read at the start) cannot see. */
        if (auth_caller(w->api->store, http_req_header(w->req, "Authorization"),
                        &tok, &err) == WEIR_EAUTH)
            w->revoked = true;
    }
    return w->revoked;
}

void api_worker_lease(struct http_req *req)
{
    struct api *api = http_req_app(req);
    int64_t id = api_parse_id(http_req_param(req, "id"));
    struct weir_err err = {0};
    struct engine_cancel_watch cw = {0};
    struct lease_wait w = {req, api, now_ms(), false};
    cJSON *attempts = NULL, *o;
    int64_t wait_ms = 0;
    bool watch = false;
    int max = 1;
    int rc = lease_args(http_req_json(req), &max, &wait_ms, &cw, &watch, &err);

    if (rc == 0 && id == 0)
        rc = weir_err_set(&err, WEIR_ENOTFOUND, "no worker \"%s\"",
                          http_req_param(req, "id"));
    if (rc == 0)
        rc = api_worker_owned(api, req, id, &err);
    if (rc == 0)
        rc = engine_lease_wait(api->engine, id, max, wait_ms, client_gone_cb,
                               &w, watch ? &cw : NULL, &attempts, &err);
    free((void *)cw.seen);
    if (rc == 0 && w.revoked) {
        cJSON_Delete(attempts); /* empty: the check comes before a claim */
        cJSON_Delete(cw.cancel);
        cw.cancel = NULL;
        rc = weir_err_set(&err, WEIR_EAUTH,
                          "the token was revoked or expired during the "
                          "lease");
    }
    if (rc < 0) {
        cJSON_Delete(cw.cancel);
        http_reply_err(req, &err);
        return;
    }
    /* secrets go only over TLS or loopback (engine/secrets.h) */
    if (!http_req_secure(req))
        (void)engine_secrets_refuse(api->engine, attempts);
    o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "attempts", attempts);
    if (cw.cancel != NULL)
        cJSON_AddItemToObject(o, "cancel", cw.cancel);
    http_reply_json(req, 200, o);
}

int api_worker_owned(struct api *api, struct http_req *req, int64_t worker,
                     struct weir_err *err)
{
    struct store_conn *c = NULL;
    char hash[65];
    int rc = auth_bearer_hash(http_req_header(req, "Authorization"), hash, err);

    if (rc == 0)
        rc = store_conn_get(api->store, &c, err);
    if (rc == 0)
        rc = store_worker_owned(c, worker, hash, err);
    store_conn_put(c);
    return rc;
}

int api_attempts_owned(struct api *api, struct http_req *req,
                       const int64_t *ids, size_t n, struct weir_err *err)
{
    struct store_conn *c = NULL;
    char hash[65];
    size_t len = n * 21 + 3, k = 0;
    char *list = malloc(len);
    int rc = list ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");

    /* A PostgreSQL array literal: "{1,2,3}". */
    for (size_t i = 0; rc == 0 && i < n; i++)
        k += (size_t)snprintf(list + k, len - k, "%s%lld", i ? "," : "{",
                              (long long)ids[i]);
    if (rc == 0)
        snprintf(list + k, len - k, "%s", n ? "}" : "{}");
    if (rc == 0)
        rc = auth_bearer_hash(http_req_header(req, "Authorization"), hash, err);
    if (rc == 0)
        rc = store_conn_get(api->store, &c, err);
    if (rc == 0)
        rc = store_attempts_owned(c, list, hash, err);
    store_conn_put(c);
    free(list);
    return rc;
}

/* The attempt id of the path and the lease id of the body. */
static int attempt_args(struct http_req *req, int64_t *id, const char **lease,
                        struct weir_err *err)
{
    static const struct api_key keys[] = {{"lease_id", API_STR}};
    const cJSON *l =
        cJSON_GetObjectItemCaseSensitive(http_req_json(req), "lease_id");
    int rc;

    *id = api_parse_id(http_req_param(req, "id"));
    if (*id == 0)
        return weir_err_set(err, WEIR_ENOTFOUND, "no attempt \"%s\"",
                            http_req_param(req, "id"));
    rc = api_body_check(http_req_json(req), keys, WEIR_ARRAY_LEN(keys),
                        "heartbeat body", err);
    if (rc < 0)
        return rc;
    if (!cJSON_IsString(l))
        return weir_err_set(err, WEIR_EINVAL, "%s", stale_hint);
    *lease = l->valuestring;
    return 0;
}

void api_attempt_heartbeat(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct weir_err err = {0};
    const char *lease = NULL;
    bool cancel = false;
    int64_t id = 0;
    cJSON *o;
    int rc = attempt_args(req, &id, &lease, &err);

    if (rc == 0)
        rc = api_attempts_owned(api, req, &id, 1, &err);
    /* cancel: the attempt's run was canceled; the worker stops it */
    if (rc == 0)
        rc = engine_attempt_beat(api->engine, id, lease, &cancel, &err);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "cancel", cancel);
    http_reply_json(req, 200, o);
}
