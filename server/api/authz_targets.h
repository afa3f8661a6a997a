/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The checks of what a request reaches beside its own target
 * (docs/security.md, "Access model: roles and scopes"): the DAGs a
 * submitted DAG follows and the runs it will start by itself, the
 * upstream run a run shows, the environment of the run an idempotency
 * key already names.
 */
#ifndef WEIR_API_AUTHZ_TARGETS_H
#define WEIR_API_AUTHZ_TARGETS_H

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "dag.h"
#include "err.h"
#include "http/http.h"

/*
 * What submitting d needs beside submit on its id: read of each DAG an
 * after: trigger follows (WEIR_EFORBIDDEN naming the trigger's key), and,
 * when d has a schedule or triggers (runs it starts by itself), trigger
 * on d in its default environment (WEIR_EFORBIDDEN naming the grant).
 */
WEIR_MUSTCHECK int api_authorize_submit_targets(struct http_req *req,
                                                const struct dag *d,
                                                struct weir_err *err);

/* Hide in run object run (a listing's, the detail's, the lineage's) the
 * trigger's payload, "upstream" and "reason" when they come from a run of
 * a DAG the caller may not read (after and data triggers): the first two
 * become null, the reason a general one. */
void api_hide_upstream(const struct http_req *req, cJSON *run);

/* api_hide_upstream() on each element of array runs. */
void api_hide_upstreams(const struct http_req *req, cJSON *runs);

/* Whether the caller reads every DAG (nothing to hide). */
bool api_reads_all_dags(const struct http_req *req);

/*
 * A trigger of dag in env (NULL: the DAG's default) whose idempotency key
 * already names run run_id: 0 when that run is in the same environment;
 * WEIR_ECONFLICT when not, naming the run only when the caller may read
 * it.
 */
WEIR_MUSTCHECK int api_check_idempotent(struct http_req *req, const char *dag,
                                        const char *env, int64_t run_id,
                                        struct weir_err *err);

/* In err, the refusal of a submitted DAG whose after trigger closes a
 * cycle ("... across DAGs: a -> b -> a"): each DAG of the cycle the
 * caller may not read becomes "a DAG you cannot read". */
void api_cycle_hide(const struct http_req *req, struct weir_err *err);

/* api/authz_artifacts.c */

/*
 * A promotion (or the approval of one) of artifact name at version to
 * stage to: when it goes to prod, 0 when each prod version it would
 * archive is one the caller may read and promote to prod, else
 * WEIR_EFORBIDDEN (naming none of them).
 */
WEIR_MUSTCHECK int api_check_promotion_archive(struct http_req *req,
                                               const char *name,
                                               const char *version,
                                               const char *to,
                                               struct weir_err *err);

/* Set "prod" and "prod_versions" of artifact object o (its "versions"
 * already filtered to what the caller may read) from those versions, and
 * hide in their promotions the name of a version that replaced one in
 * prod when it is not among them. */
void api_artifact_prod_readable(cJSON *o);

#endif
