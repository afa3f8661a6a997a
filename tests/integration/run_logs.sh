#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A step's output end to end with real workers: a million lines all kept,
# in order, through the API and `weir logs`, with the worker's memory
# bounded; a worker with --max-log-lines that says what it cut (top line,
# the attempt's log_capped, the spool file kept until the report); and
# `weir logs` --try, --stream and --separate.
#   tests/integration/run_logs.sh PATH/TO/weir-server SOURCE_DIR \
#       PATH/TO/weir-worker PATH/TO/weir
set -uo pipefail
server=$1
src=$2
worker_bin=$3
cli=$4
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/logs_dags/*.yaml "$tmp/dags/" || die "no DAGs"

harness_start_server
worker=$(harness_token worker test-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(cat "$tmp/admin.token")
harness_check_dags

# the capped worker: a second weir-worker with its own scratch folder
printf '%s\n' "$worker" >"$tmp/capped.token"
chmod 600 "$tmp/capped.token"
mkdir -p "$tmp/scratch-capped"
"$worker_bin" --server "http://$addr" --token-file "$tmp/capped.token" \
    --dags-dir "$tmp/dags" --scratch-dir "$tmp/scratch-capped" \
    --name capped-worker --queue logs-capped --shutdown-grace 1s \
    --max-log-lines 1000 >"$tmp/worker-capped.log" 2>&1 &
capped_pid=$!
harness_pids+=("$capped_pid") # stopped on exit too
harness_start_worker "$worker" full-worker --queue logs-full

WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_WORKER="$worker" \
    WEIR_READ="$reader" WEIR_CLI="$cli" WEIR_WORKER_PID="$harness_worker_pid" \
    WEIR_SCRATCH="$tmp/scratch-capped" \
    timeout 540 python3 "$src/tests/integration/logs_test.py" || rc=1

# a cap that is not a whole number is refused at start
"$worker_bin" --server "http://$addr" --max-log-lines 10x >"$tmp/bad" 2>&1
[ $? -eq 2 ] && grep -q -- '--max-log-lines takes a whole number' "$tmp/bad" ||
    fail "weir-worker --max-log-lines 10x: $(cat "$tmp/bad")"

harness_stop "$capped_pid"
harness_stop_worker
harness_stop_server
harness_check_log "$tmp/worker-capped.log"
if [ "$rc" -ne 0 ]; then
    tail -n 20 "$tmp/worker.log" "$tmp/worker-capped.log" >&2
fi
echo "integration.logs: $((SECONDS - started)) s, rc $rc"
exit "$rc"
