/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one authorization point of the API (docs/security.md, "Access
 * model: roles and scopes"). Every route of the table declares its action
 * (API_ACT()); api_auth() loads the caller's grants once and refuses a
 * route whose action no grant gives anywhere; a handler that touches a
 * DAG, a run or an environment then asks api_authorize() (or one of the
 * api_authorize_*() that look the target up) with the DAG and the
 * environment involved; listings show only what the caller may read
 * (api_read_scope() for the paged ones, filtered in SQL; api_may_read_dag()
 * for the others).
 *
 * A target the caller may not even read (a run, an attempt, a backfill,
 * an artifact version found by id) is answered 404 as if it did not
 * exist; one it may read but not act on is 403 naming the missing grant.
 * A DAG is named by the caller, so a refusal there says nothing it did
 * not know: 403.
 */
#ifndef WEIR_API_AUTHZ_H
#define WEIR_API_AUTHZ_H

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "api/grant.h"
#include "engine/engine.h"
#include "err.h"
#include "http/http.h"
#include "store/read.h"

/* The action field of a route: a grant action, or one of the two below.
 * 0 (no action) is refused at start and at every request. */
#define API_ACT(a)        ((unsigned)(a) + 1u)
#define API_ACT_PUBLIC    1000u /* with HTTP_PUBLIC: no token, no grant */
#define API_ACT_SIGNED_IN 1001u /* any live token (the session route) */

/*
 * Every route of routes[0..n) declares an action, and a public route the
 * public one (and only it): 0, or WEIR_EINVAL naming the first route that
 * does not (the server refuses to start).
 */
WEIR_MUSTCHECK int api_routes_check(const struct http_route *routes, size_t n,
                                    struct weir_err *err);

/*
 * Keep a copy of token t (taken: freed here) and its grants on req as the
 * caller, then check the route's action: WEIR_EFORBIDDEN naming the
 * missing grant when no grant gives it anywhere (or, for actions that
 * name no DAG: tokens, pools, events, metrics, the worker protocol, when
 * no grant gives it whole).
 */
WEIR_MUSTCHECK int api_authz_route(struct http_req *req, struct store_token *t,
                                   struct weir_err *err);

/* The grants of the caller (borrowed; an empty set on a public route). */
const struct grant_set *api_caller_grants(const struct http_req *req);

/* 0 when the caller may do a on dag (NULL: no one DAG) in env (NULL: no
 * one environment); WEIR_EFORBIDDEN naming the missing grant otherwise. */
WEIR_MUSTCHECK int api_authorize(struct http_req *req, enum grant_action a,
                                 const char *dag, const char *env,
                                 struct weir_err *err);

/* api_authorize() on a looked-up target s: WEIR_ENOTFOUND with what (such
 * as "no run 12") when the caller may not read it, else api_authorize()
 * of a. */
WEIR_MUSTCHECK int api_authorize_scope(struct http_req *req,
                                       enum grant_action a,
                                       const struct store_scope *s,
                                       const char *what, struct weir_err *err);

/* api_authorize_scope() of run run_id, attempt attempt_id, backfill
 * backfill_id; WEIR_ENOTFOUND also when there is none. */
WEIR_MUSTCHECK int api_authorize_run(struct http_req *req, enum grant_action a,
                                     int64_t run_id, struct weir_err *err);
WEIR_MUSTCHECK int api_authorize_attempt(struct http_req *req,
                                         enum grant_action a,
                                         int64_t attempt_id,
                                         struct weir_err *err);
WEIR_MUSTCHECK int api_authorize_backfill(struct http_req *req,
                                          enum grant_action a,
                                          int64_t backfill_id,
                                          struct weir_err *err);

/* a on version of artifact name, made by a run of DAG D: read it (404
 * otherwise), then a on D in environment env (the stage it goes to). */
WEIR_MUSTCHECK int api_authorize_artifact(struct http_req *req,
                                          enum grant_action a, const char *name,
                                          const char *version, const char *env,
                                          struct weir_err *err);

/* Trigger of DAG dag in env, or, env NULL, in the environment of the
 * DAG's current version (none when it has none or is unknown). */
WEIR_MUSTCHECK int api_authorize_trigger(struct http_req *req, const char *dag,
                                         const char *env, struct weir_err *err);

/* Whether the caller may read DAG dag: some grant that gives read covers
 * its id (environments aside: a DAG's definition belongs to no one
 * environment). */
bool api_may_read_dag(const struct http_req *req, const char *dag);

/* 0 when api_may_read_dag(); WEIR_EFORBIDDEN naming the missing grant
 * otherwise. */
WEIR_MUSTCHECK int api_authorize_dag_read(struct http_req *req, const char *dag,
                                          struct weir_err *err);

/* Whether the caller may read a row of dag in env (NULL: none). */
bool api_may_read(const struct http_req *req, const char *dag, const char *env);

/*
 * The caller's read scope for a listing filtered in SQL
 * (weir_scope_ok(), migrations/0023) into *out, a new string to free()
 * or NULL when the caller may read everything. WEIR_ENOMEM otherwise.
 */
WEIR_MUSTCHECK int api_read_scope(const struct http_req *req, char **out,
                                  struct weir_err *err);

/* Drop from array arr (of objects) each element whose dag_key and env_key
 * members the caller may not read. */
void api_filter_readable(const struct http_req *req, cJSON *arr,
                         const char *dag_key, const char *env_key);

/* Add to o what the caller may do: "grants" (texts), "scopes" (each grant
 * as grant_to_json() with the "actions" its role gives, for the dashboard
 * to decide per DAG and environment) and "can" {ACTION: whether some
 * grant gives it anywhere}. */
void api_session_add(const struct http_req *req, cJSON *o);

/*
 * The grants of a new token: an unscoped grant of role (when not NULL;
 * with queues, a JSON array, as its queues scope for a worker), then
 * grants (a JSON array of texts or objects, or NULL). queues without a
 * worker grant to scope is an error; so is no grant at all. *out gets the
 * set; WEIR_EINVAL says what is wrong.
 */
WEIR_MUSTCHECK int api_token_grants(const char *role, const cJSON *queues,
                                    const cJSON *grants, struct grant_set *out,
                                    struct weir_err *err);

/*
 * Fill spec's role (the first grant's), queues (the worker grants' queue
 * scopes, NULL when one has none) and grants (JSON) from s; *queues and
 * *grants get the new texts they point to (free both with cJSON_free(),
 * also on failure). WEIR_EINVAL when they do not fit the token's row.
 */
WEIR_MUSTCHECK int api_token_spec_grants(const struct grant_set *s,
                                         struct engine_token_spec *spec,
                                         char **queues, char **grants,
                                         struct weir_err *err);

#endif
