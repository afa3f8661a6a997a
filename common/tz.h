/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IANA time zones read from the system's tzdata (TZif files under
 * /usr/share/zoneinfo, or $TZDIR), without touching the process-wide TZ
 * variable, so any thread may convert times in any zone at once.
 */
#ifndef WEIR_TZ_H
#define WEIR_TZ_H

#include <stdint.h>

#include "err.h"

struct tz;

/*
 * Load zone `name` ("UTC", "America/New_York", ...). A name with "..",
 * "//", a leading or trailing '/', or characters outside [A-Za-z0-9_+-/]
 * is refused with WEIR_EINVAL; a zone with no file is WEIR_ENOTFOUND. On
 * success *out is a new zone the caller frees with tz_free(). Loaded zones
 * may be cached and shared internally; this function is thread-safe.
 */
WEIR_MUSTCHECK int tz_load(const char *name, struct tz **out,
                           struct weir_err *err);

/* Free a zone from tz_load(); tz_free(NULL) is a no-op. */
void tz_free(struct tz *tz);

/* The zone's name as given to tz_load() (borrowed). */
const char *tz_name(const struct tz *tz);

/* Offset from UTC in seconds (east positive) in effect at instant `utc`. */
int tz_offset_at(const struct tz *tz, int64_t utc);

/*
 * Resolve a local wall-clock time (seconds since 1970-01-01T00:00 local, as
 * if the local clock were UTC) to instants. Returns how many instants show
 * that wall time: 1 normally, 2 in a fall-back overlap (first[0] is the
 * earlier), 0 in a spring-forward gap; then first[0] is the first valid
 * instant after the gap (the transition instant itself).
 */
int tz_local_to_utc(const struct tz *tz, int64_t local, int64_t first[2]);

/*
 * The next instant strictly after `utc` at which the zone's offset changes,
 * or INT64_MAX when there is none. Lets callers jump over DST edges.
 */
int64_t tz_next_transition(const struct tz *tz, int64_t utc);

#endif
