# SPDX-License-Identifier: Apache-2.0
"""Chaos: faults injected while work flows, then the invariants checked.

Started by run_faults.sh (NAME chaos) over the DAGs of chaos_dags. For
WEIR_FAULT_SECONDS (default 45) three workers serve a stream of manual
runs, events, capped runs, approval gates, failing runs that are retried,
cancels and a cron DAG, while these faults repeat in turn: the server
SIGKILLed with 40 requests in flight, a worker SIGKILLed, PostgreSQL
stopped (immediate), a worker SIGSTOPped past its lease TTL while its
long-poll is open, and the server and PostgreSQL killed together. The
server is also killed across a minute boundary, so the cron slot of that
minute is due while it is down. Then the load stops and the test checks:

- every run finishes; no task has two successes;
- every execution of a step (each appends a line to $WEIR_TMP/execs) is
  an attempt the server knows, and no attempt ran twice;
- no step started on a worker after that attempt's lease was lost;
- every acknowledged event is stored and started or fed a run;
- runs and tasks of c_cap never exceed max_active_runs and concurrency;
- each cron slot in the window has exactly one run;
- approved gates, retried runs and canceled runs end as asked;
- after each restart of the server or PostgreSQL, every worker leases
  again: the median within 1 s, the slowest within 5 s (both printed);
- a worker whose scratch folder is full fails the attempt with a clear
  error and keeps serving (as root: a 1 MiB tmpfs).

Prints one summary line per invariant; exits 1 when a check failed.
"""
import datetime
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

import faults_test as ft
import weirtest
from weirtest import TERMINAL, check, wait_for

TMP = ft.TMP
SECONDS = float(os.environ.get("WEIR_FAULT_SECONDS", "45"))


# after a restart every worker leases again: the median within
# RECOVERY_MEDIAN_S, the slowest within RECOVERY_MAX_S (a worker that was
# SIGSTOPped meanwhile counts from its SIGCONT)
RECOVERY_MEDIAN_S = float(os.environ.get("WEIR_RECOVERY_MEDIAN_S", "1"))
RECOVERY_MAX_S = float(os.environ.get("WEIR_RECOVERY_MAX_S", "2"))
EXECS = os.path.join(TMP, "execs")
CAPS = os.path.join(TMP, "caps")

stop_load = threading.Event()
lock = threading.Lock()
acked_events = []  # event ids the server acknowledged
runs_made = {}  # run id -> dag
canceled = set()  # run ids whose cancel the server acknowledged
restarts = []  # (wall time the server answered again, what restarted)
stops = []  # (worker name, wall time of SIGSTOP, wall time of SIGCONT)
workers = {}
prev_starts = {}  # worker name -> attempt starts in the logs of its killed predecessors
rng = random.Random(int(os.environ.get("WEIR_CHAOS_SEED", "7")))


def note(*args):
    print("  ", *args, flush=True)


def remember_run(code, b, dag):
    if code == 201 and isinstance(b, dict) and b.get("run_id"):
        with lock:
            runs_made[b["run_id"]] = dag


# ---- load ----

def load_runs():
    """Manual runs of c_flow, c_cap, c_gate and c_fail."""
    dags = ["c_flow", "c_flow", "c_flow", "c_cap", "c_gate", "c_fail"]
    while not stop_load.is_set():
        dag = rng.choice(dags)
        code, b = ft.req("POST", "/api/v1/dags/%s/runs" % dag, {}, timeout=5)
        remember_run(code, b, dag)
        time.sleep(0.15)


def load_events():
    """Events for c_event, one at a time and in small batches."""
    n = 0
    while not stop_load.is_set():
        n += 1
        if n % 4:
            code, b = ft.req("POST", "/api/v1/events",
                             {"name": "chaos.tick", "id": "ev-%d" % n},
                             timeout=5)
            if code == 202:
                with lock:
                    acked_events.append(b["id"])
        else:
            body = {"events": [{"name": "chaos.tick", "id": "ev-%d-%d" % (n, i)}
                               for i in range(5)]}
            code, b = ft.req("POST", "/api/v1/events", body, timeout=5)
            if code == 202:
                with lock:
                    acked_events.extend(e["id"] for e in b["events"])
        time.sleep(0.1)


def load_control():
    """Approves gates, retries failed c_fail runs, cancels some c_flow
    runs; a call that fails is tried again on the next round."""
    while not stop_load.is_set():
        time.sleep(0.4)
        with lock:
            mine = list(runs_made.items())
        for rid, dag in mine:
            if stop_load.is_set():
                return
            if dag == "c_flow" and rid % 7 == 0 and rid not in canceled:
                code, _ = ft.req("POST", "/api/v1/runs/%d/cancel" % rid, {},
                                 timeout=5)
                if code == 200:
                    canceled.add(rid)
            if dag not in ("c_gate", "c_fail"):
                continue
            r = ft.get_run(rid)
            if r is None:
                continue
            if dag == "c_gate" and any(t["state"] == "awaiting_approval"
                                       for t in r["tasks"]):
                ft.req("POST", "/api/v1/runs/%d/steps/gate/approve" % rid,
                       {"comment": "chaos"}, timeout=5)
            if dag == "c_fail" and r["state"] == "failed":
                ft.req("POST", "/api/v1/runs/%d/retry" % rid, {}, timeout=5)


def burst(n=40):
    """n requests in flight at once (their answers do not matter)."""
    def one(i):
        if i % 2:
            ft.req("GET", "/api/v1/runs?limit=50", timeout=5)
        else:
            code, b = ft.req("POST", "/api/v1/dags/c_flow/runs", {},
                             timeout=5)
            remember_run(code, b, "c_flow")
    ths = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in ths:
        th.start()
    return ths


# ---- faults ----

def server_ready_mark(what):
    with lock:
        restarts.append((time.time(), what))


def kill_server(inflight=True, down=1.0):
    ths = burst() if inflight else []
    time.sleep(0.05)
    ft.SERVER.stop(signal.SIGKILL)
    time.sleep(down)
    ft.SERVER.start()
    server_ready_mark("server")
    for th in ths:
        th.join()


def kill_worker():
    name = rng.choice(sorted(workers))
    w = workers[name]
    w.proc.send_signal(signal.SIGKILL)
    w.proc.wait()
    prev_starts.setdefault(name, []).extend(started_times(name))
    workers[name] = ft.Worker(name, "chaos", w_slots(name))


def pg(cmd, *args):
    subprocess.run(["bash", ft.PG, cmd, os.path.join(TMP, "pg")] + list(args),
                   check=True, stdout=subprocess.DEVNULL)


def stop_pg():
    pg("stop", "immediate")
    time.sleep(1.0)
    pg("start")
    server_ready_mark("postgresql")


def stop_worker_past_ttl():
    """SIGSTOP a worker while its long-poll is open and work is offered;
    SIGCONT it after the lease TTL and a margin."""
    name = rng.choice(sorted(workers))
    w = workers[name]
    stopped = time.time()
    w.proc.send_signal(signal.SIGSTOP)
    for _ in range(3):
        code, b = ft.req("POST", "/api/v1/dags/c_flow/runs", {}, timeout=5)
        remember_run(code, b, "c_flow")
    time.sleep(ft.LEASE_TTL_MS / 1000 + 2)
    w.proc.send_signal(signal.SIGCONT)
    with lock:
        stops.append((name, stopped, time.time()))


def kill_both():
    ft.SERVER.stop(signal.SIGKILL)
    pg("stop", "immediate")
    time.sleep(0.5)
    pg("start")
    ft.SERVER.start()
    server_ready_mark("server+postgresql")


FAULTS = [("server killed, 40 in flight", kill_server),
          ("worker killed", kill_worker),
          ("postgresql stopped", stop_pg),
          ("worker stopped past its TTL", stop_worker_past_ttl),
          ("server and postgresql killed", kill_both)]


def w_slots(name):
    return {"wa": 2, "wb": 3, "wc": 4}[name]


def cron_boundary_kill(deadline):
    """Kill the server 0.5 s before the next minute and start it 1.5 s
    after, when that is before deadline: the slot is due while it is
    down. Returns the slot's time or None."""
    now = time.time()
    boundary = (int(now) // 60 + 1) * 60
    if boundary + 2 > deadline:
        return None
    time.sleep(max(0, boundary - 0.5 - time.time()))
    kill_server(inflight=False, down=2.0)
    return boundary


def inject(deadline):
    done = []
    cron_slot = None
    i = 0
    while time.time() < deadline - 3:
        now = time.time()
        nxt = (int(now) // 60 + 1) * 60
        if cron_slot is None and nxt - now < 6 and nxt + 2 < deadline:
            cron_slot = cron_boundary_kill(deadline)
            done.append("server killed across the minute %s" %
                        time.strftime("%H:%M", time.gmtime(cron_slot)))
            time.sleep(rng.uniform(2.5, 4.0))
            continue
        name, fn = FAULTS[i % len(FAULTS)]
        i += 1
        t0 = time.monotonic()
        fn()
        done.append("%s (%.1f s)" % (name, time.monotonic() - t0))
        time.sleep(rng.uniform(2.5, 4.0))
    return done, cron_slot


# ---- checks ----

def all_runs():
    runs, cursor = [], None
    while True:
        path = "/api/v1/runs?limit=500" + ("&cursor=%d" % cursor
                                           if cursor else "")
        code, b = ft.req("GET", path)
        if not check(code == 200, "runs list: HTTP %s %s" % (code, b)):
            return runs
        runs.extend(b["runs"])
        cursor = b.get("next_cursor")
        if not cursor:
            return runs


def read_lines(path):
    try:
        with open(path) as f:
            return [l.split() for l in f if l.strip()]
    except OSError:
        return []


def check_runs(details):
    """Every run finished, no double success, executions known."""
    by_state = {}
    double = unknown = twice = late = reexec = 0
    attempts = {}  # (run, step, cell, try) -> attempt
    for r in details.values():
        by_state[r["state"]] = by_state.get(r["state"], 0) + 1
        check(r["state"] in TERMINAL, "chaos: run %d of %s is %s" % (
            r["id"], r["dag"], r["state"]))
        for t in r["tasks"]:
            succ = [a for a in t["attempts"] if a["state"] == "success"]
            if len(succ) > 1:
                double += 1
                check(False, "chaos: run %d %s has %d successes" % (
                    r["id"], t["step"], len(succ)))
            cell = "-"
            if t.get("matrix"):
                cell = str(list(t["matrix"].values())[0])
            for a in t["attempts"]:
                attempts[(r["id"], t["step"], cell, a["try"])] = a
    seen = {}
    for line in read_lines(EXECS):
        if len(line) != 5:
            continue
        at, key = float(line[0]), (int(line[1]), line[2], line[3],
                                   int(line[4]))
        seen.setdefault(key, []).append(at)
    stopped = {}
    for name, _, cont in stops:
        stopped.setdefault(name, []).append(cont)
    for key, times in seen.items():
        a = attempts.get(key)
        if a is None:
            if key[0] in details:
                unknown += 1
                check(False, "chaos: execution %s unknown to the server" %
                      (key,))
            continue
        if len(times) > 1:
            twice += 1
            check(False, "chaos: attempt %s executed %d times" % (
                key, len(times)))
        if key[3] > 1:
            reexec += 1
        if a["state"] == "lost":
            for cont in stopped.get(a.get("worker"), []):
                if min(times) > cont - 0.05 and min(times) < cont + 5:
                    late += 1
                    check(False, "chaos: %s started on %s at %.2f, after its "
                          "lease was lost (worker resumed at %.2f)" % (
                              key, a["worker"], min(times), cont))
    return ("%d runs %s; %d executions, %d retries of steps, %d tasks with "
            "two successes, %d unknown executions, %d attempts run twice, "
            "%d started after their lease was lost" % (
                len(details), by_state, len(seen), reexec, double, unknown,
                twice, late))


def check_events():
    stored = {}
    cursor = None
    while True:
        path = "/api/v1/events?limit=500" + ("&cursor=%d" % cursor
                                             if cursor else "")
        code, b = ft.req("GET", path)
        if not check(code == 200, "events list: HTTP %s" % code):
            break
        for e in b["events"]:
            stored[e["id"]] = e
        cursor = b.get("next_cursor")
        if not cursor or not b["events"]:
            break
    missing = [i for i in acked_events if i not in stored]
    idle = [i for i in acked_events if i in stored and not stored[i]["runs"]]
    check(not missing, "chaos: %d acknowledged events not stored: %s" % (
        len(missing), missing[:10]))
    check(not idle, "chaos: %d acknowledged events started or fed no run: "
          "%s" % (len(idle), idle[:10]))
    return "%d acknowledged, %d missing, %d started no run" % (
        len(acked_events), len(missing), len(idle))


def check_caps(details):
    """Runs of c_cap active at once (from their executions) and tasks
    running at once, counting only attempts that were not lost."""
    lost = set()
    for r in details.values():
        if r["dag"] != "c_cap":
            continue
        for t in r["tasks"]:
            cell = str(list((t.get("matrix") or {"x": "-"}).values())[0])
            for a in t["attempts"]:
                if a["state"] == "lost":
                    lost.add((r["id"], cell, a["try"]))
    spans, runs = [], {}
    for line in read_lines(CAPS):
        s, e, rid, cell, tr = (float(line[0]), float(line[1]), int(line[2]),
                               line[4], int(line[5]))
        if (rid, cell, tr) in lost:
            continue
        spans.append((s, e))
        lo, hi = runs.get(rid, (s, e))
        runs[rid] = (min(lo, s), max(hi, e))

    def most(intervals):
        points = sorted([(s, 1) for s, _ in intervals] +
                        [(e, -1) for _, e in intervals])
        cur = top = 0
        for _, d in points:
            cur += d
            top = max(top, cur)
        return top
    tasks_top, runs_top = most(spans), most(list(runs.values()))
    check(tasks_top <= 2, "chaos: c_cap had %d tasks running at once "
          "(concurrency: 2)" % tasks_top)
    check(runs_top <= 2, "chaos: c_cap had %d runs active at once "
          "(max_active_runs: 2)" % runs_top)
    return "%d executions of %d runs; at most %d tasks and %d runs at once" % (
        len(spans), len(runs), tasks_top, runs_top)


def check_cron(details, first, last, slot):
    """One run per minute slot strictly inside [first, last]."""
    want = list(range((int(first) // 60 + 1) * 60, int(last) - 1, 60))
    got = {}
    for r in details.values():
        if r["dag"] != "c_cron":
            continue
        lt = r.get("logical_time") or ""
        try:
            t = datetime.datetime.strptime(lt[:19], "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            continue
        t = int(t.replace(tzinfo=datetime.timezone.utc).timestamp())
        got[t] = got.get(t, 0) + 1
    for s in want:
        check(got.get(s, 0) == 1, "chaos: cron slot %s has %d runs" % (
            time.strftime("%H:%M", time.gmtime(s)), got.get(s, 0)))
    doubled = [s for s, n in got.items() if n > 1]
    check(not doubled, "chaos: cron slots with two runs: %s" % doubled)
    return "%d slot(s) in the window, %d with one run%s" % (
        len(want), sum(1 for s in want if got.get(s) == 1),
        "; the server was down at %s" % time.strftime(
            "%H:%M:%S", time.gmtime(slot)) if slot else "")


def check_control(details):
    gates = [r for r in details.values() if r["dag"] == "c_gate"]
    fails = [r for r in details.values() if r["dag"] == "c_fail"]
    cans = [details[i] for i in canceled if i in details]
    for r in gates:
        check(r["state"] == "success", "chaos: approved gate run %d is %s" % (
            r["id"], r["state"]))
    for r in fails:
        check(r["state"] == "success" and r.get("retry_count", 0) >= 1,
              "chaos: retried run %d is %s after %s retries" % (
                  r["id"], r["state"], r.get("retry_count")))
    for r in cans:
        check(r["state"] in ("canceled", "success"),
              "chaos: canceled run %d is %s" % (r["id"], r["state"]))
    return "%d gates approved, %d failed runs retried, %d canceled" % (
        len(gates), len(fails), sum(r["state"] == "canceled" for r in cans))


LOG_TS = re.compile(r"^ts=(\S+) .*event=attempt_started")


def started_times(name):
    out = []
    for path in sorted(os.listdir(TMP)):
        if path == "worker-%s.log" % name:
            with open(os.path.join(TMP, path)) as f:
                for line in f:
                    m = LOG_TS.match(line)
                    if m:
                        out.append(datetime.datetime.strptime(
                            m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                            tzinfo=datetime.timezone.utc).timestamp())
    return out


def recovery_start(name, at, first):
    """When worker name could lease again after a restart at time at:
    at, or its SIGCONT if it was stopped before its first lease."""
    for who, stopped, cont in stops:
        if who == name and stopped < first and cont > at:
            at = max(at, cont)
    return at


def check_recovery(prev_logs):
    """After each restart, each worker's first attempt start."""
    gaps = []
    for name in workers:
        times = sorted(started_times(name) + prev_logs.get(name, []))
        for at, what in restarts:
            later = [t for t in times if t >= at]
            if not later:
                continue
            gap = later[0] - recovery_start(name, at, later[0])
            gaps.append(gap)
            check(gap <= RECOVERY_MAX_S,
                  "chaos: worker %s leased %.2f s after the %s came back" % (
                      name, gap, what))
    check(gaps, "chaos: no recovery measured")
    if not gaps:
        return "none measured"
    check(statistics.median(gaps) <= RECOVERY_MEDIAN_S,
          "chaos: median recovery %.2f s, want at most %.1f s" % (
              statistics.median(gaps), RECOVERY_MEDIAN_S))
    return "%d restarts x %d workers: median %.2f s, max %.2f s" % (
        len(restarts), len(workers), statistics.median(gaps), max(gaps))


def full_disk():
    """A worker whose scratch folder is full: the attempt fails with a
    clear error and the worker keeps serving."""
    if os.geteuid() != 0:
        return "skipped: mounting a small tmpfs needs root"
    mnt = os.path.join(TMP, "tiny")
    os.makedirs(mnt, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt],
                   check=True)
    try:
        # full before the worker starts: it cannot make attempt folders
        subprocess.run(["dd", "if=/dev/zero", "of=" + os.path.join(
            mnt, "filler"), "bs=64k"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        args = [ft.WORKER_BIN, "--server", ft.SERVER.url(), "--token-file",
                os.path.join(TMP, "worker.token"), "--slots", "1", "--queue",
                "disk", "--dags-dir", os.path.join(TMP, "dags"), "--name",
                "wdisk", "--scratch-dir", mnt, "--shutdown-grace", "1s"]
        log = os.path.join(TMP, "worker-wdisk.log")
        with open(log, "w") as out:
            p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=out)
        ft.procs.append(p)
        ft.remember(p.pid)
        check(wait_for(lambda: "event=registered" in ft.read(log), 15),
              "disk: worker did not register")
        rid = ft.trigger("c_disk")
        r = ft.wait_run(rid, 30) if rid else None
        a = r and r["tasks"][0]["attempts"]
        err = (a[-1].get("error") or "") if a else ""
        check(r is not None and r["state"] == "failed" and
              re.search(r"space|full", err, re.I),
              "disk: run with a full scratch folder: %s %r" % (
                  r and r["state"], err))
        check(p.poll() is None, "disk: the worker exited: %s" %
              ft.read(log)[-1500:])
        os.unlink(os.path.join(mnt, "filler"))
        rid = ft.trigger("c_disk")
        r2 = ft.wait_run(rid, 30) if rid else None
        check(r2 is not None and r2["state"] == "success",
              "disk: run after space came back: %s" % (r2 and r2["state"]))
        p.send_signal(signal.SIGTERM)
        p.wait(15)
        return "full: run %s (%r); space back: run %s" % (
            r and r["state"], err[:80], r2 and r2["state"])
    finally:
        subprocess.run(["umount", "-l", mnt])


def chaos():
    for n in ("wa", "wb", "wc"):
        workers[n] = ft.Worker(n, "chaos", w_slots(n))
    loads = [threading.Thread(target=f, daemon=True)
             for f in (load_runs, load_events, load_control)]
    first = time.time()
    for th in loads:
        th.start()
    deadline = first + SECONDS
    injected, slot = inject(deadline)
    time.sleep(max(0, deadline - time.time()))
    last = time.time()
    stop_load.set()
    for th in loads:
        th.join(30)
    note("faults: " + "; ".join(injected))

    # drain: approvals and retries may still be due
    def settled():
        # every run, also those whose 201 was lost with a killed server
        with lock:
            ids = set(runs_made)
        ids.update(r["id"] for r in all_runs())
        pending = 0
        for rid in ids:
            r = ft.get_run(rid)
            if r is None or r["state"] in TERMINAL:
                if r and r["dag"] == "c_fail" and r["state"] == "failed":
                    ft.req("POST", "/api/v1/runs/%d/retry" % rid, {})
                    pending += 1
                continue
            if r["dag"] == "c_gate":
                ft.req("POST", "/api/v1/runs/%d/steps/gate/approve" % rid,
                       {"comment": "chaos"})
            pending += 1
        return pending == 0
    check(wait_for(settled, 90, 0.5), "chaos: runs still unfinished 90 s "
          "after the faults stopped")
    details = {}
    for r in all_runs():
        d = ft.get_run(r["id"])
        if d:
            details[d["id"]] = d
    results = [("runs", check_runs(details)),
               ("events", check_events()),
               ("caps", check_caps(details)),
               ("cron", check_cron(details, first, last, slot)),
               ("control", check_control(details)),
               ("recovery", check_recovery(prev_starts))]
    for name in list(workers):
        workers[name].stop()
    for k, v in results:
        note("%-8s %s" % (k, v))
    return "%.0f s of faults, %d injected; %s" % (
        last - first, len(injected), "; ".join(v for _, v in results))


def main():
    return ft.run_scenarios((
        ("c chaos under load", chaos),
        ("d full scratch folder", full_disk)))


if __name__ == "__main__":
    sys.exit(main())
