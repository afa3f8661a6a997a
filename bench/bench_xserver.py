#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Two servers against one: what the wake-ups across servers cost.

Called by bench/xserver.sh:
    bench_xserver.py --top SOURCE_DIR --build BUILD_DIR --tmp TEMP_DIR

Uses the machinery of bench.py (a private PostgreSQL cluster with durable
commits, processes with their logs stamped by bench_stamp, its main() and
its time budget). Starts two weir-server processes, A and B, on the one
database, and prints one JSON object per line on stdout: {"workload",
"metric", "value", "unit"}; a breakdown goes to stderr.

How each figure is taken:

event_to_start  One DAG with an event trigger and one step `true`, one
                worker of 4 slots on A, long-polling. EVENT_RUNS events
                (after 5 warm-up ones), one after the other: the client's
                clock just before it sends POST /api/v1/events -> the
                worker's event=attempt_started line for the new run
                (stamped by bench_stamp), as in bench_triggers.py. The
                events go to A (one_server: what one server gives) and,
                alternating with those, to B (two_servers: B's commit
                reaches A's long-poll through LISTEN/NOTIFY). p50, p99.
chain40         40 sequential steps running `true`, two workers of 4
                slots. one_server: both workers on A, runs triggered on A;
                two_servers: one worker on A, one on B, runs triggered on
                B, so a step freed by a completion on one server is often
                claimed through the other. CHAIN_RUNS runs each after a
                warm-up; wall = run.finished_at - run.created_at (server
                clocks, as bench.py); the median.
fanout1000      One step, a matrix of 1000 cells running `true`, two
                workers of 4 slots. one_server: both on A, the run
                triggered on A; two_servers: one on A, one on B, triggered
                on B: the throughput with workers spread across two
                servers. FANOUT_RUNS runs each; steps/s = 1000 / wall; the
                median.
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from bench import BenchError, emit, log, pct  # noqa: E402

EVENT_RUNS = 60
CHAIN_RUNS = 10
FANOUT_RUNS = 2
WAIT_S = 30  # longest wait for one run's first step


class XServerBench(bench.Bench):
    def write_dags(self):
        d = os.path.join(self.tmp, "dags")
        os.makedirs(d, exist_ok=True)
        os.makedirs(os.path.join(self.tmp, "scratch"), exist_ok=True)
        lines = ["dag: chain40", "steps:"]
        for i in range(1, bench.CHAIN_STEPS + 1):
            lines.append("  - id: s%02d" % i)
            if i > 1:
                lines.append("    needs: [s%02d]" % (i - 1))
            lines.append('    run: "true"')
            lines.append("    queue: chain")
        with open(os.path.join(d, "chain40.yaml"), "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(d, "fan.yaml"), "w") as f:
            f.write("dag: fan\nsteps:\n  - id: cell\n    matrix:\n"
                    "      i: [%s]\n    run: \"true\"\n    queue: fan\n"
                    % ", ".join(str(i) for i in range(bench.FANOUT_CELLS)))
        with open(os.path.join(d, "ev.yaml"), "w") as f:
            f.write("dag: ev\ntriggers:\n  - event: bench.go\n"
                    "steps:\n  - id: first\n    queue: evq\n"
                    "    run: \"true\"\n")

    def start(self):
        self.start_pg()
        self.write_dags()
        dags = os.path.join(self.tmp, "dags")
        self.a = self.start_server("a", dags, self.pg_url,
                                   os.path.join(self.tmp, "admin.token"))
        self.b = self.start_server("b", dags, self.pg_url)
        self.server = self.a
        self.token = open(os.path.join(self.tmp,
                                       "admin.token")).read().strip()
        self.worker_token_file()
        for s in (self.a, self.b):
            ids = {d["id"] for d in self.api("GET", "/api/v1/dags",
                                             server=s)["dags"]}
            if not {"chain40", "ev", "fan"} <= ids:
                raise BenchError("DAGs not loaded on %s: %s"
                                 % (s.name, sorted(ids)))

    def worker_on(self, server, name, slots, queue):
        """bench.Bench.start_worker on server instead of self.server."""
        keep = self.server
        self.server = server
        try:
            return self.start_worker(name, slots, queue)
        finally:
            self.server = keep

    # ---- event_to_start ----

    def one_event(self, i, server, seen):
        t0 = time.time_ns()
        self.api("POST", "/api/v1/events", {"name": "bench.go",
                                            "id": "go-%d" % i}, server=server)
        end = time.monotonic() + WAIT_S
        while True:
            self.poll_workers()
            for a in self.attempts.values():
                if "start" in a and a["run"] not in seen:
                    seen.add(a["run"])
                    return (a["start"] - t0) / 1e6
            if time.monotonic() > end:
                raise BenchError("event %d (to %s) started no step"
                                 % (i, server.name))
            time.sleep(0.0005)

    def event_to_start(self):
        w = self.worker_on(self.a, "ev", 4, "evq")
        self.wait_registered([w])
        seen = set()
        lat = {"a": [], "b": []}
        for i in range(2 * EVENT_RUNS + 10):  # 5 warm-up events each
            self.check_time()
            s = self.a if i % 2 == 0 else self.b
            ms = self.one_event(i, s, seen)
            if i >= 10:
                lat[s.name].append(ms)
            time.sleep(0.01)  # the completion is in, the long-poll waits
        for name, key in (("a", "one_server"), ("b", "two_servers")):
            v = lat[name]
            log("event_to_start, events to %s, worker on A: %d events, ms "
                "p50 %.2f p99 %.2f min %.2f max %.2f"
                % (name.upper(), len(v), pct(v, 50), pct(v, 99), min(v),
                   max(v)))
            emit("event_to_start", "p50_" + key, round(pct(v, 50), 2), "ms")
            emit("event_to_start", "p99_" + key, round(pct(v, 99), 2), "ms")
        self.stop_worker(w)

    # ---- chain40 ----

    def chain(self, key, homes, trigger_on):
        ws = [self.worker_on(s, "chain-%s-%d" % (key, i), 4, "chain")
              for i, s in enumerate(homes)]
        self.wait_registered(ws)
        walls = []
        for i in range(CHAIN_RUNS + 1):
            run_id = str(self.api("POST", "/api/v1/dags/chain40/runs", {},
                                  server=trigger_on)["run_id"])
            run = self.wait_run(run_id, bench.CHAIN_STEPS)
            if i > 0:  # the first is a warm-up
                walls.append(self.run_wall(run))
        by_worker = {}
        for a in self.attempts.values():
            if a.get("step", "").startswith("s") and "worker" in a:
                by_worker[a["worker"]] = by_worker.get(a["worker"], 0) + 1
        log("chain40 %s: %d runs, wall ms min %.1f median %.1f max %.1f; "
            "attempts per worker %s"
            % (key, len(walls), min(walls) * 1e3,
               statistics.median(walls) * 1e3, max(walls) * 1e3,
               {w.name: by_worker.get(w.name, 0) for w in ws}))
        emit("chain40", "wall_" + key, round(statistics.median(walls), 4),
             "s")
        for w in ws:
            self.stop_worker(w)

    # ---- fanout1000 ----

    def fanout(self, key, homes, trigger_on):
        ws = [self.worker_on(s, "fan-%s-%d" % (key, i), 4, "fan")
              for i, s in enumerate(homes)]
        self.wait_registered(ws)
        rates = []
        for _ in range(FANOUT_RUNS):
            self.check_time()
            run_id = str(self.api("POST", "/api/v1/dags/fan/runs", {},
                                  server=trigger_on)["run_id"])
            run = self.wait_run(run_id, bench.FANOUT_CELLS)
            n = sum(1 for t in run["tasks"] if t["state"] == "success")
            if n != bench.FANOUT_CELLS:
                raise BenchError("fan run %s: %d tasks succeeded"
                                 % (run_id, n))
            rates.append(bench.FANOUT_CELLS / self.run_wall(run))
        log("fanout1000 %s: steps/s %s"
            % (key, ", ".join("%.1f" % r for r in rates)))
        emit("fanout1000", "steps_per_s_" + key,
             round(statistics.median(rates), 1), "1/s")
        for w in ws:
            self.stop_worker(w)

    def run(self):
        self.start()
        self.event_to_start()
        self.chain("one_server", [self.a, self.a], self.a)
        self.chain("two_servers", [self.a, self.b], self.b)
        self.fanout("one_server", [self.a, self.a], self.a)
        self.fanout("two_servers", [self.a, self.b], self.b)


if __name__ == "__main__":
    os.makedirs(sys.argv[sys.argv.index("--tmp") + 1], exist_ok=True)
    bench.Bench = XServerBench  # bench.main() runs this class
    sys.exit(bench.main())
