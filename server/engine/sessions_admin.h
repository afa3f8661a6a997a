/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sessions' administration (GET /api/v1/sessions, DELETE
 * /api/v1/sessions/{id}, POST /api/v1/sessions/end) and the cap of
 * sign-ins under way. Each call takes a connection of the pool for its
 * length.
 */
#ifndef WEIR_ENGINE_SESSIONS_ADMIN_H
#define WEIR_ENGINE_SESSIONS_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "store/sessions.h" /* types only; SQL stays in store/ */

struct store;

/* The live sessions (store/sessions_admin.h) into *out. */
WEIR_MUSTCHECK int engine_sessions_list(struct store *st, cJSON **out,
                                        struct weir_err *err);

/* End session id (sessions.id); WEIR_ENOTFOUND when it is not live. */
WEIR_MUSTCHECK int engine_session_end(struct store *st, int64_t id,
                                      struct weir_err *err);

/* End every session of user; how many into *n. */
WEIR_MUSTCHECK int engine_sessions_end_user(struct store *st, const char *user,
                                            int64_t *n, struct weir_err *err);

/* Record a sign-in under way under state (stored as its SHA-256) while
 * fewer than cap sign-ins are under way; otherwise *full is set and
 * nothing is recorded. */
WEIR_MUSTCHECK int
engine_oidc_login_begin_capped(struct store *st, const char *state,
                               const struct store_oidc_login *l, int64_t cap,
                               bool *full, struct weir_err *err);

#endif
