/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The loader's after and data triggers: what a valid document gives (the
 * upstream DAG, the state, when:, the dataset, their JSON), and each
 * error with its exact message and line:col.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dag.h"
#include "dag_load_assert.h"

#define STEP "steps:\n  - id: a\n    run: echo\n"

struct kase {
    const char *yaml; /* the document */
    int line, col;    /* where its one problem is */
    const char *msg;  /* the exact message */
};

static void print_diags(const struct dag_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        print_message("  got %d:%d: %s\n", d->v[i].pos.line, d->v[i].pos.col,
                      d->v[i].msg);
}

static void run_case(const struct kase *k)
{
    struct dag_diags d;
    struct dag *dag = NULL;
    int rc;

    dag_diags_init(&d);
    rc = dag_load("t.yaml", k->yaml, strlen(k->yaml), &dag, &d);
    if (rc != WEIR_EINVAL || d.n != 1 || strcmp(d.v[0].msg, k->msg) != 0 ||
        d.v[0].pos.line != k->line || d.v[0].pos.col != k->col) {
        print_message("wanted %d:%d: %s\n%s\n", k->line, k->col, k->msg,
                      k->yaml);
        print_diags(&d);
    }
    assert_int_equal(rc, WEIR_EINVAL);
    assert_null(dag);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.v[0].msg, k->msg);
    assert_int_equal(d.v[0].pos.line, k->line);
    assert_int_equal(d.v[0].pos.col, k->col);
    dag_diags_cleanup(&d);
}

static void test_valid(void **state)
{
    struct dag *d = load_ok(
        "dag: down\ntriggers:\n"
        "  - after: {dag: ingest-customers, state: failed}\n"
        "    when: run.outputs.load.rows > 10 && run.params.region == \"eu\"\n"
        "    priority: high\n"
        "  - after: ingest\n"
        "  - id: both\n    after: {dag: ingest, state: any}\n"
        "  - data: dataset.customers\n"
        "    when: event.payload.version != \"v0\"\n" STEP);
    const struct dag_trigger *t = d->triggers;
    cJSON *j = dag_to_json(d), *tj;
    char *text;

    (void)state;
    assert_int_equal(d->n_triggers, 4);
    assert_int_equal(t[0].kind, DAG_TRIG_AFTER);
    assert_string_equal(t[0].target, "ingest-customers");
    assert_int_equal(t[0].after_state, DAG_AFTER_FAILED);
    assert_string_equal(t[0].key, "after:ingest-customers");
    assert_non_null(t[0].when);
    assert_true(t[0].has_priority);
    assert_int_equal(t[1].kind, DAG_TRIG_AFTER);
    assert_string_equal(t[1].target, "ingest");
    assert_int_equal(t[1].after_state, DAG_AFTER_SUCCESS);
    assert_string_equal(t[2].key, "both");
    assert_int_equal(t[2].after_state, DAG_AFTER_ANY);
    assert_int_equal(t[3].kind, DAG_TRIG_DATA);
    assert_string_equal(t[3].target, "dataset.customers");
    assert_string_equal(t[3].key, "data:dataset.customers");
    assert_string_equal(dag_trigger_kind_name(DAG_TRIG_AFTER), "after");
    assert_string_equal(dag_trigger_kind_name(DAG_TRIG_DATA), "data");
    assert_string_equal(dag_after_state_name(DAG_AFTER_ANY), "any");
    tj = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "triggers"), 0);
    text = cJSON_PrintUnformatted(cJSON_GetObjectItem(tj, "after"));
    assert_string_equal(text, "{\"dag\":\"ingest-customers\",\"state\":"
                              "\"failed\"}");
    cJSON_free(text);
    tj = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "triggers"), 3);
    assert_string_equal(cJSON_GetObjectItem(tj, "data")->valuestring,
                        "dataset.customers");
    cJSON_Delete(j);
    dag_free(d);
}

static void test_errors(void **state)
{
    static const struct kase cases[] = {
        {"triggers:\n  - after: {dag: up, stat: any}\n" STEP, 2, 22,
         "unknown key \"stat\" in \"after\" (did you mean \"state\"?)"},
        {"triggers:\n  - after: {dag: up, state: sucess}\n" STEP, 2, 29,
         "\"state\" must be one of success, failed, any, got \"sucess\" "
         "(did you mean \"success\"?)"},
        {"triggers:\n  - after: {state: any}\n" STEP, 2, 12,
         "\"after\" needs \"dag\" (the id of the DAG whose runs it follows)"},
        {"triggers:\n  - after: {dag: Up!}\n" STEP, 2, 18,
         "\"Up!\" is not a DAG id: use lowercase letters, digits, \"_\" and "
         "\"-\", starting with a letter or digit (at most 64)"},
        {"triggers:\n  - after: [up]\n" STEP, 2, 12,
         "\"after\" must be a mapping such as {dag: ingest, state: "
         "success}, got a list"},
        {"triggers:\n  - after: up\n    when: run.stat == \"x\"\n" STEP, 3, 11,
         "unknown name \"run.stat\" (an after trigger sees run.id, run.dag, "
         "run.state, run.params.NAME, run.outputs.STEP.KEY) (did you mean "
         "\"run.state\"?)"},
        {"triggers:\n  - after: up\n    when: run.outputs.x == 1\n" STEP, 3, 11,
         "\"run.outputs.x\": expected run.outputs.STEP.KEY"},
        {"triggers:\n  - after: up\n    when: steps.a.state == 1\n" STEP, 3, 11,
         "unknown name \"steps.a.state\": an after trigger's \"when\" sees "
         "the upstream run: run.id, run.dag, run.state, run.params.NAME, "
         "run.outputs.STEP.KEY"},
        {"triggers:\n  - after: up\n    stable: 1s\n" STEP, 3, 5,
         "\"stable\" is not a key of an after trigger"},
        {"triggers:\n  - data: \"bad name\"\n" STEP, 2, 11,
         "dataset name \"bad name\" is not valid: use 1-128 letters, "
         "digits, \".\", \"-\" and \"_\", starting with a letter or digit"},
        {"triggers:\n  - data: d.x\n    when: run.id == 1\n" STEP, 3, 11,
         "run.id: a trigger is evaluated before its run exists"},
        {"triggers:\n  - data: d.x\n    after: up\n" STEP, 3, 5,
         "a trigger has one kind, but this one has \"data\" and \"after\""},
        {"triggers:\n  - after: up\n  - after: {dag: up, state: any}\n" STEP, 3,
         5,
         "duplicate trigger \"after:up\" (first at 2:5); give one of them "
         "an \"id\""},
        {"triggers:\n  - {priority: high}\n" STEP, 2, 5,
         "a trigger needs one of \"cron\", \"event\", \"metric\", \"file\", "
         "\"webhook\", \"after\" or \"data\""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
