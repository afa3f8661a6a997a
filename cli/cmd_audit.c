/* SPDX-License-Identifier: Apache-2.0 */
/* `weir audit`: the audit log, newest first, with its filters. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

static const char usage_text[] =
    "usage: weir audit [--actor NAME] [--action ACTION] [--dag DAG]\n"
    "                  [--since TIME] [--until TIME] [--limit N]\n"
    "                  [--cursor C] [--json]\n\n"
    "Lists the audit log, newest first: who did what to which target, with\n"
    "the outcome (ok, refused, failed). Needs an admin token.\n\n"
    "  --actor NAME     records of this token or user only\n"
    "  --action ACTION  records of this action only (run.cancel, dag.submit,\n"
    "                   token.create, ...)\n"
    "  --dag DAG        records about this DAG only\n"
    "  --since TIME     at or after TIME (2026-01-31 or 2026-01-31T12:00Z)\n"
    "  --until TIME     before TIME\n"
    "  --limit N        records on a page (1 to 500, default 50)\n"
    "  --cursor C       the page after the one that printed this cursor\n"
    "  --json           print the server's JSON answer\n"
    "  --server URL     the server, with $WEIR_TOKEN (default: .weir/ of\n"
    "                   this folder, both the URL and the token)\n";

#define AUDIT_FILTERS 7 /* actor, action, dag, since, until, limit, cursor */

static const char *const filter_names[AUDIT_FILTERS] = {
    "actor", "action", "dag", "since", "until", "limit", "cursor"};

/* The query string of the filters given (each escaped) into q. */
static void audit_query(const char *const vals[AUDIT_FILTERS], char *q,
                        size_t len)
{
    size_t n = 0;

    q[0] = '\0';
    for (int i = 0; i < AUDIT_FILTERS && n < len; i++) {
        char esc[600];

        if (vals[i] == NULL)
            continue;
        client_escape(vals[i], esc, sizeof(esc));
        n += (size_t)snprintf(q + n, len - n, "%c%s=%s", n ? '&' : '?',
                              filter_names[i], esc);
    }
}

static void audit_print(const cJSON *reply)
{
    const cJSON *r, *next;

    printf("%-8s %-24s %-16s %-18s %-28s %s\n", "ID", "AT", "ACTOR", "ACTION",
           "TARGET", "OUTCOME");
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(reply, "records"))
    {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");
        const char *actor = cli_str(r, "actor");

        printf("%-8.0f %-24s %-16s %-18s %-28s %s", client_json_num(r, "id"),
               cli_str(r, "at"), actor[0] ? actor : "(unknown)",
               cli_str(r, "action"), cli_str(r, "target"),
               cli_str(r, "outcome"));
        if (cJSON_IsNumber(st))
            printf(" %d %s", st->valueint, cli_str(r, "message"));
        putchar('\n');
    }
    next = cJSON_GetObjectItemCaseSensitive(reply, "next_cursor");
    if (cJSON_IsString(next))
        printf("more: weir audit ... --cursor %s\n", next->valuestring);
}

int cmd_audit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"actor", required_argument, NULL, 'a'},
        {"action", required_argument, NULL, 'A'},
        {"dag", required_argument, NULL, 'd'},
        {"since", required_argument, NULL, 'S'},
        {"until", required_argument, NULL, 'U'},
        {"limit", required_argument, NULL, 'l'},
        {"cursor", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"server", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *vals[AUDIT_FILTERS] = {0};
    const char *server = NULL;
    bool json = false;
    char path[4096];
    struct client c;
    cJSON *reply;
    int opt;

    optind = 1;
    while ((opt = cli_getopt(argc, argv, "a:A:d:S:U:l:c:js:h", opts)) != -1) {
        const char *keys = "aAdSUlc", *k = strchr(keys, opt);

        if (opt != 0 && k != NULL) {
            vals[k - keys] = optarg;
            continue;
        }
        switch (opt) {
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        case 'j':
            json = true;
            break;
        case 's':
            server = client_server_flag(server, optarg);
            break;
        default:
            return cli_usage_error("audit", "%s", cli_opt_error());
        }
    }
    if (optind < argc)
        return cli_usage_error("audit", "unexpected argument \"%s\"",
                               argv[optind]);
    if (vals[5] == NULL)
        vals[5] = "50";
    snprintf(path, sizeof(path), "/api/v1/audit");
    audit_query(vals, path + strlen(path), sizeof(path) - strlen(path));
    client_init(&c, server);
    reply = client_call_or_say(&c, "audit", "GET", path, NULL);
    if (reply == NULL)
        return CLI_INVALID;
    if (json)
        cli_print_json(reply);
    else
        audit_print(reply);
    cJSON_Delete(reply);
    return CLI_OK;
}
