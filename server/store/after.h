/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The after and data triggers in the database: trigger_follows (per DAG,
 * the after and data triggers of its current version), the after-edges
 * the cycle check reads, the upstream run's outputs, and data_versions
 * (each dataset version recorded once, the first time a run produces
 * it). Every function runs inside the caller's transaction, if any.
 */
#ifndef WEIR_STORE_AFTER_H
#define WEIR_STORE_AFTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dag.h"
#include "store/pool.h"

/* For run r as a JSON object's entries (run detail, lineage): the run
 * an after or data trigger's run came from: {run_id, dag, state
 * (an after trigger's)}, or null. */
#define STORE_UPSTREAM_JSON                                                    \
    "'upstream', CASE WHEN r.trigger_kind = 'after' THEN jsonb_build_object("  \
    "'run_id', r.trigger_payload->'run_id', 'dag', r.trigger_payload->'dag',"  \
    " 'state', r.trigger_payload->'state') WHEN r.trigger_kind = 'data' THEN"  \
    " jsonb_build_object('run_id', r.trigger_payload->'payload'->'run_id',"    \
    " 'dag', r.trigger_payload->'payload'->'dag', 'dataset',"                  \
    " r.trigger_payload->'name', 'version', r.trigger_payload->'id') END"

/* One after-edge: runs of `up` ending fire the DAG `down`. */
struct store_edge {
    char down[DAG_ID_MAX + 1]; /* the following DAG */
    char up[DAG_ID_MAX + 1];   /* the DAG it follows */
};

/* A trigger following a DAG or a dataset, in a DAG's current version. */
struct store_follower {
    char dag_id[DAG_ID_MAX + 1]; /* the following DAG */
    char *key;                   /* its trigger's key (owned) */
    char state[8];               /* after: success, failed or any */
    int64_t version_id;          /* the DAG's current version */
};

/*
 * Replace the follows of DAG d's id with the after and data triggers of d
 * (its version just made current).
 */
WEIR_MUSTCHECK int store_follows_set(struct store_conn *c, const struct dag *d,
                                     struct weir_err *err);

/*
 * Every after-edge but those of DAG `except`, into a new array *out of *n
 * (free()).
 */
WEIR_MUSTCHECK int store_follows_edges(struct store_conn *c, const char *except,
                                       struct store_edge **out, size_t *n,
                                       struct weir_err *err);

/*
 * The triggers of kind ("after" or "data") that follow target, of DAGs
 * with a current version, ordered by DAG id (the order their rows are
 * locked in), into a new array *out of *n (store_followers_free()).
 */
WEIR_MUSTCHECK int store_followers(struct store_conn *c, const char *kind,
                                   const char *target,
                                   struct store_follower **out, size_t *n,
                                   struct weir_err *err);

/* Free what store_followers() gave. */
void store_followers_free(struct store_follower *v, size_t n);

/*
 * The outputs of run_id's successful tasks as JSON text {STEP: {KEY:
 * VALUE}} (a matrix step: its first cell with outputs), in a new string
 * *out (free()); "{}" when there are none or they pass max_bytes.
 */
WEIR_MUSTCHECK int store_run_outputs(struct store_conn *c, int64_t run_id,
                                     size_t max_bytes, char **out,
                                     struct weir_err *err);

/* A data version an attempt produced. */
struct store_data_version {
    const char *name;    /* the dataset */
    const char *version; /* its version */
    int64_t run_id;      /* the run */
    int64_t attempt_id;  /* the attempt */
    const char *dag_id;  /* the run's DAG */
    const char *step_id; /* the attempt's step */
};

/*
 * Record v unless (name, version) is recorded already; *created says
 * whether it is new.
 */
WEIR_MUSTCHECK int store_data_version_add(struct store_conn *c,
                                          const struct store_data_version *v,
                                          bool *created, struct weir_err *err);

/* Take the session's lock on the follows (the cycle check and the sync
 * that follows it), and give it back. */
WEIR_MUSTCHECK int store_follows_lock(struct store_conn *c,
                                      struct weir_err *err);
void store_follows_unlock(struct store_conn *c);

/* An after or data firing waiting in after_pending. */
struct store_after_pending {
    int64_t id;                  /* its row */
    char dag_id[DAG_ID_MAX + 1]; /* the following DAG */
    char *key;                   /* its trigger (owned) */
    char *reason;                /* the new run's reason (owned) */
    char *payload;               /* its trigger_payload, JSON (owned) */
    int depth;                   /* chain depth it was written at */
    int64_t from_run;            /* add: the upstream run, whose
                                    starters the new run inherits */
    char started_by[256];        /* take: the upstream's starter, or "" */
    char retried_by[256];        /* take: its last retrier, or "" */
};

/* Queue firing p (id ignored) in the caller's transaction. */
WEIR_MUSTCHECK int store_after_pending_add(struct store_conn *c,
                                           const struct store_after_pending *p,
                                           struct weir_err *err);

/*
 * Take (delete) the oldest pending firing no other transaction holds
 * into *p (store_after_pending_free()); *found says whether there was
 * one. The caller's transaction fires it, so the delete and the run it
 * makes commit together.
 */
WEIR_MUSTCHECK int store_after_pending_take(struct store_conn *c,
                                            struct store_after_pending *p,
                                            bool *found, struct weir_err *err);

/* Whether any firing is pending (a quick look, outside a transaction). */
WEIR_MUSTCHECK int store_after_pending_any(struct store_conn *c, bool *any,
                                           struct weir_err *err);

/* Free what store_after_pending_take() gave. */
void store_after_pending_free(struct store_after_pending *p);

#endif
