#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The dashboard in headless Chromium (Debian's chromium, driven by
# playwright-core from npm; scripts/setup.sh installs both). A private
# stack (stack.sh), 10,000 finished runs and a run of 1,000 tasks seeded
# with SQL, then dashboard.test.mjs. Screenshots go to tests/out/e2e/.
#   tests/e2e/run.sh PATH/TO/weir-server PATH/TO/weir-worker SOURCE_DIR
set -uo pipefail
server=$1
worker=$2
src=$3
out="$src/tests/out/e2e"

[ -f "$src/tests/e2e/node_modules/playwright-core/package.json" ] || {
    echo "FATAL: playwright-core is missing: run scripts/setup.sh" >&2
    exit 1
}
chrome=${WEIR_E2E_CHROMIUM:-$(command -v chromium || true)}
[ -x "$chrome" ] || {
    echo "FATAL: no chromium: run scripts/setup.sh" >&2
    exit 1
}

source "$src/tests/e2e/stack.sh"

psql() { "$pg" psql "$tmp/pg" -v ON_ERROR_STOP=1 -qtA "$@"; }

# 10,000 finished runs of quick, one task each, oldest first; then one run
# of 1,000 tasks (a matrix of one step), each with an attempt.
psql -c "
INSERT INTO runs (dag_id, dag_version_id, state, trigger_kind, trigger_key,
                  reason, created_at, started_at, finished_at)
SELECT 'quick', d.current_version_id,
       CASE WHEN g % 7 = 0 THEN 'failed' ELSE 'success' END, 'manual',
       'manual', 'seeded for the browser tests',
       now() - make_interval(mins => 20000 - g),
       now() - make_interval(mins => 20000 - g),
       now() - make_interval(mins => 20000 - g) + interval '2 s'
FROM generate_series(1, 10000) g, dags d WHERE d.id = 'quick';
INSERT INTO tasks (run_id, step_id, state, try_count, queued_at, started_at,
                   finished_at)
SELECT r.id, 'only', r.state, 1, r.started_at, r.started_at, r.finished_at
FROM runs r WHERE r.dag_id = 'quick';" || die "cannot seed the runs"
big_run=$(psql -c "
WITH r AS (
  INSERT INTO runs (dag_id, dag_version_id, state, trigger_kind, trigger_key,
                    reason, created_at, started_at, finished_at)
  SELECT 'quick', current_version_id, 'success', 'manual', 'manual',
         'seeded: 1,000 tasks', now() - interval '1 h', now() - interval '1 h',
         now() - interval '50 min'
  FROM dags WHERE id = 'quick' RETURNING id, started_at),
t AS (
  INSERT INTO tasks (run_id, step_id, cell, matrix, state, try_count,
                     queued_at, started_at, finished_at)
  SELECT r.id, 'only', c, jsonb_build_object('i', c), 'success', 1,
         r.started_at + c * interval '0.5 s',
         r.started_at + c * interval '0.5 s',
         r.started_at + c * interval '0.5 s' + interval '2 s'
  FROM r, generate_series(0, 999) c RETURNING id, started_at, finished_at),
a AS (
  INSERT INTO attempts (task_id, try, state, exit_code, started_at,
                        finished_at)
  SELECT id, 1, 'success', 0, started_at, finished_at FROM t)
SELECT id FROM r;") || die "cannot seed the run of 1,000 tasks"

rm -rf "$out"
mkdir -p "$out"
WEIR_E2E_URL="http://$addr" WEIR_E2E_ADMIN="$admin_token" \
    WEIR_E2E_READ="$read_token" WEIR_E2E_DAGS="$tmp/dags" \
    WEIR_E2E_BIG_RUN="$big_run" WEIR_E2E_OUT="$out" \
    WEIR_E2E_CHROMIUM="$chrome" \
    timeout 240 node "$src/tests/e2e/dashboard.test.mjs" || rc=1
harness_check_log
[ "$rc" -eq 0 ] && echo "e2e.dashboard passed in $((SECONDS - started)) s"
exit "$rc"
