/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transition tables of the run, task and attempt state machines. A table
 * row is the state a transition leaves, a bit per state it may reach.
 */
#include "engine/state.h"

#include <string.h>

#include "log.h"

#define BIT(s) (1u << (s))

static const char *const run_names[RUN_STATE_COUNT] = {
    [RUN_QUEUED] = "queued",     [RUN_RUNNING] = "running",
    [RUN_SUCCESS] = "success",   [RUN_FAILED] = "failed",
    [RUN_CANCELED] = "canceled",
};

static const char *const task_names[TASK_STATE_COUNT] = {
    [TASK_PENDING] = "pending",
    [TASK_QUEUED] = "queued",
    [TASK_RUNNING] = "running",
    [TASK_SUCCESS] = "success",
    [TASK_FAILED] = "failed",
    [TASK_UP_FOR_RETRY] = "up_for_retry",
    [TASK_SKIPPED] = "skipped",
    [TASK_UPSTREAM_FAILED] = "upstream_failed",
    [TASK_AWAITING_APPROVAL] = "awaiting_approval",
    [TASK_CANCELED] = "canceled",
};

static const char *const attempt_names[ATTEMPT_STATE_COUNT] = {
    [ATTEMPT_RUNNING] = "running",   [ATTEMPT_SUCCESS] = "success",
    [ATTEMPT_FAILED] = "failed",     [ATTEMPT_LOST] = "lost",
    [ATTEMPT_CANCELED] = "canceled", [ATTEMPT_TIMED_OUT] = "timed_out",
};

/* A finished run leaves its state only when a person retries it: back to
 * running, or to queued while max_active_runs holds it. */
static const unsigned run_next[RUN_STATE_COUNT] = {
    [RUN_QUEUED] = BIT(RUN_RUNNING) | BIT(RUN_CANCELED),
    [RUN_RUNNING] = BIT(RUN_SUCCESS) | BIT(RUN_FAILED) | BIT(RUN_CANCELED),
    [RUN_SUCCESS] = BIT(RUN_RUNNING) | BIT(RUN_QUEUED),
    [RUN_FAILED] = BIT(RUN_RUNNING) | BIT(RUN_QUEUED),
    [RUN_CANCELED] = BIT(RUN_RUNNING) | BIT(RUN_QUEUED),
};

/* A task is decided once its upstreams are done (pending -> ...); a due
 * retry is claimed directly (up_for_retry -> running); an approval gate
 * is approved (-> success) or rejected (-> failed) by a person; a
 * finished task goes back to pending only when its run is retried. */
static const unsigned task_next[TASK_STATE_COUNT] = {
    [TASK_PENDING] = BIT(TASK_QUEUED) | BIT(TASK_SKIPPED) |
                     BIT(TASK_UPSTREAM_FAILED) | BIT(TASK_FAILED) |
                     BIT(TASK_AWAITING_APPROVAL) | BIT(TASK_CANCELED),
    [TASK_QUEUED] = BIT(TASK_RUNNING) | BIT(TASK_CANCELED),
    [TASK_RUNNING] = BIT(TASK_SUCCESS) | BIT(TASK_FAILED) |
                     BIT(TASK_UP_FOR_RETRY) | BIT(TASK_CANCELED),
    [TASK_UP_FOR_RETRY] =
        BIT(TASK_RUNNING) | BIT(TASK_QUEUED) | BIT(TASK_CANCELED),
    [TASK_AWAITING_APPROVAL] = BIT(TASK_QUEUED) | BIT(TASK_SKIPPED) |
                               BIT(TASK_FAILED) | BIT(TASK_CANCELED) |
                               BIT(TASK_SUCCESS),
    [TASK_SUCCESS] = BIT(TASK_PENDING),
    [TASK_FAILED] = BIT(TASK_PENDING),
    [TASK_SKIPPED] = BIT(TASK_PENDING),
    [TASK_UPSTREAM_FAILED] = BIT(TASK_PENDING),
    [TASK_CANCELED] = BIT(TASK_PENDING),
};

static const unsigned attempt_next[ATTEMPT_STATE_COUNT] = {
    [ATTEMPT_RUNNING] = BIT(ATTEMPT_SUCCESS) | BIT(ATTEMPT_FAILED) |
                        BIT(ATTEMPT_LOST) | BIT(ATTEMPT_CANCELED) |
                        BIT(ATTEMPT_TIMED_OUT),
};

static const char *name_of(const char *const *names, int n, int s)
{
    return s >= 0 && s < n ? names[s] : "?";
}

static int parse_name(const char *const *names, int n, const char *name,
                      int *out, const char *what, struct weir_err *err)
{
    for (int i = 0; name != NULL && i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            *out = i;
            return 0;
        }
    }
    return weir_err_set(err, WEIR_EINVAL, "unknown %s state \"%s\"", what,
                        name ? name : "(null)");
}

const char *run_state_name(enum run_state s)
{
    return name_of(run_names, RUN_STATE_COUNT, (int)s);
}

const char *task_state_name(enum task_state s)
{
    return name_of(task_names, TASK_STATE_COUNT, (int)s);
}

const char *attempt_state_name(enum attempt_state s)
{
    return name_of(attempt_names, ATTEMPT_STATE_COUNT, (int)s);
}

int run_state_parse(const char *name, enum run_state *out, struct weir_err *err)
{
    int v = 0;
    int rc = parse_name(run_names, RUN_STATE_COUNT, name, &v, "run", err);

    if (rc == 0)
        *out = (enum run_state)v;
    return rc;
}

int task_state_parse(const char *name, enum task_state *out,
                     struct weir_err *err)
{
    int v = 0;
    int rc = parse_name(task_names, TASK_STATE_COUNT, name, &v, "task", err);

    if (rc == 0)
        *out = (enum task_state)v;
    return rc;
}

int attempt_state_parse(const char *name, enum attempt_state *out,
                        struct weir_err *err)
{
    int v = 0;
    int rc = parse_name(attempt_names, ATTEMPT_STATE_COUNT, name, &v, "attempt",
                        err);

    if (rc == 0)
        *out = (enum attempt_state)v;
    return rc;
}

bool run_state_terminal(enum run_state s)
{
    return s == RUN_SUCCESS || s == RUN_FAILED || s == RUN_CANCELED;
}

bool task_state_terminal(enum task_state s)
{
    return s == TASK_SUCCESS || s == TASK_FAILED || s == TASK_SKIPPED ||
           s == TASK_UPSTREAM_FAILED || s == TASK_CANCELED;
}

static int refuse(const char *what, const char *from, const char *to,
                  struct weir_err *err)
{
    log_error("event=illegal_transition entity=%s from=%s to=%s", what, from,
              to);
    return weir_err_set(err, WEIR_EINTERNAL, "illegal %s transition %s -> %s",
                        what, from, to);
}

int state_run_change(int64_t run, enum run_state from, enum run_state to,
                     struct weir_err *err)
{
    if ((unsigned)from >= RUN_STATE_COUNT || (unsigned)to >= RUN_STATE_COUNT ||
        !(run_next[from] & BIT(to)))
        return refuse("run", run_state_name(from), run_state_name(to), err);
    log_info("event=run_state run=%lld from=%s to=%s", (long long)run,
             run_state_name(from), run_state_name(to));
    return 0;
}

int state_task_change(int64_t run, int64_t task, int try, enum task_state from,
                      enum task_state to, struct weir_err *err)
{
    if ((unsigned)from >= TASK_STATE_COUNT ||
        (unsigned)to >= TASK_STATE_COUNT || !(task_next[from] & BIT(to)))
        return refuse("task", task_state_name(from), task_state_name(to), err);
    log_info("event=task_state run=%lld task=%lld try=%d from=%s to=%s",
             (long long)run, (long long)task, try, task_state_name(from),
             task_state_name(to));
    return 0;
}

int state_attempt_change(int64_t run, int64_t task, int try, int64_t attempt,
                         enum attempt_state from, enum attempt_state to,
                         struct weir_err *err)
{
    if ((unsigned)from >= ATTEMPT_STATE_COUNT ||
        (unsigned)to >= ATTEMPT_STATE_COUNT || !(attempt_next[from] & BIT(to)))
        return refuse("attempt", attempt_state_name(from),
                      attempt_state_name(to), err);
    log_info("event=attempt_state run=%lld task=%lld try=%d attempt=%lld "
             "from=%s to=%s",
             (long long)run, (long long)task, try, (long long)attempt,
             attempt_state_name(from), attempt_state_name(to));
    return 0;
}
