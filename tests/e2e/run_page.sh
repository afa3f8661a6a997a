#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One browser test of tests/e2e, NAME.test.mjs, in headless Chromium on a
# private stack of its own (stack.sh: PostgreSQL, weir-server with the
# DAGs of tests/e2e/dags, a worker; no seeded runs), with the URL, the
# admin and read tokens and the screenshot folder tests/out/e2e-NAME/ in
# its environment. The tests: authz (what each role sees and does not
# see), approvals (a gate's approvers and the refusals), audit (the audit
# log page, admins only).
#   tests/e2e/run_page.sh NAME PATH/TO/weir-server PATH/TO/weir-worker SOURCE_DIR
set -uo pipefail
name=$1
server=$2
worker=$3
src=$4
out="$src/tests/out/e2e-$name"

source "$src/tests/e2e/tools.sh"
source "$src/tests/e2e/stack.sh"

rm -rf "$out"
mkdir -p "$out"
WEIR_E2E_URL="http://$addr" WEIR_E2E_ADMIN="$admin_token" \
    WEIR_E2E_READ="$read_token" WEIR_E2E_OUT="$out" \
    WEIR_E2E_CHROMIUM="$chrome" \
    timeout 120 node "$src/tests/e2e/$name.test.mjs" || rc=1
harness_check_log
[ "$rc" -eq 0 ] && echo "e2e.$name passed in $((SECONDS - started)) s"
exit "$rc"
