/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secrets (docs/security.md, "Secrets"): setting, listing, deleting and
 * re-sealing them, the check that a DAG names only secrets that exist,
 * and their delivery inside a lease. Values are sealed with the key ring
 * of engine/secretkey.h before they reach the database, and opened only
 * to fill an attempt document for the worker holding its lease: never
 * stored in attempts, outputs, DAG versions or logs.
 */
#ifndef WEIR_ENGINE_SECRETS_H
#define WEIR_ENGINE_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "dag.h"
#include "engine/engine.h"

/*
 * Set secret name of environment env ("" or NULL: every environment) to
 * the len bytes of value, as who: sealed under the first key, a new
 * version. WEIR_EINVAL names a bad name, environment or value;
 * WEIR_ECONFLICT when the server has no secrets key.
 */
WEIR_MUSTCHECK int engine_secret_set(struct engine *e, const char *name,
                                     const char *env, const char *value,
                                     size_t len, const char *who, int *version,
                                     struct weir_err *err);

#define SECRET_DAGS_MAX 16 /* DAG patterns of a secret */

/*
 * engine_secret_set() for the DAGs of patterns dags (a JSON array of DAG
 * id patterns, "*" any run, "?" one; NULL or empty: any DAG), which
 * replace the row's patterns. WEIR_EINVAL names a bad pattern.
 */
WEIR_MUSTCHECK int engine_secret_set_scoped(struct engine *e, const char *name,
                                            const char *env, const char *value,
                                            size_t len, const cJSON *dags,
                                            const char *who, int *version,
                                            struct weir_err *err);

/* Delete secret name of env ("" or NULL: the one for every environment);
 * WEIR_ENOTFOUND naming it when there is none. */
WEIR_MUSTCHECK int engine_secret_delete(struct engine *e, const char *name,
                                        const char *env, struct weir_err *err);

/* Every secret, never a value (an api_list_fn). */
WEIR_MUSTCHECK int engine_secrets_list(struct store_conn *c, cJSON **out,
                                       struct weir_err *err);

/*
 * Open every stored value with the key that sealed it and seal it again
 * under the first key of the ring, in one transaction: *resealed rows were
 * written (those already under the first key too, with a fresh nonce). A
 * row that does not open fails it all, naming the secret and its key.
 */
WEIR_MUSTCHECK int engine_secrets_rotate(struct engine *e, int *resealed,
                                         struct weir_err *err);

/*
 * Report in diags, at file:line:col, each secret a step of dag names that
 * has no value for any environment (WEIR_EINVAL then). The DAG folder and
 * API submissions call it, as the pools check (the loader cannot know).
 */
struct dag_diags;
WEIR_MUSTCHECK int engine_dag_secrets_check(struct store_conn *c,
                                            const struct dag *dag,
                                            struct dag_diags *diags,
                                            struct weir_err *err);

/* engine_dag_secrets_check() on a connection of its own. */
WEIR_MUSTCHECK int engine_dag_secrets_check_e(struct engine *e,
                                              const struct dag *dag,
                                              struct dag_diags *diags,
                                              struct weir_err *err);

/*
 * Fill the attempt document *doc of task i of x (engine/lease.c) with
 * the secrets of its step, in its run's environment: `secrets:` names as
 * variables of env, the env: values that template ${{ secrets.NAME }}
 * rendered, and "secrets": {NAME: value} for the worker's masking. A
 * step with no secrets is left alone. When the attempt cannot get them
 * (a secret not set for the environment, no key, a value that does not
 * open), *doc is deleted and set to NULL and rerr says why (the attempt
 * fails); the return code is the lease's failure (the database).
 */
struct run_ctx;
WEIR_MUSTCHECK int engine_secrets_fill(struct store_conn *c, struct run_ctx *x,
                                       size_t i, cJSON **doc,
                                       struct weir_err *rerr,
                                       struct weir_err *err);

/*
 * The attempts of a lease reply about to go to a client that is neither on
 * loopback nor on TLS: every document of arr holding secrets is taken out
 * of arr, and its attempt failed with an error that says why (a retry may
 * go to a worker that connects safely). Returns how many were taken.
 */
size_t engine_secrets_refuse(struct engine *e, cJSON *arr);

#endif
