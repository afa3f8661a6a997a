/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Events and trigger state: the guards' facts about a DAG's triggered
 * runs, suppressed firings, events and what each trigger accumulated
 * from them, hook deliveries, files seen by file triggers, and where a
 * cron catch-up starts. Every function runs inside the caller's
 * transaction, if any.
 */
#ifndef WEIR_STORE_TRIGGERS_H
#define WEIR_STORE_TRIGGERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "store/pool.h"

/* What the guards need to know about a DAG and one of its triggers. */
struct store_guard {
    bool slot_taken;         /* the slot already has its run */
    int64_t queued_run;      /* a queued run of the trigger, else 0 */
    bool cooling;            /* inside the cooldown */
    char cooldown_until[40]; /* then: until when (RFC 3339) */
    int today;               /* triggered runs since midnight */
};

/*
 * The guards' facts for trigger key of dag_id: its slot logical_time
 * (Unix seconds, 0 for none), cooldown_ms and the zone tz whose midnight
 * starts the day. Call it with the DAG row locked: the facts are read
 * with the clock after the lock (clock_timestamp(), not the
 * transaction's start, which may precede a run that another transaction
 * made while this one waited). A cooldown_ms of 0 never cools.
 */
WEIR_MUSTCHECK int store_trig_guard(struct store_conn *c, const char *dag_id,
                                    const char *key, int64_t logical_time,
                                    int64_t cooldown_ms, const char *tz,
                                    struct store_guard *out,
                                    struct weir_err *err);

/* Record a firing of (dag_id, key) suppressed or folded, with why. */
WEIR_MUSTCHECK int store_trig_suppress(struct store_conn *c, const char *dag_id,
                                       const char *key, const char *why,
                                       struct weir_err *err);

/* Every pending event of (dag_id, key) now belongs to run_id. */
WEIR_MUSTCHECK int store_trig_consume(struct store_conn *c, const char *dag_id,
                                      const char *key, int64_t run_id,
                                      struct weir_err *err);

/*
 * Insert an event (ext_id may be NULL; payload is JSON text). *id gets
 * its id and received (may be NULL) its time; when ext_id was seen
 * before, *dup is true and *id is the first event's id.
 */
WEIR_MUSTCHECK int store_event_insert(struct store_conn *c, const char *ext_id,
                                      const char *name, const char *payload,
                                      int64_t *id, bool *dup,
                                      struct weir_err *err);

/*
 * Insert n events at once from json, an array of {"n": name, "x": client
 * id (optional), "p": payload (optional)}, in one statement: ids[i] gets
 * the i-th event's id and dups[i] whether its client id was seen before
 * (in an earlier request or earlier in this array; then ids[i] is the
 * first event's id).
 */
WEIR_MUSTCHECK int store_events_insert_many(struct store_conn *c,
                                            const char *json, size_t n,
                                            int64_t *ids, bool *dups,
                                            struct weir_err *err);

/*
 * Event event_id matched (dag_id, key) with value: add it to the
 * trigger's pending events; *sum and *count get the pending total.
 */
WEIR_MUSTCHECK int store_trig_event_add(struct store_conn *c,
                                        const char *dag_id, const char *key,
                                        int64_t event_id, double value,
                                        double *sum, int *count,
                                        struct weir_err *err);

/* What the trigger-state API shows of one trigger. */
struct store_trig_state {
    double accumulated;      /* sum of its pending events */
    int pending;             /* how many */
    char last_fired[40];     /* RFC 3339 of its latest run, "" if none */
    char cooldown_until[40]; /* the DAG's cooldown end if ahead, else "" */
    int armed;               /* metric triggers: 1, 0, or -1 (never fed) */
    cJSON *suppressed;       /* the latest 20 [{at, reason}] (new) */
};

/*
 * The state of trigger key of dag_id (cooldown_ms: the DAG's) into *out;
 * the caller cJSON_Delete()s out->suppressed.
 */
WEIR_MUSTCHECK int store_trig_state(struct store_conn *c, const char *dag_id,
                                    const char *key, int64_t cooldown_ms,
                                    struct store_trig_state *out,
                                    struct weir_err *err);

/*
 * Delete up to limit events received more than retention_s seconds ago
 * that no trigger_events row names (neither pending for a trigger nor
 * consumed by a run), oldest first, in one statement; *deleted says how
 * many went.
 */
WEIR_MUSTCHECK int store_events_prune(struct store_conn *c, int64_t retention_s,
                                      int limit, int64_t *deleted,
                                      struct weir_err *err);

/*
 * Record delivery id `delivery` of webhook trigger key of dag_id inside
 * the caller's transaction; *fresh is false when it was recorded before
 * (the delivery is a duplicate).
 */
WEIR_MUSTCHECK int store_hook_delivery_add(struct store_conn *c,
                                           const char *dag_id, const char *key,
                                           const char *delivery, bool *fresh,
                                           struct weir_err *err);

/* Delete the delivery ids recorded more than keep_s seconds ago;
 * *deleted says how many went. */
WEIR_MUSTCHECK int store_hook_deliveries_prune(struct store_conn *c,
                                               int64_t keep_s, int64_t *deleted,
                                               struct weir_err *err);

/*
 * Whether file trigger key of dag_id already acted on path with this size
 * and modification time (ns); with mark, record that it now has (an
 * upsert), inside the caller's transaction.
 */
WEIR_MUSTCHECK int store_file_seen(struct store_conn *c, const char *dag_id,
                                   const char *key, const char *path,
                                   int64_t size, int64_t mtime_ns, bool mark,
                                   bool *seen, struct weir_err *err);

/*
 * The latest slot (Unix seconds) that trigger key of dag_id has a run
 * for; for a trigger that has none yet, when the DAG's current version was
 * loaded; 0 when neither is known: where a catch-up starts from.
 */
WEIR_MUSTCHECK int store_sched_last_slot(struct store_conn *c,
                                         const char *dag_id, const char *key,
                                         int64_t *slot, struct weir_err *err);

#endif
