#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Secrets with the real binaries (docs/security.md, "Secrets"): weir-server
# with a key ring, weir-worker, the weir CLI, driven by secrets_test.py,
# which starts and restarts the servers and the worker itself. When `ip
# netns` is permitted, a network namespace joined by a veth pair
# (10.232.N.0/30) holds a server reached over plain HTTP from a
# non-loopback address, which must refuse to deliver secrets, and one
# reached over TLS, which delivers them; it is removed on exit, also on
# failure.
#   tests/integration/run_secrets.sh WEIR_SERVER SOURCE_DIR WEIR_WORKER WEIR_CLI
set -uo pipefail
server=$1
src=$2
worker=$3
cli=$4
ns="weirs-$$"
veth_out="sr$$" # this side
veth_in="sn$$"  # inside the namespace
net="10.232.$(($$ % 250 + 1))"
netns=""
. "$src/tests/integration/harness.sh"
. "$src/tests/integration/tls_certs.sh"
py_pid=""

secrets_cleanup() {
    if [ -n "$py_pid" ]; then
        kill -TERM "$py_pid" 2>/dev/null
        wait "$py_pid" 2>/dev/null
    fi
    if [ -f "$tmp/pids" ]; then
        while read -r p; do
            kill -KILL -- "$p" 2>/dev/null
        done <"$tmp/pids"
    fi
    if [ -n "$netns" ]; then
        ip link del "$veth_out" 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    fi
}
trap 'secrets_cleanup; harness_cleanup' EXIT

if ip netns add "$ns" 2>/dev/null; then
    netns=$ns
    ip link add "$veth_out" type veth peer name "$veth_in" netns "$ns" &&
        ip addr add "$net.1/30" dev "$veth_out" &&
        ip link set "$veth_out" up &&
        ip -n "$ns" addr add "$net.2/30" dev "$veth_in" &&
        ip -n "$ns" link set "$veth_in" up &&
        ip -n "$ns" link set lo up || die "cannot set up the veth pair"
    command -v openssl >/dev/null ||
        die "openssl is not installed (scripts/setup.sh --test)"
    tls_certs "$tmp/certs" "$net.2" ||
        die "openssl failed: $(cat "$tmp/certs/openssl.log")"
else
    echo "note: ip netns is not permitted here: the plain-HTTP refusal is skipped"
fi

mkdir -p "$tmp/scratch"
WEIR_SERVER_BIN="$server" WEIR_WORKER_BIN="$worker" WEIR_CLI="$cli" \
    WEIR_TMP="$tmp" WEIR_DB_URL="$url" WEIR_NETNS="$netns" \
    WEIR_REMOTE_ADDR="$net.2" WEIR_CERTS="$tmp/certs" PYTHONPATH="$src/tests/integration" \
    timeout 100 /usr/bin/python3 "$src/tests/integration/secrets_test.py" &
py_pid=$!
wait "$py_pid" || rc=1
py_pid=""
harness_check_pg_log
[ "$rc" -eq 0 ] || tail -n 30 "$tmp"/server*.log "$tmp"/worker*.log >&2
echo "integration.secrets: $((SECONDS - started)) s, rc $rc"
exit "$rc"
