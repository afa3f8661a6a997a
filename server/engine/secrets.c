/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secrets (engine/secrets.h): the engine's side of the secrets table.
 * Plaintext lives only in this process, for the length of a call: it is
 * sealed before a statement carries it and opened only into the attempt
 * document of a lease (after the step cache key is made, so no key is
 * derived from a secret) and wiped where this file holds it.
 */
#include "engine/secrets.h"

#include <string.h>

#include <openssl/crypto.h>

#include "engine/internal.h"
#include "engine/secretkey.h"
#include "log.h"
#include "namepat.h"
#include "store/attempts.h"
#include "store/secrets.h"
#include "suggest.h"
#include "tmpl.h"

#define ENV_MAX 64 /* bytes of an environment name */

static bool name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '_' || (i > 0 && ch >= '0' && ch <= '9')))
            return false;
    }
    return true;
}

/* "" or an environment name as DAGs spell them. */
static bool env_ok(const char *s)
{
    size_t n = strlen(s);

    if (n > ENV_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              (i > 0 && (ch == '_' || ch == '-'))))
            return false;
    }
    return true;
}

static int check_names(const char *name, const char *env, struct weir_err *err)
{
    if (!name_ok(name))
        return weir_err_set(err, WEIR_EINVAL,
                            "secret name \"%.80s\" is not valid: use letters, "
                            "digits and \"_\", starting with a letter or "
                            "\"_\" (at most 128)",
                            name);
    if (!env_ok(env))
        return weir_err_set(err, WEIR_EINVAL,
                            "environment \"%.80s\" is not valid: use "
                            "lowercase letters, digits, \"_\" and \"-\", "
                            "starting with a letter or digit (at most %d)",
                            env, ENV_MAX);
    return 0;
}

static int no_key(struct weir_err *err)
{
    return weir_err_set(err, WEIR_ECONFLICT,
                        "this server has no secrets key: start it with "
                        "--secrets-key-file FILE (docs/security.md, "
                        "\"Secrets\")");
}

static void hex_encode(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_nibble(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* Decode hex text into a new buffer *out of *n bytes; false if not hex. */
static bool hex_decode(const char *s, unsigned char **out, size_t *n)
{
    size_t len = s ? strlen(s) : 1;
    unsigned char *b;

    if (len % 2 != 0 || (b = malloc(len / 2 + 1)) == NULL)
        return false;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hex_nibble(s[2 * i]), lo = hex_nibble(s[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            free(b);
            return false;
        }
        b[i] = (unsigned char)(hi << 4 | lo);
    }
    *out = b;
    *n = len / 2;
    return true;
}

/* Seal value for (name, env) into hex text: *ct_hex (malloc), nonce_hex. */
static int seal_hex(const char *name, const char *env, const char *value,
                    size_t len, char **ct_hex,
                    char nonce_hex[2 * SECRETKEY_NONCE_LEN + 1],
                    char key_id[SECRETKEY_ID_LEN + 1], struct weir_err *err)
{
    unsigned char nonce[SECRETKEY_NONCE_LEN];
    unsigned char *ct = NULL;
    size_t ct_len = 0;
    int rc =
        secretkey_seal(name, env, value, len, nonce, &ct, &ct_len, key_id, err);

    if (rc < 0)
        return rc;
    *ct_hex = malloc(2 * ct_len + 1);
    if (*ct_hex == NULL) {
        free(ct);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    hex_encode(ct, ct_len, *ct_hex);
    hex_encode(nonce, sizeof(nonce), nonce_hex);
    free(ct);
    return 0;
}

/* Open a sealed row {name, environment, ct, nonce, key_id} of the store:
 * *plain (malloc; wipe with wipe_free()). */
static int open_row(const cJSON *row, char **plain, size_t *len,
                    struct weir_err *err)
{
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(row, "name"));
    const char *env =
        cJSON_GetStringValue(cJSON_GetObjectItem(row, "environment"));
    const char *kid = cJSON_GetStringValue(cJSON_GetObjectItem(row, "key_id"));
    unsigned char *ct = NULL, *nonce = NULL;
    size_t n_ct = 0, n_nonce = 0;
    int rc = 0;

    if (name == NULL || env == NULL || kid == NULL ||
        !hex_decode(cJSON_GetStringValue(cJSON_GetObjectItem(row, "ct")), &ct,
                    &n_ct) ||
        !hex_decode(cJSON_GetStringValue(cJSON_GetObjectItem(row, "nonce")),
                    &nonce, &n_nonce) ||
        n_nonce != SECRETKEY_NONCE_LEN)
        rc = weir_err_set(err, WEIR_EINTERNAL, "a stored secret is damaged");
    if (rc == 0)
        rc = secretkey_open(name, env, kid, nonce, ct, n_ct, plain, len, err);
    free(ct);
    free(nonce);
    return rc;
}

static void wipe_free(char *s, size_t len)
{
    if (s != NULL)
        OPENSSL_cleanse(s, len);
    free(s);
}

/* Whether pat is a DAG id pattern: 1 to 64 of [a-z0-9_-*?]. */
static bool dag_pattern_ok(const char *pat)
{
    size_t n = strlen(pat);

    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((pat[i] >= 'a' && pat[i] <= 'z') ||
              (pat[i] >= '0' && pat[i] <= '9') || strchr("_-*?", pat[i])))
            return false;
    return true;
}

/* The DAG patterns dags (a JSON array of strings, or NULL) checked, as
 * JSON text into *text (cJSON_free). */
static int dags_text(const cJSON *dags, char **text, struct weir_err *err)
{
    const cJSON *it;

    *text = NULL;
    if (dags == NULL)
        return 0;
    if (!cJSON_IsArray(dags) || cJSON_GetArraySize(dags) > SECRET_DAGS_MAX)
        return weir_err_set(err, WEIR_EINVAL,
                            "\"dags\" must be a list of at most %d DAG id "
                            "patterns",
                            SECRET_DAGS_MAX);
    cJSON_ArrayForEach(it, dags)
    {
        if (!cJSON_IsString(it) || !dag_pattern_ok(it->valuestring))
            return weir_err_set(
                err, WEIR_EINVAL,
                "\"dags\": \"%.64s\" is not a DAG id pattern: use 1 to 64 "
                "lowercase letters, digits, \"_\", \"-\", \"*\" (any run) "
                "and \"?\" (one)",
                cJSON_IsString(it) ? it->valuestring : "(not a string)");
    }
    *text = cJSON_PrintUnformatted(dags);
    return *text != NULL ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");
}

/* Whether a row's DAG patterns (JSON array; none: any DAG) admit dag_id. */
static bool dags_admit(const cJSON *dags, const char *dag_id)
{
    const cJSON *it;

    if (cJSON_GetArraySize(dags) == 0)
        return true;
    cJSON_ArrayForEach(it, dags)
    {
        if (cJSON_IsString(it) && namepat_match(it->valuestring, dag_id))
            return true;
    }
    return false;
}

int engine_secret_set(struct engine *e, const char *name, const char *env,
                      const char *value, size_t len, const char *who,
                      int *version, struct weir_err *err)
{
    return engine_secret_set_scoped(e, name, env, value, len, NULL, who,
                                    version, err);
}

int engine_secret_set_scoped(struct engine *e, const char *name,
                             const char *env, const char *value, size_t len,
                             const cJSON *dags, const char *who, int *version,
                             struct weir_err *err)
{
    char *dtext = NULL;
    char nonce_hex[2 * SECRETKEY_NONCE_LEN + 1];
    char key_id[SECRETKEY_ID_LEN + 1];
    struct store_conn *c = NULL;
    char *ct_hex = NULL;
    int rc;

    if (env == NULL)
        env = "";
    if ((rc = check_names(name, env, err)) < 0)
        return rc;
    if (!secretkey_ready())
        return no_key(err);
    if (len == 0 || len > SECRETKEY_VALUE_MAX || memchr(value, '\0', len))
        return weir_err_set(err, WEIR_EINVAL,
                            "a secret value is 1 to %d bytes, without NUL "
                            "(it is given to the step as an environment "
                            "variable)",
                            SECRETKEY_VALUE_MAX);
    if ((rc = dags_text(dags, &dtext, err)) < 0)
        return rc;
    rc = seal_hex(name, env, value, len, &ct_hex, nonce_hex, key_id, err);
    if (rc == 0)
        rc = store_conn_get(e->store, &c, err);
    if (rc == 0) {
        struct store_secret_seal s = {ct_hex, nonce_hex, key_id};

        rc = store_secret_put(c, name, env, &s, dtext, who, version, err);
    }
    store_conn_put(c);
    free(ct_hex);
    if (rc == 0)
        log_info("event=secret_set secret=%s env=%s version=%d key=%s dags=%s",
                 name, env[0] ? env : "*", *version, key_id,
                 dtext != NULL ? dtext : "[]");
    cJSON_free(dtext);
    return rc;
}

int engine_secret_delete(struct engine *e, const char *name, const char *env,
                         struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc;

    if (env == NULL)
        env = "";
    if ((rc = check_names(name, env, err)) < 0)
        return rc;
    rc = store_conn_get(e->store, &c, err);
    if (rc == 0)
        rc = store_secret_delete(c, name, env, err);
    store_conn_put(c);
    if (rc == WEIR_ENOTFOUND)
        return weir_err_set(err, rc, "no secret \"%s\" for %s%s%s", name,
                            env[0] ? "environment \"" : "every environment",
                            env, env[0] ? "\"" : "");
    if (rc == 0)
        log_info("event=secret_deleted secret=%s env=%s", name,
                 env[0] ? env : "*");
    return rc;
}

int engine_secrets_list(struct store_conn *c, cJSON **out, struct weir_err *err)
{
    return store_secret_list(c, out, err);
}

/* Open row and seal it again under the first key. */
static int reseal_row(struct store_conn *c, const cJSON *row,
                      struct weir_err *err)
{
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(row, "name"));
    const char *env =
        cJSON_GetStringValue(cJSON_GetObjectItem(row, "environment"));
    char nonce_hex[2 * SECRETKEY_NONCE_LEN + 1];
    char key_id[SECRETKEY_ID_LEN + 1];
    char *plain = NULL, *ct_hex = NULL;
    size_t len = 0;
    int rc = open_row(row, &plain, &len, err);

    if (rc == 0)
        rc = seal_hex(name, env, plain, len, &ct_hex, nonce_hex, key_id, err);
    wipe_free(plain, len);
    if (rc == 0) {
        struct store_secret_seal s = {ct_hex, nonce_hex, key_id};

        rc = store_secret_reseal(c, name, env, &s, err);
    }
    free(ct_hex);
    return rc;
}

int engine_secrets_rotate(struct engine *e, int *resealed, struct weir_err *err)
{
    struct store_conn *c = NULL;
    cJSON *rows = NULL;
    const cJSON *row;
    int n = 0, rc;

    if (!secretkey_ready())
        return no_key(err);
    rc = store_conn_get(e->store, &c, err);
    if (rc == 0)
        rc = store_tx_begin(c, err);
    if (rc == 0)
        rc = store_secret_sealed(c, NULL, NULL, true, &rows, err);
    cJSON_ArrayForEach(row, rows)
    {
        if (rc < 0)
            break;
        rc = reseal_row(c, row, err);
        n += rc == 0;
    }
    if (rc == 0)
        rc = store_tx_commit(c, err);
    else if (c != NULL)
        store_tx_rollback(c);
    store_conn_put(c);
    cJSON_Delete(rows);
    if (rc == 0) {
        *resealed = n;
        log_info("event=secrets_rotated rows=%d key=%s keys=%zu", n,
                 secretkey_first_id(), secretkey_count());
    }
    return rc;
}

/* ---- the check of a DAG's names ---- */

static bool known(const cJSON *names, const char *name)
{
    const cJSON *n;

    cJSON_ArrayForEach(n, names)
    {
        if (strcmp(cJSON_GetStringValue(n), name) == 0)
            return true;
    }
    return false;
}

static int report_unknown(const struct dag *dag, const cJSON *names,
                          struct dag_diags *diags)
{
    size_t n_known = (size_t)cJSON_GetArraySize(names), k = 0;
    const char **cands = calloc(n_known + 1, sizeof(*cands));
    const cJSON *it;
    int rc = 0;

    if (cands == NULL)
        return WEIR_ENOMEM;
    cJSON_ArrayForEach(it, names)
    {
        cands[k++] = cJSON_GetStringValue(it);
    }
    for (size_t s = 0; s < dag->n_steps; s++) {
        const struct dag_step *st = &dag->steps[s];

        for (size_t j = 0; j < st->n_secrets; j++) {
            const char *name = st->secrets[j].name, *best;

            if (known(names, name))
                continue;
            best = suggest_word(name, cands, n_known);
            dag_diags_add(diags, st->secrets[j].pos,
                          "step \"%s\": no secret \"%s\"%s%s%s (secrets are "
                          "set with `weir secret set NAME [--env ENV]`)",
                          st->id, name, best ? " (did you mean \"" : "",
                          best ? best : "", best ? "\"?)" : "");
            rc = WEIR_EINVAL;
        }
    }
    free(cands);
    return rc;
}

/* Whether some row of secret name (scopes: [{name, dags}]) is for the
 * DAG dag_id. */
static bool scoped_in(const cJSON *scopes, const char *name, const char *dag_id)
{
    const cJSON *row;

    cJSON_ArrayForEach(row, scopes)
    {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(row, "name"));

        if (n != NULL && strcmp(n, name) == 0 &&
            dags_admit(cJSON_GetObjectItem(row, "dags"), dag_id))
            return true;
    }
    return false;
}

/* A secret set for other DAGs only (`weir secret set --dag`) is an error
 * at its place in the DAG. */
static int report_unscoped(struct store_conn *c, const struct dag *dag,
                           struct dag_diags *diags, struct weir_err *err)
{
    cJSON *scopes = NULL;
    int rc = store_secret_scopes(c, &scopes, err);

    for (size_t s = 0; rc == 0 && s < dag->n_steps; s++) {
        const struct dag_step *st = &dag->steps[s];

        for (size_t j = 0; j < st->n_secrets; j++) {
            if (scoped_in(scopes, st->secrets[j].name, dag->id))
                continue;
            dag_diags_add(diags, st->secrets[j].pos,
                          "step \"%s\": secret \"%s\" is not for DAG \"%s\": "
                          "it is set for other DAGs only (`weir secret set "
                          "%s --dag PATTERN`)",
                          st->id, st->secrets[j].name, dag->id,
                          st->secrets[j].name);
            rc = WEIR_EINVAL;
        }
    }
    cJSON_Delete(scopes);
    return rc;
}

int engine_dag_secrets_check(struct store_conn *c, const struct dag *dag,
                             struct dag_diags *diags, struct weir_err *err)
{
    cJSON *names = NULL;
    bool any = false;
    int rc;

    for (size_t s = 0; s < dag->n_steps && !any; s++)
        any = dag->steps[s].n_secrets > 0;
    if (!any)
        return 0;
    rc = store_secret_names(c, &names, err);
    if (rc == 0)
        rc = report_unknown(dag, names, diags);
    if (rc == 0)
        rc = report_unscoped(c, dag, diags, err);
    if (rc == WEIR_ENOMEM)
        weir_err_set(err, rc, "out of memory");
    cJSON_Delete(names);
    return rc;
}

int engine_dag_secrets_check_e(struct engine *e, const struct dag *dag,
                               struct dag_diags *diags, struct weir_err *err)
{
    struct store_conn *c = NULL;
    int rc = store_conn_get(e->store, &c, err);

    if (rc == 0)
        rc = engine_dag_secrets_check(c, dag, diags, err);
    store_conn_put(c);
    return rc;
}

/* ---- delivery ---- */

/* The resolver of an env: value that templates secrets: secrets.NAME from
 * the opened values, any other name as the rest of the step's templates. */
struct secret_resolve {
    struct resolve r;    /* params, matrix, steps, run, event */
    const cJSON *values; /* {NAME: value} */
};

static int secret_resolve_cb(void *ctx, const char *name,
                             struct expr_value *out, struct weir_err *err)
{
    struct secret_resolve *s = ctx;
    const cJSON *v;

    if (strncmp(name, "secrets.", 8) != 0)
        return resolve_cb(&s->r, name, out, err);
    v = cJSON_GetObjectItemCaseSensitive(s->values, name + 8);
    if (!cJSON_IsString(v))
        return weir_err_set(err, WEIR_ENOTFOUND, "no secret \"%s\"", name + 8);
    memset(out, 0, sizeof(*out));
    out->type = EXPR_STR;
    out->str = v->valuestring;
    return 0;
}

/* The value of name for the run's environment out of rows (the specific
 * environment's first), opened into values. */
static int open_one(const cJSON *rows, const char *name, const char *env,
                    const char *dag_id, cJSON *values, struct weir_err *rerr)
{
    const cJSON *row;
    bool refused = false;

    cJSON_ArrayForEach(row, rows)
    {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(row, "name"));
        char *plain = NULL;
        size_t len = 0;
        int rc;

        if (n == NULL || strcmp(n, name) != 0)
            continue;
        if (!dags_admit(cJSON_GetObjectItem(row, "dags"), dag_id)) {
            refused = true;
            continue;
        }
        rc = open_row(row, &plain, &len, rerr);
        if (rc == 0 && cJSON_AddStringToObject(values, name, plain) == NULL)
            rc = weir_err_set(rerr, WEIR_ENOMEM, "out of memory");
        wipe_free(plain, len);
        return rc;
    }
    if (refused)
        return weir_err_set(rerr, WEIR_EFORBIDDEN,
                            "secret \"%s\" is not for DAG \"%s\" in "
                            "environment \"%s\": it is set for other DAGs "
                            "only (`weir secret set %s --dag PATTERN`)",
                            name, dag_id, env[0] ? env : "(none)", name);
    return weir_err_set(rerr, WEIR_ENOTFOUND,
                        "secret \"%s\" is not set for environment \"%s\" "
                        "(nor for every environment): set it with `weir "
                        "secret set %s%s%s`",
                        name, env[0] ? env : "(none)", name,
                        env[0] ? " --env " : "", env);
}

/* Add to env (the document's) what the step's secrets give it. */
static int fill_env(struct run_ctx *x, size_t i, const struct dag_step *st,
                    const cJSON *values, cJSON *env, struct weir_err *rerr)
{
    struct secret_resolve s = {.r = {.x = x, .task = i}, .values = values};
    int rc = 0;

    for (size_t k = 0; rc == 0 && k < st->n_secrets; k++) {
        const cJSON *v =
            cJSON_GetObjectItemCaseSensitive(values, st->secrets[k].name);

        if (st->secrets[k].as_env &&
            cJSON_AddStringToObject(env, st->secrets[k].name, v->valuestring) ==
                NULL)
            rc = weir_err_set(rerr, WEIR_ENOMEM, "out of memory");
    }
    for (size_t k = 0; rc == 0 && k < st->n_env; k++) {
        char *out = NULL;

        if (!st->env[k].secret)
            continue;
        rc = tmpl_render(st->env[k].value, TMPL_PLAIN, secret_resolve_cb, &s,
                         &out, rerr);
        resolve_cleanup(&s.r);
        if (rc < 0) {
            /* the render error may quote a secret's value: say only which
             * variable failed (the load refuses all but a bare reference) */
            OPENSSL_cleanse(rerr->msg, sizeof(rerr->msg));
            weir_err_set(rerr, rc, "env %s: the template could not be rendered",
                         st->env[k].name);
            break;
        }
        if (cJSON_AddStringToObject(env, st->env[k].name, out) == NULL)
            rc = weir_err_set(rerr, WEIR_ENOMEM, "out of memory");
        OPENSSL_cleanse(out, strlen(out));
        free(out);
    }
    return rc;
}

/* The names of st's secrets as JSON array text (cJSON_free). */
static char *names_json(const struct dag_step *st)
{
    cJSON *a = cJSON_CreateArray();
    char *text = NULL;

    for (size_t k = 0; a != NULL && k < st->n_secrets; k++)
        cJSON_AddItemToArray(a, cJSON_CreateString(st->secrets[k].name));
    if (a != NULL)
        text = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return text;
}

int engine_secrets_fill(struct store_conn *c, struct run_ctx *x, size_t i,
                        cJSON **doc, struct weir_err *rerr,
                        struct weir_err *err)
{
    const struct dag_step *st = &x->dag->steps[x->rt[i].step];
    const char *env = x->run.environment ? x->run.environment : "";
    cJSON *rows = NULL, *values = NULL;
    char *names = NULL;
    int rc = 0, arc = 0;

    if (st->n_secrets == 0)
        return 0;
    if (!secretkey_ready()) {
        arc = weir_err_set(rerr, WEIR_ECONFLICT,
                           "step \"%s\" needs secret \"%s\", and this server "
                           "has no secrets key (--secrets-key-file)",
                           st->id, st->secrets[0].name);
        goto out;
    }
    names = names_json(st);
    values = cJSON_CreateObject();
    if (names == NULL || values == NULL) {
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
        goto out;
    }
    rc = store_secret_sealed(c, names, env, false, &rows, err);
    for (size_t k = 0; rc == 0 && arc == 0 && k < st->n_secrets; k++)
        arc =
            open_one(rows, st->secrets[k].name, env, x->dag->id, values, rerr);
    if (rc == 0 && arc == 0)
        arc = fill_env(x, i, st, values,
                       cJSON_GetObjectItemCaseSensitive(*doc, "env"), rerr);
    if (rc == 0 && arc == 0) {
        cJSON_AddItemToObject(*doc, "secrets", values);
        values = NULL;
    }
out:
    if (rc == 0 && arc != 0) {
        cJSON_Delete(*doc);
        *doc = NULL;
    }
    cJSON_Delete(values);
    cJSON_Delete(rows);
    cJSON_free(names);
    return rc;
}

/* Fail the attempt of doc (leased, not sent) with msg. */
static void refuse_one(struct engine *e, const cJSON *doc, const char *msg)
{
    int64_t id = (int64_t)cJSON_GetNumberValue(
        cJSON_GetObjectItemCaseSensitive(doc, "attempt_id"));
    const char *lease =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "lease_id"));
    struct outcome o = {ATTEMPT_FAILED, NULL, NULL,  msg,
                        false,          NULL, false, false};
    struct store_attempt a = {0};
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    char q[300];
    int rc = store_conn_get(e->store, &c, &err);

    log_warn("event=secrets_refused attempt=%lld reason=insecure_transport",
             (long long)id);
    if (rc == 0)
        rc = store_tx_begin(c, &err);
    if (rc == 0)
        rc = store_attempt_get(c, id, lease, true, &a, &err);
    if (rc == 0 && a.state == ATTEMPT_RUNNING)
        rc = engine_finish_attempt(e, c, &a, &o, &err);
    if (rc == 0)
        rc = store_tx_commit(c, &err);
    store_conn_put(c);
    hub_bump(e->hub);
    if (rc < 0)
        log_warn("event=secrets_refuse_unrecorded attempt=%lld msg=%s",
                 (long long)id, log_quote(err.msg, q, sizeof(q)));
}

size_t engine_secrets_refuse(struct engine *e, cJSON *arr)
{
    static const char msg[] =
        "this step's secrets were not delivered: the worker reached the "
        "server neither over TLS nor on loopback (serve with --tls-cert, or "
        "run the worker on the server's host)";
    size_t n = 0;
    cJSON *d = arr != NULL ? arr->child : NULL;

    while (d != NULL) {
        cJSON *next = d->next;

        if (cJSON_GetObjectItemCaseSensitive(d, "secrets") != NULL) {
            cJSON_DetachItemViaPointer(arr, d);
            refuse_one(e, d, msg);
            cJSON_Delete(d);
            n++;
        }
        d = next;
    }
    return n;
}
