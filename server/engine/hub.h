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

/* Something became claimable (or its time changed): wake every waiter,
 * and call the bump hook (hub_set_bump_hook()) when one is set. */
void hub_bump(struct hub *h);

/* What hub_bump() calls after each bump; arg is the hook's own. */
typedef void (*hub_bump_fn)(void *arg);

/*
 * Set (or, with fn NULL, clear) the hook every hub_bump() calls: how a
 * local commit reaches the other servers (jobs/xwake.h). The hook runs
 * in the bumping thread under the hub's mutex, so it must be quick and
 * must not block or call into the hub; once this returns with NULL, no
 * call of the old hook is running or will start.
 */
void hub_set_bump_hook(struct hub *h, hub_bump_fn fn, void *arg);

/* Wake every waiter as hub_bump() does, without calling the hook: the
 * bump came from another server, which has told the others itself. */
void hub_bump_remote(struct hub *h);

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

/*
 * Whether worker_id's last-seen time is due to be written to the database:
 * true, and the time noted, when it was not written within interval_ms
 * (or never by this process). Lease calls come several times a second on
 * a busy worker; this keeps them from writing the workers row each time.
 */
bool hub_worker_seen_due(struct hub *h, int64_t worker_id, int64_t interval_ms);

/* Forget what hub_worker_seen_due() noted for worker_id: its write failed
 * or the worker is unknown, so the next call writes again. */
void hub_worker_seen_forget(struct hub *h, int64_t worker_id);

/* Milliseconds on CLOCK_MONOTONIC, the clock of every hub deadline. */
int64_t hub_now_ms(void);

#endif
