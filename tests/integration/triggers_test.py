# SPDX-License-Identifier: Apache-2.0
"""Event and webhook triggers against a running weir-server (urllib only).

Usage: triggers_test.py before|after. "before" posts events, checks every
firing, and leaves trg-acc with 6,000 rows pending; run_triggers.sh then
restarts the server and "after" checks that the sum survived and completes
it. Environment: WEIR_URL, WEIR_ADMIN, WEIR_WORKER, WEIR_READ,
WEIR_TEST_HOOK_SECRET. Exits 1 when a check failed.
"""
import hashlib
import hmac
import json
import os
import sys
import time

from weirtest import ADMIN, READ, WORKER, check, failures, req

SECRET = os.environ["WEIR_TEST_HOOK_SECRET"]


def event(name, payload=None, eid=None, expect=202):
    body = {"name": name, "payload": payload or {}}
    if eid is not None:
        body["id"] = eid
    code, b = req("POST", "/api/v1/events", ADMIN, body)
    check(code == expect, "event %s: HTTP %d %s" % (name, code, b))
    return b


def runs(dag):
    code, b = req("GET", "/api/v1/runs?dag=%s&limit=100" % dag, READ)
    check(code == 200, "runs of %s: %d %s" % (dag, code, b))
    return sorted(b.get("runs", []), key=lambda r: r["id"]) if code == 200 \
        else []


def triggers(dag):
    code, b = req("GET", "/api/v1/dags/%s/triggers" % dag, READ)
    check(code == 200, "triggers of %s: %d %s" % (dag, code, b))
    return b["triggers"] if code == 200 else []


def events_of(run_id):
    """The events whose "runs" list names run_id (newest first)."""
    code, b = req("GET", "/api/v1/events?limit=500", READ)
    check(code == 200, "events: %d %s" % (code, b))
    return [e for e in b.get("events", []) if run_id in e["runs"]]


def before():
    # accumulate: 4,000 + (other bucket, ignored) + 6,000 -> fires at 10,000
    event("data.arrived", {"bucket": "ml-data", "rows": 4000}, "a1")
    event("data.arrived", {"bucket": "other", "rows": 50000}, "a2")
    check(runs("trg-acc") == [], "no run below the threshold")
    t = triggers("trg-acc")[0]
    check(t["accumulated"] == 4000 and t["threshold"] == 10000 and
          t["state"] == "armed", "pending sum 4000: %s" % t)
    b = event("data.arrived", {"bucket": "ml-data", "rows": 6480}, "a3")
    check(b["runs"] == 1 and not b["duplicate"], "a3 fired: %s" % b)
    r = runs("trg-acc")
    check(len(r) == 1, "one run at the threshold: %s" % r)
    if r:
        check(r[0]["reason"] == "10,480 rows from 2 events >= 10,000",
              "reason %r" % r[0]["reason"])
        check(r[0]["trigger"]["kind"] == "event" and
              r[0]["trigger"]["payload"]["payload"]["rows"] == 6480,
              "trigger %s" % r[0]["trigger"])
        fed = sorted(e["ext_id"] for e in events_of(r[0]["id"]))
        check(fed == ["a1", "a3"], "the run consumed a1 and a3: %s" % fed)
        code, b = req("GET", "/api/v1/events?run=%d" % r[0]["id"], READ)
        check(code == 200 and sorted(e["ext_id"] for e in b["events"]) ==
              ["a1", "a3"], "events?run=: %d %s" % (code, b))
        code, b = req("GET", "/api/v1/runs/%d" % r[0]["id"], READ)
        check(code == 200 and b.get("events_consumed") == 2 and
              [e["ext_id"] for e in b.get("events", [])] == ["a1", "a3"] and
              b["events"][0]["name"] == "data.arrived",
              "the run's record lists what it consumed: %d %s" % (code, b))
    # the duplicate id is acknowledged and changes nothing
    b = event("data.arrived", {"bucket": "ml-data", "rows": 6480}, "a3")
    check(b["duplicate"] and b["runs"] == 0, "duplicate a3: %s" % b)
    check(len(runs("trg-acc")) == 1, "a duplicate made no run")
    t = triggers("trg-acc")[0]
    check(t["accumulated"] == 0 and t["last_fired_at"], "reset: %s" % t)
    # a worker sees event.* rendered into the command
    code, w = req("POST", "/api/v1/workers/register", WORKER,
                  {"name": "trg-w", "queues": ["trg-acc"], "slots": 1})
    code, b = req("POST", "/api/v1/workers/%d/lease" % w["worker_id"], WORKER,
                  {"max": 1, "wait_ms": 2000})
    got = b.get("attempts", []) if code == 200 else []
    check(len(got) == 1 and got[0]["command"] == "echo rows=6480 id=a3",
          "rendered command %s" % got)
    # 6,000 rows pending across the restart
    event("data.arrived", {"bucket": "ml-data", "rows": 6000}, "a4")

    # batch, with a duplicate inside it
    code, b = req("POST", "/api/v1/events", ADMIN, {"events": [
        {"name": "batch.x", "id": "b1"}, {"name": "batch.x", "id": "b1"},
        {"name": "batch.x"}]})
    check(code == 202 and [e["duplicate"] for e in b["events"]] ==
          [False, True, False], "batch: %d %s" % (code, b))
    # bad input: 400 naming the problem
    code, b = req("POST", "/api/v1/events", ADMIN, {"nmae": "x"})
    check(code == 400 and "did you mean \"name\"" in b["error"]["message"],
          "unknown key: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/events", ADMIN, {"events": [{}]})
    check(code == 400 and "event 0" in b["error"]["message"],
          "batch item: %d %s" % (code, b))

    # cooldown: the second firing within the hour is suppressed
    event("deploy.done")
    event("deploy.done")
    check(len(runs("trg-cool")) == 1, "cooldown: one run")
    t = triggers("trg-cool")[0]
    check(t["state"] == "cooldown" and t["cooldown_until"] and
          t["suppressed"] and
          t["suppressed"][0]["reason"].startswith("cooldown until"),
          "cooldown state %s" % t)
    code, b = req("POST", "/api/v1/dags/trg-cool/runs", ADMIN, {})
    check(code == 201, "manual runs are exempt from cooldown: %d" % code)

    # daily cap of 2
    for _ in range(3):
        event("cap.go")
    check(len(runs("trg-cap")) == 2, "daily cap: two runs")
    t = triggers("trg-cap")[0]
    check(t["suppressed"] and "daily cap" in t["suppressed"][0]["reason"],
          "cap suppressed %s" % t)

    # max_active_runs 1: 1 running, then 3 firings fold into one queued run
    for i in range(4):
        event("co.go", {"i": i})
    r = runs("trg-co")
    check([x["state"] for x in r] == ["running", "queued"],
          "coalesced: %s" % [(x["id"], x["state"]) for x in r])
    if len(r) == 2:
        n = len(events_of(r[1]["id"]))
        check(n == 3, "the queued run consumed 3 events, not %d" % n)
        t = triggers("trg-co")[0]
        check("folded into queued run %d" % r[1]["id"] in
              t["suppressed"][0]["reason"], "fold recorded %s" % t)

    # priority: a critical run starts before an older queued normal one
    code, b = req("POST", "/api/v1/dags/trg-prio/runs", ADMIN, {})
    first = b.get("run_id")
    event("prio.normal")
    event("prio.urgent")
    r = runs("trg-prio")
    check([x["state"] for x in r] == ["running", "queued", "queued"],
          "prio queue %s" % r)
    req("POST", "/api/v1/runs/%d/cancel" % first, ADMIN, {})
    r = runs("trg-prio")
    if check(len(r) == 3, "three prio runs"):
        check(r[2]["state"] == "running" and r[1]["state"] == "queued" and
              r[2]["priority"] == 3 and r[2]["params"]["mode"] == "emergency",
              "the urgent run went first: %s" % r)

    # webhooks: signature checked, when: filters on the body
    def hook(body, sig=None, expect=202):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        if sig is None:
            sig = "sha256=" + hmac.new(SECRET.encode(), raw,
                                       hashlib.sha256).hexdigest()
        h = {"X-Hub-Signature-256": sig} if sig else {}
        code, b = req("POST", "/api/v1/hooks/trg-hook/push", None, data=raw,
                      headers=h)
        check(code == expect, "hook %s: %d %s" % (body, code, b))
        return b
    hook({"ref": "refs/heads/main"}, sig="", expect=401)
    hook({"ref": "refs/heads/main"}, sig="sha256=" + "0" * 64, expect=401)
    hook({"ref": "refs/heads/main"}, sig="sha1=abc", expect=401)
    code, b = req("GET", "/api/v1/events?limit=500", READ)
    check(not any(e["name"] == "push" for e in b["events"]),
          "a bad signature records nothing")
    b = hook({"ref": "refs/heads/feature"})
    check(b["runs"] == 0, "a push to a branch starts nothing")
    b = hook({"ref": "refs/heads/main"})
    check(b["runs"] == 1, "a push to main starts a run")
    r = runs("trg-hook")
    check(len(r) == 1 and r[0]["trigger"]["kind"] == "webhook",
          "webhook run %s" % r)
    # a signed body is read as every request body is: a \u0000 escape
    # (which would cut "main\u0000x" to "main" in a when: filter) and bytes
    # after the JSON value are refused with their place, and start nothing
    b = hook(b'{"ref": "refs/heads/main\\u0000x"}', expect=400)
    check("\\u0000 escape at line 1, column 25" in json.dumps(b),
          "hook with \\u0000: %s" % b)
    b = hook(b'{"ref": "refs/heads/main"} {"more": 1}', expect=400)
    check("line 1, column 28" in json.dumps(b), "hook with trailing bytes: %s" % b)
    check(len(runs("trg-hook")) == 1, "refused hooks started no run")
    # an unknown trigger is refused like a bad signature (no probing)
    code, b = req("POST", "/api/v1/hooks/trg-hook/nope", None, data=b"{}")
    check(code == 401, "unknown hook: %d" % code)


def metric(value, model="fraud", expect=202, **kw):
    body = {"name": "model.accuracy", "value": value,
            "labels": {"model": model}}
    body.update(kw)
    code, b = req("POST", "/api/v1/metrics", ADMIN, body)
    check(code == expect, "metric %s: HTTP %d %s" % (value, code, b))
    return b


def metrics():
    for _ in range(4):
        metric(0.5, model="other")  # labels do not match
    metric(0.80)
    metric(0.80)
    metric(0.90)  # recovered: the streak starts again
    metric(0.80)
    metric(0.80)
    check(runs("trg-metric") == [], "for: 3 not reached yet")
    b = metric(0.83)
    check(b["runs"] == 1, "third sample in a row fires: %s" % b)
    r = runs("trg-metric")
    if check(len(r) == 1, "one metric run %s" % r):
        check(r[0]["reason"] ==
              "metric model.accuracy=0.83 < 0.85 for 3 samples" and
              r[0]["priority"] == 2 and r[0]["params"]["mode"] == "metric",
              "metric run %s" % r[0])
    for _ in range(5):
        metric(0.80)  # stuck below the line: no retraining on every sample
    check(len(runs("trg-metric")) == 1, "hysteresis: still one run")
    check(triggers("trg-metric")[0]["state"] == "waiting_rearm",
          "waiting to re-arm: %s" % triggers("trg-metric"))
    metric(0.86)
    check(triggers("trg-metric")[0]["state"] == "armed", "re-armed")
    code, b = req("POST", "/api/v1/metrics", ADMIN, {"metrics": [
        {"name": "model.accuracy", "value": 0.7, "labels": {"model": "fraud"},
         "time": "2026-01-01T00:00:0%dZ" % i} for i in range(3)]})
    check(code == 202 and b["runs"] == 1, "batch crossing: %d %s" % (code, b))
    check(len(runs("trg-metric")) == 2, "a second crossing, a second run")
    code, b = req("GET", "/api/v1/metrics/model.accuracy?limit=3", READ)
    check(code == 200 and len(b["samples"]) == 3 and
          b["triggers"] == [{"dag": "trg-metric",
                             "trigger": "metric:model.accuracy",
                             "below": 0.85, "for": 3}],
          "metric series %d %s" % (code, b))
    code, b = req("GET", "/api/v1/metrics/model.accuracy?since="
                  "2026-01-01T00:00:01Z", READ)
    check(code == 200 and [s["time"] for s in b["samples"][:2]] ==
          ["2026-01-01T00:00:01.000Z", "2026-01-01T00:00:02.000Z"],
          "since and limit: %s" % b)
    metric("high", expect=400)
    metric(0.9, expect=400, time="yesterday")
    code, b = req("GET", "/api/v1/metrics/x?since=nope", READ)
    check(code == 400 and "since" in b["error"]["message"], "bad since")


INCOMING = os.environ["WEIR_TEST_INCOMING"]


def wait_runs(dag, n, limit_s=15):
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        r = runs(dag)
        if len(r) >= n:
            return r
        time.sleep(0.1)
    return runs(dag)


def files_before():
    path = os.path.join(INCOMING, "a.csv")
    with open(os.path.join(INCOMING, "ignored.txt"), "w") as f:
        f.write("not matched by the glob\n")
    # written in pieces for 1.5 s: still changing, so no run yet
    for i in range(6):
        if i:
            time.sleep(0.3)
        with open(path, "a") as f:
            f.write("row %d\n" % i)
        last = time.time()
    r = wait_runs("trg-file", 1)
    if check(len(r) == 1, "one run for a.csv: %s" % r):
        p = r[0]["trigger"]["payload"]
        check(p["path"] == path and p["size"] == 36,
              "file payload %s" % p)
        # the debounce: created a full stable period after the last write
        check(iso_s(r[0]["created_at"]) >= last + 0.95,
              "run created %s, last write %s" % (r[0]["created_at"], last))
    time.sleep(2.5)  # stable period and several polls: nothing more
    check(len(runs("trg-file")) == 1, "an unchanged file fires once")


def files_deep():
    day = os.path.join(os.environ["WEIR_TEST_DEEP"], "2026-11-26")
    os.makedirs(day)
    with open(os.path.join(day, "in.csv"), "w") as f:
        f.write("a,b\n")
    r = wait_runs("trg-deep", 1)
    check(len(r) == 1 and r[0]["trigger"]["payload"]["path"] ==
          os.path.join(day, "in.csv"), "a file under a wildcard folder: %s" % r)


def files_after():
    time.sleep(2.5)  # after the restart: a.csv was seen, no new run
    check(len(runs("trg-file")) == 1, "a seen file is not fired again")
    with open(os.path.join(INCOMING, "a.csv"), "a") as f:
        f.write("one more\n")
    check(len(wait_runs("trg-file", 2)) == 2, "a changed file fires again")


def iso_s(text):
    import datetime
    return datetime.datetime.fromisoformat(
        text.replace("Z", "+00:00")).timestamp()


def notify():
    code, b = req("POST", "/api/v1/dags/trg-notify/runs", ADMIN, {})
    run_id = b.get("run_id")
    code, w = req("POST", "/api/v1/workers/register", WORKER,
                  {"name": "trg-n", "queues": ["trg-notify"], "slots": 1})
    code, b = req("POST", "/api/v1/workers/%d/lease" % w["worker_id"], WORKER,
                  {"max": 1, "wait_ms": 2000})
    a = b["attempts"][0]
    req("POST", "/api/v1/attempts/%d/complete" % a["attempt_id"], WORKER,
        {"lease_id": a["lease_id"], "exit_code": 3})
    path = os.environ["WEIR_TEST_HOOK_LOG"]
    end = time.monotonic() + 20
    lines = []
    while time.monotonic() < end and len(lines) < 2:
        time.sleep(0.2)
        if os.path.exists(path):
            lines = open(path).read().splitlines()
    if check(len(lines) == 2, "a 500 then a retry: %s" % lines):
        b = json.loads(lines[1])
        check(b["run_id"] == run_id and b["dag"] == "trg-notify" and
              b["state"] == "failed" and b["failed_steps"] == ["fails"] and
              b["link"].endswith("/runs/%d" % run_id) and
              b["reason"], "notification body %s" % b)
        check(lines[0] == lines[1], "the retry sends the same body")


def after():
    t = triggers("trg-acc")[0]
    check(t["accumulated"] == 6000, "the sum survived the restart: %s" % t)
    # a batch completes it: its events are matched one by one, in order
    code, b = req("POST", "/api/v1/events", ADMIN, {"events": [
        {"name": "data.arrived", "id": "a5",
         "payload": {"bucket": "ml-data", "rows": 3000}},
        {"name": "data.arrived", "id": "a6",
         "payload": {"bucket": "ml-data", "rows": 1000}},
        {"name": "data.arrived", "id": "a7",
         "payload": {"bucket": "ml-data", "rows": 500}}]})
    check(code == 202 and [e["runs"] for e in b["events"]] == [0, 1, 0],
          "the batch's second event completes the sum: %s" % b)
    r = runs("trg-acc")
    check(len(r) == 2 and r[1]["reason"] ==
          "10,000 rows from 3 events >= 10,000", "second run %s" % r[-1:])
    t = triggers("trg-acc")[0]
    check(t["accumulated"] == 500, "a7 starts the next sum: %s" % t)


{"before": lambda: (before(), metrics(), files_before(), files_deep(),
                    notify()),
 "after": lambda: (after(), files_after())}[sys.argv[1]]()
sys.exit(1 if failures else 0)
