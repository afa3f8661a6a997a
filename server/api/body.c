/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one check of a request body's members that every handler calls
 * before reading it: each member must be a key the route knows (an
 * unknown one is named, with the closest known key as a suggestion, as in
 * DAG files), of a JSON type the route accepts, and the required ones must
 * be there.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "suggest.h"

int api_check_keys(const cJSON *o, const char *const *keys, size_t n,
                   const char *where, struct weir_err *err)
{
    const cJSON *m;

    cJSON_ArrayForEach(m, o)
    {
        const char *s;
        size_t i = 0;

        while (i < n && strcmp(keys[i], m->string) != 0)
            i++;
        if (i < n)
            continue;
        s = suggest_word(m->string, keys, n);
        return weir_err_set(err, WEIR_EINVAL, "%s: unknown key \"%s\"%s%s%s",
                            where, m->string, s ? " (did you mean \"" : "",
                            s ? s : "", s ? "\"?)" : "");
    }
    return 0;
}

const char *api_json_type_name(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a bool";
    if (cJSON_IsArray(v))
        return "a list";
    if (cJSON_IsObject(v))
        return "an object";
    return "null";
}

/* Whether v is of one of the types of mask. */
static bool type_ok(const cJSON *v, unsigned mask)
{
    return ((mask & API_STR) && cJSON_IsString(v)) ||
           ((mask & API_NUM) && cJSON_IsNumber(v)) ||
           ((mask & API_BOOL) && cJSON_IsBool(v)) ||
           ((mask & API_OBJ) && cJSON_IsObject(v)) ||
           ((mask & API_ARR) && cJSON_IsArray(v)) ||
           ((mask & API_NULL) && cJSON_IsNull(v));
}

/* "a string or null" for mask into buf. */
static void types_text(unsigned mask, char *buf, size_t len)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{API_STR, "a string"}, {API_NUM, "a number"},
                 {API_BOOL, "a bool"},  {API_OBJ, "an object"},
                 {API_ARR, "a list"},   {API_NULL, "null"}};
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < WEIR_ARRAY_LEN(names) && used < len; i++) {
        if (!(mask & names[i].bit))
            continue;
        used += (size_t)snprintf(buf + used, len - used, "%s%s",
                                 used ? " or " : "", names[i].name);
    }
}

int api_body_check(const cJSON *b, const struct api_key *keys, size_t n,
                   const char *where, struct weir_err *err)
{
    const char *names[API_KEYS_MAX];
    char types[80];
    int rc;

    WEIR_ASSERT(n <= API_KEYS_MAX);
    /* b is NULL for an optional body left empty: only required keys fail */
    if (b != NULL && !cJSON_IsObject(b))
        return weir_err_set(err, WEIR_EINVAL, "%s: expected a JSON object",
                            where);
    for (size_t i = 0; i < n; i++)
        names[i] = keys[i].name;
    rc = api_check_keys(b, names, n, where, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, keys[i].name);

        if (v == NULL && (keys[i].types & API_REQUIRED))
            return weir_err_set(err, WEIR_EINVAL, "%s: \"%s\" is required",
                                where, keys[i].name);
        if (v == NULL || type_ok(v, keys[i].types))
            continue;
        types_text(keys[i].types, types, sizeof(types));
        return weir_err_set(err, WEIR_EINVAL, "%s: \"%s\" must be %s, not %s",
                            where, keys[i].name, types, api_json_type_name(v));
    }
    return rc;
}
