/* SPDX-License-Identifier: Apache-2.0 */
/* The shell tracker of the templater: see tmpl.c for the design. */
#include "tmpl_shell.h"

#include <stdio.h>
#include <string.h>

#include "tmpl.h"

void shell_lose(struct shell *sh, const char *why)
{
    if (sh->mode != SHELL_LOST) {
        sh->mode = SHELL_LOST;
        sh->lost = why;
    }
}

struct shell_frame_state *shell_top(struct shell *sh)
{
    return &sh->f[sh->depth - 1];
}

/* The innermost `case` when it was opened in the innermost frame. */
struct shell_case *shell_case_here(struct shell *sh)
{
    struct shell_case *k;

    if (sh->n_cases == 0)
        return NULL;
    k = &sh->cases[sh->n_cases - 1];
    return k->depth == sh->depth ? k : NULL;
}

/* A command starts: after ; & | ( or a newline. */
void shell_cmd_start(struct shell_frame_state *f)
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

void shell_init(struct shell *sh)
{
    memset(sh, 0, sizeof(*sh));
    sh->mode = SHELL_NORMAL;
    sh->f[0].kind = FRAME_CODE;
    shell_cmd_start(&sh->f[0]);
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
    shell_cmd_start(f);
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

/* A newline in code: a command starts; pending here-documents start. */
static void shell_newline(struct shell *sh)
{
    shell_cmd_start(shell_top(sh));
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
        shell_cmd_start(f);
    } else if (f->parens > 0) {
        /* After "f()" a compound command (a reserved word) may follow. */
        f->parens--;
        shell_cmd_start(f);
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
            shell_cmd_start(f);
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
    shell_cmd_start(f);
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
        shell_word_end(sh);
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
        shell_word_add(f, c, false);
        sh->escaped = c == '\\';
        sh->dollar = c == '$' && !was_dollar; /* "$$" is a parameter */
        return;
    case '\'':
        shell_word_add(f, c, false);
        sh->mode = was_dollar ? SHELL_ANSI : SHELL_SQUOTE;
        return;
    case '`':
        shell_word_add(f, c, false);
        sh->mode = SHELL_BQUOTE;
        return;
    case '"':
        shell_word_add(f, c, false);
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
    shell_word_add(f, c, true);
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
        shell_word_add(shell_top(sh), c, false);
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
void shell_feed(struct shell *sh, char c)
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
    return f->reeval == REEVAL_OPT && f->word && shell_word_opt(f, f->opts);
}

/* Where a span would land, when that is not a place for a word; or NULL. */
const char *shell_span_where(const struct shell *sh)
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
bool shell_in_code(const struct shell *sh)
{
    return sh->mode == SHELL_NORMAL && sh->f[sh->depth - 1].kind == FRAME_CODE;
}

/*
 * Quote s for where the shell is reading: as a word of its own in code;
 * inside '...' with each ' written as '\''; inside "..." with a backslash
 * before each of $ ` " \, the only characters special there. Each form
 * leaves the quoting state as it found it. snprintf semantics.
 */
size_t shell_quote_here(const struct shell *sh, const char *s, char *buf,
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
void shell_after_span(struct shell *sh)
{
    struct shell_frame_state *f = shell_top(sh);

    shell_word_add(f, 'x', false);
    f->semis = 0;
    sh->dollar = false;
    sh->lparen = LPAREN_NONE;
    sh->lts = 0;
    sh->redir_op = false;
}
