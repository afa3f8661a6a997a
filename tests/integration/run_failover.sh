#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Workers and the CLI with several servers (docs/deploy.md, "Workers and
# the CLI with several servers"): two weir-servers on one private
# PostgreSQL; a real weir-worker listing both keeps its running attempt
# (heartbeats, lines, completion) and its leasing when its server is
# killed with SIGKILL; the CLI with a server list uses the first that
# answers; a worker whose copy of a DAG file differs from the server's
# refuses the attempt; a worker of a newer protocol major is refused. The
# scenarios are in failover_test.py; the option errors are checked here.
#   tests/integration/run_failover.sh PATH/TO/weir-server SOURCE_DIR \
#       PATH/TO/weir-worker PATH/TO/weir
set -uo pipefail
server=$1
src=$2
worker_bin=$3
cli=$4
. "$src/tests/integration/harness.sh"

for f in "$src"/tests/integration/failover_dags/*.yaml; do
    sed -e "s|@TMP@|$tmp|" "$f" >"$tmp/dags/$(basename "$f")" ||
        die "cannot write $f"
done

# expect_exit WANT PATTERN CMD...: CMD exits WANT and says PATTERN.
expect_exit() {
    local want=$1 pat=$2 got
    shift 2
    timeout 10 "$@" >"$tmp/out.cmd" 2>&1
    got=$?
    if [ "$got" -ne "$want" ] || ! grep -q -- "$pat" "$tmp/out.cmd"; then
        fail "$* exited $got (want $want, saying \"$pat\"): $(cat "$tmp/out.cmd")"
    fi
}

# bad server lists: a clear error naming the item, before anything starts
expect_exit 2 '--server: "ftp://x" is not a server URL' \
    "$worker_bin" --server ftp://x --token-file /dev/null
expect_exit 2 'WEIR_SERVER: server 2 of the list is empty' \
    env WEIR_SERVER='http://127.0.0.1:1,,http://127.0.0.1:2' \
    "$worker_bin" --token-file /dev/null
expect_exit 2 '(or WEIR_SERVER) is needed' env -u WEIR_SERVER "$worker_bin"
expect_exit 0 'repeatable' "$worker_bin" --help
expect_exit 1 'WEIR_SERVER: server 2 of the list is empty' \
    env WEIR_SERVER='http://127.0.0.1:1, ' WEIR_TOKEN=x "$cli" runs

# two servers, one database; short leases so that heartbeats must get
# through the second server for the running attempt to keep its lease
harness_spawn_server a --lease-ttl 4000
harness_spawn_server b --lease-ttl 4000
worker=$(harness_token worker fo-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
harness_check_dags

WEIR_URL_A="http://$addr_a" WEIR_URL_B="http://$addr_b" WEIR_PID_A="$pid_a" \
    WEIR_ADMIN="$ops" WEIR_WORKER="$worker" WEIR_READ="$reader" \
    WEIR_TEST_TMP="$tmp" WEIR_WORKER_BIN="$worker_bin" WEIR_CLI="$cli" \
    timeout 90 python3 "$src/tests/integration/failover_test.py" || rc=1

grep -q 'event=protocol_refused msg="the worker speaks protocol version 2' \
    "$tmp/err.b" || fail "server B did not log the protocol refusal"
harness_stop_server "$pid_b"
harness_check_log "$tmp/err.a" "$tmp/err.b" "$tmp"/worker-*.log
echo "integration.failover: $((SECONDS - started)) s, rc $rc"
exit "$rc"
