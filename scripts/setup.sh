#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages Weir needs, when missing. Safe to run
# again: it installs nothing when all are present.
#   scripts/setup.sh          what building and running need (scripts/run.sh)
#   scripts/setup.sh --test   that, and what the tests need: clang and its
#                             sanitizer runtime, clang-format, clang-tidy,
#                             git, procps, headless Chromium, Node.js with
#                             npm, the browser tests' node modules, the
#                             package tools (dpkg-dev, systemd, lintian,
#                             python3-yaml), openssl and iproute2
#                             (scripts/test.sh)
set -euo pipefail

with_tests=false
case "${1:-}" in
"") ;;
--test) with_tests=true ;;
*)
    echo "weir setup: unknown option \"$1\" (expected nothing or --test)" >&2
    exit 2
    ;;
esac

packages=(
    # build
    build-essential cmake pkg-config
    # libraries
    libyaml-dev libcjson-dev libuv1-dev libmicrohttpd-dev libpq-dev
    libcurl4-openssl-dev
    # libcrypto (HMAC of webhooks, constant-time compares): libcurl's
    # package only suggests it
    libssl-dev
    # cmocka: every build compiles the unit tests (CMake's WEIR_TESTS)
    libcmocka-dev
    # GnuTLS headers: the server hands libmicrohttpd its certificates
    libgnutls28-dev
    # run time: the private PostgreSQL cluster, time zones, step scripts
    postgresql tzdata python3 ca-certificates curl
    # the example ML pipeline (dags/ml): scikit-learn and its dataset
    python3-sklearn python3-numpy
)
test_packages=(
    # sanitizers, fuzzing, formatting and clang-tidy (git lists the files
    # to check); procps for the integration tests' pgrep/pkill
    clang libclang-rt-14-dev clang-format clang-tidy git procps
    # browser tests of the dashboard: headless Chromium, driven from Node
    chromium nodejs
    # integration.package: scripts/package.sh (dpkg-shlibdeps), the units
    # checked with systemd-analyze, lintian, deploy/kubernetes parsed, and
    # adduser, which the package's postinst runs in the test's scratch root
    dpkg-dev systemd lintian python3-yaml adduser
    # the TLS tests: certificates made with openssl; a worker on another
    # host in a network namespace (ip netns, veth)
    openssl iproute2
    # single sign-on: the test OpenID provider (tests/oidc/provider.py)
    # signs ID tokens with Debian's python3-jwt and python3-cryptography
    python3-jwt python3-cryptography
)
$with_tests && packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done

# npm comes with some builds of nodejs; Debian's own is the npm package.
$with_tests && { command -v npm >/dev/null || missing+=(npm); }

# tests/e2e/node_modules: playwright-core as pinned by package-lock.json.
e2e_modules() {
    local e2e
    $with_tests || return 0
    e2e="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e"
    [ -f "$e2e/node_modules/playwright-core/package.json" ] && return 0
    echo "weir setup: npm ci in tests/e2e"
    (cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error)
}

if [ ${#missing[@]} -eq 0 ]; then
    e2e_modules
    exit 0
fi

echo "weir setup: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
        echo "weir setup: need root or sudo to install: ${missing[*]}" >&2
        exit 1
    }
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
e2e_modules
