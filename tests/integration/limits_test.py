# SPDX-License-Identifier: Apache-2.0
"""Request limits against a running weir-server (urllib and sockets):
connections per client address, the header deadline, JSON depth and size,
invalid UTF-8, out-of-range metric times, webhook body limits, replays and
probing, and 5xx replies that keep the database's words to the log.

  limits_test.py main   -- everything with the database up
  limits_test.py stored -- with a too deep payload put in the database
  limits_test.py proxy  -- a server with --trusted-proxy 127.0.0.5
                           --max-conns-per-client 4
  limits_test.py down   -- with the database stopped
"""
import hashlib
import hmac
import json
import os
import socket
import sys
import time

from weirtest import (ADMIN, BASE, READ, WORKER, Worker, call, check, req,
                      run_tests, trigger, wait_for)

SECRET = os.environ.get("WEIR_TEST_HOOK_SECRET", "").encode()
HOST, PORT = BASE[len("http://"):].rsplit(":", 1)
PORT = int(PORT)


def connect_from(src, timeout=5):
    """A TCP connection to the server from source address src."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect((HOST, PORT))
    return s


def closed_by_server(s, wait):
    """Whether the server closed s (EOF or reset) within wait s."""
    s.settimeout(wait)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def nested(depth):
    """A JSON value depth arrays deep."""
    return json.loads("[" * depth + "]" * depth)


def error_message(b):
    return (b or {}).get("error", {}).get("message", "") \
        if isinstance(b, dict) else ""


def test_flood_one_address():
    """256 idle connections from 127.0.0.2 (as many as the server takes
    at once): past the per-address cap a connection has 2 s to present a
    token, so after that at most the cap is kept, and from 127.0.0.1
    health answers within 1 s and a worker leases."""
    flood = []
    try:
        for _ in range(256):
            try:
                flood.append(connect_from("127.0.0.2"))
            except OSError:
                break
        # past the cap a connection has 2 s to present a token
        time.sleep(2.8)
        kept = [s for s in flood if not closed_by_server(s, 0.01)]
        check(len(kept) <= 32,
              "the server kept %d idle connections from one address, "
              "want at most 32" % len(kept))
        t0 = time.monotonic()
        try:
            code, b = req("GET", "/api/v1/health", None, timeout=5)
        except OSError as e:
            code, b = 0, repr(e)
        took = time.monotonic() - t0
        check(code == 200 and took < 1.0,
              "health under a flood: %s in %.2f s %s" % (code, took, b))
        t0 = time.monotonic()
        try:
            w = Worker("lim-flood", ["lim-q"])
            trigger("lim-work")
            got = w.lease(1, wait_ms=3000)
            check(len(got) == 1, "lease under a flood: %s" % got)
            if got:
                w.complete(got[0])
        except OSError as e:
            check(False, "worker under a flood: %r" % e)
        took = time.monotonic() - t0
        check(took < 5.0, "register, trigger and lease took %.2f s" % took)
    finally:
        for s in flood:
            s.close()


def test_authenticated_exempt():
    """Authenticated keep-alive connections from one address do not count
    against its cap."""
    conns = []
    try:
        for i in range(40):
            s = connect_from("127.0.0.4")
            s.sendall(("GET /api/v1/dags HTTP/1.1\r\nHost: x\r\n"
                       "Authorization: Bearer %s\r\n\r\n" % READ).encode())
            data = s.recv(200)
            if not check(data.startswith(b"HTTP/1.1 200"),
                         "authenticated connection %d: %r" % (i, data[:60])):
                break
            conns.append(s)
    finally:
        for s in conns:
            s.close()


def test_header_deadline():
    """A client trickling its headers is cut off after about 5 s, not
    120 s."""
    s = connect_from("127.0.0.3")
    try:
        s.sendall(b"GET /api/v1/health HTTP/1.1\r\n")
        t0 = time.monotonic()
        gone = False
        while time.monotonic() - t0 < 12:
            try:
                s.sendall(b"X")
            except OSError:
                gone = True
                break
            if closed_by_server(s, 1.0):
                gone = True
                break
        took = time.monotonic() - t0
        check(gone and took < 11,
              "a trickled request was kept %.1f s (gone=%s)" % (took, gone))
    finally:
        s.close()


def test_json_depth():
    """Documents deeper than 64 levels are refused at the door with the
    limit named; readers of what is stored still answer."""
    code, b = req("POST", "/api/v1/events", ADMIN,
                  {"name": "lim.deep", "payload": nested(200)})
    check(code == 400 and "64" in error_message(b),
          "a 200-deep payload: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/dags/lim-work/runs", ADMIN,
                  {"params": {"x": nested(70)}})
    check(code == 400 and "64" in error_message(b),
          "a 70-deep run body: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/events", ADMIN,
                  {"name": "lim.ok", "payload": nested(60)})
    check(code == 202, "a 60-deep payload: %d %s" % (code, b))
    code, b = req("GET", "/api/v1/events?limit=5", READ)
    check(code == 200, "events listing: %d %s" % (code, b))


def test_events_page_bytes():
    """A listing of events with large payloads stops at about 8 MiB and
    says where to go on: paging returns every event once."""
    big = "x" * (900 * 1024)
    ids = []
    for i in range(12):
        code, b = req("POST", "/api/v1/events", ADMIN,
                      {"name": "lim.big", "id": "big-%d" % i,
                       "payload": {"blob": big, "i": i}})
        check(code == 202, "big event %d: %d %s" % (i, code, b))
        ids.append(b.get("id"))
    seen, cursor, pages, biggest = [], None, 0, 0
    while pages < 20:
        path = "/api/v1/events?limit=500" + (
            "&cursor=%d" % cursor if cursor else "")
        code, b = req("GET", path, READ)
        if not check(code == 200, "events page: %d" % code):
            return
        pages += 1
        biggest = max(biggest, len(json.dumps(b)))
        seen += [e["ext_id"] for e in b["events"] if e["name"] == "lim.big"]
        cursor = b.get("next_cursor")
        if not cursor:
            break
    check(pages >= 2 and biggest < 9 * 2**20,
          "%d page(s), the largest %d bytes" % (pages, biggest))
    check(sorted(seen) == sorted("big-%d" % i for i in range(12)),
          "every big event once: %s" % seen)


def announce(path, token, length):
    """The status line the server answers to a POST of path announcing
    length bytes of body, before any of it is sent."""
    s = connect_from("127.0.0.1")
    try:
        s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\n"
                   "Authorization: Bearer %s\r\n"
                   "Content-Length: %d\r\n\r\n" % (path, token, length))
                  .encode())
        return s.recv(200).split(b"\r\n")[0]
    finally:
        s.close()


def test_json_size():
    """1 MiB per event payload and per JSON body, 16 MiB per batch."""
    big = "x" * (1024 * 1024 + 10)
    code, b = req("POST", "/api/v1/events", ADMIN,
                  {"events": [{"name": "lim.big", "payload": {"s": big}}]})
    check(code in (400, 413) and "1048576" in error_message(b),
          "a batch with a 1 MiB payload: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/events", ADMIN,
                  {"name": "lim.big", "payload": {"s": big}})
    check(code in (400, 413) and "1048576" in error_message(b),
          "one 1 MiB payload: %d %s" % (code, b))
    status = announce("/api/v1/dags", ADMIN, 1024 * 1024 + 10)
    check(status.startswith(b"HTTP/1.1 413"), "a 1 MiB DAG: %r" % status)
    status = announce("/api/v1/workers/register", WORKER, 1024 * 1024 + 10)
    check(status.startswith(b"HTTP/1.1 413"),
          "a 1 MiB register body: %r" % status)


def test_utf8():
    """Invalid UTF-8 anywhere is a 400 naming the field."""
    bad = b'{"name": "lim.\xff", "payload": {}}'
    code, b = req("POST", "/api/v1/events", ADMIN, data=bad)
    check(code == 400 and "name" in error_message(b)
          and "UTF-8" in error_message(b),
          "an event name with 0xff: %d %s" % (code, b))
    bad = b'{"name": "lim.u", "payload": {"k\xc3": 1}}'
    code, b = req("POST", "/api/v1/events", ADMIN, data=bad)
    check(code == 400 and "payload" in error_message(b),
          "a payload key with a cut sequence: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/workers/register", WORKER,
                  data=b'{"name": "w\xed\xa0\x80", "queues": ["q"]}')
    check(code == 400 and "name" in error_message(b),
          "a worker name with a surrogate: %d %s" % (code, b))
    code, b = req("GET", "/api/v1/runs?dag=%FF", READ)
    check(code == 400 and "dag" in error_message(b),
          "a query parameter with 0xff: %d %s" % (code, b))
    code, b = req("GET", "/api/v1/dags/%C0%AF", READ)
    check(code == 400 and "path" in error_message(b),
          "a path parameter with an overlong form: %d %s" % (code, b))


def test_metric_time():
    code, b = req("POST", "/api/v1/metrics", ADMIN,
                  {"name": "lim.m", "value": 1, "time": 1e300})
    check(code == 400 and "time" in error_message(b),
          "a metric time of 1e300: %d %s" % (code, b))
    code, b = req("POST", "/api/v1/metrics", ADMIN,
                  {"name": "lim.m", "value": 1, "time": -1e300})
    check(code == 400 and "time" in error_message(b),
          "a metric time of -1e300: %d %s" % (code, b))


def hook(body, headers=None, sign=True, ts=None, path="lim-hook/push"):
    raw = json.dumps(body).encode()
    h = dict(headers or {})
    if ts is not None:
        h["X-Weir-Timestamp"] = str(ts)
    if sign:
        signed = (str(ts).encode() + b"." + raw) if ts is not None else raw
        h["X-Hub-Signature-256"] = "sha256=" + hmac.new(
            SECRET, signed, hashlib.sha256).hexdigest()
    return req("POST", "/api/v1/hooks/" + path, None, data=raw, headers=h)


def test_webhook_body_limit():
    code, b = call("POST", "/api/v1/hooks/lim-hook/push", None,
                   data=b"{" + b" " * (300 * 1024) + b"}")[:2]
    check(code == 413, "a 300 KiB webhook body: %d %s" % (code, b[:200]))


def test_webhook_trigger_limit():
    """A trigger's max_body: a signed body over it is a 413 naming the
    limit; an unsigned one is the same 401 as any other."""
    code, b = hook({"s": "x" * 2000}, path="lim-small-hook/push")
    check(code == 413 and "max_body" in error_message(b),
          "a signed 2 KB body to a 1 KiB webhook: %d %s" % (code, b))
    code, b = hook({"s": "x" * 2000}, sign=False, path="lim-small-hook/push")
    check(code == 401 and "max_body" not in json.dumps(b),
          "an unsigned 2 KB body to a 1 KiB webhook: %d %s" % (code, b))
    code, b = hook({"s": "x" * 500}, path="lim-small-hook/push")
    check(code == 202, "a signed 500 B body to a 1 KiB webhook: %d %s"
          % (code, b))


def test_webhook_replay():
    code, b = hook({"n": 1}, {"X-GitHub-Delivery": "d-1"})
    check(code == 202 and b.get("runs") == 1, "first delivery: %d %s"
          % (code, b))
    code, b = hook({"n": 1}, {"X-GitHub-Delivery": "d-1"})
    check(code == 202 and b.get("duplicate") is True and b.get("runs") == 0,
          "a replayed delivery: %d %s" % (code, b))
    code, b = hook({"n": 2}, {"X-Weir-Delivery": "d-2"})
    check(code == 202 and b.get("duplicate") is False,
          "a new delivery id: %d %s" % (code, b))


def test_webhook_timestamp():
    now = int(time.time())
    code, b = hook({"n": 3}, ts=now)
    check(code == 202, "a fresh signed timestamp: %d %s" % (code, b))
    code, b = hook({"n": 4}, ts=now - 3600)
    check(code == 401, "a timestamp an hour old: %d %s" % (code, b))
    raw = json.dumps({"n": 5}).encode()
    sig = "sha256=" + hmac.new(SECRET, raw, hashlib.sha256).hexdigest()
    code, b = req("POST", "/api/v1/hooks/lim-hook/push", None, data=raw,
                  headers={"X-Weir-Timestamp": str(now),
                           "X-Hub-Signature-256": sig})
    check(code == 401, "a timestamp outside the signature: %d %s"
          % (code, b))


def test_webhook_probe():
    """Unsigned calls look the same whether or not the DAG and trigger
    exist, and never name the secret's variable."""
    replies = []
    for path in ("lim-hook/push", "lim-hook/nope", "no-such-dag/push"):
        code, b = hook({"n": 1}, sign=False, path=path)
        replies.append((code, b))
        check(code == 401 and "WEIR_TEST_HOOK_SECRET" not in json.dumps(b)
              and "lim-hook" not in json.dumps(b),
              "unsigned %s: %d %s" % (path, code, b))
    check(replies[0] == replies[1] == replies[2],
          "unsigned replies differ: %s" % replies)


def test_stored_deep():
    """An event stored 1100 deep (written straight into the database, as
    before the depth limit) makes the listing fail as what it is: a 500
    that says nothing of memory, the parse failure in the log."""
    code, b = req("GET", "/api/v1/events?limit=5", READ)
    check(code == 500 and "memory" not in json.dumps(b),
          "events listing with a stored 1100-deep payload: %d %s"
          % (code, b))


def health_on(s, xff):
    """The status line of GET /api/v1/health on connection s, sent with
    X-Forwarded-For: xff (keep-alive)."""
    s.sendall(("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n"
               "X-Forwarded-For: %s\r\n\r\n" % xff).encode())
    return s.recv(4096).split(b"\r\n")[0]


def test_proxy():
    """A server with --trusted-proxy 127.0.0.5 --max-conns-per-client 4:
    behind the proxy each forwarded client has its own cap; the proxy's
    own address has none; X-Forwarded-For from anyone else is ignored."""
    conns = []
    try:
        got = []
        for _ in range(5):
            s = connect_from("127.0.0.5")
            conns.append(s)
            got.append(health_on(s, "10.9.8.7, 10.0.0.1"))
        check(all(g.startswith(b"HTTP/1.1 200") for g in got[:4])
              and got[4].startswith(b"HTTP/1.1 429"),
              "five connections of one forwarded client: %s" % got)
        s = connect_from("127.0.0.5")
        conns.append(s)
        g = health_on(s, "10.0.0.2")
        check(g.startswith(b"HTTP/1.1 200"),
              "another forwarded client behind the proxy: %r" % g)
        got = []
        for i in range(5):
            s = connect_from("127.0.0.6")
            conns.append(s)
            try:
                got.append(health_on(s, "10.0.0.%d" % (i + 10)))
            except OSError as e:
                got.append(repr(e).encode())
        check(all(g.startswith(b"HTTP/1.1 200") for g in got[:4])
              and not got[4].startswith(b"HTTP/1.1 200"),
              "X-Forwarded-For from an untrusted address: %s" % got)
    finally:
        for s in conns:
            s.close()


def test_down():
    """With the database stopped, 5xx replies say what failed in general
    terms and nothing of libpq's text."""
    for method, path, token, body in (
            ("GET", "/api/v1/health", None, None),
            ("GET", "/api/v1/runs", READ, None),
            ("POST", "/api/v1/events", ADMIN, {"name": "x"})):
        code, b = req(method, path, token, body, timeout=30)
        text = json.dumps(b)
        check(code == 503 and all(w not in text for w in (
            "connection to", "socket", "PGSQL", "postgres", "/tmp")),
              "%s %s with the database down: %d %s" % (method, path, code,
                                                      text))


if __name__ == "__main__":
    if sys.argv[1] == "down":
        run_tests("limits down", [test_down])
    if sys.argv[1] == "proxy":
        run_tests("limits proxy", [test_proxy])
    if sys.argv[1] == "stored":
        run_tests("limits stored", [test_stored_deep])
    run_tests("limits", [test_flood_one_address, test_authenticated_exempt,
                         test_header_deadline, test_json_depth,
                         test_json_size, test_events_page_bytes, test_utf8,
                         test_metric_time,
                         test_webhook_body_limit, test_webhook_trigger_limit,
                         test_webhook_replay,
                         test_webhook_timestamp, test_webhook_probe])
