/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the worker's guard with real processes: this test binary is
 * its own guard (argv[1] GUARD_ARG runs guard_main, as weir-worker does).
 * Closing the pipe as a dying worker would, the guard stops the steps
 * still recorded, grandchildren included, and only those.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guard.h"
#include "harness.h"

/* The pid a step wrote to its stdout's first line. */
static int first_pid(const struct hrun *r)
{
    const struct hline *l = harness_line(r, EXEC_STDOUT, 0);

    return l != NULL ? atoi(l->text) : 0;
}

/* A process in a group of its own, as the executor makes a step: a
 * stand-in for a step's group that outlives what the guard was told. Its
 * output goes nowhere, so that a failed test does not leave it holding
 * the pipes of whoever runs the test. */
static pid_t group_spawn(void)
{
    char *argv[] = {"sleep", "300", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    pid_t pid = 0;

    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    for (int fd = 0; fd < 3; fd++)
        assert_int_equal(
            posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", O_RDWR, 0),
            0);
    assert_int_equal(posix_spawnattr_init(&at), 0);
    assert_int_equal(posix_spawnattr_setpgroup(&at, 0), 0);
    assert_int_equal(posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP), 0);
    assert_int_equal(posix_spawnp(&pid, "sleep", &fa, &at, argv, environ), 0);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

/* The signal that ended pid: our SIGKILL, unless something signalled it
 * first (a fatal signal ends it as it is sent, so a SIGTERM of the guard
 * before ours is what waitpid reports). */
static int group_end(pid_t pid)
{
    int status = 0;

    kill(-pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    return WTERMSIG(status);
}

/* A step leaves the guard's watch when it is over: a finished step is
 * not signalled, a running one and its grandchild are. */
static void test_guard_stops_recorded_groups(void **state)
{
    struct exec_spec spec = harness_spec("true");
    struct weir_err err = {0};
    struct hrun live, done;
    int grandchild;
    pid_t over;

    (void)state;
    assert_int_equal(guard_start(&err), 0);
    /* a step that ends before the guard is told to stop */
    harness_init(&done);
    harness_run(&done, &spec);
    assert_int_equal(done.res.exit_code, 0);
    harness_cleanup(&done);
    /* the records the executor makes for a step that is over, for a
     * group that is still there to be signalled */
    over = group_spawn();
    guard_watch(over, 200);
    guard_unwatch(over);
    /* a step still running when the "worker" goes */
    harness_init(&live);
    spec.command = "sleep 300 & echo $!; wait";
    spec.kill_grace_ms = 200;
    if (harness_start(&live, &spec, &err) != 0)
        fail_msg("exec_start: %s", err.msg);
    while (first_pid(&live) == 0)
        uv_run(&live.loop, UV_RUN_ONCE);
    grandchild = first_pid(&live);
    assert_true(grandchild > 0);
    guard_stop(); /* EOF, as when the worker dies; returns once it exited */
    harness_wait(&live);
    assert_true(live.done);
    assert_int_equal(live.res.term_signal, SIGTERM);
    assert_false(live.res.canceled);
    assert_true(harness_pid_gone(grandchild));
    harness_cleanup(&live);
    /* the guard has exited: the group it was told is over got nothing */
    assert_int_equal(kill(over, 0), 0);
    assert_int_equal(group_end(over), SIGKILL);
}

/* Without a guard, records go nowhere and steps run as ever. */
static void test_no_guard(void **state)
{
    struct exec_spec spec = harness_spec("echo hi");
    struct hrun r;

    (void)state;
    guard_watch(12345, 0);
    guard_unwatch(12345);
    harness_init(&r);
    harness_run(&r, &spec);
    assert_int_equal(r.res.exit_code, 0);
    harness_cleanup(&r);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_guard),
        cmocka_unit_test(test_guard_stops_recorded_groups),
    };

    if (argc == 2 && strcmp(argv[1], GUARD_ARG) == 0)
        return guard_main();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
