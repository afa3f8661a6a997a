#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""unit.check_layout: scripts/check-layout on small fixture trees, made in
a temporary folder (never in the source tree, which the checker reads).
Each rule must be reported where it is broken, with its file and line,
and not where the code is allowed; allowlisted violations are excused
only for their own file and rule.

    tests/check/test_check_layout.py [path/to/check-layout]
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKER = (sys.argv[1] if len(sys.argv) > 1 else
           os.path.join(HERE, "..", "..", "scripts", "check-layout"))

failures = []


def run(files, *extra):
    """Make a tree of files {path: text}, run the checker on it; return
    (exit status, finding lines, stderr)."""
    with tempfile.TemporaryDirectory() as root:
        for path, text in files.items():
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)
        p = subprocess.run([CHECKER, "--root", root, *extra],
                           capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout.splitlines(), p.stderr


def expect(name, files, want, *extra, rc=None):
    """want: the exact findings as "file:line: rule" prefixes, in order."""
    status, out, err = run(files, *extra)
    got = [":".join(line.split(":")[:3]) for line in out]
    want_rc = rc if rc is not None else (1 if want else 0)
    if got != want or status != want_rc:
        failures.append("%s: expected status %d and %s, got status %d and "
                        "%s (stderr: %s)" % (name, want_rc, want, status, out,
                                            err.strip()))


def fn(name, body_lines):
    """A C function whose braces span body_lines + 2 lines."""
    return ("static int %s(void)\n{\n" % name +
            "    int x = 0;\n" * body_lines + "}\n")


# --- sql-outside-store ---
expect("sql in a string", {
    "server/engine/x.c": 'static const char *q =\n    "SELECT id "\n'
                         '    "FROM runs";\n',
}, ["server/engine/x.c:2: sql-outside-store"])
expect("sql statements of each kind", {
    "worker/x.c": 'const char *a = "INSERT INTO t VALUES (1)";\n'
                  'const char *b = "UPDATE runs SET state = 1";\n'
                  'const char *c = "DELETE FROM tasks";\n',
}, ["worker/x.c:1: sql-outside-store", "worker/x.c:2: sql-outside-store",
    "worker/x.c:3: sql-outside-store"])
expect("libpq query calls", {
    "server/api/x.c": "void f(void *c)\n{\n    PQexecParams(c, 0);\n"
                      "    PQprepare(c, 0);\n}\n",
}, ["server/api/x.c:3: sql-outside-store",
    "server/api/x.c:4: sql-outside-store"])
expect("sql in store and in comments is fine", {
    "server/store/runs.c": 'const char *q = "SELECT 1 FROM runs";\n'
                          "void f(void *c)\n{\n    PQexec(c, q);\n}\n",
    "server/engine/y.c": "/* SELECT id FROM runs */\n"
                         '// DELETE FROM tasks\nconst char *m = "DELETE";\n',
}, [])

# --- api-includes-store ---
expect("api includes a store header", {
    "server/api/x.c": '#include "store/read.h"\n#include "store/run.h"\n'
                      '#include "../store/trig.h"\n#include "engine/engine.h"\n',
}, ["server/api/x.c:2: api-includes-store",
    "server/api/x.c:3: api-includes-store"])

# --- spawn-outside-exec ---
expect("spawning outside the executor", {
    "server/jobs/x.c": "void f(void)\n{\n    fork();\n    execv(0, 0);\n"
                       "    posix_spawn(0, 0, 0, 0, 0, 0);\n}\n",
    "cli/cmd_x.c": "void g(void)\n{\n    uv_spawn(0, 0, 0);\n"
                   "    system(\"ls\");\n}\n",
}, ["cli/cmd_x.c:3: spawn-outside-exec", "cli/cmd_x.c:4: spawn-outside-exec",
    "server/jobs/x.c:3: spawn-outside-exec",
    "server/jobs/x.c:4: spawn-outside-exec",
    "server/jobs/x.c:5: spawn-outside-exec"])
expect("spawning where it is allowed, and in tests", {
    "worker/executor.c": "void f(void)\n{\n    posix_spawn(0, 0, 0, 0, 0, 0);"
                         "\n    execv(0, 0);\n}\n",
    "worker/guard.c": "void f(void)\n{\n    posix_spawn(0, 0, 0, 0, 0, 0);\n}\n",
    "cli/cmd_up.c": "void f(void)\n{\n    posix_spawn(0, 0, 0, 0, 0, 0);\n}\n",
    "tests/unit/test_x.c": "void f(void)\n{\n    system(\"true\");\n}\n",
}, [])

# --- curl-outside-httpc ---
expect("libcurl outside the shared client", {
    "cli/x.c": "#include <curl/curl.h>\nvoid f(void)\n{\n"
               "    curl_easy_init();\n}\n",
    "common/httpc.c": "#include <curl/curl.h>\nvoid f(void)\n{\n"
                      "    curl_easy_init();\n}\n",
    "common/httpc.h": "#include <curl/curl.h>\n",
}, ["cli/x.c:1: curl-outside-httpc", "cli/x.c:4: curl-outside-httpc"])

# --- getenv-outside-config ---
expect("getenv outside the configuration", {
    "server/jobs/notify.c": "void f(void)\n{\n"
                            "    getenv(\"WEIR_PUBLIC_URL\");\n}\n",
    "server/config.c": "void f(void)\n{\n    getenv(\"WEIR_LISTEN\");\n}\n",
    "server/engine/events.c": "void f(const char *n)\n{\n    getenv(n);\n}\n",
}, ["server/jobs/notify.c:3: getenv-outside-config"])

# --- file-too-long, function-too-long ---
expect("a file of 1,001 lines", {
    "common/big.c": "int x;\n" * 1001,
    "common/fits.c": "int x;\n" * 1000,
}, ["common/big.c:1: file-too-long"])
expect("a function of 151 lines, in product code and in tests", {
    "worker/long.c": "int y;\n" + fn("long_one", 149) + fn("fits", 148),
    "tests/unit/test_long.c": fn("test_long", 149),
}, ["tests/unit/test_long.c:2: function-too-long",
    "worker/long.c:3: function-too-long"])
expect("braces in strings and initializers are not functions", {
    "common/x.c": 'static const char *s = "{{{";\n'
                  "static const int t[] = {\n" + "    1,\n" * 160 + "};\n" +
                  fn("short_one", 3),
}, [])

# --- the allowlist: excuses its own file and rule only ---
expect("an allowlisted violation is excused, the same elsewhere is not", {
    "server/jobs/notify.c": "#include <curl/curl.h>\n",
    "server/jobs/reaper.c": "#include <curl/curl.h>\n",
    "worker/client.c": "void f(void)\n{\n    getenv(\"X\");\n}\n",
}, ["server/jobs/reaper.c:1: curl-outside-httpc",
    "worker/client.c:3: getenv-outside-config"],
    "--allow", "server/jobs/notify.c:curl-outside-httpc")
status, out, err = run({"common/ok.c": "int x;\n"}, "--strict",
                       "--allow", "common/gone.c:file-too-long")
if status != 1 or "excuses nothing" not in err:
    failures.append("--strict: a stale allowlist entry must fail, got "
                    "status %d, stderr %s" % (status, err.strip()))
status, out, err = run({"common/ok.c": "int x;\n"})
if status != 0 or out:
    failures.append("a clean tree must pass, got status %d, %s" %
                    (status, out))
status, out, err = run({}, "--bogus")
if status != 2 or "--bogus" not in err:
    failures.append("an unknown option must be named, got status %d, %s" %
                    (status, err.strip()))

for f in failures:
    print("FAIL", f)
print("check_layout: %d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
