/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's guard (see guard.h): the worker side, which spawns the
 * guard and writes records, and the guard process, which keeps the set of
 * live process groups in a small array and stops them at EOF.
 */
#include "guard.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define GUARD_POLL_MS                                                          \
    50 /* how often the guard looks whether groups are gone                    \
        */

static int guard_fd = -1;   /* the worker's write end, or -1 */
static pid_t guard_pid = 0; /* the guard process, or 0 */
static bool guard_broken;   /* a write failed: said once, then quiet */

/* ---- the worker side ---- */

int guard_start(struct weir_err *err)
{
    char *args[] = {"weir-worker", GUARD_ARG, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t all, none;
    int fds[2], rc;
    pid_t pid;

    if (guard_fd >= 0)
        return 0;
    if (pipe2(fds, O_CLOEXEC) != 0)
        return weir_err_set(err, WEIR_EIO, "guard: pipe: %s", strerror(errno));
    sigfillset(&all);
    sigemptyset(&none);
    rc = posix_spawn_file_actions_init(&fa);
    if (rc == 0 && (rc = posix_spawnattr_init(&at)) != 0)
        posix_spawn_file_actions_destroy(&fa);
    if (rc == 0) {
        /* dup2 clears close-on-exec on the guard's stdin only */
        if ((rc = posix_spawn_file_actions_adddup2(&fa, fds[0],
                                                   STDIN_FILENO)) == 0 &&
            (rc = posix_spawnattr_setflags(
                 &at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)) == 0 &&
            (rc = posix_spawnattr_setsigdefault(&at, &all)) == 0 &&
            (rc = posix_spawnattr_setsigmask(&at, &none)) == 0)
            rc = posix_spawn(&pid, "/proc/self/exe", &fa, &at, args, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
    }
    close(fds[0]);
    if (rc != 0) {
        close(fds[1]);
        return weir_err_set(err, WEIR_EIO, "guard: cannot start: %s",
                            strerror(rc));
    }
    guard_fd = fds[1];
    guard_pid = pid;
    log_info("event=guard_started pid=%d", (int)pid);
    return 0;
}

static void guard_write(const char *rec, size_t len)
{
    size_t off = 0;

    while (guard_fd >= 0 && off < len) {
        ssize_t n = write(guard_fd, rec + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            char q[128];

            if (!guard_broken)
                log_error("event=guard_write_failed error=%s",
                          log_quote(n < 0 ? strerror(errno) : "short write", q,
                                    sizeof(q)));
            guard_broken = true;
            return;
        }
        off += (size_t)n;
    }
}

void guard_watch(int pgid, uint64_t grace_ms)
{
    char rec[64];
    int n = snprintf(rec, sizeof(rec), "+%d %llu\n", pgid,
                     (unsigned long long)grace_ms);

    guard_write(rec, (size_t)n);
}

void guard_unwatch(int pgid)
{
    char rec[32];
    int n = snprintf(rec, sizeof(rec), "-%d\n", pgid);

    guard_write(rec, (size_t)n);
}

void guard_stop(void)
{
    if (guard_fd < 0)
        return;
    close(guard_fd);
    guard_fd = -1;
    while (waitpid(guard_pid, NULL, 0) < 0 && errno == EINTR)
        ;
    guard_pid = 0;
}

/* ---- the guard process ---- */

/* The live groups: pgid and grace, unordered. */
struct groups {
    int *pgid;       /* group ids */
    uint64_t *grace; /* each one's kill grace in ms */
    size_t n;        /* entries in use */
    size_t cap;      /* entries allocated */
};

static void groups_add(struct groups *g, int pgid, uint64_t grace)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        int *p = realloc(g->pgid, cap * sizeof(*p));
        uint64_t *q;

        if (p == NULL)
            return; /* unrecorded: that group is not stopped by us */
        g->pgid = p;
        q = realloc(g->grace, cap * sizeof(*q));
        if (q == NULL)
            return;
        g->grace = q;
        g->cap = cap;
    }
    g->pgid[g->n] = pgid;
    g->grace[g->n++] = grace;
}

static void groups_del(struct groups *g, int pgid)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->pgid[i] == pgid) {
            g->pgid[i] = g->pgid[--g->n];
            g->grace[i] = g->grace[g->n];
            return;
        }
}

/* One record line (NUL-terminated, without the newline). */
static void record(struct groups *g, const char *line)
{
    char *end;
    long pgid = strtol(line + 1, &end, 10);

    if (pgid <= 1 || (line[0] != '+' && line[0] != '-'))
        return;
    if (line[0] == '-')
        groups_del(g, (int)pgid);
    else
        groups_add(g, (int)pgid, strtoull(end, NULL, 10));
}

/* Signal every group; returns how many still exist. */
static size_t groups_kill(const struct groups *g, int sig)
{
    size_t alive = 0;

    for (size_t i = 0; i < g->n; i++)
        alive += kill(-g->pgid[i], sig) == 0;
    return alive;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The worker is gone: SIGTERM, the grace (or until all are gone), SIGKILL. */
static void stop_all(const struct groups *g)
{
    uint64_t grace = 0;

    for (size_t i = 0; i < g->n; i++)
        if (g->grace[i] > grace)
            grace = g->grace[i];
    if (groups_kill(g, SIGTERM) == 0)
        return;
    for (uint64_t waited = 0; waited < grace; waited += GUARD_POLL_MS) {
        sleep_ms(GUARD_POLL_MS);
        if (groups_kill(g, 0) == 0)
            return;
    }
    (void)groups_kill(g, SIGKILL);
}

int guard_main(void)
{
    struct groups g = {0};
    char buf[4096], line[64];
    size_t len = 0;

    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EOF (or an error, which ends the watch the same) */
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != '\n') {
                if (len < sizeof(line) - 1)
                    line[len++] = buf[i];
                continue;
            }
            line[len] = '\0';
            record(&g, line);
            len = 0;
        }
    }
    if (g.n > 0) {
        log_warn("event=guard_worker_gone groups=%zu", g.n);
        stop_all(&g);
    }
    free(g.pgid);
    free(g.grace);
    return 0;
}
