/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Project-wide macros: compiler checks on fallible functions and format
 * strings, and the assertion that turns a bug into an abort with a place.
 */
#ifndef WEIR_H
#define WEIR_H

#include <stdio.h>
#include <stdlib.h>

/* The result of this function must be looked at. */
#define WEIR_MUSTCHECK __attribute__((warn_unused_result))
/* Argument n is a printf format whose arguments start at m. */
#define WEIR_PRINTF(n, m) __attribute__((format(printf, n, m)))

#define WEIR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Bytes of a buffer for WEIR_I64: "-9223372036854775808" and its NUL. */
#define WEIR_I64_LEN 24
/* Write integer v in decimal into char array buf (WEIR_I64_LEN bytes),
 * as a statement parameter or a log field. */
#define WEIR_I64(buf, v) snprintf(buf, sizeof(buf), "%lld", (long long)(v))

/* A broken invariant is a bug, not an error: abort with file and line. */
#define WEIR_ASSERT(cond)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif
