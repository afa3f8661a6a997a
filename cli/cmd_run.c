/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runs from the command line, for people and for scripts: `weir trigger`
 * (optionally waiting for the run's end), `weir runs` (filtered, paged),
 * `weir run` and `weir workers`. Exit codes follow the run: 0 success (or
 * not finished), 1 failed, 2 canceled, so that a script can branch on
 * them.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"

#define WAIT_POLL_MS  500 /* pause between two reads of a run with --wait */
#define EXIT_CANCELED 2   /* a run canceled (trigger --wait, run) */

static const char trigger_usage[] =
    "usage: weir trigger DAG [-p NAME=VALUE]... [--env ENV] [--no-cache] "
    "[--wait]\n"
    "                        [--json] [--logical-time TIME]\n\n"
    "Starts a run of DAG now and prints its id. -p overrides a parameter\n"
    "(repeatable): VALUE takes the type the DAG declares for it (true or\n"
    "false, a number, text, or a JSON list or map such as '[\"eu\"]'); an\n"
    "unknown parameter or a value not of its type is refused.\n"
    "--no-cache runs every step, even one whose success the step cache\n"
    "holds (its successes still fill the cache).\n"
    "--wait follows the run to its end, prints a one-line summary and\n"
    "exits 0 when it succeeded, 1 when it failed, 2 when it was canceled.\n"
    "--logical-time sets the run's logical time (run.logical_time,\n"
    "WEIR_LOGICAL_TIME): an RFC 3339 time (local to the DAG's time zone\n"
    "without an offset) or a date (its midnight there).\n";

static const char runs_usage[] =
    "usage: weir runs [DAG] [--state STATE] [--env ENV] [--trigger KIND]\n"
    "                 [--since TIME] [--limit N] [--cursor ID] [--json]\n\n"
    "Lists runs, newest first: state, environment, priority, trigger.\n"
    "--trigger is manual, cron, event, metric, webhook, file or backfill;\n"
    "--since a UTC time (2026-01-31T12:00:00Z) or a duration before now (2h, "
    "7d).\n"
    "When more runs match than --limit (default 20), the last line gives\n"
    "the --cursor for the next page (with --json: next_cursor). An unknown\n"
    "DAG is an error.\n";

static const char run_usage[] =
    "usage: weir run RUN_ID [--json]\n\n"
    "Shows a run: its state, environment, priority and reason, and every\n"
    "task with its queue, state, tries, duration, exit code (or timeout)\n"
    "and approval. Exits 0 when the run succeeded or is not finished, 1\n"
    "when it failed, 2 when it was canceled.\n";

static const char workers_usage[] =
    "usage: weir workers [--json]\n\n"
    "Lists the workers: name, state (online, lost, offline), queues, slots,\n"
    "running attempts and when they were last seen.\n";

/* The options of these commands. */
struct run_opts {
    bool json;          /* print the server's JSON */
    bool wait;          /* trigger: --wait */
    bool no_cache;      /* trigger: --no-cache */
    const char *server; /* --server */
    const char *env;    /* --env */
    const char *state;  /* --state */
    const char *trig;   /* --trigger */
    const char *since;  /* --since */
    const char *cursor; /* --cursor */
    const char *limit;  /* --limit */
    const char *lt;     /* trigger: --logical-time */
    cJSON *params;      /* -p NAME=VALUE, as an object of strings */
};

/* Add -p NAME=VALUE (arg) to o->params; CLI_USAGE when malformed. */
static int add_param(struct run_opts *o, char *arg)
{
    char *eq = strchr(arg, '=');

    if (eq == NULL || eq == arg)
        return cli_usage_error("trigger", "-p takes NAME=VALUE, got \"%s\"",
                               arg);
    *eq = '\0';
    cJSON_DeleteItemFromObjectCaseSensitive(o->params, arg);
    cJSON_AddStringToObject(o->params, arg, eq + 1);
    return 0;
}

/* The long name of option letter c in lopts ("?" when none). */
static const char *long_name(const struct option *lopts, int c)
{
    for (; lopts->name != NULL; lopts++)
        if (lopts->val == c)
            return lopts->name;
    return "?";
}

/*
 * Parse argv into o; -1 after --help, CLI_USAGE on a bad option. The
 * commands share one option table: `allowed` holds the letters of the
 * options that apply to cmd, and any other is refused by name rather than
 * accepted and ignored.
 */
static int parse(int argc, char **argv, const char *cmd, const char *usage,
                 const char *allowed, struct run_opts *o)
{
    static const struct option lopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"wait", no_argument, NULL, 'w'},
        {"server", required_argument, NULL, 'S'},
        {"env", required_argument, NULL, 'e'},
        {"state", required_argument, NULL, 's'},
        {"trigger", required_argument, NULL, 't'},
        {"since", required_argument, NULL, 'i'},
        {"cursor", required_argument, NULL, 'c'},
        {"limit", required_argument, NULL, 'n'},
        {"param", required_argument, NULL, 'p'},
        {"logical-time", required_argument, NULL, 'L'},
        {"no-cache", no_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c, rc = 0;

    optind = 1;
    while (rc == 0 && (c = cli_getopt(argc, argv, "jwS:e:s:t:i:c:n:p:L:Ch",
                                      lopts)) != -1) {
        if (c != 'h' && c != '?' && c != ':' && strchr(allowed, c) == NULL)
            return cli_usage_error(cmd, "--%s does not apply to weir %s",
                                   long_name(lopts, c), cmd);
        switch (c) {
        case 'h':
            fputs(usage, stdout);
            return -1;
        case 'j':
            o->json = true;
            break;
        case 'w':
            o->wait = true;
            break;
        case 'S':
            o->server = client_server_flag(o->server, optarg);
            break;
        case 'e':
            o->env = optarg;
            break;
        case 's':
            o->state = optarg;
            break;
        case 't':
            o->trig = optarg;
            break;
        case 'i':
            o->since = optarg;
            break;
        case 'c':
            o->cursor = optarg;
            break;
        case 'n':
            o->limit = optarg;
            break;
        case 'p':
            rc = add_param(o, optarg);
            break;
        case 'L':
            o->lt = optarg;
            break;
        case 'C':
            o->no_cache = true;
            break;
        default:
            return cli_usage_error(cmd, "%s", cli_opt_error());
        }
    }
    return rc;
}

/* "12.3s" between two ISO-8601 times, or "-" when one is missing. */
static void duration_text(const char *from, const char *to, char *buf,
                          size_t len)
{
    struct tm a = {0}, b = {0};
    double ms_a = 0, ms_b = 0;

    snprintf(buf, len, "-");
    if (from == NULL || to == NULL ||
        strptime(from, "%Y-%m-%dT%H:%M:%S", &a) == NULL ||
        strptime(to, "%Y-%m-%dT%H:%M:%S", &b) == NULL)
        return;
    if (strlen(from) > 20 && from[19] == '.')
        ms_a = atof(from + 19);
    if (strlen(to) > 20 && to[19] == '.')
        ms_b = atof(to + 19);
    snprintf(buf, len, "%.3fs",
             difftime(timegm(&b), timegm(&a)) + (ms_b - ms_a));
}

/* The exit code of a run in state st (see the top). */
static int run_exit(const char *st)
{
    if (st != NULL && strcmp(st, "failed") == 0)
        return CLI_INVALID;
    if (st != NULL && strcmp(st, "canceled") == 0)
        return EXIT_CANCELED;
    return CLI_OK;
}

static bool run_finished(const char *st)
{
    return st != NULL &&
           (strcmp(st, "success") == 0 || strcmp(st, "failed") == 0 ||
            strcmp(st, "canceled") == 0);
}

/* The first task that did not succeed, as "STEP: STATE (error)". */
static void first_problem(const cJSON *run, char *buf, size_t len)
{
    const cJSON *t;

    buf[0] = '\0';
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(run, "tasks"))
    {
        const char *st = client_json_str(t, "state");

        if (st == NULL || strcmp(st, "success") == 0 ||
            strcmp(st, "skipped") == 0)
            continue;
        snprintf(buf, len, "; %s %s%s%.120s", client_json_str(t, "step"), st,
                 client_json_str(t, "error") ? ": " : "",
                 client_json_str(t, "error") ? client_json_str(t, "error")
                                             : "");
        return;
    }
}

/* Follow run `id` to its end; print the summary (or JSON), return the
 * exit code of its state. */
static int wait_run(const struct client *c, double id, bool json)
{
    char ids[32], dur[32], why[200];
    cJSON *r = NULL;
    const char *st = NULL;

    snprintf(ids, sizeof(ids), "%.0f", id);
    for (;;) {
        cJSON_Delete(r);
        r = client_get_run(c, "trigger", ids);
        if (r == NULL)
            return CLI_INVALID;
        st = client_json_str(r, "state");
        if (run_finished(st))
            break;
        usleep(WAIT_POLL_MS * 1000);
    }
    int rc = run_exit(st);

    if (json) {
        cli_print_json(r);
    } else {
        duration_text(client_json_str(r, "started_at"),
                      client_json_str(r, "finished_at"), dur, sizeof(dur));
        first_problem(r, why, sizeof(why));
        printf("run %s %s %s in %s%s\n", ids, client_json_str(r, "dag"), st,
               dur, rc == CLI_OK ? "" : why);
    }
    cJSON_Delete(r);
    return rc;
}

int cmd_trigger(int argc, char **argv)
{
    struct run_opts o = {.params = cJSON_CreateObject()};
    cJSON *body = cJSON_CreateObject(), *reply = NULL;
    char path[512], esc[256];
    struct client c;
    int rc = parse(argc, argv, "trigger", trigger_usage, "jwSepLC", &o);

    if (rc == 0 && optind != argc - 1)
        rc = cli_usage_error("trigger", "name exactly one DAG");
    if (rc == 0) {
        client_init(&c, o.server);
        client_escape(argv[optind], esc, sizeof(esc));
        snprintf(path, sizeof(path), "/api/v1/dags/%s/runs", esc);
        /* the server types each value as the DAG declares it */
        cJSON_AddItemToObject(body, "params_text", o.params);
        o.params = NULL;
        if (o.env)
            cJSON_AddStringToObject(body, "environment", o.env);
        if (o.lt)
            cJSON_AddStringToObject(body, "logical_time", o.lt);
        if (o.no_cache)
            cJSON_AddTrueToObject(body, "no_cache");
        reply = client_call_or_say(&c, "trigger", "POST", path, body);
        rc = reply ? CLI_OK : CLI_INVALID;
    }
    if (reply && o.wait) {
        if (!o.json)
            printf("%.0f\n", client_json_num(reply, "run_id"));
        fflush(stdout);
        rc = wait_run(&c, client_json_num(reply, "run_id"), o.json);
    } else if (reply && o.json) {
        cli_print_json(reply);
    } else if (reply) {
        printf("%.0f\n", client_json_num(reply, "run_id"));
    }
    cJSON_Delete(reply);
    cJSON_Delete(body);
    cJSON_Delete(o.params);
    return rc < 0 ? CLI_OK : rc;
}

/* Append &name=value (escaped) to path when value is set. */
static void query_add(char *path, size_t len, const char *name,
                      const char *value)
{
    char esc[256];

    if (value == NULL)
        return;
    client_escape(value, esc, sizeof(esc));
    snprintf(path + strlen(path), len - strlen(path), "&%s=%s", name, esc);
}

/* Whether DAG id exists; says so on stderr when it does not. */
static bool dag_exists(const struct client *c, const char *id)
{
    char path[300], esc[256];
    cJSON *r;

    client_escape(id, esc, sizeof(esc));
    snprintf(path, sizeof(path), "/api/v1/dags/%s", esc);
    r = client_call_or_say(c, "runs", "GET", path, NULL);
    cJSON_Delete(r);
    return r != NULL;
}

/* A run's priority by name (dag_priority_names of common/dag.c). */
static const char *prio_name(double p)
{
    static const char *const names[] = {"low", "normal", "high", "critical"};

    return p >= 0 && p < 4 ? names[(int)p] : "-";
}

static void print_runs(const cJSON *reply)
{
    const cJSON *r,
        *next = cJSON_GetObjectItemCaseSensitive(reply, "next_cursor");

    printf("%-8s %-20s %-9s %-10s %-8s %-8s %-20s %s\n", "RUN", "DAG", "STATE",
           "ENV", "PRIO", "TRIGGER", "CREATED", "REASON");
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(reply, "runs"))
    {
        const char *reason = client_json_str(r, "reason");
        const cJSON *tr = cJSON_GetObjectItemCaseSensitive(r, "trigger");

        printf("%-8.0f %-20s %-9s %-10s %-8s %-8s %-20.19s %s%s%s\n",
               client_json_num(r, "id"), cli_str(r, "dag"), cli_str(r, "state"),
               cli_str(r, "environment"),
               prio_name(client_json_num(r, "priority")), cli_str(tr, "kind"),
               cli_str(r, "created_at"), cli_run_late_tag(r),
               cJSON_IsTrue(cJSON_GetObjectItem(r, "awaiting_approval"))
                   ? "[awaiting approval] "
                   : "",
               reason ? reason : "");
    }
    if (cJSON_IsNumber(next))
        printf("(more: --cursor %.0f)\n", next->valuedouble);
}

int cmd_runs(int argc, char **argv)
{
    struct run_opts o = {.params = cJSON_CreateObject()};
    char path[1024];
    struct client c;
    cJSON *reply;
    int rc = parse(argc, argv, "runs", runs_usage, "jSestinc", &o);

    cJSON_Delete(o.params);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if (argc - optind > 1)
        return cli_usage_error("runs", "name at most one DAG");
    snprintf(path, sizeof(path), "/api/v1/runs?limit=%s",
             o.limit ? o.limit : "20");
    query_add(path, sizeof(path), "dag", optind < argc ? argv[optind] : NULL);
    query_add(path, sizeof(path), "state", o.state);
    query_add(path, sizeof(path), "env", o.env);
    query_add(path, sizeof(path), "trigger", o.trig);
    query_add(path, sizeof(path), "since", o.since);
    query_add(path, sizeof(path), "cursor", o.cursor);
    client_init(&c, o.server);
    if (optind < argc && !dag_exists(&c, argv[optind]))
        return CLI_INVALID;
    reply = client_call_or_say(&c, "runs", "GET", path, NULL);
    if (reply == NULL)
        return CLI_INVALID;
    if (o.json)
        cli_print_json(reply);
    else
        print_runs(reply);
    cJSON_Delete(reply);
    return CLI_OK;
}

/* How the latest attempt of t ended: "exit 3", "timeout", or "-". */
static void attempt_end(const cJSON *t, char *buf, size_t len)
{
    const cJSON *a, *last = NULL, *code;
    const char *st;

    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(t, "attempts"))
        last = a;
    code = cJSON_GetObjectItemCaseSensitive(last, "exit_code");
    st = client_json_str(last, "state");
    if (st != NULL && strcmp(st, "timed_out") == 0)
        snprintf(buf, len, "timeout");
    else if (cJSON_IsNumber(code))
        snprintf(buf, len, "exit %.0f", code->valuedouble);
    else
        snprintf(buf, len, "-");
}

/* The approval of t: "awaiting approval", "approved by X", or "". */
static void approval_text(const cJSON *t, char *buf, size_t len)
{
    const char *st = client_json_str(t, "state");
    const char *d = client_json_str(t, "decision");

    buf[0] = '\0';
    if (st != NULL && strcmp(st, "awaiting_approval") == 0)
        snprintf(buf, len, "  awaiting approval");
    else if (d != NULL)
        snprintf(buf, len, "  %s by %s", d,
                 client_json_str(t, "decided_by")
                     ? client_json_str(t, "decided_by")
                     : "?");
}

static void print_task(const cJSON *t)
{
    char dur[32], name[160], end[32], appr[260];
    const cJSON *matrix = cJSON_GetObjectItemCaseSensitive(t, "matrix");
    const char *error = client_json_str(t, "error");
    const char *message = client_json_str(t, "approval_message");
    const char *state = client_json_str(t, "state");
    const cJSON *cached = cJSON_GetObjectItemCaseSensitive(t, "cached_from");

    snprintf(name, sizeof(name), "%s%s", cli_str(t, "step"),
             client_json_str(t, "hook") ? " (hook)" : "");
    if (cJSON_IsObject(matrix)) {
        char *m = cJSON_PrintUnformatted(matrix);

        snprintf(name + strlen(name), sizeof(name) - strlen(name), " %s",
                 m ? m : "");
        cJSON_free(m);
    }
    duration_text(client_json_str(t, "started_at"),
                  client_json_str(t, "finished_at"), dur, sizeof(dur));
    attempt_end(t, end, sizeof(end));
    approval_text(t, appr, sizeof(appr));
    printf("  %-32s %-12s %-18s try %.0f/%.0f  %-10s %s%s\n", name,
           cli_str(t, "queue"), cli_str(t, "state"),
           client_json_num(t, "try_count"), client_json_num(t, "max_tries"),
           dur, end, appr);
    if (error)
        printf("      %s\n", error);
    if (message && state && strcmp(state, "awaiting_approval") == 0)
        printf("      approval: %s\n", message);
    if (cJSON_IsObject(cached))
        printf("      cached from run %.0f attempt %.0f\n",
               client_json_num(cached, "run_id"),
               client_json_num(cached, "attempt_id"));
}

int cmd_run(int argc, char **argv)
{
    struct run_opts o = {.params = cJSON_CreateObject()};
    struct client c;
    cJSON *reply, *t;
    char dur[32];
    int rc = parse(argc, argv, "run", run_usage, "jS", &o);

    cJSON_Delete(o.params);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if (optind != argc - 1)
        return cli_usage_error("run", "name exactly one run id");
    client_init(&c, o.server);
    reply = client_get_run(&c, "run", argv[optind]);
    if (reply == NULL)
        return CLI_INVALID;
    rc = run_exit(client_json_str(reply, "state"));
    if (o.json) {
        cli_print_json(reply);
        cJSON_Delete(reply);
        return rc;
    }
    duration_text(client_json_str(reply, "started_at"),
                  client_json_str(reply, "finished_at"), dur, sizeof(dur));
    printf("run %.0f  %s  %s  %s  env %s  priority %s\n",
           client_json_num(reply, "id"), cli_str(reply, "dag"),
           cli_str(reply, "state"), dur, cli_str(reply, "environment"),
           prio_name(client_json_num(reply, "priority")));
    if (client_json_str(reply, "reason"))
        printf("reason: %s\n", client_json_str(reply, "reason"));
    cli_print_maps(reply);
    cli_run_deadline_print(reply);
    printf("  %-32s %-12s %-18s %-9s %-10s %s\n", "STEP", "QUEUE", "STATE",
           "TRIES", "DURATION", "END");
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(reply, "tasks"))
        print_task(t);
    cJSON_Delete(reply);
    return rc;
}

int cmd_workers(int argc, char **argv)
{
    struct run_opts o = {.params = cJSON_CreateObject()};
    struct client c;
    cJSON *reply, *w;
    int rc = parse(argc, argv, "workers", workers_usage, "jS", &o);

    cJSON_Delete(o.params);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if (optind != argc)
        return cli_usage_error("workers", "takes no arguments");
    client_init(&c, o.server);
    reply = client_call_or_say(&c, "workers", "GET", "/api/v1/workers", NULL);
    if (reply == NULL)
        return CLI_INVALID;
    if (o.json) {
        cli_print_json(reply);
        cJSON_Delete(reply);
        return CLI_OK;
    }
    printf("%-6s %-24s %-8s %-24s %5s %7s %s\n", "ID", "NAME", "STATE",
           "QUEUES", "SLOTS", "RUNNING", "LAST SEEN");
    cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(reply, "workers"))
    {
        char *q = cJSON_PrintUnformatted(cJSON_GetObjectItem(w, "queues"));

        printf("%-6.0f %-24s %-8s %-24s %5.0f %7.0f %.19s\n",
               client_json_num(w, "id"), cli_str(w, "name"),
               cli_str(w, "state"), q ? q : "-", client_json_num(w, "slots"),
               client_json_num(w, "running_attempts"),
               cli_str(w, "last_seen_at"));
        cJSON_free(q);
    }
    cJSON_Delete(reply);
    return CLI_OK;
}
