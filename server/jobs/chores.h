/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every periodic or background chore of the server, with its period: the
 * one place to read when and where something happens on its own.
 *
 * - cron slots and catch-up: the scheduler loop (libuv), a timer at the
 *   next slot, CHORE_CRON_EARLY_MS early for long waits; the DAGs read
 *   again CHORE_SCHED_RETRY_MS after a failed read;
 * - the DAGs folder: the scheduler loop, CHORE_DAGS_DEBOUNCE_MS after a
 *   path's last event, uv_fs_poll every CHORE_DAGS_POLL_MS where inotify
 *   fails, CHORE_DAGS_RETRY_MS after a database failure; its git
 *   revision looked at every CHORE_DAGS_REV_MS (a change syncs it);
 * - file triggers: the scheduler loop, CHORE_FILES_EVENT_MS after a folder
 *   event, every CHORE_FILES_RESCAN_MS anyway, every CHORE_FILES_POLL_MS
 *   where folders cannot be watched;
 * - event retention: the scheduler loop, CHORE_EVENTS_PRUNE_FIRST_MS after
 *   the start, then every CHORE_EVENTS_PRUNE_EVERY_MS (with it, the
 *   expired step cache entries: engine/cache.h, and the audit log past
 *   --audit-retention: engine/audit.h);
 * - lease expiry: thread "weir-leases", at the next lease deadline and at
 *   least every lease TTL, CHORE_LEASES_RETRY_MS after a database failure;
 * - webhook notifications: thread "weir-notify", every CHORE_NOTIFY_MS;
 * - backfills (their next runs): thread "weir-backfill", every
 *   CHORE_BACKFILL_MS, CHORE_BACKFILL_RETRY_MS after a failed pass;
 * - run timeouts and deadlines: thread "weir-deadline", at the next
 *   timeout or deadline but at least every CHORE_DEADLINE_MS (a run
 *   created meanwhile may be due sooner), CHORE_DEADLINE_RETRY_MS after a
 *   database failure;
 * - after and data firings: thread "weir-after", at each bump of the work
 *   hub and at least every CHORE_AFTER_MS, CHORE_AFTER_RETRY_MS after a
 *   database failure (engine/after.h);
 * - the connection watchdog: thread "weir-http-guard", every
 *   HTTP_GUARD_TICK_MS (http/guard.h);
 * - metric retention: the ingest request that notices it is due, at most
 *   once a minute (engine/metrics.c);
 * - wake-ups across servers: thread "weir-xwake", at each local bump of
 *   the work hub and each notification of another server; a lost
 *   session is reconnected after XWAKE_BACKOFF_MIN_MS doubling to
 *   XWAKE_BACKOFF_MAX_MS (jobs/xwake.h); a DAG paused, submitted or
 *   deleted through one server refreshes the scheduler of the others
 *   (the leader's is the one that fires);
 * - the leader election: thread "weir-leader", every CHORE_LEADER_MS
 *   (try the lock, or ping as leader), CHORE_LEADER_BACKOFF_MS (or half
 *   --leader-timeout-s) after stepping down (jobs/leader.h). Only the
 *   leader runs cron, the folder, file triggers, event retention, lease
 *   expiry, notifications, backfills and deadlines; after firings and
 *   the rest run on every server.
 *
 * The threads are common/bgthread.h; the loop is jobs/scheduler.c; main.c
 * starts and stops all of them from one table.
 */
#ifndef WEIR_CHORES_H
#define WEIR_CHORES_H

#define CHORE_CRON_EARLY_MS         1000 /* long cron timers wake this early */
#define CHORE_DAGS_DEBOUNCE_MS      200  /* quiet time after a path's event */
#define CHORE_DAGS_POLL_MS          1000 /* the uv_fs_poll fallback */
#define CHORE_DAGS_RETRY_MS         1000 /* next sync after a database failure */
#define CHORE_SCHED_RETRY_MS        1000 /* cron table read again after a failure */
#define CHORE_DAGS_REV_MS           1000 /* between two looks at the git HEAD */
#define CHORE_FILES_POLL_MS         500  /* between two scans, polling */
#define CHORE_FILES_EVENT_MS        20   /* from a folder event to its scan */
#define CHORE_FILES_RESCAN_MS       30000 /* between two scans, all watched */
#define CHORE_EVENTS_PRUNE_FIRST_MS 1000  /* from start to the first prune */
#define CHORE_EVENTS_PRUNE_EVERY_MS 60000 /* between two event prunes */
#define CHORE_LEASES_RETRY_MS       1000  /* after a database failure */
#define CHORE_NOTIFY_MS             1000  /* between two notification passes */
#define CHORE_BACKFILL_MS           500   /* between two backfill passes */
#define CHORE_BACKFILL_RETRY_MS     2000  /* after a failed backfill pass */
#define CHORE_DEADLINE_MS           1000  /* longest wait between two passes */
#define CHORE_DEADLINE_RETRY_MS     1000  /* after a database failure */
#define CHORE_AFTER_MS              500   /* longest wait between two passes */
#define CHORE_AFTER_RETRY_MS        1000  /* after a database failure */
#define CHORE_LEADER_MS             250   /* between two election rounds */
#define CHORE_LEADER_BACKOFF_MS     1000  /* least rest after stepping down */

#endif
