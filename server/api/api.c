/* SPDX-License-Identifier: Apache-2.0 */
/* The route table, the token check, and the health route. */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/authz.h"
#include "api/oidc.h"
#include "api/sessions_admin.h"
#include "jobs/leader.h"
#include "log.h"
#include "protocol.h"

/* Who leads among several servers (jobs/leader.h): this one or not, its
 * name, the epoch and the latest leader's name as last read. */
static void health_leader(cJSON *o)
{
    struct leader_status st;

    leader_status_get(&st);
    cJSON_AddBoolToObject(o, "leader", st.leader);
    cJSON_AddStringToObject(o, "name", st.name);
    cJSON_AddNumberToObject(o, "leader_epoch", (double)st.epoch);
    cJSON_AddStringToObject(o, "leader_name", st.leader_name);
}

static void api_health(struct http_req *req)
{
    struct api *api = http_req_app(req);
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    cJSON *o = cJSON_CreateObject();
    int rc = store_conn_get(api->store, &c, &err);

    if (rc == 0)
        rc = store_ping(c, &err);
    store_conn_put(c);
    cJSON_AddStringToObject(o, "status", rc == 0 ? "ok" : "degraded");
    cJSON_AddStringToObject(o, "database", rc == 0 ? "ok" : "down");
    cJSON_AddStringToObject(o, "version", WEIR_VERSION);
    health_leader(o);
    if (rc != 0) {
        char q[300];

        /* The database's words go to the log, not to the caller. */
        log_warn("event=health_degraded msg=%s",
                 log_quote(err.msg, q, sizeof(q)));
        cJSON_AddStringToObject(o, "error", "the database cannot be reached");
    }
    http_reply_json(req, rc == 0 ? 200 : 503, o);
}

/* The caller is looked up here, once per request, and kept on the
 * request with its grants (api/authz.c): handlers read its name from
 * there (api_caller()) and ask api_authorize() about their target. */
int api_auth(void *app, struct http_req *req, struct weir_err *err)
{
    struct api *api = app;
    struct store_token *t = malloc(sizeof(*t));
    int rc = t ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");

    /* a worker newer than this server is refused before anything else */
    if (rc == 0 && (rc = protocol_check(
                        http_req_header(req, WEIR_PROTOCOL_HEADER), err)) < 0) {
        char q[300];

        log_warn("event=protocol_refused msg=%s",
                 log_quote(err->msg, q, sizeof(q)));
    }
    if (rc == 0) /* a signed-in session instead of a token (api/oidc.h) */
        rc = oidc_session_caller(api->store, req, t, err);
    if (rc == 0)
        rc = auth_caller(api->store, http_req_header(req, "Authorization"), t,
                         err);
    if (rc == 1)
        rc = 0;
    if (rc < 0) {
        free(t);
        return rc;
    }
    return api_authz_route(req, t, err);
}

const struct store_token *api_caller(const struct http_req *req)
{
    return http_req_caller(req);
}

void api_caller_name(const struct http_req *req, char *buf, size_t len)
{
    const struct store_token *t = api_caller(req);

    snprintf(buf, len, "%s",
             t != NULL && t->name[0] != '\0' ? t->name : "unnamed token");
}

/* Each route's action (api/authz.h; roles and scopes): checked by
 * api_auth() before the handler, which checks its DAG and environment. */
#define ACT(a) API_ACT(GRANT_ACT_##a)

const struct http_route api_routes[] = {
    {"GET", "/api/v1/health", api_health, HTTP_PUBLIC, 0, API_ACT_PUBLIC},
    {"GET", "/api/v1/tokens", api_tokens_list, 0, 0, ACT(ADMIN)},
    {"POST", "/api/v1/tokens", api_token_create, HTTP_JSON_BODY, 0, ACT(ADMIN)},
    {"DELETE", "/api/v1/tokens/{name}", api_token_revoke, 0, 0, ACT(ADMIN)},
    {"POST", "/api/v1/tokens/{name}/revoke", api_token_revoke,
     HTTP_JSON_BODY | HTTP_BODY_OPTIONAL, 0, ACT(ADMIN)},
    {"GET", "/api/v1/dags", api_dags_list, 0, 0, ACT(READ)},
    {"POST", "/api/v1/dags", api_dag_submit, 0, 0, ACT(SUBMIT)},
    {"GET", "/api/v1/dags/{id}", api_dag_get, 0, 0, ACT(READ)},
    {"DELETE", "/api/v1/dags/{id}", api_dag_delete, 0, 0, ACT(DELETE)},
    {"GET", "/api/v1/dags/{id}/versions", api_dag_versions, 0, 0, ACT(READ)},
    {"POST", "/api/v1/dags/{id}/runs", api_run_trigger,
     HTTP_JSON_BODY | HTTP_BODY_OPTIONAL, 0, ACT(TRIGGER)},
    {"GET", "/api/v1/runs", api_runs_list, 0, 0, ACT(READ)},
    {"GET", "/api/v1/runs/{id}", api_run_get, 0, 0, ACT(READ)},
    {"POST", "/api/v1/workers/register", api_worker_register,
     HTTP_JSON_BODY | HTTP_CLIENT_CERT, 0, ACT(WORK)},
    {"POST", "/api/v1/workers/{id}/lease", api_worker_lease,
     HTTP_JSON_BODY | HTTP_BODY_OPTIONAL | HTTP_CLIENT_CERT, 0, ACT(WORK)},
    {"POST", "/api/v1/attempts/{id}/heartbeat", api_attempt_heartbeat,
     HTTP_JSON_BODY | HTTP_CLIENT_CERT, 0, ACT(WORK)},
    {"POST", "/api/v1/attempts/{id}/logs", api_attempt_logs_post,
     HTTP_JSON_BODY | HTTP_ANY_BYTES | HTTP_CLIENT_CERT, 0, ACT(WORK)},
    {"GET", "/api/v1/attempts/{id}/logs", api_attempt_logs_get, 0, 0,
     ACT(READ)},
    {"POST", "/api/v1/attempts/{id}/complete", api_attempt_complete,
     HTTP_JSON_BODY | HTTP_CLIENT_CERT, 0, ACT(WORK)},
    {"POST", "/api/v1/runs/{id}/cancel", api_run_cancel,
     HTTP_JSON_BODY | HTTP_BODY_OPTIONAL, 0, ACT(CANCEL)},
    {"POST", "/api/v1/runs/{id}/retry", api_run_retry,
     HTTP_JSON_BODY | HTTP_BODY_OPTIONAL, 0, ACT(RETRY)},
    {"POST", "/api/v1/runs/{id}/steps/{step}/approve", api_step_approve,
     HTTP_JSON_BODY | HTTP_BODY_OPTIONAL, 0, ACT(APPROVE)},
    {"POST", "/api/v1/runs/{id}/steps/{step}/reject", api_step_reject,
     HTTP_JSON_BODY | HTTP_BODY_OPTIONAL, 0, ACT(APPROVE)},
    {"POST", "/api/v1/dags/{id}/pause", api_dag_pause,
     HTTP_JSON_BODY | HTTP_BODY_OPTIONAL, 0, ACT(PAUSE)},
    {"POST", "/api/v1/dags/{id}/unpause", api_dag_unpause,
     HTTP_JSON_BODY | HTTP_BODY_OPTIONAL, 0, ACT(PAUSE)},
    {"GET", "/api/v1/workers", api_workers_list, 0, 0, ACT(READ)},
    {"GET", "/metrics", api_metrics, 0, 0, ACT(READ)},
    {"GET", "/api/v1/artifacts", api_artifacts_list, 0, 0, ACT(READ)},
    {"GET", "/api/v1/artifacts/{name}", api_artifact_get, 0, 0, ACT(READ)},
    {"POST", "/api/v1/artifacts/{name}/versions/{version}/promote",
     api_artifact_promote, HTTP_JSON_BODY, 0, ACT(PROMOTE)},
    {"POST", "/api/v1/artifacts/{name}/versions/{version}/approve",
     api_artifact_approve, HTTP_JSON_BODY | HTTP_BODY_OPTIONAL, 0,
     ACT(PROMOTE)},
    {"POST", "/api/v1/artifacts/{name}/versions/{version}/reject",
     api_artifact_reject, HTTP_JSON_BODY | HTTP_BODY_OPTIONAL, 0, ACT(PROMOTE)},
    {"GET", "/api/v1/runs/{id}/lineage", api_run_lineage, 0, 0, ACT(READ)},
    /* backfills (api/backfills.c) */
    {"POST", "/api/v1/dags/{id}/backfills", api_backfill_create, HTTP_JSON_BODY,
     0, ACT(TRIGGER)},
    {"GET", "/api/v1/dags/{id}/backfills", api_backfills_list, 0, 0, ACT(READ)},
    {"GET", "/api/v1/backfills/{id}", api_backfill_get, 0, 0, ACT(READ)},
    {"POST", "/api/v1/backfills/{id}/cancel", api_backfill_cancel,
     HTTP_JSON_BODY | HTTP_BODY_OPTIONAL, 0, ACT(CANCEL)},
    /* pools (api/pools.c) */
    {"GET", "/api/v1/pools", api_pools_list, 0, 0, ACT(READ)},
    {"PUT", "/api/v1/pools/{name}", api_pool_put, HTTP_JSON_BODY, 0,
     ACT(ADMIN)},
    {"DELETE", "/api/v1/pools/{name}", api_pool_delete, 0, 0, ACT(ADMIN)},
    /* triggers (api_events.c) */
    {"POST", "/api/v1/events", api_events_post, HTTP_JSON_BODY, EVENTS_BODY_MAX,
     ACT(INGEST)},
    {"GET", "/api/v1/events", api_events_list, 0, 0, ACT(READ)},
    {"POST", "/api/v1/hooks/{dag}/{trigger}", api_hook_post, HTTP_PUBLIC,
     HOOK_BODY_MAX, API_ACT_PUBLIC},
    {"GET", "/api/v1/dags/{id}/triggers", api_dag_triggers, 0, 0, ACT(READ)},
    {"POST", "/api/v1/metrics", api_metric_post, HTTP_JSON_BODY,
     16 * 1024 * 1024, ACT(INGEST)},
    {"GET", "/api/v1/metrics/{name}", api_metric_get, 0, 0, ACT(READ)},
    /* secrets (api/secrets.c): admins only; rotate-key before {name} */
    {"GET", "/api/v1/secrets", api_secrets_list, 0, 0, ACT(ADMIN)},
    {"POST", "/api/v1/secrets/rotate-key", api_secrets_rotate,
     HTTP_JSON_BODY | HTTP_BODY_OPTIONAL, 0, ACT(ADMIN)},
    {"PUT", "/api/v1/secrets/{name}", api_secret_put, 0, 0, ACT(ADMIN)},
    {"POST", "/api/v1/secrets/{name}", api_secret_put, 0, 0, ACT(ADMIN)},
    {"DELETE", "/api/v1/secrets/{name}", api_secret_delete, 0, 0, ACT(ADMIN)},
    /* audit log (api/audit.c); every route that is not a GET is audited */
    {"GET", "/api/v1/audit", api_audit_list, 0, 0, ACT(ADMIN)},
    /* The dashboard: its token's role, the latest runs of every DAG, the
     * runs-by-steps grid, a version's source, its files (last,
     * so that every API path above wins). */
    /* single sign-on (api/oidc.c, api/oidc_session.c): public, each
     * authenticates by itself */
    {"GET", "/auth/config", oidc_config_get, HTTP_PUBLIC, 0, API_ACT_PUBLIC},
    {"GET", "/auth/login", oidc_login, HTTP_PUBLIC, 0, API_ACT_PUBLIC},
    {"GET", "/auth/callback", oidc_callback, HTTP_PUBLIC, 0, API_ACT_PUBLIC},
    {"POST", "/auth/logout", oidc_logout, HTTP_PUBLIC, 0, API_ACT_PUBLIC},
    {"POST", "/auth/cli", oidc_cli_exchange, HTTP_PUBLIC | HTTP_JSON_BODY, 4096,
     API_ACT_PUBLIC},
    /* single sign-on fixes: a `weir login` confirmed (api/oidc_cli.c);
     * sessions listed and ended by admins (api/sessions_admin.c) */
    {"POST", "/auth/cli/confirm", oidc_cli_confirm, HTTP_PUBLIC, 1024,
     API_ACT_PUBLIC},
    {"GET", "/api/v1/sessions", api_sessions_list, 0, 0, ACT(ADMIN)},
    {"DELETE", "/api/v1/sessions/{id}", api_session_end, 0, 0, ACT(ADMIN)},
    {"POST", "/api/v1/sessions/end", api_sessions_end_user, HTTP_JSON_BODY, 0,
     ACT(ADMIN)},
    {"GET", "/api/v1/session", api_session_get, 0, 0, API_ACT_SIGNED_IN},
    {"GET", "/api/v1/recent-runs", api_recent_runs, 0, 0, ACT(READ)},
    {"GET", "/api/v1/dags/{id}/grid", api_dag_grid, 0, 0, ACT(READ)},
    {"GET", "/api/v1/dags/{id}/versions/{version}", api_dag_version_get, 0, 0,
     ACT(READ)},
    {"GET", "/", api_web_get, HTTP_PUBLIC, 0, API_ACT_PUBLIC},
    {"GET", "/{file}", api_web_get, HTTP_PUBLIC, 0, API_ACT_PUBLIC},
};

const size_t api_routes_count = WEIR_ARRAY_LEN(api_routes);

void api_reply_list(struct http_req *req, const char *key, api_list_fn fn)
{
    struct api *api = http_req_app(req);
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    cJSON *list = NULL, *o;
    int rc = store_conn_get(api->store, &c, &err);

    if (rc == 0)
        rc = fn(c, &list, &err);
    store_conn_put(c);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, key, list);
    http_reply_json(req, 200, o);
}

int api_run_id(struct http_req *req, int64_t *id, struct weir_err *err)
{
    *id = api_parse_id(http_req_param(req, "id"));
    if (*id == 0)
        return weir_err_set(err, WEIR_ENOTFOUND, "no run \"%s\"",
                            http_req_param(req, "id"));
    return 0;
}
