/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dashboard's static files at / and /NAME: compiled into the binary
 * from web/, or read from --web-dir at each request (for development).
 * No token is needed for them; every reply carries a strict
 * Content-Security-Policy (scripts and styles from this server only, no
 * inline script) and an ETag that If-None-Match answers with 304.
 * GET /api/v1/session tells the dashboard the role and name of its token,
 * so that a read-only token sees no action buttons.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "api/auth.h"
#include "api/authz.h"
#include "api/oidc.h"
#include "api/web_files.h"
#include "sha256.h"

#define WEB_FILE_MAX (4 * 1024 * 1024) /* bytes of a file in --web-dir */

static const char csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/* The Content-Type of a file name, by its extension. */
static const char *web_type(const char *name)
{
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".json", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');

    for (size_t i = 0; dot != NULL && i < WEIR_ARRAY_LEN(types); i++)
        if (strcmp(dot, types[i][0]) == 0)
            return types[i][1];
    return "application/octet-stream";
}

/* Whether name is a plain file name: no path, no leading dot. */
static bool web_name_ok(const char *name)
{
    if (name[0] == '\0' || name[0] == '.')
        return false;
    for (const char *p = name; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

/* Send data, or 304 when the client has this ETag already. */
static void web_send(struct http_req *req, const char *name, const void *data,
                     size_t len, const char *etag)
{
    const char *inm = http_req_header(req, "If-None-Match");
    const char *headers[] = {"ETag",
                             etag,
                             "Cache-Control",
                             "no-cache",
                             "Content-Security-Policy",
                             csp,
                             "X-Content-Type-Options",
                             "nosniff",
                             "Referrer-Policy",
                             "no-referrer",
                             "X-Frame-Options",
                             "DENY",
                             NULL};

    if (inm != NULL && strstr(inm, etag) != NULL)
        http_reply_bytes(req, 304, NULL, "", 0, headers);
    else
        http_reply_bytes(req, 200, web_type(name), data, len, headers);
}

/* Read dir/name whole into *out (malloc'd) and *len. */
static int web_read(const char *dir, const char *name, char **out, size_t *len,
                    struct weir_err *err)
{
    char path[4096];
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size > WEB_FILE_MAX) {
        if (fd >= 0)
            close(fd);
        return weir_err_set(err, WEIR_ENOTFOUND, "no such path: /%s", name);
    }
    buf = malloc((size_t)st.st_size + 1);
    while (buf != NULL && got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (buf == NULL || got != (size_t)st.st_size) {
        free(buf);
        return weir_err_set(err, WEIR_EIO, "cannot read %s", path);
    }
    *out = buf;
    *len = got;
    return 0;
}

void api_web_get(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const char *name = http_req_param(req, "file");
    struct weir_err err = {0};
    char *data = NULL;
    size_t len = 0;
    char hex[65], etag[36];

    if (name == NULL)
        name = "index.html";
    if (!web_name_ok(name)) {
        http_reply_error(req, WEIR_ENOTFOUND, "no such path: %s",
                         http_req_path(req));
        return;
    }
    if (api->web_dir == NULL) {
        for (size_t i = 0; i < web_files_count; i++)
            if (strcmp(web_files[i].name, name) == 0) {
                web_send(req, name, web_files[i].data, web_files[i].len,
                         web_files[i].etag);
                return;
            }
        http_reply_error(req, WEIR_ENOTFOUND, "no such path: %s",
                         http_req_path(req));
        return;
    }
    if (web_read(api->web_dir, name, &data, &len, &err) != 0) {
        http_reply_err(req, &err);
        return;
    }
    sha256_hex(data, len, hex);
    snprintf(etag, sizeof(etag), "\"%.32s\"", hex);
    web_send(req, name, data, len, etag);
    free(data);
}

void api_session_get(struct http_req *req)
{
    const struct store_token *t = api_caller(req);
    struct weir_err err = {0};
    cJSON *o;

    if (t == NULL) {
        weir_err_set(&err, WEIR_EAUTH, "this route needs an API token");
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "role", t->role);
    cJSON_AddStringToObject(o, "name", t->name);
    api_session_add(req, o); /* grants and what they allow */
    oidc_session_describe(((struct api *)http_req_app(req))->store, req, o);
    http_reply_json(req, 200, o);
}
