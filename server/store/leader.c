/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The leader election's connection and statements, and the epoch fence
 * (see leader.h for the rules).
 *
 * The fence state is process-wide (the epoch won, atomics) and per thread
 * (whether the thread does leader work, and whether it is inside the
 * fence's own statements, so that they are not fenced again).
 */
#include "store/leader.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/query.h"

#define XSTR(x) #x
#define STR(x)  XSTR(x)

/* The election's own session. */
struct store_leader {
    PGconn *pg; /* connected, or the attempt that failed */
};

static _Atomic int64_t fence_epoch; /* the epoch won; 0: not leading */
static _Atomic bool fence_broken;   /* a check failed under fence_epoch */
static _Thread_local bool fenced;   /* this thread does leader work */
static _Thread_local bool in_fence; /* inside the fence's own statements */

static int conn_error(struct store_leader *l, const PGresult *r,
                      struct weir_err *err)
{
    char msg[200];

    store_first_line(msg, sizeof(msg),
                     r != NULL ? PQresultErrorMessage(r)
                               : PQerrorMessage(l->pg));
    return weir_err_set(err, WEIR_EUNAVAIL, "leader session: %s", msg);
}

/* One statement on the election connection; *out gets a result with
 * rows (the caller clears it) or stays NULL when out is NULL. */
static int leader_exec(struct store_leader *l, const char *sql, int n,
                       const char *const *params, PGresult **out,
                       struct weir_err *err)
{
    PGresult *r = PQexecParams(l->pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = 0;

    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        rc = conn_error(l, r, err);
    if (rc == 0 && out != NULL) {
        *out = r;
        return 0;
    }
    PQclear(r);
    return rc;
}

int store_leader_open(const char *url, const char *app_name, int timeout_s,
                      struct store_leader **out, struct weir_err *err)
{
    /* Dead after idle + count * interval s without an answer; data not
     * acknowledged within the user timeout ends it too. */
    char count[16], user_ms[16], connect_s[16];
    /* read-write, as the pool's sessions (the URL may say otherwise): a
     * standby grants the advisory lock but refuses the epoch's UPDATE */
    const struct store_session_opts o = {app_name, connect_s, "1",
                                         "1",      count,     user_ms};
    const char *params[2];
    struct store_leader *l = calloc(1, sizeof(*l));
    int rc;

    if (l == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    /* About timeout_s - 2 s in all (1 s idle, then one probe a second),
     * so that the next leader's round and increment fit in the rest. */
    snprintf(count, sizeof(count), "%d", timeout_s > 4 ? timeout_s - 3 : 1);
    snprintf(user_ms, sizeof(user_ms), "%d",
             (timeout_s > 3 ? timeout_s - 2 : 1) * 1000);
    snprintf(connect_s, sizeof(connect_s), "%d", timeout_s);
    l->pg = store_session_open(url, &o);
    if (l->pg == NULL) {
        free(l);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    rc = PQstatus(l->pg) == CONNECTION_OK ? 0 : conn_error(l, NULL, err);
    /* The same on the server's side, so that PostgreSQL ends the session
     * (and frees the lock) of a leader it no longer hears. */
    params[0] = count;
    params[1] = user_ms;
    if (rc == 0)
        rc = leader_exec(l,
                         "SELECT set_config('tcp_keepalives_idle', '1', false),"
                         " set_config('tcp_keepalives_interval', '1', false),"
                         " set_config('tcp_keepalives_count', $1, false),"
                         " set_config('tcp_user_timeout', $2, false)",
                         2, params, NULL, err);
    if (rc < 0) {
        store_leader_close(l);
        return rc;
    }
    *out = l;
    return 0;
}

void store_leader_close(struct store_leader *l)
{
    if (l == NULL)
        return;
    PQfinish(l->pg);
    free(l);
}

static void row_read(const PGresult *r, int col, struct store_leader_row *row)
{
    row->epoch = store_val_i64(r, 0, col);
    snprintf(row->name, sizeof(row->name), "%s", PQgetvalue(r, 0, col + 1));
}

int store_leader_try(struct store_leader *l, bool *won,
                     struct store_leader_row *row, struct weir_err *err)
{
    PGresult *r = NULL;
    int rc = leader_exec(
        l,
        "SELECT pg_try_advisory_lock(" STR(STORE_LOCK_CLASS) ", " STR(
            STORE_LOCK_LEADER) "), epoch, name"
                               " FROM leader WHERE id = 1",
        0, NULL, &r, err);

    if (rc == 0 && PQntuples(r) != 1)
        rc = weir_err_set(err, WEIR_EINTERNAL, "the leader row is missing");
    if (rc == 0) {
        *won = PQgetvalue(r, 0, 0)[0] == 't';
        row_read(r, 1, row);
    }
    PQclear(r);
    return rc;
}

int store_leader_bump(struct store_leader *l, const char *name, int64_t *epoch,
                      struct weir_err *err)
{
    const char *params[1] = {name};
    PGresult *r = NULL;
    int rc = leader_exec(l,
                         "UPDATE leader SET epoch = epoch + 1, name = $1,"
                         " since = now() WHERE id = 1 RETURNING epoch",
                         1, params, &r, err);

    if (rc == 0 && PQntuples(r) != 1)
        rc = weir_err_set(err, WEIR_EINTERNAL, "the leader row is missing");
    if (rc == 0)
        *epoch = store_val_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

int store_leader_read(struct store_leader *l, struct store_leader_row *row,
                      struct weir_err *err)
{
    PGresult *r = NULL;
    int rc = leader_exec(l, "SELECT epoch, name FROM leader WHERE id = 1", 0,
                         NULL, &r, err);

    if (rc == 0 && PQntuples(r) != 1)
        rc = weir_err_set(err, WEIR_EINTERNAL, "the leader row is missing");
    if (rc == 0)
        row_read(r, 0, row);
    PQclear(r);
    return rc;
}

int store_leader_rename(struct store_leader *l, const char *app_name,
                        const char *name, int64_t epoch, struct weir_err *err)
{
    char eb[WEIR_I64_LEN];
    const char *params[2] = {name, eb};
    int rc;

    WEIR_I64(eb, epoch);
    rc = leader_exec(l, "SELECT set_config('application_name', $1, false)", 1,
                     &app_name, NULL, err);
    if (rc == 0 && epoch != 0)
        rc = leader_exec(l, "UPDATE leader SET name = $1 WHERE epoch = $2", 2,
                         params, NULL, err);
    return rc;
}

/* ---- the fence ---- */

void store_fence_epoch_set(int64_t epoch)
{
    atomic_store(&fence_epoch, epoch);
    atomic_store(&fence_broken, false);
}

int64_t store_fence_epoch(void)
{
    return atomic_load(&fence_epoch);
}

bool store_fence_broken(void)
{
    return atomic_load(&fence_broken);
}

void store_fence_enter(void)
{
    fenced = true;
}

void store_fence_leave(void)
{
    fenced = false;
}

/* In the open transaction: the leader row FOR SHARE, its epoch ours. */
static int fence_check(struct store_conn *c, struct weir_err *err)
{
    int64_t mine = atomic_load(&fence_epoch), now = 0;
    PGresult *r = NULL;
    int rc;

    if (mine == 0) /* stepped down: a chore ending its last round */
        return weir_err_set(err, WEIR_ECONFLICT,
                            "this server is not the leader");
    rc = store_query(c, "SELECT epoch FROM leader WHERE id = 1 FOR SHARE", 0,
                     NULL, &r, err);
    if (rc == 0 && PQntuples(r) == 1)
        now = store_val_i64(r, 0, 0);
    PQclear(r);
    if (rc < 0 || now == mine)
        return rc;
    if (!atomic_exchange(&fence_broken, true))
        log_warn("event=leader_fenced epoch=%lld now=%lld", (long long)mine,
                 (long long)now);
    return weir_err_set(err, WEIR_ECONFLICT,
                        "this server is not the leader any more (epoch "
                        "%lld, now %lld)",
                        (long long)mine, (long long)now);
}

int store_fence_begin(struct store_conn *c, struct weir_err *err)
{
    int rc;

    in_fence = true;
    rc = store_cmd(c, "BEGIN", 0, NULL, err);
    /* A failed check leaves the transaction open: the caller's error
     * path rolls it back, as after any failed statement of its own. */
    if (rc == 0 && fenced)
        rc = fence_check(c, err);
    in_fence = false;
    return rc;
}

bool store_fence_wraps(struct store_conn *c)
{
    return fenced && !in_fence && !store_in_tx(c);
}

int store_fence_query(struct store_conn *c, const char *sql, int n,
                      const char *const *params, PGresult **out,
                      struct weir_err *err)
{
    PGresult *r = NULL;
    int rc = store_fence_begin(c, err);

    in_fence = true;
    if (rc == 0)
        rc = store_query(c, sql, n, params, &r, err);
    if (rc == 0)
        rc = store_cmd(c, "COMMIT", 0, NULL, err);
    if (rc < 0 && store_in_tx(c))
        store_rollback(c);
    in_fence = false;
    if (rc < 0) {
        PQclear(r);
        return rc;
    }
    *out = r;
    return 0;
}
