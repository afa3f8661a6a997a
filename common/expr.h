/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The expression language of `if:`, `when:`, `accumulate:` and `${{ }}`:
 * dotted names (params.x, steps.<id>.outputs.<key>, event.payload.a.b, ...),
 * literals (numbers, "strings" and 'strings', true, false, null), the
 * operators == != < <= > >= && || ! and parentheses. In "double-quoted"
 * strings \" \' \\ \n \t are escapes; 'single-quoted' strings have none.
 * A '-' belongs only to a number literal (-1.5); there is no subtraction.
 *
 * Comparison rule: when both sides are numbers, or one is a number and the
 * other a string that reads fully as a number, or both are strings that
 * read fully as numbers, they compare as numbers ("0.91" >= 0.85 is true,
 * "1.0" == 1 is true). A string reads fully as a number when, but for
 * surrounding spaces, it is a finite decimal number such as "-1", "0.5" or
 * "2e3" (not hex, "inf" or "nan"). Otherwise == and != compare type and
 * value (a string and a bool are never equal), and < <= > >= compare two
 * strings bytewise; ordering any other pair is an evaluation error. && and
 * || short-circuit and yield bools; ! and conditions use truthiness: false,
 * null, 0, "" are false, everything else true.
 */
#ifndef WEIR_EXPR_H
#define WEIR_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* The longest expression text accepted, and the deepest nesting. */
#define EXPR_MAX_LEN   4096
#define EXPR_MAX_DEPTH 64

enum expr_type {
    EXPR_NULL, /* null, or an absent optional value */
    EXPR_BOOL, /* true or false */
    EXPR_NUM,  /* a double */
    EXPR_STR,  /* a NUL-terminated string, borrowed */
};

/* A value; str is borrowed from the expression or from the resolver. */
struct expr_value {
    enum expr_type type; /* which member is meaningful */
    bool b;              /* EXPR_BOOL */
    double num;          /* EXPR_NUM */
    const char *str;     /* EXPR_STR */
};

struct expr;

/*
 * Look up a dotted name during evaluation. Fill *out (strings must stay
 * valid until the evaluation returns) and return 0, or return a negative
 * code with err filled (e.g. WEIR_ENOTFOUND, "no output \"x\" from step
 * \"train\"").
 */
typedef int (*expr_resolve_cb)(void *ctx, const char *name,
                               struct expr_value *out, struct weir_err *err);

/*
 * Called once per name in an expression, in source order, with the 0-based
 * byte offset of the name in the text. Return 0 to go on, or a negative
 * code to stop the walk (expr_names() then returns that code).
 */
typedef int (*expr_name_cb)(void *ctx, const char *name, int offset);

/*
 * Parse `text` (at most `len` bytes; it need not be NUL-terminated). On
 * success *out is a new expression freed with expr_free(). On failure
 * returns WEIR_EPARSE (or WEIR_ETOOBIG), err says what was expected, and
 * *err_offset (when not NULL) is the 0-based byte offset of the problem.
 */
WEIR_MUSTCHECK int expr_parse(const char *text, size_t len, struct expr **out,
                              struct weir_err *err, int *err_offset);

/* Free an expression; expr_free(NULL) is a no-op. */
void expr_free(struct expr *e);

/* Walk every name the expression refers to. */
int expr_names(const struct expr *e, expr_name_cb cb, void *ctx);

/*
 * Evaluate e, resolving names through resolve. *out may borrow strings from
 * e and from the resolver. Returns 0, or a negative code with err filled
 * (a resolver failure, or a type error such as ordering a bool).
 */
WEIR_MUSTCHECK int expr_eval(const struct expr *e, expr_resolve_cb resolve,
                             void *ctx, struct expr_value *out,
                             struct weir_err *err);

/* Truthiness: false, null, 0, NaN and "" are false; all else is true. */
bool expr_truthy(const struct expr_value *v);

/*
 * Write v as text: numbers in the shortest form that reads back the same
 * (integers without ".0"), true/false, "" for null, strings as they are.
 * Returns the length written (snprintf semantics).
 */
int expr_value_format(const struct expr_value *v, char *buf, size_t len);

#endif
