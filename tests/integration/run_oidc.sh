#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Single sign-on: tests/oidc/provider.py (Debian's python3 with
# python3-jwt and python3-cryptography) as the identity provider,
# oidc_test.py against weir-server (the whole sign-in, forged ID tokens,
# key rotation, CSRF, sign-out, a gate's approvers by the provider's
# groups) and a second server, over HTTPS, with
# short session timeouts; then the options' errors (role mapping file, client secret
# file, issuer); `weir login` through a browser-like client, its session
# file, and the CLI using it with the user's grants, on its server only.
#   tests/integration/run_oidc.sh PATH/TO/weir-server SOURCE_DIR PATH/TO/weir
set -uo pipefail
server=$1
src=$2
cli=$3
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
  release-managers: [operator]
  ops-team: [operator]
YAML
cp "$src"/tests/integration/oidc_dags/*.yaml "$tmp/dags/" || die "no DAGs"
"$py" "$src/tests/oidc/provider.py" "$tmp/provider.port" weir-test "$tmp/oidc.secret" \
    >"$tmp/provider.log" 2>&1 &
provider_pid=$!
trap 'kill "$provider_pid" 2>/dev/null; wait "$provider_pid" 2>/dev/null; harness_cleanup' EXIT
for _ in $(seq 1 100); do [ -s "$tmp/provider.port" ] && break; sleep 0.1; done
[ -s "$tmp/provider.port" ] || die "the test provider did not start: $(cat "$tmp/provider.log")"
issuer="http://127.0.0.1:$(cat "$tmp/provider.port")"
sso=(--oidc-issuer "$issuer" --oidc-client-id weir-test
    --oidc-client-secret-file "$tmp/oidc.secret" --oidc-role-map "$tmp/roles.yaml")

# the server with short timeouts speaks HTTPS: its cookie is Secure
. "$src/tests/integration/tls_certs.sh"
tls_certs "$tmp/tls" 127.0.0.1 || die "cannot make certificates: $(cat "$tmp/tls/openssl.log")"
harness_start_server "${sso[@]}"
harness_spawn_server short "${sso[@]}" --session-idle 2s --session-max 5s \
    --oidc-user-claim preferred_username --oidc-pending-max 3 \
    --tls-cert "$tmp/tls/server.pem" --tls-key "$tmp/tls/server.key"
for o in --oidc-issuer --oidc-user-claim --oidc-pending-max; do
    grep -q -- "$o" <("$server" --help) || fail "--help does not name $o"
done

harness_check_dags
WEIR_URL="http://$addr" WEIR_SHORT_URL="https://$addr_short" PROVIDER="$issuer" \
    WEIR_ADMIN="$(cat "$tmp/admin.token")" \
    WEIR_CA="$tmp/tls/ca.pem" \
    WEIR_DB_DUMP="'$pg' psql '$tmp/pg' -tAc 'SELECT * FROM sessions'" \
    timeout 60 "$py" "$src/tests/integration/oidc_test.py" || rc=1

# nothing secret in the logs: no session id, no client secret
secret=$(cat "$tmp/oidc.secret")
grep -q -- "$secret" "$tmp/out" "$tmp/err" "$tmp/err.short" &&
    fail "the client secret reached the server's log"
grep -q 'weir_session=' "$tmp/err" "$tmp/out" && fail "a session cookie reached the log"
grep -q 'event=oidc_sign_in_refused' "$tmp/err" ||
    fail "refused sign-ins are not logged"
grep -q 'event=oidc_sign_in_refused reason=pending_max max=3' "$tmp/err.short" ||
    fail "the log does not say why a sign-in got 503 (--oidc-pending-max)"

# ---- weir login: the loopback redirect, the session file, its use ----
mkdir -p "$tmp/home"
curl_provider() { "$py" -c 'import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1] + "/control", data=sys.argv[2].encode(), method="POST"), timeout=10)' "$issuer" "$1"; }
curl_provider '{"user": "bob", "groups": ["readers"], "forge": "none", "kid": "rsa1"}'
HOME="$tmp/home" XDG_CONFIG_HOME="" timeout 60 "$cli" login --server "http://$addr" \
    >"$tmp/login.out" 2>"$tmp/login.err" &
login_pid=$!
for _ in $(seq 1 100); do [ -s "$tmp/login.out" ] && break; sleep 0.1; done
login_url=$(head -n 1 "$tmp/login.out")
"$py" - "$login_url" "http://$addr" >"$tmp/login.py" 2>&1 <<'PY' || fail "the browser side of weir login: $(cat "$tmp/login.py")"
import http.cookiejar, json, re, sys, urllib.error, urllib.parse, urllib.request
url, server = sys.argv[1:3]
assert "/auth/login?cli_port=" in url, url
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None
op = urllib.request.build_opener(
    urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)
def go(url, data=None, headers=None, opener=op):
    """GET (or POST data) url, then its redirects: the last reply and every
    URL visited."""
    seen = [url]
    for _ in range(6):
        try:
            r = opener.open(urllib.request.Request(
                url, data=data, headers=headers or {}), timeout=20)
            status, body, loc = r.status, r.read(), None
        except urllib.error.HTTPError as e:
            status, body, loc = e.code, e.read(), e.headers.get("Location")
        if status != 302:
            return status, body, url, seen
        url, data, headers = urllib.parse.urljoin(url, loc), None, None
        seen.append(url)
    raise AssertionError("too many redirects")
port = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["cli_port"][0]
# after the provider: a confirmation page, never the loopback by itself
status, body, url, seen = go(url)
assert status == 200 and url.startswith(server + "/auth/callback?"), (status, url)
assert not any(u.startswith("http://127.0.0.1:" + port) for u in seen), seen
page = body.decode()
assert "Sign in the weir CLI on this computer (port %s)?" % port in page and \
    "act as <b>bob</b>" in page and "read" in page, page
token = re.search(r'name="token" value="([0-9a-f]{64})"', page).group(1)
confirm = server + "/auth/cli/confirm"
form = lambda t: urllib.parse.urlencode({"token": t}).encode()
# refused: another token, another browser (no cookie), another origin
for data, hdrs, opener, what in [
        (form("0" * 64), {}, op, "a wrong token"),
        (form(token), {}, urllib.request.build_opener(NoRedirect), "no cookie"),
        (form(token), {"Origin": "http://evil.example"}, op, "another origin"),
        (form(token), {"Sec-Fetch-Site": "cross-site"}, op, "a cross-site post")]:
    status, body, u, seen = go(confirm, data, hdrs, opener)
    assert status == 403 and len(seen) == 1 and b"run weir login again" in body, \
        (what, status, seen, body)
status, body, url, seen = go(confirm, form(token), {"Origin": server})
assert status == 200 and b"Signed in to Weir" in body, (status, url, body)
assert url.startswith("http://127.0.0.1:%s/callback?code=" % port), url
# the confirmation is single use
status, body, u, _ = go(confirm, form(token))
assert status == 403, ("confirmed twice", status)
print(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["code"][0])
PY
wait "$login_pid" || fail "weir login exited $?: $(cat "$tmp/login.err")"
# the code again, as a program that saw it would send it: collected already
"$py" - "http://$addr" "$(tail -n 1 "$tmp/login.py")" <<'PY' || fail "a collected weir login code was exchanged again"
import json, sys, urllib.error, urllib.request
r = urllib.request.Request(sys.argv[1] + "/auth/cli", method="POST",
    data=json.dumps({"code": sys.argv[2], "secret": "0" * 64}).encode(),
    headers={"Content-Type": "application/json"})
try:
    urllib.request.urlopen(r, timeout=10)
    sys.exit(1)
except urllib.error.HTTPError as e:
    sys.exit(0 if e.code == 401 else 1)
PY
grep -q "signed in to http://$addr as bob" "$tmp/login.out" ||
    fail "weir login did not say who signed in: $(cat "$tmp/login.out")"
sfile="$tmp/home/.config/weir/session"
[ "$(stat -c %a "$sfile" 2>/dev/null)" = 600 ] || fail "the session file's mode: $(stat -c %a "$sfile" 2>&1)"
sed -n 2p "$sfile" | grep -q '^weirs_[0-9a-f]\{64\}$' || fail "the session file holds no session secret"
grep -q 'weirs_' "$tmp/login.out" "$tmp/login.err" && fail "weir login printed the session secret"
HOME="$tmp/home" XDG_CONFIG_HOME="" "$cli" dags --server "http://$addr" >"$tmp/cli" 2>&1 ||
    fail "weir dags with the login's session: $(cat "$tmp/cli")"
(cd "$tmp/home" && HOME="$tmp/home" XDG_CONFIG_HOME="" "$cli" dags) >"$tmp/cli" 2>&1 ||
    fail "weir dags with the login's session and its server: $(cat "$tmp/cli")"
HOME="$tmp/home" XDG_CONFIG_HOME="" "$cli" token list --server "http://$addr" >"$tmp/cli" 2>&1
[ $? -eq 1 ] && grep -q "needs a grant of admin" "$tmp/cli" ||
    fail "a reader's CLI session managed tokens: $(cat "$tmp/cli")"
HOME="$tmp/home" XDG_CONFIG_HOME="" "$cli" dags --server "https://$addr_short" >"$tmp/cli" 2>&1
[ $? -ne 0 ] && grep -q "WEIR_TOKEN is not" "$tmp/cli" ||
    fail "the login's session went to another server: $(cat "$tmp/cli")"
chmod 644 "$sfile"
HOME="$tmp/home" XDG_CONFIG_HOME="" "$cli" dags --server "http://$addr" >"$tmp/cli" 2>&1
[ $? -ne 0 ] && grep -q "may be read by other users" "$tmp/cli" ||
    fail "a session file others may read was used: $(cat "$tmp/cli")"

# ---- a provider that cannot be reached: 503 in general words ----
harness_spawn_server down --oidc-issuer http://127.0.0.1:1 --oidc-client-id weir-test \
    --oidc-client-secret-file "$tmp/oidc.secret" --oidc-role-map "$tmp/roles.yaml"
"$py" - "http://$addr_down" >"$tmp/down.out" 2>&1 <<'PY' || fail "sign-in with the provider down: $(cat "$tmp/down.out")"
import json, sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1] + "/auth/login", timeout=20)
    sys.exit("answered 2xx")
except urllib.error.HTTPError as e:
    body = json.loads(e.read())
    msg = body["error"]["message"]
    # the details (libcurl's words, the address) stay in the log
    assert e.code == 503 and "onnect" not in msg and \
        "127.0.0.1" not in msg, (e.code, msg)
PY
grep -q 'event=oidc_sign_in_refused.*127.0.0.1' "$tmp/err.down" ||
    fail "the log does not say why the provider could not be reached"
harness_stop_server "$pid_down"

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
bad 'oidc-user-claim "": expected a claim name' "${sso[@]}" --oidc-user-claim ""
bad 'oidc-pending-max "0": expected a number' "${sso[@]}" --oidc-pending-max 0
bad "session-idle is longer than --session-max" "${sso[@]}" --session-idle 2h --session-max 1h

# ---- the role mapping in the audit log: one record per change ----
# Two servers started with one mapping: one record. A third with another
# mapping: a second record, naming the new file's digest; a fourth with
# that mapping again: none.
maps() { harness_sql "SELECT params->>'sha256' FROM audit_log WHERE action = 'role_map.load' ORDER BY id"; }
[ "$(maps | wc -l)" -eq 1 ] || fail "role_map.load records after two starts with one mapping: $(maps)"
[ "$(maps)" = "$(sha256sum "$tmp/roles.yaml" | cut -d' ' -f1)" ] ||
    fail "the role_map.load record names another digest: $(maps)"
{ cat "$tmp/roles.yaml"; printf '  auditors: [read]\n'; } >"$tmp/roles2.yaml"
remap=("${sso[@]:0:6}" --oidc-role-map "$tmp/roles2.yaml")
harness_spawn_server remap "${remap[@]}"
harness_stop_server "$pid_remap"
harness_spawn_server remap2 "${remap[@]}"
harness_stop_server "$pid_remap2"
[ "$(maps | wc -l)" -eq 2 ] && [ "$(maps | tail -n 1)" = "$(sha256sum "$tmp/roles2.yaml" | cut -d' ' -f1)" ] ||
    fail "after a changed mapping (started twice), role_map.load records: $(maps)"

harness_stop_server "$pid_short"
harness_stop_server
harness_check_log "$tmp/err.short"
echo "integration.oidc: $((SECONDS - started)) s, rc $rc"
exit "$rc"
