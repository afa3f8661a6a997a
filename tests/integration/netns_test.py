# SPDX-License-Identifier: Apache-2.0
"""A worker on another host (docs/deploy.md, "TLS and workers on other
hosts"): weir-server listens with TLS on this side of a veth pair
(WEIR_ADDR), the worker "inside" runs in the network namespace WEIR_NETNS
and reaches it over the link, the worker "outside" runs here (on the same
address: the server listens on one).

While both steps of a run are at work inside, the link is cut (WEIR_VETH
down) for longer than the lease TTL: the tries are lost and retried
outside; once the link is back, the late completion of the inside worker
is refused with 409 and the step still running there is stopped (its
process group) when the worker learns of it; the inside worker then runs
a new run. Also: a non-loopback --listen without TLS needs
--insecure-http.

Started by run_netns.sh (the namespace, the certificates, the DAGs of
netns_dags); see tlstest.py for the rest of the environment.
"""
import os
import re
import signal
import subprocess
import time

from tlstest import (SERVER_BIN, TMP, Server, Worker, alive, call, cert,
                     note, read, refused_start, trigger, wait_run)
from weirtest import check, create_token, run_tests, wait_for, write_token

DB = os.environ["WEIR_DB_URL"]
NS = os.environ["WEIR_NETNS"]
VETH = os.environ["WEIR_VETH"]
ADDR = os.environ["WEIR_ADDR"]
LEASE_TTL_MS = 2000
INSIDE = ["ip", "netns", "exec", NS]
T = {}
S = {}


def setup():
    for role in ("admin", "worker", "read"):
        T[role] = create_token(SERVER_BIN, DB, role, "netns-" + role)
    T["file"] = os.path.join(TMP, "worker.token")
    write_token(T["file"], T["worker"])


def link(state):
    subprocess.run(["ip", "link", "set", VETH, state], check=True)


def pid_of(name):
    """The pid a step wrote to $TMP/NAME.pid, or None."""
    text = read(os.path.join(TMP, name + ".pid")).strip()
    return int(text) if text.isdigit() else None


def test_insecure_http():
    """Without TLS, a non-loopback address needs --insecure-http; with it
    the server serves plain HTTP there."""
    rc, err = refused_start("--listen", ADDR + ":0", "--allow-remote")
    check(rc == 2 and "--insecure-http" in err,
          "a non-loopback listen without TLS: exit %d %r" % (rc, err))
    srv = Server(ADDR, "--allow-remote", "--insecure-http",
                 name="server-plain")
    out = subprocess.run(
        INSIDE + ["python3", "-c",
                  "import urllib.request as u;"
                  "print(u.urlopen('http://%s:%d/api/v1/health',"
                  "timeout=10).status)" % (ADDR, srv.port)],
        capture_output=True, text=True, timeout=30)
    check(out.stdout.strip() == "200",
          "plain HTTP from inside with --insecure-http: %s %s" %
          (out.stdout, out.stderr))
    # without TLS there is nothing to reload: SIGHUP ends the server, as
    # a hung-up terminal expects
    srv.signal(signal.SIGHUP)
    try:
        got = srv.proc.wait(10)
    except subprocess.TimeoutExpired:
        got = None
        srv.stop()
    check(got == -signal.SIGHUP,
          "a server without TLS on SIGHUP: %s (want it ended)" % got)


def test_cut_link():
    srv = S["srv"] = Server(ADDR, "--allow-remote", "--tls-cert",
                            cert("server.pem"), "--tls-key",
                            cert("server.key"), "--lease-ttl",
                            str(LEASE_TTL_MS), name="server")
    note("server on", srv.base, "lease TTL", LEASE_TTL_MS, "ms")
    inside = S["inside"] = Worker(
        "inside", srv.base, T["file"], "--ca-file", cert("ca.pem"),
        queue="cut", slots=2, prefix=INSIDE)
    run_id = S["run"] = trigger(srv.base, T["admin"], "cut")
    check(wait_for(lambda: pid_of("late.1") and pid_of("hold.1"), 15),
          "the steps did not start inside: %s" % read(inside.log))
    link("down")
    t_cut = time.monotonic()
    note("link down")
    outside = S["outside"] = Worker(
        "outside", srv.base, T["file"], "--ca-file", cert("ca.pem"),
        queue="cut", slots=2)
    r = wait_run(srv.base, T["read"], run_id, 30)
    t_done = time.monotonic() - t_cut
    note("run %s %s %.1f s after the cut" % (run_id, (r or {}).get("state"),
                                            t_done))
    check(r and r.get("state") == "success",
          "the run did not succeed while the link was down: %s" % r)
    for task in (r or {}).get("tasks", []):
        tries = [(a.get("try"), a.get("state"), a.get("worker"))
                 for a in task.get("attempts", [])]
        check(len(tries) == 2 and tries[0][1:] == ("lost", "inside") and
              tries[1][1:] == ("success", "outside"),
              "%s: expected a lost try inside, then a success outside; "
              "got %s" % (task.get("step"), tries))
    # the retry waited for the lease to expire: a TTL after the last
    # heartbeat that got through, which may be up to a heartbeat interval
    # (a third of the TTL) before the cut
    check(t_done >= LEASE_TTL_MS / 1000.0 / 2,
          "retried %.1f s after the cut, before the lease could expire" %
          t_done)
    hold = pid_of("hold.1")
    check(hold and alive(hold),
          "the inside step stopped before its worker could know")
    # longer than the TTL in all: the inside worker's lease is long gone;
    # and try 1 of late has ended inside, its completion waiting
    time.sleep(max(0.0, 2 * LEASE_TTL_MS / 1000.0 - t_done))
    late1 = pid_of("late.1")
    check(wait_for(lambda: not alive(late1), 10),
          "try 1 of late still runs inside")
    link("up")
    t_up = time.monotonic()
    note("link up after %.1f s" % (t_up - t_cut))
    stopped = wait_for(lambda: not alive(hold), 30)
    note("inside step's process group stopped %.1f s after the link came "
         "back" % (time.monotonic() - t_up))
    check(stopped, "the inside step (pid %s) still runs: %s" %
          (hold, read(inside.log)[-2000:]))
    check("event=lease_stale" in read(inside.log),
          "the inside worker did not log lease_stale")
    # the late completion of try 1 of late: refused with 409
    late = [a for t in r.get("tasks", []) if t.get("step") == "late"
            for a in t.get("attempts", []) if a.get("try") == 1]
    late_id = late[0]["id"] if late else -1
    refused = wait_for(lambda: re.search(
        r"event=attempt_reported attempt=%s status=409" % late_id,
        read(inside.log)), 30)
    check(refused, "no refused (409) late completion of attempt %s: %s" %
          (late_id, read(inside.log)[-2000:]))
    check(re.search(r"path=\"?/api/v1/attempts/%s/complete\"? status=409" %
                    late_id, read(srv.log)),
          "the server did not answer 409 to the late completion")


def test_serves_again():
    """With the link back and the outside worker gone, the inside worker
    runs a new run."""
    srv, inside = S.get("srv"), S.get("inside")
    if not check(srv and inside, "no server or inside worker to go on"):
        return
    S["outside"].stop()
    run_id = trigger(srv.base, T["admin"], "again")
    r = wait_run(srv.base, T["read"], run_id, 30)
    worker = ((r or {}).get("tasks") or [{}])[0].get("attempts", [{}])[-1]
    check(r and r.get("state") == "success" and
          worker.get("worker") == "inside",
          "the inside worker did not serve again: %s" % r)
    inside.stop()
    srv.stop()


if __name__ == "__main__":
    setup()
    run_tests("netns", [test_insecure_http, test_cut_link,
                        test_serves_again])
