#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Trigger benchmarks of a standalone Weir instance.

Called by bench/run.sh:
    bench_triggers.py --top SOURCE_DIR --build BUILD_DIR --tmp TEMP_DIR

Uses the machinery of bench.py (a private PostgreSQL cluster with durable
commits, weir-server and weir-worker with their logs stamped by
bench_stamp, its main() and its time budget) in TEMP_DIR, and prints one JSON object per line on
stdout: {"workload", "metric", "value", "unit"}. Every process started is
stopped before exit, also on SIGTERM/SIGINT.

How each figure is taken:

cron_lateness  CRON_DAGS DAGs with a "* * * * *" trigger, over
               CRON_BOUNDARIES minute boundaries (so CRON_DAGS *
               CRON_BOUNDARIES slots, every DAG firing at the same second).
               Lateness = the wall clock right after the run's transaction
               committed - the slot, as the server logs it
               (event=cron_fired late_ms=, millisecond resolution), for
               the slots after the other workloads ended. p50 and p99. p50_begin/p99_begin: the slot ->
               the start of the work item that creates the run (the
               loop's timer, its hand-off to the thread pool, and the
               wait for a pool thread when many slots fire at once).
event_to_start One DAG with an event trigger and one step `true`, one
               worker of 4 slots on its queue, long-polling. EVENT_RUNS
               times, one after the other: the client's clock just before
               it sends POST /api/v1/events -> the worker's
               event=attempt_started line for the new run (uv_spawn of the
               step returned), stamped by bench_stamp. Includes the HTTP
               request, the event's transaction (store, match, run and
               task creation, commit), the wake-up of the lease long-poll,
               the claim and the spawn. p50 and p99.
event_ingest   Events no trigger matches, each committed before its reply
               (one INSERT outside a transaction, after the read of the
               DAGs that finds no trigger wants it).
               single_per_s: INGEST_CLIENTS threads, each with its own
               keep-alive connection, post one event per request for
               INGEST_S seconds; events / elapsed. batch_per_s: the same
               with batches of BATCH events per request. The client is
               Python, which itself costs a large part of the CPU on a
               small machine (see the CPU split on stderr).
"""

import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from bench import BenchError, emit, log, pct  # noqa: E402

CRON_DAGS = 20
CRON_BOUNDARIES = 2
EVENT_RUNS = 60
INGEST_CLIENTS = 4
INGEST_S = 4.0
BATCH = 1000
WAIT_S = 30  # longest wait for one run's first step


class TriggerBench(bench.Bench):
    def write_dags(self):
        d = os.path.join(self.tmp, "dags")
        os.makedirs(d, exist_ok=True)
        os.makedirs(os.path.join(self.tmp, "scratch"), exist_ok=True)
        for i in range(CRON_DAGS):
            with open(os.path.join(d, "cron%02d.yaml" % i), "w") as f:
                f.write("dag: cron%02d\nschedule: \"* * * * *\"\n"
                        "steps:\n  - id: s\n    queue: nobody\n"
                        "    run: \"true\"\n" % i)
        with open(os.path.join(d, "ev.yaml"), "w") as f:
            f.write("dag: ev\ntriggers:\n  - event: bench.go\n"
                    "steps:\n  - id: first\n    queue: evq\n"
                    "    run: \"true\"\n")

    def start(self):
        self.start_pg()
        self.write_dags()
        self.server = self.start_server(
            "main", os.path.join(self.tmp, "dags"), self.pg_url,
            os.path.join(self.tmp, "admin.token"))
        self.token = open(os.path.join(self.tmp,
                                       "admin.token")).read().strip()
        self.worker_token()

    def worker_token(self):
        self.worker_token_file()
        dags = {d["id"] for d in self.api("GET", "/api/v1/dags")["dags"]}
        if "ev" not in dags or len(dags) != CRON_DAGS + 1:
            raise BenchError("DAGs not loaded: %s" % sorted(dags))

    # ---- cron_lateness ----

    def cron_lateness(self):
        late, begin = [], []
        self.server.log.new_lines()  # firings under the ingest load: not used
        end = time.monotonic() + 60 * (CRON_BOUNDARIES + 1) + 15
        while len(late) < CRON_DAGS * CRON_BOUNDARIES:
            self.check_time()
            for _, kv, _ in self.server.log.new_lines():
                if kv.get("event") == "cron_fired" and \
                        kv.get("created") == "yes":
                    late.append(int(kv["late_ms"]))
                    begin.append(int(kv["begin_late_ms"]))
            if time.monotonic() > end:
                raise BenchError("only %d cron firings" % len(late))
            time.sleep(0.2)
        log("cron_lateness: %d slots, late_ms min %d max %d"
            % (len(late), min(late), max(late)))
        emit("cron_lateness", "p50", pct(late, 50), "ms")
        emit("cron_lateness", "p99", pct(late, 99), "ms")
        emit("cron_lateness", "p50_begin", pct(begin, 50), "ms")
        emit("cron_lateness", "p99_begin", pct(begin, 99), "ms")

    # ---- event_to_start ----

    def event_to_start(self):
        w = self.start_worker("ev", 4, "evq")
        self.wait_registered([w])
        seen = set()
        lat = []
        for i in range(EVENT_RUNS + 5):  # 5 warm-up events
            self.check_time()
            t0 = time.time_ns()
            self.api("POST", "/api/v1/events",
                     {"name": "bench.go", "id": "go-%d" % i})
            end = time.monotonic() + WAIT_S
            got = None
            while got is None:
                self.poll_workers()
                for a in self.attempts.values():
                    if "start" in a and a["run"] not in seen:
                        got = a
                if got is None:
                    if time.monotonic() > end:
                        raise BenchError("event %d started no step" % i)
                    time.sleep(0.0005)
            seen.add(got["run"])
            if i >= 5:
                lat.append((got["start"] - t0) / 1e6)
        log("event_to_start: %d events, ms min %.2f max %.2f"
            % (len(lat), min(lat), max(lat)))
        emit("event_to_start", "p50", round(pct(lat, 50), 2), "ms")
        emit("event_to_start", "p99", round(pct(lat, 99), 2), "ms")
        self.stop_worker(w)

    # ---- event_ingest ----

    def ingest(self, batch):
        counts = [0] * INGEST_CLIENTS
        errors = []
        stop_at = time.monotonic() + INGEST_S
        hdr = {"Authorization": "Bearer " + self.token,
               "Content-Type": "application/json"}

        def client(k):
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port,
                                              timeout=30)
            n = 0
            try:
                while time.monotonic() < stop_at:
                    if batch:
                        body = {"events": [{"name": "bench.ingest",
                                            "id": "b%d-%d-%d" % (k, n, j)}
                                           for j in range(BATCH)]}
                    else:
                        body = {"name": "bench.ingest",
                                "id": "s%d-%d" % (k, n)}
                    conn.request("POST", "/api/v1/events",
                                 json.dumps(body), hdr)
                    r = conn.getresponse()
                    r.read()
                    if r.status != 202:
                        raise BenchError("ingest: HTTP %d" % r.status)
                    n += 1
                    counts[k] += BATCH if batch else 1
            except Exception as e:  # reported below
                errors.append(e)
            finally:
                conn.close()

        t0 = time.monotonic()
        ts = [threading.Thread(target=client, args=(k,))
              for k in range(INGEST_CLIENTS)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(INGEST_S + 60)
        elapsed = time.monotonic() - t0
        if errors:
            raise BenchError("ingest: %s" % errors[0])
        return sum(counts) / elapsed, sum(counts)

    def event_ingest(self):
        before = self.snapshot()
        single, n1 = self.ingest(False)
        mid = self.snapshot()
        batched, n2 = self.ingest(True)
        after = self.snapshot()
        log("event_ingest: single %.0f/s, batched %.0f/s (a step here is "
            "one event)" % (single, batched))
        self.cost_summary("ingest single", before, mid, max(n1, 1))
        self.cost_summary("ingest batch", mid, after, max(n2, 1))
        emit("event_ingest", "single_per_s", round(single), "events/s")
        emit("event_ingest", "batch_per_s", round(batched), "events/s")

    def run(self):
        self.start()
        self.event_to_start()
        self.event_ingest()
        self.cron_lateness()


if __name__ == "__main__":
    os.makedirs(sys.argv[sys.argv.index("--tmp") + 1], exist_ok=True)
    bench.Bench = TriggerBench  # bench.main() runs this class
    sys.exit(bench.main())
