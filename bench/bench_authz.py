#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""What roles and scopes cost a listing (docs/security.md, "Access model").

Called by bench/authz.sh:
    bench_authz.py --top SOURCE_DIR --build BUILD_DIR --tmp TEMP_DIR

Uses the machinery of bench.py (a private PostgreSQL cluster, one
weir-server). 41 DAGs: team-a-00..19 and team-b-00..19 (environments dev
and prod) with RUNS_PER_DAG finished runs each written by SQL, alternating
dev and prod, and rare-one with RARE_RUNS runs, the oldest of all. Then
LISTS calls of GET /api/v1/runs?limit=50 (the first page), one caller
after the other, on one keep-alive connection, for each caller:

admin     an unscoped admin token: no filter in SQL
team      operator:env=dev:dag=team-a-*: a quarter of the runs match
rare      read:dag=rare-one: the matching runs are the oldest, so a page
          reads past every other run (the worst case of the SQL filter)

and LISTS calls of GET /api/v1/runs/ID of a team-a dev run (one target
lookup and grant check) as admin and as team. Prints one JSON object per
line on stdout: {"workload", "metric", "value", "unit"} (p50 and p99 in
ms, the client's clock); a breakdown goes to stderr.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from bench import BenchError, emit, log, pct  # noqa: E402

RUNS_PER_DAG = 250  # x 40 DAGs: 10,000 runs
RARE_RUNS = 5
LISTS = 200
TEAMS = [("team-%s-%02d" % (t, i)) for t in "ab" for i in range(20)]


class AuthzBench(bench.Bench):
    def write_dags(self):
        d = os.path.join(self.tmp, "dags")
        os.makedirs(d, exist_ok=True)
        for name in TEAMS + ["rare-one"]:
            with open(os.path.join(d, name + ".yaml"), "w") as f:
                f.write("dag: %s\nenvironment: dev\nenvironments:\n"
                        "  dev: {}\n  prod: {}\nsteps:\n  - id: only\n"
                        "    run: \"true\"\n" % name)

    def seed(self):
        self.sql_rows(
            "INSERT INTO runs (dag_id, dag_version_id, state, trigger_kind,"
            " trigger_key, reason, environment, created_at, started_at,"
            " finished_at)"
            " SELECT d.id, d.current_version_id, 'success', 'manual',"
            " 'manual', 'seeded', CASE WHEN g %% 2 = 0 THEN 'dev' ELSE"
            " 'prod' END, now() - make_interval(secs => 100000 - g),"
            " now() - make_interval(secs => 100000 - g),"
            " now() - make_interval(secs => 99999 - g)"
            " FROM generate_series(1, %d) g, dags d WHERE d.id = 'rare-one'"
            % RARE_RUNS)
        self.sql_rows(
            "INSERT INTO runs (dag_id, dag_version_id, state, trigger_kind,"
            " trigger_key, reason, environment, created_at, started_at,"
            " finished_at)"
            " SELECT d.id, d.current_version_id, 'success', 'manual',"
            " 'manual', 'seeded', CASE WHEN g %% 2 = 0 THEN 'dev' ELSE"
            " 'prod' END, now() - make_interval(secs => 50000 - g),"
            " now() - make_interval(secs => 50000 - g),"
            " now() - make_interval(secs => 49999 - g)"
            " FROM generate_series(1, %d) g, dags d"
            " WHERE d.id LIKE 'team-%%' ORDER BY g, d.id" % RUNS_PER_DAG)
        self.sql_rows("ANALYZE runs")
        n = self.sql_rows("SELECT count(*) FROM runs")[0][0]
        log("seeded %s runs" % n)

    def make_token(self, grants):
        return self.api("POST", "/api/v1/tokens",
                        {"name": "bench-%s" % grants[0].split(":")[0] +
                         str(len(self.tokens)), "grants": grants})["token"]

    def timed(self, token, path):
        keep = self.token
        self.token = token
        ms = []
        try:
            for _ in range(10):  # warm-up
                self.api("GET", path)
            for _ in range(LISTS):
                self.check_time()
                t0 = time.perf_counter_ns()
                body = self.api("GET", path)
                ms.append((time.perf_counter_ns() - t0) / 1e6)
        finally:
            self.token = keep
        return ms, body

    def run(self):
        log("load average at start: %s"
            % open("/proc/loadavg").read().split(" ", 3)[:3])
        self.write_dags()
        self.start_pg()
        dags = os.path.join(self.tmp, "dags")
        token_file = os.path.join(self.tmp, "admin.token")
        self.server = self.start_server("a", dags, self.pg_url, token_file)
        self.token = open(token_file).read().strip()
        end = time.monotonic() + 30
        while len(self.api("GET", "/api/v1/dags?limit=100")["dags"]) < 41:
            if time.monotonic() > end:
                raise BenchError("the DAGs did not load")
            time.sleep(0.1)
        self.seed()
        self.tokens = {}
        self.tokens["admin"] = self.token
        self.tokens["team"] = self.make_token(["operator:env=dev:dag=team-a-*"])
        self.tokens["rare"] = self.make_token(["read:dag=rare-one"])
        for who, want in (("admin", 50), ("team", 50), ("rare", RARE_RUNS)):
            ms, body = self.timed(self.tokens[who], "/api/v1/runs?limit=50")
            got = len(body["runs"])
            if got != want:
                raise BenchError("%s listed %d runs, wanted %d"
                                 % (who, got, want))
            log("list runs as %s: %d runs, ms p50 %.2f p99 %.2f max %.2f"
                % (who, got, pct(ms, 50), pct(ms, 99), max(ms)))
            emit("list_runs", "%s_p50" % who, round(pct(ms, 50), 2), "ms")
            emit("list_runs", "%s_p99" % who, round(pct(ms, 99), 2), "ms")
        rid = self.sql_rows("SELECT max(id) FROM runs WHERE dag_id ="
                            " 'team-a-00' AND environment = 'dev'")[0][0]
        for who in ("admin", "team"):
            ms, _ = self.timed(self.tokens[who], "/api/v1/runs/%s" % rid)
            log("get run %s as %s: ms p50 %.2f p99 %.2f"
                % (rid, who, pct(ms, 50), pct(ms, 99)))
            emit("get_run", "%s_p50" % who, round(pct(ms, 50), 2), "ms")


if __name__ == "__main__":
    os.makedirs(sys.argv[sys.argv.index("--tmp") + 1], exist_ok=True)
    bench.Bench = AuthzBench  # bench.main() runs this class
    sys.exit(bench.main())
