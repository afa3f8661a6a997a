/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pools: named sets of slots shared by every DAG (docs/dag-format.md,
 * "Pools"). Setting and deleting pools, the check of a DAG's pool names
 * when it is recorded (the loader cannot know which pools exist), and the
 * refusal of a claimed task that needs more slots than its pool has.
 *
 * The slots in use are derived from the running tasks of each pool
 * (store/pools.h), so this file never gives slots back: an attempt's end,
 * whichever path ends it, frees them by leaving running. What it must do
 * is wake the waiting lease calls when slots appear: engine_finish_in()
 * notes a pooled task leaving running (lease.c wakes after the commit),
 * the reaper and the control paths always wake, and a pool's new size
 * wakes here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "log.h"
#include "store/store.h"
#include "suggest.h"

#define POOL_SLOTS_MAX 1000000 /* as the loader's limit on pool_slots */

/* Whether name is a valid pool name (as a DAG id: dag_load_pools.c). */
static bool name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > DAG_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                  (i > 0 && (ch == '_' || ch == '-'));

        if (!ok)
            return false;
    }
    return true;
}

int engine_pool_set(struct engine *e, const char *name, long long slots,
                    bool *created, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc;

    if (!name_ok(name))
        return weir_err_set(err, WEIR_EINVAL,
                            "pool name \"%.80s\" is not valid: use lowercase "
                            "letters, digits, \"_\" and \"-\", starting with "
                            "a letter or digit (at most %d)",
                            name, DAG_ID_MAX);
    if (slots < 0 || slots > POOL_SLOTS_MAX)
        return weir_err_set(err, WEIR_EINVAL,
                            "\"slots\" must be a whole number from 0 to %d, "
                            "got %lld",
                            POOL_SLOTS_MAX, slots);
    rc = store_conn_get(e->store, &c, err);
    if (rc == 0)
        rc = store_pool_set(c, name, (int)slots, created, err);
    store_conn_put(c);
    if (rc < 0)
        return rc;
    log_info("event=pool_set pool=%s slots=%lld created=%s", name, slots,
             *created ? "yes" : "no");
    /* More slots start waiting tasks at once. */
    hub_bump(e->hub);
    return 0;
}

/* "a, b, c" of the JSON array of strings v into buf. */
static void names_text(const cJSON *v, char *buf, size_t size)
{
    const cJSON *s;
    size_t o = 0;

    buf[0] = '\0';
    cJSON_ArrayForEach(s, v)
    {
        int w = snprintf(buf + o, size - o, "%s%s", o ? ", " : "",
                         cJSON_GetStringValue(s));

        if (w < 0 || (size_t)w >= size - o) {
            snprintf(buf + (size > 5 ? size - 5 : 0), 5, "...");
            return;
        }
        o += (size_t)w;
    }
}

int engine_pool_delete(struct engine *e, const char *name, bool force,
                       cJSON **users, struct weir_err *err)
{
    struct store_conn *c = NULL;
    cJSON *dags = NULL;
    bool exists = false;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = store_tx_begin(c, err);
    if (rc == 0)
        rc = store_pool_users(c, name, &exists, &dags, err);
    if (rc == 0 && !exists)
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no pool \"%.80s\"", name);
    if (rc == 0 && cJSON_GetArraySize(dags) > 0 && !force) {
        char list[160];

        names_text(dags, list, sizeof(list));
        rc = weir_err_set(err, WEIR_ECONFLICT,
                          "pool \"%s\" is used by DAG%s %s; change them "
                          "first, or delete with force",
                          name, cJSON_GetArraySize(dags) > 1 ? "s" : "", list);
    }
    if (rc == 0)
        rc = store_pool_delete(c, name, err);
    if (rc == 0)
        rc = store_tx_commit(c, err);
    else if (c != NULL)
        store_tx_rollback(c);
    store_conn_put(c);
    if (rc == 0)
        log_info("event=pool_deleted pool=%s forced=%s users=%d", name,
                 force ? "yes" : "no", cJSON_GetArraySize(dags));
    if (rc == 0 && users != NULL)
        *users = dags;
    else
        cJSON_Delete(dags);
    return rc;
}

bool engine_pool_fits(const struct store_claim *cl, struct weir_err *err)
{
    if (cl->pool[0] == '\0' || cl->pool_size == 0)
        return true;
    weir_err_set(err, WEIR_EINVAL,
                 "step \"%s\" takes %d slots of pool \"%s\", which has %d: "
                 "it can never run",
                 cl->step_id, cl->pool_slots, cl->pool, cl->pool_size);
    return false;
}

/* The distinct pools dag names, into names (room for every step). */
static size_t dag_pools(const struct dag *dag, const char **names)
{
    size_t n = 0;

    for (size_t s = 0; s < dag->n_steps; s++) {
        const char *p = dag->steps[s].pool;
        size_t k = 0;

        if (p == NULL || dag->steps[s].approval)
            continue;
        while (k < n && strcmp(names[k], p) != 0)
            k++;
        if (k == n)
            names[n++] = p;
    }
    return n;
}

/* Report each step of dag naming a pool missing from `known` (names of
 * the pools there are) or asking more slots than the pool has. */
static int check_steps(const struct dag *dag, const cJSON *known,
                       struct dag_diags *diags)
{
    size_t n_known = (size_t)cJSON_GetArraySize(known), k = 0;
    const char **cands = calloc(n_known ? n_known : 1, sizeof(*cands));
    const cJSON *p;
    int rc = 0;

    if (cands == NULL)
        return WEIR_ENOMEM;
    cJSON_ArrayForEach(p, known)
    {
        cands[k++] = cJSON_GetStringValue(cJSON_GetObjectItem(p, "name"));
    }
    for (size_t s = 0; s < dag->n_steps; s++) {
        const struct dag_step *st = &dag->steps[s];
        const cJSON *pool = NULL;
        int slots;

        if (st->pool == NULL || st->approval)
            continue;
        for (k = 0; k < n_known && pool == NULL; k++)
            if (cands[k] != NULL && strcmp(cands[k], st->pool) == 0)
                pool = cJSON_GetArrayItem(known, (int)k);
        if (pool == NULL) {
            const char *best = suggest_word(st->pool, cands, n_known);

            dag_diags_add(diags, st->pool_pos,
                          "step \"%s\": no pool \"%s\"%s%s%s (pools are set "
                          "with `weir pool set NAME SLOTS`)",
                          st->id, st->pool, best ? " (did you mean \"" : "",
                          best ? best : "", best ? "\"?)" : "");
            rc = WEIR_EINVAL;
            continue;
        }
        slots = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(pool, "slots"));
        if (slots > 0 && st->pool_slots > slots) {
            dag_diags_add(diags, st->pool_slots_pos,
                          "step \"%s\" takes %d slots of pool \"%s\", which "
                          "has %d: it could never run",
                          st->id, st->pool_slots, st->pool, slots);
            rc = WEIR_EINVAL;
        }
    }
    free(cands);
    return rc;
}

int engine_dag_pools_check(struct store_conn *c, const struct dag *dag,
                           struct dag_diags *diags, struct weir_err *err)
{
    cJSON *known = NULL;
    bool any = false;
    int rc;

    for (size_t s = 0; s < dag->n_steps && !any; s++)
        any = dag->steps[s].pool != NULL && !dag->steps[s].approval;
    if (!any)
        return 0;
    rc = store_pools_list(c, &known, err);
    if (rc == 0)
        rc = check_steps(dag, known, diags);
    if (rc == WEIR_ENOMEM)
        weir_err_set(err, rc, "out of memory");
    cJSON_Delete(known);
    return rc;
}

int engine_dag_pools_check_e(struct engine *e, const struct dag *dag,
                             struct dag_diags *diags, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = engine_dag_pools_check(c, dag, diags, err);
    store_conn_put(c);
    return rc;
}

int engine_dag_pools_record(struct store_conn *c, const struct dag *dag,
                            struct weir_err *err)
{
    const char **names = calloc(dag->n_steps + 1, sizeof(*names));
    int rc;

    if (names == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    rc = store_dag_pools_set(c, dag->id, names, dag_pools(dag, names), err);
    free(names);
    return rc;
}
