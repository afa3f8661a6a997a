/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tree walk of `schedule:` and `triggers:`. Each trigger is one of seven
 * kinds, named by the key that carries its target (cron, event, metric,
 * file, webhook, after, data); the other keys allowed depend on that kind.
 */
#include <string.h>

#include "dag_internal.h"

enum trig_key {
    GK_CRON,
    GK_EVENT,
    GK_METRIC,
    GK_FILE,
    GK_WEBHOOK,
    GK_AFTER,
    GK_DATA,
    GK_ID,
    GK_PRIORITY,
    GK_PARAMS,
    GK_CATCHUP,
    GK_JITTER,
    GK_WHEN,
    GK_ACCUMULATE,
    GK_THRESHOLD,
    GK_BELOW,
    GK_ABOVE,
    GK_FOR,
    GK_LABELS,
    GK_STABLE,
    GK_SECRET_ENV,
    GK_MAX_BODY,
    GK_COUNT
};

static const char *const trig_keys[GK_COUNT] = {
    "cron",   "event",      "metric",     "file",     "webhook", "after",
    "data",   "id",         "priority",   "params",   "catchup", "jitter",
    "when",   "accumulate", "threshold",  "below",    "above",   "for",
    "labels", "stable",     "secret_env", "max_body",
};

#define BIT(k)      (UINT32_C(1) << (k))
#define COMMON_KEYS (BIT(GK_ID) | BIT(GK_PRIORITY) | BIT(GK_PARAMS))
#define N_KINDS     7 /* the kind keys come first, in enum order */

/* The keys each kind allows, by enum dag_trigger_kind. */
static const uint32_t kind_keys[N_KINDS] = {
    BIT(GK_CRON) | COMMON_KEYS | BIT(GK_CATCHUP) | BIT(GK_JITTER),
    BIT(GK_EVENT) | COMMON_KEYS | BIT(GK_WHEN) | BIT(GK_ACCUMULATE) |
        BIT(GK_THRESHOLD),
    BIT(GK_METRIC) | COMMON_KEYS | BIT(GK_BELOW) | BIT(GK_ABOVE) | BIT(GK_FOR) |
        BIT(GK_LABELS),
    BIT(GK_FILE) | COMMON_KEYS | BIT(GK_STABLE),
    BIT(GK_WEBHOOK) | COMMON_KEYS | BIT(GK_SECRET_ENV) | BIT(GK_WHEN) |
        BIT(GK_MAX_BODY),
    BIT(GK_AFTER) | COMMON_KEYS | BIT(GK_WHEN),
    BIT(GK_DATA) | COMMON_KEYS | BIT(GK_WHEN),
};

static const char *const kind_phrase[N_KINDS] = {
    "a cron trigger", "an event trigger",  "a metric trigger",
    "a file trigger", "a webhook trigger", "an after trigger",
    "a data trigger",
};

#define MAX_FOR_SAMPLES   1000000
#define DEFAULT_STABLE_MS 2000

static void load_cron(struct dag_ctx *c, struct dag_trigger *t,
                      const struct ynode *n)
{
    struct weir_err err = {0};
    int off = 0;
    int rc = cron_parse(n->str, &t->cron, &err, &off);

    if (rc == WEIR_ENOMEM)
        c->nomem = true;
    else if (rc < 0)
        dag_error(c, dag_pos_in(c, n, off), "bad cron \"%s\": %s",
                  dag_q(c, n->str), err.msg);
}

static void set_key(struct dag_ctx *c, struct dag_trigger *t)
{
    const char *kind = dag_trigger_kind_name(t->kind);
    size_t kl = strlen(kind), tl = strlen(t->target);

    t->key = arena_alloc(c, kl + tl + 2);
    if (t->key == NULL)
        return;
    memcpy(t->key, kind, kl);
    t->key[kl] = ':';
    memcpy(t->key + kl + 1, t->target, tl);
}

static void load_schedule(struct dag_ctx *c, struct dag_trigger *t,
                          const struct ynode *key, const struct ynode *n)
{
    t->kind = DAG_TRIG_CRON;
    t->pos = dag_npos(key);
    if (!dag_get_str(c, "schedule", n, &t->target))
        return;
    load_cron(c, t, n);
    set_key(c, t);
}

/* The kind of trigger map n: the first kind key in it; -1 if none. */
static int trigger_kind(struct dag_ctx *c, const struct ynode *n)
{
    const struct ynode *first = NULL;
    int kind = -1;

    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->items[2 * i];

        for (int j = 0; j < N_KINDS && k->kind == YNODE_SCALAR; j++) {
            if (strcmp(k->str, trig_keys[j]) != 0 || k->len != strlen(k->str))
                continue;
            if (first == NULL) {
                first = k;
                kind = j;
            } else if (j != kind) {
                dag_error(c, dag_npos(k),
                          "a trigger has one kind, but this one has \"%s\" "
                          "and \"%s\"",
                          trig_keys[kind], trig_keys[j]);
            }
        }
    }
    if (kind < 0)
        dag_error(c, dag_npos(n),
                  "a trigger needs one of \"cron\", \"event\", \"metric\", "
                  "\"file\", \"webhook\", \"after\" or \"data\"");
    return kind;
}

static void load_labels(struct dag_ctx *c, struct dag_trigger *t,
                        const struct ynode *n)
{
    if (n->kind != YNODE_MAP) {
        dag_error(c, dag_npos(n),
                  "\"labels\" must be a mapping of label names to values, "
                  "got %s",
                  dag_got(c, n));
        return;
    }
    dag_check_map_dups(c, n, false);
    t->labels = cJSON_CreateObject();
    if (t->labels == NULL) {
        c->nomem = true;
        return;
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
        char *s = NULL;

        if (k->kind != YNODE_SCALAR) {
            dag_error(c, dag_npos(k), "a label name must be a string, got %s",
                      ynode_describe(k));
            continue;
        }
        if (!dag_get_str(c, "labels", v, &s))
            continue;
        if (cJSON_AddStringToObject(t->labels, k->str, s) == NULL)
            c->nomem = true;
    }
}

static void load_event(struct dag_ctx *c, struct dag_trigger *t,
                       const struct dag_keys *k)
{
    const struct ynode *const *v = k->val;

    if (v[GK_WHEN] && dag_get_str(c, "when", v[GK_WHEN], &t->when))
        dag_load_expr(c, "when", v[GK_WHEN], DAG_SCOPE_EVENT, 0);
    if (t->kind != DAG_TRIG_EVENT)
        return;
    if (v[GK_ACCUMULATE] &&
        dag_get_str(c, "accumulate", v[GK_ACCUMULATE], &t->accumulate))
        dag_load_expr(c, "accumulate", v[GK_ACCUMULATE], DAG_SCOPE_EVENT, 0);
    if (v[GK_THRESHOLD])
        (void)dag_get_num(c, "threshold", v[GK_THRESHOLD], 0, true, 1e300,
                          &t->threshold);
    if (v[GK_ACCUMULATE] && !v[GK_THRESHOLD])
        dag_error(c, dag_npos(k->key[GK_ACCUMULATE]),
                  "\"accumulate\" needs \"threshold\" (the sum at which the "
                  "trigger fires)");
    if (v[GK_THRESHOLD] && !v[GK_ACCUMULATE])
        dag_error(c, dag_npos(k->key[GK_THRESHOLD]),
                  "\"threshold\" needs \"accumulate\" (what to sum over "
                  "matching events)");
}

static void load_metric(struct dag_ctx *c, struct dag_trigger *t,
                        const struct ynode *n, const struct dag_keys *k)
{
    const struct ynode *const *v = k->val;

    if (v[GK_BELOW])
        t->has_below = dag_get_num(c, "below", v[GK_BELOW], -1e300, false,
                                   1e300, &t->below);
    if (v[GK_ABOVE])
        t->has_above = dag_get_num(c, "above", v[GK_ABOVE], -1e300, false,
                                   1e300, &t->above);
    if (!v[GK_BELOW] && !v[GK_ABOVE])
        dag_error(c, dag_npos(n),
                  "a metric trigger needs \"below\" or \"above\" (the line "
                  "the value must cross)");
    if (v[GK_FOR])
        (void)dag_get_int(c, "for", v[GK_FOR], 1, MAX_FOR_SAMPLES,
                          &t->for_samples);
    if (v[GK_LABELS])
        load_labels(c, t, v[GK_LABELS]);
}

static void load_webhook(struct dag_ctx *c, struct dag_trigger *t,
                         const struct ynode *n, const struct dag_keys *k)
{
    const struct ynode *s = k->val[GK_SECRET_ENV];

    if (t->target && !dag_id_valid(t->target, strlen(t->target)))
        dag_error(c, dag_npos(k->val[GK_WEBHOOK]),
                  "webhook name \"%s\" is not valid: use lowercase letters, "
                  "digits, \"_\" and \"-\", starting with a letter or digit "
                  "(at most 64)",
                  dag_q(c, t->target));
    if (s == NULL)
        dag_error(c, dag_npos(n),
                  "a webhook trigger needs \"secret_env\" (the variable that "
                  "holds its signing secret)");
    else if (dag_get_str(c, "secret_env", s, &t->secret_env) &&
             !dag_name_valid(s->str, s->len))
        dag_error(c, dag_npos(s),
                  "\"secret_env\" must be an environment variable name "
                  "(letters, digits and \"_\"), got %s",
                  dag_got(c, s));
    if (k->val[GK_MAX_BODY])
        (void)dag_get_int(c, "max_body", k->val[GK_MAX_BODY], DAG_HOOK_BODY_MIN,
                          DAG_HOOK_BODY_MAX, &t->max_body);
    load_event(c, t, k);
}

static void load_common(struct dag_ctx *c, struct dag_trigger *t,
                        const struct dag_keys *k, const char *where)
{
    const struct ynode *const *v = k->val;
    int prio = DAG_PRIO_NORMAL;

    if (v[GK_ID] && dag_get_str(c, "id", v[GK_ID], &t->key) &&
        !dag_id_valid(v[GK_ID]->str, v[GK_ID]->len))
        dag_error(c, dag_npos(v[GK_ID]),
                  "trigger id \"%s\" is not valid: use lowercase letters, "
                  "digits, \"_\" and \"-\", starting with a letter or digit "
                  "(at most 64)",
                  dag_q(c, v[GK_ID]->str));
    if (v[GK_PRIORITY] && dag_get_enum(c, "priority", v[GK_PRIORITY],
                                       dag_priority_names, 4, &prio)) {
        t->has_priority = true;
        t->priority = (enum dag_priority)prio;
    }
    if (v[GK_PARAMS])
        t->params = dag_param_overrides(c, v[GK_PARAMS], where);
}

static void load_trigger(struct dag_ctx *c, struct dag_trigger *t,
                         const struct ynode *n)
{
    struct dag_keys k;
    char where[40];
    int kind;

    t->pos = dag_npos(n->n > 0 ? n->items[0] : n);
    t->for_samples = 1;
    t->stable_ms = DEFAULT_STABLE_MS;
    t->max_body = DAG_HOOK_BODY_MAX;
    kind = trigger_kind(c, n);
    t->kind = (enum dag_trigger_kind)(kind < 0 ? 0 : kind);
    snprintf(where, sizeof(where), "in %s",
             kind < 0 ? "a trigger" : kind_phrase[kind]);
    dag_walk_map(c, n, trig_keys, GK_COUNT,
                 kind < 0 ? UINT32_MAX : kind_keys[kind], where, &k);
    if (kind < 0)
        return;
    for (int i = N_KINDS; i < GK_COUNT; i++)
        if (k.key[i] && !(kind_keys[kind] & BIT(i)))
            dag_error(c, dag_npos(k.key[i]), "\"%s\" is not a key of %s",
                      trig_keys[i], kind_phrase[kind]);
    load_common(c, t, &k, where);
    if (kind == DAG_TRIG_AFTER)
        dag_load_after(c, t, k.val[GK_AFTER]);
    else
        (void)dag_get_str(c, trig_keys[kind], k.val[kind], &t->target);
    if (t->target == NULL)
        return;
    if (t->key == NULL)
        set_key(c, t);
    switch (t->kind) {
    case DAG_TRIG_CRON:
        load_cron(c, t, k.val[GK_CRON]);
        if (k.val[GK_CATCHUP])
            (void)dag_get_bool(c, "catchup", k.val[GK_CATCHUP], &t->catchup);
        if (k.val[GK_JITTER])
            (void)dag_get_dur(c, "jitter", k.val[GK_JITTER], &t->jitter_ms);
        break;
    case DAG_TRIG_EVENT:
        load_event(c, t, &k);
        break;
    case DAG_TRIG_METRIC:
        load_metric(c, t, n, &k);
        break;
    case DAG_TRIG_FILE:
        if (k.val[GK_STABLE])
            (void)dag_get_dur(c, "stable", k.val[GK_STABLE], &t->stable_ms);
        break;
    case DAG_TRIG_WEBHOOK:
        load_webhook(c, t, n, &k);
        break;
    case DAG_TRIG_AFTER:
        if (k.val[GK_WHEN] && dag_get_str(c, "when", k.val[GK_WHEN], &t->when))
            dag_load_expr(c, "when", k.val[GK_WHEN], DAG_SCOPE_AFTER, 0);
        break;
    case DAG_TRIG_DATA:
        dag_load_data(c, t, k.val[GK_DATA]);
        load_event(c, t, &k);
        break;
    }
}

struct trig_ref {
    const char *key; /* the trigger's key */
    size_t i;        /* its index */
};

static int trig_ref_cmp(const void *pa, const void *pb)
{
    const struct trig_ref *a = pa, *b = pb;
    int r = strcmp(a->key, b->key);

    if (r != 0)
        return r;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* Two triggers with one key would share their state (accumulated sums,
 * last fire times): report every repeat. */
static void check_trigger_keys(struct dag_ctx *c)
{
    struct dag *d = c->dag;
    struct trig_ref *v = malloc((d->n_triggers + 1) * sizeof(*v));
    size_t n = 0;

    if (v == NULL) {
        c->nomem = true;
        return;
    }
    for (size_t i = 0; i < d->n_triggers; i++)
        if (d->triggers[i].key != NULL)
            v[n++] = (struct trig_ref){d->triggers[i].key, i};
    qsort(v, n, sizeof(*v), trig_ref_cmp);
    for (size_t i = 1, first = 0; i < n; i++) {
        const struct dag_trigger *a = &d->triggers[v[first].i];
        const struct dag_trigger *b = &d->triggers[v[i].i];

        if (strcmp(v[i].key, v[first].key) != 0) {
            first = i;
        } else if (strchr(b->key, ':') == NULL) {
            dag_error(c, b->pos, "duplicate trigger id \"%s\" (first at %d:%d)",
                      dag_q(c, b->key), a->pos.line, a->pos.col);
        } else {
            dag_error(c, b->pos,
                      "duplicate trigger \"%s\" (first at %d:%d); give one of "
                      "them an \"id\"",
                      dag_q(c, b->key), a->pos.line, a->pos.col);
        }
    }
    free(v);
}

void dag_build_triggers(struct dag_ctx *c, const struct ynode *sched_key,
                        const struct ynode *sched, const struct ynode *list)
{
    struct dag *d = c->dag;
    size_t n = sched ? 1 : 0;

    if (list != NULL && list->kind != YNODE_SEQ) {
        dag_error(c, dag_npos(list),
                  "\"triggers\" must be a list of triggers, got %s",
                  dag_got(c, list));
        list = NULL;
    }
    n += list ? list->n : 0;
    if (n == 0)
        return;
    d->triggers = arena_array(c, n, sizeof(*d->triggers));
    if (d->triggers == NULL)
        return;
    d->n_triggers = n;
    if (sched)
        load_schedule(c, &d->triggers[0], sched_key, sched);
    for (size_t i = 0; list && i < list->n; i++) {
        struct dag_trigger *t = &d->triggers[i + (sched ? 1 : 0)];
        const struct ynode *it = list->items[i];

        if (it->kind != YNODE_MAP) {
            t->pos = dag_npos(it);
            dag_error(c, dag_npos(it),
                      "each trigger must be a mapping such as {cron: \"0 2 * "
                      "* *\"}, got %s",
                      dag_got(c, it));
            continue;
        }
        load_trigger(c, t, it);
    }
    check_trigger_keys(c);
}
