#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Tests of the `weir` command's offline commands: exit codes, the exact
# error format, JSON output, cron next and dag show.
#   tests/cli/run.sh PATH/TO/weir SOURCE_DIR
set -uo pipefail
weir=$1
src=$2
data="$src/tests/data/cli"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# run EXPECTED_EXIT CMD...: runs CMD, keeps stdout/stderr in $tmp/out, err.
run() {
    local want=$1
    shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    [ "$got" -eq "$want" ] ||
        fail "'$*' exited $got, expected $want; stderr: $(head -c 600 "$tmp/err")"
}

expect_file() { # FILE EXPECTED_TEXT
    local got
    got=$(cat "$1")
    [ "$got" = "$2" ] || fail "expected:
$2
got:
$got"
}

# --version and --help on every command.
run 0 "$weir" --version
grep -Eq '^weir [0-9]+\.[0-9]+\.[0-9]+$' "$tmp/out" || fail "--version: $(cat "$tmp/out")"
commands="validate cron dag dags up trigger runs run logs cancel retry approve
reject pause unpause artifacts artifact lineage event metric triggers workers pool
token secret login backfill backfills backfill-cancel audit"
for cmd in $commands; do
    run 0 "$weir" "$cmd" --help
    grep -q "^usage: weir $cmd" "$tmp/out" || fail "$cmd --help printed no usage"
done
run 0 "$weir" --help
# every command `weir --help` lists is in the loop above, and the reverse
listed=$(sed -n '/^commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p' "$tmp/out")
[ "$(echo $listed)" = "$(echo $commands)" ] ||
    fail "weir --help lists: $(echo $listed); the --help loop: $(echo $commands)"
run 2 "$weir" nosuchcommand
run 2 "$weir"

# a server that is not there: the call says which one failed and why, and
# what to do (the shared HTTP client's words, the CLI's hint)
run 1 env WEIR_SERVER=http://127.0.0.1:1/ WEIR_TOKEN=x "$weir" dags
grep -q '^weir dags: cannot reach http://127.0.0.1:1: .' "$tmp/err" ||
    fail "an absent server: $(cat "$tmp/err")"
grep -q '^(is the server running?' "$tmp/err" ||
    fail "an absent server, no hint: $(cat "$tmp/err")"

# the audit log: a stray argument is a usage error, before any server
run 2 "$weir" audit run.cancel
grep -q 'unexpected argument "run.cancel"' "$tmp/err" || fail "audit with an argument"

# registry and lineage: usage errors are found before any server is asked.
run 2 "$weir" lineage
grep -q 'name exactly one run id' "$tmp/err" || fail "lineage without RUN_ID"
run 2 "$weir" artifacts a b
run 2 "$weir" artifact promote model r1
grep -q -- '--to STAGE goes with promote' "$tmp/err" || fail "promote without --to"
run 2 "$weir" artifact approve model r1 --to prod
run 2 "$weir" artifact archive model r1
grep -q 'expected promote|approve|reject' "$tmp/err" || fail "unknown artifact verb"

# secrets: a value never comes from argv; offline, `validate` checks where
# secrets.NAME may stand (env: values only), not which secrets exist.
run 2 "$weir" secret set DB_PASSWORD hunter2
grep -q 'the value comes from standard input' "$tmp/err" ||
    fail "secret set with a value in argv: $(cat "$tmp/err")"
printf 'steps:\n  - id: a\n    secrets: [DB_PASSWORD]\n    env:\n      P: "x${{ secrets.DB_PASSWORD }}"\n    run: echo "$P"\n' >"$tmp/sec_ok.yaml"
run 0 "$weir" validate "$tmp/sec_ok.yaml"
printf 'steps:\n  - id: a\n    run: echo ${{ secrets.DB_PASSWORD }}\n' >"$tmp/sec_run.yaml"
run 1 "$weir" validate "$tmp/sec_run.yaml"
grep -q "sec_run.yaml:3:.*a secret may be templated only into a step's env: value" "$tmp/err" ||
    fail "secrets.X in run: $(cat "$tmp/err")"
printf 'steps:\n  - id: a\n    secrets: [WEIR_X, ok, ok]\n    run: "true"\n' >"$tmp/sec_bad.yaml"
run 1 "$weir" validate "$tmp/sec_bad.yaml"
grep -q 'sec_bad.yaml:3:15: secret "WEIR_X" would set a variable reserved' "$tmp/err" &&
    grep -q 'sec_bad.yaml:3:27: secret "ok" is listed twice' "$tmp/err" ||
    fail "bad secrets: list: $(cat "$tmp/err")"

# validate: the shipped DAGs are valid.
run 0 "$weir" validate "$src/dags"
expect_file "$tmp/out" "2 DAG files valid"

# validate: every error of a file, each as file:line:col: message.
run 1 "$weir" validate "$data/broken.yaml"
expect_file "$tmp/err" "$data/broken.yaml:6:13: step \"register\" needs \"evalute\", which is not a step (did you mean \"evaluate\"?)
$data/broken.yaml:8:14: \"retries\" must be a whole number >= 0, got \"three\"
1 of 1 DAG file invalid"

run 1 "$weir" validate "$data/cycle.yaml"
grep -q "^$data/cycle.yaml:[0-9]*:[0-9]*: cycle: train -> evaluate -> train$" "$tmp/err" ||
    fail "cycle not reported with its path: $(cat "$tmp/err")"

# validate: a ${{ }} where no quoting keeps it inert is refused at its
# line and column (a case pattern inside "$(...)" is followed, not refused).
run 1 "$weir" validate "$data/tmpl-unsafe.yaml"
tail=" in a shell command; put the \${{ }} outside them or pass the value through env:"
reeval="in \${{ params.p }}: a value cannot go in the text of a command that runs it as code (eval, trap, sh -c and the like)$tail"
expect_file "$tmp/err" "$data/tmpl-unsafe.yaml:8:22: bad template in \"run\": in \${{ params.p }}: a value cannot go inside a \${...} expansion$tail
$data/tmpl-unsafe.yaml:10:22: bad template in \"run\": $reeval
$data/tmpl-unsafe.yaml:12:37: bad template in \"run\": $reeval
1 of 1 DAG file invalid"

# the HTTP client speaks http and https only, whatever URL it is given
WEIR_SERVER=file:///etc/passwd WEIR_TOKEN=x run 1 "$weir" runs
grep -q 'Protocol "file" not supported' "$tmp/err" ||
    fail "a file: server URL: $(cat "$tmp/err")"

# validate reads a folder as the server does (common/dagwalk.h): a link to
# a folder is followed, names starting with '.' and other endings are not.
mkdir -p "$tmp/tree/real" "$tmp/tree/.hidden"
cp "$data/broken.yaml" "$tmp/tree/real/b.yaml"
cp "$data/broken.yaml" "$tmp/tree/.hidden/b.yaml"
cp "$data/broken.yaml" "$tmp/tree/real/b.yaml.txt"
ln -s real "$tmp/tree/linked"
ln -s .. "$tmp/tree/real/up" # a loop: walked once, not 16 levels deep
run 1 "$weir" validate "$tmp/tree"
[ "$(grep -c ':6:13: step "register" needs' "$tmp/err")" = 2 ] ||
    fail "validate of a tree: $(cat "$tmp/err")"
grep -q "^$tmp/tree/linked/b.yaml:6:13:" "$tmp/err" ||
    fail "validate does not follow a link to a folder: $(cat "$tmp/err")"
grep -q "hidden\|b.yaml.txt\|deeper" "$tmp/err" && fail "validate read a hidden folder, a non-DAG file or a loop: $(cat "$tmp/err")"

# validate: two files with one DAG id.
mkdir "$tmp/dup"
cp "$data/dup-a.yaml" "$data/dup-b.yaml" "$tmp/dup/"
run 1 "$weir" validate "$tmp/dup"
expect_file "$tmp/err" "$tmp/dup/dup-b.yaml:1:1: DAG id \"same-id\" is already used by $tmp/dup/dup-a.yaml
1 of 2 DAG files invalid"

# validate --json.
run 1 "$weir" validate --json "$data/broken.yaml" "$src/dags/hello.yaml"
python3 - "$tmp/out" "$data/broken.yaml" <<'PY' || fail "validate --json content"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["valid"] is False, r
broken, hello = r["files"]
assert broken["path"] == sys.argv[2] and broken["valid"] is False
assert [(e["line"], e["column"]) for e in broken["errors"]] == [(6, 13), (8, 14)], broken
assert hello["valid"] is True and hello["dag"] == "hello" and hello["steps"] == 2, hello
PY

# validate: a missing path and an empty folder.
run 1 "$weir" validate "$tmp/does-not-exist"
mkdir "$tmp/empty"
run 1 "$weir" validate "$tmp/empty"
run 2 "$weir" validate

# cron next: offsets, --from exclusive, --count, DST.
run 0 "$weir" cron next "0 2 * * 0" --tz America/Mexico_City \
    --from 2026-11-26T00:00:00-06:00 --count 2
expect_file "$tmp/out" "2026-11-29T02:00:00-06:00
2026-12-06T02:00:00-06:00"
run 0 "$weir" cron next "0 2 * * 0" --tz America/Mexico_City \
    --from 2026-11-29T02:00:00-06:00 --count 1
expect_file "$tmp/out" "2026-12-06T02:00:00-06:00"
run 0 "$weir" cron next "30 2 * * *" --tz America/New_York \
    --from 2026-03-07T12:00:00 --count 2
expect_file "$tmp/out" "2026-03-08T03:00:00-04:00
2026-03-09T02:30:00-04:00"
run 0 "$weir" cron next "*/30 * * * *" --tz America/New_York \
    --from 2026-11-01T00:50:00-04:00 --count 4
expect_file "$tmp/out" "2026-11-01T01:00:00-04:00
2026-11-01T01:30:00-04:00
2026-11-01T01:00:00-05:00
2026-11-01T01:30:00-05:00"
run 0 "$weir" cron next "@yearly" --from 2026-06-01T00:00:00Z --count 1
expect_file "$tmp/out" "2027-01-01T00:00:00+00:00"
run 1 "$weir" cron next "0 0 30 2 *"
grep -q "February" "$tmp/err" || fail "impossible cron: $(cat "$tmp/err")"
run 1 "$weir" cron next "61 * * * *"
grep -q "minute" "$tmp/err" || fail "bad minute: $(cat "$tmp/err")"
run 1 "$weir" cron next "@daily" --tz Mars/Olympus
run 2 "$weir" cron next "@daily" --count 0
run 2 "$weir" cron next

# dag show: defaults applied, topological order, cells expanded.
run 0 "$weir" dag show "$data/matrix.yaml"
python3 - "$tmp/out" <<'PY' || fail "dag show content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["dag"] == "matrix" and d["timezone"] == "UTC", d
train, evaluate = d["steps"]
assert train["id"] == "train" and evaluate["id"] == "evaluate", d["steps"]
assert train["retries"] == 0 and evaluate["retries"] == 2, d["steps"]
assert evaluate["retry_delay"] == "1m30s" and evaluate["queue"] == "default"
assert train["cells"] == [{"lr": 0.1, "depth": 3}, {"lr": 0.1, "depth": 5},
                          {"lr": 0.01, "depth": 3}, {"lr": 0.01, "depth": 5}], train
assert evaluate["cells"] is None and evaluate["needs"] == ["train"]
assert len(d["hash"]) == 64
PY
run 1 "$weir" dag show "$data/broken.yaml"
grep -q "broken.yaml:6:13:" "$tmp/err" || fail "dag show of a broken file"

# Options: exact names; a mistake is named with what was meant, before any
# server is asked.
run 2 "$weir" runs --limt 5
expect_file "$tmp/err" "weir runs: unknown option --limt (did you mean --limit?)
(see 'weir runs --help')"
run 2 "$weir" trigger some-dag --wai
expect_file "$tmp/err" "weir trigger: unknown option --wai (did you mean --wait?)
(see 'weir trigger --help')"
run 2 "$weir" dags --json=yes
expect_file "$tmp/err" "weir dags: --json takes no value
(see 'weir dags --help')"
run 2 "$weir" logs 1 --try
expect_file "$tmp/err" "weir logs: --try needs a value
(see 'weir logs --help')"
run 2 "$weir" cancel 1 -p a=b
expect_file "$tmp/err" "weir cancel: unknown option -p (params are for weir retry)
(see 'weir cancel --help')"
# An option of another command is refused by name, not ignored.
run 2 "$weir" runs --no-cache
expect_file "$tmp/err" "weir runs: --no-cache does not apply to weir runs
(see 'weir runs --help')"
run 2 "$weir" run 1 --wait
expect_file "$tmp/err" "weir run: --wait does not apply to weir run
(see 'weir run --help')"
run 2 "$weir" trigger some-dag --state failed
expect_file "$tmp/err" "weir trigger: --state does not apply to weir trigger
(see 'weir trigger --help')"
run 2 "$weir" workers -p a=b
expect_file "$tmp/err" "weir workers: --param does not apply to weir workers
(see 'weir workers --help')"

if [ "$failures" -gt 0 ]; then
    echo "$failures CLI check(s) failed" >&2
    exit 1
fi
echo "all CLI checks passed"
