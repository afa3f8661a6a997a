/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `weir secret`: set, list and delete secrets, and re-seal them under
 * the server's first key (docs/security.md, "Secrets"). A value is read
 * from standard input only, never from the command line, where other
 * users and the shell's history would see it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "suggest.h"

#define VALUE_MAX 65536 /* bytes of a value, as the server's limit */

static const char usage_text[] =
    "usage: weir secret set NAME [--env ENV] [--dag PATTERN]... < value\n"
    "       weir secret list [--json]\n"
    "       weir secret delete NAME [--env ENV]\n"
    "       weir secret rotate-key\n\n"
    "Manages secrets, which steps ask for with `secrets: [NAME]` or\n"
    "env: {VAR: ${{ secrets.NAME }}} (admin token; the server needs\n"
    "--secrets-key-file).\n\n"
    "  set         read the value from standard input (one trailing\n"
    "              newline is dropped; on a terminal it is not echoed) and\n"
    "              store it sealed, as a new version\n"
    "  list        names, environments, versions, who set them and when:\n"
    "              never values\n"
    "  delete      delete the secret of ENV (without --env: the one for\n"
    "              every environment)\n"
    "  rotate-key  re-seal every value under the server's first key, so\n"
    "              that older keys can be dropped from its key ring\n\n"
    "  --env ENV       the environment the value is for (default: every\n"
    "                  environment; a value for ENV wins over it)\n"
    "  --dag PATTERN   (set, repeatable) only DAGs whose id matches may\n"
    "                  name the secret (\"*\" any run, \"?\" one);\n"
    "                  without --dag: any DAG. Replaces earlier patterns\n"
    "  --json          print the server's JSON answer\n"
    "  --server URL    the server, with $WEIR_TOKEN (default: .weir/ of\n"
    "                  this folder, both the URL and the token)\n";

struct secret_opts {
    const char *server;   /* --server */
    const char *env;      /* --env, or NULL */
    bool json;            /* --json */
    const char *dags[16]; /* --dag, in order */
    size_t n_dags;        /* entries in dags */
};

static int parse_opts(int argc, char **argv, struct secret_opts *o)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},
        {"env", required_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'j'},
        {"dag", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;

    optind = 1;
    while ((opt = cli_getopt(argc, argv, "s:e:jd:h", opts)) != -1) {
        switch (opt) {
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        case 's':
            o->server = client_server_flag(o->server, optarg);
            break;
        case 'e':
            o->env = optarg;
            break;
        case 'j':
            o->json = true;
            break;
        case 'd':
            if (o->n_dags == WEIR_ARRAY_LEN(o->dags))
                return cli_usage_error("secret", "at most %zu --dag patterns",
                                       WEIR_ARRAY_LEN(o->dags));
            o->dags[o->n_dags++] = optarg;
            break;
        default:
            return cli_usage_error("secret", "%s", cli_opt_error());
        }
    }
    return 0;
}

/* /api/v1/secrets/NAME[?env=ENV] (escaped) into path. */
static void secret_path(const char *name, const char *env, char *path,
                        size_t len)
{
    char esc[800], eesc[400];

    client_escape(name, esc, sizeof(esc));
    if (env != NULL) {
        client_escape(env, eesc, sizeof(eesc));
        snprintf(path, len, "/api/v1/secrets/%s?env=%s", esc, eesc);
    } else {
        snprintf(path, len, "/api/v1/secrets/%s", esc);
    }
}

/* Read the value from stdin into buf (no echo on a terminal); its length,
 * or -1 with a message printed. */
static long read_value(char *buf, size_t cap)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    size_t n = 0;

    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        fputs("value (not echoed), then Enter: ", stderr);
        if (fgets(buf, (int)cap, stdin) != NULL)
            n = strlen(buf);
        (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    } else {
        n = fread(buf, 1, cap, stdin);
    }
    if (n == cap) {
        fprintf(stderr, "weir secret: the value is over %d bytes\n", VALUE_MAX);
        return -1;
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (n == 0 || memchr(buf, '\0', n) != NULL) {
        fprintf(stderr, "weir secret: %s\n",
                n == 0 ? "no value on standard input (pipe it in: weir "
                         "secret set NAME < file)"
                       : "the value holds a NUL byte");
        return -1;
    }
    return (long)n;
}

static int secret_set(const struct secret_opts *o, const char *name)
{
    char path[1400];
    char *buf = malloc(VALUE_MAX + 2);
    struct client c;
    cJSON *body, *reply;
    long n = buf != NULL ? read_value(buf, VALUE_MAX + 1) : -1;

    if (n < 0) {
        free(buf);
        return CLI_INVALID;
    }
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "value", buf);
    if (o->n_dags > 0) {
        cJSON *d = cJSON_AddArrayToObject(body, "dags");

        for (size_t i = 0; d != NULL && i < o->n_dags; i++)
            cJSON_AddItemToArray(d, cJSON_CreateString(o->dags[i]));
    }
    explicit_bzero(buf, VALUE_MAX + 2);
    free(buf);
    secret_path(name, o->env, path, sizeof(path));
    client_init(&c, o->server);
    reply = client_call_or_say(&c, "secret", "PUT", path, body);
    if (body != NULL && body->child != NULL && body->child->valuestring != NULL)
        explicit_bzero(body->child->valuestring,
                       strlen(body->child->valuestring));
    cJSON_Delete(body);
    if (reply == NULL)
        return CLI_INVALID;
    if (o->json)
        cli_print_json(reply);
    else
        printf("secret %s%s%s: version %.0f\n", name,
               o->env ? " of environment " : "", o->env ? o->env : "",
               client_json_num(reply, "version"));
    cJSON_Delete(reply);
    return CLI_OK;
}

static int secret_list(const struct secret_opts *o)
{
    struct client c;
    cJSON *reply;
    const cJSON *s;

    client_init(&c, o->server);
    reply = client_call_or_say(&c, "secret", "GET", "/api/v1/secrets", NULL);
    if (reply == NULL)
        return CLI_INVALID;
    if (o->json) {
        cli_print_json(reply);
        cJSON_Delete(reply);
        return CLI_OK;
    }
    printf("%-28s %-12s %7s %-20s %-24s %s\n", "NAME", "ENVIRONMENT", "VERSION",
           "SET BY", "SET AT", "DAGS");
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(reply, "secrets"))
    {
        const char *env = cli_str(s, "environment");
        const cJSON *d;
        char dags[400] = "*";
        size_t at = 0;

        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(s, "dags"))
        {
            if (cJSON_IsString(d) && at < sizeof(dags))
                at += (size_t)snprintf(dags + at, sizeof(dags) - at, "%s%s",
                                       at > 0 ? "," : "", d->valuestring);
        }
        printf("%-28s %-12s %7.0f %-20s %-24s %s\n", cli_str(s, "name"),
               env[0] ? env : "*", client_json_num(s, "version"),
               cli_str(s, "created_by"), cli_str(s, "created_at"), dags);
    }
    cJSON_Delete(reply);
    return CLI_OK;
}

static int secret_delete(const struct secret_opts *o, const char *name)
{
    char path[1400];
    struct client c;
    cJSON *reply;

    secret_path(name, o->env, path, sizeof(path));
    client_init(&c, o->server);
    reply = client_call_or_say(&c, "secret", "DELETE", path, NULL);
    if (reply == NULL)
        return CLI_INVALID;
    if (o->json)
        cli_print_json(reply);
    else
        printf("deleted secret %s%s%s\n", name,
               o->env ? " of environment " : "", o->env ? o->env : "");
    cJSON_Delete(reply);
    return CLI_OK;
}

static int secret_rotate(const struct secret_opts *o)
{
    struct client c;
    cJSON *reply;

    client_init(&c, o->server);
    reply = client_call_or_say(&c, "secret", "POST",
                               "/api/v1/secrets/rotate-key", NULL);
    if (reply == NULL)
        return CLI_INVALID;
    if (o->json)
        cli_print_json(reply);
    else
        printf("re-sealed %.0f secret values under key %s\n",
               client_json_num(reply, "resealed"), cli_str(reply, "key_id"));
    cJSON_Delete(reply);
    return CLI_OK;
}

int cmd_secret(int argc, char **argv)
{
    static const char *const subs[] = {"set", "list", "delete", "rotate-key"};
    struct secret_opts o = {0};
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
    if (o.n_dags > 0 && strcmp(sub, "set") != 0)
        return cli_usage_error("secret", "--dag goes with set only");
    if (strcmp(sub, "set") == 0) {
        if (args != 1)
            return cli_usage_error("secret",
                                   "set takes one NAME; the value comes from "
                                   "standard input, never the command line");
        return secret_set(&o, argv[optind + 1]);
    }
    if (strcmp(sub, "delete") == 0) {
        if (args != 1)
            return cli_usage_error("secret", "delete takes one secret name");
        return secret_delete(&o, argv[optind + 1]);
    }
    if (strcmp(sub, "list") == 0 || strcmp(sub, "rotate-key") == 0) {
        if (args != 0)
            return cli_usage_error("secret", "unexpected argument \"%s\"",
                                   argv[optind + 1]);
        if (o.env != NULL)
            return cli_usage_error("secret", "%s takes no --env", sub);
        return sub[0] == 'l' ? secret_list(&o) : secret_rotate(&o);
    }
    best = suggest_word(sub, subs, 4);
    if (best != NULL)
        return cli_usage_error("secret",
                               "unknown subcommand \"%s\" (did you mean "
                               "\"%s\"?)",
                               sub, best);
    return cli_usage_error(
        "secret", "unknown subcommand \"%s\" (set, list, delete, rotate-key)",
        sub);
}
