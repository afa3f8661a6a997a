/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of the api_tokens table: tokens are looked up by their SHA-256, a
 * live token is one neither revoked nor expired, and a worker is bound to
 * the token that registered it.
 */
#include "store/tokens.h"

#include <stdio.h>
#include <string.h>

#include "store/query.h"
#include "store/read.h"

#define XSTR(x) #x
#define STR(x)  XSTR(x)

/* A token that may be used now. */
#define LIVE "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())"

int store_token_insert(struct store_conn *c, const struct store_token_new *t,
                       struct weir_err *err)
{
    char expires[WEIR_I64_LEN];
    const char *params[6] = {t->hash, t->role,   t->name ? t->name : "",
                             NULL,    t->queues, t->grants};
    int rc;

    if (t->expires_s > 0) {
        WEIR_I64(expires, t->expires_s);
        params[3] = expires;
    }
    rc =
        store_cmd(c,
                  "INSERT INTO api_tokens (hash, role, name, expires_at,"
                  " queues, grants) VALUES ($1, $2, $3, now() +"
                  " make_interval(secs => $4::bigint), CASE WHEN $5::jsonb"
                  " IS NULL THEN NULL ELSE ARRAY(SELECT"
                  " jsonb_array_elements_text($5::jsonb)) END,"
                  " coalesce($6::jsonb, jsonb_build_array(CASE WHEN"
                  " $5::jsonb IS NULL THEN jsonb_build_object('role', $2::text)"
                  " ELSE jsonb_build_object('role', $2::text, 'queues',"
                  " $5::jsonb) END)))",
                  6, params, err);
    if (rc == WEIR_EEXISTS)
        return weir_err_set(err, WEIR_EEXISTS,
                            "a live token is already named \"%s\": pick "
                            "another name, or revoke that one first",
                            t->name);
    return rc;
}

int store_token_lookup(struct store_conn *c, const char *hash,
                       struct store_token *out, struct weir_err *err)
{
    const char *params[1] = {hash};
    PGresult *r = NULL;
    int rc;

    /* last_used_at is written at most once a minute, so that a busy
     * token does not turn every request into a write. */
    rc = store_query_one(
        c,
        "WITH t AS (SELECT id, role, name, to_jsonb(queues)::text AS q,"
        " grants::text AS g FROM api_tokens WHERE hash = $1 AND " LIVE "),"
        " u AS (UPDATE api_tokens a SET last_used_at = now() FROM t"
        " WHERE a.id = t.id AND (a.last_used_at IS NULL OR"
        " a.last_used_at < now() - interval '1 minute'))"
        " SELECT id, role, name, q, g FROM t",
        1, params, &r, err, "no such token");
    if (rc < 0)
        return rc;
    out->id = store_val_i64(r, 0, 0);
    snprintf(out->role, sizeof(out->role), "%s", PQgetvalue(r, 0, 1));
    snprintf(out->name, sizeof(out->name), "%s", PQgetvalue(r, 0, 2));
    snprintf(out->queues, sizeof(out->queues), "%s",
             PQgetisnull(r, 0, 3) ? "" : PQgetvalue(r, 0, 3));
    if (strlen(PQgetvalue(r, 0, 4)) >= sizeof(out->grants))
        rc = weir_err_set(err, WEIR_EINVAL, "token %s has too many grants",
                          PQgetvalue(r, 0, 0));
    else
        snprintf(out->grants, sizeof(out->grants), "%s", PQgetvalue(r, 0, 4));
    PQclear(r);
    if (rc < 0)
        return rc;
    return 0;
}

int store_token_get(struct store_conn *c, const char *hash, char *role,
                    size_t role_len, char *name, size_t name_len,
                    struct weir_err *err)
{
    struct store_token t;
    int rc = store_token_lookup(c, hash, &t, err);

    if (rc < 0)
        return rc;
    if (role != NULL)
        snprintf(role, role_len, "%s", t.role);
    if (name != NULL)
        snprintf(name, name_len, "%s", t.name);
    return 0;
}

int store_token_list(struct store_conn *c, cJSON **out, struct weir_err *err)
{
    return store_json_query(
        c,
        "SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'name', name,"
        " 'role', role, 'created_at', weir_iso(created_at), 'last_used_at',"
        " weir_iso(last_used_at), 'expires_at', weir_iso(expires_at),"
        " 'revoked_at', weir_iso(revoked_at), 'queues', to_jsonb(queues), "
        "'grants', grants,"
        " 'state', CASE WHEN revoked_at IS NOT NULL THEN 'revoked'"
        " WHEN expires_at <= now() THEN 'expired' ELSE 'live' END)"
        " ORDER BY id), '[]')::text FROM api_tokens",
        0, NULL, out, err);
}

/* A transaction that holds the tokens' advisory lock: changes of who is
 * an admin are serialised, so the last admin token is never revoked by
 * two requests at once nor a first admin token made twice. */
static int tokens_begin(struct store_conn *c, struct weir_err *err)
{
    int rc = store_begin(c, err);

    if (rc == 0)
        rc = store_cmd(c,
                       "SELECT pg_advisory_xact_lock(" STR(
                           STORE_LOCK_CLASS) ", " STR(STORE_LOCK_TOKENS) ")",
                       0, NULL, err);
    return rc;
}

int store_token_revoke(struct store_conn *c, const char *name,
                       struct weir_err *err)
{
    const char *params[1] = {name};
    PGresult *r = NULL;
    int rc, n = 0;

    rc = tokens_begin(c, err);
    /* Refuse to revoke the last live admin token: nobody could create
     * another one over the API. */
    if (rc == 0)
        rc = store_query(
            c,
            "UPDATE api_tokens SET revoked_at = now()"
            " WHERE name = $1 AND revoked_at IS NULL AND"
            " (NOT weir_grants_admin(grants) OR EXISTS (SELECT 1 FROM"
            " api_tokens o WHERE weir_grants_admin(o.grants)"
            " AND o.name <> $1 AND o." LIVE ")) RETURNING id",
            1, params, &r, err);
    if (rc == 0) {
        n = PQntuples(r);
        PQclear(r);
    }
    if (rc == 0 && n == 0) {
        rc = store_query(c,
                         "SELECT 1 FROM api_tokens WHERE name = $1"
                         " AND revoked_at IS NULL",
                         1, params, &r, err);
        if (rc == 0) {
            n = PQntuples(r);
            PQclear(r);
            rc = n == 0 ? weir_err_set(err, WEIR_ENOTFOUND,
                                       "no live token is named \"%s\"", name)
                        : weir_err_set(err, WEIR_ECONFLICT,
                                       "\"%s\" is the last admin token: "
                                       "create another admin token first",
                                       name);
        }
    }
    return store_end(c, rc, err);
}

int store_token_first_admin(struct store_conn *c, const char *hash,
                            bool *created, struct weir_err *err)
{
    PGresult *r = NULL;
    bool have = false;
    int rc;

    rc = tokens_begin(c, err);
    if (rc == 0)
        rc = store_query(c,
                         "SELECT 1 FROM api_tokens "
                         "WHERE weir_grants_admin(grants) AND " LIVE " LIMIT 1",
                         0, NULL, &r, err);
    if (rc == 0) {
        have = PQntuples(r) > 0;
        PQclear(r);
    }
    if (rc == 0 && !have) {
        const char *params[1] = {hash};

        rc = store_cmd(c,
                       "INSERT INTO api_tokens (hash, role, name, grants) "
                       "VALUES ($1, 'admin', 'first admin',"
                       " '[{\"role\": \"admin\"}]')",
                       1, params, err);
    }
    if (rc == 0)
        rc = store_commit(c, err);
    if (rc < 0) {
        store_rollback(c);
        return rc;
    }
    *created = !have;
    return 0;
}

int store_token_admin_exists(struct store_conn *c, bool *have,
                             struct weir_err *err)
{
    PGresult *r = NULL;
    int rc = store_query(c,
                         "SELECT 1 FROM api_tokens "
                         "WHERE weir_grants_admin(grants) AND " LIVE " LIMIT 1",
                         0, NULL, &r, err);

    if (rc < 0)
        return rc;
    *have = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

int store_token_revoke_hash(struct store_conn *c, const char *hash,
                            struct weir_err *err)
{
    const char *params[1] = {hash};

    return store_cmd(c,
                     "UPDATE api_tokens SET revoked_at = now()"
                     " WHERE hash = $1 AND revoked_at IS NULL",
                     1, params, err);
}

int store_worker_bind(struct store_conn *c, int64_t worker_id, int64_t token_id,
                      struct weir_err *err)
{
    char w[WEIR_I64_LEN], t[WEIR_I64_LEN];
    const char *params[2] = {w, t};
    PGresult *r = NULL;
    int rc, n;

    WEIR_I64(w, worker_id);
    WEIR_I64(t, token_id);
    /* A name stays with its token while that token lives; a worker whose
     * token was revoked or expired may be taken over by a new one. */
    rc = store_query(c,
                     "UPDATE workers w SET token_id = $2 WHERE w.id = $1"
                     " AND (w.token_id IS NULL OR w.token_id = $2 OR"
                     " NOT EXISTS (SELECT 1 FROM api_tokens o"
                     " WHERE o.id = w.token_id AND o." LIVE "))"
                     " RETURNING w.id",
                     2, params, &r, err);
    if (rc < 0)
        return rc;
    n = PQntuples(r);
    PQclear(r);
    if (n == 0)
        return weir_err_set(err, WEIR_EFORBIDDEN,
                            "this worker name is registered by another "
                            "token; pick another --name");
    return 0;
}

int store_worker_owned(struct store_conn *c, int64_t worker_id,
                       const char *hash, struct weir_err *err)
{
    char w[WEIR_I64_LEN];
    const char *params[2] = {w, hash};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(w, worker_id);
    rc = store_query_one(c,
                         "SELECT w.token_id IS NOT NULL AND w.token_id ="
                         " (SELECT id FROM api_tokens WHERE hash = $2)"
                         " FROM workers w WHERE w.id = $1",
                         2, params, &r, err, "no worker %s: register first", w);
    if (rc < 0)
        return rc;
    if (strcmp(PQgetvalue(r, 0, 0), "t") != 0)
        rc = weir_err_set(err, WEIR_EFORBIDDEN,
                          "worker %s was registered by another token", w);
    PQclear(r);
    return rc;
}

int store_attempts_owned(struct store_conn *c, const char *ids,
                         const char *hash, struct weir_err *err)
{
    const char *params[2] = {ids, hash};
    PGresult *r = NULL;
    int rc;

    rc = store_query(c,
                     "SELECT a.id FROM attempts a"
                     " LEFT JOIN workers w ON w.id = a.worker_id"
                     " WHERE a.id = ANY($1::bigint[])"
                     " AND (w.token_id IS NULL OR w.token_id IS DISTINCT FROM"
                     " (SELECT id FROM api_tokens WHERE hash = $2)) LIMIT 1",
                     2, params, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) > 0)
        rc = weir_err_set(err, WEIR_EFORBIDDEN,
                          "attempt %s belongs to a worker registered by "
                          "another token",
                          PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}
