/* SPDX-License-Identifier: Apache-2.0 */
/* The role mapping file of single sign-on, read once at start. */
#include "api/oidc_map.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/grant.h"
#include "sha256.h"
#include "suggest.h"
#include "ynode.h"

#define MAP_FILE_MAX (256 * 1024) /* bytes of a mapping file */

struct oidc_map {
    char digest[65]; /* SHA-256 hex of the file */
    cJSON *groups;   /* {value: [grant, ...]} */
    cJSON *users;    /* {name: [grant, ...]} */
    cJSON *dflt;     /* [grant, ...] or NULL */
};

static const char *const map_keys[] = {"groups", "users", "default"};

int oidc_grant_check(const char *text, struct weir_err *err)
{
    struct grant g;

    return grant_parse(text, &g, err);
}

/* A list of grants at n into a new JSON array. */
static int grants_read(const char *path, const struct ynode *n, cJSON **out,
                       struct weir_err *err)
{
    cJSON *a = NULL;
    struct weir_err gerr = {0};

    if (n->kind != YNODE_SEQ)
        return weir_err_set(err, WEIR_EINVAL,
                            "%s:%d:%d: expected a list of grants such as "
                            "[read], got %s",
                            path, n->line, n->col, ynode_describe(n));
    a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < n->n; i++) {
        const struct ynode *g = n->items[i];

        if (g->kind != YNODE_SCALAR || strlen(g->str) != g->len ||
            oidc_grant_check(g->str, &gerr) < 0) {
            weir_err_set(
                err, WEIR_EINVAL, "%s:%d:%d: %s", path, g->line, g->col,
                g->kind != YNODE_SCALAR ? "a grant is a string" : gerr.msg);
            cJSON_Delete(a);
            return WEIR_EINVAL;
        }
        cJSON_AddItemToArray(a, cJSON_CreateString(g->str));
    }
    if (a == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    *out = a;
    return 0;
}

/* A mapping of names to grant lists into a new JSON object. */
static int table_read(const char *path, const struct ynode *n, cJSON **out,
                      struct weir_err *err)
{
    cJSON *o = NULL, *g = NULL;
    int rc;

    if (n->kind != YNODE_MAP)
        return weir_err_set(err, WEIR_EINVAL,
                            "%s:%d:%d: expected a mapping of names to lists "
                            "of grants, got %s",
                            path, n->line, n->col, ynode_describe(n));
    o = cJSON_CreateObject();
    for (size_t i = 0; o != NULL && i < n->n; i++) {
        const struct ynode *k = n->items[2 * i];

        if (k->kind != YNODE_SCALAR || k->len == 0) {
            cJSON_Delete(o);
            return weir_err_set(err, WEIR_EINVAL, "%s:%d:%d: expected a name",
                                path, k->line, k->col);
        }
        rc = grants_read(path, n->items[2 * i + 1], &g, err);
        if (rc < 0) {
            cJSON_Delete(o);
            return rc;
        }
        cJSON_AddItemToObject(o, k->str, g);
    }
    if (o == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    *out = o;
    return 0;
}

static int map_read_doc(const char *path, const struct ynode *root,
                        struct oidc_map *m, struct weir_err *err)
{
    int rc = 0;

    if (root->kind != YNODE_MAP)
        return weir_err_set(err, WEIR_EINVAL,
                            "%s:%d:%d: expected a mapping with groups, users "
                            "and default, got %s",
                            path, root->line, root->col, ynode_describe(root));
    for (size_t i = 0; rc == 0 && i < root->n; i++) {
        const struct ynode *k = root->items[2 * i], *v = root->items[2 * i + 1];
        const char *key = k->kind == YNODE_SCALAR ? k->str : "";
        const char *near;

        if (strcmp(key, "groups") == 0 && m->groups == NULL)
            rc = table_read(path, v, &m->groups, err);
        else if (strcmp(key, "users") == 0 && m->users == NULL)
            rc = table_read(path, v, &m->users, err);
        else if (strcmp(key, "default") == 0 && m->dflt == NULL)
            rc = grants_read(path, v, &m->dflt, err);
        else {
            near = suggest_word(key, map_keys, WEIR_ARRAY_LEN(map_keys));
            rc = weir_err_set(err, WEIR_EINVAL,
                              "%s:%d:%d: unknown or repeated key \"%.60s\" "
                              "(the keys are groups, users, default)%s%s%s",
                              path, k->line, k->col, key,
                              near ? "; did you mean \"" : "", near ? near : "",
                              near ? "\"?" : "");
        }
    }
    return rc;
}

/* The whole file into a new buffer. */
static int file_read(const char *path, char **out, size_t *len,
                     struct weir_err *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(MAP_FILE_MAX + 1) : NULL;
    size_t n = buf ? fread(buf, 1, MAP_FILE_MAX + 1, f) : 0;
    int e = errno;

    if (f == NULL)
        return weir_err_set(err, WEIR_EINVAL, "--oidc-role-map %s: %s", path,
                            strerror(e));
    fclose(f);
    if (buf == NULL || n > MAP_FILE_MAX) {
        free(buf);
        return weir_err_set(err, WEIR_EINVAL,
                            "--oidc-role-map %s: larger than %d bytes", path,
                            MAP_FILE_MAX);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int oidc_map_load(const char *path, struct oidc_map **out, struct weir_err *err)
{
    struct ydoc_limits lim = ydoc_limits_default();
    struct oidc_map *m = NULL;
    struct ydoc *doc = NULL;
    struct weir_err yerr = {0};
    char *text = NULL;
    size_t len = 0;
    int line = 0, col = 0;
    int rc = file_read(path, &text, &len, err);

    if (rc == 0 && ydoc_parse(text, len, &lim, &doc, &yerr, &line, &col) < 0)
        rc = weir_err_set(err, WEIR_EINVAL, "%s:%d:%d: %s", path, line, col,
                          yerr.msg);
    if (rc == 0 && (m = calloc(1, sizeof(*m))) == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    if (rc == 0)
        rc = map_read_doc(path, ydoc_root(doc), m, err);
    if (rc == 0)
        sha256_hex(text, len, m->digest);
    ydoc_free(doc);
    free(text);
    if (rc < 0) {
        oidc_map_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

const char *oidc_map_digest(const struct oidc_map *m)
{
    return m->digest;
}

void oidc_map_free(struct oidc_map *m)
{
    if (m == NULL)
        return;
    cJSON_Delete(m->groups);
    cJSON_Delete(m->users);
    cJSON_Delete(m->dflt);
    free(m);
}

/* Append the grants of list to out, skipping those it holds. */
static void grants_add(cJSON *out, const cJSON *list)
{
    const cJSON *g, *have;

    cJSON_ArrayForEach(g, list)
    {
        bool dup = false;

        cJSON_ArrayForEach(have, out)
        {
            dup |= strcmp(have->valuestring, g->valuestring) == 0;
        }
        if (!dup)
            cJSON_AddItemToArray(out, cJSON_CreateString(g->valuestring));
    }
}

int oidc_map_grants(const struct oidc_map *m, const char *user,
                    const cJSON *groups, cJSON **out, struct weir_err *err)
{
    cJSON *a = cJSON_CreateArray();
    const cJSON *g;

    if (a == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    cJSON_ArrayForEach(g, (cJSON_IsArray(groups) ? groups : NULL))
    {
        if (cJSON_IsString(g))
            grants_add(
                a, cJSON_GetObjectItemCaseSensitive(m->groups, g->valuestring));
    }
    grants_add(a, cJSON_GetObjectItemCaseSensitive(m->users, user));
    if (cJSON_GetArraySize(a) == 0)
        grants_add(a, m->dflt);
    if (cJSON_GetArraySize(a) == 0) {
        cJSON_Delete(a);
        return weir_err_set(err, WEIR_EFORBIDDEN,
                            "your account has no role in Weir: ask an "
                            "administrator to map one of your groups");
    }
    *out = a;
    return 0;
}
