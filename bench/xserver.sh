#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two servers against one (bench/bench_xserver.py says how each figure is
# taken): event_to_start with a worker on server A and the events sent to
# A, then to B; chain40 and fanout1000 with both workers on A, then one
# on A and one on B with the runs triggered on B. Builds Weir (release)
# if needed and prints one JSON object per line: {"workload", "metric",
# "value", "unit"}; a breakdown goes to stderr. Everything started is
# stopped on exit. WEIR_BENCH_KEEP=1 keeps the temporary folder (logs).
#   bench/xserver.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${WEIR_BENCH_BUILD:-$top/build}

if [ -z "${WEIR_BENCH_BUILD:-}" ]; then
    "$top/scripts/build.sh" release >/dev/null
fi

# A short path: the PostgreSQL socket lives inside it.
tmp=$(mktemp -d /tmp/weir-xbench.XXXXXX)
chmod 755 "$tmp" # the postgres user (when run as root) must reach pg/
bench_pid=""

cleanup() {
    local pid
    if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
        kill -TERM "$bench_pid" 2>/dev/null || true
        wait "$bench_pid" 2>/dev/null || true
    fi
    # What the bench could not stop itself: only the pids it listed, and
    # only while they still run a program of this benchmark.
    if [ -f "$tmp/pids" ]; then
        while read -r pid; do
            if grep -qa -e "$tmp" -e "$build" "/proc/$pid/cmdline" 2>/dev/null; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done <"$tmp/pids"
    fi
    if [ -f "$tmp/pg/data/PG_VERSION" ]; then
        bash "$top/tests/pg/pg.sh" stop "$tmp/pg" immediate >/dev/null 2>&1 || true
    fi
    if [ "${WEIR_BENCH_KEEP:-0}" = 1 ]; then
        echo "bench: kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

timeout -s TERM 290 python3 "$top/bench/bench_xserver.py" --top "$top" \
    --build "$build" --tmp "$tmp" &
bench_pid=$!
wait "$bench_pid"
