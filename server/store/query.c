/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The helpers of the table files: one statement whose result is not
 * needed or must touch a known number of rows, the JSON pass-through,
 * values of a row, and array parameters.
 */
#include "store/query.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_query_one(struct store_conn *c, const char *sql, int n,
                    const char *const *params, PGresult **out,
                    struct weir_err *err, const char *fmt, ...)
{
    PGresult *r = NULL;
    int rc = store_query(c, sql, n, params, &r, err);
    va_list ap;

    if (rc < 0)
        return rc;
    if (PQntuples(r) > 0) {
        *out = r;
        return 0;
    }
    PQclear(r);
    if (err != NULL) {
        err->code = WEIR_ENOTFOUND;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return WEIR_ENOTFOUND;
}

int store_cmd(struct store_conn *c, const char *sql, int n,
              const char *const *params, struct weir_err *err)
{
    PGresult *r = NULL;
    int rc = store_query(c, sql, n, params, &r, err);

    PQclear(r);
    return rc;
}

int store_cmd_rows(struct store_conn *c, const char *sql, int n,
                   const char *const *params, unsigned long long want,
                   bool notfound, const char *msg, struct weir_err *err)
{
    PGresult *r = NULL;
    int rc = store_query(c, sql, n, params, &r, err);

    if (rc < 0)
        return rc;
    if (strtoull(PQcmdTuples(r), NULL, 10) != want)
        rc = weir_err_set(err, notfound ? WEIR_ENOTFOUND : WEIR_ECONFLICT, "%s",
                          msg);
    PQclear(r);
    return rc;
}

int store_json_query(struct store_conn *c, const char *sql, int n,
                     const char *const *params, cJSON **out,
                     struct weir_err *err)
{
    PGresult *r = NULL;
    int rc = store_query(c, sql, n, params, &r, err);

    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0 || store_val(r, 0, 0) == NULL) {
        PQclear(r);
        return weir_err_set(err, WEIR_ENOTFOUND, "not found");
    }
    rc = store_val_json(r, 0, 0, out, err);
    PQclear(r);
    return rc;
}

int store_json_value(struct store_conn *c, const char *sql, int n,
                     const char *const *params, cJSON **out,
                     struct weir_err *err)
{
    int rc = store_json_query(c, sql, n, params, out, err);

    if (rc == WEIR_ENOTFOUND)
        rc = weir_err_set(err, WEIR_EINTERNAL, "no JSON value returned");
    return rc;
}

const char *store_val(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    return PQgetvalue(r, row, col);
}

int64_t store_val_i64(const PGresult *r, int row, int col)
{
    const char *v = store_val(r, row, col);

    return v ? strtoll(v, NULL, 10) : 0;
}

int store_val_dup(const PGresult *r, int row, int col, char **out,
                  struct weir_err *err)
{
    const char *v = store_val(r, row, col);

    *out = NULL;
    if (v == NULL)
        return 0;
    *out = strdup(v);
    if (*out == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    return 0;
}

int store_val_json(const PGresult *r, int row, int col, cJSON **out,
                   struct weir_err *err)
{
    const char *v = store_val(r, row, col);

    *out = NULL;
    if (v == NULL)
        return 0;
    *out = cJSON_Parse(v);
    if (*out == NULL)
        return weir_err_set(err, WEIR_EINTERNAL,
                            "cannot parse stored JSON (malformed, or nested "
                            "deeper than cJSON reads)");
    return 0;
}

int store_rows_map(const PGresult *r, size_t size, store_row_cb read_cb,
                   store_item_cb cleanup_cb, void **out, size_t *n,
                   struct weir_err *err)
{
    size_t rows = (size_t)PQntuples(r), i;
    char *v = calloc(rows ? rows : 1, size);
    int rc = v ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");

    for (i = 0; rc == 0 && i < rows; i++)
        rc = read_cb(r, (int)i, v + i * size, err);
    if (rc < 0) {
        for (size_t k = 0; cleanup_cb != NULL && v != NULL && k < i; k++)
            cleanup_cb(v + k * size);
        free(v);
        return rc;
    }
    *out = v;
    *n = rows;
    return 0;
}

char *store_ids_literal(const int64_t *ids, size_t n)
{
    char *text = malloc(n * 21 + 3), *p = text;

    if (text == NULL)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%lld", i ? "," : "", (long long)ids[i]);
    *p++ = '}';
    *p = '\0';
    return text;
}

char *store_strs_literal(const char *const *strs, size_t n)
{
    size_t len = 3;
    char *text, *p;

    for (size_t i = 0; i < n; i++)
        len += 2 * strlen(strs[i]) + 3;
    text = p = malloc(len);
    if (text == NULL)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *p++ = ',';
        *p++ = '"';
        for (const char *q = strs[i]; *q != '\0'; q++) {
            if (*q == '"' || *q == '\\')
                *p++ = '\\';
            *p++ = *q;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return text;
}
