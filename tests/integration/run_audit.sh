#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The audit log end to end: weir-server against a private PostgreSQL,
# audit_test.py walking every mutating route (one record each, refused
# ones too, none for a change rolled back at commit), the table refusing
# UPDATE, DELETE and TRUNCATE, `weir audit`, and the retention prune
# after a restart with --audit-retention 1s.
#   tests/integration/run_audit.sh PATH/TO/weir-server SOURCE_DIR PATH/TO/weir
set -uo pipefail
server=$1
src=$2
cli=${3:-}
. "$src/tests/integration/harness.sh"
cp "$src"/tests/integration/audit_dags/*.yaml "$tmp/dags/" || die "no DAGs"

harness_start_server
ops=$(harness_token admin ops) || die "cannot create an admin token"
reader=$(harness_token read viewer) || die "cannot create a read token"
worker=$(harness_token worker au-worker) || die "cannot create a worker token"
harness_check_dags

# A change that fails at COMMIT: a deferred constraint trigger refuses a
# pool named "doomed" when its transaction commits (after the audit
# record went in).
harness_sql "CREATE FUNCTION au_doomed() RETURNS trigger LANGUAGE plpgsql AS
  \$\$ BEGIN IF NEW.name = 'doomed' THEN RAISE EXCEPTION 'doomed'; END IF;
  RETURN NEW; END \$\$;
  CREATE CONSTRAINT TRIGGER au_doomed AFTER INSERT ON pools DEFERRABLE
  INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION au_doomed();" >/dev/null ||
    die "cannot create the commit-time fault"

export WEIR_URL="http://$addr" WEIR_ADMIN="$ops" WEIR_WORKER="$worker" \
    WEIR_READ="$reader"
timeout 60 /usr/bin/python3 "$src/tests/integration/audit_test.py" main || rc=1

# Append-only: the application's own statements cannot change or remove
# a record (the retention prune aside), nor can a DELETE after the prune's
# flag ended with its transaction. (A session holding the server's
# credentials can set the flag itself: docs/security.md says so.)
n=$(harness_sql "SELECT count(*) FROM audit_log")
for stmt in "UPDATE audit_log SET actor = 'someone else'" \
    "DELETE FROM audit_log" "TRUNCATE audit_log" \
    "BEGIN; SELECT set_config('weir.audit_prune', 'on', true); COMMIT; DELETE FROM audit_log"; do
    if out=$(harness_sql "$stmt" 2>&1); then
        fail "the audit log took: $stmt"
    elif ! grep -q "append-only" <<<"$out"; then
        fail "$stmt: refused without saying why: $out"
    fi
done
[ "$(harness_sql "SELECT count(*) FROM audit_log WHERE actor <> 'someone else'")" = "$n" ] ||
    fail "audit records changed: $n before"

# weir audit: the CLI's listing and filters
if [ -n "$cli" ]; then
    expect_cli 0 "run.cancel" audit --action run.cancel
    expect_cli 0 "viewer" audit --actor viewer
    expect_cli 0 "step.approve" audit --dag au-gate
    expect_cli 0 '"records":' audit --dag au-gate --json
    expect_cli 1 "since" audit --since yesterday
    expect_cli 2 "unknown option --bogus" audit --bogus
fi

# Retention: a restart keeping 1 s prunes every record made above, and
# records the prune (the leader runs it 1 s after the start).
harness_stop_server
sleep 1.1
harness_start_server --audit-retention 1s
for _ in $(seq 1 100); do
    [ "$(harness_sql "SELECT count(*) FROM audit_log WHERE action = 'audit.prune'")" = 1 ] && break
    sleep 0.1
done
export WEIR_URL="http://$addr"
AUDIT_BEFORE=$n timeout 30 /usr/bin/python3 "$src/tests/integration/audit_test.py" pruned || rc=1

# bad option values are named
if "$server" --database-url "$url" --audit-retention soon --listen 127.0.0.1:0 \
    >"$tmp/bad.out" 2>&1; then
    fail "--audit-retention soon was taken"
elif ! grep -q -- "--audit-retention" "$tmp/bad.out"; then
    fail "--audit-retention soon: $(cat "$tmp/bad.out")"
fi

harness_stop_server
harness_check_log
echo "integration.audit: $((SECONDS - started)) s, rc $rc"
exit "$rc"
