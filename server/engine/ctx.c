/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The run context (engine/internal.h): one run's row, its DAG version and
 * its tasks, loaded whole (ctx_load()) or step by step as the engine
 * needs them (ctx_open(), ctx_fetch(), ctx_need_steps()), with a map
 * step's cells placed after their step.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "store/store.h"

/* Size the context for x->dag: one entry per step and cell. */
static int ctx_alloc(struct engine *e, struct store_conn *c, struct run_ctx *x,
                     struct weir_err *err)
{
    size_t n = 0, *cap = NULL;
    int rc;

    x->c = c;
    x->e = e;
    x->dag = engine_dag(e->cache, c, x->run.version_id);
    if (x->dag == NULL)
        return weir_err_set(err, WEIR_EINTERNAL,
                            "the DAG version %lld of run %lld cannot be "
                            "loaded",
                            (long long)x->run.version_id, (long long)x->run.id);
    x->cells = calloc(x->dag->n_steps + 1, sizeof(size_t));
    cap = calloc(x->dag->n_steps + 1, sizeof(size_t));
    if (x->cells == NULL || cap == NULL) {
        free(cap);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    rc = map_ctx_cells(x, cap, err);
    for (size_t s = 0; rc == 0 && s < x->dag->n_steps; s++) {
        n += cap[s];
        x->live += x->cells[s];
    }
    x->n = n;
    x->tasks = calloc(n ? n : 1, sizeof(*x->tasks));
    x->rt = calloc(n ? n : 1, sizeof(*x->rt));
    x->first = calloc(x->dag->n_steps ? x->dag->n_steps : 1, sizeof(size_t));
    x->loaded = calloc(x->dag->n_steps ? x->dag->n_steps : 1, sizeof(size_t));
    if (rc == 0 && (x->tasks == NULL || x->rt == NULL || x->first == NULL ||
                    x->loaded == NULL))
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    n = 0;
    for (size_t s = 0; rc == 0 && s < x->dag->n_steps; s++) {
        x->first[s] = n;
        for (size_t k = 0; k < cap[s]; k++, n++) {
            x->rt[n].step = s;
            x->rt[n].retry_ms = -1;
        }
    }
    free(cap);
    return rc;
}

static int mismatch(const struct run_ctx *x, struct weir_err *err)
{
    return weir_err_set(err, WEIR_EINTERNAL,
                        "run %lld: its tasks do not match its DAG version",
                        (long long)x->run.id);
}

/* Put the rows v[0..m) (taken, v freed) in their places: step, then
 * cell. A row already loaded is dropped: the loaded one may have changed. */
static int ctx_place(struct run_ctx *x, struct store_task *v, size_t m,
                     struct weir_err *err)
{
    size_t s = 0;
    int rc = 0;

    for (size_t k = 0; k < m && rc == 0; k++) {
        const struct dag_step *st;
        size_t i;

        if (s >= x->dag->n_steps ||
            strcmp(x->dag->steps[s].id, v[k].step_id) != 0) {
            st = dag_step_get(x->dag, v[k].step_id);
            if (st == NULL) {
                rc = mismatch(x, err);
                break;
            }
            s = (size_t)(st - x->dag->steps);
        }
        if (v[k].cell < 0 || (size_t)v[k].cell >= x->cells[s]) {
            rc = mismatch(x, err);
            break;
        }
        i = x->first[s] + (size_t)v[k].cell;
        if (x->rt[i].t != NULL)
            continue;
        x->tasks[i] = v[k];
        v[k].outputs = v[k].matrix = NULL;
        x->rt[i].t = &x->tasks[i];
        x->rt[i].orig = x->tasks[i].state;
        x->rt[i].orig_pending = x->tasks[i].upstream_pending;
        x->loaded[s]++;
    }
    store_tasks_free(v, m);
    return rc;
}

int ctx_open_row(struct engine *e, struct store_conn *c, struct store_run *run,
                 struct run_ctx *x, struct weir_err *err)
{
    memset(x, 0, sizeof(*x));
    x->run = *run;
    memset(run, 0, sizeof(*run));
    return ctx_alloc(e, c, x, err);
}

int ctx_open(struct engine *e, struct store_conn *c, int64_t run_id, bool lock,
             struct run_ctx *x, struct weir_err *err)
{
    int rc;

    memset(x, 0, sizeof(*x));
    rc = store_run_get(c, run_id, lock, &x->run, err);
    if (rc < 0)
        return rc;
    return ctx_alloc(e, c, x, err);
}

/* Every task of x's run, in its place; x was opened by ctx_open(). */
static int ctx_load_tasks(struct store_conn *c, struct run_ctx *x,
                          struct weir_err *err)
{
    struct store_task *v = NULL;
    size_t m = 0;
    int rc = store_run_tasks(c, x->run.id, &v, &m, err);

    if (rc < 0)
        return rc;
    if (m != x->live) {
        store_tasks_free(v, m);
        return mismatch(x, err);
    }
    rc = ctx_place(x, v, m, err);
    for (size_t s = 0; rc == 0 && s < x->dag->n_steps; s++)
        if (x->loaded[s] != x->cells[s])
            rc = mismatch(x, err);
    x->full = rc == 0;
    return rc;
}

int ctx_load(struct engine *e, struct store_conn *c, int64_t run_id, bool lock,
             struct run_ctx *x, struct weir_err *err)
{
    int rc = ctx_open(e, c, run_id, lock, x, err);

    return rc < 0 ? rc : ctx_load_tasks(c, x, err);
}

int ctx_load_settled(struct engine *e, struct store_conn *c, int64_t run_id,
                     struct run_ctx *x, struct weir_err *err)
{
    int rc = ctx_open(e, c, run_id, true, x, err);

    if (rc == 0)
        rc = store_run_tasks_lock_open(c, run_id, err);
    return rc < 0 ? rc : ctx_load_tasks(c, x, err);
}

/* Note a failed load on demand: whatever asked for it must fail too. */
static int ctx_fail(struct run_ctx *x, int rc, const struct weir_err *err)
{
    if (x->fatal == 0) {
        x->fatal = rc;
        x->fatal_err = *err;
    }
    return rc;
}

int ctx_fetch(struct run_ctx *x, const int64_t *ids, size_t n_ids,
              const bool *steps, struct weir_err *err)
{
    size_t n_want = 0, n_names = 0, m = 0;
    int64_t *want = NULL;
    const char **names = NULL;
    struct store_task *v = NULL;
    int rc = 0;

    if (x->full)
        return 0;
    want = calloc(n_ids ? n_ids : 1, sizeof(*want));
    names = calloc(x->dag->n_steps ? x->dag->n_steps : 1, sizeof(*names));
    if (want == NULL || names == NULL) {
        free(want);
        free(names);
        return ctx_fail(x, weir_err_set(err, WEIR_ENOMEM, "out of memory"),
                        err);
    }
    for (size_t k = 0; k < n_ids; k++)
        if (ctx_find(x, ids[k]) < 0)
            want[n_want++] = ids[k];
    for (size_t s = 0; steps != NULL && s < x->dag->n_steps; s++)
        if (steps[s] && x->loaded[s] < x->cells[s])
            names[n_names++] = x->dag->steps[s].id;
    if (n_want > 0 || n_names > 0)
        rc = store_run_tasks_some(x->c, x->run.id, want, n_want, names, n_names,
                                  &v, &m, err);
    if (rc == 0 && m > 0)
        rc = ctx_place(x, v, m, err);
    for (size_t s = 0; rc == 0 && steps != NULL && s < x->dag->n_steps; s++)
        if (steps[s] && x->loaded[s] < x->cells[s])
            rc = mismatch(x, err);
    free(want);
    free(names);
    return rc < 0 ? ctx_fail(x, rc, err) : 0;
}

int ctx_fetch_step(struct run_ctx *x, size_t s, struct weir_err *err)
{
    const char *name = x->dag->steps[s].id;
    struct store_task *v = NULL;
    size_t m = 0;
    int rc =
        store_run_tasks_some(x->c, x->run.id, NULL, 0, &name, 1, &v, &m, err);

    if (rc == 0)
        rc = ctx_place(x, v, m, err);
    if (rc == 0 && x->loaded[s] != x->cells[s])
        rc = mismatch(x, err);
    return rc < 0 ? ctx_fail(x, rc, err) : 0;
}

int ctx_need_steps(struct run_ctx *x, const size_t *steps, size_t n,
                   struct weir_err *err)
{
    bool *flags = NULL, any = false;
    int rc;

    for (size_t k = 0; k < n && !any; k++)
        any = x->loaded[steps[k]] < x->cells[steps[k]];
    if (!any)
        return 0;
    flags = calloc(x->dag->n_steps, sizeof(*flags));
    if (flags == NULL)
        return ctx_fail(x, weir_err_set(err, WEIR_ENOMEM, "out of memory"),
                        err);
    for (size_t k = 0; k < n; k++)
        flags[steps[k]] = true;
    rc = ctx_fetch(x, NULL, 0, flags, err);
    free(flags);
    return rc;
}

void ctx_cleanup(struct engine *e, struct run_ctx *x)
{
    for (size_t i = 0; x->rt != NULL && i < x->n; i++) {
        free(x->rt[i].error);
        free(x->rt[i].outputs);
        free(x->rt[i].message);
    }
    free(x->rt);
    free(x->first);
    free(x->loaded);
    free(x->cells);
    store_tasks_free(x->tasks, x->n);
    dagcache_release(e->cache, x->dag);
    store_run_cleanup(&x->run);
    memset(x, 0, sizeof(*x));
}

long ctx_find(const struct run_ctx *x, int64_t task_id)
{
    for (size_t i = 0; i < x->n; i++)
        if (x->rt[i].t != NULL && x->tasks[i].id == task_id)
            return (long)i;
    return -1;
}
