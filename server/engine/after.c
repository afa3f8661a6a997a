/* SPDX-License-Identifier: Apache-2.0 */
/* DAG-to-DAG and data-aware triggers (see after.h for the rules). */
#include "engine/after.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/fire.h"
#include "engine/hub.h"
#include "engine/internal.h"
#include "engine/state.h"
#include "expr.h"
#include "log.h"
#include "store/after.h"
#include "store/store.h"

/* The most upstream outputs an after-triggered run's payload carries. */
#define OUTPUTS_MAX (64 * 1024)
/* Runs ending at once (every step skipped) fire their followers within
 * the same call: a chain this deep stops there, whatever happened. */
#define DEPTH_MAX 16
#define KEEP_MAX  16 /* printed JSON values one evaluation may hold */

static _Thread_local int depth;

/* What a when: is evaluated against: names are paths into root. */
struct jres {
    const cJSON *root;    /* {"run": {...}} or {"event": {...}} */
    char *keep[KEEP_MAX]; /* JSON printed for non-scalar values */
    size_t n_keep;        /* entries in keep */
};

static int jres_cb(void *ctx, const char *name, struct expr_value *out,
                   struct weir_err *err)
{
    struct jres *j = ctx;
    const cJSON *v = j->root;
    char seg[128];

    while (v != NULL && *name != '\0') {
        size_t n = strcspn(name, ".");
        /* An output key holds dots (data.version): the rest of the name
         * as one key first. */
        const cJSON *whole = name[n] == '.' && cJSON_IsObject(v)
                                 ? cJSON_GetObjectItemCaseSensitive(v, name)
                                 : NULL;

        if (whole != NULL) {
            v = whole;
            break;
        }
        if (n >= sizeof(seg))
            return weir_err_set(err, WEIR_EINVAL, "name too long");
        memcpy(seg, name, n);
        seg[n] = '\0';
        v = cJSON_GetObjectItemCaseSensitive(v, seg);
        name += n + (name[n] == '.');
    }
    memset(out, 0, sizeof(*out));
    if (v == NULL || cJSON_IsNull(v))
        out->type = EXPR_NULL;
    else if (cJSON_IsBool(v))
        *out = (struct expr_value){.type = EXPR_BOOL, .b = cJSON_IsTrue(v)};
    else if (cJSON_IsNumber(v))
        *out = (struct expr_value){.type = EXPR_NUM, .num = v->valuedouble};
    else if (cJSON_IsString(v))
        *out = (struct expr_value){.type = EXPR_STR, .str = v->valuestring};
    else if (j->n_keep < KEEP_MAX &&
             (j->keep[j->n_keep] = cJSON_PrintUnformatted(v)) != NULL)
        *out =
            (struct expr_value){.type = EXPR_STR, .str = j->keep[j->n_keep++]};
    else
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    return 0;
}

/* Whether when (NULL: always) holds over root. */
static int when_holds(const char *when, const cJSON *root, bool *holds,
                      struct weir_err *err)
{
    struct jres j = {.root = root};
    struct expr *ex = NULL;
    struct expr_value v = {0};
    int rc;

    *holds = true;
    if (when == NULL)
        return 0;
    rc = expr_parse(when, strlen(when), &ex, err, NULL);
    if (rc == 0)
        rc = expr_eval(ex, jres_cb, &j, &v, err);
    if (rc == 0)
        *holds = expr_truthy(&v);
    expr_free(ex);
    for (size_t i = 0; i < j.n_keep; i++)
        cJSON_free(j.keep[i]);
    return rc;
}

static const struct dag_trigger *find_trigger(const struct dag *d,
                                              const char *key)
{
    for (size_t i = 0; d != NULL && i < d->n_triggers; i++)
        if (strcmp(d->triggers[i].key, key) == 0)
            return &d->triggers[i];
    return NULL;
}

/* A firing: who follows, why, and what its when: sees. */
struct firing {
    const char *reason;  /* the new run's reason */
    const char *payload; /* its trigger_payload, JSON text */
    const cJSON *root;   /* what when: is evaluated against */
    const char *subject; /* "run 12", "data version v3": for the log */
};

/* Offer firing f to follower w: its when:, then a row in after_pending
 * that after_pass() fires in a transaction of its own. The firing locks
 * the follower's DAG row; done here, inside the upstream's completion,
 * two DAGs following each other would lock their rows in opposite
 * orders, and a firing that fails would fail the completion. */
static int offer(struct engine *e, struct run_ctx *x,
                 const struct store_follower *w, const struct firing *f,
                 struct weir_err *err)
{
    const struct dag *d = engine_dag(e->cache, x->c, w->version_id);
    const struct dag_trigger *t = find_trigger(d, w->key);
    struct store_after_pending p = {.key = w->key,
                                    .reason = (char *)f->reason,
                                    .payload = (char *)f->payload,
                                    .depth = depth,
                                    .from_run = x->run.id};
    struct weir_err why = {0};
    bool holds = false;
    char text[300];
    int rc = 0;

    if (t != NULL && when_holds(t->when, f->root, &holds, &why) < 0) {
        snprintf(text, sizeof(text), "%s not matched: when: %s", f->subject,
                 why.msg);
        rc = store_trig_suppress(x->c, w->dag_id, w->key, text, err);
        holds = false;
    }
    dagcache_release(e->cache, d);
    if (t == NULL || !holds || rc < 0)
        return rc;
    snprintf(p.dag_id, sizeof(p.dag_id), "%s", w->dag_id);
    rc = store_after_pending_add(x->c, &p, err);
    if (rc == 0 && x->made != NULL)
        x->made->n = MADE_MAX + 1; /* the commit wakes after_pass() */
    return rc;
}

/* The followers of kind/target into *v, *n; none past DEPTH_MAX. */
static int followers(struct run_ctx *x, const char *kind, const char *target,
                     struct store_follower **v, size_t *n, struct weir_err *err)
{
    *v = NULL;
    *n = 0;
    if (depth >= DEPTH_MAX) {
        log_warn("event=after_too_deep %s=\"%.128s\" depth=%d", kind, target,
                 depth);
        return 0;
    }
    return store_followers(x->c, kind, target, v, n, err);
}

/* Offer f to every follower v[0..n) whose state filter takes state
 * (NULL: every one). */
static int offer_all(struct engine *e, struct run_ctx *x,
                     const struct store_follower *v, size_t n,
                     const char *state, const struct firing *f,
                     struct weir_err *err)
{
    int rc = 0;

    depth++;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (state == NULL || strcmp(v[i].state, "any") == 0 ||
            strcmp(v[i].state, state) == 0)
            rc = offer(e, x, &v[i], f, err);
    depth--;
    return rc;
}

/* The payload of an after firing ({dag, run_id, state, outputs}) and
 * what its when: sees ({run: {id, dag, state, params, outputs}}). */
static int run_payload(const struct run_ctx *x, const char *outputs,
                       char **payload, cJSON **root, struct weir_err *err)
{
    const char *state = run_state_name(x->run.state);
    cJSON *pay = cJSON_CreateObject(), *o = cJSON_CreateObject(), *run;

    run = cJSON_AddObjectToObject(o, "run");
    if (pay == NULL || run == NULL) {
        cJSON_Delete(pay);
        cJSON_Delete(o);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    cJSON_AddStringToObject(pay, "dag", x->run.dag_id);
    cJSON_AddNumberToObject(pay, "run_id", (double)x->run.id);
    cJSON_AddStringToObject(pay, "state", state);
    cJSON_AddItemToObject(pay, "outputs", cJSON_Parse(outputs));
    cJSON_AddNumberToObject(run, "id", (double)x->run.id);
    cJSON_AddStringToObject(run, "dag", x->run.dag_id);
    cJSON_AddStringToObject(run, "state", state);
    cJSON_AddItemToObject(run, "params",
                          x->run.params ? cJSON_Duplicate(x->run.params, 1)
                                        : cJSON_CreateObject());
    cJSON_AddItemToObject(run, "outputs", cJSON_Parse(outputs));
    *payload = cJSON_PrintUnformatted(pay);
    cJSON_Delete(pay);
    *root = o;
    if (*payload == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    return 0;
}

int after_run_ended(struct engine *e, struct run_ctx *x, struct weir_err *err)
{
    const char *state = run_state_name(x->run.state);
    struct store_follower *v = NULL;
    char *outputs = NULL, *payload = NULL, reason[200], subject[64];
    cJSON *root = NULL;
    struct firing f = {reason, NULL, NULL, subject};
    size_t n = 0;
    int rc = followers(x, "after", x->run.dag_id, &v, &n, err);

    /* A DAG nobody follows costs the one index probe above. */
    if (rc == 0 && n > 0)
        rc = store_run_outputs(x->c, x->run.id, OUTPUTS_MAX, &outputs, err);
    if (rc == 0 && n > 0)
        rc = run_payload(x, outputs, &payload, &root, err);
    snprintf(reason, sizeof(reason), "after %s run #%lld %s", x->run.dag_id,
             (long long)x->run.id, state);
    snprintf(subject, sizeof(subject), "run %lld", (long long)x->run.id);
    f.payload = payload;
    f.root = root;
    if (rc == 0 && n > 0)
        rc = offer_all(e, x, v, n, state, &f, err);
    store_followers_free(v, n);
    cJSON_free(payload);
    cJSON_Delete(root);
    free(outputs);
    return rc;
}

/* The string output key of outputs, or NULL. */
static const char *out_str(const cJSON *outputs, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(outputs, key);

    return cJSON_IsString(v) && v->valuestring[0] != '\0' ? v->valuestring
                                                          : NULL;
}

/* The payload of a data firing: {name, id, payload: {name, version,
 * run_id, dag, step, attempt_id, and the other data.* outputs}}. */
static cJSON *data_payload(const struct run_ctx *x,
                           const struct store_attempt *a, const cJSON *outs,
                           const char *name, const char *version)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *p = cJSON_AddObjectToObject(o, "payload");
    const cJSON *m;

    if (p == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "id", version);
    cJSON_ArrayForEach(m, outs)
    {
        if (strncmp(m->string, "data.", 5) == 0 && m->string[5] != '\0' &&
            cJSON_IsString(m))
            cJSON_AddStringToObject(p, m->string + 5, m->valuestring);
    }
    cJSON_AddNumberToObject(p, "run_id", (double)x->run.id);
    cJSON_AddStringToObject(p, "dag", x->run.dag_id);
    cJSON_AddStringToObject(p, "step", a->step_id);
    cJSON_AddNumberToObject(p, "attempt_id", (double)a->id);
    return o;
}

int after_attempt_data(struct engine *e, struct run_ctx *x,
                       const struct store_attempt *a, const char *outputs,
                       struct weir_err *err)
{
    /* Most attempts name no dataset: their outputs are not parsed. */
    cJSON *outs = outputs && strstr(outputs, "\"data.name\"") != NULL
                      ? cJSON_Parse(outputs)
                      : NULL;
    const char *name = out_str(outs, "data.name");
    const char *version = out_str(outs, "data.version");
    struct store_data_version dv = {name,  version,       x->run.id,
                                    a->id, x->run.dag_id, a->step_id};
    cJSON *pay = NULL, *root = NULL;
    char *payload = NULL, reason[400], subject[200];
    struct firing f = {reason, NULL, NULL, subject};
    struct store_follower *v = NULL;
    size_t n = 0;
    bool created = false;
    int rc = 0;

    if (name != NULL && version != NULL)
        rc = store_data_version_add(x->c, &dv, &created, err);
    if (rc == 0 && created) {
        log_info("event=data_version dataset=\"%.128s\" version=\"%.128s\" "
                 "run=%lld step=%s",
                 name, version, (long long)x->run.id, a->step_id);
        pay = data_payload(x, a, outs, name, version);
        root = cJSON_CreateObject();
        payload = pay ? cJSON_PrintUnformatted(pay) : NULL;
        if (payload == NULL || root == NULL ||
            !cJSON_AddItemReferenceToObject(root, "event", pay))
            rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    if (rc == 0 && created) {
        snprintf(reason, sizeof(reason),
                 "data %.128s version %.100s from %s run #%lld", name, version,
                 x->run.dag_id, (long long)x->run.id);
        snprintf(subject, sizeof(subject), "data version %.128s", version);
        f.payload = payload;
        f.root = root;
        rc = followers(x, "data", name, &v, &n, err);
    }
    if (rc == 0 && n > 0)
        rc = offer_all(e, x, v, n, NULL, &f, err);
    store_followers_free(v, n);
    cJSON_free(payload);
    cJSON_Delete(root);
    cJSON_Delete(pay);
    cJSON_Delete(outs);
    return rc;
}

/* ---- the pending firings ---- */

/* Fire p in c's open transaction, in a savepoint: a firing that fails
 * is undone, logged and recorded as suppressed, and p is consumed all
 * the same. *created: a run was made. */
static int fire_pending(struct engine *e, struct store_conn *c,
                        const struct store_after_pending *p, bool *created,
                        struct weir_err *err)
{
    struct engine_slot s = {p->dag_id,    p->key,     0,
                            p->reason,    p->payload, p->started_by,
                            p->retried_by};
    struct fire_result res = {0};
    struct weir_err why = {0};
    char q[300], text[400];
    int rc = store_tx_savepoint(c, "after_fire", err);

    if (rc < 0)
        return rc;
    depth = p->depth; /* the depth of the offer_all() that queued it */
    rc = engine_fire_in_tx(e, c, &s, &res, &why);
    depth = 0;
    *created = rc == 0 && res.outcome == FIRE_CREATED;
    if (rc == 0)
        return store_tx_release(c, "after_fire", err);
    /* The database away, a deadlock or a serialization failure: the
     * row stays, for the next pass. */
    if (why.code == WEIR_EUNAVAIL ||
        strncmp(why.msg, "database error 40", 17) == 0)
        return weir_err_set(err, why.code, "%s", why.msg);
    rc = store_tx_rollback_to(c, "after_fire", err);
    if (rc < 0)
        return rc;
    if (why.code == WEIR_ECONFLICT || why.code == WEIR_ENOTFOUND) {
        /* The follower changed meanwhile (a new version, deleted). */
        log_info("event=after_skipped dag=%s trigger=\"%s\" why=%s", p->dag_id,
                 p->key, log_quote(why.msg, q, sizeof(q)));
        return 0;
    }
    log_error("event=after_fire_failed dag=%s trigger=\"%s\" reason=%s msg=%s",
              p->dag_id, p->key, log_quote(p->reason, text, sizeof(text)),
              log_quote(why.msg, q, sizeof(q)));
    /* The reason users see says what failed in general terms only. */
    snprintf(text, sizeof(text), "firing failed (%.200s): see the server log",
             p->reason);
    rc = store_tx_savepoint(c, "after_fire", err);
    if (rc == 0 && store_trig_suppress(c, p->dag_id, p->key, text, &why) < 0)
        rc = store_tx_rollback_to(c, "after_fire", err);
    return rc;
}

int after_pass(struct engine *e, int max, int *done, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc = store_conn_get(e->store, &c, err);
    bool bump = false, any = false;

    *done = 0;
    /* Most wake-ups are for something else: one statement says so. */
    if (rc == 0)
        rc = store_after_pending_any(c, &any, err);
    while (rc == 0 && any && *done < max) {
        struct store_after_pending p;
        bool found = false, created = false;

        rc = store_tx_begin(c, err);
        if (rc == 0)
            rc = store_after_pending_take(c, &p, &found, err);
        if (rc == 0 && found)
            rc = fire_pending(e, c, &p, &created, err);
        if (rc == 0)
            rc = store_tx_commit(c, err);
        else
            store_tx_rollback(c);
        store_after_pending_free(&p);
        if (rc < 0 || !found)
            break;
        bump |= created;
        (*done)++;
    }
    store_conn_put(c);
    if (bump)
        hub_bump(e->hub);
    return rc;
}

/* ---- cycles ---- */

/* A path from `from` to `to` along edges (up -> down) into path (DAG ids,
 * from first; at most max); its length, or 0 when there is none. */
static size_t find_path(const struct store_edge *v, size_t n, const char *from,
                        const char *to, const char **path, size_t max)
{
    /* Breadth first over the edges; node k of the queue came from
     * parent[k]. Each edge is taken at most once. */
    const char **node = calloc(n + 2, sizeof(*node));
    size_t *parent = calloc(n + 2, sizeof(*parent));
    bool *used = calloc(n + 1, sizeof(*used));
    size_t head = 0, tail = 0, len = 0, found = SIZE_MAX;

    if (node == NULL || parent == NULL || used == NULL)
        goto out;
    node[tail++] = from;
    while (head < tail && found == SIZE_MAX) {
        const char *cur = node[head];

        if (strcmp(cur, to) == 0) {
            found = head;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (used[i] || strcmp(v[i].up, cur) != 0)
                continue;
            used[i] = true;
            parent[tail] = head;
            node[tail++] = v[i].down;
        }
        head++;
    }
    if (found == SIZE_MAX)
        goto out;
    for (size_t k = found;; k = parent[k]) {
        len++;
        if (k == 0)
            break;
    }
    if (len > max)
        len = max;
    for (size_t k = found, i = len; i > 0; k = parent[k])
        path[--i] = node[k];
out:
    free(node);
    free(parent);
    free(used);
    return len;
}

/* "a -> b -> a" of the cycle up -> d -> path... into buf. */
static void cycle_text(const char *up, const char *const *path, size_t len,
                       char *buf, size_t size)
{
    size_t o = (size_t)snprintf(buf, size, "%s", up);

    for (size_t i = 0; i < len && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, " -> %s", path[i]);
}

/* The first after trigger of d that closes a cycle, or NULL. */
static const struct dag_trigger *cycle_of(const struct dag *d,
                                          const struct store_edge *v, size_t n,
                                          char *text, size_t size)
{
    enum { PATH_MAX_SHOWN = 12 };
    const char *path[PATH_MAX_SHOWN];

    for (size_t i = 0; i < d->n_triggers; i++) {
        const struct dag_trigger *t = &d->triggers[i];
        size_t len;

        if (t->kind != DAG_TRIG_AFTER || t->target == NULL)
            continue;
        len = find_path(v, n, d->id, t->target, path, PATH_MAX_SHOWN);
        if (len > 0) {
            cycle_text(t->target, path, len, text, size);
            return t;
        }
    }
    return NULL;
}

int after_dag_check(struct store_conn *c, const struct dag *d,
                    struct dag_pos *pos, struct weir_err *err)
{
    struct store_edge *v = NULL;
    const struct dag_trigger *t = NULL;
    char text[200];
    size_t n = 0;
    int rc = store_follows_lock(c, err);

    if (rc < 0)
        return rc;
    rc = store_follows_edges(c, d->id, &v, &n, err);
    if (rc == 0)
        t = cycle_of(d, v, n, text, sizeof(text));
    free(v);
    if (rc == 0 && t != NULL) {
        *pos = t->pos;
        rc = weir_err_set(err, WEIR_ECONFLICT,
                          "after trigger on \"%s\" closes a cycle across "
                          "DAGs: %s",
                          t->target, text);
    }
    if (rc < 0)
        store_follows_unlock(c);
    return rc;
}

int after_dag_sync(struct store_conn *c, const struct dag *d,
                   struct weir_err *err)
{
    return store_follows_set(c, d, err);
}

void after_dag_release(struct store_conn *c)
{
    store_follows_unlock(c);
}
