# SPDX-License-Identifier: Apache-2.0
"""The approval policy against a running weir-server (urllib, and the weir
CLI when WEIR_TEST_CLI is set): approvers: of a gate, of an environment's
approve_before gates and of an artifact's promotions, self approval
refused by default (who started, retried or asked may only reject), runs
no person started, and DAGs whose approvers: is wrong.

Environment: WEIR_URL, WEIR_ADMIN (admin token "ops"), WEIR_WORKER,
WEIR_READ, WEIR_TOKENS (a JSON object of admin tokens alice, bob, carol),
WEIR_DAGS_SRC (tests/integration/approvals_dags). Exits 1 when a check
failed.
"""
import json
import os
import subprocess
import tempfile

from weirtest import ADMIN, BASE, READ, check, req, run, run_tests, wait_for
import weirtest

TOK = json.loads(os.environ["WEIR_TOKENS"])
CLI = os.environ.get("WEIR_TEST_CLI")


def trigger(dag, token, body=None):
    return weirtest.trigger(dag, body or {}, 201, token)


def decide(rid, step, verb, token, comment=None):
    body = {"comment": comment} if comment else {}
    return req("POST", "/api/v1/runs/%d/steps/%s/%s" % (rid, step, verb),
               token, body)


def message(b):
    e = b.get("error") if isinstance(b, dict) else None
    return e.get("message", "") if isinstance(e, dict) else ""


def task(rid, step):
    for t in run(rid)["tasks"]:
        if t["step"] == step:
            return t
    return {}


def waiting(rid, step):
    """Waits until step of run rid awaits approval; True when it does."""
    return wait_for(lambda: task(rid, step).get("state") ==
                    "awaiting_approval", 10, 0.05) is not None


def refused(got, want, what):
    code, b = got
    check(code == 403 and message(b) == want,
          "%s: %d %s (want 403 %r)" % (what, code, b, want))


def cli(token, *args):
    env = dict(os.environ, WEIR_SERVER=BASE, WEIR_TOKEN=token)
    p = subprocess.run([CLI] + list(args), capture_output=True, text=True,
                       env=env, timeout=20)
    return p.returncode, p.stdout + p.stderr


def test_dag_json():
    """GET /api/v1/dags/{id} shows who may decide."""
    code, b = req("GET", "/api/v1/dags/ap-named", READ)
    steps = {s["id"]: s for s in b.get("dag", {}).get("steps", [])}
    check(code == 200 and steps.get("ship", {}).get("approval") ==
          {"message": "Ship run ${{ run.id }}?",
           "approvers": ["alice", "release-managers"],
           "self_approve": False}, "ap-named's gate: %d %s" % (code, b))
    code, b = req("GET", "/api/v1/dags/ap-env", READ)
    envs = b.get("dag", {}).get("environments", {})
    check(envs.get("prod", {}).get("approvers") == ["carol"] and
          envs.get("staging", {}).get("self_approve") is True,
          "ap-env's environments: %s" % envs)
    code, b = req("GET", "/api/v1/dags/ap-art", READ)
    arts = b.get("dag", {}).get("artifacts", {})
    check(arts.get("ap-model", {}).get("approvers") == ["carol"],
          "ap-art's artifacts: %s" % arts)


def test_named_approvers():
    """Only a listed name decides; who started may not approve."""
    rid = trigger("ap-named", ADMIN)
    check(waiting(rid, "ship"), "ap-named waits: %s" % run(rid))
    want = ('approvers of step "ship" are [alice, release-managers]; '
            'you are bob (no groups)')
    refused(decide(rid, "ship", "approve", TOK["bob"]), want, "bob approves")
    refused(decide(rid, "ship", "reject", TOK["bob"]), want, "bob rejects")
    code, _ = decide(rid, "ship", "approve", READ)
    check(code == 403, "a read token approves: %d" % code)
    refused(decide(rid, "ship", "approve", ADMIN),
            'approvers of step "ship" are [alice, release-managers]; '
            'you are ops (no groups)', "ops (who started) approves")
    check(task(rid, "ship").get("state") == "awaiting_approval",
          "a refusal decided nothing: %s" % task(rid, "ship"))
    code, b = decide(rid, "ship", "approve", TOK["alice"], "ok")
    check(code == 200 and b.get("state") == "success",
          "alice approves: %d %s" % (code, b))
    t = task(rid, "ship")
    check(t.get("outputs") == {"approved_by": "alice", "comment": "ok"},
          "approved by alice: %s" % t)

    # alice started this one: the list does not make her own run hers
    rid = trigger("ap-named", TOK["alice"])
    check(waiting(rid, "ship"), "ap-named waits: %s" % run(rid))
    refused(decide(rid, "ship", "approve", TOK["alice"]),
            'you (alice) started this run; step "ship" does not allow self '
            'approval (approval: {self_approve: true} allows it)',
            "alice approves her own run")
    code, b = decide(rid, "ship", "reject", TOK["alice"], "withdrawn")
    check(code == 200 and b.get("state") == "failed",
          "who started may reject (withdraw): %d %s" % (code, b))


def test_prefixed_approvers():
    """"group:NAME" matches a group only, "user:NAME" a name only."""
    rid = trigger("ap-pref", ADMIN)
    check(waiting(rid, "bygroup") and waiting(rid, "byname"),
          "ap-pref waits: %s" % run(rid))
    refused(decide(rid, "bygroup", "approve", TOK["carol"]),
            'approvers of step "bygroup" are [group:carol, user:bob]; '
            'you are carol (no groups)', "the token named carol, group:carol")
    code, b = decide(rid, "bygroup", "approve", TOK["bob"])
    check(code == 200, "bob approves by user:bob: %d %s" % (code, b))
    code, b = decide(rid, "byname", "approve", TOK["carol"])
    check(code == 200 and b.get("run_state") == "success",
          "carol approves by user:carol: %d %s" % (code, b))


def test_self_approval():
    """No approvers: anyone but who started or retried approves;
    self_approve: true lets who started approve."""
    rid = trigger("ap-open", ADMIN)
    check(waiting(rid, "gate"), "ap-open waits: %s" % run(rid))
    refused(decide(rid, "gate", "approve", ADMIN),
            'you (ops) started this run; step "gate" does not allow self '
            'approval (approval: {self_approve: true} allows it)',
            "ops approves the run ops started")
    code, b = decide(rid, "gate", "reject", ADMIN)
    check(code == 200 and b.get("run_state") == "failed",
          "ops rejects the run ops started: %d %s" % (code, b))
    # bob retries it: bob may not approve it now, nor ops
    code, b = req("POST", "/api/v1/runs/%d/retry" % rid, TOK["bob"], {})
    check(code == 200, "bob retries: %d %s" % (code, b))
    check(waiting(rid, "gate"), "ap-open waits again: %s" % run(rid))
    refused(decide(rid, "gate", "approve", TOK["bob"]),
            'you (bob) retried this run; step "gate" does not allow self '
            'approval (approval: {self_approve: true} allows it)',
            "bob approves the run bob retried")
    code, _ = decide(rid, "gate", "approve", ADMIN)
    check(code == 403, "ops approves the run ops started, retried: %d" % code)
    code, b = decide(rid, "gate", "approve", TOK["carol"])
    check(code == 200 and b.get("run_state") == "success",
          "carol approves: %d %s" % (code, b))

    rid = trigger("ap-self", TOK["alice"])
    check(waiting(rid, "gate"), "ap-self waits: %s" % run(rid))
    refused(decide(rid, "gate", "approve", TOK["bob"]),
            'approvers of step "gate" are [alice]; you are bob (no groups)',
            "bob approves ap-self")
    code, b = decide(rid, "gate", "approve", TOK["alice"])
    check(code == 200 and b.get("state") == "success",
          "self_approve: alice approves her run: %d %s" % (code, b))


def test_no_person():
    """A run an event started counts as started by who posted the event;
    a backfill's runs count as started by who asked for the backfill."""
    code, b = req("POST", "/api/v1/events", ADMIN, {"name": "ap.go"})
    check(code in (200, 201, 202) and b.get("runs") == 1,
          "event: %d %s" % (code, b))
    got = wait_for(lambda: req("GET", "/api/v1/runs?dag=ap-open&trigger=event",
                               READ)[1].get("runs"), 10, 0.05)
    rid = got[0]["id"] if got else 0
    check(rid and waiting(rid, "gate"), "event run waits: %s" % got)
    refused(decide(rid, "gate", "approve", ADMIN),
            'you (ops) started this run; step "gate" does not allow self '
            'approval (approval: {self_approve: true} allows it)',
            "ops approves the run its event started")
    code, b = decide(rid, "gate", "approve", TOK["carol"])
    check(code == 200 and b.get("state") == "success",
          "carol approves the run ops's event started: %d %s" % (code, b))

    code, b = req("POST", "/api/v1/dags/ap-backfill/backfills", TOK["bob"],
                  {"from": "2026-11-02", "to": "2026-11-02"})
    check(code == 201, "bob backfills: %d %s" % (code, b))
    got = wait_for(lambda: req(
        "GET", "/api/v1/runs?dag=ap-backfill&trigger=backfill",
        READ)[1].get("runs"), 15, 0.05)
    rid = got[0]["id"] if got else 0
    check(rid and waiting(rid, "gate"), "backfill run waits: %s" % got)
    refused(decide(rid, "gate", "approve", TOK["bob"]),
            'you (bob) started this run; step "gate" does not allow self '
            'approval (approval: {self_approve: true} allows it)',
            "bob approves his backfill's run")
    code, b = decide(rid, "gate", "approve", TOK["alice"])
    check(code == 200, "alice approves bob's backfill run: %d %s" % (code, b))


def test_after_trigger():
    """A run an after: trigger started counts as started and retried by
    who started and retried the upstream run."""
    up = trigger("ap-up", TOK["alice"])
    check(waiting(up, "gate"), "ap-up waits: %s" % run(up))
    code, b = decide(up, "gate", "reject", TOK["carol"])
    check(code == 200, "carol rejects ap-up: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/runs/%d/retry" % up, TOK["bob"], {})
    check(code == 200, "bob retries ap-up: %d %s" % (code, b))
    check(waiting(up, "gate"), "ap-up waits again: %s" % run(up))
    code, b = decide(up, "gate", "approve", TOK["carol"])
    check(code == 200, "carol approves ap-up: %d %s" % (code, b))
    got = wait_for(lambda: req("GET", "/api/v1/runs?dag=ap-down",
                               READ)[1].get("runs"), 10, 0.05)
    rid = got[0]["id"] if got else 0
    check(rid and waiting(rid, "gate"), "ap-down run waits: %s" % got)
    for who, did in (("alice", "started"), ("bob", "retried")):
        refused(decide(rid, "gate", "approve", TOK[who]),
                'you (%s) %s this run; step "gate" does not allow self '
                'approval (approval: {self_approve: true} allows it)'
                % (who, did), "%s approves the run ap-up started" % who)
    code, b = decide(rid, "gate", "approve", TOK["carol"])
    check(code == 200 and b.get("state") == "success",
          "carol approves ap-down: %d %s" % (code, b))


def test_environment_gates():
    """approve_before gates follow their environment's policy."""
    rid = trigger("ap-env", ADMIN, {"environment": "prod"})
    check(waiting(rid, "deploy"), "prod deploy waits: %s" % run(rid))
    refused(decide(rid, "deploy", "approve", TOK["bob"]),
            'approvers of step "deploy" (approve_before of environment '
            '"prod") are [carol]; you are bob (no groups)', "bob in prod")
    code, b = decide(rid, "deploy", "approve", TOK["carol"])
    check(code == 200 and b.get("state") == "queued",
          "carol approves prod: %d %s" % (code, b))
    rid = trigger("ap-env", ADMIN, {"environment": "staging"})
    check(waiting(rid, "deploy"), "staging deploy waits: %s" % run(rid))
    code, b = decide(rid, "deploy", "approve", ADMIN)
    check(code == 200 and b.get("state") == "queued",
          "staging allows self approval: %d %s" % (code, b))


def artifact_version(w, name, version):
    """Runs ap-art once; its make step records name/version."""
    rid = trigger("ap-art", ADMIN)
    a = w.one("make")
    if a:
        w.complete(a, 0, {"artifact.name": name, "artifact.version": version})
    wait_for(lambda: run(rid)["state"] == "success", 10, 0.05)
    check(run(rid)["state"] == "success", "ap-art run: %s" % run(rid))


def promote(name, version, verb, token, body=None):
    return req("POST", "/api/v1/artifacts/%s/versions/%s/%s" %
               (name, version, verb), token, body or {})


def test_promotions():
    """approvers: of an artifact; who asked may withdraw, not approve."""
    w = weirtest.Worker("ap-art-w", ["ap-art"])
    artifact_version(w, "ap-model", "v1")
    artifact_version(w, "ap-model", "v2")
    artifact_version(w, "ap-own", "v1")
    artifact_version(w, "ap-list", "v1")
    code, b = promote("ap-model", "v1", "promote", ADMIN, {"to": "prod"})
    check(code == 202, "ops asks for prod: %d %s" % (code, b))
    want = 'approvers of artifact "ap-model" are [carol]; you are bob ' \
           '(no groups)'
    refused(promote("ap-model", "v1", "approve", TOK["bob"]), want,
            "bob approves a promotion")
    refused(promote("ap-model", "v1", "reject", TOK["bob"]), want,
            "bob rejects a promotion")
    code, b = promote("ap-model", "v1", "approve", TOK["carol"])
    check(code == 200 and b.get("stage") == "prod" and
          b.get("decided_by") == "carol", "carol approves: %d %s" % (code, b))
    code, b = promote("ap-model", "v2", "promote", ADMIN, {"to": "prod"})
    check(code == 202, "ops asks for v2: %d %s" % (code, b))
    code, b = promote("ap-model", "v2", "reject", ADMIN)
    check(code == 200, "ops withdraws (not listed): %d %s" % (code, b))
    # listed, without self_approve: who asked may not approve
    code, b = promote("ap-list", "v1", "promote", ADMIN, {"to": "prod"})
    check(code == 202, "ops asks for ap-list: %d %s" % (code, b))
    refused(promote("ap-list", "v1", "approve", ADMIN),
            "ops asked for the promotion of ap-list v1 to prod and cannot "
            "approve it too: someone else must (or the DAG allows it: "
            "artifacts: {ap-list: {self_approve: true}})",
            "ops approves what ops asked")
    code, b = promote("ap-list", "v1", "approve", TOK["carol"])
    check(code == 200 and b.get("stage") == "prod",
          "carol approves ap-list: %d %s" % (code, b))
    # listed, and self_approve: true
    code, b = promote("ap-own", "v1", "promote", ADMIN, {"to": "prod"})
    check(code == 202, "ops asks for ap-own: %d %s" % (code, b))
    refused(promote("ap-own", "v1", "approve", TOK["bob"]),
            'approvers of artifact "ap-own" are [ops, carol]; you are bob '
            '(no groups)', "bob approves ap-own")
    code, b = promote("ap-own", "v1", "approve", ADMIN)
    check(code == 200 and b.get("stage") == "prod",
          "self_approve: ops approves: %d %s" % (code, b))


def test_cli():
    """weir approve and weir artifact approve print the refusal."""
    if not CLI:
        return
    rid = trigger("ap-named", ADMIN)
    check(waiting(rid, "ship"), "ap-named waits: %s" % run(rid))
    code, out = cli(TOK["bob"], "approve", str(rid), "ship")
    check(code == 1 and 'approvers of step "ship" are [alice, '
          'release-managers]; you are bob (no groups)' in out,
          "weir approve by bob: %d %s" % (code, out))
    code, out = cli(TOK["alice"], "approve", str(rid), "ship", "--comment",
                    "fine")
    check(code == 0 and task(rid, "ship").get("state") == "success",
          "weir approve by alice: %d %s" % (code, out))
    rid = trigger("ap-open", ADMIN)
    check(waiting(rid, "gate"), "ap-open waits: %s" % run(rid))
    code, out = cli(ADMIN, "approve", str(rid), "gate")
    check(code == 1 and "you (ops) started this run" in out,
          "weir approve by who started: %d %s" % (code, out))
    code, out = cli(ADMIN, "reject", str(rid), "gate")
    check(code == 0, "weir reject by who started: %d %s" % (code, out))
    code, b = promote("ap-model", "v2", "promote", ADMIN, {"to": "prod"})
    check(code == 202, "ops asks for v2 again: %d %s" % (code, b))
    code, out = cli(TOK["bob"], "artifact", "approve", "ap-model", "v2")
    check(code == 1 and 'approvers of artifact "ap-model" are [carol]' in out,
          "weir artifact approve by bob: %d %s" % (code, out))


BAD = """dag: ap-bad
steps:
  - id: gate
    approval:
      approvers: [alice, "", alice]
"""
BAD_PREFIX = """dag: ap-bad
steps:
  - id: gate
    approval:
      approvers: [alice, "users:bob"]
"""
BAD_FILE = """dag: ap-bad
steps:
  - id: gate
    approval:
      approvers: []
      self_approve: maybe
"""


def test_bad_dag():
    """A wrong approvers: fails to load with line:col."""
    code, raw, _ = weirtest.call("POST", "/api/v1/dags", ADMIN,
                                 data=BAD.encode(), ctype="application/yaml")
    b = json.loads(raw or b"null")
    d = b.get("error", {}).get("details", []) if isinstance(b, dict) else []
    check(code == 400 and len(d) == 2 and
          (d[0]["line"], d[0]["column"]) == (5, 26) and
          d[0]["message"] == 'in the approval of step "gate", an entry of '
          '"approvers" is empty: give a name or a group' and
          (d[1]["line"], d[1]["column"]) == (5, 30) and
          'approver "alice" is listed twice (first at line 5, column 19)'
          in d[1]["message"], "a bad approvers: %d %s" % (code, b))
    code, raw, _ = weirtest.call("POST", "/api/v1/dags", ADMIN,
                                 data=BAD_PREFIX.encode(),
                                 ctype="application/yaml")
    b = json.loads(raw or b"null")
    d = b.get("error", {}).get("details", []) if isinstance(b, dict) else []
    check(code == 400 and len(d) == 1 and
          (d[0]["line"], d[0]["column"]) == (5, 26) and
          'approver "users:bob" has an unknown prefix "users:" (did you '
          'mean "user"?)' in d[0]["message"],
          "an unknown approvers: prefix: %d %s" % (code, b))
    if not CLI:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ap-bad.yaml")
        with open(path, "w") as f:
            f.write(BAD_FILE)
        code, out = cli(READ, "validate", path)
    check(code == 1 and path + ":5:18: " in out and "empty list" in out and
          path + ":6:21: " in out and "true or false" in out,
          "weir validate: %d %s" % (code, out))


run_tests("approvals", [test_dag_json, test_named_approvers,
                        test_prefixed_approvers, test_self_approval,
                        test_no_person, test_after_trigger,
                        test_environment_gates,
                        test_promotions, test_cli, test_bad_dag])
