"""WebSockets against the real squalld (2 workers) with the echo module:
Debian's python3-websockets for the well-behaved client, raw frames on a
socket for everything a well-behaved client never sends.
"""

import asyncio
import base64
import os
import signal
import socket
import struct
import time
import zlib

import websockets

from squalltest import (SANITIZED, TEST_MODULES, SquallTestCase, main, make_config,
                        scaled, vm_rss)

ROUTES = [
    {"path": "/ws/echo", "websocket": "echo:echo", "deflate": True},
    {"path": "/ws/plain", "websocket": "echo:echo"},
    {"path": "/ws/good", "websocket": "echo:echo",
     "origins": ["http://good.example"]},
    {"path": "/ws/proto", "websocket": "echo:echo",
     "subprotocols": ["chat.v2", "chat.v1"]},
    {"path": "/ws/app", "websocket": "wsmod:app"},
    {"path": "/ws/small", "websocket": "echo:echo",
     "deflate": {"server_no_context_takeover": True,
                 "server_max_window_bits": 8, "client_max_window_bits": 10}},
]

MAX_MESSAGE = 64 * 1024

# opcodes
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def ws_config(limits=None, **ws):
    cfg = make_config(workers=2, routes=ROUTES, limits=limits)
    cfg["modules"]["echo"] = {"path": "echo.so"}
    cfg["modules"]["wsmod"] = {"path": os.path.join(TEST_MODULES, "wsmod.so")}
    cfg["websocket"] = dict({"max_message_size": "64k"}, **ws)
    return cfg


def frame(op, payload=b"", fin=True, mask=True, rsv=0):
    """One client frame, masked unless told otherwise."""
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | op])
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


def deflate(data):
    """permessage-deflate payload (RFC 7692 7.2.1): no trailing 00 00 ff ff."""
    z = zlib.compressobj(wbits=-15)
    out = z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


class RawWS:
    """A WebSocket client that sends exact bytes and parses server frames."""

    def __init__(self, address, path="/ws/plain", headers=None, extra=b"",
                 rcvbuf=None, upgrade=True):
        self.sock = socket.create_connection(address, timeout=scaled(5))
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.buf = b""
        self.status = self.headers = None
        if upgrade:
            self.handshake(path, headers, extra)

    def handshake(self, path, headers=None, extra=b""):
        key = base64.b64encode(os.urandom(16)).decode()
        h = {"Host": "127.0.0.1", "Upgrade": "websocket",
             "Connection": "Upgrade", "Sec-WebSocket-Key": key,
             "Sec-WebSocket-Version": "13"}
        h.update(headers or {})
        req = "GET %s HTTP/1.1\r\n" % path
        req += "".join("%s: %s\r\n" % kv for kv in h.items() if kv[1] is not None)
        self.sock.sendall(req.encode() + b"\r\n" + extra)
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()
        if self.status != 101:
            # the error page's body
            n = int(self.headers.get("content-length", "0"))
            while len(self.buf) < n:
                self._fill()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, data):
        self.sock.sendall(data)

    def read_frame(self):
        """(fin, rsv, opcode, payload) of the next server frame."""
        b0, b1 = self._take(2)
        if b1 & 0x80:
            raise AssertionError("a server frame is masked")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._take(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._take(8))[0]
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, self._take(n)

    def read_close(self):
        """The code and reason of the server's close frame (data frames
        skipped); answers it, as a client must, and checks that TCP closes
        after it."""
        while True:
            _, _, op, payload = self.read_frame()
            if op == CLOSE:
                break
        code = struct.unpack("!H", payload[:2])[0] if payload else None
        try:
            self.send(frame(CLOSE, payload[:2]))
        except OSError:
            pass  # a failed connection may be gone already
        self.assert_eof()
        return code, payload[2:]

    def assert_eof(self):
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            pass

    def close(self):
        self.sock.close()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, scaled(20)))


def worker_pids(srv):
    return srv.worker_processes()


class WebSocketTest(SquallTestCase):

    def start(self, limits=None, **ws):
        return self.start_squalld(ws_config(limits, **ws))

    def url(self, srv, path="/ws/echo"):
        return "ws://%s:%d%s" % (srv.address[0], srv.address[1], path)

    def raw(self, srv, path="/ws/plain", **kw):
        c = RawWS(srv.address, path, **kw)
        self.addCleanup(c.close)
        return c

    def assertClosedWith(self, srv, frames, code, path="/ws/plain"):
        c = self.raw(srv, path)
        self.assertEqual(c.status, 101)
        c.send(b"".join(frames))
        self.assertEqual(c.read_close()[0], code)
        srv.wait_log(r"echo: closed %d" % code)

    # -- echo with a real client ------------------------------------------------

    def test_echo_text_binary_large_fragmented(self):
        srv = self.start()

        async def go():
            async with websockets.connect(self.url(srv, "/ws/plain"),
                                          max_size=None) as ws:
                await ws.send("héllo")
                self.assertEqual(await ws.recv(), "héllo")
                await ws.send(b"\x00\xff\x01")
                self.assertEqual(await ws.recv(), b"\x00\xff\x01")
                big = os.urandom(MAX_MESSAGE)
                await ws.send(big)
                self.assertEqual(await ws.recv(), big)
                await ws.send(["frag", "men", "ted ✓"])
                self.assertEqual(await ws.recv(), "fragmented ✓")
                await ws.send("")
                self.assertEqual(await ws.recv(), "")
            return ws.close_code
        self.assertEqual(run(go()), 1000)
        srv.wait_log(r"echo: closed 1000")

    def test_ping_gets_pong(self):
        srv = self.start()

        async def go():
            async with websockets.connect(self.url(srv)) as ws:
                waiter = await ws.ping(b"are you there")
                await asyncio.wait_for(waiter, scaled(5))
        run(go())
        # and on the wire: the pong carries the ping's payload
        c = self.raw(srv)
        c.send(frame(PING, b"abc"))
        self.assertEqual(c.read_frame(), (True, 0, PONG, b"abc"))

    def test_frames_sent_with_the_handshake_are_kept(self):
        """Bytes read with the request go to the WebSocket (conn handover)."""
        srv = self.start()
        c = self.raw(srv, extra=frame(TEXT, b"early") + frame(BINARY, b"bird"))
        self.assertEqual(c.status, 101)
        self.assertEqual(c.read_frame(), (True, 0, TEXT, b"early"))
        self.assertEqual(c.read_frame(), (True, 0, BINARY, b"bird"))

    # -- the module API (tests/modules/wsmod.c) --------------------------------

    def test_open_refuses(self):
        srv = self.start()
        self.assertEqual(self.raw(srv, "/ws/app?refuse=403").status, 403)
        self.assertEqual(self.raw(srv, "/ws/app?refuse=500").status, 500)
        # a refused handshake gets no close callback
        self.assertNotRegex(srv.log_text(), r"wsmod: closed")

    def test_message_sent_from_open_follows_the_101(self):
        srv = self.start()
        c = self.raw(srv, "/ws/app")
        self.assertEqual(c.status, 101)
        self.assertEqual(c.read_frame(), (True, 0, TEXT, b"hello -"))
        c.send(frame(TEXT, b"one") + frame(TEXT, b"count"))
        self.assertEqual(c.read_frame()[3], b"one")
        self.assertEqual(c.read_frame()[3], b"count 2")

    def test_subprotocol_the_module_chooses(self):
        srv = self.start()
        c = self.raw(srv, "/ws/app?proto=beta",
                     headers={"Sec-WebSocket-Protocol": "alpha, beta"})
        self.assertEqual(c.status, 101)
        self.assertEqual(c.headers["sec-websocket-protocol"], "beta")
        self.assertEqual(c.read_frame()[3], b"hello beta")
        # one the client did not offer cannot be chosen
        c = self.raw(srv, "/ws/app?proto=gamma",
                     headers={"Sec-WebSocket-Protocol": "alpha"})
        self.assertEqual(c.status, 500)

    def test_module_closes(self):
        srv = self.start()
        c = self.raw(srv, "/ws/app")
        c.read_frame()
        c.send(frame(TEXT, b"close"))
        self.assertEqual(c.read_close(), (4001, b"asked"))
        srv.wait_log(r"wsmod: send after close: -1")
        # the close callback has the client's answer (its code, no reason)
        srv.wait_log(r"wsmod: closed 4001 '' after 1 messages")

    def test_module_ping_and_pong_callback(self):
        srv = self.start()
        c = self.raw(srv, "/ws/app")
        c.read_frame()
        c.send(frame(TEXT, b"ping"))
        self.assertEqual(c.read_frame(), (True, 0, PING, b"p1"))
        c.send(frame(PONG, b"p1"))
        self.assertEqual(c.read_frame(), (True, 0, TEXT, b"pong p1"))

    def test_no_http_timer_after_the_upgrade(self):
        """An idle WebSocket outlives header_timeout and idle_timeout."""
        srv = self.start(limits={"header_timeout": "200ms",
                                 "idle_timeout": "200ms"})
        c = self.raw(srv, "/ws/app")
        c.read_frame()
        time.sleep(0.8)
        c.send(frame(TEXT, b"still"))
        self.assertEqual(c.read_frame()[3], b"still")

    # -- close codes ------------------------------------------------------------

    def test_close_handshake_echoes_the_code(self):
        srv = self.start()
        c = self.raw(srv)
        c.send(frame(CLOSE, close_payload(4000, b"bye")))
        self.assertEqual(c.read_close()[0], 4000)
        srv.wait_log(r"echo: closed 4000 'bye'")

    def test_close_without_code_is_answered_1000(self):
        srv = self.start()
        c = self.raw(srv)
        c.send(frame(CLOSE))
        self.assertEqual(c.read_close()[0], 1000)
        srv.wait_log(r"echo: closed 1005")

    def test_unmasked_frame_1002(self):
        self.assertClosedWith(self.start(), [frame(TEXT, b"hi", mask=False)],
                              1002)

    def test_rsv_without_extension_1002(self):
        self.assertClosedWith(self.start(), [frame(TEXT, b"hi", rsv=4)], 1002)

    def test_unknown_opcode_1002(self):
        self.assertClosedWith(self.start(), [frame(0x3, b"hi")], 1002)

    def test_fragmented_control_1002(self):
        self.assertClosedWith(self.start(), [frame(PING, b"a", fin=False)],
                              1002)

    def test_continuation_without_start_1002(self):
        self.assertClosedWith(self.start(), [frame(0x0, b"a")], 1002)

    def test_new_message_inside_a_fragmented_one_1002(self):
        self.assertClosedWith(
            self.start(), [frame(TEXT, b"a", fin=False), frame(TEXT, b"b")],
            1002)

    def test_bad_close_payload_1002(self):
        self.assertClosedWith(self.start(), [frame(CLOSE, b"\x03")], 1002)

    def test_invalid_utf8_1007(self):
        self.assertClosedWith(self.start(), [frame(TEXT, b"ok \xc3\x28")],
                              1007)

    def test_invalid_utf8_split_across_fragments_1007(self):
        """The first fragment ends inside a sequence, the next breaks it:
        refused at that fragment, before the message ends."""
        srv = self.start()
        c = self.raw(srv)
        c.send(frame(TEXT, b"caf\xc3", fin=False))
        c.send(frame(0x0, b"\x28", fin=False))
        self.assertEqual(c.read_close()[0], 1007)

    def test_control_frames_between_fragments(self):
        srv = self.start()
        c = self.raw(srv)
        c.send(frame(TEXT, b"caf\xc3", fin=False) + frame(PING, b"p") +
               frame(0x0, b"\xa9"))
        self.assertEqual(c.read_frame(), (True, 0, PONG, b"p"))
        self.assertEqual(c.read_frame(), (True, 0, TEXT, "café".encode()))

    def test_message_over_max_1009(self):
        srv = self.start()
        # two fragments, each under the limit, together over it
        half = b"x" * (MAX_MESSAGE // 2 + 1)
        self.assertClosedWith(srv, [frame(BINARY, half, fin=False),
                                    frame(0x0, half)], 1009)

    def test_eof_tells_the_module_1006(self):
        srv = self.start()
        c = self.raw(srv)
        c.send(frame(TEXT, b"x"))
        c.read_frame()
        c.sock.shutdown(socket.SHUT_WR)
        srv.wait_log(r"echo: closed 1006")

    # -- the handshake ----------------------------------------------------------

    def test_other_version_426(self):
        srv = self.start()
        c = self.raw(srv, headers={"Sec-WebSocket-Version": "8"})
        self.assertEqual(c.status, 426)
        self.assertEqual(c.headers.get("sec-websocket-version"), "13")

    def test_bad_key_400(self):
        srv = self.start()
        c = self.raw(srv, headers={"Sec-WebSocket-Key": "short"})
        self.assertEqual(c.status, 400)

    def test_accept_key(self):
        srv = self.start()
        c = self.raw(srv, headers={"Sec-WebSocket-Key":
                                   "dGhlIHNhbXBsZSBub25jZQ=="})
        self.assertEqual(c.status, 101)
        # RFC 6455 1.3's example
        self.assertEqual(c.headers["sec-websocket-accept"],
                         "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def test_origin_of_another_host_403(self):
        srv = self.start()
        c = self.raw(srv, headers={"Origin": "http://evil.example"})
        self.assertEqual(c.status, 403)
        c = self.raw(srv, headers={"Origin": "http://127.0.0.1"})
        self.assertEqual(c.status, 101)

    def test_origin_list_of_the_route(self):
        srv = self.start()
        c = self.raw(srv, "/ws/good", headers={"Origin": "http://good.example"})
        self.assertEqual(c.status, 101)
        c = self.raw(srv, "/ws/good", headers={"Origin": "http://127.0.0.1"})
        self.assertEqual(c.status, 403)

    def test_subprotocol_of_the_route(self):
        srv = self.start()

        async def go():
            async with websockets.connect(
                    self.url(srv, "/ws/proto"),
                    subprotocols=["chat.v3", "chat.v1"]) as ws:
                return ws.subprotocol
        # the first the client offers that the route speaks
        self.assertEqual(run(go()), "chat.v1")
        c = self.raw(srv, "/ws/proto", headers={
            "Sec-WebSocket-Protocol": "chat.v9"})
        self.assertEqual(c.status, 101)
        self.assertNotIn("sec-websocket-protocol", c.headers)

    # -- permessage-deflate -----------------------------------------------------

    def test_compression_on_the_wire(self):
        srv = self.start()
        c = self.raw(srv, "/ws/echo", headers={
            "Sec-WebSocket-Extensions":
                "permessage-deflate; client_max_window_bits"})
        self.assertEqual(c.status, 101)
        self.assertIn("permessage-deflate",
                      c.headers.get("sec-websocket-extensions", ""))
        text = ("squall " * 200).encode()
        c.send(frame(TEXT, deflate(text), rsv=4))
        fin, rsv, op, payload = c.read_frame()
        self.assertEqual((fin, rsv, op), (True, 4, TEXT))
        self.assertLess(len(payload), len(text) // 10)
        d = zlib.decompressobj(wbits=-15)
        self.assertEqual(d.decompress(payload + b"\x00\x00\xff\xff"), text)

    def test_no_compression_unless_the_route_says(self):
        srv = self.start()
        c = self.raw(srv, "/ws/plain", headers={
            "Sec-WebSocket-Extensions": "permessage-deflate"})
        self.assertEqual(c.status, 101)
        self.assertNotIn("sec-websocket-extensions", c.headers)

    def test_real_client_negotiates_deflate(self):
        srv = self.start()

        async def go():
            async with websockets.connect(self.url(srv), max_size=None) as ws:
                msg = "abc" * 10000
                await ws.send(msg)
                self.assertEqual(await ws.recv(), msg)
                return [e.name for e in ws.extensions]
        self.assertEqual(run(go()), ["permessage-deflate"])

    def test_route_deflate_parameters_are_insisted_on(self):
        srv = self.start()
        # a client that lets the server choose its window gets the route's
        c = self.raw(srv, "/ws/small", headers={
            "Sec-WebSocket-Extensions":
                "permessage-deflate; client_max_window_bits"})
        self.assertEqual(c.status, 101)
        self.assertEqual(c.headers.get("sec-websocket-extensions"),
                         "permessage-deflate; server_no_context_takeover; "
                         "server_max_window_bits=8; client_max_window_bits=10")
        # each message decodes alone (no takeover) with a 256-byte window
        text = ("squall is not tornado " * 40).encode()
        for _ in range(2):
            c.send(frame(TEXT, deflate(text), rsv=4))
            fin, rsv, op, payload = c.read_frame()
            self.assertEqual((fin, rsv, op), (True, 4, TEXT))
            self.assertLess(len(payload), len(text) // 4)
            d = zlib.decompressobj(wbits=-8)
            self.assertEqual(d.decompress(payload + b"\x00\x00\xff\xff"), text)
        # one that may not be limited to 10 bits is served uncompressed
        c2 = self.raw(srv, "/ws/small", headers={
            "Sec-WebSocket-Extensions": "permessage-deflate"})
        self.assertEqual(c2.status, 101)
        self.assertNotIn("sec-websocket-extensions", c2.headers)

    def test_zip_bomb_1009(self):
        srv = self.start()
        c = self.raw(srv, "/ws/echo", headers={
            "Sec-WebSocket-Extensions": "permessage-deflate"})
        bomb = deflate(b"\0" * (16 * 1024 * 1024))
        self.assertLess(len(bomb), MAX_MESSAGE)
        c.send(frame(BINARY, bomb, rsv=4))
        self.assertEqual(c.read_close()[0], 1009)

    def test_bad_compressed_data_1007(self):
        srv = self.start()
        c = self.raw(srv, "/ws/echo", headers={
            "Sec-WebSocket-Extensions": "permessage-deflate"})
        c.send(frame(BINARY, b"\xff\xff\xff\xff", rsv=4))
        self.assertEqual(c.read_close()[0], 1007)

    # -- backpressure -----------------------------------------------------------

    def flood(self, c, seconds):
        """Sends 16 KiB messages for the echo until the server stops
        reading or time is up; the bytes sent."""
        msg = frame(BINARY, os.urandom(16384))
        c.sock.settimeout(0.2)
        sent, end = 0, time.monotonic() + seconds
        while time.monotonic() < end and sent < 64 * 1024 * 1024:
            try:
                c.sock.sendall(msg)
                sent += len(msg)
            except socket.timeout:
                break
        c.sock.settimeout(scaled(5))
        return sent

    def test_slow_consumer_closed_1008(self):
        srv = self.start(max_send_buffer="64k", close_timeout="10s")
        c = self.raw(srv)
        self.flood(c, scaled(5))
        srv.wait_log(r"wait for a WebSocket client \(max_send_buffer 65536\)")
        # it reads at last: the echoes queued, then the 1008
        self.assertEqual(c.read_close()[0], 1008)
        srv.wait_log(r"echo: closed 1008")

    def test_client_that_never_reads_is_dropped_with_bounded_memory(self):
        srv = self.start(max_send_buffer="256k", close_timeout="1s")
        before = {p: vm_rss(p) for p in worker_pids(srv)}
        c = self.raw(srv)
        sent = self.flood(c, scaled(5))
        self.assertGreater(sent, 256 * 1024)
        srv.wait_log(r"echo: closed 1008", timeout=scaled(10))
        # (ASan's quarantine keeps freed input buffers resident a while)
        bound = (96 if SANITIZED else 16) << 20
        for pid, rss in before.items():
            self.assertLess(vm_rss(pid) - rss, bound)

    def test_idle_websockets_hold_no_buffers(self):
        """After a message each, idle WebSockets cost their state only: a
        read, write or message buffer (4 KiB blocks) would show."""
        if SANITIZED:
            self.skipTest("redzones and quarantine hide the allocations")
        srv = self.start()
        pids = worker_pids(srv)

        def open_some(n):
            cs = [self.raw(srv) for _ in range(n)]
            for c in cs:  # in two fragments: joined in a message buffer
                c.send(frame(TEXT, b"hello " * 50, fin=False) +
                       frame(0x0, b"hello " * 50))
            for c in cs:
                c.read_frame()
            return cs
        open_some(100)  # warms the allocator and the caches
        before = sum(vm_rss(p) for p in pids)
        open_some(600)
        time.sleep(0.2)
        per_conn = (sum(vm_rss(p) for p in pids) - before) / 600
        self.assertLess(per_conn, 2048)

    # -- shutdown ---------------------------------------------------------------

    def test_sigterm_closes_with_1001(self):
        srv = self.start()

        async def go():
            async with websockets.connect(self.url(srv)) as ws:
                await ws.send("x")
                await ws.recv()
                srv.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(ws.recv(), scaled(5))
                except websockets.ConnectionClosed as e:
                    return e.code
        self.assertEqual(run(go()), 1001)
        self.assertEqual(srv.wait_exit(), 0)
        srv.exit_observed = True
        self.assertRegex(srv.log_text(), r"echo: closed 1001")

    def test_sigterm_does_not_wait_for_a_silent_client(self):
        """A client that never answers the 1001 is closed at close_timeout."""
        srv = self.start(close_timeout="500ms")
        c = self.raw(srv)
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(c.read_frame()[2], CLOSE)
        started = time.monotonic()
        self.assertEqual(srv.wait_exit(), 0)
        srv.exit_observed = True
        self.assertLess(time.monotonic() - started, scaled(4))

    # -- server pings -----------------------------------------------------------

    def test_server_pings_and_closes_without_pong(self):
        srv = self.start(ping_interval="200ms", ping_timeout="300ms")
        c = self.raw(srv)
        self.assertEqual(c.read_frame()[2], PING)
        code, reason = c.read_close()
        self.assertEqual((code, reason), (1011, b"ping timeout"))

    def test_answered_pings_keep_it_open(self):
        srv = self.start(ping_interval="200ms", ping_timeout="300ms")
        c = self.raw(srv)
        for _ in range(3):
            fin, rsv, op, payload = c.read_frame()
            self.assertEqual(op, PING)
            c.send(frame(PONG, payload))
        c.send(frame(TEXT, b"still here"))
        while True:
            _, _, op, payload = c.read_frame()
            if op == TEXT:
                break
        self.assertEqual(payload, b"still here")


if __name__ == "__main__":
    main()
