#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The DAGs folder's git revision in the lease (docs/deploy.md, "Workers
# and the CLI with several servers"): the server's DAGs folder is a git
# repository made here; gitrev_test.py commits to it, checks the leases'
# dags_revision and runs real weir-workers whose --dags-dir is a clone at
# the same commit (runs), a worktree at an older commit where only the
# script beside the DAG file differs (refuses), and a plain copy (runs).
#   tests/integration/run_gitrev.sh PATH/TO/weir-server SOURCE_DIR \
#       PATH/TO/weir-worker
set -uo pipefail
server=$1
src=$2
worker_bin=$3
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/gitrev_dags/* "$tmp/dags/" || die "no DAGs"

# git with no configuration but the test's
export HOME="$tmp" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=weir-test \
    GIT_AUTHOR_EMAIL=weir-test@localhost GIT_COMMITTER_NAME=weir-test \
    GIT_COMMITTER_EMAIL=weir-test@localhost
git -C "$tmp/dags" -c init.defaultBranch=main init -q &&
    git -C "$tmp/dags" add -A && git -C "$tmp/dags" commit -qm first ||
    die "cannot make the DAGs folder a git repository"

harness_start_server
worker=$(harness_token worker gr-worker) || die "cannot create a worker token"
reader=$(harness_token read) || die "cannot create a read token"
ops=$(harness_token admin ops) || die "cannot create an admin token"
harness_check_dags

WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_WORKER="$worker" \
    WEIR_READ="$reader" WEIR_TEST_TMP="$tmp" WEIR_WORKER_BIN="$worker_bin" \
    WEIR_LOG="$tmp/err" timeout 60 \
    python3 "$src/tests/integration/gitrev_test.py" || rc=1

harness_stop_server
harness_check_log "$tmp"/worker-*.log
echo "integration.gitrev: $((SECONDS - started)) s, rc $rc"
exit "$rc"
