/* SPDX-License-Identifier: Apache-2.0 */
/* Durations as written in DAG files: "500ms", "30s", "10m", "2h", "1d",
 * and sums of them such as "1h30m". */
#ifndef WEIR_DURATION_H
#define WEIR_DURATION_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* The largest duration accepted: 366 days, in milliseconds. */
#define DURATION_MAX_MS (366LL * 24 * 3600 * 1000)

/*
 * Parse `text` into milliseconds. Units are ms, s, m, h, d; each unit at
 * most once and in decreasing order; no sign, no spaces. Returns 0, or
 * WEIR_EPARSE / WEIR_ERANGE with a message saying what was expected.
 */
WEIR_MUSTCHECK int duration_parse(const char *text, int64_t *ms,
                                  struct weir_err *err);

/* Format ms the way it is written ("1h30m", "0s"). Returns buf. */
char *duration_format(int64_t ms, char *buf, size_t len);

#endif
