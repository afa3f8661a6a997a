#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The memory figure of weir-server around its largest admin bodies (see
# bench_bigbody.py), against a private PostgreSQL cluster and a server of
# its own; exits 1 when a bound is missed.
#   bench/bench_bigbody.sh [PATH/TO/weir-server]
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
server=${1:-$src/build/server/weir-server}
. "$src/tests/integration/harness.sh"
harness_start_server
ops=$(harness_token admin bench) || die "cannot create an admin token"
python3 "$src/bench/bench_bigbody.py" "http://$addr" "$server_pid" "$ops" ||
    rc=1
harness_stop_server
exit "$rc"
