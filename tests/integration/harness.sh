# SPDX-License-Identifier: Apache-2.0
# Sourced by the integration scripts that drive one weir-server against a
# private PostgreSQL: the cluster, the server on 127.0.0.1:0, tokens, the
# checks of its log, and the teardown on exit. Before sourcing, set
# `server` (the weir-server binary) and `src` (the source folder).
# Afterwards: tmp (a folder removed on exit, DAGs go in $tmp/dags), pg
# (pg.sh), url (libpq), rc (0; set to 1 on a failure), started.

pg="$src/tests/pg/pg.sh"
tmp=$(mktemp -d)
chmod 755 "$tmp" # the postgres user must reach the cluster inside
export WEIR_PG_NOSYNC=1
server_pid=""
addr=""
rc=0
started=$SECONDS

die() {
    echo "FATAL: $*" >&2
    exit 1
}

# harness_stop PID: SIGTERM, up to 10 s to exit, then SIGKILL; reaped.
harness_stop() {
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

harness_cleanup() {
    [ -n "$server_pid" ] && harness_stop "$server_pid"
    "$pg" stop "$tmp/pg" immediate >/dev/null 2>&1
    rm -rf "$tmp"
}
trap harness_cleanup EXIT
trap 'exit 1' INT TERM

url=$("$pg" start "$tmp/pg") || die "cannot start PostgreSQL"
mkdir -p "$tmp/dags"

# harness_start_server [FLAGS...]: weir-server on 127.0.0.1:0 with the
# DAGs of $tmp/dags; sets server_pid and addr (host:port).
harness_start_server() {
    : >"$tmp/err" # a second start must not find the first one's address
    "$server" --database-url "$url" --dags-dir "$tmp/dags" \
        --listen 127.0.0.1:0 --admin-token-file "$tmp/admin.token" "$@" \
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
}

# harness_token ROLE [NAME]: prints a new token (fails when it cannot).
harness_token() {
    "$server" --create-token "$1" ${2:+--token-name "$2"} \
        --database-url "$url" 2>/dev/null
}

# Every DAG of $tmp/dags loaded.
harness_check_dags() {
    local errors
    errors=$("$pg" psql "$tmp/pg" -tAc "SELECT id || ': ' || last_error FROM dags WHERE last_error IS NOT NULL")
    [ -z "$errors" ] || die "test DAGs did not load: $errors"
}

# harness_stop_server: SIGTERM to the server, which must exit 0 (rc=1
# otherwise).
harness_stop_server() {
    local got
    kill -TERM "$server_pid"
    wait "$server_pid"
    got=$?
    server_pid=""
    [ "$got" -eq 0 ] || { echo "FAIL: weir-server exited $got on SIGTERM" >&2; rc=1; }
}

# expect_cli WANT_RC GREP_PATTERN ARGS...: run `$cli ARGS` against the
# server with the admin token $ops; fail (rc=1) unless it exits WANT_RC and
# prints a line matching GREP_PATTERN.
expect_cli() {
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

# No sanitizer report and no refused state transition in the server log.
harness_check_log() {
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
}
