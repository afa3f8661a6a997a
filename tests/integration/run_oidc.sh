#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Single sign-on: tests/oidc/provider.py (Debian's python3 with
# python3-jwt and python3-cryptography) as the identity provider,
# oidc_test.py against weir-server (the whole sign-in, forged ID tokens,
# key rotation, CSRF, sign-out) and a second server with short session
# timeouts; then the options' errors (role mapping file, client secret
# file, issuer).
#   tests/integration/run_oidc.sh PATH/TO/weir-server SOURCE_DIR
set -uo pipefail
server=$1
src=$2
. "$src/tests/integration/harness.sh"
py=/usr/bin/python3

printf 'test-secret-%s\n' "$RANDOM$RANDOM" >"$tmp/oidc.secret"
chmod 600 "$tmp/oidc.secret"
cat >"$tmp/roles.yaml" <<'YAML'
groups:
  weir-admins: [admin]
  readers:
    - read
    - "operator:env=dev,staging:dag=team-a-*"
YAML
"$py" "$src/tests/oidc/provider.py" "$tmp/provider.port" weir-test "$tmp/oidc.secret" \
    >"$tmp/provider.log" 2>&1 &
provider_pid=$!
trap 'kill "$provider_pid" 2>/dev/null; wait "$provider_pid" 2>/dev/null; harness_cleanup' EXIT
for _ in $(seq 1 100); do [ -s "$tmp/provider.port" ] && break; sleep 0.1; done
[ -s "$tmp/provider.port" ] || die "the test provider did not start: $(cat "$tmp/provider.log")"
issuer="http://127.0.0.1:$(cat "$tmp/provider.port")"
sso=(--oidc-issuer "$issuer" --oidc-client-id weir-test
    --oidc-client-secret-file "$tmp/oidc.secret" --oidc-role-map "$tmp/roles.yaml")

harness_start_server "${sso[@]}"
harness_spawn_server short "${sso[@]}" --session-idle 2s --session-max 5s
grep -q -- "--oidc-issuer" <("$server" --help) || fail "--help does not name --oidc-issuer"

WEIR_URL="http://$addr" WEIR_SHORT_URL="http://$addr_short" PROVIDER="$issuer" \
    WEIR_DB_DUMP="'$pg' psql '$tmp/pg' -tAc 'SELECT * FROM sessions'" \
    timeout 60 "$py" "$src/tests/integration/oidc_test.py" || rc=1

# nothing secret in the logs: no session id, no client secret
secret=$(cat "$tmp/oidc.secret")
grep -q -- "$secret" "$tmp/out" "$tmp/err" "$tmp/err.short" &&
    fail "the client secret reached the server's log"
grep -q 'weir_session=' "$tmp/err" "$tmp/out" && fail "a session cookie reached the log"
grep -q 'event=oidc_sign_in_refused' "$tmp/err" ||
    fail "refused sign-ins are not logged"

# ---- bad options: exit 2, naming what is wrong and where ----
bad() { # bad WANT_PATTERN FLAGS...: weir-server exits 2 saying WANT
    local want=$1
    shift
    "$server" --database-url "$url" --listen 127.0.0.1:0 "$@" >"$tmp/bad.out" 2>"$tmp/bad.err" &
    local p=$!
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$p" 2>/dev/null
    wait "$p"
    local got=$?
    [ "$got" -ne 0 ] && grep -q -- "$want" "$tmp/bad.err" ||
        fail "weir-server $* exited $got without \"$want\": $(head -c 400 "$tmp/bad.err")"
}
printf 'grups:\n  a: [admin]\n' >"$tmp/typo.yaml"
bad "typo.yaml:1:1: unknown or repeated key \"grups\".*did you mean \"groups\"" \
    "${sso[@]:0:6}" --oidc-role-map "$tmp/typo.yaml"
printf 'groups:\n  a: [admin]\n  b:\n    - "operater:env=dev"\n' >"$tmp/grant.yaml"
bad 'grant.yaml:4:7: grant "operater:env=dev": role "operater".*did you mean "operator"' \
    "${sso[@]:0:6}" --oidc-role-map "$tmp/grant.yaml"
printf 'groups:\n  a: ["read:env=prod,"]\n' >"$tmp/scope.yaml"
bad 'scope.yaml:2:7: grant "read:env=prod,"' "${sso[@]:0:6}" --oidc-role-map "$tmp/scope.yaml"
cp "$tmp/oidc.secret" "$tmp/open.secret"
chmod 644 "$tmp/open.secret"
bad "oidc-client-secret-file .*open.secret: mode 644 lets other users read" \
    --oidc-issuer "$issuer" --oidc-client-id weir-test --oidc-client-secret-file "$tmp/open.secret" \
    --oidc-role-map "$tmp/roles.yaml"
bad "expected an https:// URL" --oidc-issuer http://sso.example --oidc-client-id weir-test \
    --oidc-client-secret-file "$tmp/oidc.secret" --oidc-role-map "$tmp/roles.yaml"
bad "oidc-client-id is missing" --oidc-issuer "$issuer" \
    --oidc-client-secret-file "$tmp/oidc.secret" --oidc-role-map "$tmp/roles.yaml"
bad "session-idle is longer than --session-max" "${sso[@]}" --session-idle 2h --session-max 1h

harness_stop_server "$pid_short"
harness_stop_server
harness_check_log "$tmp/err.short"
echo "integration.oidc: $((SECONDS - started)) s, rc $rc"
exit "$rc"
