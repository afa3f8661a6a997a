# SPDX-License-Identifier: Apache-2.0
"""Wake-ups across servers (docs/architecture.md, "Several servers:
wake-ups"): two weir-server processes on one database, a real weir-worker
long-polling server A, and this script acting through server B.

- A run triggered through B starts on A's worker within milliseconds:
  trigger (the client's clock before the POST) to the worker's
  event=attempt_started line, for RUNS runs through B and RUNS through A;
  p50 and max printed, B's p50 asserted under P50_MAX_MS (without the
  wake-up, the worker's long-poll on A sleeps up to its 25 s wait).
- An event posted, a gate approved and a failed run retried through B:
  the step each makes claimable starts on A's worker at once too.
- A cancel through B stops the step's process on A's worker within
  CANCEL_MAX_S (the heartbeat, every 20 s here, would take far longer).
- DAGs paused, unpaused and submitted through B reach A's scheduler:
  A's log shows the change and arms the DAG again (cron_armed) after an
  unpause; when a minute turns during the test (the test waits for one
  when that fits its time budget), a DAG paused through B gets no run
  for it, from either server, and an unpaused one gets exactly one, which
  one server's scheduler fired (the leader's: A's, or B's when the
  database restart handed B the leadership).
- A's listen connection (found by the pid A logs, application_name
  weir-server-listen) terminated with pg_terminate_backend() while the
  database refuses new sessions (ALLOW_CONNECTIONS false; sessions open
  stay): A logs listen_lost; a run triggered through B does not start
  until A listens again (listen_restored), then at once; a run after
  that starts at once too.

- PostgreSQL restarted: both servers listen again, and a run through B
  starts at once on A's worker.

run_xserver.sh passes WEIR_URL (A), WEIR_URL_B, WEIR_ADMIN, WEIR_READ,
WEIR_PSQL, WEIR_PG and WEIR_PG_DIR (pg.sh and the cluster), WEIR_LOG_A,
WEIR_LOG_B, WEIR_WORKER_LOG and WEIR_ELAPSED (the seconds the script took
before starting this one, for the time budget).
"""
import datetime
import os
import re
import statistics
import subprocess
import time

from weirtest import (ADMIN, BASE, TERMINAL, alive, call, check, req, run,
                      run_tests, wait_for)

B = os.environ["WEIR_URL_B"]
LOG_A = os.environ["WEIR_LOG_A"]
LOG_B = os.environ["WEIR_LOG_B"]
WORKER_LOG = os.environ["WEIR_WORKER_LOG"]
RUNS = 20             # latency runs through each server
P50_MAX_MS = 200      # B's p50 trigger-to-start must stay under this
MAX_MS = 3000         # and every one of them under this
CANCEL_MAX_S = 2.0    # cancel through B to the step's process gone
BUDGET_S = 32         # the whole script, server starts included
STOP_S = 3            # what the script needs after this one ends
T_START = time.monotonic()
paused_at = {}        # DAG id -> wall time its pause through B returned
unpaused_at = {}      # DAG id -> wall time its unpause through B returned


def sql(q, db=None):
    """The rows of q (on database db, else the test's), unaligned, as a
    list of lines."""
    r = subprocess.run(os.environ["WEIR_PSQL"].split() +
                       (["-d", db] if db else []) + ["-tAc", q],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "psql %s: %s" % (q, r.stderr))
    return [ln for ln in r.stdout.splitlines() if ln]


def lines(path):
    with open(path, errors="replace") as f:
        return f.read().splitlines()


def log_ts(line):
    """The ts= of a log line as Unix seconds (millisecond resolution)."""
    m = re.match(r"ts=(\S+)Z ", line)
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


def started(run_id, step=None, nth=1):
    """(ts, pid) of the worker's nth event=attempt_started for run_id (of
    step, when given), or None."""
    pat = re.compile(r"event=attempt_started run=%d dag=\S+ step=%s .* "
                     r"pid=(\d+)" % (run_id, re.escape(step) if step
                                     else r"\S+"))
    seen = 0
    for ln in lines(WORKER_LOG):
        m = pat.search(ln)
        if m:
            seen += 1
            if seen == nth:
                return log_ts(ln), int(m.group(1))
    return None


def trigger_on(base, dag):
    """A run of dag through base; its id (None on failure)."""
    code, b = req("POST", "/api/v1/dags/%s/runs" % dag, ADMIN, {},
                  base=base)
    check(code == 201, "trigger %s through %s: %d %s" % (dag, base, code, b))
    return b.get("run_id") if code == 201 else None


def finish(run_id, timeout=20):
    b = wait_for(lambda: (lambda r: r if r.get("state") in TERMINAL
                          else None)(run(run_id)), timeout, 0.02)
    check(b is not None, "run %s did not end within %d s" % (run_id, timeout))
    return b or {}


def latency(base, dag="xs-quick"):
    """Trigger through base to the step's start on A's worker, in ms;
    the run id."""
    t0 = time.time()
    rid = trigger_on(base, dag)
    if rid is None:
        return None, None
    got = wait_for(lambda: started(rid), 30, 0.002)
    check(got is not None, "run %d did not start within 30 s" % rid)
    return ((got[0] - t0) * 1000 if got else None), rid


def figures(name, v):
    print("%s: %d runs, trigger-to-start ms p50 %.1f max %.1f min %.1f"
          % (name, len(v), statistics.median(v), max(v), min(v)), flush=True)


def log_after(path, pattern, since):
    """The lines of path matching pattern logged at or after wall time
    since (ms resolution: a millisecond of slack)."""
    pat = re.compile(pattern)
    return [ln for ln in lines(path)
            if pat.search(ln) and log_ts(ln) >= since - 0.001]


def dag_call(verb, dag):
    """POST .../dags/DAG/VERB through B: the wall times before the call
    and after its answer."""
    t0 = time.time()
    code, b = req("POST", "/api/v1/dags/%s/%s" % (dag, verb), ADMIN, None,
                  base=B)
    check(code == 200, "%s %s through B: %d %s" % (verb, dag, code, b))
    return t0, time.time()


# ---- the scenarios ----

def test_setup():
    """Both servers listen on their own session, found by its name."""
    names = sql("SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = 'weir-server-listen'")
    check(names == ["2"], "listen sessions (one per server): %s" % names)
    for path in (LOG_A, LOG_B):
        check(log_after(path, r"event=listen_ready .*pid=\d+", 0),
              "no event=listen_ready in %s" % path)


def test_pause_through_b():
    """xs-stop paused, xs-tick paused then unpaused, through B: A's
    scheduler hears of each change (its log) and arms xs-tick again,
    which it can only do after it dropped it at the pause."""
    t, paused_at["xs-stop"] = dag_call("pause", "xs-stop")
    check(wait_for(lambda: log_after(
        LOG_A, r"event=sched_dag_changed dag=xs-stop\b", t), 5, 0.01),
        "A's scheduler did not hear of the pause of xs-stop through B")
    t, _ = dag_call("pause", "xs-tick")
    check(wait_for(lambda: log_after(
        LOG_A, r"event=sched_dag_changed dag=xs-tick\b", t), 5, 0.01),
        "A's scheduler did not hear of the pause of xs-tick through B")
    t, unpaused_at["xs-tick"] = dag_call("unpause", "xs-tick")
    armed = wait_for(lambda: log_after(
        LOG_A, r"event=cron_armed dag=xs-tick\b", t), 5, 0.005)
    check(armed, "A's scheduler did not arm xs-tick again after its "
          "unpause through B")
    if armed:
        print("unpause through B to cron_armed on A's log: %.0f ms"
              % ((log_ts(armed[0]) - t) * 1000), flush=True)


def test_submit_through_b():
    """A DAG submitted through B's API is armed by A's scheduler; its
    deletion reaches A as well."""
    src = ("dag: xs-api\nschedule: \"0 0 1 1 *\"\nsteps:\n"
           "  - id: s\n    run: \"true\"\n")
    t = time.time()
    code, body, _ = call("POST", "/api/v1/dags", ADMIN, data=src.encode(),
                         ctype="application/yaml", base=B)
    check(code == 201, "submit xs-api through B: %d %s" % (code, body))
    check(wait_for(lambda: log_after(
        LOG_A, r"event=cron_armed dag=xs-api\b", t), 5, 0.01),
        "A's scheduler did not arm xs-api, submitted through B")
    t = time.time()
    code, body, _ = call("DELETE", "/api/v1/dags/xs-api", ADMIN, base=B)
    check(code == 204, "delete xs-api through B: %d %s" % (code, body))
    check(wait_for(lambda: log_after(
        LOG_A, r"event=sched_dag_changed dag=xs-api\b", t), 5, 0.01),
        "A's scheduler did not hear of the deletion of xs-api through B")


def test_latency():
    """RUNS runs through B and RUNS through A, alternating, one at a time,
    each after the worker is back in its long-poll."""
    lat = {"A": [], "B": []}
    for i in range(2 * RUNS + 2):
        name = "B" if i % 2 == 0 else "A"
        ms, rid = latency(B if name == "B" else BASE)
        if ms is None:
            return
        if i >= 2:  # one warm-up each
            lat[name].append(ms)
        finish(rid)
        time.sleep(0.05)  # the worker is back in its lease long-poll
    figures("through B (worker on A)", lat["B"])
    figures("through A (worker on A)", lat["A"])
    check(statistics.median(lat["B"]) < P50_MAX_MS,
          "through B: p50 %.1f ms, wanted < %d ms"
          % (statistics.median(lat["B"]), P50_MAX_MS))
    check(max(lat["B"]) < MAX_MS, "through B: max %.1f ms, wanted < %d ms"
          % (max(lat["B"]), MAX_MS))


def test_other_wakeups_through_b():
    """The other commits that make work claimable, made through B: an
    event that triggers a run, an approval that releases the next step,
    a retry of a failed run; each step starts on A's worker at once."""
    took = {}
    t0 = time.time()
    code, b = req("POST", "/api/v1/events", ADMIN,
                  {"name": "xs.go", "id": "xs-1"}, base=B)
    check(code in (200, 201, 202), "event through B: %d %s" % (code, b))
    rid = wait_for(lambda: (lambda v: v[0] if v else None)(sql(
        "SELECT id FROM runs WHERE dag_id = 'xs-event'")), 10, 0.005)
    got = wait_for(lambda: started(int(rid)), 30, 0.002) if rid else None
    took["event"] = (got[0] - t0) * 1000 if got else None
    if rid:
        finish(int(rid))

    rid = trigger_on(B, "xs-gate")
    check(rid is not None and wait_for(lambda: run(rid).get("tasks", [{}])[0]
                                       .get("state") == "awaiting_approval",
                                       10, 0.01),
          "xs-gate's gate is not awaiting approval")
    time.sleep(0.05)
    t0 = time.time()
    code, b = req("POST", "/api/v1/runs/%d/steps/gate/approve" % rid, ADMIN,
                  {}, base=B)
    check(code == 200, "approve through B: %d %s" % (code, b))
    got = wait_for(lambda: started(rid, "go"), 30, 0.002)
    took["approve"] = (got[0] - t0) * 1000 if got else None
    finish(rid)

    rid = trigger_on(B, "xs-retry")
    b = finish(rid)
    check(b.get("state") == "failed", "xs-retry run %d: %s" % (rid, b))
    time.sleep(0.05)
    t0 = time.time()
    code, b = req("POST", "/api/v1/runs/%d/retry" % rid, ADMIN, {}, base=B)
    check(code == 200, "retry through B: %d %s" % (code, b))
    got = wait_for(lambda: started(rid, "go", 2), 30, 0.002)
    took["retry"] = (got[0] - t0) * 1000 if got else None
    finish(rid)

    print("through B to the start on A's worker: %s" % ", ".join(
        "%s %.1f ms" % (k, v) for k, v in took.items() if v is not None),
        flush=True)
    for k, v in took.items():
        check(v is not None and v < MAX_MS, "%s through B: the step started "
              "after %s ms, wanted < %d" % (k, v, MAX_MS))


def test_cancel_through_b():
    """Twice: a sleeping step on A's worker, its run canceled through B;
    the process is gone within CANCEL_MAX_S."""
    for _ in range(2):
        rid = trigger_on(B, "xs-sleep")
        got = wait_for(lambda: started(rid), 30, 0.005) if rid else None
        if not check(got is not None, "xs-sleep run did not start"):
            return
        pid = got[1]
        check(alive(pid), "the step's process %d is not running" % pid)
        t0 = time.monotonic()
        code, b = req("POST", "/api/v1/runs/%d/cancel" % rid, ADMIN, {},
                      base=B)
        check(code == 200, "cancel through B: %d %s" % (code, b))
        wait_for(lambda: not alive(pid), 30, 0.002)
        took = time.monotonic() - t0
        print("cancel through B to process gone on A's worker: %.0f ms"
              % (took * 1000), flush=True)
        check(took <= CANCEL_MAX_S, "cancel through B took %.2f s to stop "
              "the step, wanted <= %.1f s" % (took, CANCEL_MAX_S))
        b = finish(rid)
        check(b.get("state") == "canceled", "run %d: %s" % (rid, b))


def listen_pid(path):
    """The backend pid of the latest listen session path logged."""
    pids = re.findall(r"event=listen_(?:ready|restored) .*pid=(\d+)",
                      "\n".join(lines(path)))
    return int(pids[-1]) if pids else None


def test_listen_terminated():
    """A's listen session terminated while the database refuses new
    sessions: a run triggered through B meanwhile does not start (A
    cannot hear of it), and starts at once when A listens again (A's
    re-check after its return); a run after that starts at once too."""
    pid = listen_pid(LOG_A)
    if not check(pid is not None, "A logged no listen pid"):
        return
    n_back = len(log_after(LOG_A, r"event=listen_restored ", 0))
    n_lost = len(log_after(LOG_A, r"event=listen_lost ", 0))
    # Not across a minute's turn: A's own cron firing (xs-tick) would wake
    # its worker's long-poll, which then claims B's run as well.
    sec = time.time() % 60
    if sec > 56 or sec < 1:
        time.sleep((61 - sec) % 60)
    # Sessions open stay open: B's pool still commits the trigger.
    sql("ALTER DATABASE weir ALLOW_CONNECTIONS false", "postgres")
    try:
        check(sql("SELECT pg_terminate_backend(%d)" % pid, "postgres") ==
              ["t"], "pg_terminate_backend(%d) failed" % pid)
        check(wait_for(lambda: log_after(
            LOG_A, r"event=listen_lost ", 0)[n_lost:], 10, 0.005),
            "A did not log listen_lost")
        rid = trigger_on(B, "xs-quick")
        time.sleep(0.3)  # A tries again meanwhile, and fails
        check(rid is not None and started(rid) is None,
              "a run triggered through B started while A was not "
              "listening")
    finally:
        sql("ALTER DATABASE weir ALLOW_CONNECTIONS true", "postgres")
    back = wait_for(lambda: log_after(
        LOG_A, r"event=listen_restored ", 0)[n_back:], 10, 0.005)
    if not check(back and rid, "A did not log listen_restored within 10 s"):
        return
    got = wait_for(lambda: started(rid), 30, 0.002)
    ms = (got[0] - log_ts(back[0])) * 1000 if got else None
    print("A's listen session terminated: back after %s (%s); the run "
          "triggered through B meanwhile started %.1f ms after it"
          % (re.search(r"down_ms=\d+", back[0]).group(0),
             re.search(r"tries=\d+", back[0]).group(0), ms or -1),
          flush=True)
    check(ms is not None and ms < MAX_MS, "the run triggered through B "
          "while A was not listening started %s ms after A's return, "
          "wanted < %d" % (ms, MAX_MS))
    finish(rid)
    time.sleep(0.05)
    ms, rid = latency(B)
    print("after A's return: trigger through B to start %.1f ms" % (ms or -1),
          flush=True)
    check(ms is not None and ms < 1000,
          "after A's return, a run through B started after %s ms" % ms)
    finish(rid)
    names = sql("SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = 'weir-server-listen'")
    check(names == ["2"], "listen sessions after the return: %s" % names)


def test_database_restart():
    """PostgreSQL stopped (fast: sessions are ended) and started again: both servers
    log listen_lost and listen_restored, and once the worker is back, a
    run triggered through B starts at once on A's worker."""
    pg, pgdir = os.environ["WEIR_PG"], os.environ["WEIR_PG_DIR"]
    n_back = {p: len(log_after(p, r"event=listen_restored ", 0))
              for p in (LOG_A, LOG_B)}
    t0 = time.monotonic()
    r = subprocess.run([pg, "stop", pgdir, "fast"], capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 0, "cannot stop PostgreSQL: %s" % r.stderr)
    r = subprocess.run([pg, "start", pgdir], capture_output=True, text=True,
                       timeout=60)
    if not check(r.returncode == 0, "cannot start PostgreSQL: %s"
                 % r.stderr):
        return
    up = time.monotonic()
    for path, name in ((LOG_A, "A"), (LOG_B, "B")):
        back = wait_for(lambda: log_after(
            path, r"event=listen_restored ", 0)[n_back[path]:], 10, 0.01)
        check(back, "%s did not listen again within 10 s of the database's "
              "return" % name)
    print("database restarted in %.0f ms; both servers listen again %.0f ms "
          "after it was back" % ((up - t0) * 1000,
                                 (time.monotonic() - up) * 1000), flush=True)
    # The worker's calls failed meanwhile: it is back once a run through
    # A starts; then the wake-up through B is measured.
    ms, rid = latency(BASE)
    check(ms is not None, "the worker did not come back")
    finish(rid)
    time.sleep(0.05)
    ms, rid = latency(B)
    print("after the restart: trigger through B to start %.1f ms"
          % (ms or -1), flush=True)
    check(ms is not None and ms < 1000, "after the database restart, a run "
          "through B started after %s ms" % ms)
    finish(rid)


def test_minute_turn():
    """When a minute turns after the pause of xs-stop and the unpause of
    xs-tick (waiting for it when it fits BUDGET_S), xs-stop gets no run
    for it and xs-tick exactly one, fired by one server's scheduler."""
    now = time.time()
    nxt = (int(now) // 60 + 1) * 60
    budget_left = (BUDGET_S - int(os.environ.get("WEIR_ELAPSED", "0")) -
                   (time.monotonic() - T_START) - STOP_S)
    if "xs-tick" not in unpaused_at or "xs-stop" not in paused_at:
        check(False, "the pause scenario did not run")
        return
    first = (int(max(paused_at["xs-stop"], unpaused_at["xs-tick"])) // 60
             + 1) * 60
    if first > now and nxt - now + 2 <= budget_left:
        print("waiting %.1f s for the minute to turn" % (nxt - now + 2),
              flush=True)
        time.sleep(nxt - now + 2)
    now = time.time()
    slots = [s for s in range(first, int(now) + 1, 60) if s <= now - 1.5]
    if not slots:
        print("no minute turned within the time budget: the cron-run "
              "checks did not apply this time (the log checks did)",
              flush=True)
        return
    for s in slots:
        iso = datetime.datetime.fromtimestamp(
            s, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        stop = sql("SELECT count(*) FROM runs WHERE dag_id = 'xs-stop' AND "
                   "logical_time = '%s+00'" % iso)
        check(stop == ["0"], "xs-stop, paused through B, got %s run(s) for "
              "the slot %s" % (stop, iso))
        tick = wait_for(lambda: sql(
            "SELECT count(*) FROM runs WHERE dag_id = 'xs-tick' AND "
            "logical_time = '%s+00'" % iso) == ["1"], 5, 0.1)
        check(tick, "xs-tick, unpaused through B, has no single run for "
              "the slot %s" % iso)
        # The leader fires: A, unless the database restart above handed
        # the leadership to B. One of them, never both.
        fired = {n: log_after(p, r"event=cron_fired dag=xs-tick ", s)
                 for p, n in ((LOG_A, "A"), (LOG_B, "B"))}
        by = [n for n, f in fired.items() if f]
        check(len(by) == 1, "xs-tick at %s fired by %s, wanted exactly one "
              "server" % (iso, by or "no server"))
        print("minute %s: xs-stop no run, xs-tick one run, fired by %s (%s)"
              % (iso, "/".join(by) or "-",
                 re.search(r"created=\w+", fired[by[0]][0]).group(0)
                 if by else "-"), flush=True)


run_tests("xserver_test", [test_setup, test_pause_through_b,
                           test_submit_through_b, test_latency,
                           test_other_wakeups_through_b,
                           test_cancel_through_b, test_listen_terminated,
                           test_database_restart, test_minute_turn])
