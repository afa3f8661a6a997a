/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The session side of single sign-on (api/oidc.h): the cookie, the hook
 * of api_auth() with its CSRF check, POST /auth/logout, POST /auth/cli
 * (`weir login` collects its session) and GET /auth/config.
 *
 * A cookie is sent by the browser with every request to the server,
 * whoever made the page that sends it; so a mutation authenticated by
 * the cookie must also carry X-CSRF-Token, which only a page of this
 * server can read (GET /api/v1/session; cross-origin reads are refused
 * by the browser). The cookie is SameSite=Lax: the callback is reached by
 * a redirect from the provider, a cross-site navigation, on which a
 * Strict cookie would not be sent to the page it redirects to.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "api/api.h"
#include "api/oidc.h"
#include "api/oidc_internal.h"
#include "engine/sessions.h"
#include "log.h"

bool oidc_cookie_get(const struct http_req *req, const char *name, char *buf,
                     size_t len)
{
    const char *h = http_req_header(req, "Cookie");
    size_t nlen = strlen(name);

    while (h != NULL && *h != '\0') {
        const char *end;
        size_t vlen;

        h += strspn(h, " ;");
        end = h + strcspn(h, ";");
        if (strncmp(h, name, nlen) == 0 && h[nlen] == '=') {
            vlen = (size_t)(end - h) - nlen - 1;
            if (vlen >= len)
                return false;
            memcpy(buf, h + nlen + 1, vlen);
            buf[vlen] = '\0';
            return true;
        }
        h = end;
    }
    return false;
}

void oidc_cookie_make(char *buf, size_t len, const char *name,
                      const char *value, const char *path, int64_t max_age)
{
    struct oidc_session_cfg cfg;

    oidc_session_cfg_get(&cfg);
    snprintf(buf, len, "%s=%s; Path=%s; Max-Age=%lld; HttpOnly; SameSite=Lax%s",
             name, value, path, (long long)max_age, cfg.tls ? "; Secure" : "");
}

void oidc_redirect(struct http_req *req, const char *location,
                   const char *cookie1, const char *cookie2)
{
    const char *h[12] = {"Location", location,          "Cache-Control",
                         "no-store", "Referrer-Policy", "no-referrer"};
    size_t n = 6;

    if (cookie1 != NULL) {
        h[n++] = "Set-Cookie";
        h[n++] = cookie1;
    }
    if (cookie2 != NULL) {
        h[n++] = "Set-Cookie";
        h[n++] = cookie2;
    }
    h[n] = NULL;
    http_reply_bytes(req, 302, NULL, "", 0, h);
}

/* A CLI session secret ("weirs_" and 64 hex) of an Authorization header
 * into id; false when the header is not one. */
static bool bearer_session(const struct http_req *req,
                           char id[SESSION_HEX_LEN + 1])
{
    const char *h = http_req_header(req, "Authorization");
    size_t plen = strlen(OIDC_CLI_PREFIX);

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    h += strspn(h, " ");
    if (strncmp(h, OIDC_CLI_PREFIX, plen) != 0)
        return false;
    snprintf(id, SESSION_HEX_LEN + 1, "%s", h + plen);
    return true;
}

/* The session credential of the request: from the CLI's bearer secret
 * (*cookie false) or the cookie (only without an Authorization header).
 * false when there is none. */
static bool session_id(const struct http_req *req, char id[SESSION_HEX_LEN + 1],
                       bool *cookie)
{
    *cookie = false;
    if (bearer_session(req, id))
        return true;
    if (http_req_header(req, "Authorization") != NULL)
        return false;
    *cookie = oidc_cookie_get(req, OIDC_COOKIE, id, SESSION_HEX_LEN + 1);
    return *cookie;
}

/* The live session of the request's credential into *s. */
static int session_find(struct store *st, const struct http_req *req,
                        struct store_session *s, bool *cookie,
                        struct weir_err *err)
{
    char id[SESSION_HEX_LEN + 1];
    int rc;

    if (!session_id(req, id, cookie))
        return 0;
    if (strlen(id) != SESSION_HEX_LEN ||
        strspn(id, "0123456789abcdef") != SESSION_HEX_LEN)
        return weir_err_set(err, WEIR_EAUTH, "the session is not valid");
    rc = engine_session_lookup(st, id, s, err);
    OPENSSL_cleanse(id, sizeof(id));
    if (rc == 0 && strcmp(s->kind, *cookie ? "browser" : "cli") != 0)
        rc = WEIR_ENOTFOUND;
    if (rc == WEIR_ENOTFOUND)
        return weir_err_set(err, WEIR_EAUTH,
                            "your session has ended (signed out, idle or "
                            "expired): sign in again");
    return rc < 0 ? rc : 1;
}

/* A cookie-authenticated mutation carries the session's CSRF token. */
static int csrf_check(const struct http_req *req, const struct store_session *s,
                      struct weir_err *err)
{
    const char *m = http_req_method(req);
    const char *tok = http_req_header(req, "X-CSRF-Token");

    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
        return 0;
    if (tok == NULL || strlen(tok) != SESSION_HEX_LEN ||
        CRYPTO_memcmp(tok, s->csrf, SESSION_HEX_LEN) != 0)
        return weir_err_set(err, WEIR_EFORBIDDEN,
                            "a change made with a signed-in session needs "
                            "its X-CSRF-Token header (GET /api/v1/session "
                            "gives it)");
    return 0;
}

/* The role of the first grant (the single role that tokens also show),
 * as api_token_spec_grants() names a token's. */
static void first_role(const char *grants_json, char *role, size_t len)
{
    cJSON *a = cJSON_Parse(grants_json);
    const char *g = cJSON_GetStringValue(cJSON_GetArrayItem(a, 0));

    snprintf(role, len, "%.*s", g ? (int)strcspn(g, ":") : 4, g ? g : "read");
    cJSON_Delete(a);
}

#define GROUPS_MAX 100 /* groups of a session read by approvals */

/*
 * The groups of the session that authenticated the request this thread
 * serves: api_auth() and the handler run in the request's connection
 * thread, so the groups are kept per thread, with the request they are
 * of, and forgotten when the thread authenticates the next one.
 */
static _Thread_local struct {
    const struct http_req *req;         /* whose groups, or NULL */
    char buf[STORE_SESSION_GRANTS_MAX]; /* the names, NUL-separated */
    const char *names[GROUPS_MAX];      /* into buf */
    size_t n;                           /* entries in names */
} caller_groups;

static void groups_keep(const struct http_req *req, const char *json)
{
    cJSON *a = cJSON_Parse(json);
    const cJSON *g;
    size_t used = 0;

    caller_groups.n = 0;
    cJSON_ArrayForEach(g, a)
    {
        size_t len = cJSON_IsString(g) ? strlen(g->valuestring) + 1 : 0;

        if (len == 0 || caller_groups.n == GROUPS_MAX ||
            used + len > sizeof(caller_groups.buf))
            continue;
        memcpy(caller_groups.buf + used, g->valuestring, len);
        caller_groups.names[caller_groups.n++] = caller_groups.buf + used;
        used += len;
    }
    cJSON_Delete(a);
    caller_groups.req = req;
}

void oidc_caller_groups(const struct http_req *req, const char *const **groups,
                        size_t *n)
{
    bool mine = req != NULL && caller_groups.req == req;

    *groups = mine && caller_groups.n > 0 ? caller_groups.names : NULL;
    *n = mine ? caller_groups.n : 0;
}

int oidc_session_caller(struct store *st, struct http_req *req,
                        struct store_token *t, struct weir_err *err)
{
    struct store_session s;
    bool cookie = false;
    int rc;

    caller_groups.req = NULL; /* a new request: no session's groups yet */
    if (!oidc_enabled())
        return 0;
    rc = session_find(st, req, &s, &cookie, err);
    if (rc <= 0)
        return rc;
    if (cookie && csrf_check(req, &s, err) < 0)
        return WEIR_EFORBIDDEN;
    /* the caller is the user with its grants (api/authz.c reads them) */
    memset(t, 0, sizeof(*t));
    first_role(s.grants, t->role, sizeof(t->role));
    snprintf(t->name, sizeof(t->name), "%s", s.user);
    snprintf(t->grants, sizeof(t->grants), "%s", s.grants);
    groups_keep(req, s.groups);
    return 1;
}

void oidc_session_describe(struct store *st, struct http_req *req, cJSON *o)
{
    struct store_session s;
    struct weir_err err = {0};
    bool cookie = false;

    if (!oidc_enabled() || session_find(st, req, &s, &cookie, &err) != 1)
        return;
    cJSON_AddBoolToObject(o, "sso", true); /* api_session_add(): grants */
    cJSON_AddItemToObject(o, "groups", cJSON_Parse(s.groups));
    if (cookie)
        cJSON_AddStringToObject(o, "csrf", s.csrf);
}

void oidc_logout(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct store_session s;
    struct weir_err err = {0};
    char id[SESSION_HEX_LEN + 1], clear[300];
    bool cookie = false;
    int rc =
        oidc_enabled() ? session_find(api->store, req, &s, &cookie, &err) : 0;
    const char *h[] = {"Set-Cookie", clear, "Cache-Control", "no-store", NULL};

    if (rc == 1) /* the audit record of this sign-out names its user */
        api_audit_note_actor(req, s.user, s.grants);
    if (rc == 1 && cookie)
        rc = csrf_check(req, &s, &err) < 0 ? WEIR_EFORBIDDEN : 1;
    if (rc == 1 && session_id(req, id, &cookie))
        rc = engine_session_delete(api->store, id, &err) < 0 ? err.code : 1;
    if (rc < 0 && rc != WEIR_EAUTH) {
        http_reply_err(req, &err);
        return;
    }
    if (rc == 1) {
        char q[300];

        log_info("event=oidc_signed_out user=%s",
                 log_quote(s.user, q, sizeof(q)));
    }
    oidc_cookie_make(clear, sizeof(clear), OIDC_COOKIE, "", "/", 0);
    http_reply_bytes(req, 200, "application/json", "{\"signed_out\":true}", 19,
                     h);
}

void oidc_cli_exchange(struct http_req *req)
{
    static const struct api_key keys[] = {{"code", API_STR | API_REQUIRED},
                                          {"secret", API_STR | API_REQUIRED}};
    struct api *api = http_req_app(req);
    const cJSON *b = http_req_json(req);
    const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(b, "code"));
    const char *secret = cJSON_GetStringValue(cJSON_GetObjectItem(b, "secret"));
    struct store_session who = {0};
    struct store_session_new s = {.kind = "cli"};
    struct oidc_session_cfg cfg;
    struct weir_err err = {0};
    char id[SESSION_HEX_LEN + 1], csrf[SESSION_HEX_LEN + 1];
    char out[SESSION_HEX_LEN + 16];
    int rc = oidc_enabled() ? api_body_check(b, keys, WEIR_ARRAY_LEN(keys),
                                             "sign-in body", &err)
                            : weir_err_set(&err, WEIR_ENOTFOUND,
                                           "single sign-on is not "
                                           "configured");
    cJSON *o;

    if (rc == 0 &&
        engine_cli_login_take(api->store, code, secret, &who, &err) < 0)
        rc = weir_err_set(&err, WEIR_EAUTH,
                          "this sign-in is unknown, already collected, too "
                          "old, or its secret is wrong");
    oidc_session_cfg_get(&cfg);
    s.user = who.user;
    s.groups = who.groups;
    s.grants = who.grants;
    s.idle_s = cfg.idle_s;
    s.max_s = cfg.max_s;
    if (rc == 0)
        rc = engine_session_create(api->store, &s, id, csrf, &err);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    snprintf(out, sizeof(out), "%s%s", OIDC_CLI_PREFIX, id);
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "session", out);
    cJSON_AddStringToObject(o, "user", who.user);
    cJSON_AddItemToObject(o, "grants", cJSON_Parse(who.grants));
    cJSON_AddNumberToObject(o, "expires_in", (double)cfg.max_s);
    OPENSSL_cleanse(id, sizeof(id));
    OPENSSL_cleanse(out, sizeof(out));
    http_reply_json(req, 200, o);
}

void oidc_config_get(struct http_req *req)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddBoolToObject(o, "oidc", oidc_enabled());
    if (oidc_enabled())
        cJSON_AddStringToObject(o, "login", "/auth/login");
    http_reply_json(req, 200, o);
}
