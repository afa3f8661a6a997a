#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The scheduler loop end to end, against a private PostgreSQL:
#  - the DAGs folder watch: a new file, an invalid edit (last version
#    kept, error shown), a fix, a file in a new subfolder, a removed file;
#    then the same with the uv_fs_poll fallback (--watch-poll);
#  - cron: a "* * * * *" DAG makes exactly one run for the next minute
#    slot, with its logical_time and reason, even with two servers on one
#    database and across a restart; a jittered trigger; a paused DAG gets
#    none;
#  - every stop is clean: exit 0, no sanitizer report.
# The test waits for a minute boundary, so it takes up to ~80 s.
#   tests/integration/run_sched.sh PATH/TO/weir-server SOURCE_DIR
set -uo pipefail
server=$1
src=$2
. "$src/tests/integration/harness.sh"

# dag_field ADDR ID FIELD: a field of DAG ID in GET /api/v1/dags ("" when
# the DAG is not listed, "null" for JSON null).
dag_field() {
    curl -s -H "Authorization: Bearer $token" "http://$1/api/v1/dags" |
        python3 -c '
import json, sys
for d in json.load(sys.stdin)["dags"]:
    if d["id"] == sys.argv[1]:
        v = d.get(sys.argv[2])
        print("null" if v is None else v)' "$2" "$3"
}

# wait_until SECONDS CMD...: run CMD every 0.1 s until it succeeds.
wait_until() {
    local deadline=$((SECONDS + $1)) t0
    shift
    t0=$(date +%s%N)
    while ! "$@"; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.1
    done
    waited_ms=$((($(date +%s%N) - t0) / 1000000))
    return 0
}

listed() { [ -n "$(dag_field "$1" "$2" version)" ] && [ "$(dag_field "$1" "$2" version)" != null ]; }
has_error() { dag_field "$1" "$2" last_error | grep -q -- "$3"; }
version_is_not() { v=$(dag_field "$1" "$2" version); [ -n "$v" ] && [ "$v" != null ] && [ "$v" != "$3" ]; }
no_error() { [ "$(dag_field "$1" "$2" last_error)" = null ]; }
is_missing() { [ "$(dag_field "$1" "$2" state)" = missing ]; }

dag_file() { # dag_file ID TEXT: a one-step DAG
    printf 'dag: %s\nsteps:\n  - id: s\n    run: echo %s\n' "$1" "$2"
}

# folder_checks ADDR PREFIX LIMIT_S: the watch rules, on files PREFIX-*.
folder_checks() {
    local a=$1 p=$2 lim=$3 v1
    dag_file "$p-new" one >"$tmp/dags/$p-new.yaml"
    wait_until "$lim" listed "$a" "$p-new" || fail "$p: a new file was not listed within $lim s"
    echo "$p: new file listed after ${waited_ms} ms"
    v1=$(dag_field "$a" "$p-new" version)
    printf 'dag: %s\nsteps: [{id: s, neeeds: x}]\n' "$p-new" >"$tmp/dags/$p-new.yaml"
    wait_until "$lim" has_error "$a" "$p-new" neeeds || fail "$p: an invalid edit did not set last_error"
    echo "$p: invalid edit reported after ${waited_ms} ms"
    [ "$(dag_field "$a" "$p-new" version)" = "$v1" ] || fail "$p: an invalid edit changed the version"
    dag_file "$p-new" two >"$tmp/dags/$p-new.yaml"
    wait_until "$lim" version_is_not "$a" "$p-new" "$v1" || fail "$p: a fixed file made no new version"
    no_error "$a" "$p-new" || fail "$p: a fixed file kept its last_error"
    mkdir -p "$tmp/dags/$p-sub/deeper"
    dag_file "$p-nested" three >"$tmp/dags/$p-sub/deeper/nested.yaml"
    wait_until "$lim" listed "$a" "$p-nested" || fail "$p: a file in a new subfolder was not picked up"
    echo "$p: file in a new subfolder listed after ${waited_ms} ms"
    rm "$tmp/dags/$p-new.yaml"
    wait_until "$lim" is_missing "$a" "$p-new" || fail "$p: a removed file's DAG is not marked missing"
    [ -n "$(dag_field "$a" "$p-new" version)" ] || fail "$p: a removed file's DAG is no longer listed"
    rm -r "$tmp/dags/$p-sub"
    wait_until "$lim" is_missing "$a" "$p-nested" || fail "$p: a removed subfolder's DAG is not marked missing"
}

cp "$src"/tests/integration/sched_dags/*.yaml "$tmp/dags/" || die "no DAGs"
harness_spawn_server a
token=$(cat "$tmp/admin.token")
# Paused behind the server's back (no API call tells its scheduler): the
# firing itself must see it. A slot the DAG met before this (it is loaded
# a moment earlier, and a slot due since then is caught up) may have a run.
paused_at=$(harness_sql "WITH u AS (UPDATE dags SET paused = true WHERE id = 'paused-cron' RETURNING 1) SELECT clock_timestamp() FROM u") &&
    [ -n "$paused_at" ] || die "cannot pause"
harness_check_dags

# ---- the folder watch (inotify) ----
folder_checks "$addr_a" watch 3

# ---- cron: two servers on one database, one run per slot ----
harness_spawn_server b
now=$(date +%s)
slot=$(((now / 60 + 1) * 60))
[ $((slot - now)) -ge 2 ] || slot=$((slot + 60))
echo "waiting $((slot - now)) s for the slot $(date -u -d "@$slot" +%H:%M:%S)Z"
sleep $((slot - now + 4))
kolkata=$(TZ=Asia/Kolkata date -d "@$slot" +%Y-%m-%dT%H:%M:%S+05:30)
for _ in $(seq 1 150); do # bounded: a loaded machine may fire late
    [ "$(harness_sql "SELECT count(*) FROM runs WHERE dag_id IN ('every-minute', 'jittered') AND logical_time = to_timestamp($slot)")" -ge 2 ] && break
    sleep 0.1
done
got=$(harness_sql "SELECT count(*), min(reason), min(trigger_kind), min(trigger_key) FROM runs WHERE dag_id = 'every-minute' AND logical_time = to_timestamp($slot)")
[ "$got" = "1|cron * * * * * ($kolkata)|cron|cron:* * * * *" ] ||
    fail "slot $slot: expected one cron run with reason 'cron * * * * * ($kolkata)', got '$got'"
dup=$(harness_sql "SELECT count(*) FROM (SELECT 1 FROM runs WHERE trigger_kind = 'cron' GROUP BY dag_id, trigger_key, logical_time HAVING count(*) > 1) x")
[ "$dup" = 0 ] || fail "a cron slot has more than one run"
got=$(harness_sql "SELECT count(*), min(trigger_key) FROM runs WHERE dag_id = 'jittered' AND logical_time = to_timestamp($slot)")
[ "$got" = "1|minutely" ] || fail "jittered slot: expected one run of trigger 'minutely', got '$got'"
[ "$(harness_sql "SELECT count(*) FROM runs WHERE dag_id = 'paused-cron' AND created_at > '$paused_at'")" = 0 ] || fail "a paused DAG got a cron run"
# Only the leader (a, the first one up) fires the slot; b follows.
fired_a=$(grep -c "event=cron_fired dag=every-minute .*slot=$kolkata.*created=yes" "$tmp/err.a")
fired_b=$(grep -c "event=cron_fired" "$tmp/err.b")
[ "$fired_a" = 1 ] && [ "$fired_b" = 0 ] ||
    fail "expected the leader a alone to fire the slot, a fired $fired_a, b $fired_b"
grep -q 'event=leader_elected' "$tmp/err.b" && fail "b was elected while a leads"
harness_stop_server "$pid_b"

# ---- a restart within the minute makes no second run ----
harness_stop_server "$pid_a"
harness_spawn_server a2 # a again, with a log of its own
sleep 2
n=$(harness_sql "SELECT count(*) FROM runs WHERE dag_id = 'every-minute' AND logical_time = to_timestamp($slot)")
[ "$n" = 1 ] || fail "after a restart the slot has $n runs"
[ "$(date +%s)" -lt $((slot + 60)) ] || echo "note: the restart crossed into the next minute"

# ---- the uv_fs_poll fallback ----
harness_stop_server "$pid_a2"
harness_spawn_server p --watch-poll
grep -q "event=sched_started .*watch=poll" "$tmp/err.p" || fail "--watch-poll did not poll"
folder_checks "$addr_p" poll 4
harness_stop_server "$pid_p"

echo "lateness (slot to run committed):"
cat "$tmp"/err.* | grep -o 'event=cron_fired dag=[^ ]* trigger="[^"]*" slot=[^ ]* late_ms=[0-9-]* jitter_ms=[0-9]* run=[0-9]* created=[a-z]*' | sed 's/^/  /'
harness_check_log "$tmp"/err.*
echo "integration.sched: $((SECONDS - started)) s, rc $rc"
exit "$rc"
