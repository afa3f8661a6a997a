/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Limits on JSON documents received from clients: nesting depth (checked
 * on the text before cJSON parses it, so that no document deeper than
 * the limit is ever stored and then found unreadable), well-formed UTF-8
 * in every key and string, and the size of a value as compact JSON.
 */
#ifndef WEIR_JSONCHECK_H
#define WEIR_JSONCHECK_H

#include <stddef.h>

#include <cJSON.h>

#include "err.h"

#define JSON_DEPTH_MAX 64 /* arrays and objects inside each other */

/*
 * Whether text (len bytes) nests arrays and objects at most max deep
 * (brackets inside strings do not count). Returns 0, or WEIR_EINVAL with
 * err saying the limit and the byte where it was passed.
 */
WEIR_MUSTCHECK int json_depth_check(const char *text, size_t len, int max,
                                    struct weir_err *err);

/*
 * Whether every key and string in v is well-formed UTF-8. Returns 0, or
 * WEIR_EINVAL with err naming the place as where.path.to[3].field.
 */
WEIR_MUSTCHECK int json_utf8_check(const cJSON *v, const char *where,
                                   struct weir_err *err);

/* The bytes of v printed as compact JSON, counted without printing; the
 * count stops early once it passes limit (then it is > limit). */
size_t json_size(const cJSON *v, size_t limit);

/* v printed as compact JSON into one buffer allocated at its final size
 * (cJSON's printer would otherwise double its buffer as it goes, up to
 * twice the text): freed with cJSON_free; NULL when out of memory. */
char *json_print(const cJSON *v);

/* The offset of the first \u0000 escape in JSON text, or -1. A backslash
 * outside a string is invalid JSON anyway, so escapes are found without
 * tracking strings; each escape is skipped whole, so "\\u0000" is not
 * one. */
long json_nul_find(const char *text, size_t len);

/* Rewrite each \u0000 escape of text as \ufffd (U+FFFD), in place. */
void json_nul_replace(char *text, size_t len);

/*
 * The one reading of JSON received from a client: len bytes of text,
 * all of them one JSON value (trailing bytes are an error), at most
 * JSON_DEPTH_MAX deep, and no \u0000 escape (text cannot hold a NUL: a
 * value would end early in C). Returns 0 with *out (cJSON_Delete it), or
 * WEIR_EINVAL / WEIR_EPARSE with err naming line and column.
 */
WEIR_MUSTCHECK int json_parse_text(const char *text, size_t len, cJSON **out,
                                   struct weir_err *err);

#endif
