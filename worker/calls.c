/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker loop's work on the thread pool: HTTP calls to the server
 * (each kind with its own backoff) and attempt folders made ahead or
 * removed, so that the loop never blocks on the network or the disk.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attempt.h"
#include "client.h"
#include "fsutil.h"
#include "log.h"
#include "runner_internal.h"

uint64_t runner_mono_ms(void)
{
    return uv_hrtime() / 1000000;
}

static void call_work_cb(uv_work_t *w)
{
    struct call *c = w->data;
    int64_t age = 0;

    if (c->get)
        c->rc = client_get(c->r->client, c->path, c->timeout_ms, &c->status,
                           &c->err);
    else
        c->rc = client_post(c->r->client, c->path, c->body, c->timeout_ms,
                            c->cancelable ? &c->abort : NULL, &c->status,
                            &c->answer, &age, &c->err);
    /* when the kernel had the answer, which may be long before this
     * thread read it (the worker was stopped, or the host too busy) */
    c->answered_ms = runner_mono_ms() - (uint64_t)(age > 0 ? age : 0);
}

/* Whether the call reached a server that could serve it: any answer
 * but a 5xx that says it (or its database) is unavailable. */
static bool call_reached(const struct call *c)
{
    return c->rc == 0 && c->status != 502 && c->status != 503 &&
           c->status != 504;
}

static void call_after_cb(uv_work_t *w, int status)
{
    struct call *c = w->data;

    if (status != 0 && c->rc == 0)
        c->rc = weir_err_set(&c->err, WEIR_EUNAVAIL, "call canceled");
    c->r->inflight--;
    if (c->r->lease_call == c)
        c->r->lease_call = NULL;
    if (c->r->watch_call == c)
        c->r->watch_call = NULL;
    if (call_reached(c))
        runner_server_up(c->r);
    else if (!atomic_load(&c->abort))
        runner_server_down(c->r);
    if (c->job != NULL)
        c->job->calls--;
    for (int i = 0; i < c->n_batch; i++)
        c->batch[i]->calls--;
    c->done(c);
    if (c->job != NULL)
        job_maybe_free(c->job);
    for (int i = 0; i < c->n_batch; i++)
        job_maybe_free(c->batch[i]);
    cJSON_Delete(c->body);
    cJSON_Delete(c->answer);
    runner_maybe_close(c->r);
    free(c);
}

/* Send body (taken, even on failure) to path; done runs on the loop. The
 * call is about job j, or (j NULL) about the n_batch jobs of batch.
 * Returns the call in flight (the runner's until done has run), or NULL. */
struct call *call_send_batch(struct runner *r, struct job *j,
                             struct job *const *batch, int n_batch,
                             const char *path, cJSON *body, long timeout_ms,
                             bool cancelable, void (*done)(struct call *))
{
    struct call *c = calloc(1, sizeof(*c));

    if (c == NULL || body == NULL) {
        log_error("event=call_failed path=%s error=no_memory", path);
        free(c);
        cJSON_Delete(body);
        return NULL;
    }
    c->work.data = c;
    atomic_init(&c->abort, false);
    c->r = r;
    c->job = j;
    snprintf(c->path, sizeof(c->path), "%s", path);
    c->body = body;
    c->timeout_ms = timeout_ms;
    c->cancelable = cancelable;
    c->done = done;
    if (uv_queue_work(r->loop, &c->work, call_work_cb, call_after_cb) != 0) {
        cJSON_Delete(body);
        free(c);
        return NULL;
    }
    r->inflight++;
    if (j != NULL)
        j->calls++;
    for (int i = 0; i < n_batch; i++) {
        c->batch[i] = batch[i];
        batch[i]->calls++;
    }
    c->n_batch = n_batch;
    return c;
}

struct call *call_send(struct runner *r, struct job *j, const char *path,
                       cJSON *body, long timeout_ms, bool cancelable,
                       void (*done)(struct call *))
{
    return call_send_batch(r, j, NULL, 0, path, body, timeout_ms, cancelable,
                           done);
}

/* A GET of path (a health probe): no body, no job. */
struct call *call_get(struct runner *r, const char *path, long timeout_ms,
                      void (*done)(struct call *))
{
    struct call *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->work.data = c;
    atomic_init(&c->abort, false);
    c->get = true;
    c->r = r;
    snprintf(c->path, sizeof(c->path), "%s", path);
    c->timeout_ms = timeout_ms;
    c->done = done;
    if (uv_queue_work(r->loop, &c->work, call_work_cb, call_after_cb) != 0) {
        free(c);
        return NULL;
    }
    r->inflight++;
    return c;
}

/* A failed call: log it and return the next wait for calls of its kind,
 * doubled each time; a success of any call resets every kind
 * (runner_server_up()), so one outage does not leave long waits behind. */
uint64_t call_backoff(struct runner *r, const struct call *c,
                      enum call_kind kind)
{
    char q[300];
    uint64_t wait = r->backoff_ms[kind];
    /* a refusal says why (no client certificate, a revoked token...) */
    const char *said = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(c->answer, "error"), "message"));

    log_warn("event=call_failed path=%s status=%ld error=%s", c->path,
             c->status,
             log_quote(c->rc != 0     ? c->err.msg
                       : said != NULL ? said
                                      : "unexpected answer",
                       q, sizeof(q)));
    r->backoff_ms[kind] = wait * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wait * 2;
    return wait;
}

void call_backoff_reset(struct runner *r)
{
    for (int k = 0; k < CALL_KINDS; k++)
        r->backoff_ms[k] = BACKOFF_MIN_MS;
}

/*
 * An id in an answer: a string safe in a URL path ([A-Za-z0-9._-]), or a
 * whole number, as text.
 */
bool call_id_text(const cJSON *v, char *buf, size_t len)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";

    if (cJSON_IsString(v) && v->valuestring[0] != '\0' &&
        strspn(v->valuestring, safe) == strlen(v->valuestring))
        return (size_t)snprintf(buf, len, "%s", v->valuestring) < len;
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9e15)
        return (size_t)snprintf(buf, len, "%" PRId64, (int64_t)v->valuedouble) <
               len;
    return false;
}

bool call_ok(const struct call *c)
{
    return c->rc == 0 && c->status >= 200 && c->status < 300;
}

/* ---- attempt folders, made ahead and removed off the loop ---- */

/* One folder job on the thread pool: make a folder ahead, or remove one. */
struct fsjob {
    uv_work_t work;      /* the thread-pool request */
    struct runner *r;    /* owner */
    bool remove;         /* remove dir, else make one into dir */
    char *dir;           /* the folder (owned) */
    char attempt_id[32]; /* whose folder it was, for the log */
    int rc;              /* result */
    struct weir_err err; /* its detail */
};

static void fsjob_work_cb(uv_work_t *w)
{
    struct fsjob *f = w->data;

    f->rc = f->remove
                ? fsutil_tree_remove(f->dir, &f->err)
                : attempt_dir_premake(f->r->cfg.scratch_dir, &f->dir, &f->err);
}

static void fsjob_after_cb(uv_work_t *w, int status)
{
    struct fsjob *f = w->data;
    struct runner *r = f->r;
    char q[300];

    r->inflight--;
    if (!f->remove)
        r->premaking--;
    if (status != 0 && f->rc == 0)
        f->rc = weir_err_set(&f->err, WEIR_EUNAVAIL, "canceled");
    if (f->remove && f->rc != 0) {
        log_error("event=scratch_left attempt=%s error=%s", f->attempt_id,
                  log_quote(f->err.msg, q, sizeof(q)));
    } else if (!f->remove && f->rc != 0) {
        log_warn("event=scratch_premake_failed error=%s",
                 log_quote(f->err.msg, q, sizeof(q)));
    } else if (!f->remove) {
        /* made ahead: kept for the next attempt, unless no longer wanted */
        if (!r->stopping && r->n_ready < READY_MAX) {
            r->ready[r->n_ready++] = f->dir;
            f->dir = NULL;
        } else if (fsjob_queue(r, true, f->dir, "-")) {
            f->dir = NULL;
        }
    }
    free(f->dir);
    free(f);
    runner_maybe_close(r);
}

/* Queue a folder job; dir (taken) is the folder to remove. False when it
 * could not be queued (dir is then still the caller's). */
bool fsjob_queue(struct runner *r, bool remove, char *dir,
                 const char *attempt_id)
{
    struct fsjob *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return false;
    f->work.data = f;
    f->r = r;
    f->remove = remove;
    f->dir = dir;
    snprintf(f->attempt_id, sizeof(f->attempt_id), "%s", attempt_id);
    if (uv_queue_work(r->loop, &f->work, fsjob_work_cb, fsjob_after_cb) != 0) {
        free(f);
        return false;
    }
    r->inflight++;
    if (!remove)
        r->premaking++;
    return true;
}

/* Keep a folder made ahead for each slot (up to READY_MAX). */
void ready_fill(struct runner *r)
{
    int want = r->cfg.slots < READY_MAX ? r->cfg.slots : READY_MAX;

    while (!r->stopping && r->n_ready + r->premaking < want)
        if (!fsjob_queue(r, false, NULL, "-"))
            break;
}

/* Remove the folders made ahead that no attempt will use (stopping). */
void ready_drop(struct runner *r)
{
    while (r->n_ready > 0) {
        char *dir = r->ready[--r->n_ready];
        struct weir_err err = {0};

        if (fsutil_tree_remove(dir, &err) != 0) {
            char q[300];

            log_error("event=scratch_left attempt=- error=%s",
                      log_quote(err.msg, q, sizeof(q)));
        }
        free(dir);
    }
}