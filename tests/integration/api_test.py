# SPDX-License-Identifier: Apache-2.0
"""Request bodies, typed params and the CLI for scripts, against a running
weir-server with a real weir-worker (urllib and subprocess only).

Environment: WEIR_URL, WEIR_ADMIN (admin token named "ops"), WEIR_WORKER,
WEIR_READ, WEIR_CLI (the weir binary). DAGs: tests/integration/api_dags.
Exits 1 when a check failed.
"""
import json
import os
import subprocess
import time

from weirtest import READ, WORKER, check, req, run, run_tests, wait_for
import weirtest

CLI = os.environ["WEIR_CLI"]


def cli(*args, timeout=60):
    """Runs `weir ARGS` with the admin token: (exit code, stdout, stderr)."""
    env = dict(os.environ, WEIR_SERVER=weirtest.BASE,
               WEIR_TOKEN=weirtest.ADMIN)
    r = subprocess.run([CLI] + list(args), capture_output=True, text=True,
                       env=env, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def post(path, body, token=None):
    return req("POST", path, token or weirtest.ADMIN, body)


def message(b):
    """The error message of a reply, or ''."""
    if isinstance(b, dict) and isinstance(b.get("error"), dict):
        return b["error"].get("message", "")
    return ""


def finished(rid, timeout=60):
    """The run once it finished (None when it did not in time)."""
    def done():
        r = run(rid)
        return r if r["state"] in weirtest.TERMINAL else None
    return wait_for(done, timeout, 0.2)


def task_states(r):
    return {t["step"]: t["state"] for t in r["tasks"]}


def expect_400(path, body, words, token=None):
    """POST body to path must be a 400 whose message holds every word."""
    code, b = post(path, body, token)
    msg = message(b)
    check(code == 400 and all(w in msg for w in words),
          "POST %s %s: want 400 with %s, got %d %s" %
          (path, json.dumps(body), words, code, b))


def test_unknown_keys():
    """Every route with a body names an unknown key and suggests one."""
    cases = [
        ("/api/v1/dags/api-ok/runs", {"parms": {"x": 1}},
         ['"parms"', 'did you mean "params"'], None),
        ("/api/v1/tokens", {"role": "read", "nmae": "x"},
         ['"nmae"', 'did you mean "name"'], None),
        ("/api/v1/dags", {"sourc": "dag: x"},
         ['"sourc"', 'did you mean "source"'], None),
        ("/api/v1/workers/register", {"name": "w", "queus": ["q"]},
         ['"queus"', 'did you mean "queues"'], WORKER),
        ("/api/v1/workers/1/lease", {"mx": 1},
         ['"mx"', 'did you mean "max"'], WORKER),
        ("/api/v1/attempts/1/heartbeat", {"lease_id": "x", "leaseid": "y"},
         ['"leaseid"', 'did you mean "lease_id"'], WORKER),
        ("/api/v1/attempts/1/logs", {"lease_id": "x", "lines": [
            {"seq": 0, "ts": 0, "stream": "stdout", "line": "a",
             "lien": "b"}]},
         ['"lien"', 'did you mean "line"'], WORKER),
        ("/api/v1/attempts/1/complete", {"lease_id": "x", "exit_cod": 0},
         ['"exit_cod"', 'did you mean "exit_code"'], WORKER),
        ("/api/v1/attempts/1/complete", {"lease_id": "x", "more": [
            {"attempt_id": 2, "lease_id": "y", "outptus": {}}]},
         ['"outptus"', 'did you mean "outputs"'], WORKER),
        ("/api/v1/attempts/1/complete", {"lease_id": "x", "lease": {
            "worker_id": 1, "maxx": 2}},
         ['"maxx"', 'did you mean "max"'], WORKER),
        ("/api/v1/runs/1/cancel", {"reason": "x"}, ['"reason"'], None),
        ("/api/v1/runs/1/retry", {"form": "a"},
         ['"form"', 'did you mean "from"'], None),
        ("/api/v1/runs/1/steps/a/approve", {"coment": "x"},
         ['"coment"', 'did you mean "comment"'], None),
        ("/api/v1/runs/1/steps/a/reject", {"commment": "x"},
         ['"commment"', 'did you mean "comment"'], None),
        ("/api/v1/dags/api-ok/pause", {"paused": True}, ['"paused"'], None),
        ("/api/v1/dags/api-ok/unpause", {"x": 1}, ['"x"'], None),
        ("/api/v1/artifacts/m/versions/v1/promote",
         {"to": "prod", "comments": "x"},
         ['"comments"', 'did you mean "comment"'], None),
        ("/api/v1/artifacts/m/versions/v1/approve", {"coment": "x"},
         ['"coment"', 'did you mean "comment"'], None),
        ("/api/v1/artifacts/m/versions/v1/reject", {"coment": "x"},
         ['"coment"', 'did you mean "comment"'], None),
        ("/api/v1/events", {"name": "e", "payloud": {}},
         ['"payloud"', 'did you mean "payload"'], None),
        ("/api/v1/metrics", {"name": "m", "value": 1, "lables": {}},
         ['"lables"', 'did you mean "labels"'], None),
    ]
    for path, body, words, token in cases:
        expect_400(path, body, words, token)
    # the run was not started with defaults
    code, b = req("GET", "/api/v1/runs?dag=api-ok", READ)
    check(code == 200 and b["runs"] == [], "a refused trigger ran: %s" % b)


def test_wrong_types():
    """A known key of the wrong JSON type is a 400 naming the key."""
    cases = [
        ("/api/v1/dags/api-ok/runs", {"environment": 3},
         ['"environment"', "string", "number"], None),
        ("/api/v1/dags/api-ok/runs", {"params": [1]},
         ['"params"', "object", "list"], None),
        ("/api/v1/dags/api-ok/runs", {"idempotency_key": True},
         ['"idempotency_key"', "bool"], None),
        ("/api/v1/runs/1/retry", {"from": 7}, ['"from"', "number"], None),
        ("/api/v1/runs/1/steps/a/approve", {"comment": ["x"]},
         ['"comment"', "list"], None),
        ("/api/v1/artifacts/m/versions/v1/promote", {"to": 1},
         ['"to"', "string"], None),
        ("/api/v1/artifacts/m/versions/v1/promote", {"comment": "x"},
         ['"to"', "required"], None),
        ("/api/v1/workers/register", {"name": "w", "slots": "2"},
         ['"slots"', "number", "string"], WORKER),
        ("/api/v1/attempts/1/complete", {"lease_id": "x", "timed_out": 1},
         ['"timed_out"', "bool"], WORKER),
    ]
    for path, body, words, token in cases:
        expect_400(path, body, words, token)


def test_api_param_types():
    """The API refuses a param of the wrong type or undeclared."""
    path = "/api/v1/dags/api-flags/runs"
    expect_400(path, {"params": {"flag": "false"}},
               ['"flag"', "bool", "string", '"false"'])
    expect_400(path, {"params": {"regions": "not-a-list"}},
               ['"regions"', "list", "string"])
    expect_400(path, {"params": {"n": "3"}}, ['"n"', "number", "string"])
    expect_400(path, {"params": {"opts": [1]}}, ['"opts"', "map", "list"])
    expect_400(path, {"params": {"flg": True}},
               ['"flg"', 'did you mean "flag"'])
    expect_400(path, {"params_text": {"flag": "maybe"}},
               ['"flag"', "bool", '"maybe"'])
    rid = weirtest.trigger("api-flags", {"params": {
        "flag": True, "n": 7, "regions": ["us"], "opts": {}}})
    r = finished(rid)
    check(r is not None and r["params"]["flag"] is True and
          r["params"]["n"] == 7 and r["params"]["regions"] == ["us"],
          "typed API params: %s" % (r and r["params"]))


def trigger_cli(*args):
    """`weir trigger api-flags ARGS --wait`: (exit code, the finished run,
    stdout+stderr)."""
    code, out, err = cli("trigger", "api-flags", *args, "--wait")
    rid = int(out.split()[0]) if out.split() and out.split()[0].isdigit() \
        else None
    return code, (run(rid) if rid else None), out + err


def test_cli_param_types():
    """-p takes the declared type: false is false, true is true."""
    code, r, out = trigger_cli("-p", "flag=false")
    check(code == 0 and r and r["params"]["flag"] is False and
          task_states(r)["when_flag"] == "skipped" and
          task_states(r)["when_true"] == "skipped",
          "-p flag=false: %d %s %s" % (code, r and task_states(r), out))
    code, r, out = trigger_cli("-p", "flag=true")
    check(code == 0 and r and r["params"]["flag"] is True and
          task_states(r)["when_flag"] == "success" and
          task_states(r)["when_true"] == "success",
          "-p flag=true: %d %s %s" % (code, r and task_states(r), out))
    code, r, out = trigger_cli("-p", "n=7", "-p", "ratio=0.75", "-p",
                               "who=7", "-p", 'regions=["us", "eu"]', "-p",
                               'opts={"a": 2}')
    p = r["params"] if r else {}
    check(code == 0 and p.get("n") == 7 and p.get("ratio") == 0.75 and
          p.get("who") == "7" and p.get("regions") == ["us", "eu"] and
          p.get("opts") == {"a": 2} and
          task_states(r)["when_big"] == "success",
          "typed -p values: %d %s %s" % (code, p, out))
    code, r, out = trigger_cli("--env", "dev", "-p", "n=6")
    check(code == 0 and r and r["params"]["n"] == 6 and
          r["environment"] == "dev", "-p in env dev: %d %s" % (code, out))
    for arg, words in [("flag=maybe", ['"flag"', "bool", '"maybe"']),
                       ("n=abc", ['"n"', "number", '"abc"']),
                       ("regions=not-a-list", ['"regions"', "list"]),
                       ("opts=[1]", ['"opts"', "map"]),
                       ("flagg=true", ['"flagg"', 'did you mean "flag"'])]:
        code, out, err = cli("trigger", "api-flags", "-p", arg)
        check(code == 1 and all(w in err for w in words),
              "-p %s: %d %s %s" % (arg, code, out, err))
    # retry -p: the same typing
    rid = weirtest.trigger("api-flags", {"params": {"flag": False}})
    finished(rid)
    code, out, err = cli("retry", str(rid), "--from", "when_flag", "-p",
                         "flag=true", "-p", "n=9")
    r = finished(rid)
    check(code == 0 and r and r["params"]["flag"] is True and
          r["params"]["n"] == 9 and
          task_states(r)["when_flag"] == "success",
          "retry -p: %d %s %s %s" % (code, out, err, r and r["params"]))
    code, out, err = cli("retry", str(rid), "--from", "when_flag", "-p",
                         "flag=nope")
    check(code == 1 and '"flag"' in err and "bool" in err,
          "retry -p flag=nope: %d %s" % (code, err))


def test_wait_and_exit_codes():
    """trigger --wait exits 0/1/2; run and logs exit 1 on failure."""
    code, out, err = cli("trigger", "api-ok", "--wait")
    check(code == 0 and "api-ok success" in out, "wait ok: %d %s %s" %
          (code, out, err))
    code, out, err = cli("trigger", "api-fail", "--wait")
    check(code == 1 and "api-fail failed" in out and "boom" in out,
          "wait fail: %d %s %s" % (code, out, err))
    rid = int(out.split()[0])
    code, out, err = cli("run", str(rid))
    check(code == 1 and "exit 3" in out and "QUEUE" in out and
          "default" in out and "priority" in out,
          "weir run of a failed run: %d %s" % (code, out))
    code, out, err = cli("logs", str(rid), "boom")
    check(code == 1, "weir logs of a failed attempt: %d %s" % (code, err))
    env = dict(os.environ, WEIR_SERVER=weirtest.BASE,
               WEIR_TOKEN=weirtest.ADMIN)
    p = subprocess.Popen([CLI, "trigger", "api-slow", "--wait"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    try:
        def created():
            code, b = req("GET", "/api/v1/runs?dag=api-slow", READ)
            return b["runs"][0]["id"] if code == 200 and b["runs"] else None
        # canceled whether its step started yet or not (on a loaded
        # machine it may still be queued): --wait must end either way
        slow = wait_for(created, 30)
        check(slow, "api-slow was never created")
        if slow:
            post("/api/v1/runs/%d/cancel" % slow, None)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    check(p.returncode == 2 and "canceled" in out,
          "wait canceled: %d %s %s" % (p.returncode, out, err))
    code, out, err = cli("run", str(slow))
    check(code == 2, "weir run of a canceled run: %d" % code)


def test_listings():
    """runs filters and pages; workers lists; unknown DAG is an error."""
    code, out, err = cli("runs", "api-flags", "--env", "dev", "--json")
    b = json.loads(out) if code == 0 else {}
    check(code == 0 and b["runs"] and
          all(r["environment"] == "dev" for r in b["runs"]),
          "runs --env dev: %d %s %s" % (code, out[:300], err))
    code, out, err = cli("runs", "--trigger", "cron", "--json")
    check(code == 0 and json.loads(out)["runs"] == [],
          "runs --trigger cron: %d %s" % (code, out[:300]))
    code, out, err = cli("runs", "--trigger", "crn")
    check(code == 1 and 'did you mean "cron"' in err,
          "runs --trigger crn: %d %s" % (code, err))
    code, out, err = cli("runs", "--since", "1h", "--trigger", "manual",
                         "--limit", "2", "--json")
    b = json.loads(out) if code == 0 else {}
    check(code == 0 and len(b["runs"]) == 2 and b["next_cursor"],
          "runs --since 1h --limit 2: %d %s" % (code, out[:300]))
    if code == 0:
        code, out2, err = cli("runs", "--limit", "2", "--cursor",
                              str(b["next_cursor"]), "--json")
        ids = [r["id"] for r in json.loads(out2)["runs"]] if code == 0 else []
        check(ids and max(ids) < b["next_cursor"],
              "runs --cursor: %d %s" % (code, out2[:300]))
    code, out, err = cli("runs", "--since", "2000-01-01T00:00:00Z",
                         "--limit", "1")
    check(code == 0 and "PRIO" in out and "ENV" in out and
          "(more: --cursor" in out, "runs table: %d %s" % (code, out))
    code, out, err = cli("runs", "--since", "yesterday")
    check(code == 1 and "since" in err, "runs --since bad: %d %s" %
          (code, err))
    code, out, err = cli("runs", "api-nosuch")
    check(code == 1 and "api-nosuch" in err, "runs of an unknown DAG: %d %s %s"
          % (code, out, err))
    code, out, err = cli("workers")
    check(code == 0 and "api-worker" in out and "online" in out,
          "weir workers: %d %s %s" % (code, out, err))
    code, out, err = cli("workers", "--json")
    check(code == 0 and any(w["name"] == "api-worker"
                            for w in json.loads(out)["workers"]),
          "weir workers --json: %d %s" % (code, out))
    code, out, err = cli("--help")
    check(code == 0 and "submit|delete" in out and "workers" in out,
          "weir --help: %s" % out)


def gov_version(dag, env=None):
    """Runs dag (in env) to success: the artifact version it recorded."""
    rid = weirtest.trigger(dag, {"environment": env} if env else {})
    r = finished(rid)
    check(r is not None and r["state"] == "success",
          "%s run: %s" % (dag, r and task_states(r)))
    return "v%d" % rid


def test_registry_governance():
    """promote_from, no self-approval, and a rollback with a reason."""
    code, b = post("/api/v1/tokens", {"role": "admin", "name": "rev"})
    check(code == 201, "second admin token: %d %s" % (code, b))
    rev = b.get("token")
    base = "/api/v1/artifacts/gov-model/versions/"
    dev = gov_version("api-gov", "dev")
    stg = gov_version("api-gov", "staging")
    stg2 = gov_version("api-gov", "staging")
    code, b = post(base + dev + "/promote", {"to": "prod"})
    check(code == 409 and 'environment "dev"' in message(b) and
          "promote_from" in message(b),
          "a dev version straight to prod: %d %s" % (code, b))
    code, b = post(base + dev + "/promote", {"to": "staging"})
    check(code == 200, "dev version to staging (not restricted): %d %s" %
          (code, b))
    code, b = post(base + stg + "/promote", {"to": "prod"})
    check(code == 202, "staging version asks for prod: %d %s" % (code, b))
    code, b = post(base + stg + "/approve", {})
    check(code == 403 and "cannot approve it too" in message(b) and
          "self_approve" in message(b),
          "who asked approves: %d %s" % (code, b))
    code, b = post(base + stg + "/approve", {}, rev)
    check(code == 200 and b.get("stage") == "prod" and
          b.get("decided_by") == "rev", "another approves: %d %s" % (code, b))
    post(base + stg2 + "/promote", {"to": "prod"})
    code, b = post(base + stg2 + "/approve", {}, rev)
    check(code == 200 and b.get("archived") == stg,
          "second prod archives the first: %d %s" % (code, b))
    # the rollback: one command, with a reason
    code, out, err = cli("artifact", "promote", "gov-model", stg, "--to",
                         "prod")
    check(code == 1 and "needs a reason" in err,
          "rollback without a reason: %d %s %s" % (code, out, err))
    code, out, err = cli("artifact", "promote", "gov-model", stg, "--to",
                         "prod", "--reason", "v2 drifts")
    check(code == 0 and "awaits approval" in out,
          "rollback asked: %d %s %s" % (code, out, err))
    code, b = post(base + stg + "/approve", {}, rev)
    check(code == 200 and b.get("rollback") is True and
          b.get("stage") == "prod" and b.get("from") == "archived" and
          b.get("archived") == stg2, "rollback approved: %d %s" % (code, b))
    code, a = req("GET", "/api/v1/artifacts/gov-model", READ)
    vs = {v["version"]: v for v in a.get("versions", [])}
    last = vs.get(stg, {}).get("promotions", [{}])[-1]
    check(a.get("prod") == stg and last.get("rollback") is True and
          last.get("reason") == "v2 drifts" and last.get("by") == "ops" and
          last.get("decided_by") == "rev",
          "rollback recorded: %s" % a)
    code, out, err = cli("artifacts", "gov-model")
    check(code == 0 and "rollback archived -> prod" in out and
          "because: v2 drifts" in out,
          "weir artifacts shows the rollback: %s" % out)
    # only a version that was in prod comes back
    post(base + dev + "/promote", {"to": "archived"})
    code, b = post(base + dev + "/promote", {"to": "prod", "comment": "x"})
    check(code == 409 and "never in prod" in message(b),
          "an archived version never in prod: %d %s" % (code, b))
    # self_approve: the DAG lets who asked approve
    own = gov_version("api-gov-self")
    path = "/api/v1/artifacts/self-model/versions/" + own
    check(post(path + "/promote", {"to": "prod"})[0] == 202, "self asks")
    code, b = post(path + "/approve", {})
    check(code == 200 and b.get("stage") == "prod",
          "self_approve lets who asked approve: %d %s" % (code, b))


def test_approval_shown():
    """A run waiting for a person says so in weir runs and weir run."""
    rid = weirtest.trigger("api-gov", {"environment": "prod"})

    def waiting():
        return task_states(run(rid)).get("gate") == "awaiting_approval"
    check(wait_for(waiting, 30), "the gate never waited: %s" %
          task_states(run(rid)))
    code, out, err = cli("runs", "api-gov", "--env", "prod")
    check(code == 0 and "[awaiting approval]" in out,
          "weir runs shows the approval: %d %s" % (code, out))
    code, out, err = cli("run", str(rid))
    check(code == 0 and "awaiting approval" in out,
          "weir run shows the approval: %d %s" % (code, out))
    code, b = req("GET", "/api/v1/runs?dag=api-gov&env=prod", READ)
    check(code == 200 and b["runs"][0]["awaiting_approval"] is True,
          "the runs listing says awaiting_approval: %s" % b)
    code, out, err = cli("triggers", "api-nosuch")
    check(code == 1 and "api-nosuch" in err,
          "triggers of an unknown DAG: %d %s %s" % (code, out, err))


def test_nul_escapes():
    """One policy for a JSON \\u0000 escape (docs/api.md): text cannot hold
    NUL, so it is refused with its place, on every route but the log lines
    (which keep whatever a step printed, as U+FFFD)."""
    body = {"name": "api-nul\u0000x"}
    col = json.dumps(body).index("\\u0000") + 1
    code, b = post("/api/v1/events", body)
    msg = message(b)
    check(code == 400 and "\\u0000" in msg and
          "line 1, column %d" % col in msg,
          "an event name with \\u0000: want 400 naming the place, got %d %s"
          % (code, b))
    code, b = post("/api/v1/dags/api-ok/runs",
                   {"params": {"who": "a\u0000b"}})
    check(code == 400 and "\\u0000" in message(b),
          "a param with \\u0000: want 400, got %d %s" % (code, b))
    # an escaped backslash before u0000 is text, not an escape
    code, b = post("/api/v1/events", {"name": "api-nul\\u0000x"})
    check(code == 202, "a name holding a backslash and u0000: %d %s" %
          (code, b))
    src = "dag: api-nul\nsteps:\n  - id: a\n    run: \"echo \u0000\"\n"
    code, b = post("/api/v1/dags", {"source": src})
    msg = message(b)
    check(code == 400 and "\\u0000" in msg and "line 1, column" in msg,
          "a submitted DAG with \\u0000: want 400 naming the place, got "
          "%d %s" % (code, b))
    # A document without `dag:` is refused from the one parse.
    code, b = post("/api/v1/dags",
                   {"source": "steps:\n  - id: a\n    run: \"true\"\n"})
    check(code == 400 and "dag:" in message(b) and
          b["error"]["details"][0]["line"] == 1,
          "a submitted DAG without dag: %d %s" % (code, b))


def token_scans():
    """Index and table scans of api_tokens so far, as the server's
    connections reported them (PostgreSQL flushes a connection's counters
    at most 10 s after it goes idle)."""
    q = ("SELECT coalesce(idx_scan, 0) + coalesce(seq_scan, 0) FROM "
         "pg_stat_user_tables WHERE relname = 'api_tokens'")
    out = subprocess.run(os.environ["WEIR_PSQL"].split() + ["-tAc", q],
                         capture_output=True, text=True, timeout=30)
    check(out.returncode == 0, "psql: %s" % out.stderr)
    return int(out.stdout.strip() or "0")


def scans_of(path, calls):
    """Scans of api_tokens made while calling GET path calls times."""
    time.sleep(12)  # earlier calls reported
    before = token_scans()
    for _ in range(calls):
        code, b = req("GET", path, READ)
        check(code == 200, "GET %s: %d %s" % (path, code, b))
    time.sleep(12)  # these calls reported
    return token_scans() - before


def test_caller_looked_up_once():
    """A request looks its token up once: /session answers role and name
    from that one lookup (it asked three times before), so it scans the
    tokens table no more than a route that only checks its token."""
    calls = 100
    plain = scans_of("/api/v1/runs?limit=1", calls)
    session = scans_of("/api/v1/session", calls)
    print("token lookups: %d calls scanned api_tokens %d times for "
          "/session, %d for /runs" % (calls, session, plain))
    check(calls <= plain and session < plain * 3 // 2,
          "%d /session calls scanned api_tokens %d times, %d /runs calls "
          "%d times (want one lookup a call)" % (calls, session, calls, plain))


run_tests("integration.api", [
    test_unknown_keys, test_wrong_types, test_api_param_types,
    test_cli_param_types, test_wait_and_exit_codes, test_listings,
    test_registry_governance, test_approval_shown, test_nul_escapes,
    test_caller_looked_up_once,
])
