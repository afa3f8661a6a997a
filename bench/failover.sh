#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Leader takeover time: two weir-servers on a private PostgreSQL; ROUNDS
# times, kill -9 the leader and time until the other's health says
# "leader": true, then start the killed one again (it follows). Prints
# each figure and the median. (integration.leader prints the time to the
# next cron slot's run as well.)
#   bench/failover.sh [PATH/TO/weir-server] [ROUNDS]
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
server=${1:-$src/build/server/weir-server}
rounds=${2:-5}
. "$src/tests/integration/harness.sh"

leads() { # leads NAME: true when server NAME says it leads
    local a=addr_$1
    curl -s --max-time 1 "http://${!a}/api/v1/health" | grep -q '"leader":true'
}

harness_spawn_server a --name a
harness_spawn_server b --name b
lead=a other=b
figures=()
for i in $(seq 1 "$rounds"); do
    leads "$lead" || die "round $i: $lead does not lead"
    p=pid_$lead
    t0=$(date +%s%N)
    kill -KILL "${!p}"
    until leads "$other"; do
        [ $(($(date +%s%N) - t0)) -lt 10000000000 ] || die "no takeover in 10 s"
        sleep 0.01
    done
    ms=$((($(date +%s%N) - t0) / 1000000))
    figures+=("$ms")
    echo "round $i: kill -9 $lead -> $other leads after $ms ms"
    wait "${!p}" 2>/dev/null
    harness_spawn_server "$lead" --name "$lead"
    t=$lead lead=$other other=$t
done
sorted=$(printf '%s\n' "${figures[@]}" | sort -n)
echo "takeover ms: min $(echo "$sorted" | head -n 1)" \
    "median $(echo "$sorted" | sed -n "$(((rounds + 1) / 2))p")" \
    "max $(echo "$sorted" | tail -n 1)"
exit "$rc"
