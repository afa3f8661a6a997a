# SPDX-License-Identifier: Apache-2.0
"""Dispatch checks against a running weir-server (standard library only).

Environment: WEIR_URL, WEIR_ADMIN (admin token), WEIR_WORKER (worker
token), WEIR_READ (read token). DAGs come from tests/integration/perf_dags.
Exits 1 when a check failed.

gone: a worker whose lease long-poll is waiting closes its connection (it
was stopped); the next task must go to a worker still waiting, at once,
not to the one that left (its attempt would wait for its lease to expire).

complete_lease: a completion that asks for the next lease ("lease":
{"worker_id", "max"}) gets it claimed in its own transaction (the next
attempt starts at the instant the previous one finished); a stale
completion records and claims nothing; an unknown worker claims nothing
and the task stays for others; tasks the completion made claimable but
did not claim reach a waiting worker at once.

complete_more: completions batched in one call ("more"): each is fenced
on its own (a stale one gets 409, an unknown one 404, in "results"),
the others are recorded; the tasks they make ready are claimed in the
same transaction; a batch with nothing accepted claims nothing; a batch
naming one attempt twice is refused whole.

worker_client: weir-worker against a fake server (http.server) that
answers with Content-Length and chunked bodies, closes some connections
after answering without saying so, serves under a path prefix and sends a
large attempt document: the worker's HTTP client (libcurl) must run both
attempts (the second from the first's completion answer) and report them,
without a failed call, then stop cleanly with its scratch folder empty.
"""
import http.server
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.parse

from weirtest import (ADMIN, BASE, WORKER, Worker, check, req, run,
                      run_tests, trigger)


def register(name, queue):
    """A worker of one slot on queue; its id."""
    return Worker(name, [queue], 1).id


def raw_lease(worker_id, wait_ms):
    """Send a long-poll lease on a socket of our own and return it, not
    reading the answer: closing it is a worker that went away."""
    u = urllib.parse.urlparse(BASE)
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    body = json.dumps({"max": 1, "wait_ms": wait_ms}).encode()
    s.sendall(("POST /api/v1/workers/%d/lease HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer %s\r\nContent-Type: application/json"
               "\r\nContent-Length: %d\r\n\r\n" % (worker_id, WORKER, len(body))
               ).encode() + body)
    return s


def attempts_of(run_id):
    return [a for t in run(run_id).get("tasks", [])
            for a in t.get("attempts", [])]


def gone_once(round_no, settle_s):
    """One round: worker A (gone) and B (waiting); a trigger settle_s after
    A closed its connection must reach B."""
    a_id = register("perf-gone-a", "gone")
    b_id = register("perf-gone-b", "gone")
    sock = raw_lease(a_id, 20000)
    out = {}

    def waiter():
        code, b = req("POST", "/api/v1/workers/%d/lease" % b_id, WORKER,
                      {"max": 1, "wait_ms": 10000}, timeout=20)
        out["code"], out["body"], out["t"] = code, b, time.monotonic()
    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.3)  # both long-polls are waiting in the server
    sock.close()
    time.sleep(settle_s)
    t0 = time.monotonic()
    code, b = req("POST", "/api/v1/dags/gone/runs", ADMIN, {})
    check(code == 201, "trigger gone: %d %s" % (code, b))
    trig = b
    th.join(15)
    got = out.get("body", {}).get("attempts", []) if out.get("code") == 200 \
        else []
    check(len(got) == 1, "round %d: the waiting worker got %s" % (round_no, got))
    if got:
        dt = out["t"] - t0
        check(dt < 2.0, "round %d: the waiting worker got the task after "
              "%.2f s" % (round_no, dt))
        code, _ = req("POST", "/api/v1/attempts/%d/complete"
                      % got[0]["attempt_id"], WORKER,
                      {"lease_id": got[0]["lease_id"], "exit_code": 0})
        check(code == 200, "round %d: complete %d" % (round_no, code))
    b = trig
    run_id = b.get("run_id") if isinstance(b, dict) else None
    for a in attempts_of(run_id) if run_id else []:
        check(a.get("worker") == "perf-gone-b",
              "round %d: an attempt went to %s, not the waiting worker: %s"
              % (round_no, a.get("worker"), a))


def test_gone():
    # settle 0: the wake-up itself finds the client gone; 1.5 s: the
    # periodic check did, before any work arrived
    for i, settle in enumerate((0.05, 1.5, 0.05)):
        gone_once(i, settle)


def lease(worker_id, n=1, wait_ms=3000):
    code, b = req("POST", "/api/v1/workers/%d/lease" % worker_id, WORKER,
                  {"max": n, "wait_ms": wait_ms}, timeout=20)
    check(code == 200, "lease: %d %s" % (code, b))
    return b.get("attempts", []) if code == 200 else []


def complete(a, worker_id=None, lease_id=None, expect=200):
    body = {"lease_id": lease_id or a["lease_id"], "exit_code": 0,
            "outputs": {}}
    if worker_id is not None:
        body["lease"] = {"worker_id": worker_id, "max": 1}
    code, b = req("POST", "/api/v1/attempts/%d/complete" % a["attempt_id"],
                  WORKER, body)
    check(code == expect, "complete %s: %d (expected %d) %s"
          % (a["step"], code, expect, b))
    return b if isinstance(b, dict) else {}


def tasks_of(run_id):
    return {t["step"]: t for t in run(run_id).get("tasks", [])}


def test_complete_lease():
    w = register("perf-pair", "pair")
    # the next attempt is claimed in the completion's transaction
    rid = trigger("pair")
    got = lease(w)
    check(len(got) == 1 and got[0]["step"] == "a", "lease a: %s" % got)
    if not got:
        return
    a = got[0]
    b = complete(a, w)
    nxt = b.get("attempts", [])
    check(len(nxt) == 1 and nxt[0]["step"] == "b", "next lease %s" % b)
    t = tasks_of(rid)
    check(t["a"]["attempts"][0]["finished_at"] ==
          t["b"]["attempts"][0]["started_at"],
          "b did not start in a's completion transaction: %s / %s"
          % (t["a"]["attempts"][0], t["b"]["attempts"][0]))
    # the same completion again is stale: refused, and claims nothing
    b2 = complete(a, w, expect=409)
    check("attempts" not in b2, "a stale completion leased %s" % b2)
    check(len(tasks_of(rid)["b"]["attempts"]) == 1,
          "a stale completion made an attempt: %s" % tasks_of(rid)["b"])
    if nxt:
        complete(nxt[0])

    # a stale lease id with a lease request: nothing recorded or claimed
    rid = trigger("pair")
    got = lease(w)
    if not check(len(got) == 1, "lease a again: %s" % got):
        return
    complete(got[0], w, lease_id="00000000-0000-0000-0000-000000000000",
             expect=409)
    t = tasks_of(rid)
    check(t["a"]["state"] == "running" and t["b"]["state"] == "pending",
          "after a stale completion: a %s, b %s"
          % (t["a"]["state"], t["b"]["state"]))

    # an unknown worker claims nothing; the task stays for a real one
    b = complete(got[0], 987654321)
    check(b.get("attempts") == [], "an unknown worker leased %s" % b)
    check(tasks_of(rid)["b"]["state"] == "queued", "b not queued: %s"
          % tasks_of(rid)["b"]["state"])
    got = lease(w)
    check(len(got) == 1 and got[0]["step"] == "b", "lease b: %s" % got)
    for a in got:
        complete(a)


def test_complete_lease_wakes():
    w1 = register("perf-fork-1", "fork")
    w2 = register("perf-fork-2", "fork")
    trigger("fork")
    got = lease(w1)
    if not check(len(got) == 1 and got[0]["step"] == "a", "fork a: %s"
                 % got):
        return
    out = {}

    def waiter():
        code, b = req("POST", "/api/v1/workers/%d/lease" % w2, WORKER,
                      {"max": 1, "wait_ms": 10000}, timeout=20)
        out["body"], out["t"] = b, time.monotonic()
    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.3)  # the long-poll waits in the server
    t0 = time.monotonic()
    nxt = complete(got[0], w1).get("attempts", [])
    th.join(15)
    other = out.get("body", {}).get("attempts", [])
    check(len(nxt) == 1 and len(other) == 1 and
          {nxt[0]["step"], other[0]["step"]} == {"b", "c"},
          "b and c: the completion got %s, the waiting worker %s"
          % (nxt, other))
    if other:
        dt = out["t"] - t0
        check(dt < 1.0, "the waiting worker got its task after %.2f s" % dt)
    for a in nxt + other:
        complete(a)


def complete_more(first, others, worker_id=None, max_=None, expect=200):
    body = {"lease_id": first["lease_id"], "exit_code": 0, "outputs": {},
            "more": [dict({"attempt_id": a["attempt_id"], "exit_code": 0,
                           "outputs": {}}, lease_id=a["lease_id"])
                     for a in others]}
    if worker_id is not None:
        body["lease"] = {"worker_id": worker_id, "max": max_ or 1}
    code, b = req("POST", "/api/v1/attempts/%d/complete" % first["attempt_id"],
                  WORKER, body)
    check(code == expect, "batched completion: %d (expected %d) %s"
          % (code, expect, b))
    return b if isinstance(b, dict) else {}


def statuses(b):
    return [r.get("status") for r in b.get("results", [])]


def test_complete_more():
    w = register("perf-wide", "wide")
    rid = trigger("wide")
    cells = lease(w, 4)
    if not check(len(cells) == 4, "four cells: %s" % cells):
        return
    cells.sort(key=lambda a: a["attempt_id"])
    stale = dict(cells[2], lease_id="00000000-0000-0000-0000-000000000000")
    ghost = {"attempt_id": 987654321, "lease_id": "x"}
    # a duplicate attempt refuses the whole batch
    complete_more(cells[0], [cells[1], cells[1]], w, 2, expect=400)
    t = tasks_of(rid)
    check(t["cell"]["state"] == "running", "after a refused batch: %s"
          % t["cell"]["state"])
    # one accepted, one accepted in "more", one stale, one unknown
    b = complete_more(cells[0], [cells[1], stale, ghost], w, 4)
    check(statuses(b) == [200, 200, 409, 404], "results %s" % b)
    check(b.get("attempts") == [], "nothing to claim yet: %s" % b)
    got = {t["cell"]: t["state"] for t in run(rid).get("tasks", [])
           if t["step"] == "cell"}
    check(got == {0: "success", 1: "success", 2: "running", 3: "running"},
          "cells after the batch: %s" % got)
    # the last two: the join they make ready comes in the same answer
    b = complete_more(cells[2], [cells[3]], w, 2)
    nxt = b.get("attempts", [])
    check(statuses(b) == [200, 200] and len(nxt) == 1 and
          nxt[0]["step"] == "join", "join in the batch's answer: %s" % b)
    if nxt:
        att = {t["step"] + str(t["cell"]): t["attempts"][0]
               for t in run(rid).get("tasks", [])}
        check(att["join0"]["started_at"] == att["cell3"]["finished_at"],
              "join not claimed in the batch's transaction: %s %s"
              % (att["join0"], att["cell3"]))
        complete(nxt[0])
    # all stale: nothing recorded, nothing claimed (queued work stays)
    rid2 = trigger("wide")
    b = complete_more(cells[0], [cells[1]], w, 2)
    check(statuses(b) == [409, 409] and b.get("attempts") == [],
          "an all-stale batch: %s" % b)
    t = tasks_of(rid2)
    check(t["cell"]["state"] == "queued", "an all-stale batch claimed: %s"
          % t["cell"]["state"])
    for a in lease(w, 4):
        complete(a)
    for a in lease(w, 1):
        complete(a)


class Fake:
    """State of the fake server of test_worker_client."""

    def __init__(self, big):
        self.lock = threading.Lock()
        self.n = 0
        self.calls = []
        self.completions = {}
        self.done = threading.Event()
        doc = {"run_id": 1, "task_id": 1, "dag": "fake", "dag_path": None,
               "cell": 0, "try": 1, "workdir": None, "env": {}, "params": {},
               "matrix": None, "trigger": {"kind": "manual"},
               "timeout_ms": None, "kill_grace_ms": 1000}
        self.first = dict(doc, attempt_id=101, lease_id="L101", step="one",
                          inputs={"big": big},
                          command='echo "size=$(wc -c < "$WEIR_INPUTS")"'
                          ' >> "$WEIR_OUTPUTS"; echo hello')
        self.second = dict(doc, attempt_id=102, lease_id="L102", step="two",
                           inputs={}, command='echo "two=2" >> '
                           '"$WEIR_OUTPUTS"')
        self.to_lease = [self.first]

    def answer(self, path, body):
        if path.endswith("/workers/register"):
            return {"worker_id": 7, "lease_ttl_ms": 30000,
                    "heartbeat_interval_ms": 10000}
        if path.endswith("/lease"):
            with self.lock:
                give, self.to_lease = self.to_lease, []
            if not give:
                time.sleep(min(body.get("wait_ms", 0) / 1000.0, 0.3))
            return {"attempts": give}
        if path.endswith("/logs"):
            return {"inserted": len(body.get("lines", []))}
        if path.endswith("/complete"):
            aid = int(path.split("/")[-2])
            with self.lock:
                self.completions[aid] = body
                nxt = [self.second] if aid == 101 else []
                if len(self.completions) == 2:
                    self.done.set()
            return {"ok": True, "attempts": nxt}
        return {}


def fake_server(fake):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            try:
                self.serve()
            except (BrokenPipeError, ConnectionResetError):
                pass  # a long-poll the stopping worker gave up

        def serve(self):
            n = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(n) or b"{}")
            with fake.lock:
                fake.n += 1
                k = fake.n
                fake.calls.append((self.path,
                                   self.headers.get("Authorization")))
            data = json.dumps(fake.answer(self.path, body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if k % 3 == 0:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(0, len(data), 1000):
                    part = data[i:i + 1000]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            if k % 3 == 2:
                self.close_connection = True  # without a Connection: close

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_worker_client():
    binary = os.environ.get("WEIR_WORKER_BIN", "")
    tmp = os.environ.get("WEIR_TMP", "")
    if not (binary and os.path.exists(binary) and tmp):
        check(False, "worker_client: no WEIR_WORKER_BIN / WEIR_TMP")
        return
    big = "x" * 200000
    fake = Fake(big)
    srv = fake_server(fake)
    base = os.path.join(tmp, "wc")
    for d in ("dags", "scratch"):
        os.makedirs(os.path.join(base, d), exist_ok=True)
    with open(os.path.join(base, "token"), "w") as f:
        f.write("tok-123\n")
    os.chmod(os.path.join(base, "token"), 0o600)
    log = open(os.path.join(base, "worker.log"), "w+")
    w = subprocess.Popen(
        [binary, "--server", "http://127.0.0.1:%d/base/" % srv.server_port,
         "--token-file", os.path.join(base, "token"),
         "--dags-dir", os.path.join(base, "dags"),
         "--scratch-dir", os.path.join(base, "scratch"),
         "--name", "fake", "--slots", "2", "--queue", "q"],
        stdout=log, stderr=log)
    try:
        check(fake.done.wait(20), "worker_client: both attempts reported: %s"
              % sorted(fake.completions))
    finally:
        w.send_signal(signal.SIGTERM)
        try:
            rc = w.wait(15)
        except subprocess.TimeoutExpired:
            w.kill()
            rc = w.wait()
        srv.shutdown()
    log.seek(0)
    text = log.read()
    check(rc == 0, "worker_client: the worker exited %s" % rc)
    c1 = fake.completions.get(101, {})
    c2 = fake.completions.get(102, {})
    check(c1.get("exit_code") == 0 and c1.get("outputs") ==
          {"size": str(len(json.dumps({"big": big}, separators=(",", ":"))))},
          "worker_client: completion 101 %s" % str(c1)[:300])
    check(c1.get("lease") == {"worker_id": 7, "max": 1},
          "worker_client: 101's completion asked %s" % c1.get("lease"))
    check(c2.get("exit_code") == 0 and c2.get("outputs") == {"two": "2"},
          "worker_client: completion 102 %s" % str(c2)[:300])
    check(all(p.startswith("/base/api/v1/") and a == "Bearer tok-123"
              for p, a in fake.calls),
          "worker_client: paths and tokens %s" % fake.calls[:5])
    check("call_failed" not in text and "scratch_left" not in text,
          "worker_client: failures in the worker's log:\n" + text[-2000:])
    check(os.listdir(os.path.join(base, "scratch")) == [],
          "worker_client: scratch left %s"
          % os.listdir(os.path.join(base, "scratch")))


run_tests("perf_test", [test_gone, test_complete_lease,
                       test_complete_lease_wakes, test_complete_more,
                       test_worker_client])
