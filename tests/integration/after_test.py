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

A follower whose firing fails does not fail its upstream's completion:
the failure is logged and shown as a suppressed firing. Two DAGs that
follow each other's dataset, both with max_active_runs, complete
concurrently without a deadlock, and every firing is accounted for. A
firing left queued (a crash) is made once. A DAG following its own
dataset loops only until its guards (max_runs_per_day) stop it.

Environment: WEIR_URL, WEIR_ADMIN, WEIR_WORKER, WEIR_READ tokens;
WEIR_DAGS_DIR (the server's DAGs folder); WEIR_PSQL (a psql command line
for the test's database); WEIR_CLI (the weir binary); WEIR_SERVER_LOG,
WEIR_PG_LOG (the server's and PostgreSQL's logs).
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
SERVER_LOG = os.environ["WEIR_SERVER_LOG"]
PG_LOG = os.environ["WEIR_PG_LOG"]
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
    """Waits until every queued after and data firing is made: the
    upstream's transaction queues them (after_pending), a server thread
    makes each in a transaction of its own that deletes its row, so an
    empty queue means every firing of the runs ended so far is
    committed."""
    check(wait_for(lambda: sql("SELECT count(*) FROM after_pending") == "0",
                   10), "after firings still pending after 10 s")


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


def read_log(path):
    with open(path, errors="replace") as f:
        return f.read()


def suppressed(dag):
    code, b = req("GET", "/api/v1/dags/%s/triggers" % dag, READ)
    return json.dumps(b.get("triggers", [{}])[0].get("suppressed")) \
        if code == 200 else ""


def test_firing_fails():
    """A follower's firing that fails (here: PostgreSQL refuses its run's
    row) neither fails nor holds up the upstream's completion: the
    upstream run succeeds, the failure is logged (after_fire_failed) and
    shown as a suppressed firing in general terms, and the next firing,
    once the cause is gone, makes its run."""
    sql("CREATE FUNCTION weir_test_refuse() RETURNS trigger LANGUAGE plpgsql"
        " AS $$BEGIN RAISE EXCEPTION 'test refuses runs of fail-down';"
        " END$$; CREATE TRIGGER weir_test_refuse BEFORE INSERT ON runs"
        " FOR EACH ROW WHEN (NEW.dag_id = 'fail-down')"
        " EXECUTE FUNCTION weir_test_refuse()")
    try:
        rid = trigger("fail-up")
        r = work(rid, 0)
        check(r and r["state"] == "success",
              "fail-up, its follower's firing failing: %s" % r)
        settle()
    finally:
        sql("DROP TRIGGER weir_test_refuse ON runs;"
            " DROP FUNCTION weir_test_refuse()")
    check(runs_of("fail-down") == [], "fail-down got a run")
    sup = suppressed("fail-down")
    check("firing failed (after fail-up run #%d success)" % rid in sup and
          "test refuses" not in sup,
          "fail-down suppressed: %s" % sup)
    log = read_log(SERVER_LOG)
    check("event=after_fire_failed dag=fail-down" in log and
          "test refuses runs of fail-down" in log,
          "no after_fire_failed with the cause in the server log")
    rid = trigger("fail-up")
    work(rid, 0)
    settle()
    got = runs_of("fail-down")
    check(len(got) == 1 and run(got[0]["id"])["reason"] ==
          "after fail-up run #%d success" % rid,
          "fail-down once the cause is gone: %s" % got)


def test_mutual_data():
    """ping follows ds.pong and pong ds.ping, both max_active_runs: 1.
    Their runs complete two at a time, each producing a new version of
    its DAG's dataset, so that each completion fires the other DAG while
    the other DAG's run completes: no deadlock (PostgreSQL's log), no
    failed completion, and each version's firing is a run or a recorded
    suppression (folded into the queued run)."""
    pp = Worker("after-pp", ["pp"], slots=8)
    made = {"ping": 0, "pong": 0}  # versions produced
    lock = threading.Lock()

    def finish(a, data):
        dag = "ping" if "ping" in a.get("command", "") else "pong"
        out = {}
        if data:
            with lock:
                made[dag] += 1
                out = {"data.name": "ds." + dag,
                       "data.version": "v%d" % made[dag]}
        pp.complete(a, outputs=out)

    def batch(data, wait_s):
        got, end = [], time.monotonic() + wait_s
        while len(got) < 2 and time.monotonic() < end:
            got += pp.lease(2 - len(got), 300)
        ths = [threading.Thread(target=finish, args=(a, data)) for a in got]
        for th in ths:
            th.start()
        for th in ths:
            th.join(30)
        return len(got)

    trigger("ping")
    trigger("pong")
    t0 = time.monotonic()
    pairs = 0
    for _ in range(15):
        pairs += batch(True, 3) == 2
    # The loop ends: what is left runs without producing data.
    end = time.monotonic() + 20
    while time.monotonic() < end:
        settle()
        if batch(False, 0.5) == 0 and sql(
                "SELECT count(*) FROM runs WHERE dag_id IN ('ping', 'pong')"
                " AND state IN ('queued', 'running')") == "0":
            break
    settle()
    print("ping/pong: %d versions, %d concurrent pairs, %.1f s" %
          (made["ping"] + made["pong"], pairs, time.monotonic() - t0))
    check(pairs >= 10, "only %d of 15 rounds completed two runs at once"
          % pairs)
    check("deadlock detected" not in read_log(PG_LOG),
          "PostgreSQL broke a deadlock")
    check("after_fire_failed" not in read_log(SERVER_LOG).replace(
        "after_fire_failed dag=fail-down", ""), "a ping/pong firing failed")
    for dag, other in (("ping", "pong"), ("pong", "ping")):
        versions = int(sql("SELECT count(*) FROM data_versions WHERE"
                           " name = 'ds.%s'" % other))
        runs = int(sql("SELECT count(*) FROM runs WHERE dag_id = '%s' AND"
                       " trigger_kind = 'data'" % dag))
        sup = int(sql("SELECT count(*) FROM trigger_suppressed WHERE"
                      " dag_id = '%s'" % dag))
        check(versions == made[other] and versions == runs + sup,
              "%s: %d versions of ds.%s (%d produced), %d runs, %d"
              " suppressed" % (dag, versions, other, made[other], runs, sup))


def test_pending_left_over():
    """A firing queued but not made (as a crash between the upstream's
    commit and the firing leaves it) is made once by the server's thread,
    without any commit waking it."""
    n = len(runs_of("on-data"))
    sql("INSERT INTO after_pending (dag_id, trigger_key, reason, payload)"
        " VALUES ('on-data', 'data:dataset.customers', 'left over',"
        " '{\"name\": \"dataset.customers\", \"id\": \"v-left\","
        " \"payload\": {\"version\": \"v-left\"}}')")
    settle()
    got = runs_of("on-data")
    check(len(got) == n + 1 and run(got[-1]["id"])["reason"] == "left over",
          "left-over firing: %d new runs" % (len(got) - n))


def test_self_feeding():
    """A DAG following the dataset it writes fires itself once per new
    version, as long as its guards let it: max_runs_per_day 2 ends the
    loop at the third firing, recorded as suppressed."""
    sw = Worker("after-self", ["self"], slots=2)
    trigger("selfie")
    for i in range(6):
        got = sw.lease(1, 1500)
        if not got:
            break
        sw.complete(got[0], outputs={"data.name": "ds.selfie",
                                     "data.version": "s%d" % i})
        settle()
    runs = runs_of("selfie")
    check(len(runs) == 3 and all(r["state"] in TERMINAL for r in runs),
          "selfie: the manual run and 2 it fired, got %s" %
          [(r["id"], r["state"]) for r in runs])
    check("daily cap reached" in suppressed("selfie"),
          "selfie suppressed: %s" % suppressed("selfie"))


def main():
    global W
    W = Worker("after-test", ["default"], slots=4)
    run_tests("after", [test_success_fires_once, test_failed_and_any,
                        test_when_false, test_data_versions, test_chain,
                        test_cooldown, test_cycle_folder, test_cycle_api,
                        test_dag_definition, test_cli, test_real_worker,
                        test_wakes_waiting_lease, test_firing_fails,
                        test_mutual_data, test_pending_left_over,
                        test_self_feeding])


if __name__ == "__main__":
    main()
