/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The typed reads the DAG tree walk is made of: mappings with a known set
 * of keys (unknown and repeated keys reported), strings, numbers, booleans,
 * durations, enums, and the expressions and templates whose names are
 * recorded for the cross-checks. Each read reports what is wrong at the
 * node and returns false; the walk goes on to find every problem.
 */
#include <math.h>
#include <string.h>

#include "dag_internal.h"
#include "duration.h"
#include "expr.h"
#include "tmpl.h"

/* An unknown key lists the valid keys when there are at most this many. */
#define LIST_KEYS_MAX 10

static bool key_is(const struct ynode *key, const char *name)
{
    return key->kind == YNODE_SCALAR && key->str[0] == name[0] &&
           key->len == strlen(name) && memcmp(key->str, name, key->len) == 0;
}

static void unknown_key(struct dag_ctx *c, const struct ynode *key,
                        const char *const *names, size_t n, uint32_t suggest,
                        const char *where)
{
    const char *cands[DAG_MAX_KEYS] = {0};
    size_t nc = 0;
    const char *best;
    char list[200];

    for (size_t i = 0; i < n; i++)
        if (suggest & (UINT32_C(1) << i))
            cands[nc++] = names[i];
    best = dag_suggest(c, key->str, cands, nc);
    if (best != NULL || nc > LIST_KEYS_MAX || nc == 0) {
        dag_error(c, dag_npos(key), "unknown key \"%s\" %s%s",
                  dag_q(c, key->str), where, dag_mean(c, best));
        return;
    }
    list[0] = '\0';
    for (size_t i = 0; i < nc; i++) {
        size_t o = strlen(list);

        snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", cands[i]);
    }
    dag_error(c, dag_npos(key), "unknown key \"%s\" %s (expected one of: %s)",
              dag_q(c, key->str), where, list);
}

void dag_walk_map(struct dag_ctx *c, const struct ynode *map,
                  const char *const *names, size_t n, uint32_t suggest,
                  const char *where, struct dag_keys *k)
{
    WEIR_ASSERT(n <= DAG_MAX_KEYS);
    memset(k, 0, sizeof(*k));
    for (size_t i = 0; i < map->n; i++) {
        const struct ynode *key = map->items[2 * i];
        size_t j;

        if (key->kind != YNODE_SCALAR) {
            dag_error(c, dag_npos(key), "a key must be a string, got %s",
                      ynode_describe(key));
            continue;
        }
        for (j = 0; j < n && !key_is(key, names[j]); j++)
            ;
        if (j == n) {
            unknown_key(c, key, names, n, suggest, where);
        } else if (k->key[j] != NULL) {
            dag_error(c, dag_npos(key), "duplicate key \"%s\" (first at %d:%d)",
                      names[j], k->key[j]->line, k->key[j]->col);
        } else {
            k->key[j] = key;
            k->val[j] = map->items[2 * i + 1];
        }
    }
}

/* ---- repeated keys of free-form mappings ---- */

struct keyref {
    const struct ynode *key; /* a scalar key */
    size_t i;                /* its pair index, to keep the sort stable */
};

static int key_cmp(const struct ynode *a, const struct ynode *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int r = n ? memcmp(a->str, b->str, n) : 0;

    if (r != 0)
        return r;
    return a->len < b->len ? -1 : a->len > b->len;
}

static int keyref_cmp(const void *pa, const void *pb)
{
    const struct keyref *a = pa, *b = pb;
    int r = key_cmp(a->key, b->key);

    if (r != 0)
        return r;
    return a->i < b->i ? -1 : a->i > b->i;
}

static void dup_report(struct dag_ctx *c, const struct ynode *dup,
                       const struct ynode *first)
{
    dag_error(c, dag_npos(dup), "duplicate key \"%s\" (first at %d:%d)",
              dag_q(c, dup->str), first->line, first->col);
}

static void map_dups_sorted(struct dag_ctx *c, const struct ynode *map)
{
    struct keyref *v = malloc(map->n * sizeof(*v));
    size_t n = 0;

    if (v == NULL) {
        c->nomem = true;
        return;
    }
    for (size_t i = 0; i < map->n; i++)
        if (map->items[2 * i]->kind == YNODE_SCALAR)
            v[n++] = (struct keyref){map->items[2 * i], i};
    qsort(v, n, sizeof(*v), keyref_cmp);
    for (size_t i = 1, first = 0; i < n; i++) {
        if (key_cmp(v[i].key, v[first].key) == 0)
            dup_report(c, v[i].key, v[first].key);
        else
            first = i;
    }
    free(v);
}

void dag_check_map_dups(struct dag_ctx *c, const struct ynode *map, bool deep)
{
    if (map->kind == YNODE_MAP && map->n > 16) {
        map_dups_sorted(c, map);
    } else if (map->kind == YNODE_MAP) {
        for (size_t i = 1; i < map->n; i++) {
            const struct ynode *k = map->items[2 * i];

            for (size_t j = 0; j < i && k->kind == YNODE_SCALAR; j++) {
                const struct ynode *f = map->items[2 * j];

                if (f->kind == YNODE_SCALAR && key_cmp(k, f) == 0) {
                    dup_report(c, k, f);
                    break;
                }
            }
        }
    }
    if (!deep || map->kind == YNODE_SCALAR)
        return;
    for (size_t i = 0; i < map->n; i++) {
        const struct ynode *v =
            map->kind == YNODE_MAP ? map->items[2 * i + 1] : map->items[i];

        if (v->kind != YNODE_SCALAR && c->n_found < DAG_MAX_DIAGS)
            dag_check_map_dups(c, v, true);
    }
}

/* ---- params ---- */

int dag_str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool dag_is_param(const struct dag_ctx *c, const char *name)
{
    return c->n_params > 0 &&
           bsearch(&name, c->params, c->n_params, sizeof(*c->params),
                   dag_str_ptr_cmp) != NULL;
}

cJSON *dag_param_overrides(struct dag_ctx *c, const struct ynode *map,
                           const char *where)
{
    struct weir_err err = {0};
    const struct ynode *bad = NULL;
    cJSON *out = NULL;
    int rc;

    if (map->kind != YNODE_MAP) {
        dag_error(c, dag_npos(map),
                  "\"params\" must be a mapping of param names to values, "
                  "got %s",
                  dag_got(c, map));
        return NULL;
    }
    for (size_t i = 0; i < map->n; i++) {
        const struct ynode *k = map->items[2 * i];

        if (k->kind == YNODE_SCALAR && !dag_is_param(c, k->str))
            dag_error(
                c, dag_npos(k), "unknown param \"%s\" %s%s", dag_q(c, k->str),
                where,
                dag_mean(c, dag_suggest(c, k->str, c->params, c->n_params)));
    }
    dag_check_map_dups(c, map, true);
    rc = ynode_to_json(map, &out, &err, &bad);
    if (rc == WEIR_ENOMEM)
        c->nomem = true;
    else if (rc < 0)
        dag_error(c, dag_npos(bad ? bad : map), "bad value in \"params\": %s",
                  err.msg);
    return rc < 0 ? NULL : out;
}

/* ---- scalars ---- */

bool dag_get_str(struct dag_ctx *c, const char *key, const struct ynode *n,
                 char **out)
{
    if (n->kind != YNODE_SCALAR || dag_is_null(n)) {
        dag_error(c, dag_npos(n), "\"%s\" must be a string, got %s", key,
                  dag_got(c, n));
        return false;
    }
    if (strlen(n->str) != n->len) {
        dag_error(c, dag_npos(n), "\"%s\" must not contain NUL characters",
                  key);
        return false;
    }
    if (n->len == 0) {
        dag_error(c, dag_npos(n), "\"%s\" must not be empty", key);
        return false;
    }
    *out = arena_strndup(c, n->str, n->len);
    return *out != NULL;
}

bool dag_get_int(struct dag_ctx *c, const char *key, const struct ynode *n,
                 long long min, long long max, int *out)
{
    long long v = 0;
    int rc = n->kind == YNODE_SCALAR ? ynode_get_int(n, &v) : WEIR_ETYPE;

    /* An integer too large for a long long is still just too large. */
    if ((rc == 0 && v > max) || (rc == WEIR_ERANGE && n->str[0] != '-')) {
        dag_error(c, dag_npos(n), "\"%s\" must be at most %lld, got %s", key,
                  max, dag_got(c, n));
        return false;
    }
    if (rc < 0 || v < min) {
        dag_error(c, dag_npos(n),
                  "\"%s\" must be a whole number >= %lld, got %s", key, min,
                  dag_got(c, n));
        return false;
    }
    *out = (int)v;
    return true;
}

bool dag_get_num(struct dag_ctx *c, const char *key, const struct ynode *n,
                 double lo, bool lo_open, double hi, double *out)
{
    double v = 0;
    int rc = n->kind == YNODE_SCALAR ? ynode_get_double(n, &v) : WEIR_ETYPE;
    bool ok = rc == 0 && isfinite(v);
    char want[64];

    ok = ok && (lo_open ? v > lo : v >= lo) && v <= hi;
    if (ok) {
        *out = v;
        return true;
    }
    if (lo <= -1e300 && hi >= 1e300)
        snprintf(want, sizeof(want), "a number");
    else if (hi >= 1e300)
        snprintf(want, sizeof(want), "a number %s %g",
                 lo_open ? ">" : ">=", lo);
    else
        snprintf(want, sizeof(want), "a number from %g to %g", lo, hi);
    dag_error(c, dag_npos(n), "\"%s\" must be %s, got %s", key, want,
              dag_got(c, n));
    return false;
}

bool dag_get_bool(struct dag_ctx *c, const char *key, const struct ynode *n,
                  bool *out)
{
    if (n->kind == YNODE_SCALAR && ynode_get_bool(n, out) == 0)
        return true;
    dag_error(c, dag_npos(n), "\"%s\" must be true or false, got %s", key,
              dag_got(c, n));
    return false;
}

bool dag_get_dur(struct dag_ctx *c, const char *key, const struct ynode *n,
                 int64_t *out)
{
    struct weir_err err = {0};

    if (n->kind != YNODE_SCALAR || dag_is_null(n) || strlen(n->str) != n->len) {
        dag_error(c, dag_npos(n),
                  "\"%s\" must be a duration such as \"30s\" or \"1h30m\", "
                  "got %s",
                  key, dag_got(c, n));
        return false;
    }
    if (duration_parse(n->str, out, &err) < 0) {
        dag_error(c, dag_npos(n), "bad duration \"%s\" for \"%s\": %s",
                  dag_q(c, n->str), key, err.msg);
        return false;
    }
    return true;
}

bool dag_get_enum(struct dag_ctx *c, const char *key, const struct ynode *n,
                  const char *const *names, size_t count, int *out)
{
    char list[160];

    for (size_t i = 0; n->kind == YNODE_SCALAR && i < count; i++) {
        if (key_is(n, names[i])) {
            *out = (int)i;
            return true;
        }
    }
    list[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        size_t o = strlen(list);

        snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", names[i]);
    }
    dag_error(c, dag_npos(n), "\"%s\" must be one of %s, got %s%s", key, list,
              dag_got(c, n),
              dag_mean(c, n->kind == YNODE_SCALAR
                              ? dag_suggest(c, n->str, names, count)
                              : NULL));
    return false;
}

bool dag_get_queue(struct dag_ctx *c, const char *key, const struct ynode *n,
                   char **out)
{
    if (!dag_get_str(c, key, n, out))
        return false;
    for (size_t i = 0; i < n->len; i++) {
        char ch = n->str[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
              ch == '.') ||
            n->len > DAG_ID_MAX) {
            dag_error(c, dag_npos(n),
                      "\"%s\" must be a queue name of letters, digits, \"_\", "
                      "\"-\" and \".\" (at most %d), got %s",
                      key, DAG_ID_MAX, dag_got(c, n));
            *out = NULL;
            return false;
        }
    }
    return true;
}

/* ---- expressions and templates ---- */

struct ref_walk {
    struct dag_ctx *c;     /* the load */
    const struct ynode *n; /* the scalar holding the text */
    enum dag_scope scope;  /* where it is used */
    size_t step;           /* the step, for DAG_SCOPE_STEP */
};

static int ref_cb(void *ctx, const char *name, int offset)
{
    struct ref_walk *w = ctx;

    dag_add_ref(w->c, name, w->n, offset, w->scope, w->step);
    return w->c->nomem ? WEIR_ENOMEM : 0;
}

void dag_load_expr(struct dag_ctx *c, const char *key, const struct ynode *n,
                   enum dag_scope scope, size_t step)
{
    struct ref_walk w = {c, n, scope, step};
    struct weir_err err = {0};
    struct expr *e = NULL;
    int off = 0;
    int rc = expr_parse(n->str, n->len, &e, &err, &off);

    if (rc == WEIR_ENOMEM) {
        c->nomem = true;
        return;
    }
    if (rc < 0) {
        dag_error(c, dag_pos_in(c, n, off), "bad expression in \"%s\": %s", key,
                  err.msg);
        return;
    }
    (void)expr_names(e, ref_cb, &w);
    expr_free(e);
}

/*
 * A `${{ }}` in a shell command must stand where a quoted word stays one
 * word (not inside quotes, a comment or a here-document, nor in the text
 * of eval or sh -c). That depends on the text only, so it is checked now
 * rather than at run time, and the error points at the span.
 */
static void check_shell(struct dag_ctx *c, const char *key,
                        const struct ynode *n)
{
    struct weir_err err = {0};
    int off = 0, rc;

    if (strstr(n->str, "${{") == NULL)
        return;
    rc = tmpl_check_shell(n->str, &err, &off);
    if (rc == WEIR_ENOMEM)
        c->nomem = true;
    else if (rc == WEIR_EINVAL)
        dag_error(c, dag_pos_in(c, n, off), "bad template in \"%s\": %s", key,
                  err.msg);
}

void dag_load_tmpl(struct dag_ctx *c, const char *key, const struct ynode *n,
                   enum dag_scope scope, size_t step)
{
    struct ref_walk w = {c, n, scope, step};
    struct weir_err err = {0};
    int off = 0;
    int rc = tmpl_names(n->str, ref_cb, &w, &err, &off);

    if (rc == WEIR_ENOMEM) {
        c->nomem = true;
    } else if (rc < 0 && !c->nomem) {
        dag_error(c, dag_pos_in(c, n, off), "bad template in \"%s\": %s", key,
                  err.msg);
    } else if (rc == 0 && strcmp(key, "run") == 0) {
        check_shell(c, key, n);
    }
}
