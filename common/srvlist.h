/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A list of Weir servers for a worker or the CLI (docs/deploy.md,
 * "Workers and the CLI with several servers"): URLs given one per
 * --server or as a comma list (WEIR_SERVER).
 * The callers use one server and move to the next when it cannot be
 * reached; srvlist_reached() is the one rule of what "reached" means.
 */
#ifndef WEIR_SRVLIST_H
#define WEIR_SRVLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define SRVLIST_MAX     16   /* servers in one list */
#define SRVLIST_URL_MAX 1024 /* bytes of one URL, NUL included */

struct srvlist {
    char url[SRVLIST_MAX][SRVLIST_URL_MAX]; /* without trailing "/" */
    size_t n;                               /* entries in url */
};

/*
 * Add the servers of text, a URL or a comma list of them (spaces around
 * each and trailing "/" are dropped), to l. what names where text came
 * from ("--server", "WEIR_SERVER") for the message. With strict, each
 * must start with http:// or https:// (else the HTTP client refuses
 * other schemes when it is called). Returns 0, or WEIR_EINVAL with err
 * naming the item and what is wrong (empty, not http(s) with strict, too
 * long, more than SRVLIST_MAX); l keeps what it had on failure.
 */
WEIR_MUSTCHECK int srvlist_add(struct srvlist *l, const char *text,
                               const char *what, bool strict,
                               struct weir_err *err);

/*
 * Whether a call to a server reached one that can serve it: an answer (rc
 * 0) of any status but 502, 503 or 504, which say that it (or its
 * database) is unavailable. A call that did not reach its server moves
 * the caller to the next one.
 */
bool srvlist_reached(int rc, long status);

#endif
