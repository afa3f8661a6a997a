/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `${{ }}` templates. A scanner splits the text into literal pieces and
 * expression spans; tmpl_names parses the spans, tmpl_render evaluates them
 * into a buffer bounded by TMPL_MAX_LEN.
 *
 * In shell mode a value is quoted for where it lands: as a word of its own
 * in code, escaped inside "..." or '...'. Nowhere else is it safe: inside
 * backquotes, comments, here-documents or ${...} the quotes we add would be
 * literal text or the value could end the construct; in arithmetic ($(( ))
 * or (( ))) and in the text of eval, trap, sh -c and the like, or of a
 * command piped into a shell, the text is read again as code. A tracker
 * follows the shell's reading of the literal text byte by byte: quotes,
 * $( ), ${ }, line continuations, here-documents, and the words of each
 * simple command (reserved words such as `case`, whose pattern ")" closes
 * nothing, and the names of commands that evaluate their arguments). A
 * misreading there is an injection, so where shells differ or the text
 * cannot be followed for certain, the tracker stops (SHELL_LOST) and every
 * later span is refused rather than guessed.
 *
 * Files: tmpl.c scans and renders; tmpl_shell.c is the tracker (quotes,
 * nesting, here-documents, operators); tmpl_word.c follows the words of
 * each simple command (reserved words, commands that evaluate their text).
 */
#include "tmpl.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "tmpl_shell.h"

#define SHOW_MAX 60 /* longest expression quoted in an error */

enum piece_kind {
    PIECE_END,  /* no more text */
    PIECE_TEXT, /* literal text */
    PIECE_SPAN, /* a ${{ expression }} */
};

struct piece {
    enum piece_kind kind; /* what was found */
    size_t start;         /* first byte: of the text, or of "${{" */
    size_t len;           /* PIECE_TEXT: bytes of text */
    size_t inner;         /* PIECE_SPAN: offset of the expression */
    size_t inner_len;     /* PIECE_SPAN: length of the expression */
};

struct scanner {
    const char *text; /* the whole template */
    size_t len;       /* its length */
    size_t pos;       /* where the next piece starts */
};

struct obuf {
    char *p;    /* the text, NUL-terminated once finished */
    size_t len; /* bytes written */
    size_t cap; /* bytes allocated */
};

struct render {
    const char *text;        /* the template */
    enum tmpl_mode mode;     /* how values are inserted */
    expr_resolve_cb resolve; /* looks names up */
    void *ctx;               /* passed to resolve */
    struct weir_err *err;    /* the caller's error detail; may be NULL */
    struct obuf out;         /* the result so far */
    struct shell sh;         /* TMPL_SHELL: quoting at the end of out */
    bool check;              /* only place spans: each stands for a word */
    size_t refused_at;       /* offset of the span refused for its place */
    struct piece first;      /* the first span rendered */
    bool has_first;          /* first is set */
};

struct names_walk {
    expr_name_cb cb; /* the caller's callback */
    void *ctx;       /* its context */
    int base;        /* offset of the expression in the template */
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

static bool starts_with(const struct scanner *s, size_t at, const char *lit)
{
    size_t n = strlen(lit);

    return at + n <= s->len && memcmp(s->text + at, lit, n) == 0;
}

static int scan_fail(struct weir_err *err, int *err_off, int code, size_t off,
                     const char *msg)
{
    if (err_off != NULL)
        *err_off = (int)off;
    weir_err_set(err, code, "%s", msg);
    return code;
}

/*
 * Find the "}}" that ends the span opened at s->pos: the first one that is
 * not inside a string literal, read as the expression lexer reads it.
 */
static int scan_span(struct scanner *s, struct piece *pc, struct weir_err *err,
                     int *err_off)
{
    size_t i = s->pos + 3, quote_at, j;
    char quote;

    while (i < s->len) {
        if (s->text[i] == '"' || s->text[i] == '\'') {
            quote = s->text[i];
            quote_at = i;
            for (i++; i < s->len && s->text[i] != quote; i++)
                if (quote == '"' && s->text[i] == '\\')
                    i++;
            if (i >= s->len)
                return scan_fail(err, err_off, WEIR_EPARSE, quote_at,
                                 "unterminated string");
            i++;
        } else if (starts_with(s, i, "}}")) {
            break;
        } else {
            i++;
        }
    }
    if (i >= s->len)
        return scan_fail(err, err_off, WEIR_EPARSE, s->pos,
                         "unterminated \"${{\" (expected \"}}\")");
    for (j = s->pos + 3; j < i && is_space(s->text[j]); j++)
        ;
    if (j == i)
        return scan_fail(err, err_off, WEIR_EPARSE, s->pos, "empty \"${{ }}\"");
    pc->kind = PIECE_SPAN;
    pc->start = s->pos;
    pc->inner = s->pos + 3;
    pc->inner_len = i - pc->inner;
    s->pos = i + 2;
    return 0;
}

/*
 * The next piece of the template. "$${{" is an escape: it yields the text
 * "${{" and opens no span.
 */
static int scan_next(struct scanner *s, struct piece *pc, struct weir_err *err,
                     int *err_off)
{
    size_t i;

    memset(pc, 0, sizeof(*pc));
    if (s->pos >= s->len)
        return 0;
    if (starts_with(s, s->pos, "$${{")) {
        pc->kind = PIECE_TEXT;
        pc->start = s->pos + 1;
        pc->len = 3;
        s->pos += 4;
        return 0;
    }
    if (starts_with(s, s->pos, "${{"))
        return scan_span(s, pc, err, err_off);
    for (i = s->pos + 1; i < s->len; i++)
        if (s->text[i] == '$' &&
            (starts_with(s, i, "${{") || starts_with(s, i, "$${{")))
            break;
    pc->kind = PIECE_TEXT;
    pc->start = s->pos;
    pc->len = i - s->pos;
    s->pos = i;
    return 0;
}

/* Make room for more bytes and a NUL, within TMPL_MAX_LEN. */
static int obuf_reserve(struct obuf *b, size_t more, struct weir_err *err)
{
    if (more > TMPL_MAX_LEN - b->len) {
        weir_err_set(err, WEIR_ETOOBIG, "rendered text is longer than %d bytes",
                     TMPL_MAX_LEN);
        return WEIR_ETOOBIG;
    }
    if (!WEIR_GROW(b->p, b->cap, b->len + more + 1, 256,
                   (size_t)TMPL_MAX_LEN + 1)) {
        weir_err_set(err, WEIR_ENOMEM, "out of memory rendering text");
        return WEIR_ENOMEM;
    }
    return 0;
}

/* Copy a span's expression for a message: one line, cut short if long. */
static void span_show(const char *inner, size_t len, char *buf, size_t size)
{
    size_t i, n = 0;

    while (len > 0 && is_space(inner[0])) {
        inner++;
        len--;
    }
    while (len > 0 && is_space(inner[len - 1]))
        len--;
    for (i = 0; i < len && i < SHOW_MAX && n + 1 < size; i++) {
        buf[n] = inner[i];
        if ((unsigned char)buf[n] < 0x20)
            buf[n] = ' ';
        n++;
    }
    buf[n] = '\0';
    if (len > SHOW_MAX && n + 4 <= size)
        memcpy(buf + n, "...", 4);
}

static int span_fail(struct render *r, const struct piece *pc, int code,
                     const char *msg)
{
    char shown[SHOW_MAX + 4];

    span_show(r->text + pc->inner, pc->inner_len, shown, sizeof(shown));
    weir_err_set(r->err, code, "in ${{ %s }}: %s", shown, msg);
    return code;
}

/* Append a value, quoted for the shell in TMPL_SHELL mode. */
static int render_value(struct render *r, const struct expr_value *v)
{
    char num[64];
    const char *s = v->str;
    size_t n;
    int rc;

    if (v->type != EXPR_STR) {
        expr_value_format(v, num, sizeof(num));
        s = num;
    }
    if (r->mode == TMPL_SHELL)
        n = shell_quote_here(&r->sh, s, NULL, 0);
    else
        n = strlen(s);
    rc = obuf_reserve(&r->out, n, r->err);
    if (rc != 0)
        return rc;
    if (r->mode == TMPL_SHELL)
        shell_quote_here(&r->sh, s, r->out.p + r->out.len, n + 1);
    else
        memcpy(r->out.p + r->out.len, s, n);
    r->out.len += n;
    return 0;
}

/* A span stands where no quoting keeps its value inert. */
static int span_refuse(struct render *r, const struct piece *pc,
                       const char *where)
{
    char msg[sizeof(r->err->msg)];

    snprintf(msg, sizeof(msg),
             "a value cannot go %s in a shell command; put the ${{ }} "
             "outside them or pass the value through env:",
             where);
    r->refused_at = pc->start;
    return span_fail(r, pc, WEIR_EINVAL, msg);
}

static int render_span(struct render *r, const struct piece *pc)
{
    const char *where;
    struct weir_err inner;
    struct expr *e = NULL;
    struct expr_value v;
    int rc;

    weir_err_clear(&inner);
    if (r->mode == TMPL_SHELL && (where = shell_span_where(&r->sh)) != NULL)
        return span_refuse(r, pc, where);
    if (!r->has_first) {
        r->first = *pc;
        r->has_first = true;
    }
    if (r->check) {
        v = (struct expr_value){.type = EXPR_STR, .str = "x"};
        rc = 0;
    } else {
        rc = expr_parse(r->text + pc->inner, pc->inner_len, &e, &inner, NULL);
        if (rc == 0)
            rc = expr_eval(e, r->resolve, r->ctx, &v, &inner);
    }
    if (rc != 0) {
        span_fail(r, pc, rc, inner.msg);
        goto out;
    }
    rc = render_value(r, &v);
    if (rc == 0 && r->mode == TMPL_SHELL && shell_in_code(&r->sh))
        shell_after_span(&r->sh);
out:
    expr_free(e);
    return rc;
}

/* Piping into a shell later makes the values before unsafe too. */
static int render_piped(struct render *r)
{
    if (r->mode == TMPL_SHELL && r->sh.pipes_to_shell && r->has_first)
        return span_refuse(r, &r->first, SHELL_PIPED);
    return 0;
}

static int render_text(struct render *r, const struct piece *pc)
{
    int rc = obuf_reserve(&r->out, pc->len, r->err);

    if (rc != 0)
        return rc;
    memcpy(r->out.p + r->out.len, r->text + pc->start, pc->len);
    r->out.len += pc->len;
    for (size_t i = 0; r->mode == TMPL_SHELL && i < pc->len; i++)
        shell_feed(&r->sh, r->text[pc->start + i]);
    return render_piped(r);
}

static int names_shift_cb(void *ctx, const char *name, int offset)
{
    const struct names_walk *w = ctx;

    return w->cb(w->ctx, name, w->base + offset);
}

static int text_check(const char *text, size_t *len, struct weir_err *err,
                      int *err_off)
{
    *len = strlen(text);
    if (*len <= TMPL_MAX_LEN)
        return 0;
    if (err_off != NULL)
        *err_off = TMPL_MAX_LEN;
    weir_err_set(err, WEIR_ETOOBIG, "text is longer than %d bytes",
                 TMPL_MAX_LEN);
    return WEIR_ETOOBIG;
}

int tmpl_names(const char *text, expr_name_cb cb, void *ctx,
               struct weir_err *err, int *err_offset)
{
    struct scanner s = {.text = text};
    struct names_walk w = {.cb = cb, .ctx = ctx};
    struct piece pc;
    struct expr *e;
    int rc, off = 0;

    WEIR_ASSERT(text != NULL && cb != NULL);
    rc = text_check(text, &s.len, err, err_offset);
    while (rc == 0) {
        rc = scan_next(&s, &pc, err, err_offset);
        if (rc != 0 || pc.kind == PIECE_END)
            break;
        if (pc.kind != PIECE_SPAN)
            continue;
        e = NULL;
        rc = expr_parse(text + pc.inner, pc.inner_len, &e, err, &off);
        if (rc != 0) {
            if (err_offset != NULL)
                *err_offset = (int)pc.inner + off;
            break;
        }
        w.base = (int)pc.inner;
        rc = expr_names(e, names_shift_cb, &w);
        expr_free(e);
    }
    return rc;
}

/* Render r->text into r->out; on failure r->out is freed. */
static int render_all(struct render *r)
{
    struct scanner s = {.text = r->text};
    struct weir_err scan_err;
    struct piece pc;
    int rc, off = 0;

    shell_init(&r->sh);
    rc = text_check(r->text, &s.len, r->err, NULL);
    if (rc == 0)
        rc = obuf_reserve(&r->out, 0, r->err);
    while (rc == 0) {
        rc = scan_next(&s, &pc, &scan_err, &off);
        if (rc != 0) {
            weir_err_set(r->err, rc, "at offset %d: %s", off, scan_err.msg);
            break;
        }
        if (pc.kind == PIECE_END)
            break;
        rc = pc.kind == PIECE_SPAN ? render_span(r, &pc) : render_text(r, &pc);
    }
    if (rc == 0 && r->mode == TMPL_SHELL) {
        /* The text ends: so does its last word ("... | sh"). */
        if (r->sh.mode == SHELL_NORMAL)
            shell_word_end(&r->sh);
        rc = render_piped(r);
    }
    if (rc != 0) {
        free(r->out.p);
        r->out.p = NULL;
        return rc;
    }
    r->out.p[r->out.len] = '\0';
    return 0;
}

int tmpl_render(const char *text, enum tmpl_mode mode, expr_resolve_cb resolve,
                void *ctx, char **out, struct weir_err *err)
{
    struct render r = {
        .text = text, .mode = mode, .resolve = resolve, .ctx = ctx, .err = err};
    int rc;

    WEIR_ASSERT(text != NULL && out != NULL);
    rc = render_all(&r);
    if (rc == 0)
        *out = r.out.p;
    return rc;
}

int tmpl_check_shell(const char *text, struct weir_err *err, int *err_offset)
{
    struct render r = {
        .text = text, .mode = TMPL_SHELL, .check = true, .err = err};
    int rc;

    WEIR_ASSERT(text != NULL);
    rc = render_all(&r);
    free(r.out.p);
    if (rc == WEIR_EINVAL && err_offset != NULL)
        *err_offset = (int)r.refused_at;
    return rc;
}

size_t tmpl_shell_quote(const char *s, char *buf, size_t len)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789_@%+=:,./-";
    size_t n = 0, i;
    bool plain;

/* Write one byte if it fits, always counting it. */
#define PUT(c)                                                                 \
    do {                                                                       \
        if (n + 1 < len)                                                       \
            buf[n] = (c);                                                      \
        n++;                                                                   \
    } while (0)

    WEIR_ASSERT(s != NULL && (buf != NULL || len == 0));
    plain = s[0] != '\0' && s[strspn(s, safe)] == '\0';
    if (!plain)
        PUT('\'');
    for (i = 0; s[i] != '\0'; i++) {
        if (!plain && s[i] == '\'') {
            PUT('\'');
            PUT('\\');
            PUT('\'');
            PUT('\'');
        } else {
            PUT(s[i]);
        }
    }
    if (!plain)
        PUT('\'');
#undef PUT
    if (len > 0)
        buf[n < len ? n : len - 1] = '\0';
    return n;
}
