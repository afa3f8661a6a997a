/* SPDX-License-Identifier: Apache-2.0 */
/* JSON over HTTP with libcurl: one easy handle per call, abortable. */
#include "client.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#define CONNECT_TIMEOUT_MS 10000

struct client {
    char *base_url;    /* without a trailing slash */
    char *auth_header; /* "Authorization: Bearer <token>" */
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
    *out = c;
    return 0;
}

void client_free(struct client *c)
{
    if (c == NULL)
        return;
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

/* Set the options of one call; false when curl refused one. */
static bool setup(CURL *h, const char *url, const char *body,
                  struct curl_slist *hdrs, struct answer_buf *b,
                  long timeout_ms, const atomic_bool *cancel, char *errbuf)
{
    return curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_WRITEDATA, b) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                            (long)CONNECT_TIMEOUT_MS) == CURLE_OK &&
           (cancel == NULL ||
            (curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb) ==
                 CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)cancel) ==
                 CURLE_OK)) &&
           curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_USERAGENT,
                            "weir-worker/" WEIR_VERSION) == CURLE_OK;
}

int client_post(const struct client *c, const char *path, const cJSON *body,
                long timeout_ms, const atomic_bool *cancel, long *status,
                cJSON **answer, struct weir_err *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct answer_buf b = {0};
    struct curl_slist *hdrs = NULL, *h2;
    char *text = NULL, *url = NULL;
    CURL *h = NULL;
    CURLcode res;
    int rc = 0;

    text = body != NULL ? cJSON_PrintUnformatted(body) : NULL;
    url = malloc(strlen(c->base_url) + strlen(path) + 1);
    h = curl_easy_init();
    hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    h2 = hdrs != NULL ? curl_slist_append(hdrs, c->auth_header) : NULL;
    if ((body != NULL && text == NULL) || url == NULL || h == NULL ||
        h2 == NULL) {
        rc = weir_err_set(err, WEIR_ENOMEM, "POST %s: out of memory", path);
        goto out;
    }
    sprintf(url, "%s%s", c->base_url, path);
    if (!setup(h, url, text != NULL ? text : "{}", hdrs, &b, timeout_ms, cancel,
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
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    cJSON_free(text);
    free(url);
    free(b.p);
    return rc;
}
