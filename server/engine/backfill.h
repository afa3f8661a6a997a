/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Backfills: one run per cron slot of a DAG's trigger over a range of
 * time, each with that slot as its logical time, created a few at a time.
 *
 * A backfill is planned when it is asked for: the slots of the trigger in
 * [from, to] (computed by cron_next() in the DAG's zone, so DST as for
 * cron), less the slots that already have a run (reprocess "missing": any
 * run of the DAG at that logical time; "failed": one whose latest run did
 * not fail and was not canceled; "all": none left out), in slot order or
 * newest first. The plan is stored (table backfills) and its runs are
 * created by engine_backfill_tick(), which the backfill chore calls, so
 * that a restart goes on where the last server stopped. Each run has
 * trigger_kind "backfill", trigger key "backfill:ID", runs.backfill_id,
 * the reason "backfill #ID slot TIME", the trigger's params overlaid with
 * the backfill's, and at most max_active of a backfill's runs are queued
 * or running at once (never more than the DAG's max_active_runs). The
 * params are checked again against the DAG's version each time runs are
 * made; a backfill whose params no longer fit ends "failed" with an
 * error.
 */
#ifndef WEIR_ENGINE_BACKFILL_H
#define WEIR_ENGINE_BACKFILL_H

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "engine/engine.h"

#define BACKFILL_SLOTS_MAX  10000 /* slots in the range of one backfill */
#define BACKFILL_ACTIVE_MAX 100   /* largest max_active */

/* What a backfill asks for. */
struct engine_backfill_req {
    const char *dag_id;       /* the DAG */
    const char *trigger;      /* its cron trigger's key, or NULL: its only
                                 cron trigger */
    const char *from, *to;    /* dates (YYYY-MM-DD) or RFC 3339 times */
    const char *reprocess;    /* "missing" (NULL), "failed" or "all" */
    int max_active;           /* 1 .. BACKFILL_ACTIVE_MAX; 0 for 1 */
    bool reverse;             /* newest slot first */
    bool dry_run;             /* plan only: create nothing */
    const cJSON *params;      /* typed param overrides, or NULL */
    const cJSON *params_text; /* the same as text (-p), or NULL */
    const char *by;           /* token name of who asks */
};

/*
 * Plan the backfill r and, unless r->dry_run, store it and create its
 * first runs, in one transaction. *out gets a new object: with dry_run
 * {dag_id, trigger, from, to, planned, skipped, slots: [{slot, action:
 * "run"|"skip", run_id?, state?}]}; else {backfill_id, planned, skipped,
 * created, max_active}. WEIR_EINVAL for a bad range, trigger, reprocess,
 * max_active or param (err says which, with a suggestion); WEIR_ENOTFOUND
 * for no such DAG; WEIR_ECONFLICT for a paused DAG or one without a
 * valid version.
 */
WEIR_MUSTCHECK int engine_backfill_create(struct engine *e,
                                          const struct engine_backfill_req *r,
                                          cJSON **out, struct weir_err *err);

/*
 * One pass over every running backfill, one transaction each: create its
 * next runs while fewer than its max_active are queued or running, and
 * mark it done once every slot's run was created and none is active. A
 * backfill of a paused DAG waits. *created (may be NULL) gets the runs
 * created. A backfill that fails is logged and the others go on; the
 * first failure is returned.
 */
WEIR_MUSTCHECK int engine_backfill_tick(struct engine *e, int *created,
                                        struct weir_err *err);

/*
 * Cancel running backfill id on behalf of by: no run of it is created any
 * more, and each of its runs queued or running is canceled as
 * engine_run_cancel() does. *out gets {backfill_id, state, canceled_runs}.
 * WEIR_ENOTFOUND for no such backfill, WEIR_ECONFLICT when it ended.
 */
WEIR_MUSTCHECK int engine_backfill_cancel(struct engine *e, int64_t id,
                                          const char *by, cJSON **out,
                                          struct weir_err *err);

/* Backfill id with its progress (a new object), or, with dag_id, every
 * backfill of that DAG, newest first (a new array). WEIR_ENOTFOUND for no
 * such backfill or DAG. */
WEIR_MUSTCHECK int engine_backfills_get(struct engine *e, int64_t id,
                                        const char *dag_id, cJSON **out,
                                        struct weir_err *err);

#endif
