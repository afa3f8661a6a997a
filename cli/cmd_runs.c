/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `weir logs`: the log of a step's latest attempt, or following it (the
 * other run commands are in cmd_run.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"

#define LOGS_PAGE      1000 /* log lines asked for per call */
#define LOGS_FOLLOW_MS 300  /* pause between two reads with -f */

static const char logs_usage[] =
    "usage: weir logs RUN_ID STEP [--cell N] [-f]\n\n"
    "Prints the log of the latest attempt of STEP in run RUN_ID.\n"
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

static cJSON *get_run(const struct client *c, const char *cmd, const char *id)
{
    char path[256], esc[128];

    client_escape(id, esc, sizeof(esc));
    snprintf(path, sizeof(path), "/api/v1/runs/%s", esc);
    return client_call_or_say(c, cmd, "GET", path, NULL);
}

/* The latest attempt of the task of `step` (and cell), and its state
 * (*failed: it ended and did not succeed). */
static double find_attempt(const cJSON *run_json, const char *step, long cell,
                           bool *running, bool *failed)
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
            if (num_of(a, "try") >= 0) {
                const char *st = str_of(a, "state");

                id = num_of(a, "id");
                *running = st && strcmp(st, "running") == 0;
                *failed = st && !*running && strcmp(st, "success") != 0;
            }
        }
    }
    return id;
}

/* Print lines after *after; returns false on an error. */
static bool print_log_page(const struct client *c, double attempt,
                           double *after)
{
    char path[256];
    cJSON *reply, *l;

    snprintf(path, sizeof(path),
             "/api/v1/attempts/%.0f/logs?after=%.0f"
             "&limit=%d",
             attempt, *after, LOGS_PAGE);
    reply = client_call_or_say(c, "logs", "GET", path, NULL);
    if (reply == NULL)
        return false;
    cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(reply, "lines"))
    {
        const char *stream = str_of(l, "stream");

        fprintf(stream && strcmp(stream, "stderr") == 0 ? stderr : stdout,
                "%s\n", str_of(l, "line") ? str_of(l, "line") : "");
        *after = num_of(l, "seq");
    }
    fflush(stdout);
    cJSON_Delete(reply);
    return true;
}

int cmd_logs(int argc, char **argv)
{
    struct opts o = {.params = cJSON_CreateObject()};
    double attempt = -1, latest, after = -1; /* -1: from the start */
    bool running = false, failed = false;
    struct client c;
    int rc = parse_opts(argc, argv, "logs", logs_usage, &o);

    cJSON_Delete(o.params);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if (optind != argc - 2)
        return cli_usage_error("logs", "name a run id and a step");
    client_init(&c, o.server);
    do {
        cJSON *r = get_run(&c, "logs", argv[optind]);

        if (r == NULL)
            return CLI_INVALID;
        latest = find_attempt(r, argv[optind + 1], o.cell, &running, &failed);
        cJSON_Delete(r);
        if (latest != attempt) {
            if (attempt >= 0)
                printf("--- next attempt ---\n");
            attempt = latest;
            after = -1; /* sequence numbers count per attempt */
        }
        if (attempt >= 0 && !print_log_page(&c, attempt, &after))
            return CLI_INVALID;
        if (attempt < 0 && !o.follow) {
            fprintf(stderr, "weir logs: step \"%s\" has no attempt yet\n",
                    argv[optind + 1]);
            return CLI_INVALID;
        }
        if (o.follow && (running || attempt < 0))
            usleep(LOGS_FOLLOW_MS * 1000);
    } while (o.follow && (running || attempt < 0));
    return failed ? CLI_INVALID : CLI_OK;
}
