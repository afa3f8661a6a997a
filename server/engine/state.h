/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state machines of runs, tasks and attempts (docs/architecture.md,
 * "State machines"). Each enum matches the CHECK constraint of its table
 * in migrations/0001_init.sql, value for value. The store checks every
 * transition here before it writes a state, and each accepted transition
 * is logged as one key=value line.
 */
#ifndef WEIR_STATE_H
#define WEIR_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

enum run_state {
    RUN_QUEUED,      /* created; waits for max_active_runs capacity */
    RUN_RUNNING,     /* its tasks are being decided and run */
    RUN_SUCCESS,     /* every task ended, none failed */
    RUN_FAILED,      /* every task ended, some failed or upstream_failed */
    RUN_CANCELED,    /* stopped by a person */
    RUN_STATE_COUNT, /* number of run states, not a state */
};

enum task_state {
    TASK_PENDING,           /* waits for its upstream tasks */
    TASK_QUEUED,            /* may be claimed by a worker */
    TASK_RUNNING,           /* an attempt holds a lease on it */
    TASK_SUCCESS,           /* its last attempt exited 0 */
    TASK_FAILED,            /* out of tries, or not retryable */
    TASK_UP_FOR_RETRY,      /* claimable again once next_try_at passes */
    TASK_SKIPPED,           /* its if: was false, or all upstreams skipped */
    TASK_UPSTREAM_FAILED,   /* its trigger rule can no longer hold */
    TASK_AWAITING_APPROVAL, /* an approval gate, waiting for a person */
    TASK_CANCELED,          /* its run was canceled */
    TASK_STATE_COUNT,       /* number of task states, not a state */
};

enum attempt_state {
    ATTEMPT_RUNNING,     /* leased to a worker, not finished */
    ATTEMPT_SUCCESS,     /* exited 0 */
    ATTEMPT_FAILED,      /* non-zero exit, or an error before it ran */
    ATTEMPT_LOST,        /* its lease expired: worker or network died */
    ATTEMPT_CANCELED,    /* its run was canceled */
    ATTEMPT_TIMED_OUT,   /* killed at the step's timeout */
    ATTEMPT_STATE_COUNT, /* number of attempt states, not a state */
};

/* Names as stored in the database ("up_for_retry"). */
const char *run_state_name(enum run_state s);
const char *task_state_name(enum task_state s);
const char *attempt_state_name(enum attempt_state s);

/* Parse a stored name; WEIR_EINVAL with err for an unknown one. */
WEIR_MUSTCHECK int run_state_parse(const char *name, enum run_state *out,
                                   struct weir_err *err);
WEIR_MUSTCHECK int task_state_parse(const char *name, enum task_state *out,
                                    struct weir_err *err);
WEIR_MUSTCHECK int attempt_state_parse(const char *name,
                                       enum attempt_state *out,
                                       struct weir_err *err);

/* A finished state: only a retry of the run (a person) leaves it. */
bool run_state_terminal(enum run_state s);
bool task_state_terminal(enum task_state s);

/*
 * Check that run `run` may go from `from` to `to` and log the change.
 * Returns 0, or WEIR_EINTERNAL with err naming both states (a transition
 * the engine never asks for is a bug in the caller, reported, not fatal).
 */
WEIR_MUSTCHECK int state_run_change(int64_t run, enum run_state from,
                                    enum run_state to, struct weir_err *err);

/* The same for task `task` of run `run` (try is its try count). */
WEIR_MUSTCHECK int state_task_change(int64_t run, int64_t task, int try,
                                     enum task_state from, enum task_state to,
                                     struct weir_err *err);

/* The same for an attempt (try `try` of task `task` of run `run`). */
WEIR_MUSTCHECK int state_attempt_change(int64_t run, int64_t task, int try,
                                        int64_t attempt,
                                        enum attempt_state from,
                                        enum attempt_state to,
                                        struct weir_err *err);

#endif
