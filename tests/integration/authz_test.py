# SPDX-License-Identifier: Apache-2.0
"""Roles and scopes against a real weir-server (docs/security.md, "Access
model: roles and scopes"): tokens made with grants (texts and objects,
refused with a did-you-mean), each role and a scoped operator
(operator:env=dev,staging:dag=team-a-*) against every route of the table
in server/api/api.c (a route this file has no rule for fails the test),
403 bodies that name the missing grant, 404 for a run the caller may not
read, listings filtered before their pages (DAGs, runs, recent runs, the
grid, artifacts), the session's capabilities, a worker grant's queue
scope, and (test_review_*) what a request reaches beside its target:
after: targets and automatic triggers at submit, upstream runs, promotions
that archive, prod versions, idempotency keys per environment, event run
ids, backfills, refusal texts and token grant sizes.

Environment: WEIR_URL, WEIR_ADMIN, WEIR_SRC (the source folder).
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weirtest  # noqa: E402
from weirtest import ADMIN, check, req  # noqa: E402

SRC = os.environ["WEIR_SRC"]
SCOPED = "operator:env=dev,staging:dag=team-a-*"
ROLES = ("admin", "op", "opall", "author", "read", "ingest", "worker")
T = {"admin": ADMIN}  # role -> token
V = {}  # the ids the routes are called with


def message(b):
    return (b or {}).get("error", {}).get("message", "") \
        if isinstance(b, dict) else ""


def any_req(method, path, token, body=None):
    """req() for a reply that may not be JSON (/metrics): its text then."""
    code, text, _ = weirtest.call(method, path, token, body)
    try:
        return code, json.loads(text or b"null")
    except ValueError:
        return code, text.decode(errors="replace")


def new_token(name, body):
    body = dict(body, name=name)
    code, b = req("POST", "/api/v1/tokens", ADMIN, body)
    check(code == 201, "create token %s: %d %s" % (name, code, b))
    return b if code == 201 else {}


def test_tokens():
    """Grants on tokens: texts, objects, role, queues; refusals."""
    T["op"] = new_token("op", {"grants": [SCOPED]}).get("token")
    T["opall"] = new_token("opall", {"role": "operator"}).get("token")
    b = new_token("author", {"grants": [{"role": "author",
                                         "dag": ["team-a-*"]}]})
    T["author"] = b.get("token")
    check(b.get("grants") == [{"role": "author", "dag": ["team-a-*"]}],
          "an object grant comes back: %s" % b)
    T["read"] = new_token("reader", {"role": "read"}).get("token")
    T["ingest"] = new_token("ingest", {"grants": ["ingest"]}).get("token")
    b = new_token("wq", {"grants": ["worker"], "queues": ["authz", "none"]})
    T["worker"] = b.get("token")
    check(b.get("grants") == [{"role": "worker",
                               "queues": ["authz", "none"]}] and
          b.get("queues") == ["authz", "none"],
          "queues scope the worker grant: %s" % b)
    for body, words in (
            ({"grants": ["operater:env=dev"]}, 'did you mean "operator"'),
            ({"grants": [{"role": "read", "dags": ["x"]}]},
             'did you mean "dag"'),
            ({"grants": ["read:envs=dev"]}, 'did you mean "env='),
            ({"grants": ["ingest:dag=a"]}, "ingest"),
            ({"grants": ["read"], "grnts": []}, 'did you mean "grants"'),
            ({}, '"role" or "grants"'),
            ({"grants": ["operator"], "queues": ["q"]},
             "queues are for worker tokens")):
        code, b = req("POST", "/api/v1/tokens", ADMIN, dict(body, name="bad"))
        check(code == 400 and words in message(b),
              "token %s: %d %s (wanted %s)" % (body, code, b, words))
    code, b = req("GET", "/api/v1/tokens", ADMIN)
    rows = {x["name"]: x for x in b.get("tokens", [])}
    check(rows.get("op", {}).get("grants") == [
        {"role": "operator", "env": ["dev", "staging"], "dag": ["team-a-*"]}],
        "the list shows grants: %s" % rows.get("op"))
    check(rows.get("opall", {}).get("grants") == [{"role": "operator"}] and
          rows["opall"].get("role") == "operator",
          "a role is an unscoped grant: %s" % rows.get("opall"))


def trigger(dag, env=None):
    body = {"environment": env} if env else None
    return weirtest.trigger(dag, body)


def test_setup():
    """Runs in every environment of two teams, an artifact each, and a
    worker that is this script (its queue scope checked)."""
    weirtest.WORKER = T["worker"]
    code, b = req("POST", "/api/v1/workers/register", T["worker"],
                  {"name": "w-other", "queues": ["gpu"]})
    check(code == 403 and "gpu" in message(b),
          "a worker grant of queues authz,none registers for gpu: %d %s"
          % (code, b))
    w = weirtest.Worker("w-authz", ["authz"])
    V["wid"] = weirtest.Worker("w-none", ["none"]).id
    for team in ("a", "b"):
        rid = trigger("team-%s-etl" % team)
        a = w.one("build")
        if a:
            w.complete(a, outputs={"artifact.name": "team-%s-model" % team,
                                   "artifact.version": "v1"})
            V["att_" + team] = a["attempt_id"]
        V["run_" + team] = rid
    # interleaved, so that a scoped page must skip the others' runs
    V["a_runs"] = [V["run_a"]]
    for i in range(3):
        V["a_runs"].append(trigger("team-a-etl", ("dev", "staging")[i % 2]))
        trigger("team-b-etl", "dev")
        V["run_a_prod"] = trigger("team-a-etl", "prod")
        trigger("team-a-p%d" % (i + 1))  # no environment: unscoped only
    ok = weirtest.wait_for(lambda: req("GET", "/api/v1/runs/%d" % V["run_a"],
                                       ADMIN)[1].get("state") == "running",
                           10)
    check(ok, "run %s reached its gate" % V["run_a"])


SUB_A = "dag: team-a-sub\nsteps:\n  - id: s\n    run: echo s\n"
SUB_B = "dag: team-b-sub\nsteps:\n  - id: s\n    run: echo s\n"

# (method, pattern, path, body, who may: one letter per role of ROLES,
# A allowed, D denied with 403 naming the grant, N not found: a run the
# caller may not read). A route may have several
# cases; every route of the table needs one (public routes: PUBLIC).
PUBLIC = "PUBLIC"
CASES = [
    ("GET", "/api/v1/health", None, None, PUBLIC),
    ("GET", "/", None, None, PUBLIC),
    ("GET", "/{file}", None, None, PUBLIC),
    ("POST", "/api/v1/hooks/{dag}/{trigger}", None, None, PUBLIC),
    # single sign-on: public, each authenticates by itself (integration.oidc)
    ("GET", "/auth/config", None, None, PUBLIC),
    ("GET", "/auth/login", None, None, PUBLIC),
    ("GET", "/auth/callback", None, None, PUBLIC),
    ("POST", "/auth/logout", None, None, PUBLIC),
    ("POST", "/auth/cli", None, None, PUBLIC),
    ("POST", "/auth/cli/confirm", None, None, PUBLIC),
    ("GET", "/api/v1/tokens", "/api/v1/tokens", None, "ADDDDDD"),
    ("POST", "/api/v1/tokens", "/api/v1/tokens", {}, "ADDDDDD"),
    ("DELETE", "/api/v1/tokens/{name}", "/api/v1/tokens/nobody", None,
     "ADDDDDD"),
    ("POST", "/api/v1/tokens/{name}/revoke", "/api/v1/tokens/nobody/revoke",
     None, "ADDDDDD"),
    # sessions of single sign-on: admins only (integration.oidc)
    ("GET", "/api/v1/sessions", "/api/v1/sessions", None, "ADDDDDD"),
    ("DELETE", "/api/v1/sessions/{id}", "/api/v1/sessions/999999", None,
     "ADDDDDD"),
    ("POST", "/api/v1/sessions/end", "/api/v1/sessions/end",
     {"user": "nobody"}, "ADDDDDD"),
    ("GET", "/api/v1/dags", "/api/v1/dags", None, "AAAAADD"),
    ("POST", "/api/v1/dags", "/api/v1/dags", {"source": SUB_A}, "ADDADDD"),
    ("POST", "/api/v1/dags", "/api/v1/dags", {"source": SUB_B}, "ADDDDDD"),
    ("GET", "/api/v1/dags/{id}", "/api/v1/dags/team-a-etl", None, "AAAAADD"),
    ("GET", "/api/v1/dags/{id}", "/api/v1/dags/team-b-etl", None, "ADADADD"),
    ("DELETE", "/api/v1/dags/{id}", "/api/v1/dags/team-a-none", None,
     "ADDADDD"),
    ("GET", "/api/v1/dags/{id}/versions", "/api/v1/dags/team-a-etl/versions",
     None, "AAAAADD"),
    ("POST", "/api/v1/dags/{id}/runs", "/api/v1/dags/team-a-etl/runs",
     {"environment": "staging"}, "AAADDDD"),
    ("POST", "/api/v1/dags/{id}/runs", "/api/v1/dags/team-a-etl/runs",
     None, "AAADDDD"),  # the DAG's default environment, dev
    ("POST", "/api/v1/dags/{id}/runs", "/api/v1/dags/team-a-etl/runs",
     {"environment": "prod"}, "ADADDDD"),
    ("POST", "/api/v1/dags/{id}/runs", "/api/v1/dags/team-b-etl/runs",
     {"environment": "dev"}, "ADADDDD"),
    ("POST", "/api/v1/dags/{id}/runs", "/api/v1/dags/team-a-p1/runs",
     None, "ADADDDD"),  # a DAG without environments
    ("GET", "/api/v1/runs", "/api/v1/runs", None, "AAAAADD"),
    ("GET", "/api/v1/runs/{id}", "/api/v1/runs/{run_a}", None, "AAAAADD"),
    ("POST", "/api/v1/workers/register", "/api/v1/workers/register",
     {"name": "w-table", "queues": ["none"]}, "ADDDDDA"),
    ("POST", "/api/v1/workers/{id}/lease", "/api/v1/workers/{wid}/lease",
     {"max": 1, "wait_ms": 0}, "ADDDDDA"),
    ("POST", "/api/v1/attempts/{id}/heartbeat",
     "/api/v1/attempts/999999/heartbeat", {"lease_id": "x"}, "ADDDDDA"),
    ("POST", "/api/v1/attempts/{id}/logs", "/api/v1/attempts/999999/logs",
     {"lease_id": "x", "lines": []}, "ADDDDDA"),
    ("GET", "/api/v1/attempts/{id}/logs", "/api/v1/attempts/{att_a}/logs",
     None, "AAAAADD"),
    ("POST", "/api/v1/attempts/{id}/complete",
     "/api/v1/attempts/999999/complete",
     {"lease_id": "x", "exit_code": 0}, "ADDDDDA"),
    ("POST", "/api/v1/runs/{id}/retry", "/api/v1/runs/{run_a_prod}/retry",
     None, "ADADDDD"),  # its DAG, in prod: refused, the grant named
    ("POST", "/api/v1/runs/{id}/retry", "/api/v1/runs/{a_dev}/retry",
     None, "AAADDDD"),
    ("POST", "/api/v1/runs/{id}/steps/{step}/approve",
     "/api/v1/runs/{run_b}/steps/gate/approve", None, "ANADDDD"),
    ("POST", "/api/v1/runs/{id}/steps/{step}/approve",
     "/api/v1/runs/{run_a_prod}/steps/gate/approve", None, "ADADDDD"),
    ("POST", "/api/v1/runs/{id}/steps/{step}/reject",
     "/api/v1/runs/{run_a}/steps/gate/reject", {"comment": "no"}, "AAADDDD"),
    ("POST", "/api/v1/runs/{id}/cancel", "/api/v1/runs/{run_b}/cancel",
     None, "ANADDDD"),  # another team's run: not found
    ("POST", "/api/v1/runs/{id}/cancel", "/api/v1/runs/{run_a_prod}/cancel",
     None, "ADADDDD"),
    ("POST", "/api/v1/runs/{id}/cancel", "/api/v1/runs/{a_dev}/cancel",
     None, "AAADDDD"),
    ("POST", "/api/v1/dags/{id}/pause", "/api/v1/dags/team-a-p2/pause", None,
     "ADADDDD"),  # DAG-wide: a grant limited to environments covers none
    ("POST", "/api/v1/dags/{id}/unpause", "/api/v1/dags/team-a-p2/unpause",
     None, "ADADDDD"),
    ("GET", "/api/v1/workers", "/api/v1/workers", None, "ADADADD"),
    ("GET", "/metrics", "/metrics", None, "ADADADD"),
    ("GET", "/api/v1/artifacts", "/api/v1/artifacts", None, "AAAAADD"),
    ("GET", "/api/v1/artifacts/{name}", "/api/v1/artifacts/team-a-model",
     None, "AAAAADD"),
    ("POST", "/api/v1/artifacts/{name}/versions/{version}/promote",
     "/api/v1/artifacts/team-a-model/versions/v1/promote", {"to": "staging"},
     "AAADDDD"),
    ("POST", "/api/v1/artifacts/{name}/versions/{version}/promote",
     "/api/v1/artifacts/team-a-model/versions/v1/promote", {"to": "prod"},
     "ADADDDD"),
    ("POST", "/api/v1/artifacts/{name}/versions/{version}/approve",
     "/api/v1/artifacts/team-a-model/versions/v1/approve", None, "ADADDDD"),
    ("POST", "/api/v1/artifacts/{name}/versions/{version}/reject",
     "/api/v1/artifacts/team-a-model/versions/v1/reject", None, "ADADDDD"),
    ("GET", "/api/v1/runs/{id}/lineage", "/api/v1/runs/{run_a}/lineage",
     None, "AAAAADD"),
    ("POST", "/api/v1/dags/{id}/backfills", "/api/v1/dags/team-a-etl/backfills",
     {}, "ADADDDD"),
    ("GET", "/api/v1/dags/{id}/backfills", "/api/v1/dags/team-a-etl/backfills",
     None, "AAAAADD"),
    ("GET", "/api/v1/backfills/{id}", "/api/v1/backfills/999999", None,
     "AAAAADD"),
    ("POST", "/api/v1/backfills/{id}/cancel", "/api/v1/backfills/999999/cancel",
     None, "AAADDDD"),
    ("GET", "/api/v1/pools", "/api/v1/pools", None, "ADADADD"),
    ("PUT", "/api/v1/pools/{name}", "/api/v1/pools/p", {}, "ADDDDDD"),
    ("DELETE", "/api/v1/pools/{name}", "/api/v1/pools/p", None, "ADDDDDD"),
    ("POST", "/api/v1/events", "/api/v1/events", {"name": "authz.e"},
     "ADDDDAD"),
    ("GET", "/api/v1/events", "/api/v1/events", None, "AAAAADD"),
    ("GET", "/api/v1/dags/{id}/triggers", "/api/v1/dags/team-a-etl/triggers",
     None, "AAAAADD"),
    ("POST", "/api/v1/metrics", "/api/v1/metrics", {"name": "m", "value": 1},
     "ADDDDAD"),
    ("GET", "/api/v1/metrics/{name}", "/api/v1/metrics/m", None, "ADADADD"),
    # secrets: admins only (this server has no key: 409 once allowed)
    ("GET", "/api/v1/secrets", "/api/v1/secrets", None, "ADDDDDD"),
    ("POST", "/api/v1/secrets/rotate-key", "/api/v1/secrets/rotate-key",
     None, "ADDDDDD"),
    ("PUT", "/api/v1/secrets/{name}", "/api/v1/secrets/S1", {"value": "v"},
     "ADDDDDD"),
    ("POST", "/api/v1/secrets/{name}", "/api/v1/secrets/S1", {"value": "v"},
     "ADDDDDD"),
    ("DELETE", "/api/v1/secrets/{name}", "/api/v1/secrets/S1", None,
     "ADDDDDD"),
    ("GET", "/api/v1/audit", "/api/v1/audit", None, "ADDDDDD"),
    ("GET", "/api/v1/session", "/api/v1/session", None, "AAAAAAA"),
    ("GET", "/api/v1/recent-runs", "/api/v1/recent-runs", None, "AAAAADD"),
    ("GET", "/api/v1/dags/{id}/grid", "/api/v1/dags/team-a-etl/grid", None,
     "AAAAADD"),
    ("GET", "/api/v1/dags/{id}/versions/{version}",
     "/api/v1/dags/team-a-etl/versions/1", None, "AAAAADD"),
]


def table_routes():
    """Every (method, pattern) of the route table in server/api/api.c."""
    with open(os.path.join(SRC, "server/api/api.c")) as f:
        text = f.read()
    body = text[text.index("api_routes[] = {"):]
    body = body[:body.index("\n};")]
    return set(re.findall(r'\{"([A-Z]+)",\s*"([^"]+)"', body))


def test_every_route_has_a_rule():
    routes = table_routes()
    ruled = {(m, p) for m, p, *_ in CASES}
    check(len(routes) > 40, "the route table was read: %d" % len(routes))
    for r in sorted(routes - ruled):
        check(False, "route %s %s has no rule in authz_test.py" % r)
    for r in sorted(ruled - routes):
        check(False, "rule for %s %s, which is not a route" % r)


def test_table():
    """Each role against each route."""
    V["a_dev"] = V["a_runs"][1]
    denied = allowed = 0
    for method, pattern, path, body, who in CASES:
        if who == PUBLIC:
            continue
        path = path.format(**V)
        for role, want in zip(ROLES, who):
            code, b = any_req(method, path, T[role], body)
            refused = code == 403 and "not allowed to" in message(b)
            if want == "N":
                check(code == 404, "%s %s as %s: want 404, got %d %s"
                      % (method, path, role, code, b))
            elif want == "D":
                denied += 1
                check(refused and "needs a grant of" in message(b),
                      "%s %s as %s: want 403 naming the grant, got %d %s"
                      % (method, path, role, code, b))
            else:
                allowed += 1
                check(code < 500 and code != 401 and not refused,
                      "%s %s as %s: want it allowed, got %d %s"
                      % (method, path, role, code, b))
    print("route table: %d allowed and %d denied calls checked"
          % (allowed, denied))
    code, b = req("POST", "/api/v1/dags/team-a-etl/runs", T["op"],
                  {"environment": "prod"})
    m = message(b)
    check(code == 403 and "environment \"prod\"" in m and
          "operator" in m and SCOPED in m,
          "the refusal says what, which grant and what the caller has: %s"
          % m)


def pages(path, token, key, limit):
    """Every item of a paged listing, checking that each page but the
    last is full."""
    items, cursor = [], None
    for _ in range(50):
        sep = "&" if "?" in path else "?"
        url = "%s%slimit=%d" % (path, sep, limit)
        if cursor is not None:
            url += "&cursor=%s" % cursor
        code, b = req("GET", url, token)
        if not check(code == 200, "GET %s: %d %s" % (url, code, b)):
            return items
        page, cursor = b[key], b.get("next_cursor")
        items += page
        if cursor is None:
            return items
        check(len(page) == limit, "a page of %s is short: %d of %d"
              % (path, len(page), limit))
    return items


def test_listings():
    op = T["op"]
    dags = [d["id"] for d in pages("/api/v1/dags", op, "dags", 2)]
    check(dags == ["team-a-etl", "team-a-ev", "team-a-p1", "team-a-p2",
                   "team-a-p3", "team-a-sub"],
          "the scoped operator's DAGs: %s" % dags)
    _, b = req("GET", "/api/v1/runs?limit=500", ADMIN)
    want = sorted(r["id"] for r in b["runs"]
                  if r["dag"].startswith("team-a-") and
                  r.get("environment") in ("dev", "staging"))
    got = sorted(r["id"] for r in pages("/api/v1/runs", op, "runs", 2))
    check(got == want and len(want) >= 5,
          "the scoped operator's runs, paged by 2: %s, want %s" % (got, want))
    code, b = req("GET", "/api/v1/runs/%d" % V["run_b"], op)
    check(code == 404 and "no run" in message(b),
          "a run it may not read is not found: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/runs/%d/cancel" % V["run_b"], op)
    check(code == 404, "nor cancelled: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/runs/%d/steps/gate/approve"
                  % V["run_a_prod"], op)
    check(code == 403 and 'environment "prod"' in message(b) and
          "env=prod" in message(b),
          "approving in prod names the grant: %d %s" % (code, b))
    code, b = req("GET", "/api/v1/runs/%d" % V["run_a_prod"], op)
    check(code == 404, "a prod run of its DAG is not read: %d" % code)
    _, b = req("GET", "/api/v1/recent-runs", op)
    check(sorted(b["dags"]) == ["team-a-etl", "team-a-ev", "team-a-p1",
                                "team-a-p2", "team-a-p3", "team-a-sub"] and
          all(x["id"] in want for v in b["dags"].values() for x in v),
          "recent runs: %s" % b)
    grid = [r["id"] for r in pages("/api/v1/dags/team-a-etl/grid", op,
                                   "runs", 2)]
    check(sorted(grid) == sorted(x for x in want if x in grid) and
          V["run_a_prod"] not in grid and len(grid) >= 5,
          "the grid shows dev and staging runs: %s" % grid)
    # events: those that started a run the caller may read
    for name in ("authz.a", "authz.b", "authz.a"):
        code, b = req("POST", "/api/v1/events", T["ingest"], {"name": name})
        check(code == 202, "ingest %s: %d %s" % (name, code, b))
    seen = lambda tok: weirtest.wait_for(lambda: len([
        e for e in req("GET", "/api/v1/events?limit=100", tok)[1]["events"]
        if e["name"].startswith("authz.") and e["runs"]]) >= 3, 10)
    check(seen(ADMIN), "the events started their runs")
    evs = [e["name"] for e in pages("/api/v1/events", op, "events", 1)]
    check(evs == ["authz.a", "authz.a"],
          "the scoped operator's events, paged by 1: %s" % evs)
    _, b = req("GET", "/api/v1/artifacts", op)
    check([a["name"] for a in b["artifacts"]] == ["team-a-model"],
          "artifacts: %s" % b)
    code, _ = req("GET", "/api/v1/artifacts/team-b-model", op)
    check(code == 404, "another team's artifact: %d" % code)
    _, b = req("GET", "/api/v1/runs?limit=500", T["read"])
    check(len(b["runs"]) == len(req("GET", "/api/v1/runs?limit=500",
                                    ADMIN)[1]["runs"]),
          "an unscoped reader sees every run")


def test_session():
    _, b = req("GET", "/api/v1/session", T["op"])
    can = b.get("can", {})
    check(b.get("grants") == [SCOPED] and can.get("trigger") and
          can.get("approve") and can.get("read") and not can.get("admin")
          and not can.get("submit") and not can.get("work"),
          "the scoped operator's session: %s" % b)
    _, b = req("GET", "/api/v1/session", T["read"])
    check(b.get("can", {}).get("read") and not any(
        v for k, v in b.get("can", {}).items() if k != "read"),
        "a reader may only read: %s" % b)
    _, b = req("GET", "/api/v1/session", ADMIN)
    check(all(b.get("can", {}).values()) and len(b.get("can", {})) >= 12,
          "an admin may do everything: %s" % b)


# ---- the fixes of a security review of roles and scopes (each check
# below failed before its fix) ----

def submit(token, source):
    return req("POST", "/api/v1/dags", token, {"source": source})


def dag_yaml(dag, env=None, triggers=None, queue="none", schedule=None):
    """A one-step DAG; env: its default among dev, staging and prod."""
    text = "dag: %s\n" % dag
    if env:
        text += ("environment: %s\nenvironments:\n  dev: {}\n  staging: {}\n"
                 "  prod: {}\n" % env)
    if schedule:
        text += "schedule: \"%s\"\n" % schedule
    if triggers:
        text += "triggers:\n" + "".join("  - %s\n" % t for t in triggers)
    return text + "steps:\n  - id: s\n    queue: %s\n    run: echo s\n" % queue


def admin_submit(source):
    code, b = submit(ADMIN, source)
    check(code in (200, 201), "admin submits: %d %s" % (code, b))


def test_review_tokens():
    """The tokens of the review tests, and a worker of queue review."""
    T["aop"] = new_token("aop", {"grants": [
        "author:dag=team-a-*", "operator:env=dev:dag=team-a-*"]}).get("token")
    T["opsp"] = new_token("opsp", {"grants": [
        "operator:env=staging,prod:dag=team-a-*"]}).get("token")
    T["opprod"] = new_token("opprod", {"grants": [
        "operator:env=prod:dag=team-a-*"]}).get("token")
    T["rdev"] = new_token("rdev", {"grants": [
        "read:env=dev:dag=team-b-*"]}).get("token")
    weirtest.WORKER = new_token("wrev", {"grants": ["worker"],
                                         "queues": ["review"]}).get("token")
    V["wrev"] = weirtest.Worker("w-review", ["review"])


def run_step(dag, env, outputs):
    """A run of dag in env whose one step the review worker completes."""
    rid = trigger(dag, env)
    a = V["wrev"].one("s")
    if a:
        V["wrev"].complete(a, outputs=outputs)
    return rid


def test_review_upstream():
    """An author cannot follow a DAG it cannot read, nor see the upstream
    of a run that follows one (after and data triggers)."""
    admin_submit(dag_yaml("team-b-src", "dev", queue="review"))
    spy = dag_yaml("team-a-spy", triggers=[
        "after: {dag: team-b-src, state: any}"])
    code, b = submit(T["author"], spy)
    m = message(b)
    check(code == 403 and "team-b-src" in m and "trigger \"" in m and
          "needs a grant of" in m,
          "an author follows a DAG it cannot read: %d %s" % (code, b))
    admin_submit(spy)
    admin_submit(dag_yaml("team-a-dspy", triggers=["data: review.ds"]))
    run_step("team-b-src", None, {"secret": "b-out-42",
                                  "data.name": "review.ds",
                                  "data.version": "v1"})
    for dag, kind in (("team-a-spy", "after"), ("team-a-dspy", "data")):
        got = weirtest.wait_for(lambda: req(
            "GET", "/api/v1/runs?dag=" + dag, ADMIN)[1].get("runs"), 10)
        if not check(got, "%s ran after team-b-src" % dag):
            continue
        rid = got[0]["id"]
        _, full = req("GET", "/api/v1/runs/%d" % rid, ADMIN)
        check((full.get("upstream") or {}).get("dag") == "team-b-src" and
              (kind == "data" or "b-out-42" in json.dumps(full)),
              "an admin sees the upstream: %s" % full)
        au = T["author"]
        _, lst = req("GET", "/api/v1/runs?dag=" + dag, au)
        code, det = req("GET", "/api/v1/runs/%d" % rid, au)
        _, lin = req("GET", "/api/v1/runs/%d/lineage" % rid, au)
        for what, o in (("listing", (lst.get("runs") or [{}])[0]),
                        ("detail", det), ("lineage", lin)):
            check(code == 200 and "b-out-42" not in json.dumps(o) and
                  "#" not in (o.get("reason") or "") and
                  o.get("trigger", {}).get("payload") is None and
                  o.get("upstream") is None and
                  o.get("trigger", {}).get("kind") == kind,
                  "the author's %s of %s hides team-b's run: %s"
                  % (what, dag, o))


def test_review_automatic_triggers():
    """Runs that start by themselves need the trigger grant where they
    will run."""
    for token, env, want in (("author", "dev", 403), ("aop", "prod", 403),
                             ("aop", "dev", 201)):
        code, b = submit(T[token], dag_yaml("team-a-cron", env,
                                            schedule="@daily"))
        check(code == want and (want == 201 or (
            "schedule or triggers" in message(b) and
            "needs a grant of" in message(b) and
            "trigger" in message(b))),
            "%s submits a scheduled DAG in %s: %d %s (want %d)"
            % (token, env, code, b, want))
    code, b = submit(T["author"], dag_yaml(
        "team-a-onevent", "dev", triggers=["event: review.x"]))
    check(code == 403 and "schedule or triggers" in message(b),
          "an author's event trigger: %d %s" % (code, b))


def artifact(token):
    return req("GET", "/api/v1/artifacts/shared-model", token)


def stages():
    _, b = artifact(ADMIN)
    return {v["version"]: v["stage"] for v in b.get("versions", [])}


def promote(token, version, to="prod"):
    return req("POST", "/api/v1/artifacts/shared-model/versions/%s/promote"
               % version, token, {"to": to})


def test_review_artifacts():
    """Promotions reach only versions the caller may promote; an artifact
    shows only readable prod versions; a hidden version and a missing one
    get the same 404."""
    for team in ("a", "b"):
        admin_submit(dag_yaml("team-%s-mk" % team, "dev", queue="review"))
    for dag, env, ver in (("team-a-mk", "staging", "v-a1"),
                          ("team-b-mk", "dev", "v-b-secret"),
                          ("team-a-mk", "staging", "v-a2")):
        run_step(dag, env, {"artifact.name": "shared-model",
                            "artifact.version": ver})
    # an operator of prod promotes a version made in staging
    code, b = promote(T["opprod"], "v-a1")
    check(code == 200 and stages().get("v-a1") == "prod",
          "operator:env=prod promotes a staging version: %d %s" % (code, b))
    code, b = promote(ADMIN, "v-b-secret")
    check(code == 200 and stages().get("v-b-secret") == "prod" and
          stages().get("v-a1") == "archived",
          "the admin promotes team-b's version: %d %s %s"
          % (code, b, stages()))
    code, b = artifact(T["opsp"])
    check(code == 200 and b.get("prod") is None and
          b.get("prod_versions") == [] and "v-b-secret" not in json.dumps(b),
          "team-a's operator does not see team-b's prod version: %s" % b)
    _, b = artifact(ADMIN)
    check(b.get("prod") == "v-b-secret", "the admin does: %s" % b)
    code, b = promote(T["opsp"], "v-a2")
    check(code == 403 and "v-b-secret" not in json.dumps(b) and
          "would archive" in message(b) and
          stages().get("v-b-secret") == "prod" and
          stages().get("v-a2") != "prod",
          "a promotion that would archive team-b's version: %d %s %s"
          % (code, b, stages()))
    code, b = promote(T["opsp"], "v-a2", "staging")
    check(code == 200, "to staging, nothing is archived: %d %s" % (code, b))
    c1, b1 = promote(T["opsp"], "v-b-secret")
    c2, b2 = promote(T["opsp"], "v-nope")
    check(c1 == c2 == 404 and message(b1).replace("v-b-secret", "V") ==
          message(b2).replace("v-nope", "V"),
          "hidden and missing versions look alike: %s / %s" % (b1, b2))
    code, b = promote(ADMIN, "v-a2")
    check(code == 200 and stages().get("v-b-secret") == "archived",
          "the admin may archive it: %d %s" % (code, b))


def test_review_idempotency():
    """An idempotency key names one run, in one environment."""
    body = {"environment": "prod", "idempotency_key": "K1"}
    code, b = req("POST", "/api/v1/dags/team-a-etl/runs", ADMIN, body)
    rid = b.get("run_id")
    check(code == 201, "admin's prod run with K1: %d %s" % (code, b))
    for token, env in (("op", "dev"), ("op", None), ("admin", "dev")):
        body = {"idempotency_key": "K1"}
        if env:
            body["environment"] = env
        code, b = req("POST", "/api/v1/dags/team-a-etl/runs", T[token], body)
        m = message(b)
        check(code == 409 and "another environment" in m and
              (str(rid) in m) == (token == "admin"),
              "%s sends K1 for %s: %d %s" % (token, env, code, b))
    code, b = req("POST", "/api/v1/dags/team-a-etl/runs", ADMIN,
                  {"environment": "prod", "idempotency_key": "K1"})
    check(code == 200 and b == {"run_id": rid, "existing": True},
          "the same key in the same environment: %d %s" % (code, b))


def test_review_events_backfills():
    """An event lists only the runs the caller may read; a backfill (no
    environment) needs a read grant without an env= limit."""
    for team in ("a", "b"):
        admin_submit(dag_yaml("team-%s-rev" % team, "dev",
                              triggers=["event: review.ping"]))
    code, b = req("POST", "/api/v1/events", ADMIN, {"name": "review.ping"})
    check(code in (200, 201, 202), "post review.ping: %d %s" % (code, b))

    def ev_runs(token):
        _, b = req("GET", "/api/v1/events", token)
        e = [x for x in b.get("events", []) if x["name"] == "review.ping"]
        return e[0]["runs"] if e else []
    weirtest.wait_for(lambda: len(ev_runs(ADMIN)) == 2, 10)
    everyone = ev_runs(ADMIN)
    mine = ev_runs(T["op"])
    dags = {r: req("GET", "/api/v1/runs/%d" % r, ADMIN)[1].get("dag")
            for r in everyone}
    check(len(everyone) == 2 and mine == [r for r in everyone
                                          if dags[r] == "team-a-rev"],
          "the event's runs: %s for team-a's operator of %s %s"
          % (mine, everyone, dags))
    admin_submit(dag_yaml("team-b-bf", "prod", schedule="@daily"))
    code, b = req("POST", "/api/v1/dags/team-b-bf/backfills", ADMIN,
                  {"from": "2026-11-01", "to": "2026-11-02"})
    check(code == 201, "a backfill of team-b-bf: %d %s" % (code, b))
    bid = b.get("id") or b.get("backfill_id") or 0
    _, b = req("GET", "/api/v1/dags/team-b-bf/backfills", T["rdev"])
    check(b.get("backfills") == [], "read:env=dev sees none: %s" % b)
    code, b = req("GET", "/api/v1/backfills/%d" % bid, T["rdev"])
    check(code == 404, "nor one by id: %d %s" % (code, b))
    _, b = req("GET", "/api/v1/dags/team-b-bf/backfills", T["read"])
    check(len(b.get("backfills", [])) == 1, "an unscoped reader: %s" % b)
    code, b = req("GET", "/api/v1/backfills/%d" % bid, T["read"])
    check(code == 200, "by id: %d %s" % (code, b))


def test_review_messages():
    """Refusals name nothing the caller may not read, and say what
    would do."""
    admin_submit(dag_yaml("team-b-h", triggers=[
        "after: {dag: team-a-loop, state: any}"]))
    admin_submit(dag_yaml("team-a-x", triggers=[
        "after: {dag: team-b-h, state: any}"]))
    loop = dag_yaml("team-a-loop", "dev", triggers=[
        "after: {dag: team-a-x, state: any}"])
    code, b = submit(T["aop"], loop)
    text = json.dumps(b)
    check(code in (400, 409) and "cycle" in text and
          "a DAG you cannot read" in text and "team-b-h" not in text and
          "team-a-x" in text, "a cycle through team-b: %d %s" % (code, b))
    code, b = submit(ADMIN, loop)
    check(code in (400, 409) and "team-b-h" in json.dumps(b),
          "an admin sees the whole cycle: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/dags/team-a-etl/runs", T["author"], None)
    m = message(b)
    check(code == 403 and "needs a grant of operator or admin (for this DAG"
          " and environment)" in m and "no dag= limit" not in m,
          "an author triggers: %d %s" % (code, b))
    for n, want in ((13, 201), (14, 400)):
        grants = [{"role": "read", "dag": ["d%02d%05d" % (g, i)
                                           for i in range(50)]}
                  for g in range(n)]
        code, b = req("POST", "/api/v1/tokens", ADMIN,
                      {"name": "big%d" % n, "grants": grants})
        check(code == want and (want == 201 or "bytes" in message(b)),
              "a token of %d big grants: %d %s" % (n, code, message(b)))
        if code == 201:
            c2, b2 = req("GET", "/api/v1/dags", b["token"])
            check(c2 == 200, "and it can be used: %d %s" % (c2, b2))


weirtest.run_tests("authz", [test_tokens, test_setup,
                             test_every_route_has_a_rule, test_table,
                             test_listings, test_session, test_review_tokens,
                             test_review_upstream,
                             test_review_automatic_triggers,
                             test_review_artifacts, test_review_idempotency,
                             test_review_events_backfills,
                             test_review_messages])
