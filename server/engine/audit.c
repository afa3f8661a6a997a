/* SPDX-License-Identifier: Apache-2.0 */
/* The audit log's engine side: see engine/audit.h. */
#include "engine/audit.h"

#include <cJSON.h>

#include "log.h"
#include "store/pool.h"

#define AUDIT_RETENTION_DEFAULT_S (365LL * 86400)

static int64_t retention_s = AUDIT_RETENTION_DEFAULT_S; /* set at start */

void engine_audit_arm(struct store_audit_armed *a)
{
    store_audit_arm(a);
}

int engine_audit_append(struct store *s, const struct store_audit_rec *rec,
                        struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc = store_conn_get(s, &c, err);

    if (rc == 0)
        rc = store_audit_append(c, rec, err);
    store_conn_put(c);
    return rc;
}

void engine_audit_role_map(struct store *s, const char *path,
                           const char *digest)
{
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    cJSON *p = cJSON_CreateObject();
    char *params = NULL, q[300];
    bool appended = false;
    int rc = store_conn_get(s, &c, &err);

    if (p != NULL && cJSON_AddStringToObject(p, "file", path) != NULL &&
        cJSON_AddStringToObject(p, "sha256", digest) != NULL)
        params = cJSON_PrintUnformatted(p);
    if (rc == 0 && params == NULL)
        rc = weir_err_set(&err, WEIR_ENOMEM, "out of memory");
    if (rc == 0) {
        struct store_audit_rec rec = {.actor = "weir-server",
                                      .grants = "[]",
                                      .action = "role_map.load",
                                      .target = "role_map",
                                      .params = params,
                                      .outcome = "ok",
                                      .message = "",
                                      .client = ""};

        rc = store_audit_append_changed(c, &rec, "sha256", digest, &appended,
                                        &err);
    }
    store_conn_put(c);
    if (rc < 0)
        log_warn("event=audit_role_map_failed code=%s msg=%s", weir_errname(rc),
                 log_quote(err.msg, q, sizeof(q)));
    else if (appended)
        log_info("event=audit_role_map sha256=%.16s", digest);
    cJSON_free(params);
    cJSON_Delete(p);
}

void engine_audit_set_retention(int64_t seconds)
{
    retention_s = seconds;
}

void engine_audit_prune_logged(struct store *s)
{
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    int64_t deleted = 0;
    int rc = store_conn_get(s, &c, &err);
    char q[300];

    if (rc == 0)
        rc = store_audit_prune(c, retention_s, &deleted, &err);
    store_conn_put(c);
    if (rc < 0)
        log_warn("event=audit_prune_failed code=%s msg=%s", weir_errname(rc),
                 log_quote(err.msg, q, sizeof(q)));
    else if (deleted > 0)
        log_info("event=audit_pruned deleted=%lld", (long long)deleted);
}
