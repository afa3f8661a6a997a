# SPDX-License-Identifier: Apache-2.0
"""Several servers on one database (run by run_leader.sh): exactly one
leads; losing the leader's election session hands the lead on with a
higher epoch and the deposed one fires nothing more; kill -9 of the
leader while runs, a cron slot and events are in flight is taken over
within the leader timeout (5 s), every run finishes, the slot has one
run, every acknowledged event has its run. Prints the takeover times.

Environment: WEIR_SERVERS ("name=host:port=pid ..."), WEIR_LOGS
("name=path ..."), WEIR_PSQL (a psql command on the test's database),
WEIR_SLOT (the Unix second of the cron slot the kill straddles), and
the tokens of weirtest.py.
"""
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request

from weirtest import ADMIN, READ, call, check, req, run_tests, wait_for

SERVERS = {}  # name -> (host:port, pid)
for item in os.environ["WEIR_SERVERS"].split():
    n, a, p = item.split("=")
    SERVERS[n] = (a, int(p))
LOGS = dict(i.split("=", 1) for i in os.environ["WEIR_LOGS"].split())
PSQL = os.environ["WEIR_PSQL"].split()
SLOT = int(os.environ["WEIR_SLOT"])
TAKEOVER_S = 5.0  # --leader-timeout-s (default)
dead = set()  # servers killed
state = {}  # what one scenario leaves to the next


def sql(q):
    r = subprocess.run(PSQL + ["-tAc", q], capture_output=True, text=True,
                       timeout=20)
    check(r.returncode == 0, "psql %s: %s" % (q, r.stderr))
    return r.stdout.strip()


def health(name):
    """The server's health reply, or None when it does not answer."""
    try:
        with urllib.request.urlopen("http://%s/api/v1/health" %
                                    SERVERS[name][0], timeout=2) as r:
            return json.loads(r.read())
    except OSError:
        return None


def healths():
    return {n: health(n) for n in SERVERS if n not in dead}


def leaders(hs):
    return [n for n, h in hs.items() if h and h.get("leader")]


def settled():
    """Every live server's health when exactly one leads and all agree on
    the epoch and on who leads; else None."""
    hs = healths()
    ls = leaders(hs)
    if any(h is None for h in hs.values()) or len(ls) != 1:
        return None
    if len({h["leader_epoch"] for h in hs.values()}) != 1:
        return None
    if {h["leader_name"] for h in hs.values()} != {hs[ls[0]]["name"]}:
        return None
    return hs


def metric(name, key):
    code, body, _ = call("GET", "/metrics", READ, timeout=5,
                         base="http://%s" % SERVERS[name][0])
    check(code == 200, "%s: /metrics: %d" % (name, code))
    text = body.decode()
    m = re.search(r"^%s (\d+)$" % key, text, re.M)
    return int(m.group(1)) if m else None


def one_leader():
    hs = wait_for(settled, 5)
    if not check(hs, "three servers: not exactly one leader with one epoch: "
                 "%s" % healths()):
        return
    lead = leaders(hs)[0]
    epoch = hs[lead]["leader_epoch"]
    print("leader %s, epoch %d" % (lead, epoch))
    check(lead == "s1", "the first server started leads, not %s" % lead)
    check(epoch >= 1, "epoch %s" % epoch)
    check(hs["s3"]["name"] == SERVERS["s3"][0],
          "a server without --name is named after its address: %s" % hs["s3"])
    check(hs["s2"]["name"] == "s2", "--name: %s" % hs["s2"])
    for n in SERVERS:
        check(metric(n, "weir_leader") == (1 if n == lead else 0),
              "%s: weir_leader" % n)
        check(metric(n, "weir_leader_epoch") == epoch,
              "%s: weir_leader_epoch" % n)
    # the folder was loaded once, by the leader
    check(log_count("s1", "event=leader_elected") == 1 and
          log_count("s2", "event=leader_elected") == 0 and
          log_count("s3", "event=leader_elected") == 0,
          "only s1 was ever elected")
    check(log_count("s2", "event=sched_started") == 0 and
          log_count("s3", "event=sched_started") == 0,
          "a follower started its scheduler")
    state["epoch"] = epoch


def log_lines(name):
    with open(LOGS[name], errors="replace") as f:
        return f.read().splitlines()


def log_count(name, text):
    return sum(text in line for line in log_lines(name))


def fence():
    """Terminate the leader's election session: its process lives on."""
    e0 = state.get("epoch", 1)
    app = "weir-leader s1"
    pids = sql("SELECT string_agg(pid::text, ',') FROM pg_stat_activity "
               "WHERE application_name = '%s'" % app)
    if not check(pids and "," not in pids,
                 "one session named %r: %r" % (app, pids)):
        return
    t0 = time.monotonic()
    check(sql("SELECT pg_terminate_backend(%s)" % pids) == "t",
          "pg_terminate_backend")

    def taken():
        hs = healths()
        ls = leaders(hs)
        return ls if len(ls) == 1 and ls[0] != "s1" and \
            hs[ls[0]]["leader_epoch"] > e0 else None
    got = wait_for(taken, TAKEOVER_S + 5, step=0.02)
    took = time.monotonic() - t0
    print("fence: session of s1 terminated -> %s leads after %.3f s" %
          (got and got[0], took))
    if not check(got, "no other server took over after s1's session ended"):
        return
    check(took <= TAKEOVER_S, "takeover after a lost session took %.3f s "
          "(want <= %.0f s)" % (took, TAKEOVER_S))
    h1 = health("s1")
    check(h1 and h1["leader"] is False,
          "s1 still says it leads: %s" % h1)
    check(wait_for(lambda: log_count("s1", "event=leader_stepped_down"), 5),
          "s1's log does not say it stepped down")
    state["new"] = got[0]
    state["epoch"] = health(got[0])["leader_epoch"]
    check(metric("s1", "weir_leader") == 0, "s1: weir_leader after the fence")


def follower_change():
    """A DAG submitted through a follower reaches the leader's scheduler
    (a notification names it: jobs/xwake.c)."""
    lead = state.get("new")
    follower = next((n for n in SERVERS if n not in dead and n != lead), None)
    if not check(lead and follower, "no leader and follower"):
        return
    before = log_count(lead, "event=sched_dag_changed dag=ld-api")
    text = ("dag: ld-api\ntimezone: Test/Shift\nschedule: \"* * * * *\"\n"
            "defaults:\n  queue: ld\nsteps:\n  - id: s\n    run: echo api\n")
    code, b, _ = call("POST", "/api/v1/dags", ADMIN, data=text.encode(),
                      ctype="application/yaml",
                      base="http://%s" % SERVERS[follower][0])
    check(code == 201, "submit ld-api through %s: %d %s" % (follower, code, b))
    t0 = time.monotonic()
    heard = wait_for(lambda: log_count(lead,
                                       "event=sched_dag_changed dag=ld-api") >
                     before, 4)
    print("a DAG submitted through %s reached the leader %s's scheduler "
          "after %.3f s" % (follower, lead, time.monotonic() - t0))
    check(heard, "the leader's scheduler did not hear of ld-api")


def fence_write():
    """A leader's writes check the epoch: hold an increment of the epoch
    open (as a new leader's would be) while the leader's chores run; they
    wait for it, then find the epoch moved, fail, and the leader steps
    down. Another server then leads with a higher epoch."""
    lead = state.get("new")
    if not check(lead, "no leader"):
        return
    e0 = health(lead)["leader_epoch"]
    before = log_count(lead, "event=leader_fenced")
    p = subprocess.Popen(PSQL + ["-q"], stdin=subprocess.PIPE, text=True,
                         stdout=subprocess.DEVNULL)
    p.stdin.write("BEGIN;\nUPDATE leader SET epoch = epoch + 1 WHERE id = 1;"
                  "\n")
    p.stdin.flush()
    time.sleep(1.5)  # the backfill, deadline, notify chores run meanwhile
    h = health(lead)
    check(h and h["leader"], "%s stopped leading while the increment was "
          "not committed: %s" % (lead, h))
    p.stdin.write("COMMIT;\n")
    p.stdin.close()
    p.wait(timeout=10)
    t0 = time.monotonic()
    fenced = wait_for(lambda: log_count(lead, "event=leader_fenced") > before,
                      5)
    check(fenced, "no write of %s was refused by the fence" % lead)
    check(wait_for(lambda: any(
        "event=leader_stepped_down" in line and "newer leader epoch" in line
        for line in log_lines(lead)), 5),
        "%s's log does not say a fenced write deposed it" % lead)

    def taken():
        hs = healths()
        ls = leaders(hs)
        return ls[0] if len(ls) == 1 and ls[0] != lead and \
            hs[ls[0]]["leader_epoch"] > e0 + 1 else None
    got = wait_for(taken, TAKEOVER_S + 5, step=0.02)
    print("fence: the epoch moved under %s: a write refused, %s leads "
          "after %.3f s" % (lead, got, time.monotonic() - t0))
    if check(got, "no other server took over after the fence"):
        check(time.monotonic() - t0 <= TAKEOVER_S + 1, "takeover too slow")
        state["new"] = got
        state["epoch"] = health(got)["leader_epoch"]


def post_events(target, acked, stop):
    """Post ld.ping events to target until stop; acked gets the ids
    whose post was acknowledged."""
    i = 0
    while not stop.is_set():
        i += 1
        eid = "%s-%d" % (target, i)
        try:
            code, b = req("POST", "/api/v1/events", ADMIN,
                          {"name": "ld.ping", "id": eid},
                          base="http://%s" % SERVERS[target][0], timeout=5)
            if code == 202:
                acked.append((eid, b.get("runs")))
        except (OSError, ValueError):
            pass
        time.sleep(0.1)


def kill():
    lead = state.get("new")
    if not check(lead, "no leader to kill"):
        return
    e0 = state["epoch"]
    # runs in flight on the worker (its server is s1)
    wait_for(lambda: time.time() >= SLOT - 4, 30, step=0.05)
    ids = []
    for _ in range(4):
        code, b = req("POST", "/api/v1/dags/ld-long/runs", ADMIN, {})
        check(code == 201, "trigger ld-long: %d %s" % (code, b))
        ids.append(b.get("run_id"))
    acked, stop = [], threading.Event()
    th = threading.Thread(target=post_events, args=(lead, acked, stop))
    th.start()
    wait_for(lambda: time.time() >= SLOT - 1.5, 30, step=0.005)
    running = sql("SELECT count(*) FROM runs WHERE dag_id = 'ld-long' "
                  "AND state = 'running'")
    wait_for(lambda: time.time() >= SLOT - 0.8, 30, step=0.005)
    check(time.time() < SLOT - 0.3, "the test ran late: the kill comes "
          "%.3f s before the slot (want 0.8 s)" % (SLOT - time.time()))
    os.kill(SERVERS[lead][1], signal.SIGKILL)
    t_kill, m_kill = time.time(), time.monotonic()
    dead.add(lead)

    def taken():
        ls = leaders(healths())
        return ls[0] if len(ls) == 1 else None
    got = wait_for(taken, TAKEOVER_S + 5, step=0.02)
    took = time.monotonic() - m_kill
    stop.set()
    th.join()
    print("kill -9 %s (%s ld-long runs running, %d events acknowledged): "
          "%s leads after %.3f s" % (lead, running, len(acked), got, took))
    if not check(got, "no server took over after kill -9 of %s" % lead):
        return
    check(took <= TAKEOVER_S, "takeover after kill -9 took %.3f s (want <= "
          "%.0f s)" % (took, TAKEOVER_S))
    check(health(got)["leader_epoch"] > e0, "the epoch did not grow")
    fired = wait_for(lambda: sql(
        "SELECT extract(epoch FROM created_at) FROM runs WHERE dag_id = "
        "'ld-cron' AND logical_time = to_timestamp(%d)" % SLOT), 10)
    if check(fired, "the slot the kill straddled has no run"):
        print("kill -9 to the next cron slot's run: %.3f s (slot %.3f s "
              "after the kill)" % (float(fired) - t_kill, SLOT - t_kill))
    check(int(running) > 0, "no ld-long run was running at the kill")
    # every run finishes
    done = wait_for(lambda: sql(
        "SELECT count(*) FROM runs WHERE state NOT IN "
        "('success', 'failed', 'canceled')") == "0", 25)
    check(done, "runs not finished: %s" % sql(
        "SELECT string_agg(dag_id || ':' || state, ' ') FROM runs WHERE "
        "state NOT IN ('success', 'failed', 'canceled')"))
    bad = sql("SELECT count(*) FROM runs WHERE state <> 'success'")
    check(bad == "0", "%s runs did not succeed" % bad)
    check(all(r == 1 for _, r in acked), "an acknowledged event made no run: "
          "%s" % [a for a in acked if a[1] != 1])
    check(len(acked) > 0, "no event was acknowledged before the kill")
    with_run = set(sql(
        "SELECT string_agg(e.ext_id, ' ') FROM events e JOIN trigger_events "
        "te ON te.event_id = e.id JOIN runs r ON r.id = te.run_id WHERE "
        "r.dag_id = 'ld-event' AND r.state = 'success'").split())
    missing = [eid for eid, _ in acked if eid not in with_run]
    check(not missing, "acknowledged events without their run: %s" % missing)
    slots = sql("SELECT string_agg(extract(epoch FROM logical_time)::bigint"
                "::text || 'x' || n, ',') FROM (SELECT logical_time, count(*)"
                " n FROM runs WHERE dag_id = 'ld-cron' GROUP BY 1) s")
    check(slots == "%dx1" % SLOT, "cron slots with runs (slot x runs): %s, "
          "want %dx1" % (slots, SLOT))
    api = sql("SELECT count(*) FROM runs WHERE dag_id = 'ld-api' AND "
              "logical_time = to_timestamp(%d)" % SLOT)
    check(api == "1", "ld-api (submitted through a follower) has %s runs "
          "for the slot" % api)
    state["final"] = got
    if any("event=leader_elected" in line for line in log_lines("s3")):
        # s3 has no DAGs folder: it led from the database alone
        check(log_count("s3", "event=sched_started dir=- watch=none") >= 1,
              "s3 (no folder) led but its scheduler says otherwise")
        print("s3, without a DAGs folder, led at some point")


def deposed_quiet():
    """s1, deposed by the fence, fired nothing until elected again."""
    lines = log_lines("s1")
    down = [i for i, line in enumerate(lines)
            if "event=leader_stepped_down" in line]
    if not check(down, "s1 never stepped down"):
        return
    after = lines[down[0] + 1:]
    until = next((i for i, line in enumerate(after)
                  if "event=leader_elected" in line), len(after))
    duties = ("event=cron_fired", "event=cron_catchup", "event=dags_loaded",
              "event=sched_started", "event=lease_grace", "event=run_timeout",
              "event=deadline_missed", "event=notify_sent",
              "event=events_pruned")
    fired = [line for line in after[:until]
             if any(d in line for d in duties)]
    check(not fired, "s1 fired after stepping down: %s" % fired[:3])
    check("session lost" in lines[down[0]] or "epoch" in lines[down[0]],
          "s1's step-down says why: %s" % lines[down[0]])


if __name__ == "__main__":
    run_tests("leader_test", [one_leader, fence, follower_change,
                              fence_write, kill, deposed_quiet])
