/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `weir pool`: set, list and delete pools, the named sets of slots that
 * steps of every DAG share (`pool:` in docs/dag-format.md).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "suggest.h"

static const char usage_text[] =
    "usage: weir pool set NAME SLOTS [--json]\n"
    "       weir pool list [--json]\n"
    "       weir pool delete NAME [--force] [--json]\n\n"
    "Manages pools: named sets of slots shared by the steps of every DAG\n"
    "that say `pool: NAME` (setting and deleting need an admin token).\n\n"
    "  set      create the pool with SLOTS slots, or give it that many now\n"
    "           (0 lets nothing new start); more slots start waiting tasks\n"
    "           at once\n"
    "  list     each pool's slots, slots in use, and tasks waiting\n"
    "  delete   delete the pool; refused while a loaded DAG names it,\n"
    "           unless --force (its waiting tasks then wait until a pool\n"
    "           of that name is set again)\n\n"
    "  --force         delete a pool that DAGs still name\n"
    "  --json          print the server's JSON answer\n"
    "  --server URL    the server, with $WEIR_TOKEN (default: .weir/ of\n"
    "                  this folder, both the URL and the token)\n";

struct pool_opts {
    const char *server; /* --server */
    bool json;          /* --json */
    bool force;         /* --force */
};

static int parse_opts(int argc, char **argv, struct pool_opts *o)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;

    optind = 1;
    while ((opt = cli_getopt(argc, argv, "s:jfh", opts)) != -1) {
        switch (opt) {
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        case 's':
            o->server = client_server_flag(o->server, optarg);
            break;
        case 'j':
            o->json = true;
            break;
        case 'f':
            o->force = true;
            break;
        default:
            return cli_usage_error("pool", "%s", cli_opt_error());
        }
    }
    return 0;
}

/* /api/v1/pools/NAME (escaped) into path. */
static void pool_path(const char *name, const char *query, char *path,
                      size_t len)
{
    char esc[800];

    client_escape(name, esc, sizeof(esc));
    snprintf(path, len, "/api/v1/pools/%s%s", esc, query);
}

static int pool_set(const struct pool_opts *o, const char *name,
                    const char *slots)
{
    char path[1024], *end = NULL;
    struct client c;
    cJSON *body, *reply;
    long n;

    errno = 0;
    n = strtol(slots, &end, 10);
    if (errno != 0 || end == slots || *end != '\0' || n < 0 || n > 1000000)
        return cli_usage_error("pool",
                               "SLOTS must be a whole number from 0 to "
                               "1000000, got \"%s\"",
                               slots);
    body = cJSON_CreateObject();
    cJSON_AddNumberToObject(body, "slots", (double)n);
    pool_path(name, "", path, sizeof(path));
    client_init(&c, o->server);
    reply = client_call_or_say(&c, "pool", "PUT", path, body);
    cJSON_Delete(body);
    if (reply == NULL)
        return CLI_INVALID;
    if (o->json)
        cli_print_json(reply);
    else
        printf("pool %s: %ld slots (%s)\n", name, n,
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "created"))
                   ? "created"
                   : "updated");
    cJSON_Delete(reply);
    return CLI_OK;
}

static int pool_list(const struct pool_opts *o)
{
    struct client c;
    cJSON *reply;
    const cJSON *p;

    client_init(&c, o->server);
    reply = client_call_or_say(&c, "pool", "GET", "/api/v1/pools", NULL);
    if (reply == NULL)
        return CLI_INVALID;
    if (o->json) {
        cli_print_json(reply);
        cJSON_Delete(reply);
        return CLI_OK;
    }
    printf("%-24s %8s %8s %8s\n", "NAME", "SLOTS", "USED", "WAITING");
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(reply, "pools"))
    {
        printf("%-24s %8.0f %8.0f %8.0f\n", cli_str(p, "name"),
               client_json_num(p, "slots"), client_json_num(p, "used"),
               client_json_num(p, "waiting"));
    }
    cJSON_Delete(reply);
    return CLI_OK;
}

static int pool_delete(const struct pool_opts *o, const char *name)
{
    char path[1024];
    struct client c;
    cJSON *reply;

    pool_path(name, o->force ? "?force=true" : "", path, sizeof(path));
    client_init(&c, o->server);
    reply = client_call_or_say(&c, "pool", "DELETE", path, NULL);
    if (reply == NULL)
        return CLI_INVALID;
    if (o->json)
        cli_print_json(reply);
    else
        printf("deleted pool %s\n", name);
    cJSON_Delete(reply);
    return CLI_OK;
}

int cmd_pool(int argc, char **argv)
{
    static const char *const subs[] = {"set", "list", "delete"};
    struct pool_opts o = {0};
    const char *sub, *best;
    int rc, args;

    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    sub = argv[1];
    rc = parse_opts(argc - 1, argv + 1, &o);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    args = argc - 1 - optind; /* operands after the subcommand */
    if (strcmp(sub, "set") == 0) {
        if (args != 2)
            return cli_usage_error("pool", "set takes NAME and SLOTS");
        return pool_set(&o, argv[optind + 1], argv[optind + 2]);
    }
    if (strcmp(sub, "list") == 0) {
        if (args != 0)
            return cli_usage_error("pool", "unexpected argument \"%s\"",
                                   argv[optind + 1]);
        return pool_list(&o);
    }
    if (strcmp(sub, "delete") == 0) {
        if (args != 1)
            return cli_usage_error("pool", "delete takes one pool name");
        return pool_delete(&o, argv[optind + 1]);
    }
    best = suggest_word(sub, subs, 3);
    if (best != NULL)
        return cli_usage_error("pool",
                               "unknown subcommand \"%s\" (did you mean "
                               "\"%s\"?)",
                               sub, best);
    return cli_usage_error(
        "pool", "unknown subcommand \"%s\" (set, list, delete)", sub);
}
