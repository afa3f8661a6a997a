/* SPDX-License-Identifier: Apache-2.0 */
/* The key=value event log of the server and the worker on stderr, one
 * write(2) per line. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096 /* bytes in one line, newline included */

static atomic_int min_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
    atomic_store(&min_level, (int)level);
}

static size_t format_time(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    size_t n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
    return n;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    char ts[40];
    size_t n;
    int saved = errno;
    int w;
    va_list ap;

    if ((int)level < atomic_load(&min_level))
        return;
    format_time(ts, sizeof(ts));
    w = snprintf(line, sizeof(line), "ts=%s level=%s ", ts, level_names[level]);
    n = w < 0 ? 0 : (size_t)w;
    va_start(ap, fmt);
    w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    if (w > 0)
        n += (size_t)w;
    if (n > sizeof(line) - 1)
        n = sizeof(line) - 1;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0) {
        /* A lost log line must not stop the server. */
    }
    errno = saved;
}

char *log_quote(const char *s, char *buf, size_t len)
{
    size_t o = 0;

    WEIR_ASSERT(len >= 8);
    buf[o++] = '"';
    for (; s != NULL && *s != '\0' && o + 6 < len; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)ch;
        } else if (ch == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
        } else {
            buf[o++] = (char)ch;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}
