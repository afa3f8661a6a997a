/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The backfills table: a backfill's plan (the slots to run, in order) and
 * how far its creation went, the runs that already hold slots of a range,
 * and the JSON of backfills with their progress for the API.
 *
 * Lock order: a DAG row (store_dag_lock()), then its backfill rows, then
 * the runs they create; the DAG's row first, as deleting a DAG locks it
 * before its backfills.
 */
#ifndef WEIR_STORE_BACKFILLS_H
#define WEIR_STORE_BACKFILLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "store/pool.h"

/* What a new backfill is made of. */
struct store_backfill_new {
    const char *dag_id;      /* its DAG */
    const char *trigger_key; /* the cron trigger whose slots it runs */
    int64_t from, to;        /* the range, Unix seconds, inclusive */
    const char *reprocess;   /* "missing", "failed" or "all" */
    int max_active;          /* runs of it active at once */
    bool reverse;            /* newest slot first */
    const char *params;      /* JSON object text, or NULL */
    const int64_t *slots;    /* the slots to run, in creation order */
    size_t n_slots;          /* entries in slots */
    int skipped;             /* slots of the range left out */
    const char *created_by;  /* token name, or NULL */
};

/* A backfill as its chore sees it, locked. */
struct store_backfill {
    int64_t id;                /* backfill id */
    char dag_id[STORE_ID_MAX]; /* its DAG */
    bool running;              /* state is running */
    int max_active;            /* runs of it active at once */
    int next_slot;             /* index of the next slot to create */
    int planned;               /* slots in its plan */
    int active;                /* its runs queued or running */
    cJSON *params;             /* typed param overrides, or NULL */
    char *trigger_key;         /* the cron trigger whose slots it runs */
};

/* A slot that already has a run: the latest one. */
struct store_slot_run {
    int64_t at;     /* the logical time, Unix seconds */
    int64_t run_id; /* the latest run at that time */
    char state[16]; /* its state */
};

/* Free what b holds and zero it. */
void store_backfill_cleanup(struct store_backfill *b);

/* Insert backfill n (state running); *id gets its id. */
WEIR_MUSTCHECK int store_backfill_insert(struct store_conn *c,
                                         const struct store_backfill_new *n,
                                         int64_t *id, struct weir_err *err);

/*
 * The logical times of DAG dag_id's runs in [from, to] (Unix seconds),
 * each with its latest run, ascending, into a new array *out of *n
 * entries (free()).
 */
WEIR_MUSTCHECK int store_slot_runs(struct store_conn *c, const char *dag_id,
                                   int64_t from, int64_t to,
                                   struct store_slot_run **out, size_t *n,
                                   struct weir_err *err);

/* The ids of the running backfills, ascending, into a new array *ids of
 * *n entries (free()). */
WEIR_MUSTCHECK int store_backfills_running(struct store_conn *c, int64_t **ids,
                                           size_t *n, struct weir_err *err);

/* The DAG of running backfill id into dag_id (STORE_ID_MAX bytes), read
 * without a lock; WEIR_ENOTFOUND when it ended or is gone. */
WEIR_MUSTCHECK int store_backfill_dag(struct store_conn *c, int64_t id,
                                      char *dag_id, struct weir_err *err);

/*
 * Lock backfill id and read it into *out (store_backfill_cleanup()). With
 * skip_locked, a row another transaction holds is WEIR_ENOTFOUND too,
 * like a missing one.
 */
WEIR_MUSTCHECK int store_backfill_lock(struct store_conn *c, int64_t id,
                                       bool skip_locked,
                                       struct store_backfill *out,
                                       struct weir_err *err);

/* Slots first .. first + want - 1 (0-based) of backfill id's plan into
 * out (room for want); *n gets how many there are. */
WEIR_MUSTCHECK int store_backfill_slots(struct store_conn *c, int64_t id,
                                        int first, int want, int64_t *out,
                                        int *n, struct weir_err *err);

/* Set the index of backfill id's next slot to create. */
WEIR_MUSTCHECK int store_backfill_advance(struct store_conn *c, int64_t id,
                                          int next_slot, struct weir_err *err);

/* End running backfill id as state ("done" or "canceled"; by: who
 * canceled it, or NULL). */
WEIR_MUSTCHECK int store_backfill_end(struct store_conn *c, int64_t id,
                                      const char *state, const char *by,
                                      struct weir_err *err);

/* End running backfill id as failed, with why (shown as its error). */
WEIR_MUSTCHECK int store_backfill_fail(struct store_conn *c, int64_t id,
                                       const char *error, struct weir_err *err);

/* The ids of backfill id's runs queued or running, ascending, into a new
 * array *ids of *n entries (free()). */
WEIR_MUSTCHECK int store_backfill_active_runs(struct store_conn *c, int64_t id,
                                              int64_t **ids, size_t *n,
                                              struct weir_err *err);

/* A run still active in a canceled backfill. */
struct store_backfill_orphan {
    int64_t run_id;      /* the run */
    int64_t backfill_id; /* its backfill */
    char by[224];        /* who canceled the backfill ("" when unknown) */
};

/* The runs queued or running of canceled backfills (at most 100), into a
 * new array *out of *n entries (free()). */
WEIR_MUSTCHECK int store_backfill_orphans(struct store_conn *c,
                                          struct store_backfill_orphan **out,
                                          size_t *n, struct weir_err *err);

/*
 * Backfill id (when dag_id is NULL) or every backfill of dag_id, newest
 * first (at most 100), as JSON with progress: a new object, or an array.
 * WEIR_ENOTFOUND for no backfill id.
 */
WEIR_MUSTCHECK int store_backfills_json(struct store_conn *c, int64_t id,
                                        const char *dag_id, cJSON **out,
                                        struct weir_err *err);

#endif
