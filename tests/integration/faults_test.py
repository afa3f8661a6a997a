# SPDX-License-Identifier: Apache-2.0
"""Fault injection against the real weir-server and weir-worker binaries.

Started by run_faults.sh, which provides a private PostgreSQL and the DAGs
of tests/integration/faults_dags (each on a queue of its own). This file
starts, kills and restarts the server and the workers itself; every pid
it starts goes to $WEIR_TMP/pids so the shell's trap can end them by id.

Environment: WEIR_SERVER_BIN, WEIR_WORKER_BIN, WEIR_PG (pg.sh), WEIR_TMP,
WEIR_DB_URL. Prints one summary line per scenario; exits 1 when a check
failed.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback

import weirtest
from weirtest import (TERMINAL, alive, check, create_token, failures,
                      wait_for)

SERVER_BIN = os.environ["WEIR_SERVER_BIN"]
WORKER_BIN = os.environ["WEIR_WORKER_BIN"]
PG = os.environ["WEIR_PG"]
TMP = os.environ["WEIR_TMP"]
DB = os.environ["WEIR_DB_URL"]
LEASE_TTL_MS = 2000

summary = []
procs = []  # every Popen started here, for the final cleanup


def note(*args):
    print("  ", *args, flush=True)


def remember(pid, group=False):
    with open(os.path.join(TMP, "pids"), "a") as f:
        f.write("%s%d\n" % ("-" if group else "", pid))



def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


class Server:
    def __init__(self):
        self.port = 0
        self.n = 0
        self.proc = None
        self.log = None

    def start(self):
        self.n += 1
        self.log = os.path.join(TMP, "server%d.log" % self.n)
        for _ in range(50):
            with open(self.log, "w") as out:
                self.proc = subprocess.Popen(
                    [SERVER_BIN, "--database-url", DB, "--dags-dir",
                     os.path.join(TMP, "dags"), "--listen",
                     "127.0.0.1:%d" % self.port, "--admin-token-file",
                     os.path.join(TMP, "admin.token"), "--lease-ttl",
                     str(LEASE_TTL_MS)],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=out)
            procs.append(self.proc)
            remember(self.proc.pid)
            addr = wait_for(self._addr, 20)
            if addr:
                self.port = int(addr.rsplit(":", 1)[1])
                return
            # the port may still be held for a moment after a kill
            self.proc.wait()
            time.sleep(0.2)
        raise RuntimeError("weir-server did not start: " + read(self.log))

    def _addr(self):
        m = re.search(r"event=listening addr=(\S+)", read(self.log))
        if m:
            return m.group(1)
        if self.proc.poll() is not None:
            return "exited"
        return None

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            check(False, "weir-server did not stop within 20 s of %s" % sig)
            self.proc.kill()
            return self.proc.wait()

    def url(self):
        return "http://127.0.0.1:%d" % self.port


SERVER = Server()
TOKENS = {}


class Worker:
    def __init__(self, name, queue, slots=1, dags=None):
        self.name = name
        self.log = os.path.join(TMP, "worker-%s.log" % name)
        args = [WORKER_BIN, "--server", SERVER.url(), "--token-file",
                os.path.join(TMP, "worker.token"), "--slots", str(slots),
                "--queue", queue, "--dags-dir",
                dags or os.path.join(TMP, "dags"),
                "--name", name, "--scratch-dir", os.path.join(TMP, "scratch"),
                "--shutdown-grace", "1s"]
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=out)
        procs.append(self.proc)
        remember(self.proc.pid)
        if not wait_for(lambda: "event=registered" in read(self.log) or
                        self.proc.poll() is not None, 15):
            raise RuntimeError("worker %s did not register" % name)
        if self.proc.poll() is not None:
            raise RuntimeError("worker %s exited: %s" % (name, read(self.log)))

    def stop(self):
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            check(False, "worker %s did not stop on SIGTERM" % self.name)
            self.proc.kill()
            return self.proc.wait()


def req(method, path, body=None, token="admin", timeout=30):
    """(status, reply) from the server of the moment: an error status with
    a body that is not JSON gives the text, a network error (None, what
    it was)."""
    try:
        status, text, _ = weirtest.call(method, path, TOKENS[token], body,
                                        timeout=timeout, base=SERVER.url())
        if status < 400:
            return status, json.loads(text or b"null")
    except (OSError, ValueError) as e:
        return None, str(e)
    try:
        return status, json.loads(text or b"null")
    except ValueError:
        return status, text.decode(errors="replace")


def trigger(dag, expect=201):
    code, b = req("POST", "/api/v1/dags/%s/runs" % dag, {})
    check(code == expect, "trigger %s: HTTP %s %s" % (dag, code, b))
    return b.get("run_id") if isinstance(b, dict) else None


def get_run(rid):
    code, b = req("GET", "/api/v1/runs/%d" % rid)
    return b if code == 200 else None


def wait_run(rid, timeout):
    def done():
        r = get_run(rid)
        return r if r and r["state"] in TERMINAL else None
    r = wait_for(done, timeout, 0.2)
    return r or get_run(rid)


def task(run, step):
    return [t for t in run["tasks"] if t["step"] == step][0]


def tries(t):
    return [(a["try"], a["state"]) for a in t["attempts"]]


def logs(attempt_id):
    code, b = req("GET", "/api/v1/attempts/%d/logs?limit=1000" % attempt_id)
    return [l["line"] for l in b["lines"]] if code == 200 else []


# ---- scenarios ----

def s5_timeout():
    """A timeout stops the step's whole group, grandchild included."""
    w = Worker("w5", "s5")
    rid = trigger("s5_timeout")
    r = wait_run(rid, 20)
    w.stop()
    t = task(r, "hang")
    check(tries(t) == [(1, "timed_out")], "s5 attempts %s" % tries(t))
    ended = time.monotonic()
    gc = int(read(os.path.join(TMP, "s5.grandchild")) or 0)
    check(gc > 0, "s5: no grandchild pid")
    gone = wait_for(lambda: not alive(gc), 3)
    check(gone, "s5: grandchild %d still alive 3 s after the timeout" % gc)
    lines = logs(t["attempts"][0]["id"])
    check("grandchild started" in lines, "s5: step output lost: %s" % lines)
    check(any("timed out" in l for l in lines),
          "s5: no timeout note in the log: %s" % lines)
    return "attempt timed_out, grandchild %s %.1f s after, %d log lines" % (
        "gone" if gone else "ALIVE", time.monotonic() - ended, len(lines))


def s1_worker_kill():
    """The worker running try 1 dies by SIGKILL: lost, then try 2."""
    ws = {n: Worker(n, "s1") for n in ("w1a", "w1b")}
    rid = trigger("s1_kill")
    group_file = os.path.join(TMP, "s1.group")
    check(wait_for(lambda: read(group_file).strip(), 10), "s1: try 1 never ran")
    r = get_run(rid)
    a1 = task(r, "slow")["attempts"][0]
    victim = ws[a1["worker"]]
    other = [w for n, w in ws.items() if n != a1["worker"]][0]
    group = int(read(group_file))
    sleeper = int(wait_for(lambda: read(os.path.join(TMP, "s1.sleep")), 5)
                  or 0)
    child = int(wait_for(lambda: read(os.path.join(TMP, "s1.child")), 5)
                or 0)
    check(sleeper > 0 and child > 0, "s1: no pids of the step's processes")
    remember(group, group=True)
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait()
    killed = time.monotonic()
    r = wait_run(rid, 20)
    took = time.monotonic() - killed
    t = task(r, "slow")
    check(r["state"] == "success", "s1 run ended %s" % r["state"])
    check(tries(t) == [(1, "lost"), (2, "success")], "s1 attempts %s" % tries(t))
    if len(t["attempts"]) == 2:
        check(t["attempts"][0]["worker"] == victim.name and
              t["attempts"][1]["worker"] == other.name,
              "s1 workers %s" % [a["worker"] for a in t["attempts"]])
        check("lease expired" in (t["attempts"][0]["error"] or ""),
              "s1 lost error %s" % t["attempts"][0]["error"])
    # the killed worker's guard stops the step, its child and grandchild
    procs1 = [p for p in (group, sleeper, child) if p]
    gone = wait_for(lambda: not any(alive(p) for p in procs1), 5)
    orphans = [p for p in procs1 if alive(p)]
    check(gone, "s1: the killed worker's step processes %s outlived it"
          % orphans)
    if orphans:
        os.killpg(group, signal.SIGKILL)
    other.stop()
    return ("lost -> try 2 on %s, run success %.1f s after the kill; the "
            "killed worker's step group %s" % (
                other.name, took,
                "SURVIVED (%s still running; killed by the test)" % orphans
                if orphans else "was stopped by its guard"))


def s3_pg_restart():
    """PostgreSQL stops (immediate) and starts while a run is in progress."""
    w = Worker("w3", "s3")
    rid = trigger("s3_pg")
    execs = os.path.join(TMP, "s3.execs")
    check(wait_for(lambda: "one" in read(execs), 10), "s3: step one never ran")
    subprocess.run(["bash", PG, "stop", os.path.join(TMP, "pg"), "immediate"],
                   check=True, stdout=subprocess.DEVNULL)
    down = time.monotonic()
    codes = {}
    codes["run"] = req("GET", "/api/v1/runs/%d" % rid)[0]
    codes["trigger"] = req("POST", "/api/v1/dags/s3_pg/runs", {})[0]
    codes["health"] = req("GET", "/api/v1/health")[0]
    codes["dags"] = req("GET", "/api/v1/dags")[0]
    for k, c in codes.items():
        check(c == 503, "s3: %s during the outage: HTTP %s" % (k, c))
    check(SERVER.proc.poll() is None, "s3: weir-server died with the database")
    # keep the outage longer than a lease
    time.sleep(max(0, LEASE_TTL_MS / 1000 + 1 - (time.monotonic() - down)))
    subprocess.run(["bash", PG, "start", os.path.join(TMP, "pg")],
                   check=True, stdout=subprocess.DEVNULL)
    outage = time.monotonic() - down
    r = wait_run(rid, 40)
    w.stop()
    # every pooled connection must have recovered: use them all at once
    after = []
    for _ in range(3):
        ths = [threading.Thread(target=lambda: after.append(
            req("GET", "/api/v1/runs/%d" % rid)[0])) for _ in range(8)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
    check(after.count(200) == len(after),
          "s3: requests after the database came back: %s" % after)
    check(r is not None and r["state"] == "success",
          "s3 run ended %s: %s" % (r and r["state"],
                                   r and [(t["step"], tries(t), t["error"])
                                          for t in r["tasks"]]))
    check(SERVER.proc.poll() is None, "s3: weir-server exited")
    lost = sum(a["state"] == "lost" for t in r["tasks"] for a in t["attempts"])
    return ("outage %.1f s, requests got %s, run %s, %d lost attempt(s), "
            "executions: %s" % (outage, sorted(set(codes.values())),
                                r["state"], lost,
                                read(execs).split("\n")[:-1]))


BROKEN = """dag: s4_edit
defaults:
  queue: s4
steps:
  - id: first
    run: echo "new version
  - id: second
    needs: [first]
"""


def s4_broken_edit():
    """The DAG file is broken on the server while a run of it is in
    progress. The worker holds its own copy of the folder, deployed before
    the edit: the revision the server keeps running (a worker refuses a
    DAG file that differs from the run's version, docs/deploy.md)."""
    own = os.path.join(TMP, "dags-w4")
    shutil.copytree(os.path.join(TMP, "dags"), own, dirs_exist_ok=True)
    w = Worker("w4", "s4", dags=own)
    rid = trigger("s4_edit")
    r0 = get_run(rid)
    check(wait_for(lambda: task(get_run(rid), "first")["state"] == "running",
                   10), "s4: first never ran")
    with open(os.path.join(TMP, "dags", "s4_edit.yaml"), "w") as f:
        f.write(BROKEN)
    check(SERVER.stop() == 0, "s4: server did not stop cleanly")
    SERVER.start()
    code, b = req("GET", "/api/v1/dags")
    d = [x for x in b["dags"] if x["id"] == "s4_edit"] if code == 200 else []
    err = d[0].get("last_error") if d else None
    check(err is not None and re.search(r"s4_edit\.yaml:\d+:\d+", err),
          "s4: last_error %r" % err)
    r = wait_run(rid, 20)
    check(r["state"] == "success", "s4 in-flight run ended %s" % r["state"])
    out = logs(task(r, "first")["attempts"][-1]["id"])
    check("old version" in out, "s4: in-flight run log %s" % out)
    rid2 = trigger("s4_edit")
    r2 = wait_run(rid2, 20) if rid2 else None
    check(r2 is not None and r2["state"] == "success" and
          r2["version_id"] == r0["version_id"],
          "s4: new run %r, first run's version %s" % (
              r2 and (r2["state"], r2["version_id"]), r0["version_id"]))
    w.stop()
    return "last_error %r; in-flight run success, new run on version %s" % (
        err, r2 and r2["version_id"])


def acked_attempts(text):
    return {int(m) for m in re.findall(
        r"event=attempt_reported attempt=(\d+) status=200", text)}


def s2_server_kill():
    """SIGKILL the server with 20 runs in flight, then start it again."""
    ws = [Worker("w2a", "s2", 4), Worker("w2b", "s2", 4)]
    execs = os.path.join(TMP, "s2.execs")
    rids = [trigger("s2_many") for _ in range(20)]
    check(wait_for(lambda: read(execs).count("\n") >= 20, 30),
          "s2: not 20 executions before the kill")
    SERVER.stop(signal.SIGKILL)
    killed = time.monotonic()
    acked = set()
    for w in ws:
        acked |= acked_attempts(read(w.log))
    done_before = read(execs).count("\n")
    time.sleep(1.5)
    SERVER.start()
    restarted = time.monotonic()
    runs = [wait_run(rid, 60) for rid in rids]
    took = time.monotonic() - restarted
    states = [r["state"] for r in runs]
    check(states.count("success") == 20, "s2 run states %s" % states)
    for w in ws:
        check(w.proc.poll() is None, "s2: worker %s exited during the outage: "
              "%s" % (w.name, read(w.log)[-2000:]))
        check("event=call_failed" in read(w.log),
              "s2: worker %s saw no failed call" % w.name)
    count = {}
    for line in read(execs).split("\n"):
        if line:
            run_id, step, _ = line.split()
            count[(int(run_id), step)] = count.get((int(run_id), step), 0) + 1
    lost = reruns = 0
    for r in runs:
        for t in r["tasks"]:
            ts = [a["state"] for a in t["attempts"]]
            check(ts and ts[-1] == "success" and
                  all(s == "lost" for s in ts[:-1]),
                  "s2 run %d %s attempts %s" % (r["id"], t["step"], tries(t)))
            n = count.get((r["id"], t["step"]), 0)
            check(1 <= n <= len(ts), "s2 run %d %s: %d executions, attempts %s"
                  % (r["id"], t["step"], n, tries(t)))
            lost += ts.count("lost")
            reruns += n - 1
            for a in t["attempts"]:
                if a["id"] in acked:
                    check(a is t["attempts"][-1] and a["state"] == "success",
                          "s2: acknowledged attempt %d rerun: %s" % (
                              a["id"], tries(t)))
    for w in ws:
        w.stop()
    return ("killed after %d executions (%d completions acknowledged), "
            "restart after %.1f s; 20 runs %s within %.1f s of the restart; "
            "%d lost attempt(s), %d step(s) ran twice" % (
                done_before, len(acked), restarted - killed,
                "success" if states.count("success") == 20 else states, took,
                lost, reruns))


def run_scenarios(scenarios):
    """Start the server, make the tokens, run each (name, fn) whose first
    character WEIR_FAULTS lists (all without it), check the logs, print
    the summary. Returns the exit status."""
    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    started = time.monotonic()
    only = os.environ.get("WEIR_FAULTS", "")  # e.g. "14": scenarios 1, 4
    try:
        SERVER.start()
        TOKENS["admin"] = read(os.path.join(TMP, "admin.token")).strip()
        weirtest.write_token(os.path.join(TMP, "worker.token"),
                             create_token(SERVER_BIN, DB, "worker"))
        code, b = req("GET", "/api/v1/dags")
        bad = [(d["id"], d["last_error"]) for d in b["dags"]
               if d.get("last_error")] if code == 200 else b
        if not check(code == 200 and not bad, "DAGs did not load: %s" % bad):
            return 1
        for name, fn in scenarios:
            if only and name[0] not in only:
                continue
            n = len(failures)
            t0 = time.monotonic()
            print("scenario %s ..." % name, flush=True)
            try:
                what = fn()
            except Exception as e:  # a scenario's crash fails it alone
                traceback.print_exc()
                check(False, "scenario %s raised %r" % (name, e))
                what = "raised %r" % e
            summary.append("%s %-34s %5.1f s  %s" % (
                "ok  " if len(failures) == n else "FAIL", name,
                time.monotonic() - t0, what))
        check(SERVER.stop() == 0, "weir-server did not exit 0 on SIGTERM")
        for i in range(1, SERVER.n + 1):
            text = read(os.path.join(TMP, "server%d.log" % i))
            for bad in ("Sanitizer", "runtime error", "illegal_transition"):
                check(bad not in text, "server%d.log has %s: %s" % (
                    i, bad, text[text.find(bad) - 200:][:1500]))
        for name in os.listdir(TMP):
            if name.startswith("worker-"):
                text = read(os.path.join(TMP, name))
                for bad in ("Sanitizer", "runtime error"):
                    check(bad not in text, "%s has %s" % (name, bad))
    except KeyboardInterrupt:
        check(False, "interrupted")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    print("\nsummary (%.0f s):" % (time.monotonic() - started))
    for line in summary:
        print("  " + line)
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    return 0


def main():
    return run_scenarios((
        ("5 timeout kills the grandchild", s5_timeout),
        ("1 worker SIGKILLed mid-step", s1_worker_kill),
        ("3 PostgreSQL restarted mid-run", s3_pg_restart),
        ("4 DAG file broken mid-run", s4_broken_edit),
        ("2 server SIGKILLed, 20 runs", s2_server_kill)))


if __name__ == "__main__":
    sys.exit(main())
