#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# weir-server against a real PostgreSQL (a private cluster in a temp
# folder): flags, the first admin token, tokens and roles, the DAG routes
# with a valid, a broken and a cron DAG, HTTP errors (401 403 404 405 413
# 400), a restart (nothing applied or created twice), and a database
# outage the server rides out without a restart.
#   tests/integration/run_server.sh PATH/TO/weir-server SOURCE_DIR
set -uo pipefail
server=$1
src=$2
. "$src/tests/integration/harness.sh"

# req METHOD PATH TOKEN [CURL ARGS...]: sets $code; body in $tmp/body,
# headers in $tmp/hdr.
req() {
    local method=$1 path=$2 token=$3
    local auth=()
    shift 3
    [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
    code=$(curl -s --max-time 10 -X "$method" "${auth[@]}" -D "$tmp/hdr" \
        -o "$tmp/body" -w '%{http_code}' "$@" "http://$addr$path") || code=000
}

expect() { # CODE WHAT
    [ "$code" = "$1" ] ||
        fail "$2: HTTP $code, expected $1; body: $(head -c 400 "$tmp/body")"
}

# check_body PYTHON: runs PYTHON with `b` the parsed JSON body.
check_body() {
    python3 -c "import json, sys
b = json.load(open(sys.argv[1]))
$1" "$tmp/body" || fail "body check failed: $1
body: $(head -c 800 "$tmp/body")"
}

# ---- flags (no database needed) ----
"$server" --version | grep -Eq '^weir-server [0-9]+\.[0-9]+\.[0-9]+$' ||
    fail "--version"
# grep reads it all: -q would stop at the match, and the server, past a
# 4 KiB buffer of help, would die of SIGPIPE (pipefail)
"$server" --help | grep -- '--database-url' >/dev/null || fail "--help"
"$server" --bogus >/dev/null 2>"$tmp/flagerr"
[ $? -eq 2 ] || fail "an unknown flag must exit 2"
grep -q -- '--bogus' "$tmp/flagerr" || fail "unknown flag not named: $(cat "$tmp/flagerr")"
# a misspelt or abbreviated flag is named with what was meant, not taken
"$server" --listn 127.0.0.1:1 >/dev/null 2>"$tmp/flagerr"
[ $? -eq 2 ] || fail "a misspelt flag must exit 2"
grep -qx 'weir-server: unknown option --listn (did you mean --listen?) (see weir-server --help)' "$tmp/flagerr" ||
    fail "misspelt flag: $(cat "$tmp/flagerr")"
"$server" --database-url x --create-token read --token-name "$(head -c 201 /dev/zero | tr '\0' n)" >/dev/null 2>"$tmp/flagerr"
[ $? -eq 2 ] || fail "a token name over 200 bytes must exit 2"
grep -q -- '--token-name takes 1 to 200 bytes, got 201' "$tmp/flagerr" ||
    fail "long token name: $(cat "$tmp/flagerr")"
"$server" --database x >/dev/null 2>"$tmp/flagerr"
[ $? -eq 2 ] || fail "an abbreviated flag must exit 2"
grep -q 'unknown option --database (did you mean --database-url?)' "$tmp/flagerr" ||
    fail "abbreviated flag: $(cat "$tmp/flagerr")"
env -u WEIR_DATABASE_URL "$server" >/dev/null 2>"$tmp/flagerr"
[ $? -eq 2 ] || fail "a missing --database-url must exit 2"
"$server" --database-url x --listen 0.0.0.0:8080 >/dev/null 2>"$tmp/flagerr"
[ $? -eq 2 ] || fail "a non-loopback --listen must exit 2"
grep -q -- 'loopback.*--allow-remote' "$tmp/flagerr" ||
    fail "non-loopback refusal must say why: $(cat "$tmp/flagerr")"

# ---- a DAGs folder ----
mkdir -p "$tmp/dags/team"
cat >"$tmp/dags/hello.yaml" <<'YAML'
dag: hello
description: says hello
tags: [example]
steps:
  - id: greet
    run: echo hello
YAML
cat >"$tmp/dags/team/broken.yaml" <<'YAML'
dag: broken
steps:
  - id: a
    run: echo a
    retries: three
YAML
cat >"$tmp/dags/nightly.yaml" <<'YAML'
dag: nightly
description: first version
timezone: America/New_York
schedule: "30 2 * * *"
steps:
  - id: a
    run: echo a
YAML

# ---- first start ----
harness_start_server
admin=$(cat "$tmp/admin.token" 2>/dev/null)
echo "$admin" | grep -Eq '^weir_[0-9a-f]{64}$' || fail "--admin-token-file does not hold a token: $admin"
grep -q "admin token written to $tmp/admin.token" "$tmp/out" || fail "the server did not say where the admin token is: $(cat "$tmp/out")"
grep -q 'weir_' "$tmp/out" "$tmp/err" && fail "the admin token reached stdout or the log"
[ "$(stat -c %a "$tmp/admin.token" 2>/dev/null)" = 600 ] || fail "the token file must have mode 600"

req GET /api/v1/health ""
expect 200 "health"
check_body 'assert b["status"] == "ok" and b["database"] == "ok" and b["version"], b'

req GET /api/v1/dags ""
expect 401 "dags without a token"
check_body 'assert b["error"]["code"] == "AUTH" and b["error"]["message"], b'
grep -qi '^WWW-Authenticate: Bearer' "$tmp/hdr" || fail "401 without WWW-Authenticate"
req GET /api/v1/dags "weir_$(printf '0%.0s' $(seq 1 64))"
expect 401 "dags with an unknown token"
req GET /api/v1/dags "not-a-token"
expect 401 "dags with a malformed token"

req GET /api/v1/dags "$admin"
expect 200 "dags with the admin token"
check_body '
d = {x["id"]: x for x in b["dags"]}
assert sorted(d) == ["broken", "hello", "nightly"], sorted(d)
h = d["hello"]
assert h["description"] == "says hello" and h["tags"] == ["example"], h
assert len(h["version"]) == 64 and h["last_error"] is None, h
assert h["origin"] == "file" and h["path"] == "hello.yaml", h
assert h["next_fire_at"] is None and h["schedules"] == [], h
br = d["broken"]
assert br["version"] is None and br["path"] == "team/broken.yaml", br
assert br["last_error"].startswith("team/broken.yaml:5:14: \"retries\" must be a whole number"), br
n = d["nightly"]
assert n["last_error"] is None, n
t = n["next_fire_at"]
assert t and t[10:19] == "T02:30:00" and t[19:] in ("-04:00", "-05:00"), t
assert n["schedules"][0]["cron"] == "30 2 * * *" and n["schedules"][0]["next_fire_at"] == t, n
'

req GET /api/v1/dags/hello "$admin"
expect 200 "one DAG"
check_body '
assert b["id"] == "hello" and b["dag"]["steps"][0]["id"] == "greet", b
assert b["source"] == open(sys.argv[1].rsplit("/", 1)[0] + "/dags/hello.yaml").read(), b["source"]
'
req GET /api/v1/dags/nope "$admin"
expect 404 "a DAG that does not exist"
check_body 'assert b["error"]["code"] == "NOTFOUND", b'
req GET /api/v1/dags/hello/versions "$admin"
expect 200 "versions"
check_body 'v = b["versions"]; assert len(v) == 1 and v[0]["current"] and len(v[0]["hash"]) == 64, b'

# ---- tokens and roles ----
worker=$("$server" --create-token worker --database-url "$url" 2>"$tmp/ct.err")
echo "$worker" | grep -Eq '^weir_[0-9a-f]{64}$' || fail "--create-token printed: $worker $(cat "$tmp/ct.err")"
req GET /api/v1/dags "$worker"
expect 403 "dags with a worker token"
check_body 'assert b["error"]["code"] == "FORBIDDEN", b'
req GET /api/v1/workers/1/nothing "$worker"
expect 404 "a worker path with a worker token (allowed, no such route)"
req POST /api/v1/tokens "$admin" -d '{"role": "read", "name": "dashboard"}'
expect 201 "create a read token"
read_token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$tmp/body" 2>/dev/null)
req GET /api/v1/dags "$read_token"
expect 200 "dags with a read token"
req POST /api/v1/tokens "$read_token" -d '{"role": "admin"}'
expect 403 "POST with a read token"
req POST /api/v1/tokens "$admin" -d '{"role": "root"}'
expect 400 "a token with an unknown role"

# ---- HTTP errors ----
req GET /api/v1/nowhere "$admin"
expect 404 "unknown path"
req POST /api/v1/health ""
expect 405 "POST to a GET route"
grep -qi '^Allow: GET' "$tmp/hdr" || fail "405 without Allow: GET"
head -c 1100000 /dev/zero | tr '\0' 'x' >"$tmp/big"
req POST /api/v1/tokens "$admin" --data-binary "@$tmp/big"
expect 413 "oversized body (Content-Length)"
req POST /api/v1/tokens "$admin" -H 'Transfer-Encoding: chunked' --data-binary "@$tmp/big"
expect 413 "oversized body (chunked)"
req POST /api/v1/tokens "$admin" --data-binary $'{\n  "role": worker\n}'
expect 400 "malformed JSON"
check_body 'm = b["error"]["message"]; assert b["error"]["code"] == "PARSE" and "line 2, column 11" in m, m'

migrations_before=$(harness_sql "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
n_migrations=$(ls "$src"/migrations/*.sql | wc -l)
[ "$(harness_sql 'SELECT count(*) FROM schema_migrations')" = "$n_migrations" ] ||
    fail "schema_migrations, not one row per file of migrations/: $migrations_before"
[ "$(harness_sql 'SELECT count(*) FROM dag_versions')" = 2 ] || fail "expected 2 DAG versions"

# ---- restart: one file changed ----
sed -i 's/first version/second version/' "$tmp/dags/nightly.yaml"
harness_stop_server
cp "$tmp/err" "$tmp/err.1" # the restart starts a new log
harness_start_server
grep -q 'admin token' "$tmp/out" && fail "a second admin token was printed"
[ "$(harness_sql "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")" = "$migrations_before" ] ||
    fail "schema_migrations changed on restart"
[ "$(harness_sql "SELECT count(*) FROM api_tokens WHERE role = 'admin'")" = 1 ] || fail "more than one admin token"
[ "$(harness_sql "SELECT count(*) FROM dag_versions WHERE dag_id = 'hello'")" = 1 ] || fail "hello got a new version"
[ "$(harness_sql "SELECT count(*) FROM dag_versions WHERE dag_id = 'nightly'")" = 2 ] || fail "nightly did not get a new version"
req GET /api/v1/dags/nightly "$admin"
expect 200 "changed DAG after restart"
check_body 'assert b["description"] == "second version", b'

# ---- database outage: the server stays up and reconnects ----
"$pg" stop "$tmp/pg" immediate || fail "cannot stop PostgreSQL"
req GET /api/v1/health ""
expect 503 "health with the database down"
check_body 'assert b["database"] == "down", b'
req GET /api/v1/dags "$admin"
expect 503 "dags with the database down"
"$pg" start "$tmp/pg" >/dev/null || die "cannot restart PostgreSQL"
for _ in $(seq 1 50); do
    req GET /api/v1/health ""
    [ "$code" = 200 ] && break
    sleep 0.2
done
expect 200 "health after the database came back"
check_body 'assert b["database"] == "ok", b'
req GET /api/v1/dags "$admin"
expect 200 "dags after the database came back"

harness_stop_server
harness_check_log "$tmp/err.1"
echo "integration.server: $((SECONDS - started)) s, rc $rc"
exit "$rc"
