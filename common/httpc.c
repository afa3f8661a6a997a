/* SPDX-License-Identifier: Apache-2.0 */
/* The shared HTTP client over libcurl (see httpc.h for the design). */
#include "httpc.h"
#include "grow.h"
#include "tlsfile.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

struct httpc {
    char *base_url;             /* without a trailing slash, "" for none */
    char *auth_header;          /* "Authorization: Bearer <token>", or NULL */
    char *user_agent;           /* or NULL */
    char *protocols;            /* or NULL */
    long connect_timeout_ms;    /* 0: libcurl's default */
    size_t answer_max;          /* 0: answers are read and dropped */
    size_t idle_max;            /* handles kept in idle */
    struct curl_slist *hdrs;    /* the headers of every call */
    pthread_mutex_t mu;         /* guards idle and n_idle */
    CURL *idle[HTTPC_IDLE_MAX]; /* handles with a connection, not in use */
    size_t n_idle;              /* entries in idle */
};

/* An answer's bytes as they arrive. */
struct answer_buf {
    char *p;    /* the bytes, NUL-terminated when not NULL */
    size_t n;   /* bytes in p */
    size_t cap; /* room in p */
    size_t max; /* the most kept; 0: dropped */
    bool over;  /* the answer passed max */
};

/* httpc_tls_set(): the TLS files of every call (NULL: libcurl's
 * defaults). Written once before the first call, read after. */
static char *tls_ca_file;     /* CAs trusted instead of the system's */
static char *tls_client_cert; /* the certificate for mutual TLS */
static char *tls_client_key;  /* its key */

int httpc_global_init(struct weir_err *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return weir_err_set(err, WEIR_EINTERNAL, "cannot start libcurl");
    return 0;
}

void httpc_global_cleanup(void)
{
    curl_global_cleanup();
    free(tls_ca_file);
    free(tls_client_cert);
    free(tls_client_key);
    tls_ca_file = tls_client_cert = tls_client_key = NULL;
}

static char *dup_or_null(const char *s, bool *failed)
{
    char *d;

    if (s == NULL || *s == '\0')
        return NULL;
    d = strdup(s);
    if (d == NULL)
        *failed = true;
    return d;
}

int httpc_tls_set(const struct httpc_tls *tls, struct weir_err *err)
{
    bool has_cert = tls->client_cert != NULL && tls->client_cert[0] != '\0';
    bool has_key = tls->client_key != NULL && tls->client_key[0] != '\0';
    bool failed = false;

    if (has_cert != has_key)
        return weir_err_set(err, WEIR_EINVAL,
                            "a client certificate and its key go together: "
                            "the %s is missing",
                            has_cert ? "key" : "certificate");
    if (tls->ca_file != NULL && tls->ca_file[0] != '\0' &&
        tlsfile_check_certs("the CA file", tls->ca_file, err) < 0)
        return WEIR_EINVAL;
    if (has_cert &&
        tlsfile_check_pair(tls->client_cert, tls->client_key, err) < 0)
        return WEIR_EINVAL;
    free(tls_ca_file);
    free(tls_client_cert);
    free(tls_client_key);
    tls_ca_file = dup_or_null(tls->ca_file, &failed);
    tls_client_cert = dup_or_null(tls->client_cert, &failed);
    tls_client_key = dup_or_null(tls->client_key, &failed);
    if (failed)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    return 0;
}

/* The TLS files of httpc_tls_set() on a new handle: a CA file replaces
 * the system's CAs (the folder of them too); false when libcurl refused
 * an option. */
static bool tls_setup(CURL *h)
{
    bool ok = true;

    if (tls_ca_file != NULL)
        ok = curl_easy_setopt(h, CURLOPT_CAINFO, tls_ca_file) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_CAPATH, NULL) == CURLE_OK;
    if (ok && tls_client_cert != NULL)
        ok =
            curl_easy_setopt(h, CURLOPT_SSLCERT, tls_client_cert) == CURLE_OK &&
            curl_easy_setopt(h, CURLOPT_SSLKEY, tls_client_key) == CURLE_OK;
    return ok;
}

/* The headers of every call: its Content-Type (JSON unless the client
 * says otherwise), and "Expect:" so that libcurl does not
 * wait for a 100 Continue before a body of more than a kilobyte (one
 * round trip less per call); the token when there is one, and the
 * caller's own header. */
static struct curl_slist *headers_new(const char *auth_header,
                                      const char *header, const char *type)
{
    char ct[200];
    struct curl_slist *h = NULL;
    struct curl_slist *more;

    snprintf(ct, sizeof(ct), "Content-Type: %s",
             type != NULL ? type : "application/json");
    h = curl_slist_append(NULL, ct);
    if (h == NULL)
        return NULL;
    more = curl_slist_append(h, "Expect:");
    if (more != NULL && auth_header != NULL)
        more = curl_slist_append(h, auth_header);
    if (more != NULL && header != NULL && header[0] != '\0')
        more = curl_slist_append(h, header);
    if (more == NULL) {
        curl_slist_free_all(h);
        return NULL;
    }
    return h;
}

int httpc_new(const struct httpc_opts *o, struct httpc **out,
              struct weir_err *err)
{
    struct httpc *c = calloc(1, sizeof(*c));
    const char *base = o->base_url != NULL ? o->base_url : "";
    size_t ulen = strlen(base);
    bool failed = false;

    if (c == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "HTTP client: out of memory");
    pthread_mutex_init(&c->mu, NULL);
    while (ulen > 0 && base[ulen - 1] == '/')
        ulen--;
    c->base_url = strndup(base, ulen);
    if (o->token != NULL && o->token[0] != '\0') {
        size_t n = strlen(o->token) + 32;

        c->auth_header = malloc(n);
        if (c->auth_header != NULL)
            snprintf(c->auth_header, n, "Authorization: Bearer %s", o->token);
        failed |= c->auth_header == NULL;
    }
    c->user_agent = dup_or_null(o->user_agent, &failed);
    c->protocols = dup_or_null(o->protocols, &failed);
    c->connect_timeout_ms = o->connect_timeout_ms;
    c->answer_max = o->answer_max;
    c->idle_max = o->idle_max < HTTPC_IDLE_MAX ? o->idle_max : HTTPC_IDLE_MAX;
    if (!failed && c->base_url != NULL)
        c->hdrs = headers_new(c->auth_header, o->header, o->body_type);
    if (failed || c->base_url == NULL || c->hdrs == NULL) {
        httpc_free(c);
        return weir_err_set(err, WEIR_ENOMEM, "HTTP client: out of memory");
    }
    *out = c;
    return 0;
}

void httpc_free(struct httpc *c)
{
    if (c == NULL)
        return;
    while (c->n_idle > 0)
        curl_easy_cleanup(c->idle[--c->n_idle]);
    pthread_mutex_destroy(&c->mu);
    /* the token is in one of the headers */
    for (struct curl_slist *h = c->hdrs; h != NULL; h = h->next)
        memset(h->data, 0, strlen(h->data));
    curl_slist_free_all(c->hdrs);
    if (c->auth_header != NULL)
        memset(c->auth_header, 0, strlen(c->auth_header));
    free(c->auth_header);
    free(c->base_url);
    free(c->user_agent);
    free(c->protocols);
    free(c);
}

const char *httpc_base_url(const struct httpc *c)
{
    return c->base_url;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct answer_buf *b = ud;
    size_t n = size * nmemb;

    if (b->max == 0)
        return n; /* read and dropped */
    if (b->n + n > b->max) {
        b->over = true;
        return 0; /* too big: libcurl fails the transfer */
    }
    if (!WEIR_GROW(b->p, b->cap, b->n + n + 1, 4096, 0))
        return 0;
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

/* A handle from the pool, or a new one with the options every call of c
 * shares; NULL when out of memory. */
static CURL *handle_take(struct httpc *c)
{
    CURL *h = NULL;
    bool ok;

    pthread_mutex_lock(&c->mu);
    if (c->n_idle > 0)
        h = c->idle[--c->n_idle];
    pthread_mutex_unlock(&c->mu);
    if (h != NULL)
        return h;
    h = curl_easy_init();
    if (h == NULL)
        return NULL;
    ok = curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->hdrs) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
         curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb) == CURLE_OK;
    if (ok && c->connect_timeout_ms > 0)
        ok = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                              c->connect_timeout_ms) == CURLE_OK;
    if (ok && c->user_agent != NULL)
        ok = curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent) == CURLE_OK;
    if (ok)
        ok = tls_setup(h);
    /* http and https only, whoever calls: a URL given by a user (the
     * worker's --server, the CLI's WEIR_SERVER) never opens file:, ftp:
     * or the like */
    if (ok)
        ok = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR,
                              c->protocols != NULL ? c->protocols
                                                   : "http,https") == CURLE_OK;
    if (!ok) {
        curl_easy_cleanup(h);
        h = NULL;
    }
    return h;
}

/* Give h back to the pool (its connection stays open), or close it when
 * its call failed or the pool is full. */
static void handle_give(struct httpc *c, CURL *h, bool ok)
{
    /* Nothing may point at the call's buffers any more. */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    if (ok) {
        pthread_mutex_lock(&c->mu);
        if (c->n_idle < c->idle_max) {
            c->idle[c->n_idle++] = h;
            h = NULL;
        }
        pthread_mutex_unlock(&c->mu);
    }
    curl_easy_cleanup(h);
}

/* Set the options of one call; false when libcurl refused one. A handle
 * from the pool still has the last call's method: each is set again. */
static bool setup(CURL *h, const char *url, const struct httpc_req *req,
                  struct answer_buf *b, char *errbuf)
{
    bool natural = strcmp(req->method, req->body ? "POST" : "GET") == 0;
    bool ok =
        curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_WRITEDATA, b) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, req->cancel ? 0L : 1L) ==
            CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)req->cancel) ==
            CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK;

    if (ok && req->body != NULL)
        ok = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                              (curl_off_t)strlen(req->body)) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body) == CURLE_OK;
    else if (ok)
        ok = curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) == CURLE_OK;
    if (ok)
        ok = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST,
                              natural ? NULL : req->method) == CURLE_OK;
    return ok;
}

/* How long ago, in ms, the kernel received the last bytes on h's
 * connection (TCP_INFO); -1 when it cannot tell. */
static int64_t recv_age_ms(CURL *h)
{
    curl_socket_t fd = CURL_SOCKET_BAD;
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    if (curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK ||
        fd == CURL_SOCKET_BAD ||
        getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_last_data_recv) +
                  sizeof(ti.tcpi_last_data_recv))
        return -1;
    return (int64_t)ti.tcpi_last_data_recv;
}

int httpc_call(struct httpc *c, const struct httpc_req *req,
               struct httpc_answer *ans, struct weir_err *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct answer_buf b = {.max = c->answer_max};
    char *url = NULL;
    CURL *h = NULL;
    CURLcode res;
    int rc = 0;

    url = malloc(strlen(c->base_url) + strlen(req->path) + 1);
    h = handle_take(c);
    if (url == NULL || h == NULL) {
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
        goto out;
    }
    sprintf(url, "%s%s", c->base_url, req->path);
    if (!setup(h, url, req, &b, errbuf)) {
        rc = weir_err_set(err, WEIR_EINTERNAL, "libcurl refused an option");
        goto out;
    }
    res = curl_easy_perform(h);
    if (res != CURLE_OK) {
        long sent = 0;

        ans->unsent =
            curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent) == CURLE_OK &&
            sent == 0;
        if (b.over)
            rc = weir_err_set(err, WEIR_EUNAVAIL,
                              "the answer is larger than %zu bytes", b.max);
        else
            rc = weir_err_set(err, WEIR_EUNAVAIL, "%s",
                              errbuf[0] ? errbuf : curl_easy_strerror(res));
        goto out;
    }
    *ans = (struct httpc_answer){.body = b.p, .len = b.n, .age_ms = -1};
    b.p = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ans->status);
    ans->age_ms = recv_age_ms(h);
out:
    if (h != NULL)
        handle_give(c, h, rc == 0);
    free(url);
    free(b.p);
    return rc;
}
