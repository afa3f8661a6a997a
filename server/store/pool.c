/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The connection pool, and running one statement on a pooled connection
 * (prepared once per connection, errors mapped to WEIR_E* codes).
 *
 * The pool is a stack of idle connections under a mutex, with a condition
 * variable for borrowers waiting for one. Connecting and resetting happen
 * in the borrower's thread, outside the mutex, so a database that is slow
 * to answer stalls only the requests that need it.
 *
 * A connection whose server went away looks healthy until it is used.
 * Once one connection is found broken, every other one is checked with a
 * round trip at its next borrow, so that after a database restart one
 * request fails, not one per pooled connection.
 *
 * Failover. The URL may list several hosts (libpq's multi-host strings);
 * connections ask for a read-write session (target_session_attrs, unless
 * the URL says otherwise), so libpq skips a standby and a reconnect finds
 * whichever host is the primary now. A session that turns out read-only
 * anyway (a write refused with SQLSTATE 25006, or the server reporting
 * in_hot_standby or default_transaction_read_only) is never used for a
 * write: the request gets WEIR_EUNAVAIL (503), the connection is closed
 * and every other one is checked at its next borrow.
 */
#include "store/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store/audit.h"
#include "store/dburl.h"
#include "store/leader.h"
#include "store/query.h"

#define BORROW_WAIT_S   10  /* longest wait for a free connection */
#define CONNECT_TIMEOUT "5" /* seconds, unless the URL says otherwise */
#define STORE_MAX_STMTS 256 /* statements prepared per connection */

/* A statement prepared on one connection, found again by its text. */
struct store_stmt {
    char *sql;     /* the statement's text (owned) */
    uint64_t hash; /* hash of sql, to compare cheaply */
};

struct store_conn {
    struct store *owner;      /* the pool it belongs to */
    PGconn *pg;               /* NULL until first connected */
    unsigned outages_seen;    /* the pool's outage count when last checked */
    struct store_stmt *stmts; /* prepared here; index i is named "w<i>" */
    size_t n_stmts;           /* entries in stmts */
    bool recycle;             /* close the session when given back */
};

struct store {
    char *url;                /* connection string or URL */
    char *secret;             /* its password, hidden in messages, or NULL */
    pthread_mutex_t mu;       /* guards idle and n_idle */
    pthread_cond_t cv;        /* signalled when a connection comes back */
    struct store_conn *conns; /* every connection */
    struct store_conn **idle; /* stack of connections not borrowed */
    size_t n;                 /* entries in conns */
    size_t n_idle;            /* entries in idle */
    unsigned outages;         /* broken connections seen so far */
};

void store_first_line(char *dst, size_t len, const char *src)
{
    size_t n = strcspn(src ? src : "", "\n");

    if (n >= len)
        n = len - 1;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

/* Notices such as "relation already exists, skipping" are expected;
 * warnings are worth a line. */
static void notice_cb(void *arg, const PGresult *r)
{
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    char msg[200], q[220];

    (void)arg;
    if (sev == NULL || strcmp(sev, "WARNING") != 0)
        return;
    store_first_line(msg, sizeof(msg), PQresultErrorMessage(r));
    log_warn("event=pg_warning msg=%s", log_quote(msg, q, sizeof(q)));
}

PGconn *store_session_open(const char *url, const struct store_session_opts *o)
{
    /* Our defaults, then the URL (its values win), then the name (ours
     * wins): later keywords override earlier ones. */
    const char *keys[] = {"connect_timeout",      "keepalives",
                          "keepalives_idle",      "keepalives_interval",
                          "keepalives_count",     "tcp_user_timeout",
                          "target_session_attrs", "dbname",
                          "application_name",     NULL};
    const char *vals[] = {o->connect_s, "1",        o->idle_s,    o->interval_s,
                          o->count,     o->user_ms, "read-write", url,
                          o->app_name,  NULL};

    return PQconnectdbParams(keys, vals, 1);
}

static PGconn *conn_open(const char *url)
{
    /* Our defaults first: a later keyword overrides an earlier one, and the
     * URL (expanded from dbname) comes last so that its values win. */
    const char *keys[] = {"connect_timeout", "application_name",
                          "target_session_attrs", "dbname", NULL};
    const char *vals[] = {CONNECT_TIMEOUT, "weir-server", "read-write", url,
                          NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);

    if (pg != NULL)
        PQsetNoticeReceiver(pg, notice_cb, NULL);
    return pg;
}

/*
 * After an outage, a connection not used since may be dead: ask it. True
 * when the question failed: libpq may still call such a connection OK
 * (the first failed exchange after the server went away does not always
 * mark it bad), so the caller resets it.
 */
static bool conn_check(struct store_conn *c)
{
    struct store *s = c->owner;
    unsigned outages;
    PGresult *r;
    bool failed;

    pthread_mutex_lock(&s->mu);
    outages = s->outages;
    pthread_mutex_unlock(&s->mu);
    if (c->outages_seen == outages)
        return false;
    c->outages_seen = outages;
    if (PQstatus(c->pg) != CONNECTION_OK)
        return false;
    r = PQexec(c->pg, "SELECT 1");
    failed = PQresultStatus(r) != PGRES_TUPLES_OK;
    PQclear(r);
    return failed;
}

/*
 * True when c's server says its sessions are read-only: a standby (also
 * one being promoted) or default_transaction_read_only on. PostgreSQL 14
 * and later report both at connect and whenever they change, so this
 * costs no round trip; older servers report neither (false).
 */
static bool conn_read_only(const struct store_conn *c)
{
    const char *standby = PQparameterStatus(c->pg, "in_hot_standby");
    const char *ro = PQparameterStatus(c->pg, "default_transaction_read_only");

    return (standby != NULL && strcmp(standby, "on") == 0) ||
           (ro != NULL && strcmp(ro, "on") == 0);
}

/*
 * libpq's connection error for the log and the 503's log line: one line
 * per host tried ("connection to server ... failed: ..."), joined with
 * "; ", without the indented hints.
 */
static void conn_error(char *dst, size_t len, const char *src)
{
    size_t n = 0;

    dst[0] = '\0';
    for (const char *p = src ? src : ""; *p != '\0' && n + 3 < len;) {
        size_t line = strcspn(p, "\n");

        if (line > 0 && *p != '\t') {
            n += (size_t)snprintf(dst + n, len - n, "%s%.*s", n > 0 ? "; " : "",
                                  (int)line, p);
            if (n >= len)
                n = len - 1;
        }
        p += line + (p[line] == '\n');
    }
}

/* Forget the statements prepared on c: its session is new or gone. */
static void stmts_clear(struct store_conn *c)
{
    for (size_t i = 0; i < c->n_stmts; i++)
        free(c->stmts[i].sql);
    free(c->stmts);
    c->stmts = NULL;
    c->n_stmts = 0;
}

static uint64_t sql_hash(const char *sql)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */

    for (; *sql; sql++)
        h = (h ^ (unsigned char)*sql) * 1099511628211ULL;
    return h;
}

/*
 * The name of sql prepared on c, preparing it on first use; NULL when it
 * cannot be prepared (out of memory, too many statements, or an aborted
 * transaction), and the caller sends the text instead. Preparing saves
 * PostgreSQL the parse and plan of every statement on the hot path.
 */
static const char *stmt_name(struct store_conn *c, const char *sql, int n,
                             char name[16])
{
    uint64_t h = sql_hash(sql);
    struct store_stmt *grown;
    PGresult *r;
    size_t i;

    for (i = 0; i < c->n_stmts; i++)
        if (c->stmts[i].hash == h && strcmp(c->stmts[i].sql, sql) == 0)
            break;
    snprintf(name, 16, "w%zu", i);
    if (i < c->n_stmts)
        return name;
    if (c->n_stmts >= STORE_MAX_STMTS)
        return NULL;
    grown = realloc(c->stmts, (c->n_stmts + 1) * sizeof(*grown));
    if (grown == NULL)
        return NULL;
    c->stmts = grown;
    r = PQprepare(c->pg, name, sql, n, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        return NULL;
    }
    PQclear(r);
    c->stmts[i].sql = strdup(sql);
    c->stmts[i].hash = h;
    if (c->stmts[i].sql == NULL) {
        /* Prepared but not remembered: start over with a clean session. */
        r = PQexec(c->pg, "DEALLOCATE ALL");
        PQclear(r);
        stmts_clear(c);
        return NULL;
    }
    c->n_stmts++;
    return name;
}

/*
 * Make c a working read-write session: connect it the first time, and
 * reconnect it (libpq tries every host of the URL again) when it broke,
 * failed its check after an outage, or is read-only.
 */
static int conn_ready(struct store_conn *c, struct weir_err *err)
{
    char msg[200], q[220];
    bool failed = c->pg != NULL && conn_check(c);

    if (!failed && c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK &&
        conn_read_only(c)) {
        log_warn("event=db_read_only host=%s msg=\"the server reports the "
                 "session read-only: reconnecting\"",
                 log_quote(PQhost(c->pg), q, sizeof(q)));
        failed = true;
    }
    if (c->pg == NULL) {
        c->pg = conn_open(c->owner->url);
        if (c->pg == NULL)
            return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    } else if (failed || PQstatus(c->pg) != CONNECTION_OK) {
        stmts_clear(c);
        PQreset(c->pg);
        if (PQstatus(c->pg) == CONNECTION_OK)
            log_info("event=db_reconnected host=%s port=%s",
                     log_quote(PQhost(c->pg), q, sizeof(q)), PQport(c->pg));
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        conn_error(msg, sizeof(msg), PQerrorMessage(c->pg));
        dburl_redact(msg, sizeof(msg), c->owner->secret);
        return weir_err_set(err, WEIR_EUNAVAIL, "database unavailable: %s",
                            msg);
    }
    if (conn_read_only(c)) {
        /* Only when the URL allowed it (target_session_attrs=any). */
        c->recycle = true;
        return weir_err_set(err, WEIR_EUNAVAIL,
                            "database unavailable: the session on %s is "
                            "read-only (a standby?)",
                            log_quote(PQhost(c->pg), q, sizeof(q)));
    }
    return 0;
}

/* Wipe and free a copy of the password. */
static void secret_free(char *secret)
{
    if (secret != NULL)
        explicit_bzero(secret, strlen(secret));
    free(secret);
}

int store_new(const char *url, int size, struct store **out,
              struct weir_err *err)
{
    struct store *s = NULL;
    char *secret = NULL;
    int rc = dburl_check(url, &secret, err);

    WEIR_ASSERT(size > 0);
    if (rc < 0)
        return rc;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        goto nomem;
    s->secret = secret;
    secret = NULL;
    s->url = strdup(url);
    s->conns = calloc((size_t)size, sizeof(*s->conns));
    s->idle = calloc((size_t)size, sizeof(*s->idle));
    if (s->url == NULL || s->conns == NULL || s->idle == NULL)
        goto nomem;
    s->n = (size_t)size;
    /* Borrowers pop from the end: the first connection is used first. */
    for (size_t i = 0; i < s->n; i++) {
        s->conns[i].owner = s;
        s->idle[s->n - 1 - i] = &s->conns[i];
    }
    s->n_idle = s->n;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    *out = s;
    return 0;
nomem:
    secret_free(secret);
    if (s != NULL) {
        secret_free(s->secret);
        free(s->url);
        free(s->conns);
        free(s->idle);
        free(s);
    }
    return weir_err_set(err, WEIR_ENOMEM, "out of memory");
}

void store_free(struct store *s)
{
    if (s == NULL)
        return;
    WEIR_ASSERT(s->n_idle == s->n);
    for (size_t i = 0; i < s->n; i++) {
        stmts_clear(&s->conns[i]);
        if (s->conns[i].pg != NULL)
            PQfinish(s->conns[i].pg);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->conns);
    free(s->idle);
    free(s->url);
    secret_free(s->secret);
    free(s);
}

int store_conn_get(struct store *s, struct store_conn **out,
                   struct weir_err *err)
{
    struct store_conn *c = NULL;
    struct timespec deadline;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += BORROW_WAIT_S;
    pthread_mutex_lock(&s->mu);
    while (s->n_idle == 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &deadline);
    if (s->n_idle > 0)
        c = s->idle[--s->n_idle];
    pthread_mutex_unlock(&s->mu);
    if (c == NULL)
        return weir_err_set(err, WEIR_EUNAVAIL,
                            "no database connection free after %d s",
                            BORROW_WAIT_S);
    rc = conn_ready(c, err);
    if (rc < 0) {
        store_conn_put(c);
        return rc;
    }
    *out = c;
    return 0;
}

unsigned store_outages(struct store *s)
{
    unsigned n;

    pthread_mutex_lock(&s->mu);
    n = s->outages;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void store_conn_put(struct store_conn *c)
{
    struct store *s;

    if (c == NULL)
        return;
    s = c->owner;
    if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK &&
        PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        store_rollback(c);
    if (c->recycle && c->pg != NULL) {
        PQfinish(c->pg); /* the next borrow connects again */
        c->pg = NULL;
        stmts_clear(c);
    }
    c->recycle = false;
    pthread_mutex_lock(&s->mu);
    WEIR_ASSERT(s->n_idle < s->n);
    s->idle[s->n_idle++] = c;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void store_conn_recycle(struct store_conn *c)
{
    c->recycle = true;
}

static int result_error(struct store_conn *c, const PGresult *r,
                        struct weir_err *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char msg[200];

    store_first_line(msg, sizeof(msg),
                     r ? PQresultErrorMessage(r) : PQerrorMessage(c->pg));
    if (PQstatus(c->pg) != CONNECTION_OK || state == NULL ||
        strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
        strcmp(state, "25006") == 0) {
        /* every connection, this one too, is checked at its next borrow */
        pthread_mutex_lock(&c->owner->mu);
        c->owner->outages++;
        pthread_mutex_unlock(&c->owner->mu);
        if (state != NULL && strcmp(state, "25006") == 0) {
            /* A read-only session (a standby, or a primary told to refuse
             * writes): never used again; the next borrower connects anew
             * and libpq looks for a read-write host. */
            char q[220], qm[440];

            c->recycle = true;
            log_warn("event=db_read_only host=%s msg=%s",
                     log_quote(PQhost(c->pg), q, sizeof(q)),
                     log_quote(msg, qm, sizeof(qm)));
        }
        return weir_err_set(err, WEIR_EUNAVAIL, "database unavailable: %s",
                            msg);
    }
    /* A constraint said no: the client hears which kind, the log the
     * constraint and the rest (PostgreSQL's words name tables). */
    if (strncmp(state, "23", 2) == 0) {
        char q[600];

        log_warn("event=db_constraint sqlstate=%s msg=%s", state,
                 log_quote(msg, q, sizeof(q)));
        return strcmp(state, "23505") == 0
                   ? weir_err_set(err, WEIR_EEXISTS,
                                  "it already exists (stored meanwhile)")
                   : weir_err_set(err, WEIR_ECONFLICT,
                                  "it conflicts with what is stored");
    }
    return weir_err_set(err, WEIR_EINTERNAL, "database error %s: %s", state,
                        msg);
}

int store_query(struct store_conn *c, const char *sql, int n,
                const char *const *params, PGresult **out, struct weir_err *err)
{
    char name[16];
    const char *stmt;
    PGresult *r;
    ExecStatusType st;
    int rc;

    if (store_fence_wraps(c)) /* a leader's write: store/leader.h */
        return store_fence_query(c, sql, n, params, out, err);
    if (store_audit_wraps(c, sql)) /* a change to audit: store/audit.h */
        return store_audit_query(c, sql, n, params, out, err);
    stmt = stmt_name(c, sql, n, name);
    r = stmt ? PQexecPrepared(c->pg, stmt, n, params, NULL, NULL, 0)
             : PQexecParams(c->pg, sql, n, NULL, params, NULL, NULL, 0);
    st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        *out = r;
        return 0;
    }
    rc = result_error(c, r, err);
    PQclear(r);
    return rc;
}

int store_begin(struct store_conn *c, struct weir_err *err)
{
    return store_fence_begin(c, err); /* BEGIN, fenced when leader work */
}

int store_commit(struct store_conn *c, struct weir_err *err)
{
    /* the audit record of a change goes in with it (store/audit.h) */
    int rc = store_audit_before_commit(c, err);
    PGresult *r = NULL;

    if (rc == 0)
        rc = store_query(c, "COMMIT", 0, NULL, &r, err);
    /* COMMIT of a failed transaction answers ROLLBACK, not an error */
    store_audit_tx_end(rc == 0 && strcmp(PQcmdStatus(r), "COMMIT") == 0);
    PQclear(r);
    return rc;
}

void store_rollback(struct store_conn *c)
{
    PGresult *r = PQexec(c->pg, "ROLLBACK");

    PQclear(r);
    store_audit_tx_end(false);
}

int store_end(struct store_conn *c, int rc, struct weir_err *err)
{
    if (rc == 0)
        rc = store_commit(c, err);
    if (rc < 0)
        store_rollback(c);
    return rc;
}

PGconn *store_conn_pg(struct store_conn *c)
{
    return c->pg;
}

bool store_in_tx(const struct store_conn *c)
{
    return PQtransactionStatus(c->pg) != PQTRANS_IDLE;
}

int store_ping(struct store_conn *c, struct weir_err *err)
{
    return store_cmd(c, "SELECT 1", 0, NULL, err);
}

int store_tx_begin(struct store_conn *c, struct weir_err *err)
{
    return store_begin(c, err);
}

int store_tx_commit(struct store_conn *c, struct weir_err *err)
{
    return store_commit(c, err);
}

void store_tx_rollback(struct store_conn *c)
{
    store_rollback(c);
}

/* "VERB name" for a savepoint statement; name must be an identifier. */
static int savepoint_cmd(struct store_conn *c, const char *verb,
                         const char *name, struct weir_err *err)
{
    char sql[128];

    if (name[0] == '\0' || strlen(name) > 63 ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name))
        return weir_err_set(err, WEIR_EINVAL, "bad savepoint name");
    snprintf(sql, sizeof(sql), "%s %s", verb, name);
    return store_cmd(c, sql, 0, NULL, err);
}

int store_tx_savepoint(struct store_conn *c, const char *name,
                       struct weir_err *err)
{
    return savepoint_cmd(c, "SAVEPOINT", name, err);
}

int store_tx_rollback_to(struct store_conn *c, const char *name,
                         struct weir_err *err)
{
    return savepoint_cmd(c, "ROLLBACK TO SAVEPOINT", name, err);
}

int store_tx_release(struct store_conn *c, const char *name,
                     struct weir_err *err)
{
    return savepoint_cmd(c, "RELEASE SAVEPOINT", name, err);
}
