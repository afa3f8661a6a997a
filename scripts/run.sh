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

if [ ! -x "$top/build/server/weir-server" ]; then
    echo "weir: the DAGs above are valid. The server (weir-server) is not built"
    echo "yet, so there is nothing to start: 'weir up' arrives with the"
    echo "execution engine. Meanwhile try: build/weir dag show dags/hello.yaml"
    exit 0
fi
exec "$top/build/weir" up --dags "$top/dags" "$@"
