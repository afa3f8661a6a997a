/* SPDX-License-Identifier: Apache-2.0 */
/* The background thread of common/bgthread.c: rounds, waits, wake, stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "bgthread.h"

#define LONG_WAIT_MS 600000 /* a wait no test may sit out */

struct counter {
    atomic_int rounds;  /* rounds run */
    int64_t wait_ms;    /* what each round returns */
    pthread_mutex_t mu; /* guards cv's predicate (rounds) */
    pthread_cond_t cv;  /* signalled after each round */
};

static int64_t count_round(void *arg)
{
    struct counter *c = arg;

    pthread_mutex_lock(&c->mu);
    atomic_fetch_add(&c->rounds, 1);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return c->wait_ms;
}

/* Wait (at most 30 s) until c has run at least n rounds. */
static bool rounds_reach(struct counter *c, int n)
{
    struct timespec until;
    bool ok;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&c->mu);
    while (atomic_load(&c->rounds) < n &&
           pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
        ;
    ok = atomic_load(&c->rounds) >= n;
    pthread_mutex_unlock(&c->mu);
    return ok;
}

static void counter_init(struct counter *c, int64_t wait_ms)
{
    atomic_init(&c->rounds, 0);
    c->wait_ms = wait_ms;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

static void counter_fini(struct counter *c)
{
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

/* The first round runs at once, and rounds repeat after short waits. */
static void test_rounds_repeat(void **state)
{
    struct counter c;
    struct bgthread *t = NULL;
    struct weir_err err = {0};

    (void)state;
    counter_init(&c, 1);
    assert_int_equal(bgthread_start("test-rounds", count_round, &c, &t, &err),
                     0);
    assert_true(rounds_reach(&c, 5));
    bgthread_stop(t);
    counter_fini(&c);
}

/* A wake ends a long wait: the next round runs without sitting it out. */
static void test_wake_ends_the_wait(void **state)
{
    struct counter c;
    struct bgthread *t = NULL;
    struct weir_err err = {0};

    (void)state;
    counter_init(&c, LONG_WAIT_MS);
    assert_int_equal(bgthread_start("test-wake", count_round, &c, &t, &err), 0);
    assert_true(rounds_reach(&c, 1));
    bgthread_wake(t);
    assert_true(rounds_reach(&c, 2));
    bgthread_stop(t);
    assert_int_equal(atomic_load(&c.rounds), 2);
    counter_fini(&c);
}

/* A stop during a long wait returns (the test would hang otherwise) and
 * runs no further round. */
static void test_stop_in_a_long_wait(void **state)
{
    struct counter c;
    struct bgthread *t = NULL;
    struct weir_err err = {0};

    (void)state;
    counter_init(&c, LONG_WAIT_MS);
    assert_int_equal(bgthread_start("test-stop", count_round, &c, &t, &err), 0);
    assert_true(rounds_reach(&c, 1));
    bgthread_stop(t);
    assert_int_equal(atomic_load(&c.rounds), 1);
    bgthread_stop(NULL); /* a no-op */
    counter_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rounds_repeat),
        cmocka_unit_test(test_wake_ends_the_wait),
        cmocka_unit_test(test_stop_in_a_long_wait),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
