#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sourced by the browser tests (run.sh): a private stack in a temp folder
# on 127.0.0.1: PostgreSQL, weir-server with the DAGs of tests/e2e/dags,
# one worker, an admin and a read-only token. Before sourcing, set server,
# worker and src. Afterwards: tmp, url, addr, admin_token, read_token.
# WEIR_E2E_WEB_DIR serves that folder instead of the compiled-in web/
# (e.g. an older web/, to see a new test fail without the fix).

source "$src/tests/integration/harness.sh"
worker_pid=""

stack_cleanup() {
    [ -n "$worker_pid" ] && harness_stop "$worker_pid"
    harness_cleanup
}
trap stack_cleanup EXIT

cp "$src"/tests/e2e/dags/*.yaml "$tmp/dags/"
harness_start_server "${WEIR_E2E_SERVER_FLAGS[@]}" \
    ${WEIR_E2E_WEB_DIR:+--web-dir "$WEIR_E2E_WEB_DIR"}
harness_check_dags
admin_token=$(cat "$tmp/admin.token")
read_token=$(harness_token read viewer) || die "cannot create a read token"
harness_token worker e2e-worker >"$tmp/worker.token" ||
    die "cannot create a worker token"
"$worker" --server "http://$addr" --token-file "$tmp/worker.token" \
    --dags-dir "$tmp/dags" --name e2e-worker --slots 4 \
    --shutdown-grace 1s >"$tmp/worker.out" 2>&1 &
worker_pid=$!
