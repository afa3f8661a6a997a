/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runs from the command line: `weir trigger`, `weir runs`, `weir run` and
 * `weir logs`, each one or a few REST calls.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"

#define LOGS_PAGE      10000 /* log lines asked for per call (the most) */
#define LOGS_FOLLOW_MS 300   /* pause between two reads with -f */

static const char trigger_usage[] =
    "usage: weir trigger DAG [-p NAME=VALUE]... [--env ENV] [--json]\n\n"
    "Starts a run of DAG now. -p overrides a parameter (repeatable); an\n"
    "unknown parameter is refused. Prints the new run's id.\n";

static const char runs_usage[] =
    "usage: weir runs [DAG] [--state STATE] [--limit N] [--json]\n\n"
    "Lists runs, newest first.\n";

static const char run_usage[] =
    "usage: weir run RUN_ID [--json]\n\n"
    "Shows a run: its state and reason, and every task with its state,\n"
    "tries and duration.\n";

static const char logs_usage[] =
    "usage: weir logs RUN_ID STEP [--cell N] [--try N] [-f]\n"
    "                 [--stream stdout|stderr|all] [--separate]\n\n"
    "Prints the log of the latest attempt of STEP in run RUN_ID (--try N:\n"
    "of try N), every line on stdout whatever its stream. --stream keeps\n"
    "the step's stdout or stderr only (all, the default, also has the\n"
    "worker's notes); --separate prints stderr lines on stderr.\n"
    "-f keeps following it until the attempt ends.\n";

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void print_json(const cJSON *v)
{
    char *text = cJSON_Print(v);

    puts(text ? text : "null");
    cJSON_free(text);
}

/* Common options: --json, --server, --help; the rest go to `extra`. */
struct opts {
    bool json;          /* print the server's JSON */
    const char *server; /* --server */
    const char *env;    /* --env */
    const char *state;  /* --state */
    long limit;         /* --limit */
    long cell;          /* --cell */
    bool follow;        /* -f */
    cJSON *params;      /* -p NAME=VALUE, as an object */
};

static int parse_opts(int argc, char **argv, const char *cmd, const char *usage,
                      struct opts *o)
{
    static const struct option lopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"server", required_argument, NULL, 'S'},
        {"env", required_argument, NULL, 'e'},
        {"state", required_argument, NULL, 's'},
        {"limit", required_argument, NULL, 'n'},
        {"cell", required_argument, NULL, 'c'},
        {"param", required_argument, NULL, 'p'},
        {"follow", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "jS:e:s:n:c:p:fh", lopts, NULL)) !=
           -1) {
        char *eq;

        switch (c) {
        case 'h':
            fputs(usage, stdout);
            return -1;
        case 'j':
            o->json = true;
            break;
        case 'S':
            o->server = optarg;
            break;
        case 'e':
            o->env = optarg;
            break;
        case 's':
            o->state = optarg;
            break;
        case 'n':
        case 'c':
            *(c == 'n' ? &o->limit : &o->cell) = strtol(optarg, NULL, 10);
            break;
        case 'f':
            o->follow = true;
            break;
        case 'p':
            eq = strchr(optarg, '=');
            if (eq == NULL || eq == optarg)
                return cli_usage_error(cmd, "-p takes NAME=VALUE, got \"%s\"",
                                       optarg);
            *eq = '\0';
            cJSON_DeleteItemFromObjectCaseSensitive(o->params, optarg);
            cJSON_AddStringToObject(o->params, optarg, eq + 1);
            break;
        default:
            return cli_usage_error(cmd, "unknown option");
        }
    }
    return 0;
}

int cmd_trigger(int argc, char **argv)
{
    struct opts o = {.params = cJSON_CreateObject()};
    cJSON *body = cJSON_CreateObject(), *reply = NULL;
    char path[512], esc[256];
    struct client c;
    int rc = parse_opts(argc, argv, "trigger", trigger_usage, &o);

    if (rc == 0 && optind != argc - 1)
        rc = cli_usage_error("trigger", "name exactly one DAG");
    if (rc == 0) {
        client_init(&c, o.server);
        client_escape(argv[optind], esc, sizeof(esc));
        snprintf(path, sizeof(path), "/api/v1/dags/%s/runs", esc);
        cJSON_AddItemToObject(body, "params", o.params);
        o.params = NULL;
        if (o.env)
            cJSON_AddStringToObject(body, "environment", o.env);
        reply = client_call_or_say(&c, "trigger", "POST", path, body);
        rc = reply ? CLI_OK : CLI_INVALID;
    }
    if (reply && o.json)
        print_json(reply);
    else if (reply)
        printf("%.0f\n", num_of(reply, "run_id"));
    cJSON_Delete(reply);
    cJSON_Delete(body);
    cJSON_Delete(o.params);
    return rc < 0 ? CLI_OK : rc;
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

int cmd_runs(int argc, char **argv)
{
    struct opts o = {.params = cJSON_CreateObject(), .limit = 20};
    char path[512], esc[256];
    struct client c;
    cJSON *reply, *r;
    int rc = parse_opts(argc, argv, "runs", runs_usage, &o);

    cJSON_Delete(o.params);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if (argc - optind > 1)
        return cli_usage_error("runs", "name at most one DAG");
    snprintf(path, sizeof(path), "/api/v1/runs?limit=%ld", o.limit);
    if (optind < argc) {
        client_escape(argv[optind], esc, sizeof(esc));
        snprintf(path + strlen(path), sizeof(path) - strlen(path), "&dag=%s",
                 esc);
    }
    if (o.state) {
        client_escape(o.state, esc, sizeof(esc));
        snprintf(path + strlen(path), sizeof(path) - strlen(path), "&state=%s",
                 esc);
    }
    client_init(&c, o.server);
    reply = client_call_or_say(&c, "runs", "GET", path, NULL);
    if (reply == NULL)
        return CLI_INVALID;
    if (o.json) {
        print_json(reply);
    } else {
        printf("%-8s %-20s %-9s %-21s %s\n", "RUN", "DAG", "STATE", "CREATED",
               "REASON");
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(reply, "runs"))
        {
            const char *reason = str_of(r, "reason");

            printf("%-8.0f %-20s %-9s %-21.19s %s\n", num_of(r, "id"),
                   str_of(r, "dag"), str_of(r, "state"),
                   str_of(r, "created_at"), reason ? reason : "");
        }
    }
    cJSON_Delete(reply);
    return CLI_OK;
}

static void print_task(const cJSON *t)
{
    char dur[32], name[160];
    const cJSON *matrix = cJSON_GetObjectItemCaseSensitive(t, "matrix");
    const char *error = str_of(t, "error");
    const char *message = str_of(t, "approval_message");
    const char *state = str_of(t, "state");

    snprintf(name, sizeof(name), "%s%s", str_of(t, "step"),
             str_of(t, "hook") ? " (hook)" : "");
    if (cJSON_IsObject(matrix)) {
        char *m = cJSON_PrintUnformatted(matrix);

        snprintf(name + strlen(name), sizeof(name) - strlen(name), " %s",
                 m ? m : "");
        cJSON_free(m);
    }
    duration_text(str_of(t, "started_at"), str_of(t, "finished_at"), dur,
                  sizeof(dur));
    printf("  %-40s %-18s try %.0f/%.0f  %s\n", name, str_of(t, "state"),
           num_of(t, "try_count"), num_of(t, "max_tries"), dur);
    if (error)
        printf("      %s\n", error);
    if (message && state && strcmp(state, "awaiting_approval") == 0)
        printf("      approval: %s\n", message);
}

static cJSON *get_run(const struct client *c, const char *cmd, const char *id)
{
    char path[256], esc[128];

    client_escape(id, esc, sizeof(esc));
    snprintf(path, sizeof(path), "/api/v1/runs/%s", esc);
    return client_call_or_say(c, cmd, "GET", path, NULL);
}

int cmd_run(int argc, char **argv)
{
    struct opts o = {.params = cJSON_CreateObject()};
    struct client c;
    cJSON *reply, *t;
    char dur[32];
    int rc = parse_opts(argc, argv, "run", run_usage, &o);

    cJSON_Delete(o.params);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if (optind != argc - 1)
        return cli_usage_error("run", "name exactly one run id");
    client_init(&c, o.server);
    reply = get_run(&c, "run", argv[optind]);
    if (reply == NULL)
        return CLI_INVALID;
    if (o.json) {
        print_json(reply);
        cJSON_Delete(reply);
        return CLI_OK;
    }
    duration_text(str_of(reply, "started_at"), str_of(reply, "finished_at"),
                  dur, sizeof(dur));
    printf("run %.0f  %s  %s  %s\n", num_of(reply, "id"), str_of(reply, "dag"),
           str_of(reply, "state"), dur);
    if (str_of(reply, "reason"))
        printf("reason: %s\n", str_of(reply, "reason"));
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(reply, "tasks"))
        print_task(t);
    cJSON_Delete(reply);
    return CLI_OK;
}

/* What `weir logs` was asked for. */
struct logs_opts {
    const char *server; /* --server */
    long cell;          /* --cell */
    long try;           /* --try, 0: the latest */
    bool follow;        /* -f */
    const char *stream; /* --stream stdout|stderr, NULL: all */
    bool separate;      /* --separate */
};

static int logs_parse(int argc, char **argv, struct logs_opts *o)
{
    static const struct option lopts[] = {
        {"server", required_argument, NULL, 'S'},
        {"cell", required_argument, NULL, 'c'},
        {"try", required_argument, NULL, 't'},
        {"stream", required_argument, NULL, 's'},
        {"separate", no_argument, NULL, 'p'},
        {"follow", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    char *end;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "S:c:fh", lopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(logs_usage, stdout);
            return -1;
        case 'S':
            o->server = optarg;
            break;
        case 'c':
            o->cell = strtol(optarg, NULL, 10);
            break;
        case 't':
            o->try = strtol(optarg, &end, 10);
            if (*end != '\0' || end == optarg || o->try < 1)
                return cli_usage_error("logs",
                                       "--try takes a try number from 1, got "
                                       "\"%s\"",
                                       optarg);
            break;
        case 's':
            if (strcmp(optarg, "stdout") != 0 &&
                strcmp(optarg, "stderr") != 0 && strcmp(optarg, "all") != 0)
                return cli_usage_error("logs",
                                       "--stream takes stdout, stderr or all, "
                                       "got \"%s\"",
                                       optarg);
            o->stream = strcmp(optarg, "all") == 0 ? NULL : optarg;
            break;
        case 'p':
            o->separate = true;
            break;
        case 'f':
            o->follow = true;
            break;
        default:
            return cli_usage_error("logs", "unknown option");
        }
    }
    return 0;
}

/* The attempt of the task of `step` (and cell): of try `try`, or the
 * latest when try is 0; its state and what a cap cut of its log. */
static double find_attempt(const cJSON *run_json, const char *step, long cell,
                           long try, bool *running, const cJSON **capped)
{
    const cJSON *t, *a;
    double id = -1;

    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(run_json, "tasks"))
    {
        if (strcmp(str_of(t, "step") ? str_of(t, "step") : "", step) != 0 ||
            num_of(t, "cell") != (double)cell)
            continue;
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(t, "attempts"))
        {
            if (num_of(a, "try") >= 0 &&
                (try == 0 || num_of(a, "try") == (double)try)) {
                const char *st = str_of(a, "state");

                id = num_of(a, "id");
                *running = st && strcmp(st, "running") == 0;
                *capped = cJSON_GetObjectItemCaseSensitive(a, "log_capped");
            }
        }
    }
    return id;
}

/* Print the lines after *after, page by page up to the last stored;
 * returns false on an error. */
static bool print_log_page(const struct client *c, const struct logs_opts *o,
                           double attempt, double *after)
{
    char path[256];
    cJSON *reply, *l;
    int n;

    do {

        snprintf(path, sizeof(path),
                 "/api/v1/attempts/%.0f/logs?after=%.0f"
                 "&limit=%d",
                 attempt, *after, LOGS_PAGE);
        reply = client_call_or_say(c, "logs", "GET", path, NULL);
        if (reply == NULL)
            return false;
        n = cJSON_GetArraySize(
            cJSON_GetObjectItemCaseSensitive(reply, "lines"));
        cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(reply, "lines"))
        {
            const char *stream = str_of(l, "stream");
            bool err = stream != NULL && strcmp(stream, "stderr") == 0;

            *after = num_of(l, "seq");
            if (o->stream != NULL &&
                (stream == NULL || strcmp(stream, o->stream) != 0))
                continue;
            fprintf(err && o->separate ? stderr : stdout, "%s\n",
                    str_of(l, "line") ? str_of(l, "line") : "");
        }
        fflush(stdout);
        cJSON_Delete(reply);
    } while (n == LOGS_PAGE);
    return true;
}

/* With a stream chosen, the worker's note on a cap is not printed: say
 * it on stderr. */
static void say_capped(const struct logs_opts *o, const cJSON *capped)
{
    if (o->stream == NULL || !cJSON_IsObject(capped))
        return;
    fprintf(stderr,
            "weir logs: the log was capped by the worker: %.0f of %.0f "
            "lines kept\n",
            num_of(capped, "lines_kept"), num_of(capped, "lines_total"));
}

int cmd_logs(int argc, char **argv)
{
    struct logs_opts o = {0};
    double attempt = -1, latest, after = -1; /* -1: from the start */
    const cJSON *capped = NULL;
    cJSON *capped_copy = NULL;
    bool running = false, over = false;
    struct client c;
    int rc = logs_parse(argc, argv, &o);

    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if (optind != argc - 2)
        return cli_usage_error("logs", "name a run id and a step");
    client_init(&c, o.server);
    do {
        cJSON *r = get_run(&c, "logs", argv[optind]);
        const char *st;

        if (r == NULL)
            return CLI_INVALID;
        latest =
            find_attempt(r, argv[optind + 1], o.cell, o.try, &running, &capped);
        st = str_of(r, "state");
        over = st != NULL &&
               (strcmp(st, "success") == 0 || strcmp(st, "failed") == 0 ||
                strcmp(st, "canceled") == 0);
        cJSON_Delete(capped_copy);
        capped_copy = cJSON_Duplicate(capped, true);
        cJSON_Delete(r);
        if (latest != attempt) {
            if (attempt >= 0)
                printf("--- next attempt ---\n");
            attempt = latest;
            after = -1; /* sequence numbers count per attempt */
        }
        if (attempt >= 0 && !print_log_page(&c, &o, attempt, &after)) {
            cJSON_Delete(capped_copy);
            return CLI_INVALID;
        }
        if (attempt < 0 && (!o.follow || (o.try > 0 && over))) {
            if (o.try > 0)
                fprintf(stderr, "weir logs: step \"%s\" has no try %ld\n",
                        argv[optind + 1], o.try);
            else
                fprintf(stderr, "weir logs: step \"%s\" has no attempt yet\n",
                        argv[optind + 1]);
            cJSON_Delete(capped_copy);
            return CLI_INVALID;
        }
        if (o.follow && (running || attempt < 0))
            usleep(LOGS_FOLLOW_MS * 1000);
    } while (o.follow && (running || attempt < 0));
    say_capped(&o, capped_copy);
    cJSON_Delete(capped_copy);
    return CLI_OK;
}
