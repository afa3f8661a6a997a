#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command: installs what is missing, builds Weir and
# starts it standalone on this machine.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

"$top/scripts/setup.sh"
"$top/scripts/build.sh" release

echo "weir: validating $top/dags"
"$top/build/weir" validate "$top/dags"

if ! "$top/build/weir" help up >/dev/null 2>&1; then
    echo "weir: the DAGs above are valid. 'weir up' (the private PostgreSQL,"
    echo "the server and the workers started together) is not built yet, so"
    echo "there is nothing to start. Meanwhile try:"
    echo "  build/weir dag show dags/hello.yaml"
    echo "  build/weir cron next '0 2 * * 0' --tz America/Mexico_City"
    exit 0
fi
exec "$top/build/weir" up --dags "$top/dags" "$@"
