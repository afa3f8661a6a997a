#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cron catch-up across a simulated outage, against a private PostgreSQL:
# each DAG's latest run is moved 5 minutes back while the server is down;
# at start, catchup: true makes a run for every missed minute, in slot
# order, two running (max_active_runs) and the rest queued; catchup: false
# runs only the latest missed minute; a second restart adds no duplicate.
#   tests/integration/run_catchup.sh PATH/TO/weir-server SOURCE_DIR
set -uo pipefail
server=$1
src=$2
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/catchup_dags/*.yaml "$tmp/dags/" || die "no DAGs"

fail() {
    echo "FAIL: $*" >&2
    rc=1
}
sql() { "$pg" psql "$tmp/pg" -tAc "$1"; }
stop() {
    kill -TERM "$server_pid"
    wait "$server_pid" || fail "weir-server exited non-zero"
    server_pid=""
}

harness_start_server
harness_check_dags
stop
# the outage: the last runs were 5 minutes ago (as if the server had been
# down since), and nothing newer exists
sql "DELETE FROM runs" >/dev/null
sql "INSERT INTO runs (dag_id, dag_version_id, state, trigger_kind,
       trigger_key, logical_time, started_at, finished_at)
     SELECT id, current_version_id, 'success', 'cron', 'minutely',
       date_trunc('minute', now()) - interval '5 minutes', now(), now()
     FROM dags" >/dev/null || die "cannot insert the old runs"

# Start just before a minute turns, so that the new minute's slot is due
# while the missed ones are being caught up: its run must still come last
# (it was once made first, by a firing of its own racing the catch-up).
/usr/bin/python3 -c 'import time; time.sleep((59.93 - time.time() % 60) % 60)'
harness_start_server
want=0
for _ in $(seq 1 100); do
    want=$(sql "SELECT extract(epoch FROM date_trunc('minute', now())
                  - (SELECT min(logical_time) FROM runs))::int / 60")
    have=$(sql "SELECT count(*) - 1 FROM runs WHERE dag_id = 'cu-all'")
    [ "$have" -ge "$want" ] && [ "$want" -ge 5 ] && break
    sleep 0.1
done
# every minute since the old run, once, created in slot order
gaps=$(sql "SELECT count(*) FROM (SELECT logical_time - lag(logical_time)
              OVER (ORDER BY logical_time) AS d,
              id > lag(id) OVER (ORDER BY logical_time) AS ordered
            FROM runs WHERE dag_id = 'cu-all') s
            WHERE d <> interval '1 minute' OR NOT ordered")
n_all=$(sql "SELECT count(*) FROM runs WHERE dag_id = 'cu-all'")
[ "$gaps" = 0 ] && [ "$n_all" -ge 6 ] ||
    fail "catchup: true: $n_all runs, $gaps gaps or out of order"
states=$(sql "SELECT string_agg(state, ',' ORDER BY logical_time) FROM runs
              WHERE dag_id = 'cu-all' AND state <> 'success'")
case "$states" in
running,running,queued*) ;;
*) fail "catchup: true: states $states (want running,running,queued...)" ;;
esac
reason=$(sql "SELECT reason FROM runs WHERE dag_id = 'cu-all'
              AND trigger_payload->>'catchup' = 'true'
              ORDER BY logical_time LIMIT 1")
case "$reason" in
"cron * * * * * ("*"), caught up") ;;
*) fail "catch-up reason: $reason" ;;
esac
latest=$(sql "SELECT count(*) FROM runs WHERE dag_id = 'cu-latest'
              AND trigger_payload->>'catchup' = 'true'")
[ "$latest" = 1 ] || fail "catchup: false ran $latest missed slots (want 1)"
late=$(sql "SELECT logical_time = date_trunc('minute', now())
              OR logical_time = date_trunc('minute', now()) - interval '1 minute'
            FROM runs WHERE dag_id = 'cu-latest'
            AND trigger_payload->>'catchup' = 'true'")
[ "$late" = t ] || fail "catchup: false did not run the latest missed slot"

# a restart duplicates nothing
before=$(sql "SELECT count(*) FROM runs WHERE trigger_payload->>'catchup' = 'true'")
stop
harness_start_server
sleep 1
after=$(sql "SELECT count(*) FROM runs WHERE trigger_payload->>'catchup' = 'true'")
dups=$(sql "SELECT count(*) FROM (SELECT 1 FROM runs GROUP BY dag_id,
              logical_time HAVING count(*) > 1) s")
[ "$after" -le "$before" ] && [ "$dups" = 0 ] ||
    fail "restart: catch-up runs $before -> $after, $dups duplicate slots"
stop
harness_check_log
echo "integration.catchup: $((SECONDS - started)) s, rc $rc"
exit "$rc"
