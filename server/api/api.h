/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The REST API: the route table, the token check every non-public route
 * goes through, and the handlers (api.c: health; api_tokens.c: tokens;
 * api_dags.c: DAGs; api_runs.c: triggers and run reads; api_workers.c and
 * api_attempts.c: the worker protocol; api_dagsubmit.c: DAGs submitted
 * over the API). A handler is parse, authorize, one engine call (every
 * write goes through engine/engine.h) or one read of the store, reply.
 * The caller's token is looked up once, by api_auth(), and kept on the
 * request (api_caller()).
 */
#ifndef WEIR_API_H
#define WEIR_API_H

#include <stddef.h>

#include "api/auth.h" /* IWYU pragma: export */
#include "engine/engine.h"
#include "http/http.h"
#include "store/read.h" /* reads: the read models, DAGs, versions, tokens */

/* What the handlers share; the app pointer of the HTTP server. */
struct api {
    struct store *store;    /* the database */
    struct dagcache *cache; /* loaded DAG versions */
    struct engine *engine;  /* runs, tasks, attempts */
    const char *web_dir;    /* --web-dir, or NULL: the compiled-in web/ */
};

/* The route table, and its number of entries. */
extern const struct http_route api_routes[];
extern const size_t api_routes_count;

/* The http_auth_fn of the API: a live token, kept on the request with its
 * grants, one of which gives the route's action (api/authz.h). */
WEIR_MUSTCHECK int api_auth(void *app, struct http_req *req,
                            struct weir_err *err);

/* Handlers of api_tokens.c: token management (admins). */
void api_tokens_list(struct http_req *req);
void api_token_create(struct http_req *req);
void api_token_revoke(struct http_req *req);

/* The token of the request, looked up once by api_auth() (borrowed; NULL
 * on a public route). */
const struct store_token *api_caller(const struct http_req *req);

/* Handlers of api_dags.c. */
void api_dags_list(struct http_req *req);
void api_dag_get(struct http_req *req);
void api_dag_versions(struct http_req *req);

/* Handlers of api_dagsubmit.c: DAGs submitted over the API. */
void api_dag_submit(struct http_req *req);
void api_dag_delete(struct http_req *req);

/* The name of the calling token into buf ("unnamed token" for none). */
void api_caller_name(const struct http_req *req, char *buf, size_t len);

/*
 * The caller's groups, for the approval policy's `approvers:` (a signed-in
 * user's groups from single sign-on): *groups (borrowed, valid for the
 * request) and *n. A token has none (NULL, 0) (api/approvals.c).
 */
void api_caller_groups(const struct http_req *req, const char *const **groups,
                       size_t *n);

/* A positive id from a path segment, or 0 when it is not one. */
int64_t api_parse_id(const char *text);

/* A read of the store that makes a JSON list (store/read.h). */
typedef int (*api_list_fn)(struct store_conn *c, cJSON **out,
                           struct weir_err *err);

/* Reply 200 {key: the list fn reads}, or fn's error. */
void api_reply_list(struct http_req *req, const char *key, api_list_fn fn);

/* The run id of the path's {id} into *id; WEIR_ENOTFOUND naming the text
 * when it is not one. */
WEIR_MUSTCHECK int api_run_id(struct http_req *req, int64_t *id,
                              struct weir_err *err);

/* A query argument as a number in [min, max], or def when absent; -1 when
 * present but invalid. */
int64_t api_query_num(struct http_req *req, const char *name, int64_t def,
                      int64_t min, int64_t max);

/* Handlers of api_runs.c. */
void api_run_trigger(struct http_req *req);
void api_runs_list(struct http_req *req);
void api_run_get(struct http_req *req);
void api_attempt_logs_get(struct http_req *req);

/* Only the token that registered a worker may act for it: 0 when the
 * caller's token registered worker `worker` (WEIR_EFORBIDDEN if another
 * did, WEIR_ENOTFOUND if none). */
WEIR_MUSTCHECK int api_worker_owned(struct api *api, struct http_req *req,
                                    int64_t worker, struct weir_err *err);

/* 0 when each of the n existing attempts ids was leased by a worker the
 * caller's token registered; WEIR_EFORBIDDEN otherwise. */
WEIR_MUSTCHECK int api_attempts_owned(struct api *api, struct http_req *req,
                                      const int64_t *ids, size_t n,
                                      struct weir_err *err);

/* Handlers of api_workers.c and api_attempts.c. */
void api_worker_register(struct http_req *req);
void api_worker_lease(struct http_req *req);
void api_attempt_heartbeat(struct http_req *req);
void api_attempt_logs_post(struct http_req *req);
void api_attempt_complete(struct http_req *req);

/* Handlers of api_control.c. */
void api_run_cancel(struct http_req *req);
void api_run_retry(struct http_req *req);
void api_step_approve(struct http_req *req);
void api_step_reject(struct http_req *req);
void api_dag_pause(struct http_req *req);
void api_dag_unpause(struct http_req *req);
void api_workers_list(struct http_req *req);
void api_metrics(struct http_req *req);

/* Handlers of api_artifacts.c: the model registry and run lineage. */
void api_artifacts_list(struct http_req *req);
void api_artifact_get(struct http_req *req);
void api_artifact_promote(struct http_req *req);
void api_artifact_approve(struct http_req *req);
void api_artifact_reject(struct http_req *req);
void api_run_lineage(struct http_req *req);
/* Backfills (api/backfills.c). */
void api_backfill_create(struct http_req *req);
void api_backfills_list(struct http_req *req);
void api_backfill_get(struct http_req *req);
void api_backfill_cancel(struct http_req *req);
/* Pools (api/pools.c). */
void api_pools_list(struct http_req *req);
void api_pool_put(struct http_req *req);
void api_pool_delete(struct http_req *req);
/* Triggers (api_events.c, api_metric.c). */
#define API_BATCH_MAX 10000 /* items of one batch of events or samples */

/* Refuse a member of object o that is not one of keys[0..n), saying
 * where and suggesting a close key (api_body.c). */
WEIR_MUSTCHECK int api_check_keys(const cJSON *o, const char *const *keys,
                                  size_t n, const char *where,
                                  struct weir_err *err);

/* The JSON types a key of a request body may have (a mask), and whether
 * the key is required. */
enum api_type {
    API_STR = 1u << 0,      /* a string */
    API_NUM = 1u << 1,      /* a number */
    API_BOOL = 1u << 2,     /* true or false */
    API_OBJ = 1u << 3,      /* an object */
    API_ARR = 1u << 4,      /* an array */
    API_NULL = 1u << 5,     /* null, which handlers read as absent */
    API_REQUIRED = 1u << 6, /* the key must be there */
};

#define API_KEYS_MAX 32 /* keys of one body */

/* A key a request body may hold. */
struct api_key {
    const char *name; /* as spelled in the body */
    unsigned types;   /* enum api_type bits */
};

/*
 * Check body b (NULL: an optional body left empty) against keys[0..n):
 * b is an object, each member is one of keys (an unknown one is refused
 * with the closest known key as a suggestion), of one of its types, and
 * each required key is there. Messages start with where ("trigger body").
 * WEIR_EINVAL (a 400) on the first problem.
 */
WEIR_MUSTCHECK int api_body_check(const cJSON *b, const struct api_key *keys,
                                  size_t n, const char *where,
                                  struct weir_err *err);

/* "a string", "a number", "a bool", "a list", "an object" or "null". */
const char *api_json_type_name(const cJSON *v);

/* Items in body b: 1 for a single object, or the length of b's only
 * member `key` (an array of 1 to API_BATCH_MAX items). */
WEIR_MUSTCHECK int api_batch_size(const cJSON *b, const char *key, size_t *n,
                                  struct weir_err *err);

void api_events_post(struct http_req *req);
void api_events_list(struct http_req *req);
void api_hook_post(struct http_req *req);
void api_dag_triggers(struct http_req *req);
void api_metric_post(struct http_req *req);
void api_metric_get(struct http_req *req);
/* Secrets (api/secrets.c). */
void api_secrets_list(struct http_req *req);
void api_secret_put(struct http_req *req);
void api_secret_delete(struct http_req *req);
void api_secrets_rotate(struct http_req *req);
/* Handlers of api_web.c (the dashboard's files) and api_grid.c. */
void api_web_get(struct http_req *req);
void api_session_get(struct http_req *req);
void api_dag_grid(struct http_req *req);
void api_dag_version_get(struct http_req *req);
void api_recent_runs(struct http_req *req);

/* The audit log (api/audit.c): whether a route's requests are audited
 * (every method but GET and HEAD, the worker protocol aside, and the
 * single sign-on callback, a GET that signs in); the HTTP observer that
 * records them; the DAG a request turned out to concern (a submission
 * names it in its body); who a public route turned out to serve (a
 * sign-in, a sign-out: the user and the grants, JSON text); GET
 * /api/v1/audit (admins). */
bool api_audit_route(const struct http_route *r);
void api_audit_observe(void *app, struct http_req *req,
                       enum http_observe_phase phase);
void api_audit_note_dag(struct http_req *req, const char *dag);
void api_audit_note_actor(struct http_req *req, const char *actor,
                          const char *grants);
void api_audit_hold(struct http_req *req, bool hold);
void api_audit_list(struct http_req *req);

#endif
