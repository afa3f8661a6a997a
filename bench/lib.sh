# SPDX-License-Identifier: Apache-2.0
# Sourced by the benchmark scripts that drive a private instance: with
# `top` and `build` set, makes `tmp` (a short path: the PostgreSQL socket
# lives inside it) and stops on exit, whatever the exit, what the python
# driver started (its pid in `bench_pid`, the pids it listed in
# $tmp/pids) and the cluster. WEIR_BENCH_KEEP=1 keeps the folder (logs).

# bench_lib_start PREFIX: the folder /tmp/PREFIX.XXXXXX and the traps.
bench_lib_start() {
    tmp=$(mktemp -d "/tmp/$1.XXXXXX")
    chmod 755 "$tmp" # the postgres user (when run as root) must reach pg/
    bench_pid=""
    trap bench_lib_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# bench_lib_python SECONDS SCRIPT: bench/SCRIPT with --top, --build and
# --tmp, stopped by timeout(1) after SECONDS (the script's own budget is
# shorter: this is the backstop), its pid in bench_pid for the cleanup.
bench_lib_python() {
    timeout -s TERM "$1" python3 "$top/bench/$2" --top "$top" \
        --build "$build" --tmp "$tmp" &
    bench_pid=$!
    wait "$bench_pid"
}

bench_lib_cleanup() {
    local pid
    if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
        kill -TERM "$bench_pid" 2>/dev/null || true
        wait "$bench_pid" 2>/dev/null || true
    fi
    # What the driver could not stop itself (it was killed): only the pids
    # it listed, and only while they still run a program of this benchmark.
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
