/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON over HTTP with libcurl, abortable. Connections are kept alive:
 * each call borrows an easy handle from the client's pool of idle ones
 * (each handle keeps its connection open between calls) and gives it
 * back after, so a worker makes a new connection only when more of its
 * calls run at once than ever before, not one per call. A handle is used
 * by one thread at a time; libcurl cannot share one connection cache
 * between threads, so the pool shares handles instead. A handle whose
 * call failed is closed rather than pooled, with its connection.
 */
#include "client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#define CONNECT_TIMEOUT_MS 10000
#define IDLE_MAX           32 /* idle handles (connections) kept */

struct client {
    char *base_url;          /* without a trailing slash */
    char *auth_header;       /* "Authorization: Bearer <token>" */
    struct curl_slist *hdrs; /* the headers of every call */
    pthread_mutex_t mu;      /* guards idle and n_idle */
    CURL *idle[IDLE_MAX];    /* handles with a connection, not in use */
    size_t n_idle;           /* entries in idle */
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

int client_get(struct client *c, const char *path, long timeout_ms,
               long *status, struct weir_err *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct answer_buf b = {0};
    char *url = malloc(strlen(c->base_url) + strlen(path) + 1);
    CURL *h = handle_take(c);
    CURLcode res;
    int rc = 0;

    if (url == NULL || h == NULL) {
        rc = weir_err_set(err, WEIR_ENOMEM, "GET %s: out of memory", path);
        goto out;
    }
    sprintf(url, "%s%s", c->base_url, path);
    if (!setup(h, url, "", &b, timeout_ms, NULL, errbuf) ||
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) != CURLE_OK) {
        rc = weir_err_set(err, WEIR_EINTERNAL, "GET %s: curl refused an option",
                          path);
        goto out;
    }
    res = curl_easy_perform(h);
    if (res != CURLE_OK) {
        rc = weir_err_set(err, WEIR_EUNAVAIL, "GET %s: %s", url,
                          errbuf[0] ? errbuf : curl_easy_strerror(res));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
out:
    if (h != NULL)
        handle_give(c, h, rc == 0);
    free(url);
    free(b.p);
    return rc;
}

int client_post(struct client *c, const char *path, const cJSON *body,
                long timeout_ms, const atomic_bool *cancel, long *status,
                cJSON **answer, int64_t *age_ms, struct weir_err *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct answer_buf b = {0};
    char *text = NULL, *url = NULL;
    CURL *h = NULL;
    CURLcode res = CURLE_OK;
    int rc = 0;

    text = body != NULL ? cJSON_PrintUnformatted(body) : NULL;
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
    if (age_ms != NULL)
        *age_ms = recv_age_ms(h);
    *answer = b.n > 0 ? cJSON_ParseWithLength(b.p, b.n) : NULL;
    if (b.n > 0 && *answer == NULL) /* e.g. nested past cJSON's limit */
        rc = weir_err_set(err, WEIR_EPARSE,
                          "POST %s: the answer (HTTP %ld, %zu bytes) is not "
                          "JSON the worker can parse; it is dropped",
                          path, *status, b.n);
out:
    if (h != NULL)
        handle_give(c, h, rc == 0);
    cJSON_free(text);
    free(url);
    free(b.p);
    return rc;
}
