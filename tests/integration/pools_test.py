# SPDX-License-Identifier: Apache-2.0
"""Pools against the real binaries: weir-server, weir-worker and weir.

Started by run_pools.sh, which provides a private PostgreSQL and the DAGs
of tests/integration/pools_dags (none names a pool: the pooled DAGs are
submitted over the API, or written to the folder, once their pools
exist). The server, worker and HTTP helpers are those of faults_test.py.
Each scenario uses pools and queues of its own. Exits 1 when a check
failed.
"""
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import faults_test as ft
import weirtest
from faults_test import Worker, check, req, task, trigger, wait_run
from weirtest import wait_for

CLI = os.environ["WEIR_CLI"]


def stamp(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


def cli(*args):
    """(exit status, stdout, stderr) of `weir ARGS` with the admin token."""
    env = dict(os.environ, WEIR_SERVER=ft.SERVER.url(),
               WEIR_TOKEN=ft.TOKENS["admin"])
    p = subprocess.run([CLI] + list(args), env=env, capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def submit(source, expect=(200, 201)):
    code, b = req("POST", "/api/v1/dags", {"source": source})
    check(code in expect, "submit: HTTP %s %s" % (code, b))
    return code, b


def set_pool(name, slots):
    code, b = req("PUT", "/api/v1/pools/%s" % name, {"slots": slots})
    check(code in (200, 201), "set pool %s: HTTP %s %s" % (name, code, b))


def pools():
    code, b = req("GET", "/api/v1/pools")
    return {p["name"]: p for p in b["pools"]} if code == 200 else {}


def dag_source(dag, queue, steps, priority=None, pool=None):
    """A DAG of independent steps: (id, run, extra keys) each."""
    lines = ["dag: %s" % dag]
    if priority:
        lines.append("priority: %s" % priority)
    lines += ["defaults:", "  queue: %s" % queue]
    if pool:
        lines.append("  pool: %s" % pool)
    lines.append("steps:")
    for sid, run, extra in steps:
        lines.append("  - id: %s" % sid)
        lines.append("    run: %s" % run)
        for k, v in extra.items():
            lines.append("    %s: %s" % (k, v))
    return "\n".join(lines) + "\n"


def attempts(runs):
    """(start, end, slots, step, run id) of every finished attempt."""
    out = []
    for r in runs:
        for t in r["tasks"]:
            for a in t["attempts"]:
                if a["started_at"] and a["finished_at"]:
                    out.append((stamp(a["started_at"]),
                                stamp(a["finished_at"]),
                                t.get("pool_slots") or 1, t["step"], r["id"]))
    return out


def most_slots(runs):
    """The most slots held at one instant by the attempts of runs."""
    edges = []
    for s, e, n, _, _ in attempts(runs):
        edges += [(s, n), (e, -n)]
    most = now = 0
    for _, d in sorted(edges, key=lambda x: (x[0], x[1])):  # ends first
        now += d
        most = max(most, now)
    return most


class Sampler:
    """GET /api/v1/pools every 50 ms in a thread: the most slots used and
    tasks waiting seen for one pool."""

    def __init__(self, pool):
        self.pool, self.used, self.waiting, self.stop_ = pool, 0, 0, False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop_:
            p = pools().get(self.pool)
            if p:
                self.used = max(self.used, p["used"])
                self.waiting = max(self.waiting, p["waiting"])
            time.sleep(0.05)

    def stop(self):
        self.stop_ = True
        self.t.join(5)


# ---- scenarios ----

def s1_api_cli():
    """weir pool set/list/delete, the API's bodies and roles."""
    ft.TOKENS["read"] = weirtest.create_token(ft.SERVER_BIN, ft.DB, "read")
    ft.TOKENS["worker"] = ft.read(os.path.join(ft.TMP, "worker.token")).strip()
    rc, out, err = cli("pool", "set", "gpu", "2")
    check(rc == 0 and "created" in out, "pool set gpu 2: %s %r %r" %
          (rc, out, err))
    rc, out, err = cli("pool", "set", "gpu", "3")
    check(rc == 0 and "updated" in out, "pool set gpu 3: %s %r" % (rc, out))
    rc, out, err = cli("pool", "list")
    row = [l.split() for l in out.splitlines() if l.startswith("gpu ")]
    check(rc == 0 and row == [["gpu", "3", "0", "0"]],
          "pool list: %s %r" % (rc, out))
    rc, out, err = cli("pool", "lst")
    check(rc == 2 and 'did you mean "list"' in err, "pool lst: %s %r" %
          (rc, err))
    rc, out, err = cli("pool", "set", "gpu", "many")
    check(rc == 2 and "SLOTS" in err, "pool set gpu many: %s %r" % (rc, err))
    rc, out, err = cli("pool", "delete", "nosuch")
    check(rc == 1 and 'no pool "nosuch"' in err, "delete nosuch: %s %r" %
          (rc, err))
    code, b = req("PUT", "/api/v1/pools/gpu", {"slot": 2})
    check(code == 400 and 'did you mean "slots"' in str(b),
          "PUT {slot}: %s %s" % (code, b))
    for body in ({"slots": 1.5}, {"slots": -1}, {"slots": "2"}, {}):
        code, b = req("PUT", "/api/v1/pools/gpu", body)
        check(code == 400, "PUT %s: %s %s" % (body, code, b))
    code, b = req("PUT", "/api/v1/pools/Bad_Name", {"slots": 1})
    check(code == 400 and "not valid" in str(b), "PUT Bad_Name: %s %s" %
          (code, b))
    code, b = req("DELETE", "/api/v1/pools/gpu?force=maybe")
    check(code == 400, "DELETE force=maybe: %s %s" % (code, b))
    code, b = req("GET", "/api/v1/pools", token="read")
    check(code == 200 and [p["slots"] for p in b["pools"]
                           if p["name"] == "gpu"] == [3],
          "GET pools as read: %s %s" % (code, b))
    code, b = req("PUT", "/api/v1/pools/gpu", {"slots": 9}, token="read")
    check(code == 403, "PUT as read: %s %s" % (code, b))
    code, b = req("DELETE", "/api/v1/pools/gpu", token="read")
    check(code == 403, "DELETE as read: %s %s" % (code, b))
    code, b = req("GET", "/api/v1/pools", token="worker")
    check(code == 403, "GET pools as worker: %s %s" % (code, b))
    return "set, list, delete, bodies and roles"


def s2_load_errors():
    """A step naming an unknown pool fails to load, with a suggestion."""
    src = dag_source("typo", "typo", [("a", "true", {"pool": "gpuu"})])
    code, b = submit(src, expect=(400,))
    d = b["error"]["details"][0] if code == 400 else {}
    check(d.get("line") == 7 and d.get("column") == 11 and
          'no pool "gpuu"' in d.get("message", "") and
          'did you mean "gpu"' in d.get("message", ""),
          "unknown pool over the API: %s" % b)
    src = dag_source("big", "big", [("a", "true", {"pool": "gpu",
                                                   "pool_slots": 4})])
    code, b = submit(src, expect=(400,))
    check(code == 400 and "api:8:17:" in b["error"]["message"] and
          'takes 4 slots of pool "gpu", which has 3' in b["error"]["message"],
          "pool_slots over the pool's size: %s" % b)
    path = os.path.join(ft.TMP, "dags", "badpool.yaml")
    with open(path, "w") as f:
        f.write(dag_source("badpool", "bp", [("a", "true",
                                              {"pool": "gpux"})]))

    def dag_error():
        code, b = req("GET", "/api/v1/dags")
        for d in b.get("dags", []) if code == 200 else []:
            if d["id"] == "badpool" and d.get("last_error"):
                return d["last_error"]
        return None
    e = wait_for(dag_error, 15) or ""
    check("badpool.yaml:7:11:" in e and 'no pool "gpux"' in e and
          'did you mean "gpu"' in e, "folder load error: %r" % e)
    # Once the pool exists, the file loads (on its next change).
    set_pool("gpux", 1)
    with open(path, "a") as f:
        f.write("# touched\n")
    loaded = wait_for(lambda: (lambda c, b: c == 200 and not b.get(
        "last_error"))(*req("GET", "/api/v1/dags/badpool")), 15)
    check(loaded, "badpool did not load once its pool existed")
    return "API 400 at 7:11 and 8:17, folder error %r" % e[:60]


def s3_shared():
    """A pool of 2 shared by two DAGs with many tasks: never 3 at once."""
    set_pool("shared", 2)
    for dag in ("sa", "sb"):
        submit(dag_source(dag, "pq", [("t%d" % i, "sleep 0.3", {})
                                      for i in range(5)], pool="shared"))
    ws = [Worker("p1", "pq", 4), Worker("p2", "pq", 4)]
    smp = Sampler("shared")
    ra, rb = trigger("sa"), trigger("sb")
    runs = [wait_run(ra, 40), wait_run(rb, 40)]
    smp.stop()
    for w in ws:
        w.stop()
    check(all(r["state"] == "success" for r in runs),
          "shared runs ended %s" % [r["state"] for r in runs])
    m = most_slots(runs)
    check(m == 2, "pool shared (2): %d tasks at once" % m)
    check(smp.used <= 2, "the API said %d slots used of 2" % smp.used)
    check(smp.waiting > 0, "the API never showed a task waiting")
    workers = {a["worker"] for r in runs for t in r["tasks"]
               for a in t["attempts"]}
    return "at most %d at once (API: used <= %d, waiting up to %d), " \
        "workers %s" % (m, smp.used, smp.waiting, sorted(workers))


def s4_priority():
    """Priority, then age, across DAGs; a pool of 0 holds everything, and
    giving it a slot starts the most urgent task at once."""
    set_pool("one", 0)
    submit(dag_source("plo", "pr", [("l%d" % i, "sleep 0.2", {})
                                    for i in range(3)], "low", "one"))
    submit(dag_source("phi", "pr", [("h%d" % i, "sleep 0.2", {})
                                    for i in range(3)], "high", "one"))
    w = Worker("pr1", "pr", 4)
    lo = trigger("plo")
    hi = trigger("phi")
    time.sleep(0.5)
    held = [t["state"] for r in (lo, hi) for t in ft.get_run(r)["tasks"]]
    check(held == ["queued"] * 6, "pool of 0 let tasks start: %s" % held)
    t0 = time.time()
    set_pool("one", 1)
    runs = [wait_run(lo, 30), wait_run(hi, 30)]
    w.stop()
    order = [step for _, _, _, step, _ in sorted(attempts(runs))]
    check(order == ["h0", "h1", "h2", "l0", "l1", "l2"],
          "start order %s" % order)
    first = min(s for s, _, _, _, _ in attempts(runs))
    check(first - t0 < 3, "first start %.2f s after the resize" %
          (first - t0))
    check(most_slots(runs) == 1, "pool one (1): %d at once" %
          most_slots(runs))
    return "order %s, first start %.2f s after 0 -> 1" % (
        " ".join(order), first - t0)


def s5_pool_slots():
    """pool_slots 2 in a pool of 3: slots, not tasks, are counted."""
    set_pool("three", 3)
    steps = [("s1", "sleep 0.4", {}), ("b1", "sleep 0.4", {"pool_slots": 2}),
             ("b2", "sleep 0.4", {"pool_slots": 2}), ("s2", "sleep 0.4", {}),
             ("b3", "sleep 0.4", {"pool_slots": 2}), ("s3", "sleep 0.4", {})]
    submit(dag_source("ps", "ps", steps, pool="three"))
    w = Worker("ps1", "ps", 6)
    r = wait_run(trigger("ps"), 30)
    w.stop()
    check(r["state"] == "success", "ps ended %s" % r["state"])
    slots = {t["step"]: t.get("pool_slots") for t in r["tasks"]}
    check(slots == {"s1": 1, "b1": 2, "b2": 2, "s2": 1, "b3": 2, "s3": 1},
          "tasks' pool_slots %s" % slots)
    check(task(r, "b1").get("pool") == "three", "task pool %r" %
          task(r, "b1").get("pool"))
    m = most_slots([r])
    check(m == 3, "pool three (3): %d slots at once" % m)
    return "at most %d slots at once" % m


def s6_resize():
    """Growing a pool from 1 to 3 starts two more tasks at once."""
    set_pool("grow", 1)
    submit(dag_source("pg", "pg", [("g%d" % i, "sleep 1.2", {})
                                   for i in range(4)], pool="grow"))
    w = Worker("pg1", "pg", 4)
    rid = trigger("pg")
    ok = wait_for(lambda: (lambda p: p and p["used"] == 1 and
                           p["waiting"] == 3)(pools().get("grow")), 10)
    check(ok, "pool grow never had 1 running, 3 waiting: %s" %
          pools().get("grow"))
    t0 = time.monotonic()
    set_pool("grow", 3)
    grown = wait_for(lambda: pools()["grow"]["used"] == 3, 5, 0.02)
    dt = time.monotonic() - t0
    check(grown and dt < 1.5, "3 used %.2f s after 1 -> 3 (%s)" %
          (dt, pools().get("grow")))
    r = wait_run(rid, 30)
    w.stop()
    check(r["state"] == "success", "pg ended %s" % r["state"])
    check(most_slots([r]) == 3, "pool grow: %d at once" % most_slots([r]))
    return "3 running %.2f s after 1 -> 3" % dt


def s7_lease_loss():
    """A worker SIGKILLed mid-step: the lost lease frees its slot."""
    set_pool("lease", 1)
    src = dag_source("pl", "pl", [
        ("a", '"if [ $WEIR_TRY = 1 ]; then sleep 60; fi"',
         {"retries": 1, "retry_delay": "100ms"}),
        ("b", "true", {})], pool="lease")
    submit(src)
    w1 = Worker("pl1", "pl", 2)
    rid = trigger("pl")
    ok = wait_for(lambda: (lambda p: p and p["used"] == 1 and
                           p["waiting"] == 1)(pools().get("lease")), 10)
    check(ok, "pool lease never had a running, b waiting: %s" %
          pools().get("lease"))
    w1.proc.kill()
    w1.proc.wait()
    w2 = Worker("pl2", "pl", 2)
    r = wait_run(rid, 30)
    w2.stop()
    check(r["state"] == "success", "pl ended %s" % r["state"])
    check(ft.tries(task(r, "a"))[0] == (1, "lost"), "a's tries %s" %
          ft.tries(task(r, "a")))
    check(most_slots([r]) == 1, "pool lease (1): %d at once, attempts %s" %
          (most_slots([r]), attempts([r])))
    used = pools()["lease"]["used"]
    check(used == 0, "pool lease: %d used after the run" % used)
    return "a lost, then b and a's retry one at a time"


def s8_cancel():
    """Canceling a run frees its running task's slot at once."""
    set_pool("cx", 1)
    submit(dag_source("pc1", "pc", [("a", "sleep 60", {})], pool="cx"))
    submit(dag_source("pc2", "pc", [("a", "true", {})], pool="cx"))
    w = Worker("pc1", "pc", 2)
    r1 = trigger("pc1")
    check(wait_for(lambda: pools()["cx"]["used"] == 1, 10), "pc1 never ran")
    r2 = trigger("pc2")
    time.sleep(0.5)
    check(ft.get_run(r2)["tasks"][0]["state"] == "queued",
          "pc2 did not wait for the pool")
    t0 = time.time()
    code, b = req("POST", "/api/v1/runs/%d/cancel" % r1, {})
    check(code == 200, "cancel: %s %s" % (code, b))
    r = wait_run(r2, 20)
    w.stop()
    check(r["state"] == "success", "pc2 ended %s" % r["state"])
    s = attempts([r])[0][0] if attempts([r]) else 0
    check(s >= t0 - 0.5 and s - t0 < 3, "pc2 started %.2f s after the "
          "cancel" % (s - t0))
    return "pc2 started %.2f s after the cancel" % (s - t0)


def s9_concurrent_triggers():
    """16 concurrent triggers, 2 workers of 4 slots, a pool of 3: never
    more than 3 at once (the pooled variant of the concurrency test)."""
    set_pool("burst", 3)
    submit(dag_source("pb", "pb", [("a", "sleep 0.3", {})], pool="burst"))
    ws = [Worker("pb1", "pb", 4), Worker("pb2", "pb", 4)]
    ids, lock = [], threading.Lock()

    def fire():
        rid = trigger("pb")
        with lock:
            ids.append(rid)
    ts = [threading.Thread(target=fire) for _ in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    runs = [wait_run(rid, 40) for rid in ids if rid]
    for w in ws:
        w.stop()
    check(len(runs) == 16 and all(r["state"] == "success" for r in runs),
          "burst runs %s" % [r["state"] for r in runs])
    m = most_slots(runs)
    check(m == 3, "pool burst (3): %d at once over 16 runs" % m)
    return "16 runs, at most %d at once" % m


def s10_delete_metrics():
    """/metrics gauges; deleting a pool DAGs use needs force."""
    code, text, _ = weirtest.call("GET", "/metrics", ft.TOKENS["admin"],
                                  base=ft.SERVER.url())
    text = text.decode()
    for line in ('weir_pool_slots{pool="shared"} 2',
                 'weir_pool_used{pool="shared"} 0',
                 'weir_pool_waiting{pool="shared"} 0',
                 "# TYPE weir_pool_used gauge"):
        check(line in text, "/metrics lacks %r" % line)
    code, b = req("DELETE", "/api/v1/pools/shared")
    check(code == 409 and "sa, sb" in str(b), "DELETE shared: %s %s" %
          (code, b))
    rc, out, err = cli("pool", "delete", "shared")
    check(rc == 1 and "sa, sb" in err, "pool delete shared: %s %r" %
          (rc, err))
    rc, out, err = cli("pool", "delete", "shared", "--force")
    check(rc == 0, "pool delete --force: %s %r %r" % (rc, out, err))
    check("shared" not in pools(), "shared still listed")
    return "gauges present, 409 naming sa, sb, then forced"


def s11_shrunk():
    """A task needing more slots than its pool has now fails clearly."""
    set_pool("shrink", 2)
    submit(dag_source("pk", "pk", [("a", "true", {"pool_slots": 2})],
                      pool="shrink"))
    set_pool("shrink", 1)
    w = Worker("pk1", "pk", 2)
    r = wait_run(trigger("pk"), 20)
    w.stop()
    a = task(r, "a")
    err = a["attempts"][0]["error"] if a["attempts"] else ""
    check(r["state"] == "failed" and
          'takes 2 slots of pool "shrink", which has 1' in (err or ""),
          "pk ended %s, error %r" % (r["state"], err))
    return "failed: %s" % err


def s12_capped():
    """A capped DAG's pooled steps obey both its cap and the pool."""
    set_pool("both", 3)
    src = dag_source("pcap", "pcap", [("c%d" % i, "sleep 0.3", {})
                                      for i in range(3)], pool="both")
    submit(src.replace("defaults:", "concurrency: 1\ndefaults:"))
    submit(dag_source("pfree", "pcap", [("f%d" % i, "sleep 0.3", {})
                                        for i in range(3)], pool="both"))
    ws = [Worker("cap1", "pcap", 4), Worker("cap2", "pcap", 4)]
    rc, rf = trigger("pcap"), trigger("pfree")
    runs = [wait_run(rc, 30), wait_run(rf, 30)]
    for w in ws:
        w.stop()
    check(all(r["state"] == "success" for r in runs),
          "pcap/pfree ended %s" % [r["state"] for r in runs])
    mc, m = most_slots(runs[:1]), most_slots(runs)
    check(mc == 1, "capped DAG (cap 1): %d at once" % mc)
    check(m == 3, "pool both (3): %d at once" % m)
    # After every scenario (lost leases, cancels, failures), nothing is
    # left counted as used.
    left = {n: p["used"] for n, p in pools().items() if p["used"]}
    check(not left, "slots still used after all runs ended: %s" % left)
    return "capped DAG at most %d, pool at most %d at once" % (mc, m)


def s13_mapped():
    """The cells a map: makes at run time take slots of the step's pool
    like the cells of a written matrix."""
    set_pool("mapped", 1)
    submit("""dag: pmap
defaults:
  queue: pmap
steps:
  - id: list
    run: echo 'files=["a", "b", "c", "d"]' >> "$WEIR_OUTPUTS"
  - id: each
    needs: list
    pool: mapped
    map: ${{ steps.list.outputs.files }}
    run: sleep 0.3
""")
    ws = [Worker("map1", "pmap", 4), Worker("map2", "pmap", 4)]
    r = wait_run(trigger("pmap"), 30)
    for w in ws:
        w.stop()
    cells = [t for t in r["tasks"] if t["step"] == "each"]
    check(r["state"] == "success" and len(cells) == 4,
          "pmap ended %s with %d cells" % (r["state"], len(cells)))
    check(all(t.get("pool") == "mapped" for t in cells),
          "mapped cells' pools: %s" % [t.get("pool") for t in cells])
    m = most_slots([r])
    check(m == 1, "pool mapped (1): %d at once" % m)
    return "4 mapped cells, at most %d at once" % m


def main():
    return ft.run_scenarios((
        ("1 API and CLI", s1_api_cli),
        ("2 unknown pool: load errors", s2_load_errors),
        ("3 pool of 2 shared by 2 DAGs", s3_shared),
        ("4 priority across DAGs, 0 -> 1", s4_priority),
        ("5 pool_slots 2 in a pool of 3", s5_pool_slots),
        ("6 resize 1 -> 3 at once", s6_resize),
        ("7 lost lease frees the slot", s7_lease_loss),
        ("8 cancel frees the slot", s8_cancel),
        ("9 16 concurrent triggers", s9_concurrent_triggers),
        ("A delete and /metrics", s10_delete_metrics),
        ("B pool shrunk under a task", s11_shrunk),
        ("C a capped DAG in a pool", s12_capped),
        ("D mapped cells in a pool", s13_mapped)))


if __name__ == "__main__":
    sys.exit(main())
