/* SPDX-License-Identifier: Apache-2.0 */
/* The deadline chore (see deadline.h). */
#include "jobs/deadline.h"

#include <stdlib.h>

#include "bgthread.h"
#include "engine/deadline.h"
#include "jobs/chores.h"
#include "jobs/notify.h"
#include "log.h"
#include "store/leader.h"

#define DEADLINE_URL_WAIT_MS 100 /* while the public URL is not known */
#define DEADLINE_URL_MAX     512 /* bytes of the public URL */

struct deadlines {
    struct engine *e;    /* borrowed */
    struct bgthread *bg; /* runs deadline_round() */
};

/* One pass; the wait until the next timeout or deadline. */
static int64_t deadline_round(void *arg)
{
    struct deadlines *d = arg;
    char base[DEADLINE_URL_MAX], q[300];
    struct weir_err err = {0};
    int64_t next = -1;

    store_fence_enter(); /* a leader's writes (store/leader.h) */
    if (!notify_public_url(base, sizeof(base)))
        return DEADLINE_URL_WAIT_MS;
    if (engine_deadline_pass(d->e, base, &next, &err) < 0) {
        log_warn("event=deadline_pass_failed msg=%s",
                 log_quote(err.msg, q, sizeof(q)));
        return CHORE_DEADLINE_RETRY_MS;
    }
    /* Times are compared in the database: let the next one pass. */
    return next < 0 || next > CHORE_DEADLINE_MS ? CHORE_DEADLINE_MS : next + 5;
}

int deadline_chore_start(struct engine *e, struct deadlines **out,
                         struct weir_err *err)
{
    struct deadlines *d = calloc(1, sizeof(*d));
    int rc;

    if (d == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    d->e = e;
    rc = bgthread_start("weir-deadline", deadline_round, d, &d->bg, err);
    if (rc < 0) {
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void deadline_chore_stop(struct deadlines *d)
{
    if (d == NULL)
        return;
    bgthread_stop(d->bg);
    free(d);
}
