/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `weir up`: Weir standalone on this machine. Starts a private PostgreSQL
 * cluster under .weir/pg (unix socket only), weir-server on 127.0.0.1 and
 * local workers, writes .weir/server.url and .weir/admin.token for the
 * CLI, and stops everything cleanly on Ctrl-C. A second `weir up` reuses
 * the cluster and its history.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"

#define UP_MAX_WORKERS  16 /* local workers at most */
#define UP_START_WAIT_S 30 /* longest wait for the server to answer */
#define UP_STOP_WAIT_S  30 /* longest wait for a child to stop */
#define UP_MAX_QUEUES   16 /* --queue at most this many times */
#define UP_QUEUE_MAX    64 /* bytes of a queue name */

extern char **environ;

static const char usage_text[] =
    "usage: weir up [--dags DIR] [--home DIR] [--listen ADDR] [--workers N]\n"
    "               [--slots N] [--queue NAME]...\n\n"
    "Runs Weir standalone: a private PostgreSQL cluster under HOME/pg, the\n"
    "server on ADDR with the DAGs of DIR, and N local workers. Ctrl-C stops\n"
    "everything; running `weir up` again keeps the history.\n\n"
    "  --dags DIR      DAG folder (default ./dags)\n"
    "  --home DIR      state folder (default ./.weir)\n"
    "  --listen ADDR   server address (default 127.0.0.1:8080)\n"
    "  --workers N     local workers (default 2)\n"
    "  --slots N       attempts each worker runs at once (default 4)\n"
    "  --queue NAME    a queue every local worker serves; repeatable\n"
    "                  (default: default only)\n";

struct up {
    const char *dags;                  /* --dags */
    const char *home;                  /* --home */
    const char *listen;                /* --listen */
    long workers;                      /* --workers */
    long slots;                        /* --slots */
    const char *queues[UP_MAX_QUEUES]; /* --queue, in order given */
    int n_queues;                      /* entries in queues; 0: default */
    char bindir[PATH_MAX];             /* folder of this weir binary */
    char pg_url[512];             /* libpq connection string of the cluster */
    char url[256];                /* http://ADDR of the server */
    int lock_fd;                  /* HOME/up.lock, flock()ed, or -1 */
    pid_t server;                 /* weir-server, or 0 */
    pid_t worker[UP_MAX_WORKERS]; /* local workers, 0 when not running */
};

static volatile sig_atomic_t up_stop_signal;

static void on_signal(int sig)
{
    up_stop_signal = sig;
}

/* Path of a sibling program: server/weir-server next to build/weir. */
static void sibling(const struct up *u, const char *rel, char *buf, size_t len)
{
    if (snprintf(buf, len, "%s/%s", u->bindir, rel) >= (int)len)
        buf[0] = '\0'; /* too long: spawning "" fails with a message */
}

/* Run argv to completion, its stdout (first line) into out. */
static int run_capture(char *const argv[], char *out, size_t len)
{
    posix_spawn_file_actions_t fa;
    int fds[2], status = 0;
    pid_t pid;
    ssize_t n;
    size_t got = 0;

    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    while (got + 1 < len && (n = read(fds[0], out + got, len - got - 1)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    out[strcspn(out, "\n")] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static pid_t start_child(char *const argv[])
{
    pid_t pid;

    if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0) {
        fprintf(stderr, "weir up: cannot start %s: %s\n", argv[0],
                strerror(errno));
        return 0;
    }
    return pid;
}

/* Send sig to a child and wait for it, SIGKILL after UP_STOP_WAIT_S. */
static void stop_child(pid_t *pid, int sig)
{
    if (*pid <= 0)
        return;
    kill(*pid, sig);
    for (int i = 0; i < UP_STOP_WAIT_S * 10; i++) {
        if (waitpid(*pid, NULL, WNOHANG) == *pid) {
            *pid = 0;
            return;
        }
        usleep(100 * 1000);
    }
    fprintf(stderr, "weir up: pid %d did not stop; killing it\n", (int)*pid);
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
    *pid = 0;
}

static int start_postgres(struct up *u)
{
    char dir[PATH_MAX], helper[PATH_MAX];
    char *argv[] = {"/bin/bash", helper, "start", dir, NULL};

    sibling(u, "weir-pg", helper, sizeof(helper));
    snprintf(dir, sizeof(dir), "%s/pg", u->home);
    printf("weir up: starting PostgreSQL in %s\n", dir);
    fflush(stdout);
    if (run_capture(argv, u->pg_url, sizeof(u->pg_url)) != 0) {
        fprintf(stderr, "weir up: PostgreSQL did not start (see %s)\n", dir);
        return -1;
    }
    return 0;
}

static void stop_postgres(const struct up *u)
{
    char dir[PATH_MAX], helper[PATH_MAX];
    char out[256];
    char *argv[] = {"/bin/bash", helper, "stop", dir, NULL};

    sibling(u, "weir-pg", helper, sizeof(helper));
    snprintf(dir, sizeof(dir), "%s/pg", u->home);
    if (run_capture(argv, out, sizeof(out)) != 0)
        fprintf(stderr, "weir up: PostgreSQL in %s did not stop cleanly\n",
                dir);
}

/* Ask /api/v1/health until it answers, the server dies, or time runs out. */
static int wait_healthy(struct up *u)
{
    struct client c;
    struct weir_err err;

    client_init_anonymous(&c, u->url);
    for (int i = 0; i < UP_START_WAIT_S * 10 && !up_stop_signal; i++) {
        cJSON *reply = NULL;
        long status = 0;

        if (client_call(&c, "GET", "/api/v1/health", NULL, &status, &reply,
                        &err) == 0 &&
            status == 200) {
            cJSON_Delete(reply);
            return 0;
        }
        cJSON_Delete(reply);
        if (waitpid(u->server, NULL, WNOHANG) == u->server) {
            u->server = 0;
            fprintf(stderr, "weir up: the server exited during start-up\n");
            return -1;
        }
        usleep(100 * 1000);
    }
    fprintf(stderr, "weir up: the server did not answer at %s\n", u->url);
    return -1;
}

/*
 * A token of `role` kept in HOME/FILE (mode 0600), created when the file
 * is missing, named PREFIX-<time> (live token names are unique). The
 * secret goes from weir-server's stdout through a pipe into the file.
 */
static int home_token(struct up *u, const char *role, const char *file,
                      const char *prefix, char *path, size_t len)
{
    char bin[PATH_MAX], token[256], name[80];
    char *argv[] = {bin,  "--create-token", (char *)role, "--token-name",
                    name, "--database-url", u->pg_url,    NULL};
    time_t now = time(NULL);
    struct stat st;
    struct tm tm;
    int fd, ok;

    snprintf(path, len, "%s/%s", u->home, file);
    if (stat(path, &st) == 0 && st.st_size > 0)
        return 0;
    gmtime_r(&now, &tm);
    snprintf(name, sizeof(name), "%s-%04d%02d%02d-%02d%02d%02d", prefix,
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
    sibling(u, "server/weir-server", bin, sizeof(bin));
    if (run_capture(argv, token, sizeof(token)) != 0 || token[0] == '\0') {
        fprintf(stderr, "weir up: cannot create the %s token\n", role);
        return -1;
    }
    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    ok = fd >= 0 && dprintf(fd, "%s\n", token) > 0;
    explicit_bzero(token, sizeof(token));
    if (fd < 0 || close(fd) != 0 || !ok) {
        fprintf(stderr, "weir up: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

static int start_server(struct up *u)
{
    char bin[PATH_MAX], tokfile[PATH_MAX];
    char *argv[] = {bin,
                    "--database-url",
                    u->pg_url,
                    "--dags-dir",
                    (char *)u->dags,
                    "--listen",
                    (char *)u->listen,
                    "--admin-token-file",
                    tokfile,
                    NULL};

    sibling(u, "server/weir-server", bin, sizeof(bin));
    snprintf(tokfile, sizeof(tokfile), "%s/admin.token", u->home);
    u->server = start_child(argv);
    if (u->server == 0 || wait_healthy(u) != 0)
        return -1;
    /* An admin token exists but its file was removed: make another. */
    return home_token(u, "admin", "admin.token", "local-admin", tokfile,
                      sizeof(tokfile));
}

static int start_workers(struct up *u)
{
    char bin[PATH_MAX], tokfile[PATH_MAX], name[64], slots[32];
    char *argv[12 + 2 * UP_MAX_QUEUES] = {
        bin,     "--server",   u->url,          "--token-file",
        tokfile, "--dags-dir", (char *)u->dags, "--name",
        name,    "--slots",    slots,           NULL};
    int n = 11;

    for (int q = 0; q < u->n_queues; q++) {
        argv[n++] = "--queue";
        argv[n++] = (char *)u->queues[q];
    }
    argv[n] = NULL;
    sibling(u, "worker/weir-worker", bin, sizeof(bin));
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "weir up: %s is not built\n", bin);
        return -1;
    }
    if (home_token(u, "worker", "worker.token", "local-workers", tokfile,
                   sizeof(tokfile)) != 0)
        return -1;
    snprintf(slots, sizeof(slots), "%ld", u->slots);
    for (long i = 0; i < u->workers; i++) {
        snprintf(name, sizeof(name), "local-%ld", i + 1);
        u->worker[i] = start_child(argv);
        if (u->worker[i] == 0)
            return -1;
    }
    return 0;
}

/* Add --queue NAME to u: a queue name as DAG files write them. */
static int add_queue(struct up *u, const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > UP_QUEUE_MAX ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789_-.") != len)
        return cli_usage_error("up",
                               "--queue must be a queue name of letters, "
                               "digits, \"_\", \"-\" and \".\" (at most %d), "
                               "got \"%s\"",
                               UP_QUEUE_MAX, name);
    if (u->n_queues == UP_MAX_QUEUES)
        return cli_usage_error("up", "--queue is given more than %d times",
                               UP_MAX_QUEUES);
    for (int q = 0; q < u->n_queues; q++)
        if (strcmp(u->queues[q], name) == 0)
            return 0;
    u->queues[u->n_queues++] = name;
    return 0;
}

static int write_url_file(const struct up *u)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/server.url", u->home);
    f = fopen(path, "w");
    if (f == NULL || fprintf(f, "%s\n", u->url) < 0 || fclose(f) != 0) {
        fprintf(stderr, "weir up: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

/* Wait until Ctrl-C or until a child ends on its own. */
static void supervise(struct up *u)
{
    while (!up_stop_signal) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);

        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0)
            break;
        if (pid == u->server) {
            u->server = 0;
            fprintf(stderr, "weir up: the server exited; stopping\n");
            return;
        }
        for (long i = 0; i < u->workers; i++) {
            if (pid == u->worker[i]) {
                u->worker[i] = 0;
                fprintf(stderr,
                        "weir up: worker local-%ld exited; "
                        "stopping\n",
                        i + 1);
                return;
            }
        }
    }
}

static void stop_all(struct up *u)
{
    for (long i = 0; i < u->workers; i++)
        stop_child(&u->worker[i], SIGTERM);
    stop_child(&u->server, SIGTERM);
    stop_postgres(u);
}

static int parse_args(int argc, char **argv, struct up *u)
{
    static const struct option opts[] = {
        {"dags", required_argument, NULL, 'd'},
        {"home", required_argument, NULL, 'H'},
        {"listen", required_argument, NULL, 'l'},
        {"workers", required_argument, NULL, 'w'},
        {"slots", required_argument, NULL, 's'},
        {"queue", required_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt, rc;

    optind = 1;
    while ((opt = cli_getopt(argc, argv, "d:H:l:w:s:q:h", opts)) != -1) {
        char *end = NULL;

        switch (opt) {
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        case 'd':
            u->dags = optarg;
            break;
        case 'H':
            u->home = optarg;
            break;
        case 'l':
            u->listen = optarg;
            break;
        case 'q':
            rc = add_queue(u, optarg);
            if (rc != 0)
                return rc;
            break;
        case 'w':
        case 's': {
            long v = strtol(optarg, &end, 10);

            if (*optarg == '\0' || *end != '\0' || v < 1 ||
                (opt == 'w' && v > UP_MAX_WORKERS) || v > 1000)
                return cli_usage_error("up",
                                       "--%s must be a whole number "
                                       "from 1 to %d, got \"%s\"",
                                       opt == 'w' ? "workers" : "slots",
                                       opt == 'w' ? UP_MAX_WORKERS : 1000,
                                       optarg);
            *(opt == 'w' ? &u->workers : &u->slots) = v;
            break;
        }
        default:
            return cli_usage_error("up", "%s", cli_opt_error());
        }
    }
    if (optind != argc)
        return cli_usage_error("up", "unexpected argument \"%s\"",
                               argv[optind]);
    return 0;
}

/* Absolute paths, so children and pg.sh see the same folders. */
static int resolve_paths(struct up *u, char *dags, char *home)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n <= 0)
        return -1;
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    snprintf(u->bindir, sizeof(u->bindir), "%s", exe);
    if (mkdir(u->home, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "weir up: cannot create %s: %s\n", u->home,
                strerror(errno));
        return -1;
    }
    if (realpath(u->home, home) == NULL || realpath(u->dags, dags) == NULL) {
        fprintf(stderr, "weir up: %s: %s\n", u->dags, strerror(errno));
        return -1;
    }
    u->home = home;
    u->dags = dags;
    snprintf(u->url, sizeof(u->url), "http://%s", u->listen);
    return 0;
}

/*
 * Hold HOME/up.lock (flock) for as long as this `weir up` runs, so that a
 * second one on the same home refuses before it touches anything. The
 * kernel drops the lock when the holder dies, so a killed instance leaves
 * no stale lock behind. The file says who holds it: "pid=N url=URL".
 */
static int lock_home(struct up *u)
{
    char path[PATH_MAX], who[256] = "";
    ssize_t n;

    snprintf(path, sizeof(path), "%s/up.lock", u->home);
    u->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (u->lock_fd < 0) {
        fprintf(stderr, "weir up: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (flock(u->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        n = pread(u->lock_fd, who, sizeof(who) - 1, 0);
        who[n > 0 ? n : 0] = '\0';
        who[strcspn(who, "\n")] = '\0';
        fprintf(stderr,
                "weir up: %s is in use by a running `weir up` (%s); stop "
                "it first, or give this one another --home\n",
                u->home, who[0] ? who : "pid unknown");
        close(u->lock_fd);
        u->lock_fd = -1;
        return -1;
    }
    n = snprintf(who, sizeof(who), "pid=%d url=%s\n", (int)getpid(), u->url);
    if (ftruncate(u->lock_fd, 0) != 0 ||
        pwrite(u->lock_fd, who, (size_t)n, 0) != n) {
        fprintf(stderr, "weir up: cannot write %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * HOME holds the tokens and the cluster's socket: only this user may
 * enter it. As root, the cluster runs as the postgres user, which must
 * pass through HOME to its own folder HOME/pg: it gets that through
 * HOME's group (mode 0710), not through the world.
 */
static int secure_home(const struct up *u)
{
    const struct passwd *pg = geteuid() == 0 ? getpwnam("postgres") : NULL;
    mode_t mode = pg != NULL ? 0710 : 0700;

    if ((pg != NULL && chown(u->home, (uid_t)-1, pg->pw_gid) != 0) ||
        chmod(u->home, mode) != 0) {
        fprintf(stderr, "weir up: cannot restrict %s: %s\n", u->home,
                strerror(errno));
        return -1;
    }
    return 0;
}

int cmd_up(int argc, char **argv)
{
    struct up u = {.dags = "dags",
                   .home = ".weir",
                   .listen = "127.0.0.1:8080",
                   .workers = 2,
                   .slots = 4,
                   .lock_fd = -1};
    char dags[PATH_MAX], home[PATH_MAX];
    struct sigaction sa = {.sa_handler = on_signal};
    int rc = parse_args(argc, argv, &u);

    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if (resolve_paths(&u, dags, home) != 0 || lock_home(&u) != 0 ||
        secure_home(&u) != 0) {
        if (u.lock_fd >= 0)
            close(u.lock_fd);
        return CLI_INVALID;
    }
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (start_postgres(&u) != 0) {
        close(u.lock_fd);
        return CLI_INVALID;
    }
    rc = CLI_INVALID;
    if (start_server(&u) == 0 && write_url_file(&u) == 0 &&
        start_workers(&u) == 0) {
        printf("weir up: ready.\n"
               "  dashboard: %s/ (sign in with the admin token)\n"
               "  API: %s/api/v1\n"
               "  admin token: %s/admin.token (the CLI finds it when run "
               "from here)\n"
               "  try: build/weir dags; build/weir trigger hello; "
               "build/weir runs\n"
               "  Ctrl-C stops everything.\n",
               u.url, u.url, u.home);
        fflush(stdout);
        supervise(&u);
        rc = up_stop_signal ? CLI_OK : CLI_INVALID;
    }
    printf("weir up: stopping\n");
    stop_all(&u);
    close(u.lock_fd); /* after everything of this home has stopped */
    return rc;
}
