#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What roles and scopes cost a listing of 10,000 runs: an admin's, a
# scoped operator's and a reader of one rare DAG's first page, and one run
# read by id (bench/bench_authz.py says how each figure is taken). Builds
# Weir (release) if needed and prints one JSON object per line:
# {"workload", "metric", "value", "unit"}; a breakdown goes to stderr.
# Everything started is stopped on exit. WEIR_BENCH_KEEP=1 keeps the
# temporary folder (logs).
#   bench/authz.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${WEIR_BENCH_BUILD:-$top/build}

if [ -z "${WEIR_BENCH_BUILD:-}" ]; then
    "$top/scripts/build.sh" release >/dev/null
fi

. "$top/bench/lib.sh"
bench_lib_start weir-abench

bench_lib_python 200 bench_authz.py
