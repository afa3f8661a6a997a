/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `weir token`: create, list and revoke API tokens (admin token needed).
 * The secret of a new token is printed once, on stdout, and nowhere else.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"

static const char usage_text[] =
    "usage: weir token create --role ROLE --name NAME [--expires D]\n"
    "                         [--queues Q,...] [--json]\n"
    "       weir token list [--json]\n"
    "       weir token revoke NAME\n\n"
    "Manages API tokens (needs an admin token).\n\n"
    "  create   make a token and print its secret on stdout, once: it is\n"
    "           stored only as a hash and cannot be shown again\n"
    "  list     names, roles, creation, last use, expiry and state; never\n"
    "           a secret\n"
    "  revoke   refuse the token named NAME from now on, including on a\n"
    "           worker's open long-poll\n\n"
    "  --role ROLE     admin, worker or read\n"
    "  --name NAME     unique among live tokens; used to revoke it\n"
    "  --expires D     lifetime, a duration such as 90d or 12h (default:\n"
    "                  never)\n"
    "  --queues Q,...  a worker token may register only for these queues\n"
    "  --json          print the server's JSON answer\n"
    "  --server URL    the server, with $WEIR_TOKEN (default: .weir/ of\n"
    "                  this folder, both the URL and the token)\n";

struct token_opts {
    const char *role;    /* --role */
    const char *name;    /* --name */
    const char *expires; /* --expires */
    const char *queues;  /* --queues, comma-separated */
    const char *server;  /* --server */
    bool json;           /* --json */
};

static int parse_opts(int argc, char **argv, struct token_opts *o)
{
    static const struct option opts[] = {
        {"role", required_argument, NULL, 'r'},
        {"name", required_argument, NULL, 'n'},
        {"expires", required_argument, NULL, 'e'},
        {"queues", required_argument, NULL, 'q'},
        {"server", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;

    optind = 1;
    while ((opt = cli_getopt(argc, argv, "r:n:e:q:s:jh", opts)) != -1) {
        switch (opt) {
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        case 'r':
            o->role = optarg;
            break;
        case 'n':
            o->name = optarg;
            break;
        case 'e':
            o->expires = optarg;
            break;
        case 'q':
            o->queues = optarg;
            break;
        case 's':
            o->server = client_server_flag(o->server, optarg);
            break;
        case 'j':
            o->json = true;
            break;
        default:
            return cli_usage_error("token", "%s", cli_opt_error());
        }
    }
    return 0;
}

/* "a,b" into a JSON array of strings in body under "queues". */
static int add_queues(cJSON *body, const char *list)
{
    cJSON *arr = cJSON_AddArrayToObject(body, "queues");
    const char *p = list;

    while (arr != NULL) {
        size_t n = strcspn(p, ",");
        char q[128];

        if (n == 0 || n >= sizeof(q))
            return cli_usage_error("token",
                                   "--queues must be queue names separated "
                                   "by commas, got \"%s\"",
                                   list);
        memcpy(q, p, n);
        q[n] = '\0';
        cJSON_AddItemToArray(arr, cJSON_CreateString(q));
        if (p[n] == '\0')
            return 0;
        p += n + 1;
    }
    return CLI_INVALID;
}

static int token_create(const struct token_opts *o)
{
    struct client c;
    cJSON *body, *reply;
    int rc = CLI_INVALID;

    if (o->role == NULL || o->name == NULL)
        return cli_usage_error("token", "create needs --role and --name");
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "role", o->role);
    cJSON_AddStringToObject(body, "name", o->name);
    if (o->expires != NULL)
        cJSON_AddStringToObject(body, "expires", o->expires);
    if (o->queues != NULL && (rc = add_queues(body, o->queues)) != 0) {
        cJSON_Delete(body);
        return rc;
    }
    client_init(&c, o->server);
    reply = client_call_or_say(&c, "token", "POST", "/api/v1/tokens", body);
    cJSON_Delete(body);
    if (reply == NULL)
        return CLI_INVALID;
    if (o->json)
        cli_print_json(reply);
    else
        printf("%s\n", cli_str(reply, "token"));
    cJSON_Delete(reply);
    return CLI_OK;
}

static void print_list(const cJSON *reply)
{
    const cJSON *t;

    printf("%-24s %-7s %-8s %-20s %-20s %-20s %s\n", "NAME", "ROLE", "STATE",
           "CREATED", "LAST USED", "EXPIRES", "QUEUES");
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(reply, "tokens"))
    {
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(t, "queues");
        char *qs = cJSON_IsArray(q) ? cJSON_PrintUnformatted(q) : NULL;
        const char *name = cli_str(t, "name");

        printf("%-24s %-7s %-8s %-20.19s %-20.19s %-20.19s %s\n",
               name[0] ? name : "(unnamed)", cli_str(t, "role"),
               cli_str(t, "state"), cli_str(t, "created_at"),
               cli_str(t, "last_used_at"), cli_str(t, "expires_at"),
               qs ? qs : "any");
        cJSON_free(qs);
    }
}

static int token_list(const struct token_opts *o)
{
    struct client c;
    cJSON *reply;

    client_init(&c, o->server);
    reply = client_call_or_say(&c, "token", "GET", "/api/v1/tokens", NULL);
    if (reply == NULL)
        return CLI_INVALID;
    if (o->json)
        cli_print_json(reply);
    else
        print_list(reply);
    cJSON_Delete(reply);
    return CLI_OK;
}

static int token_revoke(const struct token_opts *o, const char *name)
{
    char path[1024], esc[800];
    struct client c;
    cJSON *reply;

    client_escape(name, esc, sizeof(esc));
    snprintf(path, sizeof(path), "/api/v1/tokens/%s", esc);
    client_init(&c, o->server);
    reply = client_call_or_say(&c, "token", "DELETE", path, NULL);
    if (reply == NULL)
        return CLI_INVALID;
    if (o->json)
        cli_print_json(reply);
    else
        printf("revoked %s\n", name);
    cJSON_Delete(reply);
    return CLI_OK;
}

int cmd_token(int argc, char **argv)
{
    struct token_opts o = {0};
    const char *sub;
    int rc;

    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    sub = argv[1];
    rc = parse_opts(argc - 1, argv + 1, &o);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if (strcmp(sub, "create") == 0 || strcmp(sub, "list") == 0) {
        if (optind != argc - 1)
            return cli_usage_error("token", "unexpected argument \"%s\"",
                                   argv[optind + 1]);
        return sub[0] == 'c' ? token_create(&o) : token_list(&o);
    }
    if (strcmp(sub, "revoke") == 0) {
        if (optind != argc - 2)
            return cli_usage_error("token", "revoke takes one token name");
        return token_revoke(&o, argv[optind + 1]);
    }
    return cli_usage_error(
        "token", "unknown subcommand \"%s\" (create, list, revoke)", sub);
}
