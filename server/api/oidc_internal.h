/* SPDX-License-Identifier: Apache-2.0 */
/* What oidc.c and oidc_session.c share (not for other modules). */
#ifndef WEIR_OIDC_INTERNAL_H
#define WEIR_OIDC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

/* The session timeouts, the cookie's Secure flag, and whether on. */
struct oidc_session_cfg {
    bool on;        /* single sign-on configured */
    bool tls;       /* the server speaks HTTPS */
    int64_t idle_s; /* --session-idle */
    int64_t max_s;  /* --session-max */
};

/* A copy of the session settings. */
void oidc_session_cfg_get(struct oidc_session_cfg *out);

/* The value of cookie name of the request into buf (len bytes); false
 * when there is none or it does not fit. */
bool oidc_cookie_get(const struct http_req *req, const char *name, char *buf,
                     size_t len);

/* A Set-Cookie value: name=value with the session's attributes, Path
 * path, Max-Age max_age (0: delete it). */
void oidc_cookie_make(char *buf, size_t len, const char *name,
                      const char *value, const char *path, int64_t max_age);

/* Reply 302 to location with up to two Set-Cookie values (NULL: none). */
void oidc_redirect(struct http_req *req, const char *location,
                   const char *cookie1, const char *cookie2);

/* The reply to the provider's callback of a `weir login` sign-in: a page
 * asking to confirm it (port, user, grants), whose POST to
 * /auth/cli/confirm (oidc_cli_confirm()) sends the one-time code to the
 * CLI's loopback port. clear_login: the Set-Cookie clearing the sign-in
 * cookie. */
void oidc_cli_confirm_page(struct http_req *req, const char *user,
                           const char *grants, int port, const char *code,
                           const char *clear_login);

#endif
