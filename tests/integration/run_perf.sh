#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Dispatch behaviour of weir-server against a private PostgreSQL, with
# perf_test.py acting as workers over the HTTP worker protocol: a lease
# long-poll whose client went away claims nothing; completions that lease
# in their own transaction, alone and batched. perf_test.py also runs
# weir-worker against a fake server to test the worker's HTTP client.
#   tests/integration/run_perf.sh PATH/TO/weir-server SOURCE_DIR
set -uo pipefail
server=$1
src=$2
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/perf_dags/*.yaml "$tmp/dags/" || die "no DAGs"

harness_start_server --lease-ttl 10000
worker=$(harness_token worker test-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
harness_check_dags

WEIR_URL="http://$addr" WEIR_ADMIN=$(cat "$tmp/admin.token") WEIR_WORKER="$worker" \
    WEIR_READ="$reader" WEIR_WORKER_BIN="$(dirname "$server")/../worker/weir-worker" \
    WEIR_TMP="$tmp" timeout 100 python3 "$src/tests/integration/perf_test.py" || rc=1

grep -q 'event=lease_abandoned' "$tmp/err" ||
    { echo "FAIL: no event=lease_abandoned in the server log" >&2; rc=1; }
harness_check_log
echo "integration.perf: $((SECONDS - started)) s, rc $rc"
exit "$rc"
