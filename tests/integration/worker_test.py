# SPDX-License-Identifier: Apache-2.0
"""weir-worker against the real weir-server: what a worker must survive
and what it must never do.

Started by run_faults.sh (NAME worker), which provides a private
PostgreSQL and the DAGs of tests/integration/worker_dags (a queue per
scenario). The server, the scenarios' workers and their faults are
started here, with faults_test.py's helpers; every pid goes to
$WEIR_TMP/pids for the shell's trap. WEIR_FAULTS=fs runs only the
scenarios whose names start with f and s.

  f  a step holds no descriptor of the worker's (only 0-2)
  r  --run-as: the step runs as the user, cannot read the token file
  s  a SIGKILLed worker's folders go at the next start, a live one's stay
  u  a heartbeat 409 while a log batch is in flight (stopped worker, x4):
     no sanitizer report, the worker keeps serving
  l  an attempt leased to a stopped worker is not started after its lease
  b  after a 2 s server outage with busy slots, a new run is leased
     within 2 s of the server being ready
  c  a cancel stops the step's process group within 1.5 s
"""
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time

import faults_test as ft
from faults_test import SERVER, alive, note, read, remember, req, trigger
from weirtest import TERMINAL, check, wait_for

TMP = ft.TMP


class Worker:
    """A weir-worker on one queue, with extra flags; its log in TMP."""

    def __init__(self, name, queue, slots=1, scratch="scratch", extra=(),
                 register=True):
        self.name = name
        self.log = os.path.join(TMP, "worker-%s.log" % name)
        self.scratch = os.path.join(TMP, scratch)
        os.makedirs(self.scratch, exist_ok=True)
        args = [ft.WORKER_BIN, "--server", SERVER.url(), "--token-file",
                os.path.join(TMP, "worker.token"), "--slots", str(slots),
                "--queue", queue, "--dags-dir", os.path.join(TMP, "dags"),
                "--name", name, "--scratch-dir", self.scratch,
                "--shutdown-grace", "1s"] + list(extra)
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=out)
        ft.procs.append(self.proc)
        remember(self.proc.pid)
        if register and not wait_for(
                lambda: "event=registered" in read(self.log) or
                self.proc.poll() is not None, 15):
            raise RuntimeError("worker %s did not register" % name)
        if self.proc.poll() is not None:
            raise RuntimeError("worker %s exited: %s" % (name,
                                                         read(self.log)))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                check(False, "worker %s did not stop on SIGTERM" % self.name)
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def count(self, what):
        return read(self.log).count(what)


def wait_run(rid, timeout):
    return ft.wait_run(rid, timeout)


def attempt_of(rid, step, state="running"):
    """The first attempt of step in run rid that is in state, or None."""
    r = ft.get_run(rid)
    for t in (r or {}).get("tasks", []):
        for a in t["attempts"] if t["step"] == step else []:
            if a["state"] == state:
                return a
    return None


def clean_logs(w):
    text = read(w.log)
    for bad in ("Sanitizer", "runtime error"):
        check(bad not in text, "%s: %s in its log: %s" % (
            w.name, bad, text[text.find(bad) - 300:][:3000]))


# ---- f: descriptors ----

def fd_list(path):
    """{fd: target} from `ls -l /proc/PID/fd` output in path."""
    fds = {}
    for line in read(path).splitlines():
        if " -> " in line:
            left, target = line.split(" -> ", 1)
            fds[left.split()[-1]] = target
    return fds


def f_fds():
    """A step's shell holds what /bin/sh holds when started with 0-2 only
    (the shell may open one of its own): none of the worker's sockets,
    lock or other steps' pipes."""
    w = Worker("wf", "f", slots=2)
    path = os.path.join(TMP, "f.fds")
    base = os.path.join(TMP, "f.base")
    subprocess.run(["/bin/sh", "-c", "ls -l /proc/$$/fd > %s; true" % base],
                   close_fds=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    r = wait_run(trigger("f_fds"), 20)
    w.stop()
    fds, want = fd_list(path), fd_list(base)
    check(r and r["state"] == "success", "f: run %s" % (r and r["state"]))
    check(sorted(fds) == sorted(want) and "0" in fds,
          "f: the step holds descriptors %s, a shell alone %s" % (
              fds, sorted(want)))
    check(not any("socket" in t for t in fds.values()),
          "f: the step holds a socket: %s" % fds)
    return "step descriptors %s" % " ".join(sorted(fds))


# ---- r: --run-as ----

def r_run_as():
    """Under --run-as the step runs with the user's uid and gid and cannot
    read the token file; the worker refuses a token file others can
    read."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        note("skipped: needs root and useradd")
        return "skipped (not root)"
    user = "weirt%d" % os.getpid()
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                    "/usr/sbin/nologin", user], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pw = pwd.getpwnam(user)
        w = Worker("wr", "r", extra=["--run-as", user])
        r = wait_run(trigger("r_runas"), 20)
        w.stop()
        clean_logs(w)
        check(r and r["state"] == "success", "r: run %s" % (
            r and [(t["step"], t["state"]) for t in r["tasks"]]))
        lines = ft.logs(ft.task(r, "who")["attempts"][0]["id"]) if r else []
        check("ids %d %d" % (pw.pw_uid, pw.pw_gid) in lines,
              "r: the step did not run as %s (%d:%d): %s" % (
                  user, pw.pw_uid, pw.pw_gid, lines))
        check("token unreadable" in lines,
              "r: the step could read the token file: %s" % lines)
        # a token file the step's user could read is refused at start
        loose = os.path.join(TMP, "loose.token")
        shutil.copy(os.path.join(TMP, "worker.token"), loose)
        os.chmod(loose, 0o644)
        p = subprocess.run([ft.WORKER_BIN, "--server", SERVER.url(),
                            "--token-file", loose, "--run-as", user,
                            "--dags-dir", os.path.join(TMP, "dags"),
                            "--scratch-dir", os.path.join(TMP, "scratch")],
                           capture_output=True, text=True, timeout=20)
        check(p.returncode != 0 and "mode 600" in p.stderr,
              "r: a readable token file was accepted: %d %s" % (
                  p.returncode, p.stderr))
        return "step ran as %d:%d, token unreadable" % (pw.pw_uid, pw.pw_gid)
    finally:
        subprocess.run(["userdel", user], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


# ---- s: scratch folders ----

def attempt_dirs(top):
    """Every weir-attempt-* folder under top, at any depth."""
    found = []
    for dirpath, dirnames, _ in os.walk(top):
        found += [os.path.join(dirpath, d) for d in dirnames
                  if d.startswith("weir-attempt-")]
    return sorted(found)


def s_scratch():
    """A SIGKILLed worker's folders are removed by the next worker started
    on the same scratch folder; a live worker's there are not."""
    top = os.path.join(TMP, "scratch_s")
    live = Worker("ws-live", "s", slots=3, scratch="scratch_s")
    wait_for(lambda: len(attempt_dirs(top)) >= 3, 10)
    live_dirs = attempt_dirs(top)
    before = set(os.listdir(top))
    dead = Worker("ws-dead", "s", slots=4, scratch="scratch_s")
    wait_for(lambda: len(attempt_dirs(top)) >= len(live_dirs) + 4, 10)
    dead_dirs = sorted(set(attempt_dirs(top)) - set(live_dirs))
    dead_top = sorted(set(os.listdir(top)) - before)
    check(len(dead_dirs) >= 4, "s: the worker made %d folders ahead" %
          len(dead_dirs))
    dead.signal(signal.SIGKILL)
    dead.proc.wait()
    check(all(os.path.exists(d) for d in dead_dirs),
          "s: folders gone before the next start")
    nxt = Worker("ws-next", "s", slots=1, scratch="scratch_s")
    gone = wait_for(lambda: not any(os.path.exists(os.path.join(top, d))
                                    for d in dead_top), 5)
    left = [d for d in dead_dirs if os.path.exists(d)]
    check(gone and not left, "s: the dead worker's folders are still there: "
          "%s" % left)
    kept = [d for d in live_dirs if os.path.exists(d)]
    check(kept == live_dirs, "s: a live worker's folders were removed: %s" %
          sorted(set(live_dirs) - set(kept)))
    check(live.proc.poll() is None, "s: the live worker died")
    nxt.stop()
    live.stop()
    clean_logs(live)
    check(os.listdir(top) == [], "s: scratch not empty after clean stops: "
          "%s" % os.listdir(top))
    return "%d dead folders removed, %d live kept" % (
        len(dead_dirs) - len(left), len(kept))


# ---- u: a 409 while a log batch is in flight ----

def u_stale_batch():
    """Stopped past the lease TTL while a chatty step runs, four times: the
    heartbeat's 409 meets a log batch in flight; no sanitizer report, and
    the worker runs the next step."""
    w = Worker("wu", "u", slots=1)
    stale = 0
    for rnd in range(4):
        rid = trigger("u_chatty")
        if not wait_for(lambda: attempt_of(rid, "chat"), 20):
            check(False, "u: round %d never started" % rnd)
            break
        time.sleep(1.0 + 0.3 * rnd)  # lines flowing, at varied phases
        n = w.count("event=lease_stale")
        w.signal(signal.SIGSTOP)
        time.sleep(ft.LEASE_TTL_MS / 1000 + 2)
        w.signal(signal.SIGCONT)
        if wait_for(lambda: w.count("event=lease_stale") > n or
                    w.proc.poll() is not None, 10):
            stale += 1
        if not check(w.proc.poll() is None, "u: round %d: the worker died "
                     "(exit %s)" % (rnd, w.proc.returncode)):
            break
        r = wait_run(rid, 30)
        check(r and r["state"] in TERMINAL, "u: round %d: run %s" % (
            rnd, r and r["state"]))
    ok = None
    if w.proc.poll() is None:
        ok = wait_run(trigger("u_ok"), 20)
    check(ok and ok["state"] == "success", "u: the worker stopped serving: "
          "%s" % (ok and ok["state"]))
    alive_after = w.proc.poll() is None
    w.stop()
    clean_logs(w)
    return "%d/4 rounds stale, worker %s" % (
        stale, "alive" if alive_after else "DEAD")


# ---- l: no start after the lease ended ----

def l_lease_deadline():
    """The lease answer reaches a stopped worker; when it resumes the
    lease is over: try 1 must not run there (try 2 runs after expiry)."""
    w = Worker("wl", "l", slots=1)
    marker = os.path.join(TMP, "l.marker")
    time.sleep(0.5)  # its long-poll is waiting on the server
    w.signal(signal.SIGSTOP)
    rid = trigger("l_marker")
    claimed = wait_for(lambda: attempt_of(rid, "mark"), 5)
    check(claimed, "l: try 1 was not leased to the stopped worker")
    time.sleep(ft.LEASE_TTL_MS / 1000 + 2)
    w.signal(signal.SIGCONT)
    r = wait_run(rid, 30)
    w.stop()
    clean_logs(w)
    tries = read(marker).split()
    check(r and r["state"] == "success", "l: run %s" % (r and r["state"]))
    check("1" not in tries, "l: try 1 ran after its lease was over "
          "(tries that ran: %s)" % tries)
    check(w.count("event=attempt_abandoned") >= 1,
          "l: the worker did not say it abandoned try 1")
    return "tries run %s" % tries


# ---- b: recovery after a server outage ----

def b_round(w, what):
    """One outage of what ("server" or "postgres") for 2 s with three of
    the worker's four slots busy; returns the seconds from the server
    being ready again to the start of a run triggered then."""
    for f in ("b.quick", "b.busy.one", "b.busy.two", "b.busy.three"):
        if os.path.exists(os.path.join(TMP, f)):
            os.unlink(os.path.join(TMP, f))
    busy = trigger("b_busy")
    wait_for(lambda: all(os.path.exists(os.path.join(TMP, "b.busy." + s))
                         for s in ("one", "two", "three")), 20)
    if what == "server":
        SERVER.stop(signal.SIGKILL)
        time.sleep(2)
        SERVER.start()
    else:
        pgdir = os.path.join(TMP, "pg")
        subprocess.run(["bash", ft.PG, "stop", pgdir, "immediate"],
                       check=True, stdout=subprocess.DEVNULL)
        time.sleep(2)
        subprocess.run(["bash", ft.PG, "start", pgdir], check=True,
                       stdout=subprocess.DEVNULL)
        wait_for(lambda: req("GET", "/api/v1/health")[0] == 200, 20, 0.02)
    ready = time.time()
    rid = trigger("b_quick")
    path = os.path.join(TMP, "b.quick")
    wait_for(lambda: read(path).strip(), 40)
    late = float(read(path).strip() or "inf") - ready
    check(late <= 2.0, "b: after the %s's outage the new run started %.1f s "
          "after the server was ready (at most 2 s)" % (what, late))
    r = wait_run(rid, 30)
    check(r and r["state"] == "success", "b: quick run %s" % (
        r and r["state"]))
    rb = wait_run(busy, 30)
    check(rb and rb["state"] in TERMINAL, "b: busy run %s" % (
        rb and rb["state"]))
    return late


def b_outage():
    """Three of four slots busy, the server SIGKILLed for 2 s, then
    PostgreSQL stopped for 2 s: a run triggered as soon as the server is
    ready again starts within 2 s."""
    w = Worker("wb", "b", slots=4)
    server = b_round(w, "server")
    pg = b_round(w, "postgres")
    w.stop()
    clean_logs(w)
    return "first step %.2f s (server), %.2f s (PostgreSQL) after ready" % (
        server, pg)


# ---- c: cancel ----

def c_cancel():
    """With a 30 s lease TTL (heartbeats every 10 s), a cancel stops the
    step's shell and its child within 1.5 s."""
    SERVER.stop()
    ft.LEASE_TTL_MS = 30000
    SERVER.start()
    w = Worker("wc", "c", slots=1)
    rid = trigger("c_sleep")
    pids = {}
    for name in ("sh", "sleep"):
        path = os.path.join(TMP, "c." + name)
        wait_for(lambda: read(path).strip(), 20)
        pids[name] = int(read(path).strip() or 0)
    time.sleep(0.5)
    t0 = time.monotonic()
    code, b = req("POST", "/api/v1/runs/%d/cancel" % rid, {})
    check(code == 200, "c: cancel: %s %s" % (code, b))
    gone = wait_for(lambda: not any(alive(p) for p in pids.values()), 15,
                    0.02)
    took = time.monotonic() - t0
    check(gone and took <= 1.5, "c: the step's processes were gone %.2f s "
          "after the cancel (at most 1.5 s)" % took)
    r = wait_run(rid, 20)
    check(r and r["state"] == "canceled", "c: run %s" % (r and r["state"]))
    # max_active_runs 1: the next run waits until the canceled one's step
    # is gone, not only until the cancel
    first = trigger("c_hold")
    path = os.path.join(TMP, "c.hold")
    wait_for(lambda: read(path).strip(), 20)
    sh = int(read(path).strip() or 0)
    second = trigger("c_hold")
    check(ft.get_run(second)["state"] == "queued", "c: second run not queued")
    req("POST", "/api/v1/runs/%d/cancel" % first, {})
    time.sleep(1.0)
    held = ft.get_run(second)["state"]
    check(alive(sh) and held == "queued", "c: while the canceled step still "
          "stops (alive: %s), the next run is %s, not queued" % (
              alive(sh), held))
    wait_for(lambda: not alive(sh), 10)
    started = wait_for(lambda: ft.get_run(second)["state"] != "queued", 10)
    check(started, "c: the held run did not start once the step was gone")
    req("POST", "/api/v1/runs/%d/cancel" % second, {})
    wait_run(second, 10)
    w.stop()
    clean_logs(w)
    return "processes gone %.2f s after the cancel, slot held: %s" % (
        took, held)


def main():
    return ft.run_scenarios((
        ("f step descriptors", f_fds),
        ("r --run-as", r_run_as),
        ("s scratch after SIGKILL", s_scratch),
        ("u heartbeat 409 with a batch in flight", u_stale_batch),
        ("l no start after the lease", l_lease_deadline),
        ("b recovery after a server outage", b_outage),
        ("c cancel reaches the step", c_cancel)))


if __name__ == "__main__":
    sys.exit(main())
