/* SPDX-License-Identifier: Apache-2.0 */
/* `weir dag show FILE`: the normalized DAG as JSON. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dag.h"

static const char usage_text[] =
    "usage: weir dag show FILE\n\n"
    "Loads and validates one DAG file and prints it normalized as JSON:\n"
    "every default applied, steps in topological order, matrix cells\n"
    "expanded. Problems are printed as with 'weir validate' (exit 1).\n";

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

int cmd_dag(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "show") != 0)
        return cli_usage_error("dag", "unknown subcommand \"%s\"", argv[1]);
    if (argc != 3)
        return cli_usage_error("dag show", "give exactly one DAG file");
    return dag_show(argv[2]);
}
