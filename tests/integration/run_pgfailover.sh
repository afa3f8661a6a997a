#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# PostgreSQL failover and schema versions, with the real binaries: a
# primary with a synchronous streaming standby (cli/weir-pg standby), one
# weir-server whose database URL lists both (libpq multi-host, read-write
# sessions; a second server on the URL form of the same), a real
# weir-worker. pgfailover_test.py makes the primary
# refuse writes for a moment (SQLSTATE 25006: 503, then back), then posts
# a stream of runs and events, kills -9 the primary's postmaster mid-stream
# and promotes the standby: every run finishes and every acknowledged run
# and event is in the new primary. Here, around it: a malformed URL
# refused at once, a standby listed first skipped, the URL form of a
# multi-host string, the password in no output, and a server refusing a
# schema newer than it knows, before it applies anything.
#   tests/integration/run_pgfailover.sh WEIR_SERVER SOURCE_DIR WEIR_WORKER WEIR_CLI
set -uo pipefail
server=$1
src=$2
worker_bin=$3
cli=$4
. "$src/tests/integration/harness.sh"
trap 'harness_cleanup; "$pg" stop "$tmp/pg2" immediate >/dev/null 2>&1' EXIT

cp "$src"/tests/integration/pgfailover_dags/*.yaml "$tmp/dags/" || die "no DAGs"
"$pg" standby "$tmp/pg" "$tmp/pg2" >/dev/null || die "cannot make the standby"

# A password the clusters never ask for (peer authentication): it must
# not reach any output.
secret="pw$RANDOM$RANDOM-never-logged"
multi="host=$tmp/pg,$tmp/pg2 port=5432 dbname=weir user=postgres password=$secret target_session_attrs=read-write"

# ---- a malformed URL: refused at once (exit 2), saying why, without
# the password ----
WEIR_DATABASE_URL="postgresql://postgres:$secret@%zz/weir" timeout 20 \
    "$server" --dags-dir "$tmp/dags" --listen 127.0.0.1:0 >/dev/null 2>"$tmp/bad.err"
got=$?
[ "$got" -eq 2 ] || fail "a malformed database URL: exit $got, expected 2"
grep -q '^weir-server: --database-url is not a valid libpq connection string or URL: invalid percent-encoded token' "$tmp/bad.err" ||
    fail "a malformed database URL: $(cat "$tmp/bad.err")"
# Without a password in it, libpq's words are quoted whole.
WEIR_DATABASE_URL="host=$tmp/pg dbname=weir hots=x" timeout 20 \
    "$server" --dags-dir "$tmp/dags" --listen 127.0.0.1:0 >/dev/null 2>"$tmp/bad2.err"
got=$?
if [ "$got" -ne 2 ] || ! grep -q 'invalid connection option "hots"' "$tmp/bad2.err"; then
    fail "an unknown option in the database URL: exit $got: $(cat "$tmp/bad2.err")"
fi

# ---- the standby listed first, no target_session_attrs: the server's
# sessions are read-write by default, so libpq skips the standby (without
# that, the migrations would fail on it). Two at once on the new database:
# each migration is applied once, by one of them. ----
first_pids=()
for i in 1 2; do
    WEIR_DATABASE_URL="host=$tmp/pg2,$tmp/pg port=5432 dbname=weir user=postgres" \
        "$server" --create-token read --token-name "first$i" \
        >"$tmp/first$i.out" 2>"$tmp/first$i.err" &
    first_pids+=("$!")
done
for i in 1 2; do
    wait "${first_pids[i - 1]}"
    grep -Eqx 'weir_[0-9a-f]{64}' "$tmp/first$i.out" ||
        fail "standby listed first: no token ($(cat "$tmp/first$i.err"))"
done
n_files=$(ls "$src"/migrations/*.sql | wc -l)
[ "$(cat "$tmp"/first[12].err | grep -c 'event=migration_applied')" = "$n_files" ] ||
    fail "two servers at once: not $n_files migrations applied in all: $(grep -h 'event=migrations ' "$tmp"/first[12].err)"
[ "$(harness_sql 'SELECT count(*) FROM schema_migrations')" = "$n_files" ] ||
    fail "two servers at once: schema_migrations is not one row per file"

# ---- the same URL, serving: the leader's election session skips the
# standby as the pool does (on the standby it could never record its
# epoch, and a lone server would never lead: no cron, no lease expiry) ----
WEIR_DATABASE_URL="host=$tmp/pg2,$tmp/pg port=5432 dbname=weir user=postgres" \
    "$server" --dags-dir "$tmp/dags" --listen 127.0.0.1:0 \
    >"$tmp/out.s" 2>"$tmp/err.s" &
pid_s=$!
harness_pids+=("$pid_s")
addr_s=$(harness_listen_addr "$pid_s" "$tmp/err.s") || exit 1
led=""
for _ in $(seq 1 50); do
    led=$(curl -s "http://$addr_s/api/v1/health" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("leader"))')
    [ "$led" = True ] && break
    sleep 0.1
done
[ "$led" = True ] ||
    fail "standby listed first: a lone server does not lead within 5 s ($(grep -m1 'event=leader_session_failed' "$tmp/err.s"))"
harness_stop_server "$pid_s"

# The server, the database URL in its environment (not in its argv). A
# lease granted in the commit the kill cut short reaches no worker (its
# answer is a 503): it waits out the lease TTL, short here.
WEIR_DATABASE_URL="$multi" "$server" --dags-dir "$tmp/dags" \
    --listen 127.0.0.1:0 --admin-token-file "$tmp/admin.token" \
    --lease-ttl 3000 \
    >"$tmp/out" 2>"$tmp/err" &
server_pid=$!
addr=$(harness_listen_addr "$server_pid" "$tmp/err") || exit 1
worker=$(harness_token worker fo-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
harness_check_dags
harness_start_worker "$worker" fo-worker --slots 4

# A second server on the URL form of the multi-host string (read-write
# by default), which must find the new primary too.
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
uri="postgresql://postgres:$secret@$(enc "$tmp/pg"):5432,$(enc "$tmp/pg2"):5432/weir"
WEIR_DATABASE_URL="$uri" "$server" --dags-dir "$tmp/dags" \
    --listen 127.0.0.1:0 --lease-ttl 3000 >"$tmp/out.b" 2>"$tmp/err.b" &
pid_b=$!
harness_pids+=("$pid_b")
addr_b=$(harness_listen_addr "$pid_b" "$tmp/err.b") || exit 1

WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_WORKER="$worker" \
    WEIR_READ="$reader" WEIR_CLI="$cli" WEIR_PG="$pg" WEIR_TMP="$tmp" \
    WEIR_SERVER_LOG="$tmp/err" WEIR_URL_B="http://$addr_b" \
    WEIR_SERVER_LOG_B="$tmp/err.b" \
    timeout 90 python3 "$src/tests/integration/pgfailover_test.py" || rc=1

harness_stop_worker
harness_stop_server "$pid_b"

# ---- the URL form again, with target_session_attrs: the first host is
# dead now ----
tok=$(WEIR_DATABASE_URL="$uri?target_session_attrs=read-write" \
    "$server" --create-token read --token-name uri 2>"$tmp/uri.err")
echo "$tok" | grep -Eq '^weir_[0-9a-f]{64}$' ||
    fail "URL form of a multi-host string: no token ($(cat "$tmp/uri.err"))"

# ---- schema versions: a newer one is refused before anything is done ----
harness_stop_server
sql2() { "$pg" psql "$tmp/pg2" -tAc "$1"; }
newest=$(basename "$(ls "$src"/migrations/*.sql | sort | tail -n 1)" .sql)
newest_v=$((10#${newest%%_*}))
sql2 "INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')" >/dev/null ||
    die "cannot record a newer migration"
# Were anything applied, the newest known migration would be again.
sql2 "DELETE FROM schema_migrations WHERE version = $newest_v" >/dev/null ||
    die "cannot forget the newest migration"
WEIR_DATABASE_URL="$multi" timeout 30 "$server" --dags-dir "$tmp/dags" \
    --listen 127.0.0.1:0 >"$tmp/out.old" 2>"$tmp/err.old"
got=$?
[ "$got" -eq 1 ] || fail "a newer schema: weir-server exited $got, expected 1"
want="weir-server: the database schema is at migration 9999_from_the_future, newer than this weir-server's newest, $newest: a newer weir-server migrated it; run that version or a later one"
grep -qxF "$want" "$tmp/err.old" ||
    fail "a newer schema: not the expected message: $(cat "$tmp/err.old")"
[ "$(sql2 "SELECT count(*) FROM schema_migrations WHERE version = $newest_v")" = 0 ] ||
    fail "a newer schema: the older server applied a migration before refusing"
grep -q 'event=listening' "$tmp/err.old" && fail "a newer schema: the server listened"

# ---- the password: in no output of any process ----
grep -lF -- "$secret" "$tmp"/out* "$tmp"/err* "$tmp"/*.err "$tmp/worker.log" \
    "$tmp/pg/postgres.log" "$tmp/pg2/postgres.log" 2>/dev/null &&
    fail "the database password reached the output above"

harness_check_log "$tmp/err.b"
echo "integration.pgfailover: $((SECONDS - started)) s, rc $rc"
exit "$rc"
