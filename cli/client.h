/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI's REST client: where the server is, which token to send, and one
 * call that sends a request and reads the JSON answer.
 *
 * The server URL and the token come from one place, never one from each:
 * --server or $WEIR_SERVER with $WEIR_TOKEN; else .weir/server.url with
 * .weir/admin.token (written by `weir up`); else http://127.0.0.1:8080
 * with no token. Only one half given is an error, reported by the first
 * call. The server may be a comma list (WEIR_SERVER=URL,URL, or --server
 * repeated): a call goes to the first that answers (srvlist.h).
 */
#ifndef WEIR_CLI_CLIENT_H
#define WEIR_CLI_CLIENT_H

#include <cJSON.h>
#include <stdbool.h>

#include "err.h"

struct client {
    char url[512];       /* base URL, or a comma list of them */
    char token[128];     /* bearer token, or "" */
    char setup_err[256]; /* why no call may be made, or "" */
    bool once;           /* no retry of a GET: the caller polls itself */
};

/* The value of a --server given again (prev: the value so far, or NULL):
 * the servers joined as a comma list (a buffer of the module's, for the
 * process's one command line). */
const char *client_server_flag(const char *prev, const char *next);

/* Fill c from the flag value (may be NULL), the environment and .weir/.
 * A half-given pair (a server without its token or the reverse) is kept
 * in setup_err, and every call then fails with it. */
void client_init(struct client *c, const char *server_flag);

/* A client for url that sends no token (health checks, which poll: each
 * call is made once). */
void client_init_anonymous(struct client *c, const char *url);

/*
 * Send METHOD path (e.g. "/api/v1/dags") with an optional JSON body and
 * read the answer. Returns 0 with *status and *reply (a new cJSON, or NULL
 * for an empty body) filled; a transport failure is WEIR_EUNAVAIL with err
 * saying what failed. A reply that is not JSON is WEIR_EPARSE. A GET that
 * cannot reach the server or is answered 502, 503 or 504 (a database
 * failing over, a proxy without a server) is sent again a few times over
 * about 6 s; other methods are sent once, as a POST left unanswered may
 * have been committed: of a server list, the next server gets one only
 * when the first cannot have acted on it (never sent, or a 503).
 */
WEIR_MUSTCHECK int client_call(const struct client *c, const char *method,
                               const char *path, const cJSON *body,
                               long *status, cJSON **reply,
                               struct weir_err *err);

/*
 * client_call for commands: on a transport error or a status >= 400, print
 * "weir CMD: <server message> (HTTP status)" to stderr and return NULL.
 * Otherwise return the reply (the caller frees it with cJSON_Delete).
 */
cJSON *client_call_or_say(const struct client *c, const char *cmd,
                          const char *method, const char *path,
                          const cJSON *body);

/* Percent-encode s for use in a URL path segment or query value. */
void client_escape(const char *s, char *buf, size_t len);

/* GET /api/v1/runs/ID through client_call_or_say (NULL when it failed). */
cJSON *client_get_run(const struct client *c, const char *cmd, const char *id);

/* The string member key of o (borrowed), or NULL when absent or not one. */
const char *client_json_str(const cJSON *o, const char *key);

/* The number member key of o, or -1 when absent or not a number. */
double client_json_num(const cJSON *o, const char *key);

#endif
