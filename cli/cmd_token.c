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
    "usage: weir token create (--role ROLE | --grant GRANT...) --name NAME\n"
    "                         [--expires D] [--queues Q,...] [--json]\n"
    "       weir token list [--json]\n"
    "       weir token revoke NAME\n\n"
    "Manages API tokens (needs an admin token).\n\n"
    "  create   make a token and print its secret on stdout, once: it is\n"
    "           stored only as a hash and cannot be shown again\n"
    "  list     names, roles, state, creation, last use, expiry and\n"
    "           grants; never a secret\n"
    "  revoke   refuse the token named NAME from now on, including on a\n"
    "           worker's open long-poll\n\n"
    "  --role ROLE     a grant of ROLE everywhere: admin, operator, author,\n"
    "                  read, ingest or worker\n"
    "  --grant GRANT   a grant, repeatable: "
    "ROLE[:env=E,...][:dag=PATTERN,...]\n"
    "                  such as operator:env=dev,staging:dag=team-a-*\n"
    "                  (docs/security.md, \"Access model\")\n"
    "  --name NAME     unique among live tokens; used to revoke it\n"
    "  --expires D     lifetime, a duration such as 90d or 12h (default:\n"
    "                  never)\n"
    "  --queues Q,...  the worker grant serves only these queues\n"
    "  --json          print the server's JSON answer\n"
    "  --server URL    the server, with $WEIR_TOKEN (default: .weir/ of\n"
    "                  this folder, both the URL and the token)\n";

#define TOKEN_GRANTS_MAX 16 /* --grant options */

struct token_opts {
    const char *role;                     /* --role */
    const char *grants[TOKEN_GRANTS_MAX]; /* --grant, in order */
    size_t n_grants;                      /* entries of grants */
    const char *name;                     /* --name */
    const char *expires;                  /* --expires */
    const char *queues;                   /* --queues, comma-separated */
    const char *server;                   /* --server */
    bool json;                            /* --json */
};

static int parse_opts(int argc, char **argv, struct token_opts *o)
{
    static const struct option opts[] = {
        {"role", required_argument, NULL, 'r'},
        {"grant", required_argument, NULL, 'g'},
        {"name", required_argument, NULL, 'n'},
        {"expires", required_argument, NULL, 'e'},
        {"queues", required_argument, NULL, 'q'},
        {"server", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;

    optind = 1;
    while ((opt = cli_getopt(argc, argv, "r:g:n:e:q:s:jh", opts)) != -1) {
        switch (opt) {
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        case 'r':
            o->role = optarg;
            break;
        case 'g':
            if (o->n_grants == TOKEN_GRANTS_MAX)
                return cli_usage_error("token", "at most %d --grant",
                                       TOKEN_GRANTS_MAX);
            o->grants[o->n_grants++] = optarg;
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

    if ((o->role == NULL && o->n_grants == 0) || o->name == NULL)
        return cli_usage_error("token",
                               "create needs --role and --name (--grant may "
                               "stand for --role)");
    body = cJSON_CreateObject();
    if (o->role != NULL)
        cJSON_AddStringToObject(body, "role", o->role);
    if (o->n_grants > 0) {
        cJSON *g = cJSON_AddArrayToObject(body, "grants");

        for (size_t i = 0; i < o->n_grants; i++)
            cJSON_AddItemToArray(g, cJSON_CreateString(o->grants[i]));
    }
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

/* One scope of a grant object as ":key=a,b" appended to buf. */
static void scope_text(const cJSON *g, const char *key, char *buf, size_t len)
{
    const cJSON *v, *list = cJSON_GetObjectItemCaseSensitive(g, key);
    const char *sep = ":";
    size_t n;

    cJSON_ArrayForEach(v, list)
    {
        n = strlen(buf);
        snprintf(buf + n, len - n, "%s%s%s", sep, sep[0] == ':' ? key : "",
                 sep[0] == ':' ? "=" : "");
        n = strlen(buf);
        snprintf(buf + n, len - n, "%s",
                 cJSON_IsString(v) ? v->valuestring : "");
        sep = ",";
    }
}

/* A token's grants as texts separated by spaces ("-" for none). */
static void grants_text(const cJSON *t, char *buf, size_t len)
{
    const cJSON *g;

    buf[0] = '\0';
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(t, "grants"))
    {
        size_t n = strlen(buf);

        snprintf(buf + n, len - n, "%s%s", n ? " " : "", cli_str(g, "role"));
        scope_text(g, "env", buf, len);
        scope_text(g, "dag", buf, len);
        scope_text(g, "queues", buf, len);
    }
    if (buf[0] == '\0')
        snprintf(buf, len, "-");
}

static void print_list(const cJSON *reply)
{
    const cJSON *t;
    char grants[2048];

    printf("%-24s %-8s %-8s %-20s %-20s %-20s %s\n", "NAME", "ROLE", "STATE",
           "CREATED", "LAST USED", "EXPIRES", "GRANTS");
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(reply, "tokens"))
    {
        const char *name = cli_str(t, "name");

        grants_text(t, grants, sizeof(grants));
        printf("%-24s %-8s %-8s %-20.19s %-20.19s %-20.19s %s\n",
               name[0] ? name : "(unnamed)", cli_str(t, "role"),
               cli_str(t, "state"), cli_str(t, "created_at"),
               cli_str(t, "last_used_at"), cli_str(t, "expires_at"), grants);
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
