/* SPDX-License-Identifier: Apache-2.0 */
/* `weir cron next EXPR`: the next fire times of a cron expression. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cron.h"
#include "tz.h"

#define CRON_MAX_COUNT 10000 /* fire times printed at most */

static const char usage_text[] =
    "usage: weir cron next EXPR [--tz ZONE] [--from TIME] [--count N]\n\n"
    "Prints the next N fire times of the cron expression EXPR, one per\n"
    "line, as ISO-8601 with the UTC offset (2026-11-29T02:00:00-06:00).\n\n"
    "  --tz ZONE     IANA time zone the expression runs in (default UTC)\n"
    "  --from TIME   start after this ISO-8601 time, exclusive (default: "
    "now);\n"
    "                without an offset it is local time in ZONE\n"
    "  --count N     how many fire times (default 5, at most 10000)\n\n"
    "EXPR is five fields (minute hour day-of-month month day-of-week) or a\n"
    "preset: @hourly @daily @midnight @weekly @monthly @yearly @annually.\n";

struct cron_args {
    const char *expr; /* the expression */
    const char *zone; /* --tz */
    const char *from; /* --from, or NULL for now */
    long count;       /* --count */
};

static int parse_args(int argc, char **argv, struct cron_args *a)
{
    static const struct option opts[] = {
        {"tz", required_argument, NULL, 'z'},
        {"from", required_argument, NULL, 'f'},
        {"count", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0}};
    int c;

    a->zone = "UTC";
    a->count = 5;
    optind = 1;
    while ((c = cli_getopt(argc, argv, "z:f:n:", opts)) != -1) {
        char *end;

        switch (c) {
        case 'z':
            a->zone = optarg;
            break;
        case 'f':
            a->from = optarg;
            break;
        case 'n':
            a->count = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || a->count < 1 ||
                a->count > CRON_MAX_COUNT)
                return cli_usage_error("cron next",
                                       "--count must be a whole number from "
                                       "1 to %d, got \"%s\"",
                                       CRON_MAX_COUNT, optarg);
            break;
        default:
            return cli_usage_error("cron next", "%s", cli_opt_error());
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("cron next",
                               "give exactly one expression, in quotes");
    a->expr = argv[optind];
    return CLI_OK;
}

static int cron_next_cmd(int argc, char **argv)
{
    struct cron_args a = {0};
    struct cron_expr expr;
    struct weir_err err = {0};
    struct tz *tz = NULL;
    int64_t t = (int64_t)time(NULL);
    int offset = 0, rc;

    rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc;
    if (cron_parse(a.expr, &expr, &err, &offset) != 0) {
        fprintf(stderr, "weir cron next: bad expression: %s\n  %s\n  %*s^\n",
                err.msg, a.expr, offset, "");
        return CLI_INVALID;
    }
    if (tz_load(a.zone, &tz, &err) != 0) {
        fprintf(stderr, "weir cron next: --tz: %s\n", err.msg);
        return CLI_INVALID;
    }
    if (a.from && cron_parse_time(a.from, tz, &t, &err) != 0) {
        fprintf(stderr, "weir cron next: --from: %s\n", err.msg);
        tz_free(tz);
        return CLI_INVALID;
    }
    rc = CLI_OK;
    for (long i = 0; i < a.count; i++) {
        char buf[64];

        if (cron_next(&expr, tz, t, &t) != 0) {
            fprintf(stderr, "weir cron next: no further fire time\n");
            rc = CLI_INVALID;
            break;
        }
        puts(cron_format_time(t, tz, buf, sizeof(buf)));
    }
    tz_free(tz);
    return rc;
}

int cmd_cron(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "next") != 0)
        return cli_usage_error("cron", "unknown subcommand \"%s\"", argv[1]);
    return cron_next_cmd(argc - 1, argv + 1);
}
