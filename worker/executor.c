/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The executor: one command in its own process group on a libuv loop, its
 * output split into lines, its timeout and its cancellation. See
 * executor.h for the design; this file keeps every handle of a run in one
 * heap block that is freed when the last handle's close callback has run.
 */
#include "executor.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guard.h"

/* waitid()'s idtype for a pidfd (Linux 5.4), when the headers lack it. */
#ifdef P_PIDFD
#define EXEC_P_PIDFD P_PIDFD
#else
#define EXEC_P_PIDFD 3
#endif

/* The size of one read from a pipe. */
#define READ_SIZE 65536

/*
 * After the linger ran out and the group was killed, read at most this many
 * bytes still buffered in a pipe: enough for what the kernel holds, but a
 * bound against a writer that left the group and keeps writing.
 */
#define DRAIN_MAX (4u << 20)

/* libuv handles of one run: three timers, two pipes, the process. */
#define HANDLE_COUNT 6

enum exec_phase {
    PHASE_RUNNING,  /* the command runs and no signal was sent */
    PHASE_STOPPING, /* SIGTERM went to the group; the command still runs */
    PHASE_EXITED,   /* the command exited; waiting for EOF on the pipes */
    PHASE_CLOSING,  /* complete; the handles are closing */
};

/* One output stream: its pipe and its pending partial line. */
struct exec_out {
    uv_pipe_t pipe;               /* our end of the pipe */
    struct exec *owner;           /* the run it belongs to */
    enum exec_stream stream;      /* which stream this is */
    bool eof;                     /* no more reading: EOF, error or closed */
    size_t len;                   /* bytes pending in line */
    char line[EXEC_LINE_MAX + 1]; /* the partial line, with room for a NUL */
    char rbuf[READ_SIZE];         /* where reads land */
};

struct exec {
    uv_loop_t *loop;          /* the loop every handle belongs to */
    uv_poll_t exit_poll;      /* readable on pidfd when the command exits */
    int pidfd;                /* the command's pidfd, or -1 */
    uv_timer_t timeout_timer; /* sends SIGTERM when the timeout expires */
    uv_timer_t grace_timer;   /* sends SIGKILL when the grace is over */
    uv_timer_t linger_timer;  /* stops waiting for EOF after exit */
    struct exec_out out[2];   /* stdout, then stderr */
    exec_line_cb line_cb;     /* gets each line, may be NULL */
    exec_done_cb done_cb;     /* gets the result once */
    void *ctx;                /* passed to both callbacks */
    struct exec_result res;   /* filled as the run goes */
    uint64_t start_hr;        /* uv_hrtime() at spawn */
    uint64_t grace_ms;        /* from SIGTERM to SIGKILL */
    uint64_t linger_ms;       /* how long to wait for EOF after exit */
    int pid;                  /* the leader's pid and the group id; 0: none */
    enum exec_phase phase;    /* where the run is */
    int open_handles;         /* handles not yet closed */
    bool notify;              /* call done_cb when closed (spawn worked) */
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void phase_set(struct exec *e, enum exec_phase to)
{
    enum exec_phase from = e->phase;

    WEIR_ASSERT((from == PHASE_RUNNING && to != PHASE_RUNNING) ||
                (from == PHASE_STOPPING &&
                 (to == PHASE_EXITED || to == PHASE_CLOSING)) ||
                (from == PHASE_EXITED && to == PHASE_CLOSING));
    e->phase = to;
}

/* Signal the whole group; a group already gone is not an error. */
static void group_kill(struct exec *e, int sig)
{
    if (e->pid <= 0)
        return;
    /* ESRCH: the group is gone; EPERM: nothing in it we may signal */
    if (kill(-e->pid, sig) != 0)
        WEIR_ASSERT(errno != EINVAL);
}

/* Deliver the first len bytes of o->line as one line (more: a piece of
 * a longer one). */
static void out_emit(struct exec_out *o, int64_t t, size_t len, bool more)
{
    struct exec *e = o->owner;
    char saved = o->line[len];

    if (e->line_cb == NULL)
        return;
    o->line[len] = '\0';
    e->line_cb(e->ctx, o->stream, t, o->line, len, more);
    o->line[len] = saved;
}

/*
 * Where to cut a full buffer: before a UTF-8 sequence that its last bytes
 * start but do not finish, so that the sequence goes whole into the next
 * piece; at the end otherwise (including bytes that are not UTF-8).
 */
static size_t utf8_cut(const char *buf, size_t len)
{
    for (size_t back = 1; back <= 4 && back <= len; back++) {
        unsigned char c = (unsigned char)buf[len - back];
        size_t need;

        if ((c & 0xC0) == 0x80)
            continue; /* a continuation byte: look further back */
        if ((c & 0xE0) == 0xC0)
            need = 2;
        else if ((c & 0xF0) == 0xE0)
            need = 3;
        else if ((c & 0xF8) == 0xF0)
            need = 4;
        else
            need = 1;
        return need > back ? len - back : len;
    }
    return len;
}

/*
 * The buffer holds EXEC_LINE_MAX bytes and the line goes on: a line that
 * long is cut, and the piece delivered as a line of its own.
 */
static void out_piece(struct exec_out *o, int64_t t)
{
    size_t cut = utf8_cut(o->line, o->len);

    out_emit(o, t, cut, true);
    memmove(o->line, o->line + cut, o->len - cut);
    o->len -= cut;
}

/* Split bytes read at time t into lines. */
static void out_feed(struct exec_out *o, int64_t t, const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl != NULL ? (size_t)(nl - p) : n;

        while (take > 0) {
            size_t k;

            if (o->len == EXEC_LINE_MAX)
                out_piece(o, t);
            k = EXEC_LINE_MAX - o->len;
            if (k > take)
                k = take;
            memcpy(o->line + o->len, p, k);
            o->len += k;
            p += k;
            n -= k;
            take -= k;
        }
        if (nl != NULL) {
            out_emit(o, t, o->len, false);
            o->len = 0;
            p++;
            n--;
        }
    }
}

/* No more bytes will be read: deliver the partial last line, if any. */
static void out_finish(struct exec_out *o)
{
    if (o->eof)
        return;
    o->eof = true;
    uv_read_stop((uv_stream_t *)&o->pipe);
    if (o->len > 0)
        out_emit(o, now_ms(), o->len, false);
    o->len = 0;
}

/* Read what a pipe still buffers, without waiting for more. */
static void out_drain(struct exec_out *o)
{
    size_t total = 0;
    uv_os_fd_t fd;

    if (uv_fileno((uv_handle_t *)&o->pipe, &fd) != 0)
        return;
    while (total < DRAIN_MAX) {
        ssize_t n = read(fd, o->rbuf, sizeof(o->rbuf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* EOF, nothing for now (EAGAIN), or an error */
        out_feed(o, now_ms(), o->rbuf, (size_t)n);
        total += (size_t)n;
    }
}

static void close_cb(uv_handle_t *h)
{
    struct exec *e = h->data;

    if (--e->open_handles > 0)
        return;
    if (e->notify)
        e->done_cb(e->ctx, &e->res);
    free(e);
}

static void exit_poll_close_cb(uv_handle_t *h)
{
    struct exec *e = h->data;

    close(e->pidfd);
    e->pidfd = -1;
    close_cb(h);
}

static void pipe_close_cb(uv_handle_t *h)
{
    struct exec_out *o = h->data;

    h->data = o->owner;
    close_cb(h);
}

static void close_all(struct exec *e)
{
    uv_close((uv_handle_t *)&e->timeout_timer, close_cb);
    uv_close((uv_handle_t *)&e->grace_timer, close_cb);
    uv_close((uv_handle_t *)&e->linger_timer, close_cb);
    uv_close((uv_handle_t *)&e->out[0].pipe, pipe_close_cb);
    uv_close((uv_handle_t *)&e->out[1].pipe, pipe_close_cb);
    if (e->pidfd >= 0)
        uv_close((uv_handle_t *)&e->exit_poll, exit_poll_close_cb);
}

/*
 * Complete the run. With `forced`, the linger ran out (or a cancel came
 * after exit): the pipes are read one last time and closed without EOF.
 * Whatever is left of the group is killed either way.
 */
static void finish(struct exec *e, bool forced)
{
    phase_set(e, PHASE_CLOSING);
    group_kill(e, SIGKILL);
    if (e->pid > 0)
        guard_unwatch(e->pid);
    for (size_t i = 0; i < WEIR_ARRAY_LEN(e->out); i++) {
        struct exec_out *o = &e->out[i];

        if (o->eof)
            continue;
        if (forced) {
            e->res.output_cut = true;
            out_drain(o);
        }
        out_finish(o);
    }
    close_all(e);
}

static void maybe_finish(struct exec *e)
{
    if (e->phase == PHASE_EXITED && e->out[0].eof && e->out[1].eof)
        finish(e, false);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct exec_out *o = h->data;

    (void)hint;
    buf->base = o->rbuf;
    buf->len = sizeof(o->rbuf);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct exec_out *o = s->data;

    if (nread > 0) {
        out_feed(o, now_ms(), buf->base, (size_t)nread);
        return;
    }
    if (nread == 0)
        return; /* nothing to read this time */
    /* EOF, or an error that ends the stream just the same */
    out_finish(o);
    maybe_finish(o->owner);
}

static void grace_cb(uv_timer_t *t)
{
    group_kill(t->data, SIGKILL);
}

/* SIGTERM to the group now, SIGKILL when the grace is over. */
static void stop(struct exec *e)
{
    phase_set(e, PHASE_STOPPING);
    uv_timer_stop(&e->timeout_timer);
    group_kill(e, SIGTERM);
    if (uv_timer_start(&e->grace_timer, grace_cb, e->grace_ms, 0) != 0)
        group_kill(e, SIGKILL); /* no timer, no grace */
}

static void timeout_cb(uv_timer_t *t)
{
    struct exec *e = t->data;

    if (e->phase != PHASE_RUNNING)
        return;
    e->res.timed_out = true;
    stop(e);
}

static void linger_cb(uv_timer_t *t)
{
    struct exec *e = t->data;

    if (e->phase == PHASE_EXITED)
        finish(e, true);
}

static void exit_cb(uv_poll_t *p, int status, int events)
{
    struct exec *e = p->data;
    siginfo_t info;
    int term_signal = 0;
    int64_t code = -1;

    (void)status;
    (void)events;
    memset(&info, 0, sizeof(info));
    if (waitid((idtype_t)EXEC_P_PIDFD, (id_t)e->pidfd, &info,
               WEXITED | WNOHANG) != 0) {
        WEIR_ASSERT(errno == EINTR);
        return; /* the poll fires again */
    }
    if (info.si_pid == 0)
        return; /* not yet */
    uv_poll_stop(p);
    if (info.si_code == CLD_EXITED)
        code = info.si_status;
    else
        term_signal = info.si_status;

    e->res.duration_ms = (uv_hrtime() - e->start_hr) / 1000000;
    e->res.term_signal = term_signal;
    e->res.exit_code = term_signal != 0 ? -1 : code;
    uv_timer_stop(&e->timeout_timer);
    uv_timer_stop(&e->grace_timer);
    phase_set(e, PHASE_EXITED);
    if (e->out[0].eof && e->out[1].eof)
        finish(e, false);
    else if (uv_timer_start(&e->linger_timer, linger_cb, e->linger_ms, 0) != 0)
        finish(e, true);
}

/* Set up the block and its handles; none of this can fail on Linux. */
static void exec_init(struct exec *e, uv_loop_t *loop,
                      const struct exec_spec *spec)
{
    uv_timer_t *timers[] = {&e->timeout_timer, &e->grace_timer,
                            &e->linger_timer};

    e->loop = loop;
    e->grace_ms = spec->kill_grace_ms;
    e->linger_ms =
        spec->linger_ms > 0 ? spec->linger_ms : EXEC_LINGER_DEFAULT_MS;
    e->phase = PHASE_RUNNING;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(timers); i++) {
        WEIR_ASSERT(uv_timer_init(loop, timers[i]) == 0);
        timers[i]->data = e;
    }
    for (size_t i = 0; i < WEIR_ARRAY_LEN(e->out); i++) {
        struct exec_out *o = &e->out[i];

        WEIR_ASSERT(uv_pipe_init(loop, &o->pipe, 0) == 0);
        o->pipe.data = o;
        o->owner = e;
        o->stream = i == 0 ? EXEC_STDOUT : EXEC_STDERR;
    }
    e->exit_poll.data = e;
    e->pidfd = -1;
    e->open_handles = HANDLE_COUNT - 1; /* the poll counts once it exists */
}

/*
 * The file actions and attributes of a spawn: stdin from /dev/null, stdout
 * and stderr to the pipes' write ends, every other descriptor closed (the
 * worker's connections, its lock, other steps' pipes: a step gets 0-2
 * only, whatever flags they were opened with), the working folder, a
 * session of its own, every signal at its default and none blocked.
 */
static int spawn_setup(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at,
                       const int wfd[2], const char *cwd)
{
    sigset_t all, none;
    int rc;

    sigfillset(&all);
    sigemptyset(&none);
    if ((rc = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null",
                                               O_RDONLY, 0)) != 0 ||
        (rc = posix_spawn_file_actions_adddup2(fa, wfd[0], STDOUT_FILENO)) !=
            0 ||
        (rc = posix_spawn_file_actions_adddup2(fa, wfd[1], STDERR_FILENO)) !=
            0 ||
        (rc = posix_spawn_file_actions_addclosefrom_np(fa, STDERR_FILENO +
                                                               1)) != 0 ||
        (cwd != NULL &&
         (rc = posix_spawn_file_actions_addchdir_np(fa, cwd)) != 0) ||
        (rc = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSID |
                                               POSIX_SPAWN_SETSIGDEF |
                                               POSIX_SPAWN_SETSIGMASK)) != 0 ||
        (rc = posix_spawnattr_setsigdefault(at, &all)) != 0 ||
        (rc = posix_spawnattr_setsigmask(at, &none)) != 0)
        return rc;
    return 0;
}

static int exit_watch(struct exec *e, pid_t pid);

/*
 * Start /bin/sh -c command with posix_spawn (a vfork-style clone: no copy
 * of this process's page tables, unlike fork), then watch its pidfd for
 * the exit. Returns 0 or a negative libuv error code.
 */
static int spawn_child(struct exec *e, const struct exec_spec *spec)
{
    char *sh[] = {"/bin/sh", "-c", (char *)spec->command, NULL};
    char *as[] = {"/proc/self/exe",
                  EXEC_AS_ARG,
                  (char *)spec->run_as,
                  "/bin/sh",
                  "-c",
                  (char *)spec->command,
                  NULL};
    char **args = spec->run_as != NULL ? as : sh;
    uv_file fds[2][2] = {{-1, -1}, {-1, -1}};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int wfd[2], rc;
    pid_t pid;

    for (size_t i = 0; i < 2; i++) {
        if ((rc = uv_pipe(fds[i], 0, 0)) != 0)
            goto out_fds;
        wfd[i] = fds[i][1];
    }
    if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
        rc = -rc;
        goto out_fds;
    }
    if ((rc = posix_spawnattr_init(&at)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        rc = -rc;
        goto out_fds;
    }
    rc = spawn_setup(&fa, &at, wfd, spec->cwd);
    if (rc == 0)
        rc = posix_spawn(&pid, args[0], &fa, &at, args, (char **)spec->env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        rc = -rc;
        goto out_fds;
    }
    e->pid = pid;
    guard_watch(pid, spec->kill_grace_ms);
    for (size_t i = 0; i < 2; i++) {
        close(fds[i][1]);
        fds[i][1] = -1;
        WEIR_ASSERT(uv_pipe_open(&e->out[i].pipe, fds[i][0]) == 0);
        fds[i][0] = -1;
    }
    return exit_watch(e, pid);
out_fds:
    for (size_t i = 0; i < 2; i++)
        for (size_t k = 0; k < 2; k++)
            if (fds[i][k] >= 0)
                close(fds[i][k]);
    return rc;
}

/*
 * Watch the child's pidfd for its exit. Without one there is no way to
 * learn of the exit: stop the child, reap it, and return the error.
 */
static int exit_watch(struct exec *e, pid_t pid)
{
    int rc, fd;

    fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0 || uv_poll_init(e->loop, &e->exit_poll, fd) != 0) {
        /* no way to learn of its exit: stop it, reap it, report a failure */
        rc = fd < 0 ? -errno : UV_EIO;
        if (fd >= 0)
            close(fd);
        group_kill(e, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        guard_unwatch(pid);
        e->pid = 0;
        return rc;
    }
    e->pidfd = fd;
    e->exit_poll.data = e;
    e->open_handles++;
    WEIR_ASSERT(uv_poll_start(&e->exit_poll, UV_READABLE, exit_cb) == 0);
    return 0;
}

static int spawn_error(int rc, const struct exec_spec *spec,
                       struct weir_err *err)
{
    int code = rc == UV_ENOMEM    ? WEIR_ENOMEM
               : rc == UV_ENOENT  ? WEIR_ENOTFOUND
               : rc == UV_EACCES  ? WEIR_EFORBIDDEN
               : rc == UV_ENOTDIR ? WEIR_ENOTFOUND
                                  : WEIR_EIO;

    if (spec->cwd != NULL)
        return weir_err_set(err, code, "cannot start /bin/sh in \"%s\": %s",
                            spec->cwd, uv_strerror(rc));
    return weir_err_set(err, code, "cannot start /bin/sh: %s", uv_strerror(rc));
}

int exec_start(uv_loop_t *loop, const struct exec_spec *spec,
               exec_line_cb line_cb, exec_done_cb done_cb, void *ctx,
               struct exec **out, struct weir_err *err)
{
    struct exec *e = NULL;
    int rc;

    if (spec->command == NULL || done_cb == NULL)
        return weir_err_set(err, WEIR_EINVAL,
                            "exec_start: a command and a done callback are "
                            "required");
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "exec_start: out of memory");
    exec_init(e, loop, spec);
    e->line_cb = line_cb;
    e->done_cb = done_cb;
    e->ctx = ctx;

    e->res.start_ms = now_ms();
    e->start_hr = uv_hrtime();
    rc = spawn_child(e, spec);
    if (rc != 0) {
        /* the handles exist on the loop: close them, then free quietly */
        close_all(e);
        return spawn_error(rc, spec, err);
    }
    e->notify = true;

    for (size_t i = 0; i < WEIR_ARRAY_LEN(e->out); i++) {
        uv_stream_t *s = (uv_stream_t *)&e->out[i].pipe;

        if (uv_read_start(s, alloc_cb, read_cb) != 0)
            e->out[i].eof = true; /* cannot happen on a fresh pipe */
    }
    /* the loop's clock may be stale: count the timeout from the spawn */
    uv_update_time(loop);
    if (spec->timeout_ms > 0)
        WEIR_ASSERT(uv_timer_start(&e->timeout_timer, timeout_cb,
                                   spec->timeout_ms, 0) == 0);
    *out = e;
    return 0;
}

void exec_cancel(struct exec *e)
{
    if (e == NULL)
        return;
    switch (e->phase) {
    case PHASE_RUNNING:
        e->res.canceled = true;
        stop(e);
        break;
    case PHASE_EXITED:
        /* never finish from here: the caller may be inside a read */
        WEIR_ASSERT(uv_timer_start(&e->linger_timer, linger_cb, 0, 0) == 0);
        break;
    case PHASE_STOPPING:
    case PHASE_CLOSING:
        break;
    }
}

int exec_pid(const struct exec *e)
{
    return e->pid;
}

int exec_as_main(int argc, char **argv)
{
    const struct passwd *pw;

    if (argc < 4 || strcmp(argv[1], EXEC_AS_ARG) != 0) {
        fprintf(stderr, "weir-worker: %s USER PROGRAM [ARG...]\n", EXEC_AS_ARG);
        return 126;
    }
    errno = 0;
    pw = getpwnam(argv[2]);
    if (pw == NULL) {
        fprintf(stderr, "weir-worker: --run-as: no user \"%s\"\n", argv[2]);
        return 126;
    }
    /* groups first, then the gid, then the uid, which takes the right to
     * change the others; the checks after make sure none can come back */
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
        setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
        setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0 ||
        (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))) {
        fprintf(stderr, "weir-worker: --run-as %s: cannot switch user: %s\n",
                argv[2], strerror(errno));
        return 126;
    }
    if (setenv("HOME", pw->pw_dir, 1) != 0 ||
        setenv("USER", pw->pw_name, 1) != 0) {
        fprintf(stderr, "weir-worker: --run-as: out of memory\n");
        return 126;
    }
    execv(argv[3], argv + 3);
    fprintf(stderr, "weir-worker: cannot start %s: %s\n", argv[3],
            strerror(errno));
    return 126;
}
