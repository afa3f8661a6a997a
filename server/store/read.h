/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The read side of the store: the one store header the API includes
 * (scripts/check-layout enforces it), so a route handler can read but
 * never write a table; writes go through the engine.
 *
 * Defined in read.c, the read models of the API and the dashboard: run
 * lists, one run with its tasks and attempts, log lines, the
 * runs-by-steps grid, the latest runs of every DAG, the worker list and
 * the gauges of /metrics. Each is one statement whose JSON PostgreSQL
 * builds (jsonb_build_object), which keeps the column lists in one place
 * and the C side to one parse. Below them, the reads of single tables
 * that the API needs, defined with their table (the DAG list, versions,
 * artifacts and lineage, events, metric samples, tokens, ownership
 * checks), and the types those return.
 */
#ifndef WEIR_STORE_READ_H
#define WEIR_STORE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "store/pool.h"

/* Which runs a listing shows; NULL (or 0) filters nothing. */
struct store_runs_filter {
    const char *dag_id;      /* of one DAG */
    const char *state;       /* in one state */
    const char *environment; /* in one environment */
    const char *trigger;     /* started by one trigger kind ("manual") */
    const char *late;        /* "true" or "false": late or not; NULL both */
    int64_t since;           /* created at or after (s since the epoch) */
    int64_t cursor;          /* ids below it (0: from the newest) */
    int limit;               /* at most that many */
    const char *scope;       /* only runs weir_scope_ok() allows in this
                                scope (JSON, migrations/0023); NULL: all */
};

/* The runs of f, newest first, as a new JSON array; each says whether a
 * task of it awaits approval (awaiting_approval). */
WEIR_MUSTCHECK int store_runs_list(struct store_conn *c,
                                   const struct store_runs_filter *f,
                                   cJSON **out, struct weir_err *err);

/* Run id with its tasks and their attempts as a new JSON object, or
 * WEIR_ENOTFOUND. */
WEIR_MUSTCHECK int store_run_detail(struct store_conn *c, int64_t id,
                                    cJSON **out, struct weir_err *err);

/* store_run_detail() as the JSON text PostgreSQL made (a new string), for
 * a reply that adds nothing to it: no parse, no print. */
WEIR_MUSTCHECK int store_run_detail_text(struct store_conn *c, int64_t id,
                                         char **out, struct weir_err *err);

/* Log lines of attempt id with seq > after, at most limit, as a new JSON
 * array; WEIR_ENOTFOUND when there is no such attempt. */
WEIR_MUSTCHECK int store_logs_read(struct store_conn *c, int64_t id,
                                   int64_t after, int limit, cJSON **out,
                                   struct weir_err *err);

/*
 * The runs of DAG dag_id with ids below cursor (0: from the newest),
 * newest first, at most limit, as a new JSON array of {"id", "state",
 * "created_at", "started_at", "finished_at", "tasks": {STEP: {"state",
 * "cells"}}}, only runs scope allows (weir_scope_ok(), NULL: all).
 * Returns 0 or a WEIR_E* code with err.
 */
WEIR_MUSTCHECK int store_grid_read(struct store_conn *c, const char *dag_id,
                                   int64_t cursor, int limit, const char *scope,
                                   cJSON **out, struct weir_err *err);

/*
 * The newest per_dag runs of every DAG, as a new JSON object {DAG: [{"id",
 * "state"}, ...]} (newest first), only runs scope allows
 * (weir_scope_ok(), NULL: all). Returns 0 or a WEIR_E* code with err.
 */
WEIR_MUSTCHECK int store_recent_runs(struct store_conn *c, int per_dag,
                                     const char *scope, cJSON **out,
                                     struct weir_err *err);

/*
 * Every registered worker, by name, as a new JSON array of {id, name,
 * queues, slots, labels, state, registered_at, last_seen_at,
 * running_attempts}. A worker not seen for lost_ms shows state "lost".
 */
WEIR_MUSTCHECK int store_workers_list(struct store_conn *c, int64_t lost_ms,
                                      cJSON **out, struct weir_err *err);

/*
 * The gauges of /metrics as a new JSON object: {runs: {state: n},
 * tasks: {state: n}, queues: {queue: queued tasks} (every queue with
 * queued tasks or a worker serving it), workers: n seen within seen_ms}.
 */
WEIR_MUSTCHECK int store_metrics(struct store_conn *c, int64_t seen_ms,
                                 cJSON **out, struct weir_err *err);

/* ---- reads of the tables, defined with their table (store/X.c) ---- */

/* store/artifacts.c */

/* Every artifact version (of name when not NULL), newest first, as a new
 * JSON array *out. */
WEIR_MUSTCHECK int store_artifacts_list(struct store_conn *c, const char *name,
                                        cJSON **out, struct weir_err *err);

/* One artifact: {name, prod (the version that reached prod last, or
 * null), prod_versions (every prod version, newest there first), versions:
 * [... with promotions]}, or WEIR_ENOTFOUND when no version has that
 * name. */
WEIR_MUSTCHECK int store_artifact_get(struct store_conn *c, const char *name,
                                      cJSON **out, struct weir_err *err);

/*
 * The lineage of run_id as a new JSON object *out: the run's DAG version
 * (id, hash, path), params, environment, trigger and reason, and per task
 * its outputs split into data, artifact and metrics, the attempt that
 * produced them, and whether a retry of the run reused it; the artifact
 * versions the run recorded. *version_id gets the run's DAG version.
 * WEIR_ENOTFOUND when there is no such run.
 */
WEIR_MUSTCHECK int store_run_lineage(struct store_conn *c, int64_t run_id,
                                     cJSON **out, int64_t *version_id,
                                     struct weir_err *err);

/* store/dags.c */

/* A row of dags, with the hash of its current version. */
struct store_dag {
    char *id;           /* the DAG id */
    char *origin;       /* "file" or "api" */
    char *path;         /* file under the DAGs folder, or NULL */
    bool paused;        /* no new scheduled runs */
    int64_t version_id; /* current version, 0 when it never loaded */
    char *hash;         /* SHA-256 of that version, or NULL */
    char *last_error;   /* diagnostics of the last failed load, or NULL */
    int64_t updated_at; /* Unix seconds */
    bool file_missing;  /* its file is gone from the DAGs folder */
};

/* Free the strings of d; the struct itself is the caller's. */
void store_dag_cleanup(struct store_dag *d);

/* Free an array from store_dag_list(). */
void store_dag_list_free(struct store_dag *v, size_t n);

/* Every DAG, ordered by id, into a new array *out of *n entries. */
WEIR_MUSTCHECK int store_dag_list(struct store_conn *c, struct store_dag **out,
                                  size_t *n, struct weir_err *err);

/* The DAG with this id into *out; WEIR_ENOTFOUND when there is none. */
WEIR_MUSTCHECK int store_dag_get(struct store_conn *c, const char *id,
                                 struct store_dag *out, struct weir_err *err);

/* store/versions.c */

/* A row of dag_versions without its source. */
struct store_dag_version {
    int64_t id;         /* version id */
    char *hash;         /* SHA-256 of the source */
    char *origin;       /* "file" or "api" */
    char *path;         /* the file it came from, or NULL */
    int64_t created_at; /* Unix seconds */
};

/* Free an array from store_dag_versions(). */
void store_dag_versions_free(struct store_dag_version *v, size_t n);

/* The versions of DAG id, newest first; WEIR_ENOTFOUND for no such DAG. */
WEIR_MUSTCHECK int store_dag_versions(struct store_conn *c, const char *id,
                                      struct store_dag_version **out, size_t *n,
                                      struct weir_err *err);

/* store/metrics.c */

/*
 * The latest limit samples of name since `since` (Unix seconds, or
 * NULL), oldest first, as a new array *out of {time, value, labels}.
 */
WEIR_MUSTCHECK int store_metric_samples(struct store_conn *c, const char *name,
                                        const double *since, int limit,
                                        cJSON **out, struct weir_err *err);

/* store/tokens.c */

/* Bytes a token's queues take as a JSON array, NUL included. */
#define STORE_TOKEN_QUEUES_LEN 2048
#define STORE_TOKEN_GRANTS_LEN 8192 /* bytes of a token's grants as JSON */

/* A live token (neither revoked nor expired) as read back. */
struct store_token {
    int64_t id;     /* api_tokens.id */
    char role[16];  /* "admin", "worker" or "read" */
    char name[256]; /* free text; "" for an unnamed token */
    char queues[STORE_TOKEN_QUEUES_LEN]; /* JSON array of the queues it may
                                           serve; "": any */
    char grants[STORE_TOKEN_GRANTS_LEN]; /* JSON array of its role grants
                                            (docs/security.md) */
};

/* Every token, oldest first, as a JSON array of {id, name, role,
 * created_at, last_used_at, expires_at, revoked_at, queues, grants,
 * state}; never
 * a secret or a hash. */
WEIR_MUSTCHECK int store_token_list(struct store_conn *c, cJSON **out,
                                    struct weir_err *err);

/* 0 when worker worker_id is bound to the token whose SHA-256 hex is
 * hash; WEIR_ENOTFOUND for no such worker, WEIR_EFORBIDDEN for another
 * token's worker. */
WEIR_MUSTCHECK int store_worker_owned(struct store_conn *c, int64_t worker_id,
                                      const char *hash, struct weir_err *err);

/* 0 when each existing attempt of ids (a PostgreSQL array literal such as
 * "{1,2}") was leased by a worker bound to the token of hash;
 * WEIR_EFORBIDDEN naming the first that was not. Unknown ids are left to
 * the caller. */
WEIR_MUSTCHECK int store_attempts_owned(struct store_conn *c, const char *ids,
                                        const char *hash, struct weir_err *err);

/* store/triggers.c */

/*
 * Events newest first: up to limit with a stored id below cursor (0 for
 * the newest), only those run_id consumed unless it is 0, and no more
 * than their payloads' max_bytes (the first always comes), as a new
 * object *out {events: [{id, ext_id, name, payload, received_at, runs}],
 * more: whether events are left past the page}. With scope (JSON, see
 * weir_scope_ok() in migrations/0023), only events that started a run
 * the scope allows; NULL: every event.
 */
WEIR_MUSTCHECK int store_events_list(struct store_conn *c, int limit,
                                     int64_t cursor, int64_t run_id,
                                     int64_t max_bytes, const char *scope,
                                     cJSON **out, struct weir_err *err);

/* Every pool (store/pools.c) as a new JSON array, by name: its slots, the
 * slots in use (used) by its running tasks (running), and its claimable
 * tasks waiting (waiting). */
WEIR_MUSTCHECK int store_pools_list(struct store_conn *c, cJSON **out,
                                    struct weir_err *err);

/* ---- authorization (store/authz.c): what a request's target belongs
 * to, for api/authz.c ---- */

/* The DAG and environment a run, attempt, backfill or artifact version
 * belongs to. */
struct store_scope {
    char dag[128]; /* DAG id ("" for an artifact no run recorded) */
    char env[128]; /* environment, when has_env */
    bool has_env;  /* false: none (a DAG without environments) */
};

/* The scope of run run_id into *out; WEIR_ENOTFOUND when none. */
WEIR_MUSTCHECK int store_run_scope(struct store_conn *c, int64_t run_id,
                                   struct store_scope *out,
                                   struct weir_err *err);

/* The scope of the run of attempt attempt_id; WEIR_ENOTFOUND when none. */
WEIR_MUSTCHECK int store_attempt_scope(struct store_conn *c, int64_t attempt_id,
                                       struct store_scope *out,
                                       struct weir_err *err);

/* The DAG of backfill backfill_id (no environment); WEIR_ENOTFOUND when
 * none. */
WEIR_MUSTCHECK int store_backfill_scope(struct store_conn *c,
                                        int64_t backfill_id,
                                        struct store_scope *out,
                                        struct weir_err *err);

/* The DAG and environment of the run that made artifact name at version;
 * WEIR_ENOTFOUND when there is no such version. */
WEIR_MUSTCHECK int store_artifact_scope(struct store_conn *c, const char *name,
                                        const char *version,
                                        struct store_scope *out,
                                        struct weir_err *err);

#endif
