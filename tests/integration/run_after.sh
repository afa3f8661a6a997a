#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# After and data triggers: weir-server against a private PostgreSQL, the
# test itself the worker, and after_test.py checking firings, payloads,
# when:, data versions, a chain, cooldown, cycles refused at load, and a
# chain run end to end by a real worker, a follower's firing failing, and
# two DAGs following each other's dataset completing concurrently.
# A real weir-worker serves queue "real", for the end to end scenario.
#   tests/integration/run_after.sh PATH/TO/weir-server SOURCE_DIR \
#       PATH/TO/weir PATH/TO/weir-worker
set -uo pipefail
server=$1
src=$2
cli=$3
worker_bin=$4
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/after_dags/*.yaml "$tmp/dags/" || die "no DAGs"

harness_start_server
worker=$(harness_token worker test-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
harness_check_dags
harness_start_worker "$worker" after-real --queue real --slots 2

WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_WORKER="$worker" \
    WEIR_READ="$reader" WEIR_CLI="$cli" WEIR_DAGS_DIR="$tmp/dags" \
    WEIR_PSQL="$pg psql $tmp/pg" WEIR_SERVER_LOG="$tmp/err" \
    WEIR_PG_LOG="$tmp/pg/postgres.log" \
    timeout 120 python3 "$src/tests/integration/after_test.py" || rc=1

harness_stop_worker
harness_stop_server
harness_check_log
echo "integration.after: $((SECONDS - started)) s, rc $rc"
exit "$rc"
