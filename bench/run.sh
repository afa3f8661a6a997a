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

. "$top/bench/lib.sh"
bench_lib_start weir-bench

# The instance workloads (chain40, dispatch, fanout1000_*, memory), bounded
# in time: bench.py stops itself after 270 s, timeout(1) is the backstop.
bench_lib_python 290 bench.py
timeout -s TERM 290 python3 "$top/bench/bench_triggers.py" --top "$top" --build "$build" --tmp "$tmp/triggers"
