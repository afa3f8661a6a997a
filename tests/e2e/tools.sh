# SPDX-License-Identifier: Apache-2.0
# Sourced by the browser tests' scripts (with $src set): fails unless
# playwright-core (npm, tests/e2e/node_modules) and Debian's chromium are
# there, and sets $chrome to the browser (WEIR_E2E_CHROMIUM overrides it).
[ -f "$src/tests/e2e/node_modules/playwright-core/package.json" ] || {
    echo "FATAL: playwright-core is missing: run scripts/setup.sh --test" >&2
    exit 1
}
chrome=${WEIR_E2E_CHROMIUM:-$(command -v chromium || true)}
[ -x "$chrome" ] || {
    echo "FATAL: no chromium: run scripts/setup.sh --test" >&2
    exit 1
}
