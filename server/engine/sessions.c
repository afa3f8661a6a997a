/* SPDX-License-Identifier: Apache-2.0 */
/* Sessions and sign-ins of single sign-on (engine/sessions.h). */
#include "engine/sessions.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "sha256.h"
#include "store/store.h"

#define LOGIN_MAX_AGE_S 600 /* a sign-in at the provider may take 10 min */
#define CLI_MAX_AGE_S   120 /* the CLI collects its session within 2 min */

int session_random_hex(char out[SESSION_HEX_LEN + 1], struct weir_err *err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[SESSION_HEX_LEN / 2];
    size_t got = 0;

    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return weir_err_set(err, WEIR_EIO, "getrandom: %s",
                                strerror(errno));
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[SESSION_HEX_LEN] = '\0';
    return 0;
}

int engine_session_create(struct store *st, struct store_session_new *s,
                          char id[SESSION_HEX_LEN + 1],
                          char csrf[SESSION_HEX_LEN + 1], struct weir_err *err)
{
    struct store_conn *c = NULL;
    char hash[65];
    int rc = session_random_hex(id, err);

    if (rc == 0)
        rc = session_random_hex(csrf, err);
    if (rc < 0)
        return rc;
    sha256_hex(id, strlen(id), hash);
    s->hash = hash;
    s->csrf = csrf;
    rc = store_conn_get(st, &c, err);
    if (rc == 0)
        rc = store_session_insert(c, s, err);
    store_conn_put(c);
    s->hash = NULL;
    return rc;
}

int engine_session_lookup(struct store *st, const char *id,
                          struct store_session *out, struct weir_err *err)
{
    struct store_conn *c = NULL;
    char hash[65];
    int rc;

    sha256_hex(id, strlen(id), hash);
    rc = store_conn_get(st, &c, err);
    if (rc == 0)
        rc = store_session_lookup(c, hash, out, err);
    store_conn_put(c);
    return rc;
}

int engine_session_delete(struct store *st, const char *id,
                          struct weir_err *err)
{
    struct store_conn *c = NULL;
    char hash[65];
    int rc;

    sha256_hex(id, strlen(id), hash);
    rc = store_conn_get(st, &c, err);
    if (rc == 0)
        rc = store_session_delete(c, hash, err);
    store_conn_put(c);
    return rc;
}

int engine_oidc_login_take(struct store *st, const char *state,
                           struct store_oidc_login *out, struct weir_err *err)
{
    struct store_conn *c = NULL;
    char hash[65];
    int rc;

    sha256_hex(state, strlen(state), hash);
    rc = store_conn_get(st, &c, err);
    if (rc == 0)
        rc = store_oidc_login_take(c, hash, LOGIN_MAX_AGE_S, out, err);
    store_conn_put(c);
    return rc;
}

int engine_cli_login_put(struct store *st, const struct store_session_new *s,
                         char code[SESSION_HEX_LEN + 1], struct weir_err *err)
{
    struct store_session_new parked = *s;
    struct store_conn *c = NULL;
    char hash[65];
    int rc = session_random_hex(code, err);

    if (rc < 0)
        return rc;
    sha256_hex(code, strlen(code), hash);
    parked.hash = hash;
    rc = store_conn_get(st, &c, err);
    if (rc == 0)
        rc = store_cli_login_insert(c, &parked, CLI_MAX_AGE_S, err);
    store_conn_put(c);
    return rc;
}

int engine_cli_login_take(struct store *st, const char *code,
                          const char *secret, struct store_session *out,
                          struct weir_err *err)
{
    struct store_conn *c = NULL;
    char hash[65], challenge[65];
    int rc;

    sha256_hex(code, strlen(code), hash);
    sha256_hex(secret, strlen(secret), challenge);
    rc = store_conn_get(st, &c, err);
    if (rc == 0)
        rc = store_cli_login_take(c, hash, challenge, CLI_MAX_AGE_S, out, err);
    store_conn_put(c);
    return rc;
}
