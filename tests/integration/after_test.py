# SPDX-License-Identifier: Apache-2.0
"""After and data triggers against a running weir-server (urllib only; the
test is the worker of queue "default", and nothing serves queue "sink",
where the followed DAGs' steps wait): a run of `up` that succeeds fires
its success and any followers once, with the reason and payload naming
it, and the run detail and lineage name it; a failed one fires the failed
and any followers; when: on the upstream outputs and params holds or not;
a new data version fires the data trigger once with the version in
event.payload, the same version again does not; a chain c1 -> c2 -> c3
runs through; cooldown suppresses a second firing; a cycle across DAGs is
refused at load, from the folder and over the API, at the trigger's
line:column and naming the cycle; the triggers list shows them.

Environment: WEIR_URL, WEIR_ADMIN, WEIR_WORKER, WEIR_READ tokens;
WEIR_DAGS_DIR (the server's DAGs folder); WEIR_PSQL (a psql command line
for the test's database); WEIR_CLI (the weir binary).
"""
import datetime
import json
import os
import subprocess
import threading
import time

from weirtest import (ADMIN, BASE, READ, TERMINAL, Worker, call, check,
                      req, run, run_tests, trigger, wait_for)

DAGS_DIR = os.environ["WEIR_DAGS_DIR"]
PSQL = os.environ["WEIR_PSQL"].split()
CLI = os.environ["WEIR_CLI"]
W = None  # the test's worker, on queue "default"


def sql(query):
    return subprocess.run(PSQL + ["-tAc", query], capture_output=True,
                          text=True, check=True).stdout.strip()


def runs_of(dag):
    """The runs of dag, oldest first."""
    code, b = req("GET", "/api/v1/runs?dag=%s&limit=100" % dag, READ)
    check(code == 200, "runs of %s: %d %s" % (dag, code, b))
    return sorted(b.get("runs", []), key=lambda r: r["id"]) \
        if code == 200 else []


def work(run_id, exit_code=0, outputs=None):
    """Leases the next attempt, which must be of run_id, and ends it with
    exit_code and outputs; then waits for the run to finish."""
    got = W.lease(1, 5000)
    if not check(len(got) == 1 and got[0]["run_id"] == run_id,
                 "expected an attempt of run %s, got %s" % (run_id, got)):
        return None
    W.complete(got[0], exit_code=exit_code, outputs=outputs)
    return wait_for(lambda: run(run_id)["state"] in TERMINAL and run(run_id),
                    10)


def settle():
    """Time for a firing that should not happen to show: firings are made
    in the transaction that ends the upstream run, so there is no delay to
    wait out; this covers the reply racing the commit of nothing."""
    time.sleep(0.2)


def test_success_fires_once():
    before = {d: len(runs_of(d)) for d in ("down-success", "down-failed",
                                           "down-any", "down-when")}
    rid = trigger("up")
    r = work(rid, 0, {"rows": "150"})
    check(r and r["state"] == "success", "up run: %s" % r)
    settle()
    got = runs_of("down-success")
    check(len(got) == before["down-success"] + 1,
          "down-success: one new run, got %d" % (len(got) -
                                                 before["down-success"]))
    check(len(runs_of("down-failed")) == before["down-failed"],
          "down-failed fired on a success")
    check(len(runs_of("down-any")) == before["down-any"] + 1,
          "down-any did not fire once on a success")
    check(len(runs_of("down-when")) == before["down-when"] + 1,
          "down-when (rows 150 > 100, region eu) did not fire")
    if not got:
        return
    d = run(got[-1]["id"])
    check(d["reason"] == "after up run #%d success" % rid,
          "reason: %r" % d["reason"])
    check(d["trigger"]["kind"] == "after", "kind: %s" % d["trigger"])
    p = d["trigger"]["payload"] or {}
    check(p.get("dag") == "up" and p.get("run_id") == rid and
          p.get("state") == "success" and
          p.get("outputs") == {"produce": {"rows": "150"}},
          "payload: %s" % p)
    check(d.get("upstream") == {"run_id": rid, "dag": "up",
                                "state": "success"},
          "run detail upstream: %s" % d.get("upstream"))
    code, lin = req("GET", "/api/v1/runs/%d/lineage" % d["id"], READ)
    check(code == 200 and lin.get("upstream", {}).get("run_id") == rid,
          "lineage upstream: %d %s" % (code, lin.get("upstream")))
    # The step reads the upstream's outputs through event.payload.
    sink = Worker("after-sink", ["sink"], slots=8)
    got = sink.lease(8, 3000)
    mine = [a for a in got if a["run_id"] == d["id"]]
    check(len(mine) == 1 and "150" in mine[0].get("command", ""),
          "down-success command: %s" % mine)
    for a in got:
        sink.complete(a)
    code, b = req("GET", "/api/v1/dags/down-success/triggers", READ)
    t = (b.get("triggers") or [{}])[0] if code == 200 else {}
    check(t.get("kind") == "after" and t.get("target") == "up" and
          t.get("after_state") == "success",
          "triggers list: %d %s" % (code, t))


def test_failed_and_any():
    before = {d: len(runs_of(d)) for d in ("down-success", "down-failed",
                                           "down-any", "down-when")}
    rid = trigger("up")
    r = work(rid, 1)
    check(r and r["state"] == "failed", "up run: %s" % r)
    settle()
    check(len(runs_of("down-success")) == before["down-success"],
          "down-success fired on a failure")
    check(len(runs_of("down-when")) == before["down-when"],
          "down-when fired on a failure")
    got = runs_of("down-failed")
    check(len(got) == before["down-failed"] + 1,
          "down-failed: one new run, got %d" % (len(got) -
                                                before["down-failed"]))
    check(len(runs_of("down-any")) == before["down-any"] + 1,
          "down-any did not fire once on a failure")
    if got:
        check(run(got[-1]["id"])["reason"] == "after up run #%d failed" % rid,
              "failed reason: %r" % run(got[-1]["id"])["reason"])


def test_when_false():
    n = len(runs_of("down-when"))
    m = len(runs_of("down-success"))
    rid = trigger("up")
    work(rid, 0, {"rows": "7", "data.version": "v9"})
    rid2 = trigger("up", {"params": {"region": "us"}})
    work(rid2, 0, {"rows": "500"})
    settle()
    check(len(runs_of("down-when")) == n,
          "down-when fired though rows 7 / region us: %d new" %
          (len(runs_of("down-when")) - n))
    check(len(runs_of("down-success")) == m + 2,
          "down-success (no when:) did not fire for both runs")
    check(len(runs_of("down-dotted")) == 1,
          "down-dotted (run.outputs.produce.data.version == v9): %d runs" %
          len(runs_of("down-dotted")))


def test_data_versions():
    n = len(runs_of("on-data"))
    out = {"data.name": "dataset.customers", "data.version": "v1",
           "data.rows": "10"}
    rid = trigger("producer")
    work(rid, 0, out)
    settle()
    got = runs_of("on-data")
    check(len(got) == n + 1, "data v1: one run, got %d" % (len(got) - n))
    if len(got) == n + 1:
        d = run(got[-1]["id"])
        p = (d["trigger"]["payload"] or {}).get("payload", {})
        check(d["trigger"]["kind"] == "data" and p.get("version") == "v1" and
              p.get("name") == "dataset.customers" and
              p.get("run_id") == rid and p.get("dag") == "producer" and
              p.get("rows") == "10",
              "data payload: %s" % d["trigger"])
        check(d["reason"] ==
              "data dataset.customers version v1 from producer run #%d" % rid,
              "data reason: %r" % d["reason"])
        check(d.get("upstream", {}).get("run_id") == rid,
              "data upstream: %s" % d.get("upstream"))
    # The same version again: nothing; a new one: one more run.
    rid = trigger("producer")
    work(rid, 0, out)
    settle()
    check(len(runs_of("on-data")) == n + 1,
          "data v1 a second time fired again")
    rid = trigger("producer")
    work(rid, 0, dict(out, **{"data.version": "v2"}))
    settle()
    got = runs_of("on-data")
    check(len(got) == n + 2, "data v2: one more run, got %d" % (len(got) - n))
    if len(got) == n + 2:
        p = (run(got[-1]["id"])["trigger"]["payload"] or {}).get("payload")
        check(p and p.get("version") == "v2", "v2 payload: %s" % p)
    # Another dataset fires nothing here.
    rid = trigger("producer")
    work(rid, 0, {"data.name": "dataset.orders", "data.version": "v1"})
    settle()
    check(len(runs_of("on-data")) == n + 2, "dataset.orders fired on-data")


def test_chain():
    rid = trigger("c1")
    work(rid, 0)
    c2 = wait_for(lambda: runs_of("c2"), 5)
    if not check(len(c2) == 1, "c2 after c1: %s" % c2):
        return
    work(c2[0]["id"], 0)
    c3 = wait_for(lambda: runs_of("c3"), 5)
    check(len(c3) == 1 and run(c3[0]["id"])["reason"] ==
          "after c2 run #%d success" % c2[0]["id"], "c3 after c2: %s" % c3)


def test_cooldown():
    rid = trigger("cu")
    work(rid, 0)
    rid2 = trigger("cu")
    work(rid2, 0)
    settle()
    check(len(runs_of("cool")) == 1,
          "cool (cooldown 1h): %d runs" % len(runs_of("cool")))
    code, b = req("GET", "/api/v1/dags/cool/triggers", READ)
    sup = json.dumps(b.get("triggers", [{}])[0].get("suppressed")) \
        if code == 200 else ""
    check("cooldown until" in sup, "cool suppressed: %s" % sup)


def last_error(dag):
    return sql("SELECT coalesce(last_error, '') FROM dags WHERE id = '%s'"
               % dag)


def test_cycle_folder():
    with open(os.path.join(DAGS_DIR, "cyc-a.yaml"), "w") as f:
        f.write("dag: cyc-a\ntriggers:\n  - after: {dag: cyc-b}\n"
                "steps:\n  - id: s\n    run: echo a\n")
    check(wait_for(lambda: sql("SELECT count(*) FROM dags WHERE id = 'cyc-a'"
                               " AND current_version_id IS NOT NULL") == "1",
                   10), "cyc-a (after a DAG not loaded yet) did not load")
    with open(os.path.join(DAGS_DIR, "cyc-b.yaml"), "w") as f:
        f.write("dag: cyc-b\ndescription: x\ntriggers:\n"
                "  - cron: '0 3 * * *'\n  - after: {dag: cyc-a}\n"
                "steps:\n  - id: s\n    run: echo b\n")
    err = wait_for(lambda: last_error("cyc-b"), 10)
    check("cyc-b.yaml:5:5:" in err and "cyc-a -> cyc-b -> cyc-a" in err,
          "folder cycle error: %r" % err)
    check(sql("SELECT count(*) FROM dags WHERE id = 'cyc-b' AND"
              " current_version_id IS NOT NULL") == "0",
          "cyc-b was recorded despite the cycle")


def submit(text):
    code, b, _ = call("POST", "/api/v1/dags", ADMIN, data=text.encode(),
                      ctype="application/yaml")
    return code, json.loads(b or b"null")


def test_cycle_api():
    code, b = submit("dag: loop-a\ntriggers:\n  - after: {dag: loop-b}\n"
                     "steps:\n  - id: s\n    run: echo a\n")
    check(code == 201, "loop-a (its upstream unknown yet): %d %s" % (code, b))
    code, b = submit("dag: loop-b\ntriggers:\n  - after:\n      dag: loop-a\n"
                     "      state: any\nsteps:\n  - id: s\n    run: echo b\n")
    msg = (b or {}).get("error", {}).get("message", "")
    check(code == 400 and ":3:5:" in msg and
          "loop-a -> loop-b -> loop-a" in msg,
          "API cycle: %d %s" % (code, b))
    code, b = submit("dag: self\ntriggers:\n  - after: {dag: self}\n"
                     "steps:\n  - id: s\n    run: echo b\n")
    msg = (b or {}).get("error", {}).get("message", "")
    check(code == 400 and "self -> self" in msg and ":3:5:" in msg,
          "API self cycle: %d %s" % (code, b))
    # A bad after trigger is a load error with a suggestion.
    code, b = submit("dag: typo\ntriggers:\n  - after: {dag: up, stat: any}\n"
                     "steps:\n  - id: s\n    run: echo b\n")
    msg = (b or {}).get("error", {}).get("message", "")
    check(code == 400 and ":3:22:" in msg and 'did you mean "state"' in msg,
          "API typo: %d %s" % (code, b))


def test_dag_definition():
    """GET /api/v1/dags/ID shows the after and data triggers as written."""
    code, b = req("GET", "/api/v1/dags/down-when", READ)
    t = ((b.get("dag") or {}).get("triggers") or [{}])[0] \
        if code == 200 else {}
    check(t.get("after") == {"dag": "up", "state": "success"} and
          t.get("when") ==
          'run.outputs.produce.rows > 100 && run.params.region == "eu"',
          "down-when definition: %d %s" % (code, t))
    code, b = req("GET", "/api/v1/dags/on-data", READ)
    t = ((b.get("dag") or {}).get("triggers") or [{}])[0] \
        if code == 200 else {}
    check(t.get("data") == "dataset.customers" and
          t.get("id") == "data:dataset.customers",
          "on-data definition: %d %s" % (code, t))


def test_cli():
    env = dict(os.environ, WEIR_SERVER=BASE, WEIR_TOKEN=READ)
    r = subprocess.run([CLI, "triggers", "down-any"], capture_output=True,
                       text=True, env=env, timeout=20)
    check(r.returncode == 0 and "after up (any)" in r.stdout,
          "weir triggers down-any: %d %s %s" %
          (r.returncode, r.stdout, r.stderr))
    r = subprocess.run([CLI, "triggers", "on-data"], capture_output=True,
                       text=True, env=env, timeout=20)
    check(r.returncode == 0 and "dataset dataset.customers" in r.stdout,
          "weir triggers on-data: %d %s %s" %
          (r.returncode, r.stdout, r.stderr))


def test_wakes_waiting_lease():
    """The commit that ends the upstream run and creates the followed run
    wakes a lease call already waiting on the new task's queue."""
    w2 = Worker("after-wake", ["wake"], slots=1)
    got = {}

    def poll():
        got["attempts"] = w2.lease(1, 20000)
        got["at"] = time.monotonic()

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)  # the lease call is waiting
    rid = trigger("wake-up")
    a = W.lease(1, 5000)
    if check(len(a) == 1 and a[0]["run_id"] == rid, "wake-up: %s" % a):
        done = time.monotonic()
        W.complete(a[0])
    else:
        done = time.monotonic()
    th.join(30)
    lag = got.get("at", done + 99) - done
    print("waiting lease call answered %.2f s after the upstream ended" % lag)
    check(len(got.get("attempts", [])) == 1 and
          got["attempts"][0]["step"] == "b" and lag < 5,
          "waiting lease call: %.1f s, %s" % (lag, got.get("attempts")))
    for x in got.get("attempts", []):
        w2.complete(x)


def iso(t):
    return datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))


def test_real_worker():
    """A real weir-worker runs real-up; its end fires real-down (when: on
    its outputs) and its data version fires real-data, whose steps check
    what they read from event.payload; both finish within seconds of the
    upstream's end (the worker's long poll is 25 s)."""
    rid = trigger("real-up")
    up = wait_for(lambda: run(rid)["state"] in TERMINAL and run(rid), 20)
    if not check(up and up["state"] == "success", "real-up: %s" % up):
        return
    for dag in ("real-down", "real-data"):
        got = wait_for(lambda: [r for r in runs_of(dag)
                                if r["state"] in TERMINAL], 20)
        if not check(len(got) == 1 and got[0]["state"] == "success",
                     "%s after real-up: %s" % (dag, got)):
            continue
        lag = (iso(got[0]["finished_at"]) -
               iso(up["finished_at"])).total_seconds()
        print("%s finished %.2f s after real-up" % (dag, lag))
        check(lag < 10, "%s took %.1f s after real-up" % (dag, lag))


def main():
    global W
    W = Worker("after-test", ["default"], slots=4)
    run_tests("after", [test_success_fires_once, test_failed_and_any,
                        test_when_false, test_data_versions, test_chain,
                        test_cooldown, test_cycle_folder, test_cycle_api,
                        test_dag_definition, test_cli, test_real_worker,
                        test_wakes_waiting_lease])


if __name__ == "__main__":
    main()
