/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An attempt from the lease to the folder and environment its step runs
 * with, and back to its outputs. See attempt.h for the lease fields and
 * the rules of the environment.
 */
#include "attempt.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "expr.h"
#include "fsutil.h"
#include "grow.h"
#include "outputs.h"

/* Integers above this do not survive a trip through a JSON double. */
#define JSON_INT_MAX 9007199254740992.0

/* The environment being built: "NAME=VALUE" strings, later names win. */
struct envb {
    char **v;   /* the entries, NULL-terminated when v is not NULL */
    size_t n;   /* entries */
    size_t cap; /* room in v, counting the NULL */
};

static bool name_valid(const char *s)
{
    if (s[0] == '\0')
        return false;
    for (size_t i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '_' || (i > 0 && c >= '0' && c <= '9');

        if (!ok)
            return false;
    }
    return true;
}

/* The index of NAME in e, or e->n. */
static size_t env_find(const struct envb *e, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < e->n; i++)
        if (strncmp(e->v[i], name, len) == 0 && e->v[i][len] == '=')
            return i;
    return e->n;
}

/* Set NAME=VALUE, replacing an earlier NAME. */
static int env_set(struct envb *e, const char *name, const char *value,
                   struct weir_err *err)
{
    size_t nlen = strlen(name), vlen = strlen(value), at = env_find(e, name);
    char *entry = malloc(nlen + vlen + 2);

    if (entry == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "environment: out of memory");
    snprintf(entry, nlen + vlen + 2, "%s=%s", name, value);
    if (at < e->n) {
        free(e->v[at]);
        e->v[at] = entry;
        return 0;
    }
    if (!WEIR_GROW(e->v, e->cap, e->n + 2, 32, 0)) {
        free(entry);
        return weir_err_set(err, WEIR_ENOMEM, "environment: out of memory");
    }
    e->v[e->n++] = entry;
    e->v[e->n] = NULL;
    return 0;
}

static void env_free(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/*
 * A JSON value as the text a step sees: strings as they are, numbers in
 * their shortest form, true/false, "" for null, compact JSON otherwise.
 * Returns a new string, or NULL when out of memory.
 */
static char *value_text(const cJSON *v)
{
    char *json, *s;

    if (cJSON_IsString(v))
        return dup_str(v->valuestring);
    if (cJSON_IsNumber(v)) {
        char buf[64];
        struct expr_value ev = {.type = EXPR_NUM, .num = v->valuedouble};

        expr_value_format(&ev, buf, sizeof(buf));
        return dup_str(buf);
    }
    if (cJSON_IsBool(v))
        return dup_str(cJSON_IsTrue(v) ? "true" : "false");
    if (cJSON_IsNull(v))
        return dup_str("");
    json = cJSON_PrintUnformatted(v);
    if (json == NULL)
        return NULL;
    s = dup_str(json);
    cJSON_free(json);
    return s;
}

static const char *json_kind(const cJSON *v)
{
    if (v == NULL)
        return "nothing";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNull(v))
        return "null";
    return cJSON_IsArray(v) ? "an array" : "an object";
}

static bool is_whole(const cJSON *v, double min, double max)
{
    return cJSON_IsNumber(v) && v->valuedouble >= min &&
           v->valuedouble <= max && v->valuedouble == floor(v->valuedouble);
}

/* A required id: a non-empty string, or a whole number kept as text. */
static int field_id(const cJSON *lease, const char *name, char **out,
                    struct weir_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(lease, name);
    bool ok = (cJSON_IsString(v) && v->valuestring[0] != '\0') ||
              is_whole(v, 0, JSON_INT_MAX);

    if (!ok)
        return weir_err_set(err, v == NULL ? WEIR_EINVAL : WEIR_ETYPE,
                            "lease: \"%s\" must be a non-empty string or a "
                            "whole number, got %s",
                            name, json_kind(v));
    *out = value_text(v);
    if (*out == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "lease: out of memory");
    return 0;
}

/* A string; when absent (or null, if null_ok) *out is dflt, or an error. */
static int field_str(const cJSON *lease, const char *name, const char *dflt,
                     bool null_ok, char **out, struct weir_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(lease, name);
    const char *s = dflt;

    if (cJSON_IsString(v))
        s = v->valuestring;
    else if (v != NULL && !(null_ok && cJSON_IsNull(v)))
        return weir_err_set(err, WEIR_ETYPE,
                            "lease: \"%s\" must be a string, got %s", name,
                            json_kind(v));
    if (s == NULL)
        return weir_err_set(err, WEIR_EINVAL, "lease: \"%s\" is missing", name);
    *out = dup_str(s);
    if (*out == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "lease: out of memory");
    return 0;
}

/* A duration in ms: a whole number >= 0; null or absent gives dflt. */
static int field_ms(const cJSON *lease, const char *name, uint64_t dflt,
                    uint64_t *out, struct weir_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(lease, name);

    if (v == NULL || cJSON_IsNull(v)) {
        *out = dflt;
        return 0;
    }
    if (!is_whole(v, 0, JSON_INT_MAX))
        return weir_err_set(err, WEIR_ETYPE,
                            "lease: \"%s\" must be a whole number of "
                            "milliseconds >= 0, got %s",
                            name, json_kind(v));
    *out = (uint64_t)v->valuedouble;
    return 0;
}

static int lease_fields(struct attempt *a, const cJSON *lease,
                        struct weir_err *err)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(lease, "try");
    int rc;

    if (!cJSON_IsObject(lease))
        return weir_err_set(err, WEIR_ETYPE,
                            "lease: an attempt must be an object, got %s",
                            json_kind(lease));
    if ((rc = field_id(lease, "attempt_id", &a->attempt_id, err)) != 0 ||
        (rc = field_id(lease, "lease_id", &a->lease_id, err)) != 0 ||
        (rc = field_id(lease, "run_id", &a->run_id, err)) != 0 ||
        (rc = field_str(lease, "dag", NULL, false, &a->dag, err)) != 0 ||
        (rc = field_str(lease, "step", NULL, false, &a->step, err)) != 0 ||
        (rc = field_str(lease, "command", NULL, false, &a->command, err)) !=
            0 ||
        (rc = field_str(lease, "logical_time", "", true, &a->logical_time,
                        err)) != 0 ||
        (rc = field_str(lease, "environment", "", true, &a->environment,
                        err)) != 0 ||
        (rc = field_ms(lease, "timeout_ms", 0, &a->timeout_ms, err)) != 0 ||
        (rc = field_ms(lease, "kill_grace_ms", ATTEMPT_KILL_GRACE_MS,
                       &a->kill_grace_ms, err)) != 0)
        return rc;
    if (!is_whole(t, 1, INT_MAX))
        return weir_err_set(err, t == NULL ? WEIR_EINVAL : WEIR_ETYPE,
                            "lease: \"try\" must be a whole number >= 1, got "
                            "%s",
                            json_kind(t));
    a->try_number = (int)t->valuedouble;
    return 0;
}

static char *path_join(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);

    if (p != NULL)
        sprintf(p, "%s/%s", dir, name);
    return p;
}

/* Resolve workdir against dags_dir and check that it is a folder. */
/*
 * The folder a relative workdir starts from: the DAG file's folder when
 * the lease names the file (dag_path, relative to dags_dir), else dags_dir.
 */
static int workdir_base(const cJSON *lease, const char *dags_dir, char **out,
                        struct weir_err *err)
{
    char *dag_path = NULL, *base;
    int rc = field_str(lease, "dag_path", "", true, &dag_path, err);

    if (rc != 0)
        return rc;
    if (dag_path[0] == '\0')
        base = dup_str(dags_dir);
    else if (dag_path[0] == '/')
        base = dup_str(dag_path);
    else
        base = path_join(dags_dir, dag_path);
    /* a file's folder: cut its last component, keeping "/" itself */
    if (base != NULL && dag_path[0] != '\0') {
        char *slash = strrchr(base, '/');

        slash[slash == base] = '\0';
    }
    free(dag_path);
    if (base == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "workdir: out of memory");
    *out = base;
    return 0;
}

static int workdir_resolve(struct attempt *a, const cJSON *lease,
                           const char *dags_dir, struct weir_err *err)
{
    char *rel = NULL, *base = NULL, *joined = NULL;
    struct stat st;
    int rc;

    if ((rc = field_str(lease, "workdir", "", true, &rel, err)) != 0 ||
        (rc = workdir_base(lease, dags_dir, &base, err)) != 0) {
        free(rel);
        return rc;
    }
    if (rel[0] == '/')
        joined = dup_str(rel);
    else if (rel[0] == '\0')
        joined = dup_str(base);
    else
        joined = path_join(base, rel);
    free(rel);
    free(base);
    if (joined == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "workdir: out of memory");
    a->workdir = realpath(joined, NULL);
    if (a->workdir == NULL || stat(a->workdir, &st) != 0 ||
        !S_ISDIR(st.st_mode))
        rc =
            weir_err_set(err, WEIR_ENOTFOUND, "workdir \"%s\": %s", joined,
                         a->workdir == NULL ? strerror(errno) : "not a folder");
    free(joined);
    return rc;
}

/* Write a JSON value (or {} when absent) to a new file. */
static int json_file_write(const char *path, const cJSON *v,
                           struct weir_err *err)
{
    char *text = v != NULL ? cJSON_PrintUnformatted(v) : NULL;
    int rc;

    if (v != NULL && text == NULL)
        return weir_err_set(err, WEIR_ENOMEM,
                            "cannot write \"%s\": out of memory", path);
    rc = fsutil_file_write(path, text != NULL ? text : "{}",
                           text != NULL ? strlen(text) : 2, err);
    cJSON_free(text);
    return rc;
}

/* The paths of the three files in a->dir. */
static int dir_paths(struct attempt *a, struct weir_err *err)
{
    a->inputs_path = path_join(a->dir, "inputs.json");
    a->trigger_path = path_join(a->dir, "trigger.json");
    a->outputs_path = path_join(a->dir, "outputs");
    if (a->inputs_path == NULL || a->trigger_path == NULL ||
        a->outputs_path == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "scratch: out of memory");
    return 0;
}

/* Replace the contents of the existing file path: no new inode. */
static int file_overwrite(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
    size_t done = 0;

    if (fd < 0)
        return -1;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    return close(fd);
}

/* Write a JSON value (or {}) over the existing file path; false when
 * that fails (the file went away). */
static bool json_file_overwrite(const char *path, const cJSON *v)
{
    char *text = v != NULL ? cJSON_PrintUnformatted(v) : NULL;
    int rc;

    if (v != NULL && text == NULL)
        return false;
    rc = file_overwrite(path, text != NULL ? text : "{}",
                        text != NULL ? strlen(text) : 2);
    cJSON_free(text);
    return rc == 0;
}

/* Make the private folder and the files the step reads and writes; with
 * a->dir already set (a ready folder), write the files it holds. */
static int dir_make(struct attempt *a, const cJSON *lease,
                    const char *scratch_dir, struct weir_err *err)
{
    char *tmpl;
    int rc;

    if (a->dir != NULL) {
        if ((rc = dir_paths(a, err)) != 0)
            return rc;
        if (json_file_overwrite(
                a->inputs_path,
                cJSON_GetObjectItemCaseSensitive(lease, "inputs")) &&
            json_file_overwrite(
                a->trigger_path,
                cJSON_GetObjectItemCaseSensitive(lease, "trigger")))
            return 0;
        /* The ready folder is unusable (removed under us): a new one. */
        if ((rc = attempt_dir_remove(a, err)) != 0)
            return rc;
        free(a->inputs_path);
        free(a->trigger_path);
        free(a->outputs_path);
        a->inputs_path = a->trigger_path = a->outputs_path = NULL;
    }
    tmpl = path_join(scratch_dir, "weir-attempt-XXXXXX");
    if (tmpl == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "scratch: out of memory");
    if (mkdtemp(tmpl) == NULL) {
        rc = weir_err_set(err, WEIR_EIO, "cannot make a folder in \"%s\": %s",
                          scratch_dir, strerror(errno));
        free(tmpl);
        return rc;
    }
    a->dir = tmpl;
    if ((rc = dir_paths(a, err)) != 0)
        return rc;
    if ((rc = json_file_write(a->inputs_path,
                              cJSON_GetObjectItemCaseSensitive(lease, "inputs"),
                              err)) != 0 ||
        (rc = json_file_write(
             a->trigger_path,
             cJSON_GetObjectItemCaseSensitive(lease, "trigger"), err)) != 0)
        return rc;
    return fsutil_file_write(a->outputs_path, "", 0, err);
}

int attempt_dir_premake(const char *scratch_dir, char **dir,
                        struct weir_err *err)
{
    struct attempt a = {0};
    int rc = dir_make(&a, NULL, scratch_dir, err);

    free(a.inputs_path);
    free(a.trigger_path);
    free(a.outputs_path);
    if (rc != 0) {
        struct weir_err ignored;

        if (attempt_dir_remove(&a, &ignored) != 0)
            free(a.dir);
        return rc;
    }
    *dir = a.dir;
    return 0;
}

char *attempt_dir_take(struct attempt *a)
{
    char *dir = a->dir;

    a->dir = NULL;
    return dir;
}

/* PATH, HOME and LANG from the worker (see attempt.h on LC_ALL). */
static int env_base(struct envb *e, struct weir_err *err)
{
    static const char *const kept[] = {"HOME", "LANG"};
    const char *path = getenv("PATH");
    int rc;

    rc = env_set(e, "PATH", path != NULL ? path : ATTEMPT_DEFAULT_PATH, err);
    for (size_t i = 0; rc == 0 && i < WEIR_ARRAY_LEN(kept); i++) {
        const char *v = getenv(kept[i]);

        if (v != NULL)
            rc = env_set(e, kept[i], v, err);
    }
    return rc;
}

/* The step's own env: names checked, WEIR_* refused. */
static int env_step(struct envb *e, const cJSON *env, struct weir_err *err)
{
    const cJSON *it;

    if (env == NULL || cJSON_IsNull(env))
        return 0;
    if (!cJSON_IsObject(env))
        return weir_err_set(err, WEIR_ETYPE,
                            "lease: \"env\" must be an object, got %s",
                            json_kind(env));
    cJSON_ArrayForEach(it, env)
    {
        char *text;
        int rc;

        if (!name_valid(it->string) || strncmp(it->string, "WEIR_", 5) == 0)
            return weir_err_set(err, WEIR_EINVAL,
                                "lease: env name \"%s\" is not valid or is "
                                "reserved",
                                it->string);
        text = value_text(it);
        if (text == NULL)
            return weir_err_set(err, WEIR_ENOMEM, "env: out of memory");
        rc = env_set(e, it->string, text, err);
        free(text);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/*
 * WEIR_<PREFIX>_<NAME> for each member of the object lease[field]: names
 * checked and upper-cased, two names that meet in upper case refused.
 */
static int env_prefixed(struct envb *e, const cJSON *lease, const char *field,
                        const char *prefix, struct weir_err *err)
{
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(lease, field), *it;
    size_t plen = strlen(prefix);
    int rc = 0;

    if (obj == NULL || cJSON_IsNull(obj))
        return 0;
    if (!cJSON_IsObject(obj))
        return weir_err_set(err, WEIR_ETYPE,
                            "lease: \"%s\" must be an object, got %s", field,
                            json_kind(obj));
    cJSON_ArrayForEach(it, obj)
    {
        size_t klen = strlen(it->string);
        char *name, *text;

        if (!name_valid(it->string))
            return weir_err_set(err, WEIR_EINVAL,
                                "lease: %s name \"%s\" is not valid", field,
                                it->string);
        name = malloc(plen + klen + 1);
        if (name == NULL)
            return weir_err_set(err, WEIR_ENOMEM, "env: out of memory");
        memcpy(name, prefix, plen);
        for (size_t i = 0; i <= klen; i++)
            name[plen + i] = (char)toupper((unsigned char)it->string[i]);
        text = NULL;
        if (env_find(e, name) < e->n)
            rc = weir_err_set(err, WEIR_EINVAL,
                              "lease: %s \"%s\" and another name that "
                              "differs only in case are both %s",
                              field, it->string, name);
        else if ((text = value_text(it)) == NULL)
            rc = weir_err_set(err, WEIR_ENOMEM, "env: out of memory");
        else
            rc = env_set(e, name, text, err);
        free(text);
        free(name);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The WEIR_* variables every step gets. */
static int env_weir(struct envb *e, const struct attempt *a,
                    struct weir_err *err)
{
    char try_text[16];
    const char *vars[][2] = {
        {"WEIR_RUN_ID", a->run_id},
        {"WEIR_DAG", a->dag},
        {"WEIR_STEP", a->step},
        {"WEIR_TRY", try_text},
        {"WEIR_LOGICAL_TIME", a->logical_time},
        {"WEIR_ENV", a->environment},
        {"WEIR_TRIGGER", a->trigger_path},
        {"WEIR_INPUTS", a->inputs_path},
        {"WEIR_OUTPUTS", a->outputs_path},
    };
    int rc = 0;

    snprintf(try_text, sizeof(try_text), "%d", a->try_number);
    for (size_t i = 0; rc == 0 && i < WEIR_ARRAY_LEN(vars); i++)
        rc = env_set(e, vars[i][0], vars[i][1], err);
    return rc;
}

static int env_build(struct attempt *a, const cJSON *lease,
                     struct weir_err *err)
{
    struct envb e = {0};
    int rc;

    if ((rc = env_base(&e, err)) != 0 ||
        (rc = env_step(&e, cJSON_GetObjectItemCaseSensitive(lease, "env"),
                       err)) != 0 ||
        (rc = env_weir(&e, a, err)) != 0 ||
        (rc = env_prefixed(&e, lease, "params", "WEIR_PARAM_", err)) != 0 ||
        (rc = env_prefixed(&e, lease, "matrix", "WEIR_MATRIX_", err)) != 0) {
        env_free(e.v);
        return rc;
    }
    a->env = e.v;
    a->n_env = e.n;
    return 0;
}

int attempt_prepare(const cJSON *lease, const char *dags_dir,
                    const char *scratch_dir, struct attempt **out,
                    struct weir_err *err)
{
    return attempt_prepare_in(lease, dags_dir, scratch_dir, NULL, out, err);
}

int attempt_prepare_in(const cJSON *lease, const char *dags_dir,
                       const char *scratch_dir, char *ready,
                       struct attempt **out, struct weir_err *err)
{
    struct attempt *a = calloc(1, sizeof(*a));
    int rc;

    if (a == NULL) {
        struct attempt tmp = {.dir = ready};
        struct weir_err ignored;

        if (attempt_dir_remove(&tmp, &ignored) != 0)
            free(ready);
        return weir_err_set(err, WEIR_ENOMEM, "attempt: out of memory");
    }
    a->dir = ready; /* removed with a on any failure below */
    if ((rc = lease_fields(a, lease, err)) != 0 ||
        (rc = workdir_resolve(a, lease, dags_dir, err)) != 0 ||
        (rc = dir_make(a, lease, scratch_dir, err)) != 0 ||
        (rc = env_build(a, lease, err)) != 0) {
        attempt_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void attempt_exec_spec(const struct attempt *a, struct exec_spec *spec)
{
    memset(spec, 0, sizeof(*spec));
    spec->command = a->command;
    spec->cwd = a->workdir;
    spec->env = a->env;
    spec->timeout_ms = a->timeout_ms;
    spec->kill_grace_ms = a->kill_grace_ms;
}

int attempt_outputs_read(const struct attempt *a, cJSON **out,
                         struct weir_err *err)
{
    return outputs_read(a->outputs_path, out, err);
}

int attempt_outputs_read_masked(const struct attempt *a, const struct mask *m,
                                cJSON **out, struct weir_err *err)
{
    return outputs_read_masked(a->outputs_path, m, out, err);
}

int attempt_dir_remove(struct attempt *a, struct weir_err *err)
{
    int rc;

    if (a->dir == NULL)
        return 0;
    rc = fsutil_tree_remove(a->dir, err);
    if (rc != 0)
        return rc;
    free(a->dir);
    a->dir = NULL;
    return 0;
}

void attempt_free(struct attempt *a)
{
    struct weir_err ignored;

    if (a == NULL)
        return;
    if (attempt_dir_remove(a, &ignored) != 0)
        free(a->dir);
    free(a->attempt_id);
    free(a->lease_id);
    free(a->run_id);
    free(a->dag);
    free(a->step);
    free(a->logical_time);
    free(a->environment);
    free(a->command);
    free(a->workdir);
    free(a->inputs_path);
    free(a->trigger_path);
    free(a->outputs_path);
    env_free(a->env);
    free(a);
}
