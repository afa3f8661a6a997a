/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the expression language: parsing, errors, evaluation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "expr.h"

struct var {
    const char *name;      /* dotted name */
    struct expr_value val; /* what it resolves to */
};

struct env {
    const struct var *vars; /* known names */
    size_t n;               /* how many */
    int calls;              /* resolver calls so far */
};

#define NUM(x)                                                                 \
    {                                                                          \
        .type = EXPR_NUM, .num = (x)                                           \
    }
#define STR(x)                                                                 \
    {                                                                          \
        .type = EXPR_STR, .str = (x)                                           \
    }
#define BOOL(x)                                                                \
    {                                                                          \
        .type = EXPR_BOOL, .b = (x)                                            \
    }
#define NUL                                                                    \
    {                                                                          \
        .type = EXPR_NULL                                                      \
    }

static const struct var vars[] = {
    {"params.accuracy_threshold", NUM(0.85)},
    {"params.dataset_version", STR("latest")},
    {"steps.evaluate.outputs.accuracy", STR("0.91")},
    {"steps.ingest.outputs.rows", STR(" 1200 ")},
    {"steps.my-step.state", STR("success")},
    {"event.payload.ok", BOOL(true)},
    {"event.payload.missing", NUL},
    {"metric.value", NUM(0.83)},
    {"run.environment", STR("prod")},
    {"x.nan", NUM(NAN)},
    {"x.empty", STR("")},
    {"x.zero", NUM(0)},
};

/* Resolve from vars; "fail.*" fails with a message, "silent.*" without. */
static int env_resolve_cb(void *ctx, const char *name, struct expr_value *out,
                          struct weir_err *err)
{
    struct env *env = ctx;
    size_t i;

    env->calls++;
    if (strncmp(name, "fail.", 5) == 0)
        return weir_err_set(err, WEIR_ENOTFOUND,
                            "no output \"%s\" from step \"train\"", name + 5);
    if (strncmp(name, "silent.", 7) == 0)
        return WEIR_EIO;
    for (i = 0; i < env->n; i++) {
        if (strcmp(env->vars[i].name, name) == 0) {
            *out = env->vars[i].val;
            return 0;
        }
    }
    return weir_err_set(err, WEIR_ENOTFOUND, "no such name \"%s\"", name);
}

static struct env env_new(void)
{
    struct env env = {.vars = vars, .n = sizeof(vars) / sizeof(vars[0])};

    return env;
}

static struct expr *parse_ok(const char *text)
{
    struct weir_err err = {0};
    struct expr *e = NULL;
    int off = -1;
    int rc = expr_parse(text, strlen(text), &e, &err, &off);

    if (rc != 0)
        fail_msg("parse of '%s' failed: %s at %d", text, err.msg, off);
    assert_non_null(e);
    return e;
}

/*
 * Evaluate text, which must work; *env counts resolver calls. A string
 * result is copied to a static buffer, valid until the next call, because
 * it may borrow from the expression freed here.
 */
static struct expr_value eval_env(const char *text, struct env *env)
{
    static char copy[EXPR_MAX_LEN];
    struct weir_err err = {0};
    struct expr_value v = {.type = EXPR_NULL};
    struct expr *e = parse_ok(text);
    int rc = expr_eval(e, env_resolve_cb, env, &v, &err);

    if (rc != 0)
        fail_msg("eval of '%s' failed: %s", text, err.msg);
    if (v.type == EXPR_STR) {
        snprintf(copy, sizeof(copy), "%s", v.str);
        v.str = copy;
    }
    expr_free(e);
    return v;
}

static struct expr_value eval_ok(const char *text)
{
    struct env env = env_new();

    return eval_env(text, &env);
}

static bool eval_bool(const char *text)
{
    struct expr_value v = eval_ok(text);

    assert_int_equal(v.type, EXPR_BOOL);
    return v.b;
}

#define assert_expr_true(text)  assert_true(eval_bool(text))
#define assert_expr_false(text) assert_false(eval_bool(text))

static void assert_eval_fails(const char *text, int code, const char *msg)
{
    struct env env = env_new();
    struct weir_err err = {0};
    struct expr_value v = {.type = EXPR_NULL};
    struct expr *e = parse_ok(text);

    assert_int_equal(expr_eval(e, env_resolve_cb, &env, &v, &err), code);
    assert_int_equal(err.code, code);
    assert_string_equal(err.msg, msg);
    expr_free(e);
}

static void assert_parse_fails_n(const char *text, size_t len, int code,
                                 int offset, const char *msg)
{
    struct weir_err err = {0};
    struct expr *e = NULL;
    int off = -1;

    assert_int_equal(expr_parse(text, len, &e, &err, &off), code);
    assert_null(e);
    assert_int_equal(err.code, code);
    assert_string_equal(err.msg, msg);
    assert_int_equal(off, offset);
}

static void assert_parse_fails(const char *text, int offset, const char *msg)
{
    assert_parse_fails_n(text, strlen(text), WEIR_EPARSE, offset, msg);
}

static void assert_format(struct expr_value v, const char *want)
{
    char buf[64];
    int n = expr_value_format(&v, buf, sizeof(buf));

    assert_string_equal(buf, want);
    assert_int_equal(n, (int)strlen(want));
}

static void test_literals(void **state)
{
    struct expr_value v;

    (void)state;
    v = eval_ok("\"a\\\"b\\\\c\\nd\\te\\'f\"");
    assert_int_equal(v.type, EXPR_STR);
    assert_string_equal(v.str, "a\"b\\c\nd\te'f");
    v = eval_ok("'a\\b\"c'");
    assert_string_equal(v.str, "a\\b\"c");
    v = eval_ok("''");
    assert_string_equal(v.str, "");
    v = eval_ok("-1.5");
    assert_int_equal(v.type, EXPR_NUM);
    assert_true(v.num == -1.5);
    assert_true(eval_ok("1e3").num == 1000);
    assert_true(eval_ok("2.5E-1").num == 0.25);
    assert_true(eval_ok("007").num == 7);
    assert_true(eval_ok("  42\t\n").num == 42);
    assert_int_equal(eval_ok("null").type, EXPR_NULL);
    assert_expr_true("true");
    assert_expr_false("false");
    v = eval_ok("steps.my-step.state");
    assert_string_equal(v.str, "success");
}

static void test_precedence(void **state)
{
    (void)state;
    /* && binds tighter than ||. */
    assert_expr_true("true || false && false");
    assert_expr_true("false && true || true");
    assert_expr_false("false && (true || true)");
    assert_expr_false("(true || false) && false");
    /* ! binds tighter than ==: (!1) == 0 is a bool against a number. */
    assert_expr_false("!1 == 0");
    assert_expr_true("!(1 == 0)");
    assert_expr_true("!!1");
    /* Comparison binds tighter than equality. */
    assert_expr_true("1 < 2 == true");
    assert_expr_true("2 > 1 != false == true");
    /* Equality binds tighter than &&. */
    assert_expr_true("1 == 1 && 2 != 3");
    assert_expr_true("params.accuracy_threshold < 1 && run.environment == "
                     "\"prod\" || false");
    assert_expr_true("((((true))))");
}

static void test_short_circuit(void **state)
{
    struct env env = env_new();
    struct expr_value v;

    (void)state;
    v = eval_env("false && fail.x", &env);
    assert_false(v.b);
    assert_int_equal(env.calls, 0);
    v = eval_env("true || fail.x", &env);
    assert_true(v.b);
    assert_int_equal(env.calls, 0);
    v = eval_env("false && (true < 3)", &env);
    assert_false(v.b);
    v = eval_env("true && run.environment", &env);
    assert_int_equal(v.type, EXPR_BOOL);
    assert_true(v.b);
    assert_int_equal(env.calls, 1);
    env.calls = 0;
    v = eval_env("event.payload.ok || fail.a || fail.b", &env);
    assert_true(v.b);
    assert_int_equal(env.calls, 1);
    env.calls = 0;
    v = eval_env("x.empty && fail.a", &env);
    assert_false(v.b);
    assert_int_equal(env.calls, 1);
    env.calls = 0;
    v = eval_env("x.zero || x.empty || event.payload.missing", &env);
    assert_false(v.b);
    assert_int_equal(env.calls, 3);
}

static void test_compare_numbers(void **state)
{
    (void)state;
    assert_expr_true("1 < 2");
    assert_expr_true("2 <= 2");
    assert_expr_false("2 < 2");
    assert_expr_true("3 > -1.5");
    assert_expr_true("2 >= 2");
    assert_expr_true("1 == 1.0");
    assert_expr_true("1 != 2");
    assert_expr_true("1e2 == 100");
    /* A string that reads fully as a number compares as one. */
    assert_expr_true("\"0.91\" >= 0.85");
    assert_expr_true("\"1.0\" == 1");
    assert_expr_true("1 == \"1.0\"");
    assert_expr_true("\" 2 \" == 2");
    assert_expr_true("\"+5\" == 5");
    assert_expr_true("\"1e3\" == 1000");
    assert_expr_true("\".5\" == 0.5");
    assert_expr_true("\"5.\" == 5");
    assert_expr_true("steps.evaluate.outputs.accuracy >= "
                     "params.accuracy_threshold");
    assert_expr_true("steps.ingest.outputs.rows > 1000");
    /* Two numeric strings compare as numbers, not bytewise. */
    assert_expr_true("\"10\" > \"9\"");
    assert_expr_true("\"1.0\" == \"1\"");
    assert_expr_true("\"1\" != \"2\"");
    /* NaN from a resolver equals nothing, itself included. */
    assert_expr_false("x.nan == x.nan");
    assert_expr_true("x.nan != 1");
    assert_expr_false("x.nan < 1");
}

static void test_compare_strings(void **state)
{
    (void)state;
    assert_expr_true("\"abc\" == 'abc'");
    assert_expr_false("\"abc\" == \"abd\"");
    assert_expr_true("\"abc\" < \"abd\"");
    assert_expr_true("\"B\" < \"a\"");
    assert_expr_true("\"\xc3\xa9\" > \"z\"");
    assert_expr_true("\"abc\" >= \"abc\"");
    assert_expr_true("\"abc\" <= \"abc\"");
    assert_expr_true("\"\" < \"a\"");
    /* A string that is not fully a number is never equal to a number. */
    assert_expr_false("\"abc\" == 1");
    assert_expr_true("\"abc\" != 1");
    assert_expr_false("\"1x\" == 1");
    assert_expr_false("\"\" == 0");
    assert_expr_false("\"0x10\" == 16");
    assert_expr_true("\"nan\" == \"nan\"");
    /* 1e999 does not read as a finite number: it stays a string. */
    assert_expr_true("\"1e999\" == \"1e999\"");
    assert_expr_true("\"2e999\" > \"1e999\"");
    /* A string and a bool are never equal. */
    assert_expr_false("\"true\" == true");
    assert_expr_true("\"true\" != true");
    assert_expr_false("\"\" == false");
}

static void test_compare_other(void **state)
{
    (void)state;
    assert_expr_true("true == true");
    assert_expr_true("false == false");
    assert_expr_true("true != false");
    assert_expr_true("null == null");
    assert_expr_false("null != null");
    assert_expr_false("null == false");
    assert_expr_false("null == \"\"");
    assert_expr_false("null == 0");
    assert_expr_true("event.payload.missing == null");
    assert_expr_false("true == 1");
    assert_expr_false("false == 0");
    assert_expr_true("true != 1");
}

static void test_compare_errors(void **state)
{
    (void)state;
    assert_eval_fails("true < 3", WEIR_ETYPE,
                      "cannot compare true with 3 using \"<\"");
    assert_eval_fails("true < false", WEIR_ETYPE,
                      "cannot compare true with false using \"<\"");
    assert_eval_fails("\"abc\" <= 1", WEIR_ETYPE,
                      "cannot compare \"abc\" with 1 using \"<=\"");
    assert_eval_fails("1.5 > \"1e999\"", WEIR_ETYPE,
                      "cannot compare 1.5 with \"1e999\" using \">\"");
    assert_eval_fails("\"inf\" > 1", WEIR_ETYPE,
                      "cannot compare \"inf\" with 1 using \">\"");
    assert_eval_fails("null >= 1", WEIR_ETYPE,
                      "cannot compare null with 1 using \">=\"");
    assert_eval_fails("\"a\" > null", WEIR_ETYPE,
                      "cannot compare \"a\" with null using \">\"");
    assert_eval_fails("event.payload.ok < run.environment", WEIR_ETYPE,
                      "cannot compare true with \"prod\" using \"<\"");
    assert_eval_fails(
        "\"0123456789012345678901234567890123456789xyz\" < 1", WEIR_ETYPE,
        "cannot compare \"0123456789012345678901234567890123456789...\" "
        "with 1 using \"<\"");
    assert_eval_fails("\"a\\nb\" < 1", WEIR_ETYPE,
                      "cannot compare \"a?b\" with 1 using \"<\"");
}

static void test_truthiness(void **state)
{
    struct expr_value v;

    (void)state;
    v = (struct expr_value){.type = EXPR_NULL};
    assert_false(expr_truthy(&v));
    v = (struct expr_value){.type = EXPR_BOOL, .b = false};
    assert_false(expr_truthy(&v));
    v = (struct expr_value){.type = EXPR_BOOL, .b = true};
    assert_true(expr_truthy(&v));
    v = (struct expr_value){.type = EXPR_NUM, .num = 0};
    assert_false(expr_truthy(&v));
    v = (struct expr_value){.type = EXPR_NUM, .num = -0.0};
    assert_false(expr_truthy(&v));
    v = (struct expr_value){.type = EXPR_NUM, .num = NAN};
    assert_false(expr_truthy(&v));
    v = (struct expr_value){.type = EXPR_NUM, .num = 0.001};
    assert_true(expr_truthy(&v));
    v = (struct expr_value){.type = EXPR_STR, .str = ""};
    assert_false(expr_truthy(&v));
    v = (struct expr_value){.type = EXPR_STR, .str = "0"};
    assert_true(expr_truthy(&v));
    v = (struct expr_value){.type = EXPR_STR, .str = "false"};
    assert_true(expr_truthy(&v));
    assert_expr_true("!0");
    assert_expr_true("!\"\"");
    assert_expr_true("!null");
    assert_expr_false("!\"0\"");
    assert_expr_false("!-1");
    assert_expr_true("!x.nan");
    assert_expr_true("1 && \"x\"");
    assert_expr_false("1 && \"\"");
}

static void test_format(void **state)
{
    char small[4];

    (void)state;
    assert_format((struct expr_value)NUM(3), "3");
    assert_format((struct expr_value)NUM(-2), "-2");
    assert_format((struct expr_value)NUM(0), "0");
    assert_format((struct expr_value)NUM(-0.0), "0");
    assert_format((struct expr_value)NUM(0.1), "0.1");
    assert_format((struct expr_value)NUM(1.5), "1.5");
    assert_format((struct expr_value)NUM(-0.85), "-0.85");
    assert_format((struct expr_value)NUM(1.0 / 3), "0.3333333333333333");
    assert_format((struct expr_value)NUM(0.1 + 0.2), "0.30000000000000004");
    assert_format((struct expr_value)NUM(1e-7), "1e-07");
    assert_format((struct expr_value)NUM(9007199254740993.0),
                  "9007199254740992");
    assert_format((struct expr_value)NUM(1e18), "1000000000000000000");
    assert_format((struct expr_value)NUM(1e20), "1e+20");
    assert_format((struct expr_value)NUM(-9223372036854775808.0),
                  "-9223372036854775808");
    assert_format((struct expr_value)NUM(9223372036854775808.0),
                  "9.223372036854776e+18");
    assert_format((struct expr_value)NUM(INFINITY), "inf");
    assert_format((struct expr_value)BOOL(true), "true");
    assert_format((struct expr_value)BOOL(false), "false");
    assert_format((struct expr_value)NUL, "");
    assert_format((struct expr_value)STR("a b"), "a b");
    /* snprintf semantics: the full length, the text cut to fit. */
    assert_int_equal(
        expr_value_format(&(struct expr_value)NUM(12345), small, sizeof(small)),
        5);
    assert_string_equal(small, "123");
    assert_int_equal(
        expr_value_format(&(struct expr_value)BOOL(false), NULL, 0), 5);
    /* A formatted literal reads back as the same number. */
    assert_format(eval_ok("0.85"), "0.85");
    assert_format(eval_ok("-1.5e3"), "-1500");
}

static void test_parse_errors(void **state)
{
    (void)state;
    assert_parse_fails("", 0, "expected an expression");
    assert_parse_fails("   ", 3, "expected an expression");
    assert_parse_fails("a &&", 4, "expected an operand after \"&&\"");
    assert_parse_fails("a && )", 5,
                       "expected an operand after \"&&\", found \")\"");
    assert_parse_fails("a || || b", 5,
                       "expected an operand after \"||\", found \"||\"");
    assert_parse_fails("a < < b", 4,
                       "expected an operand after \"<\", found \"<\"");
    assert_parse_fails("!", 1, "expected an operand after \"!\"");
    assert_parse_fails("== 1", 0, "expected an expression, found \"==\"");
    assert_parse_fails("\"abc", 0, "unterminated string");
    assert_parse_fails("x == 'abc", 5, "unterminated string");
    assert_parse_fails("\"abc\\", 0, "unterminated string");
    assert_parse_fails("a)", 1, "unexpected \")\"");
    assert_parse_fails("(a))", 3, "unexpected \")\"");
    assert_parse_fails("a b", 2, "expected an operator, found \"b\"");
    assert_parse_fails("a 'b'", 2, "expected an operator, found a string");
    assert_parse_fails("1 -2", 2, "expected an operator, found \"-2\"");
    assert_parse_fails("a = 1", 2,
                       "\"=\" is not an operator (did you mean \"==\"?)");
    assert_parse_fails("a & b", 2,
                       "\"&\" is not an operator (did you mean \"&&\"?)");
    assert_parse_fails("a | b", 2,
                       "\"|\" is not an operator (did you mean \"||\"?)");
    assert_parse_fails("a @ b", 2, "unknown character \"@\"");
    assert_parse_fails("a\x01", 1, "unknown byte 0x01");
    assert_parse_fails_n("a\0b", 3, WEIR_EPARSE, 1, "unknown byte 0x00");
    assert_parse_fails_n("\"a\0\"", 4, WEIR_EPARSE, 2,
                         "a string cannot hold a NUL byte");
    assert_parse_fails("(a", 2,
                       "expected \")\" to close the \"(\" at offset 0, "
                       "found the end");
    assert_parse_fails("(a b)", 3,
                       "expected \")\" to close the \"(\" at offset 0, "
                       "found \"b\"");
    assert_parse_fails("()", 1,
                       "expected an expression after \"(\", found \")\"");
    assert_parse_fails("params.", 7, "expected a name after \".\"");
    assert_parse_fails("params..x", 7, "expected a name after \".\"");
    assert_parse_fails("steps.1.state", 6, "expected a name after \".\"");
    assert_parse_fails("-x", 0, "expected a digit after \"-\"");
    assert_parse_fails("1.", 2, "expected a digit after \".\" in a number");
    assert_parse_fails(".5", 0, "expected a digit before \".\" in a number");
    assert_parse_fails("a .b", 2, "unknown character \".\"");
    assert_parse_fails("1e", 2, "expected a digit in the exponent of a number");
    assert_parse_fails("1e+", 3,
                       "expected a digit in the exponent of a number");
    assert_parse_fails("3x", 1, "unexpected \"x\" after a number");
    assert_parse_fails("1.2.3", 3, "unexpected \".\" after a number");
    assert_parse_fails("1-2", 1, "unexpected \"-\" after a number");
    assert_parse_fails("1e999", 0, "number \"1e999\" is out of range");
    assert_parse_fails("\"a\\qb\"", 2, "unknown escape \"\\q\" in a string");
    assert_parse_fails("\"\\\x01\"", 1,
                       "unknown escape in a string: \"\\\" followed by byte "
                       "0x01");
    assert_parse_fails("x == 1 name_that_is_very_long_indeed_yes_it_is_long", 7,
                       "expected an operator, found "
                       "\"name_that_is_very_long_indeed_yes_it_is_...\"");
}

static void test_limits(void **state)
{
    char text[EXPR_MAX_LEN + 2];
    struct expr *e = NULL;
    struct weir_err err = {0};
    struct expr_value v;
    int off = -1, i;

    (void)state;
    /* Exactly EXPR_MAX_LEN bytes parse; one more does not. */
    memset(text, 'a', EXPR_MAX_LEN + 1);
    text[0] = '"';
    text[EXPR_MAX_LEN - 1] = '"';
    text[EXPR_MAX_LEN] = '\0';
    assert_int_equal(expr_parse(text, EXPR_MAX_LEN, &e, &err, &off), 0);
    assert_int_equal(expr_eval(e, NULL, NULL, &v, &err), 0);
    assert_int_equal(strlen(v.str), EXPR_MAX_LEN - 2);
    expr_free(e);
    e = NULL;
    assert_parse_fails_n(text, EXPR_MAX_LEN + 1, WEIR_ETOOBIG, EXPR_MAX_LEN,
                         "expression is longer than 4096 bytes");

    /* 64 levels of parentheses parse; 65 do not. */
    for (i = 0; i < EXPR_MAX_DEPTH + 1; i++) {
        text[i] = '(';
        text[EXPR_MAX_DEPTH + 2 + i] = ')';
    }
    text[EXPR_MAX_DEPTH + 1] = '1';
    assert_int_equal(
        expr_parse(text + 1, 2 * EXPR_MAX_DEPTH + 1, &e, &err, &off), 0);
    expr_free(e);
    e = NULL;
    assert_parse_fails_n(text, 2 * EXPR_MAX_DEPTH + 3, WEIR_ETOOBIG,
                         EXPR_MAX_DEPTH,
                         "expression nests more than 64 levels deep");

    /* Thousands of "(" or "!" are refused, not a stack overflow. */
    memset(text, '(', EXPR_MAX_LEN);
    assert_parse_fails_n(text, EXPR_MAX_LEN, WEIR_ETOOBIG, EXPR_MAX_DEPTH,
                         "expression nests more than 64 levels deep");
    memset(text, '!', EXPR_MAX_LEN);
    assert_parse_fails_n(text, EXPR_MAX_LEN, WEIR_ETOOBIG, EXPR_MAX_DEPTH,
                         "expression nests more than 64 levels deep");

    /* 64 "!" before an operand parse; 65 do not. */
    memset(text, '!', EXPR_MAX_DEPTH);
    text[EXPR_MAX_DEPTH] = '1';
    assert_int_equal(expr_parse(text, EXPR_MAX_DEPTH + 1, &e, &err, &off), 0);
    assert_int_equal(expr_eval(e, NULL, NULL, &v, &err), 0);
    assert_true(v.b);
    expr_free(e);
    e = NULL;
    memset(text, '!', EXPR_MAX_DEPTH + 1);
    text[EXPR_MAX_DEPTH + 1] = '1';
    assert_parse_fails_n(text, EXPR_MAX_DEPTH + 2, WEIR_ETOOBIG, EXPR_MAX_DEPTH,
                         "expression nests more than 64 levels deep");
}

static void test_limits_chains(void **state)
{
    char text[EXPR_MAX_LEN + 1];
    struct expr *e = NULL;
    struct weir_err err = {0};
    struct expr_value v;
    size_t n = 0;
    int off = -1, i;

    (void)state;
    /* A long && / || list is flat, however long. */
    for (i = 0; n + 10 < EXPR_MAX_LEN; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s1",
                              i == 0  ? ""
                              : i % 2 ? " && "
                                      : " || ");
    assert_int_equal(expr_parse(text, n, &e, &err, &off), 0);
    assert_int_equal(expr_eval(e, NULL, NULL, &v, &err), 0);
    assert_true(v.b);
    expr_free(e);
    e = NULL;

    /* A chain of comparisons deepens the tree: 64 are fine, 65 are not. */
    n = 0;
    for (i = 0; i <= EXPR_MAX_DEPTH; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%strue",
                              i == 0 ? "" : " == ");
    assert_int_equal(expr_parse(text, n, &e, &err, &off), 0);
    assert_int_equal(expr_eval(e, NULL, NULL, &v, &err), 0);
    assert_true(v.b);
    expr_free(e);
    e = NULL;
    n += (size_t)snprintf(text + n, sizeof(text) - n, " == true");
    assert_parse_fails_n(text, n, WEIR_ETOOBIG, (int)n - 7,
                         "expression nests more than 64 levels deep");
}

struct seen {
    char names[8][64]; /* names in order */
    int offs[8];       /* their offsets */
    int n;             /* how many */
    int stop_at;       /* return an error on this call, or -1 */
};

static int seen_cb(void *ctx, const char *name, int offset)
{
    struct seen *s = ctx;

    if (s->n == s->stop_at)
        return WEIR_ENOTFOUND;
    assert_true(s->n < 8);
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
    s->offs[s->n++] = offset;
    return 0;
}

static void test_names(void **state)
{
    const char *text = "steps.ingest.outputs.data.version >= "
                       "params.accuracy_threshold &&\n"
                       "  !(event.payload.rows < 3 || \"x.y\" == x.y)";
    struct seen s = {.stop_at = -1};
    struct expr *e = parse_ok(text);

    (void)state;
    assert_int_equal(expr_names(e, seen_cb, &s), 0);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.names[0], "steps.ingest.outputs.data.version");
    assert_int_equal(s.offs[0], 0);
    assert_string_equal(s.names[1], "params.accuracy_threshold");
    assert_int_equal(s.offs[1], 37);
    assert_string_equal(s.names[2], "event.payload.rows");
    assert_int_equal(s.offs[2], 70);
    assert_string_equal(s.names[3], "x.y");
    assert_int_equal(s.offs[3], 105);
    assert_int_equal(strncmp(text + 105, "x.y)", 4), 0);

    /* A negative return stops the walk and is passed on. */
    memset(&s, 0, sizeof(s));
    s.stop_at = 1;
    assert_int_equal(expr_names(e, seen_cb, &s), WEIR_ENOTFOUND);
    assert_int_equal(s.n, 1);
    expr_free(e);

    memset(&s, 0, sizeof(s));
    s.stop_at = -1;
    e = parse_ok("1 == 'a' && true");
    assert_int_equal(expr_names(e, seen_cb, &s), 0);
    assert_int_equal(s.n, 0);
    expr_free(e);
}

static void test_resolver_errors(void **state)
{
    struct weir_err err = {0};
    struct expr_value v = {.type = EXPR_NULL};
    struct expr *e;

    (void)state;
    assert_eval_fails("fail.model", WEIR_ENOTFOUND,
                      "no output \"model\" from step \"train\"");
    assert_eval_fails("1 < 2 && fail.model == 3", WEIR_ENOTFOUND,
                      "no output \"model\" from step \"train\"");
    /* A resolver that fails without a message still gives a clear one. */
    assert_eval_fails("silent.x", WEIR_EIO, "cannot resolve \"silent.x\"");
    assert_eval_fails("params.nope", WEIR_ENOTFOUND,
                      "no such name \"params.nope\"");
    /* Without a resolver a name is an error; literals still evaluate. */
    e = parse_ok("params.x == 1");
    assert_int_equal(expr_eval(e, NULL, NULL, &v, &err), WEIR_ENOTFOUND);
    assert_string_equal(err.msg, "unknown name \"params.x\"");
    expr_free(e);
    e = parse_ok("1 < 2");
    assert_int_equal(expr_eval(e, NULL, NULL, &v, &err), 0);
    assert_int_equal(err.code, 0);
    assert_true(v.b);
    expr_free(e);
    expr_free(NULL);
}

static void test_parse_not_terminated(void **state)
{
    struct expr *e = NULL;
    struct expr_value v;
    struct weir_err err = {0};

    (void)state;
    /* Only len bytes are read: the rest of the buffer is not looked at. */
    assert_int_equal(expr_parse("1 < 2 @@@", 5, &e, &err, NULL), 0);
    assert_int_equal(expr_eval(e, NULL, NULL, &v, &err), 0);
    assert_true(v.b);
    expr_free(e);
    e = NULL;
    assert_int_equal(expr_parse("params.x.", 8, &e, &err, NULL), 0);
    expr_free(e);
    e = NULL;
    assert_int_equal(expr_parse(NULL, 0, &e, &err, NULL), WEIR_EPARSE);
    assert_null(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_short_circuit),
        cmocka_unit_test(test_compare_numbers),
        cmocka_unit_test(test_compare_strings),
        cmocka_unit_test(test_compare_other),
        cmocka_unit_test(test_compare_errors),
        cmocka_unit_test(test_truthiness),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_limits_chains),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_resolver_errors),
        cmocka_unit_test(test_parse_not_terminated),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
