/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The listen connection: one libpq session of its own (not from the pool)
 * that LISTENs on the channels by which servers sharing a database tell
 * each other of their commits, and sends their NOTIFYs. Connecting is
 * non-blocking (the caller waits on the socket), so a thread that owns
 * the connection can also wait for its own requests and for a stop.
 *
 * Channels: STORE_CHAN_WAKE (no payload) says a commit made tasks
 * claimable or a cancel effective; STORE_CHAN_DAG (payload: a DAG id, or
 * empty for several) says DAGs were paused, unpaused, added, changed or
 * deleted through the API.
 */
#ifndef WEIR_STORE_LISTEN_H
#define WEIR_STORE_LISTEN_H

#include <stdbool.h>

#include "err.h"

#define STORE_CHAN_WAKE "weir_wake" /* work or a cancel was committed */
#define STORE_CHAN_DAG  "weir_dag"  /* DAGs changed through the API */

struct store_listen;

/* What store_listen_read() hands over: one notification of another
 * session (a server's own are skipped). Both strings are borrowed. */
typedef void (*store_listen_fn)(const char *channel, const char *payload,
                                void *arg);

/*
 * Connect to the database at url (a libpq connection string or URL) with
 * application_name app (it overrides the URL's, so the session can be
 * told apart in pg_stat_activity) and LISTEN on both channels. Blocks
 * while connecting: libpq tries each host of a multi-host URL in turn,
 * giving each connect_timeout (5 s unless the URL says otherwise), which
 * is how it gets past a host that vanished without an answer. Returns 0
 * with *out; WEIR_ENOMEM, or WEIR_EUNAVAIL when no session could be had
 * or the LISTEN failed (err says why).
 */
WEIR_MUSTCHECK int store_listen_open(const char *url, const char *app,
                                     struct store_listen **out,
                                     struct weir_err *err);

/* The backend pid of the session once connected (0 before): how to find
 * it in pg_stat_activity. */
int store_listen_pid(const struct store_listen *l);

/* The socket to wait on for notifications; -1 if none. */
int store_listen_socket(const struct store_listen *l);

/*
 * Send one notification on channel with payload (at most 7999 bytes),
 * waiting for the answer. Returns 0, or WEIR_EUNAVAIL when the session
 * failed. Notifications that arrive meanwhile wait for
 * store_listen_read().
 */
WEIR_MUSTCHECK int store_listen_notify(struct store_listen *l,
                                       const char *channel, const char *payload,
                                       struct weir_err *err);

/*
 * Read what the socket has (without waiting) and call fn for each
 * notification received from another session. Returns the number of
 * notifications handed over, or WEIR_EUNAVAIL when the session is gone.
 */
WEIR_MUSTCHECK int store_listen_read(struct store_listen *l, store_listen_fn fn,
                                     void *arg, struct weir_err *err);

/* Close the session and free it; NULL is a no-op. */
void store_listen_close(struct store_listen *l);

#endif
