#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Event and webhook triggers end to end, against a private PostgreSQL:
# accumulation to a threshold with when:, duplicate ids, batches, bad
# input, cooldown, the daily cap, max_active_runs coalescing, priority,
# webhook signatures, and a restart in the middle of an accumulation.
# With the weir CLI as a third argument: weir event, metric, triggers.
#   tests/integration/run_triggers.sh PATH/TO/weir-server SOURCE_DIR [PATH/TO/weir]
set -uo pipefail
server=$1
src=$2
cli=${3:-}
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/trigger_dags/*.yaml "$tmp/dags/" || die "no DAGs"
export WEIR_TEST_HOOK_SECRET=hook-secret-for-tests
# a file trigger on a folder of this test
mkdir -p "$tmp/incoming"
export WEIR_TEST_INCOMING="$tmp/incoming"
cat >"$tmp/dags/file.yaml" <<EOT
# New CSV files start a run once they stop changing for 1 s.
dag: trg-file
triggers:
  - file: $tmp/incoming/*.csv
    stable: 1s
steps:
  - id: load
    queue: trg-none
    run: echo \${{ event.payload.path }}
EOT
# a glob with a wildcard in a folder part is polled, not watched
export WEIR_TEST_DEEP="$tmp/deep"
cat >"$tmp/dags/deep.yaml" <<EOT
# One CSV per day folder.
dag: trg-deep
triggers:
  - file: $tmp/deep/*/in.csv
    stable: 200ms
steps:
  - id: load
    queue: trg-none
    run: "true"
EOT

# a receiver for on_failure webhooks (500 first, then 200)
python3 "$src/tests/integration/hook_receiver.py" "$tmp/hook.port" "$tmp/hook.log" &
receiver_pid=$!
for _ in $(seq 1 100); do
    [ -s "$tmp/hook.port" ] && break
    sleep 0.1
done
[ -s "$tmp/hook.port" ] || die "the webhook receiver did not start"
export WEIR_TEST_HOOK_LOG="$tmp/hook.log"
cat >"$tmp/dags/notify.yaml" <<EOT
# A failed run is reported to a webhook.
dag: trg-notify
on_failure: {webhook: "http://127.0.0.1:$(cat "$tmp/hook.port")/hook"}
steps:
  - id: fails
    queue: trg-notify
    run: exit 3
EOT

harness_start_server
worker=$(harness_token worker trg-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
harness_check_dags
export WEIR_ADMIN="$ops" WEIR_WORKER="$worker" WEIR_READ="$reader"

WEIR_URL="http://$addr" timeout 90 python3 \
    "$src/tests/integration/triggers_test.py" before || rc=1
# the file trigger's folder is watched, and a.csv's last change was seen
# through the watch (a scan started by its inotify event)
grep -q "event=file_watch_started dir=$tmp/incoming" "$tmp/err" ||
    { echo "FAIL: the incoming folder was not watched" >&2; rc=1; }
grep -q 'event=file_stable dag=trg-file .*noticed=watch' "$tmp/err" ||
    { echo "FAIL: a.csv was not noticed through the watch" >&2; rc=1; }
grep -q 'event=file_stable dag=trg-deep .*noticed=poll' "$tmp/err" ||
    { echo "FAIL: deep/*/in.csv was not found by polling" >&2; rc=1; }
! grep -q "event=file_watch_started dir=$tmp/deep" "$tmp/err" ||
    { echo "FAIL: a folder with a wildcard was watched" >&2; rc=1; }

# the CLI: exit codes and what it prints
if [ -n "$cli" ]; then
    expect_cli 0 "event cli.ev accepted as" event cli.ev --payload '{"a": 1}' --id c1
    expect_cli 0 "duplicate" event cli.ev --id c1
    expect_cli 2 "not JSON" event cli.ev --payload '{bad'
    expect_cli 2 "expected one NAME" event
    expect_cli 0 "metric model.accuracy accepted" metric model.accuracy 0.9 --label model=fraud
    expect_cli 2 "not a number" metric model.accuracy high
    expect_cli 2 "expected KEY=VALUE" metric model.accuracy 1 --label nokey
    expect_cli 0 "sum 6000 of 10000" triggers trg-acc
    expect_cli 0 "suppressed .*cooldown until" triggers trg-cool
    expect_cli 0 '"state":' triggers trg-metric --json
    expect_cli 1 'no DAG "no-such-dag"' triggers no-such-dag
fi

# a retention that is not a duration is refused, naming the flag
out=$(WEIR_EVENT_RETENTION=soon "$server" --database-url "$url" 2>&1)
[ $? -eq 2 ] && case "$out" in *'WEIR_EVENT_RETENTION) "soon": expected a duration'*) true ;; *) false ;; esac ||
    { echo "FAIL: a bad event retention: $out" >&2; rc=1; }

# restart in the middle of an accumulation
kill -TERM "$server_pid"
wait "$server_pid" || { echo "FAIL: weir-server exited non-zero" >&2; rc=1; }
server_pid=""
# retention: every event is aged 40 days while the server is down; the
# prune after the restart deletes the old ones no trigger needs and keeps
# those pending for a trigger or consumed by a run
sql() { "$pg" psql "$tmp/pg" -tAc "$1"; }
sql "UPDATE events SET received_at = received_at - interval '40 days'" \
    >/dev/null || die "cannot age the events"
loose=$(sql "SELECT count(*) FROM events e WHERE NOT EXISTS
               (SELECT 1 FROM trigger_events t WHERE t.event_id = e.id)")
needed=$(sql "SELECT count(DISTINCT event_id) FROM trigger_events")
harness_start_server
for _ in $(seq 1 100); do
    old=$(sql "SELECT count(*) FROM events
               WHERE received_at < now() - interval '30 days'")
    [ "$old" = "$needed" ] && break
    sleep 0.1
done
[ "$loose" -gt 0 ] && [ "$needed" -gt 0 ] && [ "$old" = "$needed" ] ||
    { echo "FAIL: retention: $old old events left, want the $needed" \
        "needed of $((loose + needed))" >&2; rc=1; }
echo "retention: $loose old events deleted, $needed kept"
grep -q "event=events_pruned deleted=$loose" "$tmp/err" ||
    { echo "FAIL: retention: no events_pruned deleted=$loose" >&2; rc=1; }
WEIR_URL="http://$addr" timeout 60 python3 \
    "$src/tests/integration/triggers_test.py" after || rc=1

kill -TERM "$server_pid"
wait "$server_pid" || { echo "FAIL: weir-server exited non-zero" >&2; rc=1; }
server_pid=""
kill "$receiver_pid" 2>/dev/null
wait "$receiver_pid" 2>/dev/null
harness_check_log
echo "integration.triggers: $((SECONDS - started)) s, rc $rc"
exit "$rc"
