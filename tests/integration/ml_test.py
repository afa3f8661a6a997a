# SPDX-License-Identifier: Apache-2.0
"""The example ML pipeline (dags/ml) end to end against weir-server and a
real weir-worker (urllib only): a dev run registers a model, bad data
fails validate, a retry from validate after quarantining the bad rows
reuses ingest and skips register below the threshold, promotion rules,
lineage content, and a prod run that a worker without the prod queue
never takes.

Environment: WEIR_URL, WEIR_ADMIN (admin token named "ops"), WEIR_WORKER,
WEIR_READ, WEIR_DATA (the data folder), WEIR_STEPS (dags/ml/steps).
Exits 1 when a check failed.
"""
import os
import subprocess
import sys
import time

from weirtest import (ADMIN, BASE, READ, TERMINAL, WORKER, check, failures,
                      req, wait_for)

DATA = os.environ["WEIR_DATA"]
STEPS = os.environ["WEIR_STEPS"]


def trigger(params, env=None):
    body = {"params": dict(params, data_dir=DATA)}
    if env:
        body["environment"] = env
    code, b = req("POST", "/api/v1/dags/ml-pipeline/runs", ADMIN, body)
    check(code == 201, "trigger: HTTP %d %s" % (code, b))
    return b["run_id"]


def wait_done(run_id, limit=60):
    """The run once finished (bounded: limit seconds)."""
    last = {}

    def over():
        _, last["run"] = req("GET", "/api/v1/runs/%d" % run_id, READ)
        return last["run"]["state"] in TERMINAL

    check(wait_for(over, limit, 0.3),
          "run %d did not finish within %d s" % (run_id, limit))
    return last["run"]


def states(run):
    out = {}
    for t in run["tasks"]:
        out.setdefault(t["step"], []).append(t["state"])
    return out


def task(run, step):
    return next(t for t in run["tasks"] if t["step"] == step)


# 1. a dev run, end to end: the model is registered
r1 = trigger({})
run1 = wait_done(r1)
st = states(run1)
check(run1["state"] == "success", "dev run: %s %s" % (run1["state"], st))
check(run1["environment"] == "dev", "dev is the default environment")
check(st.get("train") == ["success"] * 6, "six train cells: %s" % st)
check(st.get("approve") == ["skipped"], "approve runs in prod only: %s" % st)
check(st.get("register") == ["success"], "register ran: %s" % st)
ingest1 = task(run1, "ingest")["outputs"]
check(ingest1.get("data.rows") == "300", "dev uses the sample: %s" % ingest1)
_, logs = req("GET", "/api/v1/attempts/%d/logs"
              % task(run1, "ingest")["attempts"][0]["id"], READ)
check(any("environment dev" in x["line"] for x in logs.get("lines", [])),
      "the step sees WEIR_ENV=dev: %s" % logs)

code, arts = req("GET", "/api/v1/artifacts?name=cancer-classifier", READ)
check(code == 200 and len(arts["artifacts"]) == 1, "one artifact: %s" % arts)
a1 = arts["artifacts"][0] if arts.get("artifacts") else {}
check(a1.get("version") == "r%d" % r1 and a1.get("stage") == "none"
      and a1.get("run_id") == r1 and a1.get("step") == "register"
      and a1.get("environment") == "dev"
      and a1.get("data_version") == ingest1.get("data.version")
      and a1.get("data_hash") == task(run1, "validate")["outputs"]["data.hash"]
      and isinstance(a1.get("metrics", {}).get("accuracy"), (int, float))
      and a1.get("uri", "").startswith("file://")
      and len(a1.get("dag_hash") or "") == 64, "artifact record: %s" % a1)

# 2. lineage of the dev run
code, lin = req("GET", "/api/v1/runs/%d/lineage" % r1, READ)
check(code == 200, "lineage: HTTP %d" % code)
steps = {s["step"]: s for s in lin.get("steps", [])}
check(lin.get("environment") == "dev" and "data_dir" in lin.get("params", {})
      and len(lin["dag_version"]["hash"]) == 64
      and lin["trigger"]["kind"] == "manual", "lineage run: %s" % lin)
check(steps["ingest"]["data"].get("version") == ingest1.get("data.version")
      and "hash" in steps["ingest"]["data"], "lineage data: %s" % steps)
check(sorted(steps["evaluate"]["needs"]) == ["ingest", "train"]
      and len(steps["evaluate"]["inputs"]["train"]) == 6
      and "accuracy" in steps["evaluate"]["metrics"], "lineage inputs")
check(steps["register"]["artifact"].get("name") == "cancer-classifier"
      and len(lin["artifacts"]) == 1, "lineage artifact: %s" % steps)
check(not any(s["reused"] for s in lin["steps"]), "nothing reused yet")
code, _ = req("GET", "/api/v1/runs/999999/lineage", READ)
check(code == 404, "lineage of no run: %d" % code)

# 3. bad data fails validate; quarantine, retry from validate: ingest is
# reused; the threshold is out of reach, so register is skipped
r2 = trigger({"inject_bad_rows": True, "accuracy_threshold": 0.999})
run2 = wait_done(r2)
val = task(run2, "validate")
check(run2["state"] == "failed" and val["state"] == "failed"
      and val["try_count"] == 1, "bad data fails validate once: %s"
      % states(run2))
code, logs = req("GET", "/api/v1/attempts/%d/logs" % val["attempts"][0]["id"],
                 READ)
text = "\n".join(x["line"] for x in logs.get("lines", []))
check("missing values: 25" in text and "negative values" in text,
      "validate says what is wrong: %s" % text)
version2 = task(run2, "ingest")["outputs"]["data.version"]
ingest_attempt = task(run2, "ingest")["attempts"][-1]["id"]
subprocess.run(["/usr/bin/python3", STEPS + "/quarantine.py", "--data-dir",
                DATA, version2], check=True, timeout=60)
code, b = req("POST", "/api/v1/runs/%d/retry" % r2, ADMIN,
              {"from": "validate"})
check(code == 200, "retry from validate: %d %s" % (code, b))
run2 = wait_done(r2)
st = states(run2)
check(run2["state"] == "success" and st["register"] == ["skipped"],
      "after the retry: %s %s" % (run2["state"], st))
check(len(task(run2, "ingest")["attempts"]) == 1, "ingest ran once")
code, lin2 = req("GET", "/api/v1/runs/%d/lineage" % r2, READ)
steps2 = {s["step"]: s for s in lin2.get("steps", [])}
check(steps2["ingest"]["reused"] and steps2["ingest"]["reused_from"]
      == ingest_attempt and not steps2["validate"]["reused"]
      and steps2["validate"]["data"].get("quarantined") == "25",
      "lineage says ingest was reused: %s" % steps2.get("ingest"))
# the new attempts record which attempts' outputs they were given
val2 = task(run2, "validate")["attempts"]
ing_from = val2[-1].get("inputs_from") or {}
check(len(val2) == 2 and ing_from.get("ingest", {}).get("attempt_id")
      == ingest_attempt and ing_from["ingest"].get("reused") is True
      and ing_from["ingest"].get("data_version") == version2,
      "the retried validate names the original ingest: %s" % val2)
check(val2[0].get("inputs_from") is None,
      "the first validate, leased before any retry, records no inputs"
      " (each upstream task had one success): %s" % val2[0])
check(task(run2, "ingest")["attempts"][0].get("inputs_from") is None,
      "a step without upstream records no inputs")
ev_from = steps2["evaluate"].get("inputs_from") or {}
check(len(ev_from.get("train", [])) == 6
      and [c["cell"] for c in ev_from["train"]] == list(range(6))
      and all(c.get("reused") is None for c in ev_from["train"])
      and ev_from.get("validate", {}).get("attempt_id") == val2[-1]["id"]
      and ev_from.get("ingest", {}).get("reused") is True,
      "lineage: evaluate read the new train cells and the old ingest: %s"
      % ev_from)
check(lin2["artifacts"] == [], "nothing registered below the threshold")
val_hash = task(run2, "validate")["outputs"]["data.hash"]
check(val_hash != task(run2, "ingest")["outputs"]["data.hash"],
      "validate hashes the rows it accepted")

# 4. promotion rules, with a second version
r3 = trigger({})
run3 = wait_done(r3)
check(run3["state"] == "success", "third run")
# the same dataset as the first run: every train cell reused its model
cells1 = {t["cell"]: t for t in run1["tasks"] if t["step"] == "train"}
cells3 = [t for t in run3["tasks"] if t["step"] == "train"]
check(len(cells3) == 6 and all(
    (t.get("cached_from") or {}).get("attempt_id")
    == cells1[t["cell"]]["attempts"][-1]["id"]
    and t["outputs"] == cells1[t["cell"]]["outputs"] for t in cells3),
    "an unchanged dataset does not retrain: %s"
    % [t.get("cached_from") for t in cells3])
# the retried run of section 3 trained on the rows left once the bad ones
# were quarantined: the first run's rows, so its models too
check(all((t.get("cached_from") or {}).get("run_id") == r1
          for t in run2["tasks"] if t["step"] == "train"),
      "the quarantined run reused the models of the same rows: %s"
      % [t.get("cached_from") for t in run2["tasks"] if t["step"] == "train"])
name = "/api/v1/artifacts/cancer-classifier/versions/"


def promote(version, to, token=ADMIN):
    return req("POST", name + version + "/promote", token, {"to": to})


def decide(version, verb, comment=None):
    body = {"comment": comment} if comment else None
    return req("POST", name + version + "/" + verb, ADMIN, body)


# the DAG has an approval gate: prod needs a person's yes
code, b = promote("r%d" % r1, "prod")
check(code == 202 and b["outcome"] == "awaiting_approval"
      and b["stage"] == "none" and b["by"] == "ops",
      "prod awaits approval: %d %s" % (code, b))
code, b = promote("r%d" % r1, "prod")
check(code == 409 and "already awaits approval" in b["error"]["message"],
      "one request at a time: %d %s" % (code, b))
code, b = decide("r%d" % r1, "approve", "holdout looks fine")
check(code == 200 and b["stage"] == "prod" and b["decided_by"] == "ops"
      and b["archived"] is None, "first prod approved: %d %s" % (code, b))
code, b = decide("r%d" % r1, "approve")
check(code == 409 and "awaits no approval" in b["error"]["message"],
      "nothing to approve: %d %s" % (code, b))
code, b = promote("r%d" % r1, "dev")
check(code == 409 and "only move forward" in b["error"]["message"],
      "no way back: %d %s" % (code, b))
code, b = promote("r%d" % r3, "production")
check(code == 400 and "unknown stage" in b["error"]["message"],
      "unknown stage: %d %s" % (code, b))
code, b = req("POST", name + "r1/promote", ADMIN, {"to": "dev", "x": 1})
check(code == 400 and "unknown key" in b["error"]["message"], "unknown key")
code, b = promote("r999", "dev")
check(code == 404, "no such version: %d" % code)
code, b = promote("r%d" % r3, "staging", READ)
check(code == 403, "a read token cannot promote: %d" % code)
check(promote("r%d" % r3, "staging")[0] == 200, "r3 to staging")
check(promote("r%d" % r3, "prod")[0] == 202, "r3 asks for prod")
code, b = decide("r%d" % r3, "reject", "wait for Monday")
check(code == 200 and b["outcome"] == "rejected" and b["stage"] == "staging",
      "rejected: %d %s" % (code, b))
check(promote("r%d" % r3, "prod")[0] == 202, "r3 asks again")
code, b = decide("r%d" % r3, "approve")
check(code == 200 and b["from"] == "staging" and b["archived"] == "r%d" % r1,
      "second prod archives the first: %s" % b)
code, one = req("GET", "/api/v1/artifacts/cancer-classifier", READ)
vs = {v["version"]: v for v in one["versions"]}
check(one["prod"] == "r%d" % r3 and vs["r%d" % r1]["stage"] == "archived"
      and [p["to"] for p in vs["r%d" % r1]["promotions"]]
      == ["prod", "archived"]
      and [p["outcome"] for p in vs["r%d" % r3]["promotions"]]
      == ["done", "rejected", "done"]
      and vs["r%d" % r3]["promotions"][1]["comment"] == "wait for Monday",
      "the registry after promotions: %s" % one)
code, _ = req("GET", "/api/v1/artifacts/nothing-here", READ)
check(code == 404, "unknown artifact: %d" % code)

# 5. prod: every task on the prod queue; a worker without it gets nothing
r4 = trigger({}, env="prod")
code, w = req("POST", "/api/v1/workers/register", WORKER,
              {"name": "default-only", "queues": ["default"]})
code, lease = req("POST", "/api/v1/workers/%d/lease" % w["worker_id"], WORKER,
                  {"wait_ms": 1500})
check(code == 200 and lease["attempts"] == [], "no prod work: %s" % lease)
_, run4 = req("GET", "/api/v1/runs/%d" % r4, READ)
check(all(t["queue"] == "prod" for t in run4["tasks"])
      and task(run4, "ingest")["state"] == "queued"
      and run4["params"]["accuracy_threshold"] == 0.93,
      "prod run waits on the prod queue: %s" % states(run4))

# 6. a worker on the prod queue runs it; approve waits for a person
tok = os.path.join(DATA, "..", "worker.token")
prod = subprocess.Popen([os.environ["WEIR_WORKER_BIN"], "--server", BASE,
                         "--token-file", tok, "--queue", "prod", "--slots",
                         "2", "--dags-dir", os.environ["WEIR_DAGS"],
                         "--scratch-dir", DATA, "--name", "prod-worker",
                         "--shutdown-grace", "1s"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, run4 = req("GET", "/api/v1/runs/%d" % r4, READ)
        if task(run4, "approve")["state"] != "pending" or \
                run4["state"] != "running":
            break
        time.sleep(0.3)
    check(task(run4, "approve")["state"] == "awaiting_approval",
          "prod waits for approval: %s" % states(run4))
    check(task(run4, "ingest")["outputs"].get("data.rows") == "569",
          "prod reads the whole dataset")
    code, b = req("POST", "/api/v1/runs/%d/steps/approve/approve" % r4, ADMIN,
                  {"comment": "numbers look right"})
    check(code == 200, "approve: %d %s" % (code, b))
    run4 = wait_done(r4)
    check(run4["state"] == "success" and task(run4, "register")["state"]
          == "success", "prod run after approval: %s" % states(run4))
    _, arts = req("GET", "/api/v1/artifacts?name=cancer-classifier", READ)
    check(arts["artifacts"][0]["environment"] == "prod"
          and arts["artifacts"][0]["version"] == "r%d" % r4,
          "the prod run's version: %s" % arts["artifacts"][0])
finally:
    prod.terminate()
    prod.wait(timeout=30)

# 7. artifact outputs at the edges (tests/integration/ml_dags/edge.yaml)
code, b = req("POST", "/api/v1/dags/ml-edge/runs", ADMIN, {})
edge = wait_done(b["run_id"])
check(edge["state"] == "success", "a refused artifact fails no step: %s"
      % states(edge))
_, arts = req("GET", "/api/v1/artifacts?name=edge-model", READ)
e = arts["artifacts"][0] if arts["artifacts"] else {}
check(e.get("version") == "run-%d" % edge["id"]
      and e.get("metrics") == {"huge": "1e99999", "text": "abc", "n": 3}
      and e.get("data_version") is None and e.get("step") == "make",
      "edge artifact: %s" % e)
_, arts = req("GET", "/api/v1/artifacts", READ)
check(all(a["name"] in ("cancer-classifier", "edge-model")
          for a in arts["artifacts"]), "the bad name was not recorded")

# 8. max_prod: 2 (ml_dags/canary.yaml): two in prod, the third archives
# the one that reached prod first
canary = []
for _ in range(3):
    code, b = req("POST", "/api/v1/dags/ml-canary/runs", ADMIN, {})
    check(wait_done(b["run_id"])["state"] == "success", "canary run")
    canary.append("run-%d" % b["run_id"])
cpath = "/api/v1/artifacts/canary-model/versions/"


def cpromote(version):
    return req("POST", cpath + version + "/promote", ADMIN, {"to": "prod"})


code, b = cpromote(canary[1])
check(code == 200 and b["archived"] is None, "first canary prod: %s" % b)
code, b = cpromote(canary[0])
check(code == 200 and b["archived"] is None, "two in prod: %d %s" % (code, b))
_, one = req("GET", "/api/v1/artifacts/canary-model", READ)
check(one["prod"] == canary[0] and one["prod_versions"] == [canary[0],
                                                            canary[1]],
      "both in prod, newest there first: %s" % one)
code, b = cpromote(canary[2])
check(code == 200 and b["archived"] == canary[1],
      "the third archives the oldest in prod: %d %s" % (code, b))
_, one = req("GET", "/api/v1/artifacts/canary-model", READ)
vs = {v["version"]: v["stage"] for v in one["versions"]}
check(one["prod_versions"] == [canary[2], canary[0]]
      and vs[canary[1]] == "archived", "canary registry: %s" % one)

# 9. a retry that changes a param (ml_dags/params.yaml)
code, b = req("POST", "/api/v1/dags/ml-params/runs", ADMIN, {})
pr = b["run_id"]
prun = wait_done(pr)
check(prun["state"] == "failed" and task(prun, "check")["state"] == "failed",
      "params run fails on bad: %s" % states(prun))
rpath = "/api/v1/runs/%d/retry" % pr
code, b = req("POST", rpath, ADMIN, {"from": "check", "params": {"bda": "1"}})
check(code == 400 and "unknown param \"bda\"" in b["error"]["message"]
      and "did you mean \"bad\"" in b["error"]["message"],
      "an unknown param is refused: %d %s" % (code, b))
code, b = req("POST", rpath, ADMIN, {"from": "check", "parms": {}})
check(code == 400 and "unknown key \"parms\"" in b["error"]["message"],
      "an unknown key is refused: %d %s" % (code, b))
code, b = req("POST", rpath, ADMIN, {"from": "check", "params": ["bad"]})
check(code == 400 and "must be an object" in b["error"]["message"],
      "params must be an object: %d %s" % (code, b))
code, b = req("POST", rpath, ADMIN, {"from": "check",
                                     "params": {"bad": "false", "note": "x"}})
check(code == 200 and b["changed"] == {"bad": {"from": "true",
                                                "to": "false"}},
      "retry with a changed param: %d %s" % (code, b))
prun = wait_done(pr)
check(prun["state"] == "success" and len(task(prun, "make")["attempts"]) == 1
      and prun["params"]["bad"] == "false",
      "the retried step sees the new value: %s %s" % (states(prun),
                                                      prun.get("params")))
pc = prun.get("param_changes") or [{}]
check(len(pc) == 1 and pc[0].get("by") == "ops" and pc[0].get("retry") == 1
      and pc[0].get("from") == "check" and pc[0].get("at")
      and pc[0].get("changed") == {"bad": {"from": "true", "to": "false"}},
      "the run records who changed what: %s" % pc)
_, plin = req("GET", "/api/v1/runs/%d/lineage" % pr, READ)
psteps = {s["step"]: s for s in plin.get("steps", [])}
check(plin.get("param_changes") == pc and psteps["make"]["reused"]
      and psteps["check"]["inputs_from"]["make"]["data_version"] == "v-x",
      "the lineage shows the change and the kept make: %s" % plin)
with open(os.path.join(DATA, "params_run"), "w") as f:
    f.write(str(pr))

print("ml: %d failures" % len(failures))
sys.exit(1 if failures else 0)
