/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker loop: registration, leasing, and one job per running attempt
 * (its execution, heartbeats, log batches and completion). See runner.h
 * for the design.
 */
#include "runner.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attempt.h"
#include "executor.h"
#include "fsutil.h"
#include "log.h"
#include "logspool.h"

#define LEASE_WAIT_MS   25000 /* long-poll of one lease call */
#define CALL_TIMEOUT_MS 30000 /* any other call */
#define HEARTBEAT_MS    10000 /* when the server names no interval */
#define FLUSH_MS        1000  /* log batches go out at least this often */
#define FLUSH_LINES     1000  /* lines waiting that are sent at once */
#define BATCH_LINES     5000  /* lines in one batch (the server's limit) */
#define BATCH_BYTES     (512 * 1024) /* JSON of one batch, about */
#define LOG_GIVE_UP                                                            \
    5                        /* failed log calls after which a stopping        \
                                worker reports without its last lines */
#define BACKOFF_MIN_MS 1000  /* first wait after a failed call */
#define BACKOFF_MAX_MS 30000 /* longest wait between retries */
#define PROBE_MS       250   /* health probes while the server is down */
#define COMPLETE_TRIES 20    /* attempts at reporting an end */
#define READY_MAX      8     /* attempt folders made ahead, at most */
#define COMPLETE_BATCH 32    /* completions reported in one call, at most */

struct job;

/* What a call is for: each kind backs off on its own. */
enum call_kind {
    CALL_LEASE,    /* register and lease */
    CALL_BEAT,     /* heartbeats */
    CALL_LOGS,     /* log batches */
    CALL_COMPLETE, /* completions */
    CALL_KINDS     /* how many kinds there are */
};

struct call;

struct runner {
    uv_loop_t *loop;          /* where everything runs */
    struct client *client;    /* HTTP, used from the thread pool */
    struct runner_config cfg; /* borrowed strings */
    char worker_id[32];       /* from registration */
    uint64_t heartbeat_ms;    /* interval of every heartbeat timer */
    uv_timer_t retry_timer;   /* next register or lease after a failure */
    uv_timer_t grace_timer;   /* end of the shutdown grace */
    uv_timer_t probe_timer;   /* health probes while the server is down */
    uint64_t backoff_ms[CALL_KINDS]; /* next wait after a failure, by kind */
    struct call *lease_call;         /* the register or lease call in flight */
    struct call *watch_call;         /* a "max": 0 poll for cancels */
    bool down;              /* the last call could not reach the server */
    bool probing;           /* a health probe is in flight */
    bool registered;        /* worker_id is valid */
    bool leasing;           /* a register or lease call is in flight */
    bool stopping;          /* runner_stop() was called */
    bool closing;           /* the timers are closing */
    bool grace_over;        /* running jobs are being canceled */
    int open_timers;        /* runner timers not yet closed */
    int running;            /* jobs alive */
    int inflight;           /* calls and folder jobs in the thread pool */
    struct job *jobs;       /* every job alive */
    char *ready[READY_MAX]; /* attempt folders made ahead, unused */
    int n_ready;            /* entries in ready */
    int premaking;          /* folders being made ahead */
    bool completing;        /* a completion call is in flight */
};

/* One leased attempt from preparation to its report. */
struct job {
    struct runner *r;       /* owner */
    struct job *next;       /* in r->jobs */
    struct attempt *a;      /* prepared attempt, NULL if that failed */
    char attempt_id[32];    /* for URLs and logs */
    char lease_id[64];      /* fencing token */
    struct exec *x;         /* running execution, or NULL */
    uv_timer_t heartbeat;   /* heartbeats, and complete retries */
    uv_timer_t flush;       /* log batches */
    struct logspool *spool; /* every line, until the server has it */
    int pieces[2];          /* stdout, stderr: pieces of a long line so far */
    uint64_t piece_len[2];  /* and their bytes */
    cJSON *batch;           /* lines of the batch in flight or to resend */
    bool batch_inflight;    /* a log call is running */
    bool beat_inflight;     /* a heartbeat call is running */
    bool started;           /* the command was spawned */
    bool done;              /* the command is over (or never started) */
    bool stale;             /* the server refused our lease */
    bool server_canceled;   /* a heartbeat said the run was canceled */
    bool reported;          /* completion accepted, refused or given up */
    bool complete_inflight; /* a completion call is running */
    bool complete_queued;   /* its completion waits for the next call */
    bool closing;           /* reported or abandoned; timers closing */
    int complete_tries;     /* completion calls made */
    int log_failures;       /* log calls failed in a row */
    uint64_t retry_at;      /* loop time of the next completion try */
    int calls;              /* calls about this job in flight */
    struct exec_result res; /* how the command ended */
    cJSON *outputs;         /* parsed outputs, or NULL */
    char error[512];        /* what went wrong on our side, or "" */
    int open_timers;        /* timer handles not yet closed */
};

/* One HTTP call on the thread pool. */
struct call {
    uv_work_t work;                    /* the thread-pool request */
    atomic_bool abort;                 /* gives up a cancelable call */
    bool get;                          /* a GET of path, without body */
    uint64_t answered_ms;              /* uv_hrtime() ms the answer came */
    struct runner *r;                  /* owner */
    struct job *job;                   /* the job it is about, or NULL */
    struct job *batch[COMPLETE_BATCH]; /* a completion call's jobs */
    int n_batch;                       /* entries in batch */
    char path[128];                    /* URL path */
    cJSON *body;                       /* owned; deleted after the call */
    long timeout_ms;                   /* whole exchange */
    bool cancelable;                   /* gives up when the runner stops */
    void (*done)(struct call *c);      /* on the loop, after the call */
    long status;                       /* HTTP status */
    cJSON *answer;                     /* parsed answer, or NULL */
    int rc;                            /* client_post() result */
    struct weir_err err;               /* its detail */
};

static void lease_more(struct runner *r);
static void job_start(struct runner *r, const cJSON *doc, uint64_t answered_ms);
static void job_server_cancel(struct job *j);
static void job_progress(struct job *j);
static void maybe_close(struct runner *r);

static void job_maybe_free(struct job *j);

static uint64_t mono_ms(void)
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
    c->answered_ms = mono_ms() - (uint64_t)(age > 0 ? age : 0);
}

static void server_down(struct runner *r);
static void server_up(struct runner *r);

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
        server_up(c->r);
    else if (!atomic_load(&c->abort))
        server_down(c->r);
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
    maybe_close(c->r);
    free(c);
}

/* Send body (taken, even on failure) to path; done runs on the loop. The
 * call is about job j, or (j NULL) about the n_batch jobs of batch.
 * Returns the call in flight (the runner's until done has run), or NULL. */
static struct call *call_send_batch(struct runner *r, struct job *j,
                                    struct job *const *batch, int n_batch,
                                    const char *path, cJSON *body,
                                    long timeout_ms, bool cancelable,
                                    void (*done)(struct call *))
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

static struct call *call_send(struct runner *r, struct job *j, const char *path,
                              cJSON *body, long timeout_ms, bool cancelable,
                              void (*done)(struct call *))
{
    return call_send_batch(r, j, NULL, 0, path, body, timeout_ms, cancelable,
                           done);
}

/* A GET of path (a health probe): no body, no job. */
static struct call *call_get(struct runner *r, const char *path,
                             long timeout_ms, void (*done)(struct call *))
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
 * (server_up()), so one outage does not leave long waits behind. */
static uint64_t backoff(struct runner *r, const struct call *c,
                        enum call_kind kind)
{
    char q[300];
    uint64_t wait = r->backoff_ms[kind];

    log_warn(
        "event=call_failed path=%s status=%ld error=%s", c->path, c->status,
        log_quote(c->rc != 0 ? c->err.msg : "unexpected answer", q, sizeof(q)));
    r->backoff_ms[kind] = wait * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wait * 2;
    return wait;
}

static void backoff_reset(struct runner *r)
{
    for (int k = 0; k < CALL_KINDS; k++)
        r->backoff_ms[k] = BACKOFF_MIN_MS;
}

/*
 * An id in an answer: a string safe in a URL path ([A-Za-z0-9._-]), or a
 * whole number, as text.
 */
static bool id_text(const cJSON *v, char *buf, size_t len)
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

static bool ok_status(const struct call *c)
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

static bool fsjob_queue(struct runner *r, bool remove, char *dir,
                        const char *attempt_id);

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
    maybe_close(r);
}

/* Queue a folder job; dir (taken) is the folder to remove. False when it
 * could not be queued (dir is then still the caller's). */
static bool fsjob_queue(struct runner *r, bool remove, char *dir,
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
static void ready_fill(struct runner *r)
{
    int want = r->cfg.slots < READY_MAX ? r->cfg.slots : READY_MAX;

    while (!r->stopping && r->n_ready + r->premaking < want)
        if (!fsjob_queue(r, false, NULL, "-"))
            break;
}

/* Remove the folders made ahead that no attempt will use (stopping). */
static void ready_drop(struct runner *r)
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

/* ---- registration and leasing ---- */

static void do_register(struct runner *r);

static void retry_cb(uv_timer_t *t)
{
    struct runner *r = t->data;

    if (!r->registered)
        do_register(r);
    else
        lease_more(r);
}

static void retry_later(struct runner *r, uint64_t wait_ms)
{
    if (!r->stopping && !r->closing)
        uv_timer_start(&r->retry_timer, retry_cb, wait_ms, 0);
}

/* ---- outages: health probes, then everything at once ---- */

static void heartbeat_cb(uv_timer_t *t);
static void complete_flush(struct runner *r);

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
static void server_down(struct runner *r)
{
    if (r->stopping || r->closing || r->down)
        return;
    r->down = true;
    log_warn("event=server_unreachable");
    uv_timer_start(&r->probe_timer, probe_cb, PROBE_MS, PROBE_MS);
}

/* A call got through: every backoff starts over, and after an outage the
 * lease (or registration), the heartbeats and the completions go now. */
static void server_up(struct runner *r)
{
    uint64_t now = uv_now(r->loop);

    backoff_reset(r);
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
        heartbeat_cb(&j->heartbeat);
    }
    complete_flush(r);
    lease_more(r);
}

static void register_done(struct call *c)
{
    struct runner *r = c->r;
    const cJSON *hb =
        cJSON_GetObjectItemCaseSensitive(c->answer, "heartbeat_interval_ms");

    r->leasing = false;
    if (r->stopping)
        return; /* aborted on purpose, or too late to matter */
    if (!ok_status(c) ||
        !id_text(cJSON_GetObjectItemCaseSensitive(c->answer, "worker_id"),
                 r->worker_id, sizeof(r->worker_id))) {
        retry_later(r, backoff(r, c, CALL_LEASE));
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
    lease_more(r);
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

        while (j != NULL && !(id_text(doc, id, sizeof(id)) &&
                              strcmp(id, j->attempt_id) == 0))
            j = j->next;
        if (j != NULL)
            job_server_cancel(j);
    }
}

/* The answer of a "max": 0 poll. After a failure it is asked again by
 * the next lease_more() (a job's change, or the server back). */
static void watch_done(struct call *c)
{
    if (c->r->stopping)
        return;
    if (ok_status(c)) {
        cancels_apply(c->r, c);
        lease_more(c->r);
    } else if (c->rc == 0) {
        backoff(c->r, c, CALL_LEASE);
    }
}

static void lease_done(struct call *c)
{
    struct runner *r = c->r;
    const cJSON *list, *doc;

    r->leasing = false;
    if (r->stopping && c->rc != 0)
        return; /* the long-poll was aborted on purpose */
    if (c->rc == 0 && c->status == 404) {
        /* the server forgot us (or never knew): register again */
        log_warn("event=worker_unknown worker=%s", r->worker_id);
        r->registered = false;
        do_register(r);
        return;
    }
    if (!ok_status(c)) {
        retry_later(r, backoff(r, c, CALL_LEASE));
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
    lease_more(r);
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
static void lease_more(struct runner *r)
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

/* A line of the worker's own about the attempt, on the "system" stream. */
static void job_note(struct job *j, const char *fmt, ...) WEIR_PRINTF(2, 3);

static void job_note(struct job *j, const char *fmt, ...)
{
    char text[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    job_add_line(j, LOGSPOOL_SYSTEM, wall_ms(), text, strlen(text));
}

static void job_line_cb(void *ctx, enum exec_stream stream, int64_t time_ms,
                        const char *text, size_t len, bool more)
{
    struct job *j = ctx;
    int s = stream == EXEC_STDERR ? 1 : 0;

    job_add_line(j, stream == EXEC_STDERR ? LOGSPOOL_STDERR : LOGSPOOL_STDOUT,
                 time_ms, text, len);
    /* a line cut into pieces is marked after its last piece */
    if (more) {
        j->pieces[s]++;
        j->piece_len[s] += len;
    } else if (j->pieces[s] > 0) {
        job_note(j,
                 "weir-worker: the %d %s lines above are one line of %llu "
                 "bytes, cut into pieces of at most %d bytes",
                 j->pieces[s] + 1, s ? "stderr" : "stdout",
                 (unsigned long long)(j->piece_len[s] + len), EXEC_LINE_MAX);
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

    backoff(c->r, c, CALL_LOGS);
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
    } else if (ok_status(c) ||
               (c->rc == 0 && c->status >= 400 && c->status < 500)) {
        /* stored, or refused for good: either way not again */
        if (!ok_status(c))
            logs_refused(j, c);
        logspool_ack(j->spool);
        cJSON_Delete(j->batch);
        j->batch = NULL;
        j->log_failures = 0;
    } else {
        /* to send again: j->batch is still the job's */
        j->log_failures++;
        if (j->log_failures == 1)
            backoff(c->r, c, CALL_LOGS);
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
static void job_server_cancel(struct job *j)
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
    else if (!ok_status(c))
        backoff(c->r, c, CALL_BEAT);
    else if (cJSON_IsTrue(
                 cJSON_GetObjectItemCaseSensitive(c->answer, "cancel")))
        job_server_cancel(j);
    job_progress(j);
}

/* Keep the lease alive until the end is reported. */
static void heartbeat_cb(uv_timer_t *t)
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
static void job_maybe_free(struct job *j)
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
    maybe_close(r);
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
    uv_close((uv_handle_t *)&j->heartbeat, job_timer_close_cb);
    uv_close((uv_handle_t *)&j->flush, job_timer_close_cb);
    j->r->running--;
    lease_more(j->r);
}

static void complete_flush(struct runner *r);

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
    if (!ok_status(c) && !refused)
        backoff(r, c, CALL_COMPLETE);
    /* The attempts leased for the slots these jobs free: started before
     * the slots are given back, so no other lease call takes them. */
    list = ok_status(c)
               ? cJSON_GetObjectItemCaseSensitive(c->answer, "attempts")
               : NULL;
    cJSON_ArrayForEach(doc, list)
    {
        job_start(r, doc, c->answered_ms);
    }
    for (int i = 0; i < c->n_batch; i++) {
        struct job *j = c->batch[i];
        long st = ok_status(c) ? complete_status(c, i) : 0;

        if (j->closing)
            continue;
        if (st >= 200 && st < 500 && st != 408 && st != 429)
            complete_reported(j, st);
        else if (refused && i == 0)
            complete_reported(j, c->status);
        else if (ok_status(c) || refused)
            j->complete_queued = true; /* not answered for: send again */
        else
            complete_retry(j, now);
    }
    complete_flush(r);
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
static void complete_flush(struct runner *r)
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
 * (complete_flush()), retried with backoff: the server never records an
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
    complete_flush(j->r);
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

static void job_done_cb(void *ctx, const struct exec_result *res)
{
    struct job *j = ctx;
    struct weir_err err = {0};

    j->x = NULL;
    j->res = *res;
    j->done = true;
    job_end_notes(j);
    if (!j->stale && attempt_outputs_read(j->a, &j->outputs, &err) != 0) {
        snprintf(j->error, sizeof(j->error), "%s", err.msg);
        job_note(j, "weir-worker: %s", err.msg);
    }
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
static void job_cancel(struct job *j)
{
    if (j->x == NULL)
        return;
    if (j->error[0] == '\0')
        snprintf(j->error, sizeof(j->error),
                 "canceled: the worker is shutting down");
    exec_cancel(j->x);
}

static void grace_cb(uv_timer_t *t);

/* A job started while stopping (a late lease answer) gets the same grace. */
static void job_start_stopping(struct job *j)
{
    struct runner *r = j->r;

    if (r->grace_over)
        job_cancel(j);
    else if (!uv_is_active((uv_handle_t *)&r->grace_timer))
        uv_timer_start(&r->grace_timer, grace_cb, r->cfg.shutdown_grace_ms, 0);
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
           (int64_t)mono_ms();
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

static void job_start(struct runner *r, const cJSON *doc, uint64_t answered_ms)
{
    struct job *j = calloc(1, sizeof(*j));
    struct weir_err err = {0};
    struct exec_spec spec;
    int rc;

    if (j == NULL ||
        !id_text(cJSON_GetObjectItemCaseSensitive(doc, "attempt_id"),
                 j->attempt_id, sizeof(j->attempt_id)) ||
        !id_text(cJSON_GetObjectItemCaseSensitive(doc, "lease_id"), j->lease_id,
                 sizeof(j->lease_id))) {
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
    j->next = r->jobs;
    r->jobs = j;
    r->running++;
    WEIR_ASSERT(uv_timer_init(r->loop, &j->heartbeat) == 0);
    WEIR_ASSERT(uv_timer_init(r->loop, &j->flush) == 0);
    j->heartbeat.data = j->flush.data = j;
    j->open_timers = 2;
    uv_timer_start(&j->heartbeat, heartbeat_cb, r->heartbeat_ms,
                   r->heartbeat_ms);
    uv_timer_start(&j->flush, flush_cb, FLUSH_MS, FLUSH_MS);
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

/* ---- the runner ---- */

static void runner_close_cb(uv_handle_t *h)
{
    struct runner *r = h->data;

    if (--r->open_timers == 0 && r->cfg.closed_cb != NULL)
        r->cfg.closed_cb(r->cfg.ctx);
}

static void maybe_close(struct runner *r)
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

static void grace_cb(uv_timer_t *t)
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
    backoff_reset(r);
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
            uv_timer_start(&r->grace_timer, grace_cb, r->cfg.shutdown_grace_ms,
                           0);
    }
    if (now)
        cancel_all(r);
    maybe_close(r);
}

void runner_free(struct runner *r)
{
    free(r);
}
