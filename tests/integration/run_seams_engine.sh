#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Engine seams end to end, against a private PostgreSQL: concurrent
# firings of every kind against max_active_runs and concurrency, no
# cooldown where none is set, a DAG whose file is gone, the file
# trigger's payload, approval messages, notification links and the
# unpause of a cron DAG (seams_engine_test.py; the test is the worker).
#   tests/integration/run_seams_engine.sh PATH/TO/weir-server SOURCE_DIR [PATH/TO/weir]
set -uo pipefail
server=$1
src=$2
cli=${3:-}
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/seams_engine_dags/*.yaml "$tmp/dags/" || die "no DAGs"
export WEIR_TEST_HOOK_SECRET=hook-secret-for-tests
# a file trigger whose step renders the file's payload
mkdir -p "$tmp/incoming"
export WEIR_TEST_INCOMING="$tmp/incoming"
cat >"$tmp/dags/file.yaml" <<EOT
# New CSV files: the step names the file.
dag: se-file
triggers:
  - file: $tmp/incoming/*.csv
    stable: 300ms
steps:
  - id: load
    queue: se-file
    if: event.payload.size > 0
    run: echo \${{ event.payload.path }} \${{ event.payload.size }}
EOT

harness_start_server --lease-ttl 5000 --public-url http://weir.example:8080/
worker=$(harness_token worker se-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
harness_check_dags

WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_WORKER="$worker" \
    WEIR_READ="$reader" WEIR_TEST_DAGS="$tmp/dags" WEIR_TEST_CLI="$cli" \
    WEIR_TEST_PUBLIC_URL=http://weir.example:8080 timeout 280 python3 \
    "$src/tests/integration/seams_engine_test.py" ${WEIR_SE_SCENARIOS:-} || rc=1

# the CLI on a DAG whose file is gone (expect_cli of harness.sh)
if [ -n "$cli" ]; then
    export ops
    mv "$tmp/dags/gone.yaml" "$tmp/gone.yaml"
    for _ in $(seq 1 100); do
        [ "$(harness_sql "SELECT file_missing FROM dags WHERE id = 'se-gone'")" = t ] && break
        sleep 0.1
    done
    expect_cli 0 "se-gone  *missing" dags
    expect_cli 1 "its file is gone from the DAGs folder" trigger se-gone
    expect_cli 0 "missing" triggers se-gone
    expect_cli 2 "unknown option" dag submit x.yaml --with-runs
    expect_cli 0 "DAG se-gone deleted with its runs" dag delete se-gone --with-runs
    expect_cli 1 'no DAG "se-gone"' dag delete se-gone
fi

harness_stop_server
# without --public-url: links start with the server's own address; a bad
# --public-url is refused naming the flag
out=$("$server" --database-url "$url" --public-url 'ftp://x y' 2>&1)
[ $? -eq 2 ] && case "$out" in *'--public-url "ftp://x y": expected an http://'*) true ;; *) false ;; esac ||
    fail "a bad --public-url: $out"
grep -q 'reply-body-from-the-receiver' "$tmp/out" &&
    fail "a receiver's reply body reached the server's stdout"
harness_start_server --lease-ttl 5000
WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_WORKER="$worker" \
    WEIR_READ="$reader" WEIR_TEST_DAGS="$tmp/dags" \
    WEIR_TEST_PUBLIC_URL="http://$addr" timeout 60 python3 \
    "$src/tests/integration/seams_engine_test.py" notify || rc=1
harness_stop_server
grep -q 'reply-body-from-the-receiver' "$tmp/out" &&
    fail "a receiver's reply body reached the server's stdout"
grep -q 'event=notify_sent .*ok=yes status=200' "$tmp/err" ||
    fail "the notification's status is not logged"
harness_check_log
echo "integration.seams_engine: $((SECONDS - started)) s, rc $rc"
exit "$rc"
