#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Wake-ups across servers: two weir-server processes on one private
# PostgreSQL, a real weir-worker long-polling server A, and
# xserver_test.py acting through server B: runs triggered through B start
# on A's worker within milliseconds (20 runs each way, p50/max printed),
# a cancel through B stops the step on A's worker, DAGs paused, unpaused
# and submitted through B reach A's scheduler (and no cron run follows a
# pause), and A's listen connection, terminated, comes back and wakes
# again, as both servers' do after a restart of PostgreSQL. Both servers
# must then stop cleanly.
#   tests/integration/run_xserver.sh PATH/TO/weir-server SOURCE_DIR \
#       PATH/TO/weir-worker
set -uo pipefail
server=$1
src=$2
worker_bin=$3
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/xserver_dags/*.yaml "$tmp/dags/" || die "no DAGs"

# A long lease: its heartbeat (a third of it) must not be what carries a
# cancel to the worker.
harness_start_server --lease-ttl 60000
harness_spawn_server b --lease-ttl 60000
worker=$(harness_token worker xs-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
harness_check_dags
harness_start_worker "$worker" xs-worker --slots 4
echo "setup: $((SECONDS - started)) s"

WEIR_URL="http://$addr" WEIR_URL_B="http://$addr_b" WEIR_ADMIN="$ops" \
    WEIR_READ="$reader" WEIR_WORKER="$worker" WEIR_PSQL="$pg psql $tmp/pg" \
    WEIR_PG="$pg" WEIR_PG_DIR="$tmp/pg" \
    WEIR_LOG_A="$tmp/err" WEIR_LOG_B="$tmp/err.b" \
    WEIR_WORKER_LOG="$tmp/worker.log" WEIR_ELAPSED="$((SECONDS - started))" \
    timeout 60 python3 "$src/tests/integration/xserver_test.py" || rc=1

harness_stop_worker
harness_stop_server "$pid_b"
harness_stop_server
harness_check_log "$tmp/err.b"
# WEIR_KEEP_LOG=DIR keeps the three logs for a look.
[ -n "${WEIR_KEEP_LOG:-}" ] && cp "$tmp/err" "$tmp/err.b" "$tmp/worker.log" "$WEIR_KEEP_LOG"
echo "integration.xserver: $((SECONDS - started)) s, rc $rc"
exit "$rc"
