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

#define LOGS_PAGE      10000 /* log lines asked for per call (the most) */
#define LOGS_FOLLOW_MS 300   /* pause between two reads with -f */

static const char logs_usage[] =
    "usage: weir logs RUN_ID STEP [--cell N] [--try N] [-f]\n"
    "                 [--stream stdout|stderr|all] [--separate]\n\n"
    "Prints the log of the latest attempt of STEP in run RUN_ID (--try N:\n"
    "of try N), every line on stdout whatever its stream. --stream keeps\n"
    "the step's stdout or stderr only (all, the default, also has the\n"
    "worker's notes); --separate prints stderr lines on stderr.\n"
    "-f keeps following it until the attempt ends.\n";

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
    while ((c = cli_getopt(argc, argv, "S:c:fh", lopts)) != -1) {
        switch (c) {
        case 'h':
            fputs(logs_usage, stdout);
            return -1;
        case 'S':
            o->server = client_server_flag(o->server, optarg);
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
            return cli_usage_error("logs", "%s", cli_opt_error());
        }
    }
    return 0;
}

/* The attempt of the task of `step` (and cell): of try `try`, or the
 * latest when try is 0; its state (*failed: it ended and did not succeed)
 * and what a cap cut of its log. */
/* Whether run_json has a task of `step` and cell. */
static bool has_task(const cJSON *run_json, const char *step, long cell)
{
    const cJSON *t;

    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(run_json, "tasks"))
    {
        const char *s = client_json_str(t, "step");

        if (s != NULL && strcmp(s, step) == 0 &&
            client_json_num(t, "cell") == (double)cell)
            return true;
    }
    return false;
}

static double find_attempt(const cJSON *run_json, const char *step, long cell,
                           long try, bool *running, bool *failed,
                           const cJSON **capped)
{
    const cJSON *t, *a;
    double id = -1;

    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(run_json, "tasks"))
    {
        if (strcmp(client_json_str(t, "step") ? client_json_str(t, "step") : "",
                   step) != 0 ||
            client_json_num(t, "cell") != (double)cell)
            continue;
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(t, "attempts"))
        {
            if (client_json_num(a, "try") >= 0 &&
                (try == 0 || client_json_num(a, "try") == (double)try)) {
                const char *st = client_json_str(a, "state");

                id = client_json_num(a, "id");
                *running = st && strcmp(st, "running") == 0;
                *capped = cJSON_GetObjectItemCaseSensitive(a, "log_capped");
                *failed = st && !*running && strcmp(st, "success") != 0;
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
            const char *stream = client_json_str(l, "stream");
            bool err = stream != NULL && strcmp(stream, "stderr") == 0;

            *after = client_json_num(l, "seq");
            if (o->stream != NULL &&
                (stream == NULL || strcmp(stream, o->stream) != 0))
                continue;
            fprintf(err && o->separate ? stderr : stdout, "%s\n",
                    client_json_str(l, "line") ? client_json_str(l, "line")
                                               : "");
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
            client_json_num(capped, "lines_kept"),
            client_json_num(capped, "lines_total"));
}

int cmd_logs(int argc, char **argv)
{
    struct logs_opts o = {0};
    double attempt = -1, latest, after = -1; /* -1: from the start */
    const cJSON *capped = NULL;
    cJSON *capped_copy = NULL;
    bool running = false, over = false, failed = false;
    struct client c;
    int rc = logs_parse(argc, argv, &o);

    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if (optind != argc - 2)
        return cli_usage_error("logs", "name a run id and a step");
    client_init(&c, o.server);
    do {
        cJSON *r = client_get_run(&c, "logs", argv[optind]);
        const char *st;

        if (r == NULL)
            return CLI_INVALID;
        if (!has_task(r, argv[optind + 1], o.cell)) {
            fprintf(stderr, "weir logs: run %s has no step \"%s\"",
                    argv[optind], argv[optind + 1]);
            if (o.cell != 0)
                fprintf(stderr, " with cell %ld", o.cell);
            fputc('\n', stderr);
            cJSON_Delete(r);
            cJSON_Delete(capped_copy);
            return CLI_INVALID;
        }
        latest = find_attempt(r, argv[optind + 1], o.cell, o.try, &running,
                              &failed, &capped);
        st = client_json_str(r, "state");
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
    return failed ? CLI_INVALID : CLI_OK;
}
