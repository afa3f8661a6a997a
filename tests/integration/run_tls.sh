#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# TLS with the real binaries: weir-server with a certificate (and then
# mutual TLS), weir-worker and weir trusting a CA or not, SIGHUP reloads,
# settings refused at start. Certificates are made here with openssl
# (tls_certs.sh); tls_test.py starts and stops the processes.
#   tests/integration/run_tls.sh WEIR_SERVER WEIR_WORKER WEIR_CLI SOURCE_DIR
set -uo pipefail
server=$1
worker=$2
cli=$3
src=$4
. "$src/tests/integration/harness.sh"
. "$src/tests/integration/tls_certs.sh"
py_pid=""

# Every process the test starts is listed in $tmp/pids: end them by id,
# then the cluster.
trap 'tls_stop_procs; harness_cleanup' EXIT

command -v openssl >/dev/null || die "openssl is not installed (scripts/setup.sh --test)"
tls_certs "$tmp/certs" 127.0.0.1 || die "openssl failed: $(cat "$tmp/certs/openssl.log")"
mkdir -p "$tmp/scratch"

WEIR_SERVER_BIN="$server" WEIR_WORKER_BIN="$worker" WEIR_CLI="$cli" \
    WEIR_TMP="$tmp" WEIR_DB_URL="$url" WEIR_CERTS="$tmp/certs" \
    PYTHONPATH="$src/tests/integration" \
    timeout 120 python3 "$src/tests/integration/tls_test.py" &
py_pid=$!
wait "$py_pid" || rc=1
py_pid=""
for f in "$tmp"/server-*.log "$tmp"/worker-*.log; do
    if grep -q 'Sanitizer\|runtime error' "$f" 2>/dev/null; then
        echo "FAIL: sanitizer reports in $f:" >&2
        grep -A 30 'Sanitizer\|runtime error' "$f" | head -n 60 >&2
        rc=1
    fi
done
harness_check_pg_log
[ "$rc" -eq 0 ] || tail -n 30 "$tmp"/server-*.log "$tmp"/worker-*.log >&2
echo "integration.tls: $((SECONDS - started)) s, rc $rc"
exit "$rc"
