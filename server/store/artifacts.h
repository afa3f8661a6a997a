/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The model registry and lineage in the database (artifacts.c):
 * artifact versions recorded from attempt outputs, their promotions
 * through the stages none -> dev -> staging -> prod -> archived, and the
 * lineage of a run. Reads return JSON that PostgreSQL builds.
 */
#ifndef WEIR_STORE_ARTIFACTS_H
#define WEIR_STORE_ARTIFACTS_H

#include <cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "dag.h"
#include "store/pool.h"

/*
 * Record the artifact version that attempt_id's outputs (JSON object text,
 * may be NULL) declare with artifact.name, in the caller's transaction:
 * version (artifact.version, else "run-<run id>"), uri, metrics (metric.*
 * keys without the prefix; a number of up to 30 digits and a 3-digit
 * exponent as a number, anything else as text), data version and hash (the
 * attempt's own data.version and data.hash, else each from the nearest task
 * before it in step order that output it), and the producing run, DAG version,
 * environment, step and attempt. Outputs without artifact.name record nothing;
 * an invalid name or version, or a version already recorded, is logged and not
 * recorded: a step's outputs never fail the attempt. Returns 0 or a database
 * error.
 */
WEIR_MUSTCHECK int store_artifact_record(struct store_conn *c,
                                         int64_t attempt_id,
                                         const char *outputs,
                                         struct weir_err *err);

/*
 * Record on attempts which upstream attempts produced the outputs their
 * leases gave them, in the caller's transaction. want is JSON array text
 * with one entry per attempt and upstream task: {"a": ATTEMPT_ID, "r":
 * RUN_ID, "t": UPSTREAM_TASK_ID, "try": ITS TRY COUNT, "s": ITS STEP, "c":
 * ITS CELL, "m": true for a matrix step, "dv": its data.version or null}.
 * attempts.inputs_from gets {step: {attempt_id, try, data_version,
 * reused}} (attempt_id null when the task has no successful try,
 * reused: true when that attempt finished before the run's last retry), a
 * list of those with cell for a matrix step. One statement for every
 * attempt. Returns 0 or a database error.
 */
WEIR_MUSTCHECK int store_attempts_inputs_from(struct store_conn *c,
                                              const char *want,
                                              struct weir_err *err);

/* A promotion request. */
struct store_promotion {
    const char *name;     /* artifact name */
    const char *version;  /* its version */
    const char *to;       /* dev, staging, prod or archived */
    const char *by;       /* token name of who asks */
    const char *comment;  /* free text, or NULL */
    const char *reason;   /* why it is asked (kept while it waits), or NULL */
    bool needs_approval;  /* to prod only once someone approves */
    int max_prod;         /* versions of the name in prod at once, >= 1 */
    bool from_restricted; /* the DAG says which environments feed p->to */
    const char *const *from_envs; /* those environments (borrowed) */
    size_t n_from_envs;           /* entries in from_envs */
};

/*
 * Move an artifact version to stage p->to in one transaction, recording
 * who and when. Stages only move forward (none, dev, staging, prod,
 * archived), but for a rollback: an archived version that was in prod
 * goes back to prod, with a reason (p->comment, WEIR_EINVAL without one),
 * recorded as a promotion from archived to prod ("rollback": true). With
 * p->from_restricted, a version made in an environment not in
 * p->from_envs is refused (WEIR_ECONFLICT). A promotion to prod archives the
 * oldest of the name's prod versions (the one that reached prod first) when
 * p->max_prod are there already. With p->needs_approval, a promotion to prod
 * only waits for store_artifact_decide() (outcome "awaiting_approval"). *out
 * gets {name, version, from, stage, outcome, by, decided_by, at, archived (the
 * versions archived to make room, or null)}.
 * WEIR_EINVAL for an unknown stage, WEIR_ENOTFOUND for no such version,
 * WEIR_ECONFLICT for a move backwards, to the stage it has, or while a
 * promotion of it awaits approval.
 */
WEIR_MUSTCHECK int store_artifact_promote(struct store_conn *c,
                                          const struct store_promotion *p,
                                          cJSON **out, struct weir_err *err);

/* A decision on a promotion that awaits approval. */
struct store_decision {
    const char *name;    /* artifact name */
    const char *version; /* its version */
    int max_prod;        /* versions of the name in prod at once, >= 1 */
    bool approve;        /* approve, or reject */
    const char *by;      /* token name of who decides */
    const char *comment; /* free text, or NULL */
    bool self_approve;   /* who asked may approve too */
    const struct dag_approvers *approvers; /* who may decide, or NULL */
    const char *const *groups; /* the decider's groups, or NULL: none */
    size_t n_groups;           /* entries in groups */
};

/*
 * Approve (the waiting promotion happens, as store_artifact_promote()
 * would with max_prod) or reject (the stage stays) the promotion of
 * d->name/version that awaits approval. Both are recorded. Who asked may
 * reject (withdraw) it, but approve it only with d->self_approve
 * (WEIR_EFORBIDDEN otherwise). With d->approvers, anyone else must match
 * one by name (d->by) or by a group (WEIR_EFORBIDDEN otherwise). WEIR_ECONFLICT
 * when nothing awaits approval.
 */
WEIR_MUSTCHECK int store_artifact_decide(struct store_conn *c,
                                         const struct store_decision *d,
                                         cJSON **out, struct weir_err *err);

/* The DAG version that produced name/version into *version_id (0 when
 * unknown), or WEIR_ENOTFOUND. */
WEIR_MUSTCHECK int store_artifact_dag_version(struct store_conn *c,
                                              const char *name,
                                              const char *version,
                                              int64_t *version_id,
                                              struct weir_err *err);

#endif
