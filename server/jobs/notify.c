/* SPDX-License-Identifier: Apache-2.0 */
/* Notifications out (see notify.h for the design). */
#include "jobs/notify.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bgthread.h"
#include "httpc.h"
#include "jobs/chores.h"
#include "log.h"
#include "store/leader.h"
#include "store/notify.h"
#include "store/store.h"

#define NOTIFY_BATCH      50   /* runs or deliveries handled per pass */
#define NOTIFY_TIMEOUT_MS 5000 /* one POST */
#define NOTIFY_URL_MAX    512  /* the public URL's bytes, NUL included */
#define NOTIFY_MSG_MAX    288  /* why a delivery failed, NUL included */

/* The public URL of notify_set_public_url(), "" until it is set. */
static pthread_mutex_t public_mu = PTHREAD_MUTEX_INITIALIZER;
static char public_url[NOTIFY_URL_MAX];

struct notify {
    struct engine *e;    /* borrowed */
    struct httpc *http;  /* POSTs to any http(s) URL, answers dropped */
    struct bgthread *bg; /* runs notify_round() */
};

/* The webhook of d for a run ending in state, or NULL. */
static const char *hook_url(const struct dag *d, const char *state)
{
    if (strcmp(state, "success") == 0)
        return d->on_success.webhook;
    if (strcmp(state, "failed") == 0)
        return d->on_failure.webhook;
    return NULL;
}

void notify_set_public_url(const char *url)
{
    size_t n = strlen(url);

    while (n > 0 && url[n - 1] == '/')
        n--;
    if (n >= NOTIFY_URL_MAX)
        n = NOTIFY_URL_MAX - 1;
    pthread_mutex_lock(&public_mu);
    memcpy(public_url, url, n);
    public_url[n] = '\0';
    pthread_mutex_unlock(&public_mu);
}

/* Copy the public URL into buf (NOTIFY_URL_MAX bytes); false when it is
 * not known yet. */
static bool public_url_get(char *buf)
{
    pthread_mutex_lock(&public_mu);
    memcpy(buf, public_url, NOTIFY_URL_MAX);
    pthread_mutex_unlock(&public_mu);
    return buf[0] != '\0';
}

bool notify_public_url(char *buf, size_t len)
{
    char url[NOTIFY_URL_MAX];

    if (!public_url_get(url) || len == 0)
        return false;
    snprintf(buf, len, "%s", url);
    return true;
}

/* The POST body for finished run r (an element of store_notify_finished),
 * whose link starts with base. */
static char *body_of(const cJSON *r, const char *base)
{
    cJSON *o = cJSON_CreateObject();
    const cJSON *id = cJSON_GetObjectItem(r, "id");
    char link[NOTIFY_URL_MAX + 40];
    char *text = NULL;

    if (o == NULL)
        return NULL;
    snprintf(link, sizeof(link), "%s/#/runs/%.0f", base, id->valuedouble);
    cJSON_AddNumberToObject(o, "run_id", id->valuedouble);
    cJSON_AddItemToObject(o, "dag",
                          cJSON_Duplicate(cJSON_GetObjectItem(r, "dag"), 1));
    cJSON_AddItemToObject(o, "state",
                          cJSON_Duplicate(cJSON_GetObjectItem(r, "state"), 1));
    cJSON_AddItemToObject(o, "reason",
                          cJSON_Duplicate(cJSON_GetObjectItem(r, "reason"), 1));
    cJSON_AddItemToObject(o, "error",
                          cJSON_Duplicate(cJSON_GetObjectItem(r, "error"), 1));
    cJSON_AddItemToObject(
        o, "failed_steps",
        cJSON_Duplicate(cJSON_GetObjectItem(r, "failed_steps"), 1));
    cJSON_AddItemToObject(
        o, "finished_at",
        cJSON_Duplicate(cJSON_GetObjectItem(r, "finished_at"), 1));
    cJSON_AddStringToObject(o, "link", link);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* Queue a delivery for finished run r if its DAG version wants one. */
static int enqueue_one(struct notify *n, struct store_conn *c, const cJSON *r,
                       const char *base, struct weir_err *err)
{
    const cJSON *ver = cJSON_GetObjectItem(r, "version");
    const char *state = cJSON_GetStringValue(cJSON_GetObjectItem(r, "state"));
    const char *end = cJSON_GetStringValue(cJSON_GetObjectItem(r, "end"));
    const struct dag *d = engine_dag(n->e->cache, c, (int64_t)ver->valuedouble);
    const char *url = d && state ? hook_url(d, state) : NULL;
    char *body = url ? body_of(r, base) : NULL;
    int rc = 0;

    if (url != NULL && body == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    else if (url != NULL)
        rc = store_notify_enqueue(
            c, (int64_t)cJSON_GetObjectItem(r, "id")->valuedouble, end, url,
            body, err);
    cJSON_free(body);
    dagcache_release(n->e->cache, d);
    return rc;
}

/* Queue the deliveries of runs finished since the cursor, move it. */
static int enqueue(struct notify *n, struct store_conn *c, struct weir_err *err)
{
    char base[NOTIFY_URL_MAX];
    cJSON *runs = NULL, *last;
    const cJSON *r;
    int rc;

    /* Not before the server knows its URL: the runs wait in the table. */
    if (!public_url_get(base))
        return 0;
    rc = store_tx_begin(c, err);
    if (rc == 0)
        rc = store_notify_finished(c, NOTIFY_BATCH, &runs, err);
    cJSON_ArrayForEach(r, runs)
    {
        if (rc == 0)
            rc = enqueue_one(n, c, r, base, err);
    }
    last = cJSON_GetArrayItem(runs, cJSON_GetArraySize(runs) - 1);
    if (rc == 0 && last != NULL)
        rc = store_notify_cursor(
            c, cJSON_GetStringValue(cJSON_GetObjectItem(last, "end")),
            (int64_t)cJSON_GetObjectItem(last, "id")->valuedouble, err);
    if (rc == 0)
        rc = store_tx_commit(c, err);
    else
        store_tx_rollback(c);
    cJSON_Delete(runs);
    return rc;
}

/* POST body to url; 0 for a 2xx answer, else why into msg. *status gets
 * the HTTP status (0 when there was no answer). */
static int post(struct notify *n, const char *url, const char *body,
                long *status, char *msg, size_t len)
{
    struct httpc_req req = {"POST", url, body, NOTIFY_TIMEOUT_MS, NULL};
    struct httpc_answer ans = {0};
    struct weir_err err = {0};

    *status = 0;
    if (httpc_call(n->http, &req, &ans, &err) != 0) {
        snprintf(msg, len, "%s", err.msg);
        return -1;
    }
    free(ans.body); /* NULL: the client drops answers */
    *status = ans.status;
    if (*status < 200 || *status > 299) {
        snprintf(msg, len, "HTTP %ld", *status);
        return -1;
    }
    return 0;
}

/* Try every delivery that is due. */
static int deliver(struct notify *n, struct store_conn *c, struct weir_err *err)
{
    cJSON *due = NULL;
    const cJSON *d;
    int rc = store_notify_due(c, NOTIFY_BATCH, &due, err);

    cJSON_ArrayForEach(d, due)
    {
        int64_t id = (int64_t)cJSON_GetObjectItem(d, "id")->valuedouble;
        const char *url = cJSON_GetStringValue(cJSON_GetObjectItem(d, "url"));
        char *body = cJSON_PrintUnformatted(cJSON_GetObjectItem(d, "body"));
        char msg[NOTIFY_MSG_MAX] = "";
        long status = 0;
        bool ok;

        if (rc < 0) { /* deposed (a fence) or the database gone: stop */
            cJSON_free(body);
            break;
        }
        ok = body != NULL && post(n, url, body, &status, msg, sizeof(msg)) == 0;

        log_info("event=notify_sent id=%lld url=%s ok=%s status=%ld try=%d "
                 "msg=\"%s\"",
                 (long long)id, url, ok ? "yes" : "no", status,
                 cJSON_GetObjectItem(d, "attempts")->valueint + 1, msg);
        cJSON_free(body);
        if (rc == 0)
            rc = store_notify_result(c, id, ok, ok ? NULL : msg, err);
    }
    cJSON_Delete(due);
    return rc;
}

/* One pass: queue what finished, deliver what is due. */
static int64_t notify_round(void *arg)
{
    struct notify *n = arg;
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    int rc;

    store_fence_enter(); /* a leader's writes (store/leader.h) */
    rc = store_conn_get(n->e->store, &c, &err);
    if (rc == 0)
        rc = enqueue(n, c, &err);
    if (rc == 0)
        rc = deliver(n, c, &err);
    store_conn_put(c);
    if (rc < 0)
        log_warn("event=notify_pass_failed code=%s msg=\"%s\"",
                 weir_errname(rc), err.msg);
    return CHORE_NOTIFY_MS;
}

int notify_start(struct engine *e, struct notify **out, struct weir_err *err)
{
    /* Receivers are reached over http or https only; what they answer
     * is read and dropped (its status is what counts). */
    struct httpc_opts o = {0}; /* http and https only: httpc's default */
    struct notify *n = calloc(1, sizeof(*n));
    int rc;

    if (n == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    rc = httpc_global_init(err);
    if (rc < 0) {
        free(n);
        return rc;
    }
    rc = httpc_new(&o, &n->http, err);
    if (rc < 0) {
        httpc_global_cleanup();
        free(n);
        return rc;
    }
    n->e = e;
    if (bgthread_start("weir-notify", notify_round, n, &n->bg, err) != 0) {
        httpc_free(n->http);
        httpc_global_cleanup();
        free(n);
        return WEIR_EINTERNAL;
    }
    *out = n;
    return 0;
}

void notify_stop(struct notify *n)
{
    if (n == NULL)
        return;
    bgthread_stop(n->bg);
    httpc_free(n->http);
    httpc_global_cleanup();
    free(n);
}
