/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a parsed YAML tree: scalars typed by YAML 1.2's core schema (and
 * explicit !!str, !!int, !!float, !!bool, !!null tags), map lookups, and
 * the conversion of a subtree to JSON.
 */
#include "ynode.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 2^63 as a double: the doubles that fit in a long long are below it. */
#define LLONG_MAX_PLUS_1 9223372036854775808.0
/*
 * Largest integer that ynode_to_json makes a number: cJSON keeps doubles and
 * prints 15 significant digits, so longer integers would come back changed.
 */
#define JSON_INT_MAX 999999999999999ULL

enum yval_type {
    YVAL_STR,   /* a string */
    YVAL_NULL,  /* null */
    YVAL_BOOL,  /* true or false */
    YVAL_INT,   /* an integer; fits says whether i holds it */
    YVAL_FLOAT, /* a floating-point number */
    YVAL_BAD,   /* text under a !!int, !!float, !!bool or !!null tag that is
                   not one */
};

/* A scalar's value under the core schema. */
struct yval {
    enum yval_type type; /* what it is */
    bool b;              /* YVAL_BOOL: the value */
    bool fits;           /* YVAL_INT: i holds the value exactly */
    long long i;         /* YVAL_INT: the value when fits */
    double d;            /* YVAL_INT, YVAL_FLOAT: the value as a double */
    bool big;            /* YVAL_INT: beyond JSON_INT_MAX */
};

static bool text_is(const char *s, size_t len, const char *a, const char *b,
                    const char *c)
{
    return (len == strlen(a) && memcmp(s, a, len) == 0) ||
           (len == strlen(b) && memcmp(s, b, len) == 0) ||
           (len == strlen(c) && memcmp(s, c, len) == 0);
}

static bool text_null(const char *s, size_t len)
{
    return len == 0 || (len == 1 && s[0] == '~') ||
           text_is(s, len, "null", "Null", "NULL");
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 99;
}

/* [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+ */
static bool text_int(const char *s, size_t len, struct yval *v)
{
    unsigned long long mag = 0, limit;
    unsigned base = 10;
    bool neg = false, over = false;
    double d = 0;
    size_t i = 0;
    int dv;

    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
        base = s[1] == 'x' ? 16 : 8;
        i = 2;
    } else if (len > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == len)
        return false;
    for (; i < len; i++) {
        dv = digit_value(s[i]);
        if ((unsigned)dv >= base)
            return false;
        if (mag > (ULLONG_MAX - (unsigned)dv) / base)
            over = true;
        mag = mag * base + (unsigned)dv;
        d = d * base + dv;
    }
    limit =
        neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    v->type = YVAL_INT;
    v->fits = !over && mag <= limit;
    v->big = over || mag > JSON_INT_MAX;
    if (v->fits)
        v->i = !neg ? (long long)mag : mag == 0 ? 0 : -(long long)(mag - 1) - 1;
    if (v->fits)
        v->d = (double)v->i;
    else
        v->d = base == 10 ? strtod(s, NULL) : neg ? -d : d;
    return true;
}

static size_t count_digits(const char *s, size_t len, size_t *i)
{
    size_t start = *i;

    while (*i < len && s[*i] >= '0' && s[*i] <= '9')
        (*i)++;
    return *i - start;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, .inf, .nan */
static bool text_float(const char *s, size_t len, double *out)
{
    size_t i = 0, whole, frac = 0;

    if (len > 0 && (s[0] == '-' || s[0] == '+'))
        i = 1;
    if (text_is(s + i, len - i, ".inf", ".Inf", ".INF")) {
        *out = s[0] == '-' ? -INFINITY : INFINITY;
        return true;
    }
    if (text_is(s, len, ".nan", ".NaN", ".NAN")) {
        *out = NAN;
        return true;
    }
    whole = count_digits(s, len, &i);
    if (i < len && s[i] == '.') {
        i++;
        frac = count_digits(s, len, &i);
    }
    if (whole == 0 && frac == 0)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        if (count_digits(s, len, &i) == 0)
            return false;
    }
    if (i != len)
        return false;
    *out = strtod(s, NULL); /* the text ends at len: the node keeps a NUL */
    return true;
}

static bool text_bool(const char *s, size_t len, bool *out)
{
    if (text_is(s, len, "true", "True", "TRUE")) {
        *out = true;
        return true;
    }
    if (text_is(s, len, "false", "False", "FALSE")) {
        *out = false;
        return true;
    }
    return false;
}

/* Read text as the type named by a core tag suffix; false if it is not. */
static bool text_as(const char *s, size_t len, const char *type, struct yval *v)
{
    if (strcmp(type, "null") == 0) {
        v->type = YVAL_NULL;
        return text_null(s, len);
    }
    if (strcmp(type, "bool") == 0) {
        v->type = YVAL_BOOL;
        return text_bool(s, len, &v->b);
    }
    if (strcmp(type, "int") == 0)
        return text_int(s, len, v);
    if (strcmp(type, "float") == 0) {
        if (text_int(s, len, v) || text_float(s, len, &v->d)) {
            v->type = YVAL_FLOAT;
            return true;
        }
        return false;
    }
    v->type = YVAL_STR;
    return true;
}

static void scalar_resolve(const struct ynode *n, struct yval *v)
{
    const size_t plen = sizeof(YNODE_TAG_PREFIX) - 1;
    const char *s = n->str;
    size_t len = n->len;

    memset(v, 0, sizeof(*v));
    v->type = YVAL_STR;
    if (n->tag != NULL) {
        if (strncmp(n->tag, YNODE_TAG_PREFIX, plen) == 0 &&
            !text_as(s, len, n->tag + plen, v))
            v->type = YVAL_BAD;
        else if (strncmp(n->tag, YNODE_TAG_PREFIX, plen) != 0)
            v->type = YVAL_STR; /* an application tag: keep the text */
        return;
    }
    if (n->style != YSTYLE_PLAIN)
        return;
    if (text_null(s, len))
        v->type = YVAL_NULL;
    else if (text_bool(s, len, &v->b))
        v->type = YVAL_BOOL;
    else if (text_int(s, len, v))
        v->type = YVAL_INT;
    else if (text_float(s, len, &v->d))
        v->type = YVAL_FLOAT;
}

const struct ynode *ynode_map_get(const struct ynode *map, const char *key)
{
    const struct ynode *k;
    size_t i, klen;

    if (map == NULL || map->kind != YNODE_MAP || key == NULL)
        return NULL;
    klen = strlen(key);
    for (i = 0; i < map->n; i++) {
        k = map->items[2 * i];
        if (k->kind == YNODE_SCALAR && k->len == klen &&
            memcmp(k->str, key, klen) == 0)
            return map->items[2 * i + 1];
    }
    return NULL;
}

bool ynode_is_null(const struct ynode *n)
{
    struct yval v;

    if (n == NULL || n->kind != YNODE_SCALAR)
        return false;
    scalar_resolve(n, &v);
    return v.type == YVAL_NULL;
}

int ynode_get_bool(const struct ynode *n, bool *out)
{
    struct yval v;

    if (n == NULL || n->kind != YNODE_SCALAR)
        return WEIR_ETYPE;
    scalar_resolve(n, &v);
    if (v.type != YVAL_BOOL)
        return WEIR_ETYPE;
    *out = v.b;
    return 0;
}

int ynode_get_int(const struct ynode *n, long long *out)
{
    struct yval v;

    if (n == NULL || n->kind != YNODE_SCALAR)
        return WEIR_ETYPE;
    scalar_resolve(n, &v);
    if (v.type == YVAL_INT) {
        if (!v.fits)
            return WEIR_ERANGE;
        *out = v.i;
        return 0;
    }
    /* 1e3 is a float in the core schema but plainly means 1000 */
    if (v.type != YVAL_FLOAT || isnan(v.d) ||
        (isfinite(v.d) && v.d != trunc(v.d)))
        return WEIR_ETYPE;
    if (!isfinite(v.d) || v.d < -LLONG_MAX_PLUS_1 || v.d >= LLONG_MAX_PLUS_1)
        return WEIR_ERANGE;
    *out = (long long)v.d;
    return 0;
}

int ynode_get_double(const struct ynode *n, double *out)
{
    struct yval v;

    if (n == NULL || n->kind != YNODE_SCALAR)
        return WEIR_ETYPE;
    scalar_resolve(n, &v);
    if (v.type != YVAL_INT && v.type != YVAL_FLOAT)
        return WEIR_ETYPE;
    *out = v.d;
    return 0;
}

static int json_fail(const struct ynode *n, int code, const char *what,
                     struct weir_err *err, const struct ynode **bad)
{
    if (bad != NULL)
        *bad = n;
    return weir_err_set(err, code, "%s", what);
}

static int json_scalar(const struct ynode *n, cJSON **out, struct weir_err *err,
                       const struct ynode **bad)
{
    struct yval v;

    scalar_resolve(n, &v);
    if (v.type == YVAL_BAD) {
        if (bad != NULL)
            *bad = n;
        return weir_err_set(err, WEIR_ETYPE, "the value is not a valid !!%s",
                            n->tag + sizeof(YNODE_TAG_PREFIX) - 1);
    }
    if (v.type == YVAL_NULL)
        *out = cJSON_CreateNull();
    else if (v.type == YVAL_BOOL)
        *out = cJSON_CreateBool(v.b);
    else if ((v.type == YVAL_INT && !v.big) ||
             (v.type == YVAL_FLOAT && isfinite(v.d)))
        *out = cJSON_CreateNumber(v.d);
    else if (memchr(n->str, '\0', n->len) != NULL)
        return json_fail(n, WEIR_EINVAL, "the string holds a NUL byte", err,
                         bad);
    else /* strings, and numbers JSON cannot hold exactly: the text */
        *out = cJSON_CreateString(n->str);
    if (*out == NULL)
        return json_fail(n, WEIR_ENOMEM, "out of memory", err, bad);
    return 0;
}

static int json_node(const struct ynode *n, cJSON **out, struct weir_err *err,
                     const struct ynode **bad);

static int json_items(const struct ynode *n, cJSON *coll, struct weir_err *err,
                      const struct ynode **bad)
{
    const struct ynode *k, *v;
    cJSON *item;
    size_t i;
    bool ok;
    int rc;

    for (i = 0; i < n->n; i++) {
        k = n->kind == YNODE_MAP ? n->items[2 * i] : NULL;
        v = n->kind == YNODE_MAP ? n->items[2 * i + 1] : n->items[i];
        if (k != NULL && k->kind != YNODE_SCALAR)
            return json_fail(k, WEIR_ETYPE,
                             "a mapping key must be a scalar to become JSON",
                             err, bad);
        if (k != NULL && memchr(k->str, '\0', k->len) != NULL)
            return json_fail(k, WEIR_EINVAL, "the key holds a NUL byte", err,
                             bad);
        rc = json_node(v, &item, err, bad);
        if (rc < 0)
            return rc;
        ok = k != NULL ? cJSON_AddItemToObject(coll, k->str, item)
                       : cJSON_AddItemToArray(coll, item);
        if (!ok) {
            cJSON_Delete(item);
            return json_fail(v, WEIR_ENOMEM, "out of memory", err, bad);
        }
    }
    return 0;
}

static int json_node(const struct ynode *n, cJSON **out, struct weir_err *err,
                     const struct ynode **bad)
{
    cJSON *coll;
    int rc;

    if (n->kind == YNODE_SCALAR)
        return json_scalar(n, out, err, bad);
    coll = n->kind == YNODE_MAP ? cJSON_CreateObject() : cJSON_CreateArray();
    if (coll == NULL)
        return json_fail(n, WEIR_ENOMEM, "out of memory", err, bad);
    rc = json_items(n, coll, err, bad);
    if (rc < 0) {
        cJSON_Delete(coll);
        return rc;
    }
    *out = coll;
    return 0;
}

int ynode_to_json(const struct ynode *n, cJSON **out, struct weir_err *err,
                  const struct ynode **bad)
{
    WEIR_ASSERT(n != NULL);
    return json_node(n, out, err, bad);
}

const char *ynode_describe(const struct ynode *n)
{
    struct yval v;

    if (n == NULL)
        return "nothing";
    if (n->kind == YNODE_SEQ)
        return "a list";
    if (n->kind == YNODE_MAP)
        return "a mapping";
    scalar_resolve(n, &v);
    switch (v.type) {
    case YVAL_NULL:
        return "null";
    case YVAL_BOOL:
        return "a boolean";
    case YVAL_INT:
    case YVAL_FLOAT:
        return "a number";
    default:
        return "a string";
    }
}
