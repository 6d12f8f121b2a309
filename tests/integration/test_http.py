#!/usr/bin/python3
"""HTTP/1.1 behaviour of squalld, seen from real clients (raw sockets and
curl): connection reuse, framing, interim responses, routing results."""

import email.utils
import subprocess
import socket
import time

import squalltest
from squalltest import build_request


class HttpTest(squalltest.SquallTestCase):

    def setUp(self):
        super().setUp()
        self.srv = self.start_squalld(workers=2)

    def conn(self, **kw):
        return self.srv.connect(**kw)

    # connections ---------------------------------------------------------

    def test_keep_alive(self):
        with self.conn() as c:
            pids = set()
            for i in range(5):
                resp = c.request("GET", "/args/%d?q=ka" % i)
                self.assertStatus(resp, 200, "id=%d\nq=ka\n" % i)
                self.assertNotIn("close", resp.tokens("Connection"))
                pids.add(c.request("GET", "/pid").body)
            self.assertEqual(len(pids), 1, "one connection, one worker")
            self.assertFalse(c.eof)

    def test_pipelining(self):
        n = 20
        data = b"".join(build_request("GET", "/args/%d?q=p%d" % (i, i))
                        for i in range(n))
        with self.conn() as c:
            c.send(data)  # all requests in one send
            for i in range(n):
                self.assertStatus(c.read_response(), 200,
                                  "id=%d\nq=p%d\n" % (i, i))

    def test_pipelined_post_bodies(self):
        data = (build_request("POST", "/body", body=b"one")
                + build_request("POST", "/body", body=b"second")
                + build_request("GET", "/args/3?q=after"))
        with self.conn() as c:
            c.send(data)
            self.assertStatus(c.read_response(), 200, b"one")
            self.assertStatus(c.read_response(), 200, b"second")
            self.assertStatus(c.read_response(), 200, "id=3\nq=after\n")

    def test_http10_closes_by_default(self):
        with self.conn() as c:
            c.send(b"GET /pid HTTP/1.0\r\n\r\n")
            resp = c.read_response()
            self.assertStatus(resp, 200)
            self.assertTrue(resp.body.isdigit(), resp)
            c.assert_closed()

    def test_http10_keep_alive(self):
        req = b"GET /pid HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        with self.conn() as c:
            c.send(req)
            first = c.read_response()
            self.assertStatus(first, 200)
            self.assertIn("keep-alive", first.tokens("Connection"))
            self.assertIsNotNone(first.header("Content-Length"))
            c.send(req)
            second = c.read_response()
            self.assertStatus(second, 200, first.body)

    def test_connection_close_honoured(self):
        with self.conn() as c:
            c.send(build_request("GET", "/pid", close=True))
            resp = c.read_response()
            self.assertStatus(resp, 200)
            self.assertIn("close", resp.tokens("Connection"))
            c.assert_closed()

    # bodies and framing ----------------------------------------------------

    def test_content_length_body(self):
        resp = self.srv.request("POST", "/body", body=b"hello body")
        self.assertStatus(resp, 200, b"hello body")
        self.assertEqual(resp.header("X-Body-Length"), "10")

    def test_content_length_body_in_pieces(self):
        with self.conn() as c:
            c.send(build_request("POST", "/body",
                                 headers=[("Content-Length", "11")]))
            for piece in (b"hel", b"lo ", b"wor", b"ld"):
                time.sleep(0.02)  # separate segments; the result is the same
                c.send(piece)
            resp = c.read_response()
            self.assertStatus(resp, 200, b"hello world")
            self.assertEqual(resp.header("X-Body-Length"), "11")

    def test_chunked_request_body(self):
        body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
        with self.conn() as c:
            c.send(build_request("POST", "/body", body=body, headers=[
                ("Transfer-Encoding", "chunked")]))
            resp = c.read_response()
            self.assertStatus(resp, 200, b"hello world")
            self.assertEqual(resp.header("X-Body-Length"), "11")
            # the connection is still usable after the chunked body
            self.assertStatus(c.request("GET", "/args/1?q=x"), 200, "id=1\nq=x\n")

    def test_chunked_request_body_in_pieces(self):
        pieces = [b"5\r", b"\nhel", b"lo\r\n", b"6\r\n wo", b"rld\r\n0", b"\r\n\r\n"]
        with self.conn() as c:
            c.send(build_request("POST", "/body", headers=[
                ("Transfer-Encoding", "chunked")]))
            for piece in pieces:
                time.sleep(0.02)  # separate segments; the result is the same
                c.send(piece)
            self.assertStatus(c.read_response(), 200, b"hello world")

    def test_chunked_request_trailer(self):
        # RFC 9112 7.1.2: a trailer section may follow the last chunk
        body = b"5\r\nhello\r\n0\r\nX-Checksum: 1234\r\n\r\n"
        with self.conn() as c:
            c.send(build_request("POST", "/body", body=body, headers=[
                ("Transfer-Encoding", "chunked"), ("Trailer", "X-Checksum")]))
            self.assertStatus(c.read_response(), 200, b"hello")
            self.assertStatus(c.request("GET", "/args/1?q=t"), 200, "id=1\nq=t\n")

    def test_chunked_response(self):
        with self.conn() as c:
            c.send(build_request("GET", "/stream"))
            resp = c.read_response()
            self.assertStatus(resp, 200, b"first\nsecond\n")
            self.assertEqual(resp.tokens("Transfer-Encoding"), ["chunked"])
            self.assertIsNone(resp.header("Content-Length"))
            self.assertGreaterEqual(len([s for s in resp.chunks if s]), 2,
                                    "expected first and second as separate "
                                    "chunks: %r" % resp.chunks)
            # framing was right: the next response parses on the same socket
            self.assertStatus(c.request("GET", "/args/2?q=y"), 200, "id=2\nq=y\n")

    def test_big_response(self):
        resp = self.srv.get("/big?n=3000000", timeout=20)
        self.assertStatus(resp, 200)
        self.assertEqual(resp.header("Content-Length"), "3000000")
        self.assertEqual(resp.body, b"x" * 3000000)

    def test_pipelined_big_responses_stay_in_order(self):
        # large bodies go out from their own buffer after their head; the
        # small responses pipelined around them must not overtake them
        sizes = [400000, 10, 700000, 3, 300000]
        with self.conn(timeout=20) as c:
            c.send(b"".join(build_request("GET", "/big?n=%d" % n) for n in sizes)
                   + build_request("GET", "/args/5?q=last"))
            for n in sizes:
                resp = c.read_response(timeout=20)
                self.assertStatus(resp, 200)
                self.assertEqual(resp.header("Content-Length"), str(n))
                self.assertEqual(resp.body, b"x" * n)
            self.assertStatus(c.read_response(), 200, "id=5\nq=last\n")

    def test_head(self):
        with self.conn() as c:
            get = c.request("GET", "/args/9?q=head")
            c.send(build_request("HEAD", "/args/9?q=head"))
            head = c.read_response("HEAD")
            self.assertStatus(head, 200)
            self.assertEqual(head.header("Content-Length"), str(len(get.body)))
            # no body bytes followed the HEAD response: the next one parses
            self.assertStatus(c.request("GET", "/args/8?q=next"), 200,
                              "id=8\nq=next\n")

    def test_expect_100_continue(self):
        with self.conn() as c:
            c.send(build_request("POST", "/body", headers=[
                ("Content-Length", "7"), ("Expect", "100-continue")]))
            interim = c.read_response()
            self.assertEqual(interim.status, 100, interim)
            self.assertEqual(interim.version, "HTTP/1.1")
            c.send(b"payload")
            resp = c.read_response()
            self.assertStatus(resp, 200, b"payload")  # one 100, then this

    def test_expect_100_continue_to_unknown_route_gets_final_status(self):
        for target, status in (("/no/such", 404), ("/get-only", 405)):
            with self.conn() as c:
                c.send(build_request("POST", target, headers=[
                    ("Content-Length", "100000"), ("Expect", "100-continue")]))
                # answered from the head alone: no invitation to upload
                resp = c.read_response()
                self.assertStatus(resp, status)
                c.assert_closed()

    def test_streaming_to_a_client_that_resets(self):
        """A handler flushing to a client that reset the connection keeps
        its request until sq_finish(): no crash, no sanitizer report (the
        harness fails the test on either), and the worker serves on."""
        import struct
        srv = self.start_squalld(workers=1)
        worker = srv.worker_pid()
        for _ in range(30):
            c = srv.connect()
            c.send(build_request("GET", "/drip?n=200"))
            c.sock.recv(1)  # the stream has started
            # close with RST: the next writes fail on the server side
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              struct.pack("ii", 1, 0))
            c.close()
        self.assertEqual(srv.worker_pid(), worker, srv.log_tail())
        resp = srv.get("/drip?n=3")
        self.assertStatus(resp, 200, b"line 3\nafter flush 3\nline 2\n"
                          b"after flush 2\nline 1\nafter flush 1\n")

    def test_client_gone_during_async_request(self):
        srv = self.start_squalld(workers=1)  # one worker: it must survive
        worker = srv.worker_pid()
        for target in ("/slow?ms=300", "/stream"):
            mark = len(srv.log_text())
            c = srv.connect()
            c.send(build_request("GET", target))
            if target.startswith("/slow"):
                srv.wait_log(r"testmod: slow request started", start=mark)
            c.close()  # gone before the handler finished
        # the same worker answers afterwards, past the slow timer
        t0 = time.monotonic()
        while time.monotonic() - t0 < 0.5:
            self.assertEqual(srv.worker_pid(), worker)
            time.sleep(0.05)

    # headers -----------------------------------------------------------------

    def test_date_and_server_headers(self):
        resp = self.srv.get("/pid")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.header("Server"), "squall")
        date = resp.header("Date")
        self.assertIsNotNone(date, resp)
        # RFC 9110 5.6.7: IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT"
        self.assertRegex(date, r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} "
                               r"\d{2}:\d{2}:\d{2} GMT$")
        when = email.utils.parsedate_to_datetime(date).timestamp()
        self.assertLess(abs(when - time.time()), 5, date)

    def test_request_headers_reach_handler(self):
        resp = self.srv.get("/headers", headers=[("X-Test", "one two"),
                                                  ("X-Other", "3")])
        self.assertStatus(resp, 200)
        lines = resp.text.splitlines()
        self.assertIn("X-Test: one two", lines)
        self.assertIn("X-Other: 3", lines)

    def test_content_type_of_hello(self):
        resp = self.srv.get("/")
        self.assertStatus(resp, 200)
        self.assertTrue(resp.header("Content-Type", "").startswith("text/plain"), resp)

    # targets and routing -------------------------------------------------

    def test_absolute_form_target(self):
        addr = "%s:%d" % self.srv.address
        resp = self.srv.get("http://%s/args/7?q=abs" % addr, host=addr)
        self.assertStatus(resp, 200, "id=7\nq=abs\n")

    def test_path_and_query_args(self):
        resp = self.srv.get("/args/4%202?q=a+b%26c&other=1")
        self.assertStatus(resp, 200, "id=4 2\nq=a b&c\n")

    def test_not_found(self):
        resp = self.srv.get("/no/such/path")
        self.assertStatus(resp, 404)
        self.assertTrue(resp.header("Content-Type", "").startswith("text/html"), resp)
        self.assertIn(b"404", resp.body)

    def test_method_not_allowed(self):
        resp = self.srv.request("POST", "/get-only", body=b"x")
        self.assertStatus(resp, 405)
        allow = resp.tokens("Allow")
        self.assertIn("get", allow, resp)
        self.assertNotIn("post", allow, resp)

    def test_status_from_handler(self):
        resp = self.srv.get("/status?code=418")
        self.assertStatus(resp, 418, "status 418\n")

    def test_redirect(self):
        resp = self.srv.get("/redirect")
        self.assertStatus(resp, 302)
        self.assertEqual(resp.header("Location"), "/target")

    def test_handler_error_is_500(self):
        resp = self.srv.get("/fail")
        self.assertStatus(resp, 500)
        self.assertTrue(resp.header("Content-Type", "").startswith("text/html"), resp)

    def test_handler_error_keeps_connection_usable(self):
        with self.conn() as c:
            self.assertStatus(c.request("GET", "/fail"), 500)
            self.assertStatus(c.request("GET", "/args/5?q=z"), 200, "id=5\nq=z\n")

    # curl --------------------------------------------------------------------

    def curl(self, *args):
        out = self.path("curl.out")
        proc = subprocess.run(
            ["curl", "-sS", "--max-time", "10", "-o", out,
             "-w", "%{http_code} %{content_type}"] + list(args),
            capture_output=True, text=True, timeout=20)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(out, "rb") as f:
            body = f.read()
        code, _, ctype = proc.stdout.partition(" ")
        return int(code), ctype, body

    def test_curl_get_root(self):
        code, ctype, body = self.curl("http://%s:%d/" % self.srv.address)
        self.assertEqual(code, 200)
        self.assertTrue(ctype.startswith("text/plain"), ctype)
        self.assertTrue(body, "empty body from hello")

    def test_curl_post_echo(self):
        payload = b"ping \x00 pong\n" * 100
        data = self.path("payload")
        with open(data, "wb") as f:
            f.write(payload)
        code, _, body = self.curl("--data-binary", "@" + data,
                                  "http://%s:%d/echo" % self.srv.address)
        self.assertEqual(code, 200)
        self.assertEqual(body, payload)


if __name__ == "__main__":
    squalltest.main()
