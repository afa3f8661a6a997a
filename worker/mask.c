/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Masking of secret values (mask.h). The scan tries, at each byte, the
 * values longest first, so that of two values where one starts the
 * other the longer is masked whole; a stream keeps back a tail only when
 * it is the start of a value.
 */
#include "mask.h"

#include <stdlib.h>
#include <string.h>

/* One value to mask. */
struct value {
    char *text; /* the value (malloc) */
    size_t len; /* its bytes, >= 1 */
};

struct mask {
    struct value *v; /* longest first */
    size_t n;        /* entries in v */
};

static int by_len_desc(const void *a, const void *b)
{
    const struct value *x = a, *y = b;

    return (x->len < y->len) - (x->len > y->len);
}

/* Append len bytes of text to m's values (len >= 1). */
static int value_add(struct mask *m, const char *text, size_t len,
                     struct weir_err *err)
{
    m->v[m->n].text = strndup(text, len);
    if (m->v[m->n].text == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    m->v[m->n].len = len;
    m->n++;
    return 0;
}

/* The lines of a multi-line value (a PEM key): each line of at least
 * MASK_LINE_MIN bytes (a "\r" before its newline dropped) is a value too,
 * for a step's output is masked line by line. */
static int lines_add(struct mask *m, const char *s, struct weir_err *err)
{
    const char *p = s;

    if (strchr(s, '\n') == NULL)
        return 0;
    while (*p != '\0') {
        size_t len = strcspn(p, "\n");
        size_t use = len > 0 && p[len - 1] == '\r' ? len - 1 : len;
        int rc = use >= MASK_LINE_MIN ? value_add(m, p, use, err) : 0;

        if (rc != 0)
            return rc;
        p += len + (p[len] == '\n');
    }
    return 0;
}

int mask_new(const cJSON *secrets, struct mask **out, struct weir_err *err)
{
    size_t n = 0;
    struct mask *m;
    const cJSON *s;

    *out = NULL;
    if (!cJSON_IsObject(secrets))
        return 0;
    cJSON_ArrayForEach(s, secrets)
    {
        if (!cJSON_IsString(s))
            continue;
        n++;
        for (const char *p = s->valuestring; *p != '\0'; p++)
            n += *p == '\n';
    }
    if (n == 0)
        return 0;
    m = calloc(1, sizeof(*m));
    if (m == NULL || (m->v = calloc(n + 1, sizeof(*m->v))) == NULL) {
        free(m);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    cJSON_ArrayForEach(s, secrets)
    {
        if (!cJSON_IsString(s) || s->valuestring[0] == '\0')
            continue;
        if (value_add(m, s->valuestring, strlen(s->valuestring), err) != 0 ||
            lines_add(m, s->valuestring, err) != 0) {
            mask_free(m);
            return WEIR_ENOMEM;
        }
    }
    if (m->n == 0) {
        mask_free(m);
        return 0;
    }
    qsort(m->v, m->n, sizeof(*m->v), by_len_desc);
    *out = m;
    return 0;
}

size_t mask_cut(const struct mask *m, const char *text, size_t len, size_t max)
{
    size_t n = len < max ? len : max;

    if (m == NULL || n == len)
        return n;
    /* the earliest start of a tail that begins a value wins */
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < m->n; k++)
            if (m->v[k].len > n - i &&
                memcmp(text + i, m->v[k].text, n - i) == 0)
                return i;
    return n;
}

void mask_free(struct mask *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++) {
        explicit_bzero(m->v[i].text, m->v[i].len);
        free(m->v[i].text);
    }
    free(m->v);
    free(m);
}

void mask_stream_cleanup(struct mask_stream *s)
{
    if (s->held != NULL)
        explicit_bzero(s->held, s->n);
    free(s->held);
    s->held = NULL;
    s->n = 0;
}

/* The length of the value found whole at p (n bytes left), or 0; *part
 * is set when the n bytes are the start of a value (cut by the end). */
static size_t match_at(const struct mask *m, const char *p, size_t n,
                       bool *part)
{
    *part = false;
    for (size_t i = 0; i < m->n; i++) {
        const struct value *v = &m->v[i];

        if (v->len <= n && memcmp(p, v->text, v->len) == 0)
            return v->len;
        if (v->len > n && memcmp(p, v->text, n) == 0)
            *part = true;
    }
    return 0;
}

/* Mask buf (n bytes) into out (room for n * 3 + 1: "***" per byte at
 * most); *keep is where the bytes kept back start (n when none). */
static size_t scan(const struct mask *m, const char *buf, size_t n, bool last,
                   char *out, size_t *keep)
{
    size_t i = 0, o = 0;

    *keep = n;
    while (i < n) {
        bool part = false;
        size_t k = match_at(m, buf + i, n - i, &part);

        if (k > 0) {
            memcpy(out + o, MASK_TEXT, sizeof(MASK_TEXT) - 1);
            o += sizeof(MASK_TEXT) - 1;
            i += k;
        } else if (part && !last) {
            *keep = i;
            break;
        } else {
            out[o++] = buf[i++];
        }
    }
    out[o] = '\0';
    return o;
}

int mask_feed(const struct mask *m, struct mask_stream *s, const char *text,
              size_t len, bool last, char **out, size_t *out_len,
              struct weir_err *err)
{
    size_t n = s->n + len, keep = 0, o;
    char *buf, *res;

    if (m == NULL) {
        if ((res = malloc(len + 1)) == NULL)
            return weir_err_set(err, WEIR_ENOMEM, "out of memory");
        memcpy(res, text, len);
        res[len] = '\0';
        *out = res;
        *out_len = len;
        return 0;
    }
    buf = malloc(n + 1);
    res = malloc(n * (sizeof(MASK_TEXT) - 1) + 1);
    if (buf == NULL || res == NULL) {
        free(buf);
        free(res);
        mask_stream_cleanup(s);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    if (s->n > 0)
        memcpy(buf, s->held, s->n);
    memcpy(buf + s->n, text, len);
    mask_stream_cleanup(s);
    o = scan(m, buf, n, last, res, &keep);
    if (keep < n) {
        /* the tail that starts a value: fewer bytes than the longest */
        s->held = malloc(n - keep);
        if (s->held == NULL) {
            explicit_bzero(buf, n);
            free(buf);
            free(res);
            return weir_err_set(err, WEIR_ENOMEM, "out of memory");
        }
        memcpy(s->held, buf + keep, n - keep);
        s->n = n - keep;
    }
    explicit_bzero(buf, n);
    free(buf);
    *out = res;
    *out_len = o;
    return 0;
}

int mask_text(const struct mask *m, const char *text, size_t len, char **out,
              size_t *out_len, struct weir_err *err)
{
    struct mask_stream s = {0};

    return mask_feed(m, &s, text, len, true, out, out_len, err);
}

/* Replace *str (malloc'd by cJSON) with its masked copy. */
static int mask_string(const struct mask *m, char **str, struct weir_err *err)
{
    char *masked = NULL;
    size_t n = 0;
    int rc;

    if (*str == NULL)
        return 0;
    rc = mask_text(m, *str, strlen(*str), &masked, &n, err);
    if (rc < 0)
        return rc;
    if (strcmp(masked, *str) == 0) {
        free(masked);
        return 0;
    }
    explicit_bzero(*str, strlen(*str));
    cJSON_free(*str);
    /* cJSON frees with the allocator it was given: the default, free() */
    *str = masked;
    return 0;
}

int mask_json(const struct mask *m, cJSON *v, struct weir_err *err)
{
    cJSON *c;
    int rc = 0;

    if (m == NULL || v == NULL)
        return 0;
    if (v->string != NULL && !(v->type & cJSON_StringIsConst))
        rc = mask_string(m, &v->string, err);
    if (rc == 0 && cJSON_IsString(v))
        rc = mask_string(m, &v->valuestring, err);
    for (c = v->child; rc == 0 && c != NULL; c = c->next)
        rc = mask_json(m, c, err);
    return rc;
}
