# SPDX-License-Identifier: Apache-2.0
"""Single sign-on against tests/oidc/provider.py: the whole sign-in with
an HTTP client that follows redirects and keeps cookies (as a browser
does), forged ID tokens refused, a key rotation followed, the CSRF token,
the session cookie's attributes, sign-out, and (on a second server with
short timeouts) the idle and absolute session timeouts.

Environment: WEIR_URL (the server), WEIR_SHORT_URL (the one with short
timeouts, over HTTPS with a certificate of the CA in WEIR_CA), PROVIDER (the provider's URL), WEIR_DB_DUMP (a command that
prints the sessions table), as run_oidc.sh sets them.
"""
import http.cookiejar
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from weirtest import ADMIN, BASE, check, req, run_tests  # noqa: E402
from weirtest import wait_for  # noqa: E402

SHORT = os.environ["WEIR_SHORT_URL"]
PROVIDER = os.environ["PROVIDER"]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kw):
        return None


class Browser:
    """Cookies kept per host like a browser; redirects followed one by
    one, so that every hop's headers can be looked at."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect,
            urllib.request.HTTPSHandler(context=ssl.create_default_context(
                cafile=os.environ["WEIR_CA"])))
        self.hops = []  # (url, status, headers) of the last go()

    def open(self, url, method="GET", data=None, headers=None):
        r = urllib.request.Request(url, data=data, method=method,
                                   headers=headers or {})
        try:
            with self.opener.open(r, timeout=20) as resp:
                return resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers

    def go(self, url, limit=8):
        """GET url and the redirects after it; the last reply."""
        self.hops = []
        for _ in range(limit):
            status, body, headers = self.open(url)
            self.hops.append((url, status, headers))
            if status not in (301, 302, 303, 307):
                return status, body, headers
            url = urllib.parse.urljoin(url, headers["Location"])
        raise AssertionError("too many redirects")

    def api_raw(self, path, headers):
        status, _, _ = self.open(BASE + path, headers=headers)
        return status, None

    def cookie(self, name):
        for c in self.jar:
            if c.name == name:
                return c.value
        return None

    def api(self, method, path, base=BASE, body=None, csrf=None):
        h = {"Content-Type": "application/json"} if body is not None else {}
        if csrf:
            h["X-CSRF-Token"] = csrf
        data = json.dumps(body).encode() if body is not None else None
        status, text, _ = self.open(base + path, method, data, h)
        return status, json.loads(text or b"null")


def provider(**kw):
    r = urllib.request.Request(PROVIDER + "/control",
                               data=json.dumps(kw).encode(), method="POST")
    with urllib.request.urlopen(r, timeout=10) as resp:
        return json.load(resp)


def provider_seen():
    with urllib.request.urlopen(PROVIDER + "/control", timeout=10) as resp:
        return json.load(resp)


def sign_in(user="alice", groups=("weir-admins",), base=BASE, **forge):
    """A new browser signed in (or not) through the whole flow."""
    provider(**dict({"user": user, "groups": list(groups), "forge": "none",
                     "email": None, "email_verified": True}, **forge))
    b = Browser()
    status, body, _ = b.go(base + "/auth/login")
    return b, status, body


def error_of(body):
    try:
        return json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return repr(body[:200])


def test_flow():
    status, cfg = Browser().api("GET", "/auth/config")
    check(status == 200 and cfg.get("oidc") is True,
          "GET /auth/config: %s %s" % (status, cfg))
    b, status, body = sign_in()
    urls = [u for u, _, _ in b.hops]
    check(status == 200 and b"<html" in body.lower(),
          "the sign-in does not end on the dashboard: %s %s" % (status, urls))
    check(len(b.hops) == 4 and "/authorize?" in urls[1] and
          "/auth/callback?" in urls[2] and urls[3] == BASE + "/",
          "the hops of a sign-in: %s" % urls)
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(urls[1]).query))
    check(q.get("code_challenge_method") == "S256" and
          len(q.get("code_challenge", "")) == 43 and len(q.get("state", ""))
          == 64 and len(q.get("nonce", "")) == 64,
          "the authorize request lacks PKCE S256, state or nonce: %s" % q)
    set_cookie = b.hops[2][2].get_all("Set-Cookie") or []
    sess = [c for c in set_cookie if c.startswith("weir_session=")]
    check(len(sess) == 1 and "HttpOnly" in sess[0] and
          "SameSite=Lax" in sess[0] and "Path=/" in sess[0] and
          "Secure" not in sess[0],
          "the session cookie's attributes: %s" % set_cookie)
    status, s = b.api("GET", "/api/v1/session")
    check(status == 200 and s.get("name") == "alice" and
          s.get("role") == "admin" and s.get("sso") is True and
          s.get("grants") == ["admin"] and len(s.get("csrf", "")) == 64,
          "GET /api/v1/session of a signed-in admin: %s %s" % (status, s))
    seen = provider_seen()
    check(seen["token_refused"] == [],
          "the provider refused a code exchange (client secret or PKCE "
          "verifier): %s" % seen["token_refused"])
    # the database holds the SHA-256 of the session id, never the id
    dump = subprocess.run(os.environ["WEIR_DB_DUMP"], shell=True,
                          capture_output=True, text=True).stdout
    sid = b.cookie("weir_session")
    check(sid and sid not in dump and "alice" in dump,
          "the sessions table holds the session id itself")
    return b, s


def test_csrf_and_roles():
    b, s = test_flow()
    body = {"role": "read", "name": "by-alice"}
    status, r = b.api("POST", "/api/v1/tokens", body=body)
    check(status == 403 and "X-CSRF-Token" in json.dumps(r),
          "a mutation without X-CSRF-Token: %s %s" % (status, r))
    status, r = b.api("POST", "/api/v1/tokens", body=body, csrf="0" * 64)
    check(status == 403, "a wrong X-CSRF-Token: %s %s" % (status, r))
    status, r = b.api("POST", "/api/v1/tokens", body=body, csrf=s["csrf"])
    check(status == 201, "an admin's mutation with its CSRF token: %s %s"
          % (status, r))
    status, r = b.api("GET", "/api/v1/tokens")
    check(status == 200, "an admin's read: %s %s" % (status, r))
    # a member of "readers" gets the read grant: reads, no changes
    b, status, _ = sign_in("bob", ["readers"])
    status, s = b.api("GET", "/api/v1/session")
    check(status == 200 and s.get("role") == "read" and
          s.get("grants") == ["read", "operator:env=dev,staging:dag=team-a-*"]
          and s.get("groups") == ["readers"],
          "bob's session: %s %s" % (status, s))
    status, r = b.api("GET", "/api/v1/dags")
    check(status == 200, "a reader's read: %s %s" % (status, r))
    status, r = b.api("POST", "/api/v1/tokens", csrf=s.get("csrf"),
                      body={"role": "read", "name": "by-bob"})
    check(status == 403, "a reader's mutation: %s %s" % (status, r))
    # nobody mapped: refused, no session
    b, status, body = sign_in("eve", ["strangers"])
    check(status == 403 and "no role" in error_of(body) and
          b.cookie("weir_session") is None,
          "an unmapped user: %s %s" % (status, error_of(body)))


def refused(what, want, **kw):
    b, status, body = sign_in(**kw)
    msg = error_of(body)
    check(status == 401 and want in msg and b.cookie("weir_session") is None,
          "%s: %s %s" % (what, status, msg))


def test_forged():
    refused("an ID token of a key never published", "signature",
            forge="wrong_sig")
    refused("an ID token for another audience", "audience",
            forge="wrong_aud")
    refused("an expired ID token", "expired", forge="expired")
    sign_in()  # so that the provider has a nonce to replay
    refused("an ID token with the nonce of another sign-in", "nonce",
            forge="replay_nonce")
    # the callback of a sign-in, replayed with its browser's cookies
    b, status, _ = sign_in()
    cb = b.hops[2][0]
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(cb).query))
    b2 = Browser()
    b2.jar.set_cookie(http.cookiejar.Cookie(
        0, "weir_login", state["state"], None, False, "127.0.0.1", False,
        False, "/auth/", True, False, None, False, None, None, {}))
    status, body, _ = b2.go(cb)
    check(status == 401 and "already used" in error_of(body),
          "a replayed callback: %s %s" % (status, error_of(body)))
    # a callback this browser did not start (login CSRF)
    status, body, _ = Browser().go(cb)
    check(status == 401 and "not started by this browser" in error_of(body),
          "a callback without its browser's cookie: %s %s"
          % (status, error_of(body)))


def test_user_claim():
    """The user is the verified email (--oidc-user-claim's default), not
    preferred_username, which the user may change at some providers."""
    b, status, _ = sign_in(user="mallory", email="alice")
    status, s = b.api("GET", "/api/v1/session")
    check(status == 200 and s.get("name") == "alice",
          "the user is not the email claim: %s %s" % (status, s))
    refused("an email the provider did not verify", "email_verified",
            email_verified=False)
    refused("an email_verified given as a string", "email_verified",
            email_verified="true")
    refused("an ID token without the user claim", "no usable \"email\"",
            email="")
    # the short server names users by --oidc-user-claim preferred_username
    b, status, _ = sign_in(user="mallory", email="alice", base=SHORT,
                           email_verified=False)
    status, s = b.api("GET", "/api/v1/session", base=SHORT)
    check(status == 200 and s.get("name") == "mallory",
          "--oidc-user-claim preferred_username: %s %s" % (status, s))


def test_sessions_admin():
    """Admins list the live sessions (never a secret) and end one, or all
    of a user's: the ended ones are refused at their next request."""
    alice, _, _ = sign_in()
    bob1, _, _ = sign_in("bob", ["readers"])
    bob2, _, _ = sign_in("bob", ["readers"])
    code, b = req("GET", "/api/v1/sessions", ADMIN)
    rows = b.get("sessions", []) if code == 200 else []
    bobs = [r for r in rows if r.get("user") == "bob"]
    check(code == 200 and len(bobs) >= 2 and all(
        set(r) == {"id", "user", "kind", "created_at", "last_seen_at",
                   "idle_expires_at", "expires_at", "grants", "groups"}
        for r in rows) and bobs[-1]["grants"][0] == "read",
          "GET /api/v1/sessions: %s %s" % (code, rows[:3]))
    text = json.dumps(b)
    for br in (alice, bob1, bob2):
        sid = br.cookie("weir_session")
        check(sid and sid not in text, "a session id in the list")
    status, s = bob1.api("GET", "/api/v1/session")
    csrf = s.get("csrf")
    status, r = bob1.api("GET", "/api/v1/sessions")
    check(status == 403, "a reader listed the sessions: %s %s" % (status, r))
    status, r = bob1.api("POST", "/api/v1/sessions/end", csrf=csrf,
                         body={"user": "alice"})
    check(status == 403, "a reader ended sessions: %s %s" % (status, r))
    # one ended by its id: that one refused, the other still works
    mine = {r["id"] for r in bobs}
    _, after = req("GET", "/api/v1/sessions", ADMIN)
    n_end = len(audit_recs("session.end"))
    code, b = req("DELETE", "/api/v1/sessions/%d" % bobs[-1]["id"], ADMIN)
    ends = audit_recs("session.end")
    check(len(ends) == n_end + 1 and ends[0]["outcome"] == "ok" and
          ends[0]["target"] == "sessions/%d" % bobs[-1]["id"],
          "the audit record of an ended session: %s" % ends[:1])
    check(code == 200 and b.get("ended") is True,
          "DELETE /api/v1/sessions/ID: %s %s" % (code, b))
    live = [bob1.api("GET", "/api/v1/session")[0],
            bob2.api("GET", "/api/v1/session")[0]]
    check(sorted(live) == [200, 401],
          "after ending one of bob's two sessions: %s" % live)
    code, b = req("DELETE", "/api/v1/sessions/%d" % bobs[-1]["id"], ADMIN)
    check(code == 404, "a session ended twice: %s %s" % (code, b))
    # all of a user's: bob's last one ends, alice's stays
    code, b = req("POST", "/api/v1/sessions/end", ADMIN, {"user": "bob"})
    check(code == 200 and b.get("ended", 0) >= 1,
          "POST /api/v1/sessions/end: %s %s" % (code, b))
    live = [bob1.api("GET", "/api/v1/session")[0],
            bob2.api("GET", "/api/v1/session")[0],
            alice.api("GET", "/api/v1/session")[0]]
    check(live == [401, 401, 200],
          "after ending bob's sessions (bob, bob, alice): %s" % live)
    code, b = req("POST", "/api/v1/sessions/end", ADMIN, {"usr": "bob"})
    check(code == 400, "sessions/end without user: %s %s" % (code, b))
    del mine, after


def test_pending_cap():
    """Sign-ins under way are capped (the short server: --oidc-pending-max
    3): beyond, /auth/login answers 503 without recording one. Last: the
    places stay taken for 10 minutes."""
    got = []
    for _ in range(8):
        status, body, _ = Browser().open(SHORT + "/auth/login")
        got.append(status)
        if status != 302:
            break
    print("GET /auth/login answers with --oidc-pending-max 3: %s" % got)
    check(got[-1] == 503 and len(got) <= 4 and
          "too many sign-ins in progress" in error_of(body),
          "sign-ins under way past the cap: %s %s" % (got, error_of(body)))


def test_keys():
    b, status, _ = sign_in(kid="ec1")
    status, s = b.api("GET", "/api/v1/session")
    check(status == 200 and s.get("name") == "alice",
          "a sign-in with an ES256 ID token: %s %s" % (status, s))
    before = provider_seen()["jwks_fetches"]
    refused("an ID token of a key the provider does not publish",
            "not in the provider's JWKS", kid="rsa2",
            publish=["rsa1", "ec1"])
    after = provider_seen()["jwks_fetches"]
    check(after == before + 1,
          "an unknown kid did not fetch the JWKS again (%d -> %d)"
          % (before, after))
    b, status, _ = sign_in(kid="rsa2", publish=["rsa2", "ec1"])
    status, s = b.api("GET", "/api/v1/session")
    check(status == 200 and s.get("name") == "alice",
          "after a key rotation at the provider: %s %s" % (status, s))
    provider(kid="rsa1", publish=["rsa1", "ec1"])


def audit_recs(action):
    """The audit records of action, newest first."""
    code, b = req("GET", "/api/v1/audit?limit=500&action=" + action, ADMIN)
    check(code == 200, "GET /api/v1/audit: %s %s" % (code, b))
    return b.get("records", []) if code == 200 else []


def test_logout():
    """Sign-out needs its CSRF token and ends the session; the sign-in,
    the refused sign-out and the sign-out each leave one audit record
    naming the user and its grants."""
    n_in = len(audit_recs("session.sign_in"))
    n_out = len(audit_recs("session.sign_out"))
    b, s = test_flow()
    ins = audit_recs("session.sign_in")
    check(len(ins) == n_in + 1 and ins[0]["actor"] == "alice" and
          ins[0]["actor_grants"] == ["admin"] and ins[0]["outcome"] == "ok",
          "the sign-in's audit record: %s" % ins[:1])
    status, r = b.api("POST", "/auth/logout")
    check(status == 403, "sign-out without its CSRF token: %s %s"
          % (status, r))
    status, r = b.api("GET", "/api/v1/session")
    check(status == 200, "the refused sign-out ended the session")
    status, r = b.api("POST", "/auth/logout", csrf=s["csrf"])
    check(status == 200 and b.cookie("weir_session") is None,
          "sign-out: %s %s, cookie %s" % (status, r, b.cookie("weir_session")))
    status, r = b.api("GET", "/api/v1/session")
    check(status == 401, "after sign-out: %s %s" % (status, r))
    outs = audit_recs("session.sign_out")
    check(len(outs) == n_out + 2 and
          [o["outcome"] for o in outs[:2]] == ["ok", "refused"] and
          all(o["actor"] == "alice" for o in outs[:2]),
          "the sign-outs' audit records: %s" % outs[:2])
    # the old cookie, as a copy kept elsewhere would send it
    sid = [c for c in b.hops[2][2].get_all("Set-Cookie")
           if c.startswith("weir_session=")][0].split(";")[0]
    status, _ = Browser().api_raw("/api/v1/session", {"Cookie": sid})
    check(status == 401, "the cookie of a signed-out session: %s" % status)


def test_approvers():
    """A gate's approvers name a group: the provider's groups of the
    signed-in user decide."""
    code, b = req("POST", "/api/v1/dags/sso-gate/runs", ADMIN, {})
    rid = b.get("run_id")
    check(code == 201 and rid, "trigger sso-gate: %s %s" % (code, b))

    def waiting():
        _, r = req("GET", "/api/v1/runs/%s" % rid, ADMIN)
        return any(t.get("step") == "ship" and
                   t.get("state") == "awaiting_approval"
                   for t in r.get("tasks", []))
    check(wait_for(waiting, 15) is not None,
          "sso-gate's run did not reach its gate")
    path = "/api/v1/runs/%s/steps/ship/approve" % rid
    b, _, _ = sign_in("erin", ["ops-team"])
    _, s = b.api("GET", "/api/v1/session")
    status, r = b.api("POST", path, body={}, csrf=s.get("csrf"))
    check(status == 403 and "release-managers" in json.dumps(r) and
          "ops-team" in json.dumps(r),
          "an operator outside the approvers' group approves: %s %s"
          % (status, r))
    b, _, _ = sign_in("dave", ["release-managers"])
    _, s = b.api("GET", "/api/v1/session")
    status, r = b.api("POST", path, body={}, csrf=s.get("csrf"))
    check(status == 200 and r.get("state") == "success",
          "a member of release-managers approves: %s %s" % (status, r))
    _, r = req("GET", "/api/v1/runs/%s" % rid, ADMIN)
    ship = [t for t in r.get("tasks", []) if t.get("step") == "ship"]
    check(ship and ship[0].get("outputs", {}).get("approved_by") == "dave",
          "the gate was approved by dave: %s" % ship)


def test_timeouts():
    # idle: unused for longer than --session-idle (2s) ends it
    b, status, _ = sign_in(base=SHORT)
    sess = [c for c in b.hops[2][2].get_all("Set-Cookie") or []
            if c.startswith("weir_session=")]
    check(status == 200 and len(sess) == 1 and "; Secure" in sess[0] and
          "HttpOnly" in sess[0],
          "the session cookie of a server on HTTPS: %s %s" % (status, sess))
    t0 = time.monotonic()
    status, s = b.api("GET", "/api/v1/session", base=SHORT)
    check(status == 200, "a fresh session on the short server: %s" % status)
    time.sleep(3.0)
    status, r = b.api("GET", "/api/v1/session", base=SHORT)
    print("idle: refused after %.1f s unused (--session-idle 2s)"
          % (time.monotonic() - t0))
    check(status == 401 and "sign in again" in json.dumps(r),
          "an idle session still works: %s %s" % (status, r))
    # absolute: used every 0.5 s, it still ends after --session-max (5s)
    b, status, _ = sign_in(base=SHORT)
    t0 = time.monotonic()
    last_ok = 0.0
    while time.monotonic() - t0 < 9:
        status, _ = b.api("GET", "/api/v1/session", base=SHORT)
        if status != 200:
            break
        last_ok = time.monotonic() - t0
        time.sleep(0.5)
    print("absolute: last good use at %.1f s, refused at %.1f s "
          "(--session-max 5s)" % (last_ok, time.monotonic() - t0))
    check(status == 401 and 2.5 <= last_ok <= 5.5,
          "a session used all along ended at %.1f s (status %s), not "
          "after 5 s" % (last_ok, status))


if __name__ == "__main__":
    run_tests("integration.oidc", [test_csrf_and_roles, test_forged,
                                   test_user_claim,
                                   test_keys, test_logout, test_approvers,
                                   test_timeouts, test_sessions_admin,
                                   test_pending_cap])
