# SPDX-License-Identifier: Apache-2.0
"""Engine seams against a running weir-server (urllib only): concurrent
firings and the guards (cooldown, max_active_runs, concurrency), a DAG
whose file is gone, the file trigger's payload, rendered approval
messages, notification links and unpausing a cron DAG.

Usage: seams_engine_test.py [SCENARIO...] (all when none). Environment:
WEIR_URL, WEIR_ADMIN, WEIR_WORKER, WEIR_READ, WEIR_TEST_HOOK_SECRET,
WEIR_TEST_DAGS (the server's DAGs folder). Exits 1 when a check failed.
"""
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time

from weirtest import (ADMIN, BASE, READ, TERMINAL, Worker, call, check, req,
                      run_tests, wait_for)

SECRET = os.environ.get("WEIR_TEST_HOOK_SECRET", "")
DAGS = os.environ.get("WEIR_TEST_DAGS", "")


def runs(dag, state=None):
    q = "/api/v1/runs?dag=%s&limit=500" % dag
    if state:
        q += "&state=" + state
    code, b = req("GET", q, READ)
    check(code == 200, "runs of %s: %d %s" % (dag, code, b))
    return b.get("runs", []) if code == 200 else []


def burst(n, fn):
    """Calls fn(i) for i in 0..n-1 from n threads released at once;
    returns the results in order (an exception is a result)."""
    out = [None] * n
    gate = threading.Barrier(n)

    def one(i):
        try:
            gate.wait(10)
            out[i] = fn(i)
        except Exception as e:  # reported by the caller's checks
            out[i] = e
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return out


class Sampler:
    """Samples the number of running runs of dag (or running tasks, with
    tasks=True) until stopped; the maximum seen is in .most."""

    def __init__(self, dag, tasks=False):
        self.dag, self.tasks, self.most, self.n = dag, tasks, 0, 0
        self.stop_ = threading.Event()
        self.t = threading.Thread(target=self.loop)
        self.t.start()

    def count(self):
        if not self.tasks:
            return len(runs(self.dag, "running"))
        got = 0
        for r in runs(self.dag, "running"):
            code, b = req("GET", "/api/v1/runs/%d" % r["id"], READ)
            if code == 200:
                got += sum(1 for t in b["tasks"] if t["state"] == "running")
        return got

    def loop(self):
        while not self.stop_.is_set():
            self.most = max(self.most, self.count())
            self.n += 1
            time.sleep(0.02)

    def stop(self):
        self.stop_.set()
        self.t.join()
        self.most = max(self.most, self.count())
        return self.most


def event(name, payload=None):
    code, b = req("POST", "/api/v1/events", ADMIN,
                  {"name": name, "payload": payload or {}})
    return code, b


def test_events_no_cooldown():
    """8 concurrent events x 10 rounds on a DAG without cooldown: every
    one starts a run, none is suppressed."""
    bad = []
    for rnd in range(10):
        got = burst(8, lambda i: event("se.nocool", {"round": rnd, "i": i}))
        bad += [g for g in got if not (isinstance(g, tuple) and
                                       g[0] == 202 and g[1]["runs"] == 1)]
    check(not bad, "%d of 80 events started no run: %s" % (len(bad),
                                                           bad[:3]))
    check(len(runs("se-nocool")) == 80, "80 runs of se-nocool: %d" %
          len(runs("se-nocool")))
    code, b = req("GET", "/api/v1/dags/se-nocool/triggers", READ)
    sup = [s for t in b.get("triggers", []) for s in t.get("suppressed", [])]
    check(code == 200 and not sup,
          "a DAG without cooldown suppressed firings: %s" % sup[:3])


def hook(dag, i):
    raw = json.dumps({"i": i}).encode()
    sig = "sha256=" + hmac.new(SECRET.encode(), raw,
                               hashlib.sha256).hexdigest()
    return req("POST", "/api/v1/hooks/%s/push" % dag, None, data=raw,
               headers={"X-Hub-Signature-256": sig})


def cancel_all(dag):
    for r in runs(dag):
        if r["state"] not in TERMINAL:
            req("POST", "/api/v1/runs/%d/cancel" % r["id"], ADMIN, {})


def capped(dag, cap, kind, n):
    """n concurrent firings of kind against dag (max_active_runs cap):
    never more than cap running, and every firing acknowledged."""
    cancel_all(dag)

    def fire(i):
        if kind == "manual":
            return req("POST", "/api/v1/dags/%s/runs" % dag, ADMIN, {})
        if kind == "event":
            return event("se." + dag[3:], {"i": i})
        if kind == "metric":
            return req("POST", "/api/v1/metrics", ADMIN,
                       {"name": "se." + dag[3:],
                        "value": 0.1 if i % 2 else 0.9})
        return hook(dag, i)
    s = Sampler(dag)
    got = burst(n, fire)
    most = s.stop()
    ok = [g for g in got if isinstance(g, tuple) and g[0] in (201, 202)]
    # webhooks are public: past the per-address cap of unauthenticated
    # connections (32) a delivery is refused with 429, to be sent again.
    # The sampler's connection, from the same address, counts until its
    # token is read: one of the 32 may be its.
    busy = [g for g in got if kind == "webhook" and isinstance(g, tuple)
            and g[0] == 429] if n > 32 else []
    check(len(ok) + len(busy) == n and len(ok) >= min(n, 32 - 1),
          "%s x%d on %s: %d acknowledged, %d refused as over the cap: %s" %
          (kind, n, dag, len(ok), len(busy),
           [g for g in got if g not in ok and g not in busy][:3]))
    if kind in ("event", "webhook"):
        none = [g for g in ok if g[1].get("runs") != 1]
        check(not none, "%s x%d on %s: %d firings neither started nor "
              "folded: %s" % (kind, n, dag, len(none), none[:3]))
    check(most <= cap, "%s x%d on %s: %d running at once, cap %d "
          "(%d samples)" % (kind, n, dag, most, cap, s.n))
    print("%s x%d on %s: at most %d running (cap %d), %d samples" %
          (kind, n, dag, most, cap, s.n), flush=True)


def test_max_active_runs():
    for dag, cap in (("se-cap1", 1), ("se-cap3", 3)):
        for kind in ("manual", "event", "metric", "webhook"):
            for n in (16, 64):
                capped(dag, cap, kind, n)
    # retries of finished runs: 16 and 64 at once
    for dag, cap in (("se-cap1", 1), ("se-cap3", 3)):
        for n in (16, 64):
            cancel_all(dag)
            done = [r["id"] for r in runs(dag) if r["state"] in TERMINAL][:n]
            check(len(done) == n, "%d finished runs of %s" % (len(done), dag))
            s = Sampler(dag)
            got = burst(len(done), lambda i: req(
                "POST", "/api/v1/runs/%d/retry" % done[i], ADMIN, {}))
            most = s.stop()
            ok = [g for g in got if isinstance(g, tuple) and g[0] == 200]
            check(len(ok) == len(done), "retry x%d: %s" %
                  (n, [g for g in got if g not in ok][:3]))
            check(most <= cap, "retry x%d on %s: %d running, cap %d" %
                  (n, dag, most, cap))
            print("retry x%d on %s: at most %d running (cap %d)" %
                  (n, dag, most, cap), flush=True)
        cancel_all(dag)


def test_max_active_runs_flowing():
    """64 concurrent manual and event firings while a worker finishes
    runs: the held runs that start as others end keep the cap too."""
    stop = threading.Event()
    done = [0]

    def work():
        w = Worker("se-flow-w", ["se-flow"], slots=4)
        while not stop.is_set():
            for a in w.lease(4, 200):
                w.complete(a)
                done[0] += 1
    wt = threading.Thread(target=work)
    wt.start()
    s = Sampler("se-flow")
    burst(32, lambda i: req("POST", "/api/v1/dags/se-flow/runs", ADMIN, {}))
    burst(32, lambda i: event("se.flow", {"i": i}))
    wait_for(lambda: not [r for r in runs("se-flow")
                          if r["state"] not in TERMINAL], 60, 0.2)
    most = s.stop()
    stop.set()
    wt.join()
    left = [r for r in runs("se-flow") if r["state"] not in TERMINAL]
    check(not left, "se-flow runs never finished: %s" % left[:3])
    check(most <= 1, "se-flow: %d running at once, cap 1" % most)
    print("flowing: %d attempts completed, at most %d running (cap 1), "
          "%d samples" % (done[0], most, s.n), flush=True)


def test_cancel_queued_while_runs_end():
    """Queued runs canceled while a worker finishes the one that runs: a
    run's end starts the next queued run (DAG row, then that run) while a
    cancel holds a queued run; no transaction may deadlock, every cancel
    is answered (200, or 409 for a run already over), and every run not
    canceled still runs."""
    stop = threading.Event()

    def work():
        w = Worker("se-cq-w", ["se-flow"], slots=1)
        while not stop.is_set():
            for a in w.lease(1, 200):
                w.complete(a)
    ids = []
    for _ in range(40):
        code, b = req("POST", "/api/v1/dags/se-flow/runs", ADMIN, {})
        if code == 201:
            ids.append(b["run_id"])
    wt = threading.Thread(target=work)
    wt.start()
    try:
        # every other run, the newest first: those left must all run
        doomed = ids[::-2]
        got = burst(len(doomed), lambda i: req(
            "POST", "/api/v1/runs/%d/cancel" % doomed[i], ADMIN, {}))
    finally:
        wait_for(lambda: not [r for r in runs("se-flow")
                              if r["state"] not in TERMINAL], 60, 0.2)
        stop.set()
        wt.join()
    codes = sorted(set(g[0] for g in got if isinstance(g, tuple)))
    check(len(ids) == 40 and set(codes) <= {200, 409},
          "cancels while runs end: answers %s %s" % (
              codes, [g for g in got if not isinstance(g, tuple) or
                      g[0] not in (200, 409)][:3]))
    left = [r for r in runs("se-flow") if r["state"] not in TERMINAL]
    check(not left, "runs left unfinished: %s" % left[:3])
    kept = [r for r in runs("se-flow") if r["id"] in ids and
            r["id"] not in doomed]
    check(kept and all(r["state"] == "success" for r in kept),
          "runs not canceled did not all run: %s" % [
              (r["id"], r["state"]) for r in kept if r["state"] != "success"])
    print("cancel while runs end: %d runs, %d canceled, answers %s" % (
        len(ids), len(doomed), codes), flush=True)


def test_concurrency():
    """Four workers lease at once from a DAG with concurrency: 2."""
    ws = [Worker("se-conc-%d" % i, ["se-conc"], slots=8) for i in range(4)]
    code, b = req("POST", "/api/v1/dags/se-conc/runs", ADMIN, {})
    check(code == 201, "se-conc run: %d %s" % (code, b))
    held, most = [], 0
    for _ in range(6):
        got = burst(4, lambda i: ws[i].lease(8, 300))
        held += [(ws[i], a) for i, g in enumerate(got)
                 if isinstance(g, list) for a in g]
        most = max(most, len(held))
        for w, a in held[:1]:
            w.complete(a)
        held = held[1:]
    check(most == 2, "concurrency 2: %d tasks leased at once" % most)
    print("concurrency: at most %d tasks leased at once (cap 2)" % most,
          flush=True)
    cancel_all("se-conc")


def dag_json(dag):
    return req("GET", "/api/v1/dags/%s" % dag, READ)


def gone_check(dag, live):
    """What a DAG whose file is gone (live False) or back shows."""
    code, d = dag_json(dag)
    check(code == 200 and d.get("file_missing") is (not live) and
          d.get("state") == ("active" if live else "missing"),
          "%s with its file %s: %d %s" % (dag, "back" if live else "gone",
                                          code, d))
    code, b = req("GET", "/api/v1/dags/%s/triggers" % dag, READ)
    states = [t["state"] for t in b.get("triggers", [])]
    check(code == 200 and states and all(
        (s != "missing") if live else (s == "missing") for s in states),
        "%s triggers %s" % (dag, states))


def test_file_gone():
    """A DAG whose file is gone starts nothing and can be deleted."""
    path = os.path.join(DAGS, "gone.yaml")
    keep = path + ".away"
    code, b = req("POST", "/api/v1/dags/se-gone/runs", ADMIN, {})
    check(code == 201, "se-gone runs while its file is there: %d" % code)
    first = b.get("run_id")
    cancel_all("se-gone")
    os.rename(path, keep)
    # the watcher sees it go
    check(wait_for(lambda: dag_json("se-gone")[1].get("file_missing"), 15),
          "se-gone never became missing")
    gone_check("se-gone", False)
    code, b = req("POST", "/api/v1/dags/se-gone/runs", ADMIN, {})
    check(code == 409 and "file is gone" in b["error"]["message"],
          "a manual run of a missing DAG: %d %s" % (code, b))
    code, b = event("se.gone")
    check(code == 202 and b["runs"] == 0, "an event started %s" % b)
    code, b = hook("se-gone", 1)
    check(code == 409 and "file is gone" in b["error"]["message"],
          "a webhook of a missing DAG: %d %s" % (code, b))
    code, _, _ = call("POST", "/api/v1/hooks/se-gone/push", None,
                      data=b"{}")
    check(code == 401, "an unsigned webhook of a missing DAG: %d" % code)
    check(len(runs("se-gone")) == 1, "runs of se-gone: %s" % runs("se-gone"))
    # deleted: gone from the list, its run stays readable
    code, _, _ = call("DELETE", "/api/v1/dags/se-gone", ADMIN)
    check(code == 204, "delete a missing DAG: %d" % code)
    code, b = dag_json("se-gone")
    check(code == 404, "a deleted DAG: %d %s" % (code, b))
    code, b = req("GET", "/api/v1/dags", READ)
    check(not [d for d in b["dags"] if d["id"] == "se-gone"],
          "se-gone still listed")
    code, b = req("GET", "/api/v1/runs/%d" % first, READ)
    check(code == 200 and b["dag"] == "se-gone",
          "the run of a deleted DAG: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/dags/se-gone/runs", ADMIN, {})
    check(code == 404, "a run of a deleted DAG: %d %s" % (code, b))
    # the file comes back: active again
    os.rename(keep, path)
    check(wait_for(lambda: dag_json("se-gone")[0] == 200, 15),
          "se-gone did not come back")
    gone_check("se-gone", True)
    code, b = req("POST", "/api/v1/dags/se-gone/runs", ADMIN, {})
    check(code == 201, "se-gone back runs: %d %s" % (code, b))
    cancel_all("se-gone")
    # deleted with its runs
    code, _, _ = call("DELETE", "/api/v1/dags/se-gone", ADMIN)
    check(code == 409, "a DAG whose file is there is not deleted: %d" % code)
    os.rename(path, keep)
    check(wait_for(lambda: dag_json("se-gone")[1].get("file_missing"), 15),
          "se-gone never became missing again")
    code, _, _ = call("DELETE", "/api/v1/dags/se-gone?with_runs=nope", ADMIN)
    check(code == 400, "with_runs=nope: %d" % code)
    code, _, _ = call("DELETE", "/api/v1/dags/se-gone?with_runs=true", ADMIN)
    check(code == 204, "delete with its runs: %d" % code)
    code, b = req("GET", "/api/v1/runs/%d" % first, READ)
    check(code == 404, "a run deleted with its DAG: %d" % code)
    os.rename(keep, path)
    check(wait_for(lambda: dag_json("se-gone")[0] == 200, 15),
          "se-gone did not come back after a delete with its runs")


def test_unpause_cron():
    """Pause a cron DAG, let the scheduler rebuild its table (a new file
    in the folder), unpause: the next minute slot makes a run."""
    code, b = req("POST", "/api/v1/dags/se-cron/pause", ADMIN, {})
    check(code == 200 and b["paused"], "pause se-cron: %d %s" % (code, b))
    with open(os.path.join(DAGS, "tick.yaml"), "w") as f:
        f.write("dag: se-tick\nsteps:\n  - id: t\n    queue: se-none\n"
                "    run: \"true\"\n")
    check(wait_for(lambda: dag_json("se-tick")[0] == 200, 15),
          "se-tick was not loaded")
    time.sleep(1)  # the table rebuilt after the load, se-cron left out
    cancel_all("se-cron")
    before = {r["id"] for r in runs("se-cron")}
    code, b = req("POST", "/api/v1/dags/se-cron/unpause", ADMIN, {})
    check(code == 200 and not b["paused"], "unpause: %d %s" % (code, b))
    t0 = time.time()
    new = wait_for(lambda: [r for r in runs("se-cron")
                            if r["id"] not in before], 75, 0.5)
    check(new and new[0]["trigger"]["kind"] == "cron",
          "no cron run of se-cron within 75 s of its unpause: %s" % new)
    if new:
        print("unpause: the next slot fired %.1f s after the unpause" %
              (time.time() - t0), flush=True)
    cancel_all("se-cron")


def test_file_payload():
    """A file-triggered step sees event.payload.path and .size."""
    path = os.path.join(os.environ["WEIR_TEST_INCOMING"], "x.csv")
    with open(path, "w") as f:
        f.write("a,b\n")
    w = Worker("se-file-w", ["se-file"])
    got = wait_for(lambda: w.lease(1, 1000), 20)
    check(got and got[0]["command"] == "echo %s 4" % path,
          "the file-triggered step's command: %s" % got)
    if got:
        w.complete(got[0])


def test_approval_message():
    """A gate's message is rendered when the gate is reached: in the
    task JSON and in `weir run`."""
    w = Worker("se-gate-w", ["se-gate"])
    code, b = req("POST", "/api/v1/dags/se-gate/runs", ADMIN,
                  {"params": {"version": "2.5"}})
    check(code == 201, "se-gate run: %d %s" % (code, b))
    rid = b.get("run_id")
    a = w.one("build")
    if a:
        w.complete(a, outputs={"v": "abc"})
    want = "Deploy 2.5 (abc) to production?"
    code, r = req("GET", "/api/v1/runs/%d" % rid, READ)
    gate = [t for t in r.get("tasks", []) if t["step"] == "approve"]
    check(gate and gate[0]["state"] == "awaiting_approval" and
          gate[0].get("approval_message") == want,
          "the gate's message: %s" % gate)
    cli = os.environ.get("WEIR_TEST_CLI")
    if cli:
        env = dict(os.environ, WEIR_SERVER=BASE, WEIR_TOKEN=READ)
        p = subprocess.run([cli, "run", str(rid)], capture_output=True,
                           text=True, env=env, timeout=20)
        check(p.returncode == 0 and "approval: " + want in p.stdout,
              "weir run shows the message: %d %s %s" % (p.returncode,
                                                        p.stdout, p.stderr))
    req("POST", "/api/v1/runs/%d/cancel" % rid, ADMIN, {})


REPLY = b"reply-body-from-the-receiver"  # must not reach the server's stdout


def test_notify():
    """A notification's link opens the run in the dashboard, from the
    server's public URL; the receiver's reply body is discarded."""
    import http.server
    got = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            got.append(json.loads(self.rfile.read(n)))
            self.send_response(200)
            self.send_header("Content-Length", str(len(REPLY)))
            self.end_headers()
            self.wfile.write(REPLY)

        def log_message(self, *args):
            pass
    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with open(os.path.join(DAGS, "notify.yaml"), "w") as f:
            f.write("dag: se-notify\non_success: {webhook: \"http://127.0.0.1:"
                    "%d/hook\"}\nsteps:\n  - id: s\n    queue: se-notify\n"
                    "    run: \"true\"\n" % srv.server_address[1])
        check(wait_for(lambda: dag_json("se-notify")[0] == 200, 15),
              "se-notify was not loaded")
        time.sleep(0.5)  # a reload of the same text is harmless
        w = Worker("se-notify-w", ["se-notify"])
        code, b = req("POST", "/api/v1/dags/se-notify/runs", ADMIN, {})
        rid = b.get("run_id")
        a = w.one("s")
        if a:
            w.complete(a)
        wait_for(lambda: got, 20, 0.2)
        want = os.environ["WEIR_TEST_PUBLIC_URL"] + "/#/runs/%s" % rid
        check(got and got[0].get("link") == want,
              "notification link: want %s, got %s" % (want, got))
    finally:
        srv.shutdown()


SCENARIOS = {
    "events": test_events_no_cooldown,
    "cap": test_max_active_runs,
    "flow": test_max_active_runs_flowing,
    "cancelflow": test_cancel_queued_while_runs_end,
    "concurrency": test_concurrency,
    "gone": test_file_gone,
    "unpause": test_unpause_cron,
    "file": test_file_payload,
    "approval": test_approval_message,
    "notify": test_notify,
}

if __name__ == "__main__":
    names = sys.argv[1:] or list(SCENARIOS)
    run_tests("seams_engine", [SCENARIOS[n] for n in names])
