/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the executor with real processes: exit codes and signals,
 * line capture on both streams, long and large output, timeouts and
 * cancellation of whole process groups, and pipes held open after exit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

/* Run command with the default spec and return the finished run. */
static void run_simple(struct hrun *r, const char *command)
{
    struct exec_spec spec = harness_spec(command);

    harness_init(r);
    harness_run(r, &spec);
}

static void expect_plain_exit(const struct hrun *r, int64_t code)
{
    assert_int_equal(r->res.exit_code, code);
    assert_int_equal(r->res.term_signal, 0);
    assert_false(r->res.timed_out);
    assert_false(r->res.canceled);
    assert_false(r->res.output_cut);
}

static void test_exit_zero(void **state)
{
    struct hrun r;

    (void)state;
    run_simple(&r, "exit 0");
    expect_plain_exit(&r, 0);
    assert_int_equal(r.n_lines, 0);
    assert_true(r.res.start_ms >= r.wall_before);
    assert_true(r.res.start_ms <= r.wall_after);
    assert_true(r.res.duration_ms < 5000);
    harness_cleanup(&r);
}

static void test_exit_three(void **state)
{
    struct hrun r;

    (void)state;
    run_simple(&r, "exit 3");
    expect_plain_exit(&r, 3);
    harness_cleanup(&r);
}

static void test_signal_death(void **state)
{
    struct hrun r;

    (void)state;
    run_simple(&r, "echo before; kill -KILL $$; echo after");
    assert_int_equal(r.res.term_signal, SIGKILL);
    assert_int_equal(r.res.exit_code, -1);
    assert_false(r.res.timed_out);
    assert_false(r.res.canceled);
    assert_int_equal(r.n_lines, 1);
    harness_expect_line(&r, EXEC_STDOUT, 0, "before");
    harness_cleanup(&r);
}

static void test_streams_and_order(void **state)
{
    struct hrun r;

    (void)state;
    run_simple(&r, "echo a; echo b >&2; echo c; echo d >&2; echo e; "
                   "printf 'f\\n' >&2");
    expect_plain_exit(&r, 0);
    assert_int_equal(r.count[EXEC_STDOUT], 3);
    assert_int_equal(r.count[EXEC_STDERR], 3);
    harness_expect_line(&r, EXEC_STDOUT, 0, "a");
    harness_expect_line(&r, EXEC_STDOUT, 1, "c");
    harness_expect_line(&r, EXEC_STDOUT, 2, "e");
    harness_expect_line(&r, EXEC_STDERR, 0, "b");
    harness_expect_line(&r, EXEC_STDERR, 1, "d");
    harness_expect_line(&r, EXEC_STDERR, 2, "f");
    for (size_t i = 0; i < r.n_lines; i++) {
        assert_true(r.lines[i].time_ms >= r.wall_before);
        assert_true(r.lines[i].time_ms <= r.wall_after);
        if (i > 0 && r.lines[i].stream == r.lines[i - 1].stream)
            assert_true(r.lines[i].time_ms >= r.lines[i - 1].time_ms);
    }
    harness_cleanup(&r);
}

static void test_time_is_arrival(void **state)
{
    struct hrun r;
    int64_t gap;

    (void)state;
    run_simple(&r, "echo first; sleep 0.3; echo second");
    expect_plain_exit(&r, 0);
    assert_int_equal(r.n_lines, 2);
    gap = r.lines[1].time_ms - r.lines[0].time_ms;
    if (gap < 250 || gap > 3000)
        fail_msg("lines 0.3 s apart were stamped %lld ms apart",
                 (long long)gap);
    harness_cleanup(&r);
}

static void test_partial_last_line(void **state)
{
    struct hrun r;

    (void)state;
    run_simple(&r, "printf 'one\\ntwo'; printf 'err\\n\\nlast' >&2");
    expect_plain_exit(&r, 0);
    assert_int_equal(r.count[EXEC_STDOUT], 2);
    harness_expect_line(&r, EXEC_STDOUT, 0, "one");
    harness_expect_line(&r, EXEC_STDOUT, 1, "two");
    assert_int_equal(r.count[EXEC_STDERR], 3);
    harness_expect_line(&r, EXEC_STDERR, 0, "err");
    harness_expect_line(&r, EXEC_STDERR, 1, "");
    harness_expect_line(&r, EXEC_STDERR, 2, "last");
    harness_cleanup(&r);
}

static void expect_run_of(const struct hrun *r, size_t i, char ch, size_t len)
{
    const struct hline *l = harness_line(r, EXEC_STDOUT, i);

    assert_non_null(l);
    assert_int_equal(l->len, len);
    for (size_t k = 0; k < len; k++)
        if (l->text[k] != ch)
            fail_msg("line %zu byte %zu: 0x%02x", i, k, l->text[k] & 0xff);
}

static void test_long_line_split(void **state)
{
    struct hrun r;

    (void)state;
    /* 200000 bytes: three full pieces and the rest, then a normal line */
    run_simple(&r, "head -c 200000 /dev/zero | tr '\\0' a; echo; echo next");
    expect_plain_exit(&r, 0);
    assert_int_equal(r.count[EXEC_STDOUT], 5);
    expect_run_of(&r, 0, 'a', EXEC_LINE_MAX);
    expect_run_of(&r, 1, 'a', EXEC_LINE_MAX);
    expect_run_of(&r, 2, 'a', EXEC_LINE_MAX);
    expect_run_of(&r, 3, 'a', 200000 - 3 * EXEC_LINE_MAX);
    harness_expect_line(&r, EXEC_STDOUT, 4, "next");
    harness_cleanup(&r);
}

static void test_line_of_exactly_max(void **state)
{
    struct hrun r;

    (void)state;
    /* a line exactly EXEC_LINE_MAX long is one line, not a piece and "" */
    run_simple(&r, "head -c 65536 /dev/zero | tr '\\0' b; echo; echo x");
    assert_int_equal(r.count[EXEC_STDOUT], 2);
    expect_run_of(&r, 0, 'b', EXEC_LINE_MAX);
    harness_expect_line(&r, EXEC_STDOUT, 1, "x");
    harness_cleanup(&r);
}

static void test_cut_keeps_utf8_whole(void **state)
{
    struct hrun r;

    (void)state;
    /* a two-byte character straddles the cut: it moves to the next piece */
    run_simple(&r, "head -c 65535 /dev/zero | tr '\\0' a; "
                   "printf '\\303\\251z\\n'");
    assert_int_equal(r.count[EXEC_STDOUT], 2);
    expect_run_of(&r, 0, 'a', EXEC_LINE_MAX - 1);
    harness_expect_line(&r, EXEC_STDOUT, 1, "\xc3\xa9z");
    harness_cleanup(&r);
}

static void test_bytes_passed_through(void **state)
{
    struct hrun r;

    (void)state;
    run_simple(&r, "printf 'a\\377\\376b\\n'; printf 'x\\000y\\n'");
    assert_int_equal(r.count[EXEC_STDOUT], 2);
    harness_expect_line(&r, EXEC_STDOUT, 0,
                        "a\xff\xfe"
                        "b");
    assert_int_equal(r.lines[1].len, 3);
    assert_memory_equal(r.lines[1].text, "x\0y", 3);
    harness_cleanup(&r);
}

/* Check every line of `yes 0123456789` as it comes, keeping none. */
static void check_digits(struct hrun *r, const struct hline *l)
{
    if (l->len != 10 || memcmp(l->text, "0123456789", 10) != 0) {
        size_t *bad = r->user;

        /* only the cut-off last line may differ */
        if (!(l->len == 5 && memcmp(l->text, "01234", 5) == 0))
            (*bad)++;
    }
}

static void test_large_output(void **state)
{
    struct exec_spec spec = harness_spec("yes 0123456789 | head -c 5000000");
    size_t bad = 0;
    struct hrun r;

    (void)state;
    harness_init(&r);
    r.keep = false;
    r.on_line = check_digits;
    r.user = &bad;
    harness_run(&r, &spec);
    expect_plain_exit(&r, 0);
    /* 454545 lines of 11 bytes, then "01234" without a newline */
    assert_int_equal(r.count[EXEC_STDOUT], 454546);
    assert_int_equal(r.bytes[EXEC_STDOUT] + 454545, 5000000);
    assert_int_equal(bad, 0);
    harness_cleanup(&r);
}

static void test_stdin_is_empty(void **state)
{
    struct hrun r;

    (void)state;
    run_simple(&r, "cat; echo done");
    expect_plain_exit(&r, 0);
    assert_int_equal(r.n_lines, 1);
    harness_expect_line(&r, EXEC_STDOUT, 0, "done");
    harness_cleanup(&r);
}

static void test_cwd_and_env_as_given(void **state)
{
    char dir[] = "/tmp/weir-test-cwd-XXXXXX";
    char *const env[] = {"PATH=/usr/bin:/bin", "ONLY=this", NULL};
    struct exec_spec spec = harness_spec("pwd; env | sort");
    char *real;
    struct hrun r;

    (void)state;
    assert_non_null(mkdtemp(dir));
    real = realpath(dir, NULL);
    assert_non_null(real);
    spec.cwd = dir;
    spec.env = env;
    harness_init(&r);
    harness_run(&r, &spec);
    expect_plain_exit(&r, 0);
    harness_expect_line(&r, EXEC_STDOUT, 0, real);
    for (size_t i = 1; i < r.n_lines; i++) {
        const char *t = r.lines[i].text;

        /* the shell may add PWD, SHLVL and _ of its own */
        if (strncmp(t, "PWD=", 4) == 0 || strncmp(t, "SHLVL=", 6) == 0 ||
            strncmp(t, "_=", 2) == 0 || strncmp(t, "OLDPWD=", 7) == 0)
            continue;
        if (strcmp(t, "ONLY=this") != 0 && strcmp(t, "PATH=/usr/bin:/bin") != 0)
            fail_msg("unexpected variable %s", t);
    }
    harness_cleanup(&r);
    free(real);
    assert_int_equal(rmdir(dir), 0);
}

static void test_spawn_failure(void **state)
{
    struct exec_spec spec = harness_spec("echo never");
    struct weir_err err = {0};
    struct hrun r;

    (void)state;
    spec.cwd = "/nonexistent/weir-test";
    harness_init(&r);
    assert_int_equal(harness_start(&r, &spec, &err), WEIR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/weir-test"));
    assert_null(r.exec);
    harness_wait(&r);
    assert_false(r.done);
    harness_cleanup(&r); /* the loop closes: the handles were released */
}

/* The first line of a run, as a pid. */
static int first_line_pid(const struct hrun *r)
{
    const struct hline *l = harness_line(r, EXEC_STDOUT, 0);

    assert_non_null(l);
    return atoi(l->text);
}

static void test_timeout_kills_grandchild(void **state)
{
    struct exec_spec spec =
        harness_spec("sleep 100 & echo $!; echo started; sleep 100");
    struct hrun r;
    int pid;

    (void)state;
    spec.timeout_ms = 300;
    spec.kill_grace_ms = 5000;
    harness_init(&r);
    harness_run(&r, &spec);
    assert_true(r.res.timed_out);
    assert_false(r.res.canceled);
    assert_int_equal(r.res.term_signal, SIGTERM);
    assert_true(r.res.duration_ms >= 300);
    assert_true(r.res.duration_ms < 5000); /* SIGTERM did it, not SIGKILL */
    harness_expect_line(&r, EXEC_STDOUT, 1, "started");
    pid = first_line_pid(&r);
    assert_true(pid > 1);
    assert_true(harness_pid_gone(pid));
    harness_cleanup(&r);
}

static void test_sigterm_ignored_gets_sigkill(void **state)
{
    struct exec_spec spec = harness_spec("trap '' TERM; echo ready; sleep 100");
    struct hrun r;

    (void)state;
    spec.timeout_ms = 300;
    spec.kill_grace_ms = 300;
    harness_init(&r);
    harness_run(&r, &spec);
    harness_expect_line(&r, EXEC_STDOUT, 0, "ready");
    assert_true(r.res.timed_out);
    assert_int_equal(r.res.term_signal, SIGKILL);
    assert_int_equal(r.res.exit_code, -1);
    assert_true(r.res.duration_ms >= 600);
    assert_true(r.res.duration_ms < 5000);
    harness_cleanup(&r);
}

/* Cancel (twice) as soon as the command says it started. */
static void cancel_on_started(struct hrun *r, const struct hline *l)
{
    if (l->len == 7 && memcmp(l->text, "started", 7) == 0) {
        exec_cancel(r->exec);
        exec_cancel(r->exec);
    }
}

static void test_cancel(void **state)
{
    struct exec_spec spec =
        harness_spec("sleep 100 & echo $!; echo started; sleep 100");
    struct hrun r;

    (void)state;
    harness_init(&r);
    r.on_line = cancel_on_started;
    harness_run(&r, &spec);
    assert_true(r.res.canceled);
    assert_false(r.res.timed_out);
    assert_int_equal(r.res.term_signal, SIGTERM);
    assert_true(r.res.duration_ms < 5000);
    assert_true(harness_pid_gone(first_line_pid(&r)));
    harness_cleanup(&r);
}

static void test_grandchild_holding_pipe(void **state)
{
    struct exec_spec spec =
        harness_spec("sleep 30 & echo $!; echo parent-done");
    struct hrun r;

    (void)state;
    spec.linger_ms = 300;
    harness_init(&r);
    harness_run(&r, &spec);
    assert_int_equal(r.res.exit_code, 0);
    assert_int_equal(r.res.term_signal, 0);
    assert_true(r.res.output_cut);
    assert_true(r.wall_after - r.wall_before >= 300);
    assert_true(r.wall_after - r.wall_before < 5000);
    harness_expect_line(&r, EXEC_STDOUT, 1, "parent-done");
    assert_true(harness_pid_gone(first_line_pid(&r)));
    harness_cleanup(&r);
}

static void test_late_output_within_linger(void **state)
{
    struct exec_spec spec =
        harness_spec("(sleep 0.2; echo late; echo late-err >&2) & echo early");
    struct hrun r;

    (void)state;
    spec.linger_ms = 3000;
    harness_init(&r);
    harness_run(&r, &spec);
    expect_plain_exit(&r, 0);
    harness_expect_line(&r, EXEC_STDOUT, 0, "early");
    harness_expect_line(&r, EXEC_STDOUT, 1, "late");
    harness_expect_line(&r, EXEC_STDERR, 0, "late-err");
    harness_cleanup(&r);
}

static void cancel_timer_cb(uv_timer_t *t)
{
    struct hrun *r = t->data;

    exec_cancel(r->exec);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_cancel_while_lingering(void **state)
{
    struct exec_spec spec = harness_spec("sleep 30 & echo $!; exit 5");
    uv_timer_t t;
    struct hrun r;

    (void)state;
    spec.linger_ms = 8000;
    harness_init(&r);
    assert_int_equal(uv_timer_init(&r.loop, &t), 0);
    t.data = &r;
    assert_int_equal(uv_timer_start(&t, cancel_timer_cb, 300, 0), 0);
    harness_run(&r, &spec);
    /* the command had exited by itself: its status stands */
    assert_int_equal(r.res.exit_code, 5);
    assert_false(r.res.canceled);
    assert_true(r.res.output_cut);
    assert_true(r.wall_after - r.wall_before < 5000);
    assert_true(harness_pid_gone(first_line_pid(&r)));
    harness_cleanup(&r);
}

static void test_leftovers_killed_at_completion(void **state)
{
    struct hrun r;

    (void)state;
    run_simple(&r, "sleep 30 >/dev/null 2>&1 & echo $!");
    expect_plain_exit(&r, 0);
    assert_true(harness_pid_gone(first_line_pid(&r)));
    harness_cleanup(&r);
}

static void test_several_on_one_loop(void **state)
{
    struct exec_spec a = harness_spec("echo one; exit 1");
    struct exec_spec b = harness_spec("sleep 0.1; echo two >&2; exit 2");
    struct weir_err err = {0};
    struct hrun r1, r2;

    (void)state;
    harness_init(&r1);
    harness_init(&r2);
    /* both on r1's loop; r2 only collects */
    assert_int_equal(exec_start(&r1.loop, &a, harness_line_cb, harness_done_cb,
                                &r1, &r1.exec, &err),
                     0);
    assert_int_equal(exec_start(&r1.loop, &b, harness_line_cb, harness_done_cb,
                                &r2, &r2.exec, &err),
                     0);
    assert_int_not_equal(exec_pid(r1.exec), exec_pid(r2.exec));
    harness_wait(&r1);
    assert_true(r1.done && r2.done);
    assert_int_equal(r1.res.exit_code, 1);
    assert_int_equal(r2.res.exit_code, 2);
    harness_expect_line(&r1, EXEC_STDOUT, 0, "one");
    harness_expect_line(&r2, EXEC_STDERR, 0, "two");
    harness_cleanup(&r1);
    harness_cleanup(&r2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_zero),
        cmocka_unit_test(test_exit_three),
        cmocka_unit_test(test_signal_death),
        cmocka_unit_test(test_streams_and_order),
        cmocka_unit_test(test_time_is_arrival),
        cmocka_unit_test(test_partial_last_line),
        cmocka_unit_test(test_long_line_split),
        cmocka_unit_test(test_line_of_exactly_max),
        cmocka_unit_test(test_cut_keeps_utf8_whole),
        cmocka_unit_test(test_bytes_passed_through),
        cmocka_unit_test(test_large_output),
        cmocka_unit_test(test_stdin_is_empty),
        cmocka_unit_test(test_cwd_and_env_as_given),
        cmocka_unit_test(test_spawn_failure),
        cmocka_unit_test(test_timeout_kills_grandchild),
        cmocka_unit_test(test_sigterm_ignored_gets_sigkill),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_grandchild_holding_pipe),
        cmocka_unit_test(test_late_output_within_linger),
        cmocka_unit_test(test_cancel_while_lingering),
        cmocka_unit_test(test_leftovers_killed_at_completion),
        cmocka_unit_test(test_several_on_one_loop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
