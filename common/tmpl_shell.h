/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shell tracker of the templater (tmpl.c): it follows the shell's
 * reading of a template's literal text byte by byte, so that a value is
 * quoted for where it lands, or refused where no quoting is safe. See
 * tmpl.c for the design. Internal to common/.
 */
#ifndef WEIR_TMPL_SHELL_H
#define WEIR_TMPL_SHELL_H

#include <stdbool.h>
#include <stddef.h>

#define SHELL_MAX_FRAMES   16 /* nested "...", ${...} and $(...) followed */
#define SHELL_MAX_CASES    8  /* nested `case` commands followed */
#define SHELL_MAX_WORD     24 /* longest word compared with command names */
#define SHELL_MAX_HEREDOCS 4  /* here-documents started on one line */
#define SHELL_MAX_DELIM    64 /* longest here-document delimiter followed */

/* Where a text pipes into a shell, no value is safe anywhere in it. */
#define SHELL_PIPED                                                            \
    "in a command that pipes text into a shell or an interpreter (| sh, "      \
    "| xargs and the like)"

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

/* ---- shared by tmpl_shell.c and tmpl_word.c ---- */

/* Stop following the text: every later span is refused, saying why. */
void shell_lose(struct shell *sh, const char *why);

/* The innermost frame. */
struct shell_frame_state *shell_top(struct shell *sh);

/* The `case` open in the frame being read, or NULL. */
struct shell_case *shell_case_here(struct shell *sh);

/* A new simple command starts in f. */
void shell_cmd_start(struct shell_frame_state *f);

/* One more byte c of the word being read in f (literal: unquoted and
 * not from an expansion). */
void shell_word_add(struct shell_frame_state *f, char c, bool literal);

/* Whether the word in f is an option with one of the letters of opts. */
bool shell_word_opt(const struct shell_frame_state *f, const char *opts);

/* ---- for tmpl.c ---- */

/* Start following a script: code, one empty command. */
void shell_init(struct shell *sh);

/* Follow one more byte of literal text. */
void shell_feed(struct shell *sh, char c);

/* End the word being read (a span starts a word of its own). */
void shell_word_end(struct shell *sh);

/* Whether the tracker reads code (not a quote, comment or the like). */
bool shell_in_code(const struct shell *sh);

/* Where a span would land, when that is not a place for a word; or NULL. */
const char *shell_span_where(const struct shell *sh);

/* Quote s for where the shell is reading; snprintf semantics. */
size_t shell_quote_here(const struct shell *sh, const char *s, char *buf,
                        size_t len);

/* A quoted word was written in code: it is part of the word there. */
void shell_after_span(struct shell *sh);

#endif
