# SPDX-License-Identifier: Apache-2.0
"""TLS against the real binaries (docs/security.md, "TLS"): weir-server
with --tls-cert/--tls-key on 127.0.0.1, then with --client-ca (mutual
TLS); weir-worker and weir with --ca-file / WEIR_CA_FILE and a client
certificate; the certificate reloaded on SIGHUP; the settings refused
at start.

Started by run_tls.sh, which provides PostgreSQL and the certificates
(tls_certs.sh: ca, other-ca, server, server2, worker, stranger) and
passes WEIR_CLI besides what tlstest.py reads.
"""
import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tlstest import (CERTS, SERVER_BIN, TMP, Server, Worker, call, cert,
                     context, note, read, refused_start, served_serial,
                     trigger, wait_run)
from weirtest import check, create_token, run_tests, wait_for, write_token

CLI = os.environ["WEIR_CLI"]
DB = os.environ["WEIR_DB_URL"]
LIVE_CERT = os.path.join(TMP, "live.pem")  # what --tls-cert names
LIVE_KEY = os.path.join(TMP, "live.key")  # what --tls-key names
HOOK_LOG = os.path.join(TMP, "hook.log")
T = {}  # tokens by role, and the worker token's file
S = {}  # the server of the current phase


def setup():
    for role in ("admin", "worker", "read"):
        T[role] = create_token(SERVER_BIN, DB, role, "tls-" + role)
    T["file"] = os.path.join(TMP, "worker.token")
    write_token(T["file"], T["worker"])
    shutil.copy(cert("server.pem"), LIVE_CERT)
    shutil.copy(cert("server.key"), LIVE_KEY)
    # a webhook receiver: the link of a run's notification shows the
    # public URL the server made of its own address
    port_file = os.path.join(TMP, "hook.port")
    p = subprocess.Popen([sys.executable, os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "hook_receiver.py"),
        port_file, HOOK_LOG], stdin=subprocess.DEVNULL)
    with open(os.path.join(TMP, "pids"), "a") as f:
        f.write("%d\n" % p.pid)
    wait_for(lambda: os.path.exists(port_file), 10)
    with open(os.path.join(TMP, "dags", "tls-hello.yaml"), "w") as f:
        f.write("dag: tls-hello\n"
                "on_success: {webhook: http://127.0.0.1:%s/}\n"
                "steps:\n"
                "  - id: hello\n"
                "    run: echo hello over TLS; echo \"$WEIR_TRY\" >> %s/ran\n"
                % (read(port_file).strip(), TMP))


# ---- phase 1: TLS, no client certificates ----

def test_start_tls():
    S["srv"] = Server("127.0.0.1", "--tls-cert", LIVE_CERT, "--tls-key",
                      LIVE_KEY, name="server-tls")
    note("TLS server on", S["srv"].base)
    check("tls=on" in read(S["srv"].log), "the server does not log tls=on")
    # the test's certificates last two days
    check("event=tls_expires_soon" in read(S["srv"].log),
          "no warning that the certificate expires within 14 days")


def test_plain_http_refused():
    """A plain HTTP request to the TLS port gets no HTTP answer."""
    srv = S["srv"]
    got = None
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/health" %
                                    srv.port, timeout=10) as r:
            got = r.status
    except urllib.error.HTTPError as e:
        got = e.code
    except (OSError, http.client.HTTPException) as e:
        note("plain HTTP refused:", type(e).__name__, e)
    check(got is None, "plain HTTP to the TLS server answered %s" % got)
    code, b = call(srv.base, "GET", "/api/v1/health")
    check(code == 200, "health over HTTPS: %s %s" % (code, b))


def test_worker_right_ca():
    """A worker that trusts the CA runs a step; the notification's link
    starts with https:// and the server's address."""
    srv = S["srv"]
    w = Worker("right-ca", srv.base, T["file"], "--ca-file", cert("ca.pem"))
    run_id = trigger(srv.base, T["admin"], "tls-hello")
    r = wait_run(srv.base, T["read"], run_id, 20)
    check(r and r.get("state") == "success",
          "the run over TLS did not succeed: %s" % r)
    worker = (r or {}).get("tasks", [{}])[0].get("attempts", [{}])[-1]
    check(worker.get("worker") == "right-ca",
          "the step did not run on the TLS worker: %s" % worker)
    link = "https://127.0.0.1:%d/#/runs/%s" % (srv.port, run_id)
    check(wait_for(lambda: link in read(HOOK_LOG), 10),
          "no notification links to %s: %s" % (link, read(HOOK_LOG)))
    w.stop()
    # the CA from the environment instead of the flag
    w = Worker("env-ca", srv.base, T["file"],
               env={"WEIR_CA_FILE": cert("ca.pem")})
    check(w.registered(), "a worker with WEIR_CA_FILE did not register")
    w.stop()


def test_worker_wrong_ca():
    """A worker that trusts another CA never registers, and says why."""
    srv = S["srv"]
    w = Worker("wrong-ca", srv.base, T["file"], "--ca-file",
               cert("other-ca.pem"), wait_registered=False)
    said = wait_for(lambda: "certificate" in read(w.log), 10)
    time.sleep(0.5)
    check(said and not w.registered(),
          "a worker trusting another CA: %s" % read(w.log))
    code, b = call(srv.base, "GET", "/api/v1/workers", T["read"])
    names = [x.get("name") for x in (b or {}).get("workers", [])]
    check(code == 200 and "wrong-ca" not in names,
          "the wrong-CA worker is known to the server: %s" % names)
    w.stop()
    # bad TLS files are said at start, naming the file
    for flags, want in (
            (["--ca-file", os.path.join(TMP, "nope.pem")], "nope.pem"),
            (["--ca-file", cert("ca.key")], "expected a PEM certificate"),
            (["--client-cert", cert("worker.pem")], "key is missing"),
            (["--client-cert", cert("worker.pem"), "--client-key",
              cert("stranger.key")], "does not match")):
        r = subprocess.run(
            [os.environ["WEIR_WORKER_BIN"], "--server", srv.base,
             "--token-file", T["file"], "--dags-dir",
             os.path.join(TMP, "dags"), "--scratch-dir",
             os.path.join(TMP, "scratch")] + flags,
            capture_output=True, text=True, timeout=20)
        check(r.returncode != 0 and want in r.stderr,
              "weir-worker %s: exit %d, %r" % (flags, r.returncode, r.stderr))


def cli(args, env_extra):
    env = dict(os.environ, WEIR_SERVER=S["srv"].base, WEIR_TOKEN=T["admin"])
    env.pop("WEIR_CA_FILE", None)
    env.update(env_extra)
    return subprocess.run([CLI] + args, capture_output=True, text=True,
                          env=env, timeout=30)


def test_cli_ca():
    """weir trusts the server with --ca-file or WEIR_CA_FILE, refuses it
    with another CA, and names a bad file."""
    r = cli(["--ca-file", cert("ca.pem"), "dags"], {})
    check(r.returncode == 0 and "tls-hello" in r.stdout,
          "weir --ca-file: %d %s %s" % (r.returncode, r.stdout, r.stderr))
    r = cli(["dags"], {"WEIR_CA_FILE": cert("ca.pem")})
    check(r.returncode == 0 and "tls-hello" in r.stdout,
          "WEIR_CA_FILE: %d %s %s" % (r.returncode, r.stdout, r.stderr))
    r = cli(["dags"], {"WEIR_CA_FILE": cert("other-ca.pem")})
    check(r.returncode == 1 and "certificate" in r.stderr,
          "weir with another CA: %d %s" % (r.returncode, r.stderr))
    r = cli(["dags"], {})
    check(r.returncode != 0 and "certificate" in r.stderr,
          "weir with the system's CAs: %d %s" % (r.returncode, r.stderr))
    r = cli(["--ca-file", os.path.join(TMP, "nope.pem"), "dags"], {})
    check(r.returncode == 2 and "nope.pem" in r.stderr and
          "--ca-file" in r.stderr,
          "weir --ca-file MISSING: %d %s" % (r.returncode, r.stderr))


def test_sighup_reload():
    """SIGHUP serves the new certificate; a bad one keeps the old."""
    srv = S["srv"]
    first = served_serial("127.0.0.1", srv.port)
    check(first == 0x1001, "served serial %x, not 1001" % first)
    shutil.copy(cert("server2.pem"), LIVE_CERT)
    shutil.copy(cert("server2.key"), LIVE_KEY)
    t0 = time.monotonic()
    srv.signal(signal.SIGHUP)
    got = wait_for(lambda: served_serial("127.0.0.1", srv.port) == 0x1002, 10)
    note("SIGHUP to the new certificate served: %.0f ms" %
         ((time.monotonic() - t0) * 1000))
    check(got, "after SIGHUP the server still serves serial %x" %
          served_serial("127.0.0.1", srv.port))
    # a key of another certificate: refused, logged, the pair in use stays
    shutil.copy(cert("server.key"), LIVE_KEY)
    srv.signal(signal.SIGHUP)
    check(wait_for(lambda: "event=tls_reload_failed" in read(srv.log), 10),
          "no tls_reload_failed after a bad reload")
    check("does not match" in read(srv.log),
          "the failed reload does not say why")
    check(served_serial("127.0.0.1", srv.port) == 0x1002,
          "a bad reload changed the served certificate")
    code, _ = call(srv.base, "GET", "/api/v1/health")
    check(code == 200, "health after a bad reload: %s" % code)
    shutil.copy(cert("server2.key"), LIVE_KEY)
    srv.stop()


# ---- phase 2: mutual TLS on the worker routes ----

def test_mutual_tls():
    """Worker routes need a client certificate signed by --client-ca, and
    the token as well; other routes need only the token."""
    srv = S["srv"] = Server("127.0.0.1", "--tls-cert", LIVE_CERT,
                            "--tls-key", LIVE_KEY, "--client-ca",
                            cert("ca.pem"), name="server-mtls")
    check("tls=mutual" in read(srv.log), "the server does not log tls=mutual")
    reg = {"name": "probe", "queues": ["default"], "slots": 1, "labels": {}}
    for who, ctx, token, want, said in (
            ("no certificate", context(), T["worker"], 403, "none was"),
            ("another CA's", context(client="stranger"), T["worker"], 403,
             "not signed"),
            ("a good one without a token", context(client="worker"), None,
             401, "token"),
            ("a good one", context(client="worker"), T["worker"], 200, "")):
        code, b = call(srv.base, "POST", "/api/v1/workers/register", token,
                       reg, ctx=ctx)
        msg = str((b or {}).get("error", {}).get("message", ""))
        check(code == want and said in msg,
              "register with %s: %d %s (want %d)" % (who, code, b, want))
    code, b = call(srv.base, "GET", "/api/v1/runs", T["read"])
    check(code == 200, "a read route without a client certificate: %d %s" %
          (code, b))
    # a worker without a client certificate is refused, and says why
    w = Worker("no-cert", srv.base, T["file"], "--ca-file", cert("ca.pem"),
               wait_registered=False)
    check(wait_for(lambda: "client certificate" in read(w.log), 10) and
          not w.registered(),
          "a worker without a client certificate: %s" % read(w.log))
    w.stop()
    w = Worker("with-cert", srv.base, T["file"], "--ca-file", cert("ca.pem"),
               "--client-cert", cert("worker.pem"), "--client-key",
               cert("worker.key"))
    run_id = trigger(srv.base, T["admin"], "tls-hello")
    r = wait_run(srv.base, T["read"], run_id, 20)
    check(r and r.get("state") == "success",
          "the run over mutual TLS did not succeed: %s" % r)
    w.stop()
    srv.stop()


# ---- settings refused at start ----

def test_refused_settings():
    for flags, want in (
            (["--listen", "0.0.0.0:0", "--allow-remote"], "--insecure-http"),
            (["--listen", "127.0.0.1:0", "--tls-cert", LIVE_CERT],
             "--tls-key is missing"),
            (["--listen", "127.0.0.1:0", "--client-ca", cert("ca.pem")],
             "--client-ca needs --tls-cert"),
            (["--listen", "127.0.0.1:0", "--tls-cert",
              os.path.join(TMP, "nope.pem"), "--tls-key", LIVE_KEY],
             "--tls-cert %s: cannot read it" % os.path.join(TMP, "nope.pem")),
            (["--listen", "127.0.0.1:0", "--tls-cert", cert("server.pem"),
              "--tls-key", cert("server2.key")], "does not match"),
            (["--listen", "127.0.0.1:0", "--tls-cert", cert("server.key"),
              "--tls-key", cert("server.key")], "expected PEM certificates"),
            (["--listen", "127.0.0.1:0", "--tls-cert", cert("expired.pem"),
              "--tls-key", cert("server.key")],
             "--tls-cert %s: the certificate expired on" %
             cert("expired.pem")),
            (["--listen", "127.0.0.1:0", "--tls-cert", LIVE_CERT,
              "--tls-key", LIVE_KEY, "--client-ca", cert("ca.key")],
             "--client-ca %s" % cert("ca.key"))):
        rc, err = refused_start(*flags)
        check(rc == 2 and want in err,
              "weir-server %s: exit %d, %r" % (flags, rc, err))
    r = subprocess.run([SERVER_BIN, "--help"], capture_output=True,
                       text=True, timeout=10)
    for flag in ("--tls-cert", "--tls-key", "--client-ca",
                 "--insecure-http"):
        check(flag in r.stdout, "weir-server --help lacks " + flag)
    r = subprocess.run([os.environ["WEIR_WORKER_BIN"], "--help"],
                       capture_output=True, text=True, timeout=10)
    for flag in ("--ca-file", "WEIR_CA_FILE", "--client-cert",
                 "--client-key"):
        check(flag in r.stdout, "weir-worker --help lacks " + flag)
    r = subprocess.run([CLI, "--help"], capture_output=True, text=True,
                       timeout=10)
    check("--ca-file" in r.stdout and "WEIR_CA_FILE" in r.stdout,
          "weir --help lacks --ca-file and WEIR_CA_FILE")


if __name__ == "__main__":
    note("certificates in", CERTS)
    setup()
    run_tests("tls", [test_start_tls, test_plain_http_refused,
                      test_worker_right_ca, test_worker_wrong_ca, test_cli_ca,
                      test_sighup_reload, test_mutual_tls,
                      test_refused_settings])
