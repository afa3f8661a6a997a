/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The face of server/jobs/: what the server does on its own. main.c
 * starts and stops each part from its table of parts; jobs/chores.h
 * lists every chore and its period.
 *
 * - jobs/dagdir.h: the DAGs folder, loaded at the start;
 * - jobs/scheduler.h: the scheduler loop (cron, catch-up, the folder
 *   watch, file triggers, the event prune);
 * - jobs/reaper.h: lease expiry;
 * - jobs/notify.h: webhook notifications;
 * - jobs/deadline.h: run timeouts and deadlines.
 * - jobs/afterq.h: after and data firings;
 * - jobs/leader.h: the leader election, which starts and stops the
 *   duties that run on one server (main.c's duties[]).
 */
#ifndef WEIR_JOBS_H
#define WEIR_JOBS_H

#include "jobs/afterq.h"    /* IWYU pragma: export */
#include "jobs/chores.h"    /* IWYU pragma: export */
#include "jobs/dagdir.h"    /* IWYU pragma: export */
#include "jobs/deadline.h"  /* IWYU pragma: export */
#include "jobs/leader.h"    /* IWYU pragma: export */
#include "jobs/notify.h"    /* IWYU pragma: export */
#include "jobs/reaper.h"    /* IWYU pragma: export */
#include "jobs/scheduler.h" /* IWYU pragma: export */

#endif
