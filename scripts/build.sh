#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configures and builds one flavour of Weir into build/ (release),
# build-asan/ (sanitizers) or build-fuzz/ (libFuzzer, clang).
#   scripts/build.sh [release|asan|fuzz]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-release}
jobs=$(nproc 2>/dev/null || echo 2)

case "$flavour" in
release) dir=build; opts=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
asan) dir=build-asan; opts=(-DCMAKE_BUILD_TYPE=Debug -DWEIR_SANITIZE=ON) ;;
fuzz)
    dir=build-fuzz
    opts=(-DCMAKE_BUILD_TYPE=Debug -DWEIR_FUZZ=ON -DCMAKE_C_COMPILER=clang)
    ;;
*) echo "usage: $0 [release|asan|fuzz]" >&2; exit 2 ;;
esac

cmake -S "$top" -B "$top/$dir" "${opts[@]}" >/dev/null
cmake --build "$top/$dir" -j "$jobs"
