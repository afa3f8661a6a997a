#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Backfills: weir-server against a private PostgreSQL with a real
# weir-worker. A backfill is started with no worker (its first run stays
# active), the server is restarted, and the backfill must go on from where
# it was; then backfill_test.py checks slots, skipping, max_active,
# reverse, dry runs, cancel, bad input, the CLI and WEIR_LOGICAL_TIME.
#   tests/integration/run_backfill.sh PATH/TO/weir-server SOURCE_DIR \
#       PATH/TO/weir-worker PATH/TO/weir
set -uo pipefail
server=$1
src=$2
worker_bin=$3
cli=$4
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/backfill_dags/*.yaml "$tmp/dags/" || die "no DAGs"

harness_start_server
worker=$(harness_token worker bf-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
harness_check_dags

t() {
    WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_WORKER="$worker" \
        WEIR_READ="$reader" WEIR_CLI="$cli" WEIR_BF_STATE="$tmp/bf.id" \
        WEIR_PSQL="$pg psql $tmp/pg" WEIR_DAGS="$tmp/dags" \
        timeout 120 python3 "$src/tests/integration/backfill_test.py" "$@"
}
t restart-before || rc=1
harness_stop_server
harness_start_server
harness_start_worker "$worker" bf-worker --slots 4
t || rc=1

harness_stop_worker
harness_stop_server
harness_check_log
echo "integration.backfill: $((SECONDS - started)) s, rc $rc"
exit "$rc"
