# SPDX-License-Identifier: Apache-2.0
"""Acts as a worker against a running weir-server (urllib only).

Environment: WEIR_URL, WEIR_ADMIN (admin token), WEIR_WORKER (worker
token), WEIR_READ (read token). Each scenario uses DAGs of
tests/integration/engine_dags, each on a queue of its own, so scenarios
cannot take each other's tasks. Exits 1 when a check failed.
"""
import threading
import time

from weirtest import (ADMIN, READ, WORKER, check, req, run, run_tests,
                      trigger)
import weirtest


def shq(v):
    return "'" + v.replace("'", "'\\''") + "'"


def tasks(run_id):
    return {(t["step"], t["cell"]): t for t in run(run_id)["tasks"]}


def states(run_id):
    return {s: t["state"] for (s, c), t in tasks(run_id).items() if c == 0}


class Worker(weirtest.Worker):
    """A worker of 4 slots labelled host=test."""

    def __init__(self, name, queues):
        super().__init__(name, queues, 4, {"host": "test"})


def test_chain():
    w = Worker("w-chain", ["chain"])
    check(w.reg["lease_ttl_ms"] == 1500 and
          w.reg["heartbeat_interval_ms"] == 500, "register reply %s" % w.reg)
    danger = "'; rm -rf / #"
    rid = trigger("chain", {"params": {"danger": danger}})
    a = w.one("a")
    check(a["command"] == "echo start " + shq(danger),
          "shell quoting: %r" % a["command"])
    for k in ("attempt_id", "lease_id", "run_id", "task_id", "dag",
              "dag_hash", "dag_path", "step", "cell", "try", "logical_time",
              "environment", "command", "workdir", "env", "params", "matrix",
              "inputs", "trigger", "timeout_ms", "kill_grace_ms"):
        check(k in a, "lease field %s missing" % k)
    check(a["dag_path"] == "sub/chain.yaml" and a["try"] == 1 and
          a["run_id"] == rid and len(a["dag_hash"]) == 64, "lease %s" % a)
    check(a["trigger"]["kind"] == "manual" and
          a["trigger"]["key"] == "manual" and
          a["trigger"]["reason"].startswith("manual by"),
          "trigger %s" % a["trigger"])
    check(a["params"] == {"who": "world", "danger": danger},
          "params %s" % a["params"])
    check(states(rid) == {"a": "running", "b": "pending", "c": "pending"},
          "chain states %s" % states(rid))
    # logs: in order, a re-sent batch is not duplicated, bad bytes replaced
    lid = a["lease_id"]
    path = "/api/v1/attempts/%d/logs" % a["attempt_id"]
    lines = [{"seq": i, "ts": 1700000000000 + i, "stream": "stdout",
              "line": "line %d" % i} for i in range(3)]
    code, b = req("POST", path, WORKER, {"lease_id": lid, "lines": lines})
    check(code == 200 and b["inserted"] == 3, "logs: %d %s" % (code, b))
    code, b = req("POST", path, WORKER, {"lease_id": lid, "lines": lines[1:] + [
        {"seq": 3, "ts": 1700000000003, "stream": "stderr",
         "line": "nul \u0000 here"}]})
    check(code == 200 and b["inserted"] == 1, "logs resent: %d %s" % (code, b))
    raw = ('{"lease_id": "%s", "lines": [{"seq": 4, "ts": 1700000000004, '
           '"stream": "stdout", "line": "bad ' % lid).encode() + \
        b"\xff\xc3 byte\"}]}"
    code, b = req("POST", path, WORKER, data=raw)
    check(code == 200, "logs with bad UTF-8: %d %s" % (code, b))
    code, b = req("POST", path, WORKER, {"lease_id": lid, "lines": [
        {"seq": 1.5, "ts": 1, "stream": "stdout", "line": "x"}]})
    check(code == 400, "a fractional seq: %d" % code)
    code, b = req("POST", path, WORKER, {"lease_id": "nope", "lines": lines})
    check(code == 409, "logs with a stale lease: %d" % code)
    code, b = req("GET", path + "?after=-1&limit=3", READ)
    check(code == 200 and [l["seq"] for l in b["lines"]] == [0, 1, 2] and
          b["next_after"] == 2, "logs page 1: %s" % b)
    code, b = req("GET", path + "?after=2", READ)
    got = [l["line"] for l in b["lines"]]
    check(got == ["nul \ufffd here", "bad \ufffd\ufffd byte"],
          "logs page 2: %r" % got)
    check(b["lines"][0]["stream"] == "stderr", "stream kept")
    # heartbeat
    code, b = req("POST", "/api/v1/attempts/%d/heartbeat" % a["attempt_id"],
                  WORKER, {"lease_id": lid})
    check(code == 200 and b == {"cancel": False}, "heartbeat %d %s" % (code, b))
    # completion carries the next lease in the same round trip
    b = w.complete(a, 0, {"x": "hello world"}, lease=1)
    nxt = b.get("attempts", [])
    check(len(nxt) == 1 and nxt[0]["step"] == "b", "next lease %s" % b)
    if nxt:
        bb = nxt[0]
        check(bb["command"] == "echo 'hello world'", "rendered %r" %
              bb["command"])
        check(bb["env"] == {"GREETING": "hello world"}, "env %s" % bb["env"])
        check(bb["workdir"] == "work/world", "workdir %s" % bb["workdir"])
        check(bb["inputs"] == {"a": {"x": "hello world"}},
              "inputs %s" % bb["inputs"])
        w.complete(bb, 0, {"y": 'say "hi" $HOME'})
    c = w.one("c")
    if c:
        check(c["command"] == 'echo "say \\"hi\\" \\$HOME" success',
              "double-quoted render %r" % c["command"])
        check(c["inputs"] == {"a": {"x": "hello world"},
                              "b": {"y": 'say "hi" $HOME'}},
              "transitive inputs %s" % c["inputs"])
        w.complete(c, 0)
    r = run(rid)
    check(r["state"] == "success" and r["finished_at"], "chain run %s" % r)
    t = {x["step"]: x for x in r["tasks"]}
    check(t["a"]["outputs"] == {"x": "hello world"} and
          t["a"]["attempts"][0]["worker"] == "w-chain" and
          t["a"]["attempts"][0]["exit_code"] == 0, "task detail %s" % t["a"])
    return rid


def test_triggers():
    code, b = req("POST", "/api/v1/dags/chain/runs", ADMIN,
                  {"params": {"whoo": "x"}})
    check(code == 400 and "whoo" in b["error"]["message"] and
          '"who"' in b["error"]["message"], "unknown param: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/dags/chain/runs", ADMIN,
                  {"environment": "prod"})
    check(code == 400 and "prod" in b["error"]["message"],
          "unknown environment: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/dags/paused/runs", ADMIN, {})
    check(code == 409, "paused DAG: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/dags/nope/runs", ADMIN, {})
    check(code == 404, "no such DAG: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/dags/poll/runs", READ, {})
    check(code == 403, "read token triggers: %d" % code)
    r1 = trigger("noretry", {"idempotency_key": "k-1"})
    code, b = req("POST", "/api/v1/dags/noretry/runs", ADMIN,
                  {"idempotency_key": "k-1"})
    check(code == 200 and b["run_id"] == r1 and b["existing"],
          "idempotent trigger: %d %s" % (code, b))
    # no_retry_on_exit: exit 3 fails at once although tries remain
    w = Worker("w-noretry", ["noretry"])
    a = w.one("n")
    w.complete(a, 3)
    r = run(r1)
    check(r["state"] == "failed" and r["tasks"][0]["state"] == "failed" and
          r["tasks"][0]["try_count"] == 1, "no_retry_on_exit %s" % r)


def test_retry():
    w = Worker("w-retry", ["retry"])
    rid = trigger("retry")
    a = w.one("r")
    check(a["timeout_ms"] == 60000, "timeout_ms %s" % a["timeout_ms"])
    w.complete(a, 1)
    check(states(rid)["r"] == "up_for_retry", "after exit 1: %s" % states(rid))
    check(w.lease(1, 0) == [], "a retry is not leased before its delay")
    t0 = time.monotonic()
    a2 = w.one("r", wait_ms=5000)
    dt = time.monotonic() - t0
    print("retry: try 2 leased after %.2f s (delay 1 s + jitter)" % dt)
    check(0.8 <= dt <= 2.5, "retry delay %.2f s" % dt)
    if a2:
        check(a2["try"] == 2, "try %s" % a2["try"])
        w.complete(a2, 1)
    t = tasks(rid)[("r", 0)]
    check(t["state"] == "up_for_retry" and t["next_try_at"], "try 2 %s" % t)
    t0 = time.monotonic()
    a3 = w.one("r", wait_ms=6000)
    dt = time.monotonic() - t0
    print("retry: try 3 leased after %.2f s (delay 2 s with backoff)" % dt)
    check(1.7 <= dt <= 3.5, "backoff delay %.2f s" % dt)
    if a3:
        w.complete(a3, 0, {"done": "yes"})
    r = run(rid)
    check(r["state"] == "success" and
          [x["state"] for x in r["tasks"][0]["attempts"]] ==
          ["failed", "failed", "success"], "retry run %s" % r)


def test_rules():
    w = Worker("w-rules", ["rules"])
    rid = trigger("rules")
    got = w.lease(10, 3000)
    by = {a["step"]: a for a in got}
    check(sorted(by) == ["bad", "ok"], "roots %s" % sorted(by))
    if sorted(by) != ["bad", "ok"]:
        return
    w.complete(by["ok"], 0)
    w.complete(by["bad"], 1)
    s = states(rid)
    check(s["skipme"] == "skipped" and s["after-skip"] == "skipped" and
          s["all-ok"] == "upstream_failed" and s["on-fail"] == "queued" and
          s["done"] == "queued" and s["none-failed"] == "queued",
          "trigger rules %s" % s)
    for a in w.lease(10, 3000):
        w.complete(a, 0)
    r = run(rid)
    check(r["state"] == "failed", "rules run %s" % r["state"])


def test_if_on_fresh_output():
    w = Worker("w-gate", ["gate"])
    rid = trigger("gate")
    a = w.one("evaluate")
    if a is None:
        return
    w.complete(a, 0, {"accuracy": "0.91"})
    s = states(rid)
    check(s["maybe"] == "skipped" and s["low"] == "skipped" and
          s["register"] == "queued", "if: on a fresh output %s" % s)
    b = w.one("register")
    if b is None:
        return
    check(b["command"] == "echo register 0.91", "rendered %r" % b["command"])
    w.complete(b, 0)
    check(run(rid)["state"] == "success", "gate run %s" % run(rid)["state"])


def test_matrix():
    w = Worker("w-mx", ["mx"])
    rid = trigger("matrix")
    got = w.lease(10, 3000)
    cmds = sorted(a["command"] for a in got)
    check(cmds == ["echo 1 a", "echo 1 b", "echo 2 a", "echo 2 b"],
          "fan-out %s" % cmds)
    for i, a in enumerate(got[:3]):
        w.complete(a, 0, {"n": str(i)})
    check(w.lease(10, 0) == [], "join waits for every cell")
    if len(got) == 4:
        w.complete(got[3], 0, {"n": "3"})
    nxt = w.lease(10, 3000)
    check([a["step"] for a in nxt] == ["join"], "after fan-in %s" % nxt)
    if nxt:
        fan = nxt[0]["inputs"]["fan"]
        check(len(fan) == 4 and fan[0]["matrix"] == {"n": 1, "m": "a"} and
              fan[0]["outputs"] == {"n": "0"}, "matrix inputs %s" % fan)
        w.complete(nxt[0], 0)
    t = tasks(rid)
    check(t[("bad-ref", 0)]["state"] == "failed" and
          "has 4 cells; use $WEIR_INPUTS" in
          t[("bad-ref", 0)]["attempts"][0]["error"], "bad-ref %s" %
          t[("bad-ref", 0)])
    check(run(rid)["state"] == "failed", "matrix run")


def test_expire():
    w = Worker("w-exp", ["expire"])
    rid = trigger("expire")
    a = w.one("slow")
    time.sleep(0.4)
    code, _ = req("POST", "/api/v1/attempts/%d/heartbeat" % a["attempt_id"],
                  WORKER, {"lease_id": a["lease_id"]})
    check(code == 200, "heartbeat in time")
    t0 = time.monotonic()
    a2 = w.one("slow", wait_ms=8000)
    dt = time.monotonic() - t0
    print("expiry: try 2 leased %.2f s after the last heartbeat "
          "(TTL 1.5 s + retry 0.5 s)" % dt)
    if not a2:
        return
    check(a2["try"] == 2, "try after expiry %s" % a2["try"])
    t = tasks(rid)[("slow", 0)]
    check([x["state"] for x in t["attempts"]] == ["lost", "running"],
          "attempts after expiry %s" % t["attempts"])
    check("lease expired" in (t["attempts"][0]["error"] or ""), "lost error")
    # the old lease is refused everywhere, and changes nothing
    code, b = req("POST", "/api/v1/attempts/%d/heartbeat" % a["attempt_id"],
                  WORKER, {"lease_id": a["lease_id"]})
    check(code == 409 and b["error"]["code"] == "CONFLICT" and
          "stale" in b["error"]["message"], "stale heartbeat %d %s" % (code, b))
    w.complete(a, 0, expect=409)
    w.complete(a2, 0, expect=409, lease_id=a["lease_id"])
    t = tasks(rid)[("slow", 0)]
    check(t["state"] == "running" and t["try_count"] == 2,
          "state unchanged by stale calls %s" % t)
    w.complete(a2, 0)
    w.complete(a2, 0, expect=409)
    check(run(rid)["state"] == "success", "expire run")


def test_poll():
    w = Worker("w-poll", ["poll"])
    out = {}

    def waiter():
        out["a"] = w.lease(1, 10000)
        out["t"] = time.monotonic()
    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    trigger("poll")
    th.join(15)
    got = out.get("a", [])
    check(len(got) == 1, "long-poll got %s" % got)
    if got:
        dt = out["t"] - t0
        print("long-poll: waiting lease got the task %.1f ms after the "
              "trigger was sent" % (dt * 1000))
        check(dt < 2.0, "long-poll latency %.2f s" % dt)
        w.complete(got[0], 0)


def test_limited():
    w = Worker("w-lim", ["lim"])
    r1 = trigger("limited", {"environment": "prod"})
    r2 = trigger("limited", {"environment": "prod"})
    check(run(r2)["state"] == "queued", "second run queued")
    got = w.lease(5, 3000)
    check(len(got) == 1 and got[0]["run_id"] == r1 and
          got[0]["command"] == "echo prod" and got[0]["environment"] == "prod",
          "max_active_runs lease %s" % got)
    if got:
        w.complete(got[0], 0)
    check(run(r1)["state"] == "success" and run(r2)["state"] == "running",
          "the held run starts")
    got = w.lease(5, 3000)
    check(len(got) == 1 and got[0]["run_id"] == r2, "second run leased")
    for a in got:
        w.complete(a, 0)
    check(run(r2)["state"] == "success", "second run ends")


def test_matrix_concurrent():
    # four cells completed at once: the join is decided exactly once
    w = Worker("w-mx2", ["mx"])
    rid = trigger("matrix")
    got = w.lease(10, 3000)
    check(len(got) == 4, "fan-out of 4: %d" % len(got))
    ths = [threading.Thread(target=w.complete, args=(a, 0, {"n": "1"}))
           for a in got]
    for th in ths:
        th.start()
    for th in ths:
        th.join(20)
    nxt = w.lease(10, 3000)
    check([a["step"] for a in nxt] == ["join"], "concurrent fan-in %s" %
          [a["step"] for a in nxt])
    for a in nxt:
        w.complete(a, 0)
    t = tasks(rid)
    check(t[("join", 0)]["state"] == "success" and
          len(t[("join", 0)]["attempts"]) == 1, "join once %s" %
          t[("join", 0)])


def test_round_trips():
    # a chain of 10 steps: lease then complete (2 calls a step), against
    # complete carrying the next lease (1 call a step)
    w = Worker("w-long", ["long"])
    steps = ["s%d" % i for i in range(10)]
    for combined in (False, True):
        rid = trigger("long")
        calls = 0
        leased = []
        t0 = time.monotonic()
        a = w.lease(1, 3000)
        calls += 1
        while a:
            leased += [x["step"] for x in a]
            if combined:
                a = w.complete(a[0], 0, lease=1).get("attempts", [])
                calls += 1
            else:
                w.complete(a[0], 0)
                a = w.lease(1, 0)
                calls += 2
        dt = time.monotonic() - t0
        how = "complete+lease" if combined else "lease, complete"
        check(run(rid)["state"] == "success", "long run %s" % combined)
        check(leased == steps, "%s: leased %s" % (how, leased))
        # the first lease, then per step its completion, and without the
        # combined call a lease after each (the last one finds nothing)
        want = 1 + len(steps) * (1 if combined else 2)
        check(calls == want, "%s: %d calls for %d steps, expected %d" %
              (how, calls, len(steps), want))
        print("round trips: 10-step chain, %s: %d calls, %.1f ms" %
              (how, calls, dt * 1000))


def test_list():
    code, b = req("GET", "/api/v1/runs?limit=500", READ)
    check(code == 200, "list all")
    all_ids = [r["id"] for r in b["runs"]]
    check(all_ids == sorted(all_ids, reverse=True), "newest first")
    seen, cursor = [], None
    for _ in range(50):
        q = "/api/v1/runs?limit=2" + ("&cursor=%d" % cursor if cursor else "")
        code, b = req("GET", q, READ)
        seen += [r["id"] for r in b["runs"]]
        cursor = b["next_cursor"]
        if cursor is None:
            break
    check(seen == all_ids, "pagination %s vs %s" % (seen, all_ids))
    code, b = req("GET", "/api/v1/runs?dag=retry&state=success", READ)
    check(code == 200 and len(b["runs"]) == 1 and
          b["runs"][0]["dag"] == "retry", "filter %s" % b)
    code, b = req("GET", "/api/v1/runs?state=bogus", READ)
    check(code == 400, "bad state filter %d" % code)
    code, b = req("GET", "/api/v1/runs/999999", READ)
    check(code == 404, "no such run %d" % code)


run_tests("engine_test", [
    test_chain, test_triggers, test_retry, test_rules,
    test_if_on_fresh_output, test_matrix, test_matrix_concurrent,
    test_expire, test_poll, test_limited, test_round_trips, test_list])
