# SPDX-License-Identifier: Apache-2.0
"""PostgreSQL failover against a running weir-server whose database URL
lists a primary ($WEIR_TMP/pg) and its synchronous standby ($WEIR_TMP/pg2)
with target_session_attrs=read-write; a real weir-worker serves the runs.

1. The primary refuses writes (default_transaction_read_only, as a managed
   PostgreSQL does when its disk fills): a trigger gets 503 with a general
   message (never 500), the server logs the read-only session; once the
   primary takes writes again, triggers succeed within seconds.
2. A stream of triggered runs and of events (each starts a run) while the
   primary's postmaster is killed with SIGKILL and the standby promoted:
   the server reconnects to the new primary by itself; requests in the gap
   get 503, none 500; every run finishes; every run and event the server
   acknowledged (201/202), before and after, is in the new primary. The
   CLI, started in the gap: a GET is retried until it succeeds, a POST is
   sent once (503, not resent). Prints the outage: kill to the first
   acknowledged trigger after the promotion.

A second server (WEIR_URL_B, on the URL form of the string) serves
nothing during the stream; after the promotion it must write again too.

Environment: WEIR_URL, WEIR_ADMIN, WEIR_READ; WEIR_CLI (weir), WEIR_PG
(tests/pg/pg.sh), WEIR_TMP (the clusters' parent), WEIR_SERVER_LOG;
WEIR_URL_B and WEIR_SERVER_LOG_B, the second server.
"""
import os
import re
import subprocess
import threading
import time

from weirtest import (ADMIN, BASE, READ, call, check, req, run_tests,
                      wait_for)

CLI = os.environ["WEIR_CLI"]
PG = os.environ["WEIR_PG"]
TMP = os.environ["WEIR_TMP"]
SERVER_LOG = os.environ["WEIR_SERVER_LOG"]
BASE_B = os.environ["WEIR_URL_B"]
SERVER_LOG_B = os.environ["WEIR_SERVER_LOG_B"]
PRIMARY = os.path.join(TMP, "pg")
STANDBY = os.path.join(TMP, "pg2")
MIN_BEFORE = 8  # acknowledged triggers before the kill
MIN_AFTER = 8  # and after the server is back


def sql(cluster, query, *pre):
    """query's rows on cluster (as text); pre: statements run before it in
    the same session."""
    argv = [PG, "psql", cluster, "-tA"]
    for p in pre:
        argv += ["-c", p]
    r = subprocess.run(argv + ["-c", query], capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 0, "psql %s: %s" % (query, r.stderr))
    return r.stdout.strip()


def server_log(path=SERVER_LOG):
    with open(path, errors="replace") as f:
        return f.read()


def statuses_ok(what, seen):
    """Every status in seen is an acknowledgement or a 503 (0, no answer
    at all, is not)."""
    bad = sorted({s for s in seen if s not in (201, 202, 503)})
    check(not bad, "%s: statuses other than 201/202/503: %s" % (what, bad))


def trigger_once():
    """(status, run id or None, the error message or None)."""
    try:
        code, b = req("POST", "/api/v1/dags/fo-run/runs", ADMIN, {},
                      timeout=15)
    except OSError as e:
        return 0, None, str(e)
    if code == 201:
        return code, b["run_id"], None
    return code, None, (b or {}).get("error", {}).get("message")


def test_read_only_primary():
    """25006: 503 with a general message, then back by itself."""
    sql(PRIMARY, "SELECT pg_reload_conf()",
        "ALTER SYSTEM SET default_transaction_read_only = on")
    got = []

    def refused():
        code, _, msg = trigger_once()
        got.append(code)
        return code == 503 and msg

    msg = wait_for(refused, 10, 0.2)
    if check(msg, "read-only primary: no 503 within 10 s: %s" % got):
        check(msg == "service unavailable" and "read" not in msg,
              "read-only primary: the 503 says more than it should: %r"
              % msg)
    statuses_ok("read-only primary", [c for c in got if c != 201])
    check("event=db_read_only" in server_log(),
          "read-only primary: no event=db_read_only in the server log")
    sql(PRIMARY, "SELECT pg_reload_conf()",
        "SET default_transaction_read_only = off",
        "ALTER SYSTEM RESET default_transaction_read_only")
    t0 = time.monotonic()
    back = wait_for(lambda: trigger_once()[0] == 201, 10, 0.1)
    print("read-only primary: writes again %.2f s after the reset"
          % (time.monotonic() - t0), flush=True)
    check(back, "read-only primary: no trigger succeeded within 10 s of "
          "the reset")


class Stream:
    """Threads that post runs and events until stopped, keeping what was
    acknowledged and every status seen."""

    def __init__(self):
        self.lock = threading.Lock()
        self.runs = []  # (time, run id) of every 201
        self.events = []  # client ids of every 202
        self.statuses = []  # every status (0: no answer)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.post_runs),
                        threading.Thread(target=self.post_events)]

    def post_runs(self):
        while not self.stop.is_set():
            code, run_id, _ = trigger_once()
            with self.lock:
                self.statuses.append(code)
                if code == 201:
                    self.runs.append((time.monotonic(), run_id))
            time.sleep(0.05)

    def post_events(self):
        n = 0
        while not self.stop.is_set():
            ext = "fo-%d" % n
            try:  # the same id until acknowledged: a resend is harmless
                code, _ = req("POST", "/api/v1/events", ADMIN,
                              {"name": "fo.go", "id": ext,
                               "payload": {"n": n}}, timeout=15)
            except OSError:
                code = 0
            with self.lock:
                self.statuses.append(code)
                if code == 202:
                    self.events.append(ext)
                    n += 1
            time.sleep(0.05)

    def acked_since(self, t):
        with self.lock:
            return sum(1 for at, _ in self.runs if at >= t)


def cli(*args):
    env = dict(os.environ, WEIR_SERVER=BASE, WEIR_TOKEN=ADMIN)
    return subprocess.Popen([CLI] + list(args), env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_primary():
    with open(os.path.join(PRIMARY, "data", "postmaster.pid")) as f:
        pid = int(f.readline())
    os.kill(pid, 9)
    return time.monotonic()


def cli_get_refused():
    """The server answered 503 to a GET of the CLI's `weir runs fo-run`
    (nothing else GETs those paths)."""
    return re.search(r'method=GET path="/api/v1/(dags/fo-run|runs)" '
                     r'status=503', server_log())


def failover(s):
    """Kills the primary, checks the gap, promotes the standby; returns
    (kill time, promote time, the CLI's GET)."""
    t_kill = kill_primary()
    down = wait_for(lambda: call("GET", "/api/v1/health", None)[0] == 503,
                    5, 0.05)
    check(down, "health still 200 5 s after the primary was killed")
    print("health 503 %.2f s after the kill" % (time.monotonic() - t_kill),
          flush=True)
    cli_post = cli("trigger", "fo-run")
    try:
        out, err = cli_post.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        cli_post.kill()
        out, err = cli_post.communicate()
    check(cli_post.returncode == 1 and "HTTP 503" in err,
          "CLI POST in the gap: exit %s, want 1 with HTTP 503 (sent once, "
          "not retried): %s %s" % (cli_post.returncode, out, err))
    print("CLI POST refused %.2f s after the kill"
          % (time.monotonic() - t_kill), flush=True)
    with s.lock:
        n = len(s.runs)
    # The GET is refused, and must still be waiting: it retries while the
    # database is down.
    cli_get = cli("runs", "fo-run", "--limit", "3")
    check(wait_for(cli_get_refused, 5, 0.05),
          "the CLI's GET got no 503 within 5 s")
    if not check(cli_get.poll() is None,
                 "CLI GET gave up after a 503 (no retry?)"):
        print(cli_get.communicate(), flush=True)
    with s.lock:
        check(len(s.runs) == n, "a trigger was acknowledged with the "
              "primary dead and the standby not promoted")
    t_promote = time.monotonic()
    r = subprocess.run([PG, "promote", STANDBY], capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 0, "promote: %s" % r.stderr)
    print("promoted %.2f s after the kill" % (time.monotonic() - t_kill),
          flush=True)
    return t_kill, t_promote, cli_get


def check_stored(s):
    """Every acknowledged run and event in the new primary, every run
    finished."""
    ids = [rid for _, rid in s.runs]

    def all_done():
        left = sql(STANDBY, "SELECT count(*) FROM runs WHERE state NOT IN "
                   "('success', 'failed', 'canceled')")
        return left == "0"

    check(wait_for(all_done, 30, 0.5), "runs not finished 30 s after the "
          "stream: %s" % sql(STANDBY, "SELECT id, dag_id, state FROM runs "
                             "WHERE state <> 'success'"))
    bad = sql(STANDBY, "SELECT id || ' ' || state FROM runs WHERE "
              "state <> 'success'")
    check(bad == "", "runs that did not succeed: %s" % bad)
    stored = set(sql(STANDBY, "SELECT id FROM runs WHERE dag_id = "
                     "'fo-run'").split())
    lost = [i for i in ids if str(i) not in stored]
    check(not lost, "acknowledged runs missing from the new primary: %s"
          % lost)
    rows = sql(STANDBY, "SELECT e.ext_id || ' ' || r.state FROM events e "
               "JOIN trigger_events t ON t.event_id = e.id "
               "JOIN runs r ON r.id = t.run_id WHERE e.name = 'fo.go'")
    ran = dict(line.split() for line in rows.splitlines())
    lost = [e for e in s.events if ran.get(e) != "success"]
    check(not lost, "acknowledged events without a successful run: %s"
          % lost)
    for rid in ids[-3:]:  # and the server serves them
        code, b = req("GET", "/api/v1/runs/%d" % rid, READ)
        check(code == 200 and b.get("state") == "success",
              "run %d over the API: %d %s" % (rid, code, b))
    print("stored: %d acknowledged runs, %d acknowledged events, all there"
          % (len(ids), len(s.events)), flush=True)


def test_failover():
    s = Stream()
    for t in s.threads:
        t.start()
    try:
        check(wait_for(lambda: s.acked_since(0) >= MIN_BEFORE, 20),
              "fewer than %d runs acknowledged before the kill" % MIN_BEFORE)
        t_kill, t_promote, cli_get = failover(s)
        second_server(t_promote)
        check(wait_for(lambda: s.acked_since(t_promote) >= MIN_AFTER, 20),
              "fewer than %d runs acknowledged in 20 s after the promotion"
              % MIN_AFTER)
    finally:
        s.stop.set()
        for t in s.threads:
            t.join()
    # Acknowledgements between the kill and the promotion are none (checked
    # in failover()) or answers that left before the kill.
    first = min((at for at, _ in s.runs if at >= t_promote), default=None)
    if check(first is not None, "no run acknowledged after the promotion"):
        print("outage: %.2f s from the kill to the first acknowledged "
              "trigger (%.2f s after the promotion began)"
              % (first - t_kill, first - t_promote), flush=True)
        check(first - t_promote <= 5.0, "the server took %.2f s (> 5 s) "
              "after the promotion to write again" % (first - t_promote))
    statuses_ok("stream", s.statuses)
    check(503 in s.statuses, "no request got 503 during the outage")
    out, err = cli_get.communicate(timeout=20)
    check(cli_get.returncode == 0 and "fo-run" in out,
          "CLI GET in the gap: exit %s: %s %s" % (cli_get.returncode, out,
                                                  err))
    for path in (SERVER_LOG, SERVER_LOG_B):
        log = server_log(path)
        check("event=db_reconnected host=\"%s\"" % STANDBY in log,
              "no event=db_reconnected to the standby in %s" % path)
        check("status=500" not in log, "%s: the server answered 500: %s" %
              (path, [ln for ln in log.splitlines() if "status=500" in ln][:5]))
    check_stored(s)


def second_server(t_promote):
    """Server B, idle since the kill, writes through the new primary too:
    asked from the promotion on."""
    def wrote():
        try:
            code, b = req("POST", "/api/v1/dags/fo-run/runs", ADMIN, {},
                          base=BASE_B, timeout=15)
        except OSError:
            return None
        return code == 201 and b["run_id"]

    run_id = wait_for(wrote, 10, 0.1)
    if check(run_id, "server B: no trigger acknowledged within 10 s"):
        print("server B: first trigger acknowledged %.2f s after the "
              "promotion began" % (time.monotonic() - t_promote), flush=True)


run_tests("pgfailover_test", [test_read_only_primary, test_failover])
