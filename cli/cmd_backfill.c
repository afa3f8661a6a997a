/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Backfills from the command line: `weir backfill DAG --from --to ...`
 * (POST /api/v1/dags/{id}/backfills; --dry-run lists the slots),
 * `weir backfills DAG` (its backfills with their progress) and
 * `weir backfill-cancel ID`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

static const char backfill_usage[] =
    "usage: weir backfill DAG --from DATE --to DATE [--trigger NAME]\n"
    "                     [--reprocess missing|failed|all] [--max-active N]\n"
    "                     [--reverse] [--dry-run] [-p NAME=VALUE]... "
    "[--json]\n\n"
    "Starts one run of DAG per slot of its cron trigger from --from to --to\n"
    "(dates, whole days in the DAG's time zone, or RFC 3339 times), each\n"
    "with its slot as logical time, and prints the backfill's id. --trigger\n"
    "names the cron trigger when the DAG has several. --reprocess: missing\n"
    "(default) skips slots that already have a run, failed also runs again\n"
    "those whose latest run failed or was canceled, all runs every slot.\n"
    "--max-active (default 1) bounds its runs active at once (never more\n"
    "than the DAG's max_active_runs); --reverse starts with the newest\n"
    "slot. --dry-run lists the slots and what would be skipped, starting\n"
    "nothing. -p overrides a parameter as for weir trigger.\n";

static const char backfills_usage[] =
    "usage: weir backfills DAG [--json]\n\n"
    "Lists the backfills of DAG, newest first, with their progress: runs\n"
    "planned, done (succeeded), failed, running, queued, and slots not\n"
    "started yet (pending).\n";

static const char cancel_usage[] =
    "usage: weir backfill-cancel ID [--json]\n\n"
    "Cancels backfill ID: it starts no more runs, and its queued or running\n"
    "runs are canceled.\n";

/* The options of these commands. */
struct bf_opts {
    bool json;          /* print the server's JSON */
    const char *server; /* --server */
    cJSON *body;        /* the request body being built */
    cJSON *params;      /* -p NAME=VALUE, as an object of strings */
};

/* Add -p NAME=VALUE (arg) to o->params; CLI_USAGE when malformed. */
static int add_param(struct bf_opts *o, char *arg)
{
    char *eq = strchr(arg, '=');

    if (eq == NULL || eq == arg)
        return cli_usage_error("backfill", "-p takes NAME=VALUE, got \"%s\"",
                               arg);
    *eq = '\0';
    cJSON_DeleteItemFromObjectCaseSensitive(o->params, arg);
    cJSON_AddStringToObject(o->params, arg, eq + 1);
    return 0;
}

/* --max-active N into the body; CLI_USAGE when N is not a number. */
static int add_max(struct bf_opts *o, const char *arg)
{
    char *end = NULL;
    long v = strtol(arg, &end, 10);

    if (end == arg || *end != '\0')
        return cli_usage_error("backfill",
                               "--max-active takes a number, got \"%s\"", arg);
    cJSON_AddNumberToObject(o->body, "max_active", (double)v);
    return 0;
}

/* One option c of `weir backfill` into o. */
static int backfill_opt(struct bf_opts *o, int c)
{
    const char *key = c == 'f'   ? "from"
                      : c == 't' ? "to"
                      : c == 'T' ? "trigger"
                                 : "reprocess";

    switch (c) {
    case 'f':
    case 't':
    case 'T':
    case 'r':
        cJSON_DeleteItemFromObjectCaseSensitive(o->body, key);
        cJSON_AddStringToObject(o->body, key, optarg);
        return 0;
    case 'm':
        return add_max(o, optarg);
    case 'R':
        cJSON_AddBoolToObject(o->body, "reverse", true);
        return 0;
    case 'd':
        cJSON_AddBoolToObject(o->body, "dry_run", true);
        return 0;
    case 'p':
        return add_param(o, optarg);
    case 'j':
        o->json = true;
        return 0;
    case 'S':
        o->server = client_server_flag(o->server, optarg);
        return 0;
    default:
        return cli_usage_error("backfill", "%s", cli_opt_error());
    }
}

/* Parse argv into o; -1 after --help, CLI_USAGE on a bad option. */
static int parse(int argc, char **argv, const char *cmd, const char *usage,
                 struct bf_opts *o)
{
    static const struct option lopts[] = {
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"trigger", required_argument, NULL, 'T'},
        {"reprocess", required_argument, NULL, 'r'},
        {"max-active", required_argument, NULL, 'm'},
        {"reverse", no_argument, NULL, 'R'},
        {"dry-run", no_argument, NULL, 'd'},
        {"param", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        {"server", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    bool full = strcmp(cmd, "backfill") == 0;
    int c, rc = 0;

    optind = 1;
    while (rc == 0 && (c = cli_getopt(argc, argv, "p:jh", lopts)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        }
        if (!full && c != 'j' && c != 'S')
            return cli_usage_error(cmd, "%s takes only --json and --server",
                                   cmd);
        rc = backfill_opt(o, c);
    }
    if (rc == 0 && optind != argc - 1)
        rc = cli_usage_error(cmd, "name exactly one %s",
                             strcmp(cmd, "backfill-cancel") == 0 ? "backfill"
                                                                 : "DAG");
    return rc;
}

/* A dry run's slots, one a line. */
static void print_plan(const cJSON *r)
{
    const cJSON *s;

    printf("dry run of DAG %s, trigger %s: %.0f slots to run, %.0f skipped\n",
           cli_str(r, "dag_id"), cli_str(r, "trigger"),
           client_json_num(r, "planned"), client_json_num(r, "skipped"));
    printf("%-21s %-26s %s\n", "SLOT", "LOCAL", "ACTION");
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(r, "slots"))
    {
        printf("%-21s %-26s %s", cli_str(s, "slot"), cli_str(s, "local"),
               cli_str(s, "action"));
        if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(s, "run_id")))
            printf(" (run %.0f %s)", client_json_num(s, "run_id"),
                   cli_str(s, "state"));
        putchar('\n');
    }
}

int cmd_backfill(int argc, char **argv)
{
    struct bf_opts o = {.body = cJSON_CreateObject(),
                        .params = cJSON_CreateObject()};
    char path[512], esc[256];
    struct client c;
    cJSON *reply = NULL;
    int rc = parse(argc, argv, "backfill", backfill_usage, &o);

    if (rc == 0) {
        client_init(&c, o.server);
        client_escape(argv[optind], esc, sizeof(esc));
        snprintf(path, sizeof(path), "/api/v1/dags/%s/backfills", esc);
        if (o.params->child != NULL) {
            cJSON_AddItemToObject(o.body, "params_text", o.params);
            o.params = NULL;
        }
        reply = client_call_or_say(&c, "backfill", "POST", path, o.body);
        rc = reply ? CLI_OK : CLI_INVALID;
    }
    if (reply && o.json)
        cli_print_json(reply);
    else if (reply && cJSON_IsTrue(cJSON_GetObjectItem(reply, "dry_run")))
        print_plan(reply);
    else if (reply)
        printf("backfill %.0f of DAG %s, trigger %s: %.0f slots (%.0f "
               "skipped), %.0f runs started, max-active %.0f\n",
               client_json_num(reply, "backfill_id"), argv[optind],
               cli_str(reply, "trigger"), client_json_num(reply, "planned"),
               client_json_num(reply, "skipped"),
               client_json_num(reply, "created"),
               client_json_num(reply, "max_active"));
    cJSON_Delete(reply);
    cJSON_Delete(o.body);
    cJSON_Delete(o.params);
    return rc < 0 ? CLI_OK : rc;
}

int cmd_backfills(int argc, char **argv)
{
    struct bf_opts o = {0};
    char path[512], esc[256];
    struct client c;
    const cJSON *b;
    cJSON *reply = NULL;
    int rc = parse(argc, argv, "backfills", backfills_usage, &o);

    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    client_init(&c, o.server);
    client_escape(argv[optind], esc, sizeof(esc));
    snprintf(path, sizeof(path), "/api/v1/dags/%s/backfills", esc);
    reply = client_call_or_say(&c, "backfills", "GET", path, NULL);
    if (reply == NULL)
        return CLI_INVALID;
    if (o.json) {
        cli_print_json(reply);
        cJSON_Delete(reply);
        return CLI_OK;
    }
    printf("%-6s %-9s %-16s %-10.10s %-10.10s %7s %5s %6s %7s %6s %7s\n", "ID",
           "STATE", "TRIGGER", "FROM", "TO", "PLANNED", "DONE", "FAILED",
           "RUNNING", "QUEUED", "PENDING");
    cJSON_ArrayForEach(b, cJSON_GetObjectItem(reply, "backfills"))
    {
        const cJSON *p = cJSON_GetObjectItem(b, "progress");

        printf("%-6.0f %-9s %-16.16s %-10.10s %-10.10s %7.0f %5.0f %6.0f "
               "%7.0f %6.0f %7.0f\n",
               client_json_num(b, "id"), cli_str(b, "state"),
               cli_str(b, "trigger"), cli_str(b, "from"), cli_str(b, "to"),
               client_json_num(p, "planned"), client_json_num(p, "done"),
               client_json_num(p, "failed"), client_json_num(p, "running"),
               client_json_num(p, "queued"), client_json_num(p, "pending"));
        if (cJSON_IsString(cJSON_GetObjectItem(b, "error")))
            printf("       error: %s\n", cli_str(b, "error"));
    }
    cJSON_Delete(reply);
    return CLI_OK;
}

int cmd_backfill_cancel(int argc, char **argv)
{
    struct bf_opts o = {0};
    char path[512], esc[256];
    struct client c;
    const cJSON *r;
    cJSON *reply = NULL;
    int rc = parse(argc, argv, "backfill-cancel", cancel_usage, &o);

    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    client_init(&c, o.server);
    client_escape(argv[optind], esc, sizeof(esc));
    snprintf(path, sizeof(path), "/api/v1/backfills/%s/cancel", esc);
    reply = client_call_or_say(&c, "backfill-cancel", "POST", path, NULL);
    if (reply == NULL)
        return CLI_INVALID;
    if (o.json) {
        cli_print_json(reply);
    } else {
        printf("backfill %s canceled; runs canceled:", argv[optind]);
        cJSON_ArrayForEach(r, cJSON_GetObjectItem(reply, "canceled_runs"))
        {
            printf(" %.0f", r->valuedouble);
        }
        printf("%s\n", cJSON_GetArraySize(
                           cJSON_GetObjectItem(reply, "canceled_runs")) == 0
                           ? " none"
                           : "");
    }
    cJSON_Delete(reply);
    return CLI_OK;
}
