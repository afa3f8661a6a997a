/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of the sessions' administration (docs/security.md, "Single sign-on
 * (OpenID Connect)"): the live sessions listed without their secrets,
 * ended one by one or all of a user's; and a sign-in under way recorded
 * only while fewer than a cap are.
 */
#ifndef WEIR_STORE_SESSIONS_ADMIN_H
#define WEIR_STORE_SESSIONS_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "store/pool.h"
#include "store/sessions.h"

/* The live sessions as a JSON array into *out: id (sessions.id), user,
 * kind, created_at, last_seen_at, idle_expires_at, expires_at, grants,
 * groups; never the hash nor the CSRF token. */
WEIR_MUSTCHECK int store_sessions_list(struct store_conn *c, cJSON **out,
                                       struct weir_err *err);

/* Delete session id; WEIR_ENOTFOUND when there is none. */
WEIR_MUSTCHECK int store_session_end_id(struct store_conn *c, int64_t id,
                                        struct weir_err *err);

/* Delete every session of user (and its parked `weir login` sign-ins);
 * how many sessions into *n. */
WEIR_MUSTCHECK int store_sessions_end_user(struct store_conn *c,
                                           const char *user, int64_t *n,
                                           struct weir_err *err);

/* store_oidc_login_insert() when fewer than cap sign-ins younger than
 * max_age_s are under way; otherwise nothing is written and *full is set. */
WEIR_MUSTCHECK int
store_oidc_login_insert_capped(struct store_conn *c, const char *state_hash,
                               const struct store_oidc_login *l,
                               int64_t max_age_s, int64_t cap, bool *full,
                               struct weir_err *err);

#endif
