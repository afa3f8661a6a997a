#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Throughput of a step's output: a step prints N lines (default 1,000,000)
# on a real weir-worker; prints the time from trigger to run success (every
# line stored first), the time to read them back with `weir logs`, the
# server's time per log batch and the worker's peak RSS. Runs on a private
# PostgreSQL cluster (tests/pg/pg.sh, commits not synced) and 127.0.0.1.
#   bench/logs.sh [BUILD_DIR] [N]
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
lines=${2:-1000000}
server=$build/server/weir-server
worker_bin=$build/worker/weir-worker
cli=$build/weir
. "$src/tests/integration/harness.sh"
printf 'dag: noisy\nsteps:\n  - id: loud\n    run: seq 1 %s\n' "$lines" \
    >"$tmp/dags/noisy.yaml"
harness_start_server
harness_check_dags
ops=$(cat "$tmp/admin.token")
worker=$(harness_token worker bench-worker) || die "cannot create a worker token"
harness_start_worker "$worker" bench-worker

export WEIR_SERVER="http://$addr" WEIR_TOKEN="$ops"
t0=$(date +%s.%N)
run=$("$cli" trigger noisy) || die "cannot trigger"
while :; do
    state=$("$cli" run "$run" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])')
    case "$state" in success | failed | canceled) break ;; esac
    sleep 0.2
done
t1=$(date +%s.%N)
got=$("$cli" logs "$run" loud | wc -l)
t2=$(date +%s.%N)
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$harness_worker_pid/status")
cat "$tmp/out" "$tmp/err" >"$tmp/all" 2>/dev/null
python3 - "$tmp/all" "$state" "$lines" "$got" "$t0" "$t1" "$t2" "$hwm" <<'PY'
import re, statistics, sys
log, state, lines, got, t0, t1, t2, hwm = sys.argv[1:]
ms = [float(m.group(1)) for m in re.finditer(
    r"method=POST path=\"?/api/v1/attempts/\d+/logs\"? status=200 ms=([\d.]+)",
    open(log).read())]
run_s, read_s = float(t1) - float(t0), float(t2) - float(t1)
print("run %s, %s lines printed, %s read back" % (state, lines, got))
print("trigger to success: %.1f s (%.0f lines/s)" % (run_s, int(lines) / run_s))
print("weir logs: %.1f s" % read_s)
if ms:
    print("log batches: %d, server ms per batch: median %.1f, max %.1f"
          % (len(ms), statistics.median(ms), max(ms)))
print("worker VmHWM: %s KiB" % hwm)
PY
harness_stop_worker
harness_stop_server
