/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The approval policy of gates and promotions (approvers.h). Names and
 * groups match exactly (case matters), as a token name is written.
 */
#include "approvers.h"

#include <stdio.h>
#include <string.h>

static bool same(const char *a, const char *b)
{
    return a != NULL && b != NULL && a[0] != '\0' && strcmp(a, b) == 0;
}

/* Whether d matches an entry of a: "user:NAME" by its name only,
 * "group:NAME" by one of its groups only, a bare entry by either. */
static bool listed(const struct dag_approvers *a,
                   const struct approval_decider *d)
{
    for (size_t i = 0; i < a->n; i++) {
        const char *e = a->names[i];
        bool by_name = strncmp(e, "group:", 6) != 0;
        bool by_group = strncmp(e, "user:", 5) != 0;

        if (!by_name)
            e += 6;
        else if (!by_group)
            e += 5;
        if (by_name && same(e, d->name))
            return true;
        for (size_t g = 0; by_group && g < d->n_groups; g++)
            if (same(e, d->groups[g]))
                return true;
    }
    return false;
}

/* "a, b, c" of n strings into buf (cut to fit). */
static void join(char *buf, size_t len, const char *const *v, size_t n)
{
    size_t o = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && o < len; i++) {
        int w = snprintf(buf + o, len - o, "%s%s", i ? ", " : "", v[i]);

        if (w < 0)
            break;
        o += (size_t)w;
    }
}

static int not_listed(const struct approval_subject *s,
                      const struct approval_decider *d, struct weir_err *err)
{
    char names[160], groups[96];

    join(names, sizeof(names), (const char *const *)s->approvers->names,
         s->approvers->n);
    join(groups, sizeof(groups), d->groups, d->n_groups);
    return weir_err_set(
        err, WEIR_EFORBIDDEN, "approvers of %s are [%s]; you are %s (%s%s)",
        s->what, names, d->name, d->n_groups ? "groups " : "no groups", groups);
}

int approval_check(const struct approval_subject *s,
                   const struct approval_decider *d, bool approve,
                   struct weir_err *err)
{
    bool started = same(s->started_by, d->name);
    bool retried = !started && same(s->retried_by, d->name);

    /* who started the run or asked may always withdraw (reject) */
    if (!approve && (started || retried))
        return 0;
    if (s->approvers != NULL && s->approvers->n > 0 && !listed(s->approvers, d))
        return not_listed(s, d, err);
    if (approve && !s->self_approve && (started || retried))
        return weir_err_set(err, WEIR_EFORBIDDEN,
                            "you (%s) %s this run; %s does not allow self "
                            "approval (%s allows it)",
                            d->name, started ? "started" : "retried", s->what,
                            s->allow_self);
    return 0;
}
