/* SPDX-License-Identifier: Apache-2.0 */
/* Error code tables and the weir_err helpers. */
#include "err.h"

#include <stdarg.h>
#include <string.h>

struct errno_entry {
    const char *name; /* code name without the WEIR_E prefix */
    const char *msg;  /* fixed human message */
    int http;         /* HTTP status that reports it */
};

static const struct errno_entry errno_table[] = {
#define WEIR_X_(n, m, h) {#n, m, h},
    WEIR_ERRNO_MAP(WEIR_X_)
#undef WEIR_X_
};

static const struct errno_entry *errno_lookup(int code)
{
    int idx = -1 - code;

    if (code >= 0 || idx >= WEIR_EINDEX_COUNT)
        return NULL;
    return &errno_table[idx];
}

const char *weir_strerror(int code)
{
    const struct errno_entry *e = errno_lookup(code);

    if (code == 0)
        return "success";
    return e ? e->msg : "unknown error";
}

const char *weir_errname(int code)
{
    const struct errno_entry *e = errno_lookup(code);

    if (code == 0)
        return "OK";
    return e ? e->name : "UNKNOWN";
}

int weir_err_http_status(int code)
{
    const struct errno_entry *e = errno_lookup(code);

    if (code == 0)
        return 200;
    return e ? e->http : 500;
}

int weir_err_set(struct weir_err *err, int code, const char *fmt, ...)
{
    char msg[WEIR_ERR_MSG_LEN];
    va_list ap;

    if (err == NULL)
        return code;
    /* formatted apart first: an argument may be err->msg itself, as in
     * weir_err_set(err, code, "\"field\": %s", err->msg) */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    err->code = code;
    memcpy(err->msg, msg, sizeof(msg));
    return code;
}

void weir_err_clear(struct weir_err *err)
{
    if (err == NULL)
        return;
    err->code = 0;
    err->msg[0] = '\0';
}
