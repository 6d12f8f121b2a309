"""Pub/sub across workers against the real squalld (2 workers and the
hub): the declarative subscribe/publish routes served by long poll,
server-sent events and WebSocket (python3-websockets), and the module API
(tests/modules/psmod.c). Positions are "<epoch>:<offset>"; a subscriber
that comes back with its position gets exactly what it missed, or a
reload (205 for a long poll, an "reload" event for SSE, close 4000 for a
WebSocket) when that is no longer possible.
"""

import asyncio
import http.client
import json
import os
import re
import signal
import socket
import threading
import time

import websockets

from squalltest import (SquallTestCase, TEST_MODULES, main, make_config,
                        scaled, wait_for)

ROUTES = [
    {"path": "/pid", "handler": "testmod:pid"},
    {"path": "/sub/{room}",
     "subscribe": {"channel": "room.{room}", "poll_timeout": "2s",
                   "sse_keepalive": "1s"}},
    {"path": "/pub/{room}", "publish": {"channel": "room.{room}"}},
    {"path": "/ps/next/{ch}", "handler": "psmod:next"},
    {"path": "/ps/two/{ch}", "handler": "psmod:two"},
    {"path": "/ps/where/{ch}", "handler": "psmod:where"},
    {"path": "/ps/pub/{ch}", "methods": ["POST"], "handler": "psmod:pub"},
    {"path": "/ps/pubreq/{ch}", "methods": ["POST"], "handler": "psmod:pubreq"},
    {"path": "/ps/block", "handler": "psmod:block"},
    {"path": "/ps/room", "websocket": "psmod:room"},
]

POSITION = re.compile(r"^[0-9a-f]{16}:\d+$")


def pubsub_config(**pubsub):
    cfg = make_config(workers=2, routes=ROUTES)
    cfg["modules"]["psmod"] = {"path": os.path.join(TEST_MODULES, "psmod.so")}
    cfg["pubsub"] = dict({"history": 100}, **pubsub)
    return cfg


def split(position):
    epoch, offset = position.split(":")
    return epoch, int(offset)


class HTTP:
    """One keep-alive connection: it stays on the worker that accepted it."""

    def __init__(self, srv, timeout=10):
        self.c = http.client.HTTPConnection(*srv.address, timeout=scaled(timeout))

    def request(self, method, path, body=None, headers=None):
        self.c.request(method, path, body=body, headers=headers or {})
        resp = self.c.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()

    def pid(self):
        return int(self.request("GET", "/pid")[2])

    def close(self):
        self.c.close()


class SSE:
    """A server-sent events reader on its own socket (chunked framing
    undone by http.client), events as (event, id, data)."""

    def __init__(self, srv, path, last_id=None):
        self.c = http.client.HTTPConnection(*srv.address, timeout=scaled(10))
        self.pid = int(self._get("/pid"))
        headers = {"Accept": "text/event-stream"}
        if last_id:
            headers["Last-Event-ID"] = last_id
        self.c.request("GET", path, headers=headers)
        self.resp = self.c.getresponse()
        self.buf = b""

    def _get(self, path):
        self.c.request("GET", path)
        return self.c.getresponse().read()

    def event(self, timeout=10):
        """The next event (comments and the retry field skipped), within
        timeout seconds."""
        deadline = time.monotonic() + scaled(timeout)
        while True:
            while b"\n\n" not in self.buf:
                if time.monotonic() > deadline:
                    raise AssertionError("no event within %.1fs" % scaled(timeout))
                chunk = self.resp.read1(65536)
                if not chunk:
                    raise EOFError("the event stream ended")
                self.buf += chunk
            block, self.buf = self.buf.split(b"\n\n", 1)
            ev, eid, data = "message", None, []
            for line in block.decode().split("\n"):
                if line.startswith(":") or line.startswith("retry:"):
                    continue
                name, _, value = line.partition(": ")
                if name == "event":
                    ev = value
                elif name == "id":
                    eid = value
                elif name == "data":
                    data.append(value)
            if eid is not None or data:
                return ev, eid, "\n".join(data)

    def close(self):
        self.c.close()


class PubSubTest(SquallTestCase):

    def start(self, **pubsub):
        return self.start_squalld(pubsub_config(**pubsub))

    def conn(self, srv):
        c = HTTP(srv)
        self.addCleanup(c.close)
        return c

    def on_each_worker(self, srv):
        """A keep-alive connection on each of the two workers."""
        found = {}

        def two():
            c = HTTP(srv)
            pid = c.pid()
            if pid in found:
                c.close()
            else:
                found[pid] = c
                self.addCleanup(c.close)
            return len(found) == 2
        wait_for(two, scaled(10), "connections on both workers", interval=0)
        return list(found.values())

    def publish(self, srv, room, body):
        status, headers, data = self.conn(srv).request("POST", "/pub/" + room,
                                                       body=body)
        self.assertEqual(status, 200, data)
        answer = json.loads(data)
        self.assertEqual(headers["Squall-Position"], answer["position"])
        self.assertRegex(answer["position"], POSITION)
        return answer

    def publish_raw(self, srv, channel, body):
        """Publishes with the module API (psmod): the position."""
        status, _, data = self.conn(srv).request("POST", "/ps/pubreq/" + channel,
                                                 body=body)
        code, pos, _ = data.decode().split()
        self.assertEqual((status, code), (200, "0"), data)
        return pos

    def publish_until(self, srv, room, done, what, raw=False):
        """Publishes "probe N" to room every 20 ms until done() (a
        subscriber without a position got one); {position: body}."""
        sent = {}

        def step():
            body = ("probe %d" % len(sent)).encode()
            pos = (self.publish_raw(srv, room, body) if raw else
                   self.publish(srv, room, body)["position"])
            sent[pos] = body
            return done()
        wait_for(step, scaled(10), what, interval=0.02)
        return sent

    def long_poll(self, c, room, position=None):
        path = "/sub/" + room
        if position:
            path += "?position=" + position
        return c.request("GET", path)

    # -- long poll --------------------------------------------------------------

    def test_long_poll_without_position_gets_the_next_message(self):
        srv = self.start()
        a, b = self.on_each_worker(srv)
        result = {}
        t = threading.Thread(target=lambda: result.update(r=self.long_poll(a, "lp")))
        t.start()
        sent = self.publish_until(srv, "lp", lambda: "r" in result,
                                  "the long poll to get a message")
        t.join()
        status, headers, body = result["r"]
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/plain; charset=utf-8")
        self.assertEqual(headers["Cache-Control"], "no-store")
        self.assertIn("Squall-Position", headers["Access-Control-Expose-Headers"])
        # the message at that position, published after it subscribed
        self.assertEqual(sent[headers["Squall-Position"]], body)

    def test_long_poll_resumes_from_its_position_on_any_worker(self):
        """A client that polls from its last position gets every message
        after it, one per poll, in order, nothing twice, whichever worker
        each poll lands on."""
        srv = self.start()
        a, b = self.on_each_worker(srv)
        pos = self.publish(srv, "resume", b"m0")["position"]
        for i in range(1, 6):
            self.publish(srv, "resume", b"m%d" % i)
        got = []
        for i in range(5):
            status, headers, body = self.long_poll((a, b)[i % 2], "resume", pos)
            self.assertEqual(status, 200)
            self.assertEqual(split(headers["Squall-Position"]),
                             (split(pos)[0], split(pos)[1] + 1))
            pos = headers["Squall-Position"]
            got.append(body)
        self.assertEqual(got, [b"m1", b"m2", b"m3", b"m4", b"m5"])

    def test_long_poll_timeout_is_204_with_the_position(self):
        srv = self.start()
        c = self.conn(srv)
        pos = self.publish(srv, "quiet", b"only")["position"]
        started = time.monotonic()
        status, headers, body = self.long_poll(c, "quiet", pos)
        self.assertEqual(status, 204)
        self.assertGreaterEqual(time.monotonic() - started, 1.9)
        self.assertEqual(headers["Squall-Position"], pos)
        # without a position: the channel's, so the next poll misses nothing
        status, headers, _ = self.long_poll(c, "quiet")
        self.assertEqual((status, headers["Squall-Position"]), (204, pos))

    def test_position_out_of_the_window_is_205(self):
        srv = self.start(history=3)
        c = self.conn(srv)
        first = self.publish(srv, "win", b"m1")["position"]
        for i in range(2, 6):
            last = self.publish(srv, "win", b"m%d" % i)["position"]
        status, headers, body = self.long_poll(c, "win", first)
        self.assertEqual((status, body), (205, b""))
        self.assertNotIn("Content-Type", headers)
        self.assertEqual(headers["Squall-Position"], last)
        # another epoch: the same
        other = "%016x:%d" % (int(split(first)[0], 16) ^ 1, 2)
        status, headers, _ = self.long_poll(c, "win", other)
        self.assertEqual((status, headers["Squall-Position"]), (205, last))
        # ahead of the channel: the same
        ahead = "%s:%d" % (split(last)[0], split(last)[1] + 10)
        self.assertEqual(self.long_poll(c, "win", ahead)[0], 205)
        # the oldest position still covered
        covered = "%s:%d" % (split(last)[0], split(last)[1] - 3)
        status, _, body = self.long_poll(c, "win", covered)
        self.assertEqual((status, body), (200, b"m3"))

    def test_bad_positions_and_channels_are_400(self):
        srv = self.start()
        c = self.conn(srv)
        for bad in ("nope", "00000000000000zz:1", "0000000000000000:1",
                    "0123456789abcdef:-1", "0123456789ABCDEF:1"):
            self.assertEqual(self.long_poll(c, "x", bad)[0], 400, bad)
        # a path parameter that makes no channel name (a space)
        self.assertEqual(c.request("GET", "/sub/a%20b")[0], 400)
        self.assertEqual(c.request("POST", "/pub/a%20b", body=b"x")[0], 400)

    def test_publish_larger_than_the_limit_is_413(self):
        srv = self.start(max_message_size="1k")
        c = self.conn(srv)
        self.assertEqual(c.request("POST", "/pub/big", body=b"x" * 1024)[0], 200)
        status, _, body = c.request("POST", "/pub/big", body=b"x" * 1025)
        self.assertEqual(status, 413)
        self.assertEqual(c.request("GET", "/pub/big")[0], 405)

    def test_channels_beyond_max_channels_are_refused(self):
        srv = self.start(max_channels=1)
        c = self.conn(srv)
        self.publish(srv, "one", b"kept")  # the one channel, with history
        self.assertEqual(c.request("POST", "/pub/two", body=b"x")[0], 503)
        self.assertEqual(self.long_poll(c, "two")[0], 503)
        self.assertEqual(c.request("GET", "/ps/next/room.two")[2], b"error 503")
        e = SSE(srv, "/sub/two")
        self.addCleanup(e.close)
        with self.assertRaises(EOFError):
            e.event()

        async def ws():
            url = "ws://%s:%d/sub/two" % srv.address
            async with websockets.connect(url) as w:
                try:
                    await asyncio.wait_for(w.recv(), scaled(5))
                except websockets.ConnectionClosed as ex:
                    return ex.code
        self.assertEqual(asyncio.run(ws()), 1013)
        # the existing channel still works
        self.assertEqual(self.publish(srv, "one", b"more")["subscribers"], 0)

    def test_binary_message_is_octet_stream(self):
        srv = self.start()
        c = self.conn(srv)
        pos = self.publish(srv, "bin", b"before")["position"]
        self.publish(srv, "bin", b"\xff\x00\xfe")
        status, headers, body = self.long_poll(c, "bin", pos)
        self.assertEqual((status, body), (200, b"\xff\x00\xfe"))
        self.assertEqual(headers["Content-Type"], "application/octet-stream")

    # -- every kind of subscriber on both workers --------------------------------

    def test_long_poll_sse_and_websocket_subscribers_all_get_each_message(self):
        srv = self.start()
        a, b = self.on_each_worker(srv)
        start = self.publish(srv, "all", b"m0")["position"]
        sse = []

        def on_both():  # accepting decides where each lands
            sse.append(SSE(srv, "/sub/all", last_id=start))
            self.addCleanup(sse[-1].close)
            return len(sse) >= 4 and len({e.pid for e in sse}) == 2
        wait_for(on_both, scaled(10), "SSE subscribers on both workers",
                 interval=0)
        sent = [b"m%d" % i for i in range(1, 11)] + [b"line one\nline two"]
        expected_pos = []

        async def websockets_side():
            url = "ws://%s:%d/sub/all?position=%s" % (srv.address + (start,))
            conns = [await websockets.connect(url, subprotocols=["squall.v1"])
                     for _ in range(4)]
            plain = await websockets.connect(url)
            for ws in conns:
                self.assertEqual(ws.subprotocol, "squall.v1")
            for body in sent:
                expected_pos.append(self.publish(srv, "all", body)["position"])
            for ws in conns:
                for body, pos in zip(sent, expected_pos):
                    msg = await asyncio.wait_for(ws.recv(), scaled(5))
                    self.assertEqual(msg, "%s\n%s" % (pos, body.decode()))
            for body in sent:
                self.assertEqual(await asyncio.wait_for(plain.recv(), scaled(5)),
                                 body.decode())
            for ws in conns + [plain]:
                await ws.close()
        asyncio.run(asyncio.wait_for(websockets_side(), scaled(30)))
        for e in sse:
            for body, pos in zip(sent, expected_pos):
                self.assertEqual(e.event(), ("message", pos, body.decode()))
        # long polls on both workers, from the start position
        for c in (a, b):
            pos, got = start, []
            for _ in sent:
                status, headers, body = self.long_poll(c, "all", pos)
                pos = headers["Squall-Position"]
                got.append(body)
            self.assertEqual(got, sent)
        # nothing twice: the next event is the next message
        nxt = self.publish(srv, "all", b"last")["position"]
        for e in sse:
            self.assertEqual(e.event(), ("message", nxt, "last"))

    # -- server-sent events --------------------------------------------------

    def test_sse_reconnects_with_last_event_id_and_misses_nothing(self):
        srv = self.start()
        e = SSE(srv, "/sub/sse")
        self.addCleanup(e.close)
        sent = self.publish_until(srv, "sse", lambda: True, "a publish")
        first = self.publish(srv, "sse", b"one")["position"]
        ev = e.event()
        while ev[1] != first:  # probes published before it subscribed
            ev = e.event()
        self.assertEqual(ev, ("message", first, "one"))
        e.close()
        # published while the client is away
        missed = [self.publish(srv, "sse", b"gap%d" % i)["position"]
                  for i in range(3)]
        e2 = SSE(srv, "/sub/sse", last_id=first)
        self.addCleanup(e2.close)
        for i, pos in enumerate(missed):
            self.assertEqual(e2.event(), ("message", pos, "gap%d" % i))
        self.assertTrue(sent)

    def test_sse_headers_retry_and_keepalive(self):
        srv = self.start()
        e = SSE(srv, "/sub/hdr")
        self.addCleanup(e.close)
        self.assertEqual(e.resp.status, 200)
        self.assertEqual(e.resp.getheader("Content-Type"), "text/event-stream")
        self.assertEqual(e.resp.getheader("Cache-Control"), "no-cache")
        self.assertEqual(e.resp.getheader("X-Accel-Buffering"), "no")
        deadline = time.monotonic() + scaled(5)
        while b": keepalive" not in e.buf and time.monotonic() < deadline:
            e.buf += e.resp.read1(4096)
        self.assertIn(b"retry: 2000\n\n", e.buf)
        self.assertIn(b": keepalive\n\n", e.buf)

    def test_sse_reload_event(self):
        srv = self.start(history=2)
        first = self.publish(srv, "sr", b"a")["position"]
        for x in (b"b", b"c", b"d"):
            last = self.publish(srv, "sr", x)["position"]
        e = SSE(srv, "/sub/sr", last_id=first)
        self.addCleanup(e.close)
        self.assertEqual(e.event(), ("reload", last, "reload"))
        nxt = self.publish(srv, "sr", b"e")["position"]
        self.assertEqual(e.event(), ("message", nxt, "e"))

    # -- WebSocket subscribers -------------------------------------------------

    def test_websocket_reload_is_close_4000(self):
        srv = self.start(history=2)
        first = self.publish(srv, "wr", b"a")["position"]
        for x in (b"b", b"c", b"d"):
            last = self.publish(srv, "wr", x)["position"]

        async def go():
            url = "ws://%s:%d/sub/wr?position=%s" % (srv.address + (first,))
            async with websockets.connect(url) as ws:
                try:
                    await asyncio.wait_for(ws.recv(), scaled(5))
                except websockets.ConnectionClosed as e:
                    return e.code, e.reason
        self.assertEqual(asyncio.run(go()), (4000, "reload " + last))

    def test_websocket_subscriber_may_not_send(self):
        srv = self.start()

        async def go():
            url = "ws://%s:%d/sub/ro" % srv.address
            async with websockets.connect(url) as ws:
                await ws.send("hello")
                try:
                    await asyncio.wait_for(ws.recv(), scaled(5))
                except websockets.ConnectionClosed as e:
                    return e.code
        self.assertEqual(asyncio.run(go()), 1003)

    # -- the module API --------------------------------------------------------

    def test_module_long_poll_publish_and_websocket_room(self):
        srv = self.start()
        c = self.conn(srv)
        status, _, body = c.request("POST", "/ps/pubreq/api", body=b"first")
        code, pos, reached = body.decode().split()
        self.assertEqual((status, code, reached), (200, "0", "0"))
        self.assertRegex(pos, POSITION)
        self.assertEqual(c.request("POST", "/ps/pub/api", body=b"second")[0], 202)
        status, _, body = c.request("GET", "/ps/next/api?position=" + pos)
        self.assertEqual(body.decode(), "data %s:%d second" % (split(pos)[0],
                                                               split(pos)[1] + 1))

        async def room():
            url = "ws://%s:%d/ps/room?ch=api&position=%s" % (srv.address + (pos,))
            async with websockets.connect(url) as w1, \
                    websockets.connect(url) as w2:
                # both get "second" from history, then what w1 publishes
                for ws in (w1, w2):
                    self.assertTrue((await asyncio.wait_for(ws.recv(), scaled(5)))
                                    .endswith(" second"))
                await w1.send("from a websocket")
                for ws in (w1, w2):
                    self.assertRegex(await asyncio.wait_for(ws.recv(), scaled(5)),
                                     r"^data [0-9a-f]{16}:3 from a websocket$")
        asyncio.run(asyncio.wait_for(room(), scaled(20)))
        srv.wait_log(r"psmod: room api closed 1000")
        status, _, body = c.request("POST", "/ps/pubreq/api", body=b"x" * 70000)
        self.assertEqual(body.decode(), "413 - 0")
        self.assertEqual(c.request("POST", "/ps/pubreq/bad%20name", body=b"")[2],
                         b"400 - 0")

    def test_unsubscribing_another_subscription_inside_a_delivery(self):
        srv = self.start()
        c = self.conn(srv)
        result = {}
        t = threading.Thread(
            target=lambda: result.update(r=c.request("GET", "/ps/two/dbl")))
        t.start()
        self.publish_until(srv, "dbl", lambda: "r" in result,
                           "the request to be answered", raw=True)
        t.join()
        self.assertRegex(result["r"][2].decode(), r"^two probe \d+$")
        # a second delivery would have come in the same loop over the
        # subscribers, before the answer went out
        self.assertNotIn("second delivery", srv.log_text())

    def test_sub_position_after_subscribing(self):
        srv = self.start()
        c = self.conn(srv)
        pos = self.publish_raw(srv, "where", b"x")
        status, _, body = c.request("GET", "/ps/where/where?ms=300")
        self.assertEqual(body.decode(), pos)

    # -- clients leaving -------------------------------------------------------

    def test_clients_leaving_long_poll_sse_and_websocket(self):
        srv = self.start()
        socks = []
        for path, accept in (("/sub/leave", None), ("/sub/leave", "text/event-stream"),
                             ("/ps/next/room.leave", None)):
            for _ in range(20):
                s = socket.create_connection(srv.address)
                req = "GET %s HTTP/1.1\r\nHost: x\r\n" % path
                if accept:
                    req += "Accept: %s\r\n" % accept
                s.sendall((req + "\r\n").encode())
                socks.append(s)

        async def ws_leave():
            url = "ws://%s:%d/sub/leave" % srv.address
            conns = [await websockets.connect(url) for _ in range(20)]
            for ws in conns:
                ws.transport.abort()  # gone without a close frame
        asyncio.run(asyncio.wait_for(ws_leave(), scaled(20)))
        # the module's long polls wait (the others were sent before them)
        wait_for(lambda: srv.log_text().count("psmod: waiting on room.leave")
                 == 20, scaled(10), "the module's long polls to wait")
        for i, s in enumerate(socks):
            if i % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
            s.close()
        wait_for(lambda: srv.log_text().count("psmod: client gone") == 20,
                 scaled(10), "the module to see its clients leave")
        # and the channel still works, without anybody on it
        answer = self.publish(srv, "leave", b"after")
        self.assertEqual(answer["subscribers"], 0)

    # -- the hub ---------------------------------------------------------------

    def test_hub_killed_is_respawned_and_positions_are_honest(self):
        srv = self.start()
        c = self.conn(srv)
        quiet = SSE(srv, "/sub/quiet")  # subscribed, no message yet
        self.addCleanup(quiet.close)
        self.assertEqual(self.long_poll(c, "quiet")[0], 204)  # it is known
        old = self.publish(srv, "hk", b"before")["position"]
        hub = srv.hub_pid()
        self.assertIsNotNone(hub)
        os.kill(hub, signal.SIGKILL)
        wait_for(lambda: srv.hub_pid() not in (None, hub), scaled(10),
                 "a new hub")
        srv.wait_log(r"hub was killed by signal 9")

        def published():
            status, _, data = self.conn(srv).request("POST", "/pub/hk",
                                                     body=b"after")
            return data if status == 200 else None
        answer = json.loads(wait_for(published, scaled(10),
                                     "a publish through the new hub"))
        # a new hub has new epochs: the old position says reload
        self.assertNotEqual(split(answer["position"])[0], split(old)[0])
        status, headers, _ = self.long_poll(c, "hk", old)
        self.assertEqual((status, headers["Squall-Position"]),
                         (205, answer["position"]))
        # a subscriber waiting through the restart is told at once
        ev, eid, _ = quiet.event()
        self.assertEqual(ev, "reload")
        self.assertRegex(eid, r":0$")

    def test_worker_that_does_not_read_the_hub_is_resynchronised(self):
        """A worker blocked while the hub has more than hub_queue for it is
        disconnected; it reconnects and catches up from history, so its
        subscriber misses nothing."""
        srv = self.start(hub_queue="64k", history=1000)
        a, b = self.on_each_worker(srv)
        start = self.publish(srv, "slow", b"start")["position"]
        e = SSE(srv, "/sub/slow", last_id=start)
        self.addCleanup(e.close)
        # block e's worker; publish 300 KiB through the other
        blocked_c = a if a.pid() == e.pid else b
        other_c = b if blocked_c is a else a
        t = threading.Thread(target=lambda: blocked_c.request("GET", "/ps/block?ms=1500"))
        t.start()
        srv.wait_log(r"psmod: blocking for 1500 ms")  # it reads nothing now
        sent = []
        for i in range(300):
            status, _, data = other_c.request("POST", "/pub/slow",
                                              body=b"%04d" % i + b"." * 1020)
            self.assertEqual(status, 200)
            sent.append(json.loads(data)["position"])
        t.join(scaled(10))
        srv.wait_log(r"over pubsub.hub_queue; disconnecting it")
        for i, pos in enumerate(sent):
            ev, eid, data = e.event()
            self.assertEqual((ev, eid, data[:4]), ("message", pos, "%04d" % i))


if __name__ == "__main__":
    main()
