/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `${{ }}` templates. A scanner splits the text into literal pieces and
 * expression spans; tmpl_names parses the spans, tmpl_render evaluates them
 * into a buffer bounded by TMPL_MAX_LEN.
 *
 * In shell mode a value is quoted as one word, which is safe only where the
 * shell reads a word: not inside quotes, backquotes, comments or
 * here-documents, where the quotes we add would be literal text or the
 * value could end the construct, nor in arithmetic ($(( )) or (( ))), where
 * the shell expands the text again and quotes do not protect it. A small
 * tracker follows the shell's quoting through the literal text and refuses a
 * span anywhere else. It is only ever a second line of defence: where it cannot
 * follow the text it refuses, and where it misreads the text it can at worst
 * let through what quoting alone would have let through.
 */
#include "tmpl.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHELL_MAX_FRAMES   16 /* nested "..." and $(...) followed */
#define SHELL_MAX_HEREDOCS 4  /* here-documents started on one line */
#define SHELL_MAX_DELIM    64 /* longest here-document delimiter followed */
#define SHOW_MAX           60 /* longest expression quoted in an error */

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

enum shell_mode {
    SHELL_NORMAL,  /* reading code or "...", as the frames say */
    SHELL_SQUOTE,  /* inside '...' */
    SHELL_BQUOTE,  /* inside `...` */
    SHELL_COMMENT, /* after # up to the end of the line */
    SHELL_HDWORD,  /* reading the delimiter after << */
    SHELL_HEREDOC, /* inside the body of a here-document */
    SHELL_LOST,    /* past the limits: no longer following */
};

enum shell_frame {
    FRAME_CODE,   /* the script, or the inside of $(...) */
    FRAME_DQUOTE, /* inside "..." */
    FRAME_ARITH,  /* inside $((...)) or ((...)): read like code */
};

/* What the character before the current one opened, for "((". */
enum shell_lparen {
    LPAREN_NONE,   /* not an unquoted "(" */
    LPAREN_PLAIN,  /* "(": a subshell or a group */
    LPAREN_DOLLAR, /* "$(": the frame on top is its command */
};

struct heredoc {
    char word[SHELL_MAX_DELIM]; /* the delimiter, quotes removed */
    size_t len;                 /* its length */
    bool quoted;                /* some of it was quoted: it may be empty */
    bool strip;                 /* <<-: leading tabs do not count */
};

struct shell {
    enum shell_mode mode;                  /* what is being read */
    unsigned char frame[SHELL_MAX_FRAMES]; /* enum shell_frame, innermost
                                              last */
    int parens[SHELL_MAX_FRAMES];          /* FRAME_CODE: "(" open in it */
    int depth;                             /* frames in use, at least 1 */
    bool escaped;                          /* after an unquoted backslash */
    bool dollar;                           /* after an unquoted $ */
    enum shell_lparen lparen;              /* after an unquoted ( or $( */
    bool word;                             /* inside a word: # is no comment */
    int lts;                               /* "<" read in a row */
    char hd_quote;                         /* SHELL_HDWORD: open quote or 0 */
    bool hd_escaped;                       /* SHELL_HDWORD: after \ */
    struct heredoc hd[SHELL_MAX_HEREDOCS]; /* delimiters seen on this line */
    int hd_count;                          /* entries of hd in use */
    int hd_cur;                            /* SHELL_HEREDOC: whose body */
    char line[SHELL_MAX_DELIM];            /* SHELL_HEREDOC: line so far */
    size_t line_len;                       /* bytes in line */
    bool line_long;                        /* longer than any delimiter */
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

static void shell_init(struct shell *sh)
{
    memset(sh, 0, sizeof(*sh));
    sh->mode = SHELL_NORMAL;
    sh->frame[0] = FRAME_CODE;
    sh->depth = 1;
}

static void shell_push(struct shell *sh, enum shell_frame f)
{
    if (sh->depth == SHELL_MAX_FRAMES) {
        sh->mode = SHELL_LOST;
        return;
    }
    sh->frame[sh->depth] = (unsigned char)f;
    sh->parens[sh->depth] = 0;
    sh->depth++;
}

/* A newline in code: the bodies of pending here-documents start. */
static void shell_newline(struct shell *sh)
{
    sh->word = false;
    if (sh->hd_cur < sh->hd_count) {
        sh->mode = SHELL_HEREDOC;
        sh->line_len = 0;
        sh->line_long = false;
    }
}

static void shell_feed_code(struct shell *sh, char c);

static void heredoc_append(struct shell *sh, struct heredoc *h, char c)
{
    if (h->len == SHELL_MAX_DELIM) {
        sh->mode = SHELL_LOST;
        return;
    }
    h->word[h->len++] = c;
}

static bool is_shell_break(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' ||
           c == '|' || c == '<' || c == '>' || c == '(' || c == ')';
}

/* Read the delimiter word after "<<", removing its quotes as sh does. */
static void shell_feed_hdword(struct shell *sh, char c)
{
    struct heredoc *h = &sh->hd[sh->hd_count];

    if (sh->hd_escaped) {
        sh->hd_escaped = false;
        heredoc_append(sh, h, c);
    } else if (sh->hd_quote != 0) {
        if (c == sh->hd_quote)
            sh->hd_quote = 0;
        else if (c == '\\' && sh->hd_quote == '"')
            sh->hd_escaped = true;
        else
            heredoc_append(sh, h, c);
    } else if (c == '\'' || c == '"' || c == '\\') {
        h->quoted = true;
        if (c == '\\')
            sh->hd_escaped = true;
        else
            sh->hd_quote = c;
    } else if ((c == ' ' || c == '\t') && h->len == 0 && !h->quoted) {
        return;
    } else if (is_shell_break(c)) {
        if (h->len == 0 && !h->quoted) {
            sh->mode = SHELL_LOST;
            return;
        }
        sh->hd_count++;
        sh->mode = SHELL_NORMAL;
        shell_feed_code(sh, c);
    } else {
        heredoc_append(sh, h, c);
    }
}

/* Collect a body line; a line equal to the delimiter ends the body. */
static void shell_feed_heredoc(struct shell *sh, char c)
{
    const struct heredoc *h = &sh->hd[sh->hd_cur];

    if (c != '\n') {
        if (h->strip && c == '\t' && sh->line_len == 0 && !sh->line_long)
            return;
        if (sh->line_len < SHELL_MAX_DELIM)
            sh->line[sh->line_len++] = c;
        else
            sh->line_long = true;
        return;
    }
    if (!sh->line_long && sh->line_len == h->len &&
        memcmp(sh->line, h->word, h->len) == 0) {
        if (++sh->hd_cur == sh->hd_count) {
            sh->hd_cur = sh->hd_count = 0;
            sh->mode = SHELL_NORMAL;
            sh->word = false;
        }
    }
    sh->line_len = 0;
    sh->line_long = false;
}

static void shell_heredoc_start(struct shell *sh, char c)
{
    if (sh->hd_count == SHELL_MAX_HEREDOCS) {
        sh->mode = SHELL_LOST;
        return;
    }
    memset(&sh->hd[sh->hd_count], 0, sizeof(sh->hd[0]));
    sh->hd_quote = 0;
    sh->hd_escaped = false;
    sh->mode = SHELL_HDWORD;
    if (c == '-')
        sh->hd[sh->hd_count].strip = true;
    else
        shell_feed_hdword(sh, c);
}

/* ")" in code: closes a "(" of this frame, or the $( that opened it. */
static void shell_close_paren(struct shell *sh)
{
    int *open = &sh->parens[sh->depth - 1];

    if (*open > 0) {
        (*open)--;
        sh->word = false;
    } else if (sh->depth > 1) {
        sh->depth--;
        sh->word = true;
    }
}

/* A character of code that may open a quote, a substitution or a comment. */
static void shell_code_char(struct shell *sh, char c, bool was_dollar, int lts,
                            enum shell_lparen was_lparen)
{
    switch (c) {
    case '<':
        sh->lts = lts + 1;
        sh->word = false;
        return;
    case '\\':
    case '$':
        sh->escaped = c == '\\';
        sh->dollar = c == '$';
        break;
    case '\'':
    case '`':
        sh->mode = c == '\'' ? SHELL_SQUOTE : SHELL_BQUOTE;
        break;
    case '"':
        shell_push(sh, FRAME_DQUOTE);
        break;
    case '(':
        if (was_lparen == LPAREN_DOLLAR) {
            /* "$((": the frame "$(" opened is arithmetic, and "))" ends it */
            sh->frame[sh->depth - 1] = FRAME_ARITH;
            sh->parens[sh->depth - 1] = 1;
        } else if (was_lparen == LPAREN_PLAIN) {
            shell_push(sh, FRAME_ARITH); /* "((": arithmetic in some shells */
        } else if (was_dollar) {
            shell_push(sh, FRAME_CODE);
            sh->lparen = LPAREN_DOLLAR;
        } else {
            sh->parens[sh->depth - 1]++;
            sh->lparen = LPAREN_PLAIN;
        }
        sh->word = false;
        return;
    case ')':
        shell_close_paren(sh);
        return;
    case '#':
        if (!sh->word)
            sh->mode = SHELL_COMMENT;
        return;
    case '\n':
        shell_newline(sh);
        return;
    default:
        sh->word = !is_shell_break(c);
        return;
    }
    /* A quote, a backslash or a $ is part of the word it starts. */
    sh->word = true;
}

static void shell_feed_code(struct shell *sh, char c)
{
    bool was_dollar = sh->dollar;
    enum shell_lparen was_lparen = sh->lparen;
    int lts = sh->lts;

    sh->dollar = false;
    sh->lparen = LPAREN_NONE;
    sh->lts = 0;
    if (sh->escaped) {
        /* An escaped newline joins lines; anything else is a word. */
        sh->escaped = false;
        sh->word = c != '\n' || sh->word;
    } else if (lts == 2 && c != '<') {
        shell_heredoc_start(sh, c);
    } else {
        shell_code_char(sh, c, was_dollar, lts, was_lparen);
    }
}

static void shell_feed_dquote(struct shell *sh, char c)
{
    bool was_dollar = sh->dollar;

    sh->dollar = false;
    if (sh->escaped) {
        sh->escaped = false;
        return;
    }
    switch (c) {
    case '\\':
        sh->escaped = true;
        break;
    case '"':
        sh->depth--;
        sh->word = true;
        break;
    case '`':
        sh->mode = SHELL_BQUOTE;
        break;
    case '$':
        sh->dollar = true;
        break;
    case '(':
        if (was_dollar) {
            shell_push(sh, FRAME_CODE);
            sh->lparen = LPAREN_DOLLAR;
            sh->word = false;
        }
        break;
    default:
        break;
    }
}

static void shell_feed(struct shell *sh, char c)
{
    switch (sh->mode) {
    case SHELL_NORMAL:
        if (sh->frame[sh->depth - 1] == FRAME_DQUOTE)
            shell_feed_dquote(sh, c);
        else
            shell_feed_code(sh, c);
        break;
    case SHELL_SQUOTE:
        if (c == '\'')
            sh->mode = SHELL_NORMAL;
        break;
    case SHELL_BQUOTE:
        if (sh->escaped)
            sh->escaped = false;
        else if (c == '\\')
            sh->escaped = true;
        else if (c == '`')
            sh->mode = SHELL_NORMAL;
        break;
    case SHELL_COMMENT:
        if (c == '\n') {
            sh->mode = SHELL_NORMAL;
            shell_newline(sh);
        }
        break;
    case SHELL_HDWORD:
        shell_feed_hdword(sh, c);
        break;
    case SHELL_HEREDOC:
        shell_feed_heredoc(sh, c);
        break;
    case SHELL_LOST:
        break;
    }
}

/* Where a span would land, when that is not a place for a word; or NULL. */
static const char *shell_span_where(const struct shell *sh)
{
    switch (sh->mode) {
    case SHELL_SQUOTE:
        return NULL;
    case SHELL_BQUOTE:
        return "inside `backquotes`";
    case SHELL_COMMENT:
        return "in a # comment";
    case SHELL_HDWORD:
        return "in a here-document delimiter";
    case SHELL_HEREDOC:
        return "inside a here-document";
    case SHELL_LOST:
        return "where the quoting is nested too deeply to follow";
    case SHELL_NORMAL:
        break;
    }
    for (int i = 0; i < sh->depth; i++)
        if (sh->frame[i] == FRAME_ARITH)
            return "inside $(( arithmetic ))";
    if (sh->escaped)
        return "right after a backslash";
    if (sh->lts == 2)
        return "in a here-document delimiter";
    return NULL;
}

/* Reading code (not inside quotes), where a value becomes a new word. */
static bool shell_in_code(const struct shell *sh)
{
    return sh->mode == SHELL_NORMAL && sh->frame[sh->depth - 1] == FRAME_CODE;
}

/*
 * Quote s for where the shell is reading: as a word of its own in code;
 * inside '...' with each ' written as '\''; inside "..." with a backslash
 * before each of $ ` " \, the only characters special there. Each form
 * leaves the quoting state as it found it. snprintf semantics.
 */
static size_t shell_quote_here(const struct shell *sh, const char *s, char *buf,
                               size_t len)
{
    bool squote = sh->mode == SHELL_SQUOTE;
    size_t n = 0;

    if (shell_in_code(sh))
        return tmpl_shell_quote(s, buf, len);
    for (size_t i = 0; s[i] != '\0'; i++) {
        const char *put = NULL;
        char one[2] = {s[i], '\0'};
        char esc[3] = {'\\', s[i], '\0'};

        if (squote)
            put = s[i] == '\'' ? "'\\''" : one;
        else
            put = strchr("$`\"\\", s[i]) ? esc : one;
        for (; *put; put++, n++)
            if (n + 1 < len)
                buf[n] = *put;
    }
    if (len > 0)
        buf[n < len ? n : len - 1] = '\0';
    return n;
}

/* A quoted word was written: the shell is inside a word. */
static void shell_after_span(struct shell *sh)
{
    sh->word = true;
    sh->dollar = false;
    sh->lparen = LPAREN_NONE;
    sh->lts = 0;
}

/* Make room for more bytes and a NUL, within TMPL_MAX_LEN. */
static int obuf_reserve(struct obuf *b, size_t more, struct weir_err *err)
{
    size_t cap;
    char *p;

    if (more > TMPL_MAX_LEN - b->len) {
        weir_err_set(err, WEIR_ETOOBIG, "rendered text is longer than %d bytes",
                     TMPL_MAX_LEN);
        return WEIR_ETOOBIG;
    }
    if (b->len + more < b->cap)
        return 0;
    cap = b->cap < 256 ? 256 : b->cap;
    while (cap <= b->len + more)
        cap *= 2;
    if (cap > (size_t)TMPL_MAX_LEN + 1)
        cap = (size_t)TMPL_MAX_LEN + 1;
    p = realloc(b->p, cap);
    if (p == NULL) {
        weir_err_set(err, WEIR_ENOMEM, "out of memory rendering text");
        return WEIR_ENOMEM;
    }
    b->p = p;
    b->cap = cap;
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

static int render_span(struct render *r, const struct piece *pc)
{
    char msg[sizeof(r->err->msg)];
    const char *where;
    struct weir_err inner;
    struct expr *e = NULL;
    struct expr_value v;
    int rc;

    weir_err_clear(&inner);
    if (r->mode == TMPL_SHELL && (where = shell_span_where(&r->sh)) != NULL) {
        snprintf(msg, sizeof(msg),
                 "a value cannot go %s in a shell command; put the ${{ }} "
                 "outside them or pass the value through env:",
                 where);
        return span_fail(r, pc, WEIR_EINVAL, msg);
    }
    rc = expr_parse(r->text + pc->inner, pc->inner_len, &e, &inner, NULL);
    if (rc == 0)
        rc = expr_eval(e, r->resolve, r->ctx, &v, &inner);
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

static int render_text(struct render *r, const struct piece *pc)
{
    int rc = obuf_reserve(&r->out, pc->len, r->err);

    if (rc != 0)
        return rc;
    memcpy(r->out.p + r->out.len, r->text + pc->start, pc->len);
    r->out.len += pc->len;
    for (size_t i = 0; r->mode == TMPL_SHELL && i < pc->len; i++)
        shell_feed(&r->sh, r->text[pc->start + i]);
    return 0;
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

int tmpl_render(const char *text, enum tmpl_mode mode, expr_resolve_cb resolve,
                void *ctx, char **out, struct weir_err *err)
{
    struct render r = {
        .text = text, .mode = mode, .resolve = resolve, .ctx = ctx, .err = err};
    struct scanner s = {.text = text};
    struct weir_err scan_err;
    struct piece pc;
    int rc, off = 0;

    WEIR_ASSERT(text != NULL && out != NULL);
    shell_init(&r.sh);
    rc = text_check(text, &s.len, err, NULL);
    if (rc == 0)
        rc = obuf_reserve(&r.out, 0, err);
    while (rc == 0) {
        rc = scan_next(&s, &pc, &scan_err, &off);
        if (rc != 0) {
            weir_err_set(err, rc, "at offset %d: %s", off, scan_err.msg);
            break;
        }
        if (pc.kind == PIECE_END)
            break;
        rc =
            pc.kind == PIECE_SPAN ? render_span(&r, &pc) : render_text(&r, &pc);
    }
    if (rc != 0) {
        free(r.out.p);
        return rc;
    }
    r.out.p[r.out.len] = '\0';
    *out = r.out.p;
    return 0;
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
