/* SPDX-License-Identifier: Apache-2.0 */
/* Role grants and their scopes (grant.h). */
#include "api/grant.h"

#include <stdio.h>
#include <string.h>

#include "namepat.h"
#include "suggest.h"

static const char *const role_names[GRANT_ROLES] = {
    "admin", "operator", "author", "read", "ingest", "worker"};

static const char *const action_names[GRANT_ACTIONS] = {
    "read",    "trigger", "cancel", "retry",  "approve", "pause",
    "promote", "submit",  "delete", "ingest", "work",    "admin"};

#define BIT(a) (1u << (a))

/* The actions each role gives. */
static const unsigned role_actions[GRANT_ROLES] = {
    [GRANT_ADMIN] = (1u << GRANT_ACTIONS) - 1,
    [GRANT_OPERATOR] = BIT(GRANT_ACT_READ) | BIT(GRANT_ACT_TRIGGER) |
                       BIT(GRANT_ACT_CANCEL) | BIT(GRANT_ACT_RETRY) |
                       BIT(GRANT_ACT_APPROVE) | BIT(GRANT_ACT_PAUSE) |
                       BIT(GRANT_ACT_PROMOTE),
    [GRANT_AUTHOR] =
        BIT(GRANT_ACT_READ) | BIT(GRANT_ACT_SUBMIT) | BIT(GRANT_ACT_DELETE),
    [GRANT_READ] = BIT(GRANT_ACT_READ),
    [GRANT_INGEST] = BIT(GRANT_ACT_INGEST),
    [GRANT_WORKER] = BIT(GRANT_ACT_WORK),
};

static const char *const scope_keys[] = {"env", "dag", "queues"};

#define NAME_MAX_LEN 64

const char *grant_role_name(enum grant_role role)
{
    WEIR_ASSERT((size_t)role < GRANT_ROLES);
    return role_names[role];
}

const char *grant_action_name(enum grant_action a)
{
    WEIR_ASSERT((size_t)a < GRANT_ACTIONS);
    return action_names[a];
}

int grant_role_parse(const char *name, enum grant_role *out,
                     struct weir_err *err)
{
    const char *near;

    for (size_t i = 0; i < GRANT_ROLES; i++) {
        if (name != NULL && strcmp(name, role_names[i]) == 0) {
            *out = (enum grant_role)i;
            return 0;
        }
    }
    near = name ? suggest_word(name, role_names, GRANT_ROLES) : NULL;
    return weir_err_set(err, WEIR_EINVAL,
                        "role \"%.64s\" is not one of admin, operator, author, "
                        "read, ingest, worker%s%s%s",
                        name ? name : "", near ? " (did you mean \"" : "",
                        near ? near : "", near ? "\"?)" : "");
}

bool grant_role_allows(enum grant_role role, enum grant_action a)
{
    return (size_t)role < GRANT_ROLES && (size_t)a < GRANT_ACTIONS &&
           (role_actions[role] & BIT(a)) != 0;
}

/* Whether ch may appear in a name of kind key ("env", "queues": names;
 * "dag": DAG id patterns). */
static bool name_char(const char *key, char ch)
{
    if (strcmp(key, "dag") == 0)
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
               ch == '_' || ch == '-' || ch == '*' || ch == '?';
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
}

static const char *name_rule(const char *key)
{
    if (strcmp(key, "dag") == 0)
        return "a DAG id pattern of lowercase letters, digits, \"_\", "
               "\"-\", \"*\" and \"?\"";
    return "a name of letters, digits, \"_\", \".\" and \"-\"";
}

/* Check the comma-separated list val (len bytes) of scope key and copy it
 * to dst. */
static int scope_set(const char *key, const char *val, size_t len, char *dst,
                     struct weir_err *err)
{
    size_t start = 0;

    if (dst[0] != '\0')
        return weir_err_set(err, WEIR_EINVAL, "\"%s=\" is given twice", key);
    if (len == 0)
        return weir_err_set(err, WEIR_EINVAL, "\"%s=\" needs at least one name",
                            key);
    if (len >= GRANT_SCOPE_LEN)
        return weir_err_set(err, WEIR_EINVAL, "\"%s=\" is longer than %d bytes",
                            key, GRANT_SCOPE_LEN - 1);
    for (size_t i = 0; i <= len; i++) {
        if (i < len && val[i] != ',') {
            if (!name_char(key, val[i]))
                return weir_err_set(
                    err, WEIR_EINVAL,
                    "\"%s=\": \"%.*s\" is not %s (at most %d bytes)", key,
                    (int)(len - start > NAME_MAX_LEN ? NAME_MAX_LEN
                                                     : len - start),
                    val + start, name_rule(key), NAME_MAX_LEN);
            continue;
        }
        if (i == start)
            return weir_err_set(err, WEIR_EINVAL,
                                "\"%s=\" has an empty name in \"%.*s\"", key,
                                (int)len, val);
        if (i - start > NAME_MAX_LEN)
            return weir_err_set(err, WEIR_EINVAL,
                                "\"%s=\": a name is longer than %d bytes", key,
                                NAME_MAX_LEN);
        start = i + 1;
    }
    memcpy(dst, val, len);
    dst[len] = '\0';
    return 0;
}

/* The scope field of g named key, or NULL (err says so) when none. */
static char *scope_field(struct grant *g, const char *key, size_t klen,
                         struct weir_err *err)
{
    const char *near;
    char word[NAME_MAX_LEN + 1];

    if (klen == 3 && strncmp(key, "env", 3) == 0)
        return g->envs;
    if (klen == 3 && strncmp(key, "dag", 3) == 0)
        return g->dags;
    if (klen == 6 && strncmp(key, "queues", 6) == 0)
        return g->queues;
    snprintf(word, sizeof(word), "%.*s", (int)klen, key);
    near = suggest_word(word, scope_keys, WEIR_ARRAY_LEN(scope_keys));
    weir_err_set(err, WEIR_EINVAL,
                 "unknown scope \"%s\": a scope is env=, dag= or queues=%s%s%s",
                 word, near ? " (did you mean \"" : "", near ? near : "",
                 near ? "=\"?)" : "");
    return NULL;
}

/* The rules that tie scopes to roles. */
static int scope_rules(const struct grant *g, struct weir_err *err)
{
    if (g->queues[0] != '\0' && g->role != GRANT_WORKER)
        return weir_err_set(err, WEIR_EINVAL,
                            "queues= limits a worker grant only, not %s",
                            role_names[g->role]);
    if ((g->role == GRANT_WORKER || g->role == GRANT_INGEST) &&
        (g->envs[0] != '\0' || g->dags[0] != '\0'))
        return weir_err_set(err, WEIR_EINVAL,
                            "a%s %s grant takes no env= or dag= scope: its "
                            "calls name no DAG",
                            g->role == GRANT_INGEST ? "n" : "",
                            role_names[g->role]);
    return 0;
}

/* Parse text into g; err without the "grant ..." prefix. */
static int parse_text(const char *text, struct grant *g, struct weir_err *err)
{
    const char *p = strchr(text, ':');
    size_t rlen = p ? (size_t)(p - text) : strlen(text);
    char role[NAME_MAX_LEN + 1];
    int rc;

    memset(g, 0, sizeof(*g));
    snprintf(role, sizeof(role), "%.*s", (int)rlen, text);
    if (rlen > NAME_MAX_LEN)
        role[NAME_MAX_LEN] = '\0';
    if ((rc = grant_role_parse(role, &g->role, err)) < 0)
        return rc;
    while (p != NULL) {
        const char *part = p + 1, *eq, *end;
        char *dst;

        p = strchr(part, ':');
        end = p ? p : part + strlen(part);
        eq = memchr(part, '=', (size_t)(end - part));
        if (eq == NULL)
            return weir_err_set(err, WEIR_EINVAL,
                                "\"%.*s\" is not KEY=NAMES (env=, dag= or "
                                "queues=)",
                                (int)(end - part > 64 ? 64 : end - part), part);
        dst = scope_field(g, part, (size_t)(eq - part), err);
        if (dst == NULL)
            return WEIR_EINVAL;
        rc = scope_set(dst == g->envs   ? "env"
                       : dst == g->dags ? "dag"
                                        : "queues",
                       eq + 1, (size_t)(end - eq - 1), dst, err);
        if (rc < 0)
            return rc;
    }
    return scope_rules(g, err);
}

int grant_parse(const char *text, struct grant *g, struct weir_err *err)
{
    int rc = parse_text(text ? text : "", g, err);

    if (rc < 0)
        weir_err_set(err, rc, "grant \"%.80s\": %s", text ? text : "",
                     err->msg);
    return rc;
}

/* The JSON array list of names into the comma-separated scope dst. */
static int list_from_json(const char *key, const cJSON *list, char *dst,
                          struct weir_err *err)
{
    char buf[GRANT_SCOPE_LEN];
    size_t len = 0;
    const cJSON *it;

    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
        return weir_err_set(err, WEIR_EINVAL,
                            "\"%s\" must be a non-empty array of names", key);
    cJSON_ArrayForEach(it, list)
    {
        size_t n;

        if (!cJSON_IsString(it))
            return weir_err_set(err, WEIR_EINVAL,
                                "\"%s\" must be an array of strings", key);
        n = strlen(it->valuestring);
        if (len + n + 1 >= sizeof(buf))
            return weir_err_set(err, WEIR_EINVAL,
                                "\"%s\" is longer than %d bytes", key,
                                GRANT_SCOPE_LEN - 1);
        if (len > 0)
            buf[len++] = ',';
        memcpy(buf + len, it->valuestring, n);
        len += n;
    }
    buf[len] = '\0';
    /* an element holding "," would pass as two names */
    cJSON_ArrayForEach(it, list)
    {
        if (strchr(it->valuestring, ',') != NULL)
            return weir_err_set(err, WEIR_EINVAL, "\"%s\": \"%.64s\" is not %s",
                                key, it->valuestring, name_rule(key));
    }
    return scope_set(key, buf, len, dst, err);
}

static int object_from_json(const cJSON *o, struct grant *g,
                            struct weir_err *err)
{
    static const char *const keys[] = {"role", "env", "dag", "queues"};
    const cJSON *it;
    int rc;

    memset(g, 0, sizeof(*g));
    cJSON_ArrayForEach(it, o)
    {
        size_t i;
        const char *near;

        for (i = 0; i < WEIR_ARRAY_LEN(keys); i++)
            if (strcmp(it->string, keys[i]) == 0)
                break;
        if (i < WEIR_ARRAY_LEN(keys))
            continue;
        near = suggest_word(it->string, keys, WEIR_ARRAY_LEN(keys));
        return weir_err_set(err, WEIR_EINVAL,
                            "unknown key \"%.64s\"%s%s%s (a grant has role, "
                            "env, dag, queues)",
                            it->string, near ? " (did you mean \"" : "",
                            near ? near : "", near ? "\"?)" : "");
    }
    it = cJSON_GetObjectItemCaseSensitive(o, "role");
    if (!cJSON_IsString(it))
        return weir_err_set(err, WEIR_EINVAL,
                            "\"role\" must be a string (admin, operator, "
                            "author, read, ingest or worker)");
    if ((rc = grant_role_parse(it->valuestring, &g->role, err)) < 0)
        return rc;
    for (size_t i = 1; i < WEIR_ARRAY_LEN(keys); i++) {
        char *dst = i == 1 ? g->envs : i == 2 ? g->dags : g->queues;

        it = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
        if (it == NULL || cJSON_IsNull(it))
            continue;
        if ((rc = list_from_json(keys[i], it, dst, err)) < 0)
            return rc;
    }
    return scope_rules(g, err);
}

int grant_from_json(const cJSON *item, struct grant *g, struct weir_err *err)
{
    if (cJSON_IsString(item))
        return grant_parse(item->valuestring, g, err);
    if (cJSON_IsObject(item))
        return object_from_json(item, g, err);
    return weir_err_set(err, WEIR_EINVAL,
                        "a grant is a string such as \"operator:env=dev\" or "
                        "an object {\"role\": ..., \"env\": [...], \"dag\": "
                        "[...]}");
}

void grant_format(const struct grant *g, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s%s%s%s%s", role_names[g->role],
             g->envs[0] ? ":env=" : "", g->envs, g->dags[0] ? ":dag=" : "",
             g->dags, g->queues[0] ? ":queues=" : "", g->queues);
}

/* The comma-separated list as a JSON array of strings. */
static cJSON *list_to_json(const char *list)
{
    cJSON *a = cJSON_CreateArray();
    const char *p = list;

    while (a != NULL && *p) {
        size_t n = strcspn(p, ",");
        char name[NAME_MAX_LEN + 1];

        snprintf(name, sizeof(name), "%.*s", (int)n, p);
        if (!cJSON_AddItemToArray(a, cJSON_CreateString(name))) {
            cJSON_Delete(a);
            return NULL;
        }
        p += n + (p[n] == ',');
    }
    return a;
}

cJSON *grant_to_json(const struct grant *g)
{
    cJSON *o = cJSON_CreateObject();
    const char *lists[] = {g->envs, g->dags, g->queues};

    if (o == NULL || !cJSON_AddStringToObject(o, "role", role_names[g->role]))
        goto fail;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(lists); i++) {
        cJSON *a;

        if (lists[i][0] == '\0')
            continue;
        if ((a = list_to_json(lists[i])) == NULL)
            goto fail;
        if (!cJSON_AddItemToObject(o, scope_keys[i], a)) {
            cJSON_Delete(a);
            goto fail;
        }
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

int grant_set_add(struct grant_set *s, const struct grant *g,
                  struct weir_err *err)
{
    if (s->n >= GRANT_MAX)
        return weir_err_set(err, WEIR_EINVAL, "more than %d grants", GRANT_MAX);
    s->g[s->n++] = *g;
    return 0;
}

int grant_set_from_json(const cJSON *arr, struct grant_set *s,
                        struct weir_err *err)
{
    const cJSON *it;
    int i = 0, rc;

    memset(s, 0, sizeof(*s));
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
        return weir_err_set(err, WEIR_EINVAL,
                            "grants must be a non-empty array");
    cJSON_ArrayForEach(it, arr)
    {
        struct grant g;

        if ((rc = grant_from_json(it, &g, err)) < 0 ||
            (rc = grant_set_add(s, &g, err)) < 0)
            return weir_err_set(err, rc, "grant %d: %s", i, err->msg);
        i++;
    }
    return 0;
}

cJSON *grant_set_to_json(const struct grant_set *s)
{
    cJSON *a = cJSON_CreateArray();

    for (size_t i = 0; a != NULL && i < s->n; i++) {
        cJSON *o = grant_to_json(&s->g[i]);

        if (o == NULL || !cJSON_AddItemToArray(a, o)) {
            cJSON_Delete(o);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

cJSON *grant_set_texts(const struct grant_set *s)
{
    cJSON *a = cJSON_CreateArray();

    for (size_t i = 0; a != NULL && i < s->n; i++) {
        char text[GRANT_TEXT_LEN];
        cJSON *t;

        grant_format(&s->g[i], text, sizeof(text));
        t = cJSON_CreateString(text);
        if (t == NULL || !cJSON_AddItemToArray(a, t)) {
            cJSON_Delete(t);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

void grant_set_format(const struct grant_set *s, char *buf, size_t len)
{
    size_t used = 0;

    if (len == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < s->n && used + 1 < len; i++) {
        if (i > 0)
            buf[used++] = ' ';
        grant_format(&s->g[i], buf + used, len - used);
        used += strlen(buf + used);
    }
    buf[used < len ? used : len - 1] = '\0';
}

bool grant_pattern_match(const char *pat, const char *id)
{
    return namepat_match(pat, id);
}

/* Whether the comma-separated list holds a name (patterns: one that
 * matches name). */
static bool list_covers(const char *list, const char *name, bool patterns)
{
    const char *p = list;

    while (*p) {
        size_t n = strcspn(p, ",");
        char item[NAME_MAX_LEN + 1];

        snprintf(item, sizeof(item), "%.*s", (int)n, p);
        if (patterns ? grant_pattern_match(item, name)
                     : strcmp(item, name) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

bool grant_allows(const struct grant *g, enum grant_action a, const char *dag,
                  const char *env)
{
    if (!grant_role_allows(g->role, a))
        return false;
    if (g->dags[0] != '\0' &&
        (dag == NULL || dag[0] == '\0' || !list_covers(g->dags, dag, true)))
        return false;
    if (g->envs[0] != '\0' &&
        (env == NULL || env[0] == '\0' || !list_covers(g->envs, env, false)))
        return false;
    return true;
}

bool grant_set_any(const struct grant_set *s, enum grant_action a)
{
    for (size_t i = 0; i < s->n; i++)
        if (grant_role_allows(s->g[i].role, a))
            return true;
    return false;
}

bool grant_set_queue(const struct grant_set *s, const char *queue)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct grant *g = &s->g[i];

        if (grant_role_allows(g->role, GRANT_ACT_WORK) &&
            (g->queues[0] == '\0' || list_covers(g->queues, queue, false)))
            return true;
    }
    return false;
}

/* The roles that give a, "operator or admin", into buf. */
static void roles_giving(enum grant_action a, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int r = GRANT_ROLES - 1; r >= 0; r--) {
        if (!grant_role_allows((enum grant_role)r, a))
            continue;
        used += (size_t)snprintf(buf + used, len - used, "%s%s",
                                 used ? " or " : "", role_names[r]);
        if (used >= len)
            return;
    }
}

/* What a grant must do for one dimension: "covers dag=x" or "has no dag=
 * limit". */
static void need_phrase(const char *key, const char *val, char *buf, size_t len)
{
    if (val != NULL && val[0] != '\0')
        snprintf(buf, len, "covers %s=%.64s", key, val);
    else
        snprintf(buf, len, "has no %s= limit", key);
}

int grant_set_allows(const struct grant_set *s, enum grant_action a,
                     const char *dag, const char *env, struct weir_err *err)
{
    char roles[80], has[1024], target[200], need_dag[80], need_env[80];
    bool has_dag = dag != NULL && dag[0] != '\0';
    bool has_env = env != NULL && env[0] != '\0';

    for (size_t i = 0; i < s->n; i++)
        if (grant_allows(&s->g[i], a, dag, env))
            return 0;
    roles_giving(a, roles, sizeof(roles));
    grant_set_format(s, has, sizeof(has));
    snprintf(target, sizeof(target), "%s%.64s%s%s%.64s%s",
             has_dag ? " DAG \"" : "", has_dag ? dag : "", has_dag ? "\"" : "",
             has_env ? " in environment \"" : "", has_env ? env : "",
             has_env ? "\"" : "");
    need_phrase("dag", dag, need_dag, sizeof(need_dag));
    need_phrase("env", env, need_env, sizeof(need_env));
    return weir_err_set(err, WEIR_EFORBIDDEN,
                        "not allowed to %s%s: that needs a grant of %s that "
                        "%s and %s; this caller has %s",
                        action_names[a], target, roles, need_dag, need_env,
                        has[0] ? has : "no grant");
}

/* The LIKE pattern of a DAG id pattern into buf. */
static void like_pattern(const char *pat, char *buf, size_t len)
{
    size_t j = 0;

    for (; *pat && j + 3 < len; pat++) {
        if (*pat == '*') {
            buf[j++] = '%';
        } else if (*pat == '?') {
            buf[j++] = '_';
        } else {
            if (*pat == '%' || *pat == '_' || *pat == '\\')
                buf[j++] = '\\';
            buf[j++] = *pat;
        }
    }
    buf[j] = '\0';
}

/* The list as a JSON array (LIKE patterns when like), or JSON null when
 * the list is empty (not limited). */
static cJSON *scope_array(const char *list, bool like)
{
    cJSON *a;
    const char *p = list;

    if (list[0] == '\0')
        return cJSON_CreateNull();
    a = cJSON_CreateArray();
    while (a != NULL && *p) {
        size_t n = strcspn(p, ",");
        char item[NAME_MAX_LEN + 1], pat[2 * NAME_MAX_LEN + 1];

        snprintf(item, sizeof(item), "%.*s", (int)n, p);
        if (like)
            like_pattern(item, pat, sizeof(pat));
        if (!cJSON_AddItemToArray(a, cJSON_CreateString(like ? pat : item))) {
            cJSON_Delete(a);
            return NULL;
        }
        p += n + (p[n] == ',');
    }
    return a;
}

/* {"env": ..., "dag": ...} of g for grant_set_scope_sql(). */
static cJSON *scope_object(const struct grant *g)
{
    cJSON *o = cJSON_CreateObject(), *env = NULL, *dag = NULL;

    if (o == NULL || (env = scope_array(g->envs, false)) == NULL ||
        !cJSON_AddItemToObject(o, "env", env))
        goto fail;
    env = NULL; /* o owns it */
    if ((dag = scope_array(g->dags, true)) == NULL ||
        !cJSON_AddItemToObject(o, "dag", dag))
        goto fail;
    return o;
fail:
    cJSON_Delete(env);
    cJSON_Delete(dag);
    cJSON_Delete(o);
    return NULL;
}

cJSON *grant_set_scope_sql(const struct grant_set *s, enum grant_action a)
{
    cJSON *arr = cJSON_CreateArray();

    for (size_t i = 0; arr != NULL && i < s->n; i++) {
        cJSON *o;

        if (!grant_role_allows(s->g[i].role, a))
            continue;
        o = scope_object(&s->g[i]);
        if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}
