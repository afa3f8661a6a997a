#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Request limits end to end, against a private PostgreSQL: connections
# per client address and the header deadline, JSON depth, size and UTF-8,
# metric times, webhook body limits, replays and probing, a trusted
# proxy, stored JSON too deep to read, then 5xx
# replies with the database stopped.
#   tests/integration/run_limits.sh PATH/TO/weir-server SOURCE_DIR
set -uo pipefail
server=$1
src=$2
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/limits_dags/*.yaml "$tmp/dags/" || die "no DAGs"
export WEIR_TEST_HOOK_SECRET=hook-secret-for-limits

harness_start_server
worker=$(harness_token worker lim-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
harness_check_dags
export WEIR_ADMIN="$ops" WEIR_WORKER="$worker" WEIR_READ="$reader"

WEIR_URL="http://$addr" timeout 120 python3 \
    "$src/tests/integration/limits_test.py" main || rc=1

# a payload stored before the depth limit (1100 deep, more than cJSON
# reads): its readers report a parse failure, not out of memory
deep=$(python3 -c 'print("[" * 1100 + "]" * 1100)')
harness_sql "INSERT INTO events (name, payload) VALUES ('lim.old', '$deep')" \
    >/dev/null || die "cannot store a deep payload"
WEIR_URL="http://$addr" timeout 60 python3 \
    "$src/tests/integration/limits_test.py" stored || rc=1
grep -q 'event=http_5xx method=GET path="/api/v1/events" code=INTERNAL msg="cannot parse stored JSON' "$tmp/err" ||
    fail "the stored deep payload was not logged as a parse failure"
harness_sql "DELETE FROM events WHERE name = 'lim.old'" >/dev/null

# behind a trusted proxy, the cap is per forwarded client
harness_spawn_server proxy --trusted-proxy 127.0.0.5/32 \
    --max-conns-per-client 4
WEIR_URL="http://$addr_proxy" timeout 60 python3 \
    "$src/tests/integration/limits_test.py" proxy || rc=1
harness_stop_server "$pid_proxy"
out=$("$server" --database-url "$url" --trusted-proxy 10.0.0.0/33 2>&1)
[ $? -eq 2 ] && case "$out" in *'"10.0.0.0/33" is not an address or CIDR'*) true ;; *) false ;; esac ||
    fail "a bad --trusted-proxy: $out"
out=$("$server" --database-url "$url" --max-conns-per-client 0 2>&1)
[ $? -eq 2 ] && case "$out" in *'--max-conns-per-client'*'expected a number'*) true ;; *) false ;; esac ||
    fail "a bad --max-conns-per-client: $out"

# what the limits did is in the server log
for line in 'event=http_conn_refused client=127.0.0.2 why=per_client_cap' \
    'event=http_conn_timeout closed=' \
    'event=hook_refused dag="no-such-dag" trigger="push" why="no such DAG"'; do
    grep -qF "$line" "$tmp/err" || fail "no \"$line\" in the server log"
done

# the database's words go to the log, not to clients
"$pg" stop "$tmp/pg" immediate >/dev/null 2>&1
WEIR_URL="http://$addr" timeout 120 python3 \
    "$src/tests/integration/limits_test.py" down || rc=1
grep -q 'event=http_5xx' "$tmp/err" ||
    fail "no event=http_5xx line with the details in the server log"

harness_stop_server
harness_check_log
echo "integration.limits: $((SECONDS - started)) s, rc $rc"
exit "$rc"
