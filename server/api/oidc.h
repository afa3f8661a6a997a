/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Single sign-on with OpenID Connect (authorization code flow with PKCE
 * S256, state and nonce). GET /auth/login sends the browser to the
 * provider (found by discovery from the issuer); GET /auth/callback takes
 * the code back, exchanges it at the token endpoint with the client
 * secret, checks the ID token (api/oidc_jwt.h) against the provider's
 * JWKS (cached; fetched again when a token names an unknown key), maps
 * the user's groups to role grants (api/oidc_map.h) and opens a session
 * (engine/sessions.h): a cookie for the dashboard, or, for `weir login`,
 * a one-time code sent to the CLI's loopback port, which the CLI turns
 * into a session secret with POST /auth/cli.
 *
 * Design. The settings, the mapping, the discovery document and the JWKS
 * are process-wide (one provider per server), behind one mutex; a sign-in
 * under way lives in the database, so that any of several servers may
 * take its callback.
 */
#ifndef WEIR_OIDC_H
#define WEIR_OIDC_H

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "err.h"
#include "http/http.h"
#include "store/read.h"

#define OIDC_COOKIE       "weir_session" /* the dashboard's session cookie */
#define OIDC_LOGIN_COOKIE "weir_login"   /* binds a sign-in to its browser */
#define OIDC_CLI_PREFIX   "weirs_"       /* a CLI session secret's prefix */

/* What single sign-on is configured with (config.h; borrowed). */
struct oidc_settings {
    const char *issuer;       /* the provider's issuer URL */
    const char *client_id;    /* Weir's client id there */
    const char *secret_file;  /* holds the client secret */
    const char *groups_claim; /* the claim mapped to grants */
    const char *role_map;     /* the mapping file */
    int64_t idle_s;           /* session idle timeout */
    int64_t max_s;            /* session absolute lifetime */
    const char *user_claim;   /* the claim naming the user (email) */
    int64_t pending_max;      /* sign-ins under way at most */
};

/* Turn single sign-on on: read the client secret and the mapping (errors
 * name the file and line). Discovery happens at the first sign-in, so a
 * provider that is down does not stop the server. */
WEIR_MUSTCHECK int oidc_start(const struct oidc_settings *s,
                              struct weir_err *err);

/* The SHA-256 (hex) of the role mapping file read by oidc_start(), or NULL
 * when single sign-on is off. */
const char *oidc_role_map_digest(void);

/* Turn it off and free what oidc_start() made; a no-op when it is off. */
void oidc_stop(void);

/* Where the server is reached (the redirect URI is URL/auth/callback),
 * and whether over TLS (the cookie is then Secure). */
void oidc_set_public_url(const char *url, bool tls);

/* Whether single sign-on is on. */
bool oidc_enabled(void);

/* The routes (public: they authenticate by themselves). */
void oidc_config_get(struct http_req *req);
void oidc_login(struct http_req *req);
void oidc_callback(struct http_req *req);
void oidc_logout(struct http_req *req);
void oidc_cli_exchange(struct http_req *req);
void oidc_cli_confirm(struct http_req *req);

/*
 * The hook of api_auth(): when the request carries no API token but a
 * session (the cookie, or "Bearer weirs_..." from the CLI), fill *t with
 * its user (name), its grants and its first grant's role, and return 1; a
 * mutation authenticated by the cookie must carry X-CSRF-Token
 * (WEIR_EFORBIDDEN otherwise). 0 when the request has no session
 * credential (the token check goes on); WEIR_EAUTH when its session is
 * unknown or expired.
 */
WEIR_MUSTCHECK int oidc_session_caller(struct store *st, struct http_req *req,
                                       struct store_token *t,
                                       struct weir_err *err);

/* The groups of the signed-in user who made req (from its identity
 * provider, as at sign-in) into *groups (borrowed until the request ends)
 * and *n; none for a token or a public route. For approvals' approvers:
 * lists (api_caller_groups()). */
void oidc_caller_groups(const struct http_req *req, const char *const **groups,
                        size_t *n);

/* For GET /api/v1/session: when the caller is a session, add "sso": true,
 * its "groups" and (cookie sessions) its "csrf" to o. */
void oidc_session_describe(struct store *st, struct http_req *req, cJSON *o);

#endif
