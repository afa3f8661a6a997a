/* SPDX-License-Identifier: Apache-2.0 */
/* `weir dags`: every DAG the server knows, with its state and next run. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"

static const char usage_text[] =
    "usage: weir dags [--json] [--server URL]\n\n"
    "Lists the DAGs the server knows: id, state (active, paused, broken\n"
    "with the error of its file, or missing: its file is gone, it starts\n"
    "nothing until the file is back or it is deleted), the next cron fire\n"
    "time, and the file.\n\n"
    "  --json         print the server's JSON answer\n"
    "  --server URL   the server, with the token in $WEIR_TOKEN (default:\n"
    "                 $WEIR_SERVER with $WEIR_TOKEN, or .weir/server.url\n"
    "                 with .weir/admin.token; never one of each)\n";

static const char *str_or(const cJSON *o, const char *key, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : dflt;
}

static void print_table(const cJSON *reply)
{
    const cJSON *dags = cJSON_GetObjectItemCaseSensitive(reply, "dags");
    const cJSON *d;

    printf("%-24s %-8s %-26s %s\n", "DAG", "STATE", "NEXT", "FILE");
    cJSON_ArrayForEach(d, dags)
    {
        const char *err = str_or(d, "last_error", NULL);
        const cJSON *paused = cJSON_GetObjectItemCaseSensitive(d, "paused");
        const cJSON *missing =
            cJSON_GetObjectItemCaseSensitive(d, "file_missing");
        const char *state = cJSON_IsTrue(missing)  ? "missing"
                            : err                  ? "broken"
                            : cJSON_IsTrue(paused) ? "paused"
                                                   : "active";

        printf("%-24s %-8s %-26s %s\n", str_or(d, "id", "?"), state,
               str_or(d, "next_fire_at", "-"), str_or(d, "path", "(api)"));
        if (err)
            printf("    %s\n", err);
    }
    if (cJSON_GetArraySize(dags) == 0)
        printf("(no DAGs: put a DAG file in the server's dags folder)\n");
}

int cmd_dags(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"server", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *server = NULL;
    bool json = false;
    struct client c;
    cJSON *reply;
    int opt;

    optind = 1;
    while ((opt = cli_getopt(argc, argv, "js:h", opts)) != -1) {
        if (opt == 'h') {
            fputs(usage_text, stdout);
            return CLI_OK;
        }
        if (opt == 'j')
            json = true;
        else if (opt == 's')
            server = client_server_flag(server, optarg);
        else
            return cli_usage_error("dags", "%s", cli_opt_error());
    }
    if (optind != argc)
        return cli_usage_error("dags", "unexpected argument \"%s\"",
                               argv[optind]);
    client_init(&c, server);
    reply = client_call_or_say(&c, "dags", "GET", "/api/v1/dags", NULL);
    if (reply == NULL)
        return CLI_INVALID;
    if (json) {
        char *text = cJSON_Print(reply);

        puts(text ? text : "null");
        cJSON_free(text);
    } else {
        print_table(reply);
    }
    cJSON_Delete(reply);
    return CLI_OK;
}
