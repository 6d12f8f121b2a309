"""auth: jwt against the real squalld: bearer tokens made by Debian's
python3-jwt (PyJWT) with keys made by `openssl genpkey`, checked on
handler, subscribe (long poll and server-sent events), publish and
WebSocket routes; the tokens PyJWT refuses to make ("alg": "none", an
HS256 token whose secret is the RSA public key) are made by hand. Claims
reach the handler (tests/modules/jwtmod.c), `require:` binds them to the
path, and the access log never shows a token.
"""

import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import subprocess
import time

import jwt
import websockets

from squalltest import (SquallTestCase, TEST_MODULES, main, make_config,
                        scaled, wait_for)

ISSUER = "squall-test"
AUDIENCE = "squall-api"
SECRET = "s3cret-for-the-tests-" + "x" * 24
MISSING = 'Bearer realm="squall"'
INVALID = 'Bearer realm="squall", error="invalid_token"'
FORBIDDEN = 'Bearer realm="squall", error="insufficient_scope"'

ROUTES = [
    {"path": "/whoami", "handler": "jwtmod:whoami", "auth": "jwt"},
    {"path": "/open", "handler": "jwtmod:whoami"},
    {"path": "/sub/user/{user}", "auth": "jwt", "require": {"sub": "{user}"},
     "subscribe": {"channel": "user.{user}", "poll_timeout": "1s"}},
    {"path": "/pub/user/{user}", "auth": "jwt", "require": {"role": "admin"},
     "publish": {"channel": "user.{user}"}},
    {"path": "/ws/who", "websocket": "jwtmod:who", "auth": "jwt"},
    {"path": "/ws/user/{user}", "websocket": "jwtmod:who", "auth": "jwt",
     "require": {"sub": "{user}"}},
]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def by_hand(header, claims, sign):
    """A compact JWS with any header; sign(signing_input) -> bytes."""
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(claims).encode())
    signing_input = ("%s.%s" % (head, body)).encode()
    return "%s.%s.%s" % (head, body, b64url(sign(signing_input)))


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class JwtTestCase(SquallTestCase):

    def keypair(self, kind):
        """(private PEM path, public PEM path) made by openssl genpkey."""
        priv, pub = self.path(kind + ".key"), self.path(kind + ".pub")
        if kind == "rsa":
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", priv)
        else:
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", priv)
        openssl("pkey", "-in", priv, "-pubout", "-out", pub)
        return priv, pub

    def secret_file(self):
        path = self.path("jwt.secret")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(SECRET + "\n")
        return path

    def server(self, algorithm, key_file, access=None, **jwt_conf):
        cfg = make_config(workers=2, routes=ROUTES,
                          log={"access": access} if access else None)
        cfg["modules"]["jwtmod"] = {"path": os.path.join(TEST_MODULES,
                                                         "jwtmod.so")}
        conf = {"algorithm": algorithm, "key_file": key_file}
        conf.update(jwt_conf)
        cfg["security"] = {"jwt": conf}
        return self.start_squalld(cfg)

    def claims(self, **over):
        now = int(time.time())
        c = {"sub": "alice", "role": "reader", "iss": ISSUER, "aud": AUDIENCE,
             "iat": now, "exp": now + 300}
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    def get(self, srv, target, token=None, scheme="Bearer", headers=()):
        h = list(headers)
        if token is not None:
            h.append(("Authorization", "%s %s" % (scheme, token)))
        return srv.request("GET", target, headers=h)

    def assertRefused(self, resp, status=401, challenge=INVALID):
        self.assertEqual(resp.status, status, resp)
        self.assertEqual(resp.header("WWW-Authenticate"), challenge)


class HS256(JwtTestCase):
    """The checks of a token, on a handler route of an HS256 server."""

    def setUp(self):
        super().setUp()
        self.access = self.path("access.log")
        self.srv = self.server("HS256", self.secret_file(), access=self.access,
                               issuer=ISSUER, audience=AUDIENCE)

    def token(self, **over):
        return jwt.encode(self.claims(**over), SECRET, algorithm="HS256")

    def test_valid_token_reaches_the_handler_with_its_claims(self):
        resp = self.get(self.srv, "/whoami", self.token(admin=True))
        self.assertStatus(resp, 200)
        first, claims = resp.text.split("\n", 1)
        self.assertEqual(first, "user=alice role=reader admin=true")
        self.assertEqual(json.loads(claims)["sub"], "alice")
        self.assertEqual(json.loads(claims)["aud"], AUDIENCE)

    def test_route_without_auth_has_no_claims(self):
        resp = self.get(self.srv, "/open", self.token())
        self.assertStatus(resp, 200, "user=- role=- admin=-\n-")

    def test_missing_token(self):
        resp = self.get(self.srv, "/whoami")
        self.assertRefused(resp, challenge=MISSING)
        self.srv.wait_log(r"GET /whoami: 401, bearer token refused: no "
                          r"Authorization header")

    def test_wrong_scheme(self):
        for scheme in ("Basic", "Token", "Bearer:"):
            resp = self.get(self.srv, "/whoami", self.token(), scheme=scheme)
            self.assertRefused(resp, challenge=MISSING)

    def test_scheme_is_case_insensitive(self):
        resp = self.get(self.srv, "/whoami", self.token(), scheme="bearer")
        self.assertStatus(resp, 200)

    def test_expired(self):
        resp = self.get(self.srv, "/whoami",
                        self.token(exp=int(time.time()) - 120))
        self.assertRefused(resp)
        self.srv.wait_log(r"401, bearer token refused: expired \d+ s ago")

    def test_not_yet_valid(self):
        resp = self.get(self.srv, "/whoami",
                        self.token(nbf=int(time.time()) + 120))
        self.assertRefused(resp)
        self.srv.wait_log(r"401, bearer token refused: not valid for another")

    def test_leeway_honoured_both_ways(self):
        now = int(time.time())
        # within the default 60s: a clock a little behind or ahead
        self.assertStatus(self.get(self.srv, "/whoami",
                                   self.token(exp=now - 20)), 200)
        self.assertStatus(self.get(self.srv, "/whoami",
                                   self.token(nbf=now + 20)), 200)
        # beyond it
        self.assertRefused(self.get(self.srv, "/whoami",
                                    self.token(exp=now - 90)))
        self.assertRefused(self.get(self.srv, "/whoami",
                                    self.token(nbf=now + 90)))

    def test_exp_must_be_a_number(self):
        resp = self.get(self.srv, "/whoami", self.token(exp="tomorrow"))
        self.assertRefused(resp)

    def test_wrong_issuer(self):
        for iss in ("someone-else", None):
            resp = self.get(self.srv, "/whoami", self.token(iss=iss))
            self.assertRefused(resp)
        self.srv.wait_log(r'refused: "iss" is not security.jwt.issuer')

    def test_wrong_audience(self):
        for aud in ("other-api", ["other-api", "more"], None):
            resp = self.get(self.srv, "/whoami", self.token(aud=aud))
            self.assertRefused(resp)

    def test_audience_in_an_array(self):
        resp = self.get(self.srv, "/whoami",
                        self.token(aud=["other-api", AUDIENCE]))
        self.assertStatus(resp, 200)

    def test_wrong_secret(self):
        token = jwt.encode(self.claims(), "another-secret-" + "y" * 30,
                           algorithm="HS256")
        self.assertRefused(self.get(self.srv, "/whoami", token))
        self.srv.wait_log(r"refused: the signature does not verify")

    def test_alg_none(self):
        claims = self.claims()
        unsigned = "%s.%s." % (b64url(b'{"alg":"none","typ":"JWT"}'),
                               b64url(json.dumps(claims).encode()))
        self.assertRefused(self.get(self.srv, "/whoami", unsigned))
        # a signature part does not make it one
        fake = by_hand({"alg": "none"}, claims, lambda s: b"x")
        self.assertRefused(self.get(self.srv, "/whoami", fake))
        self.srv.wait_log(r"refused: the header's \"alg\" is 'none', not HS256")
        # nor another case of the right name
        other = by_hand({"alg": "hs256"}, claims,
                        lambda s: hmac.new(SECRET.encode(), s,
                                           hashlib.sha256).digest())
        self.assertRefused(self.get(self.srv, "/whoami", other))
        # the same by hand with the right "alg" passes: the test is fair
        right = by_hand({"alg": "HS256"}, claims,
                        lambda s: hmac.new(SECRET.encode(), s,
                                           hashlib.sha256).digest())
        self.assertStatus(self.get(self.srv, "/whoami", right), 200)

    def test_claim_given_twice_refused(self):
        exp = int(time.time()) + 300
        head = b64url(b'{"alg":"HS256"}')
        body = b64url(('{"sub":"bob","iss":"%s","aud":"%s","exp":%d,'
                       '"sub":"alice"}' % (ISSUER, AUDIENCE, exp)).encode())
        signing_input = ("%s.%s" % (head, body)).encode()
        sig = hmac.new(SECRET.encode(), signing_input, hashlib.sha256).digest()
        token = "%s.%s.%s" % (head, body, b64url(sig))
        self.assertRefused(self.get(self.srv, "/whoami", token))
        self.srv.wait_log(r"refused: the claims are not a JSON object without "
                          r"duplicates")

    def test_crit_header_refused(self):
        token = by_hand({"alg": "HS256", "crit": ["exp"]}, self.claims(),
                        lambda s: hmac.new(SECRET.encode(), s,
                                           hashlib.sha256).digest())
        self.assertRefused(self.get(self.srv, "/whoami", token))

    def test_garbage(self):
        for token in ("garbage", "a.b", "a.b.c.d", "..", "a..c", "a.b.c",
                      "e30.e30.!!", self.token()[:-5],
                      self.token().replace(".", "..", 1)):
            resp = self.get(self.srv, "/whoami", token)
            self.assertRefused(resp)

    def test_too_long(self):
        token = self.token(pad="x" * 9000)
        resp = self.get(self.srv, "/whoami", token)
        self.assertRefused(resp)
        self.srv.wait_log(r"refused: a bearer token longer than 8 KiB")

    def test_refusals_say_nothing_more(self):
        expired = self.get(self.srv, "/whoami",
                           self.token(exp=int(time.time()) - 300))
        garbage = self.get(self.srv, "/whoami", "x.y.z")
        self.assertEqual(expired.body, garbage.body)
        self.assertNotIn(b"expire", expired.body.lower())

    def test_token_query_argument_refused_on_a_handler_route(self):
        resp = self.get(self.srv, "/whoami?token=" + self.token())
        self.assertRefused(resp, challenge=MISSING)
        self.srv.wait_log(r"the token query argument is taken on GET "
                          r"requests of websocket and subscribe routes only")

    def test_access_log_hides_the_token(self):
        token = self.token()
        self.get(self.srv, "/whoami?token=" + token + "&x=1")
        self.get(self.srv, "/open?a=b&%74oken=" + token)
        self.assertStatus(self.get(self.srv, "/whoami", token), 200)

        def lines():
            try:
                with open(self.access) as f:
                    text = f.read()
            except FileNotFoundError:
                return None
            return text if text.count("\n") >= 3 else None
        text = wait_for(lines, 5, "3 access log lines")
        self.assertIn('"GET /whoami?token=...&x=1 HTTP/1.1" 401', text)
        self.assertIn('"GET /open?a=b&%74oken=... HTTP/1.1" 200', text)
        self.assertNotIn(token.split(".")[2], text)


class Binding(JwtTestCase):
    """require: on subscribe, publish and WebSocket routes; the token
    query argument where browsers need it."""

    def setUp(self):
        super().setUp()
        self.srv = self.server("HS256", self.secret_file(), leeway="5s")

    def token(self, **over):
        over.setdefault("aud", None)
        over.setdefault("iss", None)
        return jwt.encode(self.claims(**over), SECRET, algorithm="HS256")

    def test_long_poll_own_channel_allowed_other_refused(self):
        alice = self.token()
        resp = self.get(self.srv, "/sub/user/alice?token=" + alice)
        self.assertStatus(resp, 204)  # waited poll_timeout: it was let in
        resp = self.get(self.srv, "/sub/user/bob?token=" + alice)
        self.assertRefused(resp, 403, FORBIDDEN)
        self.srv.wait_log(r"GET /sub/user/bob: 403, bearer token refused: "
                          r'claim "sub" is not what require.sub asks for')
        resp = self.get(self.srv, "/sub/user/bob", alice)  # header: same
        self.assertRefused(resp, 403, FORBIDDEN)
        resp = self.get(self.srv, "/sub/user/alice")
        self.assertRefused(resp, 401, MISSING)

    def test_token_in_both_header_and_query_refused(self):
        alice = self.token()
        resp = self.get(self.srv, "/sub/user/alice?token=" + alice, alice)
        self.assertRefused(resp)

    def test_publish_refused_before_its_body_is_sent(self):
        """Auth runs as soon as the head is in: a client without a valid
        token never gets to upload its body (nor a 100 Continue)."""
        for token in (None, "garbage"):
            with self.subTest(token=token):
                auth = ("Authorization: Bearer %s\r\n" % token) if token else ""
                with self.srv.connect() as c:
                    c.send(("POST /pub/user/alice HTTP/1.1\r\nHost: t\r\n%s"
                            "Content-Length: 1000000\r\n"
                            "Expect: 100-continue\r\n\r\n" % auth).encode())
                    resp = c.read_response()
                    self.assertRefused(resp, 401, INVALID if token else MISSING)
                    c.assert_closed()

    def test_sse_with_query_token_and_publish_with_bearer(self):
        alice = self.token()
        c = http.client.HTTPConnection(*self.srv.address, timeout=scaled(10))
        self.addCleanup(c.close)
        c.request("GET", "/sub/user/alice?token=" + alice,
                  headers={"Accept": "text/event-stream"})
        resp = c.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("Content-Type").split(";")[0],
                         "text/event-stream")
        # the publish route binds role to a literal
        srv = self.srv
        reader = srv.request("POST", "/pub/user/alice", body=b"no", headers=[
            ("Authorization", "Bearer " + self.token(sub="carol"))])
        self.assertRefused(reader, 403, FORBIDDEN)
        admin = self.token(sub="carol", role="admin")
        pub = srv.request("POST", "/pub/user/alice", body=b"hello alice",
                          headers=[("Authorization", "Bearer " + admin)])
        self.assertStatus(pub, 200)
        self.assertRefused(srv.request("POST", "/pub/user/alice", body=b"x"),
                           401, MISSING)
        buf = b""
        deadline = time.monotonic() + scaled(10)
        while b"data: hello alice" not in buf:
            self.assertLess(time.monotonic(), deadline, buf)
            chunk = resp.read1(65536)
            self.assertTrue(chunk, "the event stream ended: %r" % buf)
            buf += chunk

    def ws(self, path, token=None, headers=None):
        url = "ws://%s:%d%s" % (self.srv.address[0], self.srv.address[1], path)
        if token is not None:
            url += "?token=" + token

        async def talk():
            async with websockets.connect(url, extra_headers=headers or {},
                                          open_timeout=scaled(10)) as w:
                hello = await asyncio.wait_for(w.recv(), scaled(10))
                await w.send("who")
                return hello, await asyncio.wait_for(w.recv(), scaled(10))
        return asyncio.run(talk())

    def ws_status(self, path, token=None, headers=None):
        """The HTTP status that refused the handshake."""
        with self.assertRaises(websockets.InvalidStatusCode) as cm:
            self.ws(path, token, headers)
        return cm.exception.status_code

    def test_websocket_with_query_token_keeps_the_claims(self):
        hello, who = self.ws("/ws/user/alice", self.token(role="writer"))
        self.assertEqual(hello, "open user=alice ws=alice")
        self.assertTrue(who.startswith("user=alice role=writer claims={"), who)
        self.assertEqual(json.loads(who.split("claims=", 1)[1])["sub"], "alice")

    def test_websocket_with_bearer_header(self):
        hello, _ = self.ws("/ws/who", headers={
            "Authorization": "Bearer " + self.token(sub="dave")})
        self.assertEqual(hello, "open user=dave ws=dave")

    def test_websocket_refused_before_the_upgrade(self):
        self.assertEqual(self.ws_status("/ws/user/bob", self.token()), 403)
        self.assertEqual(self.ws_status("/ws/user/alice"), 401)
        expired = self.token(exp=int(time.time()) - 60)
        self.assertEqual(self.ws_status("/ws/user/alice", expired), 401)
        self.assertEqual(self.ws_status("/ws/who", "x.y.z"), 401)


class PublicKeys(JwtTestCase):
    """RS256 and ES256 with PEM public keys; HS/RS confusion."""

    def test_rs256(self):
        priv, pub = self.keypair("rsa")
        srv = self.server("RS256", pub)
        with open(priv) as f:
            token = jwt.encode(self.claims(aud=None, iss=None), f.read(),
                               algorithm="RS256")
        resp = self.get(srv, "/whoami", token)
        self.assertStatus(resp, 200)
        self.assertTrue(resp.text.startswith("user=alice role=reader"))
        # HS256 "signed" with the public key's PEM as the secret, which a
        # library that takes the algorithm from the token would accept
        with open(pub, "rb") as f:
            pem = f.read()
        confused = by_hand({"alg": "HS256", "typ": "JWT"},
                           self.claims(aud=None, iss=None),
                           lambda s: hmac.new(pem, s, hashlib.sha256).digest())
        self.assertRefused(self.get(srv, "/whoami", confused))
        srv.wait_log(r"refused: the header's \"alg\" is 'HS256', not RS256")

    def test_rs256_other_key_refused(self):
        _, pub = self.keypair("rsa")
        srv = self.server("RS256", pub)
        priv2, _ = self.keypair("ec")
        with open(priv2) as f:
            es = jwt.encode(self.claims(aud=None, iss=None), f.read(),
                            algorithm="ES256")
        self.assertRefused(self.get(srv, "/whoami", es))

    def test_es256(self):
        priv, pub = self.keypair("ec")
        srv = self.server("ES256", pub)
        with open(priv) as f:
            token = jwt.encode(self.claims(aud=None, iss=None, sub="erin"),
                               f.read(), algorithm="ES256")
        resp = self.get(srv, "/whoami", token)
        self.assertStatus(resp, 200)
        self.assertTrue(resp.text.startswith("user=erin "), resp.text)
        # a flipped signature byte
        head, body, sig = token.split(".")
        raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
        raw[5] ^= 1
        self.assertRefused(self.get(srv, "/whoami",
                                    "%s.%s.%s" % (head, body, b64url(bytes(raw)))))


class Startup(JwtTestCase):

    def test_missing_key_file_stops_squalld(self):
        cfg = make_config(workers=1, routes=ROUTES)
        cfg["modules"]["jwtmod"] = {"path": os.path.join(TEST_MODULES,
                                                         "jwtmod.so")}
        missing = self.path("no-such.pub")
        cfg["security"] = {"jwt": {"algorithm": "RS256", "key_file": missing}}
        srv = self.squalld(cfg)
        srv.expected_exit = None
        srv.start(wait_ready=False)
        self.assertNotEqual(srv.wait_exit(timeout=10), 0)
        self.assertRegex(srv.log_text(),
                         r"squall\.yaml:\d+:\d+: key file %s cannot be "
                         r"opened" % re.escape(missing))

    def test_key_of_the_wrong_type_stops_squalld(self):
        _, pub = self.keypair("ec")
        cfg = make_config(workers=1, routes=ROUTES[:1])
        cfg["modules"]["jwtmod"] = {"path": os.path.join(TEST_MODULES,
                                                         "jwtmod.so")}
        cfg["security"] = {"jwt": {"algorithm": "RS256", "key_file": pub}}
        srv = self.squalld(cfg)
        srv.expected_exit = None
        srv.start(wait_ready=False)
        self.assertNotEqual(srv.wait_exit(timeout=10), 0)
        self.assertRegex(srv.log_text(), r"key file %s is not an RSA public "
                         r"key" % re.escape(pub))


if __name__ == "__main__":
    main()
