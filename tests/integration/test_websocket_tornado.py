"""WebSockets against the real squalld (2 workers) with Tornado's own
client, tornado.websocket.websocket_connect (Debian's python3-tornado): the
client a Tornado user's tests already use, with its permessage-deflate,
subprotocols, pings and close codes.
"""

import asyncio
import re
import signal

from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from squalltest import SquallTestCase, main, scaled, wait_for
from test_websocket import worker_pids, ws_config


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, scaled(30)))


class TornadoClientTest(SquallTestCase):

    def start(self, **ws):
        return self.start_squalld(ws_config(**ws))

    def url(self, srv, path="/ws/echo"):
        return "ws://%s:%d%s" % (srv.address[0], srv.address[1], path)

    async def connect(self, srv, path="/ws/echo", headers=None, **kw):
        req = HTTPRequest(self.url(srv, path), headers=headers or {},
                          connect_timeout=scaled(5), request_timeout=scaled(5))
        return await websocket_connect(req, **kw)

    async def recv(self, ws):
        return await asyncio.wait_for(ws.read_message(), scaled(5))

    async def close(self, ws, code=None):
        """The close handshake, waited for."""
        ws.close(code)
        self.assertIsNone(await self.recv(ws))

    def test_echo_text_binary_and_large(self):
        srv = self.start(max_message_size="2m")

        async def go():
            ws = await self.connect(srv, "/ws/plain", max_message_size=4 << 20)
            await ws.write_message("héllo")
            self.assertEqual(await self.recv(ws), "héllo")
            await ws.write_message(b"\x00\xff" * 100, binary=True)
            self.assertEqual(await self.recv(ws), b"\x00\xff" * 100)
            big = "x" * (1 << 20)
            await ws.write_message(big)
            self.assertEqual(await self.recv(ws), big)
            await ws.write_message("")
            self.assertEqual(await self.recv(ws), "")
            ws.close(1000, "done")
            self.assertIsNone(await self.recv(ws))
            return ws.close_code
        self.assertEqual(run(go()), 1000)
        srv.wait_log(r"echo: closed 1000 'done'")

    def test_compression_negotiated_and_used(self):
        srv = self.start()

        async def go():
            ws = await self.connect(srv, compression_options={})
            ext = ws.headers.get("Sec-WebSocket-Extensions", "")
            text = "compressible " * 5000
            for _ in range(3):  # with context takeover, three in a row
                await ws.write_message(text)
                self.assertEqual(await self.recv(ws), text)
            await self.close(ws)
            return ext
        self.assertTrue(run(go()).startswith("permessage-deflate"))

    def test_no_context_takeover_route(self):
        srv = self.start()

        async def go():
            ws = await self.connect(srv, "/ws/small", compression_options={})
            ext = ws.headers.get("Sec-WebSocket-Extensions", "")
            for i in range(3):
                msg = "message %d " % i * 300
                await ws.write_message(msg)
                self.assertEqual(await self.recv(ws), msg)
            await self.close(ws)
            return ext
        ext = run(go())
        self.assertIn("server_no_context_takeover", ext)
        self.assertIn("client_max_window_bits=10", ext)

    def test_subprotocol(self):
        srv = self.start()

        async def go():
            ws = await self.connect(srv, "/ws/proto",
                                    subprotocols=["chat.v9", "chat.v1"])
            proto = ws.selected_subprotocol
            ws.close()
            return proto
        self.assertEqual(run(go()), "chat.v1")

    def test_foreign_origin_is_refused_403(self):
        srv = self.start()

        async def go(origin):
            try:
                ws = await self.connect(srv, "/ws/good",
                                        headers={"Origin": origin})
            except HTTPClientError as e:
                return e.code
            ws.close()
            return 101
        self.assertEqual(run(go("http://evil.example")), 403)
        self.assertEqual(run(go("http://good.example")), 101)

    def test_module_refuses_in_open(self):
        srv = self.start()

        async def go():
            with self.assertRaises(HTTPClientError) as cm:
                await self.connect(srv, "/ws/app?refuse=403")
            return cm.exception.code
        self.assertEqual(run(go()), 403)

    def test_server_close_code_and_reason(self):
        srv = self.start()

        async def go():
            ws = await self.connect(srv, "/ws/app")
            self.assertEqual(await self.recv(ws), "hello -")
            await ws.write_message("close")
            self.assertIsNone(await self.recv(ws))
            return ws.close_code, ws.close_reason
        self.assertEqual(run(go()), (4001, "asked"))

    def test_server_ping_is_answered_by_the_client(self):
        srv = self.start()
        pings = []

        async def go():
            ws = await self.connect(srv, "/ws/app")
            ws.on_ping = pings.append  # the client still answers with a pong
            self.assertEqual(await self.recv(ws), "hello -")
            await ws.write_message("ping")
            # the module's pong callback answers the client's pong
            reply = await self.recv(ws)
            ws.close()
            return reply
        self.assertEqual(run(go()), "pong p1")
        self.assertEqual(pings, [b"p1"])

    def test_client_ping_gets_pong(self):
        srv = self.start()

        async def go():
            pong = asyncio.get_running_loop().create_future()
            ws = await self.connect(srv, "/ws/plain")
            # Tornado's client reports pongs to on_pong of its connection
            ws.on_pong = lambda data: pong.done() or pong.set_result(data)
            ws.ping(b"are you there")
            data = await asyncio.wait_for(pong, scaled(5))
            ws.close()
            return data
        self.assertEqual(run(go()), b"are you there")

    def test_many_clients_on_both_workers(self):
        srv = self.start()
        self.assertEqual(len(worker_pids(srv)), 2)

        async def one(i):
            ws = await self.connect(srv, "/ws/echo", compression_options={})
            for j in range(5):
                await ws.write_message("client %d message %d" % (i, j))
                self.assertEqual(await self.recv(ws),
                                 "client %d message %d" % (i, j))
            await self.close(ws, 1000)

        async def go():
            await asyncio.gather(*(one(i) for i in range(100)))
        run(go())
        closes = re.compile(r"squalld\[(\d+)\] worker \d+: echo: closed 1000")
        wait_for(lambda: len(closes.findall(srv.log_text())) == 100,
                 scaled(5), "100 closes logged")
        # the shared listening socket spread them over both workers
        self.assertEqual(set(int(p) for p in closes.findall(srv.log_text())),
                         set(worker_pids(srv)))

    def test_sigterm_closes_with_1001(self):
        srv = self.start()

        async def go():
            ws = await self.connect(srv)
            await ws.write_message("x")
            self.assertEqual(await self.recv(ws), "x")
            srv.send_signal(signal.SIGTERM)
            self.assertIsNone(await self.recv(ws))
            return ws.close_code
        self.assertEqual(run(go()), 1001)
        self.assertEqual(srv.wait_exit(), 0)
        srv.exit_observed = True


if __name__ == "__main__":
    main()
