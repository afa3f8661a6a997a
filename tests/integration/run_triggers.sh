#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Event and webhook triggers end to end, against a private PostgreSQL:
# accumulation to a threshold with when:, duplicate ids, batches, bad
# input, cooldown, the daily cap, max_active_runs coalescing, priority,
# webhook signatures, and a restart in the middle of an accumulation.
#   tests/integration/run_triggers.sh PATH/TO/weir-server SOURCE_DIR
set -uo pipefail
server=$1
src=$2
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/trigger_dags/*.yaml "$tmp/dags/" || die "no DAGs"
export WEIR_TEST_HOOK_SECRET=hook-secret-for-tests

harness_start_server
worker=$(harness_token worker trg-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
harness_check_dags
export WEIR_ADMIN="$ops" WEIR_WORKER="$worker" WEIR_READ="$reader"

WEIR_URL="http://$addr" timeout 90 python3 \
    "$src/tests/integration/triggers_test.py" before || rc=1

# restart in the middle of an accumulation
kill -TERM "$server_pid"
wait "$server_pid" || { echo "FAIL: weir-server exited non-zero" >&2; rc=1; }
server_pid=""
harness_start_server
WEIR_URL="http://$addr" timeout 60 python3 \
    "$src/tests/integration/triggers_test.py" after || rc=1

kill -TERM "$server_pid"
wait "$server_pid" || { echo "FAIL: weir-server exited non-zero" >&2; rc=1; }
server_pid=""
harness_check_log
echo "integration.triggers: $((SECONDS - started)) s, rc $rc"
exit "$rc"
