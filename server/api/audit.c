/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit log at the API: which requests are audited, what their record
 * says, and GET /api/v1/audit.
 *
 * Every request of a route whose method is not GET or HEAD is audited,
 * except the worker protocol (/api/v1/workers/..., /api/v1/attempts/...:
 * register, lease, heartbeat, logs, complete; too frequent, and the
 * attempts' own rows record them). A route added later is audited without
 * code of its own: its action is named from its pattern when the table
 * below does not name it. The observer (api_audit_observe(), the HTTP
 * server's http_observe_fn) arms the record for the handler, so that it
 * is appended in the transaction that commits the change
 * (store/audit.h), and when the request ends without such a commit it
 * appends one apart: refused (4xx), failed (5xx, or no reply), or ok
 * when the request changed nothing.
 *
 *   GET /api/v1/audit?actor=&action=&dag=&since=&until=&cursor=&limit=
 *       -> {records: [...], next_cursor}   (admin tokens)
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api.h"
#include "api/authz.h"
#include "engine/audit.h"
#include "log.h"
#include "store/read.h"

#define AUDIT_LIMIT_MAX  500  /* records in a page */
#define AUDIT_PARAMS_MAX 4096 /* bytes of a request's params kept */
#define AUDIT_TEXT_MAX   256  /* bytes of an actor, target, client */
#define AUDIT_GRANTS_MAX (STORE_TOKEN_QUEUES_LEN + 64) /* the grants JSON */
#define AUDIT_REQ_ID_MAX 128 /* bytes of an X-Request-Id kept */

/* Action names of the routes of today; others are named by their
 * pattern (route_action()). */
static const struct {
    const char *method;  /* as in the route table */
    const char *pattern; /* as in the route table */
    const char *action;  /* what the record says */
} actions[] = {
    {"POST", "/api/v1/tokens", "token.create"},
    {"DELETE", "/api/v1/tokens/{name}", "token.revoke"},
    {"POST", "/api/v1/tokens/{name}/revoke", "token.revoke"},
    {"POST", "/api/v1/dags", "dag.submit"},
    {"DELETE", "/api/v1/dags/{id}", "dag.delete"},
    {"POST", "/api/v1/dags/{id}/runs", "run.trigger"},
    {"POST", "/api/v1/runs/{id}/cancel", "run.cancel"},
    {"POST", "/api/v1/runs/{id}/retry", "run.retry"},
    {"POST", "/api/v1/runs/{id}/steps/{step}/approve", "step.approve"},
    {"POST", "/api/v1/runs/{id}/steps/{step}/reject", "step.reject"},
    {"POST", "/api/v1/dags/{id}/pause", "dag.pause"},
    {"POST", "/api/v1/dags/{id}/unpause", "dag.unpause"},
    {"POST", "/api/v1/artifacts/{name}/versions/{version}/promote",
     "artifact.promote"},
    {"POST", "/api/v1/artifacts/{name}/versions/{version}/approve",
     "artifact.approve"},
    {"POST", "/api/v1/artifacts/{name}/versions/{version}/reject",
     "artifact.reject"},
    {"POST", "/api/v1/dags/{id}/backfills", "backfill.create"},
    {"POST", "/api/v1/backfills/{id}/cancel", "backfill.cancel"},
    {"PUT", "/api/v1/pools/{name}", "pool.put"},
    {"DELETE", "/api/v1/pools/{name}", "pool.delete"},
    {"POST", "/api/v1/events", "event.post"},
    {"POST", "/api/v1/hooks/{dag}/{trigger}", "hook.post"},
    {"POST", "/api/v1/metrics", "metric.post"},
    {"GET", "/auth/callback", "session.sign_in"},
    {"POST", "/auth/logout", "session.sign_out"},
    {"POST", "/auth/cli", "session.cli_exchange"},
    {"POST", "/auth/cli/confirm", "session.cli_confirm"},
    {"DELETE", "/api/v1/sessions/{id}", "session.end"},
    {"POST", "/api/v1/sessions/end", "session.end_user"},
    {"PUT", "/api/v1/secrets/{name}", "secret.set"},
    {"POST", "/api/v1/secrets/{name}", "secret.set"},
    {"DELETE", "/api/v1/secrets/{name}", "secret.delete"},
    {"POST", "/api/v1/secrets/rotate-key", "secret.rotate_key"},
};

/* Body keys whose values never reach the log: equal to the first, or
 * holding one of the others (case aside). */
static const char *const secret_keys[] = {
    "value", "secret", "password",   "token",  "key",
    "auth",  "pwd",    "credential", "cookie", "private"};

/* The record of one request, kept on it (http_req_observed()). */
struct audit_req {
    struct store_audit_armed armed;    /* the record, armed in the handler */
    char actor[AUDIT_TEXT_MAX];        /* token name, "" when unknown */
    char grants[AUDIT_GRANTS_MAX];     /* JSON array of its grants */
    char action[96];                   /* named action */
    char target[AUDIT_TEXT_MAX];       /* "runs/12", ... */
    char dag[STORE_ID_MAX];            /* the DAG, "" when not known */
    char run_id[WEIR_I64_LEN];         /* a run id of the path, or "" */
    char backfill[WEIR_I64_LEN];       /* a backfill id of the path, or "" */
    char client[AUDIT_TEXT_MAX];       /* the client's address */
    char request_id[AUDIT_REQ_ID_MAX]; /* X-Request-Id, or "" */
    char *params;                      /* JSON text (owned), or NULL */
};

static void audit_req_free(void *p)
{
    struct audit_req *a = p;

    if (a != NULL)
        cJSON_free(a->params);
    free(a);
}

bool api_audit_route(const struct http_route *r)
{
    if (r != NULL && strcmp(r->pattern, "/auth/callback") == 0)
        return true; /* a GET that signs in */
    return r != NULL && strcmp(r->method, "GET") != 0 &&
           strcmp(r->method, "HEAD") != 0 &&
           strncmp(r->pattern, "/api/v1/workers/", 16) != 0 &&
           strncmp(r->pattern, "/api/v1/attempts/", 17) != 0;
}

/*
 * The grants of the caller, as the record keeps them: a JSON array of
 * grant texts ("operator:env=dev"), [] on a public route. A set too long
 * for the record (16 grants of long scopes) keeps its roles only, each
 * marked "...", so that what is stored is always valid JSON.
 */
static void caller_grants(const struct http_req *req, char *buf, size_t len)
{
    const struct grant_set *s = api_caller_grants(req);
    cJSON *arr = grant_set_texts(s); /* an empty set on a public route */
    char *text = arr ? cJSON_PrintUnformatted(arr) : NULL;
    size_t used;

    cJSON_Delete(arr);
    if (text != NULL && strlen(text) < len) {
        memcpy(buf, text, strlen(text) + 1);
        cJSON_free(text);
        return;
    }
    cJSON_free(text);
    used = (size_t)snprintf(buf, len, "[");
    for (size_t i = 0; i < s->n && used + 24 < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s\"%s...\"",
                                 i ? "," : "", grant_role_name(s->g[i].role));
    snprintf(buf + used, len - used, "]");
}

/* An action named by a pattern the table does not know: its literal
 * segments after /api/v1/, joined by '.', and the method in lower case
 * unless the last segment is a verb after a {name}: POST
 * /api/v1/secrets -> "secrets.post", POST /api/v1/x/{id}/rotate ->
 * "x.rotate". */
static void route_action(const struct http_route *r, char *buf, size_t len)
{
    const char *p = r->pattern, *last = strrchr(r->pattern, '/');
    size_t n = 0;
    bool verb = false;

    for (size_t i = 0; i < WEIR_ARRAY_LEN(actions); i++)
        if (strcmp(actions[i].method, r->method) == 0 &&
            strcmp(actions[i].pattern, r->pattern) == 0) {
            snprintf(buf, len, "%s", actions[i].action);
            return;
        }
    if (strncmp(p, "/api/v1/", 8) == 0)
        p += 8;
    verb = strcmp(r->method, "POST") == 0 && last != NULL && last[1] != '{' &&
           last > r->pattern && last[-1] == '}';
    buf[0] = '\0';
    while (*p != '\0' && n + 1 < len) {
        size_t seg = strcspn(p, "/");

        if (*p != '{')
            n += (size_t)snprintf(buf + n, len - n, "%s%.*s", n ? "." : "",
                                  (int)seg, p);
        p += seg + (p[seg] == '/');
        if (n >= len)
            n = len - 1;
    }
    if (!verb && n + 1 < len) {
        snprintf(buf + n, len - n, ".%s", r->method);
        for (char *c = buf + n; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    }
}

/* The path after /api/v1/ up to its last {name} segment ("runs/12",
 * "artifacts/model/versions/3"), or the first segment and the body's
 * "name" ("tokens/ops"), or the first segment alone. */
static void route_target(struct http_req *req, char *buf, size_t len)
{
    const char *pat = http_req_route(req)->pattern;
    const char *path = http_req_path(req);
    const cJSON *name =
        cJSON_GetObjectItemCaseSensitive(http_req_json(req), "name");
    size_t keep = 0, pos = 0;

    if (strncmp(path, "/api/v1/", 8) == 0 && strncmp(pat, "/api/v1/", 8) == 0) {
        path += 8;
        pat += 8;
    }
    /* pattern and path have as many segments (the route matched) */
    while (*pat != '\0' && path[pos] != '\0') {
        size_t ps = strcspn(pat, "/"), vs = strcspn(path + pos, "/");

        if (*pat == '{')
            keep = pos + vs;
        pat += ps + (pat[ps] == '/');
        pos += vs + (path[pos + vs] == '/');
    }
    if (keep > 0)
        snprintf(buf, len, "%.*s", (int)keep, path);
    else if (cJSON_IsString(name))
        snprintf(buf, len, "%.*s/%s", (int)strcspn(path, "/"), path,
                 name->valuestring);
    else
        snprintf(buf, len, "%.*s", (int)strcspn(path, "/"), path);
}

static bool is_secret_key(const char *k)
{
    if (k == NULL)
        return false;
    if (strcasecmp(k, secret_keys[0]) == 0)
        return true;
    for (size_t i = 1; i < WEIR_ARRAY_LEN(secret_keys); i++)
        if (strcasestr(k, secret_keys[i]) != NULL)
            return true;
    return false;
}

/* Replace, in place, the value of every secret-looking key with "***". */
static void redact(cJSON *v)
{
    cJSON *it;

    cJSON_ArrayForEach(it, v)
    {
        if (cJSON_IsObject(v) && is_secret_key(it->string)) {
            cJSON *stars = cJSON_CreateString("***");

            /* the replacement keeps the key: it takes it->string */
            if (stars != NULL) {
                stars->string = it->string;
                it->string = NULL;
                cJSON_ReplaceItemViaPointer(v, it, stars);
            }
            it = stars;
            if (it == NULL)
                break;
        } else if (cJSON_IsObject(it) || cJSON_IsArray(it)) {
            redact(it);
        }
    }
}

/* Whether v would print in about budget bytes or fewer: walked, not
 * printed, so that a body of megabytes is neither copied nor printed. */
static bool json_fits(const cJSON *v, size_t *budget)
{
    const cJSON *it;
    size_t cost = 8 + (v->string ? strlen(v->string) : 0) +
                  (cJSON_IsString(v) ? strlen(v->valuestring) : 0);

    if (cost > *budget)
        return false;
    *budget -= cost;
    cJSON_ArrayForEach(it, v)
    {
        if (!json_fits(it, budget))
            return false;
    }
    return true;
}

/* A large body: its top-level keys only (never their values). */
static cJSON *params_summary(const cJSON *body)
{
    cJSON *o = cJSON_CreateObject(), *keys;
    const cJSON *it;

    cJSON_AddBoolToObject(o, "truncated", true);
    keys = cJSON_AddArrayToObject(o, "keys");
    cJSON_ArrayForEach(it, body)
    {
        if (it->string != NULL && cJSON_GetArraySize(keys) < 50)
            cJSON_AddItemToArray(keys, cJSON_CreateString(it->string));
    }
    return o;
}

/* The request's parameters: its JSON body redacted (a large one only by
 * its keys), else the size of its body. A new JSON text, or NULL. */
static char *request_params(struct http_req *req)
{
    const cJSON *body = http_req_json(req);
    size_t budget = AUDIT_PARAMS_MAX, len = 0;
    cJSON *o = NULL;
    char *text;

    if (body != NULL && json_fits(body, &budget)) {
        o = cJSON_Duplicate(body, true);
        if (o != NULL)
            redact(o);
    } else if (body != NULL) {
        o = params_summary(body);
    } else {
        (void)http_req_body(req, &len);
        o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "body_bytes", (double)len);
    }
    text = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

/* A {name} value that is a positive number, else "". */
static void id_param(struct http_req *req, const char *name, char *buf,
                     size_t len)
{
    const char *v = http_req_param(req, name);

    buf[0] = '\0';
    if (v != NULL && api_parse_id(v) > 0)
        snprintf(buf, len, "%lld", (long long)api_parse_id(v));
}

/* The DAG of the path, when it names one directly. */
static void route_dag(struct http_req *req, struct audit_req *a)
{
    const char *pat = http_req_route(req)->pattern;
    const char *dag = NULL;

    if (strncmp(pat, "/api/v1/dags/{id}", 17) == 0)
        dag = http_req_param(req, "id");
    else if (strncmp(pat, "/api/v1/hooks/{dag}", 19) == 0)
        dag = http_req_param(req, "dag");
    if (dag != NULL && strlen(dag) < sizeof(a->dag))
        snprintf(a->dag, sizeof(a->dag), "%s", dag);
    if (strncmp(pat, "/api/v1/runs/{id}", 17) == 0)
        id_param(req, "id", a->run_id, sizeof(a->run_id));
    if (strncmp(pat, "/api/v1/backfills/{id}", 22) == 0)
        id_param(req, "id", a->backfill, sizeof(a->backfill));
}

static struct audit_req *audit_req_new(struct http_req *req)
{
    struct audit_req *a = calloc(1, sizeof(*a));
    const struct store_token *t = api_caller(req);
    const char *rid = http_req_header(req, "X-Request-Id");
    struct store_audit_rec *r;

    if (a == NULL)
        return NULL;
    if (t != NULL)
        api_caller_name(req, a->actor, sizeof(a->actor));
    caller_grants(req, a->grants, sizeof(a->grants));
    route_action(http_req_route(req), a->action, sizeof(a->action));
    route_target(req, a->target, sizeof(a->target));
    route_dag(req, a);
    http_req_client(req, a->client, sizeof(a->client));
    if (rid != NULL)
        snprintf(a->request_id, sizeof(a->request_id), "%s", rid);
    a->params = request_params(req);
    r = &a->armed.rec;
    *r = (struct store_audit_rec){
        .actor = a->actor,
        .grants = a->grants,
        .action = a->action,
        .target = a->target,
        .dag = a->dag[0] ? a->dag : NULL,
        .run_id = a->run_id[0] ? a->run_id : NULL,
        .backfill = a->backfill[0] ? a->backfill : NULL,
        .params = a->params ? a->params : "{}",
        .outcome = "ok",
        .message = "",
        .client = a->client,
        .request_id = a->request_id[0] ? a->request_id : NULL};
    http_req_observed_set(req, a, audit_req_free);
    return a;
}

void api_audit_note_dag(struct http_req *req, const char *dag)
{
    struct audit_req *a = http_req_observed(req);

    if (a == NULL || dag == NULL || strlen(dag) >= sizeof(a->dag))
        return;
    snprintf(a->dag, sizeof(a->dag), "%s", dag);
    snprintf(a->target, sizeof(a->target), "dags/%s", dag);
    a->armed.rec.dag = a->dag;
}

void api_audit_note_actor(struct http_req *req, const char *actor,
                          const char *grants)
{
    struct audit_req *a = http_req_observed(req);

    if (a == NULL || actor == NULL)
        return;
    snprintf(a->actor, sizeof(a->actor), "%s", actor);
    /* JSON text: whole, or an empty list rather than a cut one */
    snprintf(a->grants, sizeof(a->grants), "%s",
             grants != NULL && strlen(grants) < sizeof(a->grants) ? grants
                                                                  : "[]");
}

void api_audit_hold(struct http_req *req, bool hold)
{
    struct audit_req *a = http_req_observed(req);

    if (a != NULL && !a->armed.written)
        engine_audit_arm(hold ? NULL : &a->armed);
}

/* The request ended without a committed change: its record, apart. */
static void audit_done(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct audit_req *a = http_req_observed(req);
    struct weir_err err = {0};
    int status = http_req_status(req);
    char q[300];

    if (a == NULL)
        a = audit_req_new(req);
    if (a == NULL || a->armed.written)
        return;
    a->armed.rec.status = status;
    if (status == 0) {
        a->armed.rec.outcome = "failed";
        a->armed.rec.message = "no reply was sent";
    } else if (status >= 500) {
        a->armed.rec.outcome = "failed";
        a->armed.rec.message = http_req_error_msg(req);
    } else if (status >= 400) {
        a->armed.rec.outcome = "refused";
        a->armed.rec.message = http_req_error_msg(req);
    } else {
        a->armed.rec.message = "no change was committed";
    }
    if (engine_audit_append(api->store, &a->armed.rec, &err) < 0)
        log_warn("event=audit_append_failed action=%s msg=%s", a->action,
                 log_quote(err.msg, q, sizeof(q)));
}

void api_audit_observe(void *app, struct http_req *req,
                       enum http_observe_phase phase)
{
    struct audit_req *a;

    (void)app;
    if (!api_audit_route(http_req_route(req)))
        return;
    switch (phase) {
    case HTTP_OBSERVE_HANDLE:
        a = audit_req_new(req);
        if (a != NULL)
            engine_audit_arm(&a->armed);
        break;
    case HTTP_OBSERVE_HANDLED:
        engine_audit_arm(NULL);
        break;
    case HTTP_OBSERVE_DONE:
        audit_done(req);
        break;
    }
}

/* "YYYY-MM-DD", optionally "THH:MM[:SS[.frac]]" and "Z" or "+HH:MM": a
 * real date and time (no 31 February). */
static bool time_valid(const char *s)
{
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, n = 0;
    struct tm tm = {0};
    time_t t;

    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return false;
    s += n;
    if ((*s == 'T' || *s == ' ') &&
        sscanf(s + 1, "%2d:%2d%n", &h, &mi, &n) == 2 && n == 5) {
        s += 1 + n;
        if (*s == ':' && sscanf(s + 1, "%2d%n", &sec, &n) == 1 && n == 2)
            s += 1 + n;
        if (*s == '.' && isdigit((unsigned char)s[1]))
            for (s++; isdigit((unsigned char)*s); s++) {
            }
    }
    if (*s == 'Z')
        s++;
    else if ((*s == '+' || *s == '-') && isdigit((unsigned char)s[1]) &&
             isdigit((unsigned char)s[2]))
        s += strspn(s + 1, "0123456789:") + 1;
    tm = (struct tm){.tm_year = y - 1900,
                     .tm_mon = mo - 1,
                     .tm_mday = d,
                     .tm_hour = h,
                     .tm_min = mi,
                     .tm_sec = sec};
    t = timegm(&tm);
    return *s == '\0' && t != (time_t)-1 && tm.tm_mday == d &&
           tm.tm_mon == mo - 1 && h < 24 && mi < 60 && sec < 60;
}

static int audit_filter(struct http_req *req, struct store_audit_filter *f,
                        struct weir_err *err)
{
    int64_t limit = api_query_num(req, "limit", 100, 1, AUDIT_LIMIT_MAX);
    int64_t cursor = api_query_num(req, "cursor", 0, 0, INT64_MAX);
    const char *const when[2] = {"since", "until"};

    if (limit < 0 || cursor < 0)
        return weir_err_set(err, WEIR_EINVAL,
                            "limit must be 1 to %d and cursor the "
                            "next_cursor of a page",
                            AUDIT_LIMIT_MAX);
    f->actor = http_req_query(req, "actor");
    f->action = http_req_query(req, "action");
    f->dag = http_req_query(req, "dag");
    f->since = http_req_query(req, "since");
    f->until = http_req_query(req, "until");
    f->cursor = cursor;
    f->limit = (int)limit;
    for (int i = 0; i < 2; i++) {
        const char *v = i == 0 ? f->since : f->until;

        if (v != NULL && !time_valid(v))
            return weir_err_set(err, WEIR_EINVAL,
                                "%s \"%.60s\" is not a time such as "
                                "2026-01-31 or 2026-01-31T12:00:00Z",
                                when[i], v);
    }
    return 0;
}

void api_audit_list(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct store_audit_filter f = {0};
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    cJSON *o = NULL;
    /* an admin grant without scope: the log spans every DAG */
    int rc = api_authorize(req, GRANT_ACT_ADMIN, NULL, NULL, &err);

    if (rc == 0)
        rc = audit_filter(req, &f, &err);
    if (rc == 0)
        rc = store_conn_get(api->store, &c, &err);
    if (rc == 0)
        rc = store_audit_list(c, &f, &o, &err);
    store_conn_put(c);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    http_reply_json(req, 200, o);
}
