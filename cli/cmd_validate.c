/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `weir validate PATH...`: loads every DAG file named, or found under the
 * folders named, and reports every problem as "file:line:col: message".
 * Two files that declare the same DAG id are an error too, since the
 * server could load only one of them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "dag.h"
#include "dagwalk.h"
#include "grow.h"

/* What validation found in one file. */
struct checked {
    char *path;             /* the file */
    char *dag_id;           /* its DAG id when it loaded, else NULL */
    size_t n_steps;         /* steps of the file (hooks aside) */
    struct dag_diags diags; /* its problems */
};

struct validate {
    struct checked *files; /* every file checked, in order */
    size_t n, cap;         /* used and allocated entries */
    bool json;             /* print one JSON document instead of lines */
    bool failed;           /* a path could not be read at all */
};

static const char usage_text[] =
    "usage: weir validate [--json] PATH...\n\n"
    "Checks DAG files, and every *.yaml / *.yml file under the folders\n"
    "given (recursively, as the server reads its DAGs folder: names that\n"
    "start with '.' are skipped, links to folders followed, 16 levels deep).\n"
    "Each problem is printed to stderr as FILE:LINE:COL: MESSAGE.\n\n"
    "  --json     print a JSON report on stdout instead\n\n"
    "Exit status: 0 when every file is valid, 1 otherwise, 2 on bad usage.\n";

static struct checked *checked_add(struct validate *v, const char *path)
{
    struct checked *c;

    if (!WEIR_GROW(v->files, v->cap, v->n + 1, 16, 0))
        return NULL;
    c = &v->files[v->n];
    memset(c, 0, sizeof(*c));
    c->path = strdup(path);
    if (c->path == NULL)
        return NULL;
    dag_diags_init(&c->diags);
    v->n++;
    return c;
}

static void check_file(struct validate *v, const char *path)
{
    struct checked *c = checked_add(v, path);
    struct dag *dag = NULL;

    if (c == NULL) {
        fprintf(stderr, "weir validate: out of memory\n");
        exit(CLI_INVALID);
    }
    if (dag_load_file(path, &dag, &c->diags) == 0) {
        c->dag_id = strdup(dag->id);
        for (size_t i = 0; i < dag->n_steps; i++)
            c->n_steps += dag->steps[i].hook == DAG_HOOK_NONE;
        dag_free(dag);
    } else if (c->diags.n == 0) {
        /* Only running out of memory fails without saying where. */
        dag_diags_add(&c->diags, (struct dag_pos){0, 0},
                      "cannot load: out of memory");
    }
}

static int walk_file(void *ctx, const char *rel, const char *full)
{
    (void)rel;
    check_file(ctx, full);
    return 0;
}

static int walk_unreadable(void *ctx, const char *full, int errnum)
{
    struct validate *v = ctx;

    fprintf(stderr, "%s: cannot open folder: %s\n", full, strerror(errnum));
    v->failed = true;
    return 0;
}

static void walk_too_deep(void *ctx, const char *full)
{
    struct validate *v = ctx;

    fprintf(stderr, "%s: folders nested deeper than %d are not read\n", full,
            DAGWALK_MAX_DEPTH);
    v->failed = true;
}

/* A file, or every DAG file under a folder (common/dagwalk.h: the files
 * the server loads from it). */
static void check_path(struct validate *v, const char *path)
{
    struct dagwalk w = {path,         v, NULL, walk_file, walk_unreadable,
                        walk_too_deep};
    struct weir_err err = {0};
    struct stat st;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        v->failed = true;
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        check_file(v, path);
        return;
    }
    if (dagwalk_run(&w, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        v->failed = true;
    }
}

/* A DAG id declared by two files: the second one gets the diagnostic. */
static void check_duplicate_ids(struct validate *v)
{
    for (size_t i = 0; i < v->n; i++) {
        for (size_t j = 0; j < i && v->files[i].dag_id; j++) {
            if (v->files[j].dag_id == NULL ||
                strcmp(v->files[i].dag_id, v->files[j].dag_id) != 0)
                continue;
            dag_diags_add(&v->files[i].diags, (struct dag_pos){1, 1},
                          "DAG id \"%s\" is already used by %s",
                          v->files[i].dag_id, v->files[j].path);
            break;
        }
    }
}

static int print_json(const struct validate *v, bool valid)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *files = cJSON_AddArrayToObject(root, "files");
    char *text;

    cJSON_AddBoolToObject(root, "valid", valid);
    for (size_t i = 0; i < v->n; i++) {
        const struct checked *c = &v->files[i];
        cJSON *f = cJSON_CreateObject(), *errs;

        cJSON_AddItemToArray(files, f);
        cJSON_AddStringToObject(f, "path", c->path);
        if (c->dag_id && c->diags.n == 0) {
            cJSON_AddStringToObject(f, "dag", c->dag_id);
            cJSON_AddNumberToObject(f, "steps", (double)c->n_steps);
        }
        cJSON_AddBoolToObject(f, "valid", c->diags.n == 0);
        errs = cJSON_AddArrayToObject(f, "errors");
        for (size_t k = 0; k < c->diags.n; k++) {
            cJSON *e = cJSON_CreateObject();

            cJSON_AddItemToArray(errs, e);
            cJSON_AddNumberToObject(e, "line", c->diags.v[k].pos.line);
            cJSON_AddNumberToObject(e, "column", c->diags.v[k].pos.col);
            cJSON_AddStringToObject(e, "message", c->diags.v[k].msg);
        }
    }
    text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL)
        return CLI_INVALID;
    puts(text);
    cJSON_free(text);
    return valid ? CLI_OK : CLI_INVALID;
}

static int report(const struct validate *v)
{
    size_t bad = 0;

    for (size_t i = 0; i < v->n; i++)
        bad += v->files[i].diags.n > 0;
    if (v->json)
        return print_json(v, bad == 0 && !v->failed);
    for (size_t i = 0; i < v->n; i++)
        dag_diags_print(&v->files[i].diags, v->files[i].path, stderr);
    if (v->n == 0 && !v->failed) {
        fprintf(stderr, "weir validate: no DAG files (*.yaml, *.yml) found\n");
        return CLI_INVALID;
    }
    if (bad == 0 && !v->failed) {
        printf("%zu DAG file%s valid\n", v->n, v->n == 1 ? "" : "s");
        return CLI_OK;
    }
    fprintf(stderr, "%zu of %zu DAG file%s invalid\n", bad, v->n,
            v->n == 1 ? "" : "s");
    return CLI_INVALID;
}

int cmd_validate(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct validate v = {0};
    int c, rc;

    optind = 1;
    while ((c = cli_getopt(argc, argv, "jh", opts)) != -1) {
        if (c == 'h') {
            fputs(usage_text, stdout);
            return CLI_OK;
        }
        if (c != 'j')
            return cli_usage_error("validate", "%s", cli_opt_error());
        v.json = true;
    }
    if (optind >= argc)
        return cli_usage_error("validate", "name at least one file or folder");
    for (int i = optind; i < argc; i++)
        check_path(&v, argv[i]);
    check_duplicate_ids(&v);
    rc = report(&v);
    for (size_t i = 0; i < v.n; i++) {
        free(v.files[i].path);
        free(v.files[i].dag_id);
        dag_diags_cleanup(&v.files[i].diags);
    }
    free(v.files);
    return rc;
}
