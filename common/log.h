/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server's log: one line per event on stderr, as key=value pairs,
 * written with a single write(2) so that lines from several threads never
 * interleave.
 */
#ifndef WEIR_LOG_H
#define WEIR_LOG_H

#include <stddef.h>

#include "weir.h"

enum log_level {
    LOG_LEVEL_DEBUG, /* detail for whoever debugs the server */
    LOG_LEVEL_INFO,  /* a normal event worth a line */
    LOG_LEVEL_WARN,  /* something is wrong but the server carries on */
    LOG_LEVEL_ERROR, /* an operation failed */
};

/* Lines below this level are dropped; LOG_LEVEL_INFO unless changed. */
void log_set_level(enum log_level level);

/*
 * Write "ts=<UTC time> level=<level> " followed by the formatted text and a
 * newline, with one write(2). The text should be key=value pairs; quote
 * values that may hold spaces with log_quote(). Lines longer than 4 KiB are
 * cut. Safe from any thread.
 */
void log_write(enum log_level level, const char *fmt, ...) WEIR_PRINTF(2, 3);

#define log_debug(...) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)

/*
 * Quote s for a log value: surrounded by double quotes, with '"', '\\' and
 * control characters escaped, cut to fit into buf (len bytes, at least 8).
 * Returns buf.
 */
char *log_quote(const char *s, char *buf, size_t len);

#endif
