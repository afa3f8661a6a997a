/* SPDX-License-Identifier: Apache-2.0 */
/* The sessions' administration (engine/sessions_admin.h). */
#include "engine/sessions_admin.h"

#include <string.h>

#include "sha256.h"
#include "store/sessions_admin.h"
#include "store/store.h"

#define LOGIN_MAX_AGE_S 600 /* as engine/sessions.c */

int engine_sessions_list(struct store *st, cJSON **out, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc = store_conn_get(st, &c, err);

    if (rc == 0)
        rc = store_sessions_list(c, out, err);
    store_conn_put(c);
    return rc;
}

int engine_session_end(struct store *st, int64_t id, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc = store_conn_get(st, &c, err);

    if (rc == 0)
        rc = store_session_end_id(c, id, err);
    store_conn_put(c);
    return rc;
}

int engine_sessions_end_user(struct store *st, const char *user, int64_t *n,
                             struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc = store_conn_get(st, &c, err);

    if (rc == 0)
        rc = store_sessions_end_user(c, user, n, err);
    store_conn_put(c);
    return rc;
}

int engine_oidc_login_begin_capped(struct store *st, const char *state,
                                   const struct store_oidc_login *l,
                                   int64_t cap, bool *full,
                                   struct weir_err *err)
{
    struct store_conn *c = NULL;
    char hash[65];
    int rc;

    *full = false;
    sha256_hex(state, strlen(state), hash);
    rc = store_conn_get(st, &c, err);
    if (rc == 0)
        rc = store_oidc_login_insert_capped(c, hash, l, LOGIN_MAX_AGE_S, cap,
                                            full, err);
    store_conn_put(c);
    return rc;
}
