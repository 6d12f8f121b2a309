#!/usr/bin/python3
"""squall behind nginx, as deployed: the shipped site example
(conf/nginx-squall.conf) in front of a real squalld. Requests go through
nginx's keep-alive upstream, with the forwarding headers set."""

import asyncio
import os
import re
import shutil
import socket
import subprocess
import time

import squalltest
from squalltest import build_request, free_port, make_config, scaled, wait_for
from test_chat import chat_config, login_cookie

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SITE = os.path.join(squalltest.SRCDIR, "conf", "nginx-squall.conf")


def site_for(upstream_port, listen_port):
    """The shipped site with its addresses pointed at the test servers."""
    with open(SITE) as f:
        text = f.read()
    text, n = re.subn(r"server 127\.0\.0\.1:8080", "server 127.0.0.1:%d" % upstream_port, text)
    assert n == 1, "conf/nginx-squall.conf: upstream address not found"
    text, n = re.subn(r"(?m)^(\s*)listen 80;", r"\1listen 127.0.0.1:%d;" % listen_port, text)
    assert n == 1, "conf/nginx-squall.conf: listen 80 not found"
    return re.sub(r"(?m)^\s*listen \[::\]:80;\n", "", text)


def run_nginx(test, make_site, name="nginx"):
    """Starts nginx for test (stopped by its cleanups) with the site
    make_site(listen_port) returns; the port it listens on."""
    prefix = test.path(name)
    os.makedirs(os.path.join(prefix, "logs"))
    port = free_port()
    with open(os.path.join(prefix, "site.conf"), "w") as f:
        f.write(make_site(port))
    with open(os.path.join(prefix, "nginx.conf"), "w") as f:
        f.write("daemon off;\nworker_processes 1;\npid %s/nginx.pid;\n"
                "error_log %s/logs/error.log;\n"
                "events { worker_connections 256; }\n"
                "http { access_log off; include %s/site.conf; }\n"
                % (prefix, prefix, prefix))
    proc = subprocess.Popen([NGINX, "-p", prefix, "-c", "nginx.conf"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)

    def stop():
        proc.terminate()
        try:
            proc.wait(scaled(5))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    test.addCleanup(stop)

    def listening():
        if proc.poll() is not None:
            raise AssertionError("nginx exited: %s"
                                 % proc.stderr.read().decode(errors="replace"))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except ConnectionRefusedError:
            return False
    wait_for(listening, 10, "nginx to listen")
    return port


class NginxTest(squalltest.SquallTestCase):

    def setUp(self):
        super().setUp()
        if not os.access(NGINX, os.X_OK):
            self.skipTest("nginx is not installed (Debian package nginx-light)")
        self.squall = self.start_squalld(workers=2)
        self.port = self.start_nginx(self.squall.address[1])

    def start_nginx(self, upstream_port, name="nginx"):
        return run_nginx(self, lambda port: site_for(upstream_port, port), name)

    def via_nginx(self, method, target, **kw):
        kw.setdefault("close", True)
        with squalltest.Conn(("127.0.0.1", self.port), timeout=5) as c:
            return c.request(method, target, **kw)

    def upstream_connections(self):
        """Established connections from nginx to squalld's port (only
        nginx's: a socket elsewhere on the machine whose peer happens to
        use that port number does not count)."""
        out = subprocess.run(["ss", "-Htnp", "state", "established",
                              "( dport = :%d )" % self.squall.address[1]],
                             capture_output=True, text=True, check=True).stdout
        return sum(1 for line in out.splitlines() if '"nginx"' in line)

    def test_hello_through_nginx(self):
        resp = self.via_nginx("GET", "/")
        self.assertStatus(resp, 200, "Hello, world!")
        self.assertEqual(resp.header("Content-Type"), "text/plain")

    def test_large_body_through_nginx(self):
        body = os.urandom(512 * 1024)
        resp = self.via_nginx("POST", "/echo", body=body)
        self.assertStatus(resp, 200, body)

    def test_forwarding_headers_reach_the_handler(self):
        resp = self.via_nginx("GET", "/headers", headers=[("Host", "app.example")])
        self.assertStatus(resp, 200)
        text = resp.body.decode()
        self.assertRegex(text, r"(?m)^Host: app\.example$")
        self.assertRegex(text, r"(?m)^X-Real-IP: 127\.0\.0\.1$")
        self.assertRegex(text, r"(?m)^X-Forwarded-For: 127\.0\.0\.1$")
        self.assertRegex(text, r"(?m)^X-Forwarded-Proto: http$")

    def test_trusted_nginx_gives_the_real_client(self):
        """squalld trusting the loopback nginx connects from (as the
        shipped squall.yaml does): a client at 127.0.0.2 that spoofs
        X-Forwarded-For, X-Real-IP and X-Forwarded-Proto through the
        shipped site is seen as 127.0.0.2 over http. nginx replaces
        X-Real-IP and X-Forwarded-Proto and appends its peer to
        X-Forwarded-For; squalld takes the rightmost untrusted address."""
        curl = shutil.which("curl")
        if curl is None:
            self.skipTest("curl is not installed")
        cfg = make_config(workers=2)
        cfg["server"]["trusted_proxies"] = ["127.0.0.1", "::1", "unix"]
        srv = self.start_squalld(cfg)
        port = self.start_nginx(srv.address[1], "nginx-trusted")
        out = subprocess.run(
            [curl, "-sS", "--max-time", str(scaled(10)),
             "--interface", "127.0.0.2",
             "-H", "X-Forwarded-For: 6.6.6.6", "-H", "X-Real-IP: 7.7.7.7",
             "-H", "X-Forwarded-Proto: https",
             "http://127.0.0.1:%d/client" % port],
            capture_output=True, text=True, check=True)
        self.assertEqual(out.stdout, "127.0.0.2 http")
        # without trust (setUp's squalld), the peer is nginx itself
        resp = self.via_nginx("GET", "/client",
                              headers=[("X-Forwarded-For", "6.6.6.6")])
        self.assertStatus(resp, 200, "127.0.0.1 http")

    def test_upstream_connections_are_kept_alive(self):
        for i in range(30):
            self.assertStatus(self.via_nginx("GET", "/pid?n=%d" % i), 200)
        # 30 sequential requests reuse the idle upstream connection(s)
        # instead of opening one each
        n = self.upstream_connections()
        self.assertGreaterEqual(n, 1)
        self.assertLessEqual(n, 2, "nginx did not keep its upstream alive")

    def test_squall_errors_pass_through(self):
        self.assertStatus(self.via_nginx("GET", "/no/such"), 404)
        resp = self.via_nginx("POST", "/get-only", body=b"x")
        self.assertStatus(resp, 405)
        self.assertIn("GET", resp.header("Allow"))

    def test_long_poll_through_nginx(self):
        t0 = time.monotonic()
        resp = self.via_nginx("GET", "/slow?ms=300")
        self.assertStatus(resp, 200, "slow done")
        self.assertGreaterEqual(time.monotonic() - t0, 0.25)

    def test_websocket_through_nginx(self):
        """The shipped /ws/ location passes the upgrade, the extension
        negotiation and the close handshake."""
        import websockets
        cfg = make_config(workers=2, routes=[
            {"path": "/ws/echo", "websocket": "echo:echo", "deflate": True}])
        cfg["modules"]["echo"] = {"path": "echo.so"}
        srv = self.start_squalld(cfg)
        port = self.start_nginx(srv.address[1], "nginx-ws")

        async def go():
            url = "ws://127.0.0.1:%d/ws/echo" % port
            async with websockets.connect(url) as ws:
                await ws.send("through nginx")
                text = await ws.recv()
                await ws.send(b"\x00\x01")
                data = await ws.recv()
                names = [e.name for e in ws.extensions]
            return text, data, names, ws.close_code
        got = asyncio.run(asyncio.wait_for(go(), scaled(20)))
        self.assertEqual(got, ("through nginx", b"\x00\x01",
                               ["permessage-deflate"], 1000))
        srv.wait_log(r"echo: closed 1000")

    def test_chat_updates_through_nginx(self):
        """The shipped pub/sub location: a long poll answered by a message
        posted through nginx too, a long poll that times out (204), an
        event stream passed on unbuffered, and the WebSocket the page
        uses."""
        import json
        import websockets
        srv = self.start_squalld(chat_config(self.workdir, workers=2))
        port = self.start_nginx(srv.address[1], "nginx-chat")

        def via(method, target, conn=None, **kw):
            if conn is not None:
                return conn.request(method, target, **kw)
            with squalltest.Conn(("127.0.0.1", port), timeout=10) as c:
                return c.request(method, target, close=True, **kw)

        def post(body):
            resp = via("POST", "/chat/n/message", body=json.dumps(
                {"body": body}),
                headers=[("Content-Type", "application/json"),
                         login_cookie("nginx")])
            self.assertStatus(resp, 200)
            return resp.header("Squall-Position")
        p0 = post("first")

        # a long poll waiting at squalld while the message is posted
        with squalltest.Conn(("127.0.0.1", port), timeout=10) as c:
            c.send(build_request("GET", "/chat/n/updates?position=" + p0))
            time.sleep(0.3)
            self.assertFalse(c.readable(0), "the long poll did not wait")
            p1 = post("second")
            resp = c.read_response()
        self.assertStatus(resp, 200)
        self.assertEqual(json.loads(resp.body)["body"], "second")
        self.assertEqual(resp.header("Squall-Position"), p1)
        # nothing more: 204 after poll_timeout (2s), where to go on
        t0 = time.monotonic()
        resp = via("GET", "/chat/n/updates?position=" + p1)
        self.assertEqual((resp.status, resp.header("Squall-Position")), (204, p1))
        self.assertGreaterEqual(time.monotonic() - t0, 1.5)

        # an event stream: its head and first bytes come at once, each
        # event as it is published (nothing waits in nginx's buffers)
        with squalltest.Conn(("127.0.0.1", port), timeout=10) as c:
            c.send(build_request("GET", "/chat/n/updates", version="HTTP/1.0",
                                 headers=[("Accept", "text/event-stream"),
                                          ("Last-Event-ID", p0)]))
            deadline = time.monotonic() + scaled(10)
            while b"data: " not in c.buf:  # "second", from the history
                c._fill(deadline)
            p2 = post("third")
            while ("id: %s\n" % p2).encode() not in c.buf:
                c._fill(deadline)
            stream = c.buf.decode()
        self.assertIn("text/event-stream", stream.split("\r\n\r\n")[0])
        self.assertIn("id: %s\n" % p1, stream)
        self.assertRegex(stream, r'data: \{.*"body":"third"\}\n\n')

        # the page's WebSocket, upgraded through the same location
        async def ws():
            url = "ws://127.0.0.1:%d/chat/n/updates?position=%s" % (port, p0)
            async with websockets.connect(url, subprotocols=["squall.v1"]) as w:
                return [await asyncio.wait_for(w.recv(), scaled(10))
                        for _ in range(2)]
        frames = asyncio.run(asyncio.wait_for(ws(), scaled(20)))
        self.assertEqual([f.partition("\n")[0] for f in frames], [p1, p2])


if __name__ == "__main__":
    squalltest.main()
