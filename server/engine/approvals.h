/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The approval policy of a run's gates (docs/security.md, "Approval
 * policy"): who may decide a gate by its `approvers:` and
 * `self_approve:`, against who started or retried the run.
 */
#ifndef WEIR_ENGINE_APPROVALS_H
#define WEIR_ENGINE_APPROVALS_H

#include <stddef.h>

#include "engine/engine.h"
#include "engine/internal.h"

/*
 * 0 when d's decider may decide the gate of step s (an index into
 * x->dag->steps) of x's run, in x's transaction on c; WEIR_EFORBIDDEN with
 * err saying why otherwise. A gate (`approval:`) follows its own
 * approvers and self_approve; a step an environment holds
 * (`approve_before`), the environment's.
 */
WEIR_MUSTCHECK int engine_gate_check(struct store_conn *c,
                                     const struct run_ctx *x, size_t s,
                                     const struct engine_decision *d,
                                     struct weir_err *err);

#endif
