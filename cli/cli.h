/* SPDX-License-Identifier: Apache-2.0 */
/* The `weir` command: one function per subcommand, and shared helpers. */
#ifndef WEIR_CLI_H
#define WEIR_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include <cJSON.h>

/* Exit codes of every subcommand. */
enum cli_exit {
    CLI_OK = 0,      /* done, and everything checked was fine */
    CLI_INVALID = 1, /* ran, and found something invalid or failed */
    CLI_USAGE = 2,   /* the command line itself was wrong */
};

/* A subcommand: argv[0] is its name; returns an enum cli_exit value. */
typedef int (*cli_cmd_fn)(int argc, char **argv);

int cmd_validate(int argc, char **argv);
int cmd_cron(int argc, char **argv);
int cmd_dag(int argc, char **argv);
int cmd_dags(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_trigger(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_retry(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_reject(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_unpause(int argc, char **argv);
int cmd_artifacts(int argc, char **argv);
int cmd_artifact(int argc, char **argv);
int cmd_lineage(int argc, char **argv);
int cmd_workers(int argc, char **argv);

/* `weir run`: a line per mapped step of run, with its cells (cmd_map.c). */
void cli_print_maps(const cJSON *run);

/* Print v as indented JSON on stdout (cmd_artifacts.c). */
void cli_print_json(const cJSON *v);

/* The string member key of o, or "-" when absent or not a string. */
const char *cli_str(const cJSON *o, const char *key);

/* "[LATE] " for a run its deadline marked late, else "" (cmd_deadline.c). */
const char *cli_run_late_tag(const cJSON *run);
/* The lines of `weir run` on the run's error, run timeout and deadline
 * (nothing for a run without them). */
void cli_run_deadline_print(const cJSON *run);
int cmd_event(int argc, char **argv);
int cmd_metric(int argc, char **argv);
int cmd_triggers(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_backfill(int argc, char **argv);
int cmd_backfills(int argc, char **argv);
int cmd_backfill_cancel(int argc, char **argv);
int cmd_pool(int argc, char **argv);
int cmd_secret(int argc, char **argv);
int cmd_audit(int argc, char **argv);

/*
 * True when argv holds -h or --help before any "--": subcommands print
 * their usage to stdout and exit 0 then.
 */
bool cli_wants_help(int argc, char **argv);

/* Print "weir: <message>" and a hint to run --help, return CLI_USAGE. */
/*
 * The CLI's option parser: weir_getopt() (common/opts.h: exact names, an
 * unknown one gets "did you mean"), whose last error cli_opt_error()
 * says; a command's `default:` branch passes it to cli_usage_error().
 */
int cli_getopt(int argc, char *const argv[], const char *shorts,
               const struct option *longs);
const char *cli_opt_error(void);

int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
