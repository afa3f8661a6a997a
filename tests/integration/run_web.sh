#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The dashboard's server side: the compiled-in files of web/ (types, ETag
# and 304, the Content-Security-Policy, no token needed, nothing outside
# web/), --web-dir, ETags on API reads, GET /api/v1/session, the
# runs-by-steps grid with its limits and cursor, the DAG list by pages, the
# latest runs of every DAG, and one DAG version.
#   tests/integration/run_web.sh PATH/TO/weir-server SOURCE_DIR
set -uo pipefail
server=$1
src=$2
source "$src/tests/integration/harness.sh"

# get PATH [CURL ARGS...]: the status, headers in $tmp/h, body in $tmp/b.
get() {
    local path=$1
    shift
    rm -f "$tmp/b" "$tmp/h"
    touch "$tmp/b" "$tmp/h"
    curl -s -o "$tmp/b" -D "$tmp/h" -w '%{http_code}' --max-time 10 \
        "$@" "http://$addr$path"
}
header() { grep -i "^$1:" "$tmp/h" | head -n 1 | cut -d' ' -f2- | tr -d '\r'; }

# refused PATH MESSAGE QUERY...: each PATH?QUERY is a 400 naming MESSAGE.
refused() {
    local path=$1 msg=$2 q code
    shift 2
    for q in "$@"; do
        code=$(get "$path?$q" "${A[@]}")
        [ "$code" = 400 ] && grep -q "$msg" "$tmp/b" ||
            fail "$path?$q: $code $(cat "$tmp/b")"
    done
}

cp "$src/tests/e2e/dags/quick.yaml" "$tmp/dags/"
harness_start_server
admin=$(cat "$tmp/admin.token")
read_token=$(harness_token read viewer) || die "no read token"
A=(-H "Authorization: Bearer $admin")

# --- static files: no token, the right type, ETag, CSP
[ "$(get /)" = 200 ] || fail "GET / is not 200"
grep -q '<script type="module" src="/app.js">' "$tmp/b" ||
    fail "GET / is not web/index.html"
[ "$(header Content-Type)" = "text/html; charset=utf-8" ] ||
    fail "index type: $(header Content-Type)"
csp=$(header Content-Security-Policy)
case "$csp" in
*"script-src 'self'"*) ;;
*) fail "no script-src 'self' in the CSP: $csp" ;;
esac
case "$csp" in
*unsafe* | *http:* | *https:*) fail "the CSP allows more than this server: $csp" ;;
esac
etag=$(header ETag)
[ -n "$etag" ] || fail "no ETag on /"
[ "$(get / -H "If-None-Match: $etag")" = 304 ] ||
    fail "If-None-Match with the ETag is not 304"
[ ! -s "$tmp/b" ] || fail "a 304 has a body"
[ "$(get /index.html -H 'If-None-Match: "other"')" = 200 ] ||
    fail "another ETag is not 200"
[ "$(get /app.js)" = 200 ] || fail "GET /app.js is not 200"
[ "$(header Content-Type)" = "text/javascript; charset=utf-8" ] ||
    fail "app.js type: $(header Content-Type)"
[ "$(get /style.css)" = 200 ] && [ "$(header Content-Type)" = "text/css; charset=utf-8" ] ||
    fail "style.css is not served as CSS"
for p in /nothing.js /.hidden /..%2fCMakeLists.txt /a/b.js; do
    code=$(get "$p")
    [ "$code" = 404 ] || fail "GET $p is $code, not 404"
done
grep -q '"code":"NOTFOUND"' "$tmp/b" || fail "a missing file has no JSON error"
[ "$(get /app.js -X POST)" = 405 ] || fail "POST /app.js is not 405"
# Namespace names (www.w3.org) are not fetched; any other address would be.
outside=$(grep -rhoE 'https?://[^"'"'"' )]*' "$src/web" | grep -v '^http://www.w3.org/')
[ -z "$outside" ] || fail "web/ names an outside address: $outside"
if grep -qiE '<script>|<script [^>]*>[^<]|on(click|load)=' "$src"/web/*.html; then
    fail "web/ has inline script"
fi

# --- the API still needs a token; its reads carry ETags
[ "$(get /api/v1/dags)" = 401 ] || fail "the API answered without a token"
[ "$(get /api/v1/dags "${A[@]}")" = 200 ] || fail "GET /api/v1/dags failed"
etag=$(header ETag)
[ -n "$etag" ] || fail "no ETag on an API read"
[ "$(get /api/v1/dags "${A[@]}" -H "If-None-Match: $etag")" = 304 ] ||
    fail "an API read with its ETag is not 304"

# --- the session: the role and name of the token
[ "$(get /api/v1/session -H "Authorization: Bearer $read_token")" = 200 ] ||
    fail "GET /api/v1/session failed"
grep -q '"role":"read"' "$tmp/b" && grep -q '"name":"viewer"' "$tmp/b" ||
    fail "session of the read token: $(cat "$tmp/b")"
[ "$(get /api/v1/session -H 'Authorization: Bearer weir_nope')" = 401 ] ||
    fail "a wrong token has a session"

# --- the grid: runs as columns, one state per step, by cursor
for _ in 1 2 3; do
    curl -s -o /dev/null "${A[@]}" -X POST "http://$addr/api/v1/dags/quick/runs"
done
[ "$(get '/api/v1/dags/quick/grid?limit=2' "${A[@]}")" = 200 ] ||
    fail "grid failed: $(cat "$tmp/b")"
python3 - "$tmp/b" <<'PY' || fail "grid page 1: $(cat "$tmp/b")"
import json, sys
g = json.load(open(sys.argv[1]))
assert g["dag"] == "quick", g
assert [r["id"] for r in g["runs"]] == [3, 2], g
assert g["runs"][0]["tasks"]["only"] == {"state": "queued", "cells": 1}, g
assert g["next_cursor"] == 2, g
PY
[ "$(get '/api/v1/dags/quick/grid?limit=2&cursor=2' "${A[@]}")" = 200 ] &&
    python3 -c 'import json,sys; g=json.load(open(sys.argv[1])); assert [r["id"] for r in g["runs"]]==[1] and g["next_cursor"] is None, g' "$tmp/b" ||
    fail "grid page 2: $(cat "$tmp/b")"
refused /api/v1/dags/quick/grid 'limit must be 1 to 100' limit=0 limit=101 \
    cursor=x
[ "$(get /api/v1/dags/nope/grid "${A[@]}")" = 404 ] || fail "grid of no DAG"

# --- the DAG list by pages
printf 'dag: a1\nsteps:\n  - id: s\n    run: "true"\n' >"$tmp/dags/a1.yaml"
printf 'dag: a2\nsteps:\n  - id: s\n    run: "true"\n' >"$tmp/dags/a2.yaml"
for _ in $(seq 1 100); do
    [ "$(get /api/v1/dags "${A[@]}")" = 200 ] && grep -q '"a2"' "$tmp/b" && break
    sleep 0.1
done
[ "$(get '/api/v1/dags?limit=2' "${A[@]}")" = 200 ] &&
    python3 -c 'import json,sys; g=json.load(open(sys.argv[1])); assert [d["id"] for d in g["dags"]]==["a1","a2"] and g["next_cursor"]=="a2", g' "$tmp/b" ||
    fail "DAGs page 1: $(cat "$tmp/b")"
[ "$(get '/api/v1/dags?limit=2&cursor=a2' "${A[@]}")" = 200 ] &&
    python3 -c 'import json,sys; g=json.load(open(sys.argv[1])); assert [d["id"] for d in g["dags"]]==["quick"] and g["next_cursor"] is None, g' "$tmp/b" ||
    fail "DAGs page 2: $(cat "$tmp/b")"
[ "$(get /api/v1/dags "${A[@]}")" = 200 ] &&
    python3 -c 'import json,sys; g=json.load(open(sys.argv[1])); assert len(g["dags"])==3 and g["next_cursor"] is None, g' "$tmp/b" ||
    fail "all DAGs: $(cat "$tmp/b")"
refused /api/v1/dags 'limit must be 1 to 1000' limit=0 limit=1001 limit=x

# --- the latest runs of every DAG, newest first
[ "$(get '/api/v1/recent-runs?per_dag=2' "${A[@]}")" = 200 ] &&
    python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["dags"]; assert [r["id"] for r in g["quick"]]==[3,2] and g["quick"][0]["state"] in ("queued", "running"), g' "$tmp/b" ||
    fail "recent-runs: $(cat "$tmp/b")"
refused /api/v1/recent-runs 'per_dag must be 1 to 50' per_dag=0 per_dag=51 \
    per_dag=x

# --- one version with its source and normalized form
[ "$(get /api/v1/dags/quick/versions/1 "${A[@]}")" = 200 ] &&
    python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); assert v["id"]==1 and "dag: quick" in v["source"] and v["dag"]["steps"][0]["id"]=="only" and len(v["hash"])==64, v' "$tmp/b" ||
    fail "version 1 of quick: $(cat "$tmp/b")"
for v in 999 x 0; do
    code=$(get "/api/v1/dags/quick/versions/$v" "${A[@]}")
    [ "$code" = 404 ] || fail "version $v of quick is $code"
done

# --- a read that changed answers 200 to the old ETag
[ "$(get /api/v1/dags/quick/pause "${A[@]}" -X POST)" = 200 ] ||
    fail "pause failed"
[ "$(get /api/v1/dags "${A[@]}" -H "If-None-Match: $etag")" = 200 ] ||
    fail "a changed list still answered 304"

# --- --web-dir serves a folder instead of the built-in copy
kill -TERM "$server_pid" && wait "$server_pid"
server_pid=""
mkdir "$tmp/web"
echo '<!doctype html><title>dev copy</title>' >"$tmp/web/index.html"
harness_start_server --web-dir "$tmp/web"
[ "$(get /)" = 200 ] && grep -q 'dev copy' "$tmp/b" ||
    fail "--web-dir is not served"
[ -n "$(header ETag)" ] || fail "no ETag under --web-dir"
[ "$(get /app.js)" = 404 ] || fail "--web-dir fell back to the built-in copy"

harness_check_log
[ "$rc" -eq 0 ] && echo "integration.web passed in $((SECONDS - started)) s"
exit "$rc"
