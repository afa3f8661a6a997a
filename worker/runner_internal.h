/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the worker loop's three files share: runner.c (registration,
 * leasing, outages, start and stop), calls.c (HTTP calls and attempt
 * folders on the thread pool, backoff) and jobs.c (one job per running
 * attempt: its lines, heartbeats and completion). Everything here runs on
 * the loop thread, except the thread-pool work of calls.c. Not for other
 * modules: runner.h is the runner's face.
 */
#ifndef WEIR_RUNNER_INTERNAL_H
#define WEIR_RUNNER_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "err.h"
#include "executor.h"
#include "logspool.h"
#include "mask.h"
#include "runner.h"

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
    bool failed;            /* stopped for a reason the exit status says */
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

    /* secrets (mask.h) */
    struct mask *mask;        /* the attempt's secret values, or NULL */
    struct mask_stream ms[2]; /* stdout, stderr: bytes kept back */
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

/* ---- calls.c: the thread pool ---- */

/* uv_hrtime() in milliseconds. */
uint64_t runner_mono_ms(void);

/* Send body (taken, even on failure) to path; done runs on the loop. The
 * call is about job j, or (j NULL) about the n_batch jobs of batch.
 * Returns the call in flight (the runner's until done has run), or NULL. */
struct call *call_send_batch(struct runner *r, struct job *j,
                             struct job *const *batch, int n_batch,
                             const char *path, cJSON *body, long timeout_ms,
                             bool cancelable, void (*done)(struct call *));

/* call_send_batch() about one job j (or none). */
struct call *call_send(struct runner *r, struct job *j, const char *path,
                       cJSON *body, long timeout_ms, bool cancelable,
                       void (*done)(struct call *));

/* A GET of path (a health probe): no body, no job; NULL if not sent. */
struct call *call_get(struct runner *r, const char *path, long timeout_ms,
                      void (*done)(struct call *));

/* A failed call: log it and return the next wait for calls of its kind. */
uint64_t call_backoff(struct runner *r, const struct call *c,
                      enum call_kind kind);

/* Every kind's wait back to BACKOFF_MIN_MS. */
void call_backoff_reset(struct runner *r);

/* An id in an answer, as text safe in a URL path, into buf; false if v
 * is no such id or does not fit. */
bool call_id_text(const cJSON *v, char *buf, size_t len);

/* Whether the call got a 2xx answer. */
bool call_ok(const struct call *c);

/* Queue a folder job: remove dir (taken), or (remove false, dir NULL)
 * make a folder ahead. False when it could not be queued (dir is then
 * still the caller's). */
bool fsjob_queue(struct runner *r, bool remove, char *dir,
                 const char *attempt_id);

/* Keep a folder made ahead for each slot (up to READY_MAX). */
void ready_fill(struct runner *r);

/* Remove the folders made ahead that no attempt will use (stopping). */
void ready_drop(struct runner *r);

/* ---- runner.c: registration, leasing, outages, closing ---- */

/* A call did not get through: probe the server until one does. */
void runner_server_down(struct runner *r);

/* A call got through: backoffs start over; after an outage, everything
 * that waited goes now. */
void runner_server_up(struct runner *r);

/* Keep the long-polls open that the free slots and running commands
 * need. */
void runner_lease_more(struct runner *r);

/* Close the runner's timers once it is stopping and nothing is left. */
void runner_maybe_close(struct runner *r);

/* The shutdown grace is over: cancel every running command. */
void runner_grace_cb(uv_timer_t *t);

/* ---- jobs.c: one job per leased attempt ---- */

/* Start the attempt doc of a lease answer that reached this host at
 * answered_ms (runner_mono_ms()). */
void job_start(struct runner *r, const cJSON *doc, uint64_t answered_ms);

/* The server says the attempt's run was canceled: stop its command. */
void job_server_cancel(struct job *j);

/* Stop a running command because the worker shuts down. */
void job_cancel(struct job *j);

/* Free the job once its timers are closed and no call is about it. */
void job_maybe_free(struct job *j);

/* The job's heartbeat timer: keep the lease alive. */
void job_heartbeat_cb(uv_timer_t *t);

/* Report the completions that wait, in one call. */
void jobs_complete_flush(struct runner *r);

#endif
