/* SPDX-License-Identifier: Apache-2.0 */
/* Who may decide a run's approval gate (engine/approvals.h). */
#include "engine/approvals.h"

#include <stdio.h>
#include <string.h>

#include "approvers.h"
#include "store/approvals.h"

/* The environment of x's run, or NULL. */
static const struct dag_environment *run_env(const struct run_ctx *x)
{
    const char *name = x->run.environment;

    for (size_t i = 0; name != NULL && i < x->dag->n_environments; i++)
        if (strcmp(x->dag->environments[i].name, name) == 0)
            return &x->dag->environments[i];
    return NULL;
}

int engine_gate_check(struct store_conn *c, const struct run_ctx *x, size_t s,
                      const struct engine_decision *d, struct weir_err *err)
{
    const struct dag_step *st = &x->dag->steps[s];
    const struct dag_environment *env = st->approval ? NULL : run_env(x);
    struct approval_decider who = {d->by, d->groups, d->n_groups};
    struct store_run_starters by;
    char what[160], allow[160];
    struct approval_subject sub = {.what = what, .allow_self = allow};
    int rc = store_run_starters(c, x->run.id, &by, err);

    if (rc < 0)
        return rc;
    sub.started_by = by.started_by;
    sub.retried_by = by.retried_by;
    if (env != NULL) {
        snprintf(what, sizeof(what),
                 "step \"%s\" (approve_before of environment \"%s\")", st->id,
                 env->name);
        snprintf(allow, sizeof(allow),
                 "environments: {%s: {self_approve: true}}", env->name);
        sub.approvers = &env->approvers;
        sub.self_approve = env->self_approve;
    } else {
        snprintf(what, sizeof(what), "step \"%s\"", st->id);
        snprintf(allow, sizeof(allow), "approval: {self_approve: true}");
        sub.approvers = &st->approvers;
        sub.self_approve = st->self_approve;
    }
    return approval_check(&sub, &who, d->approve, err);
}
