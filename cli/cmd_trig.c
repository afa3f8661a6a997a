/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Triggers from the command line: `weir event` posts an event, `weir
 * metric` a metric sample, and `weir triggers` shows the state of a DAG's
 * triggers (next cron time, accumulated sum, armed or waiting to re-arm,
 * cooldown, suppressed firings).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

#define LABELS_MAX 32 /* --label options of one sample */

static const char event_usage[] =
    "usage: weir event NAME [--payload JSON] [--id ID] [--json]\n\n"
    "Posts an event. Event triggers named NAME see it: when: filters it,\n"
    "accumulate: adds to their sum. With --id, posting the same id again\n"
    "is acknowledged and changes nothing.\n";

static const char metric_usage[] =
    "usage: weir metric NAME VALUE [--label KEY=VALUE]... [--time RFC3339]"
    " [--json]\n\n"
    "Posts a metric sample. Metric triggers on NAME whose labels match\n"
    "compare it with their below:/above: line.\n";

static const char triggers_usage[] =
    "usage: weir triggers DAG [--json]\n\n"
    "Shows each trigger of a DAG: its state (armed, waiting_rearm,\n"
    "cooldown, paused), next cron time, accumulated sum and threshold,\n"
    "the DAG (and end) or dataset an after or data trigger follows,\n"
    "last firing, and the latest suppressed firings with their reasons.\n";

/* Options shared by the three commands. */
struct trig_opts {
    bool json;                      /* print the server's JSON */
    const char *server;             /* --server */
    const char *payload;            /* --payload */
    const char *id;                 /* --id */
    const char *time;               /* --time */
    const char *labels[LABELS_MAX]; /* --label, as KEY=VALUE */
    int n_labels;                   /* entries in labels */
};

static int parse(int argc, char **argv, const char *cmd, const char *usage,
                 int nargs, struct trig_opts *o)
{
    static const struct option lopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"server", required_argument, NULL, 'S'},
        {"payload", required_argument, NULL, 'P'},
        {"id", required_argument, NULL, 'I'},
        {"label", required_argument, NULL, 'L'},
        {"time", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *allowed = cmd[0] == 'e' ? "PI" : cmd[0] == 'm' ? "LT" : "";
    int c;

    optind = 1;
    while ((c = cli_getopt(argc, argv, "jS:h", lopts)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        }
        if (c == 'j') {
            o->json = true;
        } else if (c == 'S') {
            o->server = client_server_flag(o->server, optarg);
        } else if (c != '?' && strchr(allowed, c) != NULL) {
            if (c == 'P')
                o->payload = optarg;
            else if (c == 'I')
                o->id = optarg;
            else if (c == 'T')
                o->time = optarg;
            else if (o->n_labels == LABELS_MAX)
                return cli_usage_error(cmd, "at most %d --label options",
                                       LABELS_MAX);
            else
                o->labels[o->n_labels++] = optarg;
        } else {
            return cli_usage_error(cmd, "%s", cli_opt_error());
        }
    }
    if (argc - optind != nargs)
        return cli_usage_error(cmd, "expected %s",
                               nargs == 2      ? "NAME VALUE"
                               : cmd[0] == 't' ? "one DAG"
                                               : "one NAME");
    return 0;
}

/* POST body to path and print the reply (JSON with --json, else line). */
static int post(const struct trig_opts *o, const char *cmd, const char *path,
                const cJSON *body, const char *name)
{
    struct client c;
    cJSON *reply;

    client_init(&c, o->server);
    reply = client_call_or_say(&c, cmd, "POST", path, body);
    if (reply == NULL)
        return CLI_INVALID;
    if (o->json) {
        char *text = cJSON_Print(reply);

        puts(text ? text : "null");
        cJSON_free(text);
    } else {
        const cJSON *id = cJSON_GetObjectItem(reply, "id");
        const cJSON *runs = cJSON_GetObjectItem(reply, "runs");

        printf("%s %s accepted", cmd, name);
        if (cJSON_IsNumber(id))
            printf(" as %.0f", id->valuedouble);
        if (cJSON_IsTrue(cJSON_GetObjectItem(reply, "duplicate")))
            printf(" (duplicate: not applied again)");
        printf("; runs started or fed: %d\n",
               cJSON_IsNumber(runs) ? runs->valueint : 0);
    }
    cJSON_Delete(reply);
    return CLI_OK;
}

int cmd_event(int argc, char **argv)
{
    struct trig_opts o = {0};
    cJSON *body = NULL, *payload = NULL;
    int rc = parse(argc, argv, "event", event_usage, 1, &o);

    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if (o.payload != NULL && (payload = cJSON_Parse(o.payload)) == NULL)
        return cli_usage_error("event", "--payload is not JSON: %s", o.payload);
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "name", argv[optind]);
    cJSON_AddItemToObject(body, "payload",
                          payload ? payload : cJSON_CreateObject());
    if (o.id != NULL)
        cJSON_AddStringToObject(body, "id", o.id);
    rc = post(&o, "event", "/api/v1/events", body, argv[optind]);
    cJSON_Delete(body);
    return rc;
}

/* The --label options as an object; NULL (said) for a malformed one. */
static cJSON *labels_of(const struct trig_opts *o)
{
    cJSON *l = cJSON_CreateObject();

    for (int i = 0; l != NULL && i < o->n_labels; i++) {
        const char *eq = strchr(o->labels[i], '=');
        char key[128];

        if (eq == NULL || eq == o->labels[i] ||
            (size_t)(eq - o->labels[i]) >= sizeof(key)) {
            cli_usage_error("metric", "--label %s: expected KEY=VALUE",
                            o->labels[i]);
            cJSON_Delete(l);
            return NULL;
        }
        snprintf(key, sizeof(key), "%.*s", (int)(eq - o->labels[i]),
                 o->labels[i]);
        cJSON_AddStringToObject(l, key, eq + 1);
    }
    return l;
}

int cmd_metric(int argc, char **argv)
{
    struct trig_opts o = {0};
    cJSON *body = NULL, *labels = NULL;
    char *end = NULL;
    double value;
    int rc = parse(argc, argv, "metric", metric_usage, 2, &o);

    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    value = strtod(argv[optind + 1], &end);
    if (end == argv[optind + 1] || *end != '\0' || !isfinite(value))
        return cli_usage_error("metric", "VALUE \"%s\" is not a number",
                               argv[optind + 1]);
    if ((labels = labels_of(&o)) == NULL)
        return CLI_USAGE;
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "name", argv[optind]);
    cJSON_AddNumberToObject(body, "value", value);
    cJSON_AddItemToObject(body, "labels", labels);
    if (o.time != NULL)
        cJSON_AddStringToObject(body, "time", o.time);
    rc = post(&o, "metric", "/api/v1/metrics", body, argv[optind]);
    cJSON_Delete(body);
    return rc;
}

static const char *str_or(const cJSON *o, const char *key, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : def;
}

/* One trigger: a line of facts, then its suppressed firings. */
static void print_trigger(const cJSON *t)
{
    const cJSON *acc = cJSON_GetObjectItem(t, "accumulated");
    const cJSON *thr = cJSON_GetObjectItem(t, "threshold");
    const cJSON *s;
    int n = 0;

    printf("%-28s %-8s %-14s", str_or(t, "id", "?"), str_or(t, "kind", "?"),
           str_or(t, "state", "?"));
    /* After and data triggers: what they follow, and their filter. */
    if (cJSON_IsString(cJSON_GetObjectItem(t, "after_state")))
        printf(" after %s (%s)", str_or(t, "target", "?"),
               str_or(t, "after_state", "?"));
    else if (strcmp(str_or(t, "kind", ""), "data") == 0)
        printf(" dataset %s", str_or(t, "target", "?"));
    if (cJSON_IsString(cJSON_GetObjectItem(t, "when")))
        printf(" when %s", str_or(t, "when", ""));
    if (cJSON_IsString(cJSON_GetObjectItem(t, "next_fire_time")))
        printf(" next %s", str_or(t, "next_fire_time", ""));
    if (cJSON_IsNumber(acc) && cJSON_IsNumber(thr))
        printf(" sum %g of %g", acc->valuedouble, thr->valuedouble);
    if (cJSON_IsString(cJSON_GetObjectItem(t, "cooldown_until")))
        printf(" cooldown until %s", str_or(t, "cooldown_until", ""));
    printf(" last fired %s\n", str_or(t, "last_fired_at", "never"));
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(t, "suppressed"))
    {
        if (n++ < 5)
            printf("    suppressed %s: %s\n", str_or(s, "at", "?"),
                   str_or(s, "reason", "?"));
    }
}

int cmd_triggers(int argc, char **argv)
{
    struct trig_opts o = {0};
    char path[400], dag[256];
    struct client c;
    const cJSON *list, *t;
    cJSON *reply;
    int rc = parse(argc, argv, "triggers", triggers_usage, 1, &o);

    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    client_init(&c, o.server);
    client_escape(argv[optind], dag, sizeof(dag));
    snprintf(path, sizeof(path), "/api/v1/dags/%s/triggers", dag);
    reply = client_call_or_say(&c, "triggers", "GET", path, NULL);
    if (reply == NULL)
        return CLI_INVALID;
    if (o.json) {
        char *text = cJSON_Print(reply);

        puts(text ? text : "null");
        cJSON_free(text);
    } else if (cJSON_GetArraySize(cJSON_GetObjectItem(reply, "triggers")) ==
               0) {
        printf("DAG %s has no triggers\n", argv[optind]);
    }
    list = o.json ? NULL : cJSON_GetObjectItem(reply, "triggers");
    cJSON_ArrayForEach(t, list)
    {
        print_trigger(t);
    }
    cJSON_Delete(reply);
    return CLI_OK;
}
