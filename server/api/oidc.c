/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The provider side of single sign-on (api/oidc.h): discovery, the JWKS
 * cache, GET /auth/login and GET /auth/callback. Messages about a failed
 * sign-in say which check failed (never a token or a secret); what the
 * provider answered goes to the log only.
 */
#include "api/oidc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "api/api.h"
#include "api/oidc_internal.h"
#include "api/oidc_jwt.h"
#include "api/oidc_map.h"
#include "engine/sessions.h"
#include "engine/sessions_admin.h"
#include "httpc.h"
#include "log.h"
#include "sha256.h"

#define FETCH_TIMEOUT_MS 10000  /* one call to the provider */
#define ANSWER_MAX       262144 /* bytes of an answer of the provider */
#define JWKS_REFETCH_MS                                                        \
    1000                /* an unknown kid refetches at most this               \
                           often, so forged kids cannot flood it */
#define URL_MAX    2048 /* bytes of a URL made here */
#define SECRET_MAX 512  /* bytes of the client secret */

static struct {
    pthread_mutex_t mu;       /* guards what follows */
    bool on;                  /* oidc_start() succeeded */
    bool tls;                 /* the server speaks HTTPS */
    char issuer[512];         /* --oidc-issuer, no trailing "/" */
    char client_id[256];      /* --oidc-client-id */
    char secret[SECRET_MAX];  /* the client secret */
    char groups_claim[128];   /* --oidc-groups-claim */
    char user_claim[128];     /* --oidc-user-claim */
    int64_t pending_max;      /* --oidc-pending-max */
    int64_t idle_s, max_s;    /* session timeouts */
    struct oidc_map *map;     /* the role mapping */
    char redirect_uri[600];   /* public URL + /auth/callback */
    char authorize_url[1024]; /* from discovery; "" before */
    char token_url[1024];     /* from discovery */
    char jwks_url[1024];      /* from discovery */
    cJSON *jwks;              /* the keys, or NULL before the first fetch */
    int64_t jwks_at_ms;       /* when they were fetched (monotonic) */
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* https://, or http:// on a loopback address (as --oidc-issuer). */
static bool url_allowed(const char *url)
{
    static const char *const ok[] = {"https://",
                                     "http://127.0.0.1:", "http://127.0.0.1/",
                                     "http://[::1]:", "http://localhost:"};

    for (size_t i = 0; i < WEIR_ARRAY_LEN(ok); i++)
        if (strncmp(url, ok[i], strlen(ok[i])) == 0 && strlen(url) < 1024)
            return true;
    return false;
}

/* Percent-encode text into out (len bytes) for a query or a form. */
static void url_encode(const char *text, char *out, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)text;
         *p != '\0' && o + 4 < len; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
            *p == '~') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

/* One call to the provider (url in full); a JSON object answered 200
 * into *out. header: one more header, or NULL. */
static int provider_call(const char *method, const char *url, const char *body,
                         const char *header, cJSON **out, struct weir_err *err)
{
    struct httpc_opts o = {.protocols = "http,https",
                           .user_agent = "weir-server",
                           .connect_timeout_ms = 5000,
                           .answer_max = ANSWER_MAX,
                           .header = header,
                           .body_type = body != NULL ? "application/x-www-form-"
                                                       "urlencoded"
                                                     : NULL};
    struct httpc_req r = {method, url, body, FETCH_TIMEOUT_MS, NULL};
    struct httpc_answer ans = {0};
    struct httpc *c = NULL;
    char q[300];
    int rc;

    if (!url_allowed(url))
        return weir_err_set(err, WEIR_EUNAVAIL,
                            "the provider named an endpoint that is not "
                            "https: %.200s",
                            url);
    rc = httpc_new(&o, &c, err);
    if (rc == 0)
        rc = httpc_call(c, &r, &ans, err);
    httpc_free(c);
    if (rc == 0 && ans.status != 200) {
        log_warn("event=oidc_provider_error url=%s status=%ld body=%s", url,
                 ans.status,
                 log_quote(ans.body != NULL ? ans.body : "", q, sizeof(q)));
        rc = weir_err_set(err, WEIR_EUNAVAIL,
                          "the identity provider answered %ld", ans.status);
    }
    if (rc == 0) {
        *out =
            ans.body != NULL ? cJSON_ParseWithLength(ans.body, ans.len) : NULL;
        if (!cJSON_IsObject(*out)) {
            cJSON_Delete(*out);
            *out = NULL;
            rc = weir_err_set(err, WEIR_EUNAVAIL,
                              "the identity provider's answer is not a JSON "
                              "object");
        }
    }
    free(ans.body);
    return rc;
}

/* Copy member name of o, an allowed URL, into buf. */
static int endpoint_copy(const cJSON *o, const char *name, char *buf,
                         size_t len, struct weir_err *err)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(o, name));

    if (v == NULL || !url_allowed(v) || strlen(v) >= len)
        return weir_err_set(err, WEIR_EUNAVAIL,
                            "the provider's discovery document has no "
                            "usable %s (an https URL)",
                            name);
    snprintf(buf, len, "%s", v);
    return 0;
}

/* Discovery, once: the endpoints. Called with g.mu held. */
static int discover_locked(struct weir_err *err)
{
    char url[URL_MAX];
    cJSON *d = NULL;
    const char *iss;
    int rc;

    if (g.authorize_url[0] != '\0')
        return 0;
    snprintf(url, sizeof(url), "%s/.well-known/openid-configuration", g.issuer);
    rc = provider_call("GET", url, NULL, NULL, &d, err);
    if (rc < 0)
        return rc;
    iss = cJSON_GetStringValue(cJSON_GetObjectItem(d, "issuer"));
    if (iss == NULL || strcmp(iss, g.issuer) != 0)
        rc = weir_err_set(err, WEIR_EUNAVAIL,
                          "the provider's discovery document names another "
                          "issuer than --oidc-issuer");
    if (rc == 0)
        rc = endpoint_copy(d, "token_endpoint", g.token_url,
                           sizeof(g.token_url), err);
    if (rc == 0)
        rc = endpoint_copy(d, "jwks_uri", g.jwks_url, sizeof(g.jwks_url), err);
    if (rc == 0)
        rc = endpoint_copy(d, "authorization_endpoint", g.authorize_url,
                           sizeof(g.authorize_url), err);
    if (rc < 0)
        g.authorize_url[0] = '\0';
    else
        log_info("event=oidc_discovered issuer=%s", g.issuer);
    cJSON_Delete(d);
    return rc;
}

/* A copy of the JWKS into *out, fetched when there is none or when
 * refresh is asked (at most once a JWKS_REFETCH_MS: a caller waits for
 * it, holding the others). */
static int jwks_get(bool refresh, cJSON **out, struct weir_err *err)
{
    cJSON *k = NULL;
    int rc = 0;

    pthread_mutex_lock(&g.mu);
    if (refresh && g.jwks != NULL) {
        int64_t wait = g.jwks_at_ms + JWKS_REFETCH_MS - mono_ms();

        /* keys rotated twice within a second: wait for the second */
        if (wait > 0)
            usleep((useconds_t)wait * 1000);
    }
    if (g.jwks == NULL || refresh) {
        rc = discover_locked(err);
        if (rc == 0)
            rc = provider_call("GET", g.jwks_url, NULL, NULL, &k, err);
        if (rc == 0) {
            cJSON_Delete(g.jwks);
            g.jwks = k;
            g.jwks_at_ms = mono_ms();
            log_info("event=oidc_jwks_fetched keys=%d",
                     cJSON_GetArraySize(cJSON_GetObjectItem(k, "keys")));
        }
    }
    *out = rc == 0 ? cJSON_Duplicate(g.jwks, true) : NULL;
    pthread_mutex_unlock(&g.mu);
    if (rc == 0 && *out == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    return rc;
}

static int secret_read(const char *path, struct weir_err *err)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(g.secret, 1, sizeof(g.secret) - 1, f) : 0;

    if (f == NULL)
        return weir_err_set(err, WEIR_EINVAL,
                            "--oidc-client-secret-file %s: cannot read it",
                            path);
    fclose(f);
    g.secret[n] = '\0';
    while (n > 0 && (g.secret[n - 1] == '\n' || g.secret[n - 1] == '\r'))
        g.secret[--n] = '\0';
    if (n == 0 || n >= sizeof(g.secret) - 2 || strchr(g.secret, '\n'))
        return weir_err_set(err, WEIR_EINVAL,
                            "--oidc-client-secret-file %s: expected one line "
                            "of 1 to %d bytes",
                            path, SECRET_MAX - 3);
    return 0;
}

int oidc_start(const struct oidc_settings *s, struct weir_err *err)
{
    size_t ilen = strlen(s->issuer);
    int rc;

    while (ilen > 0 && s->issuer[ilen - 1] == '/')
        ilen--;
    snprintf(g.issuer, sizeof(g.issuer), "%.*s", (int)ilen, s->issuer);
    snprintf(g.client_id, sizeof(g.client_id), "%s", s->client_id);
    snprintf(g.groups_claim, sizeof(g.groups_claim), "%s", s->groups_claim);
    snprintf(g.user_claim, sizeof(g.user_claim), "%s",
             s->user_claim != NULL ? s->user_claim : "email");
    g.pending_max = s->pending_max > 0 ? s->pending_max : 1000;
    g.idle_s = s->idle_s;
    g.max_s = s->max_s;
    rc = secret_read(s->secret_file, err);
    if (rc == 0)
        rc = oidc_map_load(s->role_map, &g.map, err);
    if (rc == 0)
        rc = httpc_global_init(err);
    if (rc < 0) {
        OPENSSL_cleanse(g.secret, sizeof(g.secret));
        oidc_map_free(g.map);
        g.map = NULL;
        return rc;
    }
    g.on = true;
    log_info("event=oidc_on issuer=%s client_id=%s", g.issuer, g.client_id);
    return 0;
}

const char *oidc_role_map_digest(void)
{
    return g.on && g.map != NULL ? oidc_map_digest(g.map) : NULL;
}

void oidc_stop(void)
{
    if (!g.on)
        return;
    g.on = false;
    OPENSSL_cleanse(g.secret, sizeof(g.secret));
    oidc_map_free(g.map);
    g.map = NULL;
    cJSON_Delete(g.jwks);
    g.jwks = NULL;
    g.authorize_url[0] = '\0';
    httpc_global_cleanup();
}

void oidc_set_public_url(const char *url, bool tls)
{
    size_t n = strlen(url);

    while (n > 0 && url[n - 1] == '/')
        n--;
    pthread_mutex_lock(&g.mu);
    snprintf(g.redirect_uri, sizeof(g.redirect_uri), "%.*s/auth/callback",
             (int)(n < 500 ? n : 500), url);
    g.tls = tls;
    pthread_mutex_unlock(&g.mu);
}

bool oidc_enabled(void)
{
    return g.on;
}

void oidc_session_cfg_get(struct oidc_session_cfg *out)
{
    out->on = g.on;
    out->tls = g.tls;
    out->idle_s = g.idle_s;
    out->max_s = g.max_s;
}

/* A sign-in that failed: the reason to the log; to the browser, the
 * check that failed, or in general terms what could not be done. */
static void oidc_fail(struct http_req *req, const struct weir_err *err)
{
    char q[400];

    log_warn("event=oidc_sign_in_refused code=%d msg=%s", err->code,
             log_quote(err->msg, q, sizeof(q)));
    if (err->code == WEIR_EAUTH || err->code == WEIR_EFORBIDDEN ||
        err->code == WEIR_EINVAL || err->code == WEIR_ENOTFOUND)
        http_reply_err(req, err);
    else /* a 5xx: the HTTP layer says it in general words */
        http_reply_error(
            req, err->code == WEIR_EUNAVAIL ? WEIR_EUNAVAIL : WEIR_EINTERNAL,
            "the sign-in failed");
}

/* The PKCE S256 challenge of verifier into out (44 bytes). */
static void pkce_challenge(const char *verifier, char out[48])
{
    uint8_t d[SHA256_LEN];

    sha256_digest(verifier, strlen(verifier), d);
    oidc_b64url_encode(d, sizeof(d), out);
}

/* ?cli_port=P&cli_challenge=H of `weir login` into l (both or none). */
static int login_cli_args(struct http_req *req, struct store_oidc_login *l,
                          struct weir_err *err)
{
    const char *port = http_req_query(req, "cli_port");
    const char *ch = http_req_query(req, "cli_challenge");
    char *end = NULL;
    long p = port != NULL ? strtol(port, &end, 10) : 0;
    bool hex =
        ch != NULL && strlen(ch) == 64 && strspn(ch, "0123456789abcdef") == 64;

    if (port == NULL && ch == NULL)
        return 0;
    if (port == NULL || *end != '\0' || p < 1024 || p > 65535 || !hex)
        return weir_err_set(err, WEIR_EINVAL,
                            "cli_port (1024 to 65535) and cli_challenge (64 "
                            "hex characters) go together");
    l->cli_port = (int)p;
    snprintf(l->cli_challenge, sizeof(l->cli_challenge), "%s", ch);
    return 0;
}

void oidc_login(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct store_oidc_login l = {0};
    struct weir_err err = {0};
    char state[SESSION_HEX_LEN + 1], challenge[48], cookie[300];
    char e_client[600], e_redirect[1800], url[URL_MAX * 2];
    bool full = false;
    int rc = g.on ? 0
                  : weir_err_set(&err, WEIR_ENOTFOUND,
                                 "single sign-on is not configured");

    if (rc == 0)
        rc = login_cli_args(req, &l, &err);
    if (rc == 0)
        rc = session_random_hex(state, &err);
    if (rc == 0)
        rc = session_random_hex(l.nonce, &err);
    if (rc == 0)
        rc = session_random_hex(l.verifier, &err);
    if (rc == 0) {
        pthread_mutex_lock(&g.mu);
        rc = discover_locked(&err);
        pthread_mutex_unlock(&g.mu);
    }
    if (rc == 0)
        rc = engine_oidc_login_begin_capped(api->store, state, &l,
                                            g.pending_max, &full, &err);
    if (rc == 0 && full) {
        log_warn("event=oidc_sign_in_refused reason=pending_max max=%lld",
                 (long long)g.pending_max);
        /* a 503 whose words say what to do (nothing internal in them) */
        http_reply_json_text(req, 503,
                             "{\"error\":{\"code\":\"UNAVAIL\",\"message\":"
                             "\"too many sign-ins in progress: try again in a "
                             "few minutes\"}}");
        return;
    }
    if (rc < 0) {
        oidc_fail(req, &err);
        return;
    }
    pkce_challenge(l.verifier, challenge);
    url_encode(g.client_id, e_client, sizeof(e_client));
    url_encode(g.redirect_uri, e_redirect, sizeof(e_redirect));
    snprintf(url, sizeof(url),
             "%s%sresponse_type=code&client_id=%s&redirect_uri=%s"
             "&scope=openid%%20profile%%20email%%20%s&state=%s&nonce=%s"
             "&code_challenge=%s&code_challenge_method=S256",
             g.authorize_url, strchr(g.authorize_url, '?') ? "&" : "?",
             e_client, e_redirect, g.groups_claim, state, l.nonce, challenge);
    oidc_cookie_make(cookie, sizeof(cookie), OIDC_LOGIN_COOKIE, state, "/auth/",
                     600);
    oidc_redirect(req, url, cookie, NULL);
}

/* The code exchanged at the token endpoint; its id_token into *out. */
static int token_exchange(const char *code, const char *verifier, char **out,
                          struct weir_err *err)
{
    char e_code[600], e_redirect[1800], e_id[600], e_secret[1600];
    char body[URL_MAX * 3], pair[2400], basic[3300], header[3400];
    cJSON *ans = NULL;
    const char *idt;
    int rc;

    url_encode(code, e_code, sizeof(e_code));
    url_encode(g.redirect_uri, e_redirect, sizeof(e_redirect));
    url_encode(g.client_id, e_id, sizeof(e_id));
    url_encode(g.secret, e_secret, sizeof(e_secret));
    snprintf(body, sizeof(body),
             "grant_type=authorization_code&code=%s&redirect_uri=%s"
             "&code_verifier=%s",
             e_code, e_redirect, verifier);
    /* client_secret_basic: the form-encoded id and secret (RFC 6749) */
    snprintf(pair, sizeof(pair), "%s:%s", e_id, e_secret);
    EVP_EncodeBlock((unsigned char *)basic, (const unsigned char *)pair,
                    (int)strlen(pair));
    snprintf(header, sizeof(header), "Authorization: Basic %s", basic);
    rc = provider_call("POST", g.token_url, body, header, &ans, err);
    OPENSSL_cleanse(pair, sizeof(pair));
    OPENSSL_cleanse(basic, sizeof(basic));
    OPENSSL_cleanse(header, sizeof(header));
    OPENSSL_cleanse(e_secret, sizeof(e_secret));
    if (rc < 0)
        return rc == WEIR_EUNAVAIL
                   ? weir_err_set(err, WEIR_EAUTH,
                                  "the identity provider refused the code")
                   : rc;
    idt = cJSON_GetStringValue(cJSON_GetObjectItem(ans, "id_token"));
    *out = idt != NULL ? strdup(idt) : NULL;
    cJSON_Delete(ans);
    if (*out == NULL)
        return weir_err_set(err, WEIR_EAUTH,
                            "the identity provider sent no ID token");
    return 0;
}

/* The ID token checked against the JWKS, fetched again once when it names
 * a key the cached JWKS does not hold (a rotation at the provider). */
static int id_token_check(const char *idt, const char *nonce, cJSON **claims,
                          struct weir_err *err)
{
    struct oidc_jwt_want want = {g.issuer, g.client_id, nonce,
                                 (int64_t)time(NULL)};
    cJSON *jwks = NULL;
    int rc = jwks_get(false, &jwks, err);

    if (rc == 0)
        rc = oidc_jwt_verify(idt, jwks, &want, claims, err);
    cJSON_Delete(jwks);
    jwks = NULL;
    if (rc == WEIR_ENOTFOUND) {
        rc = jwks_get(true, &jwks, err);
        if (rc == 0)
            rc = oidc_jwt_verify(idt, jwks, &want, claims, err);
        cJSON_Delete(jwks);
    }
    if (rc == WEIR_ENOTFOUND)
        rc = weir_err_set(err, WEIR_EAUTH, "%s", err->msg);
    return rc;
}

/* Who the claims say: the --oidc-user-claim claim (a string); an email
 * only when the provider says it verified it (email_verified true). */
static int claims_user(const cJSON *c, const char **user, struct weir_err *err)
{
    const char *v =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, g.user_claim));

    if (v == NULL || v[0] == '\0' || strlen(v) >= STORE_SESSION_USER_MAX)
        return weir_err_set(err, WEIR_EAUTH,
                            "the ID token has no usable \"%s\" claim to "
                            "name the user (--oidc-user-claim)",
                            g.user_claim);
    if (strcmp(g.user_claim, "email") == 0 &&
        !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "email_verified")))
        return weir_err_set(err, WEIR_EAUTH,
                            "the identity provider has not verified this "
                            "user's email (email_verified is not true): ask "
                            "to have it verified, or sign in another way");
    *user = v;
    return 0;
}

/* The groups claim as a new JSON array of strings (a lone string is a
 * list of one; absent: empty). */
static cJSON *claims_groups(const cJSON *c)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, g.groups_claim), *x;
    cJSON *a = cJSON_CreateArray();

    if (cJSON_IsString(v))
        cJSON_AddItemToArray(a, cJSON_CreateString(v->valuestring));
    cJSON_ArrayForEach(x, (cJSON_IsArray(v) ? v : NULL))
    {
        if (cJSON_IsString(x) && cJSON_GetArraySize(a) < 100)
            cJSON_AddItemToArray(a, cJSON_CreateString(x->valuestring));
    }
    return a;
}

/* The session (or the CLI's parked sign-in) of verified claims, and the
 * redirect that ends the callback. */
static int callback_finish(struct http_req *req, const cJSON *claims,
                           const struct store_oidc_login *l,
                           struct weir_err *err)
{
    struct api *api = http_req_app(req);
    struct store_session_new s = {
        .kind = "browser", .idle_s = g.idle_s, .max_s = g.max_s};
    const char *user = NULL;
    cJSON *groups = claims_groups(claims), *grants = NULL;
    char *gtext = NULL, *grtext = NULL, id[SESSION_HEX_LEN + 1];
    char csrf[SESSION_HEX_LEN + 1], cookie[300], clear[300];
    int rc = claims_user(claims, &user, err);

    if (rc == 0)
        rc = oidc_map_grants(g.map, user, groups, &grants, err);
    if (rc == 0) {
        gtext = cJSON_PrintUnformatted(groups);
        grtext = cJSON_PrintUnformatted(grants);
        s.user = user;
        s.groups = gtext;
        s.grants = grtext;
        if (gtext == NULL || grtext == NULL)
            rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    if (rc == 0) /* the audit record of this sign-in names its user */
        api_audit_note_actor(req, user, grtext);
    if (rc == 0 && l->cli_port > 0) {
        s.csrf = l->cli_challenge;
        rc = engine_cli_login_put(api->store, &s, id, err);
    } else if (rc == 0) {
        rc = engine_session_create(api->store, &s, id, csrf, err);
    }
    if (rc == 0) {
        char q[300], qg[600];

        log_info("event=oidc_signed_in user=%s grants=%s kind=%s",
                 log_quote(user, q, sizeof(q)),
                 log_quote(grtext, qg, sizeof(qg)),
                 l->cli_port > 0 ? "cli" : "browser");
    }
    oidc_cookie_make(clear, sizeof(clear), OIDC_LOGIN_COOKIE, "", "/auth/", 0);
    if (rc == 0 && l->cli_port > 0) /* to the CLI once confirmed only */
        oidc_cli_confirm_page(req, user, grtext, l->cli_port, id, clear);
    else if (rc == 0) {
        oidc_cookie_make(cookie, sizeof(cookie), OIDC_COOKIE, id, "/", g.max_s);
        oidc_redirect(req, "/", cookie, clear);
    }
    OPENSSL_cleanse(id, sizeof(id));
    cJSON_Delete(groups);
    cJSON_Delete(grants);
    cJSON_free(gtext);
    cJSON_free(grtext);
    return rc;
}

/* state: present, the one this browser's sign-in cookie holds. */
static int callback_state(struct http_req *req, const char *state,
                          struct weir_err *err)
{
    char bound[SESSION_HEX_LEN + 1];

    if (state == NULL || strlen(state) != SESSION_HEX_LEN)
        return weir_err_set(err, WEIR_EAUTH,
                            "the sign-in has no valid state: start again");
    if (!oidc_cookie_get(req, OIDC_LOGIN_COOKIE, bound, sizeof(bound)) ||
        strlen(bound) != SESSION_HEX_LEN ||
        CRYPTO_memcmp(bound, state, SESSION_HEX_LEN) != 0)
        return weir_err_set(err, WEIR_EAUTH,
                            "this sign-in was not started by this browser: "
                            "start again");
    return 0;
}

void oidc_callback(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const char *state = http_req_query(req, "state");
    const char *code = http_req_query(req, "code");
    const char *perr = http_req_query(req, "error");
    struct store_oidc_login l = {0};
    struct weir_err err = {0};
    cJSON *claims = NULL;
    char *idt = NULL;
    int rc = g.on ? 0
                  : weir_err_set(&err, WEIR_ENOTFOUND,
                                 "single sign-on is not configured");

    if (rc == 0 && perr != NULL)
        rc = weir_err_set(&err, WEIR_EAUTH,
                          "the identity provider refused the sign-in: "
                          "%.100s",
                          perr);
    if (rc == 0)
        rc = callback_state(req, state, &err);
    if (rc == 0 && (code == NULL || code[0] == '\0' || strlen(code) > 512))
        rc = weir_err_set(&err, WEIR_EAUTH, "the sign-in has no valid code");
    /* taking the sign-in's row is not the change the audit record is
     * of (the session is): held, so that the record is written with the
     * session, naming its user */
    api_audit_hold(req, true);
    if (rc == 0 && engine_oidc_login_take(api->store, state, &l, &err) < 0)
        rc = weir_err_set(&err, WEIR_EAUTH,
                          "this sign-in is unknown, already used or too "
                          "old: start again");
    api_audit_hold(req, false);
    if (rc == 0)
        rc = token_exchange(code, l.verifier, &idt, &err);
    if (rc == 0)
        rc = id_token_check(idt, l.nonce, &claims, &err);
    if (rc == 0)
        rc = callback_finish(req, claims, &l, &err);
    if (idt != NULL)
        OPENSSL_cleanse(idt, strlen(idt));
    free(idt);
    cJSON_Delete(claims);
    OPENSSL_cleanse(&l, sizeof(l));
    if (rc < 0)
        oidc_fail(req, &err);
}
