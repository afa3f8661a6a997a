/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Expressions: a lexer that reads one token ahead, a recursive-descent
 * parser that builds a tree, and an evaluator that walks it.
 *
 * All nodes and all strings of one expression live in two blocks sized from
 * the text length before parsing starts (every node and every string comes
 * from a distinct token of at least one byte), so parsing never reallocates,
 * node pointers stay valid, and every path frees with the same two calls.
 * Nesting is capped at EXPR_MAX_DEPTH twice: while parsing (open parentheses
 * and "!") and in the finished tree (chains of comparisons). That bounds the
 * recursion of the parser, the evaluator and the name walk, whatever the
 * input. && and || are n-ary nodes, so a long list of conditions stays flat.
 */
#include "expr.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The longest piece of source text quoted in an error message. */
#define SHOW_MAX 40

enum tok_kind {
    TOK_END,    /* end of the text */
    TOK_NUM,    /* a number literal */
    TOK_STR,    /* a string literal */
    TOK_NAME,   /* a dotted name */
    TOK_TRUE,   /* true */
    TOK_FALSE,  /* false */
    TOK_NULL,   /* null */
    TOK_OR,     /* || */
    TOK_AND,    /* && */
    TOK_EQ,     /* == */
    TOK_NE,     /* != */
    TOK_LT,     /* < */
    TOK_LE,     /* <= */
    TOK_GT,     /* > */
    TOK_GE,     /* >= */
    TOK_NOT,    /* ! */
    TOK_LPAREN, /* ( */
    TOK_RPAREN, /* ) */
};

struct token {
    enum tok_kind kind; /* what was read */
    int off;            /* byte offset of its first character */
    int len;            /* length of its source text */
    double num;         /* TOK_NUM: the value */
    const char *str;    /* TOK_STR, TOK_NAME: NUL-terminated, in the pool */
};

enum node_kind {
    NODE_LIT,  /* a literal value */
    NODE_NAME, /* a name the resolver looks up */
    NODE_NOT,  /* ! of kid */
    NODE_AND,  /* && of kid and its siblings, in order */
    NODE_OR,   /* || of kid and its siblings, in order */
    NODE_CMP,  /* kid op kid->next */
};

struct node {
    enum node_kind kind;   /* what this node does */
    enum tok_kind op;      /* NODE_CMP: which comparison */
    int off;               /* offset of the name, literal or operator */
    int depth;             /* height of the subtree; 0 for a leaf */
    struct expr_value lit; /* NODE_LIT: the value */
    const char *name;      /* NODE_NAME: the name, in the pool */
    struct node *kid;      /* first operand */
    struct node *next;     /* next operand of the same parent */
};

struct expr {
    struct node *nodes; /* every node; sized up front and never moved */
    size_t n_nodes;     /* nodes in use */
    size_t cap_nodes;   /* nodes allocated */
    char *pool;         /* names and unescaped strings, NUL-terminated */
    size_t pool_len;    /* bytes of the pool in use */
    size_t pool_cap;    /* bytes of the pool allocated */
    struct node *root;  /* the whole expression */
};

struct parser {
    const char *text;     /* the expression; not NUL-terminated */
    size_t len;           /* its length */
    size_t pos;           /* where the lexer reads next */
    struct token tok;     /* the current token, not yet consumed */
    struct token prev;    /* the token consumed last */
    bool has_prev;        /* false until a token has been consumed */
    struct expr *e;       /* where nodes and strings go */
    int nest;             /* parentheses and "!" open around tok */
    struct weir_err *err; /* the caller's error detail; may be NULL */
    int err_off;          /* offset of the failure */
};

struct evaluation {
    expr_resolve_cb resolve; /* looks names up; may be NULL */
    void *ctx;               /* passed to resolve */
    struct weir_err *err;    /* the caller's error detail; may be NULL */
};

static const char *const tok_text[] = {
    [TOK_OR] = "||", [TOK_AND] = "&&",   [TOK_EQ] = "==",    [TOK_NE] = "!=",
    [TOK_LT] = "<",  [TOK_LE] = "<=",    [TOK_GT] = ">",     [TOK_GE] = ">=",
    [TOK_NOT] = "!", [TOK_LPAREN] = "(", [TOK_RPAREN] = ")",
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || is_digit(c) || c == '-';
}

/* The C locale's spaces, spelled out so that setlocale cannot change them. */
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

static bool is_print(char c)
{
    return c >= 0x20 && c < 0x7f;
}

static void parse_error(struct parser *p, int code, size_t off, const char *fmt,
                        ...) WEIR_PRINTF(4, 5);

static void parse_error(struct parser *p, int code, size_t off, const char *fmt,
                        ...)
{
    va_list ap;

    p->err_off = (int)off;
    if (p->err == NULL)
        return;
    p->err->code = code;
    va_start(ap, fmt);
    vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
    va_end(ap);
}

/*
 * Record a parse failure and yield its code. A macro, so that the code
 * returned is visible where it is returned: analysers do not follow
 * variadic functions.
 */
#define PARSE_FAIL(p, code, off, ...)                                          \
    (parse_error((p), (code), (off), __VA_ARGS__), (code))

/*
 * Describe a token for an error message: its source text in quotes, cut
 * short when long, or "a string" (whose text may hold anything).
 */
static void tok_describe(const struct parser *p, const struct token *t,
                         char *buf, size_t len)
{
    int n = t->len < SHOW_MAX ? t->len : SHOW_MAX;

    if (t->kind == TOK_END)
        snprintf(buf, len, "the end");
    else if (t->kind == TOK_STR)
        snprintf(buf, len, "a string");
    else
        snprintf(buf, len, "\"%.*s%s\"", n, p->text + t->off,
                 t->len > SHOW_MAX ? "..." : "");
}

/* Describe one byte of input: "@" when printable, else its hex value. */
static void char_describe(char c, char *buf, size_t len)
{
    if (is_print(c))
        snprintf(buf, len, "character \"%c\"", c);
    else
        snprintf(buf, len, "byte 0x%02x", (unsigned char)c);
}

static int lex_name(struct parser *p)
{
    struct expr *e = p->e;
    size_t start = p->pos, i = p->pos, n;
    char *dst;

    for (;;) {
        while (i < p->len && is_name_char(p->text[i]))
            i++;
        if (i >= p->len || p->text[i] != '.')
            break;
        if (i + 1 >= p->len || !is_name_start(p->text[i + 1]))
            return PARSE_FAIL(p, WEIR_EPARSE, i + 1,
                              "expected a name after \".\"");
        i++;
    }
    n = i - start;
    p->tok.len = (int)n;
    p->pos = i;
    if (n == 4 && memcmp(p->text + start, "true", 4) == 0)
        p->tok.kind = TOK_TRUE;
    else if (n == 5 && memcmp(p->text + start, "false", 5) == 0)
        p->tok.kind = TOK_FALSE;
    else if (n == 4 && memcmp(p->text + start, "null", 4) == 0)
        p->tok.kind = TOK_NULL;
    else
        p->tok.kind = TOK_NAME;
    WEIR_ASSERT(e->pool_len + n + 1 <= e->pool_cap);
    dst = e->pool + e->pool_len;
    memcpy(dst, p->text + start, n);
    dst[n] = '\0';
    e->pool_len += n + 1;
    p->tok.str = dst;
    return 0;
}

/* Where the digits starting at i end. */
static size_t skip_digits(const struct parser *p, size_t i)
{
    while (i < p->len && is_digit(p->text[i]))
        i++;
    return i;
}

/* Check the shape -?D+(.D+)?([eE][+-]?D+)? and return where it ends. */
static int lex_number_end(struct parser *p, size_t *end)
{
    size_t i = p->pos;

    if (p->text[i] == '-' && (i + 1 >= p->len || !is_digit(p->text[i + 1])))
        return PARSE_FAIL(p, WEIR_EPARSE, i, "expected a digit after \"-\"");
    if (p->text[i] == '-')
        i++;
    i = skip_digits(p, i);
    if (i < p->len && p->text[i] == '.') {
        if (i + 1 >= p->len || !is_digit(p->text[i + 1]))
            return PARSE_FAIL(p, WEIR_EPARSE, i + 1,
                              "expected a digit after \".\" in a number");
        i = skip_digits(p, i + 1);
    }
    if (i < p->len && (p->text[i] == 'e' || p->text[i] == 'E')) {
        i++;
        if (i < p->len && (p->text[i] == '+' || p->text[i] == '-'))
            i++;
        if (i >= p->len || !is_digit(p->text[i]))
            return PARSE_FAIL(p, WEIR_EPARSE, i,
                              "expected a digit in the exponent of a number");
        i = skip_digits(p, i);
    }
    if (i < p->len && (is_name_char(p->text[i]) || p->text[i] == '.'))
        return PARSE_FAIL(p, WEIR_EPARSE, i, "unexpected \"%c\" after a number",
                          p->text[i]);
    *end = i;
    return 0;
}

static int lex_number(struct parser *p)
{
    char buf[EXPR_MAX_LEN + 1];
    size_t start = p->pos, end = 0, n;
    int rc = lex_number_end(p, &end);

    if (rc != 0)
        return rc;
    n = end - start;
    memcpy(buf, p->text + start, n);
    buf[n] = '\0';
    p->tok.num = strtod(buf, NULL);
    if (!isfinite(p->tok.num))
        return PARSE_FAIL(
            p, WEIR_EPARSE, start, "number \"%.*s%s\" is out of range",
            n < SHOW_MAX ? (int)n : SHOW_MAX, buf, n > SHOW_MAX ? "..." : "");
    p->tok.kind = TOK_NUM;
    p->tok.len = (int)n;
    p->pos = end;
    return 0;
}

/* The value of the escape "\c" in a double-quoted string, or -1. */
static int unescape(char c)
{
    static const char from[] = "\"'\\nt", to[] = "\"'\\\n\t";
    const char *at = c != '\0' ? strchr(from, c) : NULL;

    return at != NULL ? to[at - from] : -1;
}

/*
 * Read a string into the pool. Double-quoted strings know the escapes
 * \" \' \\ \n \t; single-quoted strings have none, so what is between the
 * quotes is taken as it is.
 */
static int lex_string(struct parser *p)
{
    struct expr *e = p->e;
    size_t start = p->pos, i = p->pos + 1, n = 0;
    char quote = p->text[start], *dst = e->pool + e->pool_len;

    /* The content and its NUL fit in the rest of the text: see the top. */
    WEIR_ASSERT(e->pool_len + (p->len - start) <= e->pool_cap);
    for (; i < p->len; i++) {
        char c = p->text[i];

        if (c == quote) {
            dst[n] = '\0';
            e->pool_len += n + 1;
            p->tok.kind = TOK_STR;
            p->tok.str = dst;
            p->tok.len = (int)(i + 1 - start);
            p->pos = i + 1;
            return 0;
        }
        if (c == '\0')
            return PARSE_FAIL(p, WEIR_EPARSE, i,
                              "a string cannot hold a NUL byte");
        if (c == '\\' && quote == '"') {
            if (i + 1 >= p->len)
                break;
            int u = unescape(p->text[++i]);

            if (u < 0 && is_print(p->text[i]))
                return PARSE_FAIL(p, WEIR_EPARSE, i - 1,
                                  "unknown escape \"\\%c\" in a string",
                                  p->text[i]);
            if (u < 0)
                return PARSE_FAIL(p, WEIR_EPARSE, i - 1,
                                  "unknown escape in a string: \"\\\" "
                                  "followed by byte 0x%02x",
                                  (unsigned char)p->text[i]);
            c = (char)u;
        }
        dst[n++] = c;
    }
    return PARSE_FAIL(p, WEIR_EPARSE, start, "unterminated string");
}

/*
 * Read the longest operator or parenthesis at p->pos, or explain why the
 * byte there starts none: "=", "&" and "|" are usually a doubled operator
 * written once.
 */
static int lex_operator(struct parser *p)
{
    const char *t = p->text + p->pos;
    size_t left = p->len - p->pos, best = 0;
    enum tok_kind k, kind = TOK_END;
    char what[32];

    for (k = TOK_OR; k <= TOK_RPAREN; k++) {
        size_t n = strlen(tok_text[k]);

        if (n > best && n <= left && memcmp(t, tok_text[k], n) == 0) {
            best = n;
            kind = k;
        }
    }
    if (best > 0) {
        p->tok.kind = kind;
        p->tok.len = (int)best;
        p->pos += best;
        return 0;
    }
    if (t[0] == '=' || t[0] == '&' || t[0] == '|')
        return PARSE_FAIL(p, WEIR_EPARSE, p->pos,
                          "\"%c\" is not an operator (did you mean "
                          "\"%c%c\"?)",
                          t[0], t[0], t[0]);
    if (t[0] == '.' && left > 1 && is_digit(t[1]))
        return PARSE_FAIL(p, WEIR_EPARSE, p->pos,
                          "expected a digit before \".\" in a number");
    char_describe(t[0], what, sizeof(what));
    return PARSE_FAIL(p, WEIR_EPARSE, p->pos, "unknown %s", what);
}

/* Read the next token into p->tok. */
static int lex_next(struct parser *p)
{
    char c;

    while (p->pos < p->len && is_space(p->text[p->pos]))
        p->pos++;
    memset(&p->tok, 0, sizeof(p->tok));
    p->tok.off = (int)p->pos;
    if (p->pos >= p->len) {
        p->tok.kind = TOK_END;
        return 0;
    }
    c = p->text[p->pos];
    if (is_name_start(c))
        return lex_name(p);
    if (is_digit(c) || c == '-')
        return lex_number(p);
    if (c == '"' || c == '\'')
        return lex_string(p);
    return lex_operator(p);
}

/* Consume the current token and read the next one. */
static int advance(struct parser *p)
{
    p->prev = p->tok;
    p->has_prev = true;
    return lex_next(p);
}

static struct node *node_new(struct parser *p, enum node_kind kind, int off)
{
    struct expr *e = p->e;
    struct node *n;

    WEIR_ASSERT(e->n_nodes < e->cap_nodes);
    n = &e->nodes[e->n_nodes++];
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->off = off;
    return n;
}

/* Account for a new operand of n, refusing a tree deeper than the cap. */
static int node_add_depth(struct parser *p, struct node *n,
                          const struct node *kid)
{
    if (kid->depth + 1 > n->depth)
        n->depth = kid->depth + 1;
    if (n->depth > EXPR_MAX_DEPTH)
        return PARSE_FAIL(p, WEIR_ETOOBIG, (size_t)n->off,
                          "expression nests more than %d levels deep",
                          EXPR_MAX_DEPTH);
    return 0;
}

/* Open one level of nesting ("(" or "!") at offset off. */
static int nest_enter(struct parser *p, int off)
{
    if (++p->nest > EXPR_MAX_DEPTH)
        return PARSE_FAIL(p, WEIR_ETOOBIG, (size_t)off,
                          "expression nests more than %d levels deep",
                          EXPR_MAX_DEPTH);
    return 0;
}

/* An operand was expected at p->tok and is not there. */
static void fail_operand(struct parser *p)
{
    char found[SHOW_MAX + 16], after[SHOW_MAX + 32];
    bool at_end = p->tok.kind == TOK_END;

    tok_describe(p, &p->tok, found, sizeof(found));
    if (!p->has_prev)
        snprintf(after, sizeof(after), "expected an expression");
    else if (p->prev.kind == TOK_LPAREN)
        snprintf(after, sizeof(after), "expected an expression after \"(\"");
    else
        snprintf(after, sizeof(after), "expected an operand after \"%s\"",
                 tok_text[p->prev.kind]);
    parse_error(p, WEIR_EPARSE, (size_t)p->tok.off, "%s%s%s", after,
                at_end ? "" : ", found ", at_end ? "" : found);
}

static int parse_chain(struct parser *p, struct node **out, bool is_or);

static int parse_group(struct parser *p, struct node **out)
{
    int open = p->tok.off, rc;

    rc = nest_enter(p, open);
    if (rc == 0)
        rc = advance(p);
    if (rc == 0)
        rc = parse_chain(p, out, true);
    if (rc != 0)
        return rc;
    if (p->tok.kind != TOK_RPAREN) {
        char found[SHOW_MAX + 16];

        tok_describe(p, &p->tok, found, sizeof(found));
        return PARSE_FAIL(p, WEIR_EPARSE, (size_t)p->tok.off,
                          "expected \")\" to close the \"(\" at offset %d, "
                          "found %s",
                          open, found);
    }
    p->nest--;
    return advance(p);
}

static int parse_primary(struct parser *p, struct node **out)
{
    struct node *n;

    switch (p->tok.kind) {
    case TOK_LPAREN:
        return parse_group(p, out);
    case TOK_NAME:
        n = node_new(p, NODE_NAME, p->tok.off);
        n->name = p->tok.str;
        break;
    case TOK_NUM:
    case TOK_STR:
    case TOK_TRUE:
    case TOK_FALSE:
    case TOK_NULL:
        n = node_new(p, NODE_LIT, p->tok.off);
        n->lit.type = p->tok.kind == TOK_NUM    ? EXPR_NUM
                      : p->tok.kind == TOK_STR  ? EXPR_STR
                      : p->tok.kind == TOK_NULL ? EXPR_NULL
                                                : EXPR_BOOL;
        n->lit.num = p->tok.num;
        n->lit.str = p->tok.str;
        n->lit.b = p->tok.kind == TOK_TRUE;
        break;
    default:
        fail_operand(p);
        return WEIR_EPARSE;
    }
    *out = n;
    return advance(p);
}

static int parse_unary(struct parser *p, struct node **out)
{
    struct node *n, *kid = NULL;
    int off = p->tok.off, rc;

    if (p->tok.kind != TOK_NOT)
        return parse_primary(p, out);
    rc = nest_enter(p, off);
    if (rc == 0)
        rc = advance(p);
    if (rc == 0)
        rc = parse_unary(p, &kid);
    if (rc != 0)
        return rc;
    p->nest--;
    n = node_new(p, NODE_NOT, off);
    n->kid = kid;
    *out = n;
    return node_add_depth(p, n, kid);
}

static bool is_comparison(enum tok_kind k, bool equality)
{
    if (equality)
        return k == TOK_EQ || k == TOK_NE;
    return k == TOK_LT || k == TOK_LE || k == TOK_GT || k == TOK_GE;
}

/* Left-associative == != (equality) or < <= > >= over the next level. */
static int parse_binary(struct parser *p, struct node **out, bool equality)
{
    struct node *lhs = NULL, *rhs = NULL, *n;
    int rc;

    rc = equality ? parse_binary(p, &lhs, false) : parse_unary(p, &lhs);
    while (rc == 0 && is_comparison(p->tok.kind, equality)) {
        enum tok_kind op = p->tok.kind;
        int off = p->tok.off;

        rc = advance(p);
        if (rc == 0)
            rc = equality ? parse_binary(p, &rhs, false) : parse_unary(p, &rhs);
        if (rc != 0)
            break;
        n = node_new(p, NODE_CMP, off);
        n->op = op;
        n->kid = lhs;
        lhs->next = rhs;
        rc = node_add_depth(p, n, lhs);
        if (rc == 0)
            rc = node_add_depth(p, n, rhs);
        lhs = n;
    }
    if (rc == 0)
        *out = lhs;
    return rc;
}

/* A list joined by || (is_or) or && as one n-ary node. */
static int parse_chain(struct parser *p, struct node **out, bool is_or)
{
    enum tok_kind op = is_or ? TOK_OR : TOK_AND;
    struct node *first = NULL, *last, *kid = NULL, *n;
    int rc;

    rc = is_or ? parse_chain(p, &first, false) : parse_binary(p, &first, true);
    if (rc != 0)
        return rc;
    if (p->tok.kind != op) {
        *out = first;
        return 0;
    }
    n = node_new(p, is_or ? NODE_OR : NODE_AND, p->tok.off);
    n->kid = last = first;
    rc = node_add_depth(p, n, first);
    while (rc == 0 && p->tok.kind == op) {
        rc = advance(p);
        if (rc == 0)
            rc = is_or ? parse_chain(p, &kid, false)
                       : parse_binary(p, &kid, true);
        if (rc == 0)
            rc = node_add_depth(p, n, kid);
        if (rc == 0) {
            last->next = kid;
            last = kid;
        }
    }
    if (rc == 0)
        *out = n;
    return rc;
}

/* Something follows a complete expression. */
static int fail_trailing(struct parser *p)
{
    char found[SHOW_MAX + 16];

    if (p->tok.kind == TOK_RPAREN)
        return PARSE_FAIL(p, WEIR_EPARSE, (size_t)p->tok.off,
                          "unexpected \")\"");
    tok_describe(p, &p->tok, found, sizeof(found));
    return PARSE_FAIL(p, WEIR_EPARSE, (size_t)p->tok.off,
                      "expected an operator, found %s", found);
}

/* Allocate the expression with room for the worst case of len bytes. */
static struct expr *expr_alloc(size_t len)
{
    struct expr *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return NULL;
    e->cap_nodes = len + 1;
    e->pool_cap = 2 * len + 1;
    e->nodes = calloc(e->cap_nodes, sizeof(*e->nodes));
    e->pool = malloc(e->pool_cap);
    if (e->nodes == NULL || e->pool == NULL) {
        expr_free(e);
        return NULL;
    }
    return e;
}

/*
 * Read a string as a number when all of it, but for surrounding spaces, is
 * a finite decimal number: [+-]digits[.digits][e[+-]digits], digits on at
 * least one side of the point. Hex, "inf" and "nan", which strtod would
 * also take, are left as strings.
 */
static bool str_number(const char *s, double *out)
{
    const char *p = s, *start;
    size_t digits = 0;
    double d;

    while (is_space(*p))
        p++;
    start = p;
    if (*p == '+' || *p == '-')
        p++;
    for (; is_digit(*p); p++)
        digits++;
    if (*p == '.')
        for (p++; is_digit(*p); p++)
            digits++;
    if (digits == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!is_digit(*p))
            return false;
        while (is_digit(*p))
            p++;
    }
    while (is_space(*p))
        p++;
    if (*p != '\0')
        return false;
    d = strtod(start, NULL);
    if (!isfinite(d))
        return false;
    *out = d;
    return true;
}

static bool value_number(const struct expr_value *v, double *out)
{
    if (v->type == EXPR_NUM) {
        *out = v->num;
        return true;
    }
    return v->type == EXPR_STR && str_number(v->str, out);
}

/* Write a number: an integer without decimals, else the shortest %g. */
static int num_format(double d, char *buf, size_t len)
{
    char tmp[40];
    int prec;

    if (isfinite(d) && d == trunc(d) && d >= -9223372036854775808.0 &&
        d < 9223372036854775808.0)
        return snprintf(buf, len, "%lld", (long long)d);
    if (!isfinite(d))
        return snprintf(buf, len, "%g", d);
    for (prec = 1; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
    return snprintf(buf, len, "%s", tmp);
}

/* Show a value in an error message: strings quoted and cut short. */
static void value_describe(const struct expr_value *v, char *buf, size_t len)
{
    char s[SHOW_MAX + 1];
    size_t n, i;

    if (v->type == EXPR_NULL) {
        snprintf(buf, len, "null");
        return;
    }
    if (v->type != EXPR_STR) {
        expr_value_format(v, buf, len);
        return;
    }
    n = strlen(v->str);
    for (i = 0; i < n && i < SHOW_MAX; i++) {
        s[i] = v->str[i];
        if (!is_print(s[i]))
            s[i] = '?';
    }
    s[i] = '\0';
    snprintf(buf, len, "\"%s%s\"", s, n > SHOW_MAX ? "..." : "");
}

/* Whether op holds between two sides whose order is <0, 0 or >0. */
static bool order_holds(enum tok_kind op, int order)
{
    switch (op) {
    case TOK_LT:
        return order < 0;
    case TOK_LE:
        return order <= 0;
    case TOK_GT:
        return order > 0;
    case TOK_GE:
        return order >= 0;
    case TOK_EQ:
        return order == 0;
    default:
        return order != 0;
    }
}

/* Same type and same value; numbers were handled before this. */
static bool values_same(const struct expr_value *a, const struct expr_value *b)
{
    return a->type == b->type &&
           (a->type == EXPR_NULL || (a->type == EXPR_BOOL && a->b == b->b) ||
            (a->type == EXPR_NUM && a->num == b->num) ||
            (a->type == EXPR_STR && strcmp(a->str, b->str) == 0));
}

/* Apply the comparison rule of expr.h. */
static int compare(const struct node *n, const struct expr_value *a,
                   const struct expr_value *b, struct expr_value *out,
                   struct weir_err *err)
{
    char da[SHOW_MAX + 8], db[SHOW_MAX + 8];
    double x, y;

    out->type = EXPR_BOOL;
    if (value_number(a, &x) && value_number(b, &y)) {
        /* NaN is unordered: only != holds. */
        if (isnan(x) || isnan(y))
            out->b = n->op == TOK_NE;
        else
            out->b = order_holds(n->op, (x > y) - (x < y));
    } else if (n->op == TOK_EQ || n->op == TOK_NE) {
        out->b = values_same(a, b) == (n->op == TOK_EQ);
    } else if (a->type == EXPR_STR && b->type == EXPR_STR) {
        out->b = order_holds(n->op, strcmp(a->str, b->str));
    } else {
        value_describe(a, da, sizeof(da));
        value_describe(b, db, sizeof(db));
        weir_err_set(err, WEIR_ETYPE, "cannot compare %s with %s using \"%s\"",
                     da, db, tok_text[n->op]);
        return WEIR_ETYPE;
    }
    return 0;
}

static int eval_name(const struct node *n, const struct evaluation *ev,
                     struct expr_value *out)
{
    struct expr_value v = {.type = EXPR_NULL};
    int rc;

    if (ev->resolve == NULL) {
        weir_err_set(ev->err, WEIR_ENOTFOUND, "unknown name \"%s\"", n->name);
        return WEIR_ENOTFOUND;
    }
    rc = ev->resolve(ev->ctx, n->name, &v, ev->err);
    if (rc < 0) {
        /* A resolver that forgot the detail still yields a clear error. */
        if (ev->err != NULL && ev->err->msg[0] == '\0')
            weir_err_set(ev->err, rc, "cannot resolve \"%s\"", n->name);
        else if (ev->err != NULL)
            ev->err->code = rc;
        return rc;
    }
    WEIR_ASSERT(v.type == EXPR_NULL || v.type == EXPR_BOOL ||
                v.type == EXPR_NUM || v.type == EXPR_STR);
    WEIR_ASSERT(v.type != EXPR_STR || v.str != NULL);
    *out = v;
    return 0;
}

static int eval_node(const struct node *n, const struct evaluation *ev,
                     struct expr_value *out)
{
    struct expr_value a, b;
    const struct node *k;
    int rc;

    switch (n->kind) {
    case NODE_LIT:
        *out = n->lit;
        return 0;
    case NODE_NAME:
        return eval_name(n, ev, out);
    case NODE_NOT:
        rc = eval_node(n->kid, ev, &a);
        if (rc != 0)
            return rc;
        out->type = EXPR_BOOL;
        out->b = !expr_truthy(&a);
        return 0;
    case NODE_AND:
    case NODE_OR:
        /* Stop at the first operand that decides: false for &&, true for
         * ||; the operands after it are never resolved. */
        for (k = n->kid; k != NULL; k = k->next) {
            rc = eval_node(k, ev, &a);
            if (rc != 0)
                return rc;
            if (expr_truthy(&a) == (n->kind == NODE_OR))
                break;
        }
        out->type = EXPR_BOOL;
        out->b = (k != NULL) == (n->kind == NODE_OR);
        return 0;
    case NODE_CMP:
        rc = eval_node(n->kid, ev, &a);
        if (rc == 0)
            rc = eval_node(n->kid->next, ev, &b);
        return rc != 0 ? rc : compare(n, &a, &b, out, ev->err);
    }
    WEIR_ASSERT(!"unknown node kind");
    return WEIR_EINTERNAL;
}

static int names_walk(const struct node *n, expr_name_cb cb, void *ctx)
{
    const struct node *k;

    if (n->kind == NODE_NAME)
        return cb(ctx, n->name, n->off);
    for (k = n->kid; k != NULL; k = k->next) {
        int rc = names_walk(k, cb, ctx);

        if (rc < 0)
            return rc;
    }
    return 0;
}

int expr_parse(const char *text, size_t len, struct expr **out,
               struct weir_err *err, int *err_offset)
{
    struct parser p;
    struct expr *e = NULL;
    int rc;

    WEIR_ASSERT(out != NULL && (text != NULL || len == 0));
    memset(&p, 0, sizeof(p));
    p.text = text != NULL ? text : "";
    p.len = len;
    p.err = err;
    if (len > EXPR_MAX_LEN) {
        rc = PARSE_FAIL(&p, WEIR_ETOOBIG, EXPR_MAX_LEN,
                        "expression is longer than %d bytes", EXPR_MAX_LEN);
        goto out;
    }
    e = expr_alloc(len);
    if (e == NULL) {
        rc = PARSE_FAIL(&p, WEIR_ENOMEM, 0, "out of memory for an expression");
        goto out;
    }
    p.e = e;
    rc = lex_next(&p);
    if (rc == 0)
        rc = parse_chain(&p, &e->root, true);
    if (rc == 0 && p.tok.kind != TOK_END)
        rc = fail_trailing(&p);
    if (rc == 0) {
        *out = e;
        e = NULL;
    }
out:
    if (rc != 0 && err_offset != NULL)
        *err_offset = p.err_off;
    expr_free(e);
    return rc;
}

void expr_free(struct expr *e)
{
    if (e == NULL)
        return;
    free(e->nodes);
    free(e->pool);
    free(e);
}

int expr_names(const struct expr *e, expr_name_cb cb, void *ctx)
{
    WEIR_ASSERT(e != NULL && cb != NULL);
    return names_walk(e->root, cb, ctx);
}

int expr_eval(const struct expr *e, expr_resolve_cb resolve, void *ctx,
              struct expr_value *out, struct weir_err *err)
{
    struct evaluation ev = {.resolve = resolve, .ctx = ctx, .err = err};
    struct expr_value v;
    int rc;

    WEIR_ASSERT(e != NULL && out != NULL);
    weir_err_clear(err);
    rc = eval_node(e->root, &ev, &v);
    if (rc == 0)
        *out = v;
    return rc;
}

bool expr_truthy(const struct expr_value *v)
{
    switch (v->type) {
    case EXPR_BOOL:
        return v->b;
    case EXPR_NUM:
        return v->num != 0 && !isnan(v->num);
    case EXPR_STR:
        return v->str[0] != '\0';
    default:
        return false;
    }
}

int expr_value_format(const struct expr_value *v, char *buf, size_t len)
{
    switch (v->type) {
    case EXPR_BOOL:
        return snprintf(buf, len, "%s", v->b ? "true" : "false");
    case EXPR_NUM:
        return num_format(v->num, buf, len);
    case EXPR_STR:
        return snprintf(buf, len, "%s", v->str);
    default:
        return snprintf(buf, len, "%s", "");
    }
}
