/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tree walk of a DAG document, top level: the DAG's own keys, params,
 * environments, step defaults and hooks. Triggers and steps have files of
 * their own (dag_load_trig.c, dag_load_steps.c).
 */
#include <string.h>

#include "dag_internal.h"
#include "duration.h"
#include "tz.h"

#define DAG_MAX_RUNS_LIMIT 1000000 /* upper bound of the per-DAG run caps */

enum top_key {
    TK_DAG,
    TK_DESCRIPTION,
    TK_TAGS,
    TK_PARAMS,
    TK_TIMEZONE,
    TK_TRIGGERS,
    TK_SCHEDULE,
    TK_COOLDOWN,
    TK_MAX_RUNS_PER_DAY,
    TK_MAX_ACTIVE_RUNS,
    TK_CONCURRENCY,
    TK_PRIORITY,
    TK_ENVIRONMENT,
    TK_ENVIRONMENTS,
    TK_ARTIFACTS,
    TK_DEFAULTS,
    TK_ON_FAILURE,
    TK_ON_SUCCESS,
    TK_STEPS,
    TK_RUN_TIMEOUT,
    TK_DEADLINE,
    TK_COUNT
};

static const char *const top_keys[TK_COUNT] = {
    "dag",
    "description",
    "tags",
    "params",
    "timezone",
    "triggers",
    "schedule",
    "cooldown",
    "max_runs_per_day",
    "max_active_runs",
    "concurrency",
    "priority",
    "environment",
    "environments",
    "artifacts",
    "defaults",
    "on_failure",
    "on_success",
    "steps",
    "run_timeout",
    "deadline",
};

enum defaults_key {
    DK_RETRIES,
    DK_RETRY_DELAY,
    DK_RETRY_BACKOFF,
    DK_MAX_RETRY_DELAY,
    DK_TIMEOUT,
    DK_QUEUE,
    DK_TRIGGER_RULE,
    DK_CACHE,
    DK_POOL,
    DK_POOL_SLOTS,
    DK_COUNT
};

static const char *const defaults_keys[DK_COUNT] = {
    "retries", "retry_delay", "retry_backoff", "max_retry_delay",
    "timeout", "queue",       "trigger_rule",  "cache",
    "pool",    "pool_slots",
};

static const char *const env_keys[] = {"params", "queue", "approve_before",
                                       "approvers", "self_approve"};
static const char *const hook_keys[] = {"run", "webhook"};
static const char *const artifact_keys[] = {"max_prod", "self_approve",
                                            "promote_from", "approvers"};
/* The stages of the model registry a promotion may move a version to. */
static const char *const stage_names[] = {"dev", "staging", "prod", "archived"};

#define ALL_KEYS UINT32_MAX

/* ---- id and plain keys ---- */

static const char *const id_rule =
    "use lowercase letters, digits, \"_\" and \"-\", starting with a letter "
    "or digit (at most 64)";

/* The DAG id: `dag:`, or the stem of the file name. */
static void load_id(struct dag_ctx *c, const struct ynode *n, const char *name)
{
    const char *base, *dot;
    size_t len;

    if (n != NULL) {
        c->dag->id_given = true;
        if (dag_get_str(c, "dag", n, &c->dag->id) &&
            !dag_id_valid(n->str, n->len)) {
            dag_error(c, dag_npos(n), "DAG id \"%s\" is not valid: %s",
                      dag_q(c, n->str), id_rule);
        }
        return;
    }
    name = name ? name : "";
    base = strrchr(name, '/');
    base = base ? base + 1 : name;
    len = strlen(base);
    dot = strrchr(base, '.');
    if (dot && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0))
        len = (size_t)(dot - base);
    c->dag->id = arena_strndup(c, base, len);
    if (c->dag->id != NULL && !dag_id_valid(c->dag->id, len))
        dag_error(c, (struct dag_pos){0, 0},
                  "the file name gives the DAG id \"%s\", which is not valid "
                  "(%s): add a \"dag:\" key with a valid id",
                  dag_q(c, c->dag->id), id_rule);
}

static void load_tags(struct dag_ctx *c, const struct ynode *n)
{
    struct dag *d = c->dag;

    if (n->kind != YNODE_SEQ) {
        dag_error(c, dag_npos(n), "\"tags\" must be a list of strings, got %s",
                  dag_got(c, n));
        return;
    }
    d->tags = arena_array(c, n->n, sizeof(*d->tags));
    if (d->tags == NULL)
        return;
    for (size_t i = 0; i < n->n; i++)
        if (dag_get_str(c, "tags", n->items[i], &d->tags[d->n_tags]))
            d->n_tags++;
}

static void load_params(struct dag_ctx *c, const struct ynode *n)
{
    struct weir_err err = {0};
    const struct ynode *bad = NULL;
    int rc;

    if (n->kind != YNODE_MAP) {
        dag_error(c, dag_npos(n),
                  "\"params\" must be a mapping of param names to default "
                  "values, got %s",
                  dag_got(c, n));
        return;
    }
    c->params = arena_array(c, n->n, sizeof(*c->params));
    if (c->params == NULL)
        return;
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->items[2 * i];

        if (k->kind != YNODE_SCALAR || !dag_name_valid(k->str, k->len)) {
            dag_error(c, dag_npos(k),
                      "param name \"%s\" is not valid: use letters, digits "
                      "and \"_\", starting with a letter or \"_\"",
                      k->kind == YNODE_SCALAR ? dag_q(c, k->str)
                                              : ynode_describe(k));
            continue;
        }
        c->params[c->n_params++] = k->str;
    }
    qsort(c->params, c->n_params, sizeof(*c->params), dag_str_ptr_cmp);
    dag_check_map_dups(c, n, true);
    rc = ynode_to_json(n, &c->dag->params, &err, &bad);
    if (rc == WEIR_ENOMEM)
        c->nomem = true;
    else if (rc < 0)
        dag_error(c, dag_npos(bad ? bad : n), "bad value in \"params\": %s",
                  err.msg);
}

static void load_timezone(struct dag_ctx *c, const struct ynode *n)
{
    struct weir_err err = {0};
    struct tz *tz = NULL;
    int rc;

    if (n == NULL) {
        c->dag->timezone = arena_strndup(c, "UTC", 3);
        return;
    }
    if (!dag_get_str(c, "timezone", n, &c->dag->timezone))
        return;
    rc = tz_load(n->str, &tz, &err);
    if (rc == WEIR_ENOMEM)
        c->nomem = true;
    else if (rc == WEIR_ENOTFOUND)
        dag_error(c, dag_npos(n), "unknown time zone \"%s\"", dag_q(c, n->str));
    else if (rc < 0)
        dag_error(c, dag_npos(n), "bad time zone \"%s\": %s", dag_q(c, n->str),
                  err.msg);
    tz_free(tz);
}

static void load_limits(struct dag_ctx *c, const struct dag_keys *k)
{
    struct dag *d = c->dag;
    int prio = DAG_PRIO_NORMAL;

    if (k->val[TK_COOLDOWN])
        (void)dag_get_dur(c, "cooldown", k->val[TK_COOLDOWN], &d->cooldown_ms);
    if (k->val[TK_MAX_RUNS_PER_DAY])
        (void)dag_get_int(c, "max_runs_per_day", k->val[TK_MAX_RUNS_PER_DAY], 1,
                          DAG_MAX_RUNS_LIMIT, &d->max_runs_per_day);
    if (k->val[TK_MAX_ACTIVE_RUNS])
        (void)dag_get_int(c, "max_active_runs", k->val[TK_MAX_ACTIVE_RUNS], 1,
                          DAG_MAX_RUNS_LIMIT, &d->max_active_runs);
    if (k->val[TK_CONCURRENCY])
        (void)dag_get_int(c, "concurrency", k->val[TK_CONCURRENCY], 1,
                          DAG_MAX_RUNS_LIMIT, &d->concurrency);
    if (k->val[TK_PRIORITY])
        (void)dag_get_enum(c, "priority", k->val[TK_PRIORITY],
                           dag_priority_names, 4, &prio);
    d->priority = (enum dag_priority)prio;
}

/* ---- environments ---- */

static void load_approve_before(struct dag_ctx *c, struct dag_environment *e,
                                struct dag_env_aux *a, const struct ynode *n)
{
    if (n->kind != YNODE_SEQ) {
        dag_error(c, dag_npos(n),
                  "\"approve_before\" must be a list of step ids, got %s",
                  dag_got(c, n));
        return;
    }
    e->approve_before = arena_array(c, n->n, sizeof(*e->approve_before));
    a->approve_pos = arena_array(c, n->n, sizeof(*a->approve_pos));
    if (e->approve_before == NULL || a->approve_pos == NULL)
        return;
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *it = n->items[i];

        if (!dag_get_str(c, "approve_before", it,
                         &e->approve_before[e->n_approve_before]))
            continue;
        a->approve_pos[e->n_approve_before++] = dag_npos(it);
    }
}

static void load_environment(struct dag_ctx *c, size_t i,
                             const struct ynode *key, const struct ynode *val)
{
    struct dag_environment *e = &c->dag->environments[i];
    char where[128];
    struct dag_keys k;

    e->pos = dag_npos(key);
    if (key->kind != YNODE_SCALAR || !dag_id_valid(key->str, key->len)) {
        dag_error(c, dag_npos(key), "environment name \"%s\" is not valid: %s",
                  key->kind == YNODE_SCALAR ? dag_q(c, key->str)
                                            : ynode_describe(key),
                  id_rule);
        return;
    }
    e->name = arena_strndup(c, key->str, key->len);
    if (dag_is_null(val))
        return;
    if (val->kind != YNODE_MAP) {
        dag_error(c, dag_npos(val),
                  "environment \"%s\" must be a mapping with \"params\", "
                  "\"queue\", \"approve_before\", \"approvers\" or "
                  "\"self_approve\", got %s",
                  key->str, dag_got(c, val));
        return;
    }
    snprintf(where, sizeof(where), "in environment \"%s\"", key->str);
    dag_walk_map(c, val, env_keys, WEIR_ARRAY_LEN(env_keys), ALL_KEYS, where,
                 &k);
    if (k.val[0])
        e->params = dag_param_overrides(c, k.val[0], where);
    if (k.val[1])
        (void)dag_get_queue(c, "queue", k.val[1], &e->queue);
    if (k.val[2])
        load_approve_before(c, e, &c->env_aux[i], k.val[2]);
    if (k.val[3])
        dag_load_approvers(c, where, k.val[3], &e->approvers);
    if (k.val[4])
        (void)dag_get_bool(c, "self_approve", k.val[4], &e->self_approve);
    if ((k.val[3] || k.val[4]) && !k.val[2])
        dag_error(c, dag_npos(k.key[k.val[3] ? 3 : 4]),
                  "%s, \"%s\" applies to the gates of \"approve_before\", "
                  "and there are none",
                  where, k.val[3] ? "approvers" : "self_approve");
}

static void load_environments(struct dag_ctx *c, const struct ynode *n)
{
    struct dag *d = c->dag;

    if (n->kind != YNODE_MAP) {
        dag_error(c, dag_npos(n),
                  "\"environments\" must be a mapping of environment names "
                  "to settings, got %s",
                  dag_got(c, n));
        return;
    }
    d->environments = arena_array(c, n->n, sizeof(*d->environments));
    c->env_aux = arena_array(c, n->n, sizeof(*c->env_aux));
    if (d->environments == NULL || c->env_aux == NULL)
        return;
    d->n_environments = n->n;
    dag_check_map_dups(c, n, false);
    for (size_t i = 0; i < n->n; i++)
        load_environment(c, i, n->items[2 * i], n->items[2 * i + 1]);
}

/* ---- artifacts ---- */

/* Whether s (len bytes) is an artifact name, as the registry takes it. */
static bool artifact_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > 128 || strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') ||
                  (i > 0 && (ch == '.' || ch == '_' || ch == '-'));

        if (!ok)
            return false;
    }
    return true;
}

/* One environment name of promote_from, which the DAG must declare. */
static bool load_from_env(struct dag_ctx *c, const struct ynode *n, char **out)
{
    const struct dag *d = c->dag;
    const char *cands[64];
    size_t nc = 0;
    char *name = NULL;

    if (!dag_get_str(c, "promote_from", n, &name))
        return false;
    for (size_t i = 0; i < d->n_environments; i++) {
        if (d->environments[i].name == NULL)
            continue;
        if (strcmp(d->environments[i].name, name) == 0) {
            *out = name;
            return true;
        }
        if (nc < WEIR_ARRAY_LEN(cands))
            cands[nc++] = d->environments[i].name;
    }
    dag_error(c, dag_npos(n),
              "promote_from: environment \"%s\" is not declared in "
              "\"environments\"%s",
              dag_q(c, name), dag_mean(c, dag_suggest(c, name, cands, nc)));
    return false;
}

/* One `STAGE: [ENV, ...]` of promote_from into f. */
static void load_from_stage(struct dag_ctx *c, struct dag_promote_from *f,
                            const struct ynode *key, const struct ynode *val)
{
    int stage = 0;

    if (!dag_get_enum(c, "promote_from stage", key, stage_names,
                      WEIR_ARRAY_LEN(stage_names), &stage))
        return;
    f->stage = (char *)stage_names[stage];
    if (val->kind != YNODE_SEQ) {
        dag_error(c, dag_npos(val),
                  "promote_from: stage \"%s\" takes a list of environment "
                  "names, got %s",
                  f->stage, dag_got(c, val));
        return;
    }
    f->envs = arena_array(c, val->n ? val->n : 1, sizeof(*f->envs));
    if (f->envs == NULL)
        return;
    for (size_t i = 0; i < val->n; i++)
        if (load_from_env(c, val->items[i], &f->envs[f->n_envs]))
            f->n_envs++;
}

/* `promote_from: {STAGE: [ENV, ...]}` of artifact a. */
static void load_promote_from(struct dag_ctx *c, struct dag_artifact *a,
                              const struct ynode *n)
{
    if (n->kind != YNODE_MAP) {
        dag_error(c, dag_npos(n),
                  "\"promote_from\" must be a mapping of stages to lists of "
                  "environments, got %s",
                  dag_got(c, n));
        return;
    }
    dag_check_map_dups(c, n, false);
    a->promote_from = arena_array(c, n->n ? n->n : 1, sizeof(*a->promote_from));
    if (a->promote_from == NULL)
        return;
    a->n_promote_from = n->n;
    for (size_t i = 0; i < n->n; i++)
        load_from_stage(c, &a->promote_from[i], n->items[2 * i],
                        n->items[2 * i + 1]);
}

static void load_artifact(struct dag_ctx *c, struct dag_artifact *a,
                          const struct ynode *key, const struct ynode *val)
{
    char where[200];
    struct dag_keys k;

    a->pos = dag_npos(key);
    a->max_prod = 1;
    if (key->kind != YNODE_SCALAR || !artifact_name_valid(key->str, key->len)) {
        dag_error(c, dag_npos(key),
                  "artifact name \"%s\" is not valid: expected a letter or "
                  "digit, then up to 127 letters, digits, '.', '_' or '-'",
                  key->kind == YNODE_SCALAR ? dag_q(c, key->str)
                                            : ynode_describe(key));
        return;
    }
    a->name = arena_strndup(c, key->str, key->len);
    if (dag_is_null(val))
        return;
    if (val->kind != YNODE_MAP) {
        dag_error(c, dag_npos(val),
                  "artifact \"%s\" must be a mapping of \"max_prod\", "
                  "\"self_approve\", \"promote_from\" and \"approvers\", "
                  "got %s",
                  dag_q(c, key->str), dag_got(c, val));
        return;
    }
    snprintf(where, sizeof(where), "in artifact \"%s\"", dag_q(c, key->str));
    dag_walk_map(c, val, artifact_keys, WEIR_ARRAY_LEN(artifact_keys), ALL_KEYS,
                 where, &k);
    if (k.val[0])
        (void)dag_get_int(c, "max_prod", k.val[0], 1, 1000, &a->max_prod);
    if (k.val[1])
        (void)dag_get_bool(c, "self_approve", k.val[1], &a->self_approve);
    if (k.val[2])
        load_promote_from(c, a, k.val[2]);
    if (k.val[3])
        dag_load_approvers(c, where, k.val[3], &a->approvers);
}

static void load_artifacts(struct dag_ctx *c, const struct ynode *n)
{
    struct dag *d = c->dag;

    if (n->kind != YNODE_MAP) {
        dag_error(c, dag_npos(n),
                  "\"artifacts\" must be a mapping of artifact names to "
                  "settings, got %s",
                  dag_got(c, n));
        return;
    }
    d->artifacts = arena_array(c, n->n, sizeof(*d->artifacts));
    if (d->artifacts == NULL)
        return;
    d->n_artifacts = n->n;
    dag_check_map_dups(c, n, false);
    for (size_t i = 0; i < n->n; i++)
        load_artifact(c, &d->artifacts[i], n->items[2 * i],
                      n->items[2 * i + 1]);
}

const struct dag_artifact *dag_artifact_find(const struct dag *dag,
                                             const char *name)
{
    for (size_t i = 0; dag != NULL && i < dag->n_artifacts; i++)
        if (dag->artifacts[i].name != NULL &&
            strcmp(dag->artifacts[i].name, name) == 0)
            return &dag->artifacts[i];
    return NULL;
}

int dag_artifact_max_prod(const struct dag *dag, const char *name)
{
    const struct dag_artifact *a = dag_artifact_find(dag, name);

    return a != NULL ? a->max_prod : 1;
}

static void load_default_env(struct dag_ctx *c, const struct ynode *n,
                             bool declared)
{
    const char **names;
    size_t count = 0;

    if (!dag_get_str(c, "environment", n, &c->dag->environment))
        return;
    if (!declared) {
        /* docs/dag-format.md: the default environment must be declared */
        dag_error(c, dag_npos(n),
                  "environment \"%s\" is not declared in \"environments\"",
                  dag_q(c, n->str));
        return;
    }
    names = arena_array(c, c->dag->n_environments, sizeof(*names));
    if (names == NULL)
        return;
    for (size_t i = 0; i < c->dag->n_environments; i++) {
        const char *e = c->dag->environments[i].name;

        if (e != NULL && strcmp(e, n->str) == 0)
            return;
        if (e != NULL)
            names[count++] = e;
    }
    dag_error(c, dag_npos(n),
              "environment \"%s\" is not declared in \"environments\"%s",
              dag_q(c, n->str),
              dag_mean(c, dag_suggest(c, n->str, names, count)));
}

/* ---- defaults and hooks ---- */

static void check_max_delay(struct dag_ctx *c, const struct ynode *n,
                            int64_t delay, int64_t max)
{
    if (max != 0 && max < delay) {
        char a[32], b[32];

        dag_error(c, dag_npos(n),
                  "\"max_retry_delay\" (%s) must not be shorter than "
                  "\"retry_delay\" (%s)",
                  duration_format(max, a, sizeof(a)),
                  duration_format(delay, b, sizeof(b)));
    }
}

static void load_defaults(struct dag_ctx *c, const struct ynode *n)
{
    struct dag_defaults *d = &c->defaults;
    const struct ynode *const *v;
    struct dag_keys k;
    int rule = DAG_RULE_ALL_SUCCESS;
    bool delay_ok = true;

    if (n->kind != YNODE_MAP) {
        dag_error(c, dag_npos(n),
                  "\"defaults\" must be a mapping of step settings, got %s",
                  dag_got(c, n));
        return;
    }
    dag_walk_map(c, n, defaults_keys, DK_COUNT, ALL_KEYS, "in defaults", &k);
    v = k.val;
    if (v[DK_RETRIES])
        (void)dag_get_int(c, "retries", v[DK_RETRIES], 0, 100, &d->retries);
    if (v[DK_RETRY_DELAY])
        delay_ok = dag_get_dur(c, "retry_delay", v[DK_RETRY_DELAY],
                               &d->retry_delay_ms);
    if (v[DK_RETRY_BACKOFF])
        (void)dag_get_num(c, "retry_backoff", v[DK_RETRY_BACKOFF], 1, false,
                          100, &d->retry_backoff);
    if (v[DK_MAX_RETRY_DELAY] &&
        dag_get_dur(c, "max_retry_delay", v[DK_MAX_RETRY_DELAY],
                    &d->max_retry_delay_ms) &&
        delay_ok)
        check_max_delay(c, v[DK_MAX_RETRY_DELAY], d->retry_delay_ms,
                        d->max_retry_delay_ms);
    if (v[DK_TIMEOUT])
        (void)dag_get_dur(c, "timeout", v[DK_TIMEOUT], &d->timeout_ms);
    if (v[DK_QUEUE])
        (void)dag_get_queue(c, "queue", v[DK_QUEUE], &d->queue);
    if (v[DK_TRIGGER_RULE] &&
        dag_get_enum(c, "trigger_rule", v[DK_TRIGGER_RULE], dag_rule_names, 5,
                     &rule))
        d->rule = (enum dag_trigger_rule)rule;
    if (v[DK_CACHE])
        dag_load_defaults_cache(c, v[DK_CACHE]);
    if (v[DK_POOL] || v[DK_POOL_SLOTS])
        dag_load_pool(c, "defaults", v[DK_POOL], v[DK_POOL_SLOTS], &d->pool,
                      &d->pool_slots, &d->pool_pos, &d->slots_pos);
}

static bool url_ok(const char *s)
{
    size_t skip = strncmp(s, "https://", 8) == 0  ? 8
                  : strncmp(s, "http://", 7) == 0 ? 7
                                                  : 0;

    if (skip == 0 || s[skip] == '\0')
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

/* Load the hook `key` into h; a run: hook's names are recorded under
 * DAG_SCOPE_HOOK with `which` (0 on_failure, 1 on_success) until its step
 * exists (dag_build_steps). */
static void load_hook(struct dag_ctx *c, const char *key, const struct ynode *n,
                      struct dag_hook *h, size_t which)
{
    char where[32];
    struct dag_keys k;

    h->pos = dag_npos(n);
    if (n->kind != YNODE_MAP) {
        dag_error(
            c, dag_npos(n),
            "\"%s\" must be a mapping with \"run\" or \"webhook\", got %s", key,
            dag_got(c, n));
        return;
    }
    snprintf(where, sizeof(where), "in %s", key);
    dag_walk_map(c, n, hook_keys, 2, ALL_KEYS, where, &k);
    if (k.val[0] && k.val[1]) {
        dag_error(c, dag_npos(k.key[1]),
                  "\"%s\" has both \"run\" and \"webhook\"; use one", key);
        return;
    }
    if (k.val[0] == NULL && k.val[1] == NULL) {
        dag_error(c, dag_npos(n), "\"%s\" needs \"run\" or \"webhook\"", key);
        return;
    }
    if (k.val[0] && dag_get_str(c, "run", k.val[0], &h->run)) {
        h->run_pos = dag_npos(k.val[0]);
        dag_load_tmpl(c, "run", k.val[0], DAG_SCOPE_HOOK, which);
    }
    if (k.val[1] && dag_get_str(c, "webhook", k.val[1], &h->webhook) &&
        !url_ok(h->webhook))
        dag_error(c, dag_npos(k.val[1]),
                  "\"webhook\" must be an http:// or https:// URL, got %s",
                  dag_got(c, k.val[1]));
}

/* ---- the document ---- */

static void init_defaults(struct dag_ctx *c)
{
    c->defaults.queue = arena_strndup(c, "default", 7);
    c->defaults.retry_delay_ms = 10 * 1000;
    c->defaults.retry_backoff = 1.0;
    c->defaults.rule = DAG_RULE_ALL_SUCCESS;
    c->defaults.cache_ttl_ms = DAG_CACHE_TTL_MS;
    c->defaults.pool_slots = 1;
}

static void load_top(struct dag_ctx *c, const struct dag_keys *k,
                     const char *name)
{
    const struct ynode *const *v = k->val;

    load_id(c, v[TK_DAG], name);
    if (v[TK_DESCRIPTION])
        (void)dag_get_str(c, "description", v[TK_DESCRIPTION],
                          &c->dag->description);
    if (v[TK_TAGS])
        load_tags(c, v[TK_TAGS]);
    if (v[TK_PARAMS])
        load_params(c, v[TK_PARAMS]);
    load_timezone(c, v[TK_TIMEZONE]);
    load_limits(c, k);
    if (v[TK_ENVIRONMENTS])
        load_environments(c, v[TK_ENVIRONMENTS]);
    if (v[TK_ARTIFACTS])
        load_artifacts(c, v[TK_ARTIFACTS]);
    if (v[TK_ENVIRONMENT])
        load_default_env(c, v[TK_ENVIRONMENT], v[TK_ENVIRONMENTS] != NULL);
    if (v[TK_ON_FAILURE])
        load_hook(c, "on_failure", v[TK_ON_FAILURE], &c->dag->on_failure, 0);
    if (v[TK_ON_SUCCESS])
        load_hook(c, "on_success", v[TK_ON_SUCCESS], &c->dag->on_success, 1);
}

void dag_build(struct dag_ctx *c, const struct ynode *root, const char *name)
{
    struct dag_keys k;

    init_defaults(c);
    if (root->kind != YNODE_MAP) {
        dag_error(c, dag_npos(root),
                  "a DAG file must be a mapping with keys such as \"dag\" and "
                  "\"steps\", got %s",
                  dag_got(c, root));
        return;
    }
    dag_walk_map(c, root, top_keys, TK_COUNT, ALL_KEYS, "at the top level", &k);
    load_top(c, &k, name);
    dag_build_triggers(c, k.key[TK_SCHEDULE], k.val[TK_SCHEDULE],
                       k.val[TK_TRIGGERS]);
    if (k.val[TK_DEFAULTS])
        load_defaults(c, k.val[TK_DEFAULTS]);
    dag_build_steps(c, k.key[TK_STEPS], k.val[TK_STEPS]);
    dag_build_deadline(c, k.val[TK_RUN_TIMEOUT], k.val[TK_DEADLINE]);
}
