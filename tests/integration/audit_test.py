# SPDX-License-Identifier: Apache-2.0
"""The audit log against the real server (run_audit.sh): every mutating
call leaves exactly one record, written in its change's transaction when
it changed something (status null) and apart when refused (4xx) or
failed; a change rolled back at commit leaves no "ok" record; the
worker protocol is not audited; secrets in bodies are redacted; the
filters and the cursor paging of GET /api/v1/audit; only admins read it.

    phase "main": the table of calls, filters, paging
    phase "pruned": after a restart with --audit-retention 1s, the prune
                    removed the old records and recorded itself
"""
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weirtest import (ADMIN, READ, WORKER, Worker, check, req, trigger,  # noqa
                      wait_for)

ADMIN_NAME = "ops"  # the admin token's name (run_audit.sh)
READ_NAME = "viewer"  # the read token's name
BAD = "weir_" + "0" * 64  # a well-formed token nobody holds
# the grants each actor's records carry (grant texts)
GRANTS = {ADMIN_NAME: ["admin"], READ_NAME: ["read"], "": []}


def audit(query="", token=None):
    code, b = req("GET", "/api/v1/audit" + query, token or ADMIN)
    check(code == 200, "GET /api/v1/audit%s: %d %s" % (query, code, b))
    return b if code == 200 else {"records": [], "next_cursor": None}


def newest_id():
    recs = audit("?limit=1")["records"]
    return recs[0]["id"] if recs else 0


def since_id(first):
    """Every record with an id above first, oldest first (all pages)."""
    out, cursor = [], ""
    while True:
        b = audit("?limit=500" + cursor)
        page = [r for r in b["records"] if r["id"] > first]
        out += page
        if b["next_cursor"] is None or len(page) < len(b["records"]):
            break
        cursor = "&cursor=%s" % b["next_cursor"]
    return sorted(out, key=lambda r: r["id"])


def one_call(name, method, path, token, body=None, data=None, ctype=None,
             want_status=None, action=None, outcome="ok", changed=True,
             actor=ADMIN_NAME, target=None, dag=None):
    """Makes one call and checks it left exactly one record saying so."""
    first = newest_id()
    kw = {}
    if data is not None:
        kw = {"data": data, "ctype": ctype}
    code, b = req(method, path, token, body, **kw)
    if want_status is not None:
        check(code == want_status, "%s: HTTP %d (want %d) %s" %
              (name, code, want_status, b))
    recs = since_id(first)
    if not check(len(recs) == 1, "%s: %d audit records, want 1: %s" %
                 (name, len(recs), recs)):
        return b
    r = recs[0]
    check(r["action"] == action, "%s: action %r, want %r" %
          (name, r["action"], action))
    check(r["outcome"] == outcome, "%s: outcome %r, want %r (%s)" %
          (name, r["outcome"], outcome, r))
    check(r["actor"] == actor, "%s: actor %r, want %r" %
          (name, r["actor"], actor))
    grants = GRANTS.get(actor)
    check(grants is None or r["actor_grants"] == grants,
          "%s: actor_grants %r, want %r" % (name, r["actor_grants"], grants))
    if outcome == "ok" and changed:
        # written in the change's transaction, before any reply existed
        check(r["status"] is None,
              "%s: an ok record with status %r: not written with the "
              "change" % (name, r["status"]))
    elif outcome == "ok":
        check(r["status"] == code and "no change" in r["message"],
              "%s: a call that changed nothing: %s" % (name, r))
    else:
        check(r["status"] == code and r["message"],
              "%s: %s record without its status %d and message: %s" %
              (name, outcome, code, r))
    if target is not None:
        check(r["target"] == target, "%s: target %r, want %r" %
              (name, r["target"], target))
    if dag is not None:
        check(r["dag"] == dag, "%s: dag %r, want %r" % (name, r["dag"], dag))
    check(r["client"].startswith("127.0.0.1:"),
          "%s: client %r" % (name, r["client"]))
    return b


def calls():
    """Every mutating route, the way a user meets it."""
    one_call("token create", "POST", "/api/v1/tokens", ADMIN,
             {"role": "read", "name": "temp-reader"}, want_status=201,
             action="token.create", target="tokens/temp-reader")
    one_call("token revoke (POST)", "POST", "/api/v1/tokens/temp-reader/revoke",
             ADMIN, want_status=200, action="token.revoke",
             target="tokens/temp-reader")
    one_call("token create 2", "POST", "/api/v1/tokens", ADMIN,
             {"role": "read", "name": "temp2"}, want_status=201,
             action="token.create")
    one_call("token revoke (DELETE)", "DELETE", "/api/v1/tokens/temp2", ADMIN,
             action="token.revoke", target="tokens/temp2")
    src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "audit_dags", "au-other.yaml")).read()
    api_src = src.replace("au-other", "au-api")
    one_call("dag submit", "POST", "/api/v1/dags", ADMIN,
             data=api_src.encode(), ctype="application/yaml",
             want_status=201, action="dag.submit", target="dags/au-api",
             dag="au-api")
    one_call("dag delete", "DELETE", "/api/v1/dags/au-api", ADMIN,
             action="dag.delete", target="dags/au-api", dag="au-api")
    b = one_call("trigger", "POST", "/api/v1/dags/au-one/runs", ADMIN, {},
                 want_status=201, action="run.trigger", dag="au-one")
    run_id = b.get("run_id")
    one_call("cancel", "POST", "/api/v1/runs/%s/cancel" % run_id, ADMIN,
             want_status=200, action="run.cancel",
             target="runs/%s" % run_id, dag="au-one")
    one_call("retry", "POST", "/api/v1/runs/%s/retry" % run_id, ADMIN, {},
             want_status=200, action="run.retry", dag="au-one")
    one_call("cancel again", "POST", "/api/v1/runs/%s/cancel" % run_id, ADMIN,
             want_status=200, action="run.cancel", dag="au-one")
    gate = trigger("au-gate")
    wait_for(lambda: req("GET", "/api/v1/runs/%d" % gate, READ)[1]
             .get("tasks", [{}])[0].get("state") == "awaiting_approval", 10)
    one_call("approve", "POST", "/api/v1/runs/%d/steps/gate/approve" % gate,
             ADMIN, {"comment": "fine"}, want_status=200,
             action="step.approve", target="runs/%d/steps/gate" % gate,
             dag="au-gate")
    gate2 = trigger("au-gate")
    wait_for(lambda: req("GET", "/api/v1/runs/%d" % gate2, READ)[1]
             .get("tasks", [{}])[0].get("state") == "awaiting_approval", 10)
    one_call("reject", "POST", "/api/v1/runs/%d/steps/gate/reject" % gate2,
             ADMIN, {}, want_status=200, action="step.reject", dag="au-gate")
    one_call("pause", "POST", "/api/v1/dags/au-other/pause", ADMIN,
             want_status=200, action="dag.pause", dag="au-other")
    one_call("unpause", "POST", "/api/v1/dags/au-other/unpause", ADMIN,
             want_status=200, action="dag.unpause", dag="au-other")
    b = one_call("backfill create", "POST", "/api/v1/dags/au-one/backfills",
                 ADMIN, {"from": "2020-01-01", "to": "2021-01-02",
                         "max_active": 1}, want_status=201,
                 action="backfill.create", dag="au-one")
    bf = b.get("id") or b.get("backfill_id")
    one_call("backfill cancel", "POST", "/api/v1/backfills/%s/cancel" % bf,
             ADMIN, want_status=200, action="backfill.cancel", dag="au-one",
             target="backfills/%s" % bf)
    one_call("pool put", "PUT", "/api/v1/pools/au-pool", ADMIN, {"slots": 2},
             action="pool.put", target="pools/au-pool")
    one_call("pool delete", "DELETE", "/api/v1/pools/au-pool", ADMIN,
             action="pool.delete", target="pools/au-pool")
    one_call("event", "POST", "/api/v1/events", ADMIN,
             {"name": "au.arrived", "payload": {"rows": 3}},
             action="event.post", target="events/au.arrived")
    b = one_call("metric", "POST", "/api/v1/metrics", ADMIN,
                 {"name": "au.rows", "value": 3}, action="metric.post")
    one_call("promote unknown artifact", "POST",
             "/api/v1/artifacts/nope/versions/1/promote", ADMIN,
             {"to": "prod"}, want_status=404, action="artifact.promote",
             outcome="refused", target="artifacts/nope/versions/1")
    for verb in ("approve", "reject"):
        one_call("%s unknown promotion" % verb, "POST",
                 "/api/v1/artifacts/nope/versions/1/%s" % verb, ADMIN,
                 {"comment": "no"}, action="artifact." + verb,
                 outcome="refused", target="artifacts/nope/versions/1")
    # refusals, before and in the handler
    one_call("token create by a read token", "POST", "/api/v1/tokens", READ,
             {"role": "admin", "name": "sneaky", "token": "weir_x"},
             want_status=403, action="token.create", outcome="refused",
             actor=READ_NAME)
    one_call("cancel by a read token", "POST", "/api/v1/runs/%s/cancel" %
             run_id, READ, want_status=403, action="run.cancel",
             outcome="refused", actor=READ_NAME, dag="au-one")
    one_call("trigger with an unknown token", "POST",
             "/api/v1/dags/au-one/runs", BAD, want_status=401,
             action="run.trigger", outcome="refused", actor="")
    one_call("cancel of no run", "POST", "/api/v1/runs/999999/cancel", ADMIN,
             want_status=404, action="run.cancel", outcome="refused")
    one_call("pause again", "POST", "/api/v1/dags/au-other/pause",
             ADMIN, want_status=200, action="dag.pause")
    one_call("trigger refused", "POST", "/api/v1/dags/au-other/runs", ADMIN,
             {}, want_status=409, action="run.trigger", outcome="refused",
             dag="au-other")
    one_call("bad body", "PUT", "/api/v1/pools/au-pool", ADMIN,
             {"slots": "many"}, want_status=400, action="pool.put",
             outcome="refused")
    one_call("unsigned webhook", "POST", "/api/v1/hooks/au-one/nope", None,
             data=b"{}", ctype="application/json", want_status=401,
             action="hook.post", outcome="refused", actor="", dag="au-one")
    return run_id


def rolled_back():
    """A change that fails at COMMIT (a deferred constraint trigger that
    run_audit.sh put on pools for the name "doomed") leaves no ok record
    and no pool: one failed record."""
    first = newest_id()
    code, b = req("PUT", "/api/v1/pools/doomed", ADMIN, {"slots": 1})
    check(code >= 500, "the doomed pool: HTTP %d %s" % (code, b))
    recs = since_id(first)
    check([r["outcome"] for r in recs] == ["failed"],
          "a change rolled back at commit: records %s" % recs)
    code, pools = req("GET", "/api/v1/pools", ADMIN)
    check(code == 200 and all(p["name"] != "doomed" for p in pools["pools"]),
          "the doomed pool exists: %s" % pools)


def not_audited():
    """GETs and the worker protocol leave nothing."""
    first = newest_id()
    w = Worker("au-worker", ["au-nobody"])
    w.lease(n=1, wait_ms=0)
    req("GET", "/api/v1/runs", READ)
    req("GET", "/api/v1/dags", ADMIN)
    recs = since_id(first)
    check(recs == [], "reads and the worker protocol were audited: %s" % recs)


def redaction():
    first = newest_id()
    secret = "hunter2-do-not-log"
    req("POST", "/api/v1/events", ADMIN,
        {"name": "au.secret", "payload": {"password": secret,
                                          "nested": [{"api_token": secret}],
                                          "value": secret, "ok": "shown"}})
    recs = since_id(first)
    text = json.dumps(recs)
    check(len(recs) == 1 and secret not in text and "***" in text and
          "shown" in text, "secret values in the audit record: %s" % text)
    # each redacted value keeps its key; key/auth/pwd-like keys are redacted
    first = newest_id()
    keys = {"value": "v1", "apikey": "k1", "authorization": "Bearer abc1",
            "pwd": "p1", "credentials": "c1", "Cookie": "s1",
            "private_key": "x1"}
    req("POST", "/api/v1/events", ADMIN,
        {"name": "au.keys", "payload": dict(keys, note="kept")})
    recs = since_id(first)
    pay = recs[0]["params"].get("payload") if len(recs) == 1 else None
    want = dict({k: "***" for k in keys}, note="kept")
    check(pay == want, "redacted payload %s, want %s" % (pay, want))
    # a large body is kept as its top-level keys, never its values
    first = newest_id()
    code, b = req("POST", "/api/v1/events", ADMIN,
                  {"events": [{"name": "au.bulk", "payload": {"v": secret}}
                              for _ in range(100)]})
    recs = since_id(first)
    check(code in (200, 201, 202) and len(recs) == 1 and
          recs[0]["params"] == {"truncated": True, "keys": ["events"]},
          "a batch of 100 events: %d, records %s" % (code, recs))


def filters(run_id):
    mine = audit("?actor=" + READ_NAME)["records"]
    check(mine and all(r["actor"] == READ_NAME for r in mine),
          "actor filter: %s" % mine)
    acts = audit("?action=run.cancel")["records"]
    check(len(acts) == 4 and all(r["action"] == "run.cancel" for r in acts),
          "action filter: %d records %s" % (len(acts), acts))
    dag = audit("?dag=au-gate")["records"]
    check(sorted(r["action"] for r in dag) ==
          ["run.trigger", "run.trigger", "step.approve", "step.reject"],
          "dag filter: %s" % dag)
    everything = audit("?limit=500")["records"]
    mid = everything[len(everything) // 2]["at"]
    newer = audit("?limit=500&since=" + urllib.parse.quote(mid))["records"]
    older = audit("?limit=500&until=" + urllib.parse.quote(mid))["records"]
    check(newer and older and len(newer) + len(older) == len(everything) and
          all(r["at"] >= mid for r in newer) and
          all(r["at"] < mid for r in older),
          "since/until split %d records into %d and %d" %
          (len(everything), len(newer), len(older)))
    check(audit("?since=2999-01-01")["records"] == [],
          "records from the future")
    for bad in ("?since=yesterday", "?until=2026-02-31", "?limit=0",
                "?cursor=-3"):
        code, b = req("GET", "/api/v1/audit" + bad, ADMIN)
        check(code == 400 and "error" in b, "%s: %d %s" % (bad, code, b))
    # paging: pages of 3 hold every record once, newest first
    seen, cursor, pages = [], "", 0
    while pages < 100:
        b = audit("?limit=3" + cursor)
        seen += [r["id"] for r in b["records"]]
        pages += 1
        if b["next_cursor"] is None:
            break
        cursor = "&cursor=%s" % b["next_cursor"]
    check(seen == [r["id"] for r in everything],
          "paging by 3: %d ids in %d pages, %d in one page" %
          (len(seen), pages, len(everything)))
    code, b = req("GET", "/api/v1/audit", READ)
    check(code == 403, "a read token reads the audit log: %d" % code)


def main():
    phase = sys.argv[1] if len(sys.argv) > 1 else "main"
    started = time.monotonic()
    if phase == "main":
        run_id = calls()
        rolled_back()
        not_audited()
        redaction()
        filters(run_id)
    else:
        recs = audit("?limit=500")["records"]
        want = int(os.environ["AUDIT_BEFORE"])
        prunes = [r for r in recs if r["action"] == "audit.prune"]
        check(len(prunes) == 1 and prunes[0]["params"]["deleted"] == want and
              prunes[0]["actor"] == "weir-server" and
              prunes[0]["params"]["before"] < prunes[0]["at"] and
              prunes[0]["params"]["before"].endswith("Z"),
              "prune record (want %d deleted): %s" % (want, prunes))
        check(all(r["action"] in ("audit.prune",) or r["id"] > prunes[0]["id"]
                  for r in recs) if prunes else False,
              "records older than the retention are left: %s" % recs[:5])
    print("audit_test %s: %.1f s, %d failures" %
          (phase, time.monotonic() - started, len(weirtest_failures())))
    return 1 if weirtest_failures() else 0


def weirtest_failures():
    import weirtest
    return weirtest.failures


if __name__ == "__main__":
    sys.exit(main())
