#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configures and builds one flavour of Weir into build/ (release),
# build-asan/ (sanitizers), build-fuzz/ (libFuzzer, clang), or, to check
# that every compiler and build type stays warning-free, build-gcc-release/
# (gcc, Release) and build-clang-debug/ (clang, Debug). Warnings are errors
# in every flavour (WEIR_WERROR).
#   scripts/build.sh [release|asan|fuzz|gcc-release|clang-debug]
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
gcc-release)
    dir=build-gcc-release
    opts=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc)
    ;;
clang-debug)
    dir=build-clang-debug
    opts=(-DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang)
    ;;
*) echo "usage: $0 [release|asan|fuzz|gcc-release|clang-debug]" >&2; exit 2 ;;
esac
opts+=(-DWEIR_WERROR=ON)
# WEIR_BUILD_JOBS bounds the parallel jobs (default: one per core).
jobs=${WEIR_BUILD_JOBS:-$jobs}

cmake -S "$top" -B "$top/$dir" "${opts[@]}" >/dev/null
cmake --build "$top/$dir" -j "$jobs"
