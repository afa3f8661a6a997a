# SPDX-License-Identifier: Apache-2.0
"""Tokens and worker identity against a real weir-server: tokens are
created, listed (never with a secret), expire and are revoked (a revoked
token is refused at once, on an open long-poll too); a registered worker
is bound to its token (another token gets 403 on its lease, heartbeat,
logs and completion, and cannot take its name); a worker token limited to
queues registers only for those.

Environment: WEIR_URL, WEIR_ADMIN, WEIR_SERVER_BIN, WEIR_DB (libpq URL).
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weirtest  # noqa: E402
from weirtest import ADMIN, check, req  # noqa: E402


def new_token(role, name, **extra):
    body = {"role": role, "name": name}
    body.update(extra)
    code, b = req("POST", "/api/v1/tokens", ADMIN, body)
    check(code == 201, "create %s token %s: %d %s" % (role, name, code, b))
    return b.get("token") if isinstance(b, dict) else None


def register(token, name, queues=None):
    body = {"name": name}
    if queues is not None:
        body["queues"] = queues
    return req("POST", "/api/v1/workers/register", token, body)


def test_api():
    t = new_token("read", "viewer-1")
    check(t and t.startswith("weir_"), "no secret in the create reply")
    code, b = req("GET", "/api/v1/dags", t)
    check(code == 200, "a new read token: %d" % code)
    code, b = req("POST", "/api/v1/tokens", ADMIN,
                  {"role": "read", "name": "x", "expire": "1d"})
    check(code == 400 and 'did you mean "expires"' in str(b),
          "an unknown key: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/tokens", ADMIN,
                  {"role": "read", "name": "viewer-1"})
    check(code == 409 and "already named" in str(b),
          "a live name twice: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/tokens", ADMIN,
                  {"role": "read", "name": "y", "expires": "soon"})
    check(code == 400 and "expires" in str(b), "bad expires: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/tokens", ADMIN,
                  {"role": "read", "name": "y", "queues": ["prod"]})
    check(code == 400 and "worker token" in str(b),
          "queues on a read token: %d %s" % (code, b))
    code, b = req("GET", "/api/v1/tokens", t)
    check(code == 403, "a read token lists tokens: %d" % code)
    code, b = req("GET", "/api/v1/tokens", ADMIN)
    check(code == 200, "list: %d %s" % (code, b))
    rows = {x["name"]: x for x in b.get("tokens", [])}
    v = rows.get("viewer-1", {})
    check(v.get("role") == "read" and v.get("state") == "live" and
          v.get("last_used_at"), "viewer-1 in the list: %s" % v)
    check(t not in str(b) and "hash" not in str(b),
          "the list shows a secret or a hash")
    code, b = req("DELETE", "/api/v1/tokens/viewer-1", ADMIN)
    check(code == 200, "revoke: %d %s" % (code, b))
    code, b = req("GET", "/api/v1/dags", t)
    check(code == 401, "a revoked token: %d %s" % (code, b))
    code, b = req("DELETE", "/api/v1/tokens/viewer-1", ADMIN)
    check(code == 404, "revoke twice: %d %s" % (code, b))
    code, b = req("GET", "/api/v1/tokens", ADMIN)
    v = [x for x in b["tokens"] if x["name"] == "viewer-1"]
    check(v and v[0]["state"] == "revoked" and v[0]["revoked_at"],
          "revoked in the list: %s" % v)
    # the name is free again once revoked; POST .../revoke works too
    t2 = new_token("read", "viewer-1")
    code, b = req("POST", "/api/v1/tokens/viewer-1/revoke", ADMIN)
    check(code == 200, "POST revoke: %d %s" % (code, b))
    code, _ = req("GET", "/api/v1/dags", t2)
    check(code == 401, "revoked with POST: %d" % code)


def test_expiry():
    t = new_token("read", "short", expires="2s")
    code, _ = req("GET", "/api/v1/dags", t)
    check(code == 200, "before expiry: %d" % code)
    time.sleep(2.5)
    code, b = req("GET", "/api/v1/dags", t)
    check(code == 401, "after expiry: %d %s" % (code, b))
    code, b = req("GET", "/api/v1/tokens", ADMIN)
    v = [x for x in b["tokens"] if x["name"] == "short"]
    check(v and v[0]["state"] == "expired" and v[0]["expires_at"],
          "expired in the list: %s" % v)


def test_long_poll_revoked():
    t = new_token("worker", "poller")
    code, w = register(t, "poller-1")
    if not check(code == 200, "register: %d %s" % (code, w)):
        return
    got = {}

    def poll():
        start = time.monotonic()
        got["code"], got["body"] = req(
            "POST", "/api/v1/workers/%d/lease" % w["worker_id"], t,
            {"wait_ms": 30000}, timeout=60)
        got["s"] = time.monotonic() - start

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(1.0)
    code, b = req("DELETE", "/api/v1/tokens/poller", ADMIN)
    check(code == 200, "revoke poller: %d %s" % (code, b))
    revoked = time.monotonic()
    th.join(40)
    check(got.get("code") == 401,
          "an open long-poll after revoke: %s" % got)
    check(time.monotonic() - revoked < 5,
          "the long-poll took %.1f s to notice the revoke"
          % (time.monotonic() - revoked))


def test_worker_identity():
    t1 = new_token("worker", "w-one")
    t2 = new_token("worker", "w-two")
    code, w1 = register(t1, "ident-1")
    if not check(code == 200, "register ident-1: %d %s" % (code, w1)):
        return
    wid = w1["worker_id"]
    code, b = register(t2, "ident-1")
    check(code == 403, "another token takes a worker's name: %d %s"
          % (code, b))
    code, b = req("POST", "/api/v1/workers/%d/lease" % wid, t2, {})
    check(code == 403, "lease as another token's worker: %d %s" % (code, b))
    run_id = weirtest.trigger("ident")
    if run_id is None:
        return
    a = None
    for _ in range(100):
        code, b = req("POST", "/api/v1/workers/%d/lease" % wid, t1,
                      {"wait_ms": 1000})
        if code == 200 and b["attempts"]:
            a = b["attempts"][0]
            break
    if not check(a is not None, "ident-1 got no attempt"):
        return
    path = "/api/v1/attempts/%d" % a["attempt_id"]
    lease = {"lease_id": a["lease_id"]}
    code, b = req("POST", path + "/heartbeat", t2, lease)
    check(code == 403, "heartbeat by another token: %d %s" % (code, b))
    code, b = req("POST", path + "/logs", t2, dict(lease, lines=[
        {"seq": 0, "ts": 1, "stream": "stdout", "line": "forged"}]))
    check(code == 403, "logs by another token: %d %s" % (code, b))
    code, b = req("POST", path + "/complete", t2,
                  dict(lease, exit_code=0))
    check(code == 403, "complete by another token: %d %s" % (code, b))
    code, b = req("POST", path + "/complete", ADMIN,
                  dict(lease, exit_code=0))
    check(code == 403, "complete by an admin token: %d %s" % (code, b))
    # nor claim the next attempts for another token's worker
    code, w2 = register(t2, "ident-2")
    check(code == 200, "register ident-2: %d %s" % (code, w2))
    code, b = req("POST", path + "/complete", t1,
                  dict(lease, exit_code=0,
                       lease={"worker_id": w2.get("worker_id", 0)}))
    check(code == 403, "complete with a lease for another token's worker: "
          "%d %s" % (code, b))
    # the owner still can
    code, b = req("POST", path + "/heartbeat", t1, lease)
    check(code == 200, "heartbeat by the owner: %d %s" % (code, b))
    code, b = req("POST", path + "/complete", t1, dict(lease, exit_code=0))
    check(code == 200, "complete by the owner: %d %s" % (code, b))
    # once its token is revoked, the name may be taken over
    code, _ = req("DELETE", "/api/v1/tokens/w-one", ADMIN)
    check(code == 200, "revoke w-one: %d" % code)
    code, b = register(t2, "ident-1")
    check(code == 200 and b.get("worker_id") == wid,
          "take over a revoked token's worker: %d %s" % (code, b))


def test_queues():
    t = new_token("worker", "prod-only", queues=["prod"])
    code, b = req("GET", "/api/v1/tokens", ADMIN)
    v = [x for x in b["tokens"] if x["name"] == "prod-only"]
    check(v and v[0]["queues"] == ["prod"], "queues in the list: %s" % v)
    code, b = register(t, "q-1", ["default"])
    check(code == 403 and "prod" in str(b),
          "register for a queue the token may not serve: %d %s" % (code, b))
    code, b = register(t, "q-1")
    check(code == 403, "register for the default queue: %d %s" % (code, b))
    code, b = register(t, "q-1", ["prod", "dev"])
    check(code == 403, "register for prod and dev: %d %s" % (code, b))
    code, b = register(t, "q-1", ["prod"])
    check(code == 200, "register for prod: %d %s" % (code, b))
    # queues that fit the API's count but not the stored list are refused
    # at creation with their size, not accepted into a token that cannot
    # register (a 500 at its first registration before)
    many = ["q%02d-" % i + "x" * 59 for i in range(64)]
    code, b = req("POST", "/api/v1/tokens", ADMIN,
                  {"role": "worker", "name": "too-many-queues", "queues": many})
    check(code == 400 and "at most 2047" in str(b),
          "queues over the stored size: %d %s" % (code, b))
    code, b = req("GET", "/api/v1/tokens", ADMIN)
    check(not any(x["name"] == "too-many-queues" for x in b["tokens"]),
          "a refused token is not stored")


def test_last_admin():
    code, b = req("GET", "/api/v1/tokens", ADMIN)
    admins = [x["name"] for x in b["tokens"]
              if x["role"] == "admin" and x["state"] == "live"]
    check(admins == ["first admin"], "admins: %s" % admins)
    code, b = req("DELETE", "/api/v1/tokens/first%20admin", ADMIN)
    check(code == 409 and "last admin" in str(b),
          "revoke the last admin token: %d %s" % (code, b))


for test in (test_api, test_expiry, test_long_poll_revoked,
             test_worker_identity, test_queues, test_last_admin):
    try:
        test()
    except Exception as e:  # a crash is a failure with its cause
        import traceback
        traceback.print_exc()
        check(False, "%s raised %r" % (test.__name__, e))

if weirtest.failures:
    print("%d check(s) failed" % len(weirtest.failures), file=sys.stderr)
    sys.exit(1)
print("tokens: all checks passed")
