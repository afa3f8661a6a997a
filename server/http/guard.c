/* SPDX-License-Identifier: Apache-2.0 */
/* Connection limits per client address (see http_guard.h). */
#include "http/guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bgthread.h"
#include "log.h"

#define GUARD_RESERVE_S   2 /* header deadline of a reserve connection */
#define GUARD_PROBATION_S 2 /* ... and of one over its address's cap */
#define GUARD_PROBATION_X                                                      \
    4                         /* an address's connections, at most, in         \
                                 caps (the rest are on probation) */
#define GUARD_MAX_PROXIES  16 /* CIDRs in --trusted-proxy */
#define GUARD_LOG_PERIOD_S 10 /* least time between refusal lines */

/* An IPv4 or IPv6 address, IPv4 as ::ffff:a.b.c.d. */
struct guard_addr {
    uint8_t b[16]; /* network order */
};

struct guard_cidr {
    struct guard_addr net; /* the network */
    unsigned bits;         /* prefix length over the 128 bits */
};

struct http_guard_conn {
    struct http_guard_conn *prev, *next; /* in the guard's list */
    struct guard_addr addr; /* the client (forwarded one behind a proxy) */
    bool proxied;           /* the peer is a trusted proxy */
    bool forwarded;         /* addr was taken from X-Forwarded-For */
    bool authed;            /* a request passed the token check */
    bool reserve;           /* accepted into the reserve */
    bool probation;         /* accepted over its address's cap */
    bool cut;               /* the watchdog shut it down */
    int64_t deadline_ms;    /* monotonic; 0 for none */
    int fd;                 /* our duplicate of the socket, or -1 */
};

struct http_guard {
    pthread_mutex_t mu;                           /* guards what follows */
    struct http_guard_conn *conns;                /* every open connection */
    unsigned n_unauth;                            /* unauthenticated ones */
    unsigned max;                                 /* connection limit */
    unsigned unauth_max;                          /* max minus the reserve */
    unsigned per_client;                          /* cap per client address */
    struct guard_cidr proxies[GUARD_MAX_PROXIES]; /* trusted proxies */
    size_t n_proxies;                             /* entries in proxies */
    struct bgthread *watchdog;                    /* runs watchdog_round() */
    int64_t refused;                              /* refusals since last line */
    int64_t logged_ms;                            /* when the last line went */
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool addr_from_sockaddr(const struct sockaddr *sa, struct guard_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (sa->sa_family == AF_INET) {
        a->b[10] = a->b[11] = 0xff;
        memcpy(a->b + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(a->b, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return true;
    }
    return false;
}

static bool addr_parse(const char *text, struct guard_addr *a)
{
    struct in_addr v4;

    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, text, &v4) == 1) {
        a->b[10] = a->b[11] = 0xff;
        memcpy(a->b + 12, &v4, 4);
        return true;
    }
    return inet_pton(AF_INET6, text, a->b) == 1;
}

static void addr_format(const struct guard_addr *a, char *buf, size_t len)
{
    static const uint8_t v4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (memcmp(a->b, v4, 12) == 0)
        inet_ntop(AF_INET, a->b + 12, buf, (socklen_t)len);
    else
        inet_ntop(AF_INET6, a->b, buf, (socklen_t)len);
}

static bool cidr_has(const struct guard_cidr *c, const struct guard_addr *a)
{
    unsigned full = c->bits / 8, rest = c->bits % 8;

    if (memcmp(c->net.b, a->b, full) != 0)
        return false;
    return rest == 0 ||
           ((c->net.b[full] ^ a->b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* "a.b.c.d/n", "x::y/n" or a bare address into *c. */
static bool cidr_parse(const char *text, size_t len, struct guard_cidr *c)
{
    char buf[INET6_ADDRSTRLEN + 8];
    char *slash, *end = NULL;
    unsigned long bits = 128;
    bool v4;

    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, text, len);
    buf[len] = '\0';
    slash = strchr(buf, '/');
    if (slash != NULL)
        *slash = '\0';
    v4 = strchr(buf, ':') == NULL;
    if (!addr_parse(buf, &c->net))
        return false;
    if (slash != NULL) {
        bits = strtoul(slash + 1, &end, 10);
        if (end == slash + 1 || *end != '\0' || bits > (v4 ? 32u : 128u))
            return false;
        bits += v4 ? 96 : 0;
    }
    c->bits = (unsigned)bits;
    return true;
}

static bool is_proxy(const struct http_guard *g, const struct guard_addr *a)
{
    for (size_t i = 0; i < g->n_proxies; i++)
        if (cidr_has(&g->proxies[i], a))
            return true;
    return false;
}

/* Unauthenticated connections of client a (proxied ones count once their
 * forwarded address is known). */
static unsigned count_client(const struct http_guard *g,
                             const struct guard_addr *a)
{
    unsigned n = 0;

    for (const struct http_guard_conn *c = g->conns; c != NULL; c = c->next)
        n += !c->authed && (!c->proxied || c->forwarded) &&
             memcmp(c->addr.b, a->b, 16) == 0;
    return n;
}

/* A refusal: one log line per period, with the count since the last. */
static void note_refusal(struct http_guard *g, const struct guard_addr *a,
                         const char *why)
{
    int64_t now = now_ms();
    char host[INET6_ADDRSTRLEN];

    g->refused++;
    if (now - g->logged_ms < GUARD_LOG_PERIOD_S * 1000)
        return;
    addr_format(a, host, sizeof(host));
    log_warn("event=http_conn_refused client=%s why=%s refused=%lld", host, why,
             (long long)g->refused);
    g->refused = 0;
    g->logged_ms = now;
}

enum MHD_Result http_guard_accept_cb(void *cls, const struct sockaddr *addr,
                                     socklen_t addrlen)
{
    struct http_guard *g = cls;
    struct guard_addr a;
    enum MHD_Result ok = MHD_YES;

    (void)addrlen;
    if (!addr_from_sockaddr(addr, &a))
        return MHD_YES; /* not TCP/IP: nothing to count by */
    pthread_mutex_lock(&g->mu);
    if (!is_proxy(g, &a) &&
        count_client(g, &a) >= g->per_client * GUARD_PROBATION_X) {
        note_refusal(g, &a, "per_client_cap");
        ok = MHD_NO;
    }
    pthread_mutex_unlock(&g->mu);
    return ok;
}

static void conn_start(struct http_guard *g, struct MHD_Connection *conn,
                       void **socket_context)
{
    const union MHD_ConnectionInfo *ai =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const union MHD_ConnectionInfo *fi =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct http_guard_conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return; /* untracked: no limits, no deadline */
    c->fd = fi != NULL ? fcntl(fi->connect_fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (ai != NULL && ai->client_addr != NULL)
        addr_from_sockaddr(ai->client_addr, &c->addr);
    pthread_mutex_lock(&g->mu);
    c->proxied = is_proxy(g, &c->addr);
    c->reserve = g->n_unauth >= g->unauth_max;
    c->probation = !c->proxied && count_client(g, &c->addr) >= g->per_client;
    c->deadline_ms = now_ms() + (c->reserve     ? GUARD_RESERVE_S
                                 : c->probation ? GUARD_PROBATION_S
                                                : HTTP_GUARD_HEADER_S) *
                                    1000;
    c->next = g->conns;
    if (g->conns != NULL)
        g->conns->prev = c;
    g->conns = c;
    g->n_unauth++;
    pthread_mutex_unlock(&g->mu);
    *socket_context = c;
}

static void conn_end(struct http_guard *g, struct http_guard_conn *c)
{
    pthread_mutex_lock(&g->mu);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        g->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    if (!c->authed)
        g->n_unauth--;
    pthread_mutex_unlock(&g->mu);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

void http_guard_notify_cb(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct http_guard *g = cls;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_start(g, conn, socket_context);
    } else if (*socket_context != NULL) {
        conn_end(g, *socket_context);
        *socket_context = NULL;
    }
}

struct http_guard_conn *http_guard_conn_get(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci != NULL ? ci->socket_context : NULL;
}

/* The last address of an X-Forwarded-For list (the one the trusted proxy
 * itself saw). */
static bool xff_last(const char *xff, struct guard_addr *a)
{
    const char *p = xff ? strrchr(xff, ',') : NULL;
    char buf[INET6_ADDRSTRLEN];
    size_t n;

    if (xff == NULL)
        return false;
    p = p ? p + 1 : xff;
    p += strspn(p, " \t");
    n = strcspn(p, " \t");
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return addr_parse(buf, a);
}

int http_guard_request(struct http_guard *g, struct http_guard_conn *gc,
                       const char *xff, bool public_route, struct weir_err *err)
{
    struct guard_addr a;
    int status = 0;

    if (gc == NULL)
        return 0;
    pthread_mutex_lock(&g->mu);
    gc->deadline_ms = gc->authed ? 0 : now_ms() + HTTP_GUARD_REQUEST_S * 1000;
    if (gc->reserve && !gc->authed && public_route) {
        status = 503;
        weir_err_set(err, WEIR_EUNAVAIL,
                     "the server is busy: only authenticated requests are "
                     "served now");
    } else if (gc->probation && !gc->authed && public_route) {
        note_refusal(g, &gc->addr, "per_client_cap");
        status = 429;
        weir_err_set(err, WEIR_EUNAVAIL,
                     "too many connections from this client");
    } else if (gc->proxied && !gc->authed && !gc->forwarded &&
               xff_last(xff, &a)) {
        if (count_client(g, &a) >= g->per_client) {
            note_refusal(g, &a, "per_client_cap");
            status = 429;
            weir_err_set(err, WEIR_EUNAVAIL,
                         "too many connections from this client");
        } else {
            gc->addr = a;
            gc->forwarded = true;
        }
    }
    pthread_mutex_unlock(&g->mu);
    return status;
}

void http_guard_authenticated(struct http_guard *g, struct http_guard_conn *gc)
{
    if (gc == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    if (!gc->authed)
        g->n_unauth--;
    gc->authed = true;
    gc->deadline_ms = 0;
    pthread_mutex_unlock(&g->mu);
}

void http_guard_request_done(struct http_guard *g, struct http_guard_conn *gc)
{
    if (gc == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    if (!gc->authed)
        gc->deadline_ms =
            now_ms() + (gc->reserve || gc->probation ? GUARD_PROBATION_S
                                                     : HTTP_GUARD_HEADER_S) *
                           1000;
    pthread_mutex_unlock(&g->mu);
}

/* Shut down every connection past its deadline; libmicrohttpd's thread
 * then sees the end of the stream and closes it. */
static int64_t watchdog_round(void *arg)
{
    struct http_guard *g = arg;
    int64_t now = now_ms();
    unsigned cut = 0;

    pthread_mutex_lock(&g->mu);
    for (struct http_guard_conn *c = g->conns; c != NULL; c = c->next) {
        if (c->cut || c->deadline_ms == 0 || now < c->deadline_ms || c->fd < 0)
            continue;
        shutdown(c->fd, SHUT_RDWR);
        c->cut = true;
        cut++;
    }
    pthread_mutex_unlock(&g->mu);
    if (cut > 0)
        log_info("event=http_conn_timeout closed=%u why=headers_late", cut);
    return HTTP_GUARD_TICK_MS;
}

static int proxies_parse(struct http_guard *g, const char *list,
                         struct weir_err *err)
{
    for (const char *p = list; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, ",");

        if (g->n_proxies == GUARD_MAX_PROXIES ||
            !cidr_parse(p, n, &g->proxies[g->n_proxies]))
            return weir_err_set(err, WEIR_EINVAL,
                                "--trusted-proxy: \"%.*s\" is not an address "
                                "or CIDR (at most %d, comma-separated)",
                                (int)(n > 60 ? 60 : n), p, GUARD_MAX_PROXIES);
        g->n_proxies++;
        p += n + (p[n] == ',');
    }
    return 0;
}

int http_guard_proxies_check(const char *list, struct weir_err *err)
{
    struct http_guard *g = calloc(1, sizeof(*g));
    int rc;

    if (g == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    rc = proxies_parse(g, list, err);
    free(g);
    return rc;
}

int http_guard_new(const struct http_guard_config *cfg, struct http_guard **out,
                   struct weir_err *err)
{
    struct http_guard *g = calloc(1, sizeof(*g));
    int rc;

    if (g == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    pthread_mutex_init(&g->mu, NULL);
    g->max = cfg->max_connections;
    g->unauth_max = g->max - g->max / 4;
    g->per_client =
        cfg->per_client ? cfg->per_client : HTTP_GUARD_PER_CLIENT_DEFAULT;
    rc = proxies_parse(g, cfg->trusted, err);
    if (rc == 0)
        rc = bgthread_start("weir-http-guard", watchdog_round, g, &g->watchdog,
                            err);
    if (rc < 0) {
        http_guard_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void http_guard_free(struct http_guard *g)
{
    if (g == NULL)
        return;
    bgthread_stop(g->watchdog);
    while (g->conns != NULL) /* left by a daemon that did not say */
        conn_end(g, g->conns);
    pthread_mutex_destroy(&g->mu);
    free(g);
}
