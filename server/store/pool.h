/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server's PostgreSQL connections: a small pool of libpq connections
 * that threads borrow for the length of a request, the database-wide
 * statements (ping, migrations) and transactions that span several table
 * calls.
 *
 * A thread borrows a connection with store_conn_get() and gives it back
 * with store_conn_put(). A connection that broke (PostgreSQL restarted,
 * network gone) is reset by its next borrower; while the database cannot
 * be reached, calls fail with WEIR_EUNAVAIL, which the HTTP layer reports
 * as 503.
 */
#ifndef WEIR_STORE_POOL_H
#define WEIR_STORE_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define STORE_ID_MAX 72 /* bytes for a DAG or step id and its NUL */

struct store;
struct store_conn;

/* The first line of a libpq message (src may be NULL), without its
 * newline, into dst of len bytes: what the log and errors quote. */
void store_first_line(char *dst, size_t len, const char *src);

/*
 * A pool of `size` connections to the database at url (a libpq connection
 * string or URL; several hosts for failover). Connections are opened by
 * their first borrower, so this does not touch the network. Returns 0
 * with *out, WEIR_EINVAL when libpq cannot parse url (err says why, never
 * with the password), or WEIR_ENOMEM.
 */
WEIR_MUSTCHECK int store_new(const char *url, int size, struct store **out,
                             struct weir_err *err);

/* Close every connection and free the pool; every connection must have
 * been given back. store_free(NULL) is a no-op. */
void store_free(struct store *s);

/*
 * Borrow a connection, waiting up to 10 s for one to be free, and connect
 * or reset it when needed. Returns 0 with *out, or WEIR_EUNAVAIL with err
 * saying why (no free connection, or the database cannot be reached).
 */
WEIR_MUSTCHECK int store_conn_get(struct store *s, struct store_conn **out,
                                  struct weir_err *err);

/* Give a borrowed connection back; an open transaction is rolled back.
 * store_conn_put(NULL) is a no-op. */
void store_conn_put(struct store_conn *c);

/*
 * Close c's session when it is given back (the next borrower opens a new
 * one). libpq grows a connection's buffers to the largest message it
 * sent or received and never shrinks them: after a statement of
 * megabytes, this returns that memory.
 */
void store_conn_recycle(struct store_conn *c);

/*
 * How many times a statement found the database gone since the start. A
 * change tells that requests (heartbeats among them) failed meanwhile.
 */
unsigned store_outages(struct store *s);

/* A round trip to the database: 0, or WEIR_EUNAVAIL. */
WEIR_MUSTCHECK int store_ping(struct store_conn *c, struct weir_err *err);

/*
 * Apply every compiled-in migration that the database has not recorded in
 * schema_migrations, in order, each in its own transaction under an
 * advisory lock, so that several servers starting at once apply each
 * migration once. *applied (may be NULL) gets how many were applied.
 */
WEIR_MUSTCHECK int store_migrate(struct store_conn *c, int *applied,
                                 struct weir_err *err);

/*
 * Transactions for modules that run several store calls as one unit: the
 * engine. A transaction left open is rolled back by store_conn_put().
 */
WEIR_MUSTCHECK int store_tx_begin(struct store_conn *c, struct weir_err *err);
WEIR_MUSTCHECK int store_tx_commit(struct store_conn *c, struct weir_err *err);
void store_tx_rollback(struct store_conn *c);
/* A savepoint `name` (an identifier: letters, digits, _) in the open
 * transaction; undo what followed it, or keep it and forget the name. A
 * failed statement leaves the transaction usable again once rolled back
 * to a savepoint taken before it. */
WEIR_MUSTCHECK int store_tx_savepoint(struct store_conn *c, const char *name,
                                      struct weir_err *err);
WEIR_MUSTCHECK int store_tx_rollback_to(struct store_conn *c, const char *name,
                                        struct weir_err *err);
WEIR_MUSTCHECK int store_tx_release(struct store_conn *c, const char *name,
                                    struct weir_err *err);

#endif
