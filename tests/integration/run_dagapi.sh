#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# DAGs submitted over the API: weir-server against a private PostgreSQL,
# with dagapi_test.py submitting, updating, refusing and deleting DAGs and
# acting as a worker for the run that holds a delete back. With weir-worker
# as a third argument, a submitted DAG also runs on a real worker; with the
# weir CLI as a fourth, `weir dag submit` and `weir dag delete` are run.
#   tests/integration/run_dagapi.sh PATH/TO/weir-server SOURCE_DIR \
#       [PATH/TO/weir-worker [PATH/TO/weir]]
set -uo pipefail
server=$1
src=$2
worker_bin=${3:-}
cli=${4:-}
pg="$src/tests/pg/pg.sh"
tmp=$(mktemp -d)
chmod 755 "$tmp" # the postgres user must reach the cluster inside
export WEIR_PG_NOSYNC=1
server_pid=""
worker_pid=""
rc=0
started=$SECONDS

die() {
    echo "FATAL: $*" >&2
    exit 1
}

stop_pid() { # PID
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

cleanup() {
    [ -n "$worker_pid" ] && stop_pid "$worker_pid"
    [ -n "$server_pid" ] && stop_pid "$server_pid"
    "$pg" stop "$tmp/pg" immediate >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

url=$("$pg" start "$tmp/pg") || die "cannot start PostgreSQL"
mkdir -p "$tmp/dags" "$tmp/scratch"
cat >"$tmp/dags/filedag.yaml" <<'YAML'
dag: filedag
steps:
  - id: a
    run: echo a
YAML

"$server" --database-url "$url" --dags-dir "$tmp/dags" --listen 127.0.0.1:0 \
    --admin-token-file "$tmp/admin.token" >"$tmp/out" 2>"$tmp/err" &
server_pid=$!
addr=""
for _ in $(seq 1 200); do
    addr=$(grep -o 'event=listening addr=[^ ]*' "$tmp/err" | head -n 1 | cut -d= -f3)
    [ -n "$addr" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/err" >&2; die "weir-server exited"; }
    sleep 0.1
done
[ -n "$addr" ] || die "weir-server did not listen within 20 s"
worker=$("$server" --create-token worker --token-name test-worker --database-url "$url" 2>/dev/null) ||
    die "cannot create a worker token"
reader=$("$server" --create-token read --database-url "$url" 2>/dev/null) ||
    die "cannot create a read token"

if [ -n "$worker_bin" ]; then
    printf '%s\n' "$worker" >"$tmp/worker.token"
    chmod 600 "$tmp/worker.token"
    "$worker_bin" --server "http://$addr" --token-file "$tmp/worker.token" \
        --queue dagapi-exec --dags-dir "$tmp/dags" --scratch-dir "$tmp/scratch" \
        --name exec-worker --shutdown-grace 1s >"$tmp/worker.log" 2>&1 &
    worker_pid=$!
fi

WEIR_URL="http://$addr" WEIR_ADMIN=$(cat "$tmp/admin.token") WEIR_WORKER="$worker" \
    WEIR_READ="$reader" WEIR_DAGS_DIR="$tmp/dags" WEIR_EXEC=${worker_bin:+1} \
    WEIR_PG="$pg" WEIR_PG_DIR="$tmp/pg" \
    timeout 90 python3 "$src/tests/integration/dagapi_test.py" || rc=1

# the CLI: exit codes and what it prints
expect_cli() { # WANT_RC GREP_PATTERN ARGS...
    local want=$1 pat=$2 got
    shift 2
    WEIR_SERVER="http://$addr" WEIR_TOKEN=$(cat "$tmp/admin.token") \
        timeout 20 "$cli" "$@" >"$tmp/cli" 2>&1
    got=$?
    if [ "$got" -ne "$want" ] || ! grep -q -- "$pat" "$tmp/cli"; then
        echo "FAIL: weir $* exited $got (want $want):" >&2
        cat "$tmp/cli" >&2
        rc=1
    fi
}
if [ -n "$cli" ]; then
    mkdir -p "$tmp/cli-dags"
    printf 'dag: clidag\nsteps:\n  - id: a\n    run: echo a\n' >"$tmp/cli-dags/clidag.yaml"
    printf 'dag: clibad\nsteps:\n  - id: a\n    run: echo a\n    retries: x\n' >"$tmp/cli-dags/bad.yaml"
    expect_cli 0 "DAG clidag created (version" dag submit "$tmp/cli-dags/clidag.yaml"
    expect_cli 0 "DAG clidag unchanged" dag submit "$tmp/cli-dags/clidag.yaml"
    expect_cli 0 '"new_version":' dag submit "$tmp/cli-dags/clidag.yaml" --json
    expect_cli 1 "bad.yaml:5:14: " dag submit "$tmp/cli-dags/bad.yaml"
    expect_cli 1 "edit the file" dag submit "$tmp/dags/filedag.yaml"
    expect_cli 1 "cannot read" dag submit "$tmp/cli-dags/none.yaml"
    expect_cli 0 "DAG clidag deleted" dag delete clidag
    expect_cli 1 "no DAG" dag delete clidag
    expect_cli 1 "remove the file" dag delete filedag
    expect_cli 2 "expected one FILE" dag submit
    expect_cli 0 "weir dag delete DAG" dag delete --help
fi

if [ -n "$worker_pid" ]; then
    stop_pid "$worker_pid"
    worker_pid=""
fi
kill -TERM "$server_pid"
wait "$server_pid"
src_rc=$?
server_pid=""
[ "$src_rc" -eq 0 ] || { echo "FAIL: weir-server exited $src_rc on SIGTERM" >&2; rc=1; }
if grep -q 'Sanitizer\|runtime error' "$tmp/err" "$tmp/worker.log" 2>/dev/null; then
    echo "FAIL: sanitizer reports:" >&2
    grep -h -A 30 'Sanitizer\|runtime error' "$tmp/err" "$tmp/worker.log" 2>/dev/null | head -n 80 >&2
    rc=1
fi
if [ "$rc" -ne 0 ]; then
    tail -n 40 "$tmp/err" >&2
    [ -f "$tmp/worker.log" ] && tail -n 20 "$tmp/worker.log" >&2
fi
echo "integration.dagapi: $((SECONDS - started)) s, rc $rc"
exit "$rc"
