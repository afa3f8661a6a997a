/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON over HTTP, abortable, with connections kept alive between calls.
 *
 * http:// servers get the worker's own HTTP/1.1 client (below): one POST
 * at a time per connection, connections kept open in a pool, answers
 * with Content-Length or chunked. Other schemes (https://) go through
 * libcurl, initialized only then: curl_global_init() initializes its TLS
 * library whatever its flags, about 2 MiB of memory a worker of an
 * http:// server never uses.
 *
 * Own client: every wait is a poll() of at most POLL_SLICE_MS, so a call
 * gives up at its deadline and soon after its cancel flag is set. A
 * pooled connection that turns out closed by the server (its idle
 * timeout) before any byte of the answer came is replaced by a new one,
 * once: the server closes only connections that carry no request.
 *
 * libcurl: each call borrows an easy handle from the client's pool of
 * idle ones (each keeps its connection open) and gives it back after. A
 * handle is used by one thread at a time; libcurl cannot share one
 * connection cache between threads, so the pool shares handles instead.
 *
 * Either way a call that failed closes its connection rather than pooling
 * it.
 */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#define CONNECT_TIMEOUT_MS 10000
#define IDLE_MAX           32 /* idle connections (or handles) kept */

/* ---- the own HTTP/1.1 client, for http:// ---- */

/* A server's connections, for http:// URLs. */
struct http_conn_pool {
    char *host;         /* to connect to */
    char *port;         /* service for getaddrinfo() */
    char *host_header;  /* Host: value */
    char *prefix;       /* the base URL's path, "" or "/x" */
    pthread_mutex_t mu; /* guards idle and n_idle */
    int idle[IDLE_MAX]; /* connections not in use */
    size_t n_idle;      /* entries in idle */
};

#define POLL_SLICE_MS 200   /* longest poll() between two checks */
#define HEADERS_MAX   65536 /* bytes of an answer's status and headers */

/* The answer being read. */
struct rbuf {
    char *p;    /* bytes read, NUL-terminated */
    size_t n;   /* bytes in p */
    size_t cap; /* room in p */
    size_t off; /* bytes consumed */
};

static void http_pool_free(struct http_conn_pool *p);

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int http_pool_new(const char *url, struct http_conn_pool **out)
{
    const char *auth = url + 7, *end, *colon, *host_end;
    struct http_conn_pool *p;

    if (strncmp(url, "http://", 7) != 0)
        return -1;
    end = auth + strcspn(auth, "/?#");
    if (memchr(auth, '@', (size_t)(end - auth)) != NULL || end == auth)
        return -1; /* credentials in the URL: libcurl's job */
    if (*auth == '[') {
        host_end = memchr(auth, ']', (size_t)(end - auth));
        if (host_end == NULL)
            return -1;
        colon = host_end + 1 < end && host_end[1] == ':' ? host_end + 1 : NULL;
    } else {
        colon = memchr(auth, ':', (size_t)(end - auth));
        host_end = colon ? colon : end;
    }
    if (*end != '\0' && *end != '/')
        return -1;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -1;
    p->host = *auth == '[' ? dup_n(auth + 1, (size_t)(host_end - auth - 1))
                           : dup_n(auth, (size_t)(host_end - auth));
    p->port = colon && colon + 1 < end
                  ? dup_n(colon + 1, (size_t)(end - colon - 1))
                  : dup_n("80", 2);
    p->host_header = dup_n(auth, (size_t)(end - auth));
    p->prefix = dup_n(end, strlen(end));
    if (p->host == NULL || p->port == NULL || p->host_header == NULL ||
        p->prefix == NULL || p->host[0] == '\0') {
        http_pool_free(p);
        return -1;
    }
    while (p->prefix[0] != '\0' && p->prefix[strlen(p->prefix) - 1] == '/')
        p->prefix[strlen(p->prefix) - 1] = '\0';
    pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return 0;
}

static void http_pool_free(struct http_conn_pool *p)
{
    if (p == NULL)
        return;
    while (p->n_idle > 0)
        close(p->idle[--p->n_idle]);
    pthread_mutex_destroy(&p->mu);
    free(p->host);
    free(p->port);
    free(p->host_header);
    free(p->prefix);
    free(p);
}

/* An idle connection that is still open, or -1. */
static int pool_take(struct http_conn_pool *p)
{
    int fd = -1;

    for (;;) {
        struct pollfd pf;

        pthread_mutex_lock(&p->mu);
        fd = p->n_idle > 0 ? p->idle[--p->n_idle] : -1;
        pthread_mutex_unlock(&p->mu);
        if (fd < 0)
            return -1;
        /* Readable while idle: closed by the server (or garbage). */
        pf = (struct pollfd){.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 0) == 0)
            return fd;
        close(fd);
    }
}

static void pool_give(struct http_conn_pool *p, int fd)
{
    pthread_mutex_lock(&p->mu);
    if (p->n_idle < IDLE_MAX) {
        p->idle[p->n_idle++] = fd;
        fd = -1;
    }
    pthread_mutex_unlock(&p->mu);
    if (fd >= 0)
        close(fd);
}

/*
 * Wait until fd is ready for events, the deadline passes (ETIMEDOUT) or
 * the cancel flag is set (ECANCELED). Returns 0 or an errno value.
 */
static int wait_fd(int fd, short events, int64_t deadline,
                   const atomic_bool *cancel)
{
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = events};
        int64_t left = deadline - mono_ms();
        int n;

        if (cancel != NULL && atomic_load(cancel))
            return ECANCELED;
        if (left <= 0)
            return ETIMEDOUT;
        n = poll(&pf, 1, (int)(left < POLL_SLICE_MS ? left : POLL_SLICE_MS));
        if (n < 0 && errno != EINTR)
            return errno;
        if (n > 0)
            return 0;
    }
}

/* A new connection to the pool's server, or -1 with *e an errno value. */
static int conn_open(struct http_conn_pool *p, int64_t deadline,
                     const atomic_bool *cancel, int *e)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int fd = -1, rc;

    rc = getaddrinfo(p->host, p->port, &hints, &res);
    if (rc != 0) {
        *e = rc == EAI_SYSTEM ? errno : EHOSTUNREACH;
        return -1;
    }
    *e = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        int one = 1, so = 0;
        socklen_t len = sizeof(so);

        fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            *e = errno;
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS) {
            rc = wait_fd(fd, POLLOUT, deadline, cancel);
            if (rc == 0 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) == 0 && so == 0)
                break;
            *e = rc != 0 ? rc : so != 0 ? so : errno;
        } else {
            *e = errno;
        }
        close(fd);
        fd = -1;
        if (*e == ECANCELED || *e == ETIMEDOUT)
            break;
    }
    freeaddrinfo(res);
    return fd;
}

static int send_all(int fd, const char *data, size_t len, int64_t deadline,
                    const atomic_bool *cancel)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = send(fd, data + done, len - done, MSG_NOSIGNAL);
        int rc;

        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return errno;
        rc = wait_fd(fd, POLLOUT, deadline, cancel);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Read more into b (at least one byte): 0, ECONNRESET at the end of the
 * stream, EMSGSIZE past max, or another errno value. */
static int read_more(int fd, struct rbuf *b, size_t max, int64_t deadline,
                     const atomic_bool *cancel)
{
    for (;;) {
        ssize_t n;
        int rc;

        if (b->cap - b->n < 4096) {
            size_t cap = b->cap ? b->cap * 2 : 16384;
            char *q;

            if (b->n > max)
                return EMSGSIZE;
            q = realloc(b->p, cap + 1);
            if (q == NULL)
                return ENOMEM;
            b->p = q;
            b->cap = cap;
        }
        n = recv(fd, b->p + b->n, b->cap - b->n, 0);
        if (n > 0) {
            b->n += (size_t)n;
            b->p[b->n] = '\0';
            return b->n > max ? EMSGSIZE : 0;
        }
        if (n == 0)
            return ECONNRESET;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return errno;
        rc = wait_fd(fd, POLLIN, deadline, cancel);
        if (rc != 0)
            return rc;
    }
}

/* The value of header name in the block hdr (NUL-terminated), or NULL;
 * *len gets its length. */
static const char *header(const char *hdr, const char *name, size_t *len)
{
    size_t nl = strlen(name);

    for (const char *l = strstr(hdr, "\r\n"); l != NULL;
         l = strstr(l + 2, "\r\n")) {
        const char *v = l + 2, *e;

        if (strncasecmp(v, name, nl) != 0 || v[nl] != ':')
            continue;
        v += nl + 1;
        v += strspn(v, " \t");
        e = strstr(v, "\r\n");
        *len = e ? (size_t)(e - v) : strlen(v);
        while (*len > 0 && (v[*len - 1] == ' ' || v[*len - 1] == '\t'))
            (*len)--;
        return v;
    }
    return NULL;
}

/* Decode the chunked body at b->p + b->off, reading as needed, into out
 * (the decoded bytes replace the raw ones in b). */
static int read_chunked(int fd, struct rbuf *b, size_t max, int64_t deadline,
                        const atomic_bool *cancel, size_t *body_len)
{
    size_t start = b->off, w = b->off; /* decoded in place from start */
    int rc;

    for (;;) {
        char *line_end, *endp;
        unsigned long long size;

        while ((line_end = strstr(b->p + b->off, "\r\n")) == NULL)
            if ((rc = read_more(fd, b, max, deadline, cancel)) != 0)
                return rc;
        size = strtoull(b->p + b->off, &endp, 16);
        if (endp == b->p + b->off || size > max)
            return EPROTO;
        b->off = (size_t)(line_end - b->p) + 2;
        if (size == 0) {
            /* trailers until an empty line */
            while (strstr(b->p + b->off, "\r\n") == NULL)
                if ((rc = read_more(fd, b, max, deadline, cancel)) != 0)
                    return rc;
            while (strncmp(b->p + b->off, "\r\n", 2) != 0) {
                char *e = strstr(b->p + b->off, "\r\n");

                b->off = (size_t)(e - b->p) + 2;
                while (strstr(b->p + b->off, "\r\n") == NULL)
                    if ((rc = read_more(fd, b, max, deadline, cancel)) != 0)
                        return rc;
            }
            *body_len = w - start;
            return 0;
        }
        while (b->n - b->off < size + 2)
            if ((rc = read_more(fd, b, max, deadline, cancel)) != 0)
                return rc;
        memmove(b->p + w, b->p + b->off, (size_t)size);
        w += (size_t)size;
        b->off += (size_t)size + 2;
        if (w - start > max)
            return EMSGSIZE;
    }
}

/*
 * One exchange on fd. *got says whether any byte of the answer came
 * (a failure before that on a reused connection may be retried);
 * *keep whether the connection may carry another request.
 */
static int exchange(int fd, const char *req, size_t req_len, int64_t deadline,
                    const atomic_bool *cancel, long *status, char **body,
                    size_t *body_len, bool *got, bool *keep)
{
    struct rbuf b = {0};
    size_t hdr_end, len = 0;
    const char *v;
    char *end;
    int rc = send_all(fd, req, req_len, deadline, cancel);

    *got = false;
    *keep = false;
    for (;;) {
        char *e;

        while (rc == 0 &&
               (e = b.p ? strstr(b.p + b.off, "\r\n\r\n") : NULL) == NULL) {
            rc = read_more(fd, &b, HEADERS_MAX + b.off, deadline, cancel);
            *got |= b.n > 0;
        }
        if (rc != 0)
            break;
        if (strncmp(b.p + b.off, "HTTP/1.", 7) != 0) {
            rc = EPROTO;
            break;
        }
        *status = strtol(b.p + b.off + 9, &end, 10);
        hdr_end = (size_t)(e - b.p) + 4;
        if (*status >= 100 && *status < 200) { /* 100 Continue and the like */
            b.off = hdr_end;
            continue;
        }
        e[2] = '\0'; /* the header block, for header() */
        *keep = b.p[b.off + 7] == '1';
        v = header(b.p + b.off, "Connection", &len);
        if (v != NULL && len == 5 && strncasecmp(v, "close", 5) == 0)
            *keep = false;
        else if (v != NULL && len == 10 &&
                 strncasecmp(v, "keep-alive", 10) == 0)
            *keep = true;
        v = header(b.p + b.off, "Transfer-Encoding", &len);
        if (v != NULL && len >= 7 &&
            strncasecmp(v + len - 7, "chunked", 7) == 0) {
            b.off = hdr_end;
            rc =
                read_chunked(fd, &b, CLIENT_ANSWER_MAX, deadline, cancel, &len);
            if (rc == 0) {
                memmove(b.p, b.p + hdr_end, len);
                *body_len = len;
            }
            break;
        }
        v = header(b.p + b.off, "Content-Length", &len);
        if (v != NULL) {
            unsigned long long cl = strtoull(v, &end, 10);

            if (end == v || cl > CLIENT_ANSWER_MAX) {
                rc = EPROTO;
                break;
            }
            while (rc == 0 && b.n - hdr_end < cl)
                rc = read_more(fd, &b, hdr_end + (size_t)cl + HEADERS_MAX,
                               deadline, cancel);
            if (rc == 0) {
                memmove(b.p, b.p + hdr_end, (size_t)cl);
                *body_len = (size_t)cl;
                /* bytes after the answer: the connection cannot be reused */
                *keep &= b.n - hdr_end == cl;
            }
            break;
        }
        /* no length: the body ends with the connection */
        *keep = false;
        while (rc == 0)
            rc = read_more(fd, &b, hdr_end + CLIENT_ANSWER_MAX, deadline,
                           cancel);
        if (rc == ECONNRESET) {
            rc = 0;
            memmove(b.p, b.p + hdr_end, b.n - hdr_end);
            *body_len = b.n - hdr_end;
        }
        break;
    }
    if (rc != 0) {
        free(b.p);
        return rc;
    }
    if (b.p != NULL)
        b.p[*body_len] = '\0';
    *body = b.p;
    return 0;
}

static int http_pool_post(struct http_conn_pool *p, const char *auth_header,
                          const char *path, const char *body, long timeout_ms,
                          const atomic_bool *cancel, long *status,
                          char **answer, size_t *answer_len, char *why,
                          size_t why_len)
{
    int64_t deadline = mono_ms() + timeout_ms;
    size_t blen = strlen(body), rlen;
    char *req;
    int rc = 0;

    rlen = strlen(p->prefix) + strlen(path) + strlen(p->host_header) +
           strlen(auth_header) + blen + 200;
    req = malloc(rlen);
    if (req == NULL) {
        snprintf(why, why_len, "out of memory");
        return ENOMEM;
    }
    rlen = (size_t)snprintf(req, rlen,
                            "POST %s%s HTTP/1.1\r\nHost: %s\r\n"
                            "User-Agent: weir-worker/" WEIR_VERSION "\r\n"
                            "%s\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\n\r\n",
                            p->prefix, path, p->host_header, auth_header, blen);
    memcpy(req + rlen, body, blen);
    rlen += blen;
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = attempt == 0 ? pool_take(p) : -1;
        bool reused = fd >= 0, got = false, keep = false;

        if (fd < 0) {
            int64_t cd = mono_ms() + CONNECT_TIMEOUT_MS;

            fd = conn_open(p, cd < deadline ? cd : deadline, cancel, &rc);
            if (fd < 0)
                break;
        }
        *answer = NULL;
        *answer_len = 0;
        rc = exchange(fd, req, rlen, deadline, cancel, status, answer,
                      answer_len, &got, &keep);
        if (rc == 0 && keep)
            pool_give(p, fd);
        else
            close(fd);
        /* a pooled connection the server had closed: once more, anew */
        if (rc != 0 && reused && !got && rc != ETIMEDOUT && rc != ECANCELED)
            continue;
        break;
    }
    free(req);
    if (rc != 0)
        snprintf(why, why_len, "%s",
                 rc == ECANCELED   ? "canceled"
                 : rc == ETIMEDOUT ? "timed out"
                 : rc == EPROTO    ? "not an HTTP answer"
                 : rc == EMSGSIZE  ? "answer too large"
                                   : strerror(rc));
    return rc;
}

/* ---- the client ---- */

struct client {
    char *base_url;              /* without a trailing slash */
    char *auth_header;           /* "Authorization: Bearer <token>" */
    struct http_conn_pool *http; /* the own client (http://), or NULL */
    bool curl;                   /* libcurl was initialized for this */
    struct curl_slist *hdrs;     /* the headers of every libcurl call */
    pthread_mutex_t mu;          /* guards idle and n_idle */
    CURL *idle[IDLE_MAX];        /* handles with a connection, not in use */
    size_t n_idle;               /* entries in idle */
};

/* The body of an answer, growing up to CLIENT_ANSWER_MAX. */
struct answer_buf {
    char *p;    /* the bytes, NUL-terminated when not NULL */
    size_t n;   /* bytes in p */
    size_t cap; /* room in p */
};

int client_new(const char *base_url, const char *token, struct client **out,
               struct weir_err *err)
{
    struct client *c = calloc(1, sizeof(*c));
    size_t ulen = strlen(base_url);

    if (c == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "client: out of memory");
    while (ulen > 0 && base_url[ulen - 1] == '/')
        ulen--;
    c->base_url = malloc(ulen + 1);
    c->auth_header = malloc(strlen(token) + 32);
    if (c->base_url == NULL || c->auth_header == NULL) {
        client_free(c);
        return weir_err_set(err, WEIR_ENOMEM, "client: out of memory");
    }
    memcpy(c->base_url, base_url, ulen);
    c->base_url[ulen] = '\0';
    sprintf(c->auth_header, "Authorization: Bearer %s", token);
    pthread_mutex_init(&c->mu, NULL);
    if (http_pool_new(c->base_url, &c->http) == 0) {
        *out = c;
        return 0;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        client_free(c);
        return weir_err_set(err, WEIR_EINTERNAL,
                            "client: libcurl failed to "
                            "initialize");
    }
    c->curl = true;
    /* "Expect:" keeps libcurl from waiting for a 100 Continue before a
     * body of more than a kilobyte: one round trip less per log batch. */
    c->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (c->hdrs != NULL)
        c->hdrs = curl_slist_append(c->hdrs, "Expect:");
    if (c->hdrs != NULL)
        c->hdrs = curl_slist_append(c->hdrs, c->auth_header);
    if (c->hdrs == NULL) {
        client_free(c);
        return weir_err_set(err, WEIR_ENOMEM, "client: out of memory");
    }
    *out = c;
    return 0;
}

void client_free(struct client *c)
{
    if (c == NULL)
        return;
    http_pool_free(c->http);
    while (c->n_idle > 0)
        curl_easy_cleanup(c->idle[--c->n_idle]);
    pthread_mutex_destroy(&c->mu);
    if (c->hdrs != NULL) {
        /* the token is in one of them */
        for (struct curl_slist *h = c->hdrs; h != NULL; h = h->next)
            memset(h->data, 0, strlen(h->data));
        curl_slist_free_all(c->hdrs);
    }
    free(c->base_url);
    if (c->auth_header != NULL)
        memset(c->auth_header, 0, strlen(c->auth_header));
    free(c->auth_header);
    if (c->curl)
        curl_global_cleanup();
    free(c);
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct answer_buf *b = ud;
    size_t n = size * nmemb;

    if (b->n + n > CLIENT_ANSWER_MAX)
        return 0; /* too big: curl fails the transfer */
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;

        while (cap < b->n + n + 1)
            cap *= 2;
        p = realloc(b->p, cap);
        if (p == NULL)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, ptr, n);
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

static int progress_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    const atomic_bool *cancel = ud;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return atomic_load(cancel) ? 1 : 0;
}

/* A handle from the pool, or a new one with the options every call
 * shares; NULL when out of memory. */
static CURL *handle_take(struct client *c)
{
    CURL *h = NULL;

    pthread_mutex_lock(&c->mu);
    if (c->n_idle > 0)
        h = c->idle[--c->n_idle];
    pthread_mutex_unlock(&c->mu);
    if (h != NULL)
        return h;
    h = curl_easy_init();
    if (h != NULL &&
        (curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->hdrs) != CURLE_OK ||
         curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK ||
         curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
         curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                          (long)CONNECT_TIMEOUT_MS) != CURLE_OK ||
         curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb) !=
             CURLE_OK ||
         curl_easy_setopt(h, CURLOPT_USERAGENT, "weir-worker/" WEIR_VERSION) !=
             CURLE_OK)) {
        curl_easy_cleanup(h);
        h = NULL;
    }
    return h;
}

/* Give h back to the pool (its connection stays open), or close it when
 * its call failed or the pool is full. */
static void handle_give(struct client *c, CURL *h, bool ok)
{
    /* Nothing may point at the call's buffers any more. */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    if (ok) {
        pthread_mutex_lock(&c->mu);
        if (c->n_idle < IDLE_MAX) {
            c->idle[c->n_idle++] = h;
            h = NULL;
        }
        pthread_mutex_unlock(&c->mu);
    }
    curl_easy_cleanup(h);
}

/* Set the options of one call; false when curl refused one. */
static bool setup(CURL *h, const char *url, const char *body,
                  struct answer_buf *b, long timeout_ms,
                  const atomic_bool *cancel, char *errbuf)
{
    return curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_WRITEDATA, b) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_NOPROGRESS, cancel ? 0L : 1L) ==
               CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)cancel) ==
               CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK;
}

/* client_post() with the own client. */
static int own_post(struct client *c, const char *path, const char *text,
                    long timeout_ms, const atomic_bool *cancel, long *status,
                    cJSON **answer, struct weir_err *err)
{
    char why[200], *p = NULL;
    size_t n = 0;
    int rc = http_pool_post(c->http, c->auth_header, path, text, timeout_ms,
                            cancel, status, &p, &n, why, sizeof(why));

    if (rc != 0)
        return weir_err_set(err, rc == ENOMEM ? WEIR_ENOMEM : WEIR_EUNAVAIL,
                            "POST %s%s: %s", c->base_url, path, why);
    *answer = n > 0 ? cJSON_ParseWithLength(p, n) : NULL;
    free(p);
    return 0;
}

int client_post(struct client *c, const char *path, const cJSON *body,
                long timeout_ms, const atomic_bool *cancel, long *status,
                cJSON **answer, struct weir_err *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct answer_buf b = {0};
    char *text = NULL, *url = NULL;
    CURL *h = NULL;
    CURLcode res = CURLE_OK;
    int rc = 0;

    text = body != NULL ? cJSON_PrintUnformatted(body) : NULL;
    if (c->http != NULL) {
        rc =
            body != NULL && text == NULL
                ? weir_err_set(err, WEIR_ENOMEM, "POST %s: out of memory", path)
                : own_post(c, path, text != NULL ? text : "{}", timeout_ms,
                           cancel, status, answer, err);
        cJSON_free(text);
        return rc;
    }
    url = malloc(strlen(c->base_url) + strlen(path) + 1);
    h = handle_take(c);
    if ((body != NULL && text == NULL) || url == NULL || h == NULL) {
        rc = weir_err_set(err, WEIR_ENOMEM, "POST %s: out of memory", path);
        goto out;
    }
    sprintf(url, "%s%s", c->base_url, path);
    if (!setup(h, url, text != NULL ? text : "{}", &b, timeout_ms, cancel,
               errbuf)) {
        rc = weir_err_set(err, WEIR_EINTERNAL,
                          "POST %s: curl refused an "
                          "option",
                          path);
        goto out;
    }
    res = curl_easy_perform(h);
    if (res != CURLE_OK) {
        rc = weir_err_set(err, WEIR_EUNAVAIL, "POST %s: %s", url,
                          errbuf[0] ? errbuf : curl_easy_strerror(res));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    *answer = b.n > 0 ? cJSON_ParseWithLength(b.p, b.n) : NULL;
out:
    if (h != NULL)
        handle_give(c, h, rc == 0);
    cJSON_free(text);
    free(url);
    free(b.p);
    return rc;
}
