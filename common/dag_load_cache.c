/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cache:` of `defaults:` and of a step (docs/dag-format.md, "Step
 * caching"): true, false, or {key: TEMPLATE, ttl: DURATION}. A step
 * without its own `cache:` inherits the defaults' one, unless it is an
 * approval gate (never cached) or the step of a hook.
 */
#include <string.h>

#include "dag_internal.h"
#include "tmpl.h"

static const char *const cache_keys[] = {"key", "ttl"};

/* What one `cache:` value says. */
struct cache_val {
    bool on;                   /* caching is on */
    char *key;                 /* key template, or NULL: the default key */
    const struct ynode *key_n; /* its node, or NULL */
    int64_t ttl_ms;            /* entry lifetime */
};

static int no_name_cb(void *ctx, const char *name, int offset)
{
    (void)ctx;
    (void)name;
    (void)offset;
    return 0;
}

/* Read n into *v (v->ttl_ms holds the default); false when n is bad. */
static bool cache_read(struct dag_ctx *c, const struct ynode *n,
                       const char *where, struct cache_val *v)
{
    struct dag_keys k;
    bool ok = true;

    if (n->kind == YNODE_SCALAR && ynode_get_bool(n, &v->on) == 0)
        return true;
    if (n->kind != YNODE_MAP) {
        dag_error(c, dag_npos(n),
                  "\"cache\" must be true, false or a mapping with \"key\" "
                  "and \"ttl\", got %s",
                  dag_got(c, n));
        return false;
    }
    v->on = true;
    dag_walk_map(c, n, cache_keys, WEIR_ARRAY_LEN(cache_keys), UINT32_MAX,
                 where, &k);
    if (k.val[0] != NULL) {
        ok = dag_get_str(c, "key", k.val[0], &v->key);
        v->key_n = ok ? k.val[0] : NULL;
    }
    if (k.val[1] != NULL) {
        int64_t ttl = 0;

        if (!dag_get_dur(c, "ttl", k.val[1], &ttl)) {
            ok = false;
        } else if (ttl <= 0) {
            dag_error(c, dag_npos(k.val[1]),
                      "\"ttl\" of \"cache\" must be longer than 0s");
            ok = false;
        } else {
            v->ttl_ms = ttl;
        }
    }
    return ok;
}

void dag_load_defaults_cache(struct dag_ctx *c, const struct ynode *n)
{
    struct dag_defaults *d = &c->defaults;
    struct cache_val v = {.ttl_ms = d->cache_ttl_ms};
    struct weir_err err = {0};
    int off = 0, rc;

    if (!cache_read(c, n, "in the cache of defaults", &v))
        return;
    /* The key's names are checked for each step that inherits it; its
     * syntax only once, here. */
    if (v.key_n != NULL) {
        rc = tmpl_names(v.key_n->str, no_name_cb, NULL, &err, &off);
        if (rc == WEIR_ENOMEM) {
            c->nomem = true;
            return;
        }
        if (rc < 0) {
            dag_error(c, dag_pos_in(c, v.key_n, off),
                      "bad template in \"key\": %s", err.msg);
            return;
        }
    }
    d->cache = v.on;
    d->cache_key = v.key;
    d->ckey = v.key_n;
    d->cache_ttl_ms = v.ttl_ms;
}

void dag_load_step_cache(struct dag_ctx *c, struct dag_step *s, size_t i,
                         const char *label, const struct ynode *key,
                         const struct ynode *n)
{
    const struct dag_defaults *d = &c->defaults;
    struct cache_val v = {.ttl_ms = d->cache_ttl_ms};
    char where[128];

    if (n == NULL) {
        /* an approval gate has no command to reuse: it never inherits */
        if (!d->cache || s->approval)
            return;
        s->cache = true;
        s->cache_key = d->cache_key;
        s->cache_ttl_ms = d->cache_ttl_ms;
        if (d->ckey != NULL)
            dag_load_tmpl(c, "key", d->ckey, DAG_SCOPE_STEP, i);
        return;
    }
    snprintf(where, sizeof(where), "in the cache of %s", label);
    if (!cache_read(c, n, where, &v))
        return;
    if (v.on && s->approval) {
        dag_error(c, dag_npos(key),
                  "%s is an approval gate and cannot be cached; remove "
                  "\"cache\"",
                  label);
        return;
    }
    s->cache = v.on;
    s->cache_key = v.on ? v.key : NULL;
    s->cache_ttl_ms = v.ttl_ms;
    if (v.on && v.key_n != NULL)
        dag_load_tmpl(c, "key", v.key_n, DAG_SCOPE_STEP, i);
}
