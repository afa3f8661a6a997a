/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of single sign-on: sessions, sign-ins under way, and `weir login`
 * sign-ins waiting for their CLI. Expired rows are dropped when a new one
 * is written, so no chore is needed.
 */
#include "store/sessions.h"

#include <stdio.h>
#include <string.h>

#include "store/query.h"

/* A session that may be used now: within both of its expiries. */
#define SESSION_LIVE                                                           \
    "expires_at > now() AND last_seen_at + make_interval(secs => idle_s)"      \
    " > now()"

int store_session_insert(struct store_conn *c,
                         const struct store_session_new *s,
                         struct weir_err *err)
{
    char idle[WEIR_I64_LEN], max[WEIR_I64_LEN];
    const char *params[8] = {s->hash,   s->kind, s->user, s->groups,
                             s->grants, s->csrf, idle,    max};
    int rc;

    WEIR_I64(idle, s->idle_s);
    WEIR_I64(max, s->max_s);
    rc = store_cmd(c, "DELETE FROM sessions WHERE NOT (" SESSION_LIVE ")", 0,
                   NULL, err);
    if (rc == 0)
        rc = store_cmd(c,
                       "INSERT INTO sessions (hash, kind, user_name, groups,"
                       " grants, csrf, idle_s, expires_at) VALUES ($1, $2,"
                       " $3, $4::jsonb, $5::jsonb, $6, $7::integer, now() +"
                       " make_interval(secs => $8::bigint))",
                       8, params, err);
    return rc;
}

int store_session_lookup(struct store_conn *c, const char *hash,
                         struct store_session *out, struct weir_err *err)
{
    const char *params[1] = {hash};
    PGresult *r = NULL;
    int rc;

    /* last_seen_at is written when a tenth of the idle time has passed,
     * so that a busy dashboard does not make every request a write. */
    rc = store_query_one(
        c,
        "WITH s AS (SELECT id, kind, user_name, grants::text AS g,"
        " groups::text AS gr, csrf FROM sessions WHERE hash = $1 "
        "AND " SESSION_LIVE "),"
        " u AS (UPDATE sessions x SET last_seen_at = now() FROM s"
        " WHERE x.id = s.id AND x.last_seen_at <"
        " now() - make_interval(secs => x.idle_s / 10.0))"
        " SELECT id, kind, user_name, g, gr, csrf FROM s",
        1, params, &r, err, "no such session");
    if (rc < 0)
        return rc;
    out->id = store_val_i64(r, 0, 0);
    snprintf(out->kind, sizeof(out->kind), "%s", PQgetvalue(r, 0, 1));
    snprintf(out->user, sizeof(out->user), "%s", PQgetvalue(r, 0, 2));
    snprintf(out->grants, sizeof(out->grants), "%s", PQgetvalue(r, 0, 3));
    snprintf(out->groups, sizeof(out->groups), "%s", PQgetvalue(r, 0, 4));
    snprintf(out->csrf, sizeof(out->csrf), "%s", PQgetvalue(r, 0, 5));
    PQclear(r);
    return 0;
}

int store_session_delete(struct store_conn *c, const char *hash,
                         struct weir_err *err)
{
    const char *params[1] = {hash};

    return store_cmd(c, "DELETE FROM sessions WHERE hash = $1", 1, params, err);
}

int store_oidc_login_insert(struct store_conn *c, const char *state_hash,
                            const struct store_oidc_login *l, int64_t max_age_s,
                            struct weir_err *err)
{
    char port[WEIR_I64_LEN], age[WEIR_I64_LEN];
    const char *del[1] = {age};
    const char *params[5] = {state_hash, l->nonce, l->verifier, NULL, NULL};
    int rc;

    WEIR_I64(age, max_age_s);
    if (l->cli_port > 0) {
        WEIR_I64(port, l->cli_port);
        params[3] = port;
        params[4] = l->cli_challenge;
    }
    rc = store_cmd(c,
                   "DELETE FROM oidc_logins WHERE created_at < now() -"
                   " make_interval(secs => $1::bigint)",
                   1, del, err);
    if (rc == 0)
        rc = store_cmd(c,
                       "INSERT INTO oidc_logins (state_hash, nonce, verifier,"
                       " cli_port, cli_challenge) VALUES ($1, $2, $3,"
                       " $4::integer, $5)",
                       5, params, err);
    return rc;
}

int store_oidc_login_take(struct store_conn *c, const char *state_hash,
                          int64_t max_age_s, struct store_oidc_login *out,
                          struct weir_err *err)
{
    char age[WEIR_I64_LEN];
    const char *params[2] = {state_hash, age};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(age, max_age_s);
    rc = store_query_one(c,
                         "DELETE FROM oidc_logins WHERE state_hash = $1"
                         " RETURNING nonce, verifier, cli_port, cli_challenge,"
                         " created_at > now() - make_interval(secs =>"
                         " $2::bigint)",
                         2, params, &r, err, "no such sign-in");
    if (rc < 0)
        return rc;
    if (strcmp(PQgetvalue(r, 0, 4), "t") != 0) {
        PQclear(r);
        return weir_err_set(err, WEIR_ENOTFOUND, "the sign-in took too long");
    }
    snprintf(out->nonce, sizeof(out->nonce), "%s", PQgetvalue(r, 0, 0));
    snprintf(out->verifier, sizeof(out->verifier), "%s", PQgetvalue(r, 0, 1));
    out->cli_port = (int)store_val_i64(r, 0, 2);
    snprintf(out->cli_challenge, sizeof(out->cli_challenge), "%s",
             PQgetvalue(r, 0, 3));
    PQclear(r);
    return 0;
}

int store_cli_login_insert(struct store_conn *c,
                           const struct store_session_new *s, int64_t max_age_s,
                           struct weir_err *err)
{
    char age[WEIR_I64_LEN];
    const char *del[1] = {age};
    const char *params[5] = {s->hash, s->csrf, s->user, s->groups, s->grants};
    int rc;

    WEIR_I64(age, max_age_s);
    rc = store_cmd(c,
                   "DELETE FROM cli_logins WHERE created_at < now() -"
                   " make_interval(secs => $1::bigint)",
                   1, del, err);
    if (rc == 0)
        rc = store_cmd(c,
                       "INSERT INTO cli_logins (code_hash, challenge,"
                       " user_name, groups, grants) VALUES ($1, $2, $3,"
                       " $4::jsonb, $5::jsonb)",
                       5, params, err);
    return rc;
}

int store_cli_login_take(struct store_conn *c, const char *code_hash,
                         const char *challenge, int64_t max_age_s,
                         struct store_session *out, struct weir_err *err)
{
    char age[WEIR_I64_LEN];
    const char *params[3] = {code_hash, age, challenge};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(age, max_age_s);
    rc = store_query_one(c,
                         "DELETE FROM cli_logins WHERE code_hash = $1"
                         " RETURNING user_name, grants::text, groups::text,"
                         " created_at > now() - make_interval(secs =>"
                         " $2::bigint) AND challenge = $3",
                         3, params, &r, err, "no such sign-in");
    if (rc < 0)
        return rc;
    if (strcmp(PQgetvalue(r, 0, 3), "t") != 0) {
        PQclear(r);
        return weir_err_set(err, WEIR_ENOTFOUND,
                            "the sign-in is too old or its secret is wrong");
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->user, sizeof(out->user), "%s", PQgetvalue(r, 0, 0));
    snprintf(out->grants, sizeof(out->grants), "%s", PQgetvalue(r, 0, 1));
    snprintf(out->groups, sizeof(out->groups), "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    return 0;
}
