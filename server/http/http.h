/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP layer: libmicrohttpd with a thread per connection, a route
 * table (method and path pattern with {name} segments), bodies read up to
 * a limit, JSON replies and JSON error bodies
 * {"error": {"code": "NOT_FOUND", "message": "..."}}.
 *
 * A handler runs in its connection's thread, may block, and must reply
 * exactly once with http_reply_json() or one of the error replies.
 * A 200 reply to a GET carries an ETag, and a request whose If-None-Match
 * names it gets 304 with no body.
 */
#ifndef WEIR_HTTP_H
#define WEIR_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <cJSON.h>

#include "err.h"
#include "http/tls.h"

#define HTTP_BODY_MAX_DEFAULT (1024 * 1024) /* bytes of a request body */
#define HTTP_MAX_PARAMS       4             /* {name} segments in a pattern */

struct http_server;
struct http_req;

/* Handles a matched request; replies before returning. */
typedef void (*http_handler_fn)(struct http_req *req);

/*
 * Decides whether a request on a non-public route may go on (checks its
 * token and role). Returns 0, or a WEIR_E* code with err, which becomes
 * the error reply (WEIR_EAUTH 401, WEIR_EFORBIDDEN 403, ...).
 */
typedef int (*http_auth_fn)(void *app, struct http_req *req,
                            struct weir_err *err);

enum http_route_flags {
    HTTP_PUBLIC = 1u << 0,        /* no token needed */
    HTTP_JSON_BODY = 1u << 1,     /* the body must be JSON; parsed beforehand */
    HTTP_BODY_OPTIONAL = 1u << 2, /* with HTTP_JSON_BODY: may be empty */
    HTTP_ANY_BYTES = 1u << 3,     /* with HTTP_JSON_BODY: strings may hold
                                     bytes that are not UTF-8 (the handler
                                     replaces them); others are refused */
    HTTP_CLIENT_CERT = 1u << 4,   /* with a client CA (mutual TLS): the
                                     connection must carry a client
                                     certificate it signed (403 otherwise),
                                     besides the token */
};

struct http_route {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/api/v1/dags/{id}": literal or {name} segments */
    http_handler_fn fn;  /* what handles it */
    unsigned flags;      /* enum http_route_flags */
    size_t max_body;     /* body limit in bytes; 0 for the default */
    unsigned action;     /* what the route does, for the auth function
                            (api/authz.h); opaque here */
};

struct http_config {
    const struct sockaddr *addr;     /* where to listen */
    socklen_t addr_len;              /* bytes in addr */
    const struct http_route *routes; /* the route table (borrowed) */
    size_t n_routes;                 /* entries in routes */
    http_auth_fn auth;               /* checks non-public routes */
    void *app;                       /* given to auth and handlers */
    unsigned max_connections;        /* 0 for the default (256) */
    unsigned per_client;             /* unauthenticated connections per client
                                        address; 0 for the default (32) */
    const char *trusted_proxy;       /* CIDRs whose X-Forwarded-For is
                                        believed (comma-separated), or NULL */
    struct http_tls *tls;            /* HTTPS with these certificates
                                        (borrowed), or NULL: plain HTTP */
};

/*
 * Listen on cfg->addr and serve in background threads. Returns 0 with *out,
 * or WEIR_EIO with err naming the address and the reason (in use, no
 * permission...), WEIR_EINVAL for a bad cfg->trusted_proxy. The route table and
 * app must outlive the server.
 */
WEIR_MUSTCHECK int http_server_start(const struct http_config *cfg,
                                     struct http_server **out,
                                     struct weir_err *err);

/* The bound address as "host:port" (the real port when 0 was asked). */
const char *http_server_address(const struct http_server *srv);

/* Stop accepting, wait for running handlers, free the server.
 * http_server_stop(NULL) is a no-op. */
void http_server_stop(struct http_server *srv);

/* Accessors; strings are borrowed for the length of the request. */
const char *http_req_method(const struct http_req *req);
const char *http_req_path(const struct http_req *req);
/* The value of {name} in the route's pattern, or NULL. */
const char *http_req_param(const struct http_req *req, const char *name);
/* A query-string argument (decoded), or NULL. */
const char *http_req_query(const struct http_req *req, const char *name);
/* A request header, or NULL. */
const char *http_req_header(const struct http_req *req, const char *name);
/* The parsed body of an HTTP_JSON_BODY route (NULL when an optional body
 * was empty). */
const cJSON *http_req_json(const struct http_req *req);
/* The raw body as received, NUL-terminated, its length into *len (may be
 * NULL); "" when there was none, and on an HTTP_JSON_BODY route once the
 * body is parsed (its text is released then). It may hold NUL bytes:
 * trust *len. */
const char *http_req_body(const struct http_req *req, size_t *len);
/* The action of the matched route (opaque to the HTTP layer). */
unsigned http_req_action(const struct http_req *req);
/* The app pointer of the server's config. */
void *http_req_app(const struct http_req *req);

/*
 * What the auth function learned about the caller, kept on the request so
 * that handlers do not ask again: caller is owned by the request from now
 * on and given to free_fn when the request ends (a caller set before is
 * freed at once).
 */
void http_req_caller_set(struct http_req *req, void *caller,
                         void (*free_fn)(void *));
/* The caller set by the auth function, or NULL (borrowed). */
void *http_req_caller(const struct http_req *req);

/*
 * The one reading of JSON request text (len bytes; it may hold NUL bytes)
 * into a new tree *out, for HTTP_JSON_BODY bodies and for the handlers
 * that read JSON out of a raw body. Text cannot hold NUL (PostgreSQL text
 * cannot, and a decoded C string would be cut short): a \u0000 escape is
 * refused with WEIR_EINVAL naming its line and column, unless replace_nul
 * is set (routes that store whatever a program printed, like log lines),
 * which turns it into U+FFFD in text. Nesting past JSON_DEPTH_MAX,
 * malformed JSON and trailing bytes are refused naming the place.
 */
WEIR_MUSTCHECK int http_json_parse(char *text, size_t len, bool replace_nul,
                                   cJSON **out, struct weir_err *err);

/*
 * Whether the client closed its end of the connection (or it failed),
 * without waiting and without consuming anything: for a handler that
 * blocks (a long-poll), so it can give up early. Safe in thread-per-
 * connection mode, where nothing else reads the socket meanwhile.
 */
bool http_req_gone(struct http_req *req);

/* Reply with status and body (taken: freed here, even on failure). */
void http_reply_json(struct http_req *req, int status, cJSON *body);

/* http_reply_json() of JSON text as it is (a copy): stored JSON passed
 * through without a parse and a print. */
void http_reply_json_text(struct http_req *req, int status, const char *text);

/* Reply with status and a copy of text, sent with Content-Type type. */
void http_reply_text(struct http_req *req, int status, const char *type,
                     const char *text);

/*
 * Reply with status and a copy of len bytes of data, sent with Content-Type
 * type (none when NULL) and extra headers: NULL or a NULL-ended list of
 * name, value pairs (copied). For static files and 304 replies.
 */
void http_reply_bytes(struct http_req *req, int status, const char *type,
                      const void *data, size_t len, const char *const *headers);

/* Reply with the error body for code, its HTTP status, and a message. */
void http_reply_error(struct http_req *req, int code, const char *fmt, ...)
    WEIR_PRINTF(3, 4);

/* http_reply_error() with err's code and message. */
void http_reply_err(struct http_req *req, const struct weir_err *err);

#endif
