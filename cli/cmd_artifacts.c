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
    "usage: weir artifact promote NAME VERSION --to STAGE [--reason TEXT]\n"
    "                             [--json]\n"
    "       weir artifact approve|reject NAME VERSION [--reason TEXT]\n"
    "                             [--json]\n\n"
    "promote moves an artifact version to STAGE: dev, staging, prod or\n"
    "archived. Stages only move forward; promoting to prod archives the\n"
    "version that was in prod. A rollback is the one way back: promoting\n"
    "an archived version that was in prod to prod again, with --reason.\n"
    "When the DAG that produced it has an approval gate, a promotion to\n"
    "prod waits until someone else runs approve (or reject); the one who\n"
    "asked may approve too only where the DAG says self_approve, and the\n"
    "artifact's approvers (names or groups), when given, are the only\n"
    "others who may decide. The DAG's promote_from may keep versions made\n"
    "in some environments from a stage. Who, when and why are recorded\n"
    "(--comment is the same as --reason). Needs an admin token.\n";

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
        {"reason", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    optind = 1;
    while ((c = cli_getopt(argc, argv, "jS:h", lopts)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        } else if (c == 'j') {
            o->json = true;
        } else if (c == 'S') {
            o->server = client_server_flag(o->server, optarg);
        } else if (c == 't' && usage == artifact_usage) {
            o->to = optarg;
        } else if (c == 'C' && usage == artifact_usage) {
            o->comment = optarg;
        } else {
            return cli_usage_error(cmd, "%s", cli_opt_error());
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

/* Where prod version `prod` (a member of the reply's versions) came from. */
static void print_prod_version(const cJSON *reply, const char *prod)
{
    char run[32], metrics[512];
    const cJSON *v;

    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(reply, "versions"))
    {
        if (strcmp(cli_str(v, "version"), prod) != 0)
            continue;
        printf("%s: prod is %s, from run %s (DAG %s, version %.12s,"
               " environment %s), step %s,\n  data %s (%.12s), uri %s,"
               " metrics %s\n",
               cli_str(reply, "name"), prod,
               member_text(v, "run_id", run, sizeof(run)), cli_str(v, "dag"),
               cli_str(v, "dag_hash"), cli_str(v, "environment"),
               cli_str(v, "step"), cli_str(v, "data_version"),
               cli_str(v, "data_hash"), cli_str(v, "uri"),
               member_text(v, "metrics", metrics, sizeof(metrics)));
        return;
    }
}

/* Which versions are in prod (newest there first), and where they came
 * from. */
static void print_prod(const cJSON *reply)
{
    const cJSON *list =
        cJSON_GetObjectItemCaseSensitive(reply, "prod_versions");
    const cJSON *p;

    if (cJSON_GetArraySize(list) == 0) {
        printf("%s: no version in prod\n\n", cli_str(reply, "name"));
        return;
    }
    cJSON_ArrayForEach(p, list)
    {
        if (cJSON_IsString(p))
            print_prod_version(reply, p->valuestring);
    }
    printf("\n");
}

static void print_promotion(const cJSON *p)
{
    printf("    %s%s -> %s%s by %s",
           cJSON_IsTrue(cJSON_GetObjectItem(p, "rollback")) ? "rollback " : "",
           cli_str(p, "from"), cli_str(p, "to"),
           strcmp(cli_str(p, "outcome"), "rejected") == 0 ? " rejected" : "",
           cli_str(p, "by"));
    if (strcmp(cli_str(p, "decided_by"), "-") != 0)
        printf(", decided by %s", cli_str(p, "decided_by"));
    printf(" at %s", cli_str(p, "at"));
    if (strcmp(cli_str(p, "reason"), "-") != 0 &&
        strcmp(cli_str(p, "reason"), cli_str(p, "comment")) != 0)
        printf(", because: %s", cli_str(p, "reason"));
    if (strcmp(cli_str(p, "comment"), "-") != 0)
        printf(": %s", cli_str(p, "comment"));
    printf("\n");
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
            print_promotion(p);
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

/* One line about a promotion, an approval or a rejection. */
static void say_promotion(const cJSON *r)
{
    const char *n = cli_str(r, "name"), *v = cli_str(r, "version");

    if (strcmp(cli_str(r, "outcome"), "awaiting_approval") == 0)
        printf("%s %s: %s -> %s awaits approval (asked by %s); decide with"
               " 'weir artifact approve|reject %s %s'\n",
               n, v, cli_str(r, "from"), cli_str(r, "pending"),
               cli_str(r, "by"), n, v);
    else if (strcmp(cli_str(r, "outcome"), "rejected") == 0)
        printf("%s %s: promotion rejected by %s, stays %s\n", n, v,
               cli_str(r, "decided_by"), cli_str(r, "stage"));
    else if (cJSON_IsTrue(cJSON_GetObjectItem(r, "rollback")))
        printf("%s %s: rolled back %s -> %s (by %s%s%s at %s)\n", n, v,
               cli_str(r, "from"), cli_str(r, "stage"), cli_str(r, "by"),
               strcmp(cli_str(r, "decided_by"), "-") ? ", approved by " : "",
               strcmp(cli_str(r, "decided_by"), "-") ? cli_str(r, "decided_by")
                                                     : "",
               cli_str(r, "at"));
    else if (strcmp(cli_str(r, "decided_by"), "-") != 0)
        printf("%s %s: %s -> %s (asked by %s, approved by %s, at %s)\n", n, v,
               cli_str(r, "from"), cli_str(r, "stage"), cli_str(r, "by"),
               cli_str(r, "decided_by"), cli_str(r, "at"));
    else
        printf("%s %s: %s -> %s (by %s at %s)\n", n, v, cli_str(r, "from"),
               cli_str(r, "stage"), cli_str(r, "by"), cli_str(r, "at"));
    if (strcmp(cli_str(r, "archived"), "-") != 0)
        printf("%s %s: prod -> archived\n", n, cli_str(r, "archived"));
}

int cmd_artifact(int argc, char **argv)
{
    struct reg_opts o = {0};
    char path[700], name[300], version[300];
    const char *verb;
    cJSON *body, *reply;
    struct client c;
    int rc = parse(argc, argv, "artifact", artifact_usage, &o);

    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    verb = optind < argc ? argv[optind] : "";
    if (argc - optind != 3 ||
        (strcmp(verb, "promote") != 0 && strcmp(verb, "approve") != 0 &&
         strcmp(verb, "reject") != 0))
        return cli_usage_error("artifact",
                               "expected promote|approve|reject NAME VERSION");
    if ((o.to == NULL) != (strcmp(verb, "promote") != 0))
        return cli_usage_error("artifact", "--to STAGE goes with promote,"
                                           " and only with it");
    client_escape(argv[optind + 1], name, sizeof(name));
    client_escape(argv[optind + 2], version, sizeof(version));
    snprintf(path, sizeof(path), "/api/v1/artifacts/%s/versions/%s/%s", name,
             version, verb);
    body = cJSON_CreateObject();
    if (o.to)
        cJSON_AddStringToObject(body, "to", o.to);
    if (o.comment)
        cJSON_AddStringToObject(body, "comment", o.comment);
    client_init(&c, o.server);
    reply = client_call_or_say(&c, "artifact", "POST", path, body);
    cJSON_Delete(body);
    if (reply == NULL)
        return CLI_INVALID;
    if (o.json)
        cli_print_json(reply);
    else
        say_promotion(reply);
    cJSON_Delete(reply);
    return CLI_OK;
}
