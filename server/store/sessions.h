/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tables of single sign-on (migration 0024): sessions of signed-in
 * users, kept by the SHA-256 of their id; sign-ins under way (state,
 * nonce, PKCE verifier), each taken once by its callback; and finished
 * `weir login` sign-ins waiting for the CLI to collect their session.
 */
#ifndef WEIR_STORE_SESSIONS_H
#define WEIR_STORE_SESSIONS_H

#include <stdint.h>

#include "store/pool.h"

#define STORE_SESSION_USER_MAX   256  /* bytes of a user name, with NUL */
#define STORE_SESSION_GRANTS_MAX 4096 /* bytes of the grants' JSON */

/* A live session (store_session_lookup()). */
struct store_session {
    int64_t id;                            /* sessions.id */
    char kind[8];                          /* "browser" or "cli" */
    char user[STORE_SESSION_USER_MAX];     /* who signed in */
    char grants[STORE_SESSION_GRANTS_MAX]; /* JSON array of grant strings */
    char groups[STORE_SESSION_GRANTS_MAX]; /* JSON array of group names */
    char csrf[65];                         /* the CSRF token */
};

/* Who signed in, with what (a new session or a CLI sign-in's wait). */
struct store_session_new {
    const char *hash;   /* SHA-256 hex of the session id, or of the code */
    const char *kind;   /* "browser" or "cli" */
    const char *user;   /* the user's name */
    const char *groups; /* JSON array of group names */
    const char *grants; /* JSON array of grant strings */
    const char *csrf;   /* 64 hex characters */
    int64_t idle_s;     /* idle timeout, s */
    int64_t max_s;      /* absolute lifetime, s */
};

/* Record a session (and drop the expired ones). */
WEIR_MUSTCHECK int store_session_insert(struct store_conn *c,
                                        const struct store_session_new *s,
                                        struct weir_err *err);

/* The live session of hash into *out, noting its use (which pushes its
 * idle expiry back). WEIR_ENOTFOUND when none is live. */
WEIR_MUSTCHECK int store_session_lookup(struct store_conn *c, const char *hash,
                                        struct store_session *out,
                                        struct weir_err *err);

/* Delete the session of hash; 0 also when there was none. */
WEIR_MUSTCHECK int store_session_delete(struct store_conn *c, const char *hash,
                                        struct weir_err *err);

/* A sign-in under way. */
struct store_oidc_login {
    char nonce[65];         /* what the ID token's nonce must be */
    char verifier[65];      /* the PKCE code verifier */
    int cli_port;           /* `weir login`'s loopback port, or 0 */
    char cli_challenge[65]; /* with cli_port: SHA-256 hex of its secret */
};

/* Record a sign-in under way under the SHA-256 of its state (and drop the
 * ones older than max_age_s). */
WEIR_MUSTCHECK int store_oidc_login_insert(struct store_conn *c,
                                           const char *state_hash,
                                           const struct store_oidc_login *l,
                                           int64_t max_age_s,
                                           struct weir_err *err);

/* Take (delete and return) the sign-in of state_hash if it is younger
 * than max_age_s; WEIR_ENOTFOUND otherwise, so a state serves once. */
WEIR_MUSTCHECK int store_oidc_login_take(struct store_conn *c,
                                         const char *state_hash,
                                         int64_t max_age_s,
                                         struct store_oidc_login *out,
                                         struct weir_err *err);

/* Record a finished `weir login` under the SHA-256 of its one-time code
 * (s->hash), its challenge in s->csrf; s->kind, idle_s and max_s are not
 * used. Drops the ones older than max_age_s. */
WEIR_MUSTCHECK int store_cli_login_insert(struct store_conn *c,
                                          const struct store_session_new *s,
                                          int64_t max_age_s,
                                          struct weir_err *err);

/* Take the finished `weir login` of code_hash if younger than max_age_s
 * and its challenge is `challenge`: its user, groups and grants into
 * *out (kind and csrf left empty). WEIR_ENOTFOUND otherwise; a wrong
 * challenge takes it too (a code serves once). */
WEIR_MUSTCHECK int
store_cli_login_take(struct store_conn *c, const char *code_hash,
                     const char *challenge, int64_t max_age_s,
                     struct store_session *out, struct weir_err *err);

#endif
