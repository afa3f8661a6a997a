/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sessions of single sign-on, for admins (docs/security.md, "Single
 * sign-on (OpenID Connect)"):
 *
 *   GET    /api/v1/sessions       -> {sessions: [{id, user, kind,
 *          created_at, last_seen_at, idle_expires_at, expires_at, grants,
 *          groups}]}: the live ones; never a session secret
 *   DELETE /api/v1/sessions/{id}  end one (id: its number in the list)
 *   POST   /api/v1/sessions/end   {"user": NAME} -> {user, ended: N}: end
 *          all of a user's sessions (and its uncollected `weir login`s)
 *
 * An ended session is refused at its next request: a user removed from a
 * group at the provider loses its grants now, not at --session-max.
 */
#ifndef WEIR_API_SESSIONS_ADMIN_H
#define WEIR_API_SESSIONS_ADMIN_H

#include "http/http.h"

void api_sessions_list(struct http_req *req);
void api_session_end(struct http_req *req);
void api_sessions_end_user(struct http_req *req);

#endif
