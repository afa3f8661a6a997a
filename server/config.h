/* SPDX-License-Identifier: Apache-2.0 */
/*
 * weir-server's settings, from command-line flags and WEIR_* environment
 * variables (a flag wins over its variable).
 */
#ifndef WEIR_CONFIG_H
#define WEIR_CONFIG_H

#define CONFIG_TOKEN_NAME_MAX 200 /* bytes of --token-name, as the API */
#define CONFIG_GRANTS_MAX     16  /* --grant options (GRANT_MAX) */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "err.h"

#define CONFIG_POOL_MAX      64             /* largest --pool-size */
#define CONFIG_CONNS_MAX     4096           /* largest per-client cap */
#define CONFIG_LEASE_TTL_MIN 300            /* smallest --lease-ttl, ms */
#define CONFIG_LEASE_TTL_MAX 3600000        /* largest --lease-ttl, ms */
#define CONFIG_RETENTION_S   (30LL * 86400) /* default retentions, s */
#define CONFIG_NAME_MAX      100            /* bytes of --name */
#define CONFIG_LEADER_MIN_S  2              /* smallest --leader-timeout-s */
#define CONFIG_LEADER_MAX_S  300            /* largest --leader-timeout-s */

#define CONFIG_KEYS_MAX 8 /* --secrets-key-file flags */

/* What the process was asked to do. */
enum config_action {
    CONFIG_SERVE,        /* run the server */
    CONFIG_HELP,         /* print the usage and exit 0 */
    CONFIG_VERSION,      /* print the version and exit 0 */
    CONFIG_CREATE_TOKEN, /* create one API token, print it, exit */
};

/* Every setting; strings are borrowed from argv, the environment or
 * literals, so the struct needs no cleanup. */
struct config {
    enum config_action action;     /* what to do */
    const char *database_url;      /* libpq connection string or URL */
    const char *dags_dir;          /* folder of DAG files, or NULL: none
                                      (not given and no ./dags) */
    const char *listen;            /* the address as written */
    struct sockaddr_storage addr;  /* listen resolved */
    socklen_t addr_len;            /* bytes used in addr */
    bool allow_remote;             /* a non-loopback listen is allowed */
    const char *admin_token_file;  /* where the first admin token goes */
    int pool_size;                 /* PostgreSQL connections */
    const char *create_token_role; /* role for CONFIG_CREATE_TOKEN */
    const char *token_name;        /* its name (free text), or NULL */
    int64_t token_expires_s;       /* its lifetime, s; 0: never expires */
    const char *token_queues;      /* worker token: "q1,q2"; NULL: any */
    const char *token_grants[CONFIG_GRANTS_MAX]; /* --grant texts */
    size_t n_token_grants;                       /* entries used */
    long lease_ttl_ms;            /* life of a lease without heartbeat */
    bool watch_poll;              /* poll the DAGs folder, no inotify */
    const char *web_dir;          /* dashboard files, or NULL: built in */
    const char *public_url;       /* the dashboard's URL for links, or
                                     NULL: http://<listen address> */
    const char *event_retention;  /* as written, or NULL */
    const char *metric_retention; /* as written, or NULL */
    long long event_retention_s;  /* events kept, seconds */
    long long metric_retention_s; /* metric samples kept, seconds */
    const char *audit_retention;  /* as written, or NULL */
    long long audit_retention_s;  /* audit records kept, seconds */
    const char *max_conns_per_client_text; /* as written, or NULL */
    unsigned max_conns_per_client;         /* 0 for the default (32) */
    const char *trusted_proxy; /* CIDRs of load balancers, or NULL */
    const char *tls_cert;      /* --tls-cert: HTTPS with this chain, or NULL */
    const char *tls_key;       /* --tls-key: its private key, or NULL */
    const char *client_ca;     /* --client-ca: worker routes need a client
                                  certificate it signed, or NULL */
    bool insecure_http;        /* a non-loopback listen without TLS is meant */
    const char *name;          /* --name, or NULL: the listen address */
    int leader_timeout_s;      /* a lost leader is replaced within this */
    const char *leader_timeout_text; /* as written, or NULL */
    bool dags_dir_given;             /* by flag or variable */

    /* secrets (engine/secretkey.h) */
    const char *secrets_key_files[CONFIG_KEYS_MAX]; /* key ring files: the
                                                       first key seals */
    size_t n_secrets_key_files; /* entries in secrets_key_files */
    bool secrets_key_flag;      /* given by flag (not the variable) */
    /* single sign-on (OpenID Connect); all NULL when it is off */
    const char *oidc_issuer;       /* --oidc-issuer URL */
    const char *oidc_client_id;    /* --oidc-client-id ID */
    const char *oidc_secret_file;  /* --oidc-client-secret-file FILE */
    const char *oidc_groups_claim; /* --oidc-groups-claim (groups) */
    const char *oidc_role_map;     /* --oidc-role-map FILE */
    const char *oidc_user_claim;   /* --oidc-user-claim (email) */
    const char *oidc_pending_text; /* --oidc-pending-max N */
    int64_t oidc_pending_max;      /* its value (1000) */
    const char *session_idle_text; /* --session-idle, as written */
    const char *session_max_text;  /* --session-max, as written */
    int64_t session_idle_s;        /* a session unused this long ends */
    int64_t session_max_s;         /* a session ends this long after */
};

/*
 * Fill cfg from argv and the environment. Returns 0, or WEIR_EINVAL with
 * err naming the bad flag or value and what was expected (the caller
 * prints it and exits 2).
 */
WEIR_MUSTCHECK int config_parse(int argc, char **argv, struct config *cfg,
                                struct weir_err *err);

/* The single sign-on settings of cfg checked (config_oidc.c): given all
 * together or not at all, an https issuer (http only on a loopback
 * address), a client secret file only its owner may read, durations.
 * Returns 0 or WEIR_EINVAL naming the option. */
WEIR_MUSTCHECK int config_oidc_check(struct config *cfg, struct weir_err *err);

/* The usage text for --help. */
const char *config_usage(void);

#endif
