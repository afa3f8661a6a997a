#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run timeouts and deadlines end to end: weir-server against a private
# PostgreSQL with a real weir-worker and a webhook receiver. A run timeout
# stops the running step (no process left) and fails the run; a missed
# finish_within marks a run late once and notifies; cancel: true cancels;
# succeed_by is placed in the DAG's zone; a fast run is never late; a
# deadline that passes while the server is down is marked after its
# restart; loader errors name the place. With the weir CLI: LATE shows.
#   tests/integration/run_deadline.sh PATH/TO/weir-server SOURCE_DIR \
#       PATH/TO/weir-worker [PATH/TO/weir]
set -uo pipefail
server=$1
src=$2
worker_bin=$3
cli=${4:-}
. "$src/tests/integration/harness.sh"
receiver_pid=""
cleanup() {
    [ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null
    harness_cleanup
}
trap cleanup EXIT

# a receiver for the on_failure webhooks (500 first, then 200)
python3 "$src/tests/integration/hook_receiver.py" "$tmp/hook.port" "$tmp/hook.log" &
receiver_pid=$!
for _ in $(seq 1 100); do
    [ -s "$tmp/hook.port" ] && break
    sleep 0.1
done
[ -s "$tmp/hook.port" ] || die "the webhook receiver did not start"
hook="http://127.0.0.1:$(cat "$tmp/hook.port")/hook"
# succeed_by: the wall-clock minute now in the DAG's zone
hhmm=$(TZ=Asia/Kolkata date +%H:%M)
for f in "$src"/tests/integration/deadline_dags/*.yaml; do
    sed -e "s|@HOOK@|$hook|" -e "s|@TMP@|$tmp|" -e "s|@HHMM@|$hhmm|" "$f" \
        >"$tmp/dags/$(basename "$f")" || die "cannot write $f"
done

harness_start_server
worker=$(harness_token worker dl-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
harness_check_dags
export WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_WORKER="$worker" \
    WEIR_READ="$reader" WEIR_TEST_TMP="$tmp" WEIR_TEST_HOOK_LOG="$tmp/hook.log"

# a run whose deadline (2 s) passes while the server is down
timeout 30 python3 "$src/tests/integration/deadline_test.py" before || rc=1
harness_stop_server
# dl-slot's last cron run was 5 minutes ago: the restart catches up the
# latest missed minute, a run whose logical time is that slot
harness_sql "DELETE FROM runs WHERE dag_id = 'dl-slot';
    INSERT INTO runs (dag_id, dag_version_id, state, trigger_kind,
        trigger_key, logical_time, started_at, finished_at)
    SELECT id, current_version_id, 'success', 'cron', 'minutely',
        date_trunc('minute', now()) - interval '5 minutes', now(), now()
    FROM dags WHERE id = 'dl-slot'" >/dev/null || die "cannot age dl-slot"
sleep 2.5
harness_start_server
export WEIR_URL="http://$addr"
harness_start_worker "$worker" dl-worker --slots 4

timeout 60 python3 "$src/tests/integration/deadline_test.py" after || rc=1

if [ -n "$cli" ]; then
    expect_cli 0 "dl-late .*\[LATE\] manual" runs dl-late
    expect_cli 0 "^deadline: .*  LATE (marked at " run "$(cat "$tmp/late.run")"
    expect_cli 1 "^error: run timeout 2s" run "$(cat "$tmp/timeout.run")"
    expect_cli 0 "dl-fast" runs dl-fast
    ! grep -q "LATE" "$tmp/cli" || fail "weir runs shows a fast run LATE"
fi

harness_stop_worker
harness_stop_server
harness_check_log
echo "integration.deadline: $((SECONDS - started)) s, rc $rc"
exit "$rc"
