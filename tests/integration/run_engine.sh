#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The execution engine end to end: weir-server against a private
# PostgreSQL, with engine_test.py acting as a worker over the HTTP worker
# protocol (register, lease, heartbeat, logs, complete): chains with
# outputs, quoting, retries with backoff, trigger rules and if:, matrix
# fan-out, stale leases, lease expiry, long-poll latency, logs, run
# lists, max_active_runs.
#   tests/integration/run_engine.sh PATH/TO/weir-server SOURCE_DIR
set -uo pipefail
server=$1
src=$2
. "$src/tests/integration/harness.sh"
mkdir -p "$tmp/dags/sub"
cp "$src"/tests/integration/engine_dags/*.yaml "$tmp/dags/" || die "no DAGs"
mv "$tmp/dags/chain.yaml" "$tmp/dags/sub/chain.yaml"

harness_start_server --lease-ttl 1500
worker=$(harness_token worker test-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
"$pg" psql "$tmp/pg" -qc "UPDATE dags SET paused = true WHERE id = 'paused'" ||
    die "cannot pause a DAG"
harness_check_dags

WEIR_URL="http://$addr" WEIR_ADMIN=$(cat "$tmp/admin.token") WEIR_WORKER="$worker" \
    WEIR_READ="$reader" timeout 150 python3 "$src/tests/integration/engine_test.py" || rc=1

# a stop does not wait for a long-poll lease to run out
wid=$(curl -s -X POST -H "Authorization: Bearer $worker" \
    -d '{"name": "w-stop", "queues": ["nothing"]}' \
    "http://$addr/api/v1/workers/register" | python3 -c 'import json, sys; print(json.load(sys.stdin)["worker_id"])')
curl -s -o /dev/null -X POST -H "Authorization: Bearer $worker" \
    -d '{"max": 1, "wait_ms": 60000}' "http://$addr/api/v1/workers/$wid/lease" &
curl_pid=$!
sleep 0.5
stop_start=$SECONDS
harness_stop_server
wait "$curl_pid" 2>/dev/null
[ $((SECONDS - stop_start)) -le 5 ] ||
    fail "a waiting lease held the stop for $((SECONDS - stop_start)) s"
harness_check_log
[ -n "${WEIR_KEEP_LOG:-}" ] && cp "$tmp/err" "$WEIR_KEEP_LOG"
echo "integration.engine: $((SECONDS - started)) s, rc $rc"
exit "$rc"
