#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""End-to-end benchmarks of a standalone Weir instance.

Called by bench/run.sh:
    bench.py --top SOURCE_DIR --build BUILD_DIR --tmp TEMP_DIR

Starts, inside TEMP_DIR, a private PostgreSQL cluster (durable commits:
WEIR_PG_NOSYNC is removed from the environment), weir-server instances and
weir-worker processes, runs the workloads and prints one JSON object per
line on stdout: {"workload", "metric", "value", "unit"}. A human-readable
breakdown goes to stderr. Every process started is stopped before exit,
also on SIGTERM/SIGINT; their pids are listed in TEMP_DIR/pids so that
run.sh can stop what is left if this program itself is killed.

How each figure is taken:

Each workload has its own queue and its own workers: a worker that was
stopped may leave a lease long-poll waiting in the server, and that one must
not take the next workload's attempts.

chain40  40 sequential steps running `true`, two workers of 4 slots each
         (the `weir up` defaults). One warm-up run, then CHAIN_RUNS runs one
         after another. wall = run.finished_at - run.created_at, both
         recorded by the server (created_at: start of the transaction that
         created the run; finished_at: start of the transaction that
         completed the last attempt), so it covers trigger -> last step
         done minus the HTTP parsing of the trigger and the last commit.
         The value is the median over the measured runs.
dispatch Upstream attempt finished -> downstream process started, for
         each consecutive pair of steps in the measured chain40 runs
         (CHAIN_RUNS * 39 transitions). Both ends come from the worker's
         own log lines (event=attempt_exited: the worker saw the child
         exit; event=attempt_started: the spawn of the next child
         returned). Their ts= fields have millisecond resolution, so
         bench_stamp also stamps each line as it arrives on a pipe
         (CLOCK_REALTIME, us); the time used is min(stamp, ts + 1 ms)
         (see event_ns). The interval includes the worker reading the
         outputs file, its completion call, the server's completion
         transaction, the claim of the next attempt (in the completion's
         transaction when the worker asks for it there, else by a waiting
         lease long-poll woken by the commit) and its commit, the answer,
         and the worker preparing the attempt folder and spawning the
         process.
         p50_server/p99_server: the server's part, from prev.finished_at
         (start of the completion transaction, read with microsecond
         precision from PostgreSQL; the API's ms are the fallback) to the
         stamp of the server's event=http line of the call whose answer
         carried the next attempt: the completion itself when it claimed
         the next attempt in its own transaction (next.started_at equals
         prev.finished_at), else the lease call that claimed it.
fanout1000_slots2 / fanout1000_slots8
         One step with a 1000-cell matrix (the cap), each cell `true`, run
         by a single worker of 2, then of 8 slots. wall = run.finished_at
         - run.created_at (as for chain40), steps_per_s = 1000 / wall.
memory   VmRSS from /proc/PID/status: a server with no DAGs on its own
         database, one second after it answers; a server with 1000 small
         DAG files (3 steps and a yearly cron trigger each) on another
         database, one second after GET /api/v1/dags lists all 1000 (the
         listing also loads each version into the server's cache); a
         registered worker that has not run anything yet. Extra: the
         workload server and the 8-slot worker after the workloads.

On stderr, per workload: CPU time per step of the server, PostgreSQL (all
its processes), the workers, the steps' processes and this harness; the
PostgreSQL write transactions (each a WAL flush at commit) and WAL bytes
per step; the server's HTTP calls per step and their handler times (from
its event=http log lines); and how busy other processes kept the machine,
since that disturbs every figure.
"""

import argparse
import bisect
import datetime
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "integration"))
import weirtest  # noqa: E402

CHAIN_STEPS = 40
CHAIN_RUNS = 26  # 26 * 39 = 1014 transitions for dispatch
FANOUT_CELLS = 1000
SMALL_DAGS = 1000
RUN_TIMEOUT_S = 90  # longest wait for one run
TOTAL_BUDGET_S = 270  # the whole program
START_TIMEOUT_S = 60  # longest wait for a server or worker to come up

KV_RE = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


class BenchError(Exception):
    pass


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def emit(workload, metric, value, unit):
    print(json.dumps({"workload": workload, "metric": metric,
                      "value": value, "unit": unit}), flush=True)


def iso_s(text):
    """Seconds since the epoch of an ISO 8601 time from the API."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")
                                           ).timestamp()


def pct(values, p):
    """The p-th percentile (nearest rank) of values."""
    v = sorted(values)
    if not v:
        return float("nan")
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def event_ns(stamp_ns, kv):
    """When a logged event happened, in ns since the epoch. The process took
    its ts= field (ms, truncated) just before writing the line, and
    bench_stamp stamped the line when it read it, so the event lies in
    [ts, min(stamp, ts + 1 ms)). The stamp is exact to microseconds unless
    the stamper was scheduled late (busy CPUs); the upper bound keeps the
    error below 1 ms in that case."""
    ts = kv.get("ts")
    if not ts:
        return stamp_ns
    try:
        ms = int(round(iso_s(ts) * 1000))
    except ValueError:
        return stamp_ns
    return min(stamp_ns, ms * 1000000 + 999999)


def cpu_s(pid, children=False):
    """CPU seconds (user + system) used by pid, and optionally by its
    waited-for children; 0 if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_s():
    """CPU seconds the whole machine spent busy since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def child_pids(ppid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                    out.append(int(d))
        except (OSError, ValueError, IndexError):
            pass
    return out


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise BenchError("no VmRSS for pid %d" % pid)


class StampedLog:
    """A log file written by bench_stamp: "NS key=value ..." lines, read
    incrementally."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = b""

    def new_lines(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        out = []
        for raw in lines:
            text = raw.decode("utf-8", "replace")
            ns, _, rest = text.partition(" ")
            try:
                t = int(ns)
            except ValueError:
                continue
            kv = {k: v.strip('"') for k, v in KV_RE.findall(rest)}
            out.append((event_ns(t, kv), kv, rest))
        return out


class Worker:
    def __init__(self, name, proc, stamp, log_path):
        self.name = name
        self.proc = proc
        self.stamp = stamp
        self.log = StampedLog(log_path)
        self.registered = False


class Server:
    def __init__(self, name, proc, stamp, log_path):
        self.name = name
        self.proc = proc
        self.stamp = stamp
        self.log = StampedLog(log_path)
        self.port = None
        self.lines = []


class Bench:
    def __init__(self, top, build, tmp):
        self.top = top
        self.build = build
        self.tmp = tmp
        self.deadline = time.monotonic() + TOTAL_BUDGET_S
        self.procs = []  # every Popen still to stop
        self.pg_dir = os.path.join(tmp, "pg")
        self.pg_url = None
        self.pg_started = False
        self.token = None
        self.conn = None
        self.server = None
        self.workers = []
        # attempt id -> {run, step, start, exit, report, exit_code}
        self.attempts = {}
        self.reported = {}  # run id -> attempts reported (status 200)
        self.failed_runs = set()
        self.env = dict(os.environ)
        self.env.pop("WEIR_PG_NOSYNC", None)
        self.pgss = os.environ.get("WEIR_BENCH_PGSS") in ("1", "2")

    # ---- processes ----

    def check_time(self):
        if time.monotonic() > self.deadline:
            raise BenchError("time budget of %d s exceeded" % TOTAL_BUDGET_S)

    def track(self, proc):
        self.procs.append(proc)
        with open(os.path.join(self.tmp, "pids"), "a") as f:
            f.write("%d\n" % proc.pid)

    def spawn_stamped(self, argv, log_path):
        """Start argv with stdout and stderr through bench_stamp into
        log_path. Returns (proc, stamper)."""
        out = open(log_path, "wb")
        stamp = subprocess.Popen([os.path.join(self.build, "bench",
                                               "bench_stamp")],
                                 stdin=subprocess.PIPE, stdout=out,
                                 env=self.env)
        out.close()
        self.track(stamp)
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=stamp.stdin, stderr=stamp.stdin,
                                env=self.env, cwd=self.tmp)
        stamp.stdin.close()
        self.track(proc)
        return proc, stamp

    def stop_proc(self, proc, wait_s=15):
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                log("pid %d did not stop in %d s; killing it"
                    % (proc.pid, wait_s))
                proc.kill()
                proc.wait()
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_stamped(self, obj):
        self.stop_proc(obj.proc)
        # the stamper ends at end of input
        try:
            obj.stamp.wait(timeout=5)
        except subprocess.TimeoutExpired:
            obj.stamp.kill()
            obj.stamp.wait()
        if obj.stamp in self.procs:
            self.procs.remove(obj.stamp)

    def cleanup(self):
        for p in list(reversed(self.procs)):
            try:
                self.stop_proc(p, wait_s=10)
            except Exception as e:  # keep going: stop the rest
                log("stopping pid %d: %s" % (p.pid, e))
        if self.pg_started:
            subprocess.run(["bash", os.path.join(self.top, "tests", "pg",
                                                 "pg.sh"),
                            "stop", self.pg_dir, "fast"],
                           stdout=subprocess.DEVNULL, env=self.env)
            self.pg_started = False

    # ---- PostgreSQL ----

    def pg(self, *args, capture=True):
        r = subprocess.run(["bash", os.path.join(self.top, "tests", "pg",
                                                 "pg.sh")] + list(args),
                           stdout=subprocess.PIPE if capture else None,
                           stderr=subprocess.PIPE, env=self.env, text=True)
        if r.returncode != 0:
            raise BenchError("pg.sh %s failed: %s" % (args[0], r.stderr))
        return r.stdout

    def start_pg(self):
        t0 = time.monotonic()
        self.pg_started = True
        self.pg_url = self.pg("start", self.pg_dir).strip().splitlines()[-1]
        if self.pgss:
            # WEIR_BENCH_PGSS=1: statement statistics, printed per workload;
            # =2: also the plans of statements slower than 0.5 ms, in
            # pg/postgres.log
            explain = os.environ.get("WEIR_BENCH_PGSS") == "2"
            self.pg("psql", self.pg_dir, "-qc", "ALTER SYSTEM SET"
                    " shared_preload_libraries = '%s'"
                    % ("pg_stat_statements', 'auto_explain" if explain
                       else "pg_stat_statements"))
            self.pg("stop", self.pg_dir, "fast")
            self.pg_url = self.pg("start", self.pg_dir).strip().splitlines()[-1]
            self.pg("psql", self.pg_dir, "-qc",
                    "CREATE EXTENSION pg_stat_statements")
            for setting in ("log_min_duration = '0.5ms'", "log_analyze = on",
                            "log_buffers = on"):
                if explain:
                    self.pg("psql", self.pg_dir, "-qc",
                            "ALTER SYSTEM SET auto_explain." + setting)
            self.pg("psql", self.pg_dir, "-qc", "SELECT pg_reload_conf()")
        log("PostgreSQL up in %.1f s (durable commits): %s"
            % (time.monotonic() - t0, self.pg_url))

    def pgss_reset(self):
        if self.pgss:
            self.sql_rows("SELECT pg_stat_statements_reset()")

    def pgss_report(self, what, steps):
        """WEIR_BENCH_PGSS=1: the statements of the server since the last
        pgss_reset(), by total time: calls and ms per step, ms per call."""
        if not self.pgss:
            return
        rows = self.sql_rows(
            "SELECT calls, total_exec_time + total_plan_time,"
            " regexp_replace(left(query, 110), '\\s+', ' ', 'g')"
            " FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
            " WHERE d.datname = 'weir' AND query NOT LIKE '%pg_stat_stat%'"
            " AND query NOT LIKE '%pg_current_snapshot%'"
            " ORDER BY 2 DESC LIMIT 25")
        calls = sum(int(r[0]) for r in rows)
        log("%s: statements (top 25): %.2f calls per step" % (what,
                                                            calls / steps))
        for r in rows:
            log("  %6.2f/step %7.3f ms/step %7.3f ms/call  %s"
                % (int(r[0]) / steps, float(r[1]) / steps,
                   float(r[1]) / max(1, int(r[0])), r[2]))

    def db_url(self, name):
        self.pg("psql", self.pg_dir, "-qc", "CREATE DATABASE %s" % name)
        return re.sub(r"dbname=\S+", "dbname=" + name, self.pg_url)

    def sql_rows(self, query):
        out = self.pg("psql", self.pg_dir, "-tAF", "\t", "-c", query)
        return [line.split("\t") for line in out.splitlines() if line]

    # ---- where the time goes ----

    def snapshot(self):
        """CPU seconds per process group, and PostgreSQL counters."""
        snap = {"t": time.monotonic(), "machine": machine_busy_s()}
        try:
            with open(os.path.join(self.pg_dir, "data", "postmaster.pid")) as f:
                pm = int(f.readline())
            snap["postgres"] = cpu_s(pm, True) + sum(cpu_s(c)
                                                     for c in child_pids(pm))
        except (OSError, ValueError):
            snap["postgres"] = 0.0
        snap["server"] = cpu_s(self.server.proc.pid)
        snap["workers"] = sum(cpu_s(w.proc.pid) for w in self.workers)
        snap["steps"] = sum(cpu_s(w.proc.pid, True) - cpu_s(w.proc.pid)
                            for w in self.workers)
        snap["bench"] = cpu_s(os.getpid()) + sum(
            cpu_s(w.stamp.pid) for w in self.workers) + cpu_s(
                self.server.stamp.pid)
        try:
            row = self.sql_rows(
                "SELECT pg_snapshot_xmax(pg_current_snapshot()),"
                " pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")[0]
            snap["xid"], snap["wal"] = int(row[0]), float(row[1])
        except (BenchError, ValueError, IndexError):
            pass
        return snap

    def cost_summary(self, what, before, after, steps):
        wall = after["t"] - before["t"]
        ncpu = os.cpu_count() or 1
        parts = ["server", "postgres", "workers", "steps", "bench"]
        total = sum(after[k] - before[k] for k in parts)
        log("%s: CPU per step (ms): %s; total %.2f ms per step, "
            "%.0f%% of %d CPUs over %.1f s"
            % (what, ", ".join("%s %.2f" % (k, (after[k] - before[k]) * 1e3
                                            / steps) for k in parts),
               total * 1e3 / steps, 100 * total / (ncpu * wall), ncpu, wall))
        other = after["machine"] - before["machine"] - total
        log("%s: other processes on this machine used %.0f%% of %d CPUs "
            "meanwhile%s" % (what, 100 * max(other, 0) / (ncpu * wall), ncpu,
                             " (the figures are disturbed)"
                             if other > 0.1 * ncpu * wall else ""))
        if "xid" in before and "xid" in after:
            log("%s: PostgreSQL write transactions (each one a WAL flush) "
                "per step %.2f, WAL %.1f kB per step"
                % (what, (after["xid"] - before["xid"]) / steps,
                   (after["wal"] - before["wal"]) / 1024 / steps))

    # ---- server ----

    def start_server(self, name, dags_dir, db_url, token_file=None):
        argv = [os.path.join(self.build, "server", "weir-server"),
                "--database-url", db_url, "--dags-dir", dags_dir,
                "--listen", "127.0.0.1:0"]
        if token_file:
            argv += ["--admin-token-file", token_file]
        log_path = os.path.join(self.tmp, "server-%s.log" % name)
        proc, stamp = self.spawn_stamped(argv, log_path)
        s = Server(name, proc, stamp, log_path)
        end = time.monotonic() + START_TIMEOUT_S
        while s.port is None:
            for _, kv, _ in s.log.new_lines():
                if kv.get("event") == "listening":
                    s.port = int(kv["addr"].rsplit(":", 1)[1])
            if s.port is None:
                if proc.poll() is not None:
                    raise BenchError("server %s exited (%s)" % (name,
                                                                log_path))
                if time.monotonic() > end:
                    raise BenchError("server %s did not listen" % name)
                time.sleep(0.02)
        return s

    def connect(self, server):
        if self.conn is not None:
            self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port,
                                               timeout=30)
        self.conn_port = server.port

    def api(self, method, path, body=None, server=None):
        server = server or self.server
        if self.conn is None or self.conn_port != server.port:
            self.connect(server)
        headers = {"Authorization": "Bearer " + (self.token or "")}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for tries in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                payload = r.read()
                break
            except (http.client.HTTPException, OSError):
                if tries == 1:
                    raise
                self.connect(server)
        if r.status >= 300:
            raise BenchError("%s %s: %d %s" % (method, path, r.status,
                                                payload[:300]))
        return json.loads(payload) if payload else None

    # ---- workers ----

    def start_worker(self, name, slots, queue):
        argv = [os.path.join(self.build, "worker", "weir-worker"),
                "--server", "http://127.0.0.1:%d" % self.server.port,
                "--token-file", os.path.join(self.tmp, "worker.token"),
                "--dags-dir", os.path.join(self.tmp, "dags"),
                "--scratch-dir", os.path.join(self.tmp, "scratch"),
                "--name", name, "--slots", str(slots), "--queue", queue]
        log_path = os.path.join(self.tmp, "worker-%s.log" % name)
        proc, stamp = self.spawn_stamped(argv, log_path)
        w = Worker(name, proc, stamp, log_path)
        self.workers.append(w)
        return w

    def wait_registered(self, workers):
        end = time.monotonic() + START_TIMEOUT_S
        while not all(w.registered for w in workers):
            self.poll_workers()
            for w in workers:
                if w.proc.poll() is not None:
                    raise BenchError("worker %s exited" % w.name)
            if time.monotonic() > end:
                raise BenchError("workers did not register")
            time.sleep(0.02)

    def stop_worker(self, w):
        self.stop_stamped(w)
        self.poll_workers()
        self.workers.remove(w)

    def poll_workers(self):
        """Fold new worker log lines into self.attempts."""
        for w in self.workers:
            for t, kv, _ in w.log.new_lines():
                ev = kv.get("event")
                if ev == "registered":
                    w.registered = True
                elif ev == "attempt_started":
                    a = self.attempts.setdefault(kv["attempt"], {})
                    a.update(run=kv["run"], step=kv["step"], start=t,
                             worker=w.name)
                elif ev == "attempt_exited":
                    a = self.attempts.setdefault(kv["attempt"], {})
                    a["exit"] = t
                    a["exit_code"] = kv.get("exit")
                    if kv.get("exit") != "0" and "run" in a:
                        self.failed_runs.add(a["run"])
                elif ev == "attempt_not_started":
                    a = self.attempts.setdefault(kv["attempt"], {})
                    if "run" in a:
                        self.failed_runs.add(a["run"])
                elif ev == "attempt_reported":
                    a = self.attempts.setdefault(kv["attempt"], {})
                    a["report"] = t
                    if kv.get("status") == "200" and "run" in a:
                        self.reported[a["run"]] = \
                            self.reported.get(a["run"], 0) + 1

    # ---- runs ----

    def trigger(self, dag):
        return str(self.api("POST", "/api/v1/dags/%s/runs" % dag, {})
                   ["run_id"])

    def wait_run(self, run_id, n_tasks):
        """Wait, by reading the workers' logs (no load on the server),
        until n_tasks attempts of the run were reported; then read the run
        until it is terminal. Returns the run document."""
        end = time.monotonic() + RUN_TIMEOUT_S
        while self.reported.get(run_id, 0) < n_tasks:
            self.poll_workers()
            if run_id in self.failed_runs:
                break
            if time.monotonic() > end:
                break
            self.check_time()
            time.sleep(0.005)
        while True:
            run = self.api("GET", "/api/v1/runs/%s" % run_id)
            if run["state"] in ("success", "failed", "canceled"):
                break
            if time.monotonic() > end:
                raise BenchError("run %s still %s after %d s"
                                 % (run_id, run["state"], RUN_TIMEOUT_S))
            time.sleep(0.005)
        if run["state"] != "success":
            raise BenchError("run %s ended %s" % (run_id, run["state"]))
        return run

    @staticmethod
    def run_wall(run):
        return iso_s(run["finished_at"]) - iso_s(run["created_at"])

    # ---- DAG files ----

    def write_dags(self):
        dags = os.path.join(self.tmp, "dags")
        os.makedirs(dags)
        os.makedirs(os.path.join(self.tmp, "scratch"))
        lines = ["# %d sequential steps, each running `true`." % CHAIN_STEPS,
                 "dag: chain40", "steps:"]
        for i in range(1, CHAIN_STEPS + 1):
            lines.append("  - id: s%02d" % i)
            if i > 1:
                lines.append("    needs: [s%02d]" % (i - 1))
            lines.append('    run: "true"')
            lines.append("    queue: chain")
        with open(os.path.join(dags, "chain40.yaml"), "w") as f:
            f.write("\n".join(lines) + "\n")
        for slots in (2, 8):
            name = "fanout1000_slots%d" % slots
            with open(os.path.join(dags, name + ".yaml"), "w") as f:
                f.write("# One step, a matrix of %d cells, each running "
                        "`true`.\n"
                        "dag: %s\n"
                        "steps:\n"
                        "  - id: cell\n"
                        "    matrix:\n"
                        "      i: [%s]\n"
                        '    run: "true"\n'
                        "    queue: fan%d\n"
                        % (FANOUT_CELLS, name,
                           ", ".join(str(i) for i in range(FANOUT_CELLS)),
                           slots))
        many = os.path.join(self.tmp, "dags1000")
        os.makedirs(many)
        for i in range(SMALL_DAGS):
            with open(os.path.join(many, "small-%04d.yaml" % i), "w") as f:
                f.write("dag: small-%04d\n"
                        "description: small DAG %d of the memory benchmark\n"
                        "params:\n"
                        "  n: %d\n"
                        "triggers:\n"
                        '  - cron: "0 3 1 1 *"\n'
                        "steps:\n"
                        "  - id: extract\n"
                        '    run: echo "extract ${{ params.n }}"\n'
                        "  - id: transform\n"
                        "    needs: [extract]\n"
                        '    run: "true"\n'
                        "  - id: load\n"
                        "    needs: [transform]\n"
                        '    run: "true"\n' % (i, i, i))
        os.makedirs(os.path.join(self.tmp, "empty"))

    # ---- workloads ----

    def memory_servers(self):
        idle = self.start_server("idle", os.path.join(self.tmp, "empty"),
                                 self.db_url("weir_idle"),
                                 os.path.join(self.tmp, "idle.token"))
        self.token = open(os.path.join(self.tmp, "idle.token")).read().strip()
        n = len(self.api("GET", "/api/v1/dags", server=idle)["dags"])
        if n != 0:
            raise BenchError("the idle server lists %d DAGs" % n)
        time.sleep(1.0)
        emit("memory", "server_idle_rss", round(rss_mib(idle.proc.pid), 1),
             "MiB")
        self.stop_stamped(idle)

        t0 = time.monotonic()
        many = self.start_server("1000dags",
                                 os.path.join(self.tmp, "dags1000"),
                                 self.db_url("weir_many"),
                                 os.path.join(self.tmp, "many.token"))
        self.token = open(os.path.join(self.tmp, "many.token")).read().strip()
        while True:
            n = len(self.api("GET", "/api/v1/dags", server=many)["dags"])
            if n >= SMALL_DAGS:
                break
            if time.monotonic() - t0 > START_TIMEOUT_S:
                raise BenchError("only %d of %d DAGs listed" % (n,
                                                                SMALL_DAGS))
            time.sleep(0.1)
        log("server with %d DAG files: listed %.1f s after start"
            % (SMALL_DAGS, time.monotonic() - t0))
        time.sleep(1.0)
        emit("memory", "server_1000dags_rss",
             round(rss_mib(many.proc.pid), 1), "MiB")
        self.stop_stamped(many)
        self.conn.close()
        self.conn = None

    def start_main(self):
        self.server = self.start_server("main", os.path.join(self.tmp, "dags"),
                                        self.pg_url,
                                        os.path.join(self.tmp, "admin.token"))
        self.token = open(os.path.join(self.tmp,
                                       "admin.token")).read().strip()
        self.worker_token_file()
        dags = {d["id"] for d in self.api("GET", "/api/v1/dags")["dags"]}
        if not {"chain40", "fanout1000_slots2", "fanout1000_slots8"} <= dags:
            raise BenchError("DAGs not loaded: %s (see %s)"
                             % (sorted(dags), self.server.log.path))

    def worker_token_file(self):
        """A worker token for the bench's workers, in tmp/worker.token."""
        try:
            tok = weirtest.create_token(
                os.path.join(self.build, "server", "weir-server"), self.pg_url,
                "worker", "bench-workers", self.env)
        except RuntimeError as e:
            raise BenchError(str(e))
        weirtest.write_token(os.path.join(self.tmp, "worker.token"), tok)

    def chain_and_dispatch(self):
        ws = [self.start_worker("chain-%d" % i, 4, "chain") for i in (1, 2)]
        self.wait_registered(ws)
        time.sleep(1.0)
        emit("memory", "worker_idle_rss",
             round(max(rss_mib(w.proc.pid) for w in ws), 1), "MiB")

        self.wait_run(self.trigger("chain40"), CHAIN_STEPS)  # warm-up
        server_mark = len(self.server_lines())
        self.pgss_reset()
        before = self.snapshot()
        walls, runs = [], []
        for _ in range(CHAIN_RUNS):
            run_id = self.trigger("chain40")
            run = self.wait_run(run_id, CHAIN_STEPS)
            walls.append(self.run_wall(run))
            runs.append(run)
        after = self.snapshot()
        http_lines = [kv for _, kv, _ in self.server_lines()[server_mark:]
                      if kv.get("event") == "http"]
        emit("chain40", "wall", round(statistics.median(walls), 4), "s")
        log("chain40: %d runs, wall min %.1f / median %.1f / max %.1f ms"
            % (len(walls), min(walls) * 1e3, statistics.median(walls) * 1e3,
               max(walls) * 1e3))

        # worker-side transitions, from the stamped log lines
        by_run = {}
        for aid, a in self.attempts.items():
            if "start" in a and "exit" in a:
                by_run.setdefault(a["run"], {})[a["step"]] = (a, aid)
        gaps, pairs = [], []
        for run in runs:
            steps = by_run.get(str(run["id"]), {})
            for i in range(1, CHAIN_STEPS):
                prev = steps.get("s%02d" % i)
                nxt = steps.get("s%02d" % (i + 1))
                if prev is None or nxt is None:
                    raise BenchError("run %s: step log lines missing"
                                     % run["id"])
                gaps.append((nxt[0]["start"] - prev[0]["exit"]) / 1e6)
                pairs.append((prev, nxt))
        emit("dispatch", "p50", round(pct(gaps, 50), 3), "ms")
        emit("dispatch", "p99", round(pct(gaps, 99), 3), "ms")
        log("dispatch: %d transitions, worker log: p50 %.3f p90 %.3f "
            "p99 %.3f max %.3f ms"
            % (len(gaps), pct(gaps, 50), pct(gaps, 90), pct(gaps, 99),
               max(gaps)))

        # server-side part, from the attempt records
        times = self.attempt_times([r["id"] for r in runs])
        if times is None:
            times = {}
            for run in runs:
                for t in run["tasks"]:
                    for a in t["attempts"]:
                        times[str(a["id"])] = (iso_s(a["started_at"]),
                                               iso_s(a["finished_at"]))
            source = "API (ms precision)"
        else:
            source = "PostgreSQL (us precision)"
        # The server's part of each transition: from the start of the
        # transaction that completed the previous attempt to the answer
        # that carried the next one: the completion's own answer when it
        # claimed the next attempt in its transaction (same start time),
        # else the answer of the lease call that did.
        server_gaps, to_txn, to_answer, answer_to_spawn = [], [], [], []
        done, answered = self.server_answers()
        same_txn = 0
        for prev, nxt in pairs:
            p = times[prev[1]]
            n = times[nxt[1]]
            to_txn.append(p[1] * 1e3 - prev[0]["exit"] / 1e6)
            if abs(n[0] - p[1]) < 1e-6 and prev[1] in done:
                same_txn += 1
                ans = done[prev[1]]
            elif nxt[1] in answered:
                ans = answered[nxt[1]]
            else:
                continue
            server_gaps.append(ans / 1e6 - p[1] * 1e3)
            answer_to_spawn.append((nxt[0]["start"] - ans) / 1e6)
        if not server_gaps:  # no event=http lines: the claim's start
            server_gaps = [(times[n[1]][0] - times[p[1]][1]) * 1e3
                           for p, n in pairs]
        emit("dispatch", "p50_server", round(pct(server_gaps, 50), 3), "ms")
        emit("dispatch", "p99_server", round(pct(server_gaps, 99), 3), "ms")
        log("dispatch breakdown, medians (attempt times from %s; %d of %d "
            "next attempts claimed in the completion's own transaction):"
            % (source, same_txn, len(pairs)))
        log("  worker saw exit -> completion transaction starts  %.3f ms"
            % statistics.median(to_txn))
        log("  completion txn starts -> next attempt answered   %.3f ms"
            % statistics.median(server_gaps))
        if answer_to_spawn:
            log("  next attempt answered -> process spawned        %.3f ms"
                % statistics.median(answer_to_spawn))
        self.http_summary(http_lines, CHAIN_RUNS * CHAIN_STEPS, "chain40")
        self.cost_summary("chain40", before, after, CHAIN_RUNS * CHAIN_STEPS)
        self.pgss_report("chain40", CHAIN_RUNS * CHAIN_STEPS)
        for w in ws:
            self.stop_worker(w)

    def attempt_times(self, run_ids):
        """attempt id -> (started_at, finished_at) in epoch seconds, with
        microseconds, straight from the database; None if that fails."""
        try:
            rows = self.sql_rows(
                "SELECT a.id, extract(epoch FROM a.started_at),"
                " extract(epoch FROM a.finished_at) FROM attempts a"
                " JOIN tasks t ON t.id = a.task_id"
                " WHERE t.run_id IN (%s)" % ",".join(str(int(i))
                                                     for i in run_ids))
            return {r[0]: (float(r[1]), float(r[2])) for r in rows}
        except (BenchError, ValueError, IndexError) as e:
            log("attempt times from the database failed (%s); "
                "using the API's" % e)
            return None

    def server_answers(self):
        """From the server's log: attempt id -> when its completion call was
        answered, and attempt id -> when the lease call that carried it
        was answered (the first lease answer to that worker after the
        event=attempt_leased line)."""
        done, leased, lease_http = {}, [], {}
        for t, kv, _ in self.server_lines():
            ev = kv.get("event")
            if ev == "attempt_leased" and "attempt" in kv:
                leased.append((t, kv["attempt"], kv.get("worker")))
            elif ev == "http":
                m = re.match(r"/api/v1/attempts/(\d+)/complete$",
                             kv.get("path", ""))
                if m:
                    done.setdefault(m.group(1), t)
                m = re.match(r"/api/v1/workers/(\d+)/lease$",
                             kv.get("path", ""))
                if m:
                    lease_http.setdefault(m.group(1), []).append(t)
        answered = {}
        for ts in lease_http.values():
            ts.sort()
        for t, aid, wid in leased:
            ts = lease_http.get(wid, [])
            i = bisect.bisect_left(ts, t)
            if i < len(ts):
                answered[aid] = ts[i]
        return done, answered

    def server_lines(self):
        self.server.lines.extend(self.server.log.new_lines())
        return self.server.lines

    def http_summary(self, http_lines, steps, what):
        counts, ms = {}, {}
        for kv in http_lines:
            path = re.sub(r"/\d+", "/N", kv.get("path", ""))
            key = kv.get("method", "") + " " + path
            counts[key] = counts.get(key, 0) + 1
            try:
                ms.setdefault(key, []).append(float(kv.get("ms", "nan")))
            except ValueError:
                pass
        log("%s: server HTTP calls per step and handler time (median):"
            % what)
        for key in sorted(counts):
            log("  %-40s %5.2f per step, %7.2f ms"
                % (key, counts[key] / steps, statistics.median(ms[key])))

    def fanout(self, slots):
        w = self.start_worker("fanout-%d" % slots, slots, "fan%d" % slots)
        self.wait_registered([w])
        server_mark = len(self.server_lines())
        self.pgss_reset()
        before = self.snapshot()
        name = "fanout1000_slots%d" % slots
        run_id = self.trigger(name)
        run = self.wait_run(run_id, FANOUT_CELLS)
        after = self.snapshot()
        n = sum(1 for t in run["tasks"] if t["state"] == "success")
        if n != FANOUT_CELLS:
            raise BenchError("fanout run %s: %d tasks succeeded" % (run_id, n))
        wall = self.run_wall(run)
        emit(name, "wall", round(wall, 3), "s")
        emit(name, "steps_per_s", round(FANOUT_CELLS / wall, 1), "1/s")
        http_lines = [kv for _, kv, _ in self.server_lines()[server_mark:]
                      if kv.get("event") == "http"]
        self.http_summary(http_lines, FANOUT_CELLS, name)
        self.cost_summary(name, before, after, FANOUT_CELLS)
        self.pgss_report(name, FANOUT_CELLS)
        rss = rss_mib(w.proc.pid)
        self.stop_worker(w)
        return rss

    def run(self):
        log("load average at start: %s"
            % open("/proc/loadavg").read().split(" ", 3)[:3])
        self.write_dags()
        self.start_pg()
        self.memory_servers()
        self.start_main()
        self.chain_and_dispatch()
        self.fanout(2)
        rss8 = self.fanout(8)
        emit("memory", "server_after_workloads_rss",
             round(rss_mib(self.server.proc.pid), 1), "MiB")
        emit("memory", "worker_after_fanout8_rss", round(rss8, 1), "MiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--top", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--tmp", required=True)
    args = ap.parse_args()

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    b = Bench(os.path.abspath(args.top), os.path.abspath(args.build),
              os.path.abspath(args.tmp))
    try:
        b.run()
    except BenchError as e:
        log("FAILED: %s (logs in %s)" % (e, args.tmp))
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        b.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
