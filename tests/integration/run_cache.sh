#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Step caching: weir-server against a private PostgreSQL with a real
# weir-worker; cache_test.py checks reuse, keys, ttl, failures, no_cache
# (API and CLI), DAG versions, matrix cells, the logical time, trigger
# payload and environment in keys, and an expired cache hit. Then the server restarts
# and its retention chore must delete the expired entries, and only them.
#   tests/integration/run_cache.sh PATH/TO/weir-server SOURCE_DIR \
#       PATH/TO/weir-worker PATH/TO/weir
set -uo pipefail
server=$1
src=$2
worker_bin=$3
cli=$4
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/cache_dags/*.yaml "$tmp/dags/" || die "no DAGs"

# a short lease: test_expired_hit waits for one to expire
harness_start_server --lease-ttl 3000
worker=$(harness_token worker cache-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
harness_check_dags
harness_start_worker "$worker" cache-worker --slots 4

WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_READ="$reader" WEIR_WORKER="$worker" \
    WEIR_CLI="$cli" WEIR_PSQL="$pg psql $tmp/pg" WEIR_DAGS="$tmp/dags" \
    timeout 120 python3 "$src/tests/integration/cache_test.py" || rc=1

harness_stop_worker
harness_stop_server
grep -q "event=cache_finish_failed" "$tmp/err" &&
    grep -q "event=cache_hit_untried" "$tmp/err" ||
    fail "no log of the failed cache hit finish and its expiry"
# The cleanup: entries past expires_at go (cache-ttl's 2 s one), the
# others stay. The retention chore runs 1 s after the start.
live=$(harness_sql "SELECT count(*) FROM step_cache WHERE expires_at > now() + interval '1 minute'")
[ "$(harness_sql "SELECT count(*) FROM step_cache WHERE dag_id = 'cache-ttl'")" -ge 1 ] ||
    fail "no expired entry to clean up"
harness_start_server
for _ in $(seq 1 50); do
    [ "$(harness_sql "SELECT count(*) FROM step_cache WHERE expires_at <= now()")" = 0 ] && break
    sleep 0.1
done
[ "$(harness_sql "SELECT count(*) FROM step_cache WHERE expires_at <= now()")" = 0 ] ||
    fail "expired cache entries were not deleted"
[ "$(harness_sql "SELECT count(*) FROM step_cache")" = "$live" ] && [ "$live" -gt 0 ] ||
    fail "the cleanup deleted live entries (had $live)"
grep -q "event=cache_pruned deleted=" "$tmp/err" || fail "no cache_pruned log line"
harness_stop_server
harness_check_log
echo "integration.cache: $((SECONDS - started)) s, rc $rc"
exit "$rc"
