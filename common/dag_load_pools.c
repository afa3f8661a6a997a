/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `pool:` and `pool_slots:`, on a step or in `defaults:`. The loader
 * checks their form only: which pools exist is known to the server alone,
 * which checks the names when it records the DAG (engine/pools.c).
 */
#include "dag_internal.h"

#define POOL_SLOTS_MAX 1000000 /* more than any pool is ever given */

void dag_load_pool(struct dag_ctx *c, const char *label,
                   const struct ynode *n_pool, const struct ynode *n_slots,
                   char **pool, int *slots, struct dag_pos *pool_pos,
                   struct dag_pos *slots_pos)
{
    /* `pool: null` takes a step out of the pool of `defaults:`. */
    if (n_pool != NULL && n_pool->kind == YNODE_SCALAR && dag_is_null(n_pool)) {
        *pool = NULL;
    } else if (n_pool != NULL && dag_get_str(c, "pool", n_pool, pool)) {
        *pool_pos = dag_npos(n_pool);
        *slots_pos = *pool_pos;
        if (!dag_id_valid(n_pool->str, n_pool->len)) {
            dag_error(c, dag_npos(n_pool),
                      "pool name \"%s\" is not valid: use lowercase letters, "
                      "digits, \"_\" and \"-\", starting with a letter or "
                      "digit (at most 64)",
                      dag_q(c, n_pool->str));
            *pool = NULL;
        }
    }
    if (n_slots == NULL)
        return;
    if (dag_get_int(c, "pool_slots", n_slots, 1, POOL_SLOTS_MAX, slots))
        *slots_pos = dag_npos(n_slots);
    if (*pool == NULL &&
        (n_pool == NULL || n_pool->kind != YNODE_SCALAR || dag_is_null(n_pool)))
        dag_error(c, dag_npos(n_slots),
                  "in %s, \"pool_slots\" needs a \"pool\" (the pool whose "
                  "slots it takes)",
                  label);
}
