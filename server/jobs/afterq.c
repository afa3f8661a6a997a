/* SPDX-License-Identifier: Apache-2.0 */
/* The after-firing chore (see afterq.h). */
#include "jobs/afterq.h"

#include <stdlib.h>

#include "bgthread.h"
#include "engine/after.h"
#include "engine/hub.h"
#include "jobs/chores.h"
#include "log.h"

#define AFTERQ_BATCH 100 /* firings of one pass */

struct afterq {
    struct engine *e;    /* borrowed */
    struct bgthread *bg; /* runs afterq_round() */
};

/* One pass; then wait for a bump of the hub (read before the pass, so
 * a commit during it is not missed) or CHORE_AFTER_MS. */
static int64_t afterq_round(void *arg)
{
    struct afterq *q = arg;
    struct hub *h = q->e->hub;
    uint64_t gen = hub_generation(h);
    struct weir_err err = {0};
    char text[300];
    int done = 0;

    if (after_pass(q->e, AFTERQ_BATCH, &done, &err) < 0) {
        log_warn("event=after_pass_failed msg=%s",
                 log_quote(err.msg, text, sizeof(text)));
        return CHORE_AFTER_RETRY_MS;
    }
    if (done == AFTERQ_BATCH)
        return 0;
    if (hub_closed(h))
        return CHORE_AFTER_MS;
    (void)hub_wait(h, gen, hub_now_ms() + CHORE_AFTER_MS);
    return 0;
}

int afterq_start(struct engine *e, struct afterq **out, struct weir_err *err)
{
    struct afterq *q = calloc(1, sizeof(*q));
    int rc;

    if (q == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    q->e = e;
    rc = bgthread_start("weir-after", afterq_round, q, &q->bg, err);
    if (rc < 0) {
        free(q);
        return rc;
    }
    *out = q;
    return 0;
}

void afterq_stop(struct afterq *q)
{
    if (q == NULL)
        return;
    bgthread_stop(q->bg);
    free(q);
}
