/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tasks table: inserting a run's tasks, reading them, and writing
 * their states (with the ends of the attempts that caused them, in one
 * statement), resets for a retry, and approval decisions. Every state
 * written here is checked against engine/state.h first and logged.
 */
#ifndef WEIR_STORE_TASKS_H
#define WEIR_STORE_TASKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "engine/state.h"
#include "store/attempts.h"
#include "store/pool.h"

/* A task row. */
struct store_task {
    int64_t id;                 /* task id */
    char step_id[STORE_ID_MAX]; /* its step */
    int cell;                   /* matrix cell, 0 without a matrix */
    enum task_state state;      /* where it is */
    int try_count;              /* tries started */
    int max_tries;              /* retries + 1 */
    int upstream_pending;       /* upstream tasks not finished */
    cJSON *outputs;             /* object, or NULL */
    cJSON *matrix;              /* the cell's {axis: value}, or NULL */
};

/* One task state write of store_tasks_apply(). */
struct store_task_change {
    int64_t task_id;      /* which task */
    int try;              /* its try count, for the log */
    enum task_state from; /* its state as read (the write is guarded) */
    enum task_state to;   /* its new state (may equal from) */
    int pending;          /* its new upstream_pending */
    const char *error;    /* why it failed, or NULL */
    const char *outputs;  /* JSON object text to store, or NULL */
    int64_t retry_ms;     /* up_for_retry: delay from now; else -1 */
    const char *message;  /* a gate's rendered message, or NULL */
};

/* One task of a retried run going back to pending. */
struct store_task_reset {
    int64_t task_id;      /* which task */
    int try;              /* its try count (kept), for the log */
    enum task_state from; /* its state as read (the write is guarded) */
    int pending;          /* its new upstream_pending */
    int max_tries;        /* its new max_tries */
};

/* Free an array of tasks from store_run_tasks() or store_run_tasks_some(). */
void store_tasks_free(struct store_task *v, size_t n);

/*
 * Insert the tasks of a run from a JSON array text of objects
 * {step_id, cell, matrix, max_tries, queue, upstream_pending}, in order
 * (task ids then follow step order and cells). *added gets how many
 * rows went in.
 */
WEIR_MUSTCHECK int store_tasks_insert(struct store_conn *c, int64_t run_id,
                                      int priority, const char *tasks_json,
                                      int64_t *added, struct weir_err *err);

/* Refresh the planner's statistics of tasks and attempts now, skipping
 * a table a vacuum holds (never waiting). */
WEIR_MUSTCHECK int store_tasks_analyze(struct store_conn *c,
                                       struct weir_err *err);

/* Lock the rows of run id's unfinished tasks (FOR UPDATE, in id order),
 * waiting for the claims that hold some of them. */
WEIR_MUSTCHECK int store_run_tasks_lock_open(struct store_conn *c,
                                             int64_t run_id,
                                             struct weir_err *err);

/* Every task of run id, in id order, as a new array. */
WEIR_MUSTCHECK int store_run_tasks(struct store_conn *c, int64_t run_id,
                                   struct store_task **out, size_t *n,
                                   struct weir_err *err);

/*
 * The tasks of run run_id whose ids are among the n_ids given, and every
 * task of the n_steps steps named, in id order, as a new array. Each
 * part is an index lookup: the cost follows what is asked for, not the
 * size of the run.
 */
WEIR_MUSTCHECK int store_run_tasks_some(struct store_conn *c, int64_t run_id,
                                        const int64_t *ids, size_t n_ids,
                                        const char *const *steps,
                                        size_t n_steps, struct store_task **out,
                                        size_t *n, struct weir_err *err);

/*
 * Write n task changes of run run_id in one statement, each guarded by
 * its from state. Each state change is checked and logged first.
 * WEIR_ECONFLICT when a task was not in its from state any more.
 */
WEIR_MUSTCHECK int store_tasks_apply(struct store_conn *c, int64_t run_id,
                                     const struct store_task_change *v,
                                     size_t n, struct weir_err *err);

/* The end of an attempt (running, locked), for store_run_write(). */
struct store_attempt_end {
    const struct store_attempt *a; /* the attempt */
    enum attempt_state to;         /* its end state */
    const int *exit_code;          /* or NULL */
    const char *outputs;           /* JSON object text, or NULL */
    const char *error;             /* or NULL */
};

/* What store_run_write() saw of the run's other tasks (those not in v),
 * as they were before its writes. */
struct store_run_probe {
    bool open; /* one of them is unfinished */
    bool bad;  /* one of them failed, upstream_failed or was canceled;
                  only looked for when none is unfinished */
};

/*
 * One statement for a transition of run run_id: the n_ends attempts' ends
 * (attempts of this run), the n task changes as store_tasks_apply() writes them
 * (checked, logged, guarded: WEIR_ECONFLICT), and, when probe is not
 * NULL, whether the run's other tasks leave it unfinished, through the
 * partial index of unfinished tasks rather than a read of every task.
 * The caller holds the run's row lock, under which every task of a run
 * reaches or leaves a finished state.
 */
WEIR_MUSTCHECK int store_run_write(struct store_conn *c, int64_t run_id,
                                   const struct store_attempt_end *ends,
                                   size_t n_ends,
                                   const struct store_task_change *v, size_t n,
                                   struct store_run_probe *probe,
                                   struct weir_err *err);

/*
 * Put n tasks of run_id back to pending (checked and logged), clearing
 * what their last life left: outputs, error, times, an approval decision.
 * WEIR_ECONFLICT when a task was not in its from state any more.
 */
WEIR_MUSTCHECK int store_tasks_reset(struct store_conn *c, int64_t run_id,
                                     const struct store_task_reset *v, size_t n,
                                     struct weir_err *err);

/* Record the decision on approval task task_id: who, now, comment (or
 * NULL). */
WEIR_MUSTCHECK int store_task_decision(struct store_conn *c, int64_t task_id,
                                       bool approved, const char *by,
                                       const char *comment,
                                       struct weir_err *err);

#endif
