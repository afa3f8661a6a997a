#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Roles and scopes (docs/security.md, "Access model: roles and scopes"):
# authz_test.py against weir-server (grants on tokens, each role and a
# scoped operator against every route, filtered listings, the session);
# `weir token create --grant` and `weir token list`; weir-server
# --create-token with --grant, and its refusals.
#   tests/integration/run_authz.sh PATH/TO/weir-server SOURCE_DIR PATH/TO/weir
set -uo pipefail
server=$1
src=$2
cli=$3
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/authz_dags/*.yaml "$tmp/dags/" || die "no DAGs"

harness_start_server
admin=$(cat "$tmp/admin.token")
harness_check_dags

WEIR_URL="http://$addr" WEIR_ADMIN="$admin" WEIR_SRC="$src" \
    timeout 60 python3 "$src/tests/integration/authz_test.py" || rc=1

# ---- weir token create --grant, weir token list ----
ops=$admin
expect_cli 0 '^weir_[0-9a-f]\{64\}$' token create --name cli-op \
    --grant 'operator:env=dev:dag=team-a-*' --grant read
op_secret=$(cat "$tmp/cli")
expect_cli 0 'cli-op .*operator:env=dev:dag=team-a-\* read$' token list
expect_cli 1 'did you mean "operator"' token create --name cli-bad --grant operater
ops=$op_secret
expect_cli 0 'team-a-etl' dags
expect_cli 1 'not allowed to trigger DAG "team-a-etl" in environment "prod"' \
    trigger team-a-etl --env prod

# ---- weir-server --create-token ROLE:SCOPES --grant ... ----
secret=$("$server" --create-token 'operator:env=staging:dag=team-b-*' --grant ingest \
    --token-name srv-op --database-url "$url" 2>"$tmp/flagerr") &&
    [[ "$secret" =~ ^weir_[0-9a-f]{64}$ ]] || fail "--create-token with --grant: $(cat "$tmp/flagerr")"
ops=$admin
expect_cli 0 'srv-op .*operator:env=staging:dag=team-b-\* ingest$' token list
"$server" --create-token read --grant 'reed:dag=x' --database-url "$url" \
    >"$tmp/out" 2>"$tmp/flagerr"
[ $? -eq 2 ] && grep -q -- '--grant.*did you mean "read"' "$tmp/flagerr" &&
    ! grep -q weir_ "$tmp/out" || fail "a bad --grant: $(cat "$tmp/flagerr")"
"$server" --grant read --database-url "$url" >"$tmp/out" 2>"$tmp/flagerr"
[ $? -eq 2 ] && grep -q -- '--grant goes with --create-token' "$tmp/flagerr" ||
    fail "--grant alone: $(cat "$tmp/flagerr")"
"$server" --help >"$tmp/help" 2>&1
grep -q -- '--grant GRANT' "$tmp/help" || fail "--grant is not in --help"

# ---- migration 0023 on a database of 0022: each token gets the grant of
# its role, a worker token's queues become its grant's scope ----
"$pg" psql "$tmp/pg" -qc 'CREATE DATABASE weir_old' >/dev/null || die "no second database"
old_url=${url/dbname=weir/dbname=weir_old}
{
    echo "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());"
    for f in "$src"/migrations/00[01]*.sql "$src"/migrations/002[0-2]_*.sql; do
        cat "$f"
        b=$(basename "$f" .sql)
        echo ";INSERT INTO schema_migrations VALUES (${b%%_*}::int, '${b#*_}');"
    done
    echo "INSERT INTO api_tokens (hash, role, name, queues) VALUES
        (repeat('a', 64), 'admin', 'old-admin', NULL),
        (repeat('b', 64), 'worker', 'old-worker', '{gpu,prod}'),
        (repeat('c', 64), 'read', 'old-reader', NULL);"
} | "$pg" psql "$tmp/pg" -d weir_old -v ON_ERROR_STOP=1 -q >/dev/null 2>"$tmp/old.err" ||
    fail "cannot build a database at 0022: $(head -5 "$tmp/old.err")"
"$server" --create-token read --database-url "$old_url" >/dev/null 2>"$tmp/old.err" ||
    fail "migration 0023 on a 0022 database: $(cat "$tmp/old.err")"
got=$("$pg" psql "$tmp/pg" -d weir_old -tAc "SELECT string_agg(name || '=' || grants::text, ' ' ORDER BY name) FROM api_tokens WHERE name LIKE 'old-%'")
want='old-admin=[{"role": "admin"}] old-reader=[{"role": "read"}] old-worker=[{"role": "worker", "queues": ["gpu", "prod"]}]'
[ "$got" = "$want" ] || fail "grants after migration 0023: $got (want $want)"

harness_stop_server
harness_check_log
echo "integration.authz: $((SECONDS - started)) s, rc $rc"
exit $rc
