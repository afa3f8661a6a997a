#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A worker on another host: a network namespace joined to this one by a
# veth pair (10.231.N.0/30), weir-server listening with TLS on this side's
# address, one weir-worker inside the namespace and one outside.
# netns_test.py cuts the link (link down) for longer than the lease TTL and
# restores it. The namespace and the veth pair are removed on exit, also on
# failure. Exits 77 (a skip) when this machine does not permit `ip netns`.
#   tests/integration/run_netns.sh WEIR_SERVER WEIR_WORKER SOURCE_DIR
set -uo pipefail
server=$1
worker=$2
src=$3
ns="weirt-$$"
veth_out="wr$$" # this side
veth_in="wn$$"  # inside the namespace
net="10.231.$(($$ % 250 + 1))"

# May this machine make namespaces? Asked before anything else starts.
if ! err=$(ip netns add "$ns" 2>&1); then
    echo "SKIP: integration.netns: ip netns is not permitted here ($err)"
    exit 77
fi
ip netns del "$ns"

. "$src/tests/integration/harness.sh"
. "$src/tests/integration/tls_certs.sh"
py_pid=""

netns_cleanup() {
    tls_stop_procs
    # the steps' process groups of the worker inside, if it left any
    ip netns pids "$ns" 2>/dev/null | while read -r p; do
        kill -KILL "$p" 2>/dev/null
    done
    ip link del "$veth_out" 2>/dev/null
    ip netns del "$ns" 2>/dev/null
}
trap 'netns_cleanup; harness_cleanup' EXIT

ip netns add "$ns" || die "cannot create the namespace $ns"
ip link add "$veth_out" type veth peer name "$veth_in" netns "$ns" ||
    die "cannot create the veth pair"
ip addr add "$net.1/30" dev "$veth_out" && ip link set "$veth_out" up &&
    ip -n "$ns" addr add "$net.2/30" dev "$veth_in" &&
    ip -n "$ns" link set "$veth_in" up && ip -n "$ns" link set lo up ||
    die "cannot set up the veth pair"

command -v openssl >/dev/null || die "openssl is not installed (scripts/setup.sh --test)"
tls_certs "$tmp/certs" "$net.1" || die "openssl failed: $(cat "$tmp/certs/openssl.log")"
mkdir -p "$tmp/scratch"
for f in "$src"/tests/integration/netns_dags/*.yaml; do
    sed "s|@TMP@|$tmp|g" "$f" >"$tmp/dags/$(basename "$f")" || die "no DAGs"
done

WEIR_SERVER_BIN="$server" WEIR_WORKER_BIN="$worker" WEIR_TMP="$tmp" \
    WEIR_DB_URL="$url" WEIR_CERTS="$tmp/certs" WEIR_NETNS="$ns" \
    WEIR_VETH="$veth_out" WEIR_ADDR="$net.1" \
    PYTHONPATH="$src/tests/integration" \
    timeout 120 python3 "$src/tests/integration/netns_test.py" &
py_pid=$!
wait "$py_pid" || rc=1
py_pid=""
for f in "$tmp"/server*.log "$tmp"/worker-*.log; do
    if grep -q 'Sanitizer\|runtime error' "$f" 2>/dev/null; then
        echo "FAIL: sanitizer reports in $f:" >&2
        grep -A 30 'Sanitizer\|runtime error' "$f" | head -n 60 >&2
        rc=1
    fi
done
harness_check_pg_log
[ "$rc" -eq 0 ] || tail -n 30 "$tmp"/server*.log "$tmp"/worker-*.log >&2
echo "integration.netns: $((SECONDS - started)) s, rc $rc"
exit "$rc"
