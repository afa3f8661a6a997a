# SPDX-License-Identifier: Apache-2.0
# Sourced by the integration scripts that drive weir-server against a
# private PostgreSQL: the cluster, the server on 127.0.0.1:0 (more than one
# when a test needs it), tokens, the checks of its log, and the teardown on
# exit. Before sourcing, set `server` (the weir-server binary) and `src`
# (the source folder); `worker_bin` (weir-worker) too for
# harness_start_worker. Afterwards: tmp (a folder removed on exit, DAGs go
# in $tmp/dags), pg (pg.sh), url (libpq), rc (0; set to 1 on a failure),
# started. A script that starts processes of its own sets its own EXIT
# trap and calls harness_cleanup from it.

pg="$src/tests/pg/pg.sh"
tmp=$(mktemp -d)
chmod 755 "$tmp" # the postgres user must reach the cluster inside
export WEIR_PG_NOSYNC=1
server_pid=""
addr=""
harness_pids=() # servers of harness_spawn_server, stopped on exit
harness_worker_pid="" # the weir-worker of harness_start_worker
rc=0
started=$SECONDS

die() {
    echo "FATAL: $*" >&2
    exit 1
}

# fail MESSAGE: report a failed check; the script goes on, rc becomes 1.
fail() {
    echo "FAIL: $*" >&2
    rc=1
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
    local p
    for p in "${harness_pids[@]}"; do
        harness_stop "$p"
    done
    [ -n "$harness_worker_pid" ] && harness_stop "$harness_worker_pid"
    [ -n "$server_pid" ] && harness_stop "$server_pid"
    "$pg" stop "$tmp/pg" immediate >/dev/null 2>&1
    rm -rf "$tmp"
}
trap harness_cleanup EXIT
trap 'exit 1' INT TERM

url=$("$pg" start "$tmp/pg") || die "cannot start PostgreSQL"
mkdir -p "$tmp/dags"

# harness_launch OUT ERR [FLAGS...]: weir-server on 127.0.0.1:0 with the
# DAGs of $tmp/dags, stdout to OUT and stderr to ERR; sets launched_pid
# and returns at once.
harness_launch() {
    local out=$1 err=$2
    shift 2
    : >"$err" # a second start must not find the first one's address
    "$server" --database-url "$url" --dags-dir "$tmp/dags" \
        --listen 127.0.0.1:0 --admin-token-file "$tmp/admin.token" "$@" \
        >"$out" 2>"$err" &
    launched_pid=$!
}

# harness_listen_addr PID ERR: prints the host:port that server PID logged
# to ERR once it listens; fails (FATAL on stderr) when it exits first or
# does not listen within 20 s.
harness_listen_addr() {
    local a
    for _ in $(seq 1 200); do
        a=$(grep -o 'event=listening addr=[^ ]*' "$2" | head -n 1 | cut -d= -f3)
        [ -n "$a" ] && { echo "$a"; return 0; }
        kill -0 "$1" 2>/dev/null || { cat "$2" >&2; echo "FATAL: weir-server exited" >&2; return 1; }
        sleep 0.1
    done
    echo "FATAL: weir-server did not listen within 20 s" >&2
    return 1
}

# harness_start_server [FLAGS...]: the test's server, output in $tmp/out
# and $tmp/err; sets server_pid and addr (host:port).
harness_start_server() {
    harness_launch "$tmp/out" "$tmp/err" "$@"
    server_pid=$launched_pid
    addr=$(harness_listen_addr "$server_pid" "$tmp/err") || exit 1
}

# harness_spawn_server NAME [FLAGS...]: one more server, output in
# $tmp/out.NAME and $tmp/err.NAME; sets pid_NAME and addr_NAME. Stopped on
# exit unless harness_stop_server stopped it.
harness_spawn_server() {
    local name=$1 a
    shift
    harness_launch "$tmp/out.$name" "$tmp/err.$name" "$@"
    harness_pids+=("$launched_pid")
    printf -v "pid_$name" '%s' "$launched_pid"
    a=$(harness_listen_addr "$launched_pid" "$tmp/err.$name") || exit 1
    printf -v "addr_$name" '%s' "$a"
}

# harness_start_worker TOKEN NAME [FLAGS...]: $worker_bin (weir-worker)
# on the test's server, with TOKEN in $tmp/worker.token, the DAGs of
# $tmp/dags, scratch folders in $tmp/scratch and its output in
# $tmp/worker.log; sets harness_worker_pid.
harness_start_worker() {
    local token=$1 name=$2
    shift 2
    printf '%s\n' "$token" >"$tmp/worker.token"
    chmod 600 "$tmp/worker.token"
    mkdir -p "$tmp/scratch"
    "$worker_bin" --server "http://$addr" --token-file "$tmp/worker.token" \
        --dags-dir "$tmp/dags" --scratch-dir "$tmp/scratch" --name "$name" \
        --shutdown-grace 1s "$@" >"$tmp/worker.log" 2>&1 &
    harness_worker_pid=$!
}

# harness_stop_worker: stops the worker of harness_start_worker, if any.
harness_stop_worker() {
    [ -n "$harness_worker_pid" ] && harness_stop "$harness_worker_pid"
    harness_worker_pid=""
}

# harness_token ROLE [NAME]: prints a new token (fails when it cannot).
harness_token() {
    "$server" --create-token "$1" ${2:+--token-name "$2"} \
        --database-url "$url" 2>/dev/null
}

# Every DAG of $tmp/dags loaded.
harness_check_dags() {
    local errors
    errors=$(harness_sql "SELECT id || ': ' || last_error FROM dags WHERE last_error IS NOT NULL")
    [ -z "$errors" ] || die "test DAGs did not load: $errors"
}

# harness_stop_server [PID]: SIGTERM to the test's server (or to server
# PID of harness_spawn_server), which must exit 0 within 10 s (rc=1
# otherwise; SIGKILL after 10 s).
harness_stop_server() {
    local p=${1:-$server_pid} got q keep=()
    kill -TERM "$p"
    for _ in $(seq 1 100); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$p" 2>/dev/null; then
        kill -KILL "$p" 2>/dev/null
        fail "weir-server did not stop within 10 s of SIGTERM"
    fi
    wait "$p"
    got=$?
    if [ -z "${1:-}" ]; then
        server_pid=""
    else
        for q in "${harness_pids[@]}"; do
            [ "$q" = "$p" ] || keep+=("$q")
        done
        harness_pids=("${keep[@]}")
    fi
    [ "$got" -eq 0 ] || fail "weir-server exited $got on SIGTERM"
}

# harness_sql QUERY: the rows of QUERY in the test's database, unaligned.
harness_sql() {
    "$pg" psql "$tmp/pg" -tAc "$1"
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

# harness_check_log [LOG...]: no sanitizer report and no refused state
# transition in the server log $tmp/err and in each LOG (other servers'
# logs; a missing one is skipped); no sanitizer report in $tmp/worker.log
# either, when there is one.
harness_check_log() {
    local logs=("$tmp/err") f
    for f in "$@"; do
        [ -f "$f" ] && logs+=("$f")
    done
    if grep -q 'Sanitizer\|runtime error' "${logs[@]}" "$tmp/worker.log" 2>/dev/null; then
        echo "FAIL: sanitizer reports:" >&2
        grep -h -A 30 'Sanitizer\|runtime error' "${logs[@]}" "$tmp/worker.log" 2>/dev/null | head -n 80 >&2
        rc=1
    fi
    if grep -q 'illegal_transition' "${logs[@]}" 2>/dev/null; then
        echo "FAIL: illegal state transitions:" >&2
        grep -h 'illegal_transition' "${logs[@]}" 2>/dev/null | head >&2
        rc=1
    fi
    harness_check_pg_log
    [ "$rc" -eq 0 ] || tail -n 40 "${logs[@]}" >&2 2>/dev/null
}

# harness_check_pg_log: PostgreSQL never saw a BEGIN inside a transaction
# or a COMMIT outside one (a nested BEGIN commits the outer work early),
# and never had to break a deadlock (two transactions locking rows in
# opposite orders).
harness_check_pg_log() {
    if grep -q 'deadlock detected' "$tmp/pg/postgres.log" 2>/dev/null; then
        echo "FAIL: PostgreSQL broke a deadlock:" >&2
        grep -h -A 3 'deadlock detected' "$tmp/pg/postgres.log" | head -n 20 >&2
        rc=1
    fi
    if grep -q 'there is already a transaction in progress\|there is no transaction in progress' "$tmp/pg/postgres.log" 2>/dev/null; then
        echo "FAIL: transactions nested or ended twice (PostgreSQL log):" >&2
        grep -h -B 2 'there is already a transaction in progress\|there is no transaction in progress' "$tmp/pg/postgres.log" | head -n 20 >&2
        rc=1
    fi
}
