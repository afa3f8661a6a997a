/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the shell quoting of `${{ }}` in `run:`. The input
 * drives a small grammar that writes shell text (commands, quotes, $(...),
 * ${...}, case, here-documents, comments, line continuations, eval,
 * sh -c and pipes into sh) with `${{ params.p }}` spans only where a template
 * author could put an argument, and picks a hostile value for params.p. What
 * renders is run by /bin/dash -c (no shell in between) in an empty folder, with
 * a clean environment whose PATH holds only canary commands (touch, x, id, sh,
 * ...) that leave a mark when called. The text itself calls none of them,
 * creates no file and names no missing command, so a canary's mark, a new file
 * in the folder or a "not found" from dash means that the value ran as code: a
 * finding. Each run is killed after one second.
 *
 * WEIR_FUZZ_TMPL_SHOW=1 prints each generated text and value (to see
 * what a corpus file stands for). It also checks that the load-time check
 * (tmpl_check_shell) refuses exactly the texts that rendering refuses.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tmpl.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stop with a crash the fuzzer reports when an invariant does not hold. */
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            __builtin_trap();                                                  \
    } while (0)

#define TEXT_MAX  4096 /* longest generated shell text */
#define VALUE_MAX 256  /* longest hostile value */
#define DEPTH_MAX 4    /* nesting of the grammar */
#define ERR_MAX   4096 /* stderr kept from one run */
#define RUN_MS    1000 /* a run is killed after this long */

static char top[64];    /* the temporary folder */
static char bin[96];    /* top/bin: the canaries, the only PATH entry */
static char work[96];   /* top/work: where the text runs, kept empty */
static char marker[96]; /* top/called: a canary was called */
static bool show;       /* WEIR_FUZZ_TMPL_SHOW set: print each text */

static const char *const canaries[] = {
    "touch", "x",     "id",      "sh",   "bash", "rm",    "cat",
    "ls",    "curl",  "wget",    "nc",   "env",  "uname", "whoami",
    "date",  "sleep", "python3", "perl", "tee",  "mkdir",
};

static const char *const hostile[] = {
    "x",       ";x;",     "$(x)",    "`x`",    "'$(x)'",     "\"$(x)\"",
    "';x;'",   "\";x;\"", "\";x;'",  "x>f",    ">f",         "\nx\n",
    "(x)",     ")x(",     ")\nx\n(", "&x",     "|x",         "$((x))",
    "${x}",    "\\",      "'",       "\"",     "\\'",        "*",
    "a b",     "}",       "{x;}",    "]",      "$'x'",       "';x #",
    "esac;x;", ";;x;;",   "\\\nx",   "$(x>f)", "}\"$(x)\"{", "`",
    "$",       "${",      "$(",      "-c",     "EOF\nx\n",
};

/* Where the grammar reads its choices from. */
struct gen {
    const uint8_t *data; /* the input */
    size_t size;         /* its length */
    size_t pos;          /* next byte */
    char text[TEXT_MAX]; /* the shell text so far */
    size_t len;          /* its length */
    bool full;           /* text ran out of room */
};

static unsigned pick(struct gen *g, unsigned n)
{
    if (g->pos >= g->size)
        return 0;
    return g->data[g->pos++] % n;
}

static void put(struct gen *g, const char *s)
{
    size_t n = strlen(s);

    if (g->len + n + 1 > sizeof(g->text)) {
        g->full = true;
        return;
    }
    memcpy(g->text + g->len, s, n);
    g->len += n;
    g->text[g->len] = '\0';
}

#define SPAN "${{ params.p }}"

static void gen_cmd(struct gen *g, int depth);

/* Inside "...": text, spans and what may nest there. */
static void gen_dq(struct gen *g, int depth)
{
    static const char *const plain[] = {
        "a",     " ",    "\\\"", "\\$",  "\\\\", "#",  ")",   "}",
        "$\\\n", "\\\n", "$U",   "${U}", "$1",   "$#", "\\`",
    };
    unsigned n = 1 + pick(g, 4);

    for (unsigned i = 0; i < n; i++) {
        switch (depth >= DEPTH_MAX ? pick(g, 2) : pick(g, 7)) {
        case 0:
            put(g, SPAN);
            break;
        case 1:
            put(g, plain[pick(g, sizeof(plain) / sizeof(plain[0]))]);
            break;
        case 2:
            put(g, "$(");
            gen_cmd(g, depth + 1);
            put(g, ")");
            break;
        case 3:
            put(g, pick(g, 2) ? "${U:-" : "${U#");
            gen_dq(g, depth + 1);
            put(g, "}");
            break;
        case 4:
            put(g, "${U:-\"");
            gen_dq(g, depth + 1);
            put(g, "\"}");
            break;
        case 5:
            put(g, "`: ");
            put(g, SPAN);
            put(g, "`");
            break;
        default:
            put(g, "$(( 1 + ");
            put(g, SPAN);
            put(g, " ))");
            break;
        }
    }
}

/* One word in an argument's place. */
static void gen_arg(struct gen *g, int depth)
{
    static const char *const plain[] = {
        "a", "-",    "\\\n", "\\ ", "\\'", "\\\"", "''", "\"\"", "$U", "a=",
        "%", "esac", "case", "in",  "do",  "{",    "}",  "!",    "$$", "$'a'",
    };
    unsigned n = 1 + pick(g, 3);

    for (unsigned i = 0; i < n; i++) {
        switch (depth >= DEPTH_MAX ? pick(g, 3) : pick(g, 9)) {
        case 0:
            put(g, SPAN);
            break;
        case 1:
            put(g, plain[pick(g, sizeof(plain) / sizeof(plain[0]))]);
            break;
        case 2:
            put(g, "'a");
            if (pick(g, 2))
                put(g, SPAN);
            put(g, "'");
            break;
        case 3:
            put(g, "\"");
            gen_dq(g, depth + 1);
            put(g, "\"");
            break;
        case 4:
            put(g, "$(");
            gen_cmd(g, depth + 1);
            put(g, ")");
            break;
        case 5:
            put(g, pick(g, 2) ? "${U:-" : "${U%");
            gen_arg(g, depth + 1);
            put(g, "}");
            break;
        case 6:
            put(g, "$( (");
            gen_cmd(g, depth + 1);
            put(g, ") )");
            break;
        case 7:
            put(g, pick(g, 2) ? "$(case a in (a) " : "$(case a in a) ");
            gen_cmd(g, depth + 1);
            put(g, " ;; esac)");
            break;
        default:
            put(g, "$'");
            if (pick(g, 2))
                put(g, "\\'");
            put(g, SPAN);
            put(g, "'");
            break;
        }
    }
}

static void gen_args(struct gen *g, int depth)
{
    unsigned n = 1 + pick(g, 3);

    for (unsigned i = 0; i < n; i++) {
        put(g, " ");
        gen_arg(g, depth);
    }
}

/* One command: only builtins, no redirection to a file. */
static void gen_cmd(struct gen *g, int depth)
{
    unsigned what = depth >= DEPTH_MAX ? pick(g, 3) : pick(g, 23);

    switch (what) {
    case 0:
        put(g, "echo");
        gen_args(g, depth);
        break;
    case 1:
        put(g, "printf '%s\\n'");
        gen_args(g, depth);
        break;
    case 2:
        put(g, ":");
        gen_args(g, depth);
        break;
    case 3:
        put(g, "v=");
        gen_arg(g, depth + 1);
        put(g, "; echo \"$v\"");
        break;
    case 4:
        put(g, "case ");
        gen_arg(g, depth + 1);
        put(g, pick(g, 2) ? " in\n" : " in ");
        if (pick(g, 2))
            put(g, "(");
        gen_arg(g, depth + 1);
        put(g, pick(g, 2) ? "|b) " : ") ");
        gen_cmd(g, depth + 1);
        put(g, pick(g, 2) ? " ;; *) " : "\n;;\n*)\n");
        gen_cmd(g, depth + 1);
        put(g, pick(g, 2) ? " ;; esac" : "\nesac");
        break;
    case 5:
        put(g, "( ");
        gen_cmd(g, depth + 1);
        put(g, " )");
        break;
    case 6:
        put(g, "{ ");
        gen_cmd(g, depth + 1);
        put(g, "; }");
        break;
    case 7:
        put(g, "if ");
        gen_cmd(g, depth + 1);
        put(g, "; then ");
        gen_cmd(g, depth + 1);
        put(g, "; else ");
        gen_cmd(g, depth + 1);
        put(g, "; fi");
        break;
    case 8:
        if (pick(g, 2)) {
            put(g, "set -- 1; for i do ");
        } else {
            put(g, "for i in");
            gen_args(g, depth + 1);
            put(g, "; do ");
        }
        gen_cmd(g, depth + 1);
        put(g, "; done");
        break;
    case 9:
        put(g, "f() { ");
        gen_cmd(g, depth + 1);
        put(g, "; }; f");
        gen_args(g, depth + 1);
        break;
    case 10:
        put(g, pick(g, 2) ? ": <<EOF\n" : ": <<'EOF'\n");
        if (pick(g, 2))
            put(g, "$(: a\n");
        put(g, pick(g, 2) ? "a\\\n" : "a ");
        put(g, SPAN);
        put(g, "\nEOF\n");
        break;
    case 11:
        /* Only what cannot end the comment early. */
        put(g, pick(g, 2) ? "# a " : "# 'a\"$(");
        put(g, SPAN);
        put(g, "\n");
        break;
    case 12:
        gen_cmd(g, depth + 1);
        put(g, pick(g, 2) ? " && " : " || ");
        gen_cmd(g, depth + 1);
        break;
    case 13:
        gen_cmd(g, depth + 1);
        put(g, pick(g, 2) ? "; " : "\n");
        gen_cmd(g, depth + 1);
        break;
    case 14:
        gen_cmd(g, depth + 1);
        put(g, " | ");
        gen_cmd(g, depth + 1);
        break;
    case 15:
        put(g, "eval \": ");
        put(g, SPAN);
        put(g, "\"");
        break;
    case 16:
        put(g, pick(g, 2) ? "sh -c \": " : "exec sh -c \": ");
        put(g, SPAN);
        put(g, "\"");
        break;
    case 17:
        put(g, "trap \": ");
        put(g, SPAN);
        put(g, "\" EXIT");
        break;
    case 18:
        put(g, "v=$(");
        gen_cmd(g, depth + 1);
        put(g, ")");
        break;
    case 19:
        put(g, "echo \\\n");
        gen_arg(g, depth + 1);
        break;
    case 21:
        /* Always with a value: the text alone would call the sh canary. */
        put(g, "printf '%s\\n' " SPAN);
        gen_args(g, depth + 1);
        put(g, pick(g, 2) ? " | sh" : " | xargs -I{} sh -c ': {}'");
        break;
    case 20:
        put(g, "test -n");
        gen_args(g, depth);
        break;
    default:
        put(g, "read -r v <<EOF\n");
        put(g, "a\nEOF\necho");
        gen_args(g, depth);
        break;
    }
}

static const char *resolve_value;

static int resolve_cb(void *ctx, const char *name, struct expr_value *out,
                      struct weir_err *err)
{
    (void)ctx;
    (void)name;
    (void)err;
    out->type = EXPR_STR;
    out->str = resolve_value;
    return 0;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    size_t n = strlen(text);

    CHECK(fd >= 0);
    CHECK(write(fd, text, n) == (ssize_t)n);
    CHECK(close(fd) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[160], script[256];
    const char *tmp = getenv("TMPDIR");

    (void)argc;
    (void)argv;
    show = getenv("WEIR_FUZZ_TMPL_SHOW") != NULL;
    snprintf(top, sizeof(top), "%s/weir_fuzz_tmpl_XXXXXX",
             tmp != NULL && strlen(tmp) < 24 ? tmp : "/tmp");
    CHECK(mkdtemp(top) != NULL);
    snprintf(bin, sizeof(bin), "%s/bin", top);
    snprintf(work, sizeof(work), "%s/work", top);
    snprintf(marker, sizeof(marker), "%s/called", top);
    CHECK(mkdir(bin, 0700) == 0 && mkdir(work, 0700) == 0);
    for (size_t i = 0; i < sizeof(canaries) / sizeof(canaries[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", bin, canaries[i]);
        snprintf(script, sizeof(script), "#!/bin/dash\necho %s >>%s\n",
                 canaries[i], marker);
        write_file(path, script, 0700);
    }
    return 0;
}

/* Entries in the work folder. */
static int work_entries(void)
{
    DIR *d = opendir(work);
    struct dirent *ent;
    int n = 0;

    CHECK(d != NULL);
    while ((ent = readdir(d)) != NULL)
        if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Run text with dash in the work folder; keep what it wrote to stderr. */
static void run_dash(const char *text, char *errbuf, size_t errcap)
{
    char path_env[128], home_env[128];
    char *const args[] = {"/bin/dash", "-c", (char *)text, NULL};
    char *const env[] = {path_env, home_env, "LC_ALL=C", NULL};
    int fds[2], status;
    size_t len = 0;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    long deadline;
    pid_t pid;

    snprintf(path_env, sizeof(path_env), "PATH=%s", bin);
    snprintf(home_env, sizeof(home_env), "HOME=%s", work);
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    /* posix_spawn: a fork of this sanitized process would be slow. */
    CHECK(posix_spawn_file_actions_init(&fa) == 0);
    CHECK(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) ==
          0);
    CHECK(posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0) ==
          0);
    CHECK(posix_spawn_file_actions_adddup2(&fa, fds[1], 2) == 0);
    CHECK(posix_spawn_file_actions_addchdir_np(&fa, work) == 0);
    CHECK(posix_spawnattr_init(&attr) == 0);
    CHECK(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP) == 0);
    CHECK(posix_spawnattr_setpgroup(&attr, 0) == 0);
    CHECK(posix_spawn(&pid, args[0], &fa, &attr, args, env) == 0);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(fds[1]);
    deadline = now_ms() + RUN_MS;
    for (;;) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        long left = deadline - now_ms();
        ssize_t n;
        char sink[512];

        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        if (len + 1 < errcap)
            n = read(fds[0], errbuf + len, errcap - len - 1);
        else
            n = read(fds[0], sink, sizeof(sink));
        if (n <= 0)
            break;
        if (len + 1 < errcap)
            len += (size_t)n;
    }
    errbuf[len] = '\0';
    kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    close(fds[0]);
}

/*
 * Did dash report a command it could not find? The text's own function f
 * does not count: a pipeline stage that defines it runs in a subshell, so
 * a later "f" may not find it.
 */
static bool called_unknown(const char *errs, const char *value,
                           const char *text)
{
    for (const char *at = strstr(errs, ": not found"); at != NULL;
         at = strstr(at + 1, ": not found")) {
        const char *name = at;
        char word[128];
        size_t n;

        while (name > errs && name[-1] != ' ' && name[-1] != '\n')
            name--;
        n = (size_t)(at - name);
        if (n == 1 && name[0] == 'f')
            continue;
        /* only a name that comes from the value: a word of the text's
         * own (the literal "${{ params.p }}" of "$${{") is its author's,
         * even when the value happens to hold the same letters; then the
         * canaries and the folder tell alone */
        if (n == 0 || n >= sizeof(word))
            return true;
        memcpy(word, name, n);
        word[n] = '\0';
        if (strstr(value, word) != NULL && strstr(text, word) == NULL)
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct gen g;
    char value[VALUE_MAX + 64], errbuf[ERR_MAX];
    struct weir_err err = {0}, cerr = {0};
    size_t raw, vlen;
    char *out = NULL;
    int rc, crc, off = -1;
    bool quoted_found;
    struct stat st;

    if (size < 2)
        return 0;
    /* The last byte: how many bytes before it are added to the value. */
    raw = data[size - 1] % 32;
    if (raw > size - 2)
        raw = size - 2;
    snprintf(value, sizeof(value), "%s",
             hostile[data[size - 2] % (sizeof(hostile) / sizeof(hostile[0]))]);
    vlen = strlen(value);
    for (size_t i = 0; i < raw; i++) {
        char c = (char)data[size - 2 - raw + i];

        if (c != '\0' && vlen + 1 < sizeof(value))
            value[vlen++] = c;
    }
    value[vlen] = '\0';

    memset(&g, 0, sizeof(g));
    g.data = data;
    g.size = size - 2 - raw;
    gen_cmd(&g, 0);
    if (g.full || strstr(g.text, "${{") == NULL)
        return 0;

    if (show)
        fprintf(stderr, "--- template:\n%s\n--- value:\n%s\n", g.text, value);
    resolve_value = value;
    rc = tmpl_render(g.text, TMPL_SHELL, resolve_cb, NULL, &out, &err);
    crc = tmpl_check_shell(g.text, &cerr, &off);
    /* What is refused when the DAG is loaded is what rendering refuses. */
    CHECK((rc == WEIR_EINVAL) == (crc == WEIR_EINVAL));
    if (rc != 0) {
        CHECK(rc == WEIR_EINVAL || rc == WEIR_ETOOBIG);
        CHECK(out == NULL);
        return 0;
    }
    CHECK(out != NULL);
    run_dash(out, errbuf, sizeof(errbuf));
    /* A value (or a text) holding "found" can put the words of dash's
     * message in an error message that quotes it ("test: ...: unexpected
     * operator"): then the canaries and the folder tell alone. */
    quoted_found =
        strstr(value, "found") != NULL || strstr(out, "found") != NULL;
    if (stat(marker, &st) == 0 || work_entries() != 0 ||
        (!quoted_found && called_unknown(errbuf, value, g.text))) {
        fprintf(stderr,
                "finding: the value ran as code\n--- template:\n%s\n"
                "--- value:\n%s\n--- rendered:\n%s\n--- stderr:\n%s\n",
                g.text, value, out, errbuf);
        CHECK(0);
    }
    free(out);
    return 0;
}
