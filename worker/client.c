/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON over the shared HTTP client (common/httpc.h), abortable, with its
 * connections kept alive: a worker makes a new connection only when more
 * of its calls run at once than ever before, not one per call.
 *
 * Several servers (client.h): one httpc per server, and the index of the
 * one in use, shared by every thread. A call starts at that server and,
 * when it does not reach it (srvlist_reached()), goes on to the next ones
 * in order; the first that answers becomes the one in use (a compare-
 * and-swap, so that of calls failing together one moves the worker and
 * logs it). When none answers the one in use stays, and the caller's
 * outage handling (health probes) tries them all again.
 */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpc.h"
#include "log.h"
#include "protocol.h"

#define CONNECT_TIMEOUT_MS 10000

#define STR_(x) #x
#define STR(x)  STR_(x)

struct client {
    struct httpc *http[SRVLIST_MAX]; /* per server: URL, token, connections */
    size_t n;                        /* servers */
    atomic_size_t current;           /* the server in use */
};

int client_new(const struct srvlist *servers, const char *token,
               struct client **out, struct weir_err *err)
{
    struct httpc_opts o = {
        .token = token,
        .user_agent = "weir-worker/" WEIR_VERSION,
        .connect_timeout_ms = CONNECT_TIMEOUT_MS,
        .answer_max = CLIENT_ANSWER_MAX,
        .idle_max = HTTPC_IDLE_MAX,
        .header = WEIR_PROTOCOL_HEADER ": " STR(WEIR_PROTOCOL_MAJOR),
    };
    struct client *c = calloc(1, sizeof(*c));
    int rc = 0;

    if (c == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "client: out of memory");
    atomic_init(&c->current, 0);
    for (size_t i = 0; rc == 0 && i < servers->n; i++) {
        o.base_url = servers->url[i];
        rc = httpc_new(&o, &c->http[i], err);
        if (rc == 0)
            c->n++;
    }
    if (rc == 0 && c->n == 0)
        rc = weir_err_set(err, WEIR_EINVAL, "client: no server");
    if (rc < 0) {
        client_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void client_free(struct client *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        httpc_free(c->http[i]);
    free(c);
}

const char *client_server(struct client *c)
{
    return httpc_base_url(c->http[atomic_load(&c->current)]);
}

/*
 * One call: to the server in use, then to the next ones while it does
 * not reach them (not after a cancel). *used gets the server that gave
 * the result; a server that answered becomes the one in use.
 */
static int call_any(struct client *c, const struct httpc_req *req,
                    struct httpc_answer *ans, size_t *used,
                    struct weir_err *err)
{
    size_t start = atomic_load(&c->current), i = start;
    int rc = 0;

    for (size_t k = 0; k < c->n; k++) {
        i = (start + k) % c->n;
        *ans = (struct httpc_answer){0};
        rc = httpc_call(c->http[i], req, ans, err);
        if (srvlist_reached(rc, ans->status))
            break;
        if (k + 1 == c->n || (req->cancel != NULL && atomic_load(req->cancel)))
            break;
        if (rc == 0)
            free(ans->body);
    }
    *used = i;
    if (srvlist_reached(rc, ans->status) && i != start &&
        atomic_compare_exchange_strong(&c->current, &start, i))
        log_info("event=server_switched from=%s to=%s",
                 httpc_base_url(c->http[start]), httpc_base_url(c->http[i]));
    return rc;
}

/* Say which call failed in err, which holds why (from httpc_call). */
static int call_failed(struct client *c, size_t used, const char *method,
                       const char *path, int rc, struct weir_err *err)
{
    if (rc == WEIR_EUNAVAIL)
        return weir_err_set(err, rc, "%s %s%s: %s", method,
                            httpc_base_url(c->http[used]), path, err->msg);
    return weir_err_set(err, rc, "%s %s: %s", method, path, err->msg);
}

int client_get(struct client *c, const char *path, long timeout_ms,
               long *status, struct weir_err *err)
{
    struct httpc_req req = {"GET", path, NULL, timeout_ms, NULL};
    struct httpc_answer ans = {0};
    size_t used = 0;
    int rc = call_any(c, &req, &ans, &used, err);

    if (rc < 0)
        return call_failed(c, used, "GET", path, rc, err);
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
    size_t used = 0;
    int rc = 0;

    if (body != NULL && text == NULL) {
        rc = weir_err_set(err, WEIR_ENOMEM, "POST %s: out of memory", path);
        goto out;
    }
    rc = call_any(c, &req, &ans, &used, err);
    if (rc < 0) {
        rc = call_failed(c, used, "POST", path, rc, err);
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
