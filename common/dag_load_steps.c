/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tree walk of `steps:`: each step's keys, typed and checked on their
 * own, with `defaults:` and the built-in defaults filled in. What depends
 * on other steps (needs, upstream names) is left to dag_check.c.
 */
#include <string.h>

#include "dag_internal.h"
#include "duration.h"

enum step_key {
    SK_ID,
    SK_RUN,
    SK_ENV,
    SK_WORKDIR,
    SK_NEEDS,
    SK_MATRIX,
    SK_QUEUE,
    SK_RETRIES,
    SK_RETRY_DELAY,
    SK_RETRY_BACKOFF,
    SK_MAX_RETRY_DELAY,
    SK_TIMEOUT,
    SK_RETRY_ON_EXIT,
    SK_NO_RETRY_ON_EXIT,
    SK_TRIGGER_RULE,
    SK_IF,
    SK_APPROVAL,
    SK_MAP,
    SK_CACHE,
    SK_POOL,
    SK_POOL_SLOTS,
    SK_COUNT
};

static const char *const step_keys[SK_COUNT] = {
    "id",
    "run",
    "env",
    "workdir",
    "needs",
    "matrix",
    "queue",
    "retries",
    "retry_delay",
    "retry_backoff",
    "max_retry_delay",
    "timeout",
    "retry_on_exit",
    "no_retry_on_exit",
    "trigger_rule",
    "if",
    "approval",
    "map",
    "cache",
    "pool",
    "pool_slots",
};

static const char *const approval_keys[] = {"message", "approvers",
                                            "self_approve"};

/* The ids of the hooks' steps, by enum dag_hook_kind - 1: reserved. */
static const char *const hook_ids[2] = {"on_failure", "on_success"};

/* A step being walked: where it is and how messages name it. */
struct step_walk {
    struct dag_step *s;      /* the step */
    size_t i;                /* its file index */
    const struct ynode *map; /* its mapping */
    struct dag_keys k;       /* its keys */
    char label[96];          /* `step "train"` or `step 3` */
};

static void load_env(struct dag_ctx *c, struct step_walk *w,
                     const struct ynode *n)
{
    struct dag_step *s = w->s;

    if (n->kind != YNODE_MAP) {
        dag_error(c, dag_npos(n),
                  "\"env\" must be a mapping of variable names to values, "
                  "got %s",
                  dag_got(c, n));
        return;
    }
    dag_check_map_dups(c, n, false);
    s->env = arena_array(c, n->n, sizeof(*s->env));
    if (s->env == NULL)
        return;
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
        struct dag_env *e = &s->env[s->n_env];

        if (k->kind != YNODE_SCALAR || !dag_name_valid(k->str, k->len)) {
            dag_error(c, dag_npos(k),
                      "env name \"%s\" is not valid: use letters, digits and "
                      "\"_\", starting with a letter or \"_\"",
                      k->kind == YNODE_SCALAR ? dag_q(c, k->str)
                                              : ynode_describe(k));
            continue;
        }
        if (strncmp(k->str, "WEIR_", 5) == 0) {
            dag_error(c, dag_npos(k),
                      "env name \"%s\" is reserved: names starting with "
                      "\"WEIR_\" are set by Weir",
                      dag_q(c, k->str));
            continue;
        }
        if (!dag_get_str(c, k->str, v, &e->value))
            continue;
        e->name = arena_strndup(c, k->str, k->len);
        e->pos = dag_npos(v);
        s->n_env++;
        dag_load_tmpl(c, "env", v, DAG_SCOPE_STEP, w->i);
    }
}

static void load_needs(struct dag_ctx *c, struct step_walk *w,
                       const struct ynode *n)
{
    struct dag_step *s = w->s;
    struct dag_step_aux *a = &c->aux[w->i];
    const struct ynode *const *items = &n;
    size_t count = 1;

    if (n->kind == YNODE_SEQ) {
        items = (const struct ynode *const *)n->items;
        count = n->n;
    } else if (n->kind != YNODE_SCALAR || dag_is_null(n)) {
        dag_error(c, dag_npos(n),
                  "\"needs\" must be a list of step ids, got %s",
                  dag_got(c, n));
        return;
    }
    s->needs = arena_array(c, count, sizeof(*s->needs));
    s->needs_idx = arena_array(c, count, sizeof(*s->needs_idx));
    a->needs_pos = arena_array(c, count, sizeof(*a->needs_pos));
    if (s->needs == NULL || s->needs_idx == NULL || a->needs_pos == NULL)
        return;
    for (size_t i = 0; i < count; i++) {
        const struct ynode *it = items[i];

        if (it->kind != YNODE_SCALAR || dag_is_null(it)) {
            dag_error(c, dag_npos(it),
                      "each entry of \"needs\" must be a step id, got %s",
                      dag_got(c, it));
            continue;
        }
        if (!dag_get_str(c, "needs", it, &s->needs[s->n_needs]))
            continue;
        a->needs_pos[s->n_needs++] = dag_npos(it);
    }
}

static bool load_axis(struct dag_ctx *c, struct dag_axis *ax,
                      const struct ynode *k, const struct ynode *v)
{
    if (k->kind != YNODE_SCALAR || !dag_name_valid(k->str, k->len)) {
        dag_error(c, dag_npos(k),
                  "matrix axis \"%s\" is not valid: use letters, digits and "
                  "\"_\", starting with a letter or \"_\"",
                  k->kind == YNODE_SCALAR ? dag_q(c, k->str)
                                          : ynode_describe(k));
        return false;
    }
    if (v->kind != YNODE_SEQ || v->n == 0) {
        dag_error(c, dag_npos(v),
                  "matrix axis \"%s\" must be a non-empty list of values, got "
                  "%s",
                  dag_q(c, k->str),
                  v->kind == YNODE_SEQ ? "an empty list" : dag_got(c, v));
        return false;
    }
    ax->name = arena_strndup(c, k->str, k->len);
    ax->pos = dag_npos(k);
    ax->values = cJSON_CreateArray();
    if (ax->values == NULL) {
        c->nomem = true;
        return false;
    }
    for (size_t i = 0; i < v->n; i++) {
        const struct ynode *it = v->items[i];
        struct weir_err err = {0};
        const struct ynode *bad = NULL;
        cJSON *j = NULL;
        int rc;

        if (it->kind != YNODE_SCALAR || dag_is_null(it)) {
            dag_error(c, dag_npos(it),
                      "values of matrix axis \"%s\" must be strings, numbers "
                      "or booleans, got %s",
                      dag_q(c, k->str), dag_got(c, it));
            continue;
        }
        rc = ynode_to_json(it, &j, &err, &bad);
        if (rc == WEIR_ENOMEM) {
            c->nomem = true;
            return false;
        }
        if (rc < 0) {
            /* a bad !!int or the like is the file's problem, not memory */
            dag_error(c, dag_npos(bad ? bad : it),
                      "bad value in matrix axis \"%s\": %s", dag_q(c, k->str),
                      err.msg);
            continue;
        }
        cJSON_AddItemToArray(ax->values, j);
    }
    return (size_t)cJSON_GetArraySize(ax->values) == v->n;
}

static void load_matrix(struct dag_ctx *c, struct step_walk *w,
                        const struct ynode *n)
{
    struct dag_step *s = w->s;
    uint64_t cells = 1;
    bool ok = true;

    if (n->kind != YNODE_MAP || n->n == 0) {
        dag_error(c, dag_npos(n),
                  "\"matrix\" must be a mapping of axis names to lists of "
                  "values, got %s",
                  n->kind == YNODE_MAP ? "an empty mapping" : dag_got(c, n));
        return;
    }
    dag_check_map_dups(c, n, false);
    if (dag_load_map_matrix(c, s, w->i, w->k.key[SK_MATRIX], n))
        return;
    s->matrix = arena_array(c, n->n, sizeof(*s->matrix));
    if (s->matrix == NULL)
        return;
    s->n_matrix = n->n;
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *v = n->items[2 * i + 1];

        ok = load_axis(c, &s->matrix[i], n->items[2 * i], v) && ok;
        if (v->kind == YNODE_SEQ && v->n > 0)
            cells = cells > UINT64_MAX / v->n ? UINT64_MAX : cells * v->n;
    }
    if (cells > DAG_MAX_CELLS) {
        char num[32];

        if (cells == UINT64_MAX)
            snprintf(num, sizeof(num), "more than %llu",
                     (unsigned long long)(UINT64_MAX / 2));
        else
            snprintf(num, sizeof(num), "%llu", (unsigned long long)cells);
        if (w->s->id)
            dag_error(c, dag_npos(w->k.key[SK_MATRIX]),
                      "matrix of \"%s\" has %s cells; the limit is %d",
                      dag_q(c, w->s->id), num, DAG_MAX_CELLS);
        else
            dag_error(c, dag_npos(w->k.key[SK_MATRIX]),
                      "matrix of %s has %s cells; the limit is %d", w->label,
                      num, DAG_MAX_CELLS);
        ok = false;
    }
    if (ok)
        s->n_cells = (size_t)cells;
}

static void load_exit_codes(struct dag_ctx *c, const char *key,
                            const struct ynode *n, int **out, size_t *count)
{
    const struct ynode *const *items = &n;
    size_t len = 1;

    if (n->kind == YNODE_SEQ) {
        items = (const struct ynode *const *)n->items;
        len = n->n;
    } else if (n->kind != YNODE_SCALAR) {
        dag_error(c, dag_npos(n),
                  "\"%s\" must be a list of exit codes (0 to 255), got %s", key,
                  dag_got(c, n));
        return;
    }
    *out = arena_array(c, len, sizeof(**out));
    if (*out == NULL)
        return;
    for (size_t i = 0; i < len; i++)
        if (dag_get_int(c, key, items[i], 0, 255, &(*out)[*count]))
            (*count)++;
}

/* Returns false when n is not a valid approval. */
static bool load_approval(struct dag_ctx *c, struct step_walk *w,
                          const struct ynode *n)
{
    struct dag_keys k;
    char where[128];

    if (n->kind == YNODE_SCALAR && ynode_get_bool(n, &w->s->approval) == 0)
        return true;
    if (n->kind != YNODE_MAP) {
        dag_error(c, dag_npos(n),
                  "\"approval\" must be true or a mapping with \"message\", "
                  "\"approvers\" or \"self_approve\", got %s",
                  dag_got(c, n));
        return false;
    }
    w->s->approval = true;
    snprintf(where, sizeof(where), "in the approval of %s", w->label);
    dag_walk_map(c, n, approval_keys, WEIR_ARRAY_LEN(approval_keys), UINT32_MAX,
                 where, &k);
    if (k.val[0] &&
        dag_get_str(c, "message", k.val[0], &w->s->approval_message))
        dag_load_tmpl(c, "message", k.val[0], DAG_SCOPE_STEP, w->i);
    if (k.val[1])
        dag_load_approvers(c, where, k.val[1], &w->s->approvers);
    if (k.val[2])
        (void)dag_get_bool(c, "self_approve", k.val[2], &w->s->self_approve);
    return true;
}

/* run, approval and the rules between them and matrix. */
static void load_action(struct dag_ctx *c, struct step_walk *w)
{
    const struct ynode *const *v = w->k.val;
    struct dag_step *s = w->s;
    bool approval_ok = true;

    if (v[SK_RUN]) {
        s->run_pos = dag_npos(v[SK_RUN]);
        if (dag_get_str(c, "run", v[SK_RUN], &s->run))
            dag_load_tmpl(c, "run", v[SK_RUN], DAG_SCOPE_STEP, w->i);
    }
    if (v[SK_APPROVAL])
        approval_ok = load_approval(c, w, v[SK_APPROVAL]);
    if (v[SK_RUN] && s->approval)
        dag_error(c, dag_npos(w->k.key[SK_APPROVAL]),
                  "%s has both \"run\" and \"approval\"; a step is either a "
                  "command or an approval gate",
                  w->label);
    else if (!v[SK_RUN] && !s->approval && approval_ok)
        dag_error(c, dag_npos(w->map),
                  "%s needs \"run\" (a command) or \"approval\"", w->label);
    if (s->approval && (v[SK_MATRIX] || v[SK_MAP]))
        dag_error(c, dag_npos(w->k.key[v[SK_MAP] ? SK_MAP : SK_MATRIX]),
                  "an approval step cannot have a %s",
                  v[SK_MAP] ? "map" : "matrix");
    else if (v[SK_MAP] && v[SK_MATRIX])
        dag_error(c, dag_npos(w->k.key[SK_MAP]),
                  "%s has both \"map\" and \"matrix\"; \"map\" is the "
                  "shorthand of a matrix with one axis mapped at run time",
                  w->label);
    else if (v[SK_MATRIX])
        load_matrix(c, w, v[SK_MATRIX]);
    else if (v[SK_MAP])
        dag_load_map(c, s, w->i, w->k.key[SK_MAP], v[SK_MAP]);
}

static void check_delays(struct dag_ctx *c, const struct step_walk *w)
{
    const struct dag_step *s = w->s;
    const struct ynode *const *v = w->k.val;
    char a[32], b[32];

    if (s->max_retry_delay_ms == 0 ||
        s->max_retry_delay_ms >= s->retry_delay_ms)
        return;
    duration_format(s->max_retry_delay_ms, a, sizeof(a));
    duration_format(s->retry_delay_ms, b, sizeof(b));
    if (v[SK_MAX_RETRY_DELAY])
        dag_error(c, dag_npos(v[SK_MAX_RETRY_DELAY]),
                  "\"max_retry_delay\" (%s) must not be shorter than "
                  "\"retry_delay\" (%s)",
                  a, b);
    else if (v[SK_RETRY_DELAY])
        dag_error(c, dag_npos(v[SK_RETRY_DELAY]),
                  "\"retry_delay\" (%s) must not be longer than "
                  "\"max_retry_delay\" (%s)",
                  b, a);
}

static void load_retry(struct dag_ctx *c, struct step_walk *w)
{
    const struct ynode *const *v = w->k.val;
    struct dag_step *s = w->s;
    bool ok = true;

    if (v[SK_RETRIES])
        (void)dag_get_int(c, "retries", v[SK_RETRIES], 0, 100, &s->retries);
    if (v[SK_RETRY_DELAY])
        ok = dag_get_dur(c, "retry_delay", v[SK_RETRY_DELAY],
                         &s->retry_delay_ms);
    if (v[SK_RETRY_BACKOFF])
        (void)dag_get_num(c, "retry_backoff", v[SK_RETRY_BACKOFF], 1, false,
                          100, &s->retry_backoff);
    if (v[SK_MAX_RETRY_DELAY])
        ok = dag_get_dur(c, "max_retry_delay", v[SK_MAX_RETRY_DELAY],
                         &s->max_retry_delay_ms) &&
             ok;
    if (v[SK_TIMEOUT])
        (void)dag_get_dur(c, "timeout", v[SK_TIMEOUT], &s->timeout_ms);
    if (v[SK_RETRY_ON_EXIT])
        load_exit_codes(c, "retry_on_exit", v[SK_RETRY_ON_EXIT],
                        &s->retry_on_exit, &s->n_retry_on_exit);
    if (v[SK_NO_RETRY_ON_EXIT])
        load_exit_codes(c, "no_retry_on_exit", v[SK_NO_RETRY_ON_EXIT],
                        &s->no_retry_on_exit, &s->n_no_retry_on_exit);
    if (ok && (v[SK_RETRY_DELAY] || v[SK_MAX_RETRY_DELAY]))
        check_delays(c, w);
}

static void load_rest(struct dag_ctx *c, struct step_walk *w)
{
    const struct ynode *const *v = w->k.val;
    struct dag_step *s = w->s;
    int rule = (int)s->trigger_rule;

    if (v[SK_ENV])
        load_env(c, w, v[SK_ENV]);
    if (v[SK_WORKDIR] && dag_get_str(c, "workdir", v[SK_WORKDIR], &s->workdir))
        dag_load_tmpl(c, "workdir", v[SK_WORKDIR], DAG_SCOPE_STEP, w->i);
    if (v[SK_NEEDS])
        load_needs(c, w, v[SK_NEEDS]);
    if (v[SK_QUEUE])
        (void)dag_get_queue(c, "queue", v[SK_QUEUE], &s->queue);
    if (v[SK_TRIGGER_RULE] &&
        dag_get_enum(c, "trigger_rule", v[SK_TRIGGER_RULE], dag_rule_names, 5,
                     &rule))
        s->trigger_rule = (enum dag_trigger_rule)rule;
    if (v[SK_IF]) {
        s->if_pos = dag_npos(v[SK_IF]);
        if (dag_get_str(c, "if", v[SK_IF], &s->if_expr))
            dag_load_expr(c, "if", v[SK_IF], DAG_SCOPE_STEP, w->i);
    }
    if (v[SK_POOL] || v[SK_POOL_SLOTS])
        dag_load_pool(c, w->label, v[SK_POOL], v[SK_POOL_SLOTS], &s->pool,
                      &s->pool_slots, &s->pool_pos, &s->pool_slots_pos);
    if (s->approval && v[SK_POOL] && s->pool != NULL)
        dag_error(c, dag_npos(v[SK_POOL]),
                  "an approval step runs no command: \"pool\" does not "
                  "apply to it");
}

static void apply_defaults(struct dag_ctx *c, struct dag_step *s)
{
    const struct dag_defaults *d = &c->defaults;

    s->n_cells = 1;
    s->queue = d->queue;
    s->retries = d->retries;
    s->retry_delay_ms = d->retry_delay_ms;
    s->retry_backoff = d->retry_backoff;
    s->max_retry_delay_ms = d->max_retry_delay_ms;
    s->timeout_ms = d->timeout_ms;
    s->trigger_rule = d->rule;
    s->pool = d->pool;
    s->pool_slots = d->pool_slots;
    s->pool_pos = d->pool_pos;
    s->pool_slots_pos = d->slots_pos;
}

static void load_step_id(struct dag_ctx *c, struct step_walk *w)
{
    const struct ynode *n = w->k.val[SK_ID];

    w->s->pos = dag_npos(n ? n : w->map);
    if (n == NULL) {
        dag_error(c, dag_npos(w->map), "%s has no \"id\"", w->label);
        return;
    }
    if (!dag_get_str(c, "id", n, &w->s->id))
        return;
    if (!dag_id_valid(n->str, n->len)) {
        dag_error(c, dag_npos(n),
                  "step id \"%s\" is not valid: use lowercase letters, "
                  "digits, \"_\" and \"-\", starting with a letter or digit "
                  "(at most 64)",
                  dag_q(c, n->str));
        w->s->id = NULL;
        return;
    }
    for (size_t k = 0; k < WEIR_ARRAY_LEN(hook_ids); k++)
        if (strcmp(n->str, hook_ids[k]) == 0) {
            dag_error(c, dag_npos(n),
                      "step id \"%s\" is reserved for the step of the "
                      "top-level \"%s\" hook; choose another id",
                      n->str, n->str);
            w->s->id = NULL;
        }
}

static void load_step(struct dag_ctx *c, size_t i, const struct ynode *n)
{
    struct step_walk w = {.s = &c->dag->steps[i], .i = i, .map = n};
    const struct ynode *idn;
    char where[120];

    apply_defaults(c, w.s);
    if (n->kind != YNODE_MAP) {
        w.s->pos = dag_npos(n);
        dag_error(c, dag_npos(n),
                  "each step must be a mapping with \"id\" and \"run\", got %s",
                  dag_got(c, n));
        return;
    }
    idn = ynode_map_get(n, "id");
    if (idn && idn->kind == YNODE_SCALAR && !dag_is_null(idn))
        snprintf(w.label, sizeof(w.label), "step \"%s\"", dag_q(c, idn->str));
    else
        snprintf(w.label, sizeof(w.label), "step %zu", i + 1);
    snprintf(where, sizeof(where), "in %s", w.label);
    dag_walk_map(c, n, step_keys, SK_COUNT, UINT32_MAX, where, &w.k);
    load_step_id(c, &w);
    load_action(c, &w);
    load_retry(c, &w);
    load_rest(c, &w);
    dag_load_step_cache(c, w.s, i, w.label, w.k.key[SK_CACHE],
                        w.k.val[SK_CACHE]);
}

/*
 * Append the step of a `run:` hook: it needs every step of the file, with
 * the rule that makes it run exactly when it should (one_failed for
 * on_failure, none_failed for on_success), and inherits `defaults:`. The
 * names its template uses become names of this step.
 */
static void add_hook_step(struct dag_ctx *c, size_t user,
                          enum dag_hook_kind kind, const struct dag_hook *h)
{
    struct dag *d = c->dag;
    size_t i = d->n_steps;
    struct dag_step *s = &d->steps[i];
    struct dag_step_aux *a = &c->aux[i];

    apply_defaults(c, s);
    s->id = arena_strndup(c, hook_ids[kind - 1], strlen(hook_ids[kind - 1]));
    s->pos = h->pos;
    s->run = h->run;
    s->run_pos = h->run_pos;
    s->hook = kind;
    s->trigger_rule = kind == DAG_HOOK_ON_FAILURE ? DAG_RULE_ONE_FAILED
                                                  : DAG_RULE_NONE_FAILED;
    s->needs = arena_array(c, user, sizeof(*s->needs));
    s->needs_idx = arena_array(c, user, sizeof(*s->needs_idx));
    a->needs_pos = arena_array(c, user, sizeof(*a->needs_pos));
    if (s->id == NULL || s->needs == NULL || s->needs_idx == NULL ||
        a->needs_pos == NULL)
        return;
    for (size_t j = 0; j < user; j++) {
        if (d->steps[j].id == NULL)
            continue;
        s->needs[s->n_needs] = d->steps[j].id;
        a->needs_pos[s->n_needs++] = h->pos;
    }
    for (size_t r = 0; r < c->n_refs; r++) {
        if (c->refs[r].scope != DAG_SCOPE_HOOK ||
            c->refs[r].step != (size_t)kind - 1)
            continue;
        c->refs[r].scope = DAG_SCOPE_STEP;
        c->refs[r].step = i;
    }
    d->n_steps++;
}

void dag_build_steps(struct dag_ctx *c, const struct ynode *key,
                     const struct ynode *steps)
{
    struct dag *d = c->dag;
    size_t hooks = (d->on_failure.run != NULL) + (d->on_success.run != NULL);

    if (steps == NULL) {
        dag_error(c, (struct dag_pos){1, 1}, "a DAG needs at least one step");
        return;
    }
    if (steps->kind != YNODE_SEQ) {
        dag_error(c, dag_npos(steps),
                  "\"steps\" must be a list of steps, got %s",
                  dag_got(c, steps));
        return;
    }
    if (steps->n == 0) {
        dag_error(c, dag_npos(key), "a DAG needs at least one step");
        return;
    }
    if (steps->n > DAG_MAX_STEPS) {
        dag_error(c, dag_npos(key), "the DAG has %zu steps; the limit is %d",
                  steps->n, DAG_MAX_STEPS);
        return;
    }
    d->steps = arena_array(c, steps->n + hooks, sizeof(*d->steps));
    c->aux = arena_array(c, steps->n + hooks, sizeof(*c->aux));
    if (d->steps == NULL || c->aux == NULL)
        return;
    d->n_steps = steps->n;
    for (size_t i = 0; i < steps->n; i++)
        load_step(c, i, steps->items[i]);
    if (d->on_failure.run != NULL)
        add_hook_step(c, steps->n, DAG_HOOK_ON_FAILURE, &d->on_failure);
    if (d->on_success.run != NULL)
        add_hook_step(c, steps->n, DAG_HOOK_ON_SUCCESS, &d->on_success);
}
