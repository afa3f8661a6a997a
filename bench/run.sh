#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds Weir (release) if needed, runs every benchmark workload and prints
# one JSON object per line: {"workload", "metric", "value", "unit"}.
#
# load40 is the loader alone (bench_load). The other workloads run against
# a fresh standalone instance started in a temporary folder: its own
# PostgreSQL cluster with durable commits, weir-server on 127.0.0.1 (a
# port the kernel picks) and weir-worker processes; bench/bench.py drives
# them and documents how each figure is taken. Everything started is
# stopped on exit, whatever the exit. A breakdown of the figures goes to
# stderr. WEIR_BENCH_KEEP=1 keeps the temporary folder (logs) for a look.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${WEIR_BENCH_BUILD:-$top/build}

if [ -z "${WEIR_BENCH_BUILD:-}" ]; then
    "$top/scripts/build.sh" release >/dev/null
fi

# load40: parse and validate a 40-step DAG file (bench/data/forty.yaml).
"$build/bench/bench_load" "$top/bench/data/forty.yaml" 5000

# A short path: the PostgreSQL socket lives inside it.
tmp=$(mktemp -d /tmp/weir-bench.XXXXXX)
chmod 755 "$tmp" # the postgres user (when run as root) must reach pg/
bench_pid=""

cleanup() {
    local pid
    if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
        kill -TERM "$bench_pid" 2>/dev/null || true
        wait "$bench_pid" 2>/dev/null || true
    fi
    # What bench.py could not stop itself (it was killed): only the pids it
    # listed, and only while they still run a program of this benchmark.
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

# The instance workloads (chain40, dispatch, fanout1000_*, memory), bounded
# in time: bench.py stops itself after 270 s, timeout(1) is the backstop.
timeout -s TERM 290 python3 "$top/bench/bench.py" --top "$top" \
    --build "$build" --tmp "$tmp" &
bench_pid=$!
wait "$bench_pid"
timeout -s TERM 290 python3 "$top/bench/bench_triggers.py" --top "$top" --build "$build" --tmp "$tmp/triggers"
