/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The version of the worker protocol (docs/architecture.md, "Worker
 * protocol"). A worker sends it on every call in the Weir-Protocol header
 * as "MAJOR" or "MAJOR.MINOR"; a server refuses a worker of a newer major
 * (WEIR_EPROTOCOL, naming both versions) and takes a call without the
 * header as major 1, so that workers older than the header keep working.
 * A change a server of the same major cannot serve bumps the major;
 * servers are upgraded before workers (docs/deploy.md).
 */
#ifndef WEIR_PROTOCOL_H
#define WEIR_PROTOCOL_H

#include "err.h"

#define WEIR_PROTOCOL_MAJOR   1               /* this build's protocol */
#define WEIR_PROTOCOL_HEADER  "Weir-Protocol" /* the header that carries it */
#define WEIR_PROTOCOL_IMPLIED 1 /* the major of a call without the header */

/*
 * The major version in the header value text ("2", "2.1"; NULL or absent:
 * WEIR_PROTOCOL_IMPLIED) into *major. Returns 0, or WEIR_EINVAL with err
 * saying what the header must hold.
 */
WEIR_MUSTCHECK int protocol_parse(const char *text, long *major,
                                  struct weir_err *err);

/*
 * Whether a caller speaking the protocol of header value text may be
 * served by this build: 0, or WEIR_EPROTOCOL with err naming both
 * versions and what to do (WEIR_EINVAL for a malformed value).
 */
WEIR_MUSTCHECK int protocol_check(const char *text, struct weir_err *err);

#endif
