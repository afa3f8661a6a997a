/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI's REST client: where the server is, which token to send, and one
 * call that sends a request and reads the JSON answer.
 *
 * The server URL comes from --server, else $WEIR_SERVER, else the file
 * .weir/server.url that `weir up` writes, else http://127.0.0.1:8080. The
 * token comes from $WEIR_TOKEN, else .weir/admin.token.
 */
#ifndef WEIR_CLI_CLIENT_H
#define WEIR_CLI_CLIENT_H

#include <cJSON.h>

#include "err.h"

struct client {
    char url[512];   /* base URL, without a trailing slash */
    char token[128]; /* bearer token, or "" */
};

/* Fill c from the flag value (may be NULL), the environment and .weir/. */
void client_init(struct client *c, const char *server_flag);

/*
 * Send METHOD path (e.g. "/api/v1/dags") with an optional JSON body and
 * read the answer. Returns 0 with *status and *reply (a new cJSON, or NULL
 * for an empty body) filled; a transport failure is WEIR_EUNAVAIL with err
 * saying what failed. A reply that is not JSON is WEIR_EPARSE.
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

#endif
