#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Single sign-on in headless Chromium: tests/oidc/provider.py (Debian's
# python3 with python3-jwt and python3-cryptography) as the identity
# provider, the private stack of stack.sh with weir-server pointed at it,
# then sso.test.mjs. Screenshots go to tests/out/e2e/.
#   tests/e2e/run_sso.sh PATH/TO/weir-server PATH/TO/weir-worker SOURCE_DIR
set -uo pipefail
server=$1
worker=$2
src=$3
out="$src/tests/out/e2e"

source "$src/tests/e2e/tools.sh"

# the provider first: the server's flags name its port
ptmp=$(mktemp -d)
printf 'e2e-secret-%s\n' "$RANDOM$RANDOM" >"$ptmp/secret"
chmod 600 "$ptmp/secret"
printf 'groups:\n  weir-admins: [admin]\n' >"$ptmp/roles.yaml"
/usr/bin/python3 "$src/tests/oidc/provider.py" "$ptmp/port" weir-e2e "$ptmp/secret" \
    >"$ptmp/provider.log" 2>&1 &
provider_pid=$!
for _ in $(seq 1 100); do [ -s "$ptmp/port" ] && break; sleep 0.1; done
[ -s "$ptmp/port" ] || { cat "$ptmp/provider.log" >&2; kill "$provider_pid"; exit 1; }
issuer="http://127.0.0.1:$(cat "$ptmp/port")"
WEIR_E2E_SERVER_FLAGS=(--oidc-issuer "$issuer" --oidc-client-id weir-e2e
    --oidc-client-secret-file "$ptmp/secret" --oidc-role-map "$ptmp/roles.yaml")

source "$src/tests/e2e/stack.sh"
trap 'kill "$provider_pid" 2>/dev/null; wait "$provider_pid" 2>/dev/null; rm -rf "$ptmp"; stack_cleanup' EXIT

mkdir -p "$out"
WEIR_E2E_URL="http://$addr" WEIR_E2E_ADMIN="$admin_token" WEIR_E2E_OUT="$out" \
    WEIR_E2E_PROVIDER="$issuer" WEIR_E2E_CHROMIUM="$chrome" \
    timeout 120 node "$src/tests/e2e/sso.test.mjs" || rc=1
harness_check_log
[ "$rc" -eq 0 ] && echo "e2e.sso passed in $((SECONDS - started)) s"
exit "$rc"
