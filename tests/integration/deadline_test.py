# SPDX-License-Identifier: Apache-2.0
"""Run timeouts and deadlines against the real server and worker
(run_deadline.sh). `before`: a run whose deadline passes while the server
is down. `after` (the server restarted, a worker up): the rest.
    deadline_test.py before|after
"""
import datetime
import json
import os
import sys
import time
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weirtest import (ADMIN, READ, call, check, req, run,  # noqa: E402
                      run_tests, trigger, wait_for)

TMP = os.environ["WEIR_TEST_TMP"]
HOOK_LOG = os.environ["WEIR_TEST_HOOK_LOG"]


def ts(text):
    """An API time ("2026-12-07T21:00:00.123Z") as Unix seconds."""
    return datetime.datetime.fromisoformat(
        text.replace("Z", "+00:00")).timestamp()


def save(name, value):
    with open(os.path.join(TMP, name), "w") as f:
        f.write(str(value))


def load(name):
    with open(os.path.join(TMP, name)) as f:
        return int(f.read())


def task(r, step):
    for t in r.get("tasks", []):
        if t["step"] == step:
            return t
    return {}


def until(run_id, cond, timeout):
    """The run once cond(run) holds, or the last one read."""
    last = [None]

    def probe():
        last[0] = run(run_id)
        return cond(last[0])
    wait_for(probe, timeout, 0.1)
    return last[0]


def hook_bodies():
    try:
        with open(HOOK_LOG) as f:
            return [json.loads(x) for x in f if x.strip()]
    except FileNotFoundError:
        return []


def delivered(run_id, event):
    """The distinct bodies posted for run_id with that event (None: a
    run's end); the receiver refuses its first POST, which comes again."""
    seen = []
    for b in hook_bodies():
        if (b.get("run_id") == run_id and b.get("event") == event and
                b not in seen):
            seen.append(b)
    return seen


# ---- before the restart ----

def test_before():
    rid = trigger("dl-restart")
    r = run(rid)
    check(r["late"] is False and r["late_at"] is None,
          "a new run is not late: %s" % r)
    check(r["deadline_at"] and
          abs(ts(r["deadline_at"]) - ts(r["created_at"]) - 2) < 0.01,
          "finish_within 2s counts from the creation: %s %s"
          % (r["created_at"], r["deadline_at"]))
    check(r["timeout_at"] is None, "no run_timeout: %s" % r["timeout_at"])
    save("restart.run", rid)


# ---- after the restart ----

started = {}


def test_trigger_all():
    for dag in ("dl-fast", "dl-timeout", "dl-timeout-hook", "dl-late",
                "dl-cancel", "dl-succeed"):
        started[dag] = trigger(dag)
    save("late.run", started["dl-late"])
    save("timeout.run", started["dl-timeout"])


def test_restart():
    rid = load("restart.run")
    r = until(rid, lambda r: r["late"], 5)
    check(r["late"] and r["state"] == "running",
          "the deadline passed while the server was down: marked late "
          "after the restart, still running: %s" % r)
    if r["late_at"]:
        check(ts(r["late_at"]) >= ts(r["deadline_at"]),
              "late_at %s before deadline_at %s"
              % (r["late_at"], r["deadline_at"]))
    got = wait_for(lambda: delivered(rid, "deadline_missed"), 8)
    check(len(got) == 1, "one deadline_missed notification for the restart "
          "run: %s" % hook_bodies())


def test_timeout():
    rid = started["dl-timeout"]
    r = until(rid, lambda r: r["state"] in ("failed", "success",
                                            "canceled"), 10)
    check(r["state"] == "failed", "run timeout: the run failed: %s"
          % r["state"])
    check(r["error"] == "run timeout 2s", "the run's error: %r"
          % r.get("error"))
    if r["started_at"] and r["finished_at"] and r["timeout_at"]:
        took = ts(r["finished_at"]) - ts(r["started_at"])
        print("run timeout 2s: the run ended %.3f s after its start" % took)
        check(1.9 <= took <= 6, "ended %.2f s after its start" % took)
        check(abs(ts(r["timeout_at"]) - ts(r["started_at"]) - 2) < 0.01,
              "timeout_at is the start + 2s: %s" % r["timeout_at"])
    s, a = task(r, "sleeper"), task(r, "after")
    check(s.get("state") == "failed" and s.get("error") == "run timeout 2s",
          "the running step failed with the timeout: %s" % s)
    check(a.get("state") == "canceled", "the pending step: %s" % a)
    pid_file = os.path.join(TMP, "sleeper.pid")
    pid = int(open(pid_file).read()) if os.path.exists(pid_file) else 0
    check(pid > 0, "the sleeper wrote its pid")

    def gone():
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True
    check(pid > 0 and wait_for(gone, 12), "the sleep process is gone")
    r = until(rid, lambda r: (task(r, "sleeper").get("attempts") or
                              [{}])[-1].get("state") == "canceled", 12)
    att = (task(r, "sleeper").get("attempts") or [{}])[-1]
    check(att.get("state") == "canceled",
          "the worker stopped the attempt and reported it: %s" % att)
    got = wait_for(lambda: delivered(rid, None), 8)
    check(len(got) == 1 and got[0]["state"] == "failed" and
          got[0]["failed_steps"] == ["sleeper"] and
          got[0]["error"] == "run timeout 2s",
          "the failure was notified as for any failure: %s" % got)


def test_timeout_retry():
    """A retry clears the error and counts the timeout from its start."""
    rid = started["dl-timeout"]
    code, b = req("POST", "/api/v1/runs/%d/retry" % rid, ADMIN, {})
    check(code == 200, "retry: %d %s" % (code, b))
    r = run(rid)
    check(r["state"] == "running" and r["error"] is None,
          "the retried run runs, without the old error: %s %r"
          % (r["state"], r["error"]))
    check(r["timeout_at"] and
          abs(ts(r["timeout_at"]) - ts(r["started_at"]) - 2) < 0.01,
          "timeout_at counts from the retry: %s %s"
          % (r["started_at"], r["timeout_at"]))
    r = until(rid, lambda r: r["state"] != "running", 8)
    check(r["state"] == "failed" and r["error"] == "run timeout 2s",
          "the retry timed out too: %s %r" % (r["state"], r["error"]))


def test_timeout_hook():
    rid = started["dl-timeout-hook"]
    r = until(rid, lambda r: r["state"] in ("failed", "success",
                                            "canceled"), 10)
    check(r["state"] == "failed" and r["error"] == "run timeout 1s",
          "a run timed out while queued: %s %r" % (r["state"], r["error"]))
    check(task(r, "stuck").get("state") == "canceled",
          "the queued step: %s" % task(r, "stuck"))
    check(task(r, "on_failure").get("state") == "success",
          "the on_failure hook ran: %s" % task(r, "on_failure"))


def test_late_running():
    rid = started["dl-late"]
    r = until(rid, lambda r: r["late"] or r["state"] != "running", 4)
    check(r["late"] and r["state"] == "running",
          "finish_within 1s passed: late, still running: %s %s"
          % (r["late"], r["state"]))


def test_late():
    rid = started["dl-late"]
    r = until(rid, lambda r: r["state"] != "running", 10)
    check(r["state"] == "success" and r["late"] is True,
          "the late run succeeded and stays late: %s %s"
          % (r["state"], r["late"]))
    check(r["error"] is None, "a late run has no error: %r" % r["error"])
    if r["late_at"] and r["deadline_at"]:
        d = ts(r["late_at"]) - ts(r["deadline_at"])
        print("finish_within 1s: marked late %.3f s after the deadline" % d)
        check(0 <= d <= 2.5, "late_at %.2f s after the deadline" % d)
        check(abs(ts(r["deadline_at"]) - ts(r["created_at"]) - 1) < 0.01,
              "deadline_at: %s" % r["deadline_at"])
    got = wait_for(lambda: delivered(rid, "deadline_missed"), 8)
    check(len(got) == 1, "one deadline_missed notification: %s"
          % hook_bodies())
    if got:
        b = got[0]
        check(b["dag"] == "dl-late" and b["deadline_at"] == r["deadline_at"]
              and b["late_at"] == r["late_at"] and b["cancel"] is False and
              b["link"].endswith("/#/runs/%d" % rid),
              "the notification's body: %s" % b)
    # the success is not notified (the DAG has on_failure only), and the
    # late mark is never notified twice
    time.sleep(1.2)
    check(len(delivered(rid, "deadline_missed")) == 1 and
          not delivered(rid, None), "notified once: %s" % hook_bodies())


def test_cancel():
    rid = started["dl-cancel"]
    r = until(rid, lambda r: r["state"] != "running", 5)
    check(r["state"] == "canceled" and r["late"],
          "cancel: true canceled the late run: %s %s" % (r["state"],
                                                         r["late"]))
    check(r["error"] ==
          "deadline missed: not finished by %s" % r["deadline_at"],
          "the canceled run's error: %r" % r["error"])
    check(task(r, "gate").get("state") == "canceled" and
          task(r, "after").get("state") == "canceled",
          "its tasks were canceled: %s" % r["tasks"])


def test_succeed_by():
    rid = started["dl-succeed"]
    r = run(rid)
    zone = zoneinfo.ZoneInfo("Asia/Kolkata")
    created = ts(r["created_at"])
    base = datetime.datetime.fromtimestamp(int(created) +
                                           (created % 1 > 0), zone)
    hhmm = open(os.path.join(TMP, "dags", "dl-succeed.yaml")).read()
    hhmm = hhmm.split('succeed_by: "')[1][:5]
    h, m = int(hhmm[:2]), int(hhmm[3:])
    want = base.replace(hour=h, minute=m, second=0, microsecond=0)
    if want < base:
        want += datetime.timedelta(days=1)
    check(r["deadline_at"] and ts(r["deadline_at"]) == want.timestamp(),
          "succeed_by %s in Asia/Kolkata from %s: %s, want %s"
          % (hhmm, r["created_at"], r["deadline_at"],
             want.astimezone(datetime.timezone.utc).isoformat()))
    check(not r["late"], "not late before its succeed_by: %s" % r)


def test_slot():
    """finish_within counts from a cron run's slot, not its creation."""
    def cron_runs():
        code, b = req("GET", "/api/v1/runs?dag=dl-slot&trigger=cron", READ)
        return [x for x in b.get("runs", [])
                if x["state"] != "success"] if code == 200 else []
    rows = wait_for(cron_runs, 5)
    check(rows, "the restart caught up a slot of dl-slot")
    for r in rows:
        lt, dl = ts(r["logical_time"]), ts(r["deadline_at"] or "1970-01-01Z")
        check(dl - lt == 90 and lt % 60 == 0,
              "run %d: deadline_at %s is its slot %s + 90s (created %s)"
              % (r["id"], r["deadline_at"], r["logical_time"],
                 r["created_at"]))


def test_backfill():
    """A backfill of past slots: finish_within (1h) counts from each run's
    creation and succeed_by does not apply, so with cancel: true the runs
    are neither canceled nor late and finish; a manual run given a
    logical time counts from its creation too."""
    code, b = req("POST", "/api/v1/dags/dl-backfill/backfills", ADMIN,
                  {"from": "2026-11-01", "to": "2026-11-05",
                   "max_active": 5})
    check(code == 201 and b.get("created") == 5,
          "backfill of 5 past slots: %d %s" % (code, b))
    bf_id = b.get("backfill_id") or 0

    def bf():
        code, b = req("GET", "/api/v1/backfills/%d" % bf_id, READ)
        return b if code == 200 else {}
    done = wait_for(lambda: bf().get("state") != "running" and bf(), 20, 0.1)
    check(done and done["state"] == "done" and
          done["progress"]["done"] == 5 and
          done["progress"]["canceled"] == 0,
          "the backfill's runs finished, none canceled: %s" % bf())
    code, lst = req("GET", "/api/v1/runs?dag=dl-backfill&trigger=backfill",
                    READ)
    rows = lst.get("runs", []) if code == 200 else []
    check(len(rows) == 5, "5 backfill runs: %s" % rows)
    for r in rows:
        r = run(r["id"])
        check(r["state"] == "success" and not r["late"] and
              r["error"] is None,
              "backfill run %d: %s late=%s error=%r" % (r["id"], r["state"],
                                                       r["late"], r["error"]))
        check(r["deadline_at"] and
              abs(ts(r["deadline_at"]) - ts(r["created_at"]) - 3600) < 0.01,
              "run %d (slot %s): deadline_at %s is its creation %s + 1h"
              % (r["id"], r["logical_time"], r["deadline_at"],
                 r["created_at"]))
    rid = trigger("dl-backfill", {"logical_time": "2026-10-01T01:00:00Z"})
    r = run(rid)
    check(r["deadline_at"] and
          abs(ts(r["deadline_at"]) - ts(r["created_at"]) - 3600) < 0.01,
          "manual run at a logical time: deadline_at %s, created %s"
          % (r["deadline_at"], r["created_at"]))
    r = until(rid, lambda r: r["state"] != "running", 10)
    check(r["state"] == "success" and not r["late"],
          "the manual run at a past logical time: %s late=%s"
          % (r["state"], r["late"]))
    check(not [x for x in hook_bodies() if x.get("dag") == "dl-backfill"],
          "notifications for dl-backfill: %s" % hook_bodies())


def test_fast():
    rid = started["dl-fast"]
    r = run(rid)
    wait_for(lambda: time.time() > ts(r["deadline_at"]) + 1.5, 6, 0.2)
    r = run(rid)
    check(r["state"] == "success" and r["late"] is False and
          r["late_at"] is None and r["error"] is None,
          "a run that ended before its deadline is never late: %s" % r)
    check(r["timeout_at"] and
          abs(ts(r["timeout_at"]) - ts(r["started_at"]) - 3600) < 0.01,
          "run_timeout 1h: timeout_at %s" % r["timeout_at"])


def test_lists_and_metrics():
    code, b = req("GET", "/api/v1/runs?dag=dl-late", READ)
    rows = b.get("runs", []) if code == 200 else []
    check(rows and rows[0]["late"] is True and "deadline_at" in rows[0],
          "the runs list says late: %s" % rows[:1])
    code, b = req("GET", "/api/v1/runs?late=true&limit=100", READ)
    ids = {x["id"] for x in b.get("runs", [])} if code == 200 else set()
    check(started["dl-late"] in ids and started["dl-cancel"] in ids and
          started["dl-fast"] not in ids, "?late=true: %s" % sorted(ids))
    code, b = req("GET", "/api/v1/runs?late=false&limit=100", READ)
    ids = {x["id"] for x in b.get("runs", [])} if code == 200 else set()
    check(started["dl-fast"] in ids and started["dl-late"] not in ids,
          "?late=false: %s" % sorted(ids))
    code, b = req("GET", "/api/v1/runs?late=maybe", READ)
    check(code == 400 and "late" in b["error"]["message"],
          "?late=maybe: %d %s" % (code, b))
    code, text, _ = call("GET", "/metrics", READ)
    text = text.decode()
    check(code == 200 and
          'weir_deadline_missed_total{dag="dl-late"} 1\n' in text and
          'weir_deadline_missed_total{dag="dl-restart"} 1\n' in text and
          'weir_deadline_missed_total{dag="dl-cancel"} 1\n' in text and
          'dag="dl-fast"' not in text,
          "the metric: %s" % [x for x in text.splitlines()
                              if "deadline" in x])


def test_loader_errors():
    cases = [
        ("dag: dl-bad\nrun_timout: 1h\nsteps:\n  - id: a\n    run: x\n",
         2, 1, 'unknown key "run_timout" at the top level (did you mean '
         '"run_timeout"?)'),
        ("dag: dl-bad\ndeadline:\n  succeed_by: \"24:00\"\nsteps:\n"
         "  - id: a\n    run: x\n", 3, 15,
         'bad time "24:00" for "succeed_by": expected HH:MM with hours '
         '00-23 and minutes 00-59'),
        ("dag: dl-bad\ndeadline: {finish_within: 1y}\nsteps:\n"
         "  - id: a\n    run: x\n", 2, 27,
         'bad duration "1y" for "finish_within"'),
    ]
    for text, line, col, msg in cases:
        code, b, _ = call("POST", "/api/v1/dags", ADMIN,
                          data=text.encode(), ctype="application/yaml")
        d = json.loads(b or b"{}").get("error", {}).get("details", [{}])
        check(code == 400 and d and d[0].get("line") == line and
              d[0].get("column") == col and
              d[0].get("message", "").startswith(msg),
              "loader error %d:%d %s: %d %s" % (line, col, msg, code, b))


if __name__ == "__main__":
    if sys.argv[1:] == ["before"]:
        run_tests("deadline (before)", [test_before])
    run_tests("deadline", [test_trigger_all, test_late_running,
                           test_restart, test_timeout,
                           test_timeout_retry, test_timeout_hook, test_late,
                           test_cancel, test_succeed_by, test_slot,
                           test_backfill, test_fast,
                           test_lists_and_metrics, test_loader_errors])
