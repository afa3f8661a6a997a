#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Steps mapped over an upstream's output: weir-server against a private
# PostgreSQL with a real weir-worker, and map_test.py checking the cells
# made at run time, the fan-in, the empty list, the limit, bad lists,
# retries, and a run made before a restart mapping after it. With the
# weir CLI as a fourth argument, `weir run`, `weir validate` and `weir dag
# show` are checked on mapped steps too.
#   tests/integration/run_map.sh PATH/TO/weir-server SOURCE_DIR \
#       PATH/TO/weir-worker [PATH/TO/weir]
set -uo pipefail
server=$1
src=$2
worker_bin=$3
cli=${4:-}
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/map_dags/*.yaml "$tmp/dags/" || die "no DAGs"
mkdir -p "$tmp/data"

harness_start_server
worker=$(harness_token worker map-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
harness_check_dags
harness_start_worker "$worker" map-worker --slots 4

WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_WORKER="$worker" \
    WEIR_READ="$reader" WEIR_DATA="$tmp/data" \
    timeout 120 python3 "$src/tests/integration/map_test.py" || rc=1

if [ -n "$cli" ]; then
    # run 1 is test_three_cells, the first run made
    expect_cli 0 "map each: 3 cells" run 1
    expect_cli 0 'each {"item":"b.csv"}' run 1
    expect_cli 0 '"output":.*"files"' dag show "$tmp/dags/map.yaml"
    printf 'steps:\n  - id: a\n    run: x\n  - id: b\n    needs: a\n    map: ${{ steps.a.output.f }}\n    run: x\n' >"$tmp/bad.yaml"
    expect_cli 1 'bad.yaml:6:10: "map" takes one upstream output.*did you mean "steps.a.outputs.f"' validate "$tmp/bad.yaml"
fi

harness_stop_worker
grep -q 'event=map_expanded' "$tmp/err" ||
    { echo "FAIL: no map_expanded in the server log" >&2; rc=1; }

# Restart safety: a run made (no worker running) before the server
# restarts reads its list and makes its cells after the restart.
env_test() {
    WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_WORKER="$worker" \
        WEIR_READ="$reader" WEIR_DATA="$tmp/data" MAP_PHASE=$1 \
        timeout 60 python3 "$src/tests/integration/map_test.py" || rc=1
}
env_test restart_before
harness_stop_server
harness_check_log
harness_start_server
harness_start_worker "$worker" map-worker --slots 4
env_test restart_after
harness_stop_worker
harness_stop_server
harness_check_log
grep -q 'event=map_expanded run=[0-9]* task=[0-9]* step=each cells=3' "$tmp/err" ||
    { echo "FAIL: no map_expanded after the restart" >&2; rc=1; }
[ "$rc" -eq 0 ] || tail -n 30 "$tmp/worker.log" "$tmp/err" >&2
echo "integration.map: $((SECONDS - started)) s, rc $rc"
exit "$rc"
