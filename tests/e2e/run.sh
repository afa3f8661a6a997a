#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The dashboard in headless Chromium (Debian's chromium, driven by
# playwright-core from npm; scripts/setup.sh --test installs both). A private
# stack (stack.sh), 10,000 finished runs and a run of 1,000 tasks seeded
# with SQL, then dashboard.test.mjs and stakes.test.mjs (issue 14's parts).
# Screenshots go to tests/out/e2e/.
#   tests/e2e/run.sh PATH/TO/weir-server PATH/TO/weir-worker SOURCE_DIR
set -uo pipefail
server=$1
worker=$2
src=$3
out="$src/tests/out/e2e"

source "$src/tests/e2e/tools.sh"

source "$src/tests/e2e/stack.sh"

psql() { "$pg" psql "$tmp/pg" -v ON_ERROR_STOP=1 -qtA "$@"; }

# 10,000 finished runs of quick and one run of 1,000 tasks (seed.sql).
big_run=$(psql -f "$src/tests/e2e/seed.sql") || die "cannot seed the runs"
[ -n "$big_run" ] || die "seed.sql did not name the run of 1,000 tasks"

rm -rf "$out"
mkdir -p "$out"
WEIR_E2E_URL="http://$addr" WEIR_E2E_ADMIN="$admin_token" \
    WEIR_E2E_READ="$read_token" WEIR_E2E_DAGS="$tmp/dags" \
    WEIR_E2E_WORKER="$(cat "$tmp/worker.token")" \
    WEIR_E2E_BIG_RUN="$big_run" WEIR_E2E_OUT="$out" \
    WEIR_E2E_CHROMIUM="$chrome" \
    timeout 420 node "$src/tests/e2e/dashboard.test.mjs" || rc=1
WEIR_E2E_URL="http://$addr" WEIR_E2E_ADMIN="$admin_token" \
    WEIR_E2E_READ="$read_token" WEIR_E2E_DAGS="$tmp/dags" \
    WEIR_E2E_OUT="$out" WEIR_E2E_CHROMIUM="$chrome" \
    timeout 200 node "$src/tests/e2e/stakes.test.mjs" || rc=1
harness_check_log
[ "$rc" -eq 0 ] && echo "e2e.dashboard passed in $((SECONDS - started)) s"
exit "$rc"
