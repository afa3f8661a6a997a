/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one authorization point of the API: the caller's grants kept on the
 * request, each route's action checked before its handler, and the checks
 * of a handler's target (a DAG, a run, an environment) with the missing
 * grant named. The rules are in api/authz.h and docs/security.md.
 */
#include "api/authz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "log.h"

/* What api_auth() keeps on a request: the token first, so that
 * api_caller() reads it as a struct store_token. */
struct authz_caller {
    struct store_token tok;  /* the live token */
    struct grant_set grants; /* its grants, parsed once */
};

static const struct grant_set no_grants; /* a public route's caller */

int api_routes_check(const struct http_route *routes, size_t n,
                     struct weir_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct http_route *r = &routes[i];
        bool pub = (r->flags & HTTP_PUBLIC) != 0;
        bool known =
            r->action == API_ACT_SIGNED_IN ||
            (r->action >= API_ACT(0) && r->action < API_ACT(GRANT_ACTIONS));

        if (pub != (r->action == API_ACT_PUBLIC) || (!pub && !known))
            return weir_err_set(err, WEIR_EINVAL,
                                "route %s %s declares no valid action "
                                "(server/api/api.c)",
                                r->method, r->pattern);
    }
    return 0;
}

/* The refusal of a route whose action a no grant of s gives anywhere:
 * the roles that give it, whatever their scopes (the handler checks
 * those against its DAG and environment). */
static int route_refusal(const struct grant_set *s, enum grant_action a,
                         struct weir_err *err)
{
    char roles[80] = "", has[1024];
    size_t used = 0;

    for (int r = GRANT_ROLES - 1; r >= 0 && used < sizeof(roles); r--)
        if (grant_role_allows((enum grant_role)r, a))
            used += (size_t)snprintf(roles + used, sizeof(roles) - used, "%s%s",
                                     used ? " or " : "",
                                     grant_role_name((enum grant_role)r));
    grant_set_format(s, has, sizeof(has));
    return weir_err_set(err, WEIR_EFORBIDDEN,
                        "not allowed to %s: that needs a grant of %s (for "
                        "this DAG and environment); this caller has %s",
                        grant_action_name(a), roles, has[0] ? has : "no grant");
}

int api_authz_route(struct http_req *req, struct store_token *t,
                    struct weir_err *err)
{
    struct authz_caller *c = malloc(sizeof(*c));
    unsigned act = http_req_action(req);
    cJSON *arr;
    int rc;

    if (c == NULL) {
        free(t);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    c->tok = *t;
    free(t);
    c->grants.n = 0;
    arr = cJSON_Parse(c->tok.grants);
    rc = arr != NULL ? grant_set_from_json(arr, &c->grants, err)
                     : weir_err_set(err, WEIR_EINVAL, "unreadable grants");
    cJSON_Delete(arr);
    if (rc < 0) {
        char q[300];

        /* A stored grant this server cannot read: the caller gets a
         * general word, the log the detail. */
        log_error("event=token_grants_unreadable token=%lld msg=%s",
                  (long long)c->tok.id, log_quote(err->msg, q, sizeof(q)));
        free(c);
        return weir_err_set(err, WEIR_EINTERNAL,
                            "this token's grants cannot be read");
    }
    http_req_caller_set(req, c, free);
    if (act == API_ACT_SIGNED_IN)
        return 0;
    if (act < API_ACT(0) || act >= API_ACT(GRANT_ACTIONS))
        return weir_err_set(err, WEIR_EFORBIDDEN, "this route allows no one");
    /* tokens and pools, events and metrics, the worker protocol name no
     * DAG: a grant must cover them whole; other actions are checked on
     * their target by the handler */
    if (act != API_ACT(GRANT_ACT_ADMIN) && act != API_ACT(GRANT_ACT_INGEST) &&
        act != API_ACT(GRANT_ACT_WORK) &&
        grant_set_any(&c->grants, (enum grant_action)(act - API_ACT(0))))
        return 0;
    if (act == API_ACT(GRANT_ACT_ADMIN) || act == API_ACT(GRANT_ACT_INGEST) ||
        act == API_ACT(GRANT_ACT_WORK))
        /* the message of the set names the grant that would do */
        return grant_set_allows(
            &c->grants, (enum grant_action)(act - API_ACT(0)), NULL, NULL, err);
    return route_refusal(&c->grants, (enum grant_action)(act - API_ACT(0)),
                         err);
}

const struct grant_set *api_caller_grants(const struct http_req *req)
{
    const struct authz_caller *c = http_req_caller(req);

    return c != NULL ? &c->grants : &no_grants;
}

int api_authorize(struct http_req *req, enum grant_action a, const char *dag,
                  const char *env, struct weir_err *err)
{
    return grant_set_allows(api_caller_grants(req), a, dag, env, err);
}

bool api_may_read(const struct http_req *req, const char *dag, const char *env)
{
    const struct grant_set *s = api_caller_grants(req);

    for (size_t i = 0; i < s->n; i++)
        if (grant_allows(&s->g[i], GRANT_ACT_READ, dag, env))
            return true;
    return false;
}

/* Whether comma-separated patterns list matches id ("" matches all). */
static bool patterns_match(const char *list, const char *id)
{
    const char *p = list;

    if (*list == '\0')
        return true;
    while (*p) {
        size_t n = strcspn(p, ",");
        char pat[GRANT_SCOPE_LEN];

        snprintf(pat, sizeof(pat), "%.*s", (int)n, p);
        if (grant_pattern_match(pat, id))
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

bool api_may_read_dag(const struct http_req *req, const char *dag)
{
    const struct grant_set *s = api_caller_grants(req);

    for (size_t i = 0; i < s->n; i++)
        if (grant_role_allows(s->g[i].role, GRANT_ACT_READ) &&
            patterns_match(s->g[i].dags, dag))
            return true;
    return false;
}

int api_authorize_dag_read(struct http_req *req, const char *dag,
                           struct weir_err *err)
{
    if (api_may_read_dag(req, dag))
        return 0;
    return api_authorize(req, GRANT_ACT_READ, dag, NULL, err);
}

int api_authorize_scope(struct http_req *req, enum grant_action a,
                        const struct store_scope *s, const char *what,
                        struct weir_err *err)
{
    const char *env = s->has_env ? s->env : NULL;

    /* what the caller cannot see does not exist for it; an action on a
     * run of a DAG it sees, in an environment it may not touch, is a
     * refusal that names the grant */
    if (!api_may_read(req, s->dag, env) &&
        (a == GRANT_ACT_READ || !api_may_read_dag(req, s->dag)))
        return weir_err_set(err, WEIR_ENOTFOUND, "%s", what);
    return api_authorize(req, a, s->dag, env, err);
}

/* Whether the caller may do a and read anywhere: nothing to look up. */
static bool unscoped(const struct http_req *req, enum grant_action a)
{
    const struct grant_set *s = api_caller_grants(req);
    bool act = false, read = false;

    for (size_t i = 0; i < s->n; i++) {
        act = act || grant_allows(&s->g[i], a, NULL, NULL);
        read = read || grant_allows(&s->g[i], GRANT_ACT_READ, NULL, NULL);
    }
    return act && read;
}

/* The scope lookup each api_authorize_*() by id shares. */
typedef int (*scope_fn)(struct store_conn *c, int64_t id,
                        struct store_scope *out, struct weir_err *err);

static int authorize_by_id(struct http_req *req, enum grant_action a,
                           int64_t id, scope_fn fn, const char *kind,
                           struct weir_err *err)
{
    struct api *api = http_req_app(req);
    struct store_scope s = {0};
    struct store_conn *c = NULL;
    char what[64];
    int rc;

    if (unscoped(req, a))
        return 0; /* no lookup: the handler says when there is none */
    rc = store_conn_get(api->store, &c, err);

    if (rc == 0)
        rc = fn(c, id, &s, err);
    store_conn_put(c);
    snprintf(what, sizeof(what), "no %s %lld", kind, (long long)id);
    return rc == 0 ? api_authorize_scope(req, a, &s, what, err) : rc;
}

int api_authorize_run(struct http_req *req, enum grant_action a, int64_t run_id,
                      struct weir_err *err)
{
    return authorize_by_id(req, a, run_id, store_run_scope, "run", err);
}

int api_authorize_attempt(struct http_req *req, enum grant_action a,
                          int64_t attempt_id, struct weir_err *err)
{
    return authorize_by_id(req, a, attempt_id, store_attempt_scope, "attempt",
                           err);
}

int api_authorize_backfill(struct http_req *req, enum grant_action a,
                           int64_t backfill_id, struct weir_err *err)
{
    struct api *api = http_req_app(req);
    struct store_scope s = {0};
    struct store_conn *c = NULL;
    int rc = store_conn_get(api->store, &c, err);

    if (rc == 0)
        rc = store_backfill_scope(c, backfill_id, &s, err);
    store_conn_put(c);
    /* a backfill names no environment: a read grant with no env= limit */
    if (rc == 0 && !api_may_read(req, s.dag, NULL))
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no backfill %lld",
                          (long long)backfill_id);
    return rc == 0 ? api_authorize(req, a, s.dag, NULL, err) : rc;
}

int api_authorize_artifact(struct http_req *req, enum grant_action a,
                           const char *name, const char *version,
                           const char *env, struct weir_err *err)
{
    struct api *api = http_req_app(req);
    struct store_scope s = {0};
    struct store_conn *c = NULL;
    int rc = store_conn_get(api->store, &c, err);

    if (rc == 0)
        rc = store_artifact_scope(c, name, version, &s, err);
    store_conn_put(c);
    /* hidden or missing: one answer, so that it tells nothing; as
     * api_authorize_scope(), a version of a DAG the caller reads in some
     * environment is seen (an action on it is refused, naming the grant),
     * and a promotion may also see it through the stage it goes to */
    if ((rc == 0 && !api_may_read(req, s.dag, s.has_env ? s.env : NULL) &&
         !api_may_read_dag(req, s.dag) &&
         (env == NULL || !api_may_read(req, s.dag, env))) ||
        rc == WEIR_ENOTFOUND)
        rc = weir_err_set(err, WEIR_ENOTFOUND,
                          "no version \"%.128s\" of artifact \"%.128s\"",
                          version, name);
    return rc == 0 ? api_authorize(req, a, s.dag, env, err) : rc;
}

int api_authorize_trigger(struct http_req *req, const char *dag,
                          const char *env, struct weir_err *err)
{
    struct api *api = http_req_app(req);
    struct store_dag row = {0};
    struct store_conn *c = NULL;
    const struct dag *d = NULL;
    char def[128] = "";
    int rc;

    if (env == NULL) {
        /* the environment the run will get: the DAG's default */
        rc = store_conn_get(api->store, &c, err);
        if (rc == 0 && store_dag_get(c, dag, &row, err) == 0 &&
            row.version_id > 0)
            d = engine_dag(api->cache, c, row.version_id);
        if (d != NULL && d->environment != NULL)
            snprintf(def, sizeof(def), "%s", d->environment);
        if (d != NULL)
            dagcache_release(api->cache, d);
        store_conn_put(c);
        store_dag_cleanup(&row);
        env = def;
    }
    return api_authorize(req, GRANT_ACT_TRIGGER, dag, env, err);
}

int api_read_scope(const struct http_req *req, char **out, struct weir_err *err)
{
    const struct grant_set *s = api_caller_grants(req);
    cJSON *scope;

    *out = NULL;
    for (size_t i = 0; i < s->n; i++)
        if (grant_role_allows(s->g[i].role, GRANT_ACT_READ) &&
            s->g[i].dags[0] == '\0' && s->g[i].envs[0] == '\0')
            return 0; /* reads everything: no filter */
    scope = grant_set_scope_sql(s, GRANT_ACT_READ);
    if (scope != NULL)
        *out = cJSON_PrintUnformatted(scope);
    cJSON_Delete(scope);
    return *out != NULL ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");
}

void api_filter_readable(const struct http_req *req, cJSON *arr,
                         const char *dag_key, const char *env_key)
{
    cJSON *e = arr != NULL ? arr->child : NULL;

    while (e != NULL) {
        cJSON *next = e->next;
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, dag_key);
        const cJSON *v = env_key != NULL
                             ? cJSON_GetObjectItemCaseSensitive(e, env_key)
                             : NULL;
        const char *dag = cJSON_IsString(d) ? d->valuestring : NULL;
        const char *env = cJSON_IsString(v) ? v->valuestring : NULL;
        bool ok = env_key != NULL ? api_may_read(req, dag, env)
                                  : dag != NULL && api_may_read_dag(req, dag);

        if (!ok)
            cJSON_Delete(cJSON_DetachItemViaPointer(arr, e));
        e = next;
    }
}

void api_session_add(const struct http_req *req, cJSON *o)
{
    const struct grant_set *s = api_caller_grants(req);
    cJSON *texts = grant_set_texts(s);
    cJSON *scopes = NULL, *can = NULL;

    if (texts != NULL && !cJSON_AddItemToObject(o, "grants", texts))
        cJSON_Delete(texts);
    scopes = cJSON_AddArrayToObject(o, "scopes");
    can = cJSON_AddObjectToObject(o, "can");
    for (size_t i = 0; scopes != NULL && i < s->n; i++) {
        cJSON *g = grant_to_json(&s->g[i]);
        cJSON *acts = cJSON_AddArrayToObject(g, "actions");

        for (int a = 0; acts != NULL && a < GRANT_ACTIONS; a++)
            if (grant_role_allows(s->g[i].role, (enum grant_action)a))
                cJSON_AddItemToArray(acts, cJSON_CreateString(grant_action_name(
                                               (enum grant_action)a)));
        cJSON_AddItemToArray(scopes, g);
    }
    for (int a = 0; can != NULL && a < GRANT_ACTIONS; a++)
        cJSON_AddBoolToObject(can, grant_action_name((enum grant_action)a),
                              grant_set_any(s, (enum grant_action)a));
}

/* Scope grant g to queues (a JSON array of names): g's text with
 * ":queues=a,b" appended, parsed again so that the names are checked as
 * any grant's are. */
static int grant_add_queues(struct grant *g, const cJSON *queues,
                            struct weir_err *err)
{
    char text[GRANT_TEXT_LEN + GRANT_SCOPE_LEN + 16];
    size_t len;
    const cJSON *q;
    const char *sep = ":queues=";

    if (!cJSON_IsArray(queues) || cJSON_GetArraySize(queues) == 0)
        return weir_err_set(err, WEIR_EINVAL,
                            "\"queues\" must be a list of queue names");
    grant_format(g, text, sizeof(text));
    cJSON_ArrayForEach(q, queues)
    {
        if (!cJSON_IsString(q))
            return weir_err_set(err, WEIR_EINVAL,
                                "\"queues\" must be a list of queue names");
        len = strlen(text);
        if (snprintf(text + len, sizeof(text) - len, "%s%s", sep,
                     q->valuestring) >= (int)(sizeof(text) - len))
            return weir_err_set(err, WEIR_EINVAL, "\"queues\" is too long");
        sep = ",";
    }
    return grant_parse(text, g, err);
}

int api_token_grants(const char *role, const cJSON *queues, const cJSON *grants,
                     struct grant_set *out, struct weir_err *err)
{
    struct grant_set s = {0};
    bool has_q = queues != NULL && !cJSON_IsNull(queues);
    char *qtext = NULL;
    int rc = 0;

    /* the names and their length checked as a token's queues always
     * were */
    if (has_q && engine_token_queues(queues, "worker", &qtext, err) < 0)
        return WEIR_EINVAL;
    cJSON_free(qtext);

    if (role != NULL) {
        struct grant g = {0};

        rc = grant_parse(role, &g, err);
        if (rc == 0 && strchr(role, ':') != NULL)
            rc = weir_err_set(err, WEIR_EINVAL,
                              "\"role\" is a role name; scopes go in "
                              "\"grants\"");
        if (rc == 0)
            rc = grant_set_add(&s, &g, err);
        if (rc < 0)
            return rc;
    }
    if (grants != NULL && !cJSON_IsNull(grants)) {
        struct grant_set more = {0};

        rc = grant_set_from_json(grants, &more, err);
        for (size_t i = 0; rc == 0 && i < more.n; i++)
            rc = grant_set_add(&s, &more.g[i], err);
        if (rc < 0)
            return weir_err_set(err, WEIR_EINVAL, "\"grants\": %s", err->msg);
    }
    if (s.n == 0)
        return weir_err_set(err, WEIR_EINVAL,
                            "a token needs a \"role\" or \"grants\"");
    for (size_t i = 0; has_q && i < s.n; i++) {
        if (s.g[i].role != GRANT_WORKER || s.g[i].queues[0] != '\0')
            continue;
        if (grant_add_queues(&s.g[i], queues, err) < 0)
            return weir_err_set(err, WEIR_EINVAL, "\"queues\": %s", err->msg);
        has_q = false;
    }
    if (has_q)
        return weir_err_set(err, WEIR_EINVAL,
                            "queues are for worker tokens; this "
                            "one has no worker grant without queues to "
                            "scope");
    *out = s;
    return 0;
}

/* The queues of s's worker grants as a JSON array into *out (NULL: any
 * queue, when a worker grant has no queues scope or there is none). */
static int worker_queues(const struct grant_set *s, char **out,
                         struct weir_err *err)
{
    cJSON *a = cJSON_CreateArray();
    bool any = true;

    *out = NULL;
    for (size_t i = 0; a != NULL && i < s->n; i++) {
        const char *p = s->g[i].queues;

        if (s->g[i].role != GRANT_WORKER)
            continue;
        any = *p == '\0';
        if (any)
            break;
        while (*p) {
            size_t n = strcspn(p, ",");
            char q[GRANT_SCOPE_LEN];

            snprintf(q, sizeof(q), "%.*s", (int)n, p);
            cJSON_AddItemToArray(a, cJSON_CreateString(q));
            p += n + (p[n] == ',');
        }
    }
    if (a != NULL && !any)
        *out = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    if (a == NULL || (!any && *out == NULL))
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    if (*out != NULL && strlen(*out) >= STORE_TOKEN_QUEUES_LEN) {
        cJSON_free(*out);
        *out = NULL;
        return weir_err_set(err, WEIR_EINVAL, "too many queues");
    }
    return 0;
}

/* The length of compact JSON text as PostgreSQL prints it back (jsonb
 * to text: ", " between elements and ": " after keys), the form a
 * token's grants are read in. */
static size_t stored_len(const char *json)
{
    size_t n = 0;
    bool in_str = false;

    for (const char *p = json; *p; p++, n++) {
        if (in_str && *p == '\\' && p[1] != '\0') {
            p++;
            n++;
        } else if (*p == '"') {
            in_str = !in_str;
        } else if (!in_str && (*p == ',' || *p == ':')) {
            n++;
        }
    }
    return n;
}

int api_token_spec_grants(const struct grant_set *s,
                          struct engine_token_spec *spec, char **queues,
                          char **grants, struct weir_err *err)
{
    cJSON *j = grant_set_to_json(s);
    int rc;

    *grants = j != NULL ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (*grants == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    if (stored_len(*grants) >= STORE_TOKEN_GRANTS_LEN) {
        size_t n = stored_len(*grants);

        cJSON_free(*grants);
        *grants = NULL;
        return weir_err_set(err, WEIR_EINVAL,
                            "the grants are too long: %zu bytes as stored, "
                            "at most %d",
                            n, STORE_TOKEN_GRANTS_LEN - 1);
    }
    rc = worker_queues(s, queues, err);
    if (rc < 0) {
        cJSON_free(*grants);
        *grants = NULL;
        return rc;
    }
    spec->role = grant_role_name(s->g[0].role);
    spec->queues = *queues;
    spec->grants = *grants;
    return 0;
}
