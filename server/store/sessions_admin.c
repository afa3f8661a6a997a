/* SPDX-License-Identifier: Apache-2.0 */
/* SQL of the sessions' administration (store/sessions_admin.h). */
#include "store/sessions_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/query.h"

/* As store/sessions.c: a session within both of its expiries. */
#define SESSION_LIVE                                                           \
    "expires_at > now() AND last_seen_at + make_interval(secs => idle_s)"      \
    " > now()"

int store_sessions_list(struct store_conn *c, cJSON **out, struct weir_err *err)
{
    return store_json_query(
        c,
        "SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'user',"
        " user_name, 'kind', kind, 'created_at', weir_iso(created_at),"
        " 'last_seen_at', weir_iso(last_seen_at), 'idle_expires_at',"
        " weir_iso(last_seen_at + make_interval(secs => idle_s)),"
        " 'expires_at', weir_iso(expires_at), 'grants', grants, 'groups',"
        " groups) ORDER BY id), '[]')::text FROM sessions WHERE " SESSION_LIVE,
        0, NULL, out, err);
}

int store_session_end_id(struct store_conn *c, int64_t id, struct weir_err *err)
{
    char text[WEIR_I64_LEN];
    const char *params[1] = {text};

    WEIR_I64(text, id);
    return store_cmd_rows(c,
                          "DELETE FROM sessions WHERE id = $1::bigint AND "
                          "" SESSION_LIVE,
                          1, params, 1, true, "no such session", err);
}

int store_sessions_end_user(struct store_conn *c, const char *user, int64_t *n,
                            struct weir_err *err)
{
    const char *params[1] = {user};
    PGresult *r = NULL;
    int rc = store_cmd(c, "DELETE FROM cli_logins WHERE user_name = $1", 1,
                       params, err);

    if (rc == 0)
        rc = store_query_one(c,
                             "WITH d AS (DELETE FROM sessions WHERE"
                             " user_name = $1 AND " SESSION_LIVE
                             " RETURNING 1) SELECT count(*) FROM d",
                             1, params, &r, err, "no count");
    if (rc == 0) {
        *n = store_val_i64(r, 0, 0);
        PQclear(r);
    }
    return rc;
}

int store_oidc_login_insert_capped(struct store_conn *c, const char *state_hash,
                                   const struct store_oidc_login *l,
                                   int64_t max_age_s, int64_t cap, bool *full,
                                   struct weir_err *err)
{
    char age[WEIR_I64_LEN], capt[WEIR_I64_LEN];
    const char *params[2] = {age, capt};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(age, max_age_s);
    WEIR_I64(capt, cap);
    /* counted under a lock of the table's rows' writers, so that servers
     * racing for the last places do not pass the cap together */
    rc = store_begin(c, err);
    if (rc == 0)
        rc = store_cmd(c, "LOCK TABLE oidc_logins IN SHARE ROW EXCLUSIVE MODE",
                       0, NULL, err);
    if (rc == 0)
        rc = store_query_one(c,
                             "SELECT count(*) >= $2::bigint FROM oidc_logins"
                             " WHERE created_at >= now() - make_interval(secs"
                             " => $1::bigint)",
                             2, params, &r, err, "no count");
    if (rc == 0) {
        *full = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
    }
    if (rc == 0 && !*full)
        rc = store_oidc_login_insert(c, state_hash, l, max_age_s, err);
    return store_end(c, rc, err);
}
