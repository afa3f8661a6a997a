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
 */
#include "tmpl.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHELL_MAX_FRAMES   16 /* nested "...", ${...} and $(...) followed */
#define SHELL_MAX_CASES    8  /* nested `case` commands followed */
#define SHELL_MAX_WORD     24 /* longest word compared with command names */
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
    SHELL_NORMAL,  /* reading code, "..." or ${...}, as the frames say */
    SHELL_SQUOTE,  /* inside '...' */
    SHELL_ANSI,    /* inside $'...' (bash), which dash reads as $ '...' */
    SHELL_BQUOTE,  /* inside `...` */
    SHELL_COMMENT, /* after # up to the end of the line */
    SHELL_HDWORD,  /* reading the delimiter after << */
    SHELL_HEREDOC, /* inside the body of a here-document */
    SHELL_LOST,    /* no longer following: sh->lost says why */
};

enum shell_frame {
    FRAME_CODE,   /* the script, or the inside of $(...) */
    FRAME_DQUOTE, /* inside "..." */
    FRAME_ARITH,  /* inside $((...)) or ((...)): read like code */
    FRAME_PARAM,  /* inside ${...} */
};

/* What the character before the current one opened, for "((". */
enum shell_lparen {
    LPAREN_NONE,   /* not an unquoted "(" */
    LPAREN_PLAIN,  /* "(": a subshell or a group */
    LPAREN_DOLLAR, /* "$(": the frame on top is its command */
};

/* Whether the command being read runs some of its words as code again. */
enum shell_reeval {
    REEVAL_NONE, /* no */
    REEVAL_OPT,  /* yes once one of the options in `opts` comes */
    REEVAL_YES,  /* yes: eval, trap, sh -c and the like */
};

/* Where a `case` command is: its `)` after a pattern closes no "(". */
enum shell_case_state {
    CASE_SUBJ,      /* after `case`: the word tested */
    CASE_IN,        /* waiting for `in` */
    CASE_PAT_START, /* where a pattern list or `esac` may start */
    CASE_PAT,       /* reading a pattern list, up to its ")" */
    CASE_BODY,      /* reading the commands of a branch, up to ";;" */
};

struct heredoc {
    char word[SHELL_MAX_DELIM]; /* the delimiter, quotes removed */
    size_t len;                 /* its length */
    bool quoted;                /* some of it was quoted: it may be empty */
    bool strip;                 /* <<-: leading tabs do not count */
};

/*
 * One level of nesting. A FRAME_CODE frame also follows the simple command
 * it is reading, word by word: whether a reserved word such as `case`
 * counts, and whether the command runs its arguments as code again.
 */
struct shell_frame_state {
    enum shell_frame kind;    /* what this level is */
    int parens;               /* FRAME_CODE, FRAME_ARITH: "(" open in it */
    bool cmd;                 /* at a command's start: reserved words count */
    bool prefix;              /* only assignments and redirections so far */
    bool redir;               /* the next word is a redirection's target */
    bool test;                /* inside [[ ... ]] (bash: arithmetic) */
    enum shell_reeval reeval; /* does this command evaluate its text */
    const char *opts;         /* REEVAL_OPT: the options that make it so */
    int semis;                /* ";" read in a row */
    bool bar;                 /* the last byte was a "|" */
    bool piped;               /* after a "|" in this pipeline */
    bool wrapper;             /* the command runs the next words (env, sudo) */
    bool args;                /* past the command's name: words are data */
    int for_state;            /* after `for`: 1 before its name, 2 after */
    bool timed;               /* after `time`: a keyword in bash only */
    bool word;                /* inside a word: # is no comment */
    bool wcmd;                /* the word started where cmd was true */
    bool wplain;              /* the word has only unquoted literal bytes */
    bool wlit;                /* w still holds all of the word so far */
    char w[SHELL_MAX_WORD];   /* the word's leading literal bytes */
    size_t wlen;              /* bytes in w */
};

struct shell_case {
    int depth;                   /* the frame it was opened in */
    int parens;                  /* that frame's "(" count then */
    enum shell_case_state state; /* where it is */
};

struct shell {
    enum shell_mode mode;                         /* what is being read */
    const char *lost;                             /* SHELL_LOST: why */
    struct shell_frame_state f[SHELL_MAX_FRAMES]; /* innermost last */
    int depth;                                /* frames in use, at least 1 */
    struct shell_case cases[SHELL_MAX_CASES]; /* open `case`s, innermost last */
    int n_cases;                              /* entries of cases in use */
    bool bs;                                  /* a \ waits: a newline after it
                                                 joins lines */
    bool escaped;                             /* after an unquoted backslash */
    bool dollar;                              /* after an unquoted $ */
    enum shell_lparen lparen;                 /* after an unquoted ( or $( */
    int lts;                                  /* "<" read in a row */
    bool redir_op;                            /* after an unquoted < or > */
    bool pipes_to_shell;                      /* text is piped into sh */
    char hd_quote;                         /* SHELL_HDWORD: open quote or 0 */
    bool hd_escaped;                       /* SHELL_HDWORD: after \ */
    struct heredoc hd[SHELL_MAX_HEREDOCS]; /* delimiters seen on this line */
    int hd_count;                          /* entries of hd in use */
    int hd_cur;                            /* SHELL_HEREDOC: whose body */
    char line[SHELL_MAX_DELIM];            /* SHELL_HEREDOC: line so far */
    size_t line_len;                       /* bytes in line */
    bool line_long;                        /* longer than any delimiter */
    bool hd_bs;                            /* body: after an unescaped \ */
    bool hd_dollar;                        /* body: after an unescaped $ */
    bool hd_bq;                            /* body: inside `...` */
    char hd_nest[SHELL_MAX_FRAMES];        /* body: closers of open $( ${ */
    int hd_depth;                          /* entries of hd_nest in use */
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

/* Where a text pipes into a shell, no value is safe anywhere in it. */
#define SHELL_PIPED                                                            \
    "in a command that pipes text into a shell or an interpreter (| sh, "      \
    "| xargs and the like)"

/* Why the tracker stopped following the text (SHELL_LOST). */
#define LOST_DEEP     "where the quoting is nested too deeply to follow"
#define LOST_CASE     "after a `case` command whose end cannot be followed"
#define LOST_RESERVED "after a reserved word where shells do not take it as one"
#define LOST_PARAM_QUOTE                                                       \
    "after a ' inside \"${...}\", which shells read differently"
#define LOST_ANSI    "after $'...' with a backslash, which shells read differently"
#define LOST_BRACKET "after $[, which shells read differently"
#define LOST_HEREDOC                                                           \
    "after an expansion in a here-document that goes on past its line"

/*
 * Commands that run some of their words as code again, so that a quoted
 * value would be read a second time: always (opts NULL), or once an option
 * with one of the letters in opts comes (sh -c, su -c, python3 -c).
 */
struct reeval_name {
    const char *name; /* the command's name, without folders and version */
    const char *opts; /* option letters that make it evaluate, or NULL */
};

static const struct reeval_name reeval_names[] = {
    {"eval", NULL},  {"trap", NULL},   {"let", NULL},    {"watch", NULL},
    {"ssh", NULL},   {"sh", "c"},      {"bash", "c"},    {"dash", "c"},
    {"zsh", "c"},    {"ksh", "c"},     {"mksh", "c"},    {"ash", "c"},
    {"yash", "c"},   {"posh", "c"},    {"fish", "c"},    {"csh", "c"},
    {"tcsh", "c"},   {"su", "c"},      {"runuser", "c"}, {"flock", "c"},
    {"script", "c"}, {"python", "c"},  {"pypy", "c"},    {"perl", "eE"},
    {"ruby", "e"},   {"node", "ep"},   {"nodejs", "ep"}, {"php", "rR"},
    {"lua", "e"},    {"declare", "i"}, {"typeset", "i"}, {"local", "i"},
};

/* Long options that make one of the commands above evaluate text. */
static const char *const reeval_long[] = {"--command", "--session-command",
                                          "--eval", "--print"};

/*
 * Commands that run what they read on stdin as code (or as arguments of a
 * command): a value piped into them is read again.
 */
static const char *const stdin_runners[] = {
    "sh",   "bash",   "dash",  "zsh",      "ksh",    "mksh", "ash",
    "yash", "posh",   "fish",  "csh",      "tcsh",   "su",   "runuser",
    "ssh",  "python", "pypy",  "perl",     "ruby",   "node", "nodejs",
    "php",  "lua",    "xargs", "parallel", "source", ".",    "eval",
};

/* Commands that run the command named by their next words. */
static const char *const wrappers[] = {
    "env",    "exec",   "command", "builtin", "sudo",
    "doas",   "nice",   "nohup",   "time",    "timeout",
    "stdbuf", "setsid", "chroot",  "ionice",  "busybox",
};

/* Reserved words after which a command starts. */
static const char *const reserved_then[] = {
    "if", "then", "else", "elif", "do", "while", "until", "!", "{"};

/* Reserved words after which no command starts. */
static const char *const reserved_other[] = {
    "fi", "done", "}", "for", "select", "function", "in", "case", "esac"};

static void shell_lose(struct shell *sh, const char *why)
{
    if (sh->mode != SHELL_LOST) {
        sh->mode = SHELL_LOST;
        sh->lost = why;
    }
}

static struct shell_frame_state *shell_top(struct shell *sh)
{
    return &sh->f[sh->depth - 1];
}

/* The innermost `case` when it was opened in the innermost frame. */
static struct shell_case *shell_case_here(struct shell *sh)
{
    struct shell_case *k;

    if (sh->n_cases == 0)
        return NULL;
    k = &sh->cases[sh->n_cases - 1];
    return k->depth == sh->depth ? k : NULL;
}

/* A command starts: after ; & | ( or a newline. */
static void cmd_start(struct shell_frame_state *f)
{
    f->wrapper = false;
    f->args = false;
    f->for_state = 0;
    f->timed = false;
    f->cmd = true;
    f->prefix = false;
    f->redir = false;
    f->reeval = REEVAL_NONE;
    f->opts = NULL;
}

static void shell_init(struct shell *sh)
{
    memset(sh, 0, sizeof(*sh));
    sh->mode = SHELL_NORMAL;
    sh->f[0].kind = FRAME_CODE;
    cmd_start(&sh->f[0]);
    sh->depth = 1;
}

static void shell_push(struct shell *sh, enum shell_frame kind)
{
    struct shell_frame_state *f;

    if (sh->depth == SHELL_MAX_FRAMES) {
        shell_lose(sh, LOST_DEEP);
        return;
    }
    f = &sh->f[sh->depth++];
    memset(f, 0, sizeof(*f));
    f->kind = kind;
    cmd_start(f);
}

/* The innermost frame ends; a `case` still open in it means we misread. */
static void shell_pop(struct shell *sh)
{
    if (sh->n_cases > 0 && sh->cases[sh->n_cases - 1].depth >= sh->depth) {
        shell_lose(sh, LOST_CASE);
        return;
    }
    if (sh->depth > 1)
        sh->depth--;
}

/* The word being read in f takes c; literal: an unquoted plain byte. */
static void word_add(struct shell_frame_state *f, char c, bool literal)
{
    if (!f->word) {
        f->word = true;
        f->wcmd = f->cmd;
        f->wplain = true;
        f->wlit = true;
        f->wlen = 0;
    }
    if (!literal) {
        f->wplain = false;
        f->wlit = false;
    } else if (f->wlit) {
        if (f->wlen + 1 < SHELL_MAX_WORD) {
            f->w[f->wlen++] = c;
        } else {
            f->wplain = false;
            f->wlit = false;
        }
    }
}

static bool word_is(const struct shell_frame_state *f, const char *s)
{
    size_t n = strlen(s);

    return f->wplain && f->wlen == n && memcmp(f->w, s, n) == 0;
}

static bool word_in(const struct shell_frame_state *f, const char *const *list,
                    size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (word_is(f, list[i]))
            return true;
    return false;
}

/* Does the word start with an option that has one of the letters in opts? */
static bool word_opt(const struct shell_frame_state *f, const char *opts)
{
    size_t i;

    if (f->wlen < 2 || f->w[0] != '-')
        return false;
    if (f->w[1] == '-') {
        for (i = 0; i < sizeof(reeval_long) / sizeof(reeval_long[0]); i++) {
            size_t n = strlen(reeval_long[i]);

            if (f->wlen >= n && memcmp(f->w, reeval_long[i], n) == 0)
                return true;
        }
        return false;
    }
    for (i = 1; i < f->wlen; i++) {
        char c = f->w[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            break;
        if (strchr(opts, c) != NULL)
            return true;
    }
    return false;
}

/* `NAME=...` */
static bool word_assigns(const struct shell_frame_state *f)
{
    for (size_t i = 0; i < f->wlen; i++) {
        char c = f->w[i];

        if (c == '=')
            return i > 0;
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && c >= '0' && c <= '9')))
            return false;
    }
    return false;
}

/* The command name in the word, without its folders and version. */
static size_t word_base(const struct shell_frame_state *f, const char **name)
{
    size_t start = 0, n = f->wlen;

    for (size_t i = 0; i < f->wlen; i++)
        if (f->w[i] == '/')
            start = i + 1;
    while (n > start + 1 &&
           ((f->w[n - 1] >= '0' && f->w[n - 1] <= '9') || f->w[n - 1] == '.'))
        n--;
    *name = f->w + start;
    return n - start;
}

/* Is the word (a plain one) one of the commands in list? */
static bool word_named(const struct shell_frame_state *f,
                       const char *const *list, size_t count)
{
    const char *name;
    size_t n;

    if (!f->wplain)
        return false;
    n = word_base(f, &name);
    for (size_t i = 0; i < count; i++)
        if (strlen(list[i]) == n && memcmp(list[i], name, n) == 0)
            return true;
    return false;
}

/* A word of a command: does it make the command evaluate text? */
static void word_reeval(struct shell_frame_state *f, bool is_name)
{
    const char *name;
    size_t n;

    if (f->reeval == REEVAL_OPT && word_opt(f, f->opts)) {
        f->reeval = REEVAL_YES;
        return;
    }
    if (!f->wplain) {
        /* A command named by an expansion may be a shell. */
        if (is_name && f->reeval == REEVAL_NONE) {
            f->reeval = REEVAL_OPT;
            f->opts = "c";
        }
        return;
    }
    if (is_name && word_is(f, "[["))
        f->test = true;
    else if (word_is(f, "]]"))
        f->test = false;
    n = word_base(f, &name);
    for (size_t i = 0; i < sizeof(reeval_names) / sizeof(reeval_names[0]);
         i++) {
        if (strlen(reeval_names[i].name) != n ||
            memcmp(reeval_names[i].name, name, n) != 0)
            continue;
        if (reeval_names[i].opts == NULL) {
            f->reeval = REEVAL_YES;
        } else if (f->reeval == REEVAL_NONE) {
            f->reeval = REEVAL_OPT;
            f->opts = reeval_names[i].opts;
        }
        return;
    }
}

/* A word at a command's start that is a reserved word. */
static bool word_reserved(struct shell *sh, struct shell_frame_state *f,
                          struct shell_case *k)
{
    if (word_is(f, "case")) {
        if (sh->n_cases == SHELL_MAX_CASES) {
            shell_lose(sh, LOST_DEEP);
            return true;
        }
        sh->cases[sh->n_cases++] = (struct shell_case){
            .depth = sh->depth, .parens = f->parens, .state = CASE_SUBJ};
        f->cmd = false;
        return true;
    }
    if (word_is(f, "esac")) {
        if (k != NULL && k->state == CASE_BODY && k->parens == f->parens)
            sh->n_cases--;
        else
            shell_lose(sh, LOST_CASE);
        f->cmd = false;
        f->args = true;
        return true;
    }
    if (word_in(f, reserved_then,
                sizeof(reserved_then) / sizeof(reserved_then[0]))) {
        f->cmd = true;
        f->prefix = false;
        return true;
    }
    if (word_in(f, reserved_other,
                sizeof(reserved_other) / sizeof(reserved_other[0]))) {
        f->cmd = false;
        f->prefix = false;
        if (word_is(f, "for") || word_is(f, "select"))
            f->for_state = 1;
        else if (!word_is(f, "function"))
            f->args = true; /* fi, done, }, in: what follows is no command */
        return true;
    }
    return false;
}

/* The word being read in the innermost frame ends. */
static void word_end(struct shell *sh)
{
    struct shell_frame_state *f = shell_top(sh);
    struct shell_case *k = shell_case_here(sh);
    bool is_name;

    if (!f->word)
        return;
    f->word = false;
    if (f->kind != FRAME_CODE)
        return;
    if (k != NULL && k->state == CASE_SUBJ) {
        k->state = CASE_IN;
        return;
    }
    if (k != NULL && k->state == CASE_IN) {
        if (word_is(f, "in"))
            k->state = CASE_PAT_START;
        else
            shell_lose(sh, LOST_CASE);
        return;
    }
    if (k != NULL && (k->state == CASE_PAT_START || k->state == CASE_PAT)) {
        if (k->state == CASE_PAT_START && word_is(f, "esac")) {
            sh->n_cases--;
            f->cmd = false;
        } else {
            k->state = CASE_PAT;
        }
        return;
    }
    if (f->redir) {
        f->redir = false;
        return;
    }
    if (f->for_state == 1) {
        f->for_state = 2; /* the loop's variable */
        return;
    }
    if (f->for_state == 2) {
        /* `for NAME do` or `for NAME in WORDS` */
        f->for_state = 0;
        if (word_is(f, "do"))
            f->cmd = true;
        else if (word_is(f, "in"))
            f->args = true;
        else
            shell_lose(sh, LOST_RESERVED);
        return;
    }
    if (f->timed) {
        /* bash reads `time case ...` as a case command, dash as a call of
           the program time: not followed. */
        f->timed = false;
        if (f->wcmd &&
            (word_in(f, reserved_then,
                     sizeof(reserved_then) / sizeof(reserved_then[0])) ||
             word_in(f, reserved_other,
                     sizeof(reserved_other) / sizeof(reserved_other[0])))) {
            shell_lose(sh, LOST_RESERVED);
            return;
        }
    }
    if (f->wcmd && f->wplain && word_reserved(sh, f, k))
        return;
    /*
     * A reserved word where neither a command nor an argument is expected
     * (after an assignment or a redirection, or in a construct not
     * followed): shells may or may not take it as one.
     */
    if (!f->wcmd && !f->args &&
        (word_in(f, reserved_then,
                 sizeof(reserved_then) / sizeof(reserved_then[0])) ||
         word_in(f, reserved_other,
                 sizeof(reserved_other) / sizeof(reserved_other[0])) ||
         word_is(f, "coproc"))) {
        shell_lose(sh, LOST_RESERVED);
        return;
    }
    if ((f->wcmd || f->prefix) && word_assigns(f)) {
        f->cmd = false;
        f->prefix = true;
        return;
    }
    is_name = f->wcmd || f->prefix;
    f->cmd = false;
    f->prefix = false;
    if (is_name) {
        if (word_is(f, "coproc")) {
            shell_lose(sh, LOST_RESERVED); /* bash: a compound may follow */
            return;
        }
        if (word_is(f, "time") && !f->wrapper) {
            f->timed = true;
            f->cmd = true; /* what follows is read as a command's start */
            return;
        }
        f->args = true;
    }
    if (is_name || f->wrapper) {
        if (f->piped &&
            word_named(f, stdin_runners,
                       sizeof(stdin_runners) / sizeof(stdin_runners[0])))
            sh->pipes_to_shell = true;
        f->wrapper =
            f->wrapper ||
            word_named(f, wrappers, sizeof(wrappers) / sizeof(wrappers[0]));
    }
    word_reeval(f, is_name);
}

/* A newline in code: a command starts; pending here-documents start. */
static void shell_newline(struct shell *sh)
{
    cmd_start(shell_top(sh));
    shell_top(sh)->piped = false;
    if (sh->hd_cur < sh->hd_count) {
        sh->mode = SHELL_HEREDOC;
        sh->line_len = 0;
        sh->line_long = false;
        sh->hd_bs = sh->hd_dollar = sh->hd_bq = false;
        sh->hd_depth = 0;
    }
}

static void shell_feed_code(struct shell *sh, char c);

static void heredoc_append(struct shell *sh, struct heredoc *h, char c)
{
    if (h->len == SHELL_MAX_DELIM) {
        shell_lose(sh, LOST_DEEP);
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
            shell_lose(sh, LOST_DEEP);
            return;
        }
        sh->hd_count++;
        sh->mode = SHELL_NORMAL;
        shell_top(sh)->redir = false;
        shell_feed_code(sh, c);
    } else {
        heredoc_append(sh, h, c);
    }
}

/*
 * A byte of the body of a here-document whose delimiter is unquoted: there
 * the shell expands $ and ` and joins a line ending in \ with the next. An
 * expansion still open at the end of a line is read differently by dash
 * (which parses on into the next lines) and bash: no longer followed.
 * Returns true when c was the newline of a \ that joined two lines.
 */
static bool heredoc_expand(struct shell *sh, char c)
{
    bool bs = sh->hd_bs, dollar = sh->hd_dollar;
    bool nested = sh->hd_depth > 0;

    sh->hd_bs = false;
    sh->hd_dollar = false;
    if (bs) {
        if (c != '\n')
            return false;
        if (!sh->line_long && sh->line_len > 0)
            sh->line_len--; /* the \ is not part of the joined line */
        return true;
    }
    if (sh->hd_bq) {
        if (c == '`')
            sh->hd_bq = false;
        else if (c == '\\' || c == '\n')
            shell_lose(sh, LOST_HEREDOC);
        return false;
    }
    switch (c) {
    case '\\':
        if (nested)
            shell_lose(sh, LOST_HEREDOC);
        sh->hd_bs = true;
        break;
    case '$':
        sh->hd_dollar = !dollar; /* "$$" is a parameter */
        break;
    case '`':
        if (nested)
            shell_lose(sh, LOST_HEREDOC);
        sh->hd_bq = true;
        break;
    case '(':
    case '{':
        if (!dollar &&
            !(c == '(' && nested && sh->hd_nest[sh->hd_depth - 1] == ')'))
            break;
        if (sh->hd_depth == SHELL_MAX_FRAMES) {
            shell_lose(sh, LOST_DEEP);
            break;
        }
        sh->hd_nest[sh->hd_depth++] = c == '(' ? ')' : '}';
        break;
    case ')':
    case '}':
        if (nested && sh->hd_nest[sh->hd_depth - 1] == c)
            sh->hd_depth--;
        break;
    case '\n':
    case '\'':
    case '"':
    case '#':
    case '<':
        if (nested)
            shell_lose(sh, LOST_HEREDOC);
        break;
    default:
        break;
    }
    return false;
}

/* Collect a body line; a line equal to the delimiter ends the body. */
static void shell_feed_heredoc(struct shell *sh, char c)
{
    const struct heredoc *h = &sh->hd[sh->hd_cur];

    if (!h->quoted && heredoc_expand(sh, c))
        return;
    if (sh->mode != SHELL_HEREDOC)
        return;
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
            shell_top(sh)->word = false;
        }
        sh->hd_bs = sh->hd_dollar = sh->hd_bq = false;
        sh->hd_depth = 0;
    }
    sh->line_len = 0;
    sh->line_long = false;
}

static void shell_heredoc_start(struct shell *sh, char c)
{
    if (sh->hd_count == SHELL_MAX_HEREDOCS) {
        shell_lose(sh, LOST_DEEP);
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

/* ")" in code: ends a `case` pattern, closes a "(", or the $( frame. */
static void shell_close_paren(struct shell *sh)
{
    struct shell_frame_state *f = shell_top(sh);
    struct shell_case *k = shell_case_here(sh);

    if (k != NULL && (k->state == CASE_PAT || k->state == CASE_PAT_START) &&
        k->parens == f->parens) {
        k->state = CASE_BODY;
        cmd_start(f);
    } else if (f->parens > 0) {
        /* After "f()" a compound command (a reserved word) may follow. */
        f->parens--;
        cmd_start(f);
    } else if (sh->depth > 1) {
        shell_pop(sh);
    }
}

/* "(" in code or arithmetic. */
static void shell_open_paren(struct shell *sh, bool was_dollar,
                             enum shell_lparen was_lparen)
{
    struct shell_frame_state *f = shell_top(sh);
    struct shell_case *k = shell_case_here(sh);

    if (was_lparen == LPAREN_DOLLAR) {
        /* "$((": the frame "$(" opened is arithmetic, and "))" ends it */
        f->kind = FRAME_ARITH;
        f->parens = 1;
    } else if (was_lparen == LPAREN_PLAIN && f->kind == FRAME_CODE) {
        shell_push(sh, FRAME_ARITH); /* "((": arithmetic in some shells */
    } else if (was_dollar) {
        shell_push(sh, FRAME_CODE);
        sh->lparen = LPAREN_DOLLAR;
    } else if (k != NULL && k->state == CASE_PAT_START &&
               k->parens == f->parens) {
        k->state = CASE_PAT; /* the optional "(" before a pattern */
    } else {
        f->parens++;
        if (f->kind == FRAME_CODE) {
            cmd_start(f);
            sh->lparen = LPAREN_PLAIN;
        }
    }
}

/* ";", "&" or "|" in code. */
static void shell_operator(struct shell *sh, char c, bool after_redir,
                           int semis, bool was_bar)
{
    struct shell_frame_state *f = shell_top(sh);
    struct shell_case *k = shell_case_here(sh);
    bool in_body = k != NULL && k->state == CASE_BODY && k->parens == f->parens;

    if (after_redir && c != ';')
        return; /* ">&", "<&", ">|": part of a redirection */
    if (c == '|' && k != NULL &&
        (k->state == CASE_PAT || k->state == CASE_PAT_START))
        return; /* between two patterns */
    if (c == '|') {
        f->piped = !was_bar; /* "||" ends the pipeline */
        f->bar = !was_bar;
    } else {
        f->piped = false;
    }
    if (in_body && ((c == ';' && semis == 2) || (c == '&' && semis == 1)))
        k->state = CASE_PAT_START; /* ";;" or ";&" */
    cmd_start(f);
}

/* A character of code that may open a quote, a substitution or a comment. */
static void shell_code_char(struct shell *sh, char c, bool was_dollar, int lts,
                            enum shell_lparen was_lparen)
{
    struct shell_frame_state *f = shell_top(sh);
    bool code = f->kind == FRAME_CODE;
    bool after_redir = sh->redir_op;
    int prev = f->semis, semis = c == ';' ? prev + 1 : 0;
    bool was_bar = f->bar;

    sh->redir_op = false;
    f->semis = semis;
    f->bar = false;
    if (is_shell_break(c) && !(c == '(' && was_dollar) &&
        !(!code && (c == '<' || c == '>')))
        word_end(sh);
    switch (c) {
    case '<':
    case '>':
        if (!code)
            break;
        if (c == '<')
            sh->lts = lts + 1;
        sh->redir_op = true;
        if (f->cmd || f->prefix)
            f->prefix = true;
        f->cmd = false;
        f->redir = true;
        return;
    case ';':
    case '&':
    case '|':
        shell_operator(sh, c, after_redir, c == ';' ? semis : prev, was_bar);
        return;
    case '(':
        shell_open_paren(sh, was_dollar, was_lparen);
        return;
    case ')':
        shell_close_paren(sh);
        return;
    case '\n':
        shell_newline(sh);
        return;
    case ' ':
    case '\t':
        return;
    case '#':
        if (!f->word) {
            sh->mode = SHELL_COMMENT;
            return;
        }
        break;
    case '\\':
    case '$':
        word_add(f, c, false);
        sh->escaped = c == '\\';
        sh->dollar = c == '$' && !was_dollar; /* "$$" is a parameter */
        return;
    case '\'':
        word_add(f, c, false);
        sh->mode = was_dollar ? SHELL_ANSI : SHELL_SQUOTE;
        return;
    case '`':
        word_add(f, c, false);
        sh->mode = SHELL_BQUOTE;
        return;
    case '"':
        word_add(f, c, false);
        shell_push(sh, FRAME_DQUOTE);
        return;
    case '{':
        if (was_dollar) {
            shell_push(sh, FRAME_PARAM);
            return;
        }
        break;
    case '[':
        if (was_dollar) {
            shell_lose(sh, LOST_BRACKET);
            return;
        }
        break;
    default:
        break;
    }
    word_add(f, c, true);
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
        sh->escaped = false;
        sh->redir_op = false;
        shell_top(sh)->semis = 0;
        word_add(shell_top(sh), c, false);
    } else if (lts == 2 && c != '<') {
        sh->redir_op = false;
        shell_heredoc_start(sh, c);
    } else {
        shell_code_char(sh, c, was_dollar, lts, was_lparen);
    }
}

/* "$(", "${" or "$[" inside "..." or ${...}. */
static void shell_dollar_open(struct shell *sh, char c)
{
    if (c == '(') {
        shell_push(sh, FRAME_CODE);
        sh->lparen = LPAREN_DOLLAR;
    } else if (c == '{') {
        shell_push(sh, FRAME_PARAM);
    } else if (c == '[') {
        shell_lose(sh, LOST_BRACKET);
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
        shell_pop(sh);
        break;
    case '`':
        sh->mode = SHELL_BQUOTE;
        break;
    case '$':
        sh->dollar = !was_dollar; /* "$$" is a parameter */
        break;
    default:
        if (was_dollar)
            shell_dollar_open(sh, c);
        break;
    }
}

/* Is the innermost ${...} inside "..."? */
static bool param_in_dquote(const struct shell *sh)
{
    int i = sh->depth - 1;

    while (i > 0 && sh->f[i].kind == FRAME_PARAM)
        i--;
    return sh->f[i].kind == FRAME_DQUOTE;
}

/*
 * Inside ${...}: the first } that is not quoted, escaped or inside a nested
 * expansion ends it. A ' there quotes in code; inside "${...}" shells
 * disagree on it (it depends on the operator), so the tracker stops.
 */
static void shell_feed_param(struct shell *sh, char c)
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
    case '}':
        shell_pop(sh);
        break;
    case '\'':
        if (param_in_dquote(sh))
            shell_lose(sh, LOST_PARAM_QUOTE);
        else
            sh->mode = was_dollar ? SHELL_ANSI : SHELL_SQUOTE;
        break;
    case '"':
        shell_push(sh, FRAME_DQUOTE);
        break;
    case '`':
        sh->mode = SHELL_BQUOTE;
        break;
    case '$':
        sh->dollar = !was_dollar; /* "$$" is a parameter */
        break;
    default:
        if (was_dollar)
            shell_dollar_open(sh, c);
        break;
    }
}

static void shell_feed_one(struct shell *sh, char c)
{
    switch (sh->mode) {
    case SHELL_NORMAL:
        switch (shell_top(sh)->kind) {
        case FRAME_DQUOTE:
            shell_feed_dquote(sh, c);
            break;
        case FRAME_PARAM:
            shell_feed_param(sh, c);
            break;
        case FRAME_CODE:
        case FRAME_ARITH:
            shell_feed_code(sh, c);
            break;
        }
        break;
    case SHELL_SQUOTE:
        if (c == '\'')
            sh->mode = SHELL_NORMAL;
        break;
    case SHELL_ANSI:
        if (c == '\\')
            shell_lose(sh, LOST_ANSI);
        else if (c == '\'')
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

/* Where a \ followed by a newline is removed: the two join the lines. */
static bool shell_joins_lines(const struct shell *sh)
{
    if (sh->escaped)
        return false;
    if (sh->mode == SHELL_NORMAL)
        return true;
    return sh->mode == SHELL_HDWORD && sh->hd_quote != '\'' && !sh->hd_escaped;
}

/*
 * Feed one byte. A \ is held back until the next byte: with a newline the
 * pair vanishes, as in the shell ("$\<newline>(" is "$("); with anything
 * else both are read in order.
 */
static void shell_feed(struct shell *sh, char c)
{
    if (sh->bs) {
        sh->bs = false;
        if (c == '\n')
            return;
        shell_feed_one(sh, '\\');
        shell_feed_one(sh, c);
        return;
    }
    if (c == '\\' && shell_joins_lines(sh)) {
        sh->bs = true;
        return;
    }
    shell_feed_one(sh, c);
}

/* Does a frame's command evaluate the value's text as code again? */
static bool frame_reevals(const struct shell_frame_state *f)
{
    if (f->kind != FRAME_CODE)
        return false;
    if (f->reeval == REEVAL_YES || f->test)
        return true;
    /* "sh -c${{ }}" or "sh -c"${{ }}: the option is still being read. */
    return f->reeval == REEVAL_OPT && f->word && word_opt(f, f->opts);
}

/* Where a span would land, when that is not a place for a word; or NULL. */
static const char *shell_span_where(const struct shell *sh)
{
    switch (sh->mode) {
    case SHELL_SQUOTE:
    case SHELL_NORMAL:
        break;
    case SHELL_ANSI:
        return "inside $'...'";
    case SHELL_BQUOTE:
        return "inside `backquotes`";
    case SHELL_COMMENT:
        return "in a # comment";
    case SHELL_HDWORD:
        return "in a here-document delimiter";
    case SHELL_HEREDOC:
        return "inside a here-document";
    case SHELL_LOST:
        return sh->lost;
    }
    for (int i = 0; i < sh->depth; i++)
        if (sh->f[i].kind == FRAME_ARITH)
            return "inside $(( arithmetic ))";
    for (int i = 0; i < sh->depth; i++)
        if (sh->f[i].kind == FRAME_PARAM)
            return "inside a ${...} expansion";
    for (int i = 0; i < sh->depth; i++)
        if (frame_reevals(&sh->f[i]))
            return "in the text of a command that runs it as code (eval, "
                   "trap, sh -c and the like)";
    if (sh->pipes_to_shell)
        return SHELL_PIPED;
    if (sh->escaped || sh->bs)
        return "right after a backslash";
    if (sh->dollar)
        return "right after a $";
    if (sh->lts == 2)
        return "in a here-document delimiter";
    return NULL;
}

/* Reading code (not inside quotes), where a value becomes a new word. */
static bool shell_in_code(const struct shell *sh)
{
    return sh->mode == SHELL_NORMAL && sh->f[sh->depth - 1].kind == FRAME_CODE;
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

/* A quoted word was written in code: it is part of the word there. */
static void shell_after_span(struct shell *sh)
{
    struct shell_frame_state *f = shell_top(sh);

    word_add(f, 'x', false);
    f->semis = 0;
    sh->dollar = false;
    sh->lparen = LPAREN_NONE;
    sh->lts = 0;
    sh->redir_op = false;
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
            word_end(&r->sh);
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
