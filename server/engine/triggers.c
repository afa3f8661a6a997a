/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state of a DAG's triggers as people see it: armed, waiting to be
 * re-armed, in cooldown, or held (paused DAG, file gone), with the next
 * fire time of a cron trigger and what an accumulating trigger holds.
 */
#include <stdio.h>
#include <time.h>

#include "cron.h"
#include "engine/events.h"
#include "store/store.h"
#include "tz.h"

static void add_time_or_null(cJSON *o, const char *name, const char *iso)
{
    if (iso != NULL && iso[0] != '\0')
        cJSON_AddStringToObject(o, name, iso);
    else
        cJSON_AddNullToObject(o, name);
}

/* The next fire time of cron trigger t in zone `zone`, as RFC 3339. */
static void next_fire(const struct dag_trigger *t, const char *zone, char *buf,
                      size_t len)
{
    struct weir_err err = {0};
    struct tz *tz = NULL;
    int64_t next = 0;

    buf[0] = '\0';
    if (tz_load(zone, &tz, &err) == 0 &&
        cron_next(&t->cron, tz, (int64_t)time(NULL), &next) == 0) {
        struct tm tm;
        time_t tt = (time_t)next;

        gmtime_r(&tt, &tm);
        strftime(buf, len, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    }
    tz_free(tz);
}

/* One trigger's state object; held is "paused" or "missing" (its DAG's
 * file is gone) when the DAG fires nothing, else NULL. */
static int trigger_json(struct store_conn *c, const struct dag *d,
                        const struct dag_trigger *t, const char *held,
                        cJSON **out, struct weir_err *err)
{
    struct store_trig_state st = {0};
    char next[40] = "";
    cJSON *o;
    int rc = store_trig_state(c, d->id, t->key, d->cooldown_ms, &st, err);

    if (rc < 0)
        return rc;
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", t->key);
    cJSON_AddStringToObject(o, "kind", dag_trigger_kind_name(t->kind));
    cJSON_AddStringToObject(o, "target", t->target);
    if (t->kind == DAG_TRIG_AFTER || t->kind == DAG_TRIG_DATA) {
        if (t->kind == DAG_TRIG_AFTER)
            cJSON_AddStringToObject(o, "after_state",
                                    dag_after_state_name(t->after_state));
        add_time_or_null(o, "when", t->when);
    }
    cJSON_AddStringToObject(o, "state",
                            held                   ? held
                            : st.cooldown_until[0] ? "cooldown"
                            : st.armed == 0        ? "waiting_rearm"
                                                   : "armed");
    if (t->kind == DAG_TRIG_CRON && held == NULL)
        next_fire(t, d->timezone, next, sizeof(next));
    add_time_or_null(o, "next_fire_time", next);
    if (t->accumulate != NULL) {
        cJSON_AddNumberToObject(o, "accumulated", st.accumulated);
        cJSON_AddNumberToObject(o, "threshold", t->threshold);
    } else {
        cJSON_AddNullToObject(o, "accumulated");
        cJSON_AddNullToObject(o, "threshold");
    }
    cJSON_AddNumberToObject(o, "pending_events", st.pending);
    add_time_or_null(o, "cooldown_until", st.cooldown_until);
    add_time_or_null(o, "last_fired_at", st.last_fired);
    cJSON_AddItemToObject(o, "suppressed", st.suppressed);
    *out = o;
    return 0;
}

int events_dag_triggers(struct engine *e, const char *dag_id, cJSON **out,
                        struct weir_err *err)
{
    struct store_conn *c = NULL;
    struct store_dag sd = {0};
    const struct dag *d = NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "triggers");
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = store_dag_get(c, dag_id, &sd, err);
    if (rc == 0 && sd.version_id != 0)
        d = engine_dag(e->cache, c, sd.version_id);
    for (size_t i = 0; rc == 0 && d != NULL && i < d->n_triggers; i++) {
        cJSON *t = NULL;

        rc = trigger_json(c, d, &d->triggers[i],
                          sd.file_missing ? "missing"
                          : sd.paused     ? "paused"
                                          : NULL,
                          &t, err);
        cJSON_AddItemToArray(arr, t);
    }
    store_conn_put(c);
    dagcache_release(e->cache, d);
    store_dag_cleanup(&sd);
    if (rc < 0) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return 0;
}
