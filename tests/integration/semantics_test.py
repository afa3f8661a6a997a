# SPDX-License-Identifier: Apache-2.0
"""The engine's last semantics against the real binaries: concurrency caps
(and a pool shared by two DAGs, the same check) and on_failure /
on_success hooks.

Started by run_faults.sh (NAME semantics), which provides a private
PostgreSQL and the DAGs of tests/integration/semantics_dags; the server,
worker and HTTP helpers are those of faults_test.py. Exits 1 when a check
failed.
"""
import sys
import time
from datetime import datetime

import faults_test as ft
from faults_test import Worker, check, logs, task, trigger, wait_run


def stamp(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def most_at_once(run):
    """The most attempts of run that were running at the same time."""
    edges = []
    for t in run["tasks"]:
        for a in t["attempts"]:
            if a["started_at"] and a["finished_at"]:
                edges.append((stamp(a["started_at"]), 1))
                edges.append((stamp(a["finished_at"]), -1))
    most = now = 0
    for _, d in sorted(edges):  # at one instant, an end before a start
        now += d
        most = max(most, now)
    return most


def s1_concurrency():
    """concurrency: 2 holds with 8 slots free; an uncapped DAG is not held."""
    ws = [Worker("c1", "cap", 4), Worker("c2", "cap", 4)]
    capped = trigger("capped")
    free = trigger("uncapped")
    rc, rf = wait_run(capped, 40), wait_run(free, 40)
    for w in ws:
        w.stop()
    check(rc["state"] == "success", "capped run ended %s" % rc["state"])
    check(rf["state"] == "success", "uncapped run ended %s" % rf["state"])
    mc, mf = most_at_once(rc), most_at_once(rf)
    check(mc == 2, "capped DAG: %d tasks at once (cap 2)" % mc)
    check(mf >= 3, "uncapped DAG held back: %d tasks at once" % mf)
    return "capped DAG at most %d at once, uncapped %d at once" % (mc, mf)


def starts(run):
    return sorted(stamp(a["started_at"]) for t in run["tasks"]
                  for a in t["attempts"])


def s3_turns():
    """A backlog of uncapped work does not hold a capped DAG back."""
    rb, rt = trigger("backlog"), trigger("turn")
    w = Worker("t1", "turns", 1)
    b, t = wait_run(rb, 40), wait_run(rt, 40)
    w.stop()
    check(b["state"] == "success" and t["state"] == "success",
          "backlog %s, turn %s" % (b["state"], t["state"]))
    sb, st = starts(b), starts(t)
    ahead = sum(x < st[0] for x in sb) if st else None
    check(st and ahead < len(sb),
          "the capped DAG started after all %d backlog tasks" % len(sb))
    return "the capped DAG started after %s of %d backlog tasks" % (
        ahead, len(sb))


APICAP = """dag: apicap
%sdefaults:
  queue: apicap
steps:
  - {id: a, run: sleep 0.3}
  - {id: b, run: sleep 0.3}
  - {id: c, run: sleep 0.3}
"""


def s4_cap_change():
    """A cap set by a new version holds the queued tasks of an older run."""
    code, b = ft.req("POST", "/api/v1/dags", {"source": APICAP % ""})
    check(code == 201, "submit apicap: %s %s" % (code, b))
    rid = trigger("apicap")
    code, b = ft.req("POST", "/api/v1/dags",
                     {"source": APICAP % "concurrency: 1\n"})
    check(code == 200, "resubmit apicap with a cap: %s %s" % (code, b))
    w = Worker("a1", "apicap", 3)
    r = wait_run(rid, 30)
    w.stop()
    check(r["state"] == "success", "apicap run ended %s" % r["state"])
    m = most_at_once(r)
    check(m == 1, "apicap: %d tasks at once under the new cap 1" % m)
    return "run of the old version: at most %d at once under the new cap" % m


POOLED = """dag: %s
defaults:
  queue: pooled
  pool: semp
steps:
""" + "".join("  - {id: s%d, run: sleep 0.3}\n" % i for i in range(4))


def s5_pool():
    """s1 with a pool: two DAGs share a pool of 2 with 8 worker slots free
    and never run more than 2 tasks at once between them."""
    code, b = ft.req("PUT", "/api/v1/pools/semp", {"slots": 2})
    check(code == 201, "set pool semp: %s %s" % (code, b))
    for dag in ("pool_a", "pool_b"):
        code, b = ft.req("POST", "/api/v1/dags", {"source": POOLED % dag})
        check(code == 201, "submit %s: %s %s" % (dag, code, b))
    ws = [Worker("q1", "pooled", 4), Worker("q2", "pooled", 4)]
    ra, rb = trigger("pool_a"), trigger("pool_b")
    a, b = wait_run(ra, 40), wait_run(rb, 40)
    for w in ws:
        w.stop()
    check(a["state"] == "success" and b["state"] == "success",
          "pooled runs ended %s, %s" % (a["state"], b["state"]))
    m = most_at_once({"tasks": a["tasks"] + b["tasks"]})
    check(m == 2, "pool semp (2): %d tasks at once over two DAGs" % m)
    return "two DAGs in a pool of 2: at most %d at once" % m


def hook_task(run, step):
    t = task(run, step)
    check(t.get("hook") == step, "%s: hook field %r" % (step, t.get("hook")))
    return t


def s2_hooks():
    """on_failure runs when a step failed, on_success when none did."""
    w = Worker("h1", "hooks", 2)
    ok, bad = trigger("hook_ok"), trigger("hook_fail")
    rok, rbad = wait_run(ok, 30), wait_run(bad, 30)
    w.stop()
    check(rok["state"] == "success", "hook_ok ended %s" % rok["state"])
    check(rbad["state"] == "failed", "hook_fail ended %s" % rbad["state"])
    states = {t["step"]: t["state"] for t in rbad["tasks"]}
    check(states == {"a": "success", "b": "failed", "c": "upstream_failed",
                     "side": "success", "on_failure": "success",
                     "on_success": "skipped"}, "hook_fail tasks %s" % states)
    states = {t["step"]: t["state"] for t in rok["tasks"]}
    check(states == {"a": "success", "b": "success", "maybe": "skipped",
                     "on_failure": "skipped", "on_success": "success"},
          "hook_ok tasks %s" % states)
    check(task(rok, "a").get("hook") is None, "a step marked as a hook")
    fh, sh = hook_task(rbad, "on_failure"), hook_task(rok, "on_success")
    hook_task(rbad, "on_success")
    fl = logs(fh["attempts"][0]["id"]) if fh["attempts"] else []
    sl = logs(sh["attempts"][0]["id"]) if sh["attempts"] else []
    want_f = "failure hook run=%d x=7 b=failed" % bad
    want_s = "success hook run=%d x=42 env=%d step=on_success" % (ok, ok)
    check(want_f in fl, "on_failure log %s, wanted %r" % (fl, want_f))
    check(want_s in sl, "on_success log %s, wanted %r" % (sl, want_s))
    return "failed run ran on_failure, successful run ran on_success"


def main():
    return ft.run_scenarios((
        ("1 concurrency cap", s1_concurrency),
        ("2 on_failure and on_success", s2_hooks),
        ("3 capped DAGs get their turn", s3_turns),
        ("4 a new version sets the cap", s4_cap_change),
        ("5 a pool shared by two DAGs", s5_pool),
    ))


if __name__ == "__main__":
    sys.exit(main())
