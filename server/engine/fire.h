/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A trigger firing becoming a run, with the guards every trigger kind
 * shares (engine_run.c). In this order: a DAG whose file is gone, then a
 * paused DAG, suppresses the firing; a slot that already has its run (cron) is
 * left alone; a firing of a non-cron trigger while a run of that trigger is
 * still queued (held by max_active_runs) is folded into that queued run;
 * `cooldown:` (since the DAG's last triggered run was created) and
 * `max_runs_per_day:` (its triggered runs since midnight in the DAG's zone)
 * suppress it. Manual runs are neither guarded nor counted. A suppressed or
 * folded firing is recorded with its reason (trigger_suppressed); a run made or
 * fed consumes the trigger's pending events (trigger_events).
 */
#ifndef WEIR_ENGINE_FIRE_H
#define WEIR_ENGINE_FIRE_H

#include "engine/engine.h"

enum fire_outcome {
    FIRE_CREATED,    /* a new run */
    FIRE_EXISTED,    /* the slot already had its run: nothing written */
    FIRE_COALESCED,  /* folded into the trigger's queued run */
    FIRE_SUPPRESSED, /* a guard stopped it; why says which */
};

/* What became of a firing. */
struct fire_result {
    enum fire_outcome outcome; /* see the enum */
    int64_t run_id;            /* the run made or fed, else 0 */
    char why[200];             /* FIRE_SUPPRESSED / COALESCED: the reason */
};

/*
 * Fire s inside the caller's transaction on c (which it locks the DAG
 * row in), as described above; *out says what happened. The caller
 * commits, then bumps e->hub when a run was created. WEIR_ECONFLICT for a
 * DAG that never loaded or whose current version has no such trigger,
 * WEIR_ENOTFOUND for no such DAG.
 */
WEIR_MUSTCHECK int engine_fire_in_tx(struct engine *e, struct store_conn *c,
                                     const struct engine_slot *s,
                                     struct fire_result *out,
                                     struct weir_err *err);

/* "created", "existed", "coalesced" or "suppressed". */
const char *fire_outcome_name(enum fire_outcome o);

#endif
