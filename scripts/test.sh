#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's second command: installs what is missing (setup.sh --test:
# the test tools and headless Chromium as well), builds and runs
# every test: formatting, the layout rules (scripts/check-layout),
# clang-tidy (scripts/check-tidy), unit and CLI tests (release and under
# ASan/UBSan), a warning-free build with gcc (Release) and clang (Debug),
# and each fuzz target for a bounded time.
#   WEIR_FUZZ_SECONDS  seconds per fuzz target (default 40; 0 skips fuzzing;
#                      two targets run at a time)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
fuzz_seconds=${WEIR_FUZZ_SECONDS:-40}
out="$top/tests/out"

step() { printf '\n== %s\n' "$*"; }

step "setup"
"$top/scripts/setup.sh" --test
mkdir -p "$out"

step "format (clang-format --dry-run -Werror)"
mapfile -t cfiles < <(cd "$top" && git ls-files -co --exclude-standard \
    '*.c' '*.h' | sort -u)
(cd "$top" && clang-format --dry-run -Werror "${cfiles[@]}")

step "layout (scripts/check-layout)"
"$top/scripts/check-layout"

for flavour in release asan; do
    step "build ($flavour)"
    "$top/scripts/build.sh" "$flavour"
    dir=build; [ "$flavour" = asan ] && dir=build-asan
    if [ "$flavour" = release ]; then
        step "clang-tidy (scripts/check-tidy, .clang-tidy)"
        "$top/scripts/check-tidy" --build "$top/build"
    fi
    step "tests ($flavour)"
    (cd "$top/$dir" && ctest --output-on-failure --timeout 300 -j 2)
done

# Other compilers and build types must build warning-free too (build only).
for flavour in gcc-release clang-debug; do
    step "build ($flavour, warnings are errors)"
    WEIR_BUILD_JOBS=2 "$top/scripts/build.sh" "$flavour"
done

# One fuzz target for fuzz_seconds from its corpus; its log in $out.
fuzz_one() {
    local fuzzer=$1 name work rc=0
    name=$(basename "$fuzzer" | sed 's/^fuzz_//')
    work=$(mktemp -d)
    cp -r "$top/tests/fuzz/corpus/$name/." "$work/" 2>/dev/null || true
    (cd "$out" && "$fuzzer" -max_total_time="$fuzz_seconds" \
        -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "$work" 2>"$out/fuzz_$name.log") || rc=$?
    rm -rf "$work"
    return "$rc"
}

if [ "$fuzz_seconds" -gt 0 ]; then
    step "build (fuzz)"
    "$top/scripts/build.sh" fuzz
    # Two targets at a time (one per core), each for fuzz_seconds.
    mapfile -t fuzzers < <(ls "$top"/build-fuzz/fuzz_* 2>/dev/null)
    step "fuzz ${#fuzzers[@]} targets, ${fuzz_seconds}s each, two at a time"
    for ((i = 0; i < ${#fuzzers[@]}; i += 2)); do
        pids=()
        for fuzzer in "${fuzzers[@]:i:2}"; do
            [ -x "$fuzzer" ] || continue
            fuzz_one "$fuzzer" & pids+=("$!:$fuzzer")
        done
        for p in "${pids[@]}"; do
            name=$(basename "${p#*:}" | sed 's/^fuzz_//')
            if ! wait "${p%%:*}"; then
                tail -n 60 "$out/fuzz_$name.log"
                echo "fuzz $name failed; the input is in $out" >&2
                exit 1
            fi
            printf '%s: ' "$name"
            grep -E '^(stat::number_of_executed_units|Done)' \
                "$out/fuzz_$name.log" | tr '\n' ' ' || true
            echo
        done
    done
fi

step "all tests passed"
