/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token creation and checks. A token is looked up by its SHA-256, so the
 * database never holds a usable secret, and a malformed token is refused
 * before any database round trip.
 */
#include "api/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sha256.h"
#include "store/store.h"

#define TOKEN_RANDOM_BYTES 32 /* 256 bits, printed as 64 hex characters */

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

static int token_generate(char *out, struct weir_err *err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[TOKEN_RANDOM_BYTES];
    size_t got = 0;
    char *o = out;

    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return weir_err_set(err, WEIR_EIO, "getrandom: %s",
                                strerror(errno));
        got += (size_t)n;
    }
    memcpy(o, AUTH_TOKEN_PREFIX, strlen(AUTH_TOKEN_PREFIX));
    o += strlen(AUTH_TOKEN_PREFIX);
    for (size_t i = 0; i < sizeof(raw); i++) {
        *o++ = hex[raw[i] >> 4];
        *o++ = hex[raw[i] & 15];
    }
    *o = '\0';
    explicit_bzero(raw, sizeof(raw));
    return 0;
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

int auth_token_create(struct store_conn *c, const struct auth_token_spec *spec,
                      char *out, struct weir_err *err)
{
    char token[AUTH_TOKEN_LEN + 1], hash[65];
    struct store_token_new t = {hash, auth_role_name(spec->role), spec->name,
                                spec->expires_s, spec->queues};
    int rc = token_generate(token, err);

    if (rc < 0)
        return rc;
    sha256_hex(token, strlen(token), hash);
    rc = store_token_insert(c, &t, err);
    if (rc == 0)
        memcpy(out, token, sizeof(token));
    explicit_bzero(token, sizeof(token));
    return rc;
}

/* Write token to a new file tmp (mode 0600, refusing to follow a link). */
static int write_token_file(const char *tmp, const char *token,
                            struct weir_err *err)
{
    int fd =
        open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    size_t len = strlen(token);
    int rc = 0;

    if (fd < 0)
        return weir_err_set(err, WEIR_EIO, "%s: cannot write: %s", tmp,
                            strerror(errno));
    if (fchmod(fd, 0600) != 0 || write(fd, token, len) != (ssize_t)len ||
        write(fd, "\n", 1) != 1 || fsync(fd) != 0)
        rc = weir_err_set(err, WEIR_EIO, "%s: cannot write: %s", tmp,
                          strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = weir_err_set(err, WEIR_EIO, "%s: cannot write: %s", tmp,
                          strerror(errno));
    if (rc != 0)
        unlink(tmp);
    return rc;
}

/*
 * The token is written to PATH.tmp before it is recorded, and renamed to
 * PATH once it is: the secret never exists in the database without its
 * file, and never goes to stdout or the log.
 */
int auth_first_admin(struct store_conn *c, const char *token_file,
                     struct weir_err *err)
{
    char token[AUTH_TOKEN_LEN + 1], hash[65], tmp[4096];
    bool created = false;
    int rc;

    if (token_file == NULL) {
        bool have = false;

        rc = store_token_admin_exists(c, &have, err);
        if (rc == 0 && !have) {
            log_info("event=no_admin_token");
            printf("no admin token exists: create one with weir-server "
                   "--create-token admin --token-name NAME, or start with "
                   "--admin-token-file PATH\n");
            fflush(stdout);
        }
        return rc;
    }
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", token_file) >= (int)sizeof(tmp))
        return weir_err_set(err, WEIR_EINVAL, "--admin-token-file is too long");
    rc = token_generate(token, err);
    if (rc == 0) {
        sha256_hex(token, strlen(token), hash);
        unlink(tmp); /* left by a start that died half-way */
        rc = write_token_file(tmp, token, err);
    }
    explicit_bzero(token, sizeof(token));
    if (rc == 0)
        rc = store_token_first_admin(c, hash, &created, err);
    if (rc == 0 && created && rename(tmp, token_file) != 0) {
        rc = weir_err_set(err, WEIR_EIO, "%s: cannot write: %s", token_file,
                          strerror(errno));
        if (store_token_revoke_hash(c, hash, err) != 0)
            log_error("event=admin_token_orphaned");
    }
    if (rc == 0 && created) {
        log_info("event=admin_token_created file=%s", token_file);
        printf("admin token written to %s\n", token_file);
        fflush(stdout);
    }
    unlink(tmp);
    return rc;
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
    struct store_conn *c = NULL;
    char hash[65];
    int rc;

    rc = auth_bearer_hash(header, hash, err);
    if (rc == 0)
        rc = store_conn_get(s, &c, err);
    if (rc == 0)
        rc = store_token_lookup(c, hash, out, err);
    store_conn_put(c);
    if (rc == WEIR_ENOTFOUND)
        return weir_err_set(err, WEIR_EAUTH,
                            "the token is not valid (unknown, revoked or "
                            "expired)");
    return rc;
}

int auth_check(struct store *s, const char *header, enum auth_role *role,
               struct weir_err *err)
{
    struct store_token t;
    enum auth_role r = AUTH_ROLE_READ;
    int rc = auth_caller(s, header, &t, err);

    if (rc == 0)
        rc = auth_role_parse(t.role, &r, err);
    if (rc < 0)
        return rc;
    *role = r;
    return 0;
}

int auth_token_name(struct store_conn *c, const char *header, char *name,
                    size_t len, struct weir_err *err)
{
    char hash[65];
    int rc = auth_bearer_hash(header, hash, err);

    return rc < 0 ? rc : store_token_get(c, hash, NULL, 0, name, len, err);
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
