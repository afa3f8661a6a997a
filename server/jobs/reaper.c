/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lease expiry chore (a bgthread): expire, sleep until the next
 * deadline, repeat.
 *
 * While the server or the database is down, workers cannot heartbeat, so
 * a lease that ran out then says nothing about its worker. At the start,
 * and after the store saw the database gone, every running attempt first
 * gets one more lease TTL; only then are deadlines enforced again.
 */
#include "jobs/reaper.h"

#include <stdbool.h>
#include <stdlib.h>

#include "bgthread.h"
#include "jobs/chores.h"
#include "log.h"
#include "store/leader.h"
#include "store/store.h"

struct reaper {
    struct engine *e;    /* what it expires attempts of */
    struct bgthread *bg; /* runs reaper_round() */
    unsigned outages;    /* the store's outage count last seen */
    bool owed;           /* a grace is due: the server was down until now */
};

/* Extend every running lease by one TTL. */
static int grace(struct reaper *r, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc = store_conn_get(r->e->store, &c, err);

    if (rc == 0)
        rc = store_leases_extend(c, r->e->lease_ttl_ms, err);
    store_conn_put(c);
    if (rc == 0)
        log_info("event=lease_grace ttl_ms=%lld",
                 (long long)r->e->lease_ttl_ms);
    return rc;
}

/* One pass: the grace if one is owed, then expiry; the wait until the
 * next deadline (at most a lease TTL). */
static int64_t reaper_round(void *arg)
{
    struct reaper *r = arg;
    struct weir_err err = {0};
    int64_t next = -1;
    unsigned seen = store_outages(r->e->store);
    char q[300];

    store_fence_enter(); /* a leader's writes (store/leader.h) */
    if (seen != r->outages) {
        r->outages = seen;
        r->owed = true;
    }
    if (r->owed && grace(r, &err) == 0)
        r->owed = false;
    if (r->owed || engine_expire(r->e, &next, &err) != 0) {
        log_warn("event=lease_expiry_failed msg=%s",
                 log_quote(err.msg, q, sizeof(q)));
        return CHORE_LEASES_RETRY_MS;
    }
    /* Deadlines are compared in the database: let one pass. */
    return (next < 0 || next > r->e->lease_ttl_ms ? r->e->lease_ttl_ms : next) +
           5;
}

int reaper_start(struct engine *e, struct reaper **out, struct weir_err *err)
{
    struct reaper *r = calloc(1, sizeof(*r));
    int rc;

    if (r == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    r->e = e;
    r->outages = store_outages(e->store);
    r->owed = true;
    rc = bgthread_start("weir-leases", reaper_round, r, &r->bg, err);
    if (rc < 0) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void reaper_stop(struct reaper *r)
{
    if (r == NULL)
        return;
    bgthread_stop(r->bg);
    free(r);
}
