/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `weir` command line: dispatches to a subcommand. The offline
 * commands (validate, cron, dag) need no server.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "opts.h"

struct command {
    const char *name;    /* as typed */
    cli_cmd_fn fn;       /* what runs it */
    const char *summary; /* one line for `weir --help` */
};

static const struct command commands[] = {
    {"validate", cmd_validate, "check DAG files and folders for errors"},
    {"cron", cmd_cron, "show the next fire times of a cron expression"},
    {"dag", cmd_dag,
     "show a DAG file as JSON (dag show); submit or delete a DAG kept by "
     "the server (dag submit|delete)"},
    {"dags", cmd_dags, "list the DAGs the server knows"},
    {"up", cmd_up, "run Weir standalone: PostgreSQL, server, workers"},
    {"trigger", cmd_trigger, "start a run of a DAG"},
    {"runs", cmd_runs, "list runs (filtered by DAG, state, env, trigger)"},
    {"run", cmd_run, "show a run and its tasks"},
    {"logs", cmd_logs, "print (or follow) the log of a step"},
    {"cancel", cmd_cancel, "cancel a run"},
    {"retry", cmd_retry, "retry a finished run, or part of it"},
    {"approve", cmd_approve, "approve an approval gate of a run"},
    {"reject", cmd_reject, "reject an approval gate of a run"},
    {"pause", cmd_pause, "pause a DAG: no new runs"},
    {"unpause", cmd_unpause, "let a paused DAG start runs again"},
    {"artifacts", cmd_artifacts, "list the model registry's artifacts"},
    {"artifact", cmd_artifact,
     "promote an artifact version; approve or reject that"},
    {"lineage", cmd_lineage, "show what a run read, wrote and reused"},
    {"event", cmd_event, "post an event for event triggers"},
    {"metric", cmd_metric, "post a metric sample for metric triggers"},
    {"triggers", cmd_triggers, "show the state of a DAG's triggers"},
    {"workers", cmd_workers, "list the workers"},
    {"pool", cmd_pool, "set, list or delete the pools steps share"},
    {"token", cmd_token, "create, list or revoke API tokens"},
    {"secret", cmd_secret, "set, list or delete secrets steps ask for"},
    {"login", cmd_login, "sign in with the server's single sign-on"},
    {"backfill", cmd_backfill, "run a DAG for each cron slot of a range"},
    {"backfills", cmd_backfills, "list a DAG's backfills with progress"},
    {"backfill-cancel", cmd_backfill_cancel, "cancel a backfill"},
    {"audit", cmd_audit, "list the audit log: who did what, and when"},
};

static void usage(FILE *f)
{
    int width = 0;

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if ((int)strlen(commands[i].name) > width)
            width = (int)strlen(commands[i].name);
    fprintf(f, "usage: weir [--version] [--help] [--ca-file FILE] COMMAND "
               "[ARGS]\n\n"
               "Weir runs workflows (DAGs) on schedules, events and "
               "metrics.\n\n"
               "  --ca-file FILE  trust an https:// server only if a CA of "
               "FILE (PEM)\n"
               "                  signed its certificate (else "
               "$WEIR_CA_FILE; default:\n"
               "                  the system's CAs)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-*s %s\n", width, commands[i].name, commands[i].summary);
    fprintf(
        f,
        "\nThe server: --server URL (repeatable) or WEIR_SERVER=URL[,URL...],"
        "\nwith WEIR_TOKEN; of several servers, each call uses the "
        "first that\nanswers.\n");
    fprintf(f, "\n'weir COMMAND --help' tells more about a command.\n");
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

static struct weir_err opt_err; /* cli_getopt()'s last error */

int cli_getopt(int argc, char *const argv[], const char *shorts,
               const struct option *longs)
{
    return weir_getopt(argc, argv, shorts, longs, &opt_err);
}

const char *cli_opt_error(void)
{
    return opt_err.msg[0] != '\0' ? opt_err.msg : "unknown option";
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "weir %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'weir %s --help')\n", cmd);
    return CLI_USAGE;
}

int main(int argc, char **argv)
{
    const char *ca_file = NULL;

    if (argc > 2 && strcmp(argv[1], "--ca-file") == 0) {
        ca_file = argv[2];
        argv[2] = argv[0];
        argv += 2;
        argc -= 2;
    }
    if (cli_config_tls(ca_file) != 0)
        return CLI_USAGE;
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("weir %s\n", WEIR_VERSION);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        if (argc > 2) {
            char *sub[] = {argv[2], "--help", NULL};

            for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(argv[2], commands[i].name) == 0)
                    return commands[i].fn(2, sub);
            fprintf(stderr, "weir: unknown command \"%s\"\n", argv[2]);
            return CLI_USAGE;
        }
        usage(stdout);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "weir: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
