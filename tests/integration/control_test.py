# SPDX-License-Identifier: Apache-2.0
"""Control of runs against a running weir-server (urllib only): cancel,
retry, approval gates, pause, the worker list and /metrics.

Environment: WEIR_URL, WEIR_ADMIN (admin token named "ops"), WEIR_WORKER
(worker token), WEIR_READ (read token). Each scenario uses DAGs of
tests/integration/control_dags, each on a queue of its own, and acts as
the worker itself. Exits 1 when a check failed.
"""
import re

from weirtest import READ, WORKER, check, call, req, run, run_tests
import weirtest

leased = [0]  # attempts leased by this script


def trigger(dag, expect=201):
    return weirtest.trigger(dag, {}, expect)


def tasks(run_id):
    return {t["step"]: t for t in run(run_id)["tasks"] if t["cell"] == 0}


def states(run_id):
    return {s: t["state"] for s, t in tasks(run_id).items()}


def post(path, body=None, token=None):
    return req("POST", path, token or weirtest.ADMIN, body)


class Worker(weirtest.Worker):
    """A worker labelled zone=test that counts what it leased."""

    def __init__(self, name, queues, slots=4):
        super().__init__(name, queues, slots, {"zone": "test"})

    def lease(self, n=1, wait_ms=0):
        got = super().lease(n, wait_ms)
        leased[0] += len(got)
        return got


def metrics_text(token):
    """GET /metrics: (status, the text, the headers)."""
    code, text, hdrs = call("GET", "/metrics", token)
    return code, text.decode(), hdrs


def test_cancel():
    w = Worker("w-cancel", ["ctl-cancel"])
    rid = trigger("ctl-cancel")
    a = w.one("a")
    if a is None:
        return
    code, b = w.beat(a)
    check(code == 200 and b == {"cancel": False}, "beat before %d %s" %
          (code, b))
    code, b = post("/api/v1/runs/%d/cancel" % rid, token=READ)
    check(code == 403, "a read token cancels: %d" % code)
    code, b = post("/api/v1/runs/%d/cancel" % rid)
    check(code == 200 and b["state"] == "canceled" and
          sorted((t["step"], t["was"]) for t in b["canceled"]) ==
          [("a", "running"), ("b", "pending")], "cancel: %d %s" % (code, b))
    code, b = w.beat(a)
    check(code == 200 and b == {"cancel": True}, "beat after cancel %d %s" %
          (code, b))
    r = run(rid)
    check(r["state"] == "canceled" and r["finished_at"],
          "run canceled %s" % r)
    check(states(rid) == {"a": "canceled", "b": "canceled"},
          "tasks canceled %s" % states(rid))
    # the worker stops the command and reports: recorded, nothing else
    w.complete(a, 0, {"x": "late"})
    t = tasks(rid)
    check(t["a"]["state"] == "canceled" and t["a"]["outputs"] is None and
          [x["state"] for x in t["a"]["attempts"]] == ["canceled"],
          "completion after cancel %s" % t["a"])
    check(run(rid)["state"] == "canceled", "run stays canceled")
    check(w.lease(5, 0) == [], "nothing of a canceled run is leased")
    code, b = post("/api/v1/runs/%d/cancel" % rid)
    check(code == 409 and b["error"]["code"] == "CONFLICT",
          "cancel twice: %d %s" % (code, b))
    code, b = post("/api/v1/runs/999999/cancel")
    check(code == 404, "cancel no such run: %d" % code)


def test_cancel_held():
    w = Worker("w-held", ["ctl-held"])
    r1 = trigger("ctl-held")
    r2 = trigger("ctl-held")
    r3 = trigger("ctl-held")
    check(run(r2)["state"] == "queued" and run(r3)["state"] == "queued",
          "held runs queued")
    code, b = post("/api/v1/runs/%d/cancel" % r3)
    check(code == 200 and run(r3)["state"] == "canceled",
          "cancel a queued run: %d %s" % (code, b))
    code, b = post("/api/v1/runs/%d/cancel" % r1)
    check(code == 200 and run(r2)["state"] == "running",
          "canceling the running run starts the held one: %s" %
          run(r2)["state"])
    a = w.one("only")
    check(a is not None and a["run_id"] == r2, "held run leased %s" % a)
    # retry of a canceled run while r2 holds the only slot: queued
    code, b = post("/api/v1/runs/%d/retry" % r1)
    check(code == 200 and b["state"] == "queued" and
          [t["step"] for t in b["reset"]] == ["only"],
          "retry held by max_active_runs: %d %s" % (code, b))
    if a:
        w.complete(a, 0)
    check(run(r2)["state"] == "success" and run(r1)["state"] == "running",
          "retried run starts when r2 ends")
    a = w.one("only")
    check(a is not None and a["run_id"] == r1, "retried run leased")
    if a:
        w.complete(a, 0)
    r = run(r1)
    check(r["state"] == "success" and r["retry_count"] == 1 and
          r["retried_at"], "retried canceled run %s" % r)


def test_retry():
    w = Worker("w-retry", ["ctl-retry"])
    rid = trigger("ctl-retry")
    a = w.one("up")
    w.complete(a, 0, {"v": "hello"})
    m = w.one("mid")
    check(m["command"] == "echo mid hello", "mid %r" % m["command"])
    w.complete(m, 1)
    m = w.one("mid", 5000)
    w.complete(m, 1)
    check(run(rid)["state"] == "failed" and
          states(rid) == {"up": "success", "mid": "failed",
                          "down": "upstream_failed"},
          "failed run %s" % states(rid))
    code, b = post("/api/v1/runs/%d/retry" % rid, {"from": "midd"})
    check(code == 400 and 'did you mean "mid"' in b["error"]["message"],
          "unknown step: %d %s" % (code, b))
    code, b = post("/api/v1/runs/%d/retry" % rid, {"from": 3})
    check(code == 400, "from not a string: %d" % code)
    code, b = post("/api/v1/runs/%d/retry" % rid, token=READ)
    check(code == 403, "read token retries: %d" % code)
    code, b = post("/api/v1/runs/%d/retry" % rid)
    check(code == 200 and b["state"] == "running" and b["retry_count"] == 1 and
          sorted((t["step"], t["was"]) for t in b["reset"]) ==
          [("down", "upstream_failed"), ("mid", "failed")],
          "retry: %d %s" % (code, b))
    code, b = post("/api/v1/runs/%d/retry" % rid)
    check(code == 409, "retry a running run: %d %s" % (code, b))
    r = run(rid)
    check(r["state"] == "running" and r["finished_at"] is None and
          r["retry_count"] == 1, "run after retry %s" % r)
    t = tasks(rid)
    check(t["mid"]["state"] == "queued" and t["mid"]["try_count"] == 2 and
          t["mid"]["max_tries"] == 4 and t["down"]["state"] == "pending" and
          t["up"]["outputs"] == {"v": "hello"}, "tasks after retry %s" % t)
    m = w.one("mid")
    check(m["try"] == 3 and m["command"] == "echo mid hello",
          "retried mid %s" % m)
    w.complete(m, 0, {"w": "world"})
    d = w.one("down")
    check(d["command"] == "echo down hello world", "down %r" % d["command"])
    check(d["inputs"]["up"] == {"v": "hello"}, "inputs %s" % d["inputs"])
    w.complete(d, 0)
    r = run(rid)
    t = {x["step"]: x for x in r["tasks"]}
    check(r["state"] == "success" and r["finished_at"], "retried run %s" % r)
    check(len(t["up"]["attempts"]) == 1, "up not re-leased %s" % t["up"])
    check([x["state"] for x in t["mid"]["attempts"]] ==
          ["failed", "failed", "success"] and
          [x["try"] for x in t["mid"]["attempts"]] == [1, 2, 3],
          "mid attempts kept %s" % t["mid"]["attempts"])
    # from a middle step of the successful run: up kept, the rest reset
    code, b = post("/api/v1/runs/%d/retry" % rid)
    check(code == 409, "retry with nothing to retry: %d %s" % (code, b))
    code, b = post("/api/v1/runs/%d/retry" % rid, {"from": "mid"})
    check(code == 200 and b["retry_count"] == 2 and
          sorted(x["step"] for x in b["reset"]) == ["down", "mid"],
          "retry from mid: %d %s" % (code, b))
    check(states(rid) == {"up": "success", "mid": "queued",
                          "down": "pending"}, "from mid %s" % states(rid))
    m = w.one("mid")
    check(m["try"] == 4 and m["command"] == "echo mid hello", "mid %s" % m)
    w.complete(m, 0, {"w": "again"})
    d = w.one("down")
    check(d["command"] == "echo down hello again", "down %r" % d["command"])
    w.complete(d, 0)
    r = run(rid)
    check(r["state"] == "success" and r["retry_count"] == 2 and
          len(tasks(rid)["up"]["attempts"]) == 1, "after retry from %s" % r)


def test_gates():
    w = Worker("w-gate", ["ctl-gate"])
    ok = trigger("ctl-gate")
    bad = trigger("ctl-gate")
    for rid in (ok, bad):
        a = w.one("build")
        w.complete(a, 0, {"version": "1.2"})
        check(states(rid)["approve"] == "awaiting_approval",
              "gate waits %s" % states(rid))
    path = "/api/v1/runs/%d/steps/%s/%s"
    code, b = post(path % (ok, "deploy", "approve"))
    check(code == 409, "approve a pending step: %d %s" % (code, b))
    code, b = post(path % (ok, "aprove", "approve"))
    check(code == 404 and "approve" in b["error"]["message"],
          "approve no such step: %d %s" % (code, b))
    code, b = post(path % (ok, "approve", "approve"), token=READ)
    check(code == 403, "a read token approves: %d" % code)
    code, b = post(path % (ok, "approve", "approve"), {"comment": "ship it"})
    check(code == 200 and b["state"] == "success" and
          b["run_state"] == "running", "approve: %d %s" % (code, b))
    t = tasks(ok)
    check(t["approve"]["outputs"] == {"approved_by": "ops",
                                      "comment": "ship it"} and
          t["deploy"]["state"] == "queued", "approved %s" % t)
    code, b = post(path % (ok, "approve", "approve"))
    check(code == 409, "approve twice: %d" % code)
    d = w.one("deploy")
    check(d["command"] == "echo deploy ops", "deploy %r" % d["command"])
    w.complete(d, 0)
    check(run(ok)["state"] == "success", "approved run succeeds")
    code, b = post(path % (bad, "approve", "reject"), {"comment": "not now"})
    check(code == 200 and b["state"] == "failed" and
          b["run_state"] == "failed", "reject: %d %s" % (code, b))
    t = tasks(bad)
    check(t["approve"]["error"] == "rejected by ops: not now" and
          t["deploy"]["state"] == "upstream_failed", "rejected %s" % t)
    r = run(bad)
    check(r["state"] == "failed" and r["finished_at"], "rejected run %s" % r)


def test_pause():
    code, b = post("/api/v1/dags/ctl-pause/pause", token=READ)
    check(code == 403, "a read token pauses: %d" % code)
    code, b = post("/api/v1/dags/ctl-pause/pause")
    check(code == 200 and b == {"dag": "ctl-pause", "paused": True},
          "pause: %d %s" % (code, b))
    code, b = req("GET", "/api/v1/dags/ctl-pause", READ)
    check(code == 200 and b.get("paused") is True, "DAG paused %s" % b)
    trigger("ctl-pause", expect=409)
    code, b = post("/api/v1/dags/ctl-pause/unpause")
    check(code == 200 and b == {"dag": "ctl-pause", "paused": False},
          "unpause: %d %s" % (code, b))
    rid = trigger("ctl-pause", expect=201)
    code, b = post("/api/v1/dags/nope/pause")
    check(code == 404, "pause no such DAG: %d" % code)
    w = Worker("w-pause", ["ctl-pause"])
    a = w.one("only")
    if a:
        w.complete(a, 0)
    check(run(rid)["state"] == "success", "run after unpause")


def test_workers():
    w = Worker("w-list", ["ctl-list", "other"], slots=3)
    rid = trigger("ctl-pause")
    ww = Worker("w-pause", ["ctl-pause"])
    a = ww.one("only")
    code, b = req("GET", "/api/v1/workers", READ)
    check(code == 200, "workers: %d" % code)
    by = {x["name"]: x for x in b.get("workers", [])}
    x = by.get("w-list", {})
    check(x.get("queues") == ["ctl-list", "other"] and x.get("slots") == 3 and
          x.get("labels") == {"zone": "test"} and x.get("state") == "online" and
          x.get("last_seen_at") and x.get("running_attempts") == 0,
          "w-list %s" % x)
    check(by.get("w-pause", {}).get("running_attempts") == 1,
          "w-pause %s" % by.get("w-pause"))
    code, b = req("GET", "/api/v1/workers", WORKER)
    check(code == 403, "a worker token lists workers: %d" % code)
    if a:
        ww.complete(a, 0)
    check(run(rid)["state"] == "success", "workers run")
    del w


def metric(text, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def test_metrics():
    code, text, _ = metrics_text(None)
    check(code == 401, "metrics without a token: %d" % code)
    code, text, _ = metrics_text(WORKER)
    check(code == 403, "metrics with a worker token: %d" % code)
    # a queued task on a queue nobody leases from
    w = Worker("w-depth", ["ctl-cancel"])
    rid = trigger("ctl-cancel")
    code, text, hdrs = metrics_text(READ)
    check(code == 200 and
          hdrs.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
          "metrics: %d %s" % (code, hdrs.get("Content-Type")))
    code, b = req("GET", "/api/v1/runs?state=success&limit=500", READ)
    n_ok = len(b["runs"])
    check(metric(text, 'weir_runs{state="success"}') == n_ok,
          "weir_runs success %s vs %d" %
          (metric(text, 'weir_runs{state="success"}'), n_ok))
    code, b = req("GET", "/api/v1/runs?state=canceled&limit=500", READ)
    check(metric(text, 'weir_runs{state="canceled"}') == len(b["runs"]),
          "weir_runs canceled")
    check(metric(text, 'weir_runs{state="queued"}') == 0, "no queued runs")
    check(metric(text, 'weir_tasks{state="awaiting_approval"}') == 0 and
          metric(text, 'weir_tasks{state="success"}') >= n_ok,
          "weir_tasks %s" % metric(text, 'weir_tasks{state="success"}'))
    check(metric(text, 'weir_queue_depth{queue="ctl-cancel"}') == 1 and
          metric(text, 'weir_queue_depth{queue="ctl-list"}') == 0,
          "queue depth")
    check(metric(text, "weir_workers") >= 2, "weir_workers %s" %
          metric(text, "weir_workers"))
    count = metric(text, "weir_dispatch_seconds_count")
    inf = metric(text, 'weir_dispatch_seconds_bucket{le="+Inf"}')
    small = metric(text, 'weir_dispatch_seconds_bucket{le="0.0005"}')
    ten = metric(text, 'weir_dispatch_seconds_bucket{le="10"}')
    check(count == leased[0] and inf == count and small is not None and
          small <= ten <= inf, "dispatch histogram count %s inf %s leased %d"
          % (count, inf, leased[0]))
    check(0 <= metric(text, "weir_dispatch_seconds_sum") < 60 * count,
          "dispatch sum")
    check("# TYPE weir_dispatch_seconds histogram" in text, "histogram type")
    print("metrics: %d dispatches, mean %.1f ms" %
          (count, 1000 * metric(text, "weir_dispatch_seconds_sum") /
           max(count, 1)))
    a = w.one("a")
    code, b = post("/api/v1/runs/%d/cancel" % rid)
    check(code == 200, "cancel the depth run")
    if a:
        w.complete(a, 0)


def test_cancel_races_lease():
    """A cancel that meets claims of the same run's tasks cancels the run
    (its transaction waits for the claims' rows): never a 409 for a run
    that was running."""
    import threading
    runs = [trigger("ctl-race") for _ in range(12)]
    stop = threading.Event()
    got = []

    def lease_loop(name):
        w = weirtest.Worker(name, ["ctl-race"], 64, {"zone": "test"})
        n = 0
        while not stop.is_set():
            n += len(w.lease(1, 0))
        got.append(n)

    threads = [threading.Thread(target=lease_loop, args=("w-race%d" % i,))
               for i in range(3)]
    for t in threads:
        t.start()
    codes = []
    try:
        for rid in runs:
            code, b = post("/api/v1/runs/%d/cancel" % rid)
            codes.append((rid, code, b.get("state") if code == 200 else b))
    finally:
        stop.set()
        for t in threads:
            t.join()
    leased[0] += sum(got)
    check(sum(got) > 0, "the workers leased nothing: no race was tried")
    bad = [c for c in codes if c[1] != 200 or c[2] != "canceled"]
    check(not bad, "cancels racing claims: %s" % bad)
    for rid in runs:
        left = [t for t in run(rid)["tasks"] if t["state"] != "canceled"]
        check(run(rid)["state"] == "canceled" and not left,
              "run %d after cancel: %s" % (rid, left[:3]))


run_tests("control_test", [
    test_cancel, test_cancel_held, test_retry, test_gates, test_pause,
    test_workers, test_metrics, test_cancel_races_lease])
