/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing and formatting of durations such as "1h30m". */
#include "duration.h"

#include <stdio.h>
#include <string.h>

struct unit {
    const char *name; /* suffix as written */
    int64_t ms;       /* milliseconds in one unit */
};

/* Longest suffix first so that "ms" is not read as "m" followed by "s". */
static const struct unit units[] = {
    {"d", 24LL * 3600 * 1000}, {"h", 3600LL * 1000}, {"ms", 1},
    {"m", 60LL * 1000},        {"s", 1000},
};

/* Index in the canonical order d h m s ms, to enforce decreasing units. */
static int unit_rank(int64_t ms)
{
    switch (ms) {
    case 24LL * 3600 * 1000:
        return 0;
    case 3600LL * 1000:
        return 1;
    case 60LL * 1000:
        return 2;
    case 1000:
        return 3;
    default:
        return 4;
    }
}

static const struct unit *unit_match(const char *p, size_t *len)
{
    for (size_t i = 0; i < WEIR_ARRAY_LEN(units); i++) {
        size_t n = strlen(units[i].name);

        if (strncmp(p, units[i].name, n) == 0) {
            *len = n;
            return &units[i];
        }
    }
    return NULL;
}

int duration_parse(const char *text, int64_t *ms, struct weir_err *err)
{
    const char *p = text;
    int64_t total = 0;
    int last_rank = -1;

    if (*p == '\0')
        return weir_err_set(err, WEIR_EPARSE,
                            "empty duration; expected e.g. 30s, 10m, 1h30m");
    while (*p != '\0') {
        int64_t n = 0;
        const char *start = p;
        const struct unit *u;
        size_t ulen = 0;

        while (*p >= '0' && *p <= '9') {
            if (n > DURATION_MAX_MS)
                return weir_err_set(err, WEIR_ERANGE,
                                    "duration \"%s\" is too long", text);
            n = n * 10 + (*p - '0');
            p++;
        }
        if (p == start)
            return weir_err_set(
                err, WEIR_EPARSE,
                "expected a number at \"%s\"; write e.g. 30s, 10m, 1h30m", p);
        u = unit_match(p, &ulen);
        if (u == NULL)
            return weir_err_set(err, WEIR_EPARSE,
                                "expected a unit (ms, s, m, h, d) after %.*s",
                                (int)(p - start), start);
        if (unit_rank(u->ms) <= last_rank)
            return weir_err_set(
                err, WEIR_EPARSE,
                "units must go from largest to smallest, each once, "
                "as in 1h30m");
        last_rank = unit_rank(u->ms);
        if (n > DURATION_MAX_MS / u->ms)
            return weir_err_set(err, WEIR_ERANGE,
                                "duration \"%s\" is longer than 366d", text);
        total += n * u->ms;
        if (total > DURATION_MAX_MS)
            return weir_err_set(err, WEIR_ERANGE,
                                "duration \"%s\" is longer than 366d", text);
        p += ulen;
    }
    *ms = total;
    return 0;
}

char *duration_format(int64_t ms, char *buf, size_t len)
{
    static const int64_t order[] = {24LL * 3600 * 1000, 3600LL * 1000,
                                    60LL * 1000, 1000, 1};
    static const char *const names[] = {"d", "h", "m", "s", "ms"};
    size_t used = 0;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    if (ms <= 0) {
        snprintf(buf, len, "0s");
        return buf;
    }
    for (size_t i = 0; i < WEIR_ARRAY_LEN(order) && used < len; i++) {
        int64_t n = ms / order[i];

        if (n == 0)
            continue;
        ms -= n * order[i];
        used += (size_t)snprintf(buf + used, len - used, "%lld%s", (long long)n,
                                 names[i]);
    }
    return buf;
}
