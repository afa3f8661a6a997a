/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Steps mapped over an upstream's output (docs/dag-format.md, "Mapping
 * over an upstream's output"): `map: ${{ steps.X.outputs.Y }}` and a
 * matrix whose one axis is such an expression. The walk reads the
 * expression and records its name for the cross-checks of dag_check.c
 * (X is a step, and upstream); dag_check_maps() then refuses an X that
 * has cells of its own.
 */
#include <string.h>

#include "dag_internal.h"

/* The name a map: axis gets (matrix.item in templates). */
#define MAP_AXIS "item"

bool dag_step_mapped(const struct dag_step *step)
{
    return step->map_step != NULL;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

bool dag_map_is_expr(const struct ynode *v)
{
    size_t i = 0;

    if (v == NULL || v->kind != YNODE_SCALAR || v->style == YSTYLE_BLOCK)
        return false;
    while (i < v->len && is_space(v->str[i]))
        i++;
    return v->len - i >= 3 && memcmp(v->str + i, "${{", 3) == 0;
}

static bool name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
}

/*
 * The name inside "${{ name }}", the whole of v's text: its offset and
 * length in *off and *len. False when v holds anything else (an
 * operator, text around the expression, two expressions).
 */
static bool inner_name(const struct ynode *v, size_t *off, size_t *len)
{
    size_t a = 0, b = v->len;

    while (a < b && is_space(v->str[a]))
        a++;
    while (b > a && is_space(v->str[b - 1]))
        b--;
    if (b - a < 5 || memcmp(v->str + a, "${{", 3) != 0 ||
        memcmp(v->str + b - 2, "}}", 2) != 0)
        return false;
    a += 3;
    b -= 2;
    while (a < b && is_space(v->str[a]))
        a++;
    while (b > a && is_space(v->str[b - 1]))
        b--;
    for (size_t i = a; i < b; i++)
        if (!name_char(v->str[i]))
            return false;
    *off = a;
    *len = b - a;
    return b > a;
}

/* Segment i (0-based) of the dotted name s[0..len) into out; false when
 * it is absent, empty or too long. */
static bool segment(const char *s, size_t len, int i, char *out, size_t cap)
{
    size_t a = 0, b;

    for (; i > 0; i--) {
        const char *dot = memchr(s + a, '.', len - a);

        if (dot == NULL)
            return false;
        a = (size_t)(dot - s) + 1;
    }
    b = a;
    while (b < len && s[b] != '.')
        b++;
    if (b == a || b - a >= cap)
        return false;
    memcpy(out, s + a, b - a);
    out[b - a] = '\0';
    return true;
}

static void bad_expr(struct dag_ctx *c, const char *key, const struct ynode *v,
                     const char *best)
{
    dag_error(c, dag_npos(v),
              "\"%s\" takes one upstream output, \"${{ "
              "steps.<id>.outputs.<key> }}\" (a JSON list), got %s%s",
              key, dag_got(c, v), dag_mean(c, best));
}

/*
 * Read v, the expression of `key` (map or the matrix axis), into step s
 * (file index i) with one axis named axis; its name is recorded as a
 * reference of the step, so that dag_check.c reports an unknown or
 * non-upstream step where it is written.
 */
static void load_expr(struct dag_ctx *c, struct dag_step *s, size_t i,
                      const char *key, const char *axis,
                      const struct ynode *axis_node, const struct ynode *v)
{
    static const char *const outputs[] = {"outputs"};
    static const char *const roots[] = {"steps"};
    char seg[DAG_ID_MAX + 1], name[256], fix[256];
    size_t off = 0, len = 0, dot2, dot3;
    const char *dot;

    if (!inner_name(v, &off, &len) || len >= sizeof(name)) {
        bad_expr(c, key, v, NULL);
        return;
    }
    memcpy(name, v->str + off, len);
    name[len] = '\0';
    if (!segment(name, len, 0, seg, sizeof(seg)) || strcmp(seg, "steps") != 0) {
        const char *best = dag_suggest(c, seg, roots, 1);

        if (best != NULL && (dot = strchr(name, '.')) != NULL) {
            snprintf(fix, sizeof(fix), "steps%s", dot);
            best = fix;
        }
        bad_expr(c, key, v, best);
        return;
    }
    dot2 = strcspn(name + 6, ".") + 6;
    if (!segment(name, len, 1, seg, sizeof(seg)) || name[dot2] != '.') {
        bad_expr(c, key, v, NULL);
        return;
    }
    dot3 = dot2 + 1 + strcspn(name + dot2 + 1, ".");
    if (!segment(name, len, 2, seg, sizeof(seg)) ||
        strcmp(seg, "outputs") != 0 || name[dot3] != '.' ||
        name[dot3 + 1] == '\0') {
        const char *best = NULL;

        if (name[dot3] == '.' && dag_suggest(c, seg, outputs, 1) != NULL) {
            snprintf(fix, sizeof(fix), "%.*s.outputs%s", (int)dot2, name,
                     name + dot3);
            best = fix;
        }
        bad_expr(c, key, v, best);
        return;
    }
    s->matrix = arena_array(c, 1, sizeof(*s->matrix));
    s->map_step = arena_strndup(c, name + 6, dot2 - 6);
    s->map_output = arena_strndup(c, name + dot3 + 1, len - dot3 - 1);
    if (s->matrix == NULL || s->map_step == NULL || s->map_output == NULL)
        return;
    s->matrix[0].name = arena_strndup(c, axis, strlen(axis));
    s->matrix[0].pos = dag_npos(axis_node);
    s->n_matrix = 1;
    s->n_cells = 1;
    s->map_pos = dag_pos_in(c, v, (int)off);
    dag_add_ref(c, name, v, (int)off, DAG_SCOPE_STEP, i);
}

void dag_load_map(struct dag_ctx *c, struct dag_step *s, size_t i,
                  const struct ynode *key, const struct ynode *v)
{
    load_expr(c, s, i, "map", MAP_AXIS, key, v);
}

bool dag_load_map_matrix(struct dag_ctx *c, struct dag_step *s, size_t i,
                         const struct ynode *key, const struct ynode *m)
{
    size_t dyn = 0, at = 0;

    for (size_t k = 0; k < m->n; k++)
        if (dag_map_is_expr(m->items[2 * k + 1])) {
            dyn++;
            at = k;
        }
    if (dyn == 0)
        return false;
    if (m->n > 1) {
        dag_error(c, dag_npos(key),
                  "a matrix with an axis mapped at run time (\"${{ }}\") "
                  "must have that axis only; mapped and listed axes (or "
                  "two mapped axes) do not combine");
        return true;
    }
    if (m->items[2 * at]->kind != YNODE_SCALAR ||
        !dag_name_valid(m->items[2 * at]->str, m->items[2 * at]->len)) {
        dag_error(c, dag_npos(m->items[2 * at]),
                  "matrix axis %s is not valid: use letters, digits and "
                  "\"_\", starting with a letter or \"_\"",
                  dag_got(c, m->items[2 * at]));
        return true;
    }
    load_expr(c, s, i, "matrix", m->items[2 * at]->str, m->items[2 * at],
              m->items[2 * at + 1]);
    return true;
}

void dag_check_maps(struct dag_ctx *c)
{
    const struct dag *d = c->dag;

    for (size_t i = 0; i < d->n_steps; i++) {
        const struct dag_step *s = &d->steps[i];
        const struct dag_step *up;

        if (s->map_step == NULL)
            continue;
        up = dag_step_get(d, s->map_step);
        if (up != NULL && up->n_matrix > 0)
            dag_error(c, s->map_pos,
                      "step \"%s\" maps over an output of \"%s\", which has "
                      "a matrix: map over one step's output (a matrix step's "
                      "cells reach a fan-in step in $WEIR_INPUTS)",
                      s->id ? dag_q(c, s->id) : "?", dag_q(c, up->id));
    }
}
