#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A small OpenID Connect provider for the tests (Debian's python3-jwt and
python3-cryptography): discovery, JWKS, an authorize endpoint that
approves the configured user at once, and a token endpoint that checks
the client secret (HTTP Basic), the code (single use) and the PKCE
verifier (S256).

    provider.py PORT_FILE CLIENT_ID CLIENT_SECRET

Listens on 127.0.0.1 (a free port, written to PORT_FILE). POST /control
with a JSON object changes what the next sign-ins get:
  user, groups       who signs in
  email              the email claim (default: the user's name)
  email_verified     its email_verified claim (default true)
  kid                the key that signs (rsa1, ec1, rsa2; default rsa1)
  publish            the kids the JWKS holds (default rsa1 and ec1)
  forge              none, wrong_sig (signed by a key never published,
                     under the signing kid), wrong_aud, expired,
                     replay_nonce (the nonce of the sign-in before)
GET /control says what it has seen: token calls, refusals, JWKS fetches.
"""
import base64
import hashlib
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

KEYS = {
    "rsa1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "rsa2": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ec1": ec.generate_private_key(ec.SECP256R1()),
}
ROGUE = rsa.generate_private_key(public_exponent=65537, key_size=2048)

lock = threading.Lock()
state = {
    "user": "alice", "groups": ["weir-admins"], "kid": "rsa1",
    "publish": ["rsa1", "ec1"], "forge": "none",
    "email": None, "email_verified": True,
}
seen = {"token_calls": 0, "token_refused": [], "jwks_fetches": 0,
        "authorize": 0}
codes = {}  # code -> what the authorize call asked
last_nonce = [None]


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk(kid):
    pub = KEYS[kid].public_key()
    if kid.startswith("ec"):
        n = pub.public_numbers()
        return {"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
                "alg": "ES256", "x": b64u(n.x.to_bytes(32, "big")),
                "y": b64u(n.y.to_bytes(32, "big"))}
    n = pub.public_numbers()
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": b64u(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
            "e": b64u(n.e.to_bytes(3, "big"))}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path == "/.well-known/openid-configuration":
            self.reply(200, {
                "issuer": ISSUER,
                "authorization_endpoint": ISSUER + "/authorize",
                "token_endpoint": ISSUER + "/token",
                "jwks_uri": ISSUER + "/jwks",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported":
                    ["client_secret_basic"]})
        elif u.path == "/jwks":
            with lock:
                seen["jwks_fetches"] += 1
                keys = [jwk(k) for k in state["publish"]]
            self.reply(200, {"keys": keys})
        elif u.path == "/authorize":
            self.authorize(q)
        elif u.path == "/control":
            with lock:
                self.reply(200, dict(seen, state=state))
        else:
            self.reply(404, {"error": "not_found"})

    def authorize(self, q):
        bad = None
        if q.get("response_type") != "code":
            bad = "response_type"
        elif q.get("client_id") != CLIENT_ID:
            bad = "client_id"
        elif q.get("code_challenge_method") != "S256" or \
                len(q.get("code_challenge", "")) != 43:
            bad = "pkce"
        elif not q.get("state") or not q.get("nonce"):
            bad = "state/nonce"
        elif "openid" not in q.get("scope", "").split():
            bad = "scope"
        if bad:
            self.reply(400, {"error": "invalid_request", "what": bad})
            return
        code = b64u(hashlib.sha256(str(time.time_ns()).encode() +
                                   q["state"].encode()).digest())
        with lock:
            seen["authorize"] += 1
            codes[code] = dict(q, user=state["user"],
                               groups=list(state["groups"]),
                               email=state["user"] if state["email"] is None
                               else state["email"],
                               email_verified=state["email_verified"])
        loc = q["redirect_uri"] + "?" + urllib.parse.urlencode(
            {"code": code, "state": q["state"]})
        self.reply(302, None, {"Location": loc})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        if self.path == "/control":
            with lock:
                state.update(json.loads(body))
            self.reply(200, state)
        elif self.path == "/token":
            self.token(dict(urllib.parse.parse_qsl(body.decode())))
        else:
            self.reply(404, {"error": "not_found"})

    def refuse(self, why):
        with lock:
            seen["token_refused"].append(why)
        self.reply(400, {"error": "invalid_grant", "what": why})

    def token(self, f):
        with lock:
            seen["token_calls"] += 1
        want = "Basic " + base64.b64encode(
            (urllib.parse.quote(CLIENT_ID, safe="") + ":" +
             urllib.parse.quote(SECRET, safe="")).encode()).decode()
        if self.headers.get("Authorization") != want:
            return self.refuse("client authentication")
        if self.headers.get("Content-Type") != \
                "application/x-www-form-urlencoded":
            return self.refuse("content type")
        with lock:
            asked = codes.pop(f.get("code", ""), None)
        if f.get("grant_type") != "authorization_code" or asked is None:
            return self.refuse("code")
        if f.get("redirect_uri") != asked["redirect_uri"]:
            return self.refuse("redirect_uri")
        verifier = f.get("code_verifier", "")
        if b64u(hashlib.sha256(verifier.encode()).digest()) != \
                asked["code_challenge"]:
            return self.refuse("pkce verifier")
        self.reply(200, {"access_token": "unused", "token_type": "Bearer",
                         "id_token": self.id_token(asked)})

    def id_token(self, asked):
        with lock:
            forge, kid = state["forge"], state["kid"]
            nonce = asked["nonce"]
            if forge == "replay_nonce" and last_nonce[0]:
                nonce = last_nonce[0]
            last_nonce[0] = asked["nonce"]
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": "id-" + asked["user"],
                  "aud": "someone-else" if forge == "wrong_aud"
                  else CLIENT_ID,
                  "exp": now - 3600 if forge == "expired" else now + 300,
                  "iat": now - 3700 if forge == "expired" else now,
                  "nonce": nonce, "preferred_username": asked["user"],
                  "email": asked["email"],
                  "email_verified": asked["email_verified"],
                  "groups": asked["groups"]}
        key = ROGUE if forge == "wrong_sig" else KEYS[kid]
        alg = "ES256" if kid.startswith("ec") else "RS256"
        if forge == "wrong_sig":
            alg = "RS256"
        return jwt.encode(claims, key, algorithm=alg,
                          headers={"kid": kid})


if __name__ == "__main__":
    port_file, CLIENT_ID, secret_file = sys.argv[1:4]
    SECRET = open(secret_file).read().strip()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ISSUER = "http://127.0.0.1:%d" % srv.server_address[1]
    with open(port_file + ".tmp", "w") as out:
        out.write(str(srv.server_address[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()
