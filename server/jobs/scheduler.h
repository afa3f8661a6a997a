/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scheduler loop: one thread running a libuv loop that owns the DAGs
 * folder watch (watch.h) and the cron timers, and creates the runs of
 * cron slots through the engine.
 *
 * Cron: every DAG that has a current version, is not paused and whose
 * file is not missing keeps, per cron trigger (`schedule:` included), its
 * next fire time from cron_next() in the DAG's time zone. One timer is
 * armed for the earliest. When it fires, each due slot becomes one run
 * (trigger_kind "cron", the trigger's key, logical_time the slot, reason
 * "cron EXPR (SLOT)" with the slot in the DAG's zone); the unique index on
 * (dag_id, trigger_key, logical_time) makes a slot produce one run across
 * restarts and servers. The slots due at once of triggers without
 * jitter are split into up to SCHED_GROUP_WAYS groups of one transaction
 * each (one commit for many DAGs); a group that fails is retried one
 * transaction per slot. A trigger with `jitter:` creates its run after a
 * random delay of 0 to jitter (uniform, per slot); logical_time stays the
 * slot. Lateness (slot to run committed, jitter included; and slot to
 * the start of the work item) is logged with every firing:
 * event=cron_fired dag= slot= late_ms= begin_late_ms= group= (the slots
 * of its transaction).
 *
 * Slots missed while the server was down are found once, when the first
 * table is built: those after each trigger's latest run. With catchup
 * they all become runs, in slot order, in one work item (at most the
 * latest SCHED_CATCHUP_MAX); without it only the latest does. A slot
 * equal to the current second at start fires as usual. When the
 * loop falls behind by more than one slot (a suspended machine), the due
 * slot fires and the next is computed from the current time, so the slots
 * in between are skipped.
 *
 * Event retention: a timer starts events_prune() in the thread pool
 * CHORE_EVENTS_PRUNE_FIRST_MS after start, then every
 * CHORE_EVENTS_PRUNE_EVERY_MS.
 *
 * Database work never runs on the loop: it goes through uv_queue_work,
 * each work item borrowing a pool connection, and its result comes back
 * in the after-work callback. Other threads reach the loop only through
 * uv_async_send (sched_dag_changed(), sched_dag_refresh(), sched_stop()).
 *
 * The files are scheduler.c/.h, not sched.c/.h, so as not to hide the
 * system <sched.h> that <pthread.h> includes.
 */
#ifndef WEIR_SCHEDULER_H
#define WEIR_SCHEDULER_H

#include "jobs/chores.h"

#include <stdbool.h>

#include "engine/engine.h"
#include "jobs/dagdir.h"

struct sched;

/*
 * Start the loop thread over e and the DAGs folder dd at root (all
 * borrowed; they must outlive the scheduler). Call it after dagdir_scan().
 * With force_poll the folder watch polls instead of using inotify.
 * Returns 0 with *out, or WEIR_ENOMEM / WEIR_EINTERNAL.
 */
WEIR_MUSTCHECK int sched_start(struct engine *e, struct dagdir *dd,
                               const char *root, bool force_poll,
                               struct sched **out, struct weir_err *err);

/*
 * Stop the loop (runs being created finish first), join its thread and
 * free everything. sched_stop(NULL) is a no-op.
 */
void sched_stop(struct sched *s);

/*
 * DAG dag_id changed (paused, unpaused, a version added outside the
 * folder watch): the running scheduler re-reads the DAGs and recomputes
 * their next fire times. Callable from any thread at any time; a no-op
 * when no scheduler runs. Calls coalesce.
 */
void sched_dag_changed(const char *dag_id);

/* sched_dag_changed() without the hook: the change came from another
 * server, which has told the others itself. Same contract otherwise. */
void sched_dag_refresh(const char *dag_id);

/* What sched_dag_changed() calls with the DAG id (NULL: several). */
typedef void (*sched_change_fn)(const char *dag_id, void *arg);

/*
 * Set (or, with fn NULL, clear) the hook sched_dag_changed() calls, in
 * the caller's thread under a mutex, whether a scheduler runs or not:
 * how the other servers learn of the change (jobs/xwake.h). It must be
 * quick and must not block or call into the scheduler; once this returns
 * with NULL, no call of the old hook is running or will start.
 */
void sched_set_change_hook(sched_change_fn fn, void *arg);

#endif
