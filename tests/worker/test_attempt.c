/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of attempt preparation with real steps: the private folder and its
 * files, the clean environment, workdirs, outputs written by the step, the
 * lease checks, and removal of the folder without following links.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attempt.h"
#include "fsutil.h"
#include "harness.h"

struct fixture {
    char base[64];          /* private folder of the test */
    char dags[PATH_MAX];    /* the worker's DAG folder */
    char sub[PATH_MAX];     /* dags/sub, the default workdir of the lease */
    char scratch[PATH_MAX]; /* where attempt folders go */
    char outside[PATH_MAX]; /* must survive every removal */
};

static const char lease_text[] =
    "{\"attempt_id\": \"a-1\", \"lease_id\": \"l-1\", \"run_id\": \"r-1\","
    " \"dag\": \"fraud-model\", \"step\": \"train\", \"try\": 2,"
    " \"logical_time\": \"2024-05-01T02:00:00Z\", \"environment\": "
    "\"staging\", \"command\": \"true\", \"workdir\": \"sub\","
    " \"env\": {\"DATA_DIR\": \"/data/staging\", \"HOME\": \"/home/step\"},"
    " \"params\": {\"dataset_version\": \"latest\", \"threshold\": 0.85,"
    " \"flag\": true, \"count\": 3, \"list\": [1, \"a\"], \"nothing\": null},"
    " \"matrix\": {\"lr\": 0.1, \"Depth\": 5},"
    " \"inputs\": {\"ingest\": {\"rows\": \"10\"}},"
    " \"trigger\": {\"kind\": \"manual\", \"by\": \"test\"},"
    " \"timeout_ms\": 5000, \"queue\": \"ignored\"}";

static void path_set(char *dst, const char *base, const char *name)
{
    int n = snprintf(dst, PATH_MAX, "%s/%s", base, name);

    assert_true(n > 0 && n < PATH_MAX);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char keep[PATH_MAX];
    struct weir_err err = {0};

    assert_non_null(f);
    snprintf(f->base, sizeof(f->base), "/tmp/weir-test-attempt-XXXXXX");
    assert_non_null(mkdtemp(f->base));
    path_set(f->dags, f->base, "dags");
    path_set(f->sub, f->dags, "sub");
    path_set(f->scratch, f->base, "scratch");
    path_set(f->outside, f->base, "outside");
    assert_int_equal(mkdir(f->dags, 0700), 0);
    assert_int_equal(mkdir(f->sub, 0700), 0);
    assert_int_equal(mkdir(f->scratch, 0700), 0);
    assert_int_equal(mkdir(f->outside, 0700), 0);
    path_set(keep, f->outside, "keep");
    assert_int_equal(fsutil_file_write(keep, "precious", 8, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    struct weir_err err = {0};

    assert_int_equal(fsutil_tree_remove(f->base, &err), 0);
    free(f);
    return 0;
}

/* The lease above with lease[key] replaced by json (NULL: removed). */
static cJSON *lease_with(const char *key, const char *json)
{
    cJSON *l = cJSON_Parse(lease_text);

    assert_non_null(l);
    if (key == NULL)
        return l;
    cJSON_DeleteItemFromObjectCaseSensitive(l, key);
    if (json != NULL) {
        cJSON *v = cJSON_Parse(json);

        assert_non_null(v);
        cJSON_AddItemToObject(l, key, v);
    }
    return l;
}

/* The lease above running the shell text cmd. */
static cJSON *lease_cmd(const char *cmd)
{
    cJSON *l = lease_with(NULL, NULL);

    assert_true(cJSON_ReplaceItemInObjectCaseSensitive(
        l, "command", cJSON_CreateString(cmd)));
    return l;
}

static struct attempt *prepare_ok(const struct fixture *f, cJSON *lease)
{
    struct weir_err err = {0};
    struct attempt *a = NULL;

    if (attempt_prepare(lease, f->dags, f->scratch, &a, &err) != 0)
        fail_msg("attempt_prepare: %s", err.msg);
    cJSON_Delete(lease);
    return a;
}

static size_t entries_in(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *ent;
    size_t n = 0;

    assert_non_null(d);
    while ((ent = readdir(d)) != NULL)
        n += strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void expect_file(const char *path, const char *content, mode_t mode)
{
    struct weir_err err = {0};
    struct stat st;
    char *text;
    size_t len;

    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, mode);
    assert_int_equal(fsutil_file_read(path, 1 << 20, &text, &len, &err), 0);
    assert_string_equal(text, content);
    free(text);
}

/* Run the attempt's command through the executor, lines kept in r. */
static void run_step(struct hrun *r, const struct attempt *a)
{
    struct exec_spec spec;

    attempt_exec_spec(a, &spec);
    harness_init(r);
    harness_run(r, &spec);
}

static void test_prepare_files(void **state)
{
    const struct fixture *f = *state;
    struct attempt *a = prepare_ok(f, lease_with(NULL, NULL));
    struct weir_err err = {0};
    char prefix[PATH_MAX], *sub = realpath(f->sub, NULL);
    struct stat st;

    assert_string_equal(a->attempt_id, "a-1");
    assert_string_equal(a->lease_id, "l-1");
    assert_string_equal(a->run_id, "r-1");
    assert_string_equal(a->dag, "fraud-model");
    assert_string_equal(a->step, "train");
    assert_int_equal(a->try_number, 2);
    assert_string_equal(a->command, "true");
    assert_string_equal(a->workdir, sub);
    assert_int_equal(a->timeout_ms, 5000);
    assert_int_equal(a->kill_grace_ms, ATTEMPT_KILL_GRACE_MS);
    path_set(prefix, f->scratch, "weir-attempt-");
    assert_memory_equal(a->dir, prefix, strlen(prefix));
    assert_int_equal(lstat(a->dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    expect_file(a->inputs_path, "{\"ingest\":{\"rows\":\"10\"}}", 0600);
    expect_file(a->trigger_path, "{\"kind\":\"manual\",\"by\":\"test\"}", 0600);
    expect_file(a->outputs_path, "", 0600);
    assert_int_equal(attempt_dir_remove(a, &err), 0);
    assert_null(a->dir);
    assert_int_equal(entries_in(f->scratch), 0);
    assert_int_equal(attempt_dir_remove(a, &err), 0); /* again: nothing */
    attempt_free(a);
    free(sub);
}

/* Is NAME=VALUE among the step's lines? */
static bool has_var(const struct hrun *r, const char *entry)
{
    for (size_t i = 0; i < r->n_lines; i++)
        if (strcmp(r->lines[i].text, entry) == 0)
            return true;
    return false;
}

static bool has_name(const struct hrun *r, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < r->n_lines; i++)
        if (strncmp(r->lines[i].text, name, n) == 0 &&
            r->lines[i].text[n] == '=')
            return true;
    return false;
}

static void expect_var(const struct hrun *r, const char *name,
                       const char *value)
{
    char entry[PATH_MAX + 64];

    snprintf(entry, sizeof(entry), "%s=%s", name, value);
    if (!has_var(r, entry))
        fail_msg("the step does not see %s", entry);
}

static void test_environment_seen_by_step(void **state)
{
    const struct fixture *f = *state;
    struct attempt *a;
    struct hrun r;

    setenv("WEIR_TEST_SECRET", "leak", 1);
    setenv("LC_ALL", "C", 1);
    setenv("LANG", "C.UTF-8", 1);
    a = prepare_ok(f, lease_cmd("pwd; env"));
    run_step(&r, a);
    assert_int_equal(r.res.exit_code, 0);
    harness_expect_line(&r, EXEC_STDOUT, 0, a->workdir);
    assert_false(has_name(&r, "WEIR_TEST_SECRET"));
    assert_false(has_name(&r, "LC_ALL"));
    expect_var(&r, "PATH", getenv("PATH"));
    expect_var(&r, "LANG", "C.UTF-8");
    expect_var(&r, "HOME", "/home/step"); /* the step's env: wins */
    expect_var(&r, "DATA_DIR", "/data/staging");
    expect_var(&r, "WEIR_RUN_ID", "r-1");
    expect_var(&r, "WEIR_DAG", "fraud-model");
    expect_var(&r, "WEIR_STEP", "train");
    expect_var(&r, "WEIR_TRY", "2");
    expect_var(&r, "WEIR_LOGICAL_TIME", "2024-05-01T02:00:00Z");
    expect_var(&r, "WEIR_ENV", "staging");
    expect_var(&r, "WEIR_INPUTS", a->inputs_path);
    expect_var(&r, "WEIR_TRIGGER", a->trigger_path);
    expect_var(&r, "WEIR_OUTPUTS", a->outputs_path);
    expect_var(&r, "WEIR_PARAM_DATASET_VERSION", "latest");
    expect_var(&r, "WEIR_PARAM_THRESHOLD", "0.85");
    expect_var(&r, "WEIR_PARAM_FLAG", "true");
    expect_var(&r, "WEIR_PARAM_COUNT", "3");
    expect_var(&r, "WEIR_PARAM_LIST", "[1,\"a\"]");
    expect_var(&r, "WEIR_PARAM_NOTHING", "");
    expect_var(&r, "WEIR_MATRIX_LR", "0.1");
    expect_var(&r, "WEIR_MATRIX_DEPTH", "5");
    assert_null(a->env[a->n_env]);
    harness_cleanup(&r);
    attempt_free(a);
    unsetenv("WEIR_TEST_SECRET");
    unsetenv("LC_ALL");
}

static void test_step_reads_inputs(void **state)
{
    const struct fixture *f = *state;
    struct attempt *a = prepare_ok(
        f, lease_cmd("cat \"$WEIR_INPUTS\"; echo; cat \"$WEIR_TRIGGER\""));
    struct hrun r;

    run_step(&r, a);
    assert_int_equal(r.res.exit_code, 0);
    harness_expect_line(&r, EXEC_STDOUT, 0, "{\"ingest\":{\"rows\":\"10\"}}");
    harness_expect_line(&r, EXEC_STDOUT, 1,
                        "{\"kind\":\"manual\",\"by\":\"test\"}");
    harness_cleanup(&r);
    attempt_free(a);
}

static void test_step_writes_outputs(void **state)
{
    const struct fixture *f = *state;
    struct attempt *a =
        prepare_ok(f, lease_cmd("echo model=m1 >> \"$WEIR_OUTPUTS\"; "
                                "printf 'notes<<EOF\\na\\nb\\nEOF\\n' "
                                ">> \"$WEIR_OUTPUTS\"; "
                                "echo model=m2 >> \"$WEIR_OUTPUTS\""));
    struct weir_err err = {0};
    cJSON *out = NULL;
    struct hrun r;

    run_step(&r, a);
    assert_int_equal(r.res.exit_code, 0);
    if (attempt_outputs_read(a, &out, &err) != 0)
        fail_msg("attempt_outputs_read: %s", err.msg);
    assert_int_equal(cJSON_GetArraySize(out), 2);
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(out, "model")->valuestring, "m2");
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(out, "notes")->valuestring, "a\nb");
    cJSON_Delete(out);
    harness_cleanup(&r);
    attempt_free(a);
}

static void test_outputs_error_keeps_exit_code(void **state)
{
    const struct fixture *f = *state;
    struct attempt *a =
        prepare_ok(f, lease_cmd("echo fine=1 >> \"$WEIR_OUTPUTS\"; "
                                "echo oops >> \"$WEIR_OUTPUTS\"; exit 4"));
    struct weir_err err = {0};
    cJSON *out = NULL;
    struct hrun r;

    run_step(&r, a);
    assert_int_equal(r.res.exit_code, 4);
    assert_int_equal(attempt_outputs_read(a, &out, &err), WEIR_EPARSE);
    assert_null(out);
    assert_non_null(strstr(err.msg, "line 2:"));
    harness_cleanup(&r);
    attempt_free(a);
}

static void test_folder_removed_without_following_links(void **state)
{
    const struct fixture *f = *state;
    char cmd[4 * PATH_MAX], keep[PATH_MAX], dir_copy[PATH_MAX];
    struct weir_err err = {0};
    struct attempt *a;
    struct hrun r;

    snprintf(cmd, sizeof(cmd),
             "d=$(dirname \"$WEIR_OUTPUTS\"); "
             "mkdir -p \"$d/x/y/z\" && echo data > \"$d/x/y/z/f\" && "
             "ln -s %s/keep \"$d/link\" && ln -s %s \"$d/x/dirlink\" && "
             "mkdir \"$d/locked\" && touch \"$d/locked/f\" && "
             "chmod 000 \"$d/locked\" && mkdir \"$d/ro\" && "
             "touch \"$d/ro/f\" && chmod 500 \"$d/ro\"",
             f->outside, f->outside);
    a = prepare_ok(f, lease_cmd(cmd));
    run_step(&r, a);
    assert_int_equal(r.res.exit_code, 0);
    snprintf(dir_copy, sizeof(dir_copy), "%s", a->dir);
    if (attempt_dir_remove(a, &err) != 0)
        fail_msg("attempt_dir_remove: %s", err.msg);
    assert_int_equal(access(dir_copy, F_OK), -1);
    assert_int_equal(entries_in(f->scratch), 0);
    path_set(keep, f->outside, "keep");
    expect_file(keep, "precious", 0600);
    assert_int_equal(entries_in(f->outside), 1);
    harness_cleanup(&r);
    attempt_free(a);
}

static void expect_refused(const struct fixture *f, cJSON *lease, int code,
                           const char *part)
{
    struct weir_err err = {0};
    struct attempt *a = (struct attempt *)&err; /* must stay untouched */

    assert_int_equal(attempt_prepare(lease, f->dags, f->scratch, &a, &err),
                     code);
    assert_ptr_equal(a, (struct attempt *)&err);
    if (strstr(err.msg, part) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, part);
    assert_int_equal(entries_in(f->scratch), 0); /* nothing left behind */
    cJSON_Delete(lease);
}

static void test_lease_refused(void **state)
{
    const struct fixture *f = *state;

    expect_refused(f, lease_with("attempt_id", NULL), WEIR_EINVAL,
                   "\"attempt_id\"");
    expect_refused(f, lease_with("lease_id", "[]"), WEIR_ETYPE,
                   "\"lease_id\" must be");
    expect_refused(f, lease_with("try", "0"), WEIR_ETYPE, "\"try\"");
    expect_refused(f, lease_with("try", "\"2\""), WEIR_ETYPE, "\"try\"");
    expect_refused(f, lease_with("command", NULL), WEIR_EINVAL,
                   "\"command\" is missing");
    expect_refused(f, lease_with("command", "5"), WEIR_ETYPE,
                   "\"command\" must be a string, got a number");
    expect_refused(f, lease_with("env", "{\"WEIR_X\": \"1\"}"), WEIR_EINVAL,
                   "\"WEIR_X\"");
    expect_refused(f, lease_with("env", "{\"bad-name\": \"1\"}"), WEIR_EINVAL,
                   "\"bad-name\"");
    expect_refused(f, lease_with("params", "{\"a\": 1, \"A\": 2}"), WEIR_EINVAL,
                   "differs only in case");
    expect_refused(f, lease_with("params", "{\"1x\": 1}"), WEIR_EINVAL,
                   "params name \"1x\"");
    expect_refused(f, lease_with("matrix", "[1]"), WEIR_ETYPE,
                   "\"matrix\" must be an object");
    expect_refused(f, lease_with("workdir", "\"missing\""), WEIR_ENOTFOUND,
                   "missing");
    expect_refused(f, lease_with("timeout_ms", "-1"), WEIR_ETYPE,
                   "\"timeout_ms\"");
    expect_refused(f, cJSON_CreateArray(), WEIR_ETYPE, "must be an object");
}

static void test_lease_forms(void **state)
{
    const struct fixture *f = *state;
    char *dags = realpath(f->dags, NULL), *outside = realpath(f->outside, NULL);
    char *sub = realpath(f->sub, NULL);
    struct attempt *a;
    cJSON *l;

    /* no workdir: the DAG folder; numeric ids; nulls where allowed */
    l = lease_with("workdir", NULL);
    cJSON_ReplaceItemInObjectCaseSensitive(l, "attempt_id",
                                           cJSON_CreateNumber(42));
    cJSON_ReplaceItemInObjectCaseSensitive(l, "environment",
                                           cJSON_CreateNull());
    cJSON_ReplaceItemInObjectCaseSensitive(l, "matrix", cJSON_CreateNull());
    cJSON_AddNumberToObject(l, "kill_grace_ms", 250);
    cJSON_DeleteItemFromObjectCaseSensitive(l, "inputs");
    a = prepare_ok(f, l);
    assert_string_equal(a->workdir, dags);
    assert_string_equal(a->attempt_id, "42");
    assert_string_equal(a->environment, "");
    assert_int_equal(a->kill_grace_ms, 250);
    expect_file(a->inputs_path, "{}", 0600);
    attempt_free(a);
    assert_int_equal(entries_in(f->scratch), 0); /* free removes the folder */

    /* relative to the DAG file's folder, and that folder by default */
    l = lease_with("dag_path", "\"sub/fraud.yaml\"");
    cJSON_DeleteItemFromObjectCaseSensitive(l, "workdir");
    cJSON_ReplaceItemInObjectCaseSensitive(l, "logical_time",
                                           cJSON_CreateNull());
    a = prepare_ok(f, l);
    assert_string_equal(a->workdir, sub);
    assert_string_equal(a->logical_time, "");
    attempt_free(a);
    l = lease_with("dag_path", "\"fraud.yaml\"");
    a = prepare_ok(f, l); /* workdir "sub" next to the file */
    assert_string_equal(a->workdir, sub);
    attempt_free(a);
    l = lease_with("dag_path", "\"sub/fraud.yaml\"");
    expect_refused(f, l, WEIR_ENOTFOUND, "sub/sub");

    /* an absolute workdir */
    l = lease_with("workdir", NULL);
    cJSON_AddStringToObject(l, "workdir", outside);
    a = prepare_ok(f, l);
    assert_string_equal(a->workdir, outside);
    attempt_free(a);
    free(dags);
    free(outside);
    free(sub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prepare_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_environment_seen_by_step, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_step_reads_inputs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_step_writes_outputs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_outputs_error_keeps_exit_code,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_folder_removed_without_following_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_forms, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
