/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `weir lineage RUN_ID`: what a run read and wrote. The run's DAG version,
 * environment, params and trigger, then per task its attempt, the steps it
 * read from, its outputs (data.*, artifact.*, metric.* and the rest), and
 * whether a retry reused it; last the artifact versions the run recorded.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"

static const char lineage_usage[] =
    "usage: weir lineage RUN_ID [--json]\n\n"
    "Shows the lineage of a run: DAG version (hash), environment, params,\n"
    "trigger, and for each task the steps it read, its outputs (data\n"
    "versions, artifacts, metrics) and whether a retry reused it.\n";

static void print_outputs(const cJSON *outputs)
{
    const cJSON *kv;

    cJSON_ArrayForEach(kv, outputs)
    {
        char *text = cJSON_IsString(kv) ? NULL : cJSON_PrintUnformatted(kv);

        printf("      %s=%s\n", kv->string,
               cJSON_IsString(kv) ? kv->valuestring
               : text             ? text
                                  : "");
        cJSON_free(text);
    }
}

/* One entry of inputs_from: " STEP[#CELL] (attempt N, data V, reused)". */
static void print_input(const char *step, const cJSON *v)
{
    const cJSON *cell = cJSON_GetObjectItemCaseSensitive(v, "cell");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(v, "attempt_id");
    const cJSON *dv = cJSON_GetObjectItemCaseSensitive(v, "data_version");

    printf(" %s", step);
    if (cJSON_IsNumber(cell))
        printf("#%.0f", cell->valuedouble);
    if (cJSON_IsNumber(a))
        printf(" (attempt %.0f", a->valuedouble);
    else
        printf(" (no attempt");
    if (cJSON_IsString(dv))
        printf(", data %s", dv->valuestring);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "reused")))
        printf(", reused");
    printf(")");
}

/* The steps a task read: from its attempt's inputs_from when recorded,
 * else the names of its needs. */
static void print_reads(const cJSON *s)
{
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(s, "inputs_from");
    const cJSON *n, *c;

    if (cJSON_GetArraySize(from) > 0) {
        printf("    read from:");
        cJSON_ArrayForEach(n, from)
        {
            if (cJSON_IsArray(n)) {
                cJSON_ArrayForEach(c, n)
                {
                    print_input(n->string, c);
                }
            } else {
                print_input(n->string, n);
            }
        }
        printf("\n");
    } else if (cJSON_GetArraySize(
                   cJSON_GetObjectItemCaseSensitive(s, "needs")) > 0) {
        printf("    reads:");
        cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(s, "needs"))
        {
            printf(" %s", cJSON_IsString(n) ? n->valuestring : "?");
        }
        printf("\n");
    }
}

static void print_step(const cJSON *s)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(s, "matrix");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(s, "attempt_id");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(s, "reused_from");
    char *mt = cJSON_IsObject(m) ? cJSON_PrintUnformatted(m) : NULL;

    printf("  %s%s%s  %s", cli_str(s, "step"), mt ? " " : "", mt ? mt : "",
           cli_str(s, "state"));
    cJSON_free(mt);
    if (cJSON_IsNumber(a))
        printf("  attempt %.0f", a->valuedouble);
    if (cJSON_IsNumber(r))
        printf("  reused (kept from before the retry)");
    printf("\n");
    print_reads(s);
    print_outputs(cJSON_GetObjectItemCaseSensitive(s, "outputs"));
}

static void print_lineage(const cJSON *l)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(l, "dag_version");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(l, "trigger");
    char *params =
        cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(l, "params"));
    const cJSON *s;

    printf("run %.0f  %s  %s  environment %s\n",
           cJSON_GetObjectItemCaseSensitive(l, "run_id")->valuedouble,
           cli_str(l, "dag"), cli_str(l, "state"), cli_str(l, "environment"));
    printf("code: DAG version %.0f, sha256 %s, %s %s\n",
           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(v, "id")),
           cli_str(v, "hash"), cli_str(v, "origin"), cli_str(v, "path"));
    printf("params: %s\n", params ? params : "{}");
    cJSON_free(params);
    /* a manual run's key is its kind: "trigger: manual", not twice */
    if (strcmp(cli_str(t, "kind"), cli_str(t, "key")) == 0)
        printf("trigger: %s, reason %s\n", cli_str(t, "kind"),
               cli_str(l, "reason"));
    else
        printf("trigger: %s %s, reason %s\n", cli_str(t, "kind"),
               cli_str(t, "key"), cli_str(l, "reason"));
    printf("steps:\n");
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(l, "steps"))
    {
        print_step(s);
    }
    printf("artifacts:");
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(l, "artifacts"))
    {
        printf(" %s %s (%s)", cli_str(s, "name"), cli_str(s, "version"),
               cli_str(s, "stage"));
    }
    printf("\n");
}

int cmd_lineage(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"server", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *server = NULL;
    char path[256], esc[128];
    bool json = false;
    struct client cl;
    cJSON *reply;
    int c;

    optind = 1;
    while ((c = cli_getopt(argc, argv, "jS:h", lopts)) != -1) {
        if (c == 'h') {
            fputs(lineage_usage, stdout);
            return CLI_OK;
        } else if (c == 'j') {
            json = true;
        } else if (c == 'S') {
            server = client_server_flag(server, optarg);
        } else {
            return cli_usage_error("lineage", "%s", cli_opt_error());
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("lineage", "name exactly one run id");
    client_escape(argv[optind], esc, sizeof(esc));
    snprintf(path, sizeof(path), "/api/v1/runs/%s/lineage", esc);
    client_init(&cl, server);
    reply = client_call_or_say(&cl, "lineage", "GET", path, NULL);
    if (reply == NULL)
        return CLI_INVALID;
    if (json)
        cli_print_json(reply);
    else
        print_lineage(reply);
    cJSON_Delete(reply);
    return CLI_OK;
}
