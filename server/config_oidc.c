/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The single sign-on options of weir-server, checked before anything
 * starts: the provider's URL, the client secret's file (which only its
 * owner may read, like the other files that hold secrets) and the
 * session timeouts. The secret itself is read when sign-on starts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "duration.h"

#define SESSION_IDLE_DEFAULT_S 3600        /* --session-idle: 1h */
#define SESSION_MAX_DEFAULT_S  (12 * 3600) /* --session-max: 12h */

/* https://..., or http:// on a loopback address (a provider run next to
 * the server, as the tests do): anything else would send the client
 * secret and the codes in clear text. */
static int issuer_check(const char *url, struct weir_err *err)
{
    static const char *const loop[] = {"http://127.0.0.1:", "http://127.0.0.1/",
                                       "http://[::1]:", "http://localhost:"};
    bool ok = strncmp(url, "https://", 8) == 0 && url[8] != '\0';

    for (size_t i = 0; !ok && i < WEIR_ARRAY_LEN(loop); i++)
        ok = strncmp(url, loop[i], strlen(loop[i])) == 0;
    for (const char *p = url; ok && *p != '\0'; p++)
        ok = *p > ' ' && *p < 0x7f && *p != '?' && *p != '#';
    if (!ok || strlen(url) > 400)
        return weir_err_set(err, WEIR_EINVAL,
                            "--oidc-issuer \"%.300s\": expected an https:// "
                            "URL without query, at most 400 bytes, such as "
                            "https://sso.example/realms/main (http:// only "
                            "on 127.0.0.1, [::1] or localhost)",
                            url);
    return 0;
}

static int secret_file_check(const char *path, struct weir_err *err)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return weir_err_set(err, WEIR_EINVAL,
                            "--oidc-client-secret-file %.300s: %s", path,
                            strerror(errno));
    if (!S_ISREG(st.st_mode))
        return weir_err_set(err, WEIR_EINVAL,
                            "--oidc-client-secret-file %.300s: not a file",
                            path);
    if ((st.st_mode & 077) != 0)
        return weir_err_set(err, WEIR_EINVAL,
                            "--oidc-client-secret-file %.300s: mode %03o lets "
                            "other users read the secret; chmod 600 it",
                            path, (unsigned)(st.st_mode & 0777));
    return 0;
}

static int session_duration(const char *text, const char *flag, int64_t def,
                            int64_t *out, struct weir_err *err)
{
    struct weir_err derr = {0};
    int64_t ms = 0;

    if (text == NULL) {
        *out = def;
        return 0;
    }
    if (duration_parse(text, &ms, &derr) != 0 || ms < 1000 ||
        ms > 366LL * 86400 * 1000)
        return weir_err_set(err, WEIR_EINVAL,
                            "%s \"%.100s\": expected a duration from 1s to "
                            "366d, such as 30m or 8h",
                            flag, text);
    *out = ms / 1000;
    return 0;
}

/* --oidc-user-claim (default email) and --oidc-pending-max (1000). */
static int oidc_extra_check(struct config *cfg, struct weir_err *err)
{
    char *end = NULL;
    long long n = 1000;

    if (cfg->oidc_user_claim == NULL)
        cfg->oidc_user_claim = "email";
    if (cfg->oidc_user_claim[0] == '\0' || strlen(cfg->oidc_user_claim) > 100)
        return weir_err_set(err, WEIR_EINVAL,
                            "--oidc-user-claim \"%.120s\": expected a claim "
                            "name of 1 to 100 bytes, such as email, "
                            "preferred_username or sub",
                            cfg->oidc_user_claim);
    if (cfg->oidc_pending_text != NULL) {
        n = strtoll(cfg->oidc_pending_text, &end, 10);
        if (end == cfg->oidc_pending_text || *end != '\0' || n < 1 ||
            n > 1000000)
            return weir_err_set(err, WEIR_EINVAL,
                                "--oidc-pending-max \"%.60s\": expected a "
                                "number from 1 to 1000000",
                                cfg->oidc_pending_text);
    }
    cfg->oidc_pending_max = n;
    return 0;
}

int config_oidc_check(struct config *cfg, struct weir_err *err)
{
    const char *need[][2] = {
        {cfg->oidc_issuer, "--oidc-issuer"},
        {cfg->oidc_client_id, "--oidc-client-id"},
        {cfg->oidc_secret_file, "--oidc-client-secret-file"},
        {cfg->oidc_role_map, "--oidc-role-map"}};
    bool any = false;

    if (session_duration(cfg->session_idle_text, "--session-idle",
                         SESSION_IDLE_DEFAULT_S, &cfg->session_idle_s,
                         err) < 0 ||
        session_duration(cfg->session_max_text, "--session-max",
                         SESSION_MAX_DEFAULT_S, &cfg->session_max_s, err) < 0)
        return WEIR_EINVAL;
    if (cfg->session_idle_s > cfg->session_max_s)
        return weir_err_set(err, WEIR_EINVAL,
                            "--session-idle is longer than --session-max");
    for (size_t i = 0; i < WEIR_ARRAY_LEN(need); i++)
        any |= need[i][0] != NULL;
    any |= cfg->oidc_groups_claim != NULL || cfg->oidc_user_claim != NULL ||
           cfg->oidc_pending_text != NULL;
    for (size_t i = 0; any && i < WEIR_ARRAY_LEN(need); i++)
        if (need[i][0] == NULL || need[i][0][0] == '\0')
            return weir_err_set(err, WEIR_EINVAL,
                                "single sign-on needs --oidc-issuer, "
                                "--oidc-client-id, --oidc-client-secret-file "
                                "and --oidc-role-map together: %s is missing",
                                need[i][1]);
    if (!any)
        return 0;
    if (cfg->oidc_groups_claim == NULL)
        cfg->oidc_groups_claim = "groups";
    if (cfg->oidc_groups_claim[0] == '\0' ||
        strlen(cfg->oidc_groups_claim) > 100 ||
        strlen(cfg->oidc_client_id) > 200)
        return weir_err_set(err, WEIR_EINVAL,
                            "--oidc-groups-claim and --oidc-client-id take "
                            "1 to 100 and 200 bytes");
    if (oidc_extra_check(cfg, err) < 0)
        return WEIR_EINVAL;
    if (issuer_check(cfg->oidc_issuer, err) < 0)
        return WEIR_EINVAL;
    return secret_file_check(cfg->oidc_secret_file, err);
}
