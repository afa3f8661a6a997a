#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Dispatch behaviour of weir-server against a private PostgreSQL, with
# perf_test.py acting as workers over the HTTP worker protocol: a lease
# long-poll whose client went away claims nothing.
#   tests/integration/run_perf.sh PATH/TO/weir-server SOURCE_DIR
set -uo pipefail
server=$1
src=$2
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
cp "$src"/tests/integration/perf_dags/*.yaml "$tmp/dags/" || die "no DAGs"

"$server" --database-url "$url" --dags-dir "$tmp/dags" --listen 127.0.0.1:0 \
    --admin-token-file "$tmp/admin.token" --lease-ttl 10000 \
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
errors=$("$pg" psql "$tmp/pg" -tAc "SELECT id || ': ' || last_error FROM dags WHERE last_error IS NOT NULL")
[ -z "$errors" ] || die "test DAGs did not load: $errors"

WEIR_URL="http://$addr" WEIR_ADMIN=$(cat "$tmp/admin.token") WEIR_WORKER="$worker" \
    WEIR_READ="$reader" timeout 100 python3 "$src/tests/integration/perf_test.py" || rc=1

grep -q 'event=lease_abandoned' "$tmp/err" ||
    { echo "FAIL: no event=lease_abandoned in the server log" >&2; rc=1; }
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
echo "integration.perf: $((SECONDS - started)) s, rc $rc"
exit "$rc"
