#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The example ML pipeline end to end: weir-server against a private
# PostgreSQL, dags/ml in its DAGs folder, one weir-worker on the default
# queue, and ml_test.py driving runs, retries, promotions and lineage (it
# starts a second weir-worker, on the prod queue, itself).
# With the weir CLI as a fourth argument, its registry and lineage
# commands are run too.
#   tests/integration/run_ml.sh PATH/TO/weir-server SOURCE_DIR \
#       PATH/TO/weir-worker [PATH/TO/weir]
set -uo pipefail
server=$1
src=$2
worker_bin=$3
cli=${4:-}
. "$src/tests/integration/harness.sh"
/usr/bin/python3 -c 'import sklearn, numpy' ||
    die "python3-sklearn and python3-numpy are needed (scripts/setup.sh)"
cp -r "$src/dags/ml" "$tmp/dags/ml" || die "no dags/ml"
cp "$src"/tests/integration/ml_dags/*.yaml "$tmp/dags/" || die "no test DAGs"
mkdir -p "$tmp/data"

harness_start_server
worker=$(harness_token worker ml-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
harness_check_dags
harness_start_worker "$worker" ml-worker --slots 2

WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_WORKER="$worker" \
    WEIR_READ="$reader" WEIR_DATA="$tmp/data" WEIR_STEPS="$tmp/dags/ml/steps" \
    WEIR_WORKER_BIN="$worker_bin" WEIR_DAGS="$tmp/dags" \
    timeout 200 python3 "$src/tests/integration/ml_test.py" || rc=1

# The example's data folder is the instance's own (.weir/data/ml next to
# its dags/), not one /tmp folder every instance on the host shares: the
# data_dir param defaults to "", which the steps read as that folder.
for inst in a b; do
    mkdir -p "$tmp/inst-$inst/.weir" "$tmp/inst-$inst/dags"
    cp -r "$src/dags/ml" "$tmp/inst-$inst/dags/ml"
    want="$(cd "$tmp/inst-$inst" && pwd -P)/.weir/data/ml"
    got=$(cd "$tmp/inst-$inst/dags/ml" && WEIR_PARAM_DATA_DIR="" \
        /usr/bin/python3 -c 'import sys; sys.path.insert(0, "steps")
import mlcommon; print(mlcommon.data_dir())')
    [ "$got" = "$want" ] || fail "data folder of instance $inst: $got, want $want"
done
if [ -n "$cli" ]; then
    expect_cli 0 '"data_dir":.*""' dag show "$src/dags/ml/pipeline.yaml"
fi

if [ -n "$cli" ] && [ "$rc" -eq 0 ]; then
    if [ -n "${WEIR_ML_SHOW:-}" ]; then # print what a person sees
        for a in "artifacts" "artifacts cancer-classifier" "lineage 2"; do
            WEIR_SERVER="http://$addr" WEIR_TOKEN="$ops" timeout 20 "$cli" $a
        done
    fi
    expect_cli 0 "cancer-classifier" artifacts
    expect_cli 0 "prod" artifacts cancer-classifier
    expect_cli 0 "canary-model: prod is run-" artifacts canary-model
    [ "$(grep -c 'canary-model: prod is' "$tmp/cli")" -eq 2 ] ||
        { echo "FAIL: weir artifacts canary-model shows not 2 in prod" >&2; rc=1; }
    expect_cli 0 '"versions"' artifacts cancer-classifier --json
    expect_cli 1 "no artifact" artifacts nothing-here
    expect_cli 0 "archived" artifact promote cancer-classifier r3 --to archived
    expect_cli 1 "only move forward" artifact promote cancer-classifier r3 --to dev
    expect_cli 2 "expected promote|approve|reject NAME VERSION" artifact promote cancer-classifier
    expect_cli 0 "awaits approval" artifact promote cancer-classifier r4 --to prod
    expect_cli 0 "none -> prod" artifact approve cancer-classifier r4 --comment ok
    expect_cli 1 "awaits no approval" artifact reject cancer-classifier r4
    expect_cli 0 "reused" lineage 2
    expect_cli 0 "read from: ingest (attempt [0-9]*, data [^,]*, reused)" lineage 2
    expect_cli 0 "data.version" lineage 1
    expect_cli 1 "no run 999999" lineage 999999
    pr=$(cat "$tmp/data/params_run")
    expect_cli 1 'unknown param "nte"' retry "$pr" --from check -p nte=y
    expect_cli 2 "-p takes NAME=VALUE" retry "$pr" -p note
    expect_cli 2 "unknown option" cancel "$pr" -p note=y
    expect_cli 0 'param note: "x" -> "y"' retry "$pr" --from check -p note=y
fi

harness_stop_worker
harness_stop_server
harness_check_log
grep -q 'event=artifact_refused' "$tmp/err" ||
    { echo "FAIL: no artifact_refused in the server log" >&2; rc=1; }
[ "$rc" -eq 0 ] || tail -n 30 "$tmp/worker.log" >&2
echo "integration.ml: $((SECONDS - started)) s, rc $rc"
exit "$rc"
