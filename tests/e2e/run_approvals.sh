#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The approval policy on the dashboard in headless Chromium (Debian's
# chromium, driven by playwright-core from npm): a private stack
# (stack.sh), then approvals.test.mjs. Screenshots go to
# tests/out/e2e-approvals/.
#   tests/e2e/run_approvals.sh PATH/TO/weir-server PATH/TO/weir-worker SOURCE_DIR
set -uo pipefail
server=$1
worker=$2
src=$3
out="$src/tests/out/e2e-approvals"

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
    WEIR_E2E_OUT="$out" WEIR_E2E_CHROMIUM="$chrome" \
    timeout 120 node "$src/tests/e2e/approvals.test.mjs" || rc=1
harness_check_log
[ "$rc" -eq 0 ] && echo "e2e.approvals passed in $((SECONDS - started)) s"
exit "$rc"
