/* SPDX-License-Identifier: Apache-2.0 */
/* Limits on JSON documents from clients (see jsoncheck.h). */
#include "jsoncheck.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

int json_depth_check(const char *text, size_t len, int max,
                     struct weir_err *err)
{
    bool in_str = false;
    int depth = 0;

    for (size_t i = 0; i < len; i++) {
        char ch = text[i];

        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '[' || ch == '{') {
            if (++depth > max)
                return weir_err_set(err, WEIR_EINVAL,
                                    "JSON nested deeper than the limit of %d "
                                    "levels (byte %zu)",
                                    max, i);
        } else if (ch == ']' || ch == '}') {
            depth--;
        }
    }
    return 0;
}

static bool utf8_ok(const char *s)
{
    size_t n = strlen(s);

    return utf8_invalid_offset((const unsigned char *)s, n) == n;
}

/* Walk v; path holds the place of v (used bytes of cap). */
static int utf8_walk(const cJSON *v, char *path, size_t used, size_t cap,
                     struct weir_err *err)
{
    const cJSON *m;
    size_t i = 0;

    if (cJSON_IsString(v) && !utf8_ok(v->valuestring))
        return weir_err_set(err, WEIR_EINVAL,
                            "%s: the string is not valid UTF-8", path);
    cJSON_ArrayForEach(m, v)
    {
        size_t n = used;
        int rc;

        if (cJSON_IsObject(v) && !utf8_ok(m->string))
            return weir_err_set(err, WEIR_EINVAL,
                                "%s: a key is not valid UTF-8", path);
        if (cJSON_IsObject(v))
            n += (size_t)snprintf(path + used, cap - used, ".%s", m->string);
        else
            n += (size_t)snprintf(path + used, cap - used, "[%zu]", i);
        rc = utf8_walk(m, path, n < cap ? n : cap - 1, cap, err);
        path[used] = '\0';
        if (rc < 0)
            return rc;
        i++;
    }
    return 0;
}

int json_utf8_check(const cJSON *v, const char *where, struct weir_err *err)
{
    char path[160];
    size_t n = (size_t)snprintf(path, sizeof(path), "%s", where);

    return utf8_walk(v, path, n < sizeof(path) ? n : sizeof(path) - 1,
                     sizeof(path), err);
}

/* Bytes of s as a JSON string, quotes and escapes included. */
static size_t string_size(const char *s)
{
    size_t n = 2;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += *p == '"' || *p == '\\' || *p == '\b' || *p == '\f' ||
                     *p == '\n' || *p == '\r' || *p == '\t'
                 ? 2
             : *p < 0x20 ? 6
                         : 1;
    return n;
}

size_t json_size(const cJSON *v, size_t limit)
{
    const cJSON *m;
    char num[40];
    size_t n;

    if (cJSON_IsString(v))
        return string_size(v->valuestring);
    if (cJSON_IsNumber(v))
        return (size_t)snprintf(num, sizeof(num), "%1.17g", v->valuedouble);
    if (cJSON_IsTrue(v) || cJSON_IsNull(v))
        return 4;
    if (cJSON_IsFalse(v))
        return 5;
    n = 2;
    cJSON_ArrayForEach(m, v)
    {
        if (cJSON_IsObject(v))
            n += string_size(m->string) + 1;
        n += json_size(m, limit) + (m->next != NULL);
        if (n > limit)
            return n;
    }
    return n;
}

char *json_print(const cJSON *v)
{
    size_t n = json_size(v, (size_t)INT_MAX) + 16;

    if (n > (size_t)INT_MAX)
        return NULL;
    return cJSON_PrintBuffered((cJSON *)v, (int)n, 0);
}
