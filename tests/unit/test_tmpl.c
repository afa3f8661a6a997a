/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of `${{ }}` templates: spans, escapes, names, rendering in both
 * modes, and that shell mode keeps every value one harmless word when the
 * result really runs through /bin/sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tmpl.h"

struct var {
    const char *name;      /* dotted name */
    struct expr_value val; /* what it resolves to */
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
    {"run.environment", STR("prod")},
    {"matrix.lr", NUM(0.1)},
    {"matrix.depth", NUM(3)},
    {"params.flag", BOOL(true)},
    {"params.none", NUL},
    {"params.space", STR("a b")},
    {"params.empty", STR("")},
    {"params.quote", STR("it's")},
    {"params.safe", STR("a@%+=:,./-_Z9")},
};

/* What the resolver answers: the table, then params.p set by a test. */
struct env {
    const char *p; /* the value of params.p, or NULL when unknown */
    int calls;     /* resolver calls so far */
};

static int env_resolve_cb(void *ctx, const char *name, struct expr_value *out,
                          struct weir_err *err)
{
    struct env *env = ctx;
    size_t i;

    env->calls++;
    if (env->p != NULL && strcmp(name, "params.p") == 0) {
        out->type = EXPR_STR;
        out->str = env->p;
        return 0;
    }
    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        if (strcmp(vars[i].name, name) == 0) {
            *out = vars[i].val;
            return 0;
        }
    }
    return weir_err_set(err, WEIR_ENOTFOUND, "no param \"%s\"",
                        strchr(name, '.') ? strchr(name, '.') + 1 : name);
}

static void assert_render_env(const char *text, enum tmpl_mode mode,
                              struct env *env, const char *want)
{
    struct weir_err err = {0};
    char *out = NULL;
    int rc = tmpl_render(text, mode, env_resolve_cb, env, &out, &err);

    if (rc != 0)
        fail_msg("render of '%s' failed: %s", text, err.msg);
    assert_string_equal(out, want);
    free(out);
}

static void assert_render(const char *text, enum tmpl_mode mode,
                          const char *want)
{
    struct env env = {0};

    assert_render_env(text, mode, &env, want);
}

static void assert_render_fails_env(const char *text, enum tmpl_mode mode,
                                    struct env *env, int code, const char *msg)
{
    struct weir_err err = {0};
    char sentinel = 0, *out = &sentinel;

    assert_int_equal(tmpl_render(text, mode, env_resolve_cb, env, &out, &err),
                     code);
    assert_ptr_equal(out, &sentinel);
    assert_int_equal(err.code, code);
    if (msg != NULL)
        assert_string_equal(err.msg, msg);
}

static void assert_render_fails(const char *text, enum tmpl_mode mode, int code,
                                const char *msg)
{
    struct env env = {0};

    assert_render_fails_env(text, mode, &env, code, msg);
}

static void assert_quote(const char *s, const char *want)
{
    char buf[64];

    assert_int_equal(tmpl_shell_quote(s, buf, sizeof(buf)), strlen(want));
    assert_string_equal(buf, want);
    assert_int_equal(tmpl_shell_quote(s, NULL, 0), strlen(want));
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
        return WEIR_EEXISTS;
    assert_true(s->n < 8);
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
    s->offs[s->n++] = offset;
    return 0;
}

static void assert_names_fail(const char *text, int offset, const char *msg)
{
    struct seen s = {.stop_at = -1};
    struct weir_err err = {0};
    int off = -1;

    assert_int_equal(tmpl_names(text, seen_cb, &s, &err, &off), WEIR_EPARSE);
    assert_int_equal(err.code, WEIR_EPARSE);
    assert_string_equal(err.msg, msg);
    assert_int_equal(off, offset);
}

/* Run cmd through /bin/sh -c and return what it printed (caller frees). */
static char *sh_output(const char *cmd)
{
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap);
    FILE *f = popen(cmd, "r");
    int status;

    assert_non_null(buf);
    assert_non_null(f);
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        assert_true(len + 1 < cap);
    }
    buf[len] = '\0';
    status = pclose(f);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    return buf;
}

/* Entries in dir other than . and .. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *ent;
    int n = 0;

    assert_non_null(d);
    while ((ent = readdir(d)) != NULL)
        if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void test_render_plain(void **state)
{
    (void)state;
    assert_render("DATA_DIR=/data/${{ run.environment }}", TMPL_PLAIN,
                  "DATA_DIR=/data/prod");
    assert_render("lr=${{matrix.lr}} depth=${{ matrix.depth }}", TMPL_PLAIN,
                  "lr=0.1 depth=3");
    assert_render("${{ params.flag }}|${{ params.none }}|${{ params.space }}",
                  TMPL_PLAIN, "true||a b");
    assert_render("${{\n  run.environment\n}}", TMPL_PLAIN, "prod");
    assert_render("${{ matrix.lr < 0.5 && run.environment == 'prod' }}",
                  TMPL_PLAIN, "true");
    assert_render("${{ -2 }} ${{ 'it\\s' }}", TMPL_PLAIN, "-2 it\\s");
    assert_render("\"${{ params.quote }}\"", TMPL_PLAIN, "\"it's\"");
    assert_render("no spans at all", TMPL_PLAIN, "no spans at all");
    assert_render("", TMPL_PLAIN, "");
    assert_render("$ {{ x }} ${ {x}} $x }}", TMPL_PLAIN,
                  "$ {{ x }} ${ {x}} $x }}");
}

static void test_render_shell(void **state)
{
    (void)state;
    assert_render("train --lr ${{ matrix.lr }} --depth ${{ matrix.depth }}",
                  TMPL_SHELL, "train --lr 0.1 --depth 3");
    assert_render("echo ${{ params.space }}", TMPL_SHELL, "echo 'a b'");
    assert_render("echo ${{ params.empty }}", TMPL_SHELL, "echo ''");
    assert_render("echo ${{ params.none }}", TMPL_SHELL, "echo ''");
    assert_render("echo ${{ params.quote }}", TMPL_SHELL, "echo 'it'\\''s'");
    assert_render("echo ${{ params.safe }}", TMPL_SHELL, "echo a@%+=:,./-_Z9");
    assert_render("echo --name=${{ params.space }}x", TMPL_SHELL,
                  "echo --name='a b'x");
    assert_render("echo ${{ params.flag }}", TMPL_SHELL, "echo true");
    /* "<<<" is a here-string, not a here-document: no body follows. */
    assert_render("cat <<< \"it's\"\necho ${{ params.space }}", TMPL_SHELL,
                  "cat <<< \"it's\"\necho 'a b'");
}

static void test_shell_quote(void **state)
{
    char buf[4];

    (void)state;
    assert_quote("abc", "abc");
    assert_quote("a@%+=:,./-_Z9", "a@%+=:,./-_Z9");
    assert_quote("", "''");
    assert_quote("a b", "'a b'");
    assert_quote("'", "''\\'''");
    assert_quote("it's", "'it'\\''s'");
    assert_quote("$(x)", "'$(x)'");
    assert_quote("a\nb", "'a\nb'");
    assert_quote("~", "'~'");
    assert_quote("*", "'*'");
    assert_quote("\xc3\xa9", "'\xc3\xa9'");
    /* snprintf semantics: the needed length, the text cut to fit. */
    assert_int_equal(tmpl_shell_quote("a b", buf, sizeof(buf)), 5);
    assert_string_equal(buf, "'a ");
    assert_int_equal(tmpl_shell_quote("abcdef", buf, sizeof(buf)), 6);
    assert_string_equal(buf, "abc");
    assert_int_equal(tmpl_shell_quote("abc", buf, 1), 3);
    assert_string_equal(buf, "");
}

static void test_escapes(void **state)
{
    struct seen s = {.stop_at = -1};
    struct weir_err err = {0};

    (void)state;
    assert_render("$${{ x }}", TMPL_PLAIN, "${{ x }}");
    assert_render("$${{ x }}", TMPL_SHELL, "${{ x }}");
    assert_render("a $${{ not.parsed && }} ${{ run.environment }}", TMPL_PLAIN,
                  "a ${{ not.parsed && }} prod");
    assert_render("echo $$ $HOME ${HOME}", TMPL_SHELL, "echo $$ $HOME ${HOME}");
    /* The leftmost match wins: "$$${{" is "$" then the escape. */
    assert_render("$$${{ x }}", TMPL_PLAIN, "$${{ x }}");
    assert_render("$$$${{ run.environment }}", TMPL_PLAIN,
                  "$$${{ run.environment }}");
    assert_render("$${{${{ run.environment }}", TMPL_PLAIN, "${{prod");
    /* "}}" inside a string of the expression does not end the span. */
    assert_render("${{ \"}}\" }}", TMPL_PLAIN, "}}");
    assert_render("${{ '}}' == \"}}\" }}!", TMPL_PLAIN, "true!");
    assert_render("${{ \"\\\"}}\" }}", TMPL_PLAIN, "\"}}");
    assert_render("${{ run.environment }}}", TMPL_PLAIN, "prod}");
    assert_int_equal(tmpl_names("$${{ a.b }} $${{", seen_cb, &s, &err, NULL),
                     0);
    assert_int_equal(s.n, 0);
}

static void test_names(void **state)
{
    const char *text = "python3 train.py --lr ${{ matrix.lr }} --v "
                       "${{params.v == 'a}}' && steps.s.outputs.k}} $${{ no }}";
    struct seen s = {.stop_at = -1};
    struct weir_err err = {0};
    int off = -1;

    (void)state;
    assert_int_equal(tmpl_names(text, seen_cb, &s, &err, &off), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.names[0], "matrix.lr");
    assert_int_equal(s.offs[0], 26);
    assert_string_equal(s.names[1], "params.v");
    assert_int_equal(s.offs[1], 46);
    assert_string_equal(s.names[2], "steps.s.outputs.k");
    assert_int_equal(s.offs[2], 67);
    assert_int_equal(strncmp(text + 26, "matrix.lr", 9), 0);
    assert_int_equal(strncmp(text + 46, "params.v", 8), 0);
    assert_int_equal(strncmp(text + 67, "steps.s.outputs.k", 17), 0);

    memset(&s, 0, sizeof(s));
    s.stop_at = 1;
    assert_int_equal(tmpl_names(text, seen_cb, &s, &err, &off), WEIR_EEXISTS);
    assert_int_equal(s.n, 1);
}

static void test_malformed(void **state)
{
    (void)state;
    assert_names_fail("echo ${{ params.x", 5,
                      "unterminated \"${{\" (expected \"}}\")");
    assert_names_fail("echo ${{ params.x }", 5,
                      "unterminated \"${{\" (expected \"}}\")");
    assert_names_fail("${{ }}", 0, "empty \"${{ }}\"");
    assert_names_fail("x ${{}}", 2, "empty \"${{ }}\"");
    assert_names_fail("a ${{ b && }} c", 11,
                      "expected an operand after \"&&\"");
    assert_names_fail("${{ \"abc }}", 4, "unterminated string");
    assert_names_fail("${{ a }} ${{ 'x }}", 13, "unterminated string");
    assert_names_fail("${{ a = 1 }}", 6,
                      "\"=\" is not an operator (did you mean \"==\"?)");
    assert_names_fail("ok ${{ a }} ${{ a b }}", 18,
                      "expected an operator, found \"b\"");

    assert_render_fails("echo ${{ params.x", TMPL_SHELL, WEIR_EPARSE,
                        "at offset 5: unterminated \"${{\" (expected \"}}\")");
    assert_render_fails("${{   }}", TMPL_PLAIN, WEIR_EPARSE,
                        "at offset 0: empty \"${{ }}\"");
    assert_render_fails("a ${{ b && }} c", TMPL_PLAIN, WEIR_EPARSE,
                        "in ${{ b && }}: expected an operand after \"&&\"");
    assert_render_fails("a ${{ b\n&&\n}} c", TMPL_PLAIN, WEIR_EPARSE,
                        "in ${{ b && }}: expected an operand after \"&&\"");
}

static void test_render_errors(void **state)
{
    struct env env = {0};

    (void)state;
    assert_render_fails("echo ${{ params.x }}", TMPL_SHELL, WEIR_ENOTFOUND,
                        "in ${{ params.x }}: no param \"x\"");
    assert_render_fails("${{ 1 < true }}", TMPL_PLAIN, WEIR_ETYPE,
                        "in ${{ 1 < true }}: cannot compare 1 with true "
                        "using \"<\"");
    assert_render_fails("${{ params.a_very_long_name_that_goes_on_and_on_and_"
                        "on_for_a_while }}",
                        TMPL_PLAIN, WEIR_ENOTFOUND,
                        "in ${{ params.a_very_long_name_that_goes_on_and_on_"
                        "and_on_for_a_whi... }}: no param "
                        "\"a_very_long_name_that_goes_on_and_on_and_on_for_a_"
                        "while\"");
    /* The spans before the failing one were resolved, none after it. */
    assert_render_fails_env("${{ run.environment }} ${{ params.x }} "
                            "${{ matrix.lr }}",
                            TMPL_PLAIN, &env, WEIR_ENOTFOUND, NULL);
    assert_int_equal(env.calls, 2);
}

static void test_shell_refused(void **state)
{
    static const char tail[] = " in a shell command; put the ${{ }} outside "
                               "them or pass the value through env:";
    char msg[256];

    (void)state;
    snprintf(msg, sizeof(msg),
             "in ${{ params.p }}: a value cannot go in a "
             "# comment%s",
             tail);
    assert_render_fails("echo ${{ run.environment }} # ${{ params.p }}",
                        TMPL_SHELL, WEIR_EINVAL, msg);
    assert_render_fails("#${{ params.p }}", TMPL_SHELL, WEIR_EINVAL, msg);
    snprintf(msg, sizeof(msg),
             "in ${{ params.p }}: a value cannot go inside "
             "a here-document%s",
             tail);
    assert_render_fails("cat <<EOF\nx ${{ params.p }}\nEOF\n", TMPL_SHELL,
                        WEIR_EINVAL, msg);
    assert_render_fails("cat <<'EOF'\nEOF \nEOFX\n${{ params.p }}\nEOF\n",
                        TMPL_SHELL, WEIR_EINVAL, msg);
    assert_render_fails("cat <<\"END OF\"\nEND\n${{ params.p }}\nEND OF\n",
                        TMPL_SHELL, WEIR_EINVAL, msg);
    assert_render_fails("cat <<A <<B\nA\n${{ params.p }}\nB\n", TMPL_SHELL,
                        WEIR_EINVAL, msg);
    snprintf(msg, sizeof(msg),
             "in ${{ params.p }}: a value cannot go in a "
             "here-document delimiter%s",
             tail);
    assert_render_fails("cat <<${{ params.p }}", TMPL_SHELL, WEIR_EINVAL, msg);
    assert_render_fails("cat << ${{ params.p }}", TMPL_SHELL, WEIR_EINVAL, msg);
    snprintf(msg, sizeof(msg),
             "in ${{ params.p }}: a value cannot go inside "
             "`backquotes`%s",
             tail);
    assert_render_fails("echo `echo ${{ params.p }}`", TMPL_SHELL, WEIR_EINVAL,
                        msg);
    snprintf(msg, sizeof(msg),
             "in ${{ params.p }}: a value cannot go right "
             "after a backslash%s",
             tail);
    assert_render_fails("echo \\${{ params.p }}", TMPL_SHELL, WEIR_EINVAL, msg);
    /* Plain mode has no shell to protect. */
    assert_render("echo \"${{ params.space }}\" '${{ params.space }}'",
                  TMPL_PLAIN, "echo \"a b\" 'a b'");
}

static void test_shell_refused_deep(void **state)
{
    char text[512] = "echo ";
    size_t n = strlen(text);
    int i;

    (void)state;
    /* Deeper than the tracker follows: refused rather than guessed. */
    for (i = 0; i < 20; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "\"$(");
    snprintf(text + n, sizeof(text) - n, "echo ${{ params.space }}");
    assert_render_fails(text, TMPL_SHELL, WEIR_EINVAL,
                        "in ${{ params.space }}: a value cannot go where the "
                        "quoting is nested too deeply to follow in a shell "
                        "command; put the ${{ }} outside them or pass the "
                        "value through env:");
}

/* Render cmd in shell mode with params.p = p, run it, compare the output. */
static void assert_sh_prints(const char *cmd, const char *p, const char *want)
{
    struct env env = {.p = p};
    struct weir_err err = {0};
    char *out = NULL, *got;

    if (tmpl_render(cmd, TMPL_SHELL, env_resolve_cb, &env, &out, &err) != 0)
        fail_msg("render of '%s' failed: %s", cmd, err.msg);
    got = sh_output(out);
    assert_string_equal(got, want);
    free(got);
    free(out);
}

static void test_shell_allowed(void **state)
{
    (void)state;
    assert_sh_prints("echo a#${{ params.p }}", "x y", "a#x y\n");
    assert_sh_prints("echo \"it's\" ${{ params.p }}", "a b", "it's a b\n");
    assert_sh_prints("echo 'say \"hi\"' ${{ params.p }}", "a b",
                     "say \"hi\" a b\n");
    assert_sh_prints("echo \\\" ${{ params.p }} \\'", "a b", "\" a b '\n");
    assert_sh_prints("echo $(( 1 + 2 )) ${{ params.p }}", "a b", "3 a b\n");
    assert_sh_prints("printf '%s|' \"$(printf '%s' ${{ params.p }})\"",
                     "a  'b' $(c)", "a  'b' $(c)|");
    assert_sh_prints("printf '%s|' $(printf '(%s)' ${{ params.p }})", "ab",
                     "(ab)|");
    assert_sh_prints("# it's a comment\necho ${{ params.p }}", "a b", "a b\n");
    assert_sh_prints("cat <<'EOF'\nit's ${x}\nEOF\necho ${{ params.p }}", "a b",
                     "it's ${x}\na b\n");
    assert_sh_prints("cat <<-\"EOF\"\n\t\"\n\tEOF\necho ${{ params.p }}", "a b",
                     "\"\na b\n");
    assert_sh_prints("cat <<A; cat <<B\n1'\nA\n2\"\nB\necho ${{ params.p }}",
                     "a b", "1'\n2\"\na b\n");
    assert_sh_prints("x=$(cat <<EOF\nhi\nEOF\n) && echo $x ${{ params.p }}",
                     "a b", "hi a b\n");
    assert_sh_prints("echo `echo \"'\"` ${{ params.p }}", "a b", "' a b\n");
    assert_sh_prints("echo ${{ params.p }}${{ params.p }}", "'", "''\n");
}

/* text is refused in shell mode, with this reason, at its first span. */
static void assert_refused(const char *text, const char *where)
{
    char msg[512], shown[80];
    const char *span = strstr(text, "${{"), *end = strstr(span, "}}");
    struct env env = {.p = "v"};
    struct weir_err err = {0};
    int off = -1;

    snprintf(shown, sizeof(shown), "%.*s", (int)(end - span - 5), span + 4);
    snprintf(msg, sizeof(msg),
             "in ${{ %s }}: a value cannot go %s in a shell command; put the "
             "${{ }} outside them or pass the value through env:",
             shown, where);
    assert_render_fails_env(text, TMPL_SHELL, &env, WEIR_EINVAL, msg);
    assert_int_equal(tmpl_check_shell(text, &err, &off), WEIR_EINVAL);
    assert_string_equal(err.msg, msg);
    assert_int_equal(off, (int)(span - text));
}

static void assert_checked(const char *text)
{
    struct weir_err err = {0};
    int off = -1;

    if (tmpl_check_shell(text, &err, &off) != 0)
        fail_msg("check of '%s' failed at %d: %s", text, off, err.msg);
}

/*
 * Shapes that made the tracker take code for "...": a case pattern's ")"
 * inside "$(...)", a " inside "${V:-"..."}", and "$\" before a newline.
 */
static void test_shell_bypass(void **state)
{
    char dir[] = "/tmp/weir_tmpl_XXXXXX";
    char p1[128], p2[128], cmd[256], want[160];

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(p1, sizeof(p1), "x; touch %s/case", dir);
    snprintf(want, sizeof(want), "%s\n", p1);
    assert_sh_prints("out=\"$(case a in a) echo ${{ params.p }};; esac)\"; "
                     "printf '%s\\n' \"$out\"",
                     p1, want);
    assert_sh_prints("out=$(case a in (a) echo ${{ params.p }};; esac); "
                     "printf '%s\\n' \"$out\"",
                     p1, want);
    assert_sh_prints("printf '%s\\n' \"$(case a in b|c) ;; a) case b in b) "
                     "echo ${{ params.p }} ;; esac ;; esac)\"",
                     p1, want);
    snprintf(cmd, sizeof(cmd), "%s",
             "printf '%s\\n' \"$(case a in\n  a)\n"
             "    echo ${{ params.p }}\nesac)\"");
    assert_sh_prints(cmd, p1, want);
    /* Reserved words after "f()" and in "for NAME do" count too. */
    assert_sh_prints("x=\"$(f() { case a in a) echo ${{ params.p }};; esac; "
                     "}; f)\"; printf '%s\\n' \"$x\"",
                     p1, want);
    assert_sh_prints("set -- 1; x=\"$(for i do case a in a) echo "
                     "${{ params.p }};; esac; done)\"; printf '%s\\n' \"$x\"",
                     p1, want);
    snprintf(p2, sizeof(p2), "$(touch %s/param)", dir);
    assert_refused("echo \"${U:-\"${{ params.p }}\"}\"",
                   "inside a ${...} expansion");
    assert_refused("echo ${U:-${{ params.p }}}", "inside a ${...} expansion");
    assert_refused("echo \"$\\\n${{ params.p }}\"", "right after a $");
    assert_refused("echo $\\\n${{ params.p }}", "right after a $");
    /* An escaped backslash before a newline joins nothing. */
    assert_sh_prints("printf '%s|' \"\\\\\n${{ params.p }}\"", "a b",
                     "\\\na b|");
    /* A "}" or ")" inside ${...} does not end what is around it. */
    /* "$$" is a parameter: the "(" after it opens nothing. */
    snprintf(want, sizeof(want), "echo %s)\n", p2);
    assert_sh_prints("x=\"$$(echo ${{ params.p }})\"; echo \"${x#*(}\"", p2,
                     want);
    assert_sh_prints("x=\"$\\\n$(echo ${{ params.p }})\"; echo \"${x#*(}\"", p2,
                     want);
    snprintf(want, sizeof(want), ") ) %s\n", p2);
    assert_sh_prints("echo \"${U:-)}\" \"$(echo ${U:-\")\"})\" "
                     "${{ params.p }}",
                     p2, want);
    assert_int_equal(dir_entries(dir), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* Commands that run their text as code again take no value in it. */
static void test_shell_reeval(void **state)
{
    static const char *const refused[] = {
        "eval echo ${{ params.p }}",
        "eval \"echo ${{ params.p }}\"",
        "trap 'echo ${{ params.p }}' EXIT",
        "sh -c 'echo ${{ params.p }}'",
        "bash -c \"echo ${{ params.p }}\"",
        "dash -c ${{ params.p }}",
        "zsh -c ${{ params.p }}",
        "ksh -c ${{ params.p }}",
        "/bin/sh -ec ${{ params.p }}",
        "exec sh -c ${{ params.p }}",
        "su -c ${{ params.p }} nobody",
        "su nobody --command=${{ params.p }}",
        "echo a | xargs sh -c ${{ params.p }}",
        "env A=1 sh -c ${{ params.p }}",
        "sudo -u x bash -o pipefail -c ${{ params.p }}",
        "sh -c\"${{ params.p }}\"",
        "x=$(sh -c \"echo ${{ params.p }}\")",
        "eval \"$(echo ${{ params.p }})\"",
        "\"$SHELL\" -c ${{ params.p }}",
        "python3 -c ${{ params.p }}",
        "perl -ne ${{ params.p }}",
        "[[ 1 -eq ${{ params.p }} ]]",
        "[[ -n a && 1 -eq ${{ params.p }} ]]",
        "let x=${{ params.p }}",
        "ssh host ${{ params.p }}",
        "if true; then eval ${{ params.p }}; fi",
    };
    static const char *const allowed[] = {
        "sh ./script.sh ${{ params.p }}",
        "bash -e ./script.sh ${{ params.p }}",
        "eval true; echo ${{ params.p }}",
        "sh -c true && echo ${{ params.p }}",
        "echo evaluate ${{ params.p }}",
        "python3 train.py --lr ${{ params.p }}",
        "[[ -n a ]] && echo ${{ params.p }}",
        "x=1 echo ${{ params.p }}",
    };
    /* Text piped into a shell: no value anywhere in the command is safe. */
    static const char *const piped[] = {
        "echo ${{ params.p }} | sh",
        "printf '%s' ${{ params.p }} | bash -s",
        "echo ${{ params.p }} | xargs -I{} sh -c 'echo {}'",
        "echo ${{ params.p }} | tr a b | sudo -u x /bin/sh",
        "x=$(echo ${{ params.p }} | python3)",
        "echo ${{ params.p }} > /dev/null; echo a | (sh)",
        "{ echo \"${{ params.p }}\"; } | ssh host",
    };
    static const char *const not_piped[] = {
        "echo ${{ params.p }} | tr a b",
        "echo ${{ params.p }} | grep -c sh",
        "echo ${{ params.p }} || sh ./x.sh",
        "echo ${{ params.p }} >&2 && sh ./x.sh",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        assert_refused(refused[i],
                       "in the text of a command that runs it as code (eval, "
                       "trap, sh -c and the like)");
    for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        assert_checked(allowed[i]);
    for (i = 0; i < sizeof(piped) / sizeof(piped[0]); i++)
        assert_refused(piped[i], "in a command that pipes text into a shell or "
                                 "an interpreter (| sh, | xargs and the like)");
    for (i = 0; i < sizeof(not_piped) / sizeof(not_piped[0]); i++)
        assert_checked(not_piped[i]);
}

/* Where shells disagree on the text before a span, the span is refused. */
static void test_shell_unsure(void **state)
{
    (void)state;
    assert_refused("echo \"${x#'}'}\" ${{ params.p }}",
                   "after a ' inside \"${...}\", which shells read "
                   "differently");
    assert_refused("echo $'a\\'b' ${{ params.p }}",
                   "after $'...' with a backslash, which shells read "
                   "differently");
    assert_refused("echo $'${{ params.p }}'", "inside $'...'");
    assert_refused("echo $[1] ${{ params.p }}",
                   "after $[, which shells read differently");
    assert_refused("cat <<EOF\n$(echo a\nEOF\n)\nEOF\necho ${{ params.p }}",
                   "after an expansion in a here-document that goes on past "
                   "its line");
    assert_refused("x=1 case a in a) ;; esac; echo ${{ params.p }}",
                   "after a reserved word where shells do not take it as "
                   "one");
    assert_refused("echo \"$(case a in a) echo)\" ${{ params.p }}",
                   "after a `case` command whose end cannot be followed");
    /* bash reads `time case` as a case command, dash as a program. */
    assert_refused("x=\"$(time case a in a) echo ${{ params.p }};; esac)\"",
                   "after a reserved word where shells do not take it as "
                   "one");
    assert_refused("coproc c { echo; }; echo ${{ params.p }}",
                   "after a reserved word where shells do not take it as "
                   "one");
    assert_checked("time -p make ${{ params.p }}");
    /* A line joined by \ in a here-document is one line: "\" + "EOF". */
    assert_refused("cat <<EOF\nabc\\\nEOF\necho ${{ params.p }}\nEOF\n",
                   "inside a here-document");
    assert_sh_prints("cat <<EOF\n\\\nEOF\necho ${{ params.p }}", "a b",
                     "a b\n");
    assert_sh_prints("cat <<E\\\nOF\nx\nEOF\necho ${{ params.p }}", "a b",
                     "x\na b\n");
    assert_sh_prints("cat <<EOF\n$(echo 1) ${HOME:+2} `echo 3`\nEOF\n"
                     "echo ${{ params.p }}",
                     "a b", "1 2 3\na b\n");
    assert_sh_prints("echo $((1 << 2)) ${{ params.p }}", "a b", "4 a b\n");
    assert_sh_prints("echo case esac in ${{ params.p }}", "a b",
                     "case esac in a b\n");
    assert_sh_prints("for x in ${{ params.p }}; do echo $x; done", "a b",
                     "a b\n");
    assert_sh_prints("case ${{ params.p }} in ${{ params.p }}) echo y;; "
                     "*) echo n;; esac",
                     "a b", "y\n");
    assert_sh_prints("echo 2>&1 ${{ params.p }} >&2 | cat", "a b", "a b\n");
}

/* Inside $(( )) or (( )) the shell reads the text as arithmetic, and a
   quoted value would still be expanded there: $(( '$(cmd)' )) runs cmd. */
static void test_shell_arith(void **state)
{
    static const char msg[] =
        "in ${{ params.p }}: a value cannot go inside $(( arithmetic )) in a "
        "shell command; put the ${{ }} outside them or pass the value "
        "through env:";
    char dir[] = "/tmp/weir_tmpl_XXXXXX";
    char payload[128];
    struct env env = {.p = payload};

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(payload, sizeof(payload), "$(touch %s/x)", dir);
    assert_render_fails_env("echo $(( ${{ params.p }} + 1 ))", TMPL_SHELL, &env,
                            WEIR_EINVAL, msg);
    assert_render_fails_env("echo $((${{ params.p }}))", TMPL_SHELL, &env,
                            WEIR_EINVAL, msg);
    assert_render_fails_env("echo \"$(( 2 * ${{ params.p }} ))\"", TMPL_SHELL,
                            &env, WEIR_EINVAL, msg);
    assert_render_fails_env("echo $(( (1 + ${{ params.p }}) ))", TMPL_SHELL,
                            &env, WEIR_EINVAL, msg);
    assert_render_fails_env("echo $(( $(echo ${{ params.p }}) ))", TMPL_SHELL,
                            &env, WEIR_EINVAL, msg);
    assert_render_fails_env("(( ${{ params.p }} > 1 ))", TMPL_SHELL, &env,
                            WEIR_EINVAL, msg);
    assert_int_equal(dir_entries(dir), 0);
    assert_int_equal(rmdir(dir), 0);
    /* Once the arithmetic is closed, and in subshells, values are words. */
    assert_sh_prints("echo $(( (1 + 2) * 3 )) ${{ params.p }}", "a b",
                     "9 a b\n");
    assert_sh_prints("echo \"$((1))\" ${{ params.p }}", "a b", "1 a b\n");
    assert_sh_prints("( (echo ${{ params.p }}) )", "a b", "a b\n");
    assert_sh_prints("echo $( (echo ${{ params.p }}) )", "a b", "a b\n");
    assert_sh_prints("x=$((1)); (echo $x) && echo ${{ params.p }}", "a b",
                     "1\na b\n");
}

/* The payloads of the brief, and more, each arrive as exactly one argument. */
static void test_shell_injection(void **state)
{
    char dir[] = "/tmp/weir_tmpl_XXXXXX";
    char payloads[12][128], want[sizeof(payloads) + 8];
    size_t i;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(payloads[0], sizeof(payloads[0]), "'; rm -rf / #");
    snprintf(payloads[1], sizeof(payloads[1]), "$(touch %s/x)", dir);
    snprintf(payloads[2], sizeof(payloads[2]), "a b\nc");
    snprintf(payloads[3], sizeof(payloads[3]), "%s", "");
    snprintf(payloads[4], sizeof(payloads[4]), "`touch %s/y`", dir);
    snprintf(payloads[5], sizeof(payloads[5]), "'; touch %s/z; '", dir);
    snprintf(payloads[6], sizeof(payloads[6]), "\"; touch %s/w; \"", dir);
    snprintf(payloads[7], sizeof(payloads[7]), "$HOME * ~ \\ \t!");
    snprintf(payloads[8], sizeof(payloads[8]), "x'\\''$(touch %s/v)", dir);
    snprintf(payloads[9], sizeof(payloads[9]), "-n");
    snprintf(payloads[10], sizeof(payloads[10]), "a\n\nb\n");
    snprintf(payloads[11], sizeof(payloads[11]), "\xc3\xa9 ; | & > %s/u", dir);
    for (i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        snprintf(want, sizeof(want), "%s\n", payloads[i]);
        assert_sh_prints("printf '%s\\n' ${{ params.p }}", payloads[i], want);
        snprintf(want, sizeof(want), "<%s>\n", payloads[i]);
        assert_sh_prints("printf '<%s>\\n' ${{ params.p }}", payloads[i], want);
        /* Inside double and single quotes, the value stays one literal
           piece of the quoted word. */
        snprintf(want, sizeof(want), "[%s]\n", payloads[i]);
        assert_sh_prints("printf '%s\\n' \"[${{ params.p }}]\"", payloads[i],
                         want);
        assert_sh_prints("printf '%s\\n' '['${{ params.p }}']'", payloads[i],
                         want);
        assert_sh_prints("printf '%s\\n' '[${{ params.p }}]'", payloads[i],
                         want);
        assert_sh_prints("printf '%s\\n' \"$(printf '[%s]' "
                         "\"${{ params.p }}\")\"",
                         payloads[i], want);
    }
    assert_int_equal(dir_entries(dir), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void test_limits(void **state)
{
    size_t big = (size_t)TMPL_MAX_LEN + 1;
    char *text = malloc(big + 1), *value = malloc(big + 1), *out = NULL;
    struct env env = {.p = value};
    struct weir_err err = {0};
    int off = -1;
    struct seen s = {.stop_at = -1};

    (void)state;
    assert_non_null(text);
    assert_non_null(value);
    memset(text, 'a', big);
    text[big] = '\0';
    assert_int_equal(tmpl_names(text, seen_cb, &s, &err, &off), WEIR_ETOOBIG);
    assert_string_equal(err.msg, "text is longer than 1048576 bytes");
    assert_int_equal(off, TMPL_MAX_LEN);
    assert_render_fails(text, TMPL_PLAIN, WEIR_ETOOBIG,
                        "text is longer than 1048576 bytes");

    /* A value of exactly the limit fits; one more byte does not. */
    memset(value, 'v', TMPL_MAX_LEN);
    value[TMPL_MAX_LEN] = '\0';
    assert_int_equal(tmpl_render("${{ params.p }}", TMPL_PLAIN, env_resolve_cb,
                                 &env, &out, &err),
                     0);
    assert_int_equal(strlen(out), TMPL_MAX_LEN);
    free(out);
    assert_render_fails_env("${{ params.p }}!", TMPL_PLAIN, &env, WEIR_ETOOBIG,
                            "rendered text is longer than 1048576 bytes");
    value[TMPL_MAX_LEN / 2] = '\0';
    assert_render_fails_env("${{ params.p }}${{ params.p }}${{ params.p }}",
                            TMPL_PLAIN, &env, WEIR_ETOOBIG,
                            "rendered text is longer than 1048576 bytes");
    /* Quoting can make a value four times longer: that counts too. */
    memset(value, '\'', TMPL_MAX_LEN / 3);
    value[TMPL_MAX_LEN / 3] = '\0';
    assert_render_fails_env("${{ params.p }}", TMPL_SHELL, &env, WEIR_ETOOBIG,
                            "rendered text is longer than 1048576 bytes");
    free(text);
    free(value);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_plain),
        cmocka_unit_test(test_render_shell),
        cmocka_unit_test(test_shell_quote),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_render_errors),
        cmocka_unit_test(test_shell_refused),
        cmocka_unit_test(test_shell_refused_deep),
        cmocka_unit_test(test_shell_allowed),
        cmocka_unit_test(test_shell_injection),
        cmocka_unit_test(test_shell_arith),
        cmocka_unit_test(test_shell_bypass),
        cmocka_unit_test(test_shell_reeval),
        cmocka_unit_test(test_shell_unsure),
        cmocka_unit_test(test_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
