/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The attempt calls of the worker protocol that carry data: log batches
 * and completion. Log text is made storable first: PostgreSQL text holds
 * neither invalid UTF-8 nor NUL, so each bad byte becomes U+FFFD (a JSON
 * \u0000 escape already did, in the HTTP layer).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "engine/secrets.h"
#include "log.h"
#include "utf8.h"

#define LOG_LINES_MAX 5000 /* lines in one batch */
#define OUTPUTS_MAX   1000 /* outputs of one attempt */
#define MORE_MAX      100  /* completions batched with the path's one */

/* A copy of s with every byte that does not start a well-formed UTF-8
 * sequence (utf8.h) replaced by U+FFFD; NULL: no memory. */
static char *utf8_sanitize(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *out = malloc(n * 3 + 1);

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t good = utf8_invalid_offset((const unsigned char *)s + i, n - i);

        memcpy(out + o, s + i, good);
        o += good;
        i += good;
        if (i < n) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

static bool valid_stream(const char *s)
{
    return strcmp(s, "stdout") == 0 || strcmp(s, "stderr") == 0 ||
           strcmp(s, "system") == 0;
}

/* One line of a batch, checked and sanitized, appended to arr. */
static int log_line(const cJSON *l, cJSON *arr, struct weir_err *err)
{
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(l, "seq");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(l, "ts");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(l, "stream");
    const cJSON *line = cJSON_GetObjectItemCaseSensitive(l, "line");
    static const struct api_key keys[] = {{"seq", API_NUM | API_REQUIRED},
                                          {"ts", API_NUM | API_REQUIRED},
                                          {"stream", API_STR | API_REQUIRED},
                                          {"line", API_STR | API_REQUIRED}};
    cJSON *o;
    char *text;
    int rc = api_body_check(l, keys, WEIR_ARRAY_LEN(keys), "log line", err);

    if (rc < 0)
        return rc;
    if (!cJSON_IsNumber(seq) || seq->valuedouble < 0 ||
        seq->valuedouble != floor(seq->valuedouble) ||
        seq->valuedouble > 9007199254740992.0 || !cJSON_IsNumber(ts) ||
        ts->valuedouble < 0 || ts->valuedouble > 1e15 || !cJSON_IsString(st) ||
        !valid_stream(st->valuestring) || !cJSON_IsString(line))
        return weir_err_set(err, WEIR_EINVAL,
                            "a log line is {\"seq\": N >= 0, \"ts\": ms since "
                            "the epoch, \"stream\": \"stdout\" | "
                            "\"stderr\", \"line\": \"...\"}");
    text = utf8_sanitize(line->valuestring);
    o = cJSON_CreateObject();
    if (text == NULL || o == NULL) {
        free(text);
        cJSON_Delete(o);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    cJSON_AddItemToArray(arr, o);
    cJSON_AddNumberToObject(o, "seq", seq->valuedouble);
    cJSON_AddNumberToObject(o, "ts", floor(ts->valuedouble));
    cJSON_AddStringToObject(o, "stream", st->valuestring);
    cJSON_AddStringToObject(o, "line", text);
    free(text);
    return 0;
}

/* The lines of a batch as the JSON text engine_logs_append() takes. */
static int log_batch(const cJSON *lines, char **out, struct weir_err *err)
{
    cJSON *arr = cJSON_CreateArray();
    const cJSON *l;
    int rc = arr ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");

    if (rc == 0 &&
        (!cJSON_IsArray(lines) || cJSON_GetArraySize(lines) > LOG_LINES_MAX))
        rc = weir_err_set(err, WEIR_EINVAL,
                          "expected \"lines\": [...] of at most %d lines",
                          LOG_LINES_MAX);
    for (l = rc == 0 ? lines->child : NULL; l != NULL && rc == 0; l = l->next)
        rc = log_line(l, arr, err);
    if (rc == 0) {
        *out = cJSON_PrintUnformatted(arr);
        if (*out == NULL)
            rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    cJSON_Delete(arr);
    return rc;
}

/*
 * The worker's report of what its cap cut, {lines_total, lines_kept,
 * bytes_total, bytes_kept} (whole numbers, kept <= total), as the JSON
 * text engine_logs_append() takes; NULL in *out when v is absent.
 */
static int log_capped(const cJSON *v, char **out, struct weir_err *err)
{
    static const char *const keys[] = {"lines_total", "lines_kept",
                                       "bytes_total", "bytes_kept"};
    const cJSON *obj = cJSON_IsObject(v) ? v : NULL;
    double n[4];
    const cJSON *k;

    *out = NULL;
    if (v == NULL)
        return 0;
    cJSON_ArrayForEach(k, obj)
    {
        bool known = false;

        for (size_t i = 0; i < 4; i++)
            known = known || strcmp(k->string, keys[i]) == 0;
        if (!known)
            return weir_err_set(err, WEIR_EINVAL,
                                "log_capped: unknown key \"%.64s\"", k->string);
    }
    for (size_t i = 0; i < 4; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(v, keys[i]);

        n[i] = cJSON_IsNumber(x) ? x->valuedouble : -1;
        if (!cJSON_IsObject(v) || n[i] < 0 || n[i] != floor(n[i]) ||
            n[i] > 9007199254740992.0)
            return weir_err_set(err, WEIR_EINVAL,
                                "expected \"log_capped\": {\"lines_total\": "
                                "N, \"lines_kept\": N, \"bytes_total\": N, "
                                "\"bytes_kept\": N}, whole numbers >= 0");
    }
    if (n[1] > n[0] || n[3] > n[2])
        return weir_err_set(err, WEIR_EINVAL,
                            "log_capped: kept more than the total");
    *out = cJSON_PrintUnformatted(v);
    return *out != NULL ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");
}
/* The keys of a logs body. */
static const struct api_key log_keys[] = {{"lease_id", API_STR | API_REQUIRED},
                                          {"lines", API_ARR | API_REQUIRED},
                                          {"log_capped", API_OBJ}};

void api_attempt_logs_post(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const cJSON *b = http_req_json(req);
    const cJSON *lease = cJSON_GetObjectItemCaseSensitive(b, "lease_id");
    int64_t id = api_parse_id(http_req_param(req, "id"));
    struct weir_err err = {0};
    char *lines = NULL, *capped = NULL;
    int inserted = 0, rc = 0;
    cJSON *o;

    if (id == 0)
        rc = weir_err_set(&err, WEIR_ENOTFOUND, "no such attempt");
    if (rc == 0)
        rc = api_body_check(b, log_keys, WEIR_ARRAY_LEN(log_keys), "logs body",
                            &err);
    if (rc == 0 && !cJSON_IsString(lease))
        rc = weir_err_set(&err, WEIR_EINVAL, "expected \"lease_id\"");
    if (rc == 0)
        rc = api_attempts_owned(api, req, &id, 1, &err);
    if (rc == 0)
        rc = log_batch(cJSON_GetObjectItemCaseSensitive(b, "lines"), &lines,
                       &err);
    if (rc == 0)
        rc = log_capped(cJSON_GetObjectItemCaseSensitive(b, "log_capped"),
                        &capped, &err);
    if (rc == 0)
        rc = engine_logs_append(api->engine, id, lease->valuestring, lines,
                                capped, &inserted, &err);
    cJSON_free(lines);
    cJSON_free(capped);
    if (rc < 0) {
        http_reply_err(req, &err);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "inserted", inserted);
    http_reply_json(req, 200, o);
}

/*
 * The keys of a completion (the worker also reports how it ended:
 * canceled, the signal, the duration), with the request's own "lease" and
 * "more"; those of one of "more", with its "attempt_id".
 */
/* What a completion and each of its "more" report. */
// clang-format off
#define RESULT_KEYS                                                            \
    {"lease_id", API_STR | API_REQUIRED},                                      \
    {"exit_code", API_NUM | API_NULL},                                         \
    {"timed_out", API_BOOL},                                                   \
    {"canceled", API_BOOL},                                                    \
    {"signal", API_NUM},                                                       \
    {"duration_ms", API_NUM},                                                  \
    {"outputs", API_OBJ | API_NULL},                                           \
    {"error", API_STR | API_NULL}
// clang-format on
static const struct api_key complete_keys[] = {
    RESULT_KEYS,
    {"lease", API_OBJ | API_NULL},
    {"more", API_ARR | API_NULL},
};
static const struct api_key more_keys[] = {
    RESULT_KEYS,
    {"attempt_id", API_NUM | API_REQUIRED},
};

/* Read a completion body into res. */
static int complete_body(const cJSON *b, struct engine_result *res,
                         struct weir_err *err)
{
    const cJSON *lease = cJSON_GetObjectItemCaseSensitive(b, "lease_id");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(b, "exit_code");
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(b, "timed_out");
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(b, "outputs");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(b, "error");
    const cJSON *m;

    if (!cJSON_IsString(lease) ||
        (code != NULL && !cJSON_IsNull(code) &&
         (!cJSON_IsNumber(code) || code->valuedouble < -255 ||
          code->valuedouble > 255)) ||
        (to != NULL && !cJSON_IsBool(to)) ||
        (outs != NULL && !cJSON_IsNull(outs) && !cJSON_IsObject(outs)) ||
        (e != NULL && !cJSON_IsNull(e) && !cJSON_IsString(e)))
        return weir_err_set(err, WEIR_EINVAL,
                            "expected {\"lease_id\": \"...\", \"exit_code\": "
                            "N | null, \"timed_out\": bool, \"outputs\": "
                            "{\"key\": \"value\"}, \"error\": \"...\" | "
                            "null}");
    if (cJSON_GetArraySize(outs) > OUTPUTS_MAX)
        return weir_err_set(err, WEIR_EINVAL, "more than %d outputs",
                            OUTPUTS_MAX);
    for (m = cJSON_IsObject(outs) ? outs->child : NULL; m; m = m->next) {
        if (!cJSON_IsString(m))
            return weir_err_set(err, WEIR_EINVAL,
                                "output \"%s\" must be a string", m->string);
    }
    res->lease_id = lease->valuestring;
    res->has_exit = cJSON_IsNumber(code);
    res->exit_code = res->has_exit ? (int)code->valuedouble : 0;
    res->timed_out = cJSON_IsTrue(to);
    res->outputs = cJSON_IsObject(outs) ? outs : NULL;
    res->error = cJSON_IsString(e) ? e->valuestring : NULL;
    return 0;
}

/*
 * The optional "lease" of a completion, {"worker_id": N, "max": N}: read
 * before the completion, so a malformed one changes nothing. *worker is 0
 * when there is none. The claim it asks for is made in the completion's
 * own transaction (engine_complete_batch()).
 */
static int next_lease_args(const cJSON *b, int64_t *worker, int *max,
                           struct weir_err *err)
{
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(b, "lease");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(l, "max");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(l, "worker_id");
    static const struct api_key keys[] = {{"worker_id", API_NUM | API_REQUIRED},
                                          {"max", API_NUM}};
    int rc;

    *worker = 0;
    if (l == NULL || cJSON_IsNull(l))
        return 0;
    rc = api_body_check(l, keys, WEIR_ARRAY_LEN(keys), "completion \"lease\"",
                        err);
    if (rc < 0)
        return rc;
    if (!cJSON_IsNumber(w) || w->valuedouble < 1 ||
        (m != NULL &&
         (!cJSON_IsNumber(m) || m->valuedouble < 1 || m->valuedouble > 100)))
        return weir_err_set(err, WEIR_EINVAL,
                            "expected \"lease\": {\"worker_id\": N, \"max\": "
                            "1..100}");
    *worker = (int64_t)w->valuedouble;
    *max = m ? (int)m->valuedouble : 1;
    return 0;
}

/* The attempt id of one of "more" (a whole number >= 1), or 0. */
static int64_t item_id(const cJSON *v)
{
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 ||
        v->valuedouble > 9007199254740992.0 ||
        v->valuedouble != floor(v->valuedouble))
        return 0;
    return (int64_t)v->valuedouble;
}

/*
 * The completions of a request: the path's attempt, then those of the
 * optional "more": [{"attempt_id": N, ...the same fields}], at most
 * MORE_MAX. *n gets their count; *batched whether "more" was given.
 */
static int completions(const cJSON *b, int64_t id,
                       struct engine_completion **out, size_t *n, bool *batched,
                       struct weir_err *err)
{
    const cJSON *more = cJSON_GetObjectItemCaseSensitive(b, "more");
    int n_more = cJSON_IsArray(more) ? cJSON_GetArraySize(more) : 0;
    struct engine_completion *v;
    const cJSON *m;
    size_t k = 1;
    int rc;

    *batched = more != NULL && !cJSON_IsNull(more);
    if (*batched && (!cJSON_IsArray(more) || n_more > MORE_MAX))
        return weir_err_set(err, WEIR_EINVAL,
                            "expected \"more\": [{\"attempt_id\": N, "
                            "\"lease_id\": \"...\", ...}] of at most %d",
                            MORE_MAX);
    v = calloc((size_t)n_more + 1, sizeof(*v));
    if (v == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    v[0].attempt_id = id;
    rc = api_body_check(b, complete_keys, WEIR_ARRAY_LEN(complete_keys),
                        "completion body", err);
    if (rc == 0)
        rc = complete_body(b, &v[0].res, err);
    if (!*batched)
        more = NULL;
    cJSON_ArrayForEach(m, more)
    {
        if (rc != 0)
            break;
        v[k].attempt_id =
            item_id(cJSON_GetObjectItemCaseSensitive(m, "attempt_id"));
        for (size_t j = 0; j < k && v[k].attempt_id != 0; j++)
            if (v[j].attempt_id == v[k].attempt_id)
                v[k].attempt_id = 0;
        if (v[k].attempt_id == 0)
            rc = weir_err_set(err, WEIR_EINVAL,
                              "each of \"more\" names another attempt: "
                              "\"attempt_id\": N");
        if (rc == 0)
            rc = api_body_check(m, more_keys, WEIR_ARRAY_LEN(more_keys),
                                "an item of \"more\"", err);
        if (rc == 0)
            rc = complete_body(m, &v[k].res, err);
        k++;
    }
    if (rc != 0) {
        free(v);
        return rc;
    }
    *out = v;
    *n = k;
    return 0;
}

/* Every attempt completed, and the worker a next lease is for, belong to
 * the caller's token. */
static int completions_owned(struct api *api, struct http_req *req,
                             const struct engine_completion *v, size_t n,
                             int64_t worker, struct weir_err *err)
{
    int64_t *ids = calloc(n, sizeof(*ids));
    int rc = ids ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");

    for (size_t i = 0; rc == 0 && i < n; i++)
        ids[i] = v[i].attempt_id;
    if (rc == 0)
        rc = api_attempts_owned(api, req, ids, n, err);
    /* An unknown worker claims nothing (the engine's rule); another
     * token's worker may not claim through this one. */
    if (rc == 0 && worker != 0) {
        rc = api_worker_owned(api, req, worker, err);
        if (rc == WEIR_ENOTFOUND)
            rc = 0;
    }
    free(ids);
    return rc;
}

void api_attempt_complete(struct http_req *req)
{
    struct api *api = http_req_app(req);
    const cJSON *b = http_req_json(req);
    int64_t id = api_parse_id(http_req_param(req, "id"));
    struct engine_completion *v = NULL;
    struct weir_err err = {0};
    int64_t worker = 0;
    size_t n = 0;
    bool batched = false;
    int max = 1, rc = 0;
    cJSON *o, *attempts = NULL, *results;

    if (id == 0)
        rc = weir_err_set(&err, WEIR_ENOTFOUND, "no such attempt");
    if (rc == 0)
        rc = completions(b, id, &v, &n, &batched, &err);
    if (rc == 0)
        rc = next_lease_args(b, &worker, &max, &err);
    if (rc == 0)
        rc = completions_owned(api, req, v, n, worker, &err);
    if (rc == 0)
        rc = engine_complete_batch(api->engine, v, n, worker, max, &attempts,
                                   &err);
    /* Alone, the completion's own outcome is the answer's status. */
    if (rc == 0 && !batched && v[0].rc != 0) {
        err = v[0].err;
        rc = v[0].rc;
        cJSON_Delete(attempts);
        attempts = NULL;
    }
    if (rc < 0) {
        free(v);
        http_reply_err(req, &err);
        return;
    }
    /* secrets go only over TLS or loopback (engine/secrets.h) */
    if (attempts != NULL && !http_req_secure(req))
        (void)engine_secrets_refuse(api->engine, attempts);
    o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", true);
    if (attempts != NULL)
        cJSON_AddItemToObject(o, "attempts", attempts);
    if (batched) {
        results = cJSON_AddArrayToObject(o, "results");
        for (size_t i = 0; i < n; i++) {
            cJSON *r = cJSON_CreateObject();

            cJSON_AddItemToArray(results, r);
            cJSON_AddNumberToObject(r, "attempt_id", (double)v[i].attempt_id);
            cJSON_AddNumberToObject(
                r, "status",
                v[i].rc == 0 ? 200 : weir_err_http_status(v[i].rc));
            if (v[i].rc != 0 && weir_err_http_status(v[i].rc) >= 500) {
                char q[300];

                /* the details (the database's words) go to the log */
                log_warn("event=complete_failed attempt=%lld code=%s msg=%s",
                         (long long)v[i].attempt_id, weir_errname(v[i].rc),
                         log_quote(v[i].err.msg, q, sizeof(q)));
                cJSON_AddStringToObject(r, "error", weir_strerror(v[i].rc));
            } else if (v[i].rc != 0) {
                cJSON_AddStringToObject(r, "error", v[i].err.msg);
            }
        }
    }
    free(v);
    http_reply_json(req, 200, o);
}
