/* SPDX-License-Identifier: Apache-2.0 */
/* The backfill chore (a bgthread): one engine_backfill_tick() a round. */
#include "jobs/backfiller.h"

#include <stdlib.h>

#include "bgthread.h"
#include "engine/backfill.h"
#include "log.h"
#include "store/leader.h"

struct backfiller {
    struct engine *e;    /* whose backfills it advances */
    struct bgthread *bg; /* runs backfiller_round() */
};

static int64_t backfiller_round(void *arg)
{
    struct backfiller *b = arg;
    struct weir_err err = {0};

    store_fence_enter(); /* a leader's writes (store/leader.h) */
    /* engine_backfill_tick() logs each backfill that failed. */
    if (engine_backfill_tick(b->e, NULL, &err) < 0)
        return CHORE_BACKFILL_RETRY_MS;
    return CHORE_BACKFILL_MS;
}

int backfiller_start(struct engine *e, struct backfiller **out,
                     struct weir_err *err)
{
    struct backfiller *b = calloc(1, sizeof(*b));
    int rc;

    if (b == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    b->e = e;
    rc = bgthread_start("weir-backfill", backfiller_round, b, &b->bg, err);
    if (rc < 0) {
        free(b);
        return rc;
    }
    *out = b;
    return 0;
}

void backfiller_stop(struct backfiller *b)
{
    if (b == NULL)
        return;
    bgthread_stop(b->bg);
    free(b);
}
