/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The work hub: how a commit that makes tasks claimable reaches the
 * workers waiting in a long-poll lease. A generation counter under a
 * mutex: a waiter reads the generation, tries its claim, and if nothing
 * was claimable sleeps until the generation moves past what it read (or
 * its deadline), so a bump between its claim and its sleep is never
 * missed. Bumps coalesce: waiters re-claim, they do not count wake-ups.
 */
#ifndef WEIR_HUB_H
#define WEIR_HUB_H

#include <stdbool.h>
#include <stdint.h>

struct hub;

/* A new hub; NULL when out of memory. */
struct hub *hub_new(void);

/* Free it; no thread may wait on it any more. hub_free(NULL) is a no-op. */
void hub_free(struct hub *h);

/* The current generation, read before a claim. */
uint64_t hub_generation(struct hub *h);

/* Something became claimable (or its time changed): wake every waiter. */
void hub_bump(struct hub *h);

/*
 * Sleep until the generation differs from gen, the hub is closed, or the
 * CLOCK_MONOTONIC time deadline_ms (milliseconds) passes. Returns true
 * when woken by a bump or a close, false at the deadline.
 */
bool hub_wait(struct hub *h, uint64_t gen, int64_t deadline_ms);

/* Wake every waiter for good: the server is stopping. */
void hub_close(struct hub *h);

/* True once hub_close() was called. */
bool hub_closed(struct hub *h);

/* Milliseconds on CLOCK_MONOTONIC, the clock of every hub deadline. */
int64_t hub_now_ms(void);

#endif
