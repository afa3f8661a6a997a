/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token creation and checks. A token is looked up by its SHA-256, so the
 * database never holds a usable secret, and a malformed token is refused
 * before any database round trip.
 */
#include "api/auth.h"

#include <string.h>
#include <strings.h>

#include "sha256.h"

static const char *const role_names[] = {"admin", "worker", "read"};

const char *auth_role_name(enum auth_role role)
{
    WEIR_ASSERT((size_t)role < WEIR_ARRAY_LEN(role_names));
    return role_names[role];
}

int auth_role_parse(const char *name, enum auth_role *out, struct weir_err *err)
{
    for (size_t i = 0; i < WEIR_ARRAY_LEN(role_names); i++) {
        if (name != NULL && strcmp(name, role_names[i]) == 0) {
            *out = (enum auth_role)i;
            return 0;
        }
    }
    return weir_err_set(err, WEIR_EINVAL,
                        "role \"%s\" is not one of admin, worker, read",
                        name ? name : "");
}

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

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int auth_allows(enum auth_role role, const char *method, const char *path,
                struct weir_err *err)
{
    switch (role) {
    case AUTH_ROLE_ADMIN:
        return 0;
    case AUTH_ROLE_WORKER:
        if (has_prefix(path, "/api/v1/workers/") ||
            has_prefix(path, "/api/v1/attempts/"))
            return 0;
        return weir_err_set(err, WEIR_EFORBIDDEN,
                            "a worker token may call only /api/v1/workers/* "
                            "and /api/v1/attempts/*");
    case AUTH_ROLE_READ:
        if (has_prefix(path, "/api/v1/tokens"))
            return weir_err_set(err, WEIR_EFORBIDDEN,
                                "only an admin token may manage tokens");
        if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
            return 0;
        return weir_err_set(err, WEIR_EFORBIDDEN, "a read token may only GET");
    }
    return weir_err_set(err, WEIR_EFORBIDDEN, "unknown role");
}
