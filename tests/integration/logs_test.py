# SPDX-License-Identifier: Apache-2.0
"""A step's output with real workers (run_logs.sh starts them): nothing
lost whatever the step prints, a cap that says what it cut, and `weir
logs` --try, --stream and --separate."""
import json
import os
import re
import subprocess
import time

from weirtest import ADMIN, BASE, READ, TERMINAL, check, req, run_tests, \
    trigger, wait_for

CLI = os.environ["WEIR_CLI"]
WORKER_PID = os.environ["WEIR_WORKER_PID"]
SCRATCH = os.environ["WEIR_SCRATCH"]
RSS_MAX_KIB = 64 * 1024


def sanitized(pid):
    """Whether process pid runs with AddressSanitizer (whose shadow memory
    and quarantine make its RSS meaningless here, and its pace slower)."""
    with open("/proc/%s/maps" % pid) as f:
        return "libasan" in f.read()


ASAN = sanitized(WORKER_PID)
LINES = 200000 if ASAN else 1000000


def finished(run_id, timeout):
    """The run once it is over (None after timeout s)."""
    def done():
        code, b = req("GET", "/api/v1/runs/%d" % run_id, READ)
        return b if code == 200 and b.get("state") in TERMINAL else None
    return wait_for(done, timeout, 0.5)


def attempts(run_doc, step):
    """The attempts of step in the run document, by try."""
    for t in run_doc["tasks"]:
        if t["step"] == step:
            return t["attempts"]
    return []


def all_lines(attempt_id):
    """Every stored line of an attempt, through the API, in pages."""
    out, after = [], -1
    while True:
        code, b = req("GET", "/api/v1/attempts/%d/logs?after=%d&limit=10000"
                      % (attempt_id, after), READ, timeout=60)
        if not check(code == 200, "logs: HTTP %d %s" % (code, b)):
            return out
        if not b["lines"]:
            return out
        out.extend(b["lines"])
        after = b["next_after"]


def cli(*args, timeout=120):
    """`weir ARGS` on the server with the admin token: (rc, stdout,
    stderr)."""
    env = dict(os.environ, WEIR_SERVER=BASE, WEIR_TOKEN=ADMIN)
    r = subprocess.run([CLI] + list(args), capture_output=True, text=True,
                       env=env, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def vm_hwm_kib(pid):
    """The peak resident set of process pid, in KiB."""
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def test_million_lines():
    t0 = time.monotonic()
    run_id = trigger("noisy", {"params": {"lines": LINES}})
    doc = finished(run_id, 420)
    took = time.monotonic() - t0
    if not check(doc is not None and doc["state"] == "success",
                 "noisy run: %s" % (doc and doc["state"])):
        return
    print("logs: %d lines, step to run success in %.1f s (%.0f lines/s)"
          % (LINES, took, LINES / took), flush=True)
    att = attempts(doc, "loud")[-1]
    check(att.get("log_capped") is None,
          "log_capped of an uncapped attempt: %r" % att.get("log_capped"))
    t1 = time.monotonic()
    lines = all_lines(att["id"])
    print("logs: read back through the API in %.1f s"
          % (time.monotonic() - t1), flush=True)
    step = [l for l in lines if l["stream"] == "stdout"]
    check(len(step) == LINES, "API: %d stdout lines, want %d"
          % (len(step), LINES))
    check([l for l in lines if l["stream"] != "stdout"] == [],
          "API: lines that are not the step's: %r"
          % [l for l in lines if l["stream"] != "stdout"][:3])
    bad = next((i for i, l in enumerate(step) if l["line"] != str(i + 1)),
               None)
    check(bad is None, "API: line %s is %r, want %r" % (
        bad, bad is not None and step[bad]["line"], bad is not None and
        str(bad + 1)))
    seqs = [l["seq"] for l in lines]
    check(seqs == sorted(seqs), "API: sequence numbers out of order")
    if len(step) == LINES:
        check(step[0]["line"] == "1" and step[-1]["line"] == str(LINES) and
              step[123456]["line"] == "123457",
              "API: first %r, last %r, 123457th %r" % (
                  step[0]["line"], step[-1]["line"], step[123456]["line"]))
    rc, out, err = cli("logs", str(run_id), "loud", timeout=300)
    got = out.splitlines()
    check(rc == 0, "weir logs noisy: exit %d %s" % (rc, err[-300:]))
    check(len(got) == LINES, "weir logs: %d lines, want %d"
          % (len(got), LINES))
    if len(got) == LINES:
        check(got[0] == "1" and got[-1] == str(LINES) and
              got[54320] == "54321",
              "weir logs: first %r, last %r, 54321st %r"
              % (got[0], got[-1], got[54320]))
        check(got == [str(i) for i in range(1, LINES + 1)],
              "weir logs: lines out of order or changed")
    hwm = vm_hwm_kib(WORKER_PID)
    print("logs: worker VmHWM %d KiB" % hwm, flush=True)
    check(ASAN or 0 < hwm < RSS_MAX_KIB,
          "worker peak RSS %d KiB, want under %d" % (hwm, RSS_MAX_KIB))


def test_cap():
    run_id = trigger("capped")
    path = None

    def cut_note():
        code, b = req("GET", "/api/v1/runs/%d" % run_id, READ)
        att = attempts(b, "loud") if code == 200 else []
        if not att:
            return None
        code, l = req("GET", "/api/v1/attempts/%d/logs?after=999&limit=5"
                      % att[-1]["id"], READ)
        sys_lines = [x for x in l.get("lines", []) if x["stream"] == "system"]
        return sys_lines[0]["line"] if sys_lines else None
    note = wait_for(cut_note, 30, 0.2)
    m = re.search(r"stays on the worker at (\S+) until", note or "")
    if check(m is not None, "no note at the cut with the spool path: %r"
             % note):
        path = m.group(1)
        check(path.startswith(SCRATCH) and os.path.getsize(path) > 0,
              "spool file %s not in %s or empty while the step runs"
              % (path, SCRATCH))
    doc = finished(run_id, 60)
    if not check(doc is not None and doc["state"] == "success",
                 "capped run: %s" % (doc and doc["state"])):
        return
    att = attempts(doc, "loud")[-1]
    capped = att.get("log_capped")
    check(capped is not None and capped.get("lines_total") == 5000 and
          capped.get("lines_kept") == 1000 and
          capped.get("bytes_total") == sum(len(str(i)) for i in
                                           range(1, 5001)),
          "log_capped of the attempt: %r" % capped)
    lines = all_lines(att["id"])
    check(lines and lines[0]["seq"] == 0 and lines[0]["stream"] == "system"
          and "log capped: 1000 of 5000 lines" in lines[0]["line"]
          and (path is None or path in lines[0]["line"]),
          "top line: %r" % (lines[:1],))
    step = [l["line"] for l in lines if l["stream"] == "stdout"]
    check(step == [str(i) for i in range(1, 1001)],
          "kept lines: %d, first %r, last %r"
          % (len(step), step[:1], step[-1:]))
    rc, out, err = cli("logs", str(run_id), "loud")
    check(rc == 0 and out.splitlines()[0].startswith(
        "weir-worker: log capped: 1000 of 5000 lines"),
        "weir logs of the capped attempt: %d %r" % (rc, out[:200]))
    if path is not None:
        check(wait_for(lambda: not os.path.exists(path), 10),
              "spool file %s left after the report" % path)


def test_cli_options():
    run_id = trigger("tries")
    doc = finished(run_id, 60)
    if not check(doc is not None and doc["state"] == "success" and
                 len(attempts(doc, "flaky")) == 2,
                 "tries run: %s" % (doc and doc["state"])):
        return
    rc, out, err = cli("logs", str(run_id), "flaky")
    check(rc == 0 and out.splitlines() == ["out-2", "err-2"] and err == "",
          "weir logs: every stream on stdout, the latest try: %d %r %r"
          % (rc, out, err))
    # try 1 failed: its log is printed and weir logs exits 1
    rc, out, err = cli("logs", str(run_id), "flaky", "--try", "1")
    check(rc == 1 and out.splitlines() == ["out-1", "err-1"],
          "weir logs --try 1: %d %r %r" % (rc, out, err))
    rc, out, err = cli("logs", str(run_id), "flaky", "--separate")
    check(rc == 0 and out.splitlines() == ["out-2"] and
          err.splitlines() == ["err-2"],
          "weir logs --separate: %d %r %r" % (rc, out, err))
    rc, out, err = cli("logs", str(run_id), "flaky", "--stream", "stderr",
                       "--try", "1")
    check(rc == 1 and out.splitlines() == ["err-1"] and err == "",
          "weir logs --stream stderr --try 1: %d %r %r" % (rc, out, err))
    rc, out, err = cli("logs", str(run_id), "flaky", "--stream", "stdout")
    check(rc == 0 and out.splitlines() == ["out-2"],
          "weir logs --stream stdout: %d %r %r" % (rc, out, err))
    rc, out, err = cli("logs", str(run_id), "flaky", "--stream", "all")
    check(rc == 0 and out.splitlines() == ["out-2", "err-2"],
          "weir logs --stream all: %d %r %r" % (rc, out, err))
    rc, out, err = cli("logs", str(run_id), "flaky", "--stream", "both")
    check(rc == 2 and "--stream takes stdout, stderr or all" in err,
          "weir logs --stream both: %d %r" % (rc, err))
    rc, out, err = cli("logs", str(run_id), "flaky", "--try", "3")
    check(rc == 1 and "no try 3" in err,
          "weir logs --try 3 of 2: %d %r" % (rc, err))
    rc, out, err = cli("logs", str(run_id), "flakey")
    check(rc == 1 and 'has no step "flakey"' in err,
          "weir logs of an unknown step: %d %r" % (rc, err))
    rc, out, err = cli("logs", str(run_id), "flaky", "--try", "x")
    check(rc == 2 and "--try takes" in err,
          "weir logs --try x: %d %r" % (rc, err))
    rc, out, err = cli("logs", str(run_id), "flaky", "-f", "--try", "1")
    check(rc == 1 and out.splitlines() == ["out-1", "err-1"],
          "weir logs -f --try 1 of a finished run: %d %r %r" % (rc, out, err))


def test_long_line():
    run_id = trigger("longline")
    doc = finished(run_id, 60)
    if not check(doc is not None and doc["state"] == "success",
                 "longline run: %s" % (doc and doc["state"])):
        return
    lines = all_lines(attempts(doc, "wide")[-1]["id"])
    out = [l["line"] for l in lines if l["stream"] == "stdout"]
    check(len(out) == 4 and [len(x) for x in out[:3]] == [65536, 65536,
                                                          18928]
          and "".join(out[:3]) == "x" * 150000 and out[3] == "after",
          "pieces of the long line: %r" % [len(x) for x in out])
    notes = [(i, l["line"]) for i, l in enumerate(lines)
             if l["stream"] == "system"]
    check(len(notes) == 1 and notes[0][0] == 3 and
          "the 3 stdout lines above are one line of 150000 bytes"
          in notes[0][1], "the mark after the pieces: %r" % notes)


def test_follow():
    run_id = trigger("ticker")
    rc, out, err = cli("logs", str(run_id), "tick", "-f", timeout=60)
    want = []
    for i in range(1, 6):
        want += ["tick %d" % i, "warn %d" % i]
    got = out.splitlines()
    check(rc == 0 and sorted(got) == sorted(want) and
          [x for x in got if x.startswith("tick")] == want[::2],
          "weir logs -f from before the attempt to its end: %d %r %r"
          % (rc, out, err))


run_tests("logs_test", [test_cli_options, test_follow, test_long_line,
                        test_cap, test_million_lines])
