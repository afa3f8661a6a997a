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
    echo "weir: the DAGs above are valid. The execution engine (weir-server"
    echo "and weir-worker, started together by 'weir up') is not complete"
    echo "yet, so there is nothing to start. Meanwhile try:"
    echo "  build/weir dag show dags/hello.yaml"
    echo "  build/weir cron next '0 2 * * 0' --tz America/Mexico_City"
    exit 0
fi
cd "$top"
exec "$top/build/weir" up --dags "$top/dags" "$@"
