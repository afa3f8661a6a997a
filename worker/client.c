/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON over the shared HTTP client (common/httpc.h), abortable, with its
 * connections kept alive: a worker makes a new connection only when more
 * of its calls run at once than ever before, not one per call.
 */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpc.h"

#define CONNECT_TIMEOUT_MS 10000

struct client {
    struct httpc *http; /* base URL, token, the pool of connections */
};

int client_new(const char *base_url, const char *token, struct client **out,
               struct weir_err *err)
{
    struct httpc_opts o = {
        .base_url = base_url,
        .token = token,
        .user_agent = "weir-worker/" WEIR_VERSION,
        .connect_timeout_ms = CONNECT_TIMEOUT_MS,
        .answer_max = CLIENT_ANSWER_MAX,
        .idle_max = HTTPC_IDLE_MAX,
    };
    struct client *c = calloc(1, sizeof(*c));
    int rc;

    if (c == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "client: out of memory");
    rc = httpc_new(&o, &c->http, err);
    if (rc < 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void client_free(struct client *c)
{
    if (c == NULL)
        return;
    httpc_free(c->http);
    free(c);
}

/* Say which call failed in err, which holds why (from httpc_call). */
static int call_failed(struct client *c, const char *method, const char *path,
                       int rc, struct weir_err *err)
{
    if (rc == WEIR_EUNAVAIL)
        return weir_err_set(err, rc, "%s %s%s: %s", method,
                            httpc_base_url(c->http), path, err->msg);
    return weir_err_set(err, rc, "%s %s: %s", method, path, err->msg);
}

int client_get(struct client *c, const char *path, long timeout_ms,
               long *status, struct weir_err *err)
{
    struct httpc_req req = {"GET", path, NULL, timeout_ms, NULL};
    struct httpc_answer ans = {0};
    int rc = httpc_call(c->http, &req, &ans, err);

    if (rc < 0)
        return call_failed(c, "GET", path, rc, err);
    *status = ans.status;
    free(ans.body);
    return 0;
}

int client_post(struct client *c, const char *path, const cJSON *body,
                long timeout_ms, const atomic_bool *cancel, long *status,
                cJSON **answer, int64_t *age_ms, struct weir_err *err)
{
    char *text = body != NULL ? cJSON_PrintUnformatted(body) : NULL;
    struct httpc_req req = {"POST", path, text != NULL ? text : "{}",
                            timeout_ms, cancel};
    struct httpc_answer ans = {0};
    int rc = 0;

    if (body != NULL && text == NULL) {
        rc = weir_err_set(err, WEIR_ENOMEM, "POST %s: out of memory", path);
        goto out;
    }
    rc = httpc_call(c->http, &req, &ans, err);
    if (rc < 0) {
        rc = call_failed(c, "POST", path, rc, err);
        goto out;
    }
    *status = ans.status;
    if (age_ms != NULL)
        *age_ms = ans.age_ms;
    *answer = ans.len > 0 ? cJSON_ParseWithLength(ans.body, ans.len) : NULL;
    if (ans.len > 0 && *answer == NULL) /* e.g. nested past cJSON's limit */
        rc = weir_err_set(err, WEIR_EPARSE,
                          "POST %s: the answer (HTTP %ld, %zu bytes) is not "
                          "JSON the worker can parse; it is dropped",
                          path, *status, ans.len);
out:
    cJSON_free(text);
    free(ans.body);
    return rc;
}
