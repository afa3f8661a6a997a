/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tree walk of `run_timeout:` and `deadline:` (docs/dag-format.md,
 * "Run timeouts and deadlines"), and the wall-clock arithmetic of
 * `succeed_by:` that the engine uses to place a run's deadline.
 */
#include <string.h>

#include "dag_internal.h"
#include "tz.h"

enum deadline_key { DL_FINISH_WITHIN, DL_SUCCEED_BY, DL_CANCEL, DL_COUNT };

static const char *const deadline_keys[DL_COUNT] = {"finish_within",
                                                    "succeed_by", "cancel"};

/* A duration that must be more than zero. */
static bool get_positive_dur(struct dag_ctx *c, const char *key,
                             const struct ynode *n, int64_t *out)
{
    if (!dag_get_dur(c, key, n, out))
        return false;
    if (*out <= 0) {
        dag_error(c, dag_npos(n), "\"%s\" must be longer than 0s, got %s", key,
                  dag_got(c, n));
        return false;
    }
    return true;
}

/* Two ASCII digits at s as a number, or -1. */
static int two_digits(const char *s)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* "HH:MM" (or "H:MM") as a minute of the day into *out. */
static bool get_clock(struct dag_ctx *c, const char *key, const struct ynode *n,
                      int *out)
{
    const char *s = n->kind == YNODE_SCALAR ? n->str : NULL;
    size_t len = s != NULL ? strlen(s) : 0;
    char hh[3] = "00";
    int h, m;

    if (s == NULL || dag_is_null(n) || len != n->len || len < 4 || len > 5 ||
        s[len - 3] != ':') {
        dag_error(c, dag_npos(n),
                  "\"%s\" must be a time of day such as \"06:00\" (HH:MM, "
                  "in the DAG's time zone), got %s",
                  key, dag_got(c, n));
        return false;
    }
    memcpy(hh + (len == 4), s, len - 3);
    h = two_digits(hh);
    m = two_digits(s + len - 2);
    if (h < 0 || h > 23 || m < 0 || m > 59) {
        dag_error(c, dag_npos(n),
                  "bad time \"%s\" for \"%s\": expected HH:MM with hours "
                  "00-23 and minutes 00-59",
                  dag_q(c, s), key);
        return false;
    }
    *out = h * 60 + m;
    return true;
}

static void load_deadline(struct dag_ctx *c, const struct ynode *n)
{
    struct dag_deadline *d = &c->dag->deadline;
    struct dag_keys k;

    d->pos = dag_npos(n);
    if (n->kind != YNODE_MAP) {
        dag_error(c, dag_npos(n),
                  "\"deadline\" must be a mapping with \"finish_within\", "
                  "\"succeed_by\" and \"cancel\", got %s",
                  dag_got(c, n));
        return;
    }
    dag_walk_map(c, n, deadline_keys, DL_COUNT, UINT32_MAX, "in deadline", &k);
    if (k.val[DL_FINISH_WITHIN])
        (void)get_positive_dur(c, "finish_within", k.val[DL_FINISH_WITHIN],
                               &d->finish_within_ms);
    if (k.val[DL_SUCCEED_BY])
        d->has_succeed_by = get_clock(c, "succeed_by", k.val[DL_SUCCEED_BY],
                                      &d->succeed_by_min);
    if (k.val[DL_CANCEL])
        (void)dag_get_bool(c, "cancel", k.val[DL_CANCEL], &d->cancel);
    if (k.val[DL_FINISH_WITHIN] == NULL && k.val[DL_SUCCEED_BY] == NULL)
        dag_error(c, dag_npos(n),
                  "\"deadline\" needs \"finish_within\" (a duration) or "
                  "\"succeed_by\" (a time of day), or both");
}

void dag_build_deadline(struct dag_ctx *c, const struct ynode *run_timeout,
                        const struct ynode *deadline)
{
    if (run_timeout != NULL)
        (void)get_positive_dur(c, "run_timeout", run_timeout,
                               &c->dag->run_timeout_ms);
    if (deadline != NULL)
        load_deadline(c, deadline);
}

int dag_succeed_by_at(const char *tz_name, int64_t base, int minute,
                      int64_t *out, struct weir_err *err)
{
    struct tz *tz = NULL;
    int64_t local, day, first[2];
    int rc = tz_load(tz_name, &tz, err);

    if (rc < 0)
        return rc;
    local = base + tz_offset_at(tz, base);
    day = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    /* Today's HH:MM, else tomorrow's; a day after is there for a base
     * just before a transition that moves the wall clock back. */
    for (int64_t d = day - 1; d <= day + 2; d++) {
        (void)tz_local_to_utc(tz, d * 86400 + (int64_t)minute * 60, first);
        if (first[0] >= base) {
            *out = first[0];
            break;
        }
    }
    tz_free(tz);
    return 0;
}
