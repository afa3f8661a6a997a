/* SPDX-License-Identifier: Apache-2.0 */
/*
 * API tokens made and revoked: "weir_" and 64 hex characters from
 * getrandom(), recorded only as their SHA-256, so that the database never
 * holds a usable secret.
 */
#include "engine/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sha256.h"
#include "store/store.h"

#define TOKEN_RANDOM_BYTES 32 /* 256 bits, printed as 64 hex characters */

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
    memcpy(o, ENGINE_TOKEN_PREFIX, strlen(ENGINE_TOKEN_PREFIX));
    o += strlen(ENGINE_TOKEN_PREFIX);
    for (size_t i = 0; i < sizeof(raw); i++) {
        *o++ = hex[raw[i] >> 4];
        *o++ = hex[raw[i] & 15];
    }
    *o = '\0';
    explicit_bzero(raw, sizeof(raw));
    return 0;
}

int engine_token_name_check(const char *name, struct weir_err *err)
{
    size_t n = strlen(name);

    for (const char *p = name; n <= ENGINE_TOKEN_NAME_MAX && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/')
            n = 0;
    if (n == 0 || n > ENGINE_TOKEN_NAME_MAX)
        return weir_err_set(err, WEIR_EINVAL,
                            "a token name is 1 to %d bytes without control "
                            "characters or \"/\"",
                            ENGINE_TOKEN_NAME_MAX);
    return 0;
}

static bool valid_queue(const char *q)
{
    size_t n = strlen(q);

    return n > 0 && n <= 64 &&
           strspn(q, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789_.-") == n;
}

int engine_token_queues(const cJSON *q, const char *role, char **text,
                        struct weir_err *err)
{
    const cJSON *m;

    *text = NULL;
    if (q == NULL || cJSON_IsNull(q))
        return 0;
    if (strcmp(role, "worker") != 0)
        return weir_err_set(err, WEIR_EINVAL,
                            "queues are for worker tokens; this one is of "
                            "role %s",
                            role);
    if (!cJSON_IsArray(q) || cJSON_GetArraySize(q) == 0 ||
        cJSON_GetArraySize(q) > ENGINE_TOKEN_QUEUES)
        return weir_err_set(err, WEIR_EINVAL, "1 to %d queue names",
                            ENGINE_TOKEN_QUEUES);
    cJSON_ArrayForEach(m, q)
    {
        if (!cJSON_IsString(m) || !valid_queue(m->valuestring))
            return weir_err_set(err, WEIR_EINVAL,
                                "a queue name is 1 to 64 of [A-Za-z0-9_.-]");
    }
    *text = cJSON_PrintUnformatted(q);
    if (*text == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    if (strlen(*text) >= STORE_TOKEN_QUEUES_LEN) {
        size_t len = strlen(*text);

        cJSON_free(*text);
        *text = NULL;
        return weir_err_set(err, WEIR_EINVAL,
                            "the names take %zu bytes as a JSON array, at "
                            "most %d",
                            len, STORE_TOKEN_QUEUES_LEN - 1);
    }
    return 0;
}

int engine_token_create(struct store_conn *c,
                        const struct engine_token_spec *spec, char *out,
                        struct weir_err *err)
{
    char token[ENGINE_TOKEN_LEN + 1], hash[65];
    struct store_token_new t = {hash,         spec->role,
                                spec->name,   spec->expires_s,
                                spec->queues, spec->grants};
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
int engine_token_first_admin(struct store_conn *c, const char *token_file,
                             struct weir_err *err)
{
    char token[ENGINE_TOKEN_LEN + 1], hash[65], tmp[4096];
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

int engine_token_new(struct engine *e, const struct engine_token_spec *spec,
                     char *out, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = engine_token_create(c, spec, out, err);
    store_conn_put(c);
    return rc;
}

int engine_token_lookup(struct store *s, const char *hash,
                        struct store_token *out, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc = store_conn_get(s, &c, err);

    if (rc == 0)
        rc = store_token_lookup(c, hash, out, err);
    store_conn_put(c);
    return rc;
}

int engine_token_revoke(struct engine *e, const char *name,
                        struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = store_token_revoke(c, name, err);
    store_conn_put(c);
    return rc;
}
