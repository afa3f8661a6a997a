/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmicrohttpd glue. The access callback runs three times or more per
 * request: first (match the route, check the token and Content-Length,
 * possibly reply at once without reading the body), then once per body
 * chunk (append up to the route's limit), then once more with no data
 * (parse the JSON body, run the handler). Requests live in a struct
 * http_req freed by the completion callback.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/guard.h"
#include "jsoncheck.h"
#include "log.h"
#include "sha256.h"
#include "utf8.h"

#define DEFAULT_MAX_CONNECTIONS 256
#define CONNECTION_TIMEOUT_S    120 /* idle connections are closed */
#define LISTEN_BACKLOG          128
#define HTTP_TRIM_AFTER         (256 * 1024) /* body bytes worth a trim */
#define TLS_OPTIONS_MAX         4            /* MHD options of HTTPS, END too */
/* GnuTLS's defaults, without TLS 1.0 and 1.1 */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct http_server {
    struct MHD_Daemon *mhd;             /* the daemon */
    struct http_guard *guard;           /* connection limits */
    struct http_config cfg;             /* routes, auth, app */
    char address[INET6_ADDRSTRLEN + 8]; /* bound "host:port" */
};

struct http_param {
    const char *name;  /* {name} of the pattern, without braces */
    size_t name_len;   /* bytes of name */
    const char *value; /* the path segment (points into the req's copy) */
};

struct http_req {
    struct http_server *srv;                   /* the server */
    struct MHD_Connection *conn;               /* its connection */
    struct http_guard_conn *gc;                /* its record, or NULL */
    const struct http_route *route;            /* matched route, or NULL */
    char *method;                              /* copy of the method */
    char *path;                                /* copy of the path */
    char *segs;                                /* room for the {name} values */
    struct http_param params[HTTP_MAX_PARAMS]; /* {name} values */
    size_t n_params;                           /* entries in params */
    char *body;                                /* body so far, NUL-terminated */
    size_t body_len;                           /* bytes in body */
    size_t body_cap;                           /* allocated bytes in body */
    size_t body_seen;                          /* bytes received, kept or not */
    bool too_big;                              /* the body passed the limit */
    size_t announced;                          /* Content-Length, or 0 */
    cJSON *json;                               /* parsed body */
    bool replied;                              /* a response was queued */
    bool queue_failed;                         /* MHD refused the response */
    struct timespec start;                     /* when the request arrived */
    void *caller;                /* what auth learned of the caller */
    void (*caller_free)(void *); /* frees caller, or NULL */
};

/* ---- replies ---- */

static double elapsed_ms(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 +
           (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

/* Queue len bytes of text (taken; freed with cJSON_free) as the response,
 * with extra headers: NULL or a NULL-ended list of name, value pairs. */
static void queue_typed(struct http_req *req, int status, char *text,
                        size_t len, const char *type,
                        const char *const *headers)
{
    struct MHD_Response *resp;
    char path[200];

    WEIR_ASSERT(!req->replied);
    req->replied = true;
    resp = MHD_create_response_from_buffer_with_free_callback(len, text,
                                                              cJSON_free);
    if (resp == NULL) {
        cJSON_free(text);
        req->queue_failed = true;
        return;
    }
    if (type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
    if (status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer");
    if (MHD_queue_response(req->conn, (unsigned)status, resp) != MHD_YES)
        req->queue_failed = true;
    MHD_destroy_response(resp);
    log_write(status >= 500 ? LOG_LEVEL_WARN : LOG_LEVEL_INFO,
              "event=http method=%s path=%s status=%d ms=%.1f", req->method,
              log_quote(req->path, path, sizeof(path)), status,
              elapsed_ms(&req->start));
}

/* A JSON response. */
static void queue_text(struct http_req *req, int status, char *text,
                       const char *allow)
{
    const char *headers[] = {MHD_HTTP_HEADER_ALLOW, allow, NULL};

    queue_typed(req, status, text, strlen(text), "application/json",
                allow != NULL ? headers : NULL);
}

/*
 * A successful GET of JSON carries an ETag (a digest of the body), and
 * answers 304 without a body when If-None-Match names it: pages that poll
 * then download only what changed.
 */
static bool reply_not_modified(struct http_req *req, int status,
                               const char *text, char etag[36])
{
    const char *headers[] = {MHD_HTTP_HEADER_ETAG, etag, NULL};
    const char *inm;
    char hex[65];

    etag[0] = '\0';
    if (status != 200 || strcmp(req->method, "GET") != 0)
        return false;
    sha256_hex(text, strlen(text), hex);
    snprintf(etag, 36, "\"%.32s\"", hex);
    inm = http_req_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm == NULL || strstr(inm, etag) == NULL)
        return false;
    http_reply_bytes(req, 304, NULL, "", 0, headers);
    return true;
}

void http_reply_text(struct http_req *req, int status, const char *type,
                     const char *text)
{
    size_t n = strlen(text);
    char *copy = cJSON_malloc(n + 1);

    if (copy == NULL) {
        http_reply_error(req, WEIR_ENOMEM, "out of memory");
        return;
    }
    memcpy(copy, text, n + 1);
    queue_typed(req, status, copy, n, type, NULL);
}

void http_reply_bytes(struct http_req *req, int status, const char *type,
                      const void *data, size_t len, const char *const *headers)
{
    char *copy = cJSON_malloc(len + 1);

    if (copy == NULL) {
        http_reply_error(req, WEIR_ENOMEM, "out of memory");
        return;
    }
    memcpy(copy, data, len);
    queue_typed(req, status, copy, len, type, headers);
}

/* Reply with JSON text (taken; from cJSON_malloc), with an ETag and a
 * 304 as reply_not_modified() says. */
static void reply_json_taken(struct http_req *req, int status, char *text)
{
    char etag[36];

    if (reply_not_modified(req, status, text, etag)) {
        cJSON_free(text);
        return;
    }
    if (etag[0] != '\0') {
        const char *headers[] = {MHD_HTTP_HEADER_ETAG, etag,
                                 MHD_HTTP_HEADER_CACHE_CONTROL,
                                 "private, no-cache", NULL};

        queue_typed(req, status, text, strlen(text), "application/json",
                    headers);
        return;
    }
    queue_text(req, status, text, NULL);
}

void http_reply_json(struct http_req *req, int status, cJSON *body)
{
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;

    cJSON_Delete(body);
    if (text == NULL) {
        /* Out of memory: a fixed body needs no allocation from cJSON's
         * printer, but the response still needs a buffer of its own. */
        text = cJSON_malloc(64);
        if (text == NULL) {
            req->replied = true;
            req->queue_failed = true;
            return;
        }
        strcpy(text, "{\"error\":{\"code\":\"NOMEM\"}}");
        status = 500;
    }
    reply_json_taken(req, status, text);
}

void http_reply_json_text(struct http_req *req, int status, const char *text)
{
    size_t n = strlen(text);
    char *copy = cJSON_malloc(n + 1);

    if (copy == NULL) {
        http_reply_json(req, status, NULL);
        return;
    }
    memcpy(copy, text, n + 1);
    reply_json_taken(req, status, copy);
}

static void reply_error_named(struct http_req *req, int status,
                              const char *code, const char *msg,
                              const char *allow)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    char *text;

    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", msg);
    text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (text == NULL) {
        http_reply_json(req, 500, NULL);
        return;
    }
    queue_text(req, status, text, allow);
}

/*
 * An error reply. A 5xx tells the client only what failed in general
 * terms (the code's own words): the details, which may be the database's
 * text, go to the log with the request they belong to.
 */
static void reply_error_msg(struct http_req *req, int code, const char *msg)
{
    int status = weir_err_http_status(code);
    char path[200], q[600];

    if (status >= 500) {
        log_warn("event=http_5xx method=%s path=%s code=%s msg=%s", req->method,
                 log_quote(req->path, path, sizeof(path)), weir_errname(code),
                 log_quote(msg, q, sizeof(q)));
        msg = weir_strerror(code);
    }
    reply_error_named(req, status, weir_errname(code), msg, NULL);
}

void http_reply_error(struct http_req *req, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_error_msg(req, code, msg);
}

void http_reply_err(struct http_req *req, const struct weir_err *err)
{
    int code = err->code ? err->code : WEIR_EINTERNAL;

    reply_error_msg(req, code, err->msg[0] ? err->msg : weir_strerror(code));
}

/* ---- accessors ---- */

const char *http_req_method(const struct http_req *req)
{
    return req->method;
}

const char *http_req_path(const struct http_req *req)
{
    return req->path;
}

const char *http_req_param(const struct http_req *req, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < req->n_params; i++)
        if (req->params[i].name_len == len &&
            memcmp(req->params[i].name, name, len) == 0)
            return req->params[i].value;
    return NULL;
}

const char *http_req_query(const struct http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_req_header(const struct http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const cJSON *http_req_json(const struct http_req *req)
{
    return req->json;
}

const char *http_req_body(const struct http_req *req, size_t *len)
{
    if (len != NULL)
        *len = req->body ? req->body_len : 0;
    return req->body ? req->body : "";
}

unsigned http_req_action(const struct http_req *req)
{
    return req->route != NULL ? req->route->action : 0;
}

void *http_req_app(const struct http_req *req)
{
    return req->srv->cfg.app;
}

void http_req_caller_set(struct http_req *req, void *caller,
                         void (*free_fn)(void *))
{
    if (req->caller_free != NULL)
        req->caller_free(req->caller);
    req->caller = caller;
    req->caller_free = free_fn;
}

void *http_req_caller(const struct http_req *req)
{
    return req->caller;
}

bool http_req_gone(struct http_req *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct pollfd p = {.events = POLLIN | POLLRDHUP};
    char byte;
    ssize_t n;

    if (ci == NULL)
        return false;
    p.fd = ci->connect_fd;
    if (poll(&p, 1, 0) <= 0)
        return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
        return true;
    /* Readable: the end of the stream, or a request sent ahead. */
    n = recv(p.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 ||
           (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* ---- routing ---- */

/*
 * Match path against pattern segment by segment; {name} segments match
 * any non-empty segment, whose value is copied into scratch (at least
 * strlen(path) + 1 bytes) and recorded in params.
 */
static bool route_match(const char *pattern, const char *path, char *scratch,
                        struct http_param *params, size_t *n_params)
{
    const char *p = pattern, *q = path;
    size_t np = 0;

    while (*p != '\0' && *q != '\0') {
        const char *pe, *qe;

        if (*p++ != '/' || *q++ != '/')
            return false;
        pe = p + strcspn(p, "/");
        qe = q + strcspn(q, "/");
        if (*p == '{') {
            if (qe == q || np == HTTP_MAX_PARAMS)
                return false;
            params[np].name = p + 1;
            params[np].name_len = (size_t)(pe - p) - 2;
            memcpy(scratch, q, (size_t)(qe - q));
            scratch[qe - q] = '\0';
            params[np++].value = scratch;
            scratch += qe - q + 1;
        } else if (pe - p != qe - q || memcmp(p, q, (size_t)(pe - p)) != 0) {
            return false;
        }
        p = pe;
        q = qe;
    }
    *n_params = np;
    return *p == '\0' && *q == '\0';
}

/* The route for the request's method and path, or NULL; then allow lists
 * the methods the path has (empty when the path is unknown). */
static const struct http_route *route_find(struct http_req *req, char *allow,
                                           size_t allow_len)
{
    const struct http_config *cfg = &req->srv->cfg;

    allow[0] = '\0';
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const struct http_route *r = &cfg->routes[i];
        size_t used = strlen(allow);

        if (!route_match(r->pattern, req->path, req->segs, req->params,
                         &req->n_params))
            continue;
        if (strcmp(r->method, req->method) == 0)
            return r;
        if (strstr(allow, r->method) == NULL)
            snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "",
                     r->method);
    }
    req->n_params = 0;
    return NULL;
}

static size_t body_limit(const struct http_req *req)
{
    return req->route->max_body ? req->route->max_body : HTTP_BODY_MAX_DEFAULT;
}

static enum MHD_Result query_utf8_cb(void *cls, enum MHD_ValueKind kind,
                                     const char *key, const char *value)
{
    const char **bad = cls;

    (void)kind;
    if (key != NULL && utf8_invalid_offset((const unsigned char *)key,
                                           strlen(key)) != strlen(key)) {
        *bad = "";
        return MHD_NO;
    }
    if (value != NULL && utf8_invalid_offset((const unsigned char *)value,
                                             strlen(value)) != strlen(value)) {
        *bad = key;
        return MHD_NO;
    }
    return MHD_YES;
}

/* The path and every query argument are well-formed UTF-8; otherwise a
 * 400 naming which. */
static bool req_text_ok(struct http_req *req)
{
    size_t n = strlen(req->path);
    const char *bad = NULL;
    char q[120];

    if (utf8_invalid_offset((const unsigned char *)req->path, n) != n) {
        http_reply_error(
            req, WEIR_EINVAL, "the path is not valid UTF-8 (byte %zu)",
            utf8_invalid_offset((const unsigned char *)req->path, n));
        return false;
    }
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_utf8_cb,
                              (void *)&bad);
    if (bad == NULL)
        return true;
    if (bad[0] == '\0')
        http_reply_error(req, WEIR_EINVAL,
                         "a query parameter's name is not valid UTF-8");
    else
        http_reply_error(req, WEIR_EINVAL,
                         "query parameter %s: the value is not valid UTF-8",
                         log_quote(bad, q, sizeof(q)));
    return false;
}

static void format_address(const struct sockaddr *sa, char *buf, size_t len);

/* A route for workers on a server with a client CA (mutual TLS) wants
 * the connection's client certificate signed by it; a 403 otherwise. The
 * token is checked after, as on any route. */
static bool client_cert_ok(struct http_req *req)
{
    const struct http_tls *tls = req->srv->cfg.tls;
    const union MHD_ConnectionInfo *ci;
    struct weir_err err = {0};
    char peer[INET6_ADDRSTRLEN + 8] = "?";

    if (!(req->route->flags & HTTP_CLIENT_CERT) || tls == NULL ||
        http_tls_client_ca(tls) == NULL)
        return true;
    ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci != NULL && ci->client_addr != NULL)
        format_address(ci->client_addr, peer, sizeof(peer));
    ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (http_tls_peer_check(ci != NULL ? ci->tls_session : NULL, peer, &err) ==
        0)
        return true;
    http_reply_err(req, &err);
    return false;
}

/* Route, token and Content-Length checks, before any body is read. */
static void req_begin(struct http_req *req)
{
    const char *cl;
    char allow[64];
    struct weir_err err = {0};
    unsigned long long len;
    int status;

    if (!req_text_ok(req))
        return;
    req->route = route_find(req, allow, sizeof(allow));
    if (req->route == NULL && allow[0] != '\0') {
        reply_error_named(req, 405, "BADMETHOD",
                          "this path does not accept this method", allow);
        return;
    }
    if (req->route == NULL) {
        http_reply_error(req, WEIR_ENOTFOUND, "no such path: %s", req->path);
        return;
    }
    status = http_guard_request(req->srv->guard, req->gc,
                                req->srv->cfg.trusted_proxy
                                    ? http_req_header(req, "X-Forwarded-For")
                                    : NULL,
                                req->route->flags & HTTP_PUBLIC, &err);
    if (status != 0) {
        reply_error_named(req, status, status == 429 ? "TOO_MANY" : "BUSY",
                          err.msg, NULL);
        return;
    }
    if (!client_cert_ok(req))
        return;
    if (!(req->route->flags & HTTP_PUBLIC)) {
        if (req->srv->cfg.auth(req->srv->cfg.app, req, &err) != 0) {
            http_reply_err(req, &err);
            return;
        }
        http_guard_authenticated(req->srv->guard, req->gc);
    }
    cl = http_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL && (len = strtoull(cl, NULL, 10)) > body_limit(req))
        http_reply_error(req, WEIR_ETOOBIG,
                         "the request body of %llu bytes is over the limit "
                         "of %zu bytes",
                         len, body_limit(req));
    else if (cl != NULL)
        req->announced = (size_t)len;
}

static void body_append(struct http_req *req, const char *data, size_t len)
{
    size_t limit = body_limit(req);

    req->body_seen += len;
    if (req->too_big || req->body_seen > limit) {
        req->too_big = true;
        free(req->body);
        req->body = NULL;
        req->body_len = req->body_cap = 0;
        return;
    }
    if (req->body_len + len + 1 > req->body_cap) {
        /* The announced length is allocated once: no doubling, no slack
         * (its limit was checked in req_begin). */
        size_t cap = req->body_cap        ? req->body_cap
                     : req->announced > 0 ? req->announced + 1
                                          : 4096;
        char *b;

        while (cap < req->body_len + len + 1)
            cap *= 2;
        b = realloc(req->body, cap);
        if (b == NULL) {
            req->too_big = true; /* reported as 413: the body cannot be kept */
            return;
        }
        req->body = b;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, len);
    req->body_len += len;
    req->body[req->body_len] = '\0';
}

int http_json_parse(char *text, size_t len, bool replace_nul, cJSON **out,
                    struct weir_err *err)
{
    if (replace_nul)
        json_nul_replace(text, len);
    return json_parse_text(text, len, out, err);
}

/* Parse the JSON body; on failure reply 400 with the place. Routes that
 * take any bytes (HTTP_ANY_BYTES) get \u0000 read as U+FFFD, like the
 * invalid UTF-8 they also accept; the others get it refused. */
static bool body_parse(struct http_req *req)
{
    static char empty[] = "";
    bool any = (req->route->flags & HTTP_ANY_BYTES) != 0;
    struct weir_err err = {0};

    if (http_json_parse(req->body ? req->body : empty, req->body_len, any,
                        &req->json, &err) == 0 &&
        (any || json_utf8_check(req->json, "body", &err) == 0)) {
        /* The tree is what handlers read: the text can go now, not
         * after the handler has made its own copies. */
        free(req->body);
        req->body = NULL;
        req->body_len = 0;
        return true;
    }
    cJSON_Delete(req->json);
    req->json = NULL;
    http_reply_err(req, &err);
    return false;
}

static void req_finish(struct http_req *req)
{
    if (req->too_big) {
        http_reply_error(req, WEIR_ETOOBIG,
                         "the request body is over the limit of %zu bytes",
                         body_limit(req));
        return;
    }
    if ((req->route->flags & HTTP_JSON_BODY) &&
        !((req->route->flags & HTTP_BODY_OPTIONAL) && req->body_len == 0) &&
        !body_parse(req))
        return;
    req->route->fn(req);
    WEIR_ASSERT(req->replied);
}

/* ---- libmicrohttpd callbacks ---- */

static void req_free(struct http_req *req)
{
    if (req == NULL)
        return;
    if (req->caller_free != NULL)
        req->caller_free(req->caller);
    cJSON_Delete(req->json);
    free(req->body);
    free(req->segs);
    free(req->path);
    free(req->method);
    free(req);
}

static struct http_req *req_new(struct http_server *srv,
                                struct MHD_Connection *conn, const char *url,
                                const char *method)
{
    struct http_req *req = calloc(1, sizeof(*req));

    if (req == NULL)
        return NULL;
    req->srv = srv;
    req->conn = conn;
    clock_gettime(CLOCK_MONOTONIC, &req->start);
    req->method = strdup(method);
    req->path = strdup(url);
    req->segs = malloc(strlen(url) + 1);
    if (req->method == NULL || req->path == NULL || req->segs == NULL) {
        req_free(req);
        return NULL;
    }
    return req;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct http_req *req = *con_cls;

    (void)version;
    if (req == NULL) {
        req = req_new(cls, conn, url, method);
        if (req == NULL)
            return MHD_NO;
        req->gc = http_guard_conn_get(conn);
        *con_cls = req;
        req_begin(req);
        return req->queue_failed ? MHD_NO : MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!req->replied)
            body_append(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!req->replied)
        req_finish(req);
    return req->queue_failed ? MHD_NO : MHD_YES;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct http_req *req = *con_cls;
    bool big = req != NULL && req->body_cap >= HTTP_TRIM_AFTER;

    (void)toe;
    http_guard_request_done(srv->guard, http_guard_conn_get(conn));
    req_free(req);
    *con_cls = NULL;
    /* A large body and its parsed tree leave free memory in this
     * thread's arena: give it back now rather than keep the peak. */
    if (big)
        malloc_trim(0);
}

__attribute__((format(printf, 2, 0))) static void
mhd_log_cb(void *cls, const char *fmt, va_list ap)
{
    char msg[300], q[320];

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_warn("event=http_error msg=%s", log_quote(msg, q, sizeof(q)));
}

/* ---- server ---- */

static void format_address(const struct sockaddr *sa, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";

    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
    }
}

/* A listening socket on addr; the bound address goes into srv->address. */
static int listen_socket(struct http_server *srv, struct weir_err *err)
{
    const struct http_config *cfg = &srv->cfg;
    struct sockaddr_storage bound = {0};
    socklen_t blen = sizeof(bound);
    int one = 1;
    int fd = socket(cfg->addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    format_address(cfg->addr, srv->address, sizeof(srv->address));
    if (fd < 0)
        return weir_err_set(err, WEIR_EIO, "socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (cfg->addr->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, cfg->addr, cfg->addr_len) != 0 ||
        listen(fd, LISTEN_BACKLOG) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
        int e = errno;

        close(fd);
        return weir_err_set(err, WEIR_EIO, "cannot listen on %s: %s",
                            srv->address, strerror(e));
    }
    format_address((const struct sockaddr *)&bound, srv->address,
                   sizeof(srv->address));
    return fd;
}

/*
 * The options of HTTPS (none for plain HTTP) into opts: the certificate
 * comes from tls.c at each handshake (so that a reload takes effect), the
 * protocol is TLS 1.2 or 1.3, and with a client CA every handshake asks
 * for a client certificate (not requires: routes that need one say so,
 * with a 403 naming what is missing, rather than a failed handshake).
 */
static void tls_options(struct http_tls *tls,
                        struct MHD_OptionItem opts[TLS_OPTIONS_MAX])
{
    size_t n = 0;

    if (tls != NULL) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
                                            http_tls_cert_cb()};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                            (void *)TLS_PRIORITIES};
    }
    if (tls != NULL && http_tls_client_ca(tls) != NULL)
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0,
                                            (void *)http_tls_client_ca(tls)};
    opts[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

int http_server_start(const struct http_config *cfg, struct http_server **out,
                      struct weir_err *err)
{
    struct http_server *srv = calloc(1, sizeof(*srv));
    unsigned max =
        cfg->max_connections ? cfg->max_connections : DEFAULT_MAX_CONNECTIONS;
    struct http_guard_config gcfg = {.max_connections = max,
                                     .per_client = cfg->per_client,
                                     .trusted = cfg->trusted_proxy};
    struct MHD_OptionItem tls_opts[TLS_OPTIONS_MAX];
    int fd, rc;

    if (srv == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    srv->cfg = *cfg;
    rc = http_guard_new(&gcfg, &srv->guard, err);
    if (rc < 0) {
        free(srv);
        return rc;
    }
    fd = listen_socket(srv, err);
    if (fd < 0) {
        http_guard_free(srv->guard);
        free(srv);
        return fd;
    }
    tls_options(cfg->tls, tls_opts);
    /* The logger goes first so that no option's message escapes it. */
    srv->mhd = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD |
            MHD_USE_ERROR_LOG | (cfg->tls != NULL ? MHD_USE_TLS : 0),
        0, http_guard_accept_cb, srv->guard, access_cb, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log_cb, srv, MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, max,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
        MHD_OPTION_NOTIFY_COMPLETED, completed_cb, srv,
        MHD_OPTION_NOTIFY_CONNECTION, http_guard_notify_cb, srv->guard,
        MHD_OPTION_END);
    if (srv->mhd == NULL) {
        close(fd);
        http_guard_free(srv->guard);
        free(srv);
        return weir_err_set(err, WEIR_EIO, "cannot start the HTTP server");
    }
    *out = srv;
    return 0;
}

const char *http_server_address(const struct http_server *srv)
{
    return srv->address;
}

void http_server_stop(struct http_server *srv)
{
    if (srv == NULL)
        return;
    MHD_stop_daemon(srv->mhd);
    http_guard_free(srv->guard);
    free(srv);
}
