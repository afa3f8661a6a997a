/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flags and environment of weir-server. The listen address is resolved
 * here, so that a server that would be reachable from other machines is
 * refused before anything starts, unless --allow-remote says it is meant.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "duration.h"
#include "http/guard.h"
#include "opts.h"

#define DEFAULT_LISTEN    "127.0.0.1:8080"
#define DEFAULT_DAGS_DIR  "./dags"
#define DEFAULT_POOL_SIZE 4
#define DEFAULT_LEASE_TTL 30000
#define DEFAULT_LEADER_S  5

/* Long options; values start past any single character getopt returns. */
enum {
    OPT_DATABASE_URL = 256,   /* --database-url URL */
    OPT_DAGS_DIR,             /* --dags-dir DIR */
    OPT_LISTEN,               /* --listen HOST:PORT */
    OPT_ALLOW_REMOTE,         /* --allow-remote */
    OPT_ADMIN_TOKEN_FILE,     /* --admin-token-file PATH */
    OPT_POOL_SIZE,            /* --pool-size N */
    OPT_CREATE_TOKEN,         /* --create-token ROLE */
    OPT_TOKEN_NAME,           /* --token-name NAME */
    OPT_TOKEN_EXPIRES,        /* --token-expires DURATION */
    OPT_TOKEN_QUEUES,         /* --token-queues Q1,Q2 */
    OPT_TOKEN_GRANT,          /* --grant ROLE[:env=..][:dag=..] */
    OPT_LEASE_TTL,            /* --lease-ttl MS */
    OPT_WATCH_POLL,           /* --watch-poll */
    OPT_WEB_DIR,              /* --web-dir DIR */
    OPT_PUBLIC_URL,           /* --public-url URL */
    OPT_EVENT_RETENTION,      /* --event-retention DURATION */
    OPT_METRIC_RETENTION,     /* --metric-retention DURATION */
    OPT_AUDIT_RETENTION,      /* --audit-retention DURATION */
    OPT_MAX_CONNS_PER_CLIENT, /* --max-conns-per-client N */
    OPT_TRUSTED_PROXY,        /* --trusted-proxy CIDR[,CIDR...] */
    OPT_TLS_CERT,             /* --tls-cert FILE */
    OPT_TLS_KEY,              /* --tls-key FILE */
    OPT_CLIENT_CA,            /* --client-ca FILE */
    OPT_INSECURE_HTTP,        /* --insecure-http */
    OPT_NAME,                 /* --name NAME */
    OPT_LEADER_TIMEOUT,       /* --leader-timeout-s N */
    OPT_SECRETS_KEY_FILE,     /* --secrets-key-file FILE (repeatable) */
    OPT_OIDC_ISSUER,          /* --oidc-issuer URL */
    OPT_OIDC_CLIENT_ID,       /* --oidc-client-id ID */
    OPT_OIDC_SECRET_FILE,     /* --oidc-client-secret-file FILE */
    OPT_OIDC_GROUPS_CLAIM,    /* --oidc-groups-claim NAME */
    OPT_OIDC_ROLE_MAP,        /* --oidc-role-map FILE */
    OPT_OIDC_USER_CLAIM,      /* --oidc-user-claim NAME */
    OPT_OIDC_PENDING_MAX,     /* --oidc-pending-max N */
    OPT_SESSION_IDLE,         /* --session-idle DURATION */
    OPT_SESSION_MAX,          /* --session-max DURATION */
    OPT_VERSION,              /* --version */
    OPT_HELP,                 /* --help */
};

static const char usage_text[] =
    "usage: weir-server [OPTIONS]\n"
    "       weir-server --create-token ROLE [--grant GRANT]... "
    "[--token-name NAME] --database-url URL\n\n"
    "Runs the Weir scheduler and REST API.\n\n"
    "  --database-url URL       PostgreSQL connection string or URL\n"
    "                           (WEIR_DATABASE_URL; required)\n"
    "  --dags-dir DIR           folder of DAG files, read recursively\n"
    "                           (WEIR_DAGS_DIR; default " DEFAULT_DAGS_DIR
    " if it\n"
    "                           exists; without one the server serves the\n"
    "                           DAGs in the database: give the folder to\n"
    "                           every server that may lead)\n"
    "  --listen HOST:PORT       address of the HTTP API (WEIR_LISTEN;\n"
    "                           default " DEFAULT_LISTEN "; port 0 picks "
    "one)\n"
    "  --allow-remote           allow a non-loopback --listen address\n"
    "                           (with TLS, or with --insecure-http)\n"
    "  --tls-cert FILE          serve HTTPS with this PEM certificate chain\n"
    "                           (WEIR_TLS_CERT); re-read on SIGHUP\n"
    "  --tls-key FILE           its PEM private key (WEIR_TLS_KEY)\n"
    "  --client-ca FILE         worker routes also need a client certificate\n"
    "                           signed by a CA of FILE (mutual TLS;\n"
    "                           WEIR_CLIENT_CA)\n"
    "  --insecure-http          allow a non-loopback --listen without TLS\n"
    "                           (tokens then cross the network in clear\n"
    "                           text: only behind a TLS proxy)\n"
    "  --admin-token-file PATH  when no admin token exists, create one and\n"
    "                           write it there (mode 0600)\n"
    "                           (WEIR_ADMIN_TOKEN_FILE)\n"
    "  --pool-size N            PostgreSQL connections (WEIR_POOL_SIZE;\n"
    "                           default 4)\n"
    "  --lease-ttl MS           how long a worker's lease lives without a\n"
    "                           heartbeat, in ms (default 30000)\n"
    "  --watch-poll             poll the DAGs folder every second instead\n"
    "                           of using inotify (WEIR_WATCH_POLL=1)\n"
    "  --web-dir DIR            serve the dashboard from DIR instead of the\n"
    "                           copy built in (for its development)\n"
    "  --public-url URL         where people reach the dashboard, for the\n"
    "                           links in notifications (WEIR_PUBLIC_URL;\n"
    "                           default http(s):// and the listen address)\n"
    "  --event-retention D      keep events no trigger needs for D, a\n"
    "                           duration such as 30d or 12h\n"
    "                           (WEIR_EVENT_RETENTION; default 30d)\n"
    "  --metric-retention D     keep metric samples for D\n"
    "                           (WEIR_METRIC_RETENTION; default 30d)\n"
    "  --audit-retention D      keep audit log records for D\n"
    "                           (WEIR_AUDIT_RETENTION; default 365d)\n"
    "  --max-conns-per-client N unauthenticated connections one client\n"
    "                           address may hold (WEIR_MAX_CONNS_PER_CLIENT;\n"
    "                           default 32)\n"
    "  --trusted-proxy CIDR     a load balancer's address(es), comma-\n"
    "                           separated: behind it the client address is\n"
    "                           the last of X-Forwarded-For\n"
    "                           (WEIR_TRUSTED_PROXY)\n"
    "  --name NAME              this server's name among several on one\n"
    "                           database (WEIR_NAME; default the address it\n"
    "                           listens on)\n"
    "  --leader-timeout-s N     another server takes over within N s when\n"
    "                           the leader dies or loses its database\n"
    "                           session (WEIR_LEADER_TIMEOUT_S; 2 to 300;\n"
    "                           default 5)\n"
    "  --secrets-key-file FILE  key ring of secrets: lines of 64 hex digits\n"
    "                           (`openssl rand -hex 32`), mode 0600; may be\n"
    "                           given up to 8 times: the first key seals,\n"
    "                           every key opens (WEIR_SECRETS_KEY_FILE)\n"
    "  --oidc-issuer URL        sign-in with this OpenID Connect provider\n"
    "                           (https://; http:// only on 127.0.0.1)\n"
    "  --oidc-client-id ID      Weir's client id at the provider\n"
    "  --oidc-client-secret-file FILE  its client secret (mode 0600 or\n"
    "                           stricter; never on the command line)\n"
    "  --oidc-groups-claim NAME the ID token claim mapped to grants\n"
    "                           (default groups)\n"
    "  --oidc-role-map FILE     YAML: groups/users -> role grants\n"
    "                           (docs/security.md)\n"
    "  --oidc-user-claim NAME   the ID token claim naming the user (default\n"
    "                           email, which needs email_verified true;\n"
    "                           or preferred_username, sub, ...)\n"
    "  --oidc-pending-max N     sign-ins under way (younger than 10 min)\n"
    "                           at most (default 1000; beyond: 503)\n"
    "  --session-idle D         a signed-in session unused for D ends\n"
    "                           (default 1h)\n"
    "  --session-max D          a session ends D after sign-in, used or not\n"
    "                           (default 12h)\n"
    "  --create-token ROLE      create an API token with a grant of ROLE\n"
    "                           (admin, operator, author, read, ingest or\n"
    "                           worker; scoped as --grant), print it on\n"
    "                           stdout and exit\n"
    "  --grant GRANT            one more grant of that token, repeatable:\n"
    "                           ROLE[:env=E,...][:dag=PATTERN,...]\n"
    "                           (docs/security.md)\n"
    "  --token-name NAME        a name for that token\n"
    "  --token-expires D        it expires after D (such as 90d; default\n"
    "                           never)\n"
    "  --token-queues Q1,Q2     a worker token serves only these queues\n"
    "  --version                print the version and exit\n"
    "  --help                   print this text and exit\n\n"
    "Without --admin-token-file the server creates no admin token; make\n"
    "the first one with --create-token admin --token-name NAME. Tokens are\n"
    "then managed with `weir token` (create, list, revoke).\n";

const char *config_usage(void)
{
    return usage_text;
}

static bool addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        const uint8_t *b = in6->sin6_addr.s6_addr;

        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127;
    }
    return false;
}

/* Split "host:port" or "[v6]:port" into host and port (copied into the
 * buffers given). */
static int split_host_port(const char *text, char *host, size_t host_len,
                           char *port, size_t port_len, struct weir_err *err)
{
    const char *colon, *h = text, *h_end;

    if (text[0] == '[') {
        h = text + 1;
        h_end = strchr(h, ']');
        if (h_end == NULL || h_end[1] != ':')
            return weir_err_set(err, WEIR_EINVAL,
                                "--listen \"%s\": expected [ADDRESS]:PORT",
                                text);
        colon = h_end + 1;
    } else {
        colon = strrchr(text, ':');
        h_end = colon;
    }
    if (colon == NULL || h_end == h || colon[1] == '\0')
        return weir_err_set(err, WEIR_EINVAL,
                            "--listen \"%s\": expected HOST:PORT, such as %s",
                            text, DEFAULT_LISTEN);
    if ((size_t)(h_end - h) >= host_len || strlen(colon + 1) >= port_len)
        return weir_err_set(err, WEIR_EINVAL, "--listen \"%s\": too long",
                            text);
    memcpy(host, h, (size_t)(h_end - h));
    host[h_end - h] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

static int parse_port(const char *text, const char *port, struct weir_err *err)
{
    char *end;
    long v = strtol(port, &end, 10);

    if (*end != '\0' || end == port || v < 0 || v > 65535)
        return weir_err_set(err, WEIR_EINVAL,
                            "--listen \"%s\": the port must be a number from "
                            "0 to 65535",
                            text);
    return 0;
}

static int resolve_listen(struct config *cfg, struct weir_err *err)
{
    char host[256], port[16];
    struct addrinfo hints = {0}, *res = NULL;
    int rc;

    rc = split_host_port(cfg->listen, host, sizeof(host), port, sizeof(port),
                         err);
    if (rc == 0)
        rc = parse_port(cfg->listen, port, err);
    if (rc < 0)
        return rc;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        return weir_err_set(err, WEIR_EINVAL, "--listen \"%s\": %s",
                            cfg->listen, gai_strerror(rc));
    memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
    cfg->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    if (!cfg->allow_remote && !addr_is_loopback((struct sockaddr *)&cfg->addr))
        return weir_err_set(err, WEIR_EINVAL,
                            "--listen \"%s\" is not a loopback address, so "
                            "other machines could reach the API; pass "
                            "--allow-remote if that is meant",
                            cfg->listen);
    if (cfg->tls_cert == NULL && !cfg->insecure_http &&
        !addr_is_loopback((struct sockaddr *)&cfg->addr))
        return weir_err_set(err, WEIR_EINVAL,
                            "--listen \"%s\" is not a loopback address and "
                            "TLS is off, so tokens would cross the network in "
                            "clear text; give --tls-cert and --tls-key, or "
                            "pass --insecure-http if a TLS proxy in front of "
                            "the server protects it",
                            cfg->listen);
    return 0;
}

/* --tls-cert and --tls-key go together; --client-ca needs them. */
static int check_tls(const struct config *cfg, struct weir_err *err)
{
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
        return weir_err_set(err, WEIR_EINVAL,
                            "--tls-cert and --tls-key (or WEIR_TLS_CERT and "
                            "WEIR_TLS_KEY) go together: %s is missing",
                            cfg->tls_cert == NULL ? "--tls-cert" : "--tls-key");
    if (cfg->client_ca != NULL && cfg->tls_cert == NULL)
        return weir_err_set(err, WEIR_EINVAL,
                            "--client-ca needs --tls-cert and --tls-key: "
                            "client certificates are part of TLS");
    return 0;
}

static int parse_pool_size(const char *text, struct config *cfg,
                           struct weir_err *err)
{
    char *end;
    long v = strtol(text, &end, 10);

    if (*end != '\0' || end == text || v < 1 || v > CONFIG_POOL_MAX)
        return weir_err_set(err, WEIR_EINVAL,
                            "--pool-size \"%s\": expected a number from 1 "
                            "to %d",
                            text, CONFIG_POOL_MAX);
    cfg->pool_size = (int)v;
    return 0;
}

static void config_defaults(struct config *cfg)
{
    const char *v;

    memset(cfg, 0, sizeof(*cfg));
    cfg->action = CONFIG_SERVE;
    cfg->database_url = getenv("WEIR_DATABASE_URL");
    v = getenv("WEIR_DAGS_DIR");
    cfg->dags_dir = v && *v ? v : DEFAULT_DAGS_DIR;
    cfg->dags_dir_given = v && *v;
    v = getenv("WEIR_LISTEN");
    cfg->listen = v && *v ? v : DEFAULT_LISTEN;
    cfg->admin_token_file = getenv("WEIR_ADMIN_TOKEN_FILE");
    cfg->pool_size = DEFAULT_POOL_SIZE;
    v = getenv("WEIR_WATCH_POLL");
    cfg->watch_poll = v != NULL && strcmp(v, "1") == 0;
    cfg->lease_ttl_ms = DEFAULT_LEASE_TTL;
    v = getenv("WEIR_PUBLIC_URL");
    cfg->public_url = v && *v ? v : NULL;
    cfg->max_conns_per_client_text = getenv("WEIR_MAX_CONNS_PER_CLIENT");
    cfg->trusted_proxy = getenv("WEIR_TRUSTED_PROXY");
    v = getenv("WEIR_TLS_CERT");
    cfg->tls_cert = v && *v ? v : NULL;
    v = getenv("WEIR_TLS_KEY");
    cfg->tls_key = v && *v ? v : NULL;
    v = getenv("WEIR_CLIENT_CA");
    cfg->client_ca = v && *v ? v : NULL;
    v = getenv("WEIR_NAME");
    cfg->name = v && *v ? v : NULL;
    cfg->leader_timeout_s = DEFAULT_LEADER_S;
    v = getenv("WEIR_LEADER_TIMEOUT_S");
    cfg->leader_timeout_text = v && *v ? v : NULL;
    v = getenv("WEIR_SECRETS_KEY_FILE");
    if (v != NULL && *v != '\0')
        cfg->secrets_key_files[cfg->n_secrets_key_files++] = v;
}

/* --public-url: an http(s) URL of printable characters, not too long. */
static int check_public_url(const char *url, struct weir_err *err)
{
    bool ok =
        strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;

    for (const char *p = url; ok && *p != '\0'; p++)
        ok = *p > ' ' && *p < 0x7f;
    if (!ok || strlen(url) > 400)
        return weir_err_set(err, WEIR_EINVAL,
                            "--public-url \"%.300s\": expected an http:// or "
                            "https:// URL without spaces, at most 400 bytes, "
                            "such as https://weir.example",
                            url);
    return 0;
}

static int parse_conns_per_client(struct config *cfg, struct weir_err *err)
{
    const char *text = cfg->max_conns_per_client_text;
    char *end;
    long v;

    if (text == NULL || *text == '\0')
        return 0;
    v = strtol(text, &end, 10);
    if (*end != '\0' || end == text || v < 1 || v > CONFIG_CONNS_MAX)
        return weir_err_set(err, WEIR_EINVAL,
                            "--max-conns-per-client (or "
                            "WEIR_MAX_CONNS_PER_CLIENT) \"%s\": expected a "
                            "number from 1 to %d",
                            text, CONFIG_CONNS_MAX);
    cfg->max_conns_per_client = (unsigned)v;
    return 0;
}

static int parse_lease_ttl(const char *text, struct config *cfg,
                           struct weir_err *err)
{
    char *end;
    long v = strtol(text, &end, 10);

    if (*end != '\0' || end == text || v < CONFIG_LEASE_TTL_MIN ||
        v > CONFIG_LEASE_TTL_MAX)
        return weir_err_set(err, WEIR_EINVAL,
                            "--lease-ttl \"%s\": expected milliseconds from "
                            "%d to %d",
                            text, CONFIG_LEASE_TTL_MIN, CONFIG_LEASE_TTL_MAX);
    cfg->lease_ttl_ms = v;
    return 0;
}

/* apply_option() for the options of tokens, secrets and single sign-on;
 * returns 0 or WEIR_EINVAL. */
static int apply_option_more(int opt, const char *arg, struct config *cfg,
                             struct weir_err *err)
{
    switch (opt) {
    case OPT_SECRETS_KEY_FILE:
        /* the flags replace the variable's file */
        if (!cfg->secrets_key_flag)
            cfg->n_secrets_key_files = 0;
        cfg->secrets_key_flag = true;
        if (cfg->n_secrets_key_files == CONFIG_KEYS_MAX)
            return weir_err_set(err, WEIR_EINVAL,
                                "--secrets-key-file may be given at most %d "
                                "times (a file may hold several keys)",
                                CONFIG_KEYS_MAX);
        cfg->secrets_key_files[cfg->n_secrets_key_files++] = arg;
        break;
    case OPT_CREATE_TOKEN:
        cfg->action = CONFIG_CREATE_TOKEN;
        cfg->create_token_role = arg;
        break;
    case OPT_TOKEN_EXPIRES: {
        int64_t ms = 0;

        if (duration_parse(arg, &ms, err) != 0 || ms < 1000)
            return weir_err_set(err, WEIR_EINVAL,
                                "--token-expires takes a duration of at "
                                "least 1s, such as 90d or 12h; got \"%s\"",
                                arg);
        cfg->token_expires_s = ms / 1000;
        break;
    }
    case OPT_TOKEN_QUEUES:
        cfg->token_queues = arg;
        break;
    case OPT_TOKEN_GRANT:
        if (cfg->n_token_grants == CONFIG_GRANTS_MAX)
            return weir_err_set(err, WEIR_EINVAL,
                                "--grant: at most %d grants per token",
                                CONFIG_GRANTS_MAX);
        cfg->token_grants[cfg->n_token_grants++] = arg;
        break;
    case OPT_TOKEN_NAME:
        if (arg[0] == '\0' || strlen(arg) > CONFIG_TOKEN_NAME_MAX)
            return weir_err_set(err, WEIR_EINVAL,
                                "--token-name takes 1 to %d bytes, got %zu",
                                CONFIG_TOKEN_NAME_MAX, strlen(arg));
        cfg->token_name = arg;
        break;
    case OPT_OIDC_ISSUER:
        cfg->oidc_issuer = arg;
        break;
    case OPT_OIDC_CLIENT_ID:
        cfg->oidc_client_id = arg;
        break;
    case OPT_OIDC_SECRET_FILE:
        cfg->oidc_secret_file = arg;
        break;
    case OPT_OIDC_GROUPS_CLAIM:
        cfg->oidc_groups_claim = arg;
        break;
    case OPT_OIDC_ROLE_MAP:
        cfg->oidc_role_map = arg;
        break;
    case OPT_OIDC_USER_CLAIM:
        cfg->oidc_user_claim = arg;
        break;
    case OPT_OIDC_PENDING_MAX:
        cfg->oidc_pending_text = arg;
        break;
    case OPT_SESSION_IDLE:
        cfg->session_idle_text = arg;
        break;
    case OPT_SESSION_MAX:
        cfg->session_max_text = arg;
        break;
    default:
        return weir_err_set(err, WEIR_EINVAL,
                            "unknown option or missing value "
                            "(see weir-server --help)");
    }
    return 0;
}

/* Apply one option; returns 0 or WEIR_EINVAL. */
static int apply_option(int opt, const char *arg, struct config *cfg,
                        const char **pool_text, struct weir_err *err)
{
    switch (opt) {
    case OPT_LEASE_TTL:
        return parse_lease_ttl(arg, cfg, err);
    case OPT_DATABASE_URL:
        cfg->database_url = arg;
        break;
    case OPT_DAGS_DIR:
        cfg->dags_dir = arg;
        cfg->dags_dir_given = true;
        break;
    case OPT_LISTEN:
        cfg->listen = arg;
        break;
    case OPT_ALLOW_REMOTE:
        cfg->allow_remote = true;
        break;
    case OPT_WATCH_POLL:
        cfg->watch_poll = true;
        break;
    case OPT_WEB_DIR:
        cfg->web_dir = arg;
        break;
    case OPT_PUBLIC_URL:
        cfg->public_url = arg;
        break;
    case OPT_EVENT_RETENTION:
        cfg->event_retention = arg;
        break;
    case OPT_METRIC_RETENTION:
        cfg->metric_retention = arg;
        break;
    case OPT_AUDIT_RETENTION:
        cfg->audit_retention = arg;
        break;
    case OPT_MAX_CONNS_PER_CLIENT:
        cfg->max_conns_per_client_text = arg;
        break;
    case OPT_TRUSTED_PROXY:
        cfg->trusted_proxy = arg;
        break;
    case OPT_TLS_CERT:
        cfg->tls_cert = arg;
        break;
    case OPT_TLS_KEY:
        cfg->tls_key = arg;
        break;
    case OPT_CLIENT_CA:
        cfg->client_ca = arg;
        break;
    case OPT_INSECURE_HTTP:
        cfg->insecure_http = true;
        break;
    case OPT_NAME:
        cfg->name = arg;
        break;
    case OPT_LEADER_TIMEOUT:
        cfg->leader_timeout_text = arg;
        break;
    case OPT_ADMIN_TOKEN_FILE:
        cfg->admin_token_file = arg;
        break;
    case OPT_POOL_SIZE:
        *pool_text = arg;
        break;
    case OPT_VERSION:
        cfg->action = CONFIG_VERSION;
        break;
    case OPT_HELP:
        cfg->action = CONFIG_HELP;
        break;
    default:
        return apply_option_more(opt, arg, cfg, err);
    }
    return 0;
}

/* A retention from its flag (text) or else variable env: a duration of
 * 1s or more, default CONFIG_RETENTION_S. */
static int parse_retention(const char *text, const char *flag, const char *env,
                           long long *out, struct weir_err *err)
{
    struct weir_err derr = {0};
    int64_t ms = 0;

    if (text == NULL)
        text = getenv(env);
    if (text == NULL || *text == '\0') {
        *out = CONFIG_RETENTION_S;
        return 0;
    }
    if (duration_parse(text, &ms, &derr) != 0 || ms < 1000)
        return weir_err_set(err, WEIR_EINVAL,
                            "%s (or %s) \"%s\": expected a duration of 1s "
                            "or more, such as 30d or 12h",
                            flag, env, text);
    *out = ms / 1000;
    return 0;
}

/* --name: printable ASCII without spaces or quotes (it names the
 * server's database session too); --leader-timeout-s: whole seconds; no
 * --dags-dir and no ./dags: no folder. */
static int check_leader(struct config *cfg, struct weir_err *err)
{
    const char *t = cfg->leader_timeout_text;
    struct stat st;
    bool ok = cfg->name == NULL ||
              (cfg->name[0] != '\0' && strlen(cfg->name) <= CONFIG_NAME_MAX);
    char *end;
    long v;

    for (const char *p = cfg->name; ok && p != NULL && *p != '\0'; p++)
        ok = *p > ' ' && *p < 0x7f && *p != '"' && *p != '\\';
    if (!ok)
        return weir_err_set(err, WEIR_EINVAL,
                            "--name (or WEIR_NAME) \"%.120s\": expected 1 to "
                            "%d printable characters without spaces or "
                            "quotes, such as weir-a",
                            cfg->name, CONFIG_NAME_MAX);
    if (t != NULL) {
        v = strtol(t, &end, 10);
        if (*end != '\0' || end == t || v < CONFIG_LEADER_MIN_S ||
            v > CONFIG_LEADER_MAX_S)
            return weir_err_set(err, WEIR_EINVAL,
                                "--leader-timeout-s (or "
                                "WEIR_LEADER_TIMEOUT_S) \"%s\": expected "
                                "whole seconds from %d to %d",
                                t, CONFIG_LEADER_MIN_S, CONFIG_LEADER_MAX_S);
        cfg->leader_timeout_s = (int)v;
    }
    if (!cfg->dags_dir_given &&
        (stat(cfg->dags_dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        cfg->dags_dir = NULL;
    /* A folder given is said wrong now, not when the server first leads
     * (a follower reads it only then, maybe days later). */
    if (cfg->dags_dir_given && stat(cfg->dags_dir, &st) != 0)
        return weir_err_set(err, WEIR_EINVAL,
                            "--dags-dir (or WEIR_DAGS_DIR) \"%.200s\": %s",
                            cfg->dags_dir, strerror(errno));
    if (cfg->dags_dir_given && !S_ISDIR(st.st_mode))
        return weir_err_set(err, WEIR_EINVAL,
                            "--dags-dir (or WEIR_DAGS_DIR) \"%.200s\": not a "
                            "folder",
                            cfg->dags_dir);
    return 0;
}

#define AUDIT_KEEP_S (365LL * 86400) /* --audit-retention's default */

/* --audit-retention: parse_retention() with a default of its own. */
static int parse_audit_retention(struct config *cfg, struct weir_err *err)
{
    const char *env = getenv("WEIR_AUDIT_RETENTION");

    if ((cfg->audit_retention == NULL || *cfg->audit_retention == '\0') &&
        (env == NULL || *env == '\0')) {
        cfg->audit_retention_s = AUDIT_KEEP_S;
        return 0;
    }
    return parse_retention(cfg->audit_retention, "--audit-retention",
                           "WEIR_AUDIT_RETENTION", &cfg->audit_retention_s,
                           err);
}

static int check_required(struct config *cfg, const char *pool_text,
                          struct weir_err *err)
{
    if (parse_retention(cfg->event_retention, "--event-retention",
                        "WEIR_EVENT_RETENTION", &cfg->event_retention_s,
                        err) < 0 ||
        parse_retention(cfg->metric_retention, "--metric-retention",
                        "WEIR_METRIC_RETENTION", &cfg->metric_retention_s,
                        err) < 0 ||
        parse_audit_retention(cfg, err) < 0)
        return WEIR_EINVAL;
    if (parse_conns_per_client(cfg, err) < 0 ||
        http_guard_proxies_check(cfg->trusted_proxy, err) < 0)
        return WEIR_EINVAL;
    if (pool_text == NULL)
        pool_text = getenv("WEIR_POOL_SIZE");
    if (pool_text != NULL && *pool_text != '\0' &&
        parse_pool_size(pool_text, cfg, err) < 0)
        return WEIR_EINVAL;
    if (cfg->database_url == NULL || cfg->database_url[0] == '\0')
        return weir_err_set(err, WEIR_EINVAL,
                            "--database-url (or WEIR_DATABASE_URL) is "
                            "required");
    if (cfg->n_token_grants > 0 && cfg->action != CONFIG_CREATE_TOKEN)
        return weir_err_set(err, WEIR_EINVAL,
                            "--grant goes with --create-token");
    if (cfg->action == CONFIG_CREATE_TOKEN)
        return 0;
    if (cfg->public_url != NULL && check_public_url(cfg->public_url, err) < 0)
        return WEIR_EINVAL;
    if (check_tls(cfg, err) < 0 || check_leader(cfg, err) < 0 ||
        config_oidc_check(cfg, err) < 0)
        return WEIR_EINVAL;
    return resolve_listen(cfg, err);
}

int config_parse(int argc, char **argv, struct config *cfg,
                 struct weir_err *err)
{
    static const struct option opts[] = {
        {"database-url", required_argument, NULL, OPT_DATABASE_URL},
        {"dags-dir", required_argument, NULL, OPT_DAGS_DIR},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"allow-remote", no_argument, NULL, OPT_ALLOW_REMOTE},
        {"admin-token-file", required_argument, NULL, OPT_ADMIN_TOKEN_FILE},
        {"pool-size", required_argument, NULL, OPT_POOL_SIZE},
        {"create-token", required_argument, NULL, OPT_CREATE_TOKEN},
        {"token-name", required_argument, NULL, OPT_TOKEN_NAME},
        {"token-expires", required_argument, NULL, OPT_TOKEN_EXPIRES},
        {"token-queues", required_argument, NULL, OPT_TOKEN_QUEUES},
        {"grant", required_argument, NULL, OPT_TOKEN_GRANT},
        {"lease-ttl", required_argument, NULL, OPT_LEASE_TTL},
        {"watch-poll", no_argument, NULL, OPT_WATCH_POLL},
        {"web-dir", required_argument, NULL, OPT_WEB_DIR},
        {"public-url", required_argument, NULL, OPT_PUBLIC_URL},
        {"event-retention", required_argument, NULL, OPT_EVENT_RETENTION},
        {"metric-retention", required_argument, NULL, OPT_METRIC_RETENTION},
        {"audit-retention", required_argument, NULL, OPT_AUDIT_RETENTION},
        {"max-conns-per-client", required_argument, NULL,
         OPT_MAX_CONNS_PER_CLIENT},
        {"trusted-proxy", required_argument, NULL, OPT_TRUSTED_PROXY},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {"client-ca", required_argument, NULL, OPT_CLIENT_CA},
        {"insecure-http", no_argument, NULL, OPT_INSECURE_HTTP},
        {"name", required_argument, NULL, OPT_NAME},
        {"leader-timeout-s", required_argument, NULL, OPT_LEADER_TIMEOUT},
        {"secrets-key-file", required_argument, NULL, OPT_SECRETS_KEY_FILE},
        {"oidc-issuer", required_argument, NULL, OPT_OIDC_ISSUER},
        {"oidc-client-id", required_argument, NULL, OPT_OIDC_CLIENT_ID},
        {"oidc-client-secret-file", required_argument, NULL,
         OPT_OIDC_SECRET_FILE},
        {"oidc-groups-claim", required_argument, NULL, OPT_OIDC_GROUPS_CLAIM},
        {"oidc-role-map", required_argument, NULL, OPT_OIDC_ROLE_MAP},
        {"oidc-user-claim", required_argument, NULL, OPT_OIDC_USER_CLAIM},
        {"oidc-pending-max", required_argument, NULL, OPT_OIDC_PENDING_MAX},
        {"session-idle", required_argument, NULL, OPT_SESSION_IDLE},
        {"session-max", required_argument, NULL, OPT_SESSION_MAX},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0}};
    const char *pool_text = NULL;
    int opt;

    config_defaults(cfg);
    optind = 1;
    while ((opt = weir_getopt(argc, argv, "", opts, err)) != -1) {
        if (opt == '?')
            return weir_err_set(err, WEIR_EINVAL, "%s (see weir-server --help)",
                                err->msg);
        if (apply_option(opt, optarg, cfg, &pool_text, err) < 0)
            return WEIR_EINVAL;
    }
    if (optind < argc)
        return weir_err_set(err, WEIR_EINVAL,
                            "unexpected argument \"%s\" (see weir-server "
                            "--help)",
                            argv[optind]);
    if (cfg->action == CONFIG_HELP || cfg->action == CONFIG_VERSION)
        return 0;
    return check_required(cfg, pool_text, err);
}
