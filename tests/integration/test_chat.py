#!/usr/bin/python3
"""The chat demo (handlers/chat.c) on a real squalld with 2 workers:
messages posted on one worker reach long-poll, WebSocket and SSE
subscribers on both; what is published is exact JSON whatever the names
and bodies hold; invalid messages are refused and never published; a
client that comes back with its position misses nothing.

Subscribers are pinned to a worker by asking /pid on their connection
before the subscription goes out on the same connection (for a WebSocket,
the handshake follows on that socket)."""

import asyncio
import json
import os
import re
import time

import tornado.web
import websockets

from squalltest import (DEFAULT_ROUTES, SquallTestCase, build_request, main,
                        make_config, scaled)

# As conf/squall.yaml routes them, but for the updates: receiving is
# open here, so that the tests of delivery need no cookie on every
# subscription (test_account.py checks the guarded updates route).
CHAT_ROUTES = [
    {"path": "/chat/", "methods": ["GET"], "handler": "chat:page",
     "auth": "login"},
    {"path": "/chat/chat.js", "methods": ["GET"], "handler": "chat:script"},
    {"path": "/chat/{room}", "methods": ["GET"], "handler": "chat:page",
     "auth": "login"},
    {"path": "/chat/{room}/message", "methods": ["POST"],
     "handler": "chat:post", "auth": "login"},
    {"path": "/chat/{room}/updates",
     "subscribe": {"channel": "chat.{room}", "poll_timeout": "2s"}},
]

ACCOUNT_ROUTES = [
    {"path": "/login", "methods": ["GET", "POST"], "handler": "account:login"},
    {"path": "/logout", "methods": ["GET", "POST"],
     "handler": "account:logout"},
    {"path": "/whoami", "methods": ["GET"], "handler": "account:whoami",
     "auth": "login"},
]

# the cookie secret of these tests (a file of mode 0600 in the scratch dir)
SECRET = "chat-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"

JSON = [("Content-Type", "application/json")]
POSITION = re.compile(r"^[0-9a-f]{16}:[0-9]+$")


def chat_config(workdir, workers=2, xsrf=False):
    """The chat and account demos with a cookie secret written in
    workdir."""
    secret = os.path.join(workdir, "cookie_secret")
    with open(os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
              "w") as f:
        f.write(SECRET + "\n")
    cfg = make_config(workers=workers,
                      routes=DEFAULT_ROUTES + CHAT_ROUTES + ACCOUNT_ROUTES)
    cfg["modules"]["chat"] = {"path": "chat.so"}
    cfg["modules"]["account"] = {"path": "account.so"}
    cfg["security"] = {"cookie_secret_file": secret, "xsrf_cookies": xsrf}
    return cfg


def login_cookie(user):
    """A Cookie header that logs user in, signed as Tornado signs it."""
    return ("Cookie", "user=" + tornado.web.create_signed_value(
        SECRET, "user", user).decode())


def offset(position):
    return int(position.split(":")[1])


def run(coro, seconds=30):
    return asyncio.run(asyncio.wait_for(coro, scaled(seconds)))


class ChatTest(SquallTestCase):

    def setUp(self):
        super().setUp()
        self.srv = self.start_squalld(chat_config(self.workdir))

    # -- helpers ----------------------------------------------------------

    def post(self, room, sender, body, raw=None, headers=JSON):
        """POSTs a message as sender (None: not logged in); the response,
        its JSON checked on a 200."""
        data = raw if raw is not None else json.dumps({"body": body}).encode()
        headers = list(headers)
        if sender is not None:
            headers.append(login_cookie(sender))
        resp = self.srv.request("POST", "/chat/%s/message" % room,
                                body=data, headers=headers)
        if resp.status == 200:
            answer = json.loads(resp.body)
            self.assertRegex(answer["position"], POSITION)
            self.assertRegex(answer["id"], r"^[0-9a-f]{16}$")
            self.assertEqual(resp.header("Squall-Position"), answer["position"])
        return resp

    def send(self, room, sender, body):
        """Posts a valid message: (id, position)."""
        resp = self.post(room, sender, body)
        self.assertStatus(resp, 200)
        answer = json.loads(resp.body)
        return answer["id"], answer["position"]

    def poll(self, room, position, conn=None):
        """One long poll: (status, message or None, Squall-Position)."""
        target = "/chat/%s/updates?position=%s" % (room, position)
        if conn is None:
            resp = self.srv.get(target, timeout=10)
        else:
            resp = conn.request("GET", target, timeout=10)
        msg = json.loads(resp.body.decode("utf-8")) if resp.status == 200 else None
        return resp.status, msg, resp.header("Squall-Position")

    def pinned(self, per_worker):
        """per_worker keep-alive connections on each worker: {pid: [Conn]},
        found by asking /pid on fresh connections."""
        want = set(self.srv.worker_processes())
        self.assertEqual(len(want), 2)
        got = {pid: [] for pid in want}
        # which worker accepts is the kernel's and the workers' business:
        # ask until each has its share, within a deadline (a worker that
        # is busy, or holds back while it has more than its share, lets
        # the other accept for a while)
        deadline = time.monotonic() + scaled(20)
        while time.monotonic() < deadline:
            if all(len(v) >= per_worker for v in got.values()):
                return got
            c = self.srv.connect(timeout=10)
            resp = c.request("GET", "/pid")
            self.assertStatus(resp, 200)
            pid = int(resp.body)
            if len(got[pid]) < per_worker:
                got[pid].append(c)
            else:
                c.close()
                time.sleep(0.01)
        self.fail("could not get %d connections on each worker: %r"
                  % (per_worker, {p: len(v) for p, v in got.items()}))

    def ws_url(self, room, position):
        return "ws://127.0.0.1:%d/chat/%s/updates?position=%s" % (
            self.srv.address[1], room, position)

    # -- the page -----------------------------------------------------------

    def test_page_and_script(self):
        for path in ("/chat/", "/chat/lobby", "/chat/caf%C3%A9"):
            resp = self.srv.get(path, headers=[login_cookie("ann <&>")])
            self.assertStatus(resp, 200)
            # the user's name, escaped, and the XSRF cookie for the script
            self.assertIn(b"<b id='me'>ann &lt;&amp;&gt;</b>", resp.body)
            self.assertTrue(any(c.startswith("_xsrf=2|") for c in
                                resp.header_all("Set-Cookie")))
            self.assertEqual(resp.header("Content-Type"),
                             "text/html; charset=utf-8")
            self.assertIn("script-src 'self'",
                          resp.header("Content-Security-Policy"))
            self.assertIn(b"<script src='chat.js'></script>", resp.body)
            self.assertNotIn(b"<script>", resp.body)  # nothing inline
        resp = self.srv.get("/chat/chat.js")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.header("Content-Type"),
                         "text/javascript; charset=utf-8")
        for needle in (b"'squall.v1'", b"Squall-Position", b"sessionStorage",
                       b"textContent", b"e.code === 4000", b"EventSource"):
            self.assertIn(needle, resp.body)
        self.assertNotIn(b"innerHTML", resp.body)
        self.assertIn(b"X-XSRFToken", resp.body)
        self.assertStatus(self.srv.request("HEAD", "/chat/",
                                           headers=[login_cookie("a")]), 200)
        # not logged in: to the login page, and back here after it
        resp = self.srv.get("/chat/lobby")
        self.assertStatus(resp, 302)
        self.assertEqual(resp.header("Location"), "/login?next=%2Fchat%2Flobby")
        self.assertStatus(self.srv.get("/chat/lobby/message"), 405)

    # -- across workers -------------------------------------------------------

    def test_poll_and_websocket_subscribers_on_both_workers(self):
        """A long poll and a WebSocket (squall.v1) on each worker, all from
        the same position: one message posted reaches all four."""
        _, p0 = self.send("lobby", "setup", "before")
        conns = self.pinned(2)
        polls, sockets = {}, {}
        for pid, (poller, raw) in conns.items():
            poller.send(build_request(
                "GET", "/chat/lobby/updates?position=%s" % p0))
            polls[pid] = poller
            sockets[pid] = raw

        async def go():
            wss = {}
            for pid, raw in sockets.items():
                wss[pid] = await websockets.connect(
                    self.ws_url("lobby", p0), sock=raw.sock,
                    subprotocols=["squall.v1"], compression=None)
                self.assertEqual(wss[pid].subprotocol, "squall.v1")
            msg_id, pos = self.send("lobby", "ann", "hello, both workers")
            got = {}
            for pid, ws in wss.items():
                got[pid] = await asyncio.wait_for(ws.recv(), scaled(10))
                await ws.close()
            return msg_id, pos, got
        msg_id, pos, frames = run(go())
        expected = {"id": msg_id, "from": "ann", "body": "hello, both workers"}
        self.assertEqual(offset(pos), offset(p0) + 1)
        self.assertEqual(set(frames), set(self.srv.worker_processes()))
        for pid, frame in frames.items():
            position, _, text = frame.partition("\n")
            self.assertEqual(position, pos, "WebSocket on worker %d" % pid)
            self.assertEqual(json.loads(text), expected)
        for pid, conn in polls.items():
            resp = conn.read_response(timeout=10)
            self.assertStatus(resp, 200)
            self.assertEqual(resp.header("Squall-Position"), pos)
            self.assertEqual(json.loads(resp.body), expected,
                             "long poll on worker %d" % pid)
            conn.close()

    # -- what is published ------------------------------------------------

    def test_names_and_bodies_are_exact_json(self):
        cases = [
            ('Ann "the" \\ O\'Brien', 'say "hi" \\o/ </script><b>x</b>'),
            ("two\nlines\r\n\ttab", "line 1\nline 2\r\n\x01\x1f\x7f"),
            ("Zo\u00eb \U0001F600", "caf\u00e9 \u6f22\u5b57 \U0001F600 "
             "\u2028\u2029 \ufeff"),
            ("x" * 100, "\u00e9" * 1000),  # the bounds, in bytes
        ]
        _, pos = self.send("esc", "setup", "before")
        for sender, body in cases:
            msg_id, sent_at = self.send("esc", sender, body)
            status, msg, pos = self.poll("esc", pos)
            self.assertEqual(status, 200)
            self.assertEqual(pos, sent_at)
            self.assertEqual(msg, {"id": msg_id, "from": sender, "body": body})
        # and on the wire: control characters escaped, the rest as UTF-8
        self.send("esc", "a\nb", "\x01")
        resp = self.srv.get("/chat/esc/updates?position=%s" % pos)
        self.assertStatus(resp, 200)
        self.assertEqual(resp.header("Content-Type"), "text/plain; charset=utf-8")
        self.assertNotRegex(resp.body, rb"[\x00-\x1f]")
        self.assertIn(b'"from":"a\\nb"', resp.body)
        self.assertIn(b'"body":"\\u0001"', resp.body)

    def test_invalid_messages_are_refused_and_never_published(self):
        _, p0 = self.send("val", "setup", "before")
        ok = {"body": "hi"}

        def raw(obj):
            return json.dumps(obj).encode()
        bad = [
            (raw(dict(ok, body="")), "empty body"),
            (raw(dict(ok, body=" \t\r\n ")), "blank body"),
            (raw({"from": "ann"}), "no body"),
            (raw(dict(ok, body=5)), "a number for body"),
            (raw(dict(ok, body=None)), "null body"),
            (raw(dict(ok, body="x" * 2001)), "body over 2000 bytes"),
            (raw(dict(ok, body="\u00e9" * 1001)), "body over 2000 bytes"),
            (b'{"body": "\xff"}', "invalid UTF-8"),
            (b'{"body": "\xc0\xaf"}', "overlong UTF-8"),
            (b'{"body": "\xed\xa0\x80"}', "UTF-8 surrogate"),
            (b'{"body": "\\ud800"}', "lone surrogate escape"),
            (b'{"body": "a\\u0000b"}', "NUL"),
            (b'{"body": "hi"', "truncated JSON"),
            (b'["ann", "hi"]', "not an object"),
            (b'{"body": "a", "body": "b"}', "duplicate key"),
            (b"", "no body at all"),
        ]
        for data, what in bad:
            resp = self.post("val", "ann", None, raw=data)
            self.assertStatus(resp, 400)
            self.assertIn("error", json.loads(resp.body), what)
        # the name is the login's: none, or one that cannot be shown
        self.assertStatus(self.post("val", None, "hi"), 403)
        self.assertStatus(self.post("val", "", "hi"), 403)
        self.assertStatus(self.post("val", "x" * 101, "hi"), 400)
        self.assertStatus(self.post("val", " \t", "hi"), 400)
        # a "from" in the body changes nothing: the login says who
        resp = self.post("val", "ann", None, raw=raw({"from": "eve", "body": "x"}))
        self.assertStatus(resp, 200)
        status, msg, p0 = self.poll("val", p0)
        self.assertEqual((status, msg["from"]), (200, "ann"))
        resp = self.post("val", "ann", None, raw=raw(ok),
                         headers=[("Content-Type", "text/plain")])
        self.assertStatus(resp, 415)
        resp = self.post("val", "ann", None, raw=b"x" * 9000)
        self.assertStatus(resp, 413)
        resp = self.post("bad%01room", "ann", "hi")
        self.assertStatus(resp, 400)
        self.assertEqual(json.loads(resp.body), {"error": "bad room name"})
        # none of them was published: the next message is the one after p0
        msg_id, pos = self.send("val", "ann", "valid")
        self.assertEqual(offset(pos), offset(p0) + 1)
        self.assertEqual(self.poll("val", p0)[:2],
                         (200, {"id": msg_id, "from": "ann", "body": "valid"}))

    # -- resuming ---------------------------------------------------------------

    def test_reconnecting_with_the_position_misses_nothing(self):
        """A subscriber sees one message and goes away; five more are posted
        (over both workers); coming back with its position by long poll,
        WebSocket or SSE (Last-Event-ID), it gets exactly those five, in
        order."""
        _, p0 = self.send("room", "setup", "before")
        _, p1 = self.send("room", "ann", "seen")
        status, msg, at = self.poll("room", p0)
        self.assertEqual((status, msg["body"], at), (200, "seen", p1))
        sent = [self.send("room", "bob", "missed %d" % i) for i in range(5)]
        self.assertEqual([offset(p) for _, p in sent],
                         list(range(offset(p1) + 1, offset(p1) + 6)))
        # another room's messages are not in this one
        self.send("other", "eve", "elsewhere")

        # long poll: one message per request, then 204 where to go on
        got, pos = [], p1
        for _ in range(10):
            status, msg, next_pos = self.poll("room", pos)
            if status == 204:
                self.assertEqual(next_pos, pos)
                break
            self.assertEqual(status, 200)
            got.append((msg["id"], next_pos))
            pos = next_pos
        self.assertEqual(got, sent)

        # WebSocket with squall.v1: the five, each with its position
        async def ws():
            async with websockets.connect(self.ws_url("room", p1),
                                          subprotocols=["squall.v1"]) as c:
                frames = [await asyncio.wait_for(c.recv(), scaled(10))
                          for _ in range(5)]
                try:
                    extra = await asyncio.wait_for(c.recv(), 0.5)
                except asyncio.TimeoutError:
                    extra = None
                return frames, extra
        frames, extra = run(ws())
        self.assertIsNone(extra)
        self.assertEqual([(json.loads(f.partition("\n")[2])["id"],
                           f.partition("\n")[0]) for f in frames], sent)

        # server-sent events, resumed as EventSource does (HTTP/1.0: the
        # stream ends with the connection, no chunked framing to undo)
        with self.srv.connect(timeout=10) as c:
            c.send(build_request("GET", "/chat/room/updates", version="HTTP/1.0",
                                 headers=[("Accept", "text/event-stream"),
                                          ("Last-Event-ID", p1)]))
            events = self.read_events(c, 5)
        self.assertEqual([(json.loads(data)["id"], eid) for eid, data in events],
                         sent)

    def read_events(self, conn, n):
        """The first n events of an event stream: [(id, data)]."""
        deadline = time.monotonic() + scaled(10)
        while conn.buf.count(b"\n\n") < n + 1:  # the head's end, retry:, events
            conn._fill(deadline)
        head, _, stream = conn.buf.partition(b"\r\n\r\n")
        self.assertIn(b"200", head.split(b"\r\n")[0])
        events = []
        for block in stream.decode().split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.split("\n")
                          if ": " in line)
            if "data" in fields:
                events.append((fields["id"], fields["data"]))
        return events[:n]

    def test_a_position_no_longer_kept_is_a_reload(self):
        """The page's reload path: 205 for a long poll, close 4000 for a
        WebSocket, each with where to continue; a position that is not one
        is refused."""
        _, pos = self.send("gone", "ann", "now")
        lost = "0000000000000001:7"  # another epoch
        status, msg, at = self.poll("gone", lost)
        self.assertEqual((status, msg, at), (205, None, pos))

        async def ws():
            async with websockets.connect(self.ws_url("gone", lost),
                                          subprotocols=["squall.v1"]) as c:
                try:
                    await asyncio.wait_for(c.recv(), scaled(10))
                except websockets.ConnectionClosed as e:
                    return e.code, e.reason
            return None
        self.assertEqual(run(ws()), (4000, "reload " + pos))
        self.assertEqual(self.poll("gone", "junk")[0], 400)


if __name__ == "__main__":
    main()
