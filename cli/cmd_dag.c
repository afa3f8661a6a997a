/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `weir dag show FILE`: the normalized DAG as JSON, offline.
 * `weir dag submit FILE` and `weir dag delete DAG`: a DAG kept by the
 * server instead of a file of its DAGs folder (POST and DELETE
 * /api/v1/dags), with an admin token.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "dag.h"

static const char usage_text[] =
    "usage: weir dag show FILE\n"
    "       weir dag submit FILE [--server URL] [--json]\n"
    "       weir dag delete DAG [--with-runs] [--server URL]\n\n"
    "show: loads and validates one DAG file and prints it normalized as\n"
    "JSON: every default applied, steps in topological order, matrix cells\n"
    "expanded. Problems are printed as with 'weir validate' (exit 1).\n\n"
    "submit: sends a DAG file to the server, which keeps it (a new version\n"
    "when its text changed). The file must say `dag:`; an id that a file of\n"
    "the server's DAGs folder defines is refused.\n\n"
    "delete: removes a submitted DAG with its versions and runs, or a DAG\n"
    "whose file is gone from the DAGs folder (its runs stay readable unless\n"
    "--with-runs); refused while one of its runs is queued or running, and\n"
    "for a DAG whose file is still there (remove the file first).\n";

static int dag_show(const char *path)
{
    struct dag_diags diags;
    struct dag *dag = NULL;
    cJSON *json;
    char *text;
    int rc = CLI_INVALID;

    dag_diags_init(&diags);
    if (dag_load_file(path, &dag, &diags) != 0) {
        dag_diags_print(&diags, path, stderr);
        dag_diags_cleanup(&diags);
        return CLI_INVALID;
    }
    json = dag_to_json(dag);
    text = json ? cJSON_Print(json) : NULL;
    if (text != NULL) {
        puts(text);
        rc = CLI_OK;
    } else {
        fprintf(stderr, "weir dag show: out of memory\n");
    }
    cJSON_free(text);
    cJSON_Delete(json);
    dag_free(dag);
    dag_diags_cleanup(&diags);
    return rc;
}

/* Options of submit and delete. */
struct remote_opts {
    const char *server; /* --server */
    bool json;          /* print the server's JSON */
    bool with_runs;     /* delete: the runs go too */
};

/* Parse the options of `weir dag CMD ARG`; argv[0] is CMD. Returns 0 or
 * CLI_USAGE. */
static int remote_parse(int argc, char **argv, const char *cmd,
                        struct remote_opts *o)
{
    static const struct option lopts[] = {
        {"server", required_argument, NULL, 'S'},
        {"json", no_argument, NULL, 'j'},
        {"with-runs", no_argument, NULL, 'w'},
        {NULL, 0, NULL, 0}};
    int c;

    optind = 1;
    while ((c = cli_getopt(argc, argv, "S:j", lopts)) != -1) {
        switch (c) {
        case 'S':
            o->server = client_server_flag(o->server, optarg);
            break;
        case 'j':
            o->json = true;
            break;
        case 'w':
            if (strcmp(cmd, "dag delete") != 0)
                return cli_usage_error(cmd, "unknown option --with-runs");
            o->with_runs = true;
            break;
        default:
            return cli_usage_error(cmd, "%s", cli_opt_error());
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(cmd, "expected one %s",
                               strcmp(cmd, "dag submit") == 0 ? "FILE" : "DAG");
    return 0;
}

/* The whole file at path as a new string; NULL (said) when it cannot be
 * read, is too large or holds a NUL byte. */
static char *read_dag_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(DAG_MAX_FILE_BYTES + 1);
    size_t n = 0;

    if (f == NULL || buf == NULL) {
        fprintf(stderr, "weir dag submit: %s: cannot read it\n", path);
        goto fail;
    }
    n = fread(buf, 1, DAG_MAX_FILE_BYTES + 1, f);
    if (ferror(f) || n > DAG_MAX_FILE_BYTES || memchr(buf, 0, n) != NULL) {
        fprintf(stderr, "weir dag submit: %s: %s\n", path,
                ferror(f)                ? "cannot read it"
                : n > DAG_MAX_FILE_BYTES ? "larger than 1 MiB"
                                         : "holds a NUL byte");
        goto fail;
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
fail:
    if (f != NULL)
        fclose(f);
    free(buf);
    return NULL;
}

static int int_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) ? v->valueint : 0;
}

/* Print a refusal: each diagnostic as "FILE:line:col: message", or the
 * server's message. */
static void say_refusal(const char *path, long status, const cJSON *reply)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(reply, "error");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    const cJSON *d, *details = cJSON_GetObjectItemCaseSensitive(e, "details");

    if (cJSON_GetArraySize(details) == 0) {
        fprintf(stderr, "weir dag submit: %s (HTTP %ld)\n",
                cJSON_IsString(msg) ? msg->valuestring : "request failed",
                status);
        return;
    }
    cJSON_ArrayForEach(d, details)
    {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(d, "message");
        int line = int_of(d, "line"), col = int_of(d, "column");

        if (line > 0)
            fprintf(stderr, "%s:%d:%d: %s\n", path, line, col,
                    cJSON_IsString(m) ? m->valuestring : "?");
        else
            fprintf(stderr, "%s: %s\n", path,
                    cJSON_IsString(m) ? m->valuestring : "?");
    }
}

/* One line about a submission that was taken. */
static void say_submitted(const cJSON *r)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "dag");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "version_id");
    bool created = cJSON_IsTrue(cJSON_GetObjectItem(r, "created"));
    bool fresh = cJSON_IsTrue(cJSON_GetObjectItem(r, "new_version"));

    printf("DAG %s %s (version %.0f)\n",
           cJSON_IsString(id) ? id->valuestring : "?",
           created ? "created"
           : fresh ? "updated"
                   : "unchanged",
           cJSON_IsNumber(v) ? v->valuedouble : 0.0);
}

/* Send the call; on a transport failure say it and return -1. */
static int remote_call(const struct remote_opts *o, const char *cmd,
                       const char *method, const char *path, const cJSON *body,
                       long *status, cJSON **reply)
{
    struct weir_err err = {0};
    struct client c;

    client_init(&c, o->server);
    if (client_call(&c, method, path, body, status, reply, &err) == 0)
        return 0;
    fprintf(stderr, "weir %s: %s\n", cmd, err.msg);
    return -1;
}

static int dag_submit(int argc, char **argv)
{
    struct remote_opts o = {0};
    cJSON *body = NULL, *reply = NULL;
    char *text = NULL;
    long status = 0;
    int rc = remote_parse(argc, argv, "dag submit", &o);

    if (rc != 0)
        return rc;
    rc = CLI_INVALID;
    text = read_dag_file(argv[optind]);
    body = text ? cJSON_CreateObject() : NULL;
    if (body == NULL || !cJSON_AddStringToObject(body, "source", text) ||
        remote_call(&o, "dag submit", "POST", "/api/v1/dags", body, &status,
                    &reply) != 0)
        goto out;
    if (status >= 400) {
        say_refusal(argv[optind], status, reply);
    } else if (o.json) {
        char *out = cJSON_Print(reply);

        puts(out ? out : "null");
        cJSON_free(out);
        rc = CLI_OK;
    } else {
        say_submitted(reply);
        rc = CLI_OK;
    }
out:
    cJSON_Delete(reply);
    cJSON_Delete(body);
    free(text);
    return rc;
}

static int dag_delete(int argc, char **argv)
{
    struct remote_opts o = {0};
    cJSON *reply = NULL;
    char path[300], id[256];
    long status = 0;
    int rc = remote_parse(argc, argv, "dag delete", &o);

    if (rc != 0)
        return rc;
    client_escape(argv[optind], id, sizeof(id));
    snprintf(path, sizeof(path), "/api/v1/dags/%s%s", id,
             o.with_runs ? "?with_runs=true" : "");
    if (remote_call(&o, "dag delete", "DELETE", path, NULL, &status, &reply) !=
        0)
        return CLI_INVALID;
    rc = CLI_OK;
    if (status >= 400) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(reply, "error");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");

        fprintf(stderr, "weir dag delete: %s (HTTP %ld)\n",
                cJSON_IsString(m) ? m->valuestring : "request failed", status);
        rc = CLI_INVALID;
    } else {
        printf("DAG %s deleted%s\n", argv[optind],
               o.with_runs ? " with its runs" : "");
    }
    cJSON_Delete(reply);
    return rc;
}

int cmd_dag(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "submit") == 0)
        return dag_submit(argc - 1, argv + 1);
    if (strcmp(argv[1], "delete") == 0)
        return dag_delete(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") != 0)
        return cli_usage_error("dag", "unknown subcommand \"%s\"", argv[1]);
    if (argc != 3)
        return cli_usage_error("dag show", "give exactly one DAG file");
    return dag_show(argv[2]);
}
