# SPDX-License-Identifier: Apache-2.0
"""Dispatch checks against a running weir-server (standard library only).

Environment: WEIR_URL, WEIR_ADMIN (admin token), WEIR_WORKER (worker
token), WEIR_READ (read token). DAGs come from tests/integration/perf_dags.
Exits 1 when a check failed.

gone: a worker whose lease long-poll is waiting closes its connection (it
was stopped); the next task must go to a worker still waiting, at once,
not to the one that left (its attempt would wait for its lease to expire).
"""
import json
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

BASE = os.environ["WEIR_URL"]
ADMIN = os.environ["WEIR_ADMIN"]
WORKER = os.environ["WEIR_WORKER"]
READ = os.environ["WEIR_READ"]
failures = []


def req(method, path, token, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(BASE + path, data=data, method=method)
    r.add_header("Authorization", "Bearer " + token)
    if data is not None:
        r.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def register(name, queue):
    code, b = req("POST", "/api/v1/workers/register", WORKER,
                  {"name": name, "queues": [queue], "slots": 1})
    check(code == 200, "register %s: %d %s" % (name, code, b))
    return b["worker_id"]


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
    code, b = req("GET", "/api/v1/runs/%d" % run_id, READ)
    check(code == 200, "get run %d: %d" % (run_id, code))
    return [a for t in b.get("tasks", []) for a in t.get("attempts", [])]


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


def main():
    test_gone()
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        sys.exit(1)
    print("perf_test: all checks passed")


if __name__ == "__main__":
    main()
