# SPDX-License-Identifier: Apache-2.0
"""What the Python integration tests share (urllib only): one HTTP request
to weir-server, the list of failed checks, tokens made by `weir-server
--create-token`, a worker that is the test itself (register, lease, beat,
complete over the HTTP worker protocol), bounded waits, and the loop that
runs a test's scenarios.

The run_*.sh drivers pass the server and its tokens in the environment:
WEIR_URL, WEIR_ADMIN, WEIR_WORKER, WEIR_READ. Each is optional here, as a
test that starts its own server (faults_test.py) or a benchmark has none.
The tests import this file from their own folder; bench/ adds this folder
to sys.path.
"""
import json
import os
import signal
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request

BASE = os.environ.get("WEIR_URL", "")  # the server, http://host:port
ADMIN = os.environ.get("WEIR_ADMIN", "")  # an admin token
WORKER = os.environ.get("WEIR_WORKER", "")  # a worker token
READ = os.environ.get("WEIR_READ", "")  # a read token
TERMINAL = ("success", "failed", "canceled")  # the states of a finished run
failures = []  # what each failed check said, in order


def check(cond, what):
    """Records what as a failure (and prints it) unless cond; returns
    cond, so a caller can skip what depends on it."""
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr, flush=True)
    return cond


def call(method, path, token, body=None, data=None,
         ctype="application/json", headers=None, timeout=30, base=None):
    """One request to base (BASE by default) + path, with the bearer token
    when there is one. body is sent as JSON; data (bytes) as it is. The
    Content-Type is ctype (none when ctype is None). Returns (status, the
    body as bytes, the headers): an HTTP error status is a reply, not an
    exception; a network error raises OSError."""
    if body is not None:
        data = json.dumps(body).encode()
    r = urllib.request.Request((base or BASE) + path, data=data,
                               method=method)
    if token:
        r.add_header("Authorization", "Bearer " + token)
    if data is not None and ctype:
        r.add_header("Content-Type", ctype)
    for k, v in (headers or {}).items():
        r.add_header(k, v)
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            return resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def req(method, path, token, body=None, **kw):
    """call() with the reply parsed as JSON: (status, value), None for an
    empty body. A body that is not JSON raises ValueError."""
    status, text, _ = call(method, path, token, body, **kw)
    return status, json.loads(text or b"null")


def trigger(dag, body=None, expect=201, token=None):
    """Starts a run of dag (POST .../runs with body, none when None) and
    checks the status is expect. Returns the run id, or None."""
    code, b = req("POST", "/api/v1/dags/%s/runs" % dag, token or ADMIN, body)
    check(code == expect, "trigger %s: HTTP %d %s" % (dag, code, b))
    return b.get("run_id") if isinstance(b, dict) else None


def run(run_id):
    """GET /api/v1/runs/ID with the read token, checked to be a 200."""
    code, b = req("GET", "/api/v1/runs/%d" % run_id, READ)
    check(code == 200, "get run %s: %d %s" % (run_id, code, b))
    return b


def create_token(server_bin, db_url, role, name=None, env=None):
    """A new token of role (named name) made by `weir-server
    --create-token` on the database db_url. Raises RuntimeError, with
    what the server said, when it cannot."""
    argv = [server_bin, "--create-token", role]
    if name:
        argv += ["--token-name", name]
    argv += ["--database-url", db_url]
    r = subprocess.run(argv, capture_output=True, text=True, env=env)
    lines = r.stdout.strip().splitlines()
    if r.returncode != 0 or not lines:
        raise RuntimeError("cannot create a %s token: %s" % (role, r.stderr))
    return lines[-1]


def write_token(path, token):
    """Writes token to path with mode 600, as weir-worker --token-file
    wants it."""
    with open(path, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)


def wait_for(cond, timeout, step=0.1):
    """Calls cond every step s until it returns a true value or timeout s
    have passed. Returns its last value."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


def alive(pid):
    """Whether process pid runs (a zombie does not count; a process reaped
    between the open and the read of its stat file does not either)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


class Worker:
    """A worker that is this script, on WORKER's token: every reply it gets
    is checked."""

    def __init__(self, name, queues, slots=4, labels=None):
        code, b = req("POST", "/api/v1/workers/register", WORKER,
                      {"name": name, "queues": queues, "slots": slots,
                       "labels": labels or {}})
        check(code == 200, "register: %d %s" % (code, b))
        self.id = b["worker_id"]
        self.reg = b  # the whole register reply

    def lease(self, n=1, wait_ms=0):
        """Up to n attempts, waiting up to wait_ms for the first."""
        code, b = req("POST", "/api/v1/workers/%d/lease" % self.id, WORKER,
                      {"max": n, "wait_ms": wait_ms}, timeout=70)
        check(code == 200, "lease: %d %s" % (code, b))
        return b.get("attempts", []) if code == 200 else []

    def one(self, step, wait_ms=3000):
        """One attempt, checked to be of step; None when there is none."""
        got = self.lease(1, wait_ms)
        check(len(got) == 1 and got[0]["step"] == step,
              "expected one attempt of %s, got %s" % (step, got))
        return got[0] if got else None

    def beat(self, a):
        """A heartbeat for attempt a: (status, reply)."""
        return req("POST", "/api/v1/attempts/%d/heartbeat" % a["attempt_id"],
                   WORKER, {"lease_id": a["lease_id"]})

    def complete(self, a, exit_code=0, outputs=None, expect=200, lease=None,
                 lease_id=None, **extra):
        """Completes attempt a (under lease_id instead of its own when
        given), checked to answer expect; lease=N asks for up to N more
        attempts in the reply. extra goes into the body as it is."""
        body = {"lease_id": lease_id or a["lease_id"], "exit_code": exit_code,
                "outputs": outputs or {}}
        body.update(extra)
        if lease:
            body["lease"] = {"worker_id": self.id, "max": lease}
        code, b = req("POST", "/api/v1/attempts/%d/complete" %
                      a["attempt_id"], WORKER, body)
        check(code == expect, "complete %s: %d %s" % (a["step"], code, b))
        return b


class WorkerProcess:
    """A real weir-worker (binary) serving queue with the token, its
    output in TMP/worker-NAME.log; args are more options (--server ...).
    Each one started is appended to started; stop() ends it with SIGTERM
    (a check fails when it does not stop within 15 s)."""

    def __init__(self, binary, tmp, token, name, dags, queue, args, started):
        self.name = name
        self.log = os.path.join(tmp, "worker-%s.log" % name)
        tok = os.path.join(tmp, "worker-%s.token" % name)
        write_token(tok, token)
        scratch = os.path.join(tmp, "scratch-" + name)
        os.makedirs(scratch, exist_ok=True)
        argv = [binary, "--token-file", tok, "--dags-dir", dags,
                "--scratch-dir", scratch, "--name", name, "--queue", queue,
                "--shutdown-grace", "1s"] + list(args)
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=out)
        started.append(self)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                check(False, "worker %s did not stop on SIGTERM" % self.name)
                self.proc.kill()
                self.proc.wait()


def run_main(name, body, workers):
    """Runs body() (one that raises fails the test), then stops every
    WorkerProcess of workers, prints how long it took and the failures,
    and exits 1 when a check failed, 0 otherwise."""
    t0 = time.monotonic()
    try:
        body()
    except Exception as e:  # a crash fails the test, workers still stop
        traceback.print_exc()
        check(False, "raised %r" % e)
    finally:
        for w in workers:
            w.stop()
    print("%s: %.1f s, %d failure(s)" % (name, time.monotonic() - t0,
                                         len(failures)), flush=True)
    raise SystemExit(1 if failures else 0)


def run_tests(name, tests):
    """Runs each test function in order (one that raises fails, the rest
    still run), prints how long it took and the failures, and exits 1 when
    a check failed, 0 otherwise."""
    t0 = time.monotonic()
    for t in tests:
        try:
            t()
        except Exception as e:  # a crash in one scenario fails it, not all
            traceback.print_exc()
            check(False, "%s raised %r" % (t.__name__, e))
    print("%s: %.1f s, %d failure(s)" % (name, time.monotonic() - t0,
                                         len(failures)))
    sys.exit(1 if failures else 0)
