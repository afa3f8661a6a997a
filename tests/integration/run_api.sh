#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The API's bodies and the CLI for scripts: weir-server against a private
# PostgreSQL with a real weir-worker, and api_test.py checking that every
# route refuses an unknown body key (with "did you mean") and a key of the
# wrong type, that params are typed (-p of the CLI and the API), that
# `weir trigger --wait`, `weir run` and `weir logs` exit as the run ended,
# and that listings filter, page and print JSON.
#   tests/integration/run_api.sh PATH/TO/weir-server SOURCE_DIR \
#       PATH/TO/weir-worker PATH/TO/weir
set -uo pipefail
server=$1
src=$2
worker_bin=$3
cli=$4
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/api_dags/*.yaml "$tmp/dags/" || die "no DAGs"

harness_start_server
worker=$(harness_token worker test-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
harness_check_dags
harness_start_worker "$worker" api-worker --slots 4

WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_WORKER="$worker" \
    WEIR_READ="$reader" WEIR_CLI="$cli" WEIR_PSQL="$pg psql $tmp/pg" \
    timeout 200 python3 "$src/tests/integration/api_test.py" || rc=1

harness_stop_worker
harness_stop_server
harness_check_log
echo "integration.api: $((SECONDS - started)) s, rc $rc"
exit "$rc"
