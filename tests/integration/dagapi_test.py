# SPDX-License-Identifier: Apache-2.0
"""DAGs submitted over the API, against a running weir-server (urllib
only): submit, resubmit, update, refusals (invalid document, an id a file
holds, roles), a run that holds a delete back, cancel then delete, and,
with a real worker, a submitted DAG that runs.

Environment: WEIR_URL, WEIR_ADMIN, WEIR_WORKER, WEIR_READ tokens;
WEIR_DAGS_DIR (the server's DAGs folder, which holds filedag.yaml);
WEIR_PG and WEIR_PG_DIR (pg.sh and the cluster, for row counts); WEIR_EXEC
set when a weir-worker serves queue dagapi-exec. Exits 1 when a check
failed.
"""
import json
import os
import subprocess

from weirtest import (ADMIN, READ, TERMINAL, WORKER, call, check, run_tests,
                      wait_for)

DAGS_DIR = os.environ["WEIR_DAGS_DIR"]
EXEC = bool(os.environ.get("WEIR_EXEC"))

APIDAG = """dag: apidag
description: first
defaults:
  queue: dagapi
steps:
  - id: a
    run: echo from the api
  - id: b
    needs: [a]
    run: echo b
"""


def req(method, path, token, body=None, ctype=None, timeout=30):
    """(status, parsed JSON or None, raw text). body: bytes/str sent as is
    (with ctype, when given), anything else as JSON."""
    if isinstance(body, str):
        body = body.encode()
    if isinstance(body, bytes):
        status, text, _ = call(method, path, token, data=body, ctype=ctype,
                               timeout=timeout)
    else:
        status, text, _ = call(method, path, token, body, timeout=timeout,
                               ctype=ctype or "application/json")
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    return status, parsed, text.decode(errors="replace")


def submit(text, expect, token=ADMIN, ctype="application/yaml"):
    code, b, raw = req("POST", "/api/v1/dags", token, text, ctype)
    check(code == expect, "submit: HTTP %d, expected %d: %s"
          % (code, expect, raw[:400]))
    return b if isinstance(b, dict) else {}


def sql(query):
    out = subprocess.run([os.environ["WEIR_PG"], "psql",
                          os.environ["WEIR_PG_DIR"], "-tAc", query],
                         capture_output=True, text=True, check=False)
    return out.stdout.strip()


def dag_row(dag_id):
    code, b, _ = req("GET", "/api/v1/dags", READ)
    check(code == 200, "list dags: %d" % code)
    rows = [d for d in (b or {}).get("dags", []) if d["id"] == dag_id]
    return rows[0] if rows else None


def versions(dag_id):
    code, b, _ = req("GET", "/api/v1/dags/%s/versions" % dag_id, READ)
    return b.get("versions", []) if code == 200 else None


def test_submit_and_update():
    b = submit(APIDAG, 201)
    check(b.get("dag") == "apidag" and b.get("created") is True and
          b.get("new_version") is True and len(b.get("hash", "")) == 64 and
          isinstance(b.get("version_id"), int), "first submit %s" % b)
    first = b.get("version_id")
    row = dag_row("apidag")
    check(row is not None and row["origin"] == "api" and
          row["path"] is None and row["version"] == b.get("hash") and
          row["description"] == "first" and row["last_error"] is None,
          "listed %s" % row)
    code, g, _ = req("GET", "/api/v1/dags/apidag", READ)
    check(code == 200 and g["source"] == APIDAG and
          g["dag"]["steps"][0]["id"] == "a", "GET one %d %s" % (code, g))

    b = submit(APIDAG, 200, ctype="text/yaml; charset=utf-8")
    check(b.get("created") is False and b.get("new_version") is False and
          b.get("version_id") == first, "same text again %s" % b)
    check(len(versions("apidag") or []) == 1, "resubmit added a version")

    changed = APIDAG.replace("description: first", "description: second")
    b = submit({"source": changed}, 200, ctype="application/json")
    check(b.get("created") is False and b.get("new_version") is True and
          b.get("version_id") != first, "changed text %s" % b)
    v = versions("apidag") or []
    check(len(v) == 2 and v[0]["current"] and v[0]["origin"] == "api" and
          v[0]["path"] is None and not v[1]["current"], "versions %s" % v)
    check(dag_row("apidag")["description"] == "second", "update not current")

    # an older text comes back: its version is current again, none added
    b = submit(APIDAG, 200, ctype="application/x-www-form-urlencoded")
    check(b.get("version_id") == first and b.get("new_version") is False,
          "older text again %s" % b)
    check(len(versions("apidag") or []) == 2, "older text added a version")


def test_refusals():
    bad = ("dag: badone\nsteps:\n  - id: a\n    run: echo a\n"
           "    retries: three\n  - id: b\n    needs: [nope]\n"
           "    run: echo b\n")
    b = submit(bad, 400)
    e = b.get("error", {})
    d = e.get("details", [])
    check(e.get("code") == "INVAL" and len(d) >= 2 and
          all(isinstance(x.get("line"), int) and
              isinstance(x.get("column"), int) and x.get("message")
              for x in d), "invalid: %s" % b)
    check(d and d[0]["line"] == 5 and d[0]["column"] == 14 and
          e.get("message", "").startswith("api:5:14: "),
          "first error placed: %s" % e)
    check(dag_row("badone") is None, "an invalid DAG was recorded")

    b = submit("dag: x\nsteps: [\n", 400)
    d = b.get("error", {}).get("details", [])
    check(d and d[0]["line"] >= 1, "YAML syntax error: %s" % b)

    b = submit("steps:\n  - id: a\n    run: echo a\n", 400)
    check("dag:" in b.get("error", {}).get("message", ""),
          "a document without dag: %s" % b)
    check(dag_row("api") is None, "a DAG named api was recorded")

    b = submit("dag: filedag\nsteps:\n  - id: z\n    run: echo z\n", 409)
    m = b.get("error", {}).get("message", "")
    check("filedag.yaml" in m and "edit the file" in m,
          "file DAG id: %s" % b)
    check(len(versions("filedag") or []) == 1, "file DAG got a version")

    submit(APIDAG, 400, ctype="application/xml")
    submit({"source": 5}, 400, ctype="application/json")
    submit("{not json", 400, ctype="application/json")
    submit("", 400)
    submit("dag: a\x00b\nsteps: []\n", 400)

    submit(APIDAG, 403, token=READ)
    submit(APIDAG, 403, token=WORKER)
    code, _, _ = req("DELETE", "/api/v1/dags/apidag", READ)
    check(code == 403, "DELETE with a read token: %d" % code)
    code, _, _ = req("POST", "/api/v1/dags", None, APIDAG, "application/yaml")
    check(code == 401, "POST without a token: %d" % code)


def register(name, queue):
    code, b, raw = req("POST", "/api/v1/workers/register", WORKER,
                       {"name": name, "queues": [queue]})
    check(code == 200, "register: %d %s" % (code, raw))
    return b["worker_id"] if code == 200 else None


def test_delete():
    code, b, raw = req("POST", "/api/v1/dags/apidag/runs", ADMIN, {})
    check(code == 201, "trigger apidag: %d %s" % (code, raw))
    run_id = b.get("run_id") if isinstance(b, dict) else None
    wid = register("dagapi-w", "dagapi")
    code, lb, raw = req("POST", "/api/v1/workers/%s/lease" % wid, WORKER,
                        {"max": 1, "wait_ms": 3000})
    got = lb.get("attempts", []) if code == 200 else []
    check(len(got) == 1, "lease of the API DAG's step: %s" % raw)
    if got:
        a = got[0]
        check(a["dag"] == "apidag" and a["dag_path"] is None and
              a["step"] == "a" and a["command"] == "echo from the api",
              "attempt document %s" % a)

    code, b, raw = req("DELETE", "/api/v1/dags/apidag", ADMIN)
    check(code == 409 and "queued or running" in raw,
          "delete with a running run: %d %s" % (code, raw))
    check(dag_row("apidag") is not None, "refused delete removed the DAG")

    code, b, raw = req("POST", "/api/v1/runs/%s/cancel" % run_id, ADMIN)
    check(code == 200, "cancel: %d %s" % (code, raw))
    if got:
        # the canceled run's command still runs until its worker stops it
        a = got[0]
        code, _, raw = req("DELETE", "/api/v1/dags/apidag", ADMIN)
        check(code == 409 and "still running on workers" in raw,
              "delete with a running attempt: %d %s" % (code, raw))
        code, hb, raw = req("POST", "/api/v1/attempts/%d/heartbeat"
                            % a["attempt_id"], WORKER,
                            {"lease_id": a["lease_id"]})
        check(code == 200 and hb.get("cancel") is True,
              "heartbeat after cancel: %d %s" % (code, raw))
        code, _, raw = req("POST", "/api/v1/attempts/%d/complete"
                           % a["attempt_id"], WORKER,
                           {"lease_id": a["lease_id"], "exit_code": None,
                            "error": "killed after a cancel"})
        check(code == 200, "complete after cancel: %d %s" % (code, raw))
    code, b, raw = req("DELETE", "/api/v1/dags/apidag", ADMIN)
    check(code == 204 and raw == "", "delete: %d %s" % (code, raw))
    check(dag_row("apidag") is None, "deleted DAG still listed")
    code, _, _ = req("GET", "/api/v1/dags/apidag", READ)
    check(code == 404, "GET a deleted DAG: %d" % code)
    code, _, _ = req("GET", "/api/v1/runs/%s" % run_id, READ)
    check(code == 404, "GET a deleted DAG's run: %d" % code)
    counts = sql("SELECT (SELECT count(*) FROM dag_versions"
                 " WHERE dag_id = 'apidag') || ' ' || (SELECT count(*)"
                 " FROM runs WHERE dag_id = 'apidag')")
    check(counts == "0 0", "rows left after delete: %s" % counts)

    code, _, raw = req("DELETE", "/api/v1/dags/filedag", ADMIN)
    check(code == 409 and "remove the file" in raw,
          "delete a file DAG: %d %s" % (code, raw))
    code, _, raw = req("DELETE", "/api/v1/dags/nosuchdag", ADMIN)
    check(code == 404, "delete unknown: %d %s" % (code, raw))

    # the id is free again
    b = submit(APIDAG, 201)
    check(b.get("created") is True and b.get("new_version") is True,
          "submit after delete %s" % b)
    code, _, raw = req("DELETE", "/api/v1/dags/apidag", ADMIN)
    check(code == 204, "delete without runs: %d %s" % (code, raw))


def test_exec():
    text = ("dag: apiexec\ndefaults:\n  queue: dagapi-exec\nsteps:\n"
            "  - id: where\n"
            "    run: echo \"cwd=$(pwd -P)\" >> \"$WEIR_OUTPUTS\"\n")
    submit(text, 201)
    code, b, raw = req("POST", "/api/v1/dags/apiexec/runs", ADMIN, {})
    check(code == 201, "trigger apiexec: %d %s" % (code, raw))
    run_id = b.get("run_id") if isinstance(b, dict) else None
    r = {}

    def over():
        nonlocal r
        code, r, _ = req("GET", "/api/v1/runs/%s" % run_id, READ)
        return code == 200 and r["state"] in TERMINAL

    wait_for(over, 30, 0.2)
    t = (r or {}).get("tasks", [{}])[0]
    check(r.get("state") == "success" and
          t.get("outputs") == {"cwd": os.path.realpath(DAGS_DIR)},
          "API DAG on a real worker: %s" % r)


run_tests("dagapi", [test_submit_and_update, test_refusals, test_delete]
          + ([test_exec] if EXEC else []))
