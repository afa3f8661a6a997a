/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The checks of the artifact versions a request reaches beside its own:
 * the prod versions a promotion archives, the prod versions an artifact
 * shows. The rules are in api/authz_targets.h and docs/security.md.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/authz.h"
#include "api/authz_targets.h"

/* The element of array versions whose "version" is v, or NULL. */
static const cJSON *version_row(const cJSON *versions, const char *v)
{
    const cJSON *e;

    cJSON_ArrayForEach(e, versions)
    {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(e, "version");

        if (cJSON_IsString(x) && strcmp(x->valuestring, v) == 0)
            return e;
    }
    return NULL;
}

/* The string member key of o, or NULL. */
static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* How many prod versions of name the DAG version that made version of it
 * keeps (its max_prod; 1 when it cannot be had). */
static int max_prod_of(struct api *api, struct store_conn *c, const char *name,
                       const cJSON *row)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(row, "dag_version_id");
    const struct dag *d = NULL;
    int n = 1;

    if (cJSON_IsNumber(id))
        d = engine_dag(api->cache, c, (int64_t)id->valuedouble);
    if (d != NULL) {
        n = dag_artifact_max_prod(d, name);
        dagcache_release(api->cache, d);
    }
    return n;
}

/* Whether the caller may read version row r and promote it to prod. */
static bool may_archive(struct http_req *req, const cJSON *r)
{
    const char *dag = str_of(r, "dag");
    struct weir_err err = {0};

    return api_may_read(req, dag != NULL ? dag : "",
                        str_of(r, "environment")) &&
           api_authorize(req, GRANT_ACT_PROMOTE, dag != NULL ? dag : "", "prod",
                         &err) == 0;
}

int api_check_promotion_archive(struct http_req *req, const char *name,
                                const char *version, const char *to,
                                struct weir_err *err)
{
    struct api *api = http_req_app(req);
    struct store_conn *c = NULL;
    const cJSON *versions, *prod, *row, *e;
    cJSON *o = NULL;
    int keep, i = 0, rc;

    if (to == NULL || strcmp(to, "prod") != 0)
        return 0;
    rc = store_conn_get(api->store, &c, err);
    if (rc == 0)
        rc = store_artifact_get(c, name, &o, err);
    versions = cJSON_GetObjectItemCaseSensitive(o, "versions");
    prod = cJSON_GetObjectItemCaseSensitive(o, "prod_versions");
    row = rc == 0 ? version_row(versions, version) : NULL;
    /* the newest keep stay in prod, the others are archived */
    keep = row != NULL ? max_prod_of(api, c, name, row) - 1 : 0;
    store_conn_put(c);
    if (rc == WEIR_ENOTFOUND || row == NULL) {
        cJSON_Delete(o);
        return 0; /* the promotion itself says there is none */
    }
    cJSON_ArrayForEach(e, prod)
    {
        if (!cJSON_IsString(e) || strcmp(e->valuestring, version) == 0)
            continue;
        if (i++ < keep)
            continue;
        row = version_row(versions, e->valuestring);
        if (row != NULL && !may_archive(req, row)) {
            rc = weir_err_set(err, WEIR_EFORBIDDEN,
                              "not allowed to promote version \"%.128s\" of "
                              "artifact \"%.128s\" to prod: it would archive "
                              "a prod version this caller may not promote",
                              version, name);
            break;
        }
    }
    cJSON_Delete(o);
    return rc;
}

/* The archive of a prod version says which version replaced it: not
 * when that one is hidden from the caller. */
static void hide_replaced_by(const cJSON *versions)
{
    static const char mark[] = "replaced by ";
    const cJSON *v, *p;

    cJSON_ArrayForEach(v, versions)
    {
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(v, "promotions"))
        {
            const char *c = str_of(p, "comment");

            if (c == NULL || strncmp(c, mark, sizeof(mark) - 1) != 0 ||
                version_row(versions, c + sizeof(mark) - 1) != NULL)
                continue;
            cJSON_ReplaceItemInObjectCaseSensitive(
                (cJSON *)p, "comment",
                cJSON_CreateString("replaced by a version this caller may "
                                   "not read"));
        }
    }
}

void api_artifact_prod_readable(cJSON *o)
{
    const cJSON *versions = cJSON_GetObjectItemCaseSensitive(o, "versions");
    cJSON *prod = cJSON_GetObjectItemCaseSensitive(o, "prod_versions");
    cJSON *e = prod != NULL ? prod->child : NULL;
    const cJSON *first;

    while (e != NULL) {
        cJSON *next = e->next;

        if (!cJSON_IsString(e) || version_row(versions, e->valuestring) == NULL)
            cJSON_Delete(cJSON_DetachItemViaPointer(prod, e));
        e = next;
    }
    hide_replaced_by(versions);
    first = cJSON_GetArrayItem(prod, 0);
    cJSON_ReplaceItemInObjectCaseSensitive(
        o, "prod",
        cJSON_IsString(first) ? cJSON_CreateString(first->valuestring)
                              : cJSON_CreateNull());
}
