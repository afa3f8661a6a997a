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

/*
 * No lock around cJSON: a parse shares no state between threads that
 * anyone reads. cJSON does write its last error into a global
 * (cJSON_GetErrorPtr) on every parse, from any thread: a data race in
 * the C11 sense on a pointer nobody reads (every caller takes the place
 * of an error from return_parse_end, or reports none), so it changes no
 * outcome; a thread sanitizer would report it. Its allocator hooks are
 * never changed (no cJSON_InitHooks), and the process never calls
 * setlocale, so the decimal point cJSON reads is always ".". The other
 * cJSON_Parse calls (stored JSON read back in the engine and the store)
 * rely on the same.
 */

long json_nul_find(const char *text, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (text[i] != '\\')
            continue;
        if (text[i + 1] == 'u' && i + 5 < len &&
            memcmp(text + i + 2, "0000", 4) == 0)
            return (long)i;
        i++; /* skip the escaped character */
    }
    return -1;
}

void json_nul_replace(char *text, size_t len)
{
    long at;
    size_t from = 0;

    while (from < len && (at = json_nul_find(text + from, len - from)) >= 0) {
        memcpy(text + from + (size_t)at + 2, "fffd", 4);
        from += (size_t)at + 6;
    }
}

/* The line and column (from 1) of byte off of text. */
static void text_place(const char *text, size_t off, size_t len, size_t *line,
                       size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        *line += text[i] == '\n';
        *col = text[i] == '\n' ? 1 : *col + 1;
    }
}

int json_parse_text(const char *text, size_t len, cJSON **out,
                    struct weir_err *err)
{
    const char *end = NULL;
    size_t line, col, off;
    long nul = json_nul_find(text, len);
    cJSON *j;

    if (nul >= 0) {
        text_place(text, (size_t)nul, len, &line, &col);
        return weir_err_set(err, WEIR_EINVAL,
                            "the JSON text holds a \\u0000 escape at line "
                            "%zu, column %zu: text cannot hold a NUL "
                            "character",
                            line, col);
    }
    if (json_depth_check(text, len, JSON_DEPTH_MAX, err) < 0)
        return err->code;
    j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    while (j != NULL && end != NULL && end < text + len &&
           (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (j != NULL && end == text + len) {
        *out = j;
        return 0;
    }
    cJSON_Delete(j); /* bytes after the value, a NUL byte among them */
    off = end && end >= text ? (size_t)(end - text) : 0;
    text_place(text, off, len, &line, &col);
    return weir_err_set(
        err, WEIR_EPARSE, "%s at line %zu, column %zu (byte %zu)",
        len == 0 ? "the text is empty; expected JSON" : "malformed JSON", line,
        col, off);
}
