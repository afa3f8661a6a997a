/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The model registry from the command line: `weir artifacts [NAME]` lists
 * artifact versions (with NAME: which version is in prod and where it came
 * from, then every version with its promotions), and `weir artifact
 * promote NAME VERSION --to STAGE` moves a version to a stage.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"

static const char artifacts_usage[] =
    "usage: weir artifacts [NAME] [--json]\n\n"
    "Lists the artifact versions the registry recorded, newest first. With\n"
    "NAME: the version in prod and where it came from (run, step, DAG\n"
    "version, data version), then every version with its promotions.\n";

static const char artifact_usage[] =
    "usage: weir artifact promote NAME VERSION --to STAGE [--comment TEXT]\n"
    "                             [--json]\n\n"
    "Moves an artifact version to STAGE: dev, staging, prod or archived.\n"
    "Stages only move forward; promoting to prod archives the version that\n"
    "was in prod. Who and when are recorded. Needs an admin token.\n";

/* Options of the registry commands. */
struct reg_opts {
    bool json;           /* print the server's JSON */
    const char *server;  /* --server */
    const char *to;      /* --to */
    const char *comment; /* --comment */
};

static int parse(int argc, char **argv, const char *cmd, const char *usage,
                 struct reg_opts *o)
{
    static const struct option lopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"server", required_argument, NULL, 'S'},
        {"to", required_argument, NULL, 't'},
        {"comment", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "jS:h", lopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        } else if (c == 'j') {
            o->json = true;
        } else if (c == 'S') {
            o->server = optarg;
        } else if (c == 't' && usage == artifact_usage) {
            o->to = optarg;
        } else if (c == 'C' && usage == artifact_usage) {
            o->comment = optarg;
        } else {
            return cli_usage_error(cmd, "unknown option");
        }
    }
    return 0;
}

void cli_print_json(const cJSON *v)
{
    char *text = cJSON_Print(v);

    puts(text ? text : "null");
    cJSON_free(text);
}

const char *cli_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : "-";
}

/* A member as text into buf: a string as it is, anything else as compact
 * JSON. */
static const char *member_text(const cJSON *o, const char *key, char *buf,
                               size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    char *text = cJSON_IsString(v) ? NULL : cJSON_PrintUnformatted(v);

    snprintf(buf, len, "%s",
             cJSON_IsString(v) ? v->valuestring
             : text            ? text
                               : "-");
    cJSON_free(text);
    return buf;
}

static void print_version_row(const cJSON *a)
{
    char run[32], metrics[512];

    printf("%-24s %-12s %-9s %-10s %-10.10s %-16s %s\n", cli_str(a, "name"),
           cli_str(a, "version"), cli_str(a, "stage"),
           member_text(a, "run_id", run, sizeof(run)),
           cli_str(a, "environment"), cli_str(a, "data_version"),
           member_text(a, "metrics", metrics, sizeof(metrics)));
}

/* Which version is in prod, and where it came from. */
static void print_prod(const cJSON *reply)
{
    const char *prod = cli_str(reply, "prod");
    char run[32], metrics[512];
    const cJSON *v;

    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(reply, "versions"))
    {
        if (strcmp(cli_str(v, "version"), prod) != 0)
            continue;
        printf("%s: prod is %s, from run %s (DAG %s, version %.12s,"
               " environment %s), step %s,\n  data %s (%.12s), uri %s,"
               " metrics %s\n\n",
               cli_str(reply, "name"), prod,
               member_text(v, "run_id", run, sizeof(run)), cli_str(v, "dag"),
               cli_str(v, "dag_hash"), cli_str(v, "environment"),
               cli_str(v, "step"), cli_str(v, "data_version"),
               cli_str(v, "data_hash"), cli_str(v, "uri"),
               member_text(v, "metrics", metrics, sizeof(metrics)));
        return;
    }
    printf("%s: no version in prod\n\n", cli_str(reply, "name"));
}

static void print_artifact(const cJSON *reply)
{
    const cJSON *v, *p;

    print_prod(reply);
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(reply, "versions"))
    {
        print_version_row(v);
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(v, "promotions"))
        {
            printf("    %s -> %s by %s at %s\n", cli_str(p, "from"),
                   cli_str(p, "to"), cli_str(p, "by"), cli_str(p, "at"));
        }
    }
}

int cmd_artifacts(int argc, char **argv)
{
    struct reg_opts o = {0};
    char path[512], esc[400];
    struct client c;
    cJSON *reply, *v;
    int rc = parse(argc, argv, "artifacts", artifacts_usage, &o);

    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if (argc - optind > 1)
        return cli_usage_error("artifacts", "name at most one artifact");
    snprintf(path, sizeof(path), "/api/v1/artifacts");
    if (optind < argc) {
        client_escape(argv[optind], esc, sizeof(esc));
        snprintf(path, sizeof(path), "/api/v1/artifacts/%s", esc);
    }
    client_init(&c, o.server);
    reply = client_call_or_say(&c, "artifacts", "GET", path, NULL);
    if (reply == NULL)
        return CLI_INVALID;
    if (o.json) {
        cli_print_json(reply);
    } else if (optind < argc) {
        print_artifact(reply);
    } else {
        printf("%-24s %-12s %-9s %-10s %-10.10s %-16s %s\n", "NAME", "VERSION",
               "STAGE", "RUN", "ENV", "DATA", "METRICS");
        cJSON_ArrayForEach(v,
                           cJSON_GetObjectItemCaseSensitive(reply, "artifacts"))
        {
            print_version_row(v);
        }
    }
    cJSON_Delete(reply);
    return CLI_OK;
}

int cmd_artifact(int argc, char **argv)
{
    struct reg_opts o = {0};
    char path[700], name[300], version[300];
    cJSON *body, *reply;
    struct client c;
    int rc = parse(argc, argv, "artifact", artifact_usage, &o);

    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if (argc - optind != 3 || strcmp(argv[optind], "promote") != 0)
        return cli_usage_error("artifact", "expected promote NAME VERSION");
    if (o.to == NULL)
        return cli_usage_error("artifact", "--to STAGE is required");
    client_escape(argv[optind + 1], name, sizeof(name));
    client_escape(argv[optind + 2], version, sizeof(version));
    snprintf(path, sizeof(path), "/api/v1/artifacts/%s/versions/%s/promote",
             name, version);
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "to", o.to);
    if (o.comment)
        cJSON_AddStringToObject(body, "comment", o.comment);
    client_init(&c, o.server);
    reply = client_call_or_say(&c, "artifact", "POST", path, body);
    cJSON_Delete(body);
    if (reply == NULL)
        return CLI_INVALID;
    if (o.json) {
        cli_print_json(reply);
    } else {
        printf("%s %s: %s -> %s (by %s at %s)\n", cli_str(reply, "name"),
               cli_str(reply, "version"), cli_str(reply, "from"),
               cli_str(reply, "stage"), cli_str(reply, "by"),
               cli_str(reply, "at"));
        if (strcmp(cli_str(reply, "archived"), "-") != 0)
            printf("%s %s: prod -> archived\n", cli_str(reply, "name"),
                   cli_str(reply, "archived"));
    }
    cJSON_Delete(reply);
    return CLI_OK;
}
