/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Line stamper for the benchmarks: copies standard input to standard
 * output, each line prefixed with the wall-clock time (CLOCK_REALTIME, in
 * nanoseconds) at which the read(2) that completed it returned:
 *   PROGRAM 2>&1 | bench_stamp > FILE
 * A process's own log times have millisecond resolution; stamping its
 * lines as they arrive on a pipe gives microsecond ones, on the same clock
 * for every process stamped this way. Output is flushed after each read,
 * so a reader of FILE sees lines as soon as they are stamped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK    65536 /* bytes of one read */
#define LINE_MAX 8192  /* longer lines are split */

static long long now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void)
{
    static char in[CHUNK];
    static char line[LINE_MAX + 1];
    size_t used = 0;
    ssize_t n;

    for (;;) {
        long long t;

        n = read(STDIN_FILENO, in, sizeof(in));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        t = now_ns();
        for (ssize_t i = 0; i < n; i++) {
            if (in[i] != '\n' && used < LINE_MAX) {
                line[used++] = in[i];
                continue;
            }
            line[used] = '\0';
            printf("%lld %s\n", t, line);
            used = 0;
            if (in[i] != '\n')
                line[used++] = in[i];
        }
        fflush(stdout);
    }
    if (used > 0) {
        line[used] = '\0';
        printf("%lld %s\n", now_ns(), line);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
