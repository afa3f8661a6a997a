# SPDX-License-Identifier: Apache-2.0
"""Backfills against the real server and weir-worker (run_backfill.sh):
the slots of a range in the DAG's zone across DST changes, the logical
time a step sees, skipping slots that have runs and reprocessing them,
max_active (and the DAG's max_active_runs) sampled, reverse order, dry
runs, cancel, bad input, the CLI, and a backfill that goes on across a
restart of the server (phases restart-before and restart-after).

  backfill_test.py [restart-before|restart-after]
"""
import os
import subprocess
import sys
import time

from weirtest import ADMIN, READ, TERMINAL, check, req, run, run_tests, \
    trigger, wait_for

CLI = os.environ.get("WEIR_CLI", "")
STATE = os.environ.get("WEIR_BF_STATE", "")  # where restart-before writes


def errmsg(b):
    """The message of an error reply."""
    e = b.get("error") if isinstance(b, dict) else None
    return e.get("message", "") if isinstance(e, dict) else ""


def backfill(dag, body, expect=201, token=None):
    """POST a backfill of dag; checks the status; returns the reply."""
    code, b = req("POST", "/api/v1/dags/%s/backfills" % dag, token or ADMIN,
                  body)
    check(code == expect, "backfill %s %s: HTTP %d %s" % (dag, body, code, b))
    return b


def get_bf(bf_id):
    code, b = req("GET", "/api/v1/backfills/%d" % bf_id, READ)
    check(code == 200, "get backfill %d: %d %s" % (bf_id, code, b))
    return b


def bf_runs(dag, bf_id):
    """The runs of backfill bf_id (of dag), oldest first."""
    code, b = req("GET", "/api/v1/runs?dag=%s&limit=500&trigger=backfill" %
                  dag, READ)
    check(code == 200, "list runs of %s: %d %s" % (dag, code, b))
    runs = [r for r in b.get("runs", []) if r.get("backfill_id") == bf_id]
    return sorted(runs, key=lambda r: r["id"])


def wait_done(bf_id, timeout=20):
    b = wait_for(lambda: (get_bf(bf_id) or {}).get("state") != "running"
                 and get_bf(bf_id), timeout, 0.1)
    check(b and b["state"] == "done",
          "backfill %d did not finish within %d s: %s" %
          (bf_id, timeout, get_bf(bf_id)))
    return b or {}


def slots(reply):
    return [s["slot"] for s in reply.get("slots", [])]


def test_dst_slots_and_dry_run():
    """One slot per cron fire time in the DAG's zone: 25 hourly slots on
    the day DST ends in New York, 23 on the day it starts; a daily 06:17
    keeps its local time (UTC 10:17 before, 11:17 after). A date `to`
    holds its whole day. A dry run creates nothing."""
    fall = backfill("bf-hourly", {"from": "2026-11-01", "to": "2026-11-01",
                                  "dry_run": True}, 200)
    s = slots(fall)
    check(len(s) == 25 and s[0] == "2026-11-01T04:00:00Z" and
          s[-1] == "2026-11-02T04:00:00Z",
          "fall back day: %d slots %s .. %s" % (len(s), s[:1], s[-1:]))
    check(fall.get("planned") == 25 and fall.get("skipped") == 0,
          "fall back day planned: %s" % fall.get("planned"))
    spring = backfill("bf-hourly", {"from": "2026-03-08", "to": "2026-03-08",
                                    "dry_run": True}, 200)
    s = slots(spring)
    check(len(s) == 23 and s[0] == "2026-03-08T05:00:00Z" and
          s[-1] == "2026-03-09T03:00:00Z",
          "spring forward day: %d slots %s .. %s" % (len(s), s[:1], s[-1:]))
    daily = backfill("bf-daily", {"from": "2026-10-30", "to": "2026-11-03",
                                  "dry_run": True}, 200)
    want = ["2026-10-30T10:17:00Z", "2026-10-31T10:17:00Z",
            "2026-11-01T11:17:00Z", "2026-11-02T11:17:00Z",
            "2026-11-03T11:17:00Z"]
    check(slots(daily) == want, "daily slots across DST: %s" % slots(daily))
    check([x["local"] for x in daily["slots"]][2] ==
          "2026-11-01T06:17:00-05:00", "local slot: %s" % daily["slots"])
    # An RFC 3339 `to` is inclusive to the second; without an offset it is
    # the DAG's local time.
    t = backfill("bf-daily", {"from": "2026-10-30T10:17:00Z",
                              "to": "2026-10-31T06:17", "dry_run": True}, 200)
    check(slots(t) == want[:2], "time range: %s" % slots(t))
    # RFC 3339 allows a space for the T: still a time, to the second.
    t = backfill("bf-daily", {"from": "2026-10-30 10:17:00Z",
                              "to": "2026-10-31 10:17:00Z", "dry_run": True},
                 200)
    check(slots(t) == want[:2] and t.get("to") == "2026-10-31T10:17:00Z",
          "time range with spaces: %s to %s" % (slots(t), t.get("to")))
    code, lst = req("GET", "/api/v1/dags/bf-daily/backfills", READ)
    check(code == 200 and lst["backfills"] == [],
          "a dry run stored a backfill: %s" % lst)
    code, runs = req("GET", "/api/v1/runs?dag=bf-daily", READ)
    check(code == 200 and runs["runs"] == [],
          "a dry run created runs: %s" % runs)


def test_logical_time_and_params():
    """Each run has its slot as logical time, seen by the step as
    WEIR_LOGICAL_TIME and ${{ run.logical_time }}; kind backfill, reason
    'backfill #ID slot ...', params typed as for a trigger."""
    b = backfill("bf-daily", {"from": "2026-10-30", "to": "2026-11-01",
                              "max_active": 3, "params": {"n": 5},
                              "params_text": {"region": "us"}})
    bf_id = b.get("backfill_id")
    check(b.get("planned") == 3 and b.get("created") == 3,
          "created at once: %s" % b)
    done = wait_done(bf_id)
    p = done.get("progress", {})
    check(p.get("planned") == 3 and p.get("done") == 3 and
          p.get("failed") == 0 and p.get("running") == 0 and
          p.get("pending") == 0, "progress: %s" % p)
    runs = bf_runs("bf-daily", bf_id)
    want = ["2026-10-30T10:17:00.000Z", "2026-10-31T10:17:00.000Z",
            "2026-11-01T11:17:00.000Z"]
    check([r["logical_time"] for r in runs] == want,
          "logical times: %s" % [r["logical_time"] for r in runs])
    for r in runs:
        d = run(r["id"])
        out = d["tasks"][0].get("outputs") or {}
        check(d["state"] == "success" and d["trigger"]["kind"] == "backfill"
              and d["trigger"]["key"] == "backfill:%d" % bf_id,
              "run %d: %s %s" % (r["id"], d["state"], d["trigger"]))
        check(d["reason"].startswith("backfill #%d slot 2026-1" % bf_id),
              "reason: %s" % d["reason"])
        check(out.get("env_lt") == d["logical_time"] and
              out.get("expr_lt") == d["logical_time"],
              "step saw %s / %s, run %s" % (out.get("env_lt"),
                                            out.get("expr_lt"),
                                            d["logical_time"]))
        check(out.get("region") == "us" and out.get("n") == "5",
              "params: %s" % out)
    check(runs and runs[0]["reason"] ==
          "backfill #%d slot 2026-10-30T06:17:00-04:00" % bf_id,
          "first reason: %s" % (runs[0]["reason"] if runs else None))


def wait_run(run_id, timeout=15):
    return wait_for(lambda: run(run_id)["state"] in TERMINAL and
                    run(run_id), timeout, 0.1) or {}


def test_manual_logical_time_and_reprocess():
    """A manual run may set a logical time; reprocess missing skips a
    slot with any run, failed re-runs those whose latest run failed, all
    re-runs every slot."""
    ok = trigger("bf-flaky", {"logical_time": "2026-11-02T12:00:00Z"})
    bad = trigger("bf-flaky", {"logical_time": "2026-11-03T12:00",
                               "params": {"fail": True}})
    check(wait_run(ok).get("state") == "success", "manual ok run")
    check(wait_run(bad).get("state") == "failed", "manual failing run")
    check(run(ok)["logical_time"] == "2026-11-02T12:00:00.000Z",
          "manual logical time: %s" % run(ok)["logical_time"])
    code, b = req("POST", "/api/v1/dags/bf-flaky/runs", ADMIN,
                  {"logical_time": "2026-11-02T12:00:00Z"})
    check(code == 409 and "logical time" in errmsg(b),
          "a second manual run at one logical time: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/dags/bf-flaky/runs", ADMIN,
                  {"logical_time": "yesterday"})
    check(code == 400 and "RFC 3339" in errmsg(b) and
          errmsg(b).startswith("logical_time: \"yesterday\""),
          "bad logical time: %d %s" % (code, b))
    rng = {"from": "2026-11-01", "to": "2026-11-04", "dry_run": True}
    plans = {}
    for mode in ("missing", "failed", "all"):
        r = backfill("bf-flaky", dict(rng, reprocess=mode), 200)
        plans[mode] = [s["slot"][:10] for s in r.get("slots", [])
                       if s["action"] == "run"]
    check(plans["missing"] == ["2026-11-01", "2026-11-04"],
          "missing: %s" % plans["missing"])
    check(plans["failed"] == ["2026-11-01", "2026-11-03", "2026-11-04"],
          "failed: %s" % plans["failed"])
    check(len(plans["all"]) == 4, "all: %s" % plans["all"])
    b = backfill("bf-flaky", {"from": "2026-11-01", "to": "2026-11-04",
                              "reprocess": "failed", "max_active": 4})
    done = wait_done(b.get("backfill_id"))
    check(done.get("progress", {}).get("done") == 3,
          "reprocess failed ran 3: %s" % done.get("progress"))
    # Now every slot has a run: a missing backfill plans none and ends.
    b = backfill("bf-flaky", {"from": "2026-11-01", "to": "2026-11-04"})
    check(b.get("planned") == 0 and b.get("skipped") == 4,
          "nothing missing: %s" % b)
    wait_done(b.get("backfill_id"), 5)


def sample_active(bf_id, limit, timeout=25):
    """Samples backfill bf_id every 50 ms until it ends; returns the most
    runs seen active at once (queued or running), checking it never
    passes limit."""
    most, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < timeout:
        b = get_bf(bf_id)
        p = b.get("progress", {})
        active = p.get("queued", 0) + p.get("running", 0)
        most = max(most, active)
        check(active <= limit, "backfill %d: %d active, max %d" %
              (bf_id, active, limit))
        if b.get("state") != "running":
            break
        time.sleep(0.05)
    return most


def test_max_active():
    """At most max_active runs of a backfill are active at once, and never
    more than the DAG's max_active_runs."""
    b = backfill("bf-steady", {"from": "2026-11-01", "to": "2026-11-08",
                               "max_active": 2})
    most = sample_active(b.get("backfill_id"), 2)
    done = get_bf(b.get("backfill_id"))
    check(most == 2, "max_active 2 reached %d" % most)
    check(done.get("state") == "done" and
          done["progress"]["done"] == 8, "steady: %s" % done)
    b = backfill("bf-capped", {"from": "2026-11-01", "to": "2026-11-04",
                               "max_active": 3})
    most = sample_active(b.get("backfill_id"), 1)
    check(most == 1, "max_active_runs 1 reached %d" % most)
    check(get_bf(b.get("backfill_id")).get("state") == "done", "capped done")


def test_reverse():
    """--reverse creates the newest slot first."""
    b = backfill("bf-daily", {"from": "2026-11-10", "to": "2026-11-13",
                              "reverse": True})
    wait_done(b.get("backfill_id"))
    lts = [r["logical_time"][:10] for r in bf_runs("bf-daily",
                                                   b.get("backfill_id"))]
    check(lts == ["2026-11-13", "2026-11-12", "2026-11-11", "2026-11-10"],
          "reverse order: %s" % lts)


def test_cancel():
    """Cancel stops creating runs and cancels the active ones."""
    b = backfill("bf-slow", {"from": "2026-11-01", "to": "2026-11-05",
                             "max_active": 2})
    bf_id = b.get("backfill_id")
    check(b.get("created") == 2, "two created at once: %s" % b)
    code, b = req("POST", "/api/v1/backfills/%d/cancel" % bf_id, READ)
    check(code == 403, "a read token canceled a backfill: %d" % code)
    code, c = req("POST", "/api/v1/backfills/%d/cancel" % bf_id, ADMIN)
    check(code == 200 and len(c.get("canceled_runs", [])) == 2,
          "cancel: %d %s" % (code, c))
    time.sleep(1.2)  # two rounds of the chore: nothing more is created
    runs = bf_runs("bf-slow", bf_id)
    check(len(runs) == 2 and all(r["state"] == "canceled" for r in runs),
          "after cancel: %s" % [(r["id"], r["state"]) for r in runs])
    g = get_bf(bf_id)
    check(g.get("state") == "canceled" and g["progress"]["canceled"] == 2
          and g["progress"]["pending"] == 3, "canceled backfill: %s" % g)
    code, c = req("POST", "/api/v1/backfills/%d/cancel" % bf_id, ADMIN)
    check(code == 409, "a second cancel: %d %s" % (code, c))


def sql(q):
    """Runs q in the test's database (psql -tA); returns its output."""
    out = subprocess.run(os.environ["WEIR_PSQL"].split() + ["-tAc", q],
                         capture_output=True, text=True, timeout=30)
    check(out.returncode == 0, "psql: %s" % out.stderr)
    return out.stdout.strip()


def test_cancel_interrupted():
    """A backfill marked canceled whose runs were not canceled (the server
    stopped in between) gets them canceled by the backfill chore."""
    b = backfill("bf-slow", {"from": "2026-10-01", "to": "2026-10-03"})
    bf_id = b.get("backfill_id") or 0
    sql("UPDATE backfills SET state = 'canceled', canceled_by = 'halted',"
        " finished_at = now() WHERE id = %d" % bf_id)
    ok = wait_for(lambda: all(r["state"] == "canceled" for r in
                              bf_runs("bf-slow", bf_id)), 5, 0.1)
    runs = bf_runs("bf-slow", bf_id)
    check(ok and len(runs) == 1 and run(runs[0]["id"])["canceled_by"] ==
          "halted", "runs of an interrupted cancel: %s" %
          [(r["id"], r["state"]) for r in runs])


def test_params_dropped():
    """A backfill's params are typed again against the DAG's version each
    run is made with: when the file drops a param the backfill set, the
    backfill ends failed, with why, and starts no more runs."""
    b = backfill("bf-retype", {"from": "2026-11-01", "to": "2026-11-04",
                               "params": {"n": 5}})
    bf_id = b.get("backfill_id") or 0
    check(b.get("created") == 1, "one run at once: %s" % b)
    path = os.path.join(os.environ["WEIR_DAGS"], "bf-retype.yaml")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("params:\n  n: 1\n", "").replace(
            "; echo '${{ params.n }}'", ""))
    g = wait_for(lambda: get_bf(bf_id).get("state") != "running" and
                 get_bf(bf_id), 15, 0.1) or {}
    check(g.get("state") == "failed" and
          'unknown param "n" for DAG "bf-retype"' in (g.get("error") or ""),
          "a backfill whose param was dropped: %s" % g)
    runs = bf_runs("bf-retype", bf_id)
    check(1 <= len(runs) < 4 and
          g.get("progress", {}).get("pending", 0) >= 1,
          "no run after the param was dropped: %d runs, %s" %
          (len(runs), g.get("progress")))
    code, lst = req("GET", "/api/v1/dags/bf-retype/backfills", READ)
    check(code == 200 and lst["backfills"] and
          lst["backfills"][0]["state"] == "failed" and
          lst["backfills"][0]["error"] == g.get("error"),
          "the listing shows it failed: %s" % lst)
    code, c = req("POST", "/api/v1/backfills/%d/cancel" % bf_id, ADMIN)
    check(code == 409, "canceling a failed backfill: %d %s" % (code, c))


def bad(dag, body, status, *words):
    code, b = req("POST", "/api/v1/dags/%s/backfills" % dag, ADMIN, body)
    msg = errmsg(b)
    check(code == status and all(w in msg for w in words),
          "%s %s: want %d %s, got %d %s" % (dag, body, status, words, code,
                                            b))


def test_bad_input():
    """Bad input is refused with what is wrong; nothing is stored."""
    r = {"from": "2026-11-01", "to": "2026-11-03"}
    bad("bf-daily", {"from": "2026-11-05", "to": "2026-11-01"}, 400,
        "is after")
    bad("bf-daily", dict(r, trigger="dialy"), 400, "did you mean \"daily\"")
    bad("bf-multi", dict(r, trigger="ping"), 400, "event trigger",
        "cron trigger")
    bad("bf-multi", r, 400, "2 cron triggers", "\"early\"", "\"late\"")
    bad("bf-nocron", r, 400, "no cron trigger")
    bad("bf-daily", {"form": "2026-11-01", "to": "2026-11-03"}, 400,
        "did you mean \"from\"")
    bad("bf-daily", {"to": "2026-11-03"}, 400, "\"from\" is required")
    bad("bf-hourly", {"from": "2025-01-01", "to": "2026-06-30"}, 400,
        "more than 10000 slots")
    bad("bf-daily", dict(r, to="2026-13-01"), 400, "to: \"2026-13-01\"",
        "neither a date")
    bad("bf-daily", dict(r, **{"from": "2026-11-01T25:00"}), 400,
        "from: \"2026-11-01T25:00\"", "neither a date")
    # cron cannot look before year 1: a 400 naming from, not 0 slots
    bad("bf-flaky", {"from": "0001-01-01", "to": "0001-01-05"}, 400,
        "from: \"0001-01-01\" is out of range", "0001-01-01T00:00:01Z")
    bad("bf-flaky", {"from": "0001-01-01", "to": "0001-01-05",
                     "dry_run": True}, 400, "from: \"0001-01-01\"")
    bad("bf-daily", dict(r, reprocess="faild"), 400,
        "did you mean \"failed\"")
    bad("bf-daily", dict(r, max_active=0), 400, "max_active")
    bad("bf-daily", dict(r, max_active=2.5), 400, "max_active")
    bad("bf-daily", dict(r, params_text={"regoin": "x"}), 400, "regoin",
        "region")
    bad("bf-daily", dict(r, params={"n": "five"}), 400, "n")
    bad("no-such-dag", r, 404, "no-such-dag")
    code, b = req("POST", "/api/v1/dags/bf-daily/backfills", READ, r)
    check(code == 403, "a read token started a backfill: %d %s" % (code, b))
    code, b = req("GET", "/api/v1/backfills/999999", READ)
    check(code == 404 and "no backfill" in errmsg(b),
          "unknown backfill: %d %s" % (code, b))
    code, b = req("GET", "/api/v1/dags/no-such-dag/backfills", READ)
    check(code == 404, "backfills of an unknown DAG: %d %s" % (code, b))
    code, lst = req("GET", "/api/v1/dags/bf-multi/backfills", READ)
    check(code == 200 and lst["backfills"] == [],
          "a refused backfill was stored: %s" % lst)


def cli(*args, want=0):
    r = subprocess.run([CLI] + list(args), capture_output=True, text=True,
                       timeout=30, env=dict(os.environ, WEIR_TOKEN=ADMIN,
                                            WEIR_SERVER=os.environ["WEIR_URL"]))
    check(r.returncode == want, "weir %s: exit %d, want %d: %s %s" %
          (" ".join(args), r.returncode, want, r.stdout, r.stderr))
    return r.stdout + r.stderr


def test_cli():
    """weir backfill (dry run and for real), weir backfills, weir
    backfill-cancel, weir trigger --logical-time."""
    if not check(CLI != "", "no CLI given (WEIR_CLI)"):
        return
    out = cli("backfill", "bf-daily", "--from", "2026-12-01", "--to",
              "2026-12-02", "--dry-run")
    check("2026-12-01T11:17:00Z" in out and "2026-12-02T11:17:00Z" in out,
          "dry run lists the slots: %s" % out)
    out = cli("backfill", "bf-daily", "--from", "2026-12-01", "--to",
              "2026-12-03", "--max-active", "2", "--reverse", "-p", "n=7")
    check("3 slots" in out, "backfill prints its slots: %s" % out)
    bf_id = int(out.split("backfill ")[1].split()[0]) if "backfill " in out \
        else 0
    done = wait_done(bf_id)
    check(done.get("max_active") == 2 and done.get("reverse") is True and
          done.get("params") == {"n": 7}, "CLI flags: %s" % done)
    out = cli("backfills", "bf-daily")
    check(("%d" % bf_id) in out and "done" in out, "listing: %s" % out)
    out = cli("backfills", "bf-retype")
    check("failed" in out and 'error: its params do not fit' in out and
          'unknown param "n"' in out, "a failed backfill's error: %s" % out)
    out = cli("backfills", "no-such-dag", want=1)
    check("no DAG" in out, "backfills of an unknown DAG: %s" % out)
    out = cli("runs", "bf-daily", "--trigger", "backfill")
    check(out.count("backfill #%d slot" % bf_id) == 3,
          "runs --trigger backfill: %s" % out)
    out = cli("backfill", "bf-daily", "--from", "2026-12-01", "--to",
              "x", want=1)
    check("neither a date" in out, "CLI bad input: %s" % out)
    out = cli("backfill", "bf-slow", "--from", "2026-12-01", "--to",
              "2026-12-04")
    slow_id = int(out.split("backfill ")[1].split()[0]) if "backfill " in \
        out else 0
    out = cli("backfill-cancel", str(slow_id))
    check("canceled" in out, "CLI cancel: %s" % out)
    check(get_bf(slow_id).get("state") == "canceled", "canceled by CLI")
    out = cli("trigger", "bf-flaky", "--logical-time", "2026-12-24T12:00:00Z")
    code, b = req("GET", "/api/v1/runs?dag=bf-flaky&limit=1", READ)
    check(code == 200 and b["runs"] and
          b["runs"][0]["logical_time"] == "2026-12-24T12:00:00.000Z",
          "trigger --logical-time: %s %s" % (out, b))


def restart_before():
    """No worker runs yet: the backfill's first run stays active, so the
    rest must be created by the next server."""
    b = backfill("bf-restart", {"from": "2026-11-01", "to": "2026-11-04"})
    check(b.get("created") == 1, "one run before the restart: %s" % b)
    with open(STATE, "w") as f:
        f.write(str(b.get("backfill_id")))


def restart_after():
    """After the restart, the backfill goes on: every slot gets exactly one
    run and it ends done."""
    with open(STATE) as f:
        bf_id = int(f.read())
    most = sample_active(bf_id, 1, 25)
    check(most <= 1, "restart: %d active" % most)
    b = get_bf(bf_id)
    check(b.get("state") == "done" and b["progress"]["done"] == 4,
          "after the restart: %s" % b)
    lts = [r["logical_time"][:10] for r in bf_runs("bf-restart", bf_id)]
    check(lts == ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"],
          "one run a slot across the restart: %s" % lts)


if __name__ == "__main__":
    phase = sys.argv[1] if len(sys.argv) > 1 else ""
    if phase == "restart-before":
        run_tests("integration.backfill (before restart)", [restart_before])
    run_tests("integration.backfill", [
        restart_after, test_dst_slots_and_dry_run, test_bad_input,
        test_logical_time_and_params, test_manual_logical_time_and_reprocess,
        test_max_active, test_reverse, test_cancel, test_cancel_interrupted,
        test_params_dropped, test_cli,
    ])
