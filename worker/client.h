/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's HTTP client for the worker protocol (docs/architecture.md,
 * "Worker protocol"): JSON POSTs with the bearer token, over the shared
 * HTTP client (common/httpc.h). Calls block, so the worker makes them on
 * libuv's thread pool; a struct client may be used from several threads
 * at once, each call on a connection of its own, kept open for later
 * calls (keep-alive).
 */
#ifndef WEIR_CLIENT_H
#define WEIR_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "err.h"
#include "srvlist.h"

/* The largest answer accepted, in bytes. */
#define CLIENT_ANSWER_MAX ((size_t)16 << 20)

struct client;

/*
 * A client for the servers of the list (e.g. "http://127.0.0.1:8080"; at
 * least one) sending token as "Authorization: Bearer" and the protocol
 * version (common/protocol.h) on every call. Each call goes to the server
 * in use and, while it cannot reach one (srvlist_reached()), on to the
 * next ones in the list's order (wrapping); the first that answers
 * becomes the server in use, logged as event=server_switched. Call
 * httpc_global_init() before the first client. On success *out is a new
 * client for client_free().
 */
WEIR_MUSTCHECK int client_new(const struct srvlist *servers, const char *token,
                              struct client **out, struct weir_err *err);

/* The URL of the server in use (borrowed; for logs). */
const char *client_server(struct client *c);

/* Free the client; client_free(NULL) is a no-op. No call may be running. */
void client_free(struct client *c);

/*
 * POST body (may be NULL: an empty object) as JSON to path on a server and
 * wait at most timeout_ms for the whole exchange. When cancel is not NULL
 * and becomes true (from any thread), the call gives up within a second.
 * On an answer of any status returns 0 with *status set and *answer the
 * parsed JSON body (or NULL when the body was empty or not JSON), for the
 * caller to delete. age_ms (may be NULL) gets how many ms before the
 * return the host received the answer's last bytes (-1 when it cannot
 * tell): a thread that was not running (a stopped process) reads an
 * answer late, and this says how late. On a transport failure or a cancel
 * returns WEIR_EUNAVAIL with err filled.
 */
WEIR_MUSTCHECK int client_post(struct client *c, const char *path,
                               const cJSON *body, long timeout_ms,
                               const atomic_bool *cancel, long *status,
                               cJSON **answer, int64_t *age_ms,
                               struct weir_err *err);

/*
 * GET path on a server (a health probe) within timeout_ms; the body is
 * read and dropped. Returns 0 with *status set, or WEIR_EUNAVAIL.
 */
WEIR_MUSTCHECK int client_get(struct client *c, const char *path,
                              long timeout_ms, long *status,
                              struct weir_err *err);

#endif
