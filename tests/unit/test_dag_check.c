/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every validation error of the DAG loader, one small document per case:
 * the exact message and the exact line:col it points at.
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

/* One step that is valid on its own, to complete a document. */
#define STEP "steps:\n  - id: a\n    run: echo\n"

/* An expected problem: where, and the message. */
struct want {
    int line;        /* 1-based line, 0 for "no place" */
    int col;         /* 1-based column */
    const char *msg; /* the exact message */
};

/* A document and the problems it must produce (all of them, in order). */
struct kase {
    const char *yaml;    /* the document */
    struct want want[4]; /* expected problems; msg NULL ends the list */
};

static void print_diags(const struct dag_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        print_message("  got %d:%d: %s\n", d->v[i].pos.line, d->v[i].pos.col,
                      d->v[i].msg);
}

static void run_case(const struct kase *k, size_t index)
{
    struct dag_diags d;
    struct dag *dag = NULL;
    size_t n = 0;
    int rc;

    while (n < 4 && k->want[n].msg != NULL)
        n++;
    dag_diags_init(&d);
    rc = dag_load("dags/t.yaml", k->yaml, strlen(k->yaml), &dag, &d);
    if (rc != WEIR_EINVAL || d.n != n) {
        print_message("case %zu: rc %d, %zu problems, wanted %zu:\n%s\n", index,
                      rc, d.n, n, k->yaml);
        print_diags(&d);
    }
    assert_int_equal(rc, WEIR_EINVAL);
    assert_null(dag);
    assert_int_equal(d.n, n);
    for (size_t i = 0; i < n; i++) {
        const struct dag_diag *g = &d.v[i];

        if (strcmp(g->msg, k->want[i].msg) != 0 ||
            g->pos.line != k->want[i].line || g->pos.col != k->want[i].col) {
            print_message("case %zu, problem %zu: wanted %d:%d: %s\n%s\n",
                          index, i, k->want[i].line, k->want[i].col,
                          k->want[i].msg, k->yaml);
            print_diags(&d);
        }
        assert_string_equal(g->msg, k->want[i].msg);
        assert_int_equal(g->pos.line, k->want[i].line);
        assert_int_equal(g->pos.col, k->want[i].col);
    }
    dag_diags_cleanup(&d);
}

static void run_cases(const struct kase *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        run_case(&v[i], i);
}

#define RUN(table) run_cases(table, sizeof(table) / sizeof(table[0]))

static void test_unknown_keys(void **state)
{
    static const struct kase cases[] = {
        {"dag: x\ndescriptoin: hi\n" STEP,
         {{2, 1,
           "unknown key \"descriptoin\" at the top level (did you mean "
           "\"description\"?)"}}},
        {"steps:\n  - id: a\n    run: echo\n  - id: train\n    neeeds: [a]\n"
         "    run: echo\n",
         {{5, 5,
           "unknown key \"neeeds\" in step \"train\" (did you mean "
           "\"needs\"?)"}}},
        {"defaults:\n  colour: red\n" STEP,
         {{2, 3,
           "unknown key \"colour\" in defaults (expected one of: retries, "
           "retry_delay, retry_backoff, max_retry_delay, timeout, queue, "
           "trigger_rule, cache, pool, pool_slots)"}}},
        {"triggers:\n  - cron: \"@daily\"\n    threshold: 3\n" STEP,
         {{3, 5, "\"threshold\" is not a key of a cron trigger"}}},
        {"triggers:\n  - event: e\n    wehn: x\n" STEP,
         {{3, 5,
           "unknown key \"wehn\" in an event trigger (did you mean "
           "\"when\"?)"}}},
        {"steps:\n  - id: a\n    approval: {mesage: hi}\n",
         {{3, 16,
           "unknown key \"mesage\" in the approval of step \"a\" (did you "
           "mean \"message\"?)"}}},
        {"environments:\n  dev: {queue: q, qeue: x}\n" STEP,
         {{2, 19,
           "unknown key \"qeue\" in environment \"dev\" (did you mean "
           "\"queue\"?)"}}},
        {"on_failure: {run: x, cmd: y}\n" STEP,
         {{1, 22,
           "unknown key \"cmd\" in on_failure (expected one of: run, "
           "webhook)"}}},
        {"steps:\n  - run: x\n    foo: 1\n",
         {{2, 5, "step 1 has no \"id\""},
          {3, 5, "unknown key \"foo\" in step 1"}}},
        {"? [a]\n: 1\n" STEP, {{1, 3, "a key must be a string, got a list"}}},
    };

    (void)state;
    RUN(cases);
}

static void test_types(void **state)
{
    static const struct kase cases[] = {
        {"defaults:\n  retries: three\n" STEP,
         {{2, 12, "\"retries\" must be a whole number >= 0, got \"three\""}}},
        {"steps:\n  - id: a\n    run: x\n  - id: b\n    run: x\n"
         "    needs: {a: 1}\n",
         {{6, 12, "\"needs\" must be a list of step ids, got a mapping"}}},
        {"steps:\n  - id: a\n    run: x\n    retries: 101\n",
         {{4, 14, "\"retries\" must be at most 100, got 101"}}},
        {"steps:\n  - id: a\n    run: x\n    retries: -1\n",
         {{4, 14, "\"retries\" must be a whole number >= 0, got -1"}}},
        {"steps:\n  - id: a\n    run: x\n    retries: 1.5\n",
         {{4, 14, "\"retries\" must be a whole number >= 0, got 1.5"}}},
        {"max_active_runs: 0\n" STEP,
         {{1, 18, "\"max_active_runs\" must be a whole number >= 1, got 0"}}},
        {"concurrency: -1\n" STEP,
         {{1, 14, "\"concurrency\" must be a whole number >= 1, got -1"}}},
        {"max_runs_per_day: 0\n" STEP,
         {{1, 19, "\"max_runs_per_day\" must be a whole number >= 1, got 0"}}},
        {"triggers:\n  - event: e\n    accumulate: event.payload.rows\n"
         "    threshold: 0\n" STEP,
         {{4, 16, "\"threshold\" must be a number > 0, got 0"}}},
        {"steps:\n  - id: a\n    run: x\n    retry_on_exit: [1, 256]\n",
         {{4, 24, "\"retry_on_exit\" must be at most 255, got 256"}}},
        {"steps:\n  - id: a\n    run: x\n    no_retry_on_exit: {a: 1}\n",
         {{4, 23,
           "\"no_retry_on_exit\" must be a list of exit codes (0 to 255), got "
           "a mapping"}}},
        {"triggers:\n  - cron: \"@daily\"\n    catchup: yes\n" STEP,
         {{3, 14, "\"catchup\" must be true or false, got \"yes\""}}},
        {"steps:\n  - id: a\n    run: x\n    retry_backoff: 0.5\n",
         {{4, 20,
           "\"retry_backoff\" must be a number from 1 to 100, got 0.5"}}},
        {"tags: {a: 1}\n" STEP,
         {{1, 7, "\"tags\" must be a list of strings, got a mapping"}}},
        {"steps:\n  - id: a\n    run: [echo]\n",
         {{3, 10, "\"run\" must be a string, got a list"}}},
        {"steps:\n  - id: a\n    run: \"\"\n",
         {{3, 10, "\"run\" must not be empty"}}},
        {"steps:\n  - id: a\n    run:\n",
         {{3, 9, "\"run\" must be a string, got null"}}},
        {"steps: {a: 1}\n",
         {{1, 8, "\"steps\" must be a list of steps, got a mapping"}}},
        {"params: [a]\n" STEP,
         {{1, 9,
           "\"params\" must be a mapping of param names to default values, "
           "got a list"}}},
        {"- a\n",
         {{1, 1,
           "a DAG file must be a mapping with keys such as \"dag\" and "
           "\"steps\", got a list"}}},
        {"steps:\n  - id: a\n    run: x\n    queue: gpu pool\n",
         {{4, 12,
           "\"queue\" must be a queue name of letters, digits, \"_\", \"-\" "
           "and \".\" (at most 64), got \"gpu pool\""}}},
        {"priority: hihg\n" STEP,
         {{1, 11,
           "\"priority\" must be one of low, normal, high, critical, got "
           "\"hihg\" (did you mean \"high\"?)"}}},
        {"steps:\n  - id: a\n    run: x\n    trigger_rule: none_faild\n",
         {{4, 19,
           "\"trigger_rule\" must be one of all_success, all_done, "
           "none_failed, one_failed, one_success, got \"none_faild\" (did "
           "you mean \"none_failed\"?)"}}},
    };

    (void)state;
    RUN(cases);
}

static void test_duplicates_and_ids(void **state)
{
    static const struct kase cases[] = {
        {"steps:\n  - id: a\n    run: x\n    run: y\n",
         {{4, 5, "duplicate key \"run\" (first at 3:5)"}}},
        {"params:\n  x: 1\n  x: 2\n" STEP,
         {{3, 3, "duplicate key \"x\" (first at 2:3)"}}},
        {"dag: a\ndag: b\n" STEP,
         {{2, 1, "duplicate key \"dag\" (first at 1:1)"}}},
        {"params:\n  x: {a: 1, a: 2}\n" STEP,
         {{2, 13, "duplicate key \"a\" (first at 2:7)"}}},
        {"steps:\n  - id: a\n    run: x\n    env: {A: 1, A: 2}\n",
         {{4, 17, "duplicate key \"A\" (first at 4:11)"}}},
        {"steps:\n  - id: Train\n    run: x\n",
         {{2, 9,
           "step id \"Train\" is not valid: use lowercase letters, digits, "
           "\"_\" and \"-\", starting with a letter or digit (at most 64)"}}},
        {"steps:\n  - id: "
         "a1234567890123456789012345678901234567890123456789012345678901234"
         "\n    run: x\n",
         {{2, 9,
           "step id "
           "\"a123456789012345678901234567890123456789012345678901234567890123"
           "...\" is not valid: use lowercase letters, digits, \"_\" and "
           "\"-\", starting with a letter or digit (at most 64)"}}},
        {"dag: Fraud\n" STEP,
         {{1, 6,
           "DAG id \"Fraud\" is not valid: use lowercase letters, digits, "
           "\"_\" and \"-\", starting with a letter or digit (at most 64)"}}},
        {"steps:\n  - id: train\n    run: x\n  - id: b\n    run: x\n"
         "  - id: train\n    run: y\n",
         {{6, 9, "duplicate step id \"train\" (first at 2:9)"}}},
        {"triggers:\n  - cron: \"@daily\"\n    id: Nightly\n" STEP,
         {{3, 9,
           "trigger id \"Nightly\" is not valid: use lowercase letters, "
           "digits, \"_\" and \"-\", starting with a letter or digit (at most "
           "64)"}}},
        {"triggers:\n  - {cron: \"@daily\", id: n}\n  - {event: e, id: "
         "n}\n" STEP,
         {{3, 6, "duplicate trigger id \"n\" (first at 2:6)"}}},
        {"schedule: \"@daily\"\ntriggers:\n  - cron: \"@daily\"\n" STEP,
         {{3, 5,
           "duplicate trigger \"cron:@daily\" (first at 1:1); give one of "
           "them an \"id\""}}},
    };

    (void)state;
    RUN(cases);
}

static void test_needs_and_cycles(void **state)
{
    static const struct kase cases[] = {
        {"steps:\n  - id: evaluate\n    run: x\n  - id: register\n"
         "    needs: [evaluate, evalute]\n    run: x\n",
         {{5, 23,
           "step \"register\" needs \"evalute\", which is not a step (did you "
           "mean \"evaluate\"?)"}}},
        {"steps:\n  - id: a\n    needs: a\n    run: x\n",
         {{3, 12, "step \"a\" needs itself"}}},
        {"steps:\n  - id: a\n    run: x\n  - id: b\n    needs: [a, a]\n"
         "    run: x\n",
         {{5, 16, "step \"b\" needs \"a\" more than once"}}},
        {"steps:\n  - id: a\n    needs: [[b]]\n    run: x\n",
         {{3, 13, "each entry of \"needs\" must be a step id, got a list"}}},
        {"steps:\n  - id: train\n    needs: evaluate\n    run: x\n"
         "  - id: evaluate\n    needs: train\n    run: x\n",
         {{2, 9, "cycle: train -> evaluate -> train"}}},
        /* a feeds b, b feeds c, c feeds a; d hangs below the cycle. */
        {"steps:\n  - id: b\n    needs: [a]\n    run: x\n"
         "  - id: a\n    needs: [c]\n    run: x\n"
         "  - id: c\n    needs: [b]\n    run: x\n"
         "  - id: d\n    needs: [c]\n    run: x\n",
         {{2, 9, "cycle: b -> c -> a -> b"}}},
        /* Two separate cycles: one report each. */
        {"steps:\n  - {id: a, needs: b, run: x}\n  - {id: b, needs: a, run: "
         "x}\n"
         "  - {id: c, needs: d, run: x}\n  - {id: d, needs: c, run: x}\n",
         {{2, 10, "cycle: a -> b -> a"}, {4, 10, "cycle: c -> d -> c"}}},
        /* One component with two cycles through its first step. */
        {"steps:\n  - {id: a, needs: [b, c], run: x}\n"
         "  - {id: b, needs: a, run: x}\n  - {id: c, needs: a, run: x}\n",
         {{2, 10, "cycle: a -> b -> a"}}},
    };

    (void)state;
    RUN(cases);
}

static void test_cron_tz_durations(void **state)
{
    static const struct kase cases[] = {
        {"triggers:\n  - cron: \"0 0 30 2 *\"\n" STEP,
         {{2, 16, "bad cron \"0 0 30 2 *\": day 30 never occurs in February"}}},
        {"schedule: 0 0 * * 8\n" STEP,
         {{1, 19,
           "bad cron \"0 0 * * 8\": day-of-week field: 8 is out of range "
           "0-7"}}},
        {"schedule: [a]\n" STEP,
         {{1, 11, "\"schedule\" must be a string, got a list"}}},
        {"timezone: America/Mexico\n" STEP,
         {{1, 11, "unknown time zone \"America/Mexico\""}}},
        {"steps:\n  - id: a\n    run: x\n    retry_delay: 10x\n",
         {{4, 18,
           "bad duration \"10x\" for \"retry_delay\": expected a unit (ms, "
           "s, m, h, d) after 10"}}},
        {"cooldown: [1h]\n" STEP,
         {{1, 11,
           "\"cooldown\" must be a duration such as \"30s\" or \"1h30m\", got "
           "a list"}}},
        {"steps:\n  - id: a\n    run: x\n    max_retry_delay: 5s\n",
         {{4, 22,
           "\"max_retry_delay\" (5s) must not be shorter than "
           "\"retry_delay\" (10s)"}}},
        {"defaults:\n  max_retry_delay: 1m\nsteps:\n  - id: a\n    run: x\n"
         "    retry_delay: 2m\n",
         {{6, 18,
           "\"retry_delay\" (2m) must not be longer than \"max_retry_delay\" "
           "(1m)"}}},
        {"defaults:\n  max_retry_delay: 5s\n" STEP,
         {{2, 20,
           "\"max_retry_delay\" (5s) must not be shorter than "
           "\"retry_delay\" (10s)"}}},
    };

    (void)state;
    RUN(cases);
}

static void test_expressions(void **state)
{
    static const struct kase cases[] = {
        {"steps:\n  - id: a\n    run: x\n    if: \"run.id == 1 &&\"\n",
         {{4, 24,
           "bad expression in \"if\": expected an operand after \"&&\""}}},
        {"triggers:\n  - event: e\n    when: parms.x == 1\n" STEP,
         {{3, 11, "unknown name \"parms.x\" (did you mean \"params.x\"?)"}}},
        {"params:\n  dataset_version: 1\nsteps:\n  - id: a\n"
         "    run: echo ${{ params.dataset_versoin }}\n",
         {{5, 19,
           "unknown param \"dataset_versoin\" (did you mean "
           "\"dataset_version\"?)"}}},
        {"steps:\n  - id: a\n    run: echo ${{ matrix.lr }}\n",
         {{3, 19, "matrix.lr: step \"a\" has no matrix"}}},
        {"steps:\n  - id: a\n    matrix: {lr: [1, 2]}\n"
         "    run: echo ${{ matrix.lrr }}\n",
         {{4, 19,
           "unknown name \"matrix.lrr\" (did you mean \"matrix.lr\"?)"}}},
        {"steps:\n  - id: deploy\n    run: x\n  - id: train\n    run: x\n"
         "  - id: ship\n    needs: deploy\n"
         "    run: echo ${{ steps.train.outputs.model }}\n",
         {{8, 19,
           "steps.train.outputs.model: \"train\" is not upstream of "
           "\"ship\""}}},
        {"steps:\n  - id: train\n    run: x\n  - id: ship\n    needs: train\n"
         "    if: steps.trian.outputs.x == 1\n",
         {{4, 5, "step \"ship\" needs \"run\" (a command) or \"approval\""},
          {6, 9,
           "steps.trian.outputs.x: \"trian\" is not a step (did you mean "
           "\"train\"?)"}}},
        {"steps:\n  - id: a\n    run: x\n    if: metric.value > 1\n",
         {{4, 9, "metric.value: only a metric trigger has a metric"}}},
        {"triggers:\n  - event: e\n    when: run.id == \"x\"\n" STEP,
         {{3, 11, "run.id: a trigger is evaluated before its run exists"}}},
        {"triggers:\n  - webhook: h\n    secret_env: S\n"
         "    when: steps.a.state == \"x\"\n" STEP,
         {{4, 11,
           "steps.a.state: a trigger is evaluated before any step "
           "runs"}}},
        {"steps:\n  - id: a\n    run: |\n      echo ${{ parms.x }}\n",
         {{3, 10, "unknown name \"parms.x\" (did you mean \"params.x\"?)"}}},
        {"steps:\n  - id: a\n    run: x\n    env:\n"
         "      A: \"x ${{ run.idd }}\"\n",
         {{5, 17, "unknown name \"run.idd\" (did you mean \"run.id\"?)"}}},
        {"steps:\n  - id: a\n    run: echo ${{ x\n",
         {{3, 15,
           "bad template in \"run\": unterminated \"${{\" (expected "
           "\"}}\")"}}},
        {"steps:\n  - id: a\n    run: x\n  - id: b\n    needs: a\n"
         "    run: echo ${{ steps.a.foo }}\n",
         {{6, 19,
           "steps.a.foo: expected steps.<id>.outputs.<key> or "
           "steps.<id>.state"}}},
        {"on_success: {run: \"echo ${{ steps.aa.state }}\"}\n" STEP,
         {{1, 29,
           "steps.aa.state: \"aa\" is not a step (did you mean \"a\"?)"}}},
        {"steps:\n  - id: a\n    run: echo `echo ${{ run.id }}`\n",
         {{3, 21,
           "bad template in \"run\": in ${{ run.id }}: a value cannot go "
           "inside `backquotes` in a shell command; put the ${{ }} "
           "outside them or pass the value through env:"}}},
        {"steps:\n  - id: a\n    run: |\n      cat <<EOF\n      ${{ run.id }}\n"
         "      EOF\n",
         {{3, 10,
           "bad template in \"run\": in ${{ run.id }}: a value cannot go "
           "inside a here-document in a shell command; put the ${{ }} "
           "outside them or pass the value through env:"}}},
        {"params: {n: 1}\nsteps:\n  - id: a\n"
         "    run: echo $(( ${{ params.n }} + 1 ))\n",
         {{4, 19,
           "bad template in \"run\": in ${{ params.n }}: a value cannot go "
           "inside $(( arithmetic )) in a shell command; put the ${{ }} "
           "outside them or pass the value through env:"}}},
        {"steps:\n  - id: a\n    run: x\n    workdir: /w/${{ evnt.name }}\n",
         {{4, 21,
           "unknown name \"evnt.name\" (did you mean \"event.name\"?)"}}},
    };

    (void)state;
    RUN(cases);
}

static void test_matrix(void **state)
{
    static const struct kase cases[] = {
        {"steps:\n  - id: a\n    run: x\n    matrix:\n      lr: []\n",
         {{5, 11,
           "matrix axis \"lr\" must be a non-empty list of values, got an "
           "empty list"}}},
        {"steps:\n  - id: a\n    run: x\n    matrix: {}\n",
         {{4, 13,
           "\"matrix\" must be a mapping of axis names to lists of values, "
           "got an empty mapping"}}},
        {"steps:\n  - id: train\n    run: x\n    matrix:\n"
         "      a: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
         "      b: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
         "      c: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]\n",
         {{4, 5, "matrix of \"train\" has 1200 cells; the limit is 1000"}}},
        {"steps:\n  - id: a\n    run: x\n    matrix:\n      lr: [[1]]\n",
         {{5, 12,
           "values of matrix axis \"lr\" must be strings, numbers or "
           "booleans, got a list"}}},
        {"steps:\n  - id: a\n    run: x\n    matrix:\n      learning-rate: "
         "[1]\n",
         {{5, 7,
           "matrix axis \"learning-rate\" is not valid: use letters, digits "
           "and \"_\", starting with a letter or \"_\""}}},
        {"steps:\n  - id: a\n    run: x\n    matrix:\n      x: [1, !!int "
         "abc]\n",
         {{5, 14,
           "bad value in matrix axis \"x\": the value is not a valid !!int"}}},
        {"steps:\n  - id: a\n    approval: true\n    matrix: {x: [1]}\n",
         {{4, 5, "an approval step cannot have a matrix"}}},
    };

    (void)state;
    RUN(cases);
}

static void test_steps_params_env(void **state)
{
    static const struct kase cases[] = {
        {"dag: x\n", {{1, 1, "a DAG needs at least one step"}}},
        {"dag: x\nsteps: []\n", {{2, 1, "a DAG needs at least one step"}}},
        {"steps:\n  - echo\n",
         {{2, 5,
           "each step must be a mapping with \"id\" and \"run\", got "
           "\"echo\""}}},
        {"params:\n  bad-name: 1\n" STEP,
         {{2, 3,
           "param name \"bad-name\" is not valid: use letters, digits and "
           "\"_\", starting with a letter or \"_\""}}},
        {"params:\n  reason: x\ntriggers:\n  - metric: m\n    below: 1\n"
         "    params: {reasn: y}\n" STEP,
         {{6, 14,
           "unknown param \"reasn\" in a metric trigger (did you mean "
           "\"reason\"?)"}}},
        {"steps:\n  - id: a\n    run: x\n    env:\n      1X: a\n",
         {{5, 7,
           "env name \"1X\" is not valid: use letters, digits and \"_\", "
           "starting with a letter or \"_\""}}},
        {"steps:\n  - id: a\n    run: x\n    env:\n      WEIR_X: a\n",
         {{5, 7,
           "env name \"WEIR_X\" is reserved: names starting with \"WEIR_\" "
           "are set by Weir"}}},
        {"steps:\n  - id: a\n    run: x\n    approval: true\n",
         {{4, 5,
           "step \"a\" has both \"run\" and \"approval\"; a step is either a "
           "command or an approval gate"}}},
        {"steps:\n  - id: a\n    approval: false\n",
         {{2, 5, "step \"a\" needs \"run\" (a command) or \"approval\""}}},
        {"steps:\n  - id: a\n    approval: yes\n",
         {{3, 15,
           "\"approval\" must be true or a mapping with \"message\", "
           "\"approvers\" or \"self_approve\", got \"yes\""}}},
        {"steps:\n  - id: a\n    approval: {approvers: ops}\n",
         {{3, 27,
           "in the approval of step \"a\", \"approvers\" must be a list of "
           "names or groups, got \"ops\""}}},
        {"steps:\n  - id: a\n    approval: {approvers: []}\n",
         {{3, 27,
           "in the approval of step \"a\", \"approvers\" is an empty list: "
           "name at least one name or group, or leave it out to let anyone "
           "allowed decide"}}},
        {"steps:\n  - id: a\n    approval:\n      approvers: [ops, \"\", "
         "bob, ops]\n",
         {{4, 24,
           "in the approval of step \"a\", an entry of \"approvers\" is "
           "empty: give a name or a group"},
          {4, 33,
           "in the approval of step \"a\", approver \"ops\" is listed twice "
           "(first at line 4, column 19)"}}},
        {"steps:\n  - id: a\n    approval: {approvers: [[x]]}\n",
         {{3, 28,
           "in the approval of step \"a\", each of \"approvers\" must be a "
           "name or a group (a string), got a list"}}},
        {"steps:\n  - id: a\n    approval: {approvers: [grup:x, \"user:\"]}\n",
         {{3, 28,
           "in the approval of step \"a\", approver \"grup:x\" has an "
           "unknown prefix \"grup:\" (did you mean \"group\"?): write "
           "\"user:NAME\" for a name, \"group:NAME\" for a group (a group "
           "whose name has a colon too)"},
          {3, 36,
           "in the approval of step \"a\", approver \"user:\" names no one: "
           "write the name after the colon"}}},
        {"steps:\n  - id: a\n    approval: {self_approve: 1}\n",
         {{3, 30, "\"self_approve\" must be true or false, got 1"}}},
        {"steps:\n  - id: a\n    approval: {aprovers: [x]}\n",
         {{3, 16,
           "unknown key \"aprovers\" in the approval of step \"a\" (did you "
           "mean \"approvers\"?)"}}},
    };

    (void)state;
    RUN(cases);
}

static void test_triggers_hooks_envs(void **state)
{
    static const struct kase cases[] = {
        {"triggers:\n  - priority: high\n" STEP,
         {{2, 5,
           "a trigger needs one of \"cron\", \"event\", \"metric\", \"file\", "
           "\"webhook\", \"after\" or \"data\""}}},
        {"triggers:\n  - cron: \"@daily\"\n    event: e\n" STEP,
         {{3, 5,
           "a trigger has one kind, but this one has \"cron\" and "
           "\"event\""}}},
        {"triggers:\n  - webhook: code-changed\n" STEP,
         {{2, 5,
           "a webhook trigger needs \"secret_env\" (the variable that holds "
           "its signing secret)"}}},
        {"triggers:\n  - webhook: Code\n    secret_env: 1S\n" STEP,
         {{2, 14,
           "webhook name \"Code\" is not valid: use lowercase letters, "
           "digits, \"_\" and \"-\", starting with a letter or digit (at most "
           "64)"},
          {3, 17,
           "\"secret_env\" must be an environment variable name (letters, "
           "digits and \"_\"), got \"1S\""}}},
        {"triggers:\n  - metric: m\n    for: 2\n" STEP,
         {{2, 5,
           "a metric trigger needs \"below\" or \"above\" (the line the value "
           "must cross)"}}},
        {"triggers:\n  - event: e\n    accumulate: event.payload.rows\n" STEP,
         {{3, 5,
           "\"accumulate\" needs \"threshold\" (the sum at which the trigger "
           "fires)"}}},
        {"triggers:\n  - event: e\n    threshold: 5\n" STEP,
         {{3, 5,
           "\"threshold\" needs \"accumulate\" (what to sum over matching "
           "events)"}}},
        {"triggers: {cron: x}\n" STEP,
         {{1, 11, "\"triggers\" must be a list of triggers, got a mapping"}}},
        {"triggers:\n  - \"@daily\"\n" STEP,
         {{2, 5,
           "each trigger must be a mapping such as {cron: \"0 2 * * *\"}, got "
           "\"@daily\""}}},
        {"on_failure: {run: x, webhook: \"https://x\"}\n" STEP,
         {{1, 22, "\"on_failure\" has both \"run\" and \"webhook\"; use one"}}},
        {"on_failure: {run: x}\nsteps:\n  - id: on_failure\n    run: x\n",
         {{3, 9,
           "step id \"on_failure\" is reserved for the step of the "
           "top-level \"on_failure\" hook; choose another id"}}},
        {"steps:\n  - {id: on_success, run: x}\n  - {id: b, run: x}\n",
         {{2, 10,
           "step id \"on_success\" is reserved for the step of the "
           "top-level \"on_success\" hook; choose another id"}}},
        {"on_failure: {run: x}\nsteps:\n  - {id: a, run: x}\n"
         "  - {id: b, needs: [a, on_failure], run: x}\n",
         {{4, 24,
           "step \"b\" needs \"on_failure\", the step of a hook, which "
           "runs after every other step"}}},
        {"on_failure: {run: x}\n"
         "on_success: {run: \"echo ${{ steps.on_failure.state }}\"}\n" STEP,
         {{2, 29,
           "steps.on_failure.state: \"on_failure\" is not upstream of "
           "\"on_success\""}}},
        {"on_failure: {run: \"echo ${{ matrix.k }}\"}\n" STEP,
         {{1, 29, "matrix.k: step \"on_failure\" has no matrix"}}},
        {"on_success: {}\n" STEP,
         {{1, 13, "\"on_success\" needs \"run\" or \"webhook\""}}},
        {"on_failure: {webhook: \"ftp://x\"}\n" STEP,
         {{1, 23,
           "\"webhook\" must be an http:// or https:// URL, got "
           "\"ftp://x\""}}},
        {"on_failure: ./notify.sh\n" STEP,
         {{1, 13,
           "\"on_failure\" must be a mapping with \"run\" or \"webhook\", got "
           "\"./notify.sh\""}}},
        {"environment: stagin\nenvironments:\n  staging: {}\n  prod: {}\n" STEP,
         {{1, 14,
           "environment \"stagin\" is not declared in \"environments\" (did "
           "you mean \"staging\"?)"}}},
    };

    (void)state;
    RUN(cases);
}

/* Environments (their names, params and gates) and artifacts (approval
 * settings, promotions). */
static void test_envs_artifacts(void **state)
{
    static const struct kase cases[] = {
        {"environment: prod\n" STEP,
         {{1, 14, "environment \"prod\" is not declared in \"environments\""}}},
        {"environments:\n  prod: {approve_before: [deplyo]}\n"
         "steps:\n  - id: deploy\n    run: x\n",
         {{2, 27,
           "\"approve_before\" of environment \"prod\" names \"deplyo\", which "
           "is not a step (did you mean \"deploy\"?)"}}},
        {"environments:\n  Prod: {}\n" STEP,
         {{2, 3,
           "environment name \"Prod\" is not valid: use lowercase letters, "
           "digits, \"_\" and \"-\", starting with a letter or digit (at most "
           "64)"}}},
        {"params: {x: 1}\nenvironments:\n  dev: {params: {y: 2}}\n" STEP,
         {{3, 18, "unknown param \"y\" in environment \"dev\""}}},
        {"artifacts:\n  model: {max_prd: 2}\n" STEP,
         {{2, 11,
           "unknown key \"max_prd\" in artifact \"model\" (did you mean "
           "\"max_prod\"?)"}}},
        {"artifacts:\n  model: {max_prod: 0}\n" STEP,
         {{2, 21, "\"max_prod\" must be a whole number >= 1, got 0"}}},
        {"artifacts:\n  -model: {}\n" STEP,
         {{2, 3,
           "artifact name \"-model\" is not valid: expected a letter or "
           "digit, then up to 127 letters, digits, '.', '_' or '-'"}}},
        {"artifacts: [model]\n" STEP,
         {{1, 12,
           "\"artifacts\" must be a mapping of artifact names to settings, "
           "got a list"}}},
        {"artifacts:\n  model: 3\n" STEP,
         {{2, 10,
           "artifact \"model\" must be a mapping of \"max_prod\", "
           "\"self_approve\", \"promote_from\" and \"approvers\", got 3"}}},
        {"artifacts:\n  model: {approvers: [a, a]}\n" STEP,
         {{2, 26,
           "in artifact \"model\", approver \"a\" is listed twice (first "
           "at line 2, column 23)"}}},
        {"environments:\n  prod: {approve_before: [a], approvers: x}\n" STEP,
         {{2, 42,
           "in environment \"prod\", \"approvers\" must be a list of names "
           "or groups, got \"x\""}}},
        {"environments:\n  prod: {self_approve: true}\n" STEP,
         {{2, 10,
           "in environment \"prod\", \"self_approve\" applies to the gates "
           "of \"approve_before\", and there are none"}}},
        {"artifacts:\n  model: {self_aprove: true}\n" STEP,
         {{2, 11,
           "unknown key \"self_aprove\" in artifact \"model\" (did you "
           "mean \"self_approve\"?)"}}},
        {"artifacts:\n  model: {self_approve: yes please}\n" STEP,
         {{2, 25,
           "\"self_approve\" must be true or false, got \"yes "
           "please\""}}},
        {"environments: {dev: {}, staging: {}}\n"
         "artifacts:\n  model: {promote_from: {prd: [staging]}}\n" STEP,
         {{3, 26,
           "\"promote_from stage\" must be one of dev, staging, prod, "
           "archived, got \"prd\" (did you mean \"prod\"?)"}}},
        {"environments: {dev: {}, staging: {}}\n"
         "artifacts:\n  model: {promote_from: {prod: [stagin]}}\n" STEP,
         {{3, 33,
           "promote_from: environment \"stagin\" is not declared in "
           "\"environments\" (did you mean \"staging\"?)"}}},
        {"environments: {dev: {}}\n"
         "artifacts:\n  model: {promote_from: {prod: dev}}\n" STEP,
         {{3, 32,
           "promote_from: stage \"prod\" takes a list of environment names, "
           "got \"dev\""}}},
        {"artifacts:\n  model: {promote_from: [prod]}\n" STEP,
         {{2, 25,
           "\"promote_from\" must be a mapping of stages to lists of "
           "environments, got a list"}}},
    };

    (void)state;
    RUN(cases);
}

/* Problems are all reported, sorted by position whatever the order in
 * which the checks found them. */
static void test_many_in_order(void **state)
{
    static const struct kase cases[] = {
        {"defaults:\n  retries: x\n"
         "triggers:\n  - cron: \"61 * * * *\"\n"
         "steps:\n  - id: a\n    needs: b\n    run: x\n"
         "dag: Bad\n",
         {{2, 12, "\"retries\" must be a whole number >= 0, got \"x\""},
          {4, 12,
           "bad cron \"61 * * * *\": minute field: 61 is out of range 0-59"},
          {7, 12, "step \"a\" needs \"b\", which is not a step"},
          {9, 6,
           "DAG id \"Bad\" is not valid: use lowercase letters, digits, \"_\" "
           "and \"-\", starting with a letter or digit (at most 64)"}}},
    };

    (void)state;
    RUN(cases);
}

static void test_too_many_steps(void **state)
{
    size_t cap = 64 + 40 * (DAG_MAX_STEPS + 1);
    char *y = malloc(cap);
    size_t o;
    struct dag_diags d;
    struct dag *dag = NULL;

    (void)state;
    assert_non_null(y);
    o = (size_t)snprintf(y, cap, "steps:\n");
    for (int i = 0; i <= DAG_MAX_STEPS; i++)
        o += (size_t)snprintf(y + o, cap - o, "  - {id: s%d, run: x}\n", i);
    dag_diags_init(&d);
    assert_int_equal(dag_load("t", y, o, &dag, &d), WEIR_EINVAL);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.v[0].msg,
                        "the DAG has 2001 steps; the limit is 2000");
    assert_int_equal(d.v[0].pos.line, 1);
    assert_int_equal(d.v[0].pos.col, 1);
    dag_diags_cleanup(&d);
    free(y);
}

/* Past DAG_MAX_DIAGS problems, the rest are dropped and flagged. */
static void test_diags_truncated(void **state)
{
    size_t cap = 64 + 40 * 150;
    char *y = malloc(cap);
    size_t o;
    struct dag_diags d;
    struct dag *dag = NULL;

    (void)state;
    assert_non_null(y);
    o = (size_t)snprintf(y, cap, "steps:\n");
    for (int i = 0; i < 150; i++)
        o += (size_t)snprintf(y + o, cap - o, "  - {id: S%d, run: x}\n", i);
    dag_diags_init(&d);
    assert_int_equal(dag_load("t", y, o, &dag, &d), WEIR_EINVAL);
    assert_int_equal(d.n, DAG_MAX_DIAGS);
    assert_true(d.truncated);
    assert_int_equal(d.v[0].pos.line, 2);
    assert_int_equal(d.v[99].pos.line, 101);
    dag_diags_cleanup(&d);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_duplicates_and_ids),
        cmocka_unit_test(test_needs_and_cycles),
        cmocka_unit_test(test_cron_tz_durations),
        cmocka_unit_test(test_expressions),
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_steps_params_env),
        cmocka_unit_test(test_triggers_hooks_envs),
        cmocka_unit_test(test_envs_artifacts),
        cmocka_unit_test(test_many_in_order),
        cmocka_unit_test(test_too_many_steps),
        cmocka_unit_test(test_diags_truncated),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
