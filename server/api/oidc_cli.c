/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The confirmation of a `weir login` sign-in (api/oidc_internal.h). After
 * the provider's callback, the browser is not sent to the CLI's loopback
 * port at once: anything listening there would get the session of whoever
 * followed a crafted /auth/login?cli_port=... link. The browser gets a page
 * naming the port, the user and the grants, with a POST form; only that
 * POST, carrying a one-time token that must match the cookie set with the
 * page (HttpOnly, SameSite=Lax, Path=/auth/cli/confirm) and coming from
 * this origin, redirects to the loopback with the one-time code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api/oidc.h"
#include "api/oidc_internal.h"
#include "engine/sessions.h"
#include "log.h"

#define CONFIRM_COOKIE "weir_cli_confirm"
#define CONFIRM_PATH   "/auth/cli/confirm"
#define CONFIRM_AGE_S  300 /* the page may be answered this long */
#define PAGE_MAX       8192

/* text HTML-escaped into out (len bytes, cut to fit). */
static void html_escape(const char *text, char *out, size_t len)
{
    size_t o = 0;

    for (const char *p = text; *p != '\0'; p++) {
        const char *rep = *p == '<'    ? "&lt;"
                          : *p == '>'  ? "&gt;"
                          : *p == '&'  ? "&amp;"
                          : *p == '"'  ? "&quot;"
                          : *p == '\'' ? "&#39;"
                                       : NULL;
        size_t n = rep != NULL ? strlen(rep) : 1;

        if (o + n + 1 > len)
            break;
        if (rep != NULL)
            memcpy(out + o, rep, n);
        else
            out[o] = *p;
        o += n;
    }
    out[o] = '\0';
}

static bool is_hex64(const char *s)
{
    return strspn(s, "0123456789abcdef") == SESSION_HEX_LEN;
}

void oidc_cli_confirm_page(struct http_req *req, const char *user,
                           const char *grants, int port, const char *code,
                           const char *clear_login)
{
    char token[SESSION_HEX_LEN + 1], value[2 * SESSION_HEX_LEN + 16];
    char cookie[400], csp[200], e_user[600], e_grants[2400];
    char *page = malloc(PAGE_MAX);
    struct weir_err err = {0};
    const char *h[12];

    if (page == NULL || session_random_hex(token, &err) < 0) {
        free(page);
        http_reply_error(req, WEIR_EINTERNAL, "the sign-in failed");
        return;
    }
    snprintf(value, sizeof(value), "%s.%d.%s", code, port, token);
    oidc_cookie_make(cookie, sizeof(cookie), CONFIRM_COOKIE, value,
                     CONFIRM_PATH, CONFIRM_AGE_S);
    /* the form may post here and be redirected to the CLI only */
    snprintf(csp, sizeof(csp),
             "default-src 'none'; style-src 'unsafe-inline'; form-action "
             "'self' http://127.0.0.1:%d; frame-ancestors 'none'",
             port);
    html_escape(user, e_user, sizeof(e_user));
    html_escape(grants, e_grants, sizeof(e_grants));
    snprintf(page, PAGE_MAX,
             "<!doctype html><html><head><meta charset=\"utf-8\">"
             "<title>Sign in the weir CLI?</title></head><body>"
             "<h1>Sign in the weir CLI?</h1>"
             "<p>Sign in the weir CLI on this computer (port %d)? It will act "
             "as <b>%s</b> with the grants <code>%s</code>.</p>"
             "<p>Go on only if you just ran <code>weir login</code> "
             "yourself.</p>"
             "<form method=\"post\" action=\"" CONFIRM_PATH "\">"
             "<input type=\"hidden\" name=\"token\" value=\"%s\">"
             "<button type=\"submit\">Sign in the CLI</button></form>"
             "</body></html>",
             port, e_user, e_grants, token);
    h[0] = "Cache-Control";
    h[1] = "no-store";
    h[2] = "Content-Security-Policy";
    h[3] = csp;
    h[4] = "X-Frame-Options";
    h[5] = "DENY";
    h[6] = "Set-Cookie";
    h[7] = cookie;
    h[8] = "Set-Cookie";
    h[9] = clear_login;
    h[10] = NULL;
    http_reply_bytes(req, 200, "text/html; charset=utf-8", page, strlen(page),
                     h);
    OPENSSL_cleanse(value, sizeof(value));
    OPENSSL_cleanse(cookie, sizeof(cookie));
    free(page);
}

/* The request comes from this server's own pages: Origin, when sent, is
 * this server's; Sec-Fetch-Site, when sent, says same-origin. */
static bool same_origin(const struct http_req *req)
{
    const char *origin = http_req_header(req, "Origin");
    const char *site = http_req_header(req, "Sec-Fetch-Site");
    const char *host = http_req_header(req, "Host");
    struct oidc_session_cfg cfg;
    char want[400];

    if (site != NULL && strcmp(site, "same-origin") != 0)
        return false;
    if (origin == NULL)
        return true;
    if (host == NULL)
        return false;
    oidc_session_cfg_get(&cfg); /* the scheme this server speaks */
    snprintf(want, sizeof(want), "%s://%s", cfg.tls ? "https" : "http", host);
    return strcmp(origin, want) == 0;
}

/* token=HEX of a form body into out. */
static bool form_token(const struct http_req *req, char *out)
{
    size_t len = 0;
    const char *b = http_req_body(req, &len);
    const char *t = b != NULL ? strstr(b, "token=") : NULL;

    if (t == NULL || (t != b && t[-1] != '&') || strlen(t + 6) < 64 ||
        !is_hex64(t + 6) || (t[70] != '\0' && t[70] != '&'))
        return false;
    memcpy(out, t + 6, SESSION_HEX_LEN);
    out[SESSION_HEX_LEN] = '\0';
    return true;
}

void oidc_cli_confirm(struct http_req *req)
{
    char c[2 * SESSION_HEX_LEN + 16], token[SESSION_HEX_LEN + 1];
    char url[200], clear[300], *port_end = NULL;
    long port = 0;
    const char *why = !oidc_enabled()           ? "off"
                      : !same_origin(req)       ? "another origin"
                      : !form_token(req, token) ? "no token in the form"
                      : !oidc_cookie_get(req, CONFIRM_COOKIE, c, sizeof(c))
                          ? "no cookie"
                          : NULL;
    bool ok = why == NULL && strlen(c) > 2 * SESSION_HEX_LEN + 2 &&
              is_hex64(c) && c[SESSION_HEX_LEN] == '.';

    if (ok) {
        port = strtol(c + SESSION_HEX_LEN + 1, &port_end, 10);
        ok = port >= 1024 && port <= 65535 && *port_end == '.' &&
             strlen(port_end + 1) == SESSION_HEX_LEN &&
             CRYPTO_memcmp(port_end + 1, token, SESSION_HEX_LEN) == 0;
    }
    if (!ok && why == NULL)
        why = "the token is not the cookie's";
    oidc_cookie_make(clear, sizeof(clear), CONFIRM_COOKIE, "", CONFIRM_PATH, 0);
    if (!ok) {
        log_warn("event=oidc_cli_confirm_refused why=\"%s\"", why);
        http_reply_error(req, WEIR_EFORBIDDEN,
                         "this confirmation is not of this browser's "
                         "sign-in, or is too old: run weir login again");
        OPENSSL_cleanse(c, sizeof(c));
        return;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%ld/callback?code=%.64s", port,
             c);
    log_info("event=oidc_cli_confirmed port=%ld", port);
    oidc_redirect(req, url, clear, NULL);
    OPENSSL_cleanse(c, sizeof(c));
    OPENSSL_cleanse(url, sizeof(url));
}
