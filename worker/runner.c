/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker loop: registration, leasing, outages (health probes), and
 * the runner's start and stop. The jobs (jobs.c) and the thread-pool
 * calls (calls.c) are its other two parts. See runner.h for the design.
 */
#include "runner.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dagcheck.h"
#include "log.h"
#include "runner_internal.h"

/* ---- registration and leasing ---- */

static void do_register(struct runner *r);

static void retry_cb(uv_timer_t *t)
{
    struct runner *r = t->data;

    if (!r->registered)
        do_register(r);
    else
        runner_lease_more(r);
}

static void retry_later(struct runner *r, uint64_t wait_ms)
{
    if (!r->stopping && !r->closing)
        uv_timer_start(&r->retry_timer, retry_cb, wait_ms, 0);
}

/* ---- outages: health probes, then everything at once ---- */

static void probe_done(struct call *c)
{
    c->r->probing = false; /* call_after_cb() saw whether it got through */
}

static void probe_cb(uv_timer_t *t)
{
    struct runner *r = t->data;

    if (r->probing || r->stopping)
        return;
    r->probing =
        call_get(r, "/api/v1/health", PROBE_MS * 4, probe_done) != NULL;
}

/* A call did not get through: probe the server at a short fixed interval
 * until one does, instead of waiting out the backoffs. */
void runner_server_down(struct runner *r)
{
    if (r->stopping || r->closing || r->down)
        return;
    r->down = true;
    log_warn("event=server_unreachable");
    uv_timer_start(&r->probe_timer, probe_cb, PROBE_MS, PROBE_MS);
}

/* A call got through: every backoff starts over, and after an outage the
 * lease (or registration), the heartbeats and the completions go now. */
void runner_server_up(struct runner *r)
{
    uint64_t now = uv_now(r->loop);

    call_backoff_reset(r);
    if (!r->down)
        return;
    r->down = false;
    uv_timer_stop(&r->probe_timer);
    log_info("event=server_reachable");
    if (r->stopping || r->closing)
        return;
    if (uv_is_active((uv_handle_t *)&r->retry_timer)) {
        uv_timer_stop(&r->retry_timer);
        retry_cb(&r->retry_timer);
    }
    for (struct job *j = r->jobs; j != NULL; j = j->next) {
        if (j->closing)
            continue;
        if (j->complete_queued && j->retry_at > now)
            j->retry_at = now;
        job_heartbeat_cb(&j->heartbeat);
    }
    jobs_complete_flush(r);
    runner_lease_more(r);
}

/*
 * Whether the server refused the worker's protocol version (a server
 * older than the worker, common/protocol.h): that does not pass with
 * retries, so the worker says why and stops, to exit non-zero.
 */
static bool protocol_refused(struct runner *r, const struct call *c)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(c->answer, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    char q[300];

    if (c->rc != 0 || c->status < 400 || c->status >= 500 ||
        !cJSON_IsString(code) ||
        strcmp(code->valuestring, weir_errname(WEIR_EPROTOCOL)) != 0)
        return false;
    log_error(
        "event=protocol_refused server=%s status=%ld error=%s",
        client_server(r->client), c->status,
        log_quote(cJSON_IsString(msg) ? msg->valuestring : "-", q, sizeof(q)));
    r->failed = true;
    runner_stop(r, false);
    return true;
}

static void register_done(struct call *c)
{
    struct runner *r = c->r;
    const cJSON *hb =
        cJSON_GetObjectItemCaseSensitive(c->answer, "heartbeat_interval_ms");

    r->leasing = false;
    if (r->stopping)
        return; /* aborted on purpose, or too late to matter */
    if (protocol_refused(r, c))
        return;
    if (!call_ok(c) ||
        !call_id_text(cJSON_GetObjectItemCaseSensitive(c->answer, "worker_id"),
                      r->worker_id, sizeof(r->worker_id))) {
        retry_later(r, call_backoff(r, c, CALL_LEASE));
        return;
    }
    r->heartbeat_ms = cJSON_IsNumber(hb) && hb->valuedouble >= 100 &&
                              hb->valuedouble <= 3600000
                          ? (uint64_t)hb->valuedouble
                          : HEARTBEAT_MS;
    r->registered = true;
    log_info("event=registered worker=%s slots=%d heartbeat_ms=%llu",
             r->worker_id, r->cfg.slots, (unsigned long long)r->heartbeat_ms);
    ready_fill(r);
    runner_lease_more(r);
}

static void do_register(struct runner *r)
{
    cJSON *b = cJSON_CreateObject(), *q = cJSON_CreateArray();

    if (r->stopping || r->leasing) {
        cJSON_Delete(b);
        cJSON_Delete(q);
        return;
    }
    for (size_t i = 0; q != NULL && i < r->cfg.n_queues; i++)
        cJSON_AddItemToArray(q, cJSON_CreateString(r->cfg.queues[i]));
    cJSON_AddStringToObject(b, "name", r->cfg.name);
    if (!cJSON_AddItemToObject(b, "queues", q))
        cJSON_Delete(q);
    cJSON_AddNumberToObject(b, "slots", r->cfg.slots);
    cJSON_AddObjectToObject(b, "labels");
    r->leasing = true;
    r->lease_call = call_send(r, NULL, "/api/v1/workers/register", b,
                              CALL_TIMEOUT_MS, true, register_done);
    if (r->lease_call == NULL) {
        r->leasing = false;
        retry_later(r, BACKOFF_MAX_MS);
    }
}

/* Stop the running attempts a long-poll's answer names in "cancel". */
static void cancels_apply(struct runner *r, const struct call *c)
{
    const cJSON *doc;

    cJSON_ArrayForEach(doc,
                       cJSON_GetObjectItemCaseSensitive(c->answer, "cancel"))
    {
        char id[32];
        struct job *j = r->jobs;

        while (j != NULL && !(call_id_text(doc, id, sizeof(id)) &&
                              strcmp(id, j->attempt_id) == 0))
            j = j->next;
        if (j != NULL)
            job_server_cancel(j);
    }
}

/* The answer of a "max": 0 poll. After a failure it is asked again by
 * the next runner_lease_more() (a job's change, or the server back). */
static void watch_done(struct call *c)
{
    if (c->r->stopping)
        return;
    if (call_ok(c)) {
        cancels_apply(c->r, c);
        runner_lease_more(c->r);
    } else if (c->rc == 0) {
        call_backoff(c->r, c, CALL_LEASE);
    }
}

static void lease_done(struct call *c)
{
    struct runner *r = c->r;
    const cJSON *list, *doc;

    r->leasing = false;
    if (r->stopping && c->rc != 0)
        return; /* the long-poll was aborted on purpose */
    if (protocol_refused(r, c))
        return;
    if (c->rc == 0 && c->status == 404) {
        /* the server forgot us (or never knew): register again */
        log_warn("event=worker_unknown worker=%s", r->worker_id);
        r->registered = false;
        do_register(r);
        return;
    }
    if (!call_ok(c)) {
        retry_later(r, call_backoff(r, c, CALL_LEASE));
        return;
    }
    list = cJSON_IsArray(c->answer)
               ? c->answer
               : cJSON_GetObjectItemCaseSensitive(c->answer, "attempts");
    cJSON_ArrayForEach(doc, list)
    {
        job_start(r, doc, c->answered_ms);
    }
    cancels_apply(r, c);
    runner_lease_more(r);
}

/* Whether a job runs a command the server may tell us to cancel. */
static bool job_watched(const struct job *j)
{
    return j->x != NULL && !j->stale && !j->closing;
}

/* The attempts the server already told us to cancel, for the lease body:
 * a long-poll answers at once only for cancels not in this list. */
static void cancel_seen_add(struct runner *r, cJSON *b)
{
    cJSON *seen = cJSON_AddArrayToObject(b, "cancel_seen");

    for (struct job *j = r->jobs; seen != NULL && j != NULL; j = j->next)
        if (j->server_canceled)
            cJSON_AddItemToArray(
                seen, cJSON_CreateNumber(strtod(j->attempt_id, NULL)));
}

/* One long-poll: for up to max attempts, and for cancels of the running
 * ones; NULL when it could not be sent. */
static struct call *lease_send(struct runner *r, int max,
                               void (*done)(struct call *))
{
    cJSON *b = cJSON_CreateObject();
    char path[96];

    cJSON_AddNumberToObject(b, "max", max);
    cJSON_AddNumberToObject(b, "wait_ms", LEASE_WAIT_MS);
    cancel_seen_add(r, b);
    snprintf(path, sizeof(path), "/api/v1/workers/%s/lease", r->worker_id);
    return call_send(r, NULL, path, b, LEASE_WAIT_MS + CALL_TIMEOUT_MS, true,
                     done);
}

/*
 * Keep a long-poll open: for attempts while slots are free (it brings
 * cancels too), and while every slot is busy and a command runs, one with
 * "max": 0 for the server to say that a run was canceled. The two may be
 * open at once (a slot freed while the cancel poll waits): the cancel poll
 * claims nothing, so it never holds an attempt a slot could not take.
 */
void runner_lease_more(struct runner *r)
{
    int free_slots = r->cfg.slots - r->running;
    bool watch = false;

    for (struct job *j = r->jobs; j != NULL && !watch; j = j->next)
        watch = job_watched(j);
    if (r->stopping || !r->registered || r->leasing ||
        uv_is_active((uv_handle_t *)&r->retry_timer))
        return;
    if (free_slots > 0) {
        r->leasing = true;
        r->lease_call = lease_send(r, free_slots, lease_done);
        if (r->lease_call == NULL) {
            r->leasing = false;
            retry_later(r, BACKOFF_MAX_MS);
        }
    } else if (watch && r->watch_call == NULL) {
        r->watch_call = lease_send(r, 0, watch_done);
    }
}
/* ---- the runner ---- */

static void runner_close_cb(uv_handle_t *h)
{
    struct runner *r = h->data;

    if (--r->open_timers == 0 && r->cfg.closed_cb != NULL)
        r->cfg.closed_cb(r->cfg.ctx);
}

void runner_maybe_close(struct runner *r)
{
    if (!r->stopping || r->closing || r->running > 0 || r->inflight > 0 ||
        r->jobs != NULL)
        return;
    ready_drop(r);
    r->closing = true;
    log_info("event=stopped");
    uv_close((uv_handle_t *)&r->retry_timer, runner_close_cb);
    uv_close((uv_handle_t *)&r->grace_timer, runner_close_cb);
    uv_close((uv_handle_t *)&r->probe_timer, runner_close_cb);
}

static void cancel_all(struct runner *r)
{
    r->grace_over = true;
    for (struct job *j = r->jobs; j != NULL; j = j->next)
        job_cancel(j);
}

void runner_grace_cb(uv_timer_t *t)
{
    struct runner *r = t->data;

    log_warn("event=shutdown_grace_over running=%d", r->running);
    cancel_all(r);
}

int runner_new(uv_loop_t *loop, struct client *client,
               const struct runner_config *cfg, struct runner **out,
               struct weir_err *err)
{
    struct runner *r;

    if (cfg->slots < 1 || cfg->name == NULL || cfg->dags_dir == NULL ||
        cfg->scratch_dir == NULL)
        return weir_err_set(err, WEIR_EINVAL,
                            "runner: a name, folders and slots >= 1 are "
                            "required");
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "runner: out of memory");
    r->loop = loop;
    r->client = client;
    r->cfg = *cfg;
    r->heartbeat_ms = HEARTBEAT_MS;
    call_backoff_reset(r);
    WEIR_ASSERT(uv_timer_init(loop, &r->retry_timer) == 0);
    WEIR_ASSERT(uv_timer_init(loop, &r->grace_timer) == 0);
    WEIR_ASSERT(uv_timer_init(loop, &r->probe_timer) == 0);
    r->retry_timer.data = r->grace_timer.data = r->probe_timer.data = r;
    r->open_timers = 3;
    *out = r;
    return 0;
}

void runner_start(struct runner *r)
{
    do_register(r);
}

void runner_stop(struct runner *r, bool now)
{
    if (!r->stopping) {
        r->stopping = true;
        if (r->lease_call != NULL)
            atomic_store(&r->lease_call->abort, true);
        if (r->watch_call != NULL)
            atomic_store(&r->watch_call->abort, true);
        uv_timer_stop(&r->retry_timer);
        uv_timer_stop(&r->probe_timer);
        log_info("event=stopping running=%d grace_ms=%llu", r->running,
                 (unsigned long long)r->cfg.shutdown_grace_ms);
        if (r->running > 0 && !now)
            uv_timer_start(&r->grace_timer, runner_grace_cb,
                           r->cfg.shutdown_grace_ms, 0);
    }
    if (now)
        cancel_all(r);
    runner_maybe_close(r);
}

bool runner_failed(const struct runner *r)
{
    return r->failed;
}

void runner_free(struct runner *r)
{
    dagcheck_forget();
    free(r);
}