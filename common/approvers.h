/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The approval policy: whether a person may decide an approval gate or a
 * registry promotion, by the gate's (or artifact's) `approvers:` and
 * `self_approve:` (docs/security.md, "Approval policy"). Pure: the caller
 * says who decides and who started the run or asked for the promotion.
 */
#ifndef WEIR_APPROVERS_H
#define WEIR_APPROVERS_H

#include <stdbool.h>
#include <stddef.h>

#include "dag.h"
#include "err.h"

/* Who decides. */
struct approval_decider {
    const char *name;          /* token name or signed-in user name */
    const char *const *groups; /* a signed-in user's groups; NULL: none */
    size_t n_groups;           /* entries in groups */
};

/* What is decided, and by whose policy. */
struct approval_subject {
    const char *what; /* how messages name it: `step "ship"`, `artifact
                         "model"` */
    const struct dag_approvers *approvers; /* who may decide, or NULL: any */
    bool self_approve;      /* who started or asked may approve too */
    const char *started_by; /* who started the run or asked for the
                               promotion; NULL or "": no person */
    const char *retried_by; /* who retried the run last, or NULL */
    const char *allow_self; /* the setting that allows self approval, for
                               the refusal ("approval: {self_approve:
                               true}") */
};

/*
 * 0 when d may approve (approve true) or reject s; WEIR_EFORBIDDEN with
 * err saying why otherwise. With approvers, the decider must match one
 * entry by name or by one of its groups; who started the run (or retried
 * it, or asked for the promotion) may always reject (withdraw), and may
 * approve only when s->self_approve.
 */
WEIR_MUSTCHECK int approval_check(const struct approval_subject *s,
                                  const struct approval_decider *d,
                                  bool approve, struct weir_err *err);

#endif
