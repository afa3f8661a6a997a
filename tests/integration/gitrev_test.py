# SPDX-License-Identifier: Apache-2.0
"""The DAGs folder's git revision in the lease, against a real weir-server
whose DAGs folder is a git repository (run_gitrev.sh makes it, at a first
commit):

- a lease of a DAG loaded from the folder carries dags_revision, the
  folder's commit; a DAG submitted over the API gets null;
- a commit that changes only the script beside the DAG files (no DAG file
  changes), and then one that changes no file, reach the leases within
  seconds (the times are printed);
- real weir-workers: one whose --dags-dir is a clone at the server's
  commit runs the step; one whose --dags-dir is a worktree at the first
  commit (its DAG file identical, only the script differs) fails the
  attempt, not retried, with a message naming both revisions (short) and
  what to do; one whose --dags-dir is a plain copy (not a checkout) keeps
  only the file check and runs;
- the folder no longer a checkout: leases carry dags_revision null.

Environment: WEIR_URL, WEIR_ADMIN, WEIR_WORKER, WEIR_READ, WEIR_TEST_TMP,
WEIR_WORKER_BIN, WEIR_LOG (the server's log).
"""
import os
import shutil
import subprocess
import time

import weirtest
from weirtest import check, wait_for

ADMIN = os.environ["WEIR_ADMIN"]
WORKER_TOKEN = os.environ["WEIR_WORKER"]
READ = os.environ["WEIR_READ"]
TMP = os.environ["WEIR_TEST_TMP"]
WORKER_BIN = os.environ["WEIR_WORKER_BIN"]
LOG = os.environ["WEIR_LOG"]
DAGS = os.path.join(TMP, "dags")
HINT = "deploy the same revision of the DAGs folder on servers and workers"
REV_TARGET_S = 5.0  # from a commit to leases carrying it
workers = []  # every weir-worker started, stopped at the end
probe = None  # the API worker of queue gr_probe, made in main()


def git(*args, cwd=DAGS):
    out = subprocess.run(["git"] + list(args), cwd=cwd, check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=20)
    return out.stdout.decode().strip()


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class Worker(weirtest.WorkerProcess):
    """A real weir-worker on one queue; its output in TMP/worker-NAME.log."""

    def __init__(self, name, dags, queue):
        super().__init__(WORKER_BIN, TMP, WORKER_TOKEN, name, dags, queue,
                         ["--server", weirtest.BASE], workers)


def wait_run(rid, timeout):
    def done():
        r = weirtest.run(rid)
        return r if r and r["state"] in weirtest.TERMINAL else None
    return wait_for(done, timeout, 0.1) or weirtest.run(rid)


def attempts(run):
    return [a for t in (run or {}).get("tasks", []) for a in t["attempts"]]


def log_text(attempt_id):
    code, b = weirtest.req("GET", "/api/v1/attempts/%d/logs?limit=1000" %
                           attempt_id, READ)
    return "\n".join(l["line"] for l in b["lines"]) if code == 200 else ""


def probe_lease(dag="gr_probe"):
    """Trigger dag (on queue gr_probe), lease its attempt with the API
    worker, complete it; the attempt document."""
    weirtest.trigger(dag, token=ADMIN)
    a = probe.one("step")
    if a is not None:
        probe.complete(a)
    return a or {}


def commit_script(text, message):
    with open(os.path.join(DAGS, "tool.sh"), "w") as f:
        f.write("#!/bin/sh\necho %s\n" % text)
    git("commit", "-qam", message)
    return git("rev-parse", "HEAD")


def test_lease_revision():
    """The lease carries the folder's commit; an API DAG's is null."""
    first = git("rev-parse", "HEAD")
    a = probe_lease()
    check(a.get("dags_revision") == first,
          "lease of gr_probe: dags_revision %r, the folder is at %s"
          % (a.get("dags_revision"), first))
    check(a.get("dag_path") == "gr_probe.yaml", "dag_path %r" %
          a.get("dag_path"))
    api_dag = ("dag: gr_api\ndefaults:\n  queue: gr_probe\nsteps:\n"
               "  - id: step\n    run: echo from-the-api\n")
    code, _, _ = weirtest.call("POST", "/api/v1/dags", ADMIN,
                               data=api_dag.encode(),
                               ctype="application/yaml")
    check(code in (200, 201), "submit gr_api: HTTP %s" % code)
    a = probe_lease("gr_api")
    check("dags_revision" in a and a["dags_revision"] is None,
          "lease of the API DAG gr_api: dags_revision %r (want null)"
          % a.get("dags_revision", "absent"))
    return first


def test_new_commit(first):
    """A commit changing only the script reaches the leases."""
    t0 = time.monotonic()
    second = commit_script("tool-v2", "second: only the script")
    seen = wait_for(lambda: "event=dags_revision dir=%s revision=%s"
                    % (DAGS, second) in read(LOG), 15, 0.05)
    took = time.monotonic() - t0
    print("revision recorded %.2f s after the commit (target <= %.0f s)"
          % (took, REV_TARGET_S), flush=True)
    check(seen and took <= REV_TARGET_S,
          "the new commit %s recorded after %.2f s (seen: %s)"
          % (second, took, bool(seen)))
    a = probe_lease()
    check(a.get("dags_revision") == second,
          "lease after the commit: dags_revision %r, want %s (was %s)"
          % (a.get("dags_revision"), second, first))
    # a commit that changes no file at all sends no folder event: the
    # server's look at HEAD (every second) finds it
    t0 = time.monotonic()
    git("commit", "-q", "--allow-empty", "-m", "third: no file changed")
    third = git("rev-parse", "HEAD")
    seen = wait_for(lambda: "event=dags_revision dir=%s revision=%s"
                    % (DAGS, third) in read(LOG), 15, 0.05)
    took = time.monotonic() - t0
    print("an empty commit recorded %.2f s after it (target <= %.0f s)"
          % (took, REV_TARGET_S), flush=True)
    check(seen and took <= REV_TARGET_S,
          "the empty commit %s recorded after %.2f s (seen: %s)"
          % (third, took, bool(seen)))
    a = probe_lease()
    check(a.get("dags_revision") == third,
          "lease after the empty commit: dags_revision %r, want %s"
          % (a.get("dags_revision"), third))
    return third


def test_workers(first, second):
    """Same commit runs; older commit refuses; no checkout runs."""
    same = os.path.join(TMP, "w-same")
    old = os.path.join(TMP, "w-old")
    plain = os.path.join(TMP, "w-plain")
    git("clone", "-q", DAGS, same, cwd=TMP)  # its branch in packed-refs
    # a worktree (a .git file, refs in the common folder) at the first
    # commit: the DAG files are identical, tool.sh is not
    git("worktree", "add", "-q", "-b", "old", old, first)
    shutil.copytree(old, plain, ignore=shutil.ignore_patterns(".git"))
    for d in ("gr_old.yaml", "gr_same.yaml", "gr_plain.yaml"):
        check(read(os.path.join(old, d)) == read(os.path.join(DAGS, d)),
              "%s differs in the old worktree" % d)
    check(read(os.path.join(old, "tool.sh")) !=
          read(os.path.join(DAGS, "tool.sh")), "tool.sh did not change")
    Worker("same", same, "gr_same")
    Worker("old", old, "gr_old")
    Worker("plain", plain, "gr_plain")
    runs = {d: weirtest.trigger(d, token=ADMIN)
            for d in ("gr_same", "gr_old", "gr_plain")}
    done = {d: wait_run(rid, 20) for d, rid in runs.items()}
    for d, out in (("gr_same", "tool-v2"), ("gr_plain", "tool-v1")):
        r = done[d]
        tries = attempts(r)
        check(r and r["state"] == "success" and len(tries) == 1 and
              out in log_text(tries[0]["id"]),
              "%s: run %s, attempts %s" % (d, r and r["state"], tries))
    r = done["gr_old"]
    tries = attempts(r)
    if check(r and r["state"] == "failed" and len(tries) == 1,
             "gr_old: run %s, attempts %s" % (r and r["state"], tries)):
        err = tries[0]["error"] or ""
        lines = log_text(tries[0]["id"])
        want = ["git revision %s" % first[:12], "at %s" % second[:12], HINT]
        check(all(x in err for x in want),
              "gr_old: the attempt's error %r lacks %s" % (err, want))
        check(all(x in lines for x in want) and "tool-v" not in lines,
              "gr_old: the attempt's log %r" % lines)
    for w in list(workers):
        w.stop()


def test_not_a_checkout(second):
    """The folder no longer a checkout: dags_revision null."""
    shutil.rmtree(os.path.join(DAGS, ".git"))
    seen = wait_for(lambda: "event=dags_revision dir=%s revision=none"
                    % DAGS in read(LOG), 15, 0.05)
    check(seen, "the server did not record that its folder is no checkout")
    a = probe_lease()
    check("dags_revision" in a and a["dags_revision"] is None,
          "lease of a folder that is no checkout: dags_revision %r (was %s)"
          % (a.get("dags_revision", "absent"), second))


def main():
    def body():
        global probe
        probe = weirtest.Worker("gr-probe", ["gr_probe"])
        first = test_lease_revision()
        second = test_new_commit(first)
        test_workers(first, second)
        test_not_a_checkout(second)
    weirtest.run_main("gitrev_test", body, workers)


if __name__ == "__main__":
    main()
