/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the work hub (server/engine/hub.c) with real threads: a
 * waiter wakes on a bump made after it read the generation, a bump made
 * before it waits is not missed, the deadline returns, a close wakes
 * every waiter, the last-seen throttle of workers, and the bump hook
 * (local bumps call it, remote ones do not). The bounds are
 * wide (seconds) so that a loaded machine does not fail them; what they
 * tell apart is a wake-up against a sleep to the deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <time.h>

#include "engine/hub.h"

#define LONG_MS  20000 /* a deadline no wake-up test may reach */
#define WOKEN_MS 5000  /* a wake-up comes well within this */

/* One thread in hub_wait(). */
struct waiter {
    struct hub *h;      /* the hub */
    uint64_t gen;       /* the generation it read */
    int64_t deadline;   /* its deadline, hub_now_ms() based */
    bool woken;         /* what hub_wait() returned */
    int64_t waited_ms;  /* how long hub_wait() took */
    pthread_t thread;   /* the thread */
    pthread_mutex_t mu; /* guards started */
    bool started;       /* the thread is about to wait */
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    int64_t t0;

    pthread_mutex_lock(&w->mu);
    w->started = true;
    pthread_mutex_unlock(&w->mu);
    t0 = hub_now_ms();
    w->woken = hub_wait(w->h, w->gen, w->deadline);
    w->waited_ms = hub_now_ms() - t0;
    return NULL;
}

/* Start a waiter on h that read the generation gen, and give it time to
 * block in hub_wait(). */
static void waiter_start(struct waiter *w, struct hub *h, uint64_t gen,
                         int64_t timeout_ms)
{
    bool started = false;

    *w = (struct waiter){.h = h, .gen = gen};
    w->deadline = hub_now_ms() + timeout_ms;
    pthread_mutex_init(&w->mu, NULL);
    assert_int_equal(pthread_create(&w->thread, NULL, waiter_main, w), 0);
    while (!started) {
        sleep_ms(5);
        pthread_mutex_lock(&w->mu);
        started = w->started;
        pthread_mutex_unlock(&w->mu);
    }
    sleep_ms(100); /* from "about to wait" to asleep in the condvar */
}

static void waiter_join(struct waiter *w)
{
    assert_int_equal(pthread_join(w->thread, NULL), 0);
    pthread_mutex_destroy(&w->mu);
}

/* The bump comes after the waiter read the generation and went to
 * sleep: it wakes at once, long before its deadline. */
static void test_bump_wakes_waiter(void **state)
{
    struct hub *h = hub_new();
    struct waiter w;

    (void)state;
    assert_non_null(h);
    waiter_start(&w, h, hub_generation(h), LONG_MS);
    hub_bump(h);
    waiter_join(&w);
    assert_true(w.woken);
    assert_in_range(w.waited_ms, 0, WOKEN_MS);
    hub_free(h);
}

/* The bump comes between the read of the generation and the wait (a
 * commit while the waiter's claim found nothing): the wait returns at
 * once instead of sleeping to its deadline. */
static void test_bump_before_wait_not_missed(void **state)
{
    struct hub *h = hub_new();
    uint64_t gen;
    int64_t t0;

    (void)state;
    assert_non_null(h);
    gen = hub_generation(h);
    hub_bump(h);
    assert_int_not_equal(hub_generation(h), gen);
    t0 = hub_now_ms();
    assert_true(hub_wait(h, gen, t0 + LONG_MS));
    assert_in_range(hub_now_ms() - t0, 0, WOKEN_MS);
    /* with the new generation it sleeps again: bumps are not counted */
    gen = hub_generation(h);
    t0 = hub_now_ms();
    assert_false(hub_wait(h, gen, t0 + 50));
    hub_free(h);
}

/* Without a bump the wait returns false at its deadline, not before. */
static void test_deadline_returns(void **state)
{
    struct hub *h = hub_new();
    int64_t t0, dt;

    (void)state;
    assert_non_null(h);
    t0 = hub_now_ms();
    assert_false(hub_wait(h, hub_generation(h), t0 + 300));
    dt = hub_now_ms() - t0;
    assert_in_range(dt, 300, WOKEN_MS);
    /* a deadline already past returns at once */
    t0 = hub_now_ms();
    assert_false(hub_wait(h, hub_generation(h), t0 - 1000));
    assert_in_range(hub_now_ms() - t0, 0, WOKEN_MS);
    hub_free(h);
}

/* One bump wakes every waiter (the broadcast), and a close wakes them
 * for good: a wait after the close returns at once. */
static void test_bump_and_close_wake_all(void **state)
{
    struct hub *h = hub_new();
    struct waiter w[3];
    uint64_t gen;

    (void)state;
    assert_non_null(h);
    gen = hub_generation(h);
    for (size_t i = 0; i < 3; i++)
        waiter_start(&w[i], h, gen, LONG_MS);
    hub_bump(h);
    for (size_t i = 0; i < 3; i++) {
        waiter_join(&w[i]);
        assert_true(w[i].woken);
        assert_in_range(w[i].waited_ms, 0, WOKEN_MS);
    }
    gen = hub_generation(h);
    for (size_t i = 0; i < 3; i++)
        waiter_start(&w[i], h, gen, LONG_MS);
    assert_false(hub_closed(h));
    hub_close(h);
    assert_true(hub_closed(h));
    for (size_t i = 0; i < 3; i++) {
        waiter_join(&w[i]);
        assert_true(w[i].woken);
        assert_in_range(w[i].waited_ms, 0, WOKEN_MS);
    }
    assert_true(hub_wait(h, hub_generation(h), hub_now_ms() + LONG_MS));
    hub_free(h);
}

/* A worker's last-seen time is due once per interval, again after a
 * forget, and each worker on its own. */
static void test_worker_seen_due(void **state)
{
    struct hub *h = hub_new();

    (void)state;
    assert_non_null(h);
    assert_true(hub_worker_seen_due(h, 1, LONG_MS));
    assert_false(hub_worker_seen_due(h, 1, LONG_MS));
    assert_true(hub_worker_seen_due(h, 2, LONG_MS));
    assert_false(hub_worker_seen_due(h, 2, LONG_MS));
    hub_worker_seen_forget(h, 1);
    assert_true(hub_worker_seen_due(h, 1, LONG_MS));
    assert_false(hub_worker_seen_due(h, 2, LONG_MS));
    /* past the interval it is due again */
    sleep_ms(60);
    assert_true(hub_worker_seen_due(h, 2, 50));
    assert_false(hub_worker_seen_due(h, 2, LONG_MS));
    hub_worker_seen_forget(h, 99);          /* unknown: nothing happens */
    for (int64_t id = 100; id < 5000; id++) /* past the table's size */
        assert_true(hub_worker_seen_due(h, id, LONG_MS));
    hub_free(h);
    hub_free(NULL);
}

static void count_cb(void *arg)
{
    (*(int *)arg)++;
}

/* A local bump calls the hook, a remote one wakes waiters without it,
 * and a cleared hook is not called again. */
static void test_bump_hook(void **state)
{
    struct hub *h = hub_new();
    struct waiter w;
    int calls = 0;

    (void)state;
    assert_non_null(h);
    hub_bump(h); /* no hook yet */
    hub_set_bump_hook(h, count_cb, &calls);
    hub_bump(h);
    hub_bump(h);
    assert_int_equal(calls, 2);
    waiter_start(&w, h, hub_generation(h), LONG_MS);
    hub_bump_remote(h);
    waiter_join(&w);
    assert_true(w.woken);
    assert_in_range(w.waited_ms, 0, WOKEN_MS);
    assert_int_equal(calls, 2);
    hub_set_bump_hook(h, NULL, NULL);
    hub_bump(h);
    assert_int_equal(calls, 2);
    hub_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bump_wakes_waiter),
        cmocka_unit_test(test_bump_before_wait_not_missed),
        cmocka_unit_test(test_deadline_returns),
        cmocka_unit_test(test_bump_and_close_wake_all),
        cmocka_unit_test(test_worker_seen_due),
        cmocka_unit_test(test_bump_hook),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
