#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The approval policy end to end: weir-server against a private
# PostgreSQL, approvals_test.py deciding gates and promotions with admin
# tokens of different names (ops, alice, bob, carol) and acting as the
# worker; with the weir CLI as a third argument, `weir approve`, `weir
# reject`, `weir artifact approve` and `weir validate` too.
#   tests/integration/run_approvals.sh PATH/TO/weir-server SOURCE_DIR [PATH/TO/weir]
set -uo pipefail
server=$1
src=$2
cli=${3:-}
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/approvals_dags/*.yaml "$tmp/dags/" || die "no DAGs"

harness_start_server
worker=$(harness_token worker test-worker) || die "cannot create a worker token"
reader=$(harness_token read reader) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
tokens="{"
for name in alice bob carol; do
    t=$(harness_token admin "$name") || die "cannot create token $name"
    tokens="$tokens\"$name\": \"$t\", "
done
tokens="${tokens%, }}"
harness_check_dags

WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_WORKER="$worker" \
    WEIR_READ="$reader" WEIR_TOKENS="$tokens" WEIR_TEST_CLI="$cli" \
    timeout 90 python3 "$src/tests/integration/approvals_test.py" || rc=1

harness_stop_server
harness_check_log
echo "integration.approvals: $((SECONDS - started)) s, rc $rc"
exit "$rc"
