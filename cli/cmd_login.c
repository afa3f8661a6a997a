/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `weir login`: single sign-on for the CLI. It listens on a loopback
 * port, prints the server's sign-in URL for a browser, and waits: the
 * server sends the browser back to that port with a one-time code, which
 * the CLI exchanges (POST /auth/cli, with the secret whose SHA-256 it
 * gave at the start, so that a code seen by another program is useless)
 * for a session secret. The secret is stored with its server in a file
 * only the user may read (cli/config.h) and sent by later commands to
 * that server only; it is a session with the user's grants and lifetime,
 * not an admin token.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "config.h"
#include "sha256.h"

#define LOGIN_WAIT_S 300 /* the user has this long to sign in */
#define CODE_LEN     64  /* hex characters of the server's one-time code */

static const char usage_text[] =
    "usage: weir login [--server URL]\n\n"
    "Signs in to the server with its single sign-on (OpenID Connect):\n"
    "prints a URL to open in a browser, waits up to 5 minutes for the\n"
    "sign-in to come back to a port of 127.0.0.1, and stores the session\n"
    "(not a token) in $XDG_CONFIG_HOME/weir/session, else\n"
    "~/.config/weir/session (mode 0600). Later commands to that server\n"
    "use it when no WEIR_TOKEN is given, until it expires.\n\n"
    "  --server URL  the server (default: $WEIR_SERVER, .weir/server.url,\n"
    "                the last login's, or http://127.0.0.1:8080)\n";

static int random_hex(char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[32];

    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -1;
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

/* A listening socket on 127.0.0.1 (a port the system picks) into *fd,
 * its port into *port. */
static int listen_loopback(int *fd, int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(s, 8) != 0 || getsockname(s, (struct sockaddr *)&a, &len)) {
        fprintf(stderr, "weir login: cannot listen on 127.0.0.1: %s\n",
                strerror(errno));
        if (s >= 0)
            close(s);
        return -1;
    }
    *fd = s;
    *port = ntohs(a.sin_port);
    return 0;
}

static void reply(int c, const char *status, const char *text)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "HTTP/1.1 %s\r\nContent-Type: text/plain; "
                     "charset=utf-8\r\nContent-Length: %zu\r\nConnection: "
                     "close\r\nCache-Control: no-store\r\n\r\n%s",
                     status, strlen(text), text);

    if (n > 0 && write(c, buf, (size_t)n) < 0)
        return; /* the browser went away: nothing to tell it */
}

/* One connection: its request's code (GET /callback?code=HEX) into code;
 * 1 when it had one, 0 otherwise (answered 404). */
static int serve_one(int c, char code[CODE_LEN + 1])
{
    struct timeval tv = {5, 0};
    char req[4096];
    ssize_t n;
    const char *p;

    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    n = read(c, req, sizeof(req) - 1);
    if (n <= 0)
        return 0;
    req[n] = '\0';
    p = "GET /callback?code=";
    if (strncmp(req, p, strlen(p)) != 0 ||
        strspn(req + strlen(p), "0123456789abcdef") != CODE_LEN) {
        reply(c, "404 Not Found", "Not the sign-in of weir login.\n");
        return 0;
    }
    memcpy(code, req + strlen(p), CODE_LEN);
    code[CODE_LEN] = '\0';
    reply(c, "200 OK",
          "Signed in to Weir: you can close this tab and go back to the "
          "terminal.\n");
    return 1;
}

/* Wait for the browser to bring the code back (LOGIN_WAIT_S at most). */
static int wait_code(int fd, char code[CODE_LEN + 1])
{
    time_t end = time(NULL) + LOGIN_WAIT_S;

    while (time(NULL) < end) {
        struct pollfd p = {fd, POLLIN, 0};
        int c, got;

        if (poll(&p, 1, 1000) <= 0)
            continue;
        c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        got = serve_one(c, code);
        close(c);
        if (got)
            return 0;
    }
    fprintf(stderr, "weir login: no sign-in came back within %d s\n",
            LOGIN_WAIT_S);
    return -1;
}

/* mkdir -p of the folders of path, each 0700 when made here. */
static void make_dirs(const char *path)
{
    char d[4096];

    snprintf(d, sizeof(d), "%s", path);
    for (char *s = strchr(d + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
        *s = '\0';
        mkdir(d, 0700);
        *s = '/';
    }
}

/* The server and the secret into the session file, mode 0600, replaced
 * whole (a new file renamed over the old one). */
static int store_session(const char *url, const char *secret, char *path,
                         size_t len)
{
    char tmp[4200];
    int fd, ok;

    if (!cli_session_path(path, len)) {
        fprintf(stderr, "weir login: neither XDG_CONFIG_HOME nor HOME is "
                        "an absolute path: nowhere to keep the session\n");
        return -1;
    }
    make_dirs(path);
    snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    ok = fd >= 0 && fchmod(fd, 0600) == 0 &&
         dprintf(fd, "%s\n%s\n", url, secret) > 0 && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "weir login: cannot write %s: %s\n", path,
                strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The code and the secret exchanged for a session, stored. */
static int finish(const char *url, const char *code, const char *secret)
{
    struct client a;
    cJSON *body = cJSON_CreateObject(), *r;
    char path[4096];
    int rc = CLI_INVALID;

    cJSON_AddStringToObject(body, "code", code);
    cJSON_AddStringToObject(body, "secret", secret);
    client_init_anonymous(&a, url);
    r = client_call_or_say(&a, "login", "POST", "/auth/cli", body);
    cJSON_Delete(body);
    if (r != NULL && store_session(url, client_json_str(r, "session"), path,
                                   sizeof(path)) == 0) {
        char *grants = cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "grants"));

        printf("signed in to %s as %s (grants %s) for at most %.0f s; the "
               "session is in %s\n",
               url, client_json_str(r, "user"), grants ? grants : "[]",
               client_json_num(r, "expires_in"), path);
        cJSON_free(grants);
        rc = CLI_OK;
    }
    cJSON_Delete(r);
    return rc;
}

int cmd_login(int argc, char **argv)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *server = NULL;
    char url[512], secret[65], challenge[65], code[CODE_LEN + 1];
    struct client c;
    int opt, fd = -1, port = 0, rc;

    optind = 1;
    while ((opt = cli_getopt(argc, argv, "s:h", opts)) != -1) {
        if (opt == 'h') {
            fputs(usage_text, stdout);
            return CLI_OK;
        }
        if (opt != 's')
            return cli_usage_error("login", "%s", cli_opt_error());
        server = optarg;
    }
    if (optind < argc)
        return cli_usage_error("login", "unexpected argument \"%s\"",
                               argv[optind]);
    client_init(&c, server); /* for the URL only: no token is sent */
    snprintf(url, sizeof(url), "%.*s", (int)strcspn(c.url, ","), c.url);
    if (url[0] == '\0')
        return cli_usage_error("login", "which server? give --server URL");
    if (random_hex(secret) != 0 || listen_loopback(&fd, &port) != 0)
        return CLI_INVALID;
    sha256_hex(secret, strlen(secret), challenge);
    printf("%s/auth/login?cli_port=%d&cli_challenge=%s\n", url, port,
           challenge);
    fflush(stdout);
    fprintf(stderr, "weir login: open the URL above in a browser to sign "
                    "in; waiting...\n");
    rc = wait_code(fd, code) == 0 ? finish(url, code, secret) : CLI_INVALID;
    close(fd);
    explicit_bzero(secret, sizeof(secret));
    return rc;
}
