/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One job per leased attempt, from preparation to its report: the
 * command's lines (spooled, sent in batches), heartbeats, and the
 * completion, batched with the others that wait. See runner.h for the
 * design.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attempt.h"
#include "dagcheck.h"
#include "executor.h"
#include "log.h"
#include "logspool.h"
#include "runner_internal.h"

static void job_progress(struct job *j);

/* ---- one job: lines, heartbeats, completion ---- */

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Spool one line of len bytes for the server. */
static void job_add_line(struct job *j, enum logspool_stream stream, int64_t t,
                         const char *text, size_t len)
{
    if (j->stale || j->closing || j->spool == NULL)
        return;
    logspool_add(j->spool, stream, t, text, len);
}

/* A piece of a step's line (last: the line ends), its secret values
 * masked (mask.h) before it is spooled; false when nothing of it was
 * passed on (kept back, or dropped for want of memory). */
static bool job_add_masked(struct job *j, int s, int64_t t, const char *text,
                           size_t len, bool last)
{
    struct weir_err err = {0};
    char *out = NULL;
    size_t n = 0;

    if (j->mask == NULL) {
        job_add_line(j, s ? LOGSPOOL_STDERR : LOGSPOOL_STDOUT, t, text, len);
        return true;
    }
    if (mask_feed(j->mask, &j->ms[s], text, len, last, &out, &n, &err) != 0) {
        log_error("event=mask_failed attempt=%s", j->attempt_id);
        return false;
    }
    if (n > 0 || last)
        job_add_line(j, s ? LOGSPOOL_STDERR : LOGSPOOL_STDOUT, t, out, n);
    free(out);
    return n > 0 || last;
}

/* A line of the worker's own about the attempt, on the "system" stream. */
#define JOB_NOTE_MAX 600 /* bytes of a note shown */
static void job_note(struct job *j, const char *fmt, ...) WEIR_PRINTF(2, 3);

static void job_note(struct job *j, const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;
    int len;

    struct weir_err err = {0};
    char *masked = NULL;
    size_t n = 0;

    va_start(ap, fmt);
    len = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    /* a note may quote what the step wrote: masked whole, then cut to
     * JOB_NOTE_MAX (a cut value must not escape the mask) */
    if (mask_text(j->mask, text, (size_t)len, &masked, &n, &err) == 0)
        job_add_line(j, LOGSPOOL_SYSTEM, wall_ms(), masked,
                     mask_cut(j->mask, masked, n, JOB_NOTE_MAX));
    explicit_bzero(text, (size_t)len);
    free(text);
    free(masked);
}

static void job_line_cb(void *ctx, enum exec_stream stream, int64_t time_ms,
                        const char *text, size_t len, bool more)
{
    struct job *j = ctx;
    int s = stream == EXEC_STDERR ? 1 : 0;

    if (!job_add_masked(j, s, time_ms, text, len, !more) && more)
        return; /* a piece kept back whole goes with the next one */
    /* a line cut into pieces is marked after its last piece */
    if (more) {
        j->pieces[s]++;
        j->piece_len[s] += len;
    } else if (j->pieces[s] > 0) {
        job_note(j,
                 "weir-worker: the %d %s lines above are one line of %llu "
                 "bytes, cut into pieces of at most %d bytes",
                 j->pieces[s] + 1, s ? "stderr" : "stdout",
                 (unsigned long long)j->piece_len[s] + len, EXEC_LINE_MAX);
        j->pieces[s] = 0;
        j->piece_len[s] = 0;
    }
    if (j->spool != NULL && logspool_waiting(j->spool) >= FLUSH_LINES)
        job_progress(j);
}

/* The lease is no longer ours: stop the command, report nothing. A batch
 * in flight is its call's, freed with the call's body. */
static void job_stale(struct job *j)
{
    log_warn("event=lease_stale attempt=%s", j->attempt_id);
    j->stale = true;
    exec_cancel(j->x);
    cJSON_Delete(j->batch);
    j->batch = NULL;
}

/* The server refused a batch for good (it never should): say so in the
 * worker's log and in the attempt's, so that no line goes silently. */
static void logs_refused(struct job *j, const struct call *c)
{
    const cJSON *first = cJSON_GetArrayItem(j->batch, 0);
    const cJSON *last =
        cJSON_GetArrayItem(j->batch, cJSON_GetArraySize(j->batch) - 1);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(c->answer, "error");
    double a = cJSON_GetNumberValue(cJSON_GetObjectItem(first, "seq"));
    double b = cJSON_GetNumberValue(cJSON_GetObjectItem(last, "seq"));
    char q[300];

    call_backoff(c->r, c, CALL_LOGS);
    log_error(
        "event=log_batch_refused attempt=%s status=%ld first=%.0f "
        "last=%.0f error=%s",
        j->attempt_id, c->status, a, b,
        log_quote(cJSON_IsString(e) ? e->valuestring : "-", q, sizeof(q)));
    job_note(j, "weir-worker: the server refused lines %.0f to %.0f (HTTP %ld)",
             a, b, c->status);
}

static void logs_done(struct call *c)
{
    struct job *j = c->job;

    j->batch_inflight = false;
    if (j->closing)
        return;
    if (c->rc == 0 && c->status == 409) {
        job_stale(j);
    } else if (call_ok(c) ||
               (c->rc == 0 && c->status >= 400 && c->status < 500)) {
        /* stored, or refused for good: either way not again */
        if (!call_ok(c))
            logs_refused(j, c);
        logspool_ack(j->spool);
        cJSON_Delete(j->batch);
        j->batch = NULL;
        j->log_failures = 0;
    } else {
        /* to send again: j->batch is still the job's */
        j->log_failures++;
        if (j->log_failures == 1)
            call_backoff(c->r, c, CALL_LOGS);
    }
    job_progress(j);
}

/* Read the next batch from the spool; false when nothing waits. */
static bool batch_fill(struct job *j)
{
    struct weir_err err = {0};
    char q[300];

    if (logspool_batch(j->spool, BATCH_LINES, BATCH_BYTES, &j->batch, &err) !=
        0) {
        log_error("event=log_batch_failed attempt=%s error=%s", j->attempt_id,
                  log_quote(err.msg, q, sizeof(q)));
        return false;
    }
    return j->batch != NULL;
}

/* Send the batch to resend, or the next one; one at a time. */
static void job_flush(struct job *j)
{
    char path[96];
    cJSON *b, *lines = NULL;

    if (j->batch_inflight || j->stale || j->closing || j->spool == NULL)
        return;
    if (j->batch == NULL && !batch_fill(j))
        return;
    /* The call's body gets a copy of the lines: the body is the copy's
     * one owner while a pool thread reads it, so the loop may free
     * j->batch (a stale or closing job) under it; j->batch stays until
     * the server has stored it (the spool keeps it taken until then). */
    b = cJSON_CreateObject();
    if (b == NULL ||
        cJSON_AddStringToObject(b, "lease_id", j->lease_id) == NULL ||
        (lines = cJSON_Duplicate(j->batch, true)) == NULL) {
        cJSON_Delete(b);
        return; /* out of memory: the batch waits for the next flush */
    }
    cJSON_AddItemToObject(b, "lines", lines);
    if (j->done) {
        cJSON *capped = logspool_capped_json(j->spool);

        if (capped != NULL)
            cJSON_AddItemToObject(b, "log_capped", capped);
    }
    snprintf(path, sizeof(path), "/api/v1/attempts/%s/logs", j->attempt_id);
    j->batch_inflight =
        call_send(j->r, j, path, b, CALL_TIMEOUT_MS, false, logs_done) != NULL;
}

static void flush_cb(uv_timer_t *t)
{
    struct job *j = t->data;

    if (j->spool != NULL)
        logspool_sync(j->spool);
    job_flush(j);
    job_progress(j);
}

/* The server says the attempt's run was canceled: stop the process group
 * (SIGTERM, SIGKILL after the grace); the end is reported as usual. */
void job_server_cancel(struct job *j)
{
    if (j->x == NULL || j->server_canceled)
        return;
    j->server_canceled = true;
    log_info("event=attempt_cancel attempt=%s reason=run_canceled",
             j->attempt_id);
    if (j->error[0] == '\0')
        snprintf(j->error, sizeof(j->error), "canceled: the run was canceled");
    job_note(j, "weir-worker: the run was canceled; stopping the process "
                "group");
    exec_cancel(j->x);
}

static void heartbeat_done(struct call *c)
{
    struct job *j = c->job;

    j->beat_inflight = false;
    if (j->closing)
        return;
    if (c->rc == 0 && c->status == 409)
        job_stale(j);
    else if (!call_ok(c))
        call_backoff(c->r, c, CALL_BEAT);
    else if (cJSON_IsTrue(
                 cJSON_GetObjectItemCaseSensitive(c->answer, "cancel")))
        job_server_cancel(j);
    job_progress(j);
}

/* Keep the lease alive until the end is reported. */
void job_heartbeat_cb(uv_timer_t *t)
{
    struct job *j = t->data;
    char path[96];
    cJSON *b;

    if (j->beat_inflight || j->stale || j->closing)
        return;
    b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "lease_id", j->lease_id);
    snprintf(path, sizeof(path), "/api/v1/attempts/%s/heartbeat",
             j->attempt_id);
    j->beat_inflight = call_send(j->r, j, path, b, CALL_TIMEOUT_MS, false,
                                 heartbeat_done) != NULL;
}

static void job_timer_close_cb(uv_handle_t *h)
{
    struct job *j = h->data;

    j->open_timers--;
    job_maybe_free(j);
}

/* Free the job once its timers are closed and no call is about it. */
void job_maybe_free(struct job *j)
{
    struct runner *r = j->r;
    struct job **p;

    if (!j->closing || j->open_timers > 0 || j->calls > 0)
        return;
    for (p = &r->jobs; *p != NULL; p = &(*p)->next) {
        if (*p == j) {
            *p = j->next;
            break;
        }
    }
    free(j);
    runner_maybe_close(r);
}

/* The end was reported (or cannot be): remove the folder, free the slot. */
/* Remove the job's folder, on the thread pool (off the loop); where that
 * cannot be queued, here. */
static void job_dir_release(struct job *j)
{
    struct weir_err err = {0};
    char *dir = j->a != NULL ? attempt_dir_take(j->a) : NULL;

    if (dir != NULL && !fsjob_queue(j->r, true, dir, j->attempt_id)) {
        struct attempt tmp = {.dir = dir};

        if (attempt_dir_remove(&tmp, &err) != 0) {
            char q[300];

            log_error("event=scratch_left attempt=%s error=%s", j->attempt_id,
                      log_quote(err.msg, q, sizeof(q)));
            free(dir);
        }
    }
}

static void job_close(struct job *j)
{
    if (j->closing)
        return;
    j->closing = true;
    job_dir_release(j);
    attempt_free(j->a);
    j->a = NULL;
    logspool_free(j->spool);
    j->spool = NULL;
    cJSON_Delete(j->batch);
    cJSON_Delete(j->outputs);
    j->batch = j->outputs = NULL;
    mask_free(j->mask);
    j->mask = NULL;
    mask_stream_cleanup(&j->ms[0]);
    mask_stream_cleanup(&j->ms[1]);
    uv_close((uv_handle_t *)&j->heartbeat, job_timer_close_cb);
    uv_close((uv_handle_t *)&j->flush, job_timer_close_cb);
    j->r->running--;
    runner_lease_more(j->r);
}

/* A job's completion went through (status 200) or was refused for good
 * (4xx: 409 is a stale lease). */
static void complete_reported(struct job *j, long status)
{
    log_write(status == 200 ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
              "event=attempt_reported attempt=%s status=%ld", j->attempt_id,
              status);
    job_close(j);
}

/* A job's completion did not get through: again later, or never. */
static void complete_retry(struct job *j, uint64_t now)
{
    int tries = j->r->stopping ? 3 : COMPLETE_TRIES;

    if (++j->complete_tries >= tries) {
        log_error("event=report_given_up attempt=%s tries=%d", j->attempt_id,
                  j->complete_tries);
        job_close(j);
        return;
    }
    j->retry_at = now + (BACKOFF_MIN_MS << j->complete_tries);
    if (j->retry_at > now + BACKOFF_MAX_MS)
        j->retry_at = now + BACKOFF_MAX_MS;
    j->complete_queued = true;
}

/* The status of batch job i in a completion call's answer: its entry of
 * "results" when the call carried several, else the call's own; 0 when
 * the answer does not say (a server that ignored "more"). */
static long complete_status(const struct call *c, int i)
{
    const cJSON *results =
        cJSON_GetObjectItemCaseSensitive(c->answer, "results");
    const cJSON *r;

    if (c->n_batch == 1 || (i == 0 && !cJSON_IsArray(results)))
        return c->status;
    cJSON_ArrayForEach(r, results)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "attempt_id");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");

        if (cJSON_IsNumber(id) && cJSON_IsNumber(st) &&
            id->valuedouble == strtod(c->batch[i]->attempt_id, NULL))
            return (long)st->valuedouble;
    }
    return 0;
}

static void complete_done(struct call *c)
{
    struct runner *r = c->r;
    uint64_t now = uv_now(r->loop);
    const cJSON *list, *doc;
    bool refused = c->rc == 0 && c->status >= 400 && c->status < 500;

    r->completing = false;
    for (int i = 0; i < c->n_batch; i++)
        c->batch[i]->complete_inflight = false;
    if (!call_ok(c) && !refused)
        call_backoff(r, c, CALL_COMPLETE);
    /* The attempts leased for the slots these jobs free: started before
     * the slots are given back, so no other lease call takes them. */
    list = call_ok(c) ? cJSON_GetObjectItemCaseSensitive(c->answer, "attempts")
                      : NULL;
    cJSON_ArrayForEach(doc, list)
    {
        job_start(r, doc, c->answered_ms);
    }
    for (int i = 0; i < c->n_batch; i++) {
        struct job *j = c->batch[i];
        long st = call_ok(c) ? complete_status(c, i) : 0;

        if (j->closing)
            continue;
        if (st >= 200 && st < 500 && st != 408 && st != 429)
            complete_reported(j, st);
        else if (refused && i == 0)
            complete_reported(j, c->status);
        else if (call_ok(c) || refused)
            j->complete_queued = true; /* not answered for: send again */
        else
            complete_retry(j, now);
    }
    jobs_complete_flush(r);
}

/* The completion body: exit code (null after a signal), outputs, error;
 * with lease, the request for `lease` attempts in the same call. */
static cJSON *complete_body(struct job *j, int lease)
{
    const struct exec_result *res = &j->res;
    cJSON *b = cJSON_CreateObject();

    cJSON_AddStringToObject(b, "lease_id", j->lease_id);
    if (j->started && res->term_signal == 0 && res->exit_code >= 0)
        cJSON_AddNumberToObject(b, "exit_code", (double)res->exit_code);
    else
        cJSON_AddNullToObject(b, "exit_code");
    cJSON_AddBoolToObject(b, "timed_out", res->timed_out);
    cJSON_AddBoolToObject(b, "canceled", res->canceled);
    cJSON_AddNumberToObject(b, "signal", res->term_signal);
    cJSON_AddNumberToObject(b, "duration_ms", (double)res->duration_ms);
    /* a copy: the body is read on a pool thread while the job may close */
    if (j->outputs != NULL)
        cJSON_AddItemToObject(b, "outputs", cJSON_Duplicate(j->outputs, true));
    else
        cJSON_AddNullToObject(b, "outputs");
    if (j->error[0] != '\0')
        cJSON_AddStringToObject(b, "error", j->error);
    else
        cJSON_AddNullToObject(b, "error");
    if (lease > 0) {
        cJSON *l = cJSON_AddObjectToObject(b, "lease");

        cJSON_AddNumberToObject(l, "worker_id", strtod(j->r->worker_id, NULL));
        cJSON_AddNumberToObject(l, "max", lease);
    }
    return b;
}

static bool all_digits(const char *s)
{
    return s[0] != '\0' && strspn(s, "0123456789") == strlen(s);
}

/*
 * Report the completions that wait, in one call: the first job's on the
 * URL, the others in "more" (up to COMPLETE_BATCH), and the next
 * attempts for the slots they free in "lease" (not while stopping): one
 * round trip and one commit for all. One completion call is in flight at
 * a time; completions that come meanwhile wait for it and go together in
 * the next, so a busy worker's calls carry several.
 */
void jobs_complete_flush(struct runner *r)
{
    struct job *batch[COMPLETE_BATCH];
    uint64_t now = uv_now(r->loop);
    char path[96];
    cJSON *b, *more = NULL;
    int n = 0;

    if (r->completing)
        return;
    for (struct job *j = r->jobs; j != NULL && n < COMPLETE_BATCH;
         j = j->next) {
        if (!j->complete_queued || j->closing || j->complete_inflight ||
            now < j->retry_at)
            continue;
        if (n > 0 &&
            (!all_digits(j->attempt_id) || !all_digits(batch[0]->attempt_id)))
            continue;
        batch[n++] = j;
    }
    if (n == 0)
        return;
    b = complete_body(batch[0], !r->stopping && r->registered ? n : 0);
    if (n > 1)
        more = cJSON_AddArrayToObject(b, "more");
    for (int i = 1; i < n; i++) {
        cJSON *item = complete_body(batch[i], 0);

        cJSON_AddNumberToObject(item, "attempt_id",
                                strtod(batch[i]->attempt_id, NULL));
        cJSON_AddItemToArray(more, item);
    }
    snprintf(path, sizeof(path), "/api/v1/attempts/%s/complete",
             batch[0]->attempt_id);
    if (call_send_batch(r, NULL, batch, n, path, b, CALL_TIMEOUT_MS, false,
                        complete_done) == NULL)
        return;
    r->completing = true;
    for (int i = 0; i < n; i++) {
        batch[i]->complete_queued = false;
        batch[i]->complete_inflight = true;
    }
}

/* Lines the server does not have yet: in the batch or in the spool. */
static bool job_lines_left(const struct job *j)
{
    return j->batch != NULL ||
           (j->spool != NULL && logspool_waiting(j->spool) > 0);
}

/*
 * Move a job on: lines go as soon as a batch's worth waits (the flush
 * timer sends the others, and resends after a failure). Once the command
 * is over, every spooled line first, then the completion
 * (jobs_complete_flush()), retried with backoff: the server never records an
 * attempt as over with lines still on the worker. Only a stopping worker
 * whose log calls keep failing reports without them (and says so).
 */
static void job_progress(struct job *j)
{
    if (j->closing)
        return;
    if (!j->done) {
        if (j->log_failures == 0 && j->spool != NULL &&
            logspool_waiting(j->spool) >= FLUSH_LINES)
            job_flush(j);
        return;
    }
    if (j->stale) {
        if (!j->batch_inflight && !j->complete_inflight)
            job_close(j);
        return;
    }
    if (j->batch_inflight || j->complete_inflight)
        return;
    if (job_lines_left(j)) {
        if (!j->r->stopping || j->log_failures < LOG_GIVE_UP) {
            if (j->log_failures == 0)
                job_flush(j);
            return;
        }
        log_error("event=log_lines_left attempt=%s waiting=%llu", j->attempt_id,
                  (unsigned long long)(j->spool != NULL
                                           ? logspool_waiting(j->spool)
                                           : 0));
    }
    j->complete_queued = true;
    jobs_complete_flush(j->r);
}

/* Notes for the log stream about how the command ended. */
static void job_end_notes(struct job *j)
{
    const struct exec_result *res = &j->res;

    if (res->timed_out)
        job_note(j, "weir-worker: timed out; the process group was stopped");
    if (res->canceled)
        job_note(j, "weir-worker: canceled; the process group was stopped");
    if (res->term_signal != 0)
        job_note(j, "weir-worker: killed by signal %d", res->term_signal);
    if (res->output_cut)
        job_note(j, "weir-worker: output after the exit was cut: a process "
                    "still held stdout or stderr");
}

/* Mask the secret values in the outputs and the error of the attempt
 * before they are reported; outputs that cannot be masked are dropped. */
static void job_mask_outputs(struct job *j)
{
    struct weir_err err = {0};
    char *e = NULL;
    size_t n = 0;

    if (j->mask == NULL)
        return;
    if (mask_json(j->mask, j->outputs, &err) != 0) {
        cJSON_Delete(j->outputs);
        j->outputs = NULL;
        snprintf(j->error, sizeof(j->error),
                 "the outputs could not be masked (out of memory)");
    }
    if (mask_text(j->mask, j->error, strlen(j->error), &e, &n, &err) == 0) {
        n = mask_cut(j->mask, e, n, sizeof(j->error) - 1);
        memcpy(j->error, e, n);
        j->error[n] = '\0';
        free(e);
    }
}

static void job_done_cb(void *ctx, const struct exec_result *res)
{
    struct job *j = ctx;
    struct weir_err err = {0};

    j->x = NULL;
    j->res = *res;
    j->done = true;
    job_end_notes(j);
    if (!j->stale &&
        attempt_outputs_read_masked(j->a, j->mask, &j->outputs, &err) != 0) {
        snprintf(j->error, sizeof(j->error), "%s", err.msg);
        job_note(j, "weir-worker: %s", err.msg);
    }
    job_mask_outputs(j);
    if (j->error[0] == '\0' && res->term_signal != 0 && !res->timed_out)
        snprintf(j->error, sizeof(j->error), "killed by signal %d",
                 res->term_signal);
    if (j->spool != NULL)
        logspool_finish(j->spool);
    log_info("event=attempt_exited attempt=%s exit=%lld signal=%d "
             "timed_out=%d canceled=%d duration_ms=%llu",
             j->attempt_id, (long long)res->exit_code, res->term_signal,
             res->timed_out, res->canceled,
             (unsigned long long)res->duration_ms);
    job_progress(j);
    /* The folder holds the log spool: it goes once the attempt is
     * reported (job_close()). The next folder made ahead is made on the
     * thread pool while the lines and completion go, not when the next
     * step starts. */
    ready_fill(j->r);
}

/*
 * The job's log spool: a file in the attempt's folder, or in memory when
 * there is no folder or the file cannot be made (said in the log).
 */
static void job_spool_open(struct job *j)
{
    const struct logspool_cap *cap = &j->r->cfg.log_cap;
    struct weir_err err = {0};
    char path[4096];
    char q[300];

    if (j->a != NULL && j->a->dir != NULL &&
        (size_t)snprintf(path, sizeof(path), "%s/log.spool", j->a->dir) <
            sizeof(path) &&
        logspool_new(path, cap, &j->spool, &err) == 0)
        return;
    if (err.code != 0)
        log_warn("event=log_spool_in_memory attempt=%s error=%s", j->attempt_id,
                 log_quote(err.msg, q, sizeof(q)));
    if (logspool_new(NULL, cap, &j->spool, &err) != 0) {
        log_error("event=log_spool_failed attempt=%s error=%s", j->attempt_id,
                  log_quote(err.msg, q, sizeof(q)));
        return;
    }
    if (err.code != 0)
        job_note(j,
                 "weir-worker: no log spool file (%s): lines are kept in "
                 "memory, up to 1 MiB",
                 err.msg);
}

/* The attempt could not start: report why. */
static void job_fail(struct job *j, const char *msg)
{
    char q[300];

    snprintf(j->error, sizeof(j->error), "%s", msg);
    j->done = true;
    j->res.exit_code = -1;
    if (j->spool == NULL)
        job_spool_open(j);
    job_note(j, "weir-worker: %s", msg);
    if (j->spool != NULL)
        logspool_finish(j->spool);
    log_warn("event=attempt_not_started attempt=%s error=%s", j->attempt_id,
             log_quote(msg, q, sizeof(q)));
    job_progress(j);
}

static void job_log_start(const struct job *j)
{
    const struct attempt *a = j->a;

    log_info("event=attempt_started run=%s dag=%s step=%s try=%d "
             "attempt=%s pid=%d",
             a->run_id, a->dag, a->step, a->try_number, j->attempt_id,
             exec_pid(j->x));
}

/* Stop a running command because the worker shuts down. */
void job_cancel(struct job *j)
{
    if (j->x == NULL)
        return;
    if (j->error[0] == '\0')
        snprintf(j->error, sizeof(j->error),
                 "canceled: the worker is shutting down");
    exec_cancel(j->x);
}

/* A job started while stopping (a late lease answer) gets the same grace. */
static void job_start_stopping(struct job *j)
{
    struct runner *r = j->r;

    if (r->grace_over)
        job_cancel(j);
    else if (!uv_is_active((uv_handle_t *)&r->grace_timer))
        uv_timer_start(&r->grace_timer, runner_grace_cb,
                       r->cfg.shutdown_grace_ms, 0);
}

/*
 * Whether the lease of doc ended (less the margin) before it could start:
 * its lease_ttl_ms counts from answered_ms, when the answer reached this
 * host, on the monotonic clock.
 */
static bool lease_too_late(const struct runner *r, const struct job *j,
                           const cJSON *doc, uint64_t answered_ms)
{
    const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(doc, "lease_ttl_ms");
    int64_t margin = (int64_t)r->cfg.lease_margin_ms, left;

    if (!cJSON_IsNumber(ttl) || ttl->valuedouble <= 0)
        return false; /* a server that does not say */
    /* a margin as long as the lease itself would refuse every attempt */
    if (margin > (int64_t)ttl->valuedouble / 2)
        margin = (int64_t)ttl->valuedouble / 2;
    left = (int64_t)answered_ms + (int64_t)ttl->valuedouble - margin -
           (int64_t)runner_mono_ms();
    if (left > 0)
        return false;
    log_warn("event=attempt_abandoned attempt=%s reason=lease_expired "
             "late_ms=%lld",
             j->attempt_id, (long long)-left);
    return true;
}

/* With --run-as, the step's folder and files become the user's. */
static int job_chown(const struct job *j, struct weir_err *err)
{
    const struct attempt *a = j->a;
    const char *paths[] = {a->dir, a->inputs_path, a->trigger_path,
                           a->outputs_path};

    if (j->r->cfg.run_as == NULL)
        return 0;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(paths); i++)
        if (paths[i] != NULL &&
            lchown(paths[i], j->r->cfg.run_uid, j->r->cfg.run_gid) != 0)
            return weir_err_set(err, WEIR_EIO,
                                "cannot give \"%s\" to the --run-as user: %s",
                                paths[i], strerror(errno));
    return 0;
}

void job_start(struct runner *r, const cJSON *doc, uint64_t answered_ms)
{
    struct job *j = calloc(1, sizeof(*j));
    struct weir_err err = {0};
    struct exec_spec spec;
    char msg[512];
    int rc;

    if (j == NULL ||
        !call_id_text(cJSON_GetObjectItemCaseSensitive(doc, "attempt_id"),
                      j->attempt_id, sizeof(j->attempt_id)) ||
        !call_id_text(cJSON_GetObjectItemCaseSensitive(doc, "lease_id"),
                      j->lease_id, sizeof(j->lease_id))) {
        /* without its ids it cannot even be reported; its lease expires */
        log_error("event=attempt_unusable");
        free(j);
        return;
    }
    j->r = r;
    /* Not started, not reported: the server declares it lost when its
     * lease ends, as it would have anyway, and retries it by its policy;
     * a heartbeat would renew a lease the step can no longer count on. */
    if (lease_too_late(r, j, doc, answered_ms)) {
        free(j);
        return;
    }
    /* the values to mask, before anything of the step is read */
    if (mask_new(cJSON_GetObjectItemCaseSensitive(doc, "secrets"), &j->mask,
                 &err) != 0) {
        log_error("event=attempt_unusable attempt=%s msg=out_of_memory",
                  j->attempt_id);
        free(j);
        return;
    }
    j->next = r->jobs;
    r->jobs = j;
    r->running++;
    WEIR_ASSERT(uv_timer_init(r->loop, &j->heartbeat) == 0);
    WEIR_ASSERT(uv_timer_init(r->loop, &j->flush) == 0);
    j->heartbeat.data = j->flush.data = j;
    j->open_timers = 2;
    uv_timer_start(&j->heartbeat, job_heartbeat_cb, r->heartbeat_ms,
                   r->heartbeat_ms);
    uv_timer_start(&j->flush, flush_cb, FLUSH_MS, FLUSH_MS);
    /* a copy of the DAG file other than the server's: not run, failed */
    if (dagcheck_lease(doc, r->cfg.dags_dir, msg, sizeof(msg)) != 0) {
        log_warn("event=dag_copy_refused attempt=%s", j->attempt_id);
        job_fail(j, msg);
        return;
    }
    rc = attempt_prepare_in(doc, r->cfg.dags_dir, r->cfg.scratch_dir,
                            r->n_ready > 0 ? r->ready[--r->n_ready] : NULL,
                            &j->a, &err);
    if (rc == 0)
        rc = job_chown(j, &err);
    if (rc != 0) {
        ready_fill(r);
        job_fail(j, err.msg);
        return;
    }
    job_spool_open(j);
    attempt_exec_spec(j->a, &spec);
    spec.run_as = r->cfg.run_as;
    if (exec_start(r->loop, &spec, job_line_cb, job_done_cb, j, &j->x, &err) !=
        0) {
        ready_fill(r);
        job_fail(j, err.msg);
        return;
    }
    j->started = true;
    job_log_start(j);
    ready_fill(r); /* after the spawn, not before it */
    if (r->stopping)
        job_start_stopping(j);
}