# SPDX-License-Identifier: Apache-2.0
"""Steps mapped over an upstream's output (map: and a matrix axis given
as ${{ steps.X.outputs.Y }}) against weir-server and a real weir-worker:
one cell per element, each with its value; the fan-in step gets every
cell's outputs; an empty list skips the step; a list over the limit, a
value that is not a list and an element that is not a scalar fail it
with the reason in its error (and make no cells); the run detail says how
many cells a step got (null until known); a retry runs the failed cells
again, and a retry from the upstream makes the cells anew from its new
list.

Environment: WEIR_URL, WEIR_ADMIN, WEIR_WORKER, WEIR_READ, WEIR_DATA (a
scratch folder).
Exits 1 when a check failed.
"""
import os
import time

from weirtest import (ADMIN, READ, TERMINAL, check, req, run, run_tests,
                      trigger, wait_for)

DATA = os.environ["WEIR_DATA"]


def done(run_id, limit=30, dag=None):
    """The run once finished (bounded: limit seconds). With dag, the runs
    listing is polled instead of the run (whose detail holds every task)."""
    last = {}

    def over():
        if dag:
            _, b = req("GET", "/api/v1/runs?dag=%s&limit=1" % dag, READ)
            return (b.get("runs") or [{}])[0].get("state") in TERMINAL
        last["run"] = run(run_id)
        return last["run"].get("state") in TERMINAL

    check(wait_for(over, limit, 0.1),
          "run %s did not finish within %d s" % (run_id, limit))
    return run(run_id) if dag else last["run"]


def tasks(r, step):
    return sorted((t for t in r.get("tasks", []) if t["step"] == step),
                  key=lambda t: t["cell"])


def states(r, step):
    return [t["state"] for t in tasks(r, step)]


def go(params, dag="map"):
    return done(trigger(dag, {"params": params}))


def test_three_cells():
    r = go({})
    check(r["state"] == "success", "3 cells: run %s" % r["state"])
    each = tasks(r, "each")
    check([t["cell"] for t in each] == [0, 1, 2], "cells 0..2: %s" % each)
    check([t["matrix"] for t in each] ==
          [{"item": "a.csv"}, {"item": "b.csv"}, {"item": "c.csv"}],
          "each cell has its value: %s" % [t["matrix"] for t in each])
    check([t["outputs"].get("got") for t in each] ==
          ["a.csv", "b.csv", "c.csv"],
          "each cell ran with its value: %s" % [t["outputs"] for t in each])
    join = tasks(r, "join")
    check(len(join) == 1 and join[0]["outputs"] ==
          {"n": "3", "items": "a.csv:a.csv,b.csv:b.csv,c.csv:c.csv"},
          "fan-in sees the 3 cells in order: %s" % join)
    check(r.get("maps") == {"each": {"cells": 3}},
          "run detail: 3 cells: %s" % r.get("maps"))


def test_matrix_form():
    r = go({}, "map-matrix")
    check(r["state"] == "success", "matrix form: run %s" % r["state"])
    each = tasks(r, "each")
    check([t["matrix"] for t in each] ==
          [{"file": "x"}, {"file": 2}, {"file": True}],
          "scalars keep their types: %s" % [t["matrix"] for t in each])
    check([t["outputs"].get("seen") for t in each] == ["x", "2", "true"],
          "matrix.file in the command: %s" % [t["outputs"] for t in each])
    code, d = req("GET", "/api/v1/dags/map-matrix", READ)
    step = next((s for s in d.get("dag", {}).get("steps", [])
                 if s["id"] == "each"), {})
    check(code == 200 and step.get("map") ==
          {"axis": "file", "step": "list", "output": "files"} and
          step.get("matrix") ==
          {"file": "${{ steps.list.outputs.files }}"} and
          step.get("cells") is None,
          "dag JSON says the axis is mapped: %d %s" % (code, step))


def test_empty_list():
    r = go({"list": "[]"})
    check(r["state"] == "success", "empty: run %s" % r["state"])
    check(states(r, "each") == ["skipped"], "empty list: each %s"
          % states(r, "each"))
    check(states(r, "join") == ["skipped"],
          "downstream of a skipped step (all_success): %s"
          % states(r, "join"))
    check(states(r, "always") == ["success"],
          "all_done runs after a skip: %s" % states(r, "always"))
    check(r.get("maps") == {"each": {"cells": 0}},
          "run detail: 0 cells: %s" % r.get("maps"))


def failed_with(r, text, what):
    each = tasks(r, "each")
    check(r["state"] == "failed", "%s: run %s" % (what, r["state"]))
    check(len(each) == 1 and each[0]["state"] == "failed" and
          text in (each[0].get("error") or ""),
          "%s: each failed with %r: %s" % (what, text, each))
    check(len(each) == 1 and each[0]["attempts"] == [],
          "%s: no attempt ran: %s" % (what, each))
    check(states(r, "join") == ["upstream_failed"],
          "%s: join %s" % (what, states(r, "join")))
    check(states(r, "always") == ["success"],
          "%s: all_done still runs: %s" % (what, states(r, "always")))
    check(r.get("maps") == {"each": {"cells": None}},
          "%s: cells unknown: %s" % (what, r.get("maps")))


def test_too_many():
    r = go({"big": 10001})
    failed_with(r, "steps.list.outputs.files has 10001 elements; the limit "
                "is 10000 cells", "10001 elements")


def test_not_a_list():
    failed_with(go({"list": '{"a": 1}'}),
                'steps.list.outputs.files is not a JSON list such as '
                '["a", "b"]: {"a": 1}', "an object")
    failed_with(go({"list": "a.csv b.csv"}), "is not a JSON list",
                "plain text")
    failed_with(go({"list": '["a", ["b"]]'}),
                "element 1 of steps.list.outputs.files is a list, not a "
                "string, number or boolean", "a nested list")


def test_limit_exact():
    """10000 elements, the limit, make 10000 cells. Their `if:` is false
    and their command fails, and the fan-in fails unless it gets 10000
    cells: the run succeeds only when all were made and none ran. (The
    run's detail, every task with its attempts, is not read: it is
    large.)"""
    t0 = time.monotonic()
    rid = trigger("map-big", {"params": {"n": 10000}})
    r = done(rid, 60, "map-big")
    took = time.monotonic() - t0
    code, b = req("GET", "/api/v1/runs?dag=map-big&limit=1", READ)
    got = (b.get("runs") or [{}])[0]
    check(got.get("id") == rid and got.get("state") == "success",
          "10000 cells, all skipped: %s" % got)
    print("10000 cells: run done in %.1f s" % took)


def test_unknown_then_known():
    gate = os.path.join(DATA, "gate")
    rid = trigger("map-wait", {"params": {"gate": gate}})

    def running():
        r = run(rid)
        return r if states(r, "list") == ["running"] else None

    r = wait_for(running, 20, 0.1)
    check(r and r.get("maps") == {"each": {"cells": None}} and
          states(r, "each") == ["pending"],
          "before the list is read: one placeholder, cells null: %r"
          % ((r or {}).get("maps"),))
    open(gate, "w").close()
    r = done(rid)
    check(r["state"] == "success" and r.get("maps") ==
          {"each": {"cells": 2}} and
          [t["outputs"].get("got") for t in tasks(r, "each")] == ["p", "q"],
          "after: 2 cells: %s %s" % (r["state"], r.get("maps")))


def test_run_timeout():
    r = done(trigger("map-timeout", {}), 30)
    check(r["state"] == "failed" and states(r, "list") == ["failed"] and
          states(r, "each") == ["canceled"] and
          "run timeout" in (tasks(r, "each")[0].get("error") or ""),
          "a run timeout before the list is read cancels the placeholder: "
          "%s %s %s" % (r["state"], states(r, "list"), tasks(r, "each")))


def test_retry():
    mark = os.path.join(DATA, "mark")
    r = go({"fail_on": "b", "list": '["a", "b", "c"]', "mark": mark})
    rid = r["id"]
    check(r["state"] == "failed" and
          states(r, "each") == ["success", "failed", "success"],
          "cell b fails: %s %s" % (r["state"], states(r, "each")))
    before = [t["id"] for t in tasks(r, "each")]
    open(mark, "w").close()
    code, b = req("POST", "/api/v1/runs/%d/retry" % rid, ADMIN, {})
    check(code == 200, "retry: %d %s" % (code, b))
    r = done(rid)
    each = tasks(r, "each")
    check(r["state"] == "success", "after retry: %s %s"
          % (r["state"], states(r, "each")))
    check([t["id"] for t in each] == before and
          [t["try_count"] for t in each] == [1, 2, 1],
          "retry runs the failed cell again, same cells: %s"
          % [(t["id"], t["try_count"]) for t in each])
    check(tasks(r, "join")[0]["outputs"].get("n") == "3",
          "join after retry: %s" % tasks(r, "join"))
    # from the upstream, with a new list: the cells are made anew
    code, b = req("POST", "/api/v1/runs/%d/retry" % rid, ADMIN,
                  {"from": "list", "params": {"list": '["x", "y"]'}})
    check(code == 200, "retry from list: %d %s" % (code, b))
    r = done(rid)
    each = tasks(r, "each")
    check(r["state"] == "success" and
          [t["matrix"] for t in each] == [{"item": "x"}, {"item": "y"}],
          "retry from the upstream makes the cells anew: %s %s"
          % (r["state"], [t["matrix"] for t in each]))
    check(tasks(r, "join")[0]["outputs"] == {"n": "2",
                                             "items": "x:x,y:y"},
          "join sees the new cells: %s" % tasks(r, "join"))
    check(r.get("maps") == {"each": {"cells": 2}},
          "run detail after retry: %s" % r.get("maps"))
    # a failed expansion is read again when retried (the list is fixed)
    r = go({"list": "nope"})
    code, b = req("POST", "/api/v1/runs/%d/retry" % r["id"], ADMIN,
                  {"from": "list", "params": {"list": '["z"]'}})
    r = done(r["id"])
    check(code == 200 and r["state"] == "success" and
          [t["matrix"] for t in tasks(r, "each")] == [{"item": "z"}],
          "a failed map is retried: %s %s" % (r["state"], tasks(r, "each")))


ALL = [test_three_cells, test_matrix_form, test_empty_list,
                       test_too_many, test_not_a_list, test_limit_exact,
                       test_unknown_then_known, test_run_timeout,
                       test_retry]


def restart_before():
    """No worker runs: a run is made, its list not read yet."""
    rid = trigger("map", {"params": {"list": '["r1", "r2", "r3"]'}})
    r = run(rid)
    check(r.get("maps") == {"each": {"cells": None}},
          "before the restart: %s" % r.get("maps"))
    with open(os.path.join(DATA, "restart_run"), "w") as f:
        f.write(str(rid))


def restart_after():
    """After a restart of the server (and a worker started): the run made
    before it maps its list."""
    with open(os.path.join(DATA, "restart_run")) as f:
        rid = int(f.read())
    r = done(rid)
    check(r["state"] == "success" and
          [t["matrix"] for t in tasks(r, "each")] ==
          [{"item": "r1"}, {"item": "r2"}, {"item": "r3"}] and
          r.get("maps") == {"each": {"cells": 3}},
          "the run made before the restart maps after it: %s %s"
          % (r["state"], r.get("maps")))


PHASES = {"restart_before": [restart_before],
          "restart_after": [restart_after]}
# MAP_TESTS=name,name runs only those (to look at one case by hand)
ONLY = [x for x in os.environ.get("MAP_TESTS", "").split(",") if x]
# MAP_PHASE=restart_before|restart_after: the two halves of the restart
# case, run_map.sh restarting the server in between
if os.environ.get("MAP_PHASE"):
    run_tests("map_test " + os.environ["MAP_PHASE"],
              PHASES[os.environ["MAP_PHASE"]])
run_tests("map_test", [t for t in ALL if not ONLY or t.__name__ in ONLY])
