/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sessions of single sign-on and the sign-ins that make them: random ids
 * made here (getrandom), kept in the database only as their SHA-256.
 * Each call takes a connection of the pool for its length.
 */
#ifndef WEIR_ENGINE_SESSIONS_H
#define WEIR_ENGINE_SESSIONS_H

#include <stdint.h>

#include "store/sessions.h" /* types only; SQL stays in store/ */

#define SESSION_HEX_LEN 64 /* hex characters of an id, a csrf token, ... */

/* 32 random bytes as 64 hex characters and a NUL into out. */
WEIR_MUSTCHECK int session_random_hex(char out[SESSION_HEX_LEN + 1],
                                      struct weir_err *err);

/* A new session for s (its hash and csrf made here): its id (the cookie
 * or the CLI's secret, never stored) into id, its CSRF token into csrf. */
WEIR_MUSTCHECK int engine_session_create(struct store *st,
                                         struct store_session_new *s,
                                         char id[SESSION_HEX_LEN + 1],
                                         char csrf[SESSION_HEX_LEN + 1],
                                         struct weir_err *err);

/* The live session whose id is id into *out (WEIR_ENOTFOUND: none). */
WEIR_MUSTCHECK int engine_session_lookup(struct store *st, const char *id,
                                         struct store_session *out,
                                         struct weir_err *err);

/* End the session whose id is id (no error when there is none). */
WEIR_MUSTCHECK int engine_session_delete(struct store *st, const char *id,
                                         struct weir_err *err);

/* Take the sign-in of state (once; WEIR_ENOTFOUND when unknown, used or
 * too old). */
WEIR_MUSTCHECK int engine_oidc_login_take(struct store *st, const char *state,
                                          struct store_oidc_login *out,
                                          struct weir_err *err);

/* Park a finished `weir login` (s->csrf holds the CLI's challenge) under
 * a new one-time code, into code. */
WEIR_MUSTCHECK int engine_cli_login_put(struct store *st,
                                        const struct store_session_new *s,
                                        char code[SESSION_HEX_LEN + 1],
                                        struct weir_err *err);

/* Take the parked `weir login` of code whose challenge is the SHA-256 of
 * secret: who signed in into *out. */
WEIR_MUSTCHECK int engine_cli_login_take(struct store *st, const char *code,
                                         const char *secret,
                                         struct store_session *out,
                                         struct weir_err *err);

#endif
