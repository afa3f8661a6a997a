/* SPDX-License-Identifier: Apache-2.0 */
/* The worker protocol's version: reading and checking it (protocol.h). */
#include "protocol.h"

#include <errno.h>
#include <stdlib.h>

int protocol_parse(const char *text, long *major, struct weir_err *err)
{
    char *end = NULL;
    long v;

    if (text == NULL) {
        *major = WEIR_PROTOCOL_IMPLIED;
        return 0;
    }
    errno = 0;
    v = text[0] >= '0' && text[0] <= '9' ? strtol(text, &end, 10) : -1;
    if (v >= 1 && errno == 0 && end != NULL && *end == '.') {
        const char *minor = end + 1;

        if (*minor < '0' || *minor > '9')
            v = -1;
        else
            (void)strtol(minor, &end, 10);
    }
    if (v < 1 || errno != 0 || end == NULL || *end != '\0')
        return weir_err_set(err, WEIR_EINVAL,
                            "the %s header must be MAJOR or MAJOR.MINOR "
                            "(e.g. \"%d\"), got \"%.40s\"",
                            WEIR_PROTOCOL_HEADER, WEIR_PROTOCOL_MAJOR, text);
    *major = v;
    return 0;
}

int protocol_check(const char *text, struct weir_err *err)
{
    long major = 0;
    int rc = protocol_parse(text, &major, err);

    if (rc < 0)
        return rc;
    if (major > WEIR_PROTOCOL_MAJOR)
        return weir_err_set(
            err, WEIR_EPROTOCOL,
            "the worker speaks protocol version %ld, this server only %d: "
            "upgrade the servers before the workers (or run a worker of "
            "protocol %d)",
            major, WEIR_PROTOCOL_MAJOR, WEIR_PROTOCOL_MAJOR);
    return 0;
}
