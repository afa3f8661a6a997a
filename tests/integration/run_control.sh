#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Control of runs end to end: weir-server against a private PostgreSQL,
# with control_test.py acting as a worker: cancel (the heartbeat says so),
# retry (all failed, or from a step), approval gates, pause, the worker
# list and /metrics.
# With the weir CLI as a third argument, its control commands are run too.
#   tests/integration/run_control.sh PATH/TO/weir-server SOURCE_DIR [PATH/TO/weir]
set -uo pipefail
server=$1
src=$2
cli=${3:-}
pg="$src/tests/pg/pg.sh"
tmp=$(mktemp -d)
chmod 755 "$tmp" # the postgres user must reach the cluster inside
export WEIR_PG_NOSYNC=1
server_pid=""
rc=0
started=$SECONDS

die() {
    echo "FATAL: $*" >&2
    exit 1
}

cleanup() {
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null
        for _ in $(seq 1 100); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    "$pg" stop "$tmp/pg" immediate >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

url=$("$pg" start "$tmp/pg") || die "cannot start PostgreSQL"
mkdir -p "$tmp/dags"
cp "$src"/tests/integration/control_dags/*.yaml "$tmp/dags/" || die "no DAGs"

"$server" --database-url "$url" --dags-dir "$tmp/dags" --listen 127.0.0.1:0 \
    --admin-token-file "$tmp/admin.token" --lease-ttl 5000 \
    >"$tmp/out" 2>"$tmp/err" &
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
ops=$("$server" --create-token admin --token-name ops --database-url "$url" 2>/dev/null) ||
    die "cannot create a named admin token"
errors=$("$pg" psql "$tmp/pg" -tAc "SELECT id || ': ' || last_error FROM dags WHERE last_error IS NOT NULL")
[ -z "$errors" ] || die "test DAGs did not load: $errors"

WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_WORKER="$worker" \
    WEIR_READ="$reader" timeout 90 python3 "$src/tests/integration/control_test.py" || rc=1

# the CLI: one call each, exit codes and what it prints
expect_cli() { # WANT_RC GREP_PATTERN ARGS...
    local want=$1 pat=$2 got
    shift 2
    WEIR_SERVER="http://$addr" WEIR_TOKEN="$ops" timeout 20 "$cli" "$@" >"$tmp/cli" 2>&1
    got=$?
    if [ "$got" -ne "$want" ] || ! grep -q -- "$pat" "$tmp/cli"; then
        echo "FAIL: weir $* exited $got (want $want):" >&2
        cat "$tmp/cli" >&2
        rc=1
    fi
}
if [ -n "$cli" ]; then
    expect_cli 0 "DAG ctl-pause paused" pause ctl-pause
    expect_cli 1 "paused" trigger ctl-pause
    expect_cli 0 "DAG ctl-pause unpaused" unpause ctl-pause
    expect_cli 1 "no run 999999" cancel 999999
    expect_cli 1 "already finished" cancel 1
    expect_cli 1 "did you mean" retry 2 --from onl
    expect_cli 1 "not awaiting_approval" approve 2 only --comment ok
    expect_cli 2 "RUN_ID STEP" reject 1
    expect_cli 0 '"paused":' pause ctl-pause --json
    expect_cli 0 "unpaused" unpause ctl-pause
fi

kill -TERM "$server_pid"
wait "$server_pid"
src_rc=$?
server_pid=""
[ "$src_rc" -eq 0 ] || { echo "FAIL: weir-server exited $src_rc on SIGTERM" >&2; rc=1; }
if grep -q 'Sanitizer\|runtime error' "$tmp/err"; then
    echo "FAIL: sanitizer reports:" >&2
    grep -A 30 'Sanitizer\|runtime error' "$tmp/err" | head -n 80 >&2
    rc=1
fi
if grep -q 'illegal_transition' "$tmp/err"; then
    echo "FAIL: illegal state transitions:" >&2
    grep 'illegal_transition' "$tmp/err" | head >&2
    rc=1
fi
[ "$rc" -eq 0 ] || tail -n 40 "$tmp/err" >&2
[ -n "${WEIR_KEEP_LOG:-}" ] && cp "$tmp/err" "$WEIR_KEEP_LOG"
echo "integration.control: $((SECONDS - started)) s, rc $rc"
exit "$rc"
