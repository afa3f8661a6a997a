/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the server's run, task and attempt state machines
 * (server/engine/state.c). The allowed transitions are written out here
 * once more, from docs/architecture.md, and every pair of states is
 * checked against them: each allowed one is accepted, every other one
 * refused with a message naming both states.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/state.h"

/* One allowed transition, by the names stored in the database. */
struct edge {
    const char *from; /* the state left */
    const char *to;   /* the state reached */
};

static const struct edge run_edges[] = {
    {"queued", "running"},   {"queued", "canceled"},  {"running", "success"},
    {"running", "failed"},   {"running", "canceled"}, {"success", "running"},
    {"success", "queued"},   {"failed", "running"},   {"failed", "queued"},
    {"canceled", "running"}, {"canceled", "queued"},
};

static const struct edge task_edges[] = {
    {"pending", "queued"},
    {"pending", "skipped"},
    {"pending", "upstream_failed"},
    {"pending", "failed"},
    {"pending", "awaiting_approval"},
    {"pending", "canceled"},
    {"queued", "running"},
    {"queued", "canceled"},
    {"running", "success"},
    {"running", "failed"},
    {"running", "up_for_retry"},
    {"running", "canceled"},
    {"up_for_retry", "running"},
    {"up_for_retry", "queued"},
    {"up_for_retry", "canceled"},
    {"awaiting_approval", "queued"},
    {"awaiting_approval", "skipped"},
    {"awaiting_approval", "failed"},
    {"awaiting_approval", "canceled"},
    {"awaiting_approval", "success"},
    {"success", "pending"},
    {"failed", "pending"},
    {"skipped", "pending"},
    {"upstream_failed", "pending"},
    {"canceled", "pending"},
};

static const struct edge attempt_edges[] = {
    {"running", "success"},  {"running", "failed"},    {"running", "lost"},
    {"running", "canceled"}, {"running", "timed_out"},
};

static bool allowed(const struct edge *edges, size_t n, const char *from,
                    const char *to)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(edges[i].from, from) == 0 && strcmp(edges[i].to, to) == 0)
            return true;
    return false;
}

/* The message of a refused transition of entity `what`. */
static void expect_refused(const struct weir_err *err, int rc, const char *what,
                           const char *from, const char *to)
{
    char want[256];

    snprintf(want, sizeof(want), "illegal %s transition %s -> %s", what, from,
             to);
    assert_int_equal(rc, WEIR_EINTERNAL);
    assert_int_equal(err->code, WEIR_EINTERNAL);
    assert_string_equal(err->msg, want);
}

static void test_names_round_trip(void **state)
{
    struct weir_err err = {0};

    (void)state;
    for (int s = 0; s < RUN_STATE_COUNT; s++) {
        enum run_state got = RUN_STATE_COUNT;

        assert_int_equal(
            run_state_parse(run_state_name((enum run_state)s), &got, &err), 0);
        assert_int_equal(got, s);
    }
    for (int s = 0; s < TASK_STATE_COUNT; s++) {
        enum task_state got = TASK_STATE_COUNT;

        assert_int_equal(
            task_state_parse(task_state_name((enum task_state)s), &got, &err),
            0);
        assert_int_equal(got, s);
    }
    for (int s = 0; s < ATTEMPT_STATE_COUNT; s++) {
        enum attempt_state got = ATTEMPT_STATE_COUNT;

        assert_int_equal(
            attempt_state_parse(attempt_state_name((enum attempt_state)s), &got,
                                &err),
            0);
        assert_int_equal(got, s);
    }
    /* the names the CHECK constraints of migrations/ hold */
    assert_string_equal(task_state_name(TASK_UP_FOR_RETRY), "up_for_retry");
    assert_string_equal(task_state_name(TASK_AWAITING_APPROVAL),
                        "awaiting_approval");
    assert_string_equal(attempt_state_name(ATTEMPT_TIMED_OUT), "timed_out");
    assert_string_equal(run_state_name(RUN_STATE_COUNT), "?");
}

static void test_unknown_names(void **state)
{
    struct weir_err err = {0};
    enum run_state r = RUN_RUNNING;
    enum task_state t = TASK_RUNNING;
    enum attempt_state a = ATTEMPT_RUNNING;

    (void)state;
    assert_int_equal(run_state_parse("Running", &r, &err), WEIR_EINVAL);
    assert_string_equal(err.msg, "unknown run state \"Running\"");
    assert_int_equal(r, RUN_RUNNING); /* untouched on failure */
    assert_int_equal(task_state_parse("retry", &t, &err), WEIR_EINVAL);
    assert_string_equal(err.msg, "unknown task state \"retry\"");
    assert_int_equal(t, TASK_RUNNING);
    assert_int_equal(attempt_state_parse(NULL, &a, &err), WEIR_EINVAL);
    assert_string_equal(err.msg, "unknown attempt state \"(null)\"");
    assert_int_equal(a, ATTEMPT_RUNNING);
}

static void test_run_transitions(void **state)
{
    size_t n = sizeof(run_edges) / sizeof(run_edges[0]), accepted = 0;

    (void)state;
    for (int f = 0; f < RUN_STATE_COUNT; f++) {
        for (int t = 0; t < RUN_STATE_COUNT; t++) {
            const char *from = run_state_name((enum run_state)f);
            const char *to = run_state_name((enum run_state)t);
            struct weir_err err = {0};
            int rc =
                state_run_change(7, (enum run_state)f, (enum run_state)t, &err);

            if (allowed(run_edges, n, from, to)) {
                assert_int_equal(rc, 0);
                assert_int_equal(err.code, 0);
                accepted++;
            } else {
                expect_refused(&err, rc, "run", from, to);
            }
        }
    }
    assert_int_equal(accepted, n); /* every listed edge names real states */
}

static void test_task_transitions(void **state)
{
    size_t n = sizeof(task_edges) / sizeof(task_edges[0]), accepted = 0;

    (void)state;
    for (int f = 0; f < TASK_STATE_COUNT; f++) {
        for (int t = 0; t < TASK_STATE_COUNT; t++) {
            const char *from = task_state_name((enum task_state)f);
            const char *to = task_state_name((enum task_state)t);
            struct weir_err err = {0};
            int rc = state_task_change(7, 8, 1, (enum task_state)f,
                                       (enum task_state)t, &err);

            if (allowed(task_edges, n, from, to)) {
                assert_int_equal(rc, 0);
                accepted++;
            } else {
                expect_refused(&err, rc, "task", from, to);
            }
        }
    }
    assert_int_equal(accepted, n);
}

static void test_attempt_transitions(void **state)
{
    size_t n = sizeof(attempt_edges) / sizeof(attempt_edges[0]), accepted = 0;

    (void)state;
    for (int f = 0; f < ATTEMPT_STATE_COUNT; f++) {
        for (int t = 0; t < ATTEMPT_STATE_COUNT; t++) {
            const char *from = attempt_state_name((enum attempt_state)f);
            const char *to = attempt_state_name((enum attempt_state)t);
            struct weir_err err = {0};
            int rc = state_attempt_change(7, 8, 1, 9, (enum attempt_state)f,
                                          (enum attempt_state)t, &err);

            if (allowed(attempt_edges, n, from, to)) {
                assert_int_equal(rc, 0);
                accepted++;
            } else {
                expect_refused(&err, rc, "attempt", from, to);
            }
        }
    }
    assert_int_equal(accepted, n);
}

/* A value outside the enum (a corrupt row, a caller's bug) is refused,
 * never used as a table index. */
static void test_out_of_range(void **state)
{
    struct weir_err err = {0};

    (void)state;
    expect_refused(&err,
                   state_run_change(1, RUN_STATE_COUNT, RUN_RUNNING, &err),
                   "run", "?", "running");
    expect_refused(&err,
                   state_run_change(1, RUN_QUEUED, (enum run_state) - 1, &err),
                   "run", "queued", "?");
    expect_refused(
        &err, state_task_change(1, 2, 1, TASK_PENDING, TASK_STATE_COUNT, &err),
        "task", "pending", "?");
    expect_refused(&err,
                   state_attempt_change(1, 2, 1, 3, ATTEMPT_STATE_COUNT,
                                        ATTEMPT_SUCCESS, &err),
                   "attempt", "?", "success");
}

static void test_terminal(void **state)
{
    (void)state;
    assert_false(run_state_terminal(RUN_QUEUED));
    assert_false(run_state_terminal(RUN_RUNNING));
    assert_true(run_state_terminal(RUN_SUCCESS));
    assert_true(run_state_terminal(RUN_FAILED));
    assert_true(run_state_terminal(RUN_CANCELED));

    assert_false(task_state_terminal(TASK_PENDING));
    assert_false(task_state_terminal(TASK_QUEUED));
    assert_false(task_state_terminal(TASK_RUNNING));
    assert_false(task_state_terminal(TASK_UP_FOR_RETRY));
    assert_false(task_state_terminal(TASK_AWAITING_APPROVAL));
    assert_true(task_state_terminal(TASK_SUCCESS));
    assert_true(task_state_terminal(TASK_FAILED));
    assert_true(task_state_terminal(TASK_SKIPPED));
    assert_true(task_state_terminal(TASK_UPSTREAM_FAILED));
    assert_true(task_state_terminal(TASK_CANCELED));
}

/* A terminal task or run leaves its state only for a retry (back to
 * pending, or running/queued for a run); nothing else follows it. */
static void test_terminal_leaves_only_by_retry(void **state)
{
    (void)state;
    for (int f = 0; f < TASK_STATE_COUNT; f++) {
        if (!task_state_terminal((enum task_state)f))
            continue;
        for (int t = 0; t < TASK_STATE_COUNT; t++) {
            struct weir_err err = {0};
            int rc = state_task_change(1, 2, 1, (enum task_state)f,
                                       (enum task_state)t, &err);

            assert_int_equal(rc == 0, t == TASK_PENDING);
        }
    }
    for (int f = 0; f < RUN_STATE_COUNT; f++) {
        if (!run_state_terminal((enum run_state)f))
            continue;
        for (int t = 0; t < RUN_STATE_COUNT; t++) {
            struct weir_err err = {0};
            int rc =
                state_run_change(1, (enum run_state)f, (enum run_state)t, &err);

            assert_int_equal(rc == 0, t == RUN_RUNNING || t == RUN_QUEUED);
        }
    }
    /* a finished attempt is final: a retry makes a new attempt */
    for (int f = ATTEMPT_SUCCESS; f < ATTEMPT_STATE_COUNT; f++) {
        for (int t = 0; t < ATTEMPT_STATE_COUNT; t++) {
            struct weir_err err = {0};

            assert_int_equal(state_attempt_change(1, 2, 1, 3,
                                                  (enum attempt_state)f,
                                                  (enum attempt_state)t, &err),
                             WEIR_EINTERNAL);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_unknown_names),
        cmocka_unit_test(test_run_transitions),
        cmocka_unit_test(test_task_transitions),
        cmocka_unit_test(test_attempt_transitions),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_terminal),
        cmocka_unit_test(test_terminal_leaves_only_by_retry),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
