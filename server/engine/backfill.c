/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Backfills (engine/backfill.h): planning the slots of a range, storing
 * the plan, creating its runs a few at a time, and canceling it.
 */
#include "engine/backfill.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "civil.h"
#include "cron.h"
#include "engine/hub.h"
#include "engine/internal.h"
#include "log.h"
#include "store/backfills.h"
#include "store/store.h"
#include "suggest.h"
#include "tz.h"

/* One slot of a plan. */
struct slot {
    int64_t at;     /* the slot, Unix seconds */
    int64_t run_id; /* the latest run already there, or 0 */
    char state[16]; /* its state */
    bool skip;      /* left out: it has a run */
};

/* A plan being made. */
struct plan {
    const struct dag *d;          /* the DAG */
    const struct dag_trigger *tr; /* the cron trigger */
    struct tz *tz;                /* the DAG's zone */
    int64_t from, to;             /* the range, inclusive */
    const char *from_text;        /* the range as asked for */
    const char *to_text;          /* (for messages) */
    struct slot *v;               /* every slot of the range */
    size_t n;                     /* entries in v */
    size_t skipped;               /* entries skipped */
};

#define ORPHANS_MAX        100   /* orphans remembered (a pass's most) */
#define ORPHAN_WAIT_MIN_MS 500   /* wait after a first failed cancel */
#define ORPHAN_WAIT_MAX_MS 60000 /* longest wait between tries */
/* How far cron_next() surely looked when it found no fire time (30 years
 * of 365 days, within its horizon). */
#define BACKFILL_NEVER_STEP (30LL * 365 * 86400)

static const char *const reprocess_names[] = {"missing", "failed", "all"};

/* "2026-11-01T05:00:00Z" into buf (at least 24 bytes). */
static char *utc_iso(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* A date YYYY-MM-DD into y, m, d; false when text is not one. */
static bool parse_date(const char *text, int *y, int *m, int *d)
{
    int len = 0;

    if (strlen(text) != 10 ||
        sscanf(text, "%4d-%2d-%2d%n", y, m, d, &len) != 3 || len != 10)
        return false;
    return *m >= 1 && *m <= 12 && *d >= 1 && *y >= 1 && *y <= 9999 &&
           *d <= civil_days_in_month(*y, *m);
}

int engine_time_parse(const struct dag *d, const char *field, const char *text,
                      bool end_of_day, int64_t *out, bool *is_date,
                      struct weir_err *err)
{
    struct weir_err e2 = {0};
    struct tz *tz = NULL;
    int64_t first[2] = {0, 0};
    int y = 0, m = 0, day = 0;
    int rc = tz_load(d->timezone, &tz, err);

    if (rc < 0)
        return rc;
    if (is_date != NULL)
        *is_date = false;
    if (parse_date(text, &y, &m, &day)) {
        int64_t days = civil_days_from_date(y, m, day) + (end_of_day ? 1 : 0);

        (void)tz_local_to_utc(tz, days * 86400, first);
        *out = first[0];
        if (is_date != NULL)
            *is_date = true;
    } else if (cron_parse_time(text, tz, out, &e2) < 0) {
        rc = weir_err_set(err, WEIR_EINVAL,
                          "%s: \"%.60s\" is neither a date (2026-11-01) nor "
                          "an RFC 3339 time (2026-11-01T06:00:00Z)",
                          field, text);
    }
    tz_free(tz);
    return rc;
}

/* The cron trigger r names, or the DAG's only one. */
static int pick_trigger(const struct dag *d, const char *name,
                        const struct dag_trigger **out, struct weir_err *err)
{
    const char *crons[64] = {0};
    char list[400] = "";
    size_t n = 0, len = 0;
    const char *s;

    for (size_t i = 0; i < d->n_triggers; i++) {
        const struct dag_trigger *t = &d->triggers[i];

        if (name != NULL && strcmp(t->key, name) == 0) {
            if (t->kind != DAG_TRIG_CRON)
                return weir_err_set(err, WEIR_EINVAL,
                                    "trigger \"%.80s\" is a %s trigger; a "
                                    "backfill needs a cron trigger",
                                    name, dag_trigger_kind_name(t->kind));
            *out = t;
            return 0;
        }
        if (t->kind == DAG_TRIG_CRON && n < WEIR_ARRAY_LEN(crons)) {
            crons[n++] = t->key;
            len += (size_t)snprintf(list + len,
                                    len < sizeof(list) ? sizeof(list) - len : 0,
                                    "%s\"%s\"", n > 1 ? ", " : "", t->key);
            if (len >= sizeof(list))
                len = sizeof(list);
            if (name == NULL)
                *out = t;
        }
    }
    if (name != NULL) {
        s = suggest_word(name, crons, n);
        return weir_err_set(err, WEIR_EINVAL,
                            "DAG \"%s\" has no trigger \"%.80s\"%s%s%s "
                            "(cron triggers: %s)",
                            d->id, name, s ? " (did you mean \"" : "",
                            s ? s : "", s ? "\"?)" : "", n ? list : "none");
    }
    if (n == 0)
        return weir_err_set(err, WEIR_EINVAL,
                            "DAG \"%s\" has no cron trigger to backfill",
                            d->id);
    if (n > 1)
        return weir_err_set(err, WEIR_EINVAL,
                            "DAG \"%s\" has %zu cron triggers: name one with "
                            "\"trigger\" (%s)",
                            d->id, n, list);
    return 0;
}

/* The next slot of p->tr after at into *next; false when there is none
 * up to p->to. */
static int slot_next(const struct plan *p, int64_t at, int64_t *next,
                     bool *found, struct weir_err *err)
{
    int rc;

    *found = false;
    /* cron_next() looks 30 years ahead: a range longer than that without
     * a fire time is looked through in steps of 30 (short) years. */
    while ((rc = cron_next(&p->tr->cron, p->tz, at, next)) == WEIR_ENEVER &&
           p->to - at > BACKFILL_NEVER_STEP)
        at += BACKFILL_NEVER_STEP;
    if (rc == WEIR_ENEVER)
        return 0;
    /* Only an end of the range out of cron's years gets here: the start
     * when at is still before it, else the end. */
    if (rc < 0)
        return weir_err_set(err, WEIR_EINVAL,
                            "%s: \"%.60s\" is out of range: the slots of "
                            "trigger \"%s\" are computed from "
                            "0001-01-01T00:00:01Z to 9999-12-31T23:59:59Z",
                            at < p->from ? "from" : "to",
                            at < p->from ? p->from_text : p->to_text,
                            p->tr->key);
    *found = *next <= p->to;
    return 0;
}

/* Every slot of p->tr in [p->from, p->to] into p->v. */
static int plan_slots(struct plan *p, struct weir_err *err)
{
    int64_t at = p->from - 1, next = 0;
    size_t cap = 0;
    bool found = false;
    int rc;

    while ((rc = slot_next(p, at, &next, &found, err)) == 0 && found) {
        if (p->n == BACKFILL_SLOTS_MAX)
            return weir_err_set(err, WEIR_EINVAL,
                                "the range holds more than %d slots of "
                                "trigger \"%s\": backfill a shorter range",
                                BACKFILL_SLOTS_MAX, p->tr->key);
        if (p->n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct slot *v = realloc(p->v, nc * sizeof(*v));

            if (v == NULL)
                return weir_err_set(err, WEIR_ENOMEM, "out of memory");
            p->v = v;
            cap = nc;
        }
        p->v[p->n++] = (struct slot){.at = next};
        at = next;
    }
    return rc;
}

/* Mark the slots that keep their run under reprocess mode. */
static int plan_skip(struct store_conn *c, struct plan *p, const char *mode,
                     struct weir_err *err)
{
    struct store_slot_run *have = NULL;
    size_t n = 0, k = 0;
    int rc = store_slot_runs(c, p->d->id, p->from, p->to, &have, &n, err);

    for (size_t i = 0; rc == 0 && i < p->n; i++) {
        struct slot *s = &p->v[i];
        bool bad;

        while (k < n && have[k].at < s->at)
            k++;
        if (k == n || have[k].at != s->at)
            continue;
        s->run_id = have[k].run_id;
        snprintf(s->state, sizeof(s->state), "%s", have[k].state);
        bad = strcmp(s->state, "failed") == 0 ||
              strcmp(s->state, "canceled") == 0;
        s->skip = strcmp(mode, "missing") == 0 ||
                  (strcmp(mode, "failed") == 0 && !bad);
        p->skipped += s->skip;
    }
    free(have);
    return rc;
}

/* Check what r asks for besides the DAG. */
static int req_check(const struct engine_backfill_req *r, struct weir_err *err)
{
    const char *s;

    if (r->max_active < 0 || r->max_active > BACKFILL_ACTIVE_MAX)
        return weir_err_set(err, WEIR_EINVAL,
                            "max_active must be 1 to %d, not %d",
                            BACKFILL_ACTIVE_MAX, r->max_active);
    if (r->from == NULL || r->to == NULL)
        return weir_err_set(err, WEIR_EINVAL,
                            "a backfill needs \"from\" and \"to\"");
    if (r->reprocess == NULL)
        return 0;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(reprocess_names); i++)
        if (strcmp(r->reprocess, reprocess_names[i]) == 0)
            return 0;
    s = suggest_word(r->reprocess, reprocess_names,
                     WEIR_ARRAY_LEN(reprocess_names));
    return weir_err_set(err, WEIR_EINVAL,
                        "reprocess: unknown mode \"%.40s\"%s%s%s (missing, "
                        "failed or all)",
                        r->reprocess, s ? " (did you mean \"" : "", s ? s : "",
                        s ? "\"?)" : "");
}

/* Plan r for DAG d into *p (p->d set by the caller). */
static int plan_make(struct store_conn *c, const struct engine_backfill_req *r,
                     struct plan *p, struct weir_err *err)
{
    char a[32], b[32];
    bool to_date = false;
    int rc = pick_trigger(p->d, r->trigger, &p->tr, err);

    p->from_text = r->from;
    p->to_text = r->to;
    if (rc == 0)
        rc = engine_time_parse(p->d, "from", r->from, false, &p->from, NULL,
                               err);
    if (rc == 0)
        rc = engine_time_parse(p->d, "to", r->to, true, &p->to, &to_date, err);
    /* A date ends at the midnight after it, which is not in the range. */
    if (rc == 0 && to_date)
        p->to--;
    if (rc == 0 && p->from > p->to)
        rc = weir_err_set(err, WEIR_EINVAL, "from (%s) is after to (%s)",
                          utc_iso(p->from, a, sizeof(a)),
                          utc_iso(p->to, b, sizeof(b)));
    if (rc == 0)
        rc = tz_load(p->d->timezone, &p->tz, err);
    if (rc == 0)
        rc = plan_slots(p, err);
    if (rc == 0)
        rc = plan_skip(c, p, r->reprocess ? r->reprocess : "missing", err);
    if (rc == 0 && r->reverse)
        for (size_t i = 0; i < p->n / 2; i++) {
            struct slot t = p->v[i];

            p->v[i] = p->v[p->n - 1 - i];
            p->v[p->n - 1 - i] = t;
        }
    return rc;
}

/* The dry run's answer. */
static cJSON *plan_json(const struct plan *p)
{
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    char buf[32];

    if (o == NULL || arr == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(arr);
        return NULL;
    }
    cJSON_AddStringToObject(o, "dag_id", p->d->id);
    cJSON_AddStringToObject(o, "trigger", p->tr->key);
    cJSON_AddStringToObject(o, "from", utc_iso(p->from, buf, sizeof(buf)));
    cJSON_AddStringToObject(o, "to", utc_iso(p->to, buf, sizeof(buf)));
    cJSON_AddBoolToObject(o, "dry_run", true);
    cJSON_AddNumberToObject(o, "planned", (double)(p->n - p->skipped));
    cJSON_AddNumberToObject(o, "skipped", (double)p->skipped);
    for (size_t i = 0; i < p->n; i++) {
        cJSON *s = cJSON_CreateObject();

        cJSON_AddItemToArray(arr, s);
        cJSON_AddStringToObject(s, "slot",
                                utc_iso(p->v[i].at, buf, sizeof(buf)));
        cJSON_AddStringToObject(
            s, "local", cron_format_time(p->v[i].at, p->tz, buf, sizeof(buf)));
        cJSON_AddStringToObject(s, "action", p->v[i].skip ? "skip" : "run");
        if (p->v[i].run_id != 0) {
            cJSON_AddNumberToObject(s, "run_id", (double)p->v[i].run_id);
            cJSON_AddStringToObject(s, "state", p->v[i].state);
        }
    }
    cJSON_AddItemToObject(o, "slots", arr);
    return o;
}

/* The trigger's params overlaid with the request's, typed (*out NULL when
 * there are none). */
static int plan_params(const struct plan *p,
                       const struct engine_backfill_req *r, char **out,
                       struct weir_err *err)
{
    cJSON *typed = NULL, *all = NULL;
    int rc =
        engine_params_typed(p->d, NULL, r->params, r->params_text, &typed, err);

    *out = NULL;
    if (rc < 0)
        return rc;
    all = p->tr->params ? cJSON_Duplicate(p->tr->params, 1)
                        : cJSON_CreateObject();
    for (cJSON *m = typed ? typed->child : NULL; all != NULL && m != NULL;
         m = m->next) {
        cJSON_DeleteItemFromObjectCaseSensitive(all, m->string);
        cJSON_AddItemToObject(all, m->string, cJSON_Duplicate(m, 1));
    }
    if (all != NULL && all->child != NULL)
        *out = cJSON_PrintUnformatted(all);
    if (all == NULL || (all->child != NULL && *out == NULL))
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    cJSON_Delete(typed);
    cJSON_Delete(all);
    return rc;
}

/*
 * Whether backfill b's params still fit DAG d, the version its next runs
 * use (they were typed against the version it was planned with): each
 * must be declared in d and of its type there, unless it is the value
 * that d's trigger itself gives it (passed on untyped, as the scheduler
 * does). WEIR_EINVAL saying which does not.
 */
static int params_fit(const struct dag *d, const struct store_backfill *b,
                      struct weir_err *err)
{
    const cJSON *trig = NULL;
    cJSON *check, *typed = NULL;
    int rc = 0;

    if (b->params == NULL)
        return 0;
    for (size_t i = 0; i < d->n_triggers; i++)
        if (strcmp(d->triggers[i].key, b->trigger_key) == 0)
            trig = d->triggers[i].params;
    check = cJSON_CreateObject();
    for (const cJSON *m = b->params->child; check != NULL && m != NULL;
         m = m->next) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(trig, m->string);
        cJSON *v;

        if (t != NULL && cJSON_Compare(t, m, true))
            continue;
        v = cJSON_Duplicate(m, true);
        if (v == NULL || !cJSON_AddItemToObject(check, m->string, v)) {
            cJSON_Delete(v);
            rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
            break;
        }
    }
    if (check == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    if (rc == 0)
        rc = engine_params_typed(d, NULL, check, NULL, &typed, err);
    cJSON_Delete(check);
    cJSON_Delete(typed);
    return rc;
}

/* End backfill b as failed: its params do not fit DAG d (why in e2). */
static int params_fail(struct store_conn *c, const struct store_backfill *b,
                       const struct dag *d, const struct weir_err *e2,
                       struct weir_err *err)
{
    char msg[sizeof(e2->msg) + 96], q[600];

    snprintf(msg, sizeof(msg),
             "its params do not fit the current version of DAG \"%s\": %s",
             d->id, e2->msg);
    log_warn("event=backfill_params_invalid backfill=%lld dag=%s msg=%s",
             (long long)b->id, d->id, log_quote(msg, q, sizeof(q)));
    return store_backfill_fail(c, b->id, msg, err);
}

/*
 * Create the next runs of backfill id (in the caller's transaction): its
 * DAG's row locked, then its own. With skip_locked, a backfill another
 * server is advancing is left alone.
 */
static int advance(struct engine *e, struct store_conn *c, int64_t id,
                   bool skip_locked, int *created, struct weir_err *err)
{
    struct store_backfill b = {0};
    struct store_dag_locked l = {0};
    const struct dag *d = NULL;
    struct tz *tz = NULL;
    struct weir_err e2 = {0};
    int64_t slots[BACKFILL_ACTIVE_MAX];
    char key[48], reason[96], local[40];
    char dag_id[STORE_ID_MAX];
    int max, n = 0;
    /* The DAG's row first (the lock order of store/backfills.h). */
    int rc = store_backfill_dag(c, id, dag_id, err);

    if (rc == 0)
        rc = store_dag_lock(c, dag_id, &l, err);
    if (rc == 0)
        rc = store_backfill_lock(c, id, skip_locked, &b, err);
    if (rc == WEIR_ENOTFOUND) /* ended, gone, or another server's */
        return 0;
    if (rc < 0 || !b.running)
        goto out;
    if (b.next_slot >= b.planned) {
        if (b.active == 0)
            rc = store_backfill_end(c, id, "done", NULL, err);
        goto out;
    }
    if (l.paused || l.file_missing || l.version_id == 0)
        goto out;
    d = engine_dag(e->cache, c, l.version_id);
    if (d == NULL) {
        rc = weir_err_set(err, WEIR_EINTERNAL,
                          "DAG \"%s\": its current version cannot be loaded",
                          b.dag_id);
        goto out;
    }
    max = b.max_active;
    if (d->max_active_runs > 0 && max > d->max_active_runs)
        max = d->max_active_runs;
    if (max > BACKFILL_ACTIVE_MAX)
        max = BACKFILL_ACTIVE_MAX;
    if (max - b.active <= 0)
        goto out;
    rc = params_fit(d, &b, &e2);
    if (rc == WEIR_EINVAL) {
        rc = params_fail(c, &b, d, &e2, err);
        goto out;
    }
    if (rc < 0) {
        *err = e2;
        goto out;
    }
    rc = tz_load(d->timezone, &tz, err);
    if (rc == 0)
        rc = store_backfill_slots(c, id, b.next_slot, max - b.active, slots, &n,
                                  err);
    snprintf(key, sizeof(key), "backfill:%lld", (long long)id);
    for (int i = 0; rc == 0 && i < n; i++) {
        struct engine_backfill_slot s = {id, key, slots[i], b.params, reason};
        int64_t run_id = 0;
        bool made = false;

        snprintf(reason, sizeof(reason), "backfill #%lld slot %s",
                 (long long)id,
                 cron_format_time(slots[i], tz, local, sizeof(local)));
        rc = engine_backfill_run_insert(e, c, d, &l, &s, &run_id, &made, err);
        l.running++;
        *created += made;
    }
    if (rc == 0 && n > 0)
        rc = store_backfill_advance(c, id, b.next_slot + n, err);
out:
    tz_free(tz);
    dagcache_release(e->cache, d);
    store_backfill_cleanup(&b);
    return rc;
}

/* Store plan p of r and create its first runs; *out gets the answer. */
static int plan_store(struct engine *e, struct store_conn *c,
                      const struct engine_backfill_req *r, const struct plan *p,
                      cJSON **out, struct weir_err *err)
{
    int64_t *keep = malloc((p->n ? p->n : 1) * sizeof(*keep));
    struct store_backfill_new n = {
        .dag_id = p->d->id,
        .trigger_key = p->tr->key,
        .from = p->from,
        .to = p->to,
        .reprocess = r->reprocess ? r->reprocess : "missing",
        .max_active = r->max_active ? r->max_active : 1,
        .reverse = r->reverse,
        .skipped = (int)p->skipped,
        .created_by = r->by,
    };
    char *params = NULL;
    int64_t id = 0;
    int created = 0;
    int rc = keep ? plan_params(p, r, &params, err)
                  : weir_err_set(err, WEIR_ENOMEM, "out of memory");

    for (size_t i = 0; rc == 0 && i < p->n; i++)
        if (!p->v[i].skip)
            keep[n.n_slots++] = p->v[i].at;
    n.slots = keep;
    n.params = params;
    if (rc == 0)
        rc = store_backfill_insert(c, &n, &id, err);
    if (rc == 0)
        rc = advance(e, c, id, false, &created, err);
    if (rc == 0 && (*out = cJSON_CreateObject()) == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    if (rc == 0) {
        cJSON_AddNumberToObject(*out, "backfill_id", (double)id);
        cJSON_AddStringToObject(*out, "trigger", p->tr->key);
        cJSON_AddNumberToObject(*out, "planned", (double)n.n_slots);
        cJSON_AddNumberToObject(*out, "skipped", (double)p->skipped);
        cJSON_AddNumberToObject(*out, "created", created);
        cJSON_AddNumberToObject(*out, "max_active", n.max_active);
    }
    free(keep);
    cJSON_free(params);
    return rc;
}

int engine_backfill_create(struct engine *e,
                           const struct engine_backfill_req *r, cJSON **out,
                           struct weir_err *err)
{
    struct store_conn *c = NULL;
    struct store_dag_locked l = {0};
    struct plan p = {0};
    int rc = req_check(r, err);

    *out = NULL;
    if (rc == 0)
        rc = store_conn_get(e->store, &c, err);
    if (rc == 0)
        rc = store_tx_begin(c, err);
    if (rc == 0)
        rc = store_dag_lock(c, r->dag_id, &l, err);
    if (rc == WEIR_ENOTFOUND)
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no DAG \"%s\"", r->dag_id);
    if (rc == 0)
        rc = store_dag_startable(r->dag_id, &l, err);
    if (rc == 0 && l.paused && !r->dry_run)
        rc = weir_err_set(err, WEIR_ECONFLICT, "DAG \"%s\" is paused",
                          r->dag_id);
    if (rc == 0 && (p.d = engine_dag(e->cache, c, l.version_id)) == NULL)
        rc = weir_err_set(err, WEIR_EINTERNAL,
                          "the current version of DAG \"%s\" cannot be loaded",
                          r->dag_id);
    if (rc == 0)
        rc = plan_make(c, r, &p, err);
    if (rc == 0 && r->dry_run && (*out = plan_json(&p)) == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    if (rc == 0 && !r->dry_run)
        rc = plan_store(e, c, r, &p, out, err);
    if (rc == 0 && !r->dry_run)
        rc = store_tx_commit(c, err);
    store_conn_put(c); /* a dry run's transaction is rolled back */
    if (rc == 0 && !r->dry_run)
        hub_bump(e->hub);
    if (rc < 0) {
        cJSON_Delete(*out);
        *out = NULL;
    }
    tz_free(p.tz);
    free(p.v);
    if (p.d != NULL)
        dagcache_release(e->cache, p.d);
    return rc;
}

/* What cancel_run() did. */
enum cancel_outcome {
    CANCEL_DONE,     /* it canceled the run */
    CANCEL_FINISHED, /* the run had finished already */
    CANCEL_FAILED,   /* it could not (logged) */
};

/*
 * Cancel run_id of backfill bf as a person's cancel would. The cancel
 * locks the run's unfinished tasks first (ctx_load_settled), so a claim
 * in flight is waited for, not a conflict: one try is enough.
 */
static enum cancel_outcome cancel_run(struct engine *e, int64_t bf,
                                      int64_t run_id, const char *by)
{
    struct weir_err e2 = {0};
    cJSON *r = NULL;
    char q[300];
    int rc = engine_run_cancel(e, run_id, by, &r, &e2);

    cJSON_Delete(r);
    if (rc == 0)
        return CANCEL_DONE;
    if (rc == WEIR_ECONFLICT && strstr(e2.msg, "already finished"))
        return CANCEL_FINISHED;
    log_warn("event=backfill_cancel_run_failed backfill=%lld run=%lld msg=%s",
             (long long)bf, (long long)run_id, log_quote(e2.msg, q, sizeof(q)));
    return CANCEL_FAILED;
}

/* An orphan whose cancel failed: when to try it again. */
struct orphan_wait {
    int64_t run_id;  /* the run */
    int64_t next_ms; /* not before (hub_now_ms()) */
    int64_t wait_ms; /* the last wait, doubled at each failure */
};

static pthread_mutex_t orphan_mu = PTHREAD_MUTEX_INITIALIZER;
static struct orphan_wait orphan_v[ORPHANS_MAX]; /* of the last pass */
static size_t orphan_n;                          /* entries in orphan_v */

/* Try to cancel orphan o (unless its wait lasts) and note in *keep,
 * when it failed again, when to try next. */
static bool orphan_try(struct engine *e, const struct store_backfill_orphan *o,
                       const struct orphan_wait *last, int64_t now,
                       struct orphan_wait *keep)
{
    int64_t wait;

    if (last != NULL && now < last->next_ms) {
        *keep = *last;
        return true;
    }
    if (cancel_run(e, o->backfill_id, o->run_id,
                   o->by[0] ? o->by : "backfill cancel") != CANCEL_FAILED)
        return false;
    wait = last ? last->wait_ms * 2 : ORPHAN_WAIT_MIN_MS;
    if (wait > ORPHAN_WAIT_MAX_MS)
        wait = ORPHAN_WAIT_MAX_MS;
    *keep = (struct orphan_wait){o->run_id, now + wait, wait};
    log_warn("event=backfill_orphan_retry backfill=%lld run=%lld "
             "next_try_ms=%lld",
             (long long)o->backfill_id, (long long)o->run_id, (long long)wait);
    return true;
}

/* Cancel the runs still active in canceled backfills: those a cancel
 * could not stop, or that a server stopped before it could. A run whose
 * cancel keeps failing is tried again after a wait that doubles, from
 * half a second up to a minute. */
static void cancel_orphans(struct engine *e, struct store_conn *c)
{
    struct store_backfill_orphan *v = NULL;
    struct orphan_wait next[ORPHANS_MAX];
    struct weir_err e2 = {0};
    size_t n = 0, k = 0;
    int64_t now = hub_now_ms();

    if (store_backfill_orphans(c, &v, &n, &e2) < 0)
        return; /* the next pass tries again */
    pthread_mutex_lock(&orphan_mu);
    for (size_t i = 0; i < n && k < ORPHANS_MAX; i++) {
        const struct orphan_wait *last = NULL;

        for (size_t j = 0; last == NULL && j < orphan_n; j++)
            if (orphan_v[j].run_id == v[i].run_id)
                last = &orphan_v[j];
        if (orphan_try(e, &v[i], last, now, &next[k]))
            k++;
    }
    /* runs no longer orphans (canceled, finished) are forgotten */
    memcpy(orphan_v, next, k * sizeof(next[0]));
    orphan_n = k;
    pthread_mutex_unlock(&orphan_mu);
    free(v);
}

int engine_backfill_tick(struct engine *e, int *created, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int64_t *ids = NULL;
    size_t n = 0;
    int made = 0, first = 0;
    struct weir_err e2 = {0};
    char q[300];
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = store_backfills_running(c, &ids, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int one = store_tx_begin(c, &e2);

        if (one == 0)
            one = advance(e, c, ids[i], true, &made, &e2);
        if (one == 0)
            one = store_tx_commit(c, &e2);
        else
            store_tx_rollback(c);
        if (one < 0) {
            log_warn("event=backfill_failed backfill=%lld msg=%s",
                     (long long)ids[i], log_quote(e2.msg, q, sizeof(q)));
            if (first == 0) {
                first = one;
                *err = e2;
            }
            if (one == WEIR_EUNAVAIL)
                break;
        }
    }
    if (rc == 0)
        cancel_orphans(e, c);
    store_conn_put(c);
    free(ids);
    if (made > 0)
        hub_bump(e->hub);
    if (created != NULL)
        *created = made;
    return rc < 0 ? rc : first;
}

int engine_backfill_cancel(struct engine *e, int64_t id, const char *by,
                           cJSON **out, struct weir_err *err)
{
    struct store_conn *c = NULL;
    struct store_backfill b = {0};
    int64_t *ids = NULL;
    size_t n = 0;
    cJSON *o = NULL, *arr = NULL;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = store_tx_begin(c, err);
    if (rc == 0)
        rc = store_backfill_lock(c, id, false, &b, err);
    if (rc == 0 && !b.running)
        rc = weir_err_set(err, WEIR_ECONFLICT, "backfill %lld already ended",
                          (long long)id);
    if (rc == 0)
        rc = store_backfill_end(c, id, "canceled", by, err);
    if (rc == 0)
        rc = store_backfill_active_runs(c, id, &ids, &n, err);
    if (rc == 0)
        rc = store_tx_commit(c, err);
    store_conn_put(c);
    store_backfill_cleanup(&b);
    if (rc == 0) {
        o = cJSON_CreateObject();
        arr = cJSON_AddArrayToObject(o, "canceled_runs");
        if (o == NULL || arr == NULL)
            rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    /* Each run as a person's cancel; one that ended meanwhile is left,
     * one that could not be canceled now is the chore's (cancel_orphans). */
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (cancel_run(e, id, ids[i], by) == CANCEL_DONE)
            cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)ids[i]));
    free(ids);
    if (rc < 0) {
        cJSON_Delete(o);
        return rc;
    }
    cJSON_AddNumberToObject(o, "backfill_id", (double)id);
    cJSON_AddStringToObject(o, "state", "canceled");
    *out = o;
    return 0;
}

int engine_backfills_get(struct engine *e, int64_t id, const char *dag_id,
                         cJSON **out, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = store_backfills_json(c, id, dag_id, out, err);
    store_conn_put(c);
    return rc;
}
