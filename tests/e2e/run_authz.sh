#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Roles and scopes in the dashboard (authz.test.mjs) in headless Chromium,
# on the private stack of stack.sh: what an admin, an operator limited to
# one DAG and a reader see and do not see. Screenshots go to
# tests/out/e2e-authz/.
#   tests/e2e/run_authz.sh PATH/TO/weir-server PATH/TO/weir-worker SOURCE_DIR
set -uo pipefail
server=$1
worker=$2
src=$3
out="$src/tests/out/e2e-authz"

[ -f "$src/tests/e2e/node_modules/playwright-core/package.json" ] || {
    echo "FATAL: playwright-core is missing: run scripts/setup.sh --test" >&2
    exit 1
}
chrome=${WEIR_E2E_CHROMIUM:-$(command -v chromium || true)}
[ -x "$chrome" ] || {
    echo "FATAL: no chromium: run scripts/setup.sh --test" >&2
    exit 1
}

source "$src/tests/e2e/stack.sh"

rm -rf "$out"
mkdir -p "$out"
WEIR_E2E_URL="http://$addr" WEIR_E2E_ADMIN="$admin_token" \
    WEIR_E2E_READ="$read_token" WEIR_E2E_OUT="$out" \
    WEIR_E2E_CHROMIUM="$chrome" \
    timeout 120 node "$src/tests/e2e/authz.test.mjs" || rc=1
harness_check_log
[ "$rc" -eq 0 ] && echo "e2e.authz passed in $((SECONDS - started)) s"
exit "$rc"
