# SPDX-License-Identifier: Apache-2.0
"""Secrets against the real binaries: weir-server, weir-worker and weir.

Started by run_secrets.sh, which provides a private PostgreSQL and, when
it may, a network namespace (WEIR_NETNS, with WEIR_REMOTE_ADDR inside).
This file starts and restarts the servers and the worker; every pid goes
to $WEIR_TMP/pids so that the shell's trap can end them by id. Checks:

- bad key files (mode, content, missing) stop the server with a message
  naming the file; a server without a key answers 503 on the routes;
- `weir secret set` (stdin) / list / delete; a read token is refused;
- a DAG naming an unknown secret, or templating one outside env:, fails
  to load at file:line:col;
- a secret inside an expression is refused at load; a cut outputs line
  shows none of a secret; each line of a PEM value is masked; a secret
  set with --dag is refused to other DAGs at record and at lease;
- a step that prints its secret, one that prints it in two writes with
  a sleep between, one that puts it in an output (through env:
  templating): the stored log and outputs hold ***, the value of the
  run's environment is the one delivered, an environment without the
  secret fails the attempt naming both;
- a worker of another queue never receives a value;
- a dump of the whole database holds no value;
- rotate-key re-seals every row under the new first key; the values
  still open with the new key alone, and a server without that key
  fails the attempt saying so;
- (namespace) a plain-HTTP lease from a non-loopback address gets no
  secret and the attempt fails saying why.
"""
import glob
import json
import os
import re
import secrets as pyrandom
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import weirtest
from weirtest import check, create_token, wait_for

SERVER_BIN = os.environ["WEIR_SERVER_BIN"]
WORKER_BIN = os.environ["WEIR_WORKER_BIN"]
CLI = os.environ["WEIR_CLI"]
TMP = os.environ["WEIR_TMP"]
DB = os.environ["WEIR_DB_URL"]
NETNS = os.environ.get("WEIR_NETNS", "")
REMOTE = os.environ.get("WEIR_REMOTE_ADDR", "")
CERTS = os.environ.get("WEIR_CERTS", "")

PW = "hunter2-Zq9vXw"      # DB_PASSWORD for every environment
PW_PROD = "prodpass-77Kk"  # DB_PASSWORD for prod
DEV_ONLY = "devonly-Rr5"   # DEV_ONLY, set for dev only
VALUES = (PW, PW_PROD, DEV_ONLY)
procs = []
TOK = {}

DAG = """\
dag: sec
environments:
  dev: {}
  prod: {}
defaults:
  queue: sec
steps:
  - id: prints
    secrets: [DB_PASSWORD]
    run: |
      echo "pw=$DB_PASSWORD len=${#DB_PASSWORD}"
  - id: split
    secrets: [DB_PASSWORD]
    run: |
      printf 'a=%s' "$(printf '%s' "$DB_PASSWORD" | cut -c1-6)"
      sleep 0.5
      printf '%s end\\n' "$(printf '%s' "$DB_PASSWORD" | cut -c7-)"
  - id: output
    env:
      PGPASSWORD: "x${{ secrets.DB_PASSWORD }}x"
      PLAIN: "run-${{ run.id }}"
    run: |
      echo "dsn=postgres://u:$PGPASSWORD@h/db" >> "$WEIR_OUTPUTS"
      echo "len=${#PGPASSWORD}" >> "$WEIR_OUTPUTS"
      echo "plain=$PLAIN" >> "$WEIR_OUTPUTS"
  - id: other
    queue: other
    run: echo plain
"""

DEV_DAG = """\
dag: devonly
environments:
  dev: {}
  prod: {}
steps:
  - id: needs
    queue: sec
    secrets: [DEV_ONLY]
    run: echo "v=$DEV_ONLY"
"""


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def remember(p):
    procs.append(p)
    with open(os.path.join(TMP, "pids"), "a") as f:
        f.write("%d\n" % p.pid)


def key_file(name, mode=0o600, text=None):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text if text is not None else pyrandom.token_hex(32) + "\n")
    os.chmod(path, mode)
    return path


def key_id(path):
    """The id the server gives the key of path: 16 hex of its SHA-256."""
    import hashlib
    raw = bytes.fromhex(read(path).strip())
    return hashlib.sha256(raw).hexdigest()[:16]


class Server:
    """weir-server on 127.0.0.1 (or addr, in the namespace) with args."""
    n = 0

    def __init__(self, args, addr="127.0.0.1", netns="", scheme="http"):
        Server.n += 1
        self.log = os.path.join(TMP, "server%d.log" % Server.n)
        self.addr = addr
        argv = [SERVER_BIN, "--database-url", DB, "--dags-dir",
                os.path.join(TMP, "dags"), "--listen", addr + ":0",
                "--admin-token-file", os.path.join(TMP, "admin.token"),
                "--lease-ttl", "3000"] + list(args)
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=out)
        remember(self.proc)
        m = wait_for(self._addr, 20)
        if not m or m == "exited":
            raise RuntimeError("weir-server did not start: " + read(self.log))
        self.url = scheme + "://" + m

    def _addr(self):
        m = re.search(r"event=listening addr=(\S+)", read(self.log))
        if m:
            return m.group(1)
        return "exited" if self.proc.poll() is not None else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                check(False, "weir-server did not stop on SIGTERM")
                self.proc.kill()
                self.proc.wait()


class WorkerProc:
    """weir-worker on queue sec of server srv."""

    def __init__(self, srv, name):
        self.log = os.path.join(TMP, "worker-%s.log" % name)
        tok = os.path.join(TMP, "worker.token")
        weirtest.write_token(tok, TOK["worker"])
        argv = [WORKER_BIN, "--server", srv.url, "--token-file", tok,
                "--dags-dir", os.path.join(TMP, "dags"), "--scratch-dir",
                os.path.join(TMP, "scratch"), "--name", name, "--queue",
                "sec", "--slots", "4", "--shutdown-grace", "1s"]
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=out)
        remember(self.proc)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def req(srv, method, path, body=None, token="admin", **kw):
    if srv.url.startswith("https:"):
        return tls_call(srv, method, path, body, token)
    status, text, _ = weirtest.call(method, path, TOK[token], body,
                                    base=srv.url, **kw)
    try:
        return status, json.loads(text or b"null")
    except ValueError:
        return status, text.decode(errors="replace")


def cli(srv, *args, stdin=None):
    env = dict(os.environ, WEIR_SERVER=srv.url, WEIR_TOKEN=TOK["admin"])
    p = subprocess.run([CLI] + list(args), env=env, input=stdin,
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def start_fails(args, want, what):
    """A server with args exits non-zero within 20 s, saying want."""
    s = None
    try:
        s = Server(args)
        check(False, "%s: the server started" % what)
    except RuntimeError as e:
        check(re.search(want, str(e)) is not None,
              "%s: expected /%s/ in: %s" % (what, want, str(e)[-600:]))
    if s is not None:
        s.stop()


def run_of(srv, rid, timeout=25):
    def done():
        code, b = req(srv, "GET", "/api/v1/runs/%d" % rid)
        return b if code == 200 and b["state"] in weirtest.TERMINAL else None
    r = wait_for(done, timeout, 0.2)
    check(r is not None, "run %s did not finish" % rid)
    return r


def task(run, step):
    return [t for t in run["tasks"] if t["step"] == step][0]


def log_lines(srv, attempt_id):
    code, b = req(srv, "GET", "/api/v1/attempts/%d/logs?limit=1000"
                  % attempt_id)
    return [l["line"] for l in b["lines"]] if code == 200 else []


def trigger(srv, dag, env):
    code, b = req(srv, "POST", "/api/v1/dags/%s/runs" % dag,
                  {"environment": env})
    check(code == 201, "trigger %s in %s: %s %s" % (dag, env, code, b))
    return b.get("run_id") if isinstance(b, dict) else None


def no_value(text, where):
    for v in VALUES:
        check(v not in text, "%s holds the value %s" % (where, v[:3] + "..."))


# ---- scenarios ----

def bad_keys():
    start_fails(["--secrets-key-file", key_file("k644", 0o644)],
                r'k644" has mode 0644.*chmod 600', "key file mode 0644")
    start_fails(["--secrets-key-file", key_file("kbad", text="abc\n")],
                r'kbad" line 1: expected a key of 64 hex digits',
                "a short key")
    start_fails(["--secrets-key-file", os.path.join(TMP, "nokey")],
                r'nokey": cannot open', "a missing key file")


def no_key(srv):
    code, b = req(srv, "GET", "/api/v1/secrets")
    check(code == 409 and "no secrets key" in str(b),
          "no key: GET /api/v1/secrets: %s %s" % (code, b))
    rc, out, err = cli(srv, "secret", "set", "X", stdin="v\n")
    check(rc != 0 and "no secrets key" in err,
          "no key: weir secret set: %d %s %s" % (rc, out, err))


def manage(srv):
    rc, out, err = cli(srv, "secret", "set", "DB_PASSWORD", stdin=PW + "\n")
    check(rc == 0 and "version 1" in out, "set: %d %s %s" % (rc, out, err))
    rc, out, err = cli(srv, "secret", "set", "DB_PASSWORD", "--env", "prod",
                       stdin=PW_PROD)
    check(rc == 0, "set prod: %d %s %s" % (rc, out, err))
    rc, out, err = cli(srv, "secret", "set", "DEV_ONLY", "--env", "dev",
                       stdin=DEV_ONLY)
    check(rc == 0, "set dev: %d %s %s" % (rc, out, err))
    rc, out, err = cli(srv, "secret", "set", "TEMP", stdin="temp-v1")
    rc, out, err = cli(srv, "secret", "set", "TEMP", stdin="temp-v2")
    check(rc == 0 and "version 2" in out, "set again: %d %s" % (rc, out))
    # never from argv: a value as an argument is refused
    rc, out, err = cli(srv, "secret", "set", "TEMP", "temp-v3", stdin="")
    check(rc == 2 and "standard input" in err, "argv value: %d %s" % (rc, err))
    rc, out, err = cli(srv, "secret", "list")
    check(rc == 0 and "DB_PASSWORD" in out and "prod" in out and
          "TEMP" in out, "list: %d %s %s" % (rc, out, err))
    no_value(out, "weir secret list")
    code, b = req(srv, "GET", "/api/v1/secrets")
    rows = {(s["name"], s["environment"]): s for s in b.get("secrets", [])}
    check(code == 200 and rows.get(("TEMP", ""), {}).get("version") == 2 and
          rows.get(("DB_PASSWORD", "prod"), {}).get("created_by") == "ops" and
          rows.get(("DB_PASSWORD", "prod"), {}).get("created_at"),
          "list JSON: %s %s" % (code, b))
    no_value(json.dumps(b), "GET /api/v1/secrets")
    code, b = req(srv, "GET", "/api/v1/secrets", token="read")
    check(code == 403, "read token lists secrets: %s %s" % (code, b))
    code, b = req(srv, "PUT", "/api/v1/secrets/X", {"value": "v"},
                  token="read")
    check(code == 403, "read token sets a secret: %s %s" % (code, b))
    rc, out, err = cli(srv, "secret", "delete", "TEMP")
    check(rc == 0, "delete: %d %s %s" % (rc, out, err))
    rc, out, err = cli(srv, "secret", "delete", "TEMP")
    check(rc != 0 and 'no secret "TEMP"' in err, "delete twice: %s" % err)
    status, text, _ = weirtest.call("PUT", "/api/v1/secrets/RAW", TOK["admin"],
                                    data=b"raw-v1", ctype="text/plain",
                                    base=srv.url)
    check(status == 201 and b'"version":1' in text.replace(b" ", b""),
          "a raw value: %s %s" % (status, text))
    rc, out, err = cli(srv, "secret", "delete", "RAW")
    check(rc == 0, "delete RAW: %d %s" % (rc, err))
    code, b = req(srv, "PUT", "/api/v1/secrets/bad-name", {"value": "v"})
    check(code == 400 and "not valid" in str(b), "bad name: %s %s" % (code, b))


def load_errors(srv):
    src = DAG.replace("secrets: [DB_PASSWORD]\n    run: |\n      echo",
                      "secrets: [DB_PASSWORD, NOPE]\n    run: |\n      echo",
                      1)
    code, b = req(srv, "POST", "/api/v1/dags", {"source": src})
    errs = json.dumps(b)
    check(code == 400 and 'no secret \\"NOPE\\"' in errs and
          re.search(r'"line": 9, "column": 28', errs) is not None,
          "unknown secret: %s %s" % (code, errs))
    src = DAG.replace('echo "pw=$DB_PASSWORD',
                      'echo ${{ secrets.DB_PASSWORD }} "pw=$DB_PASSWORD', 1)
    code, b = req(srv, "POST", "/api/v1/dags", {"source": src})
    errs = json.dumps(b)
    check(code == 400 and "only into a step's env" in errs and
          '"line": 10' in errs, "secret in run: %s %s" % (code, errs))


def folder_dag(srv):
    """A DAG file naming an unknown secret fails to load at its place."""
    with open(os.path.join(TMP, "dags", "fsec.yaml"), "w") as f:
        f.write("steps:\n  - id: a\n    secrets: [DB_PASSWORD, MISSING_ONE]"
                "\n    run: echo hi\n")

    def loaded():
        code, b = req(srv, "GET", "/api/v1/dags")
        d = [x for x in b.get("dags", []) if x["id"] == "fsec"] \
            if code == 200 else []
        return d[0] if d and d[0].get("last_error") else None
    d = wait_for(loaded, 15, 0.2)
    err = json.dumps(d)
    check(d is not None and "fsec.yaml:3:28" in err and
          'no secret \\"MISSING_ONE\\"' in err,
          "folder DAG with an unknown secret: %s" % err)
    os.unlink(os.path.join(TMP, "dags", "fsec.yaml"))


def delivery(srv):
    """Runs in dev (the value for every environment) and prod (its own);
    another queue's worker leases its step meanwhile."""
    code, b = req(srv, "POST", "/api/v1/dags", {"source": DAG})
    check(code in (200, 201), "submit: %s %s" % (code, b))
    code, b = req(srv, "POST", "/api/v1/dags", {"source": DEV_DAG})
    check(code in (200, 201), "submit devonly: %s %s" % (code, b))
    code, b = req(srv, "GET", "/api/v1/dags/sec")
    steps = {st["id"]: st for st in (b.get("dag") or {}).get(
        "steps", [])} if code == 200 else {}
    check(steps.get("output", {}).get("secrets") == ["DB_PASSWORD"] and
          "secrets" not in steps.get("other", {}),
          "the DAG's steps name their secrets: %s" % json.dumps(b)[:600])
    weirtest.BASE, weirtest.WORKER = srv.url, TOK["worker"]
    other = weirtest.Worker("other-queue", ["other"])
    w = WorkerProc(srv, "sec")
    runs = {env: trigger(srv, "sec", env) for env in ("dev", "prod")}
    seen = []
    for _ in range(2):
        got = other.lease(1, 10000)
        for a in got:
            seen.append(json.dumps(a))
            other.complete(a, 0)
    check(len(seen) == 2, "the other queue got %d attempts" % len(seen))
    for text in seen:
        check('"secrets"' not in text, "another queue got secrets: " + text)
        no_value(text, "another queue's lease")
    for env, rid in runs.items():
        want = PW if env == "dev" else PW_PROD
        r = run_of(srv, rid)
        check(r["state"] == "success", "%s run: %s" % (env, r["state"]))
        for step in ("prints", "split", "output"):
            t = task(r, step)
            lines = log_lines(srv, t["attempts"][-1]["id"])
            joined = "\n".join(lines)
            no_value(joined + json.dumps(t), "%s log/outputs of %s" %
                     (step, env))
            if step == "prints":
                check("pw=*** len=%d" % len(want) in lines,
                      "%s prints: %s" % (env, lines))
            if step == "split":
                check("a=*** end" in lines, "%s split: %s" % (env, lines))
            if step == "output":
                out = t["attempts"][-1].get("outputs") or t.get("outputs")
                check(out == {"dsn": "postgres://u:x***x@h/db",
                              "len": str(len(want) + 2),
                              "plain": "run-%d" % rid},
                      "%s outputs: %s" % (env, out))
    rid = trigger(srv, "devonly", "prod")
    r = run_of(srv, rid)
    t = task(r, "needs")
    err = t["attempts"][-1].get("error") or ""
    check(r["state"] == "failed" and 'secret "DEV_ONLY" is not set for '
          'environment "prod"' in err, "no secret in prod: %s %s" %
          (r["state"], err))
    rid = trigger(srv, "devonly", "dev")
    r = run_of(srv, rid)
    check(r["state"] == "success", "devonly in dev: %s" % r["state"])
    w.stop()
    no_value(read(w.log) + read(srv.log), "the worker's or server's log")


PEM = ("-----BEGIN TEST KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
       "bKcwggSjAgEAAoIBAQC7Vx\n-----END TEST KEY-----\n")
LEAK_DAG = """\
dag: leak
environments:
  dev: {}
defaults:
  queue: sec
steps:
  - id: badout
    secrets: [DB_PASSWORD]
    run: |
      echo "the db password is set now: $DB_PASSWORD" >> "$WEIR_OUTPUTS"
  - id: pem
    secrets: [PEM]
    run: printf 'k:%s\\n' "$PEM"
"""
SCOPE_DAG = """\
dag: %s
environments:
  dev: {}
steps:
  - id: use
    queue: sec
    secrets: [%s]
    run: echo "v=$%s"
"""


def render_error_at_load(srv):
    """Item 1: an expression around a secret is refused at load (it could
    quote the value in a render error), at its line and column."""
    src = DAG.replace('"x${{ secrets.DB_PASSWORD }}x"',
                      '"${{ secrets.DB_PASSWORD < 1 }}"', 1)
    code, b = req(srv, "POST", "/api/v1/dags", {"source": src})
    errs = json.dumps(b)
    check(code == 400 and "only as a bare" in errs and
          re.search(r'"line": 20, "column": \d+', errs) is not None,
          "an expression around a secret: %s %s" % (code, errs))
    no_value(errs, "the load error")


def leaks(srv):
    """Item 2: a bad outputs line holding a secret past the snippet's cut
    shows none of it; item 4: each line of a multi-line value is masked."""
    code, b = req(srv, "PUT", "/api/v1/secrets/PEM", {"value": PEM})
    check(code == 201, "set PEM: %s %s" % (code, b))
    code, b = req(srv, "POST", "/api/v1/dags", {"source": LEAK_DAG})
    check(code in (200, 201), "submit leak: %s %s" % (code, b))
    w = WorkerProc(srv, "sec3")
    r = run_of(srv, trigger(srv, "leak", "dev"))
    w.stop()
    t = task(r, "badout")
    a = t["attempts"][-1]
    text = json.dumps(t) + "\n".join(log_lines(srv, a["id"]))
    check("now: ***" in (a.get("error") or ""),
          "bad outputs line: %s %s" % (t["state"], a.get("error")))
    check(PW[:4] not in text, "a cut secret shows: %s" % text[-600:])
    t = task(r, "pem")
    lines = log_lines(srv, t["attempts"][-1]["id"])
    check(t["state"] == "success" and "k:***" in lines and
          lines.count("***") >= 3,
          "multi-line secret: %s %s" % (t["state"], lines))
    for i, ln in enumerate(PEM.split("\n")):
        if ln:
            check(ln not in "\n".join(lines), "PEM line %d shows" % (i + 1))
    for log in (w.log, srv.log):
        check(PW[:4] not in read(log) and "MIIEvQ" not in read(log),
              "%s holds a secret" % log)
    rc, out, err = cli(srv, "secret", "delete", "PEM")
    check(rc == 0, "delete PEM: %s" % err)


def scopes(srv):
    """Item 3: a secret set for team-a-* DAGs is refused to team-b-x at
    record, and at lease when it was narrowed after the DAG was recorded."""
    rc, out, err = cli(srv, "secret", "set", "TEAM_PW", "--dag", "team-a-*",
                       stdin="team-a-value-9")
    check(rc == 0, "set --dag: %d %s" % (rc, err))
    rc, out, err = cli(srv, "secret", "list")
    check(re.search(r"TEAM_PW .* team-a-\*", out) is not None,
          "list shows the patterns: %s" % out)
    code, b = req(srv, "GET", "/api/v1/secrets")
    rows = [x for x in b.get("secrets", []) if x["name"] == "TEAM_PW"]
    check(rows and rows[0].get("dags") == ["team-a-*"], "GET: %s" % rows)
    code, b = req(srv, "POST", "/api/v1/dags",
                  {"source": SCOPE_DAG % ("team-b-x", "TEAM_PW", "TEAM_PW")})
    errs = json.dumps(b)
    check(code == 400 and 'secret \\"TEAM_PW\\" is not for DAG '
          '\\"team-b-x\\"' in errs, "team-b names team-a's secret: %s %s"
          % (code, errs))
    code, b = req(srv, "POST", "/api/v1/dags",
                  {"source": SCOPE_DAG % ("team-a-x", "TEAM_PW", "TEAM_PW")})
    check(code in (200, 201), "team-a names its secret: %s %s" % (code, b))
    rc, out, err = cli(srv, "secret", "list", "--dag", "x")
    check(rc != 0 and "--dag goes with set only" in err,
          "list --dag: %d %s" % (rc, err))
    code, b = req(srv, "PUT", "/api/v1/secrets/TEAM_PW",
                  {"value": "v", "dags": ["Team!"]})
    check(code == 400 and "not a DAG id pattern" in str(b),
          "bad pattern: %s %s" % (code, b))
    # recorded while any DAG could name it, then narrowed to team-a-*
    rc, out, err = cli(srv, "secret", "set", "LATER_PW", stdin="later-v-3")
    code, b = req(srv, "POST", "/api/v1/dags",
                  {"source": SCOPE_DAG % ("team-b-y", "LATER_PW", "LATER_PW")})
    check(code in (200, 201), "team-b-y: %s %s" % (code, b))
    rc, out, err = cli(srv, "secret", "set", "LATER_PW", "--dag", "team-a-?",
                       stdin="later-v-4")
    w = WorkerProc(srv, "sec4")
    ra = run_of(srv, trigger(srv, "team-a-x", "dev"))
    rb = run_of(srv, trigger(srv, "team-b-y", "dev"))
    w.stop()
    la = log_lines(srv, task(ra, "use")["attempts"][-1]["id"])
    check(ra["state"] == "success" and "v=***" in la,
          "team-a-x run: %s %s" % (ra["state"], la))
    err = task(rb, "use")["attempts"][-1].get("error") or ""
    check(rb["state"] == "failed" and 'secret "LATER_PW" is not for DAG '
          '"team-b-y"' in err, "team-b-y at lease: %s %s" % (rb["state"], err))
    for name in ("TEAM_PW", "LATER_PW"):
        rc, out, err = cli(srv, "secret", "delete", name)
        check(rc == 0, "delete %s: %s" % (name, err))


def dump_clean():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump")) or \
        ["pg_dump"]
    p = subprocess.run([bins[-1], "-d", DB], capture_output=True, text=True,
                       timeout=30)
    check(p.returncode == 0 and "CREATE TABLE public.secrets" in p.stdout,
          "pg_dump: %d %s" % (p.returncode, p.stderr[-300:]))
    check("COPY public.secrets" in p.stdout, "the dump has no secrets rows")
    no_value(p.stdout, "pg_dump of the database")


def rotation(srv, old_key, new_key):
    """srv runs with new_key first and old_key second."""
    rc, out, err = cli(srv, "secret", "rotate-key")
    check(rc == 0 and re.search(r"re-sealed 3 secret values under key " +
                                key_id(new_key), out) is not None,
          "rotate-key: %d %s %s" % (rc, out, err))
    code, b = req(srv, "GET", "/api/v1/secrets")
    ids = {s["key_id"] for s in b.get("secrets", [])}
    check(ids == {key_id(new_key)}, "after rotation: keys %s" % ids)
    dump_clean()


def after_rotation(srv, works):
    """A run of devonly in dev on srv: it works, or fails naming the key."""
    w = WorkerProc(srv, "sec2")
    rid = trigger(srv, "devonly", "dev")
    r = run_of(srv, rid)
    w.stop()
    t = task(r, "needs")
    err = t["attempts"][-1].get("error") or ""
    if works:
        lines = log_lines(srv, t["attempts"][-1]["id"])
        check(r["state"] == "success" and "v=***" in lines,
              "after rotation, new key alone: %s %s %s" %
              (r["state"], lines, err))
    else:
        check(r["state"] == "failed" and "which no --secrets-key-file holds"
              in err, "old key alone: %s %s" % (r["state"], err))


def plain_http(key):
    """A server in the namespace, reached over plain HTTP from this side's
    address: the lease carries no secret and the attempt fails."""
    if not NETNS:
        print("SKIP: plain-HTTP refusal (no network namespace)")
        return
    remote = Server(["--allow-remote", "--insecure-http",
                     "--secrets-key-file", key], addr=REMOTE, netns=NETNS)
    try:
        weirtest.BASE, weirtest.WORKER = remote.url, TOK["worker"]
        wk = weirtest.Worker("far", ["sec"])
        rid = trigger(remote, "devonly", "dev")
        got = wk.lease(1, 10000)
        text = json.dumps(got)
        check(got == [], "a plain-HTTP lease got attempts: %s" % text[:300])
        no_value(text, "the plain-HTTP lease")
        r = run_of(remote, rid)
        err = task(r, "needs")["attempts"][-1].get("error") or ""
        check(r["state"] == "failed" and "neither over TLS nor on loopback"
              in err, "plain HTTP: %s %s" % (r["state"], err))
    finally:
        remote.stop()


def tls_call(srv, method, path, body, token="worker"):
    """A call over HTTPS, trusting the test's CA only."""
    ctx = ssl.create_default_context(cafile=os.path.join(CERTS, "ca.pem"))
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(srv.url + path, method=method, data=data)
    r.add_header("Authorization", "Bearer " + TOK[token])
    if data is not None:
        r.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(r, timeout=30, context=ctx) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def over_tls(key):
    """A server in the namespace with TLS, from a non-loopback address:
    the lease of the attempt carries its secret, and only that one."""
    if not NETNS:
        print("SKIP: TLS delivery (no network namespace)")
        return
    remote = Server(["--allow-remote", "--secrets-key-file", key,
                     "--tls-cert", os.path.join(CERTS, "server.pem"),
                     "--tls-key", os.path.join(CERTS, "server.key")],
                    addr=REMOTE, netns=NETNS, scheme="https")
    try:
        code, b = tls_call(remote, "POST", "/api/v1/workers/register",
                           {"name": "far-tls", "queues": ["sec"]})
        check(code == 200, "register over TLS: %s %s" % (code, b))
        wid = b["worker_id"]
        rid = trigger(remote, "devonly", "dev")
        code, b = tls_call(remote, "POST", "/api/v1/workers/%d/lease" % wid,
                           {"max": 1, "wait_ms": 10000})
        got = b.get("attempts", []) if code == 200 else []
        check(len(got) == 1 and got[0].get("secrets") ==
              {"DEV_ONLY": DEV_ONLY} and got[0]["env"].get("DEV_ONLY") ==
              DEV_ONLY, "lease over TLS: %s %s" % (code, json.dumps(b)[:400]))
        for a in got:
            code, b = tls_call(remote, "POST", "/api/v1/attempts/%d/complete"
                               % a["attempt_id"],
                               {"lease_id": a["lease_id"], "exit_code": 0,
                                "outputs": {}})
            check(code == 200, "complete over TLS: %s %s" % (code, b))
        r = run_of(remote, rid) if rid else None
        check(r is not None and r["state"] == "success",
              "the run over TLS: %s" % (r and r["state"]))
        no_value(read(remote.log), "the TLS server's log")
    finally:
        remote.stop()


def main():
    t0 = time.monotonic()
    os.makedirs(os.path.join(TMP, "scratch"), exist_ok=True)
    k1, k2 = key_file("key1"), key_file("key2")
    srv = None
    try:
        bad_keys()
        srv = Server([])
        TOK["admin"] = create_token(SERVER_BIN, DB, "admin", "ops")
        TOK["read"] = create_token(SERVER_BIN, DB, "read", "reader")
        TOK["worker"] = create_token(SERVER_BIN, DB, "worker", "w")
        no_key(srv)
        srv.stop()
        srv = Server(["--secrets-key-file", k1])
        manage(srv)
        load_errors(srv)
        folder_dag(srv)
        delivery(srv)
        render_error_at_load(srv)
        leaks(srv)
        scopes(srv)
        dump_clean()
        plain_http(k1)
        over_tls(k1)
        srv.stop()
        srv = Server(["--secrets-key-file", k2, "--secrets-key-file", k1])
        rotation(srv, k1, k2)
        srv.stop()
        srv = Server(["--secrets-key-file", k2])
        after_rotation(srv, True)
        srv.stop()
        srv = Server(["--secrets-key-file", k1])
        after_rotation(srv, False)
        srv.stop()
        for p in glob.glob(os.path.join(TMP, "server*.log")) + \
                glob.glob(os.path.join(TMP, "worker-*.log")):
            text = read(p)
            for bad in ("Sanitizer", "runtime error"):
                check(bad not in text, "%s: %s" % (p, bad))
    except Exception as e:  # a crash fails the test; processes still end
        import traceback
        traceback.print_exc()
        check(False, "raised %r" % e)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    print("secrets_test: %.1f s, %d failure(s)" % (time.monotonic() - t0,
                                                   len(weirtest.failures)))
    raise SystemExit(1 if weirtest.failures else 0)


if __name__ == "__main__":
    main()
