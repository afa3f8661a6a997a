#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# DAGs submitted over the API: weir-server against a private PostgreSQL,
# with dagapi_test.py submitting, updating, refusing and deleting DAGs and
# acting as a worker for the run that holds a delete back. With weir-worker
# as a third argument, a submitted DAG also runs on a real worker; with the
# weir CLI as a fourth, `weir dag submit` and `weir dag delete` are run.
#   tests/integration/run_dagapi.sh PATH/TO/weir-server SOURCE_DIR \
#       [PATH/TO/weir-worker [PATH/TO/weir]]
set -uo pipefail
server=$1
src=$2
worker_bin=${3:-}
cli=${4:-}
. "$src/tests/integration/harness.sh"
cat >"$tmp/dags/filedag.yaml" <<'YAML'
dag: filedag
steps:
  - id: a
    run: echo a
YAML

harness_start_server
worker=$(harness_token worker test-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(cat "$tmp/admin.token")

[ -n "$worker_bin" ] && harness_start_worker "$worker" exec-worker --queue dagapi-exec

WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_WORKER="$worker" \
    WEIR_READ="$reader" WEIR_DAGS_DIR="$tmp/dags" WEIR_EXEC=${worker_bin:+1} \
    WEIR_PG="$pg" WEIR_PG_DIR="$tmp/pg" \
    timeout 90 python3 "$src/tests/integration/dagapi_test.py" || rc=1

# the CLI: exit codes and what it prints (expect_cli of harness.sh)
if [ -n "$cli" ]; then
    mkdir -p "$tmp/cli-dags"
    printf 'dag: clidag\nsteps:\n  - id: a\n    run: echo a\n' >"$tmp/cli-dags/clidag.yaml"
    printf 'dag: clibad\nsteps:\n  - id: a\n    run: echo a\n    retries: x\n' >"$tmp/cli-dags/bad.yaml"
    expect_cli 0 "DAG clidag created (version" dag submit "$tmp/cli-dags/clidag.yaml"
    expect_cli 0 "DAG clidag unchanged" dag submit "$tmp/cli-dags/clidag.yaml"
    expect_cli 0 '"new_version":' dag submit "$tmp/cli-dags/clidag.yaml" --json
    expect_cli 1 "bad.yaml:5:14: " dag submit "$tmp/cli-dags/bad.yaml"
    expect_cli 1 "edit the file" dag submit "$tmp/dags/filedag.yaml"
    expect_cli 1 "cannot read" dag submit "$tmp/cli-dags/none.yaml"
    expect_cli 0 "DAG clidag deleted" dag delete clidag
    expect_cli 1 "no DAG" dag delete clidag
    expect_cli 1 "remove the file" dag delete filedag
    expect_cli 2 "expected one FILE" dag submit
    expect_cli 0 "weir dag delete DAG" dag delete --help
fi

harness_stop_worker
harness_stop_server
harness_check_log
[ "$rc" -eq 0 ] || { [ -f "$tmp/worker.log" ] && tail -n 20 "$tmp/worker.log" >&2; }
echo "integration.dagapi: $((SECONDS - started)) s, rc $rc"
exit "$rc"
