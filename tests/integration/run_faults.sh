#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fault injection with the real binaries: weir-server against a private
# PostgreSQL and weir-worker processes, started and killed by
# faults_test.py: a worker SIGKILLed mid-step, the server SIGKILLed with
# runs in flight, PostgreSQL restarted mid-run, a DAG file broken while a
# run of it is in progress, a timeout that must stop a grandchild. With
# NAME (default faults), it runs NAME_test.py over the DAGs of NAME_dags
# instead: semantics_test.py drives concurrency caps and hooks this way.
#   tests/integration/run_faults.sh WEIR_SERVER WEIR_WORKER SOURCE_DIR [NAME]
set -uo pipefail
server=$1
worker=$2
src=$3
name=${4:-faults}
. "$src/tests/integration/harness.sh"
py_pid=""

# Every process the test starts is listed in $tmp/pids (a process group
# id as -PID): end them by id, then the cluster.
faults_cleanup() {
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
trap 'faults_cleanup; harness_cleanup' EXIT

# WEIR_PG_NOSYNC turns synchronous_commit off, which lets an immediate
# stop lose commits that were acknowledged: keep fsync off (the OS keeps
# the files) but commits synchronous, as scenario 3 stops PostgreSQL.
"$pg" psql "$tmp/pg" -qc "ALTER SYSTEM SET synchronous_commit = on" \
    -c "SELECT pg_reload_conf()" >/dev/null || die "cannot configure PostgreSQL"
mkdir -p "$tmp/scratch"
for f in "$src/tests/integration/${name}_dags"/*.yaml; do
    sed "s|@TMP@|$tmp|g" "$f" >"$tmp/dags/$(basename "$f")" || die "no DAGs"
done

WEIR_SERVER_BIN="$server" WEIR_WORKER_BIN="$worker" WEIR_PG="$pg" \
    WEIR_TMP="$tmp" WEIR_DB_URL="$url" \
    timeout $((200 + ${WEIR_FAULT_SECONDS:-0})) python3 "$src/tests/integration/${name}_test.py" &
py_pid=$!
wait "$py_pid" || rc=1
py_pid=""
harness_check_pg_log
[ -n "${WEIR_KEEP_LOGS:-}" ] && mkdir -p "$WEIR_KEEP_LOGS" && cp "$tmp"/*.log "$WEIR_KEEP_LOGS"/ 2>/dev/null
echo "integration.$name: $((SECONDS - started)) s, rc $rc"
exit "$rc"
