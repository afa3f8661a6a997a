#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command: installs what building and running need
# when missing (not the test tools), builds Weir and starts it standalone
# on this machine.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

"$top/scripts/setup.sh"
"$top/scripts/build.sh" release

echo "weir: validating $top/dags"
"$top/build/weir" validate "$top/dags"

if [ ! -x "$top/build/server/weir-server" ] ||
    [ ! -x "$top/build/worker/weir-worker" ]; then
    echo "weir: the build did not produce build/server/weir-server and" >&2
    echo "build/worker/weir-worker, which 'weir up' starts; see the build" >&2
    echo "output above (scripts/build.sh release)." >&2
    exit 1
fi
cd "$top"
exec "$top/build/weir" up --dags "$top/dags" "$@"
