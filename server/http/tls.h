/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server's TLS material (GnuTLS, which libmicrohttpd uses): its
 * certificate chain and private key, read from files at start and again
 * on reload (SIGHUP), and the CA whose client certificates the worker
 * routes require (mutual TLS, optional).
 *
 * Design. libmicrohttpd asks for the certificate at every handshake
 * through a GnuTLS retrieve callback, which carries no user pointer: the
 * pair in use is held by the one struct http_tls of the process and
 * swapped under a mutex. A handshake may still use the pair it was given
 * when a reload replaces it, so replaced pairs are freed only with the
 * struct (a few kilobytes each; a reload is an operator's act).
 */
#ifndef WEIR_HTTP_TLS_H
#define WEIR_HTTP_TLS_H

#include <stdbool.h>

#include "err.h"

struct http_tls;

/*
 * Read the certificate chain of cert_file and the private key of
 * key_file (PEM), and the CA certificates of client_ca_file (PEM) when it
 * is not NULL. Returns 0 with *out for http_tls_free(), or WEIR_EINVAL
 * with err naming the file (by its flag, --tls-cert, --tls-key or
 * --client-ca) and what is wrong with it: unreadable, not PEM, expired, a
 * key that does not match the certificate. Only one may exist at a time
 * (the handshake callback finds it without a pointer). The paths are
 * copied, for http_tls_reload().
 */
WEIR_MUSTCHECK int http_tls_new(const char *cert_file, const char *key_file,
                                const char *client_ca_file,
                                struct http_tls **out, struct weir_err *err);

/*
 * Read the certificate and key files again and serve the new pair from
 * the next handshake on. On failure (WEIR_EINVAL with err as for
 * http_tls_new()) the pair in use stays. The client CA is read only at
 * start. Safe while the server runs.
 */
WEIR_MUSTCHECK int http_tls_reload(struct http_tls *t, struct weir_err *err);

/* Free everything; http_tls_free(NULL) is a no-op. The HTTP server that
 * used it must be stopped. */
void http_tls_free(struct http_tls *t);

/* The client CA as PEM text, for libmicrohttpd's trust option (borrowed),
 * or NULL when no client certificate is asked for. */
const char *http_tls_client_ca(const struct http_tls *t);

/* The GnuTLS certificate retrieve callback to give libmicrohttpd
 * (a gnutls_certificate_retrieve_function2 *, typed void * here so that
 * this header needs no GnuTLS include). */
void *http_tls_cert_cb(void);

/*
 * Whether the peer of session (a gnutls_session_t of an accepted
 * connection, or NULL for plain HTTP) presented a certificate that a CA
 * of the client CA signed and that is valid now. Returns 0, or
 * WEIR_EFORBIDDEN with err saying in general terms what was missing; the
 * detail (GnuTLS's verdict) is logged with peer, the client's address.
 */
WEIR_MUSTCHECK int http_tls_peer_check(void *session, const char *peer,
                                       struct weir_err *err);

#endif
