# SPDX-License-Identifier: Apache-2.0
"""Step caching (docs/dag-format.md, "Step caching") against weir-server,
a real weir-worker and PostgreSQL: a second run with the same inputs
reuses the success instead of running the step (its side-effect file
shows one run), the run detail names where it came from, the outputs are
the same and downstream reads them; a changed param, an explicit key, a
short ttl, a failed attempt, no_cache (API and CLI), a changed DAG and
matrix cells; keys are stored hashed.

run_cache.sh starts everything and passes WEIR_URL, WEIR_ADMIN, WEIR_READ,
WEIR_PSQL (psql on the test's database), WEIR_DAGS (the DAGs folder; the
steps write their side effects to its out/) and WEIR_CLI (weir).
"""
import os
import re
import subprocess
import threading
import time

from weirtest import (ADMIN, BASE, READ, TERMINAL, Worker, check, req, run,
                      run_tests, trigger, wait_for)

DAGS = os.environ["WEIR_DAGS"]
OUT = os.path.join(DAGS, "out")


def sql(q):
    """The rows of q, unaligned, as a list of lines."""
    r = subprocess.run(os.environ["WEIR_PSQL"].split() + ["-tAc", q],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "psql %s: %s" % (q, r.stderr))
    return [l for l in r.stdout.splitlines() if l]


def count(name):
    """How many times a step wrote its line to out/NAME.count."""
    try:
        with open(os.path.join(OUT, name + ".count")) as f:
            return len(f.read().splitlines())
    except FileNotFoundError:
        return 0


def finish(run_id, timeout=30):
    """Waits for run_id to end; its detail."""
    b = wait_for(lambda: (lambda r: r if r.get("state") in TERMINAL
                          else None)(run(run_id)), timeout)
    check(b is not None, "run %s did not end within %d s" % (run_id, timeout))
    return b or run(run_id)


def go(dag, body=None, want="success"):
    """Triggers dag, waits for the end, checks its state; the detail."""
    rid = trigger(dag, body)
    b = finish(rid) if rid else {}
    check(b.get("state") == want,
          "%s run %s: %s, wanted %s: %s" % (dag, rid, b.get("state"), want, b))
    return b


def task(detail, step, cell=0):
    """The task of step (cell) in a run detail."""
    for t in detail.get("tasks", []):
        if t["step"] == step and t["cell"] == cell:
            return t
    check(False, "no task %s/%d in run %s" % (step, cell, detail.get("id")))
    return {"attempts": [{}], "outputs": None}


def test_default_key_reuses():
    first = go("cache-basic")
    check(count("basic-train") == 1, "train ran %d times" % count("basic-train"))
    t1 = task(first, "train")
    check(t1.get("cached_from") is None and
          t1["attempts"][-1].get("cached_from") is None,
          "a first run is not cached: %s" % t1)
    second = go("cache-basic")
    check(count("basic-train") == 1,
          "train ran again on the same inputs: %d" % count("basic-train"))
    t2 = task(second, "train")
    a1, a2 = t1["attempts"][-1], t2["attempts"][-1]
    want = {"run_id": first["id"], "attempt_id": a1["id"], "task": t1["id"],
            "step": "train", "try": 1}
    check(t2.get("cached_from") == want,
          "task cached_from %s, wanted %s" % (t2.get("cached_from"), want))
    check(a2.get("cached_from") == want and a2["state"] == "success" and
          a2.get("worker") is None and a2.get("exit_code") is None,
          "attempt of the cached task: %s" % a2)
    check(t2["outputs"] == t1["outputs"] and
          t2["outputs"].get("model", "").startswith("m-v1-") and
          t2["outputs"].get("data.version") == "d-v1",
          "outputs carried over: %s vs %s" % (t2["outputs"], t1["outputs"]))
    with open(os.path.join(OUT, "basic-use.log")) as f:
        used = f.read().splitlines()
    check(used == [t1["outputs"]["model"]] * 2,
          "downstream read the cached outputs: %s" % used)
    # the artifact is linked, not recorded again for the cached attempt
    code, arts = req("GET", "/api/v1/artifacts?name=cache-model", READ)
    vers = arts if isinstance(arts, list) else arts.get("artifacts", arts)
    check(code == 200 and len(vers) == 1 and
          vers[0]["attempt_id"] == a1["id"],
          "one artifact version, of the attempt that ran: %s" % arts)
    # lineage: the data version reaches the run that reused it
    check(task(second, "use")["state"] == "success", "use ran")

    changed = go("cache-basic", {"params": {"dataset": "v2"}})
    check(count("basic-train") == 2,
          "a changed param runs the step: %d" % count("basic-train"))
    check(task(changed, "train").get("cached_from") is None,
          "changed param not cached")


def test_keys_hashed():
    rows = sql("SELECT key_hash, dag_id, step_id FROM step_cache")
    check(len(rows) >= 2, "cache entries: %s" % rows)
    for r in rows:
        check(re.fullmatch(r"[0-9a-f]{64}\|cache-[a-z]+\|[a-z]+", r) is not None,
              "entry %s is a hash" % r)
    keys = sql("SELECT cache_key FROM attempts WHERE cache_key IS NOT NULL")
    check(keys and all(re.fullmatch("[0-9a-f]{64}", k) for k in keys),
          "attempts keep only the hash: %s" % keys)
    # the rendered key text of cache-key (run by the next test) is nowhere
    go("cache-key")
    raw = sql("SELECT count(*) FROM step_cache s WHERE s::text LIKE"
              " '%ver-7f3a91%' OR s::text LIKE '%release%'") + \
        sql("SELECT count(*) FROM attempts a WHERE a.cache_key LIKE"
            " '%ver-7f3a91%'")
    check(raw == ["0", "0"], "raw key text stored: %s" % raw)
    # the same key text on two steps: two entries, each step ran
    check(count("key-build") == 1 and count("key-build2") == 1,
          "two steps never share an entry: %d %d" %
          (count("key-build"), count("key-build2")))
    check(sql("SELECT count(DISTINCT key_hash) FROM step_cache WHERE"
              " dag_id = 'cache-key'") == ["2"], "one entry per step")


def test_explicit_key():
    before = count("key-build")
    first = go("cache-key", {"params": {"noise": "1"}})
    check(count("key-build") == before,
          "noise is not in the key: the step was reused (%d runs)" %
          count("key-build"))
    check(task(first, "build").get("cached_from") is not None and
          task(first, "build2").get("cached_from", {}).get("step") ==
          "build2" and count("key-build2") == 1,
          "cached_from with an explicit key, each step its own: %s" %
          task(first, "build2").get("cached_from"))
    ttl = sql("SELECT extract(epoch FROM expires_at - created_at)::int FROM"
              " step_cache WHERE dag_id = 'cache-key'")
    check(ttl == ["3600", "3600"], "ttl 1h: %s" % ttl)
    go("cache-key", {"params": {"version": "ver-2"}})
    check(count("key-build") == before + 1,
          "a changed key runs the step: %d" % count("key-build"))


def test_ttl_expiry():
    go("cache-ttl")
    check(count("ttl-quick") == 1 and count("ttl-never") == 1,
          "first run ran both")
    ttl = sql("SELECT extract(epoch FROM expires_at - created_at)::int FROM"
              " step_cache WHERE dag_id = 'cache-ttl'")
    check(ttl == ["2"], "ttl 2s from defaults: %s" % ttl)
    check(sql("SELECT count(*) FROM step_cache WHERE dag_id = 'cache-ttl'"
              " AND step_id = 'never'") == ["0"],
          "cache: false in a step overrides defaults")
    wait_for(lambda: sql("SELECT count(*) FROM step_cache WHERE dag_id ="
                         " 'cache-ttl' AND expires_at <= now()") == ["1"], 10)
    b = go("cache-ttl")
    check(count("ttl-quick") == 2,
          "an expired entry is not reused: %d runs" % count("ttl-quick"))
    check(task(b, "quick").get("cached_from") is None, "expired: not cached")
    check(count("ttl-never") == 2, "cache: false always runs")


def test_failed_never_fills():
    go("cache-fail", want="failed")
    check(count("fail-flaky") == 1, "flaky ran once")
    check(sql("SELECT count(*) FROM step_cache WHERE dag_id = 'cache-fail'")
          == ["0"], "a failed attempt filled the cache")
    go("cache-fail", want="failed")
    check(count("fail-flaky") == 2, "after a failure the step runs again")
    open(os.path.join(OUT, "fail-ok"), "w").close()
    go("cache-fail")
    check(count("fail-flaky") == 3, "then succeeds")
    b = go("cache-fail")
    check(count("fail-flaky") == 3 and
          task(b, "flaky").get("cached_from") is not None,
          "the success is reused")


def test_no_cache():
    before = count("basic-train")
    b = go("cache-basic", {"no_cache": True})
    check(b.get("no_cache") is True, "run shows no_cache: %s" % b.get("no_cache"))
    check(count("basic-train") == before + 1,
          "no_cache runs the step: %d" % count("basic-train"))
    t = task(b, "train")
    check(t.get("cached_from") is None, "no_cache: not cached")
    refilled = sql("SELECT run_id FROM step_cache WHERE dag_id ="
                   " 'cache-basic' AND step_id = 'train' AND run_id = %d" %
                   b["id"])
    check(refilled == [str(b["id"])], "no_cache refills the cache: %s" %
          refilled)
    after = go("cache-basic")
    check(task(after, "train").get("cached_from", {}).get("run_id") == b["id"],
          "the next run reuses the no_cache run's success: %s" %
          task(after, "train").get("cached_from"))
    code, body = req("POST", "/api/v1/dags/cache-basic/runs", ADMIN,
                     {"no_cahce": True})
    check(code == 400 and "no_cache" in str(body),
          "unknown body key suggests no_cache: %d %s" % (code, body))
    code, body = req("POST", "/api/v1/dags/cache-basic/runs", ADMIN,
                     {"no_cache": "yes"})
    check(code == 400, "no_cache must be a boolean: %d %s" % (code, body))
    # the CLI
    env = dict(os.environ, WEIR_SERVER=BASE, WEIR_TOKEN=ADMIN)
    r = subprocess.run([os.environ["WEIR_CLI"], "trigger", "cache-basic",
                        "--no-cache", "--wait"], capture_output=True,
                       text=True, timeout=60, env=env)
    check(r.returncode == 0, "weir trigger --no-cache: %d %s %s" %
          (r.returncode, r.stdout, r.stderr))
    check(count("basic-train") == before + 2,
          "weir trigger --no-cache runs the step: %d" % count("basic-train"))
    r = subprocess.run([os.environ["WEIR_CLI"], "trigger", "cache-basic",
                        "--wait"], capture_output=True, text=True, timeout=60,
                       env=env)
    check(r.returncode == 0 and count("basic-train") == before + 2,
          "weir trigger without --no-cache reuses: %d" %
          count("basic-train"))
    rid = int(re.search(r"\d+", r.stdout).group(0)) if re.search(
        r"\d+", r.stdout) else 0
    if rid:
        r = subprocess.run([os.environ["WEIR_CLI"], "run", str(rid)],
                           capture_output=True, text=True, timeout=30, env=env)
        check(re.search(r"cached from run \d+ attempt \d+", r.stdout)
              is not None, "weir run shows the cache: %s" % r.stdout)


def test_dag_change_misses():
    before = count("basic-train")
    go("cache-basic")
    check(count("basic-train") == before, "unchanged DAG reuses")
    old = sql("SELECT current_version_id FROM dags WHERE id = 'cache-basic'")
    path = os.path.join(DAGS, "cache-basic.yaml")
    with open(path, "a") as f:
        f.write("# a new version\n")
    check(wait_for(lambda: sql("SELECT current_version_id FROM dags WHERE"
                               " id = 'cache-basic'") != old, 15),
          "the changed file became a new version")
    b = go("cache-basic")
    check(count("basic-train") == before + 1,
          "a new DAG version misses the default key: %d" %
          count("basic-train"))
    check(task(b, "train").get("cached_from") is None, "new version: ran")


def test_matrix_cells():
    first = go("cache-matrix")
    second = go("cache-matrix")
    check(count("matrix-small") == 1 and count("matrix-large") == 1,
          "each cell ran once: %d %d" % (count("matrix-small"),
                                         count("matrix-large")))
    for cell in (0, 1):
        t1, t2 = task(first, "cell", cell), task(second, "cell", cell)
        cf = t2.get("cached_from") or {}
        check(cf.get("attempt_id") == t1["attempts"][-1]["id"] and
              t2["outputs"] == t1["outputs"] and
              t2["outputs"]["got"].startswith(t1["matrix"]["size"] + "-"),
              "cell %d reused its own cell: %s %s" % (cell, cf, t2["outputs"]))
    check(sql("SELECT count(*) FROM step_cache WHERE dag_id ="
              " 'cache-matrix'") == ["2"], "one entry per cell")



def test_key_not_rendered():
    b = go("cache-badkey", want="failed")
    t = task(b, "b")
    check(t["state"] == "failed" and "cache.key" in (t.get("error") or "")
          and count("badkey-b") == 0,
          "a key that does not render fails the attempt: %s" % t)


def lines(name):
    """The lines a step appended to out/NAME."""
    try:
        with open(os.path.join(OUT, name)) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def days():
    """The logical times cache-time's day step ran with (a run the noon
    schedule might start during the test is left out)."""
    return [l for l in lines("time-day.log") if l.startswith("day=2026-11")]


def backfill_all(dag, frm, to):
    """Backfills dag over frm..to, every slot (reprocess all); waits for
    the end; its runs, oldest first."""
    code, b = req("POST", "/api/v1/dags/%s/backfills" % dag, ADMIN,
                  {"from": frm, "to": to, "reprocess": "all",
                   "max_active": 4})
    check(code == 201, "backfill %s: %d %s" % (dag, code, b))
    bid = b.get("backfill_id") if code == 201 else None
    done = wait_for(lambda: (lambda r: r[1] if r[0] == 200 and
                             r[1].get("state") != "running" else None)(
        req("GET", "/api/v1/backfills/%s" % bid, READ)), 30) if bid else None
    check(done is not None and done.get("state") == "done",
          "backfill %s ended: %s" % (bid, done))
    code, lst = req("GET", "/api/v1/runs?dag=%s&limit=500&trigger=backfill"
                    % dag, READ)
    got = [r for r in lst.get("runs", []) if r.get("backfill_id") == bid]
    return [finish(r["id"]) for r in sorted(got, key=lambda r: r["id"])]


def test_logical_time_in_key():
    """The default key holds the run's logical time and trigger kind: a
    backfill runs every day, not the first only; the same days again
    (same trigger kind) are reused."""
    go("cache-time", {"logical_time": "2026-11-02"})
    go("cache-time", {"logical_time": "2026-11-03"})
    check(days() == ["day=2026-11-02T00:00:00.000Z",
                     "day=2026-11-03T00:00:00.000Z"],
          "two logical times, two runs of the step: %s" % days())
    first = backfill_all("cache-time", "2026-11-02", "2026-11-04")
    check(len(first) == 3 and all(b.get("state") == "success"
                                  for b in first), "3 backfill runs: %s" %
          [(b.get("id"), b.get("state")) for b in first])
    want = ["day=2026-11-0%dT12:00:00.000Z" % d for d in (2, 3, 4)]
    check(sorted(days()[2:]) == want,
          "every day of the backfill ran its step: %s" % days())
    again = backfill_all("cache-time", "2026-11-02", "2026-11-04")
    check(len(days()) == 5,
          "the same days again reuse the entries: %s" % days())
    by_day = {b.get("logical_time"): task(b, "day") for b in first}
    for b in again:
        cf = task(b, "day").get("cached_from") or {}
        src = by_day.get(b.get("logical_time"), {})
        check(cf.get("attempt_id") == (src.get("attempts") or [{}])[-1]
              .get("id"), "run at %s reused its own day: %s (from %s)" %
              (b.get("logical_time"), cf, src.get("id")))
    check(len(again) == 3, "3 runs again: %d" % len(again))


def test_environment_in_explicit_key():
    """An explicit key is kept apart per environment: dev and prod never
    share an entry; prod again reuses its own."""
    envs = lines("time-keyed.log")
    check(envs == ["env=dev"],
          "the explicit key ignores logical times, once in dev: %s" % envs)
    go("cache-time", {"environment": "prod", "logical_time": "2026-11-10"})
    check(lines("time-keyed.log") == ["env=dev", "env=prod"],
          "prod does not reuse dev's entry: %s" % lines("time-keyed.log"))
    b = go("cache-time", {"environment": "prod",
                          "logical_time": "2026-11-11"})
    check(lines("time-keyed.log") == ["env=dev", "env=prod"] and
          task(b, "keyed").get("cached_from") is not None,
          "prod again reuses prod's: %s" % lines("time-keyed.log"))


def test_expired_hit():
    """A cache hit whose finish fails after the claim's commit (here: its
    run is locked by the test, then the waiting statement is canceled)
    keeps a lease no worker holds. When that lease expires, no try is
    counted: the task (retries: 0) is claimed again, not failed, and its
    next claim reuses the entry."""
    w = Worker("cache-parked", ["parked"], slots=1)
    rid = trigger("cache-lost")
    a = w.one("hit")
    if a:
        w.complete(a, 0, {"v": "1"})
    first = finish(rid)
    check(first.get("state") == "success", "first run: %s" % first)
    src = (task(first, "hit").get("attempts") or [{}])[-1].get("id")
    rid = trigger("cache-lost")
    holder = subprocess.Popen(os.environ["WEIR_PSQL"].split() + ["-qtA"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    holder.stdin.write("BEGIN;\nSELECT 1 /* cache-hold */ FROM runs WHERE"
                       " id = %d FOR UPDATE;\n" % rid)
    holder.stdin.flush()
    hold = wait_for(lambda: sql("SELECT pid FROM pg_stat_activity WHERE"
                                " query LIKE '%%/* cache-hold */%%' AND"
                                " state = 'idle in transaction'"), 10)
    check(hold, "the test's lock on run %d" % rid)
    got = {}
    leaser = threading.Thread(target=lambda: got.update(a=w.lease(1, 3000)))
    leaser.start()
    blocked = wait_for(lambda: sql(
        "SELECT pid FROM pg_stat_activity WHERE %s = ANY"
        " (pg_blocking_pids(pid))" % (hold or ["0"])[0]), 10)
    check(blocked, "the cache hit's finish waits for the run's lock")
    for pid in blocked or []:
        sql("SELECT pg_cancel_backend(%s)" % pid)
    holder.communicate("ROLLBACK;\n", timeout=30)
    leaser.join(60)
    check(got.get("a") == [], "a hit is not sent to the worker: %s" % got)
    row = sql("SELECT a.state, a.worker_id IS NULL, a.cached_from_attempt_id"
              " FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE"
              " t.run_id = %d" % rid)
    # running until the reaper expires it (the lease is 3 s long)
    check(row in (["running|t|%s" % src], ["lost|t|%s" % src]),
          "the hit's attempt is left unfinished, no worker: %s" % row)
    t = wait_for(lambda: (lambda x: x if x["state"] != "running" else None)(
        task(run(rid), "hit")), 20)
    check(t is not None and t["state"] in ("up_for_retry", "queued"),
          "the expired hit is not a try: its task is claimable again: %s" % t)
    check(sql("SELECT try_count, max_tries FROM tasks WHERE run_id = %d" %
              rid) == ["1|2"], "one try given back")
    check(w.lease(1, 3000) == [], "the next claim is a hit again")
    b = finish(rid)
    t = task(b, "hit")
    check(b.get("state") == "success" and
          [x["state"] for x in t.get("attempts", [])] == ["lost", "success"]
          and (t.get("cached_from") or {}).get("attempt_id") == src,
          "the run succeeds from the cache: %s" % b)


def test_payload_in_key():
    """Runs of events with different payloads do not share an entry (one
    after the other, so that the second could reuse the first)."""
    def ended(n):
        code, b = req("GET", "/api/v1/runs?dag=cache-event", READ)
        runs = b.get("runs", []) if code == 200 else []
        return runs if len(runs) == n and all(
            r.get("state") in TERMINAL for r in runs) else None
    for n in (1, 2):
        code, b = req("POST", "/api/v1/events", ADMIN,
                      {"name": "cache.payload", "payload": {"n": n}})
        check(code in (200, 201, 202) and b.get("runs") == 1,
              "event %d: %d %s" % (n, code, b))
        runs = wait_for(lambda: ended(n), 30)
        check(runs and all(r["state"] == "success" for r in runs),
              "event run %d: %s" % (n, runs))
    check(count("event-pay") == 2,
          "each payload ran the step: %d" % count("event-pay"))

os.makedirs(OUT, exist_ok=True)
run_tests("cache", [test_default_key_reuses, test_keys_hashed,
                    test_explicit_key, test_ttl_expiry,
                    test_failed_never_fills, test_no_cache,
                    test_dag_change_misses, test_matrix_cells,
                    test_key_not_rendered, test_logical_time_in_key,
                    test_environment_in_explicit_key, test_payload_in_key,
                    test_expired_hit])
