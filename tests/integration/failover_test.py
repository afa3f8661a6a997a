# SPDX-License-Identifier: Apache-2.0
"""Workers and the CLI with several servers, against two real weir-servers
on one database (run_failover.sh starts them):

- a weir-worker given --server A --server B runs a step that sleeps; A is
  killed with SIGKILL mid-run; the attempt's heartbeats (4 s leases),
  lines and completion go through B: one attempt, its output recorded, no
  retry; a run triggered on B after the kill is leased through B (the time
  from the kill to that lease is printed); the worker logs
  event=server_switched;
- the CLI with WEIR_SERVER=A,B, and with --server A --server B, lists runs
  while A is dead;
- a worker whose copy of a DAG file differs from the server's, or lacks
  it, fails the attempt (not retried) with a message naming the file, both
  hashes and what to do; an identical copy and a DAG submitted over the
  API (no file) run;
- a register call declaring a newer protocol major gets a 4xx naming both
  versions, the current or no header is served; a real weir-worker
  given that refusal (by a stand-in server replaying it) logs it and exits
  non-zero.

Environment: WEIR_URL_A, WEIR_URL_B, WEIR_PID_A, WEIR_ADMIN, WEIR_WORKER,
WEIR_READ, WEIR_TEST_TMP, WEIR_WORKER_BIN, WEIR_CLI.
"""
import datetime
import hashlib
import http.server
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import weirtest
from weirtest import check, wait_for

A = os.environ["WEIR_URL_A"]
B = os.environ["WEIR_URL_B"]
PID_A = int(os.environ["WEIR_PID_A"])
ADMIN = os.environ["WEIR_ADMIN"]
WORKER_TOKEN = os.environ["WEIR_WORKER"]
READ = os.environ["WEIR_READ"]
TMP = os.environ["WEIR_TEST_TMP"]
WORKER_BIN = os.environ["WEIR_WORKER_BIN"]
CLI = os.environ["WEIR_CLI"]
HINT = "deploy the same revision of the DAGs folder on servers and workers"
workers = []  # every weir-worker started, stopped at the end


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def req(method, path, token, body=None, base=B, **kw):
    return weirtest.req(method, path, token, body, base=base, **kw)


class Worker(weirtest.WorkerProcess):
    """A real weir-worker; its output in TMP/worker-NAME.log."""

    def __init__(self, name, servers, dags, queue="default", slots=1):
        args = ["--slots", str(slots)]
        for s in servers:
            args += ["--server", s]
        super().__init__(WORKER_BIN, TMP, WORKER_TOKEN, name, dags, queue,
                         args, workers)


def trigger(dag, base):
    code, b = req("POST", "/api/v1/dags/%s/runs" % dag, ADMIN, {}, base=base)
    check(code == 201, "trigger %s on %s: HTTP %s %s" % (dag, base, code, b))
    return b.get("run_id") if isinstance(b, dict) else None


def get_run(rid):
    code, b = req("GET", "/api/v1/runs/%d" % rid, READ)
    return b if code == 200 else None


def wait_run(rid, timeout):
    def done():
        r = get_run(rid)
        return r if r and r["state"] in weirtest.TERMINAL else None
    return wait_for(done, timeout, 0.1) or get_run(rid)


def attempts(run):
    return [a for t in (run or {}).get("tasks", []) for a in t["attempts"]]


def log_lines(attempt_id):
    code, b = req("GET", "/api/v1/attempts/%d/logs?limit=1000" % attempt_id,
                  READ)
    return [l["line"] for l in b["lines"]] if code == 200 else []


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def iso_s(text):
    """Seconds since the epoch of the server's ISO time (ms, UTC)."""
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def stub_server(status, body):
    """A stand-in server on 127.0.0.1 answering every call with status and
    body (bytes); returns it, serving in a thread, and its URL."""
    class Stub(http.server.BaseHTTPRequestHandler):
        def answer(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = answer

        def log_message(self, *args):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, "http://127.0.0.1:%d" % srv.server_port


def test_server_killed():
    """The worker's server is killed mid-run: the attempt ends through B,
    new runs are leased through B."""
    w = Worker("both", [A, B], os.path.join(TMP, "dags"), slots=2)
    check(wait_for(lambda: "event=registered" in read(w.log), 10),
          "the worker did not register: %s" % read(w.log)[-2000:])
    check("server=%s " % A in read(w.log),
          "the worker did not start on the first server: %s" % read(w.log))
    rid = trigger("fo_long", A)
    started = wait_for(
        lambda: os.path.exists(os.path.join(TMP, "fo_long.started")), 15)
    check(started, "fo_long did not start: %s" % read(w.log)[-2000:])
    time.sleep(0.5)  # its first lines on their way
    os.kill(PID_A, signal.SIGKILL)
    killed = time.time()
    quick = trigger("fo_quick", B)
    qrun = wait_run(quick, 20) if quick else None
    lease_s = None
    if check(qrun and qrun["state"] == "success",
             "a run after the kill: %s" % qrun):
        lease_s = iso_s(attempts(qrun)[0]["started_at"]) - killed
        print("server kill to the worker's next lease through B: %.0f ms"
              % (lease_s * 1000), flush=True)
        check(lease_s <= 5.0, "the next lease came %.1f s after the kill"
              % lease_s)
        check(attempts(qrun)[0]["worker"] == "both",
              "fo_quick ran on %s" % attempts(qrun)[0]["worker"])
    run = wait_run(rid, 25) if rid else None
    tries = attempts(run)
    if check(run and run["state"] == "success" and len(tries) == 1,
             "the attempt across the kill: run %s, attempts %s" % (
                 run and run["state"], tries)):
        a = tries[0]
        check(a["state"] == "success" and a["try"] == 1 and
              a["outputs"] == {"result": "42"},
              "its result: %s" % a)
        lines = log_lines(a["id"])
        check("before" in lines and "after" in lines,
              "its lines, before and after the kill: %s" % lines)
    text = read(w.log)
    check("event=server_switched from=%s to=%s" % (A, B) in text,
          "no server_switched from A to B in the worker's log: %s"
          % text[-3000:])
    check(w.proc.poll() is None, "the worker exited: %s" % text[-2000:])
    more = trigger("fo_quick", B)
    r = wait_run(more, 20) if more else None
    check(r and r["state"] == "success", "a second run after the kill: %s"
          % r)
    w.stop()
    check(w.proc.returncode == 0, "the worker exited %s on SIGTERM"
          % w.proc.returncode)
    return lease_s


def cli_runs(env_servers=None, flags=()):
    env = dict(os.environ, WEIR_TOKEN=READ)
    env.pop("WEIR_SERVER", None)
    if env_servers:
        env["WEIR_SERVER"] = env_servers
    return subprocess.run([CLI, "runs", *flags], env=env, capture_output=True,
                          text=True, timeout=30)


def test_cli():
    """The CLI with a list whose first server is dead (or answers 503)
    uses the next."""
    down, down_url = stub_server(503, b'{"error": {"code": "UNAVAIL"}}')
    for how, p in (("WEIR_SERVER=A,B", cli_runs("%s,%s" % (A, B))),
                   ("--server A --server B",
                    cli_runs(None, ("--server", A, "--server", B))),
                   ("WEIR_SERVER=<503>,B", cli_runs("%s,%s" % (down_url, B)))):
        check(p.returncode == 0 and "fo_long" in p.stdout,
              "weir runs with %s (A dead): exit %d %s %s"
              % (how, p.returncode, p.stdout, p.stderr))
    p = cli_runs(A)
    check(p.returncode != 0 and "cannot reach" in p.stderr,
          "weir runs with only the dead server: exit %d %s"
          % (p.returncode, p.stderr))
    down.shutdown()


def acting_stub():
    """A stand-in server that acts on each POST (forwards it to B) and
    then dies without answering, as a server killed after its commit;
    returns it, serving in a thread, and its URL."""
    class Acting(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            weirtest.call("POST", self.path,
                          self.headers["Authorization"].split(" ", 1)[1],
                          json.loads(body or b"{}"), base=B)
            self.close_connection = True  # no answer at all

        def log_message(self, *args):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Acting)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, "http://127.0.0.1:%d" % srv.server_port


def test_cli_post_once():
    """A POST that reached a server which died before answering is not
    sent again to the next server of the list: one run, not two."""
    def n_runs():
        code, b = req("GET", "/api/v1/runs?dag=fo_quick&limit=100", READ)
        check(code == 200, "list the runs of fo_quick: HTTP %s" % code)
        return len(b["runs"]) if code == 200 else -1
    stub, url = acting_stub()
    before = n_runs()
    env = dict(os.environ, WEIR_TOKEN=ADMIN, WEIR_SERVER="%s,%s" % (url, B))
    p = subprocess.run([CLI, "trigger", "fo_quick"], env=env,
                       capture_output=True, text=True, timeout=30)
    after = n_runs()
    check(after == before + 1,
          "weir trigger through <acted, then died>,B: %d run(s) made, "
          "expected 1 (exit %d %s %s)" % (after - before, p.returncode,
                                          p.stdout, p.stderr))
    check(p.returncode != 0 and "cannot reach" in p.stderr,
          "weir trigger whose server died unanswered: exit %d %s"
          % (p.returncode, p.stderr))
    stub.shutdown()
    # A (killed) refuses the connection: nothing went out, so B gets it
    env["WEIR_SERVER"] = "%s,%s" % (A, B)
    p = subprocess.run([CLI, "trigger", "fo_quick"], env=env,
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 0 and n_runs() == after + 1,
          "weir trigger through <refused>,B: exit %d, %d run(s) made %s"
          % (p.returncode, n_runs() - after, p.stderr))


def test_dag_copy():
    """A worker whose DAG file differs (or is missing) refuses the attempt;
    an identical copy and an API DAG run."""
    own = os.path.join(TMP, "dags-drift")
    os.makedirs(own, exist_ok=True)
    shutil.copy(os.path.join(TMP, "dags", "fo_same.yaml"), own)
    shutil.copy(os.path.join(TMP, "dags", "fo_drift.yaml"), own)
    with open(os.path.join(own, "fo_drift.yaml"), "a") as f:
        f.write("# edited on this worker only\n")
    # its first server answers 503 (up, its database not): it moves on
    down, down_url = stub_server(503, b'{"error": {"code": "UNAVAIL"}}')
    w = Worker("drift", [down_url, B], own, queue="drift")
    api_dag = ("dag: fo_api\ndefaults:\n  queue: drift\nsteps:\n"
               "  - id: step\n    run: echo from-the-api\n")
    code, _, _ = weirtest.call("POST", "/api/v1/dags", ADMIN,
                               data=api_dag.encode(),
                               ctype="application/yaml", base=B)
    check(code in (200, 201), "submit fo_api: HTTP %s" % code)
    runs = {d: trigger(d, B) for d in ("fo_drift", "fo_gone", "fo_same",
                                        "fo_api")}
    done = {d: wait_run(rid, 20) if rid else None for d, rid in runs.items()}
    for d in ("fo_same", "fo_api"):
        check(done[d] and done[d]["state"] == "success",
              "%s on the drift worker: %s" % (d, done[d]))
    for d, what in (("fo_drift", "differs from the server's"),
                    ("fo_gone", "cannot be read")):
        r = done[d]
        tries = attempts(r)
        if not check(r and r["state"] == "failed" and len(tries) == 1,
                     "%s: run %s, attempts %s" % (d, r and r["state"], tries)):
            continue
        err = tries[0]["error"] or ""
        lines = "\n".join(log_lines(tries[0]["id"]))
        want = ["%s.yaml" % d, what, HINT, "sha256"]
        check(all(x in err for x in want),
              "%s: the attempt's error %r lacks %s" % (d, err, want))
        check(all(x in lines for x in want) and
              "should-not-run" not in lines,
              "%s: the attempt's log %r" % (d, lines))
    # both hashes, short: the worker's copy and the server's file
    tries = attempts(done["fo_drift"])
    if tries:
        err = tries[0]["error"] or ""
        mine = sha256_of(os.path.join(own, "fo_drift.yaml"))[:12]
        theirs = sha256_of(os.path.join(TMP, "dags", "fo_drift.yaml"))[:12]
        check("worker sha256 %s, server sha256 %s" % (mine, theirs) in err,
              "fo_drift: the hashes %s (worker) and %s (server) not in %r"
              % (mine, theirs, err))
    text = read(w.log)
    check("event=server_switched from=%s to=%s" % (down_url, B) in text,
          "the drift worker did not move from the 503 server to B: %s"
          % text[-2000:])
    w.stop()
    down.shutdown()


def test_protocol():
    """A newer protocol major is refused, naming both versions; the
    worker that gets the refusal exits non-zero and says why."""
    body = {"name": "proto", "queues": ["none"], "slots": 1}
    refusal = None
    for value, want in (("2", 400), ("7.3", 400), ("1", 200), ("1.9", 200),
                        (None, 200), ("x1", 400)):
        hdrs = {"Weir-Protocol": value} if value is not None else {}
        code, text, _ = weirtest.call("POST", "/api/v1/workers/register",
                                      WORKER_TOKEN, body, headers=hdrs,
                                      base=B)
        check(code == want, "register with Weir-Protocol %s: HTTP %d %s"
              % (value, code, text))
        if value == "2":
            refusal = text
            msg = json.loads(text)["error"]["message"]
            check(json.loads(text)["error"]["code"] == "PROTOCOL" and
                  "version 2" in msg and "only 1" in msg,
                  "the refusal names both versions: %s" % text)
        if value == "x1":
            check(b"Weir-Protocol" in text, "a malformed header: %s" % text)
    # a stand-in server that answers as B did to the newer worker
    stub, url = stub_server(400, refusal)
    w = Worker("newer", [url],
               os.path.join(TMP, "dags"), queue="none")
    try:
        code = w.proc.wait(15)
    except subprocess.TimeoutExpired:
        code = None
    text = read(w.log)
    check(code is not None and code != 0,
          "the refused worker exited %s: %s" % (code, text[-2000:]))
    check("event=protocol_refused" in text and "version 2" in text and
          "only 1" in text,
          "the refused worker's log: %s" % text[-2000:])
    stub.shutdown()


def main():
    def body():
        test_server_killed()
        test_cli()
        test_cli_post_once()
        test_dag_copy()
        test_protocol()
    weirtest.run_main("failover_test", body, workers)


if __name__ == "__main__":
    main()
