/* SPDX-License-Identifier: Apache-2.0 */
/*
 * weir-worker: lease attempts from a Weir server and run them. SIGTERM or
 * SIGINT stops leasing and lets running attempts finish within the
 * shutdown grace; a second signal cancels them at once.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "client.h"
#include "duration.h"
#include "executor.h"
#include "guard.h"
#include "httpc.h"
#include "log.h"
#include "opts.h"
#include "runner.h"
#include "scratch.h"

#define QUEUES_MAX 64

struct opts {
    struct srvlist servers;         /* --server URL..., or $WEIR_SERVER */
    const char *token_file;         /* --token-file PATH */
    const char *dags_dir;           /* --dags-dir DIR */
    const char *scratch_dir;        /* --scratch-dir DIR */
    const char *name;               /* --name NAME */
    long slots;                     /* --slots N */
    int64_t grace_ms;               /* --shutdown-grace DURATION */
    int64_t margin_ms;              /* --lease-margin DURATION */
    const char *run_as;             /* --run-as USER */
    unsigned run_uid;               /* its uid */
    unsigned run_gid;               /* its primary gid */
    struct logspool_cap log_cap;    /* --max-log-lines, --max-log-bytes */
    const char *queues[QUEUES_MAX]; /* --queue NAME, repeated */
    size_t n_queues;                /* entries in queues */
    struct httpc_tls tls;           /* --ca-file, --client-cert, -key */
};

/* The loop-side state main keeps for the signal handlers. */
struct app {
    uv_signal_t sigterm; /* stop, then cancel */
    uv_signal_t sigint;  /* the same from a terminal */
    struct runner *r;    /* what the signals stop */
    int signals;         /* how many arrived */
};

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: weir-worker --server URL... [--token-file PATH] [--slots N]\n"
        "                   [--queue NAME]... [--dags-dir DIR] "
        "[--name NAME]\n"
        "                   [--scratch-dir DIR] [--shutdown-grace "
        "DURATION]\n"
        "                   [--lease-margin DURATION] [--run-as USER]\n"
        "                   [--max-log-lines N] [--max-log-bytes N]\n"
        "                   [--ca-file FILE] [--client-cert FILE "
        "--client-key FILE]\n\n"
        "Leases attempts from a Weir server and runs them.\n\n"
        "  --server URL          a server, e.g. http://127.0.0.1:8080; "
        "repeatable (or a\n"
        "                        comma list): the worker uses one and moves "
        "to the next\n"
        "                        when it cannot reach it (else "
        "$WEIR_SERVER, a URL or\n"
        "                        comma list)\n"
        "  --token-file PATH     file holding the worker token (else "
        "$WEIR_TOKEN)\n"
        "  --slots N             attempts run at once (default 1)\n"
        "  --queue NAME          a queue to serve; repeatable (default "
        "\"default\")\n"
        "  --dags-dir DIR        the DAG folder, where steps run "
        "(default dags); the\n"
        "                        servers' revision: an attempt whose DAG "
        "file differs\n"
        "                        here fails\n"
        "  --name NAME           the worker's name (default: the host "
        "name)\n"
        "  --scratch-dir DIR     where attempt folders go (default "
        "$TMPDIR or /tmp)\n"
        "  --shutdown-grace D    how long running attempts may finish "
        "after SIGTERM\n"
        "                        (default 30s)\n"
        "  --lease-margin D      start no attempt whose lease ends within D"
        "\n"
        "                        (default 1s, at most half the lease)\n"
        "  --run-as USER         run steps as USER and its groups (the worker "
        "runs as\n"
        "                        root; its token file must be its own, "
        "mode 600)\n"
        "  --max-log-lines N     upload at most N lines of an attempt's "
        "output\n"
        "  --max-log-bytes N     upload at most N bytes of it (both: "
        "default no cap;\n"
        "                        the cut is stated at the top of the "
        "log)\n"
        "  --ca-file FILE        trust the server's certificate only if a CA "
        "of FILE\n"
        "                        (PEM) signed it (else $WEIR_CA_FILE; "
        "default: the\n"
        "                        system's CAs)\n"
        "  --client-cert FILE    the PEM certificate shown to a server that "
        "asks for\n"
        "                        one (mutual TLS)\n"
        "  --client-key FILE     its PEM private key (a file: no secret "
        "in argv)\n");
}

/* A cap of --max-log-lines or --max-log-bytes: a whole number >= 1. */
static bool cap_parse(const char *name, const char *text, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 ||
        v == 0) {
        fprintf(stderr,
                "weir-worker: %s takes a whole number of at least 1, got "
                "\"%s\"\n",
                name, text);
        return false;
    }
    *out = v;
    return true;
}

/* Without --server: the servers of $WEIR_SERVER, if set. */
static int servers_env(struct opts *o)
{
    const char *env = getenv("WEIR_SERVER");
    struct weir_err err = {0};

    if (env == NULL || env[0] == '\0')
        return 0;
    if (srvlist_add(&o->servers, env, "WEIR_SERVER", true, &err) != 0) {
        fprintf(stderr, "weir-worker: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {
        {"server", required_argument, NULL, 's'},
        {"token-file", required_argument, NULL, 't'},
        {"slots", required_argument, NULL, 'n'},
        {"queue", required_argument, NULL, 'q'},
        {"dags-dir", required_argument, NULL, 'd'},
        {"scratch-dir", required_argument, NULL, 'x'},
        {"name", required_argument, NULL, 'N'},
        {"shutdown-grace", required_argument, NULL, 'g'},
        {"lease-margin", required_argument, NULL, 'm'},
        {"run-as", required_argument, NULL, 'u'},
        {"max-log-lines", required_argument, NULL, 'L'},
        {"max-log-bytes", required_argument, NULL, 'B'},
        {"ca-file", required_argument, NULL, 'C'},
        {"client-cert", required_argument, NULL, 'c'},
        {"client-key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct weir_err err = {0};
    char *end;
    int ch;

    optind = 1;
    while ((ch = weir_getopt(argc, argv, "h", longs, &err)) != -1) {
        switch (ch) {
        case 's':
            if (srvlist_add(&o->servers, optarg, "--server", true, &err) != 0) {
                fprintf(stderr, "weir-worker: %s\n", err.msg);
                return 2;
            }
            break;
        case 't':
            o->token_file = optarg;
            break;
        case 'n':
            o->slots = strtol(optarg, &end, 10);
            if (*end != '\0' || o->slots < 1 || o->slots > 1000) {
                fprintf(stderr, "weir-worker: --slots takes 1 to 1000\n");
                return 2;
            }
            break;
        case 'q':
            if (o->n_queues == QUEUES_MAX) {
                fprintf(stderr, "weir-worker: at most %d queues\n", QUEUES_MAX);
                return 2;
            }
            o->queues[o->n_queues++] = optarg;
            break;
        case 'd':
            o->dags_dir = optarg;
            break;
        case 'x':
            o->scratch_dir = optarg;
            break;
        case 'N':
            o->name = optarg;
            break;
        case 'g':
            if (duration_parse(optarg, &o->grace_ms, &err) != 0) {
                fprintf(stderr, "weir-worker: --shutdown-grace: %s\n", err.msg);
                return 2;
            }
            break;
        case 'm':
            if (duration_parse(optarg, &o->margin_ms, &err) != 0) {
                fprintf(stderr, "weir-worker: --lease-margin: %s\n", err.msg);
                return 2;
            }
            break;
        case 'u':
            o->run_as = optarg;
            break;
        case 'L':
        case 'B':
            if (!cap_parse(
                    ch == 'L' ? "--max-log-lines" : "--max-log-bytes", optarg,
                    ch == 'L' ? &o->log_cap.max_lines : &o->log_cap.max_bytes))
                return 2;
            break;
        case 'C':
            o->tls.ca_file = optarg;
            break;
        case 'c':
            o->tls.client_cert = optarg;
            break;
        case 'k':
            o->tls.client_key = optarg;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            fprintf(stderr, "weir-worker: %s (see weir-worker --help)\n",
                    err.msg);
            return 2;
        }
    }
    if (optind == argc && o->servers.n == 0 && servers_env(o) != 0)
        return 2;
    if (optind < argc || o->servers.n == 0) {
        fprintf(stderr, "weir-worker: %s\n",
                optind < argc ? "unexpected arguments"
                              : "--server (or WEIR_SERVER) is needed");
        usage(stderr);
        return 2;
    }
    return 0;
}

/* The token from --token-file (first line) or $WEIR_TOKEN. */
static int read_token(const struct opts *o, char *buf, size_t len)
{
    const char *env = getenv("WEIR_TOKEN");
    FILE *f;
    size_t n;

    if (o->token_file == NULL) {
        if (env == NULL || env[0] == '\0' || strlen(env) >= len) {
            fprintf(stderr, "weir-worker: give --token-file or set "
                            "WEIR_TOKEN\n");
            return -1;
        }
        snprintf(buf, len, "%s", env);
        return 0;
    }
    f = fopen(o->token_file, "r");
    if (f == NULL || fgets(buf, (int)len, f) == NULL) {
        fprintf(stderr, "weir-worker: cannot read a token from %s\n",
                o->token_file);
        if (f != NULL)
            fclose(f);
        return -1;
    }
    fclose(f);
    n = strcspn(buf, "\r\n \t");
    buf[n] = '\0';
    if (n == 0) {
        fprintf(stderr, "weir-worker: %s holds no token\n", o->token_file);
        return -1;
    }
    return 0;
}

static void signal_cb(uv_signal_t *h, int signum)
{
    struct app *app = h->data;

    app->signals++;
    log_info("event=signal signal=%d", signum);
    runner_stop(app->r, app->signals > 1);
}

static void closed_cb(void *ctx)
{
    struct app *app = ctx;

    uv_close((uv_handle_t *)&app->sigterm, NULL);
    uv_close((uv_handle_t *)&app->sigint, NULL);
}

/*
 * The thread pool holds a lease long-poll, a cancel long-poll, a health
 * probe and, per slot, a heartbeat, a log batch and a completion; it must
 * be sized before the loop first uses it.
 */
static void size_thread_pool(long slots)
{
    char n[24];
    long want = 3 * slots + 3;

    snprintf(n, sizeof(n), "%ld", want > 1024 ? 1024 : want);
    setenv("UV_THREADPOOL_SIZE", n, 0);
}

/*
 * --run-as: the user must exist, the worker must be able to switch to it
 * (root), and the token file must be out of its reach.
 */
static int run_as_check(struct opts *o)
{
    const struct passwd *pw;
    struct stat st;

    if (o->run_as == NULL)
        return 0;
    pw = getpwnam(o->run_as);
    if (pw == NULL) {
        fprintf(stderr, "weir-worker: --run-as: no user \"%s\"\n", o->run_as);
        return -1;
    }
    if (geteuid() != 0) {
        fprintf(stderr,
                "weir-worker: --run-as needs the worker to run as "
                "root (to switch to \"%s\")\n",
                o->run_as);
        return -1;
    }
    if (o->token_file != NULL &&
        (stat(o->token_file, &st) != 0 || (st.st_mode & 077) != 0 ||
         st.st_uid == pw->pw_uid)) {
        fprintf(stderr,
                "weir-worker: --run-as: the token file %s must be the "
                "worker's, mode 600 (steps run as \"%s\" must not read it)\n",
                o->token_file, o->run_as);
        return -1;
    }
    o->run_uid = (unsigned)pw->pw_uid;
    o->run_gid = (unsigned)pw->pw_gid;
    return 0;
}

static int folder_check(const char *what, const char *path)
{
    struct stat st;

    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    fprintf(stderr, "weir-worker: %s \"%s\" is not a folder\n", what, path);
    return -1;
}

static int run(const struct opts *o, const char *scratch_dir,
               struct client *client)
{
    struct runner_config cfg = {0};
    struct weir_err err = {0};
    struct app app = {0};
    uv_loop_t loop;
    bool failed;
    int rc;

    cfg.name = o->name;
    cfg.queues = o->queues;
    cfg.n_queues = o->n_queues;
    cfg.slots = (int)o->slots;
    cfg.dags_dir = o->dags_dir;
    cfg.scratch_dir = scratch_dir;
    cfg.shutdown_grace_ms = (uint64_t)o->grace_ms;
    cfg.lease_margin_ms = (uint64_t)o->margin_ms;
    cfg.run_as = o->run_as;
    cfg.run_uid = o->run_uid;
    cfg.run_gid = o->run_gid;
    cfg.log_cap = o->log_cap;
    cfg.closed_cb = closed_cb;
    cfg.ctx = &app;
    WEIR_ASSERT(uv_loop_init(&loop) == 0);
    if (runner_new(&loop, client, &cfg, &app.r, &err) != 0) {
        fprintf(stderr, "weir-worker: %s\n", err.msg);
        uv_loop_close(&loop);
        return 1;
    }
    uv_signal_init(&loop, &app.sigterm);
    uv_signal_init(&loop, &app.sigint);
    app.sigterm.data = app.sigint.data = &app;
    uv_signal_start(&app.sigterm, signal_cb, SIGTERM);
    uv_signal_start(&app.sigint, signal_cb, SIGINT);
    log_info("event=worker_started server=%s servers=%zu slots=%ld",
             client_server(client), o->servers.n, o->slots);
    runner_start(app.r);
    uv_run(&loop, UV_RUN_DEFAULT);
    failed = runner_failed(app.r);
    runner_free(app.r);
    rc = uv_loop_close(&loop);
    return rc == 0 && !failed ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct opts o = {
        .slots = 1, .grace_ms = 30000, .margin_ms = 1000, .dags_dir = "dags"};
    struct scratch own = {.dir = NULL, .lock_fd = -1};
    struct client *client = NULL;
    struct weir_err err = {0};
    const char *tmpdir = getenv("TMPDIR");
    char token[1024], host[256];
    int rc;

    if (argc == 2 && strcmp(argv[1], GUARD_ARG) == 0)
        return guard_main();
    if (argc > 1 && strcmp(argv[1], EXEC_AS_ARG) == 0)
        return exec_as_main(argc, argv);
    rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    if (o.n_queues == 0)
        o.queues[o.n_queues++] = "default";
    if (o.scratch_dir == NULL)
        o.scratch_dir = tmpdir != NULL && tmpdir[0] != '\0' ? tmpdir : "/tmp";
    if (o.name == NULL) {
        if (gethostname(host, sizeof(host)) != 0)
            snprintf(host, sizeof(host), "worker");
        host[sizeof(host) - 1] = '\0';
        o.name = host;
    }
    if (read_token(&o, token, sizeof(token)) != 0 ||
        folder_check("--dags-dir", o.dags_dir) != 0 ||
        folder_check("--scratch-dir", o.scratch_dir) != 0 ||
        run_as_check(&o) != 0)
        return 1;
    /* the TLS files are checked now, so that a bad one is said at once */
    if (o.tls.ca_file == NULL)
        o.tls.ca_file = getenv("WEIR_CA_FILE");
    if (httpc_tls_set(&o.tls, &err) != 0) {
        fprintf(stderr, "weir-worker: %s\n", err.msg);
        return 1;
    }
    /* the folders a dead worker left go; this worker's own is locked */
    if (scratch_claim(o.scratch_dir, &own, &err) != 0) {
        fprintf(stderr, "weir-worker: --scratch-dir: %s\n", err.msg);
        return 1;
    }
    if (o.run_as != NULL && chmod(own.dir, 0711) != 0) {
        fprintf(stderr, "weir-worker: --run-as: cannot open %s to steps\n",
                own.dir);
        scratch_release(&own);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    /* before any thread or handle: the guard stops our steps if we die */
    if (guard_start(&err) != 0) {
        char q[300];

        log_warn("event=guard_unavailable error=%s",
                 log_quote(err.msg, q, sizeof(q)));
    }
    size_thread_pool(o.slots);
    if (httpc_global_init(&err) != 0 ||
        client_new(&o.servers, token, &client, &err) != 0) {
        fprintf(stderr, "weir-worker: cannot set up HTTP: %s\n", err.msg);
        scratch_release(&own);
        return 1;
    }
    memset(token, 0, sizeof(token));
    rc = run(&o, own.dir, client);
    scratch_release(&own);
    guard_stop();
    client_free(client);
    httpc_global_cleanup();
    return rc;
}
