/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The outputs file a step appends to ($WEIR_OUTPUTS), in the convention
 * CI systems use for step outputs:
 *
 *     key=value            one line; the value is the rest of the line
 *     key<<DELIMITER       a multi-line value: the lines up to a line that
 *     line one             is exactly DELIMITER, joined with newlines
 *     line two             (without the newline before DELIMITER)
 *     DELIMITER
 *
 * Keys are 1 to OUTPUTS_MAX_KEY bytes of [A-Za-z0-9_.-]. A line is of the
 * multi-line form when "<<" comes before any "=". Empty lines are skipped.
 * A later key replaces an earlier one. Values must be UTF-8 (they become
 * JSON strings). Anything else is an error naming the line number.
 */
#ifndef WEIR_OUTPUTS_H
#define WEIR_OUTPUTS_H

#include <stddef.h>

#include <cJSON.h>

#include "err.h"

#define OUTPUTS_MAX_FILE  1048576 /* bytes in the whole file */
#define OUTPUTS_MAX_KEYS  1000    /* distinct keys */
#define OUTPUTS_MAX_VALUE 65536   /* bytes in one value */
#define OUTPUTS_MAX_KEY   256     /* bytes in one key */

/*
 * Parse len bytes of text (NUL bytes in it are an error). On success *out
 * is a new cJSON object mapping each key to its string value, which the
 * caller frees with cJSON_Delete(). On failure returns WEIR_EPARSE (a
 * malformed line), WEIR_ETOOBIG (a limit) or WEIR_ENOMEM, with err saying
 * "line N: ..." and *out untouched.
 */
WEIR_MUSTCHECK int outputs_parse(const char *text, size_t len, cJSON **out,
                                 struct weir_err *err);

/*
 * Read the outputs file at path (a regular file, not a link, at most
 * OUTPUTS_MAX_FILE bytes) and parse it as outputs_parse() does.
 */
WEIR_MUSTCHECK int outputs_read(const char *path, cJSON **out,
                                struct weir_err *err);

struct mask;
/*
 * outputs_parse() and outputs_read() whose error messages quote a line
 * masked with m (mask.h; NULL: none) before it is cut to a snippet.
 */
WEIR_MUSTCHECK int outputs_parse_masked(const char *text, size_t len,
                                        const struct mask *m, cJSON **out,
                                        struct weir_err *err);
WEIR_MUSTCHECK int outputs_read_masked(const char *path, const struct mask *m,
                                       cJSON **out, struct weir_err *err);

#endif
