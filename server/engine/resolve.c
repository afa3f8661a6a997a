/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Names of expressions and templates, resolved for one task of a loaded
 * run: params.NAME, matrix.AXIS, steps.ID.outputs.KEY, steps.ID.state,
 * run.id, run.trigger (the trigger kind), run.environment,
 * run.logical_time, event.name, event.id and event.payload.PATH.
 *
 * steps.ID.outputs.KEY of a step that succeeded without that output is an
 * error; of a step that did not succeed (skipped, failed) it is null. A
 * matrix step has one set of outputs per cell, so its outputs cannot be
 * named: its cells are in $WEIR_INPUTS. steps.ID.state of a matrix step
 * is the state its cells share, else the worst of them (failed, then
 * upstream_failed, then canceled), else success.
 */
#include <string.h>

#include "engine/internal.h"

#define NAME_MAX_LEN 256 /* longest dotted name handled */

/* Keep s (taken) for the length of the evaluation. */
static int keep(struct resolve *r, char *s, struct expr_value *out,
                struct weir_err *err)
{
    if (s == NULL || r->n_strs == WEIR_ARRAY_LEN(r->strs)) {
        free(s);
        return weir_err_set(err, WEIR_ENOMEM,
                            "too many values in one "
                            "expression");
    }
    r->strs[r->n_strs++] = s;
    out->type = EXPR_STR;
    out->str = s;
    return 0;
}

void resolve_cleanup(struct resolve *r)
{
    for (size_t i = 0; i < r->n_strs; i++)
        free(r->strs[i]);
    r->n_strs = 0;
}

/* A JSON value as an expression value; objects and arrays as JSON text. */
static int from_json(struct resolve *r, const cJSON *v, struct expr_value *out,
                     struct weir_err *err)
{
    memset(out, 0, sizeof(*out));
    if (v == NULL || cJSON_IsNull(v)) {
        out->type = EXPR_NULL;
    } else if (cJSON_IsBool(v)) {
        out->type = EXPR_BOOL;
        out->b = cJSON_IsTrue(v);
    } else if (cJSON_IsNumber(v)) {
        out->type = EXPR_NUM;
        out->num = v->valuedouble;
    } else if (cJSON_IsString(v)) {
        out->type = EXPR_STR;
        out->str = v->valuestring;
    } else {
        return keep(r, cJSON_PrintUnformatted(v), out, err);
    }
    return 0;
}

static void set_str(struct expr_value *out, const char *s)
{
    memset(out, 0, sizeof(*out));
    out->type = s ? EXPR_STR : EXPR_NULL;
    out->str = s;
}

/* steps.<id>.state of a step's cells. */
static const char *step_state(const struct run_ctx *x, size_t s)
{
    size_t n = x->cells[s], f = x->first[s];
    enum task_state worst[] = {TASK_FAILED, TASK_UPSTREAM_FAILED,
                               TASK_CANCELED};
    bool same = true;

    for (size_t k = 1; k < n; k++)
        same &= x->tasks[f + k].state == x->tasks[f].state;
    if (same)
        return task_state_name(x->tasks[f].state);
    for (size_t w = 0; w < WEIR_ARRAY_LEN(worst); w++)
        for (size_t k = 0; k < n; k++)
            if (x->tasks[f + k].state == worst[w])
                return task_state_name(worst[w]);
    return task_state_name(TASK_SUCCESS);
}

/* steps.<id>.(outputs.<key> | state); rest points past "steps.". */
static int resolve_step(struct resolve *r, const char *rest,
                        struct expr_value *out, struct weir_err *err)
{
    const char *dot = strchr(rest, '.');
    char id[DAG_ID_MAX + 1];
    const struct dag_step *st;
    const struct store_task *t;
    const cJSON *v;
    size_t s;

    if (dot == NULL || (size_t)(dot - rest) > DAG_ID_MAX)
        return weir_err_set(err, WEIR_EINVAL, "bad step reference");
    memcpy(id, rest, (size_t)(dot - rest));
    id[dot - rest] = '\0';
    st = dag_step_get(r->x->dag, id);
    if (st == NULL)
        return weir_err_set(err, WEIR_ENOTFOUND, "no step \"%s\"", id);
    s = (size_t)(st - r->x->dag->steps);
    /* An open context loads the step's tasks on first use. */
    if (ctx_need_steps(r->x, &s, 1, err) < 0)
        return r->x->fatal;
    if (strcmp(dot + 1, "state") == 0) {
        set_str(out, step_state(r->x, s));
        return 0;
    }
    if (strncmp(dot + 1, "outputs.", 8) != 0)
        return weir_err_set(err, WEIR_EINVAL, "bad step reference");
    if (r->x->cells[s] > 1 || dag_step_mapped(st))
        return weir_err_set(err, WEIR_EINVAL,
                            "step \"%s\" has %zu cells; use $WEIR_INPUTS", id,
                            r->x->cells[s]);
    t = &r->x->tasks[r->x->first[s]];
    v = cJSON_GetObjectItemCaseSensitive(t->outputs, dot + 9);
    if (v == NULL && t->state == TASK_SUCCESS)
        return weir_err_set(err, WEIR_ENOTFOUND,
                            "step \"%s\" has no output \"%s\"", id, dot + 9);
    return from_json(r, v, out, err);
}

static int resolve_run(struct resolve *r, const char *f, struct expr_value *out,
                       struct weir_err *err)
{
    const struct store_run *run = &r->x->run;

    memset(out, 0, sizeof(*out));
    if (strcmp(f, "id") == 0) {
        out->type = EXPR_NUM;
        out->num = (double)run->id;
    } else if (strcmp(f, "trigger") == 0) {
        set_str(out, run->trigger_kind);
    } else if (strcmp(f, "environment") == 0) {
        set_str(out, run->environment);
    } else if (strcmp(f, "logical_time") == 0) {
        set_str(out, run->logical_time);
    } else {
        return weir_err_set(err, WEIR_ENOTFOUND, "no run field \"%s\"", f);
    }
    return 0;
}

/* event.<path>: a walk into the trigger payload (null where absent). A
 * file trigger's payload is the event's payload itself ({path, size,
 * mtime}), so event.payload.path names its path; so is an after
 * trigger's ({dag, run_id, state, outputs}). */
static int resolve_event(struct resolve *r, const char *path,
                         struct expr_value *out, struct weir_err *err)
{
    const cJSON *v = r->x->run.trigger_payload;
    const char *kind = r->x->run.trigger_kind;
    char seg[NAME_MAX_LEN];

    if (kind != NULL &&
        (strcmp(kind, "file") == 0 || strcmp(kind, "after") == 0) &&
        strncmp(path, "payload", 7) == 0 && (path[7] == '\0' || path[7] == '.'))
        path += 7 + (path[7] == '.');

    while (v != NULL && *path != '\0') {
        size_t n = strcspn(path, ".");

        if (n >= sizeof(seg))
            return weir_err_set(err, WEIR_EINVAL, "name too long");
        memcpy(seg, path, n);
        seg[n] = '\0';
        v = cJSON_GetObjectItemCaseSensitive(v, seg);
        path += n + (path[n] == '.');
    }
    return from_json(r, v, out, err);
}

int resolve_cb(void *ctx, const char *name, struct expr_value *out,
               struct weir_err *err)
{
    struct resolve *r = ctx;
    const struct store_task *t = &r->x->tasks[r->task];
    const cJSON *v;

    if (strncmp(name, "params.", 7) == 0) {
        v = cJSON_GetObjectItemCaseSensitive(r->x->run.params, name + 7);
        if (v == NULL)
            return weir_err_set(err, WEIR_ENOTFOUND, "no param \"%s\"",
                                name + 7);
        return from_json(r, v, out, err);
    }
    if (strncmp(name, "matrix.", 7) == 0) {
        v = cJSON_GetObjectItemCaseSensitive(t->matrix, name + 7);
        if (v == NULL)
            return weir_err_set(err, WEIR_ENOTFOUND, "no matrix axis \"%s\"",
                                name + 7);
        return from_json(r, v, out, err);
    }
    if (strncmp(name, "steps.", 6) == 0)
        return resolve_step(r, name + 6, out, err);
    if (strncmp(name, "run.", 4) == 0)
        return resolve_run(r, name + 4, out, err);
    if (strncmp(name, "event.", 6) == 0)
        return resolve_event(r, name + 6, out, err);
    return weir_err_set(err, WEIR_ENOTFOUND, "unknown name \"%s\"", name);
}
