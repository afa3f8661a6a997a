#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Tokens and worker identity: tokens_test.py against weir-server (create,
# list, expire, revoke, a revoked token on an open long-poll, workers
# bound to their token, queue-limited worker tokens); `weir token`; the
# CLI never sends a token to a server named by another source; the first
# admin token goes only to --admin-token-file, and without that flag none
# is made.
#   tests/integration/run_tokens.sh PATH/TO/weir-server SOURCE_DIR PATH/TO/weir
set -uo pipefail
server=$1
src=$2
cli=$3
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/tokens_dags/*.yaml "$tmp/dags/" || die "no DAGs"

harness_start_server
admin=$(cat "$tmp/admin.token")
harness_check_dags

WEIR_URL="http://$addr" WEIR_ADMIN="$admin" \
    timeout 120 python3 "$src/tests/integration/tokens_test.py" || rc=1

# ---- weir token ----
ops=$admin
expect_cli 2 "create needs --role and --name" token create --role read
expect_cli 0 '^weir_[0-9a-f]\{64\}$' token create --role read --name cli-reader --expires 30d
cli_secret=$(cat "$tmp/cli")
WEIR_SERVER="http://$addr" WEIR_TOKEN="$cli_secret" "$cli" dags >/dev/null 2>&1 ||
    fail "the token made by weir token create does not work"
expect_cli 0 "cli-reader *read *live" token list
grep -q 'weir_' "$tmp/cli" && fail "weir token list shows a secret: $(cat "$tmp/cli")"
expect_cli 0 '"name":[[:space:]]*"cli-reader"' token list --json
expect_cli 0 '\["prod"\]' token create --role worker --name cli-worker --queues prod --json
expect_cli 1 "already named" token create --role read --name cli-reader
expect_cli 0 "revoked cli-reader" token revoke cli-reader
expect_cli 1 "no live token is named" token revoke cli-reader
WEIR_SERVER="http://$addr" WEIR_TOKEN="$cli_secret" "$cli" dags >"$tmp/cli" 2>&1 &&
    fail "a revoked token still works: $(cat "$tmp/cli")"

# ---- weir-server --create-token with a lifetime and queues ----
secret=$("$server" --create-token worker --token-name srv-queued --token-expires 30d \
    --token-queues prod,dev --database-url "$url" 2>"$tmp/flagerr") && [[ "$secret" =~ ^weir_[0-9a-f]{64}$ ]] ||
    fail "--create-token with --token-queues: $(cat "$tmp/flagerr")"
WEIR_SERVER="http://$addr" WEIR_TOKEN="$admin" "$cli" token list --json >"$tmp/cli" 2>&1
python3 - "$tmp/cli" <<'PY' || fail "srv-queued token: $(cat "$tmp/cli")"
import json, sys
t = [x for x in json.load(open(sys.argv[1]))["tokens"] if x["name"] == "srv-queued"]
assert t and t[0]["queues"] == ["prod", "dev"] and t[0]["expires_at"], t
PY
"$server" --create-token read --token-name srv-read --token-queues prod \
    --database-url "$url" >"$tmp/out" 2>"$tmp/flagerr"
[ $? -eq 2 ] && grep -q -- '--token-queues: queues are for worker tokens' "$tmp/flagerr" &&
    ! grep -q weir_ "$tmp/out" || fail "queues on a read token: $(cat "$tmp/flagerr")"
"$server" --create-token worker --token-queues 'prod,bad queue' \
    --database-url "$url" >"$tmp/out" 2>"$tmp/flagerr"
[ $? -eq 2 ] && grep -q 'a queue name is 1 to 64' "$tmp/flagerr" ||
    fail "a bad queue name: $(cat "$tmp/flagerr")"
"$server" --create-token read --token-expires soon --database-url "$url" >"$tmp/out" 2>"$tmp/flagerr"
[ $? -eq 2 ] && grep -q -- '--token-expires takes a duration' "$tmp/flagerr" ||
    fail "a bad --token-expires: $(cat "$tmp/flagerr")"

# ---- the CLI takes the server and the token from one place ----
# A folder whose .weir/server.url names a listener that records what it
# is sent: with WEIR_TOKEN from the environment, nothing may reach it.
mkdir -p "$tmp/checkout/.weir"
python3 - "$tmp/caught" "$tmp/port" <<'PY' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(5)
open(sys.argv[2], "w").write(str(s.getsockname()[1]))
s.settimeout(15)
with open(sys.argv[1], "wb") as out:
    try:
        while True:
            c, _ = s.accept()
            c.settimeout(2)
            try:
                out.write(c.recv(65536))
                out.flush()
            except OSError:
                pass
            c.close()
    except OSError:
        pass
PY
catcher=$!
for _ in $(seq 1 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
echo "http://127.0.0.1:$(cat "$tmp/port")" >"$tmp/checkout/.weir/server.url"
(cd "$tmp/checkout" && WEIR_TOKEN="$admin" "$cli" dags) >"$tmp/cli" 2>&1
got=$?
[ "$got" -eq 1 ] && grep -q "WEIR_TOKEN is set but WEIR_SERVER is not" "$tmp/cli" ||
    fail "WEIR_TOKEN with a .weir/server.url: exit $got: $(cat "$tmp/cli")"
echo "$admin" >"$tmp/checkout/.weir/admin.token"
(cd "$tmp/checkout" && "$cli" dags --server "http://$addr") >"$tmp/cli" 2>&1
got=$?
[ "$got" -eq 1 ] && grep -q "WEIR_TOKEN is not" "$tmp/cli" ||
    fail "--server with .weir/admin.token: exit $got: $(cat "$tmp/cli")"
rm "$tmp/checkout/.weir/admin.token"
(cd "$tmp/checkout" && "$cli" dags) >"$tmp/cli" 2>&1
got=$?
[ "$got" -eq 1 ] && grep -q "admin.token does not" "$tmp/cli" ||
    fail ".weir/server.url without admin.token: exit $got: $(cat "$tmp/cli")"
(cd "$tmp/checkout" && WEIR_SERVER="http://$addr" WEIR_TOKEN="$admin" "$cli" dags) >"$tmp/cli" 2>&1 ||
    fail "WEIR_SERVER and WEIR_TOKEN together: $(cat "$tmp/cli")"
kill "$catcher" 2>/dev/null
wait "$catcher" 2>/dev/null
[ -s "$tmp/caught" ] && fail "the CLI sent a request to .weir/server.url's server: $(head -c 300 "$tmp/caught")"

# ---- the first admin token: only in the file; none without the flag ----
"$pg" psql "$tmp/pg" -qc 'CREATE DATABASE weir_bare' >/dev/null || die "no second database"
bare_url=${url/dbname=weir/dbname=weir_bare}
"$server" --database-url "$bare_url" --dags-dir "$tmp/dags" --listen 127.0.0.1:0 \
    >"$tmp/out.bare" 2>"$tmp/err.bare" &
bare_pid=$!
harness_pids+=("$bare_pid")
harness_listen_addr "$bare_pid" "$tmp/err.bare" >/dev/null || fail "the server without --admin-token-file did not start"
grep -q "no admin token exists: create one with weir-server --create-token admin" "$tmp/out.bare" ||
    fail "without --admin-token-file the server did not say how to make a token: $(cat "$tmp/out.bare")"
[ "$("$pg" psql "$tmp/pg" -d weir_bare -tAc 'SELECT count(*) FROM api_tokens')" = 0 ] ||
    fail "without --admin-token-file an admin token was created"
grep -q 'weir_[0-9a-f]\{64\}' "$tmp/out" "$tmp/err" "$tmp/out.bare" "$tmp/err.bare" &&
    fail "a token reached the server's stdout or log"
harness_stop_server "$bare_pid"

harness_stop_server
harness_check_log
echo "integration.tokens: $((SECONDS - started)) s, rc $rc"
exit "$rc"
