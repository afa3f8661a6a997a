/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Metric samples and the metric triggers they feed. A sample is stored,
 * then, in the same transaction, offered to every metric trigger of its
 * name whose `labels:` all equal the sample's labels. The trigger is past
 * its line when value < below or value > above. While armed it counts
 * consecutive samples past the line (a sample on the good side resets
 * the count); at `for:` samples it fires and disarms. Disarmed, it waits
 * for one sample on the good side of the line (recovered), then re-arms:
 * one firing per crossing. A firing a guard suppressed keeps it armed, so
 * the next sample past the line tries again.
 *
 * Samples older than the retention (metrics_set_retention(): the
 * server's --metric-retention, default 30 days) are deleted, at most once
 * a minute, by the request that notices it is time.
 */
#ifndef WEIR_METRICS_H
#define WEIR_METRICS_H

#include <cJSON.h>

#include "engine/engine.h"

#define METRIC_NAME_MAX             200          /* bytes of a name */
#define METRICS_RETENTION_DEFAULT_S (30 * 86400) /* samples kept, s */

/* Keep samples for seconds (> 0) from now on; any thread. */
void metrics_set_retention(int64_t seconds);

/* One sample to accept. */
struct metric_in {
    const char *name;    /* the metric */
    double value;        /* its value (finite) */
    const cJSON *labels; /* object of string or number values, or NULL */
    bool has_time;       /* time is set; else the server's now */
    double time;         /* Unix seconds */
    int runs;            /* out: runs it created or fed */
};

/* Accept n samples in one transaction (committed before returning 0)
 * and fire the metric triggers they complete. */
WEIR_MUSTCHECK int metrics_accept(struct engine *e, struct metric_in *v,
                                  size_t n, struct weir_err *err);

/*
 * An RFC 3339 time ("2026-11-29T02:00:00Z", "...T02:00:00.5-06:00") as
 * Unix seconds into *out. WEIR_EINVAL naming `what` when it is not one.
 */
WEIR_MUSTCHECK int metrics_parse_time(const char *text, const char *what,
                                      double *out, struct weir_err *err);

#endif
