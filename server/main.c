/* SPDX-License-Identifier: Apache-2.0 */
/*
 * weir-server: parses its settings, connects to PostgreSQL, applies the
 * migrations, creates the first admin token when asked to, loads the DAGs
 * folder and serves the API until SIGINT or SIGTERM, then stops in reverse
 * order.
 *
 * SIGINT and SIGTERM are blocked in every thread and taken by sigwait()
 * in the main thread, so no signal handler ever runs; so is SIGHUP when
 * the server has a TLS certificate, which it then reloads.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/authz.h"
#include "api/oidc.h"
#include "config.h"
#include "engine/audit.h"
#include "engine/engine.h"
#include "engine/secretkey.h"
#include "http/tls.h"
#include "jobs/backfiller.h"
#include "jobs/jobs.h"
#include "jobs/leader.h"
#include "jobs/xwake.h"
#include "log.h"
#include "store/store.h"

#define DB_WAIT_S 15 /* how long a start waits for the database */

/* Everything the running server holds, freed in reverse order. */
struct server {
    struct config cfg;        /* settings */
    struct store *store;      /* PostgreSQL pool */
    struct dagcache *cache;   /* loaded DAG versions */
    struct dagdir *dagdir;    /* the DAGs folder */
    struct hub *hub;          /* wakes waiting lease calls */
    struct engine engine;     /* runs, tasks, attempts */
    struct xwake *xwake;      /* wake-ups across servers */
    struct reaper *reaper;    /* lease expiry thread */
    struct sched *sched;      /* cron timers and the folder watch */
    struct notify *notify;    /* webhook notifications thread */
    struct backfiller *bf;    /* creates the runs of backfills */
    struct deadlines *dl;     /* run timeouts and deadlines thread */
    struct afterq *aq;        /* after and data firings thread */
    struct leader *leader;    /* the election; starts duties[] */
    size_t duties_up;         /* duties[] that are up (when leading) */
    struct api api;           /* what handlers share */
    struct http_tls *tls;     /* --tls-cert and --tls-key, or NULL */
    struct http_server *http; /* the API */
    size_t started;           /* parts[] that are up (main.c's table) */
};

/* Borrow a connection, retrying while the database is not up yet. */
static int connect_db(struct store *store, struct store_conn **out,
                      struct weir_err *err)
{
    struct timespec pause = {0, 250 * 1000 * 1000};
    time_t deadline = time(NULL) + DB_WAIT_S;
    bool said = false;
    int rc;

    while ((rc = store_conn_get(store, out, err)) == WEIR_EUNAVAIL &&
           time(NULL) < deadline) {
        if (!said)
            log_info("event=db_waiting max_s=%d", DB_WAIT_S);
        said = true;
        nanosleep(&pause, NULL);
    }
    return rc;
}

/* --token-queues "q1,q2" as a new JSON array *out (NULL for none). */
static int token_queues(const char *list, cJSON **out, struct weir_err *err)
{
    cJSON *a = list != NULL ? cJSON_CreateArray() : NULL;
    int rc = 0;

    *out = NULL;
    if (list == NULL)
        return 0;
    for (const char *p = list; a != NULL && rc == 0;) {
        size_t n = strcspn(p, ",");
        char *name = strndup(p, n);

        if (name == NULL || !cJSON_AddItemToArray(a, cJSON_CreateString(name)))
            rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
        free(name);
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    if (a == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    if (rc < 0)
        cJSON_Delete(a);
    else
        *out = a;
    return rc;
}

/* The grants of --create-token ROLE (which may be scoped as a --grant),
 * --grant ... and --token-queues into spec (api/authz.h). */
static int token_spec(const struct config *cfg, struct engine_token_spec *spec,
                      char **queues, char **grants, struct weir_err *err)
{
    cJSON *q = NULL, *g = cJSON_CreateArray();
    struct grant_set set = {0};
    int rc = g != NULL ? token_queues(cfg->token_queues, &q, err)
                       : weir_err_set(err, WEIR_ENOMEM, "out of memory");

    if (rc == 0)
        cJSON_AddItemToArray(g, cJSON_CreateString(cfg->create_token_role));
    for (size_t i = 0; rc == 0 && i < cfg->n_token_grants; i++)
        cJSON_AddItemToArray(g, cJSON_CreateString(cfg->token_grants[i]));
    if (rc == 0 && api_token_grants(NULL, NULL, g, &set, err) < 0)
        rc = weir_err_set(err, WEIR_EINVAL, "--create-token/--grant: %s",
                          err->msg);
    if (rc == 0 && q != NULL && api_token_grants(NULL, q, g, &set, err) < 0)
        rc = weir_err_set(err, WEIR_EINVAL, "--token-queues: %s", err->msg);
    if (rc == 0)
        rc = api_token_spec_grants(&set, spec, queues, grants, err);
    cJSON_Delete(q);
    cJSON_Delete(g);
    return rc;
}

/* Migrations, then either one token (--create-token) or the first admin. */
static int prepare_db(struct server *s, struct weir_err *err)
{
    struct store_conn *c = NULL;
    char token[AUTH_TOKEN_LEN + 1];
    struct engine_token_spec spec = {0};
    char *queues = NULL, *grants = NULL;
    int applied = 0;
    int rc;

    spec.name = s->cfg.token_name;
    spec.expires_s = s->cfg.token_expires_s;
    if (s->cfg.action == CONFIG_CREATE_TOKEN &&
        token_spec(&s->cfg, &spec, &queues, &grants, err) != 0) {
        cJSON_free(queues);
        cJSON_free(grants);
        return WEIR_EINVAL;
    }
    rc = store_new(s->cfg.database_url, s->cfg.pool_size, &s->store, err);
    if (rc == 0)
        rc = connect_db(s->store, &c, err);
    if (rc == 0)
        rc = store_migrate(c, &applied, err);
    if (rc == 0)
        log_info("event=migrations applied=%d", applied);
    if (rc == 0 && s->cfg.action == CONFIG_CREATE_TOKEN)
        rc = engine_token_create(c, &spec, token, err);
    /* The one place a secret is printed: the operator asked for it. */
    if (rc == 0 && s->cfg.action == CONFIG_CREATE_TOKEN)
        printf("%s\n", token);
    else if (rc == 0)
        rc = engine_token_first_admin(c, s->cfg.admin_token_file, err);
    store_conn_put(c);
    cJSON_free(queues);
    cJSON_free(grants);
    return rc;
}

/* ---- the parts of a running server, started in order, stopped in
 * reverse: one table ---- */

/* The key ring of secrets (engine/secretkey.h), when one is given. */
static int secrets_key_up(struct server *s, struct weir_err *err)
{
    if (s->cfg.n_secrets_key_files == 0)
        return 0;
    if (secretkey_load(s->cfg.secrets_key_files, s->cfg.n_secrets_key_files,
                       err) != 0)
        return err->code;
    log_info("event=secrets_key keys=%zu sealing_key=%s", secretkey_count(),
             secretkey_first_id());
    return 0;
}

static void secrets_key_down(struct server *s)
{
    (void)s;
    secretkey_unload();
}

static int cache_up(struct server *s, struct weir_err *err)
{
    s->cache = dagcache_new();
    return s->cache != NULL ? 0
                            : weir_err_set(err, WEIR_ENOMEM, "out of memory");
}

static void cache_down(struct server *s)
{
    dagcache_free(s->cache);
}

/* The DAGs folder, loaded once before anything can run its DAGs. */
static int dagdir_up(struct server *s, struct weir_err *err)
{
    struct dagdir_stats st;
    int rc;

    if (s->cfg.dags_dir == NULL)
        return 0; /* the DAGs in the database only */
    rc = dagdir_new(s->cfg.dags_dir, s->store, s->cache, &s->dagdir, err);

    return rc == 0 ? dagdir_scan(s->dagdir, &st, err) : rc;
}

static void dagdir_down(struct server *s)
{
    dagdir_free(s->dagdir);
    s->dagdir = NULL;
}

/* The work hub and the engine over it (the engine holds nothing to free). */
static int engine_up(struct server *s, struct weir_err *err)
{
    s->hub = hub_new();
    if (s->hub == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    s->engine = (struct engine){s->store, s->cache, s->hub,
                                (int64_t)s->cfg.lease_ttl_ms};
    events_set_retention(s->cfg.event_retention_s);
    metrics_set_retention(s->cfg.metric_retention_s);
    engine_audit_set_retention(s->cfg.audit_retention_s);
    return 0;
}

static void engine_down(struct server *s)
{
    hub_free(s->hub);
}

static int xwake_up(struct server *s, struct weir_err *err)
{
    return xwake_start(s->cfg.database_url, s->hub, &s->xwake, err);
}

static void xwake_down(struct server *s)
{
    xwake_stop(s->xwake);
}

static int reaper_up(struct server *s, struct weir_err *err)
{
    return reaper_start(&s->engine, &s->reaper, err);
}

static void reaper_down(struct server *s)
{
    reaper_stop(s->reaper);
}

static int sched_up(struct server *s, struct weir_err *err)
{
    return sched_start(&s->engine, s->dagdir, s->cfg.dags_dir,
                       s->cfg.watch_poll, &s->sched, err);
}

static void sched_down(struct server *s)
{
    sched_stop(s->sched); /* before what its work items use */
}

static int notify_up(struct server *s, struct weir_err *err)
{
    return notify_start(&s->engine, &s->notify, err);
}

static void notify_down(struct server *s)
{
    notify_stop(s->notify);
}

static int backfiller_up(struct server *s, struct weir_err *err)
{
    return backfiller_start(&s->engine, &s->bf, err);
}

static void backfiller_down(struct server *s)
{
    backfiller_stop(s->bf);
}

static int deadline_up(struct server *s, struct weir_err *err)
{
    return deadline_chore_start(&s->engine, &s->dl, err);
}

static void deadline_down(struct server *s)
{
    deadline_chore_stop(s->dl);
}

static int afterq_up(struct server *s, struct weir_err *err)
{
    return afterq_start(&s->engine, &s->aq, err);
}

static void afterq_down(struct server *s)
{
    afterq_stop(s->aq);
}

/* The API; then the public URL, by default the address it listens on. */
static int http_up(struct server *s, struct weir_err *err)
{
    struct http_config hc = {0};
    char own[300];
    int rc;

    s->api.store = s->store;
    s->api.cache = s->cache;
    s->api.engine = &s->engine;
    s->api.web_dir = s->cfg.web_dir;
    hc.addr = (const struct sockaddr *)&s->cfg.addr;
    hc.addr_len = s->cfg.addr_len;
    rc = api_routes_check(api_routes, api_routes_count, err);
    if (rc < 0)
        return rc;
    hc.routes = api_routes;
    hc.n_routes = api_routes_count;
    hc.auth = api_auth;
    hc.app = &s->api;
    hc.per_client = s->cfg.max_conns_per_client;
    hc.trusted_proxy = s->cfg.trusted_proxy;
    hc.tls = s->tls;
    hc.observe = api_audit_observe;
    rc = http_server_start(&hc, &s->http, err);
    if (rc < 0)
        return rc;
    log_info("event=listening addr=%s version=%s tls=%s",
             http_server_address(s->http), WEIR_VERSION,
             s->tls == NULL                       ? "off"
             : http_tls_client_ca(s->tls) == NULL ? "on"
                                                  : "mutual");
    snprintf(own, sizeof(own), "%s://%s", s->tls != NULL ? "https" : "http",
             http_server_address(s->http));
    notify_set_public_url(s->cfg.public_url != NULL ? s->cfg.public_url : own);
    oidc_set_public_url(s->cfg.public_url != NULL ? s->cfg.public_url : own,
                        s->tls != NULL);
    if (s->cfg.name == NULL)
        leader_rename(s->leader, http_server_address(s->http));
    return 0;
}

static void http_down(struct server *s)
{
    if (s->hub != NULL)
        hub_close(s->hub); /* long-poll leases return at once */
    http_server_stop(s->http);
}

/* Single sign-on, when configured: the client secret and the role
 * mapping read (api/oidc.h), a changed mapping recorded in the audit log. */
static int oidc_up(struct server *s, struct weir_err *err)
{
    struct oidc_settings o = {s->cfg.oidc_issuer,      s->cfg.oidc_client_id,
                              s->cfg.oidc_secret_file, s->cfg.oidc_groups_claim,
                              s->cfg.oidc_role_map,    s->cfg.session_idle_s,
                              s->cfg.session_max_s,    s->cfg.oidc_user_claim,
                              s->cfg.oidc_pending_max};

    int rc = s->cfg.oidc_issuer != NULL ? oidc_start(&o, err) : 0;

    /* a mapping that differs from the last one recorded: one audit record */
    if (rc == 0 && oidc_role_map_digest() != NULL)
        engine_audit_role_map(s->store, s->cfg.oidc_role_map,
                              oidc_role_map_digest());
    return rc;
}

static void oidc_down(struct server *s)
{
    (void)s;
    oidc_stop();
}

struct part {
    const char *name;                                  /* for the log */
    int (*up)(struct server *s, struct weir_err *err); /* start it */
    void (*down)(struct server *s);                    /* stop and free it */
};

/* What only the leader runs, started when it wins, stopped in reverse
 * when it steps down (jobs/leader.h). */
static const struct part duties[] = {
    {"dags folder", dagdir_up, dagdir_down},
    {"lease expiry", reaper_up, reaper_down},
    {"scheduler", sched_up, sched_down},
    {"notifications", notify_up, notify_down},
    {"backfills", backfiller_up, backfiller_down},
    {"deadlines", deadline_up, deadline_down},
};

static int duties_start(void *arg, struct weir_err *err)
{
    struct server *s = arg;

    for (; s->duties_up < WEIR_ARRAY_LEN(duties); s->duties_up++) {
        int rc = duties[s->duties_up].up(s, err);

        if (rc < 0) {
            log_error("event=start_failed part=\"%s\"",
                      duties[s->duties_up].name);
            return rc;
        }
    }
    return 0;
}

static void duties_stop(void *arg)
{
    struct server *s = arg;

    while (s->duties_up > 0)
        duties[--s->duties_up].down(s);
}

/* The election: a lone server wins at once, its duties up before http. */
static int leader_up(struct server *s, struct weir_err *err)
{
    struct leader_config lc = {s->cfg.database_url,
                               s->cfg.name != NULL ? s->cfg.name
                                                   : s->cfg.listen,
                               s->cfg.leader_timeout_s,
                               duties_start,
                               duties_stop,
                               s};

    return leader_start(&lc, &s->leader, err);
}

static void leader_down(struct server *s)
{
    leader_stop(s->leader);
    s->leader = NULL;
}

static const struct part parts[] = {
    {"secrets key", secrets_key_up, secrets_key_down},
    {"dag cache", cache_up, cache_down},
    {"engine", engine_up, engine_down},
    {"wake-ups across servers", xwake_up, xwake_down},
    {"leader", leader_up, leader_down},
    {"after firings", afterq_up, afterq_down},
    {"single sign-on", oidc_up, oidc_down},
    {"http", http_up, http_down},
};

#define N_PARTS (sizeof(parts) / sizeof(parts[0]))

/* Start every part in order; s->started counts those that are up. */
static int start(struct server *s, struct weir_err *err)
{
    for (; s->started < N_PARTS; s->started++) {
        int rc = parts[s->started].up(s, err);

        if (rc < 0) {
            log_error("event=start_failed part=\"%s\"", parts[s->started].name);
            return rc;
        }
    }
    return 0;
}

/* Stop what start() started, in reverse, then the database pool. */
static void stop(struct server *s)
{
    while (s->started > 0)
        parts[--s->started].down(s);
    store_free(s->store);
    http_tls_free(s->tls);
}

/* SIGHUP: read the certificate and key again; a bad pair is logged and
 * the one in use stays. */
static void tls_reload(struct server *s)
{
    struct weir_err err = {0};
    char q[300];

    if (s->tls == NULL)
        return;
    if (http_tls_reload(s->tls, &err) == 0)
        log_info("event=tls_reloaded");
    else
        log_error("event=tls_reload_failed kept=old msg=%s",
                  log_quote(err.msg, q, sizeof(q)));
}

static int wait_for_signal(struct server *s, const sigset_t *set)
{
    int sig = 0;

    for (;;) {
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            break;
        tls_reload(s);
    }
    log_info("event=stopping signal=%s", sig == SIGINT ? "INT" : "TERM");
    return sig;
}

static int run(struct server *s)
{
    struct weir_err err = {0};
    sigset_t set;
    int rc;

    /* Blocked before any thread starts, so every thread inherits it. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* with TLS, SIGHUP reloads the certificate; without, it keeps its
     * default action (the server ends, as a hung-up terminal expects) */
    if (s->cfg.tls_cert != NULL)
        sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* the certificates first: a bad one is said before the database */
    rc = s->cfg.action == CONFIG_SERVE && s->cfg.tls_cert != NULL
             ? http_tls_new(s->cfg.tls_cert, s->cfg.tls_key, s->cfg.client_ca,
                            &s->tls, &err)
             : 0;
    if (rc == 0)
        rc = prepare_db(s, &err);
    if (rc == 0 && s->cfg.action == CONFIG_SERVE)
        rc = start(s, &err);
    if (rc == 0 && s->cfg.action == CONFIG_SERVE)
        wait_for_signal(s, &set);
    if (rc < 0) {
        char q[300];

        log_error("event=fatal code=%s msg=%s", weir_errname(rc),
                  log_quote(err.msg, q, sizeof(q)));
        fprintf(stderr, "weir-server: %s\n", err.msg);
    }
    stop(s);
    if (rc == 0)
        log_info("event=stopped");
    return rc == 0 ? 0 : rc == WEIR_EINVAL && s->store == NULL ? 2 : 1;
}

int main(int argc, char **argv)
{
    struct server s;
    struct weir_err err = {0};

    memset(&s, 0, sizeof(s));
    if (config_parse(argc, argv, &s.cfg, &err) != 0) {
        fprintf(stderr, "weir-server: %s\n", err.msg);
        return 2;
    }
    if (s.cfg.action == CONFIG_HELP) {
        fputs(config_usage(), stdout);
        return 0;
    }
    if (s.cfg.action == CONFIG_VERSION) {
        printf("weir-server %s\n", WEIR_VERSION);
        return 0;
    }
    return run(&s);
}
