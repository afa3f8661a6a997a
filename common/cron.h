/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cron expressions: five fields (minute hour day-of-month month day-of-week)
 * with lists, ranges, steps and names, or a preset such as @daily, and the
 * next fire time in any time zone, found by jumping field by field.
 *
 * DST rules: a local fire time inside a spring-forward gap fires at the
 * first valid instant after the gap. In a fall-back overlap, an expression
 * with a fixed hour fires once, at the first occurrence of the local time;
 * an expression whose hour field is `*` keeps its pace in real time through
 * the repeated hour.
 */
#ifndef WEIR_CRON_H
#define WEIR_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "tz.h"

/* A parsed expression; a plain value, copy it freely. */
struct cron_expr {
    uint64_t minutes; /* bit m set: minute m (0-59) matches */
    uint32_t hours;   /* bit h: hour h (0-23) */
    uint32_t mdays;   /* bit d: day of month d (1-31) */
    uint16_t months;  /* bit m: month m (1-12) */
    uint8_t wdays;    /* bit d: weekday d (0 = Sunday .. 6) */
    bool mday_star;   /* day-of-month field was `*` (or `?`) */
    bool wday_star;   /* day-of-week field was `*` (or `?`) */
    bool hour_star;   /* hour field was `*`: keeps real-time pace at DST */
};

/*
 * Parse `text`. On failure returns WEIR_EPARSE (or WEIR_ENEVER for an
 * expression that can never fire, such as "0 0 30 2 *"), fills err with a
 * message naming the field and what was expected, and sets *err_offset
 * (when not NULL) to the 0-based byte offset in text where the problem is.
 */
WEIR_MUSTCHECK int cron_parse(const char *text, struct cron_expr *out,
                              struct weir_err *err, int *err_offset);

/*
 * The first fire time strictly after instant `after` (Unix seconds) in zone
 * tz (NULL means UTC), into *next. Returns WEIR_ENEVER if no fire time
 * exists within the next 30 years (only contrived expressions, such as
 * February 29 that is also a Sunday, go that long without firing), or
 * WEIR_ERANGE if `after` is outside the years 1 to 9999.
 */
WEIR_MUSTCHECK int cron_next(const struct cron_expr *c, const struct tz *tz,
                             int64_t after, int64_t *next);

/*
 * Format instant `utc` in zone tz (NULL = UTC) as ISO-8601 with the offset,
 * "2026-11-29T02:00:00-06:00" ("Z" is never used; UTC prints "+00:00").
 * buf must hold at least 32 bytes. Returns buf.
 */
char *cron_format_time(int64_t utc, const struct tz *tz, char *buf, size_t len);

/*
 * Parse an ISO-8601 time "YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM|-HH:MM]"; without
 * an offset it is local time in tz (NULL = UTC; a gap time resolves as
 * tz_local_to_utc does). Returns 0 or WEIR_EPARSE with err filled.
 */
WEIR_MUSTCHECK int cron_parse_time(const char *text, const struct tz *tz,
                                   int64_t *out, struct weir_err *err);

#endif
