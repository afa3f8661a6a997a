/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for expressions and templates. Any bytes are parsed as
 * an expression; what parses is walked and evaluated with a resolver that
 * answers every type and fails for some names. The same bytes, as text, go
 * through tmpl_names and tmpl_render in both modes and through
 * tmpl_shell_quote, whose output must read back as the input. The
 * sanitizers catch crashes and leaks; the checks here catch wrong answers.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "tmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stop with a crash the fuzzer reports when an invariant does not hold. */
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            __builtin_trap();                                                  \
    } while (0)

struct names_ctx {
    const char *text; /* the text the offsets point into */
    size_t len;       /* its length */
    int n;            /* names seen */
};

static const char *const fuzz_strings[] = {
    "",   "0.91",  "abc", " 1e3 ", "it's $(x) `y` \"z\"",
    "-0", "1e999", "nan", "\n",    "true",
};

static const double fuzz_numbers[] = {
    0.0, -0.0, 1.0, 0.85, -2.5, 1e300, 1e-300, 9007199254740993.0,
};

static unsigned name_hash(const char *s)
{
    unsigned h = 2166136261u;

    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Answer by a hash of the name, so that the same name always agrees. */
static int fuzz_resolve_cb(void *ctx, const char *name, struct expr_value *out,
                           struct weir_err *err)
{
    unsigned h = name_hash(name), pick = h >> 8;

    (void)ctx;
    switch (h % 10) {
    case 0:
        return weir_err_set(err, WEIR_ENOTFOUND, "no output \"%s\"", name);
    case 1:
        return WEIR_EIO;
    case 2:
        out->type = EXPR_NULL;
        return 0;
    case 3:
        out->type = EXPR_BOOL;
        out->b = pick & 1;
        return 0;
    case 4:
        out->type = EXPR_NUM;
        out->num = pick % 7 == 0 ? NAN
                   : pick % 11 == 0
                       ? INFINITY
                       : fuzz_numbers[pick % (sizeof(fuzz_numbers) /
                                              sizeof(fuzz_numbers[0]))];
        return 0;
    default:
        out->type = EXPR_STR;
        out->str = fuzz_strings[pick % (sizeof(fuzz_strings) /
                                        sizeof(fuzz_strings[0]))];
        return 0;
    }
}

/* Every name reported must be at its offset in the text. */
static int names_cb(void *ctx, const char *name, int offset)
{
    struct names_ctx *c = ctx;
    size_t n = strlen(name);

    CHECK(n > 0 && offset >= 0);
    CHECK((size_t)offset + n <= c->len);
    CHECK(memcmp(c->text + offset, name, n) == 0);
    c->n++;
    return c->n == 50 ? WEIR_EEXISTS : 0;
}

static void check_format(const struct expr_value *v)
{
    char full[128], small[4];
    int n = expr_value_format(v, full, sizeof(full));

    CHECK(n >= 0);
    if (v->type == EXPR_STR)
        CHECK((size_t)n == strlen(v->str));
    else
        CHECK((size_t)n == strlen(full));
    CHECK(expr_value_format(v, small, sizeof(small)) == n);
    CHECK(strlen(small) <= 3);
}

static void fuzz_expr(const uint8_t *data, size_t size)
{
    struct names_ctx nc = {.text = (const char *)data, .len = size};
    struct weir_err err = {0};
    struct expr *e = NULL;
    struct expr_value v;
    int off = -1, rc;

    rc = expr_parse((const char *)data, size, &e, &err, &off);
    if (rc != 0) {
        CHECK(e == NULL && err.code == rc && err.msg[0] != '\0');
        CHECK(off >= 0 && (size_t)off <= size);
        return;
    }
    rc = expr_names(e, names_cb, &nc);
    CHECK(rc == 0 || (rc == WEIR_EEXISTS && nc.n == 50));
    rc = expr_eval(e, fuzz_resolve_cb, NULL, &v, &err);
    if (rc == 0) {
        check_format(&v);
        (void)expr_truthy(&v);
    } else {
        CHECK(err.code == rc && err.msg[0] != '\0');
    }
    expr_free(e);
}

/* Undo single-quote shell quoting: '...' runs, \x, and bare safe bytes. */
static int sh_unquote(const char *q, char *out)
{
    while (*q != '\0') {
        if (*q == '\'') {
            for (q++; *q != '\0' && *q != '\''; q++)
                *out++ = *q;
            if (*q == '\0')
                return -1;
            q++;
        } else if (*q == '\\') {
            if (*++q == '\0')
                return -1;
            *out++ = *q++;
        } else if (strchr("\"$`;&|<>()*?[]~#! \t\n", *q) != NULL) {
            return -1;
        } else {
            *out++ = *q++;
        }
    }
    *out = '\0';
    return 0;
}

static void fuzz_quote(const char *text)
{
    size_t len = strlen(text);
    size_t need = tmpl_shell_quote(text, NULL, 0);
    char *q = malloc(need + 1), *back = malloc(need + 1);

    CHECK(q != NULL && back != NULL);
    CHECK(need >= len && need <= 4 * len + 2);
    CHECK(tmpl_shell_quote(text, q, need + 1) == need);
    CHECK(strlen(q) == need);
    CHECK(sh_unquote(q, back) == 0);
    CHECK(strcmp(back, text) == 0);
    free(q);
    free(back);
}

static void fuzz_tmpl(const char *text)
{
    struct names_ctx nc = {.text = text, .len = strlen(text)};
    struct weir_err err = {0};
    enum tmpl_mode modes[] = {TMPL_SHELL, TMPL_PLAIN};
    char *out;
    size_t i;
    int off = -1, rc;

    rc = tmpl_names(text, names_cb, &nc, &err, &off);
    if (rc != 0 && rc != WEIR_EEXISTS)
        CHECK(err.code == rc && off >= 0 && (size_t)off <= nc.len);
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        out = NULL;
        rc = tmpl_render(text, modes[i], fuzz_resolve_cb, NULL, &out, &err);
        if (rc == 0) {
            CHECK(out != NULL && strlen(out) <= TMPL_MAX_LEN);
            free(out);
        } else {
            CHECK(out == NULL && err.code == rc && err.msg[0] != '\0');
        }
    }
    fuzz_quote(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);

    if (text == NULL)
        return 0;
    fuzz_expr(data, size);
    memcpy(text, data, size);
    text[size] = '\0';
    fuzz_tmpl(text);
    free(text);
    return 0;
}
