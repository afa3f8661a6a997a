# SPDX-License-Identifier: Apache-2.0
"""What the TLS tests (tls_test.py, netns_test.py) share: HTTPS calls with
a given CA and client certificate (urllib and ssl only), a weir-server and
weir-workers they start and stop themselves (every pid goes to
$WEIR_TMP/pids, which the shell's trap ends by id), and the serial of the
certificate a server presents.

Environment: WEIR_SERVER_BIN, WEIR_WORKER_BIN, WEIR_TMP (the test's
folder: dags/, scratch/, the logs), WEIR_DB_URL, WEIR_CERTS (the folder
of tls_certs.sh).
"""
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

from weirtest import alive, check, wait_for

SERVER_BIN = os.environ["WEIR_SERVER_BIN"]
WORKER_BIN = os.environ["WEIR_WORKER_BIN"]
TMP = os.environ["WEIR_TMP"]
DB = os.environ["WEIR_DB_URL"]
CERTS = os.environ["WEIR_CERTS"]


def cert(name):
    """The path of a file of tls_certs.sh's folder ("ca.pem", ...)."""
    return os.path.join(CERTS, name)


def note(*args):
    print("  ", *args, flush=True)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def remember(pid):
    with open(os.path.join(TMP, "pids"), "a") as f:
        f.write("%d\n" % pid)



def context(ca="ca.pem", client=None):
    """An SSL context that trusts only the CA file ca of the certificates
    folder, presenting client ("worker" for worker.pem/.key) when given."""
    ctx = ssl.create_default_context(cafile=cert(ca))
    if client:
        ctx.load_cert_chain(cert(client + ".pem"), cert(client + ".key"))
    return ctx


def call(base, method, path, token=None, body=None, ctx=None, timeout=20):
    """One request; (status, parsed JSON body or None). An HTTP error status
    is a reply; a TLS or network failure raises OSError."""
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(base + path, data=data, method=method)
    if token:
        r.add_header("Authorization", "Bearer " + token)
    if data is not None:
        r.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(r, timeout=timeout,
                                    context=ctx or context()) as resp:
            status, text = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    return status, json.loads(text or b"null")


def served_serial(host, port, ca="ca.pem"):
    """The serial number of the certificate the server presents now (a new
    connection, verified against ca)."""
    ctx = context(ca)
    with socket.create_connection((host, port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            return int(s.getpeercert()["serialNumber"], 16)


class Server:
    """weir-server with TLS flags of the caller's choosing, on host:0."""

    def __init__(self, host, *flags, name="server"):
        self.host = host
        self.log = os.path.join(TMP, name + ".log")
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [SERVER_BIN, "--database-url", DB, "--dags-dir",
                 os.path.join(TMP, "dags"), "--listen", host + ":0",
                 "--admin-token-file", os.path.join(TMP, "admin.token")] +
                list(flags), stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        remember(self.proc.pid)
        addr = wait_for(self._addr, 20)
        if not addr or addr == "exited":
            raise RuntimeError("weir-server did not start: " + read(self.log))
        self.port = int(addr.rsplit(":", 1)[1])
        self.base = "https://%s:%d" % (host, self.port)

    def _addr(self):
        m = re.search(r"event=listening addr=(\S+)", read(self.log))
        if m:
            return m.group(1)
        return "exited" if self.proc.poll() is not None else None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            got = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            got = self.proc.wait()
        check(got == 0, "weir-server exited %s on SIGTERM" % got)


def refused_start(*flags):
    """weir-server run with flags (and a database URL that is never used):
    (exit status, stderr). For settings refused before anything starts."""
    r = subprocess.run([SERVER_BIN, "--database-url", DB, "--dags-dir",
                        os.path.join(TMP, "dags")] + list(flags),
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stderr


class Worker:
    """weir-worker on server base with TLS flags; prefix runs it in
    another network namespace (["ip", "netns", "exec", NS])."""

    def __init__(self, name, base, token_file, *flags, queue="default",
                 slots=1, prefix=(), wait_registered=True, env=None):
        self.name = name
        self.log = os.path.join(TMP, "worker-%s.log" % name)
        os.makedirs(os.path.join(TMP, "scratch", name), exist_ok=True)
        args = list(prefix) + [
            WORKER_BIN, "--server", base, "--token-file", token_file,
            "--slots", str(slots), "--queue", queue, "--dags-dir",
            os.path.join(TMP, "dags"), "--name", name, "--scratch-dir",
            os.path.join(TMP, "scratch", name), "--shutdown-grace", "1s"]
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(list(args) + list(flags),
                                         stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=out,
                                         env=dict(os.environ, **(env or {})))
        remember(self.proc.pid)
        if wait_registered and not wait_for(
                lambda: "event=registered" in read(self.log) or
                self.proc.poll() is not None, 15):
            raise RuntimeError("worker %s did not register: %s" %
                               (name, read(self.log)))

    def registered(self):
        return "event=registered" in read(self.log)

    def stop(self):
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def wait_run(base, token, run_id, timeout, ctx=None):
    """The run once it is finished (or as it is after timeout s)."""
    last = [None]

    def done():
        code, b = call(base, "GET", "/api/v1/runs/%d" % run_id, token,
                       ctx=ctx)
        last[0] = b
        return code == 200 and b.get("state") in ("success", "failed",
                                                  "canceled")
    wait_for(done, timeout, 0.1)
    return last[0]


def trigger(base, token, dag, ctx=None):
    code, b = call(base, "POST", "/api/v1/dags/%s/runs" % dag, token, {},
                   ctx=ctx)
    check(code == 201, "trigger %s: %d %s" % (dag, code, b))
    return b.get("run_id") if isinstance(b, dict) else None


def now():
    return time.monotonic()
