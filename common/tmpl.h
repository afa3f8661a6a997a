/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `${{ expr }}` templating. In shell mode (for `run:`) every substituted
 * value is quoted for /bin/sh so that it arrives as exactly one word and is
 * never interpreted: a parameter "'; rm -rf / #" is one harmless argument.
 * In plain mode (for `env:`, approval messages) the value is inserted as is.
 *
 * `$${{` is an escape: it stands for a literal `${{` and opens no
 * expression. A span ends at the first `}}` that is not inside a string
 * literal of its expression. Shell mode follows the script's quoting and
 * quotes each value for where it lands: as a word of its own in code, with
 * every ' closed and reopened inside '...', with \ before $ ` " \ inside
 * "...". It refuses (WEIR_EINVAL) a span where no quoting keeps the value
 * inert: inside `...`, $((...)), ${...}, a # comment or a here-document,
 * right after a backslash or a $, in the text of a command that runs it
 * again as code (eval, trap, sh -c, ...), and anywhere after text whose
 * quoting it cannot follow for certain; such a value belongs in `env:` and
 * is used as "$NAME". Texts
 * and rendered results longer than TMPL_MAX_LEN are refused with
 * WEIR_ETOOBIG.
 */
#ifndef WEIR_TMPL_H
#define WEIR_TMPL_H

#include <stddef.h>

#include "expr.h"

/* The longest template text, and the longest rendered result, in bytes. */
#define TMPL_MAX_LEN 1048576

enum tmpl_mode {
    TMPL_SHELL, /* quote each value for the POSIX shell */
    TMPL_PLAIN, /* insert each value unchanged */
};

/*
 * Call `cb` for every name used in every `${{ }}` of text, with the byte
 * offset of the name in text. A malformed or unterminated `${{` is
 * WEIR_EPARSE with err filled and *err_offset set to its offset in text.
 */
WEIR_MUSTCHECK int tmpl_names(const char *text, expr_name_cb cb, void *ctx,
                              struct weir_err *err, int *err_offset);

/*
 * Render text, evaluating each `${{ expr }}` through resolve. On success
 * *out is a new NUL-terminated string the caller frees with free(). On
 * failure *out is untouched and err names the expression that failed.
 */
WEIR_MUSTCHECK int tmpl_render(const char *text, enum tmpl_mode mode,
                               expr_resolve_cb resolve, void *ctx, char **out,
                               struct weir_err *err);

/*
 * Check, without evaluating anything, that every `${{ }}` of a shell
 * command stands where tmpl_render in TMPL_SHELL mode accepts it: the
 * place depends on the text only, so a DAG can be refused when it is
 * loaded. WEIR_EINVAL when a span is refused, with err naming why and
 * *err_offset (when not NULL) at its "${{"; WEIR_EPARSE for a malformed
 * span; WEIR_ETOOBIG and WEIR_ENOMEM as tmpl_render.
 */
WEIR_MUSTCHECK int tmpl_check_shell(const char *text, struct weir_err *err,
                                    int *err_offset);

/*
 * Quote s for the POSIX shell into buf: unchanged when it is non-empty and
 * made only of [A-Za-z0-9_@%+=:,./-], otherwise in single quotes with each
 * ' written as '\''. Returns the length the quoted form needs (snprintf
 * semantics: the output is truncated when len is too small).
 */
size_t tmpl_shell_quote(const char *s, char *buf, size_t len);

#endif
