/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The templater's shell tracker, words: which simple command is being
 * read, whether its words are code again (eval, sh -c, a pipe into a
 * shell), and reserved words such as `case`. See tmpl.c for the design.
 */
#include "tmpl_shell.h"

#include <string.h>

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

/* The word being read in f takes c; literal: an unquoted plain byte. */
void shell_word_add(struct shell_frame_state *f, char c, bool literal)
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
bool shell_word_opt(const struct shell_frame_state *f, const char *opts)
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

    if (f->reeval == REEVAL_OPT && shell_word_opt(f, f->opts)) {
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

/* Whether the word in f is a reserved word (not `coproc`). */
static bool word_is_reserved(const struct shell_frame_state *f)
{
    return word_in(f, reserved_then,
                   sizeof(reserved_then) / sizeof(reserved_then[0])) ||
           word_in(f, reserved_other,
                   sizeof(reserved_other) / sizeof(reserved_other[0]));
}

/* A word ended in a `case` k before its branches: the subject, `in`, a
 * pattern or `esac`. Returns whether it was one of these. */
static bool case_word_end(struct shell *sh, struct shell_frame_state *f,
                          struct shell_case *k)
{
    if (k == NULL)
        return false;
    if (k->state == CASE_SUBJ) {
        k->state = CASE_IN;
        return true;
    }
    if (k->state == CASE_IN) {
        if (word_is(f, "in"))
            k->state = CASE_PAT_START;
        else
            shell_lose(sh, LOST_CASE);
        return true;
    }
    if (k->state == CASE_PAT_START || k->state == CASE_PAT) {
        if (k->state == CASE_PAT_START && word_is(f, "esac")) {
            sh->n_cases--;
            f->cmd = false;
        } else {
            k->state = CASE_PAT;
        }
        return true;
    }
    return false;
}

/* A word ended that is a redirection's target, or part of `for NAME do`
 * or `for NAME in WORDS`. Returns whether it was one of these. */
static bool syntax_word_end(struct shell *sh, struct shell_frame_state *f)
{
    if (f->redir) {
        f->redir = false;
        return true;
    }
    if (f->for_state == 1) {
        f->for_state = 2; /* the loop's variable */
        return true;
    }
    if (f->for_state == 2) {
        f->for_state = 0;
        if (word_is(f, "do"))
            f->cmd = true;
        else if (word_is(f, "in"))
            f->args = true;
        else
            shell_lose(sh, LOST_RESERVED);
        return true;
    }
    return false;
}

/* The command's name ended (is_name), or a word after a wrapper such as
 * env or sudo: `time`, `coproc`, pipes into a shell, more wrappers.
 * Returns false when the tracker stopped or the word is `time`. */
static bool name_word_end(struct shell *sh, struct shell_frame_state *f,
                          bool is_name)
{
    if (is_name) {
        if (word_is(f, "coproc")) {
            shell_lose(sh, LOST_RESERVED); /* bash: a compound may follow */
            return false;
        }
        if (word_is(f, "time") && !f->wrapper) {
            f->timed = true;
            f->cmd = true; /* what follows is read as a command's start */
            return false;
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
    return true;
}

/* The word being read in the innermost frame ends. */
void shell_word_end(struct shell *sh)
{
    struct shell_frame_state *f = shell_top(sh);
    struct shell_case *k = shell_case_here(sh);
    bool is_name;

    if (!f->word)
        return;
    f->word = false;
    if (f->kind != FRAME_CODE || case_word_end(sh, f, k) ||
        syntax_word_end(sh, f))
        return;
    if (f->timed) {
        /* bash reads `time case ...` as a case command, dash as a call of
           the program time: not followed. */
        f->timed = false;
        if (f->wcmd && word_is_reserved(f)) {
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
    if (!f->wcmd && !f->args && (word_is_reserved(f) || word_is(f, "coproc"))) {
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
    if (name_word_end(sh, f, is_name))
        word_reeval(f, is_name);
}
