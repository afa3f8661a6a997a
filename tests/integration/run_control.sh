#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Control of runs end to end: weir-server against a private PostgreSQL,
# with control_test.py acting as a worker: cancel (the heartbeat says so),
# retry (all failed, or from a step), approval gates, pause, the worker
# list and /metrics.
# With the weir CLI as a third argument, its control commands are run too.
#   tests/integration/run_control.sh PATH/TO/weir-server SOURCE_DIR [PATH/TO/weir]
set -uo pipefail
server=$1
src=$2
cli=${3:-}
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/control_dags/*.yaml "$tmp/dags/" || die "no DAGs"

harness_start_server --lease-ttl 5000
worker=$(harness_token worker test-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
harness_check_dags

WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_WORKER="$worker" \
    WEIR_READ="$reader" timeout 90 python3 "$src/tests/integration/control_test.py" || rc=1

# the CLI: one call each, exit codes and what it prints (expect_cli of
# harness.sh)
if [ -n "$cli" ]; then
    expect_cli 0 "DAG ctl-pause paused" pause ctl-pause
    expect_cli 1 "paused" trigger ctl-pause
    expect_cli 0 "DAG ctl-pause unpaused" unpause ctl-pause
    expect_cli 1 "no run 999999" cancel 999999
    expect_cli 1 "already finished" cancel 1
    expect_cli 1 "did you mean" retry 2 --from onl
    expect_cli 1 "not awaiting_approval" approve 2 only --comment ok
    expect_cli 2 "RUN_ID STEP" reject 1
    expect_cli 0 '"paused":' pause ctl-pause --json
    expect_cli 0 "unpaused" unpause ctl-pause
fi

harness_stop_server
harness_check_log
[ -n "${WEIR_KEEP_LOG:-}" ] && cp "$tmp/err" "$WEIR_KEEP_LOG"
echo "integration.control: $((SECONDS - started)) s, rc $rc"
exit "$rc"
