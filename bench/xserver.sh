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

. "$top/bench/lib.sh"
bench_lib_start weir-xbench

bench_lib_python 290 bench_xserver.py
