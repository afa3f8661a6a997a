#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds Weir (release) if needed, runs every benchmark workload and prints
# one JSON object per line: {"workload", "metric", "value", "unit"}.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

"$top/scripts/build.sh" release >/dev/null

# load40: parse and validate a 40-step DAG file (bench/data/forty.yaml).
"$top/build/bench/bench_load" "$top/bench/data/forty.yaml" 5000
