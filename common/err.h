/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error codes and the error detail a caller passes down. Every fallible
 * function returns 0 or a negative WEIR_E* code; detail goes into a
 * caller-provided struct weir_err, filled where the failure happens.
 */
#ifndef WEIR_ERR_H
#define WEIR_ERR_H

#define WEIR_ERR_MSG_LEN 256 /* bytes of a message, NUL included */

#include "weir.h"

/* name, message, HTTP status */
#define WEIR_ERRNO_MAP(X)                                                      \
    X(NOMEM, "out of memory", 500)                                             \
    X(INVAL, "invalid input", 400)                                             \
    X(PARSE, "cannot parse input", 400)                                        \
    X(NOTFOUND, "not found", 404)                                              \
    X(EXISTS, "already exists", 409)                                           \
    X(IO, "input/output error", 500)                                           \
    X(TOOBIG, "input too large", 413)                                          \
    X(RANGE, "value out of range", 400)                                        \
    X(NEVER, "schedule never fires", 400)                                      \
    X(TYPE, "wrong type", 400)                                                 \
    X(CONFLICT, "conflict with current state", 409)                            \
    X(AUTH, "authentication required", 401)                                    \
    X(FORBIDDEN, "not allowed", 403)                                           \
    X(UNAVAIL, "service unavailable", 503)                                     \
    X(INTERNAL, "internal error", 500)                                         \
    X(PROTOCOL, "unsupported protocol version", 400)

enum weir_errno_index {
#define WEIR_X_(name, msg, http) WEIR_EINDEX_##name,
    WEIR_ERRNO_MAP(WEIR_X_)
#undef WEIR_X_
        WEIR_EINDEX_COUNT /* number of codes */
};

enum weir_errno {
    WEIR_OK = 0, /* success */
#define WEIR_X_(name, msg, http) WEIR_E##name = -1 - WEIR_EINDEX_##name,
    WEIR_ERRNO_MAP(WEIR_X_)
#undef WEIR_X_
};

/* Detail of one failure; msg is always NUL-terminated. */
struct weir_err {
    int code;                   /* a WEIR_E* code, 0 when nothing failed */
    char msg[WEIR_ERR_MSG_LEN]; /* what went wrong, where, and what was
                                   expected */
};

/* The fixed message of a code ("unknown error" for a code not in the map). */
const char *weir_strerror(int code);

/* The code's name without prefix, e.g. "NOTFOUND", for JSON error bodies. */
const char *weir_errname(int code);

/* The HTTP status that reports this code (500 for an unknown code). */
int weir_err_http_status(int code);

/*
 * Fill err (which may be NULL) with code and a formatted message, and return
 * code so that callers can write `return weir_err_set(err, ...)`. An
 * argument may point into err->msg (to prefix a message). Does not
 * allocate.
 */
int weir_err_set(struct weir_err *err, int code, const char *fmt, ...)
    WEIR_PRINTF(3, 4);

/* Clear err to "no error". */
void weir_err_clear(struct weir_err *err);

#endif
