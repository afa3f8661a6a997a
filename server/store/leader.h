/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The statements of the leader election (jobs/leader.c) and the epoch
 * fence of every write a leader makes as leader.
 *
 * Election: a connection of its own, outside the pool, holding the
 * session advisory lock (STORE_LOCK_CLASS, STORE_LOCK_LEADER); the winner
 * adds one to the epoch of the `leader` row (migration 0021). The
 * connection's TCP keepalives and user timeout, on both ends, make a lost
 * session end within the leader timeout, which frees the lock.
 *
 * Fence: a thread that does leader work calls store_fence_enter(). From
 * then on, until store_fence_leave(), every transaction it begins
 * (store_begin()) first reads the `leader` row FOR SHARE and checks that
 * the epoch is the one this server won (store_fence_epoch_set()); every
 * statement it runs outside a transaction runs inside one that does the
 * same. The next leader's increment waits for those transactions; a
 * deposed leader's later ones fail with WEIR_ECONFLICT, and
 * store_fence_broken() tells the election thread to step down.
 */
#ifndef WEIR_STORE_LEADER_H
#define WEIR_STORE_LEADER_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store/pool.h"

#define STORE_LEADER_NAME_MAX 128 /* bytes of a server's name and its NUL */

struct store_leader;

/* What the `leader` row says. */
struct store_leader_row {
    int64_t epoch;                    /* the latest leader's epoch */
    char name[STORE_LEADER_NAME_MAX]; /* the latest leader's name */
};

/*
 * Open the election connection to url (a libpq connection string or
 * URL) as application_name app_name, with keepalives and a TCP user
 * timeout such that a session lost for about timeout_s ends on both
 * sides. Returns 0 with *out, or WEIR_EUNAVAIL / WEIR_ENOMEM.
 */
WEIR_MUSTCHECK int store_leader_open(const char *url, const char *app_name,
                                     int timeout_s, struct store_leader **out,
                                     struct weir_err *err);

/* Close it: the lock, if held, is released. NULL is a no-op. */
void store_leader_close(struct store_leader *l);

/*
 * Try the leader lock (it does not wait) and read the row. *won says
 * whether this session holds the lock now. 0, or WEIR_EUNAVAIL when the
 * session is gone (close it).
 */
WEIR_MUSTCHECK int store_leader_try(struct store_leader *l, bool *won,
                                    struct store_leader_row *row,
                                    struct weir_err *err);

/*
 * The new leader's epoch: one more than the last, with name and the time
 * recorded, in one transaction (it waits for the fenced transactions of
 * the previous leader). 0 with *epoch, or a WEIR_E* code.
 */
WEIR_MUSTCHECK int store_leader_bump(struct store_leader *l, const char *name,
                                     int64_t *epoch, struct weir_err *err);

/* The cheap ping of a leader: read the row. 0, or WEIR_EUNAVAIL. */
WEIR_MUSTCHECK int store_leader_read(struct store_leader *l,
                                     struct store_leader_row *row,
                                     struct weir_err *err);

/* Rename the session (application_name app_name) and, when epoch is
 * not 0, the leader of that epoch (name). 0 or a WEIR_E* code. */
WEIR_MUSTCHECK int store_leader_rename(struct store_leader *l,
                                       const char *app_name, const char *name,
                                       int64_t epoch, struct weir_err *err);

/* The epoch this server leads under, 0 when it does not lead. Setting it
 * clears the broken flag. Any thread. */
void store_fence_epoch_set(int64_t epoch);
int64_t store_fence_epoch(void);

/* A fence check failed since the epoch was last set. Any thread. */
bool store_fence_broken(void);

/* The calling thread's statements are leader writes (enter) or no longer
 * are (leave). */
void store_fence_enter(void);
void store_fence_leave(void);

/* For pool.c: BEGIN, then the fence check when the thread is fenced. */
WEIR_MUSTCHECK int store_fence_begin(struct store_conn *c,
                                     struct weir_err *err);

/* For pool.c: the thread is fenced and c is outside a transaction, so a
 * statement must go through store_fence_query(). */
bool store_fence_wraps(struct store_conn *c);

/* For pool.c: one statement in a transaction of its own that first
 * checks the fence; as store_query(). */
WEIR_MUSTCHECK int store_fence_query(struct store_conn *c, const char *sql,
                                     int n, const char *const *params,
                                     PGresult **out, struct weir_err *err);

#endif
