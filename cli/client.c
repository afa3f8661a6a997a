/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI's REST client over the shared HTTP client (common/httpc.h). */
#include "client.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "httpc.h"
#include "srvlist.h"

#define CLIENT_MAX_REPLY          ((size_t)64 << 20) /* bytes read from the server */
#define CLIENT_CONNECT_TIMEOUT_MS 5000L              /* to connect */
#define CLIENT_TIMEOUT_MS         120000L            /* a whole call */
#define CLIENT_RETRIES            5      /* more tries of a GET (see below) */
#define CLIENT_RETRY_FIRST_MS     200L   /* pause before the first; doubled */
#define CLIENT_RETRY_WINDOW_MS    10000L /* no retry after this long */

/* Read the first line of a file into buf; false when there is none. */
static bool read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    bool ok;

    if (f == NULL)
        return false;
    ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    if (ok)
        buf[strcspn(buf, "\r\n")] = '\0';
    return ok && buf[0] != '\0';
}

/* Trailing slashes off the base URL. */
static void trim_url(struct client *c)
{
    size_t n = strlen(c->url);

    while (n > 0 && c->url[n - 1] == '/')
        c->url[--n] = '\0';
}

/* --server given again and again, joined; whether the join overflowed */
static char flag_joined[1024];
static bool flag_overflow;

/* The server list in c->url, from what (named in the message), must
 * read as one; else every call fails with why. */
static void list_check(struct client *c, const char *text, const char *what)
{
    struct srvlist l = {.n = 0};
    struct weir_err err = {0};

    if (c->setup_err[0] != '\0')
        return;
    if (strlen(text) >= sizeof(c->url) || flag_overflow)
        snprintf(c->setup_err, sizeof(c->setup_err),
                 "%s: the server list is longer than %zu bytes", what,
                 sizeof(c->url) - 1);
    else if (srvlist_add(&l, text, what, false, &err) != 0)
        snprintf(c->setup_err, sizeof(c->setup_err), "%s", err.msg);
}

const char *client_server_flag(const char *prev, const char *next)
{
    size_t have;

    if (prev == NULL)
        return next;
    if (prev != flag_joined)
        snprintf(flag_joined, sizeof(flag_joined), "%s", prev);
    have = strlen(flag_joined);
    if (strlen(prev) >= sizeof(flag_joined) ||
        have + strlen(next) + 2 > sizeof(flag_joined)) {
        flag_overflow = true;
        return flag_joined;
    }
    snprintf(flag_joined + have, sizeof(flag_joined) - have, ",%s", next);
    return flag_joined;
}

/*
 * The server and its token always come from one place: both from the
 * command line and the environment, or both from .weir/. A token from
 * one place is never sent to a server named by another (a checkout could
 * carry a .weir/server.url that points elsewhere).
 */
void client_init(struct client *c, const char *server_flag)
{
    const char *env = getenv("WEIR_SERVER");
    const char *tok = getenv("WEIR_TOKEN");
    const char *what = "--server";
    bool have_url, have_tok;

    memset(c, 0, sizeof(*c));
    if (server_flag == NULL && env && *env) {
        server_flag = env;
        what = "WEIR_SERVER";
    }
    if (server_flag != NULL || (tok && *tok)) {
        if (server_flag == NULL)
            snprintf(c->setup_err, sizeof(c->setup_err),
                     "WEIR_TOKEN is set but WEIR_SERVER is not: set both "
                     "(the token is sent only to a server named with it)");
        else if ((tok == NULL || *tok == '\0') &&
                 !cli_session_get(server_flag, c->url, sizeof(c->url), c->token,
                                  sizeof(c->token)))
            snprintf(c->setup_err, sizeof(c->setup_err),
                     "the server is given (WEIR_SERVER or --server) but "
                     "WEIR_TOKEN is not: set both, or neither to use .weir/ "
                     "of this folder, or sign in with weir login");
        if (server_flag != NULL)
            list_check(c, server_flag, what);
        snprintf(c->url, sizeof(c->url), "%s", server_flag ? server_flag : "");
        if (tok != NULL && *tok != '\0')
            snprintf(c->token, sizeof(c->token), "%s", tok);
        trim_url(c);
        return;
    }
    have_url = read_line(".weir/server.url", c->url, sizeof(c->url));
    have_tok = read_line(".weir/admin.token", c->token, sizeof(c->token));
    /* neither: the session of `weir login`, with its own server */
    if (!have_url && !have_tok)
        have_url = have_tok = cli_session_get(NULL, c->url, sizeof(c->url),
                                              c->token, sizeof(c->token));
    if (have_url != have_tok)
        snprintf(c->setup_err, sizeof(c->setup_err),
                 ".weir/%s exists but .weir/%s does not: `weir up` writes "
                 "both; or set WEIR_SERVER and WEIR_TOKEN",
                 have_url ? "server.url" : "admin.token",
                 have_url ? "admin.token" : "server.url");
    if (!have_url)
        snprintf(c->url, sizeof(c->url), "http://127.0.0.1:8080");
    if (!have_tok)
        c->token[0] = '\0';
    trim_url(c);
}

void client_init_anonymous(struct client *c, const char *url)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->url, sizeof(c->url), "%s", url);
    c->once = true;
    trim_url(c);
}

static long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int parse_reply(const struct httpc_answer *ans, cJSON **reply,
                       struct weir_err *err)
{
    *reply = NULL;
    if (ans->len == 0)
        return 0;
    *reply = cJSON_ParseWithLength(ans->body, ans->len);
    if (*reply == NULL)
        return weir_err_set(err, WEIR_EPARSE,
                            "the server's reply is not JSON: %.80s", ans->body);
    return 0;
}

/* The server that answered the last call: the next one starts there (the
 * CLI makes its calls from one thread). */
static size_t answered_last;

/* One call to server url; *reached says whether it answered. */
static int call_one(const struct client *c, const char *url,
                    const struct httpc_req *req, struct httpc_answer *ans,
                    bool *reached, struct weir_err *err)
{
    struct httpc_opts o = {
        .base_url = url,
        .token = c->token,
        .connect_timeout_ms = CLIENT_CONNECT_TIMEOUT_MS,
        .answer_max = CLIENT_MAX_REPLY,
    };
    struct httpc *http = NULL;
    int ret;

    *ans = (struct httpc_answer){0};
    *reached = false;
    if (httpc_new(&o, &http, err) != 0)
        return weir_err_set(err, WEIR_ENOMEM, "cannot start an HTTP client");
    ret = httpc_call(http, req, ans, err);
    httpc_free(http);
    *reached = srvlist_reached(ret, ans->status);
    return ret;
}

/* Whether a call that did not reach its server may go to the next one: a
 * GET always (it changes nothing); another method only when the server
 * cannot have acted on it (it never went out, or the answer was 503:
 * not served), so that a run is not triggered twice when a server dies
 * after its commit or a proxy times out (502, 504). */
static bool may_resend(const struct httpc_req *req, int ret,
                       const struct httpc_answer *ans)
{
    if (strcmp(req->method, "GET") == 0)
        return true;
    return ret == WEIR_EUNAVAIL ? ans->unsent : ans->status == 503;
}

/* One round over the servers of l: from the one that answered last, on
 * to the others in order while one does not answer (srvlist.h) and the
 * call may go again (may_resend()); *i is the last one called. */
static int call_round(const struct client *c, const struct srvlist *l,
                      const struct httpc_req *req, struct httpc_answer *ans,
                      size_t *i, struct weir_err *err)
{
    bool reached = false;
    int ret = 0;

    for (size_t k = 0; k < l->n && !reached; k++) {
        if (k > 0 && ret == 0)
            free(ans->body);
        *i = (answered_last + k) % l->n;
        ret = call_one(c, l->url[*i], req, ans, &reached, err);
        if (ret != 0 && ret != WEIR_EUNAVAIL)
            break;
        if (!reached && !may_resend(req, ret, ans))
            break;
    }
    if (reached)
        answered_last = *i;
    return ret;
}

/*
 * call_round, and for a GET (it changes nothing, so sending it twice is
 * harmless) up to CLIENT_RETRIES more rounds, 0.2 s, 0.4 s, ... apart,
 * while no server can be reached or the one reached answers 502/503/504:
 * a database failover or a server restart lasts seconds. Not after a call
 * that took long (a timeout): that would multiply the wait.
 */
static int call_retrying(const struct client *c, const struct srvlist *l,
                         const struct httpc_req *req, struct httpc_answer *ans,
                         size_t *i, struct weir_err *err)
{
    bool get = strcmp(req->method, "GET") == 0 && !c->once;
    long pause_ms = CLIENT_RETRY_FIRST_MS, start = now_ms();

    for (int n = 0;; n++) {
        int ret = call_round(c, l, req, ans, i, err);
        bool again = ret == WEIR_EUNAVAIL ||
                     (ret == 0 && ans->status >= 502 && ans->status <= 504);
        struct timespec pause = {pause_ms / 1000, pause_ms % 1000 * 1000000};

        if (!get || !again || n == CLIENT_RETRIES ||
            now_ms() - start > CLIENT_RETRY_WINDOW_MS)
            return ret;
        if (ret == 0) {
            free(ans->body);
            *ans = (struct httpc_answer){0};
        }
        nanosleep(&pause, NULL);
        pause_ms *= 2;
    }
}

/*
 * With several servers (a comma list), the call goes to the one that
 * answered last, then on to the others in order while one does not
 * answer (srvlist.h): the first that answers serves it.
 */
int client_call(const struct client *c, const char *method, const char *path,
                const cJSON *body, long *status, cJSON **reply,
                struct weir_err *err)
{
    struct httpc_req req = {method, path, NULL, CLIENT_TIMEOUT_MS, NULL};
    struct httpc_answer ans = {0};
    struct srvlist l = {.n = 0};
    char *text = NULL;
    size_t i = 0;
    int ret;

    if (c->setup_err[0] != '\0')
        return weir_err_set(err, WEIR_EINVAL, "%s", c->setup_err);
    ret = srvlist_add(&l, c->url, "the server", false, err);
    if (ret < 0)
        return ret;
    if (body != NULL) {
        text = cJSON_PrintUnformatted(body);
        req.body = text ? text : "";
    }
    ret = call_retrying(c, &l, &req, &ans, &i, err);
    if (ret == WEIR_EUNAVAIL) {
        ret = weir_err_set(err, ret, "cannot reach %s%s: %s",
                           l.n > 1 ? "any of " : "",
                           l.n > 1 ? c->url : l.url[i], err->msg);
    } else if (ret == 0) {
        *status = ans.status;
        ret = parse_reply(&ans, reply, err);
    }
    cJSON_free(text);
    free(ans.body);
    return ret;
}

cJSON *client_call_or_say(const struct client *c, const char *cmd,
                          const char *method, const char *path,
                          const cJSON *body)
{
    struct weir_err err = {0};
    cJSON *reply = NULL;
    const cJSON *e, *msg;
    long status = 0;

    if (client_call(c, method, path, body, &status, &reply, &err) != 0) {
        fprintf(stderr, "weir %s: %s\n", cmd, err.msg);
        if (err.code == WEIR_EUNAVAIL && c->setup_err[0] == '\0')
            fprintf(stderr, "(is the server running? start it with "
                            "./scripts/run.sh, or set WEIR_SERVER)\n");
        return NULL;
    }
    if (status < 400)
        return reply;
    e = cJSON_GetObjectItemCaseSensitive(reply, "error");
    msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    fprintf(stderr, "weir %s: %s (HTTP %ld)\n", cmd,
            cJSON_IsString(msg) ? msg->valuestring : "request failed", status);
    if (status == 401)
        fprintf(stderr, "(set WEIR_SERVER and WEIR_TOKEN, or run from the "
                        "folder holding .weir/ of `weir up`)\n");
    cJSON_Delete(reply);
    return NULL;
}

void client_escape(const char *s, char *buf, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    for (; *s && n + 4 < len; s++) {
        unsigned char ch = (unsigned char)*s;

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr("-._~", ch)) {
            buf[n++] = (char)ch;
        } else {
            buf[n++] = '%';
            buf[n++] = hex[ch >> 4];
            buf[n++] = hex[ch & 15];
        }
    }
    buf[n] = '\0';
}

cJSON *client_get_run(const struct client *c, const char *cmd, const char *id)
{
    char path[256], esc[128];

    client_escape(id, esc, sizeof(esc));
    snprintf(path, sizeof(path), "/api/v1/runs/%s", esc);
    return client_call_or_say(c, cmd, "GET", path, NULL);
}

const char *client_json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

double client_json_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}
