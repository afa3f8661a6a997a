#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's run path end to end: `weir up` (private PostgreSQL, the
# server, two real workers), then the CLI: trigger with a parameter full of
# shell metacharacters, watch the run finish with a retry, read the logs
# of a step that got an upstream output; Ctrl-C stops everything, and a
# second `weir up` keeps the history. The private cluster refuses another
# local user (as root: a throwaway system user made for the test), a
# second `weir up` on a home in use refuses and leaves the first alone, and
# a killed one leaves no lock behind.
#   tests/integration/run_up.sh PATH/TO/weir SOURCE_DIR
set -uo pipefail
weir=$1
src=$2
tmp=$(mktemp -d)
chmod 755 "$tmp" # the postgres user must reach the cluster inside
export WEIR_PG_NOSYNC=1
up_pid=""
failures=0
other_user=""

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

die() {
    echo "FATAL: $*" >&2
    [ -f "$tmp/up.log" ] && tail -n 40 "$tmp/up.log" >&2
    exit 1
}

stop_up() {
    [ -n "$up_pid" ] || return 0
    kill -INT "$up_pid" 2>/dev/null
    for _ in $(seq 1 400); do
        kill -0 "$up_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$up_pid" 2>/dev/null; then
        fail "weir up did not stop within 40 s of Ctrl-C"
        kill -KILL "$up_pid" 2>/dev/null
    fi
    wait "$up_pid" 2>/dev/null
    up_pid=""
}

cleanup() {
    stop_up
    pkill -KILL -f "$tmp" 2>/dev/null
    bash "$src/tests/pg/pg.sh" stop "$tmp/.weir/pg" immediate >/dev/null 2>&1
    [ -n "$other_user" ] && userdel "$other_user" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir "$tmp/dags"
cp "$src"/tests/integration/up_dags/*.yaml "$tmp/dags/"
cd "$tmp" || die "no temp folder"

# start_up N [ARG...]: weir up with ARGs; ready once N workers registered.
start_up() {
    local n=$1
    shift
    "$weir" up --listen "127.0.0.1:$port" --workers 2 --slots 2 "$@" \
        >>"$tmp/up.log" 2>&1 &
    up_pid=$!
    for _ in $(seq 1 300); do
        grep -q 'weir up: ready' "$tmp/up.log" 2>/dev/null &&
            [ "$(grep -c 'event=registered' "$tmp/up.log")" -ge "$n" ] && return 0
        kill -0 "$up_pid" 2>/dev/null || die "weir up exited"
        sleep 0.1
    done
    die "weir up was not ready within 30 s"
}

# wait_run ID: prints the final state of run ID (at most 30 s).
wait_run() {
    local state=""
    for _ in $(seq 1 300); do
        state=$("$weir" run "$1" --json |
            python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])')
        case "$state" in success | failed | canceled) break ;; esac
        sleep 0.1
    done
    echo "$state"
}

start_up 2
[ -f .weir/server.url ] || fail ".weir/server.url not written"
[ "$(stat -c %a .weir/admin.token)" = 600 ] || fail "admin token not mode 600"
grep -q "dashboard: http://127.0.0.1:$port/ " up.log ||
    fail "weir up did not print the dashboard's address: $(cat up.log)"
curl -sf "http://127.0.0.1:$port/" | grep -q '<title>Weir</title>' ||
    fail "the dashboard is not served at http://127.0.0.1:$port/"

"$weir" dags >dags.out || fail "weir dags failed"
grep -q '^e2e ' dags.out || fail "e2e not listed: $(cat dags.out)"

# ---- another local user cannot reach the cluster ----
case "$(stat -c %a .weir)" in 700 | 710) ;; *) fail ".weir is mode $(stat -c %a .weir), not 700/710" ;; esac
[ "$(stat -c %a .weir/pg)" = 700 ] || fail ".weir/pg is mode $(stat -c %a .weir/pg), not 700"
# psql_as USER: psql as USER to the cluster, as its superuser; prints
# what it said.
psql_as() {
    runuser -u "$1" -- env -i PATH="$PATH" psql -X -w \
        "host=$tmp/.weir/pg port=5432 dbname=weir user=$2" -tAc 'SELECT 1' 2>&1
}
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: the other-user check of the cluster needs root (to create a throwaway user)"
else
    other_user="weirprobe$$"
    useradd -r -M -s /usr/sbin/nologin "$other_user" || die "useradd failed"
    for db_user in postgres "$other_user"; do
        out=$(psql_as "$other_user" "$db_user") &&
            fail "user $other_user connected to weir up's cluster as $db_user: $out"
    done
    # Even with every folder and the socket opened up, peer authentication
    # refuses the other user.
    chmod 711 .weir
    chmod 777 .weir/pg .weir/pg/.s.PGSQL.5432
    out=$(psql_as "$other_user" postgres) &&
        fail "with the folders opened, $other_user connected as postgres: $out"
    echo "$out" | grep -q 'Peer authentication failed' ||
        fail "the cluster did not refuse $other_user by peer authentication: $out"
    chmod 710 .weir
    chmod 700 .weir/pg .weir/pg/.s.PGSQL.5432
    userdel "$other_user" 2>/dev/null
    other_user=""
fi

# ---- a second weir up on the same home refuses and touches nothing ----
timeout 20 "$weir" up --listen "127.0.0.1:$port" --workers 1 >second.out 2>&1
got=$?
[ "$got" -eq 1 ] || fail "a second weir up on the same home exited $got: $(cat second.out)"
grep -q "in use by a running .weir up. (pid=$up_pid url=http://127.0.0.1:$port)" second.out ||
    fail "the second weir up did not name the running one: $(cat second.out)"
"$weir" dags >/dev/null 2>&1 || fail "the first weir up was disturbed by the second"
bash "$src/tests/pg/pg.sh" psql .weir/pg -tAc 'SELECT 1' >/dev/null 2>&1 ||
    fail "the first weir up's PostgreSQL was stopped by the second"

payload="it's \$(touch $tmp/pwned); rm -rf / #"
run_id=$("$weir" trigger e2e -p "who=$payload") || die "trigger failed"
state=$(wait_run "$run_id")
[ "$state" = success ] || fail "run $run_id ended $state: $("$weir" run "$run_id")"
[ -e "$tmp/pwned" ] && fail "a parameter ran as a command"

"$weir" logs "$run_id" echo >echo.out || fail "weir logs failed"
[ "$(cat echo.out)" = "got <hello $payload>" ] ||
    fail "downstream output: $(cat echo.out)"
"$weir" logs "$run_id" greet >greet.out 2>&1
[ "$(cat greet.out)" = "hello, $payload" ] || fail "greet log: $(cat greet.out)"

"$weir" run "$run_id" --json >run.json
python3 - run.json <<'PY' || fail "flaky step record"
import json, sys
r = json.load(open(sys.argv[1]))
flaky = [t for t in r["tasks"] if t["step"] == "flaky"][0]
tries = [(a["try"], a["state"], a["exit_code"]) for a in flaky["attempts"]]
assert tries == [(1, "failed", 3), (2, "success", 0)], tries
PY
"$weir" logs "$run_id" flaky >flaky.out 2>&1
grep -q "try 2 works" flaky.out || fail "flaky log: $(cat flaky.out)"

"$weir" runs e2e >runs.out
grep -q "^$run_id *e2e *success" runs.out || fail "weir runs: $(cat runs.out)"

stop_up
grep -q 'weir up: stopping' "$tmp/up.log" || fail "no clean stop message"
pgrep -f "$tmp" >/dev/null && fail "processes left after Ctrl-C: $(pgrep -af "$tmp")"

"$weir" up --queue 'a b' >queue.out 2>&1
[ $? -eq 2 ] && grep -q -- '--queue must be a queue name' queue.out ||
    fail "a bad --queue: $(cat queue.out)"

# A second `weir up` reuses the cluster: the run is still there. Its
# workers serve the prod queue too. The admin token's file was lost: it
# makes a new one (the server makes none, an admin token exists).
rm .weir/admin.token
start_up 4 --queue default --queue prod
[ "$(stat -c %a .weir/admin.token 2>/dev/null)" = 600 ] || fail "no new admin token file of mode 600"
"$weir" runs e2e >runs2.out
grep -q "^$run_id *e2e *success" runs2.out || fail "history lost: $(cat runs2.out)"
prod_id=$("$weir" trigger prodq) || die "trigger prodq failed"
state=$(wait_run "$prod_id")
[ "$state" = success ] || fail "prod-queue run $prod_id ended $state"
run_id=$("$weir" trigger e2e -p who=again) || die "trigger failed"
state=$(wait_run "$run_id")
[ "$state" = success ] || fail "default queue after --queue: run ended $state"

# A weir up killed outright leaves no lock behind: once its server and
# workers are gone, the next one starts.
children=$(pgrep -P "$up_pid")
kill -KILL "$up_pid"
wait "$up_pid" 2>/dev/null
up_pid=""
for p in $children; do kill -TERM "$p" 2>/dev/null; done
for _ in $(seq 1 100); do
    alive=0
    for p in $children; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
done
start_up 6
"$weir" runs e2e >runs3.out || fail "weir runs after a killed weir up"
stop_up

if [ "$failures" -gt 0 ]; then
    tail -n 30 "$tmp/up.log" >&2
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "weir up end to end: all checks passed"
