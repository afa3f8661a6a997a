/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The listen connection (store/listen.h): a libpq session LISTENing on
 * the servers' channels, sending their
 * NOTIFYs with pg_notify() and reading what other sessions sent.
 */
#include "store/listen.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "store/query.h"

struct store_listen {
    PGconn *pg; /* the session */
    int pid;    /* its backend's pid, once connected: our own NOTIFYs */
};

/* The first line of libpq's message about pg, into dst (len bytes). */
static void pq_message(PGconn *pg, char *dst, size_t len)
{
    store_first_line(dst, len,
                     pg != NULL ? PQerrorMessage(pg) : "out of memory");
}

/* libpq prints what the server says outside a query (such as why it
 * ends the session) on stderr by default; the loss is logged by the
 * owner of the session instead, with the message. */
static void notice_cb(void *arg, const PGresult *r)
{
    (void)arg;
    (void)r;
}

static int failed(struct store_listen *l, const char *what,
                  struct weir_err *err)
{
    char msg[200];

    pq_message(l->pg, msg, sizeof(msg));
    return weir_err_set(err, WEIR_EUNAVAIL, "listen connection: %s: %s", what,
                        msg[0] ? msg : "connection lost");
}

/* LISTEN on both channels: fixed text, no parameters. */
static int listen_all(struct store_listen *l, struct weir_err *err)
{
    PGresult *r =
        PQexec(l->pg, "LISTEN " STORE_CHAN_WAKE "; LISTEN " STORE_CHAN_DAG);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

    PQclear(r);
    if (!ok)
        return failed(l, "LISTEN failed", err);
    l->pid = PQbackendPID(l->pg);
    return 0;
}

int store_listen_open(const char *url, const char *app,
                      struct store_listen **out, struct weir_err *err)
{
    /* Keepalives and the user timeout make a peer that vanished without
     * a word (a failover to another host) show as a broken session within
     * seconds, where an idle listening session would otherwise wait for
     * ever. */
    const struct store_session_opts o = {app, "5", "5", "2", "3", "10000"};
    struct store_listen *l = calloc(1, sizeof(*l));
    int rc = 0;

    if (l == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    l->pg = store_session_open(url, &o);
    if (l->pg == NULL || PQstatus(l->pg) != CONNECTION_OK)
        rc = failed(l, "cannot connect", err);
    if (rc == 0) {
        PQsetNoticeReceiver(l->pg, notice_cb, NULL);
        rc = listen_all(l, err);
    }
    if (rc < 0) {
        store_listen_close(l);
        return rc;
    }
    *out = l;
    return 0;
}

int store_listen_pid(const struct store_listen *l)
{
    return l != NULL ? l->pid : 0;
}

int store_listen_socket(const struct store_listen *l)
{
    return l != NULL && l->pg != NULL ? PQsocket(l->pg) : -1;
}

int store_listen_notify(struct store_listen *l, const char *channel,
                        const char *payload, struct weir_err *err)
{
    const char *params[] = {channel, payload};
    PGresult *r = PQexecParams(l->pg, "SELECT pg_notify($1, $2)", 2, NULL,
                               params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;

    PQclear(r);
    return ok ? 0 : failed(l, "NOTIFY failed", err);
}

int store_listen_read(struct store_listen *l, store_listen_fn fn, void *arg,
                      struct weir_err *err)
{
    PGnotify *n;
    int got = 0;

    if (!PQconsumeInput(l->pg) || PQstatus(l->pg) != CONNECTION_OK)
        return failed(l, "connection lost", err);
    while ((n = PQnotifies(l->pg)) != NULL) {
        if (n->be_pid != l->pid) {
            fn(n->relname, n->extra != NULL ? n->extra : "", arg);
            got++;
        }
        PQfreemem(n);
    }
    return got;
}

void store_listen_close(struct store_listen *l)
{
    if (l == NULL)
        return;
    if (l->pg != NULL)
        PQfinish(l->pg);
    free(l);
}
