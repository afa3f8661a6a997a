/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Promotions of artifact versions in the model registry: the rules come
 * from the DAG version that produced the artifact (an approval before
 * prod, how many versions prod holds, which environments feed a stage),
 * the move itself is one transaction of the store.
 */
#include "engine/engine.h"

#include <string.h>

#include "store/artifacts.h"
#include "store/store.h"

/* Whether DAG d asks for a person before production (see the top). */
static bool dag_gates_prod(const struct dag *d)
{
    for (size_t i = 0; d != NULL && i < d->n_steps; i++)
        if (d->steps[i].approval)
            return true;
    for (size_t i = 0; d != NULL && i < d->n_environments; i++)
        if (strcmp(d->environments[i].name, "prod") == 0 &&
            d->environments[i].n_approve_before > 0)
            return true;
    return false;
}

/*
 * The DAG version that produced name/version into *d (a cache reference
 * the caller drops with dagcache_release(); NULL when it cannot be had):
 * what it says of its promotions.
 */
static int promotion_dag(struct engine *e, struct store_conn *c,
                         const char *name, const char *version,
                         const struct dag **d, struct weir_err *err)
{
    int64_t dag_version = 0;
    int rc = store_artifact_dag_version(c, name, version, &dag_version, err);

    *d = rc == 0 ? engine_dag(e->cache, c, dag_version) : NULL;
    return rc;
}

/* The rules of DAG d (may be NULL) for promoting p->name to p->to: an
 * approval for prod, max_prod, the environments that may feed p->to
 * (borrowed from d). */
static void promotion_rules(const struct dag *d, struct store_promotion *p)
{
    const struct dag_artifact *a = dag_artifact_find(d, p->name);

    p->needs_approval = dag_gates_prod(d);
    p->max_prod = dag_artifact_max_prod(d, p->name);
    for (size_t i = 0; a != NULL && i < a->n_promote_from; i++) {
        if (a->promote_from[i].stage == NULL ||
            strcmp(a->promote_from[i].stage, p->to) != 0)
            continue;
        p->from_restricted = true;
        p->from_envs = (const char *const *)a->promote_from[i].envs;
        p->n_from_envs = a->promote_from[i].n_envs;
    }
}

int engine_artifact_promote(struct engine *e, const struct engine_promotion *r,
                            cJSON **out, bool *waits, struct weir_err *err)
{
    struct store_promotion p = {.name = r->name,
                                .version = r->version,
                                .to = r->to,
                                .by = r->by,
                                .comment = r->comment,
                                /* the asker's comment says why */
                                .reason = r->comment};
    const struct dag *d = NULL;
    struct store_conn *c = NULL;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = promotion_dag(e, c, p.name, p.version, &d, err);
    if (rc == 0) {
        promotion_rules(d, &p);
        rc = store_artifact_promote(c, &p, out, err);
    }
    if (d != NULL)
        dagcache_release(e->cache, d);
    store_conn_put(c);
    if (rc == 0)
        *waits = p.needs_approval && strcmp(p.to, "prod") == 0;
    return rc;
}

int engine_artifact_decide(struct engine *e, const struct engine_promotion *r,
                           bool approve, cJSON **out, struct weir_err *err)
{
    struct store_decision dd = {.name = r->name,
                                .version = r->version,
                                .approve = approve,
                                .by = r->by,
                                .comment = r->comment,
                                .groups = r->groups,
                                .n_groups = r->n_groups};
    const struct dag_artifact *a;
    const struct dag *d = NULL;
    struct store_conn *c = NULL;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = promotion_dag(e, c, dd.name, dd.version, &d, err);
    if (rc == 0) {
        a = dag_artifact_find(d, dd.name);
        dd.max_prod = dag_artifact_max_prod(d, dd.name);
        dd.self_approve = a != NULL && a->self_approve;
        dd.approvers = a != NULL ? &a->approvers : NULL;
        rc = store_artifact_decide(c, &dd, out, err);
    }
    if (d != NULL)
        dagcache_release(e->cache, d);
    store_conn_put(c);
    return rc;
}
