/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one HTTP client of Weir (libcurl), shared by the worker's protocol
 * client, the CLI and the server's notifications: a base URL, the headers
 * every call sends (JSON, the bearer token), timeouts, and calls that
 * return the status and the answer's bytes. This module is the only one
 * that includes <curl/curl.h>; it is a library of its own (weir_httpc),
 * so that what does not talk HTTP (the fuzz targets) does not link curl.
 *
 * Design. An httpc may be used from several threads at once: each call
 * borrows an easy handle from the client's pool of idle ones (a handle
 * keeps its connection open between calls) and gives it back after, so a
 * caller makes a new connection only when more of its calls run at once
 * than ever before. libcurl cannot share one connection cache between
 * threads, so the pool shares handles instead. A handle whose call failed
 * is closed with its connection. With idle_max 0 every call has a handle
 * and a connection of its own, closed after it.
 */
#ifndef WEIR_HTTPC_H
#define WEIR_HTTPC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define HTTPC_IDLE_MAX 32 /* the largest idle_max */

/* How a client talks; every field may be 0 / NULL for libcurl's default. */
struct httpc_opts {
    const char *base_url;    /* prefix of every path ("" or NULL: none) */
    const char *token;       /* sent as "Authorization: Bearer"; or NULL */
    const char *user_agent;  /* the User-Agent header, or NULL for none */
    const char *protocols;   /* allowed schemes; NULL: "http,https" */
    long connect_timeout_ms; /* to connect, within the call's timeout */
    size_t answer_max;       /* bytes kept of an answer; 0: read, dropped */
    size_t idle_max;         /* connections kept open, at most IDLE_MAX */
    const char *header;      /* one more header of every call, "Name: value"
                                (the worker's protocol version), or NULL */
    const char *body_type;   /* Content-Type of the bodies sent; NULL:
                                application/json (OIDC's token endpoint
                                takes a form) */
};

/* One call. */
struct httpc_req {
    const char *method;        /* "GET", "POST", "DELETE", ... */
    const char *path;          /* appended to the base URL */
    const char *body;          /* sent as it is (JSON), or NULL for none */
    long timeout_ms;           /* the whole exchange; 0: no limit */
    const atomic_bool *cancel; /* true (from any thread): give up within a
                                  second; or NULL */
};

/* What came back. */
struct httpc_answer {
    long status;    /* the HTTP status */
    char *body;     /* the bytes, NUL-terminated, or NULL when empty or
                       dropped; the caller frees it with free() */
    size_t len;     /* bytes in body */
    int64_t age_ms; /* how many ms before the return the host received the
                       answer's last bytes (TCP_INFO); -1 when unknown */
    bool unsent;    /* set on WEIR_EUNAVAIL when no byte of the request went
                       out (no connection, a failed handshake): the server
                       cannot have acted on it */
};

struct httpc;

/*
 * Set up libcurl for the process: once, before any thread makes a call
 * (libcurl's global init is not thread-safe). Returns 0 or
 * WEIR_EINTERNAL with err filled. Each successful call is paired with
 * httpc_global_cleanup().
 */
WEIR_MUSTCHECK int httpc_global_init(struct weir_err *err);

/* Undo one httpc_global_init(); no call may be running. */
void httpc_global_cleanup(void);

/* The TLS files of a process's clients (the worker's and the CLI's). */
struct httpc_tls {
    const char *ca_file;     /* PEM CA certificates trusted instead of the
                                system's, or NULL for the system's */
    const char *client_cert; /* PEM certificate presented to a server that
                                asks for one (mutual TLS), or NULL */
    const char *client_key;  /* its PEM private key, unencrypted; with
                                client_cert */
};

/*
 * Use tls for every call of every client of the process from now on
 * (the paths are copied; libcurl reads the files at each new
 * connection). Called once, before the first call (before or after
 * httpc_global_init(); httpc_global_cleanup() forgets it). The files are
 * checked here, so that a bad one is said at start: returns 0, or
 * WEIR_EINVAL with err naming the file and what is wrong (unreadable, not
 * PEM, a key that does not match the certificate, one of the pair
 * missing).
 */
WEIR_MUSTCHECK int httpc_tls_set(const struct httpc_tls *tls,
                                 struct weir_err *err);

/*
 * A new client with the options o (the strings are copied; a trailing "/"
 * of base_url is dropped). Returns 0 with *out for httpc_free(), or
 * WEIR_ENOMEM with err filled.
 */
WEIR_MUSTCHECK int httpc_new(const struct httpc_opts *o, struct httpc **out,
                             struct weir_err *err);

/* Free the client (the token is wiped); httpc_free(NULL) is a no-op. No
 * call may be running. */
void httpc_free(struct httpc *c);

/* The base URL, without a trailing "/" (borrowed). */
const char *httpc_base_url(const struct httpc *c);

/*
 * Make one call and wait for its answer. On an answer of any status
 * returns 0 with *ans filled (its body for the caller to free). On a
 * transport failure, a timeout, a cancel or an answer longer than
 * answer_max returns WEIR_EUNAVAIL with err saying why (libcurl's words;
 * the caller adds which call it was), and *ans holds nothing to free
 * but says in ans->unsent whether the request went out (the caller
 * zeroes *ans before); WEIR_ENOMEM or WEIR_EINTERNAL when the call could not be
 * made.
 */
WEIR_MUSTCHECK int httpc_call(struct httpc *c, const struct httpc_req *req,
                              struct httpc_answer *ans, struct weir_err *err);

#endif
