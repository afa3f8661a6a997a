/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The approval policy (common/approvers.c) on DAGs the loader read: who
 * may approve or reject a gate or a promotion by `approvers:` and
 * `self_approve:`, and the refusals' messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "approvers.h"
#include "dag.h"

static const char yaml[] =
    "dag: pol\n"
    "environments:\n"
    "  prod:\n"
    "    approve_before: [ship]\n"
    "    approvers: [release]\n"
    "    self_approve: true\n"
    "artifacts:\n"
    "  model: {approvers: [ml-leads, carol]}\n"
    "steps:\n"
    "  - id: gate\n"
    "    approval:\n"
    "      message: go?\n"
    "      approvers: [release-managers, alice]\n"
    "  - id: open\n"
    "    approval: true\n"
    "  - id: self\n"
    "    approval: {approvers: [alice], self_approve: true}\n"
    "  - id: pref\n"
    "    approval: {approvers: [\"user:ops\", \"group:alice\", both, "
    "\"group:a:b\"]}\n"
    "  - id: ship\n"
    "    run: echo\n";

static struct dag *load(void)
{
    struct dag_diags diags;
    struct dag *d = NULL;
    int rc;

    dag_diags_init(&diags);
    rc = dag_load("pol.yaml", yaml, strlen(yaml), &d, &diags);
    if (rc != 0)
        dag_diags_print(&diags, "pol.yaml", stderr);
    assert_int_equal(rc, 0);
    dag_diags_cleanup(&diags);
    return d;
}

/* approval_check() of step id of d by name (with groups) against who
 * started; err gets the refusal. */
static int check_step(const struct dag *d, const char *id, const char *name,
                      const char *const *groups, size_t n, const char *started,
                      bool approve, struct weir_err *err)
{
    const struct dag_step *s = dag_step_get(d, id);
    struct approval_subject sub = {.what = "step \"gate\"",
                                   .approvers = &s->approvers,
                                   .self_approve = s->self_approve,
                                   .started_by = started,
                                   .allow_self = "approval: {self_approve: "
                                                 "true}"};
    struct approval_decider who = {name, groups, n};

    memset(err, 0, sizeof(*err));
    return approval_check(&sub, &who, approve, err);
}

static void test_loaded(void **state)
{
    struct dag *d = load();
    const struct dag_step *g = dag_step_get(d, "gate");
    const struct dag_artifact *a = dag_artifact_find(d, "model");

    (void)state;
    assert_int_equal(g->approvers.n, 2);
    assert_string_equal(g->approvers.names[0], "release-managers");
    assert_string_equal(g->approvers.names[1], "alice");
    assert_false(g->self_approve);
    assert_int_equal(dag_step_get(d, "open")->approvers.n, 0);
    assert_true(dag_step_get(d, "self")->self_approve);
    assert_int_equal(a->approvers.n, 2);
    assert_string_equal(a->approvers.names[1], "carol");
    assert_false(a->self_approve);
    assert_int_equal(d->environments[0].approvers.n, 1);
    assert_true(d->environments[0].self_approve);
    dag_free(d);
}

static void test_named_and_grouped(void **state)
{
    const char *const ops[] = {"ops", "release-managers"};
    const char *const other[] = {"ops"};
    struct dag *d = load();
    struct weir_err err;

    (void)state;
    assert_int_equal(check_step(d, "gate", "alice", NULL, 0, "", true, &err),
                     0);
    assert_int_equal(check_step(d, "gate", "dave", ops, 2, NULL, true, &err),
                     0);
    assert_int_equal(check_step(d, "gate", "bob", other, 1, "", true, &err),
                     WEIR_EFORBIDDEN);
    assert_string_equal(err.msg, "approvers of step \"gate\" are "
                                 "[release-managers, alice]; you are bob "
                                 "(groups ops)");
    assert_int_equal(check_step(d, "gate", "bob", NULL, 0, "", false, &err),
                     WEIR_EFORBIDDEN);
    assert_string_equal(err.msg, "approvers of step \"gate\" are "
                                 "[release-managers, alice]; you are bob "
                                 "(no groups)");
    /* no approvers: anyone the route lets in */
    assert_int_equal(check_step(d, "open", "bob", NULL, 0, "", true, &err), 0);
    dag_free(d);
}

/* "user:NAME" matches only a name, "group:NAME" only a group, a bare
 * entry either. */
static void test_prefixed(void **state)
{
    const char *const g_ops[] = {"ops"}, *const g_alice[] = {"alice"};
    const char *const g_both[] = {"both"}, *const g_ab[] = {"a:b"};
    struct dag *d = load();
    struct weir_err err;

    (void)state;
    assert_int_equal(check_step(d, "pref", "ops", NULL, 0, "", true, &err), 0);
    assert_int_equal(check_step(d, "pref", "bob", g_ops, 1, "", true, &err),
                     WEIR_EFORBIDDEN);
    /* a token named like a group is not in it */
    assert_int_equal(check_step(d, "pref", "alice", NULL, 0, "", true, &err),
                     WEIR_EFORBIDDEN);
    assert_int_equal(check_step(d, "pref", "bob", g_alice, 1, "", true, &err),
                     0);
    assert_int_equal(check_step(d, "pref", "both", NULL, 0, "", true, &err), 0);
    assert_int_equal(check_step(d, "pref", "bob", g_both, 1, "", true, &err),
                     0);
    assert_int_equal(check_step(d, "pref", "bob", g_ab, 1, "", true, &err), 0);
    assert_int_equal(check_step(d, "pref", "a:b", NULL, 0, "", true, &err),
                     WEIR_EFORBIDDEN);
    dag_free(d);
}

static void test_self(void **state)
{
    struct dag *d = load();
    struct weir_err err;

    (void)state;
    assert_int_equal(
        check_step(d, "gate", "alice", NULL, 0, "alice", true, &err),
        WEIR_EFORBIDDEN);
    assert_string_equal(err.msg,
                        "you (alice) started this run; step \"gate\" does "
                        "not allow self approval (approval: {self_approve: "
                        "true} allows it)");
    /* who started may always reject, listed or not */
    assert_int_equal(
        check_step(d, "gate", "alice", NULL, 0, "alice", false, &err), 0);
    assert_int_equal(check_step(d, "gate", "bob", NULL, 0, "bob", false, &err),
                     0);
    assert_int_equal(check_step(d, "open", "bob", NULL, 0, "bob", true, &err),
                     WEIR_EFORBIDDEN);
    assert_int_equal(
        check_step(d, "self", "alice", NULL, 0, "alice", true, &err), 0);
    dag_free(d);
}

static void test_retried(void **state)
{
    struct dag *d = load();
    const struct dag_step *s = dag_step_get(d, "open");
    struct approval_subject sub = {.what = "step \"open\"",
                                   .approvers = &s->approvers,
                                   .started_by = "",
                                   .retried_by = "carol",
                                   .allow_self = "x"};
    struct approval_decider carol = {"carol", NULL, 0};
    struct approval_decider dave = {"dave", NULL, 0};
    struct weir_err err = {0};

    (void)state;
    assert_int_equal(approval_check(&sub, &carol, true, &err), WEIR_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "you (carol) retried this run"));
    assert_int_equal(approval_check(&sub, &dave, true, &err), 0);
    dag_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loaded),
        cmocka_unit_test(test_named_and_grouped),
        cmocka_unit_test(test_prefixed),
        cmocka_unit_test(test_self),
        cmocka_unit_test(test_retried),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
