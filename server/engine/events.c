/* SPDX-License-Identifier: Apache-2.0 */
/* Events and webhooks feeding triggers (see events.h for the rules). */
#include "engine/events.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "engine/fire.h"
#include "expr.h"
#include "jsoncheck.h"
#include "log.h"
#include "sha256.h"
#include "store/store.h"
#include "utf8.h"

#define KEEP_MAX 16 /* printed JSON values one evaluation may hold */
/* A statement this large leaves libpq's buffers that large: its session
 * is closed when the connection goes back to the pool. */
#define EVENTS_RECYCLE_BYTES (512 * 1024)

/* Seconds events are kept; set before the threads start. */
static int64_t retention_s = EVENTS_RETENTION_DEFAULT_S;

/* An event being matched, and what its evaluation printed. */
struct ev_ctx {
    struct event_in *v;   /* the event (runs is counted here) */
    char id[24];          /* its id as text */
    char *keep[KEEP_MAX]; /* JSON printed for non-scalar values */
    size_t n_keep;        /* entries in keep */
};

static int json_value(struct ev_ctx *x, const cJSON *v, struct expr_value *out,
                      struct weir_err *err)
{
    memset(out, 0, sizeof(*out));
    if (v == NULL || cJSON_IsNull(v))
        out->type = EXPR_NULL;
    else if (cJSON_IsBool(v))
        *out = (struct expr_value){.type = EXPR_BOOL, .b = cJSON_IsTrue(v)};
    else if (cJSON_IsNumber(v))
        *out = (struct expr_value){.type = EXPR_NUM, .num = v->valuedouble};
    else if (cJSON_IsString(v))
        *out = (struct expr_value){.type = EXPR_STR, .str = v->valuestring};
    else if (x->n_keep < KEEP_MAX &&
             (x->keep[x->n_keep] = cJSON_PrintUnformatted(v)) != NULL)
        *out =
            (struct expr_value){.type = EXPR_STR, .str = x->keep[x->n_keep++]};
    else
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    return 0;
}

/* event.name, event.id, event.payload.PATH. */
static int resolve_cb(void *ctx, const char *name, struct expr_value *out,
                      struct weir_err *err)
{
    struct ev_ctx *x = ctx;
    const cJSON *v = x->v->payload;
    char seg[128];

    if (strcmp(name, "event.name") == 0 || strcmp(name, "event.id") == 0) {
        *out = (struct expr_value){.type = EXPR_STR, .str = x->v->name};
        if (name[6] == 'i')
            out->str = x->v->ext_id ? x->v->ext_id : x->id;
        return 0;
    }
    if (strcmp(name, "event.payload") != 0 &&
        strncmp(name, "event.payload.", 14) != 0)
        return weir_err_set(err, WEIR_ENOTFOUND,
                            "unknown name \"%s\" (a trigger sees event.name, "
                            "event.id and event.payload.PATH)",
                            name);
    for (name += 13; v != NULL && *name == '.';) {
        size_t n = strcspn(++name, ".");

        if (n >= sizeof(seg))
            return weir_err_set(err, WEIR_EINVAL, "name too long");
        memcpy(seg, name, n);
        seg[n] = '\0';
        v = cJSON_GetObjectItemCaseSensitive(v, seg);
        name += n;
    }
    return json_value(x, v, out, err);
}

/* Evaluate expression text against event v; *out as expr_eval() gives. */
static int eval(struct ev_ctx *x, const char *text, struct expr_value *out,
                struct weir_err *err)
{
    struct expr *ex = NULL;
    int rc = expr_parse(text, strlen(text), &ex, err, NULL);

    if (rc == 0)
        rc = expr_eval(ex, resolve_cb, x, out, err);
    expr_free(ex);
    return rc;
}

static void ctx_cleanup(struct ev_ctx *x)
{
    for (size_t i = 0; i < x->n_keep; i++)
        cJSON_free(x->keep[i]);
    x->n_keep = 0;
}

/* A number for people: 12,480 for whole numbers, else %g. */
static const char *people_num(double v, char *buf, size_t len)
{
    char digits[32];
    size_t n, o = 0, lead;

    if (!(fabs(v) < 1e15) || v != floor(v)) {
        snprintf(buf, len, "%g", v);
        return buf;
    }
    n = (size_t)snprintf(digits, sizeof(digits), "%.0f", fabs(v));
    lead = n % 3 ? n % 3 : 3;
    if (v < 0 && o + 1 < len)
        buf[o++] = '-';
    for (size_t i = 0; i < n && o + 2 < len; i++) {
        if (i >= lead && (i - lead) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* The unit of an accumulate expression: its last name segment. */
static const char *unit_of(const char *expr, char *buf, size_t len)
{
    const char *dot = strrchr(expr, '.');
    size_t n;

    if (strspn(expr,
               "abcdefghijklmnopqrstuvwxyz"
               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") != strlen(expr) ||
        dot == NULL)
        return "accumulated";
    n = strlen(dot + 1);
    snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), dot + 1);
    return buf;
}

/* The run's payload: the event that fired it, and the sum's facts. */
static char *fire_payload(const struct ev_ctx *x, const struct dag_trigger *t,
                          double sum, int count)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;

    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "name", x->v->name);
    cJSON_AddStringToObject(o, "id", x->v->ext_id ? x->v->ext_id : x->id);
    cJSON_AddNumberToObject(o, "event_id", (double)x->v->id);
    cJSON_AddItemToObject(o, "payload",
                          x->v->payload ? cJSON_Duplicate(x->v->payload, 1)
                                        : cJSON_CreateObject());
    if (t->accumulate != NULL) {
        cJSON_AddNumberToObject(o, "sum", sum);
        cJSON_AddNumberToObject(o, "threshold", t->threshold);
        cJSON_AddNumberToObject(o, "events", count);
    }
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* Fire trigger t of d for event x; the sum's facts go in the reason. */
static int feed_fire(struct engine *e, struct store_conn *c,
                     const struct dag *d, const struct dag_trigger *t,
                     struct ev_ctx *x, double sum, int count,
                     struct weir_err *err)
{
    char reason[300], a[40], b[40], unit[64];
    char *payload = fire_payload(x, t, sum, count);
    struct engine_slot s = {d->id, t->key, 0, reason, payload, x->v->by, NULL};
    struct fire_result res = {0};
    int rc;

    if (payload == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    if (t->accumulate != NULL)
        snprintf(reason, sizeof(reason), "%s %s from %d event%s >= %s",
                 people_num(sum, a, sizeof(a)),
                 unit_of(t->accumulate, unit, sizeof(unit)), count,
                 count == 1 ? "" : "s", people_num(t->threshold, b, sizeof(b)));
    else
        snprintf(reason, sizeof(reason), "%s %s (id %s)",
                 t->kind == DAG_TRIG_WEBHOOK ? "webhook" : "event", t->target,
                 x->v->ext_id ? x->v->ext_id : x->id);
    rc = engine_fire_in_tx(e, c, &s, &res, err);
    if (rc == 0 &&
        (res.outcome == FIRE_CREATED || res.outcome == FIRE_COALESCED))
        x->v->runs++;
    cJSON_free(payload);
    return rc;
}

/* Offer event x to trigger t of DAG d (locked). */
static int feed(struct engine *e, struct store_conn *c, const struct dag *d,
                const struct dag_trigger *t, struct ev_ctx *x,
                struct weir_err *err)
{
    struct expr_value v = {.type = EXPR_NUM, .num = 1};
    double sum = 0;
    int count = 0, rc = 0;
    char why[300];

    if (t->when != NULL) {
        rc = eval(x, t->when, &v, err);
        if (rc == 0 && !expr_truthy(&v))
            return 0;
        v = (struct expr_value){.type = EXPR_NUM, .num = 1};
    }
    if (rc == 0 && t->accumulate != NULL)
        rc = eval(x, t->accumulate, &v, err);
    if (rc == 0 && v.type == EXPR_STR) {
        char *end = NULL;
        double num = strtod(v.str, &end);

        if (end != v.str && *end == '\0' && isfinite(num))
            v = (struct expr_value){.type = EXPR_NUM, .num = num};
    }
    if (rc == 0 && (v.type != EXPR_NUM || !isfinite(v.num)))
        rc = weir_err_set(err, WEIR_ETYPE, "accumulate gave no number");
    if (rc < 0) {
        /* A filter that cannot be evaluated on this event: recorded. */
        snprintf(why, sizeof(why), "event %s not counted: %s", x->id, err->msg);
        ctx_cleanup(x);
        return store_trig_suppress(c, d->id, t->key, why, err);
    }
    ctx_cleanup(x);
    rc = store_trig_event_add(c, d->id, t->key, x->v->id, v.num, &sum, &count,
                              err);
    if (rc == 0 && (t->accumulate == NULL || sum >= t->threshold))
        rc = feed_fire(e, c, d, t, x, sum, count, err);
    return rc;
}

static bool wants(const struct dag_trigger *t, enum dag_trigger_kind kind,
                  const char *name)
{
    return t->kind == kind && strcmp(t->target, name) == 0;
}

void trig_dags_free(struct engine *e, struct trig_dag *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        dagcache_release(e->cache, v[i].d);
    free(v);
}

/* Lock the rows of f[0..n) in their (id) order, in the caller's
 * transaction. */
static int dags_lock(struct store_conn *c, const struct trig_dag *f, size_t n,
                     struct weir_err *err)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct store_dag_locked l = {0};

        rc = store_dag_lock(c, f[i].id, &l, err);
    }
    return rc;
}

int trig_dags_find(struct engine *e, struct store_conn *c,
                   enum dag_trigger_kind kind, const char *const *names,
                   size_t n, bool lock, struct trig_dag **out, size_t *n_out,
                   struct weir_err *err)
{
    struct store_sched_dag *rows = NULL;
    struct trig_dag *f = NULL;
    size_t nr = 0, k = 0;
    int rc = store_sched_dags(c, &rows, &nr, err);

    if (rc == 0 && (f = calloc(nr ? nr : 1, sizeof(*f))) == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < nr; i++) {
        const struct dag *d = rows[i].missing
                                  ? NULL
                                  : engine_dag(e->cache, c, rows[i].version_id);
        bool any = false;

        for (size_t t = 0; d != NULL && !any && t < d->n_triggers; t++)
            for (size_t j = 0; !any && j < n; j++)
                any = wants(&d->triggers[t], kind, names[j]);
        if (!any) {
            dagcache_release(e->cache, d);
            continue;
        }
        memcpy(f[k].id, rows[i].id, sizeof(f[k].id));
        f[k++].d = d;
    }
    if (rc == 0 && lock)
        rc = dags_lock(c, f, k, err);
    free(rows);
    if (rc < 0) {
        trig_dags_free(e, f, k);
        return rc;
    }
    *out = f;
    *n_out = k;
    return 0;
}

/* trig_dags_find() for the names of events v, without locking. */
static int event_dags_find(struct engine *e, struct store_conn *c,
                           const struct event_in *v, size_t n,
                           struct trig_dag **out, size_t *n_out,
                           struct weir_err *err)
{
    const char **names = calloc(n ? n : 1, sizeof(*names));
    int rc;

    if (names == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        names[i] = v[i].name;
    rc = trig_dags_find(e, c, DAG_TRIG_EVENT, names, n, false, out, n_out, err);
    free(names);
    return rc;
}

static int check_event(const struct event_in *v, size_t i, struct weir_err *err)
{
    if (v->name == NULL || v->name[0] == '\0' ||
        strlen(v->name) > EVENT_NAME_MAX)
        return weir_err_set(err, WEIR_EINVAL,
                            "event %zu: \"name\" must be a string of 1 to %d "
                            "bytes",
                            i, EVENT_NAME_MAX);
    if (v->ext_id != NULL &&
        (v->ext_id[0] == '\0' || strlen(v->ext_id) > EVENT_ID_MAX))
        return weir_err_set(err, WEIR_EINVAL,
                            "event %zu: \"id\" must be a string of 1 to %d "
                            "bytes",
                            i, EVENT_ID_MAX);
    return 0;
}

/* Feed stored event v to the triggers of f wanting kind (or to the
 * trigger keyed `only`). */
static int match_one(struct engine *e, struct store_conn *c, struct event_in *v,
                     const struct trig_dag *f, size_t nf,
                     enum dag_trigger_kind kind, const char *only,
                     struct weir_err *err)
{
    struct ev_ctx x = {.v = v};
    int rc = 0;

    snprintf(x.id, sizeof(x.id), "%lld", (long long)v->id);
    for (size_t i = 0; rc == 0 && !v->duplicate && i < nf; i++)
        for (size_t t = 0; rc == 0 && t < f[i].d->n_triggers; t++) {
            const struct dag_trigger *tr = &f[i].d->triggers[t];

            if (only != NULL ? strcmp(tr->key, only) == 0
                             : wants(tr, kind, v->name))
                rc = feed(e, c, f[i].d, tr, &x, err);
        }
    ctx_cleanup(&x);
    return rc;
}

/* Store event v alone; its id and duplicate flag are filled. */
static int insert_one(struct store_conn *c, struct event_in *v,
                      struct weir_err *err)
{
    char *payload = v->payload ? json_print(v->payload) : NULL;
    int rc = v->payload && !payload
                 ? weir_err_set(err, WEIR_ENOMEM, "out of memory")
                 : 0;

    if (rc == 0)
        rc = store_event_insert(c, v->ext_id, v->name, payload ? payload : "{}",
                                &v->id, &v->duplicate, err);
    if (payload != NULL && strlen(payload) >= EVENTS_RECYCLE_BYTES)
        store_conn_recycle(c);
    cJSON_free(payload);
    return rc;
}

/* Store events v[0..n) with one statement; ids and duplicate flags are
 * filled. */
static int insert_many(struct store_conn *c, struct event_in *v, size_t n,
                       struct weir_err *err)
{
    cJSON *arr = cJSON_CreateArray();
    char *text = NULL;
    int64_t *ids = NULL;
    bool *dups = NULL;
    int rc = 0;

    for (size_t i = 0; arr != NULL && i < n; i++) {
        cJSON *o = cJSON_CreateObject();

        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "n", v[i].name);
        if (v[i].ext_id != NULL)
            cJSON_AddStringToObject(o, "x", v[i].ext_id);
        /* a reference, not a copy: the payloads can be megabytes */
        if (v[i].payload != NULL)
            cJSON_AddItemReferenceToObject(o, "p", (cJSON *)v[i].payload);
    }
    text = arr ? json_print(arr) : NULL;
    cJSON_Delete(arr);
    if (text == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    ids = calloc(n, sizeof(*ids));
    dups = calloc(n, sizeof(*dups));
    rc = ids && dups ? store_events_insert_many(c, text, n, ids, dups, err)
                     : weir_err_set(err, WEIR_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        v[i].id = ids[i];
        v[i].duplicate = dups[i];
    }
    if (strlen(text) >= EVENTS_RECYCLE_BYTES)
        store_conn_recycle(c);
    cJSON_free(text);
    free(ids);
    free(dups);
    return rc;
}

int events_accept(struct engine *e, struct event_in *v, size_t n,
                  struct weir_err *err)
{
    struct store_conn *c = NULL;
    struct trig_dag *f = NULL;
    size_t nf = 0;
    bool runs = false;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = check_event(&v[i], i, err);
    if (rc == 0)
        rc = store_conn_get(e->store, &c, err);
    /* Events no trigger wants need no transaction: the insert is one
     * statement. Read committed, the DAGs read before a BEGIN are what
     * they would have been read after it. */
    if (rc == 0)
        rc = event_dags_find(e, c, v, n, &f, &nf, err);
    if (rc == 0 && nf > 0)
        rc = store_tx_begin(c, err);
    if (rc == 0 && nf > 0)
        rc = dags_lock(c, f, nf, err);
    if (rc == 0)
        rc = n == 1 ? insert_one(c, &v[0], err) : insert_many(c, v, n, err);
    for (size_t i = 0; rc == 0 && nf > 0 && i < n; i++)
        rc = match_one(e, c, &v[i], f, nf, DAG_TRIG_EVENT, NULL, err);
    if (rc == 0 && nf > 0)
        rc = store_tx_commit(c, err);
    store_conn_put(c); /* rolls back a transaction left open */
    trig_dags_free(e, f, nf);
    for (size_t i = 0; rc == 0 && i < n; i++)
        runs = runs || v[i].runs > 0;
    if (runs) /* only runs make tasks the workers could claim */
        hub_bump(e->hub);
    return rc;
}

/* ---- webhooks ---- */

/* What every refused delivery hears, whatever the reason (no such DAG or
 * trigger, no secret on the server, a missing, wrong or stale
 * signature): a caller without the secret learns nothing. The reason
 * goes to the log. */
#define HOOK_REFUSED                                                           \
    "missing or wrong signature: expected X-Hub-Signature-256: "               \
    "sha256=<hex HMAC-SHA256 of the body, or of TIMESTAMP.BODY with "          \
    "X-Weir-Timestamp>"

/* The HMAC-SHA256 under secret of the timestamp's text, a dot and the
 * body, or of the body alone when there is no timestamp. */
static bool hook_mac(const char *secret, const struct hook_in *h,
                     uint8_t mac[SHA256_LEN])
{
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", digest, 0),
        OSSL_PARAM_construct_end()};
    size_t n = 0;
    bool ok = ctx != NULL && EVP_MAC_init(ctx, (const unsigned char *)secret,
                                          strlen(secret), params) == 1;

    if (ok && h->timestamp != NULL)
        ok = EVP_MAC_update(ctx, (const unsigned char *)h->timestamp,
                            strlen(h->timestamp)) == 1 &&
             EVP_MAC_update(ctx, (const unsigned char *)".", 1) == 1;
    ok = ok &&
         EVP_MAC_update(ctx, (const unsigned char *)h->body, h->len) == 1 &&
         EVP_MAC_final(ctx, mac, &n, SHA256_LEN) == 1 && n == SHA256_LEN;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    return ok;
}

/* Whether h->sig is "sha256=" and the hex HMAC (hook_mac) under secret,
 * compared in constant time. */
static bool signature_ok(const char *secret, const struct hook_in *h)
{
    uint8_t mac[SHA256_LEN], got[SHA256_LEN];
    const char *sig = h->sig;

    if (sig == NULL || strncmp(sig, "sha256=", 7) != 0 ||
        strlen(sig + 7) != 2 * SHA256_LEN)
        return false;
    sig += 7;
    for (size_t i = 0; i < SHA256_LEN; i++) {
        int hi = OPENSSL_hexchar2int((unsigned char)sig[2 * i]);
        int lo = OPENSSL_hexchar2int((unsigned char)sig[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        got[i] = (uint8_t)(hi << 4 | lo);
    }
    return hook_mac(secret, h, mac) && CRYPTO_memcmp(mac, got, SHA256_LEN) == 0;
}

/* Whether the optional timestamp is whole seconds within the tolerance
 * of now. */
static bool timestamp_ok(const char *ts)
{
    char *end = NULL;
    long long t;

    if (ts == NULL)
        return true;
    if (ts[0] < '0' || ts[0] > '9' || strlen(ts) > 12)
        return false;
    t = strtoll(ts, &end, 10);
    return *end == '\0' && llabs(t - (long long)time(NULL)) <=
                               (long long)HOOK_TIMESTAMP_TOLERANCE_S;
}

static const struct dag_trigger *find_hook(const struct dag *d,
                                           const char *name)
{
    for (size_t i = 0; i < d->n_triggers; i++) {
        const struct dag_trigger *t = &d->triggers[i];

        if (t->kind == DAG_TRIG_WEBHOOK &&
            (strcmp(t->key, name) == 0 || strcmp(t->target, name) == 0))
            return t;
    }
    return NULL;
}

/* Refuse h (log why, reply HOOK_REFUSED). */
static int hook_refuse(const struct hook_in *h, const char *why,
                       struct weir_err *err)
{
    char qd[120], qt[120];

    log_info("event=hook_refused dag=%s trigger=%s why=\"%s\"",
             log_quote(h->dag_id, qd, sizeof(qd)),
             log_quote(h->trigger, qt, sizeof(qt)), why);
    return weir_err_set(err, WEIR_EAUTH, "%s", HOOK_REFUSED);
}

/*
 * Check h's signature against the DAG's current version, before any row
 * is locked; the version checked into *version. Every failure but the
 * store's is the same WEIR_EAUTH.
 */
static int hook_verify(struct engine *e, struct store_conn *c,
                       const struct hook_in *h, int64_t *version,
                       struct weir_err *err)
{
    struct store_dag sd = {0};
    const struct dag *d = NULL;
    const struct dag_trigger *t = NULL;
    const char *secret = NULL, *why = NULL;
    int rc = store_dag_get(c, h->dag_id, &sd, err);

    if (rc == WEIR_ENOTFOUND)
        why = "no such DAG";
    else if (rc < 0)
        goto out;
    else if (sd.version_id == 0 ||
             (d = engine_dag(e->cache, c, sd.version_id)) == NULL)
        why = "the DAG has no valid version";
    else if ((t = find_hook(d, h->trigger)) == NULL)
        why = "no such webhook trigger";
    else if ((secret = getenv(t->secret_env)) == NULL || secret[0] == '\0')
        why = "the server has no secret for this webhook";
    else if (!timestamp_ok(h->timestamp))
        why = "X-Weir-Timestamp is not seconds within the tolerance";
    else if (!signature_ok(secret, h))
        why = "missing or wrong signature";
    rc = 0;
    /* Only a sender that signed learns the trigger's own limit. */
    if (why == NULL && h->len > (size_t)t->max_body)
        rc = weir_err_set(err, WEIR_ETOOBIG,
                          "the body of %zu bytes is over this webhook's "
                          "limit of %d bytes (max_body)",
                          h->len, t->max_body);
    if (why != NULL) {
        /* The same work whether or not there is a trigger to check. */
        if (secret == NULL || secret[0] == '\0')
            (void)signature_ok("-", h);
        rc = hook_refuse(h, why, err);
    }
    *version = sd.version_id;
out:
    dagcache_release(e->cache, d);
    store_dag_cleanup(&sd);
    return rc;
}

/* The locked DAG of h and its webhook trigger, in the version verified
 * (or, if it changed meanwhile, the same trigger in the new one). */
static int hook_open(struct engine *e, struct store_conn *c,
                     const struct hook_in *h, struct trig_dag *f,
                     const struct dag_trigger **t, struct weir_err *err)
{
    struct store_dag_locked l = {0};
    int rc = store_dag_lock(c, h->dag_id, &l, err);

    /* A DAG whose file is gone fires nothing: refused, nothing stored. */
    if (rc == 0 && l.file_missing)
        rc = store_dag_startable(h->dag_id, &l, err);
    if (rc == 0 && (l.version_id == 0 ||
                    (f->d = engine_dag(e->cache, c, l.version_id)) == NULL))
        rc = hook_refuse(h, "the DAG has no valid version", err);
    if (rc == 0 && (*t = find_hook(f->d, h->trigger)) == NULL)
        rc = hook_refuse(h, "no such webhook trigger", err);
    snprintf(f->id, sizeof(f->id), "%s", h->dag_id);
    return rc;
}

/* The body as a JSON payload, read as every request body is
 * (json_parse_text(): whole, not too deep, no \u0000), in UTF-8. */
static int hook_payload(const struct hook_in *h, cJSON **out,
                        struct weir_err *err)
{
    int rc = json_parse_text(h->body, h->len, out, err);

    if (rc == 0)
        rc = json_utf8_check(*out, "body", err);
    return rc;
}

static int hook_delivery_check(const char *id, struct weir_err *err)
{
    size_t n = id ? strlen(id) : 0;

    if (id != NULL && (n == 0 || n > EVENT_ID_MAX ||
                       utf8_invalid_offset((const unsigned char *)id, n) != n))
        return weir_err_set(err, WEIR_EINVAL,
                            "the delivery id header must be 1 to %d bytes of "
                            "UTF-8",
                            EVENT_ID_MAX);
    return 0;
}

int events_webhook(struct engine *e, struct hook_in *h, struct weir_err *err)
{
    struct store_conn *c = NULL;
    struct trig_dag f = {0};
    const struct dag_trigger *t = NULL;
    struct event_in v = {0};
    cJSON *payload = NULL;
    int64_t version = 0;
    bool fresh = true;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = hook_verify(e, c, h, &version, err);
    if (rc == 0)
        rc = hook_delivery_check(h->delivery, err);
    if (rc == 0)
        rc = hook_payload(h, &payload, err);
    if (rc == 0)
        rc = store_tx_begin(c, err);
    if (rc == 0)
        rc = hook_open(e, c, h, &f, &t, err);
    if (rc == 0 && h->delivery != NULL)
        rc = store_hook_delivery_add(c, h->dag_id, t->key, h->delivery, &fresh,
                                     err);
    v = (struct event_in){.name = t ? t->target : NULL, .payload = payload};
    if (rc == 0 && fresh)
        rc = insert_one(c, &v, err);
    if (rc == 0 && fresh)
        rc = match_one(e, c, &v, &f, 1, DAG_TRIG_WEBHOOK, t->key, err);
    if (rc == 0)
        rc = store_tx_commit(c, err);
    store_conn_put(c);
    dagcache_release(e->cache, f.d);
    cJSON_Delete(payload);
    if (rc < 0)
        return rc;
    if (fresh)
        hub_bump(e->hub);
    h->duplicate = !fresh;
    h->event_id = v.id;
    h->runs = v.runs;
    return 0;
}

void events_set_retention(int64_t seconds)
{
    retention_s = seconds;
}

int events_prune(struct store *st, int64_t *deleted, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int64_t got = EVENTS_PRUNE_BATCH, total = 0;
    int rc = store_conn_get(st, &c, err);

    for (int i = 0;
         rc == 0 && got == EVENTS_PRUNE_BATCH && i < EVENTS_PRUNE_ROUNDS; i++) {
        rc = store_events_prune(c, retention_s, EVENTS_PRUNE_BATCH, &got, err);
        total += rc == 0 ? got : 0;
    }
    if (rc == 0)
        rc = store_hook_deliveries_prune(c, HOOK_DELIVERY_KEEP_S, &got, err);
    if (rc == 0 && got > 0)
        log_info("event=hook_deliveries_pruned deleted=%lld", (long long)got);
    store_conn_put(c);
    *deleted = total;
    return rc;
}
