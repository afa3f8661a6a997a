#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Several servers on one database, one leader: three weir-servers and a
# real weir-worker against a private PostgreSQL; leader_test.py checks
# that exactly one leads, that terminating the leader's election session
# hands the lead on (a higher epoch; the old one fires nothing more), and
# that kill -9 of the leader while runs, a cron slot and events are in
# flight is taken over within --leader-timeout-s, every run finishing,
# the slot fired once, every acknowledged event with its run.
#
# Cron has minutes only; the cron DAG's zone (Test/Shift, made here with
# zic in a TZDIR of the test's) is offset from UTC by whole seconds so
# that its minute turns SLOT_IN seconds after the servers start. Nothing
# in the server differs: it reads zones from TZDIR as the C library does.
#   tests/integration/run_leader.sh PATH/TO/weir-server SOURCE_DIR \
#       PATH/TO/weir-worker
set -uo pipefail
server=$1
src=$2
worker_bin=$3
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/leader_dags/*.yaml "$tmp/dags/" || die "no DAGs"

SLOT_IN=19 # seconds from here to the slot the kill straddles
now=$(date +%s)
slot=$((now + SLOT_IN))
# local = UTC + offset turns a minute at slot: offset = -slot mod 60
off=$(((60 - slot % 60) % 60))
mkdir -p "$tmp/zic" || die "no zic folder"
printf 'Zone\tTest/Shift\t0:00:%02d\t-\tTSH\nZone\tUTC\t0\t-\tUTC\n' "$off" \
    >"$tmp/zic/zones" || die "cannot write the zone source"
/usr/sbin/zic -d "$tmp/zoneinfo" "$tmp/zic/zones" || die "zic failed"
export TZDIR="$tmp/zoneinfo"
echo "the cron DAG's minute turns at $(date -u -d "@$slot" +%H:%M:%S)Z (zone offset +${off} s)"

# Each chore of a leader waiting at the fence (the fence test holds an
# epoch increment open) holds a pooled connection: pools larger than the
# chores keep health answering meanwhile.
harness_spawn_server s1 --name s1 --pool-size 10
harness_check_dags
harness_spawn_server s2 --name s2 --pool-size 10
# s3 has no DAGs folder (no --dags-dir, no ./dags where it starts): it
# serves the DAGs of the database, and leads from them if elected. It is
# named after its address.
(cd "$tmp/zic" && exec "$server" --database-url "$url" --listen 127.0.0.1:0 \
    --pool-size 10 \
    >"$tmp/out.s3" 2>"$tmp/err.s3") &
pid_s3=$!
harness_pids+=("$pid_s3")
addr_s3=$(harness_listen_addr "$pid_s3" "$tmp/err.s3") || exit 1
# bad values are refused, naming the option
out=$("$server" --database-url "$url" --leader-timeout-s 1 2>&1)
[ $? -eq 2 ] && case "$out" in *'--leader-timeout-s'*'"1"'*'from 2 to 300'*) true ;; *) false ;; esac ||
    fail "a bad --leader-timeout-s: $out"
out=$("$server" --database-url "$url" --name 'a b' 2>&1)
[ $? -eq 2 ] && case "$out" in *'--name'*'"a b"'*'without spaces'*) true ;; *) false ;; esac ||
    fail "a bad --name: $out"
# a --dags-dir that is not a folder is refused at start, also by a
# server that would only read it once it leads (another leads now)
timeout 10 "$server" --database-url "$url" --listen 127.0.0.1:0 \
    --dags-dir "$tmp/no-such-folder" >/dev/null 2>"$tmp/nodir.err"
got=$?
[ "$got" -eq 2 ] && grep -q -- '--dags-dir (or WEIR_DAGS_DIR) ".*no-such-folder": No such file or directory' "$tmp/nodir.err" ||
    fail "a --dags-dir that does not exist, another server leading: exit $got: $(head -c 600 "$tmp/nodir.err")"
"$server" --help | grep -- '--leader-timeout-s N' >/dev/null || fail "--help lacks --leader-timeout-s"
"$server" --help | grep -- '--name NAME' >/dev/null || fail "--help lacks --name"
worker=$(harness_token worker ld-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
# The worker lists the three servers (s1 first): the leader killed may be
# the one it uses, and it then carries on through another.
addr=$addr_s1
harness_start_worker "$worker" ld-worker --queue ld --slots 8 \
    --server "http://$addr_s2" --server "http://$addr_s3"

WEIR_URL="http://$addr_s1" WEIR_ADMIN="$ops" WEIR_READ="$reader" \
    WEIR_SERVERS="s1=$addr_s1=$pid_s1 s2=$addr_s2=$pid_s2 s3=$addr_s3=$pid_s3" \
    WEIR_LOGS="s1=$tmp/err.s1 s2=$tmp/err.s2 s3=$tmp/err.s3" \
    WEIR_PSQL="$pg psql $tmp/pg" WEIR_SLOT="$slot" \
    timeout 60 python3 "$src/tests/integration/leader_test.py" || rc=1

echo "test done after $((SECONDS - started)) s"
harness_stop_worker
echo "worker stopped after $((SECONDS - started)) s"
for p in "$pid_s1" "$pid_s2" "$pid_s3"; do
    kill -0 "$p" 2>/dev/null && harness_stop_server "$p"
done
harness_check_log "$tmp"/err.s1 "$tmp"/err.s2 "$tmp"/err.s3
echo "integration.leader: $((SECONDS - started)) s, rc $rc"
exit "$rc"
