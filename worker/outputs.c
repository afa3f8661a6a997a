/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing of the outputs file a step writes: key=value and key<<DELIMITER. */
#include "outputs.h"
#include "utf8.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "mask.h"

/* The most bytes of a line quoted in an error message. */
#define SNIPPET_MAX 40

struct parser {
    const char *text;              /* the whole file */
    size_t len;                    /* its length */
    size_t pos;                    /* where the next line starts */
    int lineno;                    /* number of the line taken last, from 1 */
    cJSON *obj;                    /* the result being built */
    int count;                     /* keys in obj */
    char key[OUTPUTS_MAX_KEY + 1]; /* the current key, NUL-terminated */
    char value[OUTPUTS_MAX_VALUE + 1]; /* the current value, NUL-terminated */
    struct weir_err *err;              /* where failures are described */
    const struct mask *mask;           /* secret values to mask, or NULL */
};

/* Copy at most SNIPPET_MAX bytes of s, masked (mask.h) BEFORE it is cut
 * so that no cut value escapes the mask, for a message; '?' for
 * unprintables. */
static const char *snippet(const struct parser *p, char *buf, const char *s,
                           size_t n)
{
    struct weir_err err = {0};
    char *m = NULL;
    size_t mlen = 0, keep, i = 0;

    if (mask_text(p->mask, s, n, &m, &mlen, &err) != 0) {
        snprintf(buf, SNIPPET_MAX + 4, "(not shown)");
        return buf;
    }
    keep = mask_cut(p->mask, m, mlen, SNIPPET_MAX);
    for (; i < keep; i++) {
        buf[i] = m[i];
        if (m[i] < 0x20 || m[i] >= 0x7f)
            buf[i] = '?';
    }
    if (keep < mlen) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    explicit_bzero(m, mlen);
    free(m);
    return buf;
}

/* Take the next line (without its newline); false at the end of the text. */
static bool line_next(struct parser *p, const char **line, size_t *n)
{
    const char *start = p->text + p->pos;
    const char *nl;

    if (p->pos >= p->len)
        return false;
    nl = memchr(start, '\n', p->len - p->pos);
    *n = nl != NULL ? (size_t)(nl - start) : p->len - p->pos;
    p->pos += *n + (nl != NULL);
    p->lineno++;
    *line = start;
    return true;
}

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* Check the key k[0..n) and copy it into p->key. */
static int key_take(struct parser *p, int lineno, const char *k, size_t n)
{
    bool ok = n > 0 && n <= OUTPUTS_MAX_KEY;

    for (size_t i = 0; ok && i < n; i++)
        ok = key_char(k[i]);
    if (!ok) {
        char buf[SNIPPET_MAX + 4];

        return weir_err_set(p->err, WEIR_EPARSE,
                            "outputs line %d: key \"%s\" is not valid: use 1 "
                            "to %d letters, digits, \"_\", \".\" and \"-\"",
                            lineno, snippet(p, buf, k, n), OUTPUTS_MAX_KEY);
    }
    memcpy(p->key, k, n);
    p->key[n] = '\0';
    return 0;
}

/* Store p->key = v[0..n), replacing an earlier value of the same key. */
static int value_store(struct parser *p, int lineno, const char *v, size_t n)
{
    cJSON *item;

    if (n > OUTPUTS_MAX_VALUE)
        return weir_err_set(p->err, WEIR_ETOOBIG,
                            "outputs line %d: the value of \"%s\" is %zu "
                            "bytes; the limit is %d",
                            lineno, p->key, n, OUTPUTS_MAX_VALUE);
    if (utf8_invalid_offset((const unsigned char *)v, n) != n)
        return weir_err_set(p->err, WEIR_EPARSE,
                            "outputs line %d: the value of \"%s\" is not "
                            "valid UTF-8",
                            lineno, p->key);
    memcpy(p->value, v, n);
    p->value[n] = '\0';
    if (cJSON_GetObjectItemCaseSensitive(p->obj, p->key) == NULL &&
        p->count == OUTPUTS_MAX_KEYS)
        return weir_err_set(p->err, WEIR_ETOOBIG,
                            "outputs line %d: more than %d keys", lineno,
                            OUTPUTS_MAX_KEYS);
    item = cJSON_CreateString(p->value);
    if (item == NULL)
        return weir_err_set(p->err, WEIR_ENOMEM, "outputs: out of memory");
    if (cJSON_GetObjectItemCaseSensitive(p->obj, p->key) != NULL) {
        cJSON_ReplaceItemInObjectCaseSensitive(p->obj, p->key, item);
        return 0;
    }
    if (!cJSON_AddItemToObject(p->obj, p->key, item)) {
        cJSON_Delete(item);
        return weir_err_set(p->err, WEIR_ENOMEM, "outputs: out of memory");
    }
    p->count++;
    return 0;
}

/* The multi-line form: line[0..n) is "key<<DELIM", lt the offset of "<<". */
static int heredoc(struct parser *p, const char *line, size_t n, size_t lt)
{
    const char *delim = line + lt + 2, *l;
    size_t dlen = n - lt - 2, vstart = p->pos, ln;
    int first = p->lineno, rc;
    char buf[SNIPPET_MAX + 4];

    rc = key_take(p, first, line, lt);
    if (rc != 0)
        return rc;
    if (dlen == 0)
        return weir_err_set(p->err, WEIR_EPARSE,
                            "outputs line %d: \"%s<<\" needs a delimiter "
                            "after \"<<\"",
                            first, p->key);
    while (line_next(p, &l, &ln)) {
        size_t at = (size_t)(l - p->text);

        if (ln == dlen && memcmp(l, delim, dlen) == 0)
            return value_store(p, first, p->text + vstart,
                               at > vstart ? at - 1 - vstart : 0);
    }
    return weir_err_set(p->err, WEIR_EPARSE,
                        "outputs line %d: \"%s<<\" is not closed: no line "
                        "\"%s\" follows",
                        first, p->key, snippet(p, buf, delim, dlen));
}

static int parse_line(struct parser *p, const char *line, size_t n)
{
    const char *eq = memchr(line, '=', n);
    const char *lt = NULL;
    int rc;

    for (size_t i = 0; i + 1 < n && lt == NULL; i++)
        if (line[i] == '<' && line[i + 1] == '<')
            lt = line + i;
    if (lt != NULL && (eq == NULL || lt < eq))
        return heredoc(p, line, n, (size_t)(lt - line));
    if (eq == NULL) {
        char buf[SNIPPET_MAX + 4];

        return weir_err_set(p->err, WEIR_EPARSE,
                            "outputs line %d: expected key=value or "
                            "key<<DELIMITER, got \"%s\"",
                            p->lineno, snippet(p, buf, line, n));
    }
    rc = key_take(p, p->lineno, line, (size_t)(eq - line));
    if (rc != 0)
        return rc;
    return value_store(p, p->lineno, eq + 1, n - (size_t)(eq - line) - 1);
}

/* The number of the line holding text[at]. */
static int line_of(const char *text, size_t at)
{
    int lineno = 1;

    for (size_t i = 0; i < at; i++)
        lineno += text[i] == '\n';
    return lineno;
}

int outputs_parse(const char *text, size_t len, cJSON **out,
                  struct weir_err *err)
{
    return outputs_parse_masked(text, len, NULL, out, err);
}

int outputs_parse_masked(const char *text, size_t len, const struct mask *m,
                         cJSON **out, struct weir_err *err)
{
    const char *nul = memchr(text, '\0', len);
    struct parser *p = NULL;
    const char *line;
    size_t n;
    int rc = 0;

    if (nul != NULL)
        return weir_err_set(err, WEIR_EPARSE,
                            "outputs line %d: contains a NUL byte",
                            line_of(text, (size_t)(nul - text)));
    if (len > OUTPUTS_MAX_FILE)
        return weir_err_set(err, WEIR_ETOOBIG,
                            "outputs: %zu bytes; the limit is %d", len,
                            OUTPUTS_MAX_FILE);
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "outputs: out of memory");
    p->text = text;
    p->len = len;
    p->err = err;
    p->mask = m;
    p->obj = cJSON_CreateObject();
    if (p->obj == NULL) {
        rc = weir_err_set(err, WEIR_ENOMEM, "outputs: out of memory");
        goto out;
    }
    while (rc == 0 && line_next(p, &line, &n))
        if (n > 0)
            rc = parse_line(p, line, n);
    if (rc == 0) {
        *out = p->obj;
        p->obj = NULL;
    }
out:
    cJSON_Delete(p->obj);
    free(p);
    return rc;
}

int outputs_read(const char *path, cJSON **out, struct weir_err *err)
{
    return outputs_read_masked(path, NULL, out, err);
}

int outputs_read_masked(const char *path, const struct mask *m, cJSON **out,
                        struct weir_err *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    rc = fsutil_file_read(path, OUTPUTS_MAX_FILE, &text, &len, err);
    if (rc != 0)
        return rc;
    rc = outputs_parse_masked(text, len, m, out, err);
    free(text);
    return rc;
}
