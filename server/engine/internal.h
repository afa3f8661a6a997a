/* SPDX-License-Identifier: Apache-2.0 */
/* What engine*.c share: a run loaded with its DAG and tasks. */
#ifndef WEIR_ENGINE_INT_H
#define WEIR_ENGINE_INT_H

#include "dag.h"
#include "engine/engine.h"
#include "expr.h"
#include "store/store.h"

/* A task as the engine decides it. */
struct rtask {
    struct store_task *t; /* the row (its state is the new state) */
    size_t step;          /* index into dag->steps */
    enum task_state orig; /* state as read */
    int orig_pending;     /* upstream_pending as read */
    bool dirty;           /* to be written */
    char *error;          /* why it failed (owned), or NULL */
    char *outputs;        /* JSON text to store (owned), or NULL */
    char *message;        /* a gate's rendered message (owned), or NULL */
    int64_t retry_ms;     /* up_for_retry delay, or -1 */
};

/*
 * Tasks made claimable (queued or up_for_retry) by one transaction, for
 * the decision whether its commit must wake the waiting lease calls: not
 * when the transaction claimed every one of them itself.
 */
#define MADE_MAX 8 /* ids remembered; past that, waiters are always woken */
struct made {
    int64_t ids[MADE_MAX]; /* the first ones */
    size_t n;              /* how many there were (may exceed MADE_MAX) */
    bool pool_freed;       /* a pooled task left running: its slots are free */
};

/*
 * One run, read in a transaction. Its tasks are indexed by step order,
 * then cell: task i of step s, cell k is tasks[first[s] + k]. A context
 * made by ctx_load() holds every task (full); one made by ctx_open() holds
 * only the tasks loaded so far (ctx_fetch(), ctx_need_steps(), and the
 * loads on demand of ctx_need_steps() callers), so that a transition costs
 * what it touches, not the size of its run. A task not loaded has
 * rt[i].t == NULL and a zeroed tasks[i].
 */
struct run_ctx {
    struct store_run run;     /* the run row */
    const struct dag *dag;    /* its version (cache reference) */
    struct store_task *tasks; /* its tasks, by step order, cell */
    size_t n;                 /* entries in tasks and rt */
    struct rtask *rt;         /* the engine's view of tasks */
    size_t *first;            /* per step: index of its cell 0 */
    size_t *loaded;           /* per step: cells loaded */
    size_t *cells;            /* per step: cells in this run (a mapped
                                 step's placeholder is 1; its room in
                                 tasks, up to first[s + 1], may be more) */
    size_t live;              /* tasks the run has: the sum of cells */
    struct store_conn *c;     /* where tasks are loaded from */
    struct engine *e;         /* the engine it was opened by */
    bool full;                /* every task is loaded */
    struct made *made;        /* tasks made claimable are noted here */
    /* From the last flush of an open context (probe set): whether tasks
     * not written then are unfinished (others_open), or failed
     * (others_bad, known only when none is unfinished); whether a task
     * written then is unfinished or failed. */
    bool probed, others_open, others_bad, wrote_open, wrote_bad;
    int fatal;                 /* a load on demand failed (rc), or 0 */
    struct weir_err fatal_err; /* its error */
};

/* ---- mapped steps (map.c) ---- */

/*
 * Fill x->cells for x's run and set cap[s] to the room step s needs in
 * x->tasks: its cells, or DAG_MAX_MAP_CELLS for a mapped step that may
 * still make its cells in this context.
 */
WEIR_MUSTCHECK int map_ctx_cells(struct run_ctx *x, size_t *cap,
                                 struct weir_err *err);

/*
 * Task i, the placeholder of a mapped step whose trigger rule holds:
 * read the upstream's list and make one cell per element (then decided
 * like any ready task; cells past 0 that end at once are propagated),
 * or fail it (not a list, an element not a scalar, too many) or skip it
 * (an empty list). Downstream tasks count the new cells as upstream.
 */
WEIR_MUSTCHECK int map_expand(struct run_ctx *x, size_t i,
                              struct weir_err *err);

/*
 * Before a retry resets the tasks marked in reset (step_reset per step):
 * a mapped step whose upstream runs again goes back to its placeholder,
 * to be made anew from the new output.
 */
WEIR_MUSTCHECK int map_retry_collapse(struct run_ctx *x, bool *reset,
                                      const bool *step_reset,
                                      struct weir_err *err);

/* Decide task i, whose trigger rule holds: if:, approval, else queued. */
WEIR_MUSTCHECK int ctx_decide_cell(struct run_ctx *x, size_t i,
                                   struct weir_err *err);

/* Load the tasks of step s not loaded yet, even in a full context. */
WEIR_MUSTCHECK int ctx_fetch_step(struct run_ctx *x, size_t s,
                                  struct weir_err *err);

/* Load run_id with every task (its row locked when lock is set). */
WEIR_MUSTCHECK int ctx_load(struct engine *e, struct store_conn *c,
                            int64_t run_id, bool lock, struct run_ctx *x,
                            struct weir_err *err);

/*
 * ctx_load() with the run row locked and then the rows of its unfinished
 * tasks: a claim in flight (which locks task rows, never the run's) is
 * waited for, and later claims skip them, so the states read stay until
 * the commit. For transitions that end tasks a worker may be claiming:
 * cancel and the run timeout.
 */
WEIR_MUSTCHECK int ctx_load_settled(struct engine *e, struct store_conn *c,
                                    int64_t run_id, struct run_ctx *x,
                                    struct weir_err *err);

/* Open run_id without its tasks (its row locked when lock is set). */
WEIR_MUSTCHECK int ctx_open(struct engine *e, struct store_conn *c,
                            int64_t run_id, bool lock, struct run_ctx *x,
                            struct weir_err *err);

/* Open the run row *run already read (taken: *run is zeroed). */
WEIR_MUSTCHECK int ctx_open_row(struct engine *e, struct store_conn *c,
                                struct store_run *run, struct run_ctx *x,
                                struct weir_err *err);

/*
 * Load, in one statement, the tasks with the n_ids ids given and every
 * cell of the steps marked in steps (an array of dag->n_steps flags, or
 * NULL), but for those already loaded (their loaded state stays).
 */
WEIR_MUSTCHECK int ctx_fetch(struct run_ctx *x, const int64_t *ids,
                             size_t n_ids, const bool *steps,
                             struct weir_err *err);

/* Make sure every cell of the n steps listed (indexes) is loaded. */
WEIR_MUSTCHECK int ctx_need_steps(struct run_ctx *x, const size_t *steps,
                                  size_t n, struct weir_err *err);

/* Free what ctx_load() or ctx_open() loaded; safe on a zeroed ctx. */
void ctx_cleanup(struct engine *e, struct run_ctx *x);

/* The index of task_id in x among the loaded tasks, or -1. */
long ctx_find(const struct run_ctx *x, int64_t task_id);

/* The expression scope of task i: params, matrix, steps, run, event. */
struct resolve {
    struct run_ctx *x; /* the run */
    size_t task;       /* the task whose step is evaluated */
    char *strs[16];    /* strings made during one evaluation (owned) */
    size_t n_strs;     /* entries in strs */
};

/* The expr_resolve_cb over a struct resolve. */
int resolve_cb(void *ctx, const char *name, struct expr_value *out,
               struct weir_err *err);

/* Free the strings a resolve made. */
void resolve_cleanup(struct resolve *r);

/*
 * Finish attempt a (locked, running) of a loaded run: the attempt row,
 * its task (success, up_for_retry or failed), downstream readiness, the
 * run's end and the queued runs that frees. no_retry forbids a retry.
 */
struct outcome {
    enum attempt_state state; /* success, failed, timed_out or lost */
    const int *exit_code;     /* or NULL */
    const char *outputs;      /* JSON object text, or NULL */
    const char *error;        /* or NULL */
    bool no_retry;            /* fail the task even if tries remain */
    const cJSON *outputs_doc; /* outputs as parsed from the request, when
                                 it was one: copied, not parsed again */
    bool cached;              /* success reused from the step cache: no
                                 artifact recorded, no cache fill */
    bool untried;             /* no worker ran it (a cache hit that could
                                 not be finished): not a try, the task is
                                 claimable again at once (cache.h) */
};
WEIR_MUSTCHECK int engine_finish_attempt(struct engine *e, struct store_conn *c,
                                         const struct store_attempt *a,
                                         const struct outcome *o,
                                         struct weir_err *err);

/*
 * The params a request sets on a run of DAG d in environment env_name
 * (NULL: the DAG's default): typed holds JSON values, each of the type of
 * the declared param (its value in that environment, else its default;
 * one declared null takes any); text holds strings from the command line,
 * each turned into that type (bool: true or false; number; list and map
 * as JSON; string as is). *out gets a new object of both (NULL when both
 * are NULL). WEIR_EINVAL for an undeclared param (err suggests a close
 * one), a value of the wrong type, a text that is not of the type, or a
 * param given in both.
 */
WEIR_MUSTCHECK int engine_params_typed(const struct dag *d,
                                       const char *env_name, const cJSON *typed,
                                       const cJSON *text, cJSON **out,
                                       struct weir_err *err);

/* engine_finish_attempt() for the n attempts a[] (of x's run, each with
 * its outcome o[]) in x, a context opened (ctx_open*()) with the run row
 * locked; tasks made claimable go to x->made. */
WEIR_MUSTCHECK int engine_finish_in(struct engine *e, struct run_ctx *x,
                                    const struct store_attempt *a,
                                    const struct outcome *o, size_t n,
                                    struct weir_err *err);

/*
 * Start run_id: a queued run becomes running, and its root tasks are
 * decided. *ended is true when that already ended it (every root
 * skipped, say).
 */
WEIR_MUSTCHECK int engine_run_start(struct engine *e, struct store_conn *c,
                                    int64_t run_id, bool *ended,
                                    struct weir_err *err);

/*
 * The engine's decisions, for engine_control.c (engine.c). Set task i's
 * new state (written by the next flush); count a task that became
 * terminal off its downstream tasks and decide those now ready; decide
 * every pending task with no unfinished upstream (and what follows);
 * write every changed task; end a running run whose tasks are all
 * terminal (*ended says so); start the queued runs of x's DAG that
 * max_active_runs now has room for.
 */
void ctx_set_state(struct run_ctx *x, size_t i, enum task_state to);
WEIR_MUSTCHECK int ctx_propagate(struct run_ctx *x, size_t i,
                                 struct weir_err *err);
WEIR_MUSTCHECK int ctx_decide_ready(struct run_ctx *x, struct weir_err *err);
WEIR_MUSTCHECK int ctx_flush(struct store_conn *c, struct run_ctx *x,
                             struct weir_err *err);
WEIR_MUSTCHECK int ctx_run_maybe_end(struct store_conn *c, struct run_ctx *x,
                                     bool *ended, struct weir_err *err);
WEIR_MUSTCHECK int ctx_start_held_runs(struct engine *e, struct store_conn *c,
                                       const struct run_ctx *x,
                                       struct weir_err *err);

/* ---- backfills (engine/backfill.c) ---- */

/*
 * The instant text names for DAG d, in Unix seconds: an RFC 3339 time
 * (without an offset: local time in the DAG's zone), or a date
 * YYYY-MM-DD, midnight in the DAG's zone (with end_of_day: the midnight
 * that ends that day, exclusive). *is_date (may be NULL) says which it
 * was. WEIR_EINVAL naming field and saying what a time is.
 */
WEIR_MUSTCHECK int engine_time_parse(const struct dag *d, const char *field,
                                     const char *text, bool end_of_day,
                                     int64_t *out, bool *is_date,
                                     struct weir_err *err);

/* One run of a backfill. */
struct engine_backfill_slot {
    int64_t backfill_id;     /* the backfill */
    const char *trigger_key; /* its own trigger key, "backfill:ID" */
    int64_t logical_time;    /* the slot, Unix seconds */
    const cJSON *params;     /* typed param overrides, or NULL */
    const char *reason;      /* "backfill #ID slot TIME" */
};

/*
 * Insert and start (unless max_active_runs holds it) the run of backfill
 * slot b in DAG d, locked as l says (run.c). *created is false when the
 * slot already had its backfill run.
 */
WEIR_MUSTCHECK int engine_backfill_run_insert(
    struct engine *e, struct store_conn *c, const struct dag *d,
    const struct store_dag_locked *l, const struct engine_backfill_slot *b,
    int64_t *run_id, bool *created, struct weir_err *err);
/*
 * Whether claim cl may run: false, with err saying why, for a task that
 * needs more slots than its pool has (engine/pools.c); the lease fails
 * it at once, as an attempt that cannot be rendered.
 */
bool engine_pool_fits(const struct store_claim *cl, struct weir_err *err);

#endif
