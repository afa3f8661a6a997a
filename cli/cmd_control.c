/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control from the command line: `weir cancel`, `weir retry`, `weir
 * approve`, `weir reject`, `weir pause` and `weir unpause`, each one REST
 * call made with an admin token.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"

/* One control command: POST /api/v1/BASE/ARG1[/steps/ARG2]/VERB. */
struct control {
    const char *name;  /* as typed */
    const char *usage; /* its --help */
    const char *base;  /* "runs" or "dags" */
    int nargs;         /* 1, or 2 for RUN_ID STEP */
    const char *opt;   /* the body member its option sets, or NULL */
};

static const struct control controls[] = {
    {"cancel",
     "usage: weir cancel RUN_ID [--json]\n\n"
     "Cancels a run: every task not finished is canceled; running commands\n"
     "are stopped by their workers.\n",
     "runs", 1, NULL},
    {"retry",
     "usage: weir retry RUN_ID [--from STEP] [-p NAME=VALUE]... [--json]\n\n"
     "Retries a finished run. Without --from, every task that did not\n"
     "succeed (and everything downstream of it) runs again; with --from,\n"
     "STEP and everything downstream of it. Other tasks keep their state\n"
     "and outputs. -p changes a param for the tasks that run again\n"
     "(repeatable; the DAG must declare it; VALUE takes the param's type:\n"
     "true/false, a number, text, or a JSON list or map); the run records\n"
     "who changed what, and its lineage shows it.\n",
     "runs", 1, "from"},
    {"approve",
     "usage: weir approve RUN_ID STEP [--comment TEXT] [--json]\n\n"
     "Approves the approval gate STEP of a run. Where the DAG names\n"
     "approvers, you must be one of them (by name or group); who started\n"
     "or retried the run may approve only where the gate says\n"
     "self_approve: true. A refusal says why.\n",
     "runs", 2, "comment"},
    {"reject",
     "usage: weir reject RUN_ID STEP [--comment TEXT] [--json]\n\n"
     "Rejects the approval gate STEP of a run: it fails. Where the DAG\n"
     "names approvers, you must be one of them, or have started the run.\n",
     "runs", 2, "comment"},
    {"pause",
     "usage: weir pause DAG [--json]\n\n"
     "Pauses a DAG: no new runs start; running runs go on.\n",
     "dags", 1, NULL},
    {"unpause",
     "usage: weir unpause DAG [--json]\n\n"
     "Lets a paused DAG start runs again.\n",
     "dags", 1, NULL},
};

/* Options of a control command. */
struct control_opts {
    bool json;          /* print the server's JSON */
    const char *server; /* --server */
    const char *value;  /* --from or --comment */
    cJSON *params;      /* retry's -p NAME=VALUE, as an object */
};

static int parse(int argc, char **argv, const struct control *k,
                 struct control_opts *o)
{
    static const struct option lopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"server", required_argument, NULL, 'S'},
        {"from", required_argument, NULL, 'F'},
        {"comment", required_argument, NULL, 'C'},
        {"param", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    char *eq;
    int c;

    optind = 1;
    while ((c = cli_getopt(argc, argv, "jS:hp:", lopts)) != -1) {
        switch (c) {
        case 'h':
            fputs(k->usage, stdout);
            return -1;
        case 'j':
            o->json = true;
            break;
        case 'S':
            o->server = client_server_flag(o->server, optarg);
            break;
        case 'F':
        case 'C':
            if (k->opt == NULL || k->opt[0] != (c == 'F' ? 'f' : 'c'))
                return cli_usage_error(k->name, "unknown option %s",
                                       c == 'F' ? "--from" : "--comment");
            o->value = optarg;
            break;
        case 'p':
            eq = strchr(optarg, '=');
            if (strcmp(k->name, "retry") != 0)
                return cli_usage_error(k->name, "unknown option -p (params "
                                                "are for weir retry)");
            if (eq == NULL || eq == optarg)
                return cli_usage_error(
                    k->name, "-p takes NAME=VALUE, got \"%s\"", optarg);
            *eq = '\0';
            cJSON_DeleteItemFromObjectCaseSensitive(o->params, optarg);
            cJSON_AddStringToObject(o->params, optarg, eq + 1);
            break;
        default:
            return cli_usage_error(k->name, "%s", cli_opt_error());
        }
    }
    if (argc - optind != k->nargs)
        return cli_usage_error(k->name, "expected %s",
                               k->nargs == 2       ? "RUN_ID STEP"
                               : k->base[0] == 'r' ? "one RUN_ID"
                                                   : "one DAG");
    return 0;
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : "?";
}

/* One line about what was done. */
static void say(const struct control *k, char **args, const cJSON *r)
{
    const cJSON *t;

    if (strcmp(k->name, "cancel") == 0) {
        printf("run %s canceled (%d tasks)\n", args[0],
               cJSON_GetArraySize(cJSON_GetObjectItem(r, "canceled")));
    } else if (strcmp(k->name, "retry") == 0) {
        printf("run %s %s; reset:", args[0], str_of(r, "state"));
        cJSON_ArrayForEach(t, cJSON_GetObjectItem(r, "reset"))
        {
            printf(" %s", str_of(t, "step"));
        }
        printf("\n");
        cJSON_ArrayForEach(t, cJSON_GetObjectItem(r, "changed"))
        {
            char *from = cJSON_PrintUnformatted(cJSON_GetObjectItem(t, "from"));
            char *to = cJSON_PrintUnformatted(cJSON_GetObjectItem(t, "to"));

            printf("param %s: %s -> %s\n", t->string, from ? from : "?",
                   to ? to : "?");
            cJSON_free(from);
            cJSON_free(to);
        }
    } else if (k->nargs == 2) {
        printf("step %s of run %s: %s (run %s)\n", args[1], args[0],
               str_of(r, "state"), str_of(r, "run_state"));
    } else {
        printf("DAG %s %s\n", args[0],
               cJSON_IsTrue(cJSON_GetObjectItem(r, "paused")) ? "paused"
                                                              : "unpaused");
    }
}

static int control_run(const struct control *k, int argc, char **argv)
{
    struct control_opts o = {.params = cJSON_CreateObject()};
    cJSON *body = cJSON_CreateObject(), *reply = NULL;
    char path[700], a1[256], a2[256] = "";
    struct client c;
    int rc = parse(argc, argv, k, &o);

    if (rc == 0) {
        client_init(&c, o.server);
        client_escape(argv[optind], a1, sizeof(a1));
        if (k->nargs == 2)
            client_escape(argv[optind + 1], a2, sizeof(a2));
        snprintf(path, sizeof(path), "/api/v1/%s/%s%s%s/%s", k->base, a1,
                 k->nargs == 2 ? "/steps/" : "", a2, k->name);
        if (o.value != NULL)
            cJSON_AddStringToObject(body, k->opt, o.value);
        if (cJSON_GetArraySize(o.params) > 0) {
            /* the server types each value as the DAG declares it */
            cJSON_AddItemToObject(body, "params_text", o.params);
            o.params = NULL;
        }
        reply = client_call_or_say(&c, k->name, "POST", path, body);
        rc = reply ? CLI_OK : CLI_INVALID;
    }
    if (reply != NULL && o.json) {
        char *text = cJSON_Print(reply);

        puts(text ? text : "null");
        cJSON_free(text);
    } else if (reply != NULL) {
        say(k, argv + optind, reply);
    }
    cJSON_Delete(reply);
    cJSON_Delete(body);
    cJSON_Delete(o.params);
    return rc < 0 ? CLI_OK : rc;
}

static int control_by_name(const char *name, int argc, char **argv)
{
    for (size_t i = 0; i < sizeof(controls) / sizeof(controls[0]); i++)
        if (strcmp(controls[i].name, name) == 0)
            return control_run(&controls[i], argc, argv);
    return CLI_USAGE;
}

int cmd_cancel(int argc, char **argv)
{
    return control_by_name("cancel", argc, argv);
}

int cmd_retry(int argc, char **argv)
{
    return control_by_name("retry", argc, argv);
}

int cmd_approve(int argc, char **argv)
{
    return control_by_name("approve", argc, argv);
}

int cmd_reject(int argc, char **argv)
{
    return control_by_name("reject", argc, argv);
}

int cmd_pause(int argc, char **argv)
{
    return control_by_name("pause", argc, argv);
}

int cmd_unpause(int argc, char **argv)
{
    return control_by_name("unpause", argc, argv);
}
