/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who may hold a connection. libmicrohttpd gives every connection a
 * thread, so idle connections are what a client can exhaust; this module
 * keeps track of each one and decides at accept time:
 *
 * - A connection is unauthenticated until one of its requests passes the
 *   token check; from then on it is exempt from the limits below.
 * - One client address holds at most per_client unauthenticated
 *   connections (behind a trusted proxy the address is the last one of
 *   X-Forwarded-For, checked when the request's headers are in). Past
 *   that, up to three caps more are accepted on probation, so that a
 *   burst of new connections that each carry a token (a script sending
 *   64 triggers at once) is served: each must authenticate on its first
 *   request within 2 s (a public route gets 429), and is cut off after.
 *   Past four caps, a connection is closed at accept.
 * - Unauthenticated connections together hold at most max - reserve; the
 *   reserve is kept for authenticated callers (workers, the dashboard's
 *   API calls): a connection accepted into it must authenticate on its
 *   first request, within a shorter deadline.
 * - An unauthenticated connection has header_s to send a request's line
 *   and headers (from accept, or from the end of its previous request),
 *   however slowly it trickles them; a watchdog thread cuts it off after.
 *
 * The watchdog shuts down its own duplicate of the socket, so a
 * descriptor number reused after libmicrohttpd closes the connection is
 * never touched.
 */
#ifndef WEIR_HTTP_GUARD_H
#define WEIR_HTTP_GUARD_H

#include <stdbool.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "err.h"

#define HTTP_GUARD_PER_CLIENT_DEFAULT 32  /* unauthenticated, per address */
#define HTTP_GUARD_HEADER_S           5   /* request line and headers, s */
#define HTTP_GUARD_TICK_MS            200 /* how often the watchdog looks */
#define HTTP_GUARD_REQUEST_S          60  /* a public request's body, s */

struct http_guard;
struct http_guard_conn;

struct http_guard_config {
    unsigned max_connections; /* libmicrohttpd's limit */
    unsigned per_client;      /* 0 for the default */
    const char *trusted;      /* CIDRs of proxies, comma-separated, or NULL */
};

/* A new guard and its watchdog thread. WEIR_EINVAL with err naming the
 * bad CIDR of cfg->trusted. */
WEIR_MUSTCHECK int http_guard_new(const struct http_guard_config *cfg,
                                  struct http_guard **out,
                                  struct weir_err *err);

/* Whether list is a valid --trusted-proxy value: 0, or WEIR_EINVAL with
 * err naming the bad entry. */
WEIR_MUSTCHECK int http_guard_proxies_check(const char *list,
                                            struct weir_err *err);

/* Stop the watchdog and free g (after the daemon has stopped); NULL is a
 * no-op. */
void http_guard_free(struct http_guard *g);

/* libmicrohttpd's accept policy (cls is the guard). */
enum MHD_Result http_guard_accept_cb(void *cls, const struct sockaddr *addr,
                                     socklen_t addrlen);

/* libmicrohttpd's connection notification (cls is the guard). */
void http_guard_notify_cb(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe);

/* The guard's record of conn, or NULL. */
struct http_guard_conn *http_guard_conn_get(struct MHD_Connection *conn);

/*
 * A request's headers are in. Behind a trusted proxy the client address
 * is taken from xff (X-Forwarded-For, may be NULL). Returns 0, or the
 * HTTP status to refuse the request with (503 for a connection of the
 * reserve on a public route, 429 for a forwarded client over its cap),
 * err->msg saying why.
 */
WEIR_MUSTCHECK int http_guard_request(struct http_guard *g,
                                      struct http_guard_conn *gc,
                                      const char *xff, bool public_route,
                                      struct weir_err *err);

/* A request on gc passed the token check: gc is exempt from now on. */
void http_guard_authenticated(struct http_guard *g, struct http_guard_conn *gc);

/* A request on gc ended: the next one's headers are due. */
void http_guard_request_done(struct http_guard *g, struct http_guard_conn *gc);

#endif
