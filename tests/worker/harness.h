/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared helpers of the worker tests: run one command through the executor
 * on a private loop, collect its lines and result, and fail the test when
 * the loop runs longer than a bound. Include after <cmocka.h>.
 */
#ifndef WEIR_TEST_WORKER_HARNESS_H
#define WEIR_TEST_WORKER_HARNESS_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "executor.h"

/* How long one run may keep the loop going before the test fails. */
#define HARNESS_GUARD_MS 10000

struct hline {
    enum exec_stream stream; /* where it came from */
    int64_t time_ms;         /* when it was read */
    char *text;              /* the bytes, NUL-terminated copy */
    size_t len;              /* bytes in text */
};

struct hrun {
    uv_loop_t loop;         /* private to the run */
    uv_timer_t guard;       /* fails the test when the run takes too long */
    struct exec *exec;      /* the execution, NULL once done */
    bool done;              /* the completion callback ran */
    int done_calls;         /* how often it ran (must be 1) */
    struct exec_result res; /* the result */
    bool keep;              /* keep every line (else only count them) */
    struct hline *lines;    /* kept lines in arrival order */
    size_t n_lines;         /* kept lines */
    size_t cap_lines;       /* room in lines */
    size_t count[3];        /* lines per stream */
    size_t bytes[3];        /* bytes per stream, newlines not counted */
    int64_t wall_before;    /* wall clock before the start */
    int64_t wall_after;     /* wall clock at completion */
    void (*on_line)(struct hrun *r, const struct hline *l); /* test hook */
    void *user;                                             /* for the hook */
};

static inline int64_t harness_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void harness_guard_cb(uv_timer_t *t)
{
    (void)t;
    fail_msg("the loop ran longer than %d ms", HARNESS_GUARD_MS);
}

static inline void harness_line_cb(void *ctx, enum exec_stream stream,
                                   int64_t time_ms, const char *text,
                                   size_t len, bool more)
{
    struct hrun *r = ctx;
    struct hline l = {stream, time_ms, (char *)text, len};

    assert_true(!more || len + 4 > EXEC_LINE_MAX);
    assert_true(stream == EXEC_STDOUT || stream == EXEC_STDERR);
    assert_int_equal(text[len], '\0');
    r->count[stream]++;
    r->bytes[stream] += len;
    if (r->keep) {
        if (r->n_lines == r->cap_lines) {
            r->cap_lines = r->cap_lines ? 2 * r->cap_lines : 64;
            r->lines = realloc(r->lines, r->cap_lines * sizeof(*r->lines));
            assert_non_null(r->lines);
        }
        l.text = malloc(len + 1);
        assert_non_null(l.text);
        memcpy(l.text, text, len + 1);
        r->lines[r->n_lines++] = l;
    }
    if (r->on_line != NULL)
        r->on_line(r, &l);
}

static inline void harness_done_cb(void *ctx, const struct exec_result *res)
{
    struct hrun *r = ctx;

    r->done_calls++;
    r->done = true;
    r->res = *res;
    r->wall_after = harness_wall_ms();
    exec_cancel(r->exec); /* documented as a no-op here */
    r->exec = NULL;
}

static inline void harness_init(struct hrun *r)
{
    memset(r, 0, sizeof(*r));
    r->keep = true;
    assert_int_equal(uv_loop_init(&r->loop), 0);
    assert_int_equal(uv_timer_init(&r->loop, &r->guard), 0);
    assert_int_equal(
        uv_timer_start(&r->guard, harness_guard_cb, HARNESS_GUARD_MS, 0), 0);
    uv_unref((uv_handle_t *)&r->guard);
}

/* Start spec; returns what exec_start() returned. */
static inline int harness_start(struct hrun *r, const struct exec_spec *spec,
                                struct weir_err *err)
{
    r->wall_before = harness_wall_ms();
    return exec_start(&r->loop, spec, harness_line_cb, harness_done_cb, r,
                      &r->exec, err);
}

/* Run the loop until nothing is left but the guard. */
static inline void harness_wait(struct hrun *r)
{
    uv_run(&r->loop, UV_RUN_DEFAULT);
}

/* Close the loop (every handle of the run must be closed) and free. */
static inline void harness_cleanup(struct hrun *r)
{
    uv_close((uv_handle_t *)&r->guard, NULL);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&r->loop), 0);
    for (size_t i = 0; i < r->n_lines; i++)
        free(r->lines[i].text);
    free(r->lines);
}

/* Start, wait for completion, check it came exactly once. */
static inline void harness_run(struct hrun *r, const struct exec_spec *spec)
{
    struct weir_err err = {0};

    if (harness_start(r, spec, &err) != 0)
        fail_msg("exec_start: %s", err.msg);
    harness_wait(r);
    assert_true(r->done);
    assert_int_equal(r->done_calls, 1);
}

/* The i-th kept line of a stream, or NULL. */
static inline const struct hline *
harness_line(const struct hrun *r, enum exec_stream stream, size_t i)
{
    for (size_t k = 0; k < r->n_lines; k++)
        if (r->lines[k].stream == stream && i-- == 0)
            return &r->lines[k];
    return NULL;
}

static inline void harness_expect_line(const struct hrun *r,
                                       enum exec_stream stream, size_t i,
                                       const char *text)
{
    const struct hline *l = harness_line(r, stream, i);

    if (l == NULL)
        fail_msg("no line %zu on stream %d (wanted \"%s\")", i, (int)stream,
                 text);
    assert_int_equal(l->len, strlen(text));
    assert_memory_equal(l->text, text, l->len);
}

/*
 * Is the process gone? Waits up to 2 s for /proc/<pid> to vanish or to
 * show a zombie (state Z or X): an orphan is reaped by init or a
 * subreaper, whenever they get to it.
 */
static inline bool harness_pid_gone(int pid)
{
    for (int i = 0; i < 200; i++) {
        char path[64], buf[512];
        FILE *f;
        char *paren;
        size_t n;

        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        f = fopen(path, "r");
        if (f == NULL)
            return true;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        paren = strrchr(buf, ')');
        if (paren != NULL && (paren[2] == 'Z' || paren[2] == 'X'))
            return true;
        uv_sleep(10);
    }
    return kill(pid, 0) == -1 && errno == ESRCH;
}

/* A spec with a small clean environment. */
static inline struct exec_spec harness_spec(const char *command)
{
    static char *const env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
    struct exec_spec spec = {0};

    spec.command = command;
    spec.env = env;
    spec.kill_grace_ms = 2000;
    return spec;
}

#endif
