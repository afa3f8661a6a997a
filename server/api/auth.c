/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token checks. A token is looked up by its SHA-256, so the database never
 * holds a usable secret, and a malformed token is refused before any
 * database round trip. What a token may do is api/authz.c's business.
 */
#include "api/auth.h"

#include <string.h>
#include <strings.h>

#include "sha256.h"

static bool token_well_formed(const char *t)
{
    size_t plen = strlen(AUTH_TOKEN_PREFIX);

    if (strlen(t) != AUTH_TOKEN_LEN || strncmp(t, AUTH_TOKEN_PREFIX, plen))
        return false;
    for (t += plen; *t; t++)
        if (!((*t >= '0' && *t <= '9') || (*t >= 'a' && *t <= 'f')))
            return false;
    return true;
}

int auth_bearer_hash(const char *header, char hash[65], struct weir_err *err)
{
    if (header == NULL)
        return weir_err_set(err, WEIR_EAUTH,
                            "this route needs an API token: send "
                            "\"Authorization: Bearer weir_...\"");
    if (strncasecmp(header, "Bearer ", 7) != 0)
        return weir_err_set(err, WEIR_EAUTH,
                            "the Authorization header must be \"Bearer "
                            "weir_...\"");
    header += 7;
    header += strspn(header, " ");
    if (!token_well_formed(header))
        return weir_err_set(err, WEIR_EAUTH, "the token is not valid");
    sha256_hex(header, strlen(header), hash);
    return 0;
}

int auth_caller(struct store *s, const char *header, struct store_token *out,
                struct weir_err *err)
{
    char hash[65];
    int rc;

    rc = auth_bearer_hash(header, hash, err);
    if (rc == 0)
        rc = engine_token_lookup(s, hash, out, err);
    if (rc == WEIR_ENOTFOUND)
        return weir_err_set(err, WEIR_EAUTH,
                            "the token is not valid (unknown, revoked or "
                            "expired)");
    return rc;
}
