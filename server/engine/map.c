/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mapped steps: a matrix whose one axis is an upstream's output, a JSON
 * list known at run time only (docs/dag-format.md, "Mapping over an
 * upstream's output").
 *
 * A run is created with one task for such a step, its placeholder (cell
 * 0, no matrix), which downstream tasks count as one upstream task. When
 * its trigger rule holds, the placeholder reads the list: an empty list
 * skips it, a bad one (not a list, an element that is not a scalar, more
 * than DAG_MAX_MAP_CELLS elements) fails it with the reason in its error;
 * otherwise it becomes cell 0 of the first element and one task is added
 * per other element, all in the same transaction, and every downstream
 * task counts the added cells as upstream tasks too. A run context keeps
 * room for DAG_MAX_MAP_CELLS cells of a step that may still expand, so
 * that task indexes never move while a transition runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "log.h"
#include "store/map.h"

int map_ctx_cells(struct run_ctx *x, size_t *cap, struct weir_err *err)
{
    const struct dag *d = x->dag;
    const char **names = NULL;
    size_t *counts = NULL, n = 0;
    int rc = 0;

    for (size_t s = 0; s < d->n_steps; s++) {
        x->cells[s] = cap[s] = d->steps[s].n_cells;
        n += dag_step_mapped(&d->steps[s]);
    }
    if (n == 0)
        return 0;
    names = calloc(n, sizeof(*names));
    counts = calloc(n, sizeof(*counts));
    if (names == NULL || counts == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    n = 0;
    for (size_t s = 0; rc == 0 && s < d->n_steps; s++)
        if (dag_step_mapped(&d->steps[s]))
            names[n++] = d->steps[s].id;
    if (rc == 0)
        rc = store_map_cells(x->c, x->run.id, names, n, counts, err);
    n = 0;
    for (size_t s = 0; rc == 0 && s < d->n_steps; s++) {
        if (!dag_step_mapped(&d->steps[s]))
            continue;
        if (counts[n] == 0 || counts[n] > DAG_MAX_MAP_CELLS) {
            rc = weir_err_set(err, WEIR_EINTERNAL,
                              "run %lld: step \"%s\" has %zu tasks",
                              (long long)x->run.id, d->steps[s].id, counts[n]);
            break;
        }
        x->cells[s] = counts[n];
        cap[s] = counts[n] == 1 ? DAG_MAX_MAP_CELLS : counts[n];
        n++;
    }
    free(names);
    free(counts);
    return rc;
}

/*
 * The list that step st maps over, from the loaded outputs of its
 * upstream (a JSON list, or a string holding one): a new array in *out,
 * or NULL with why in msg.
 */
static int map_list(struct run_ctx *x, const struct dag_step *st, cJSON **out,
                    char *msg, size_t cap, struct weir_err *err)
{
    const struct dag_step *up = dag_step_get(x->dag, st->map_step);
    size_t s = (size_t)(up - x->dag->steps);
    const cJSON *v, *e;
    cJSON *list = NULL;
    int n, k = 0;

    *out = NULL;
    if (ctx_need_steps(x, &s, 1, err) < 0)
        return x->fatal;
    v = cJSON_GetObjectItemCaseSensitive(x->tasks[x->first[s]].outputs,
                                         st->map_output);
    if (v == NULL) {
        snprintf(msg, cap,
                 "map: step \"%s\" has no output \"%s\" (a JSON list) to map "
                 "over",
                 up->id, st->map_output);
        return 0;
    }
    if (cJSON_IsString(v))
        list = cJSON_Parse(v->valuestring);
    else
        list = cJSON_Duplicate(v, 1);
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(list);
        snprintf(msg, cap,
                 "map: steps.%s.outputs.%s is not a JSON list such as "
                 "[\"a\", \"b\"]: %.60s%s",
                 up->id, st->map_output,
                 cJSON_IsString(v) ? v->valuestring : "(not a string)",
                 cJSON_IsString(v) && strlen(v->valuestring) > 60 ? "..." : "");
        return 0;
    }
    n = cJSON_GetArraySize(list);
    if (n > DAG_MAX_MAP_CELLS) {
        cJSON_Delete(list);
        snprintf(msg, cap,
                 "map: steps.%s.outputs.%s has %d elements; the limit is %d "
                 "cells",
                 up->id, st->map_output, n, DAG_MAX_MAP_CELLS);
        return 0;
    }
    cJSON_ArrayForEach(e, list)
    {
        if (!cJSON_IsString(e) && !cJSON_IsNumber(e) && !cJSON_IsBool(e)) {
            snprintf(msg, cap,
                     "map: element %d of steps.%s.outputs.%s is %s, not a "
                     "string, number or boolean",
                     k, up->id, st->map_output,
                     cJSON_IsNull(e)    ? "null"
                     : cJSON_IsArray(e) ? "a list"
                                        : "an object");
            cJSON_Delete(list);
            return 0;
        }
        k++;
    }
    *out = list;
    return 0;
}

/* {axis: copy of e}, or NULL when out of memory. */
static cJSON *cell_of(const char *axis, const cJSON *e)
{
    cJSON *o = cJSON_CreateObject(), *v = cJSON_Duplicate(e, 1);

    if (o == NULL || v == NULL || !cJSON_AddItemToObject(o, axis, v)) {
        cJSON_Delete(o);
        cJSON_Delete(v);
        return NULL;
    }
    return o;
}

/* Write the cells of list for placeholder i (cell 0 gets *matrix0). */
static int write_cells(struct run_ctx *x, size_t i, const char *axis,
                       const cJSON *list, cJSON **matrix0, struct weir_err *err)
{
    cJSON *cells = cJSON_CreateArray(), *e;
    char *m0 = NULL, *text = NULL;
    int k = 0, rc = 0;

    *matrix0 = cell_of(axis, list->child);
    if (cells == NULL || *matrix0 == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    for (e = list->child ? list->child->next : NULL; rc == 0 && e != NULL;
         e = e->next) {
        cJSON *c = cJSON_CreateObject();

        if (c == NULL || !cJSON_AddItemToArray(cells, c) ||
            cJSON_AddNumberToObject(c, "cell", ++k) == NULL ||
            !cJSON_AddItemToObject(c, "matrix", cell_of(axis, e)))
            rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        m0 = cJSON_PrintUnformatted(*matrix0);
        text = cJSON_PrintUnformatted(cells);
        if (m0 == NULL || text == NULL)
            rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    if (rc == 0)
        rc = store_map_expand(x->c, x->tasks[i].id, m0, text, err);
    cJSON_free(m0);
    cJSON_free(text);
    cJSON_Delete(cells);
    if (rc < 0) {
        cJSON_Delete(*matrix0);
        *matrix0 = NULL;
    }
    return rc;
}

/* Every task of the steps that need step s counts `more` upstream tasks
 * more. */
static int count_more(struct run_ctx *x, size_t s, size_t more,
                      struct weir_err *err)
{
    const struct dag *d = x->dag;
    int rc = 0;

    for (size_t j = s + 1; j < d->n_steps && rc == 0; j++) {
        bool needs = false;

        for (size_t m = 0; m < d->steps[j].n_needs; m++)
            needs |= d->steps[j].needs_idx[m] == s;
        if (!needs)
            continue;
        rc = ctx_need_steps(x, &j, 1, err);
        for (size_t k = 0; rc == 0 && k < x->cells[j]; k++) {
            size_t t = x->first[j] + k;

            x->tasks[t].upstream_pending += (int)more;
            x->rt[t].dirty = true;
        }
    }
    return rc;
}

/* Make the n cells of list for placeholder i of step s and decide them. */
static int expand(struct run_ctx *x, size_t i, size_t s, const cJSON *list,
                  struct weir_err *err)
{
    const struct dag_step *st = &x->dag->steps[s];
    size_t n = (size_t)cJSON_GetArraySize(list);
    size_t room =
        (s + 1 < x->dag->n_steps ? x->first[s + 1] : x->n) - x->first[s];
    cJSON *matrix0 = NULL;
    int rc = 0;

    if (n > room)
        return weir_err_set(err, WEIR_EINTERNAL,
                            "run %lld: no room for the cells of step \"%s\"",
                            (long long)x->run.id, st->id);
    rc = write_cells(x, i, st->matrix[0].name, list, &matrix0, err);
    if (rc < 0)
        return rc;
    cJSON_Delete(x->tasks[i].matrix);
    x->tasks[i].matrix = matrix0;
    x->cells[s] = n;
    x->live += n - 1;
    rc = ctx_fetch_step(x, s, err);
    if (rc == 0)
        rc = count_more(x, s, n - 1, err);
    log_info("event=map_expanded run=%lld task=%lld step=%s cells=%zu",
             (long long)x->run.id, (long long)x->tasks[i].id, st->id, n);
    for (size_t k = 1; rc == 0 && k < n; k++) {
        size_t t = x->first[s] + k;

        rc = ctx_decide_cell(x, t, err);
        if (rc == 0 && task_state_terminal(x->tasks[t].state))
            rc = ctx_propagate(x, t, err);
    }
    return rc == 0 ? ctx_decide_cell(x, i, err) : rc;
}

int map_expand(struct run_ctx *x, size_t i, struct weir_err *err)
{
    size_t s = x->rt[i].step;
    const struct dag_step *st = &x->dag->steps[s];
    char msg[256] = "";
    cJSON *list = NULL;
    int rc = map_list(x, st, &list, msg, sizeof(msg), err);

    if (rc < 0)
        return rc;
    if (list == NULL) {
        /* the reason quotes the run's own output: the task's error has
         * it, the log line does not */
        log_info("event=map_failed run=%lld task=%lld step=%s",
                 (long long)x->run.id, (long long)x->tasks[i].id, st->id);
        free(x->rt[i].error);
        x->rt[i].error = strdup(msg);
        if (x->rt[i].error == NULL)
            return weir_err_set(err, WEIR_ENOMEM, "out of memory");
        ctx_set_state(x, i, TASK_FAILED);
        return 0;
    }
    if (cJSON_GetArraySize(list) == 0) {
        log_info("event=map_empty run=%lld task=%lld step=%s",
                 (long long)x->run.id, (long long)x->tasks[i].id, st->id);
        ctx_set_state(x, i, TASK_SKIPPED);
        cJSON_Delete(list);
        return store_map_empty(x->c, x->tasks[i].id, err);
    }
    rc = expand(x, i, s, list, err);
    cJSON_Delete(list);
    return rc;
}

/* Forget the loaded cells of step s past 0 (deleted). */
static void forget_cells(struct run_ctx *x, size_t s, bool *reset)
{
    size_t f = x->first[s];

    for (size_t k = 1; k < x->cells[s]; k++) {
        struct rtask *r = &x->rt[f + k];

        reset[f + k] = false;
        free(r->error);
        free(r->outputs);
        free(r->message);
        cJSON_Delete(x->tasks[f + k].outputs);
        cJSON_Delete(x->tasks[f + k].matrix);
        memset(&x->tasks[f + k], 0, sizeof(x->tasks[f + k]));
        *r = (struct rtask){.step = s, .retry_ms = -1};
    }
    cJSON_Delete(x->tasks[f].matrix);
    x->tasks[f].matrix = NULL;
    x->live -= x->cells[s] - 1;
    x->loaded[s] = 1;
    x->cells[s] = 1;
}

int map_retry_collapse(struct run_ctx *x, bool *reset, const bool *step_reset,
                       struct weir_err *err)
{
    const struct dag *d = x->dag;
    int rc = 0;

    for (size_t s = 0; s < d->n_steps && rc == 0; s++) {
        const struct dag_step *st = &d->steps[s];
        const struct dag_step *up;

        if (!dag_step_mapped(st))
            continue;
        up = dag_step_get(d, st->map_step);
        if (!step_reset[up - d->steps])
            continue;
        rc = store_map_collapse(x->c, x->run.id, st->id, err);
        if (rc == 0) {
            log_info("event=map_collapsed run=%lld step=%s cells=%zu",
                     (long long)x->run.id, st->id, x->cells[s]);
            forget_cells(x, s, reset);
        }
    }
    return rc;
}
