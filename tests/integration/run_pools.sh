#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Pools with the real binaries: weir-server against a private PostgreSQL,
# weir-worker processes and the weir CLI, driven by pools_test.py (which
# starts and kills the server and the workers itself, with the helpers of
# faults_test.py): pools shared by DAGs never run more slots than they
# have, in priority order across DAGs, with pool_slots, a resize, a lost
# lease and a cancel freeing slots, load errors for an unknown pool, the
# API, the CLI and /metrics.
#   tests/integration/run_pools.sh WEIR_SERVER WEIR_WORKER WEIR_CLI SOURCE_DIR
set -uo pipefail
server=$1
worker=$2
cli=$3
src=$4
. "$src/tests/integration/harness.sh"
py_pid=""

# Every process the test starts is listed in $tmp/pids: end them by id.
pools_cleanup() {
    if [ -n "$py_pid" ]; then
        kill -TERM "$py_pid" 2>/dev/null
        wait "$py_pid" 2>/dev/null
    fi
    if [ -f "$tmp/pids" ]; then
        while read -r p; do
            kill -KILL -- "$p" 2>/dev/null
        done <"$tmp/pids"
    fi
}
trap 'pools_cleanup; harness_cleanup' EXIT

mkdir -p "$tmp/scratch"
cp "$src"/tests/integration/pools_dags/*.yaml "$tmp/dags/" || die "no DAGs"

WEIR_SERVER_BIN="$server" WEIR_WORKER_BIN="$worker" WEIR_CLI="$cli" \
    WEIR_PG="$pg" WEIR_TMP="$tmp" WEIR_DB_URL="$url" \
    PYTHONPATH="$src/tests/integration" \
    timeout 150 python3 "$src/tests/integration/pools_test.py" &
py_pid=$!
wait "$py_pid" || rc=1
py_pid=""
harness_check_pg_log
echo "integration.pools: $((SECONDS - started)) s, rc $rc"
exit "$rc"
