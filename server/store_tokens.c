/* SPDX-License-Identifier: Apache-2.0 */
/* SQL of the api_tokens table: tokens are looked up by their SHA-256. */
#include <stdio.h>
#include <string.h>

#include "store_int.h"

#define XSTR(x) #x
#define STR(x)  XSTR(x)

int store_token_insert(struct store_conn *c, const char *hash, const char *role,
                       const char *name, struct weir_err *err)
{
    const char *params[3] = {hash, role, name ? name : ""};

    return store_cmd(c,
                     "INSERT INTO api_tokens (hash, role, name) "
                     "VALUES ($1, $2, $3)",
                     3, params, err);
}

int store_token_get(struct store_conn *c, const char *hash, char *role,
                    size_t role_len, char *name, size_t name_len,
                    struct weir_err *err)
{
    const char *params[1] = {hash};
    PGresult *r = NULL;
    int rc;

    rc = store_query(c,
                     "SELECT role, name FROM api_tokens "
                     "WHERE hash = $1 AND revoked_at IS NULL",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0) {
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no such token");
    } else {
        if (role != NULL)
            snprintf(role, role_len, "%s", PQgetvalue(r, 0, 0));
        if (name != NULL)
            snprintf(name, name_len, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return rc;
}

int store_token_first_admin(struct store_conn *c, const char *hash,
                            bool *created, struct weir_err *err)
{
    PGresult *r = NULL;
    bool have = false;
    int rc;

    rc = store_begin(c, err);
    if (rc == 0)
        rc = store_cmd(c,
                       "SELECT pg_advisory_xact_lock(" STR(
                           STORE_LOCK_CLASS) ", " STR(STORE_LOCK_TOKENS) ")",
                       0, NULL, err);
    if (rc == 0)
        rc = store_query(c,
                         "SELECT 1 FROM api_tokens "
                         "WHERE role = 'admin' AND revoked_at IS NULL LIMIT 1",
                         0, NULL, &r, err);
    if (rc == 0) {
        have = PQntuples(r) > 0;
        PQclear(r);
    }
    if (rc == 0 && !have) {
        const char *params[1] = {hash};

        rc = store_cmd(c,
                       "INSERT INTO api_tokens (hash, role, name) "
                       "VALUES ($1, 'admin', 'first admin')",
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
