#!/usr/bin/python3
"""Limits, timeouts and malformed input: each client mistake gets its HTTP
status and, where the stream can no longer be trusted, a closed connection.
The malformed cases are data (MALFORMED) turned into one test each."""

import os
import random
import re
import socket
import time

import squalltest
from squalltest import build_request, scaled, vm_rss, wait_for

LIMITS = {
    "max_header_size": "2k",
    "max_uri_size": 512,
    "max_body_size": "1k",
    "header_timeout": "10s",
    "body_timeout": "10s",
    "idle_timeout": "10s",
}

# Appended to malformed requests: it must never be answered, since the
# connection is closed after the error (no request smuggling).
FOLLOW_UP = b"GET /pid HTTP/1.1\r\nHost: test\r\n\r\n"

# name -> (request bytes, expected status)
MALFORMED = {
    "garbage_request_line": (b"GARBAGE\r\n\r\n", 400),
    "content_length_and_transfer_encoding": (
        b"POST /body HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    "two_different_content_lengths": (
        b"POST /body HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n"
        b"Content-Length: 5\r\n\r\nabcde", 400),
    "bad_content_length": (
        b"POST /body HTTP/1.1\r\nHost: test\r\nContent-Length: 12a\r\n\r\n"
        b"0123456789ab", 400),
    "transfer_encoding_not_ending_in_chunked": (
        b"POST /body HTTP/1.1\r\nHost: test\r\n"
        b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400),
    "transfer_encoding_without_chunked": (
        b"POST /body HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip\r\n\r\n"
        b"abc", 400),
    "unknown_coding_before_chunked": (
        b"POST /body HTTP/1.1\r\nHost: test\r\n"
        b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    "bad_chunk_size": (
        b"POST /body HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
        b"\r\nzz\r\nhello\r\n0\r\n\r\n", 400),
    "obs_fold": (
        b"GET /headers HTTP/1.1\r\nHost: test\r\nX-Folded: one\r\n two\r\n\r\n",
        400),
    "obs_fold_tab": (
        b"GET /headers HTTP/1.1\r\nHost: test\r\nX-Folded: one\r\n\ttwo\r\n\r\n",
        400),
    "space_before_colon": (
        b"GET /headers HTTP/1.1\r\nHost: test\r\nX-Space : value\r\n\r\n", 400),
    "control_character_in_name": (
        b"GET /headers HTTP/1.1\r\nHost: test\r\nX-\x01Bad: value\r\n\r\n", 400),
    "control_character_in_value": (
        b"GET /headers HTTP/1.1\r\nHost: test\r\nX-Bad: va\x01lue\r\n\r\n", 400),
    "http11_without_host": (b"GET /pid HTTP/1.1\r\n\r\n", 400),
    "http11_with_two_hosts": (
        b"GET /pid HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
}


def proc_has_conn_to(srv, conn):
    """Whether squalld still holds the server side of conn (ss lists an
    established socket on squalld's port whose peer is conn's port)."""
    import subprocess
    port = conn.sock.getsockname()[1]
    out = subprocess.run(["ss", "-Htn", "state", "established",
                          "( sport = :%d and dport = :%d )" % (srv.address[1], port)],
                         capture_output=True, text=True, check=True).stdout
    return bool(out.strip())


class LimitsTest(squalltest.SquallTestCase):

    def start(self, workers=2, env=None, **limits):
        return self.start_squalld(workers=workers, env=env,
                                  limits=dict(LIMITS, **limits))

    def assertErrorThenClose(self, conn, status, timeout=5):
        """The next response is `status` and squalld then closes."""
        resp = conn.read_response(timeout=timeout)
        self.assertStatus(resp, status)
        conn.assert_closed()
        return resp

    # sizes -----------------------------------------------------------------

    def test_header_section_too_large_431(self):
        srv = self.start()
        with srv.connect() as c:
            c.send(build_request("GET", "/pid", headers=[("X-Big", "a" * 3000)]))
            self.assertErrorThenClose(c, 431)

    def test_many_headers_too_large_431(self):
        srv = self.start()
        headers = [("X-H%03d" % i, "v" * 24) for i in range(100)]  # ~3.3k
        with srv.connect() as c:
            c.send(build_request("GET", "/pid", headers=headers))
            self.assertErrorThenClose(c, 431)

    def test_uri_too_long_414(self):
        srv = self.start()
        with srv.connect() as c:
            c.send(build_request("GET", "/args/" + "a" * 1000))
            self.assertErrorThenClose(c, 414)

    def test_body_at_limit_accepted(self):
        srv = self.start()
        resp = srv.request("POST", "/body", body=b"b" * 1024)
        self.assertStatus(resp, 200, b"b" * 1024)

    def test_body_too_large_by_content_length_413(self):
        srv = self.start()
        with srv.connect() as c:
            # only the head: the limit is known before any body byte
            c.send(build_request("POST", "/body",
                                 headers=[("Content-Length", "2000")]))
            self.assertErrorThenClose(c, 413)

    def test_body_too_large_by_chunked_total_413(self):
        srv = self.start()
        chunk = b"258\r\n" + b"c" * 600 + b"\r\n"  # 0x258 = 600
        with srv.connect() as c:
            c.send(build_request("POST", "/body",
                                 headers=[("Transfer-Encoding", "chunked")],
                                 body=chunk + chunk + b"0\r\n\r\n"))
            self.assertErrorThenClose(c, 413)

    def test_body_too_large_with_expect_413(self):
        srv = self.start()
        with srv.connect() as c:
            c.send(build_request("POST", "/body", headers=[
                ("Content-Length", "2000"), ("Expect", "100-continue")]))
            resp = c.read_response()
            self.assertStatus(resp, 413)  # and no 100 Continue before it

    # timeouts --------------------------------------------------------------

    def test_header_timeout_408(self):
        srv = self.start(header_timeout="500ms")
        with srv.connect() as c:
            c.send(b"GET /pid HTTP/1.1\r\nHost: test\r\n")  # head not complete
            t0 = time.monotonic()
            self.assertErrorThenClose(c, 408)
            self.assertGreaterEqual(time.monotonic() - t0, 0.4)

    def test_header_timeout_bounds_trickled_head(self):
        srv = self.start(header_timeout="500ms")
        with srv.connect() as c:
            c.send(b"GET /pid HTTP/1.1\r\nHost: test\r\n")
            t0 = time.monotonic()
            # a header line every 100 ms keeps the socket busy, but the head
            # as a whole must still be complete within header_timeout
            while not c.readable(0.1):
                self.assertLess(time.monotonic() - t0, scaled(5),
                                "no 408 while the head trickles in")
                c.send(b"X-Slow: 1\r\n")
            self.assertErrorThenClose(c, 408)

    def test_body_timeout_408(self):
        srv = self.start(body_timeout="500ms")
        with srv.connect() as c:
            c.send(build_request("POST", "/body",
                                 headers=[("Content-Length", "10")]) + b"abc")
            t0 = time.monotonic()
            self.assertErrorThenClose(c, 408)
            self.assertGreaterEqual(time.monotonic() - t0, 0.4)

    def test_idle_timeout_closes_silently(self):
        srv = self.start(idle_timeout="500ms")
        with srv.connect() as c:
            self.assertStatus(c.request("GET", "/args/1?q=idle"), 200)
            t0 = time.monotonic()
            c.assert_closed(timeout=5)  # EOF, and no bytes (no 408)
            self.assertGreaterEqual(time.monotonic() - t0, 0.4)

    def test_client_that_stops_reading_is_dropped_after_idle_timeout(self):
        srv = self.start(workers=1, idle_timeout="500ms")
        with srv.connect(rcvbuf=4096) as stuck, srv.connect() as other:
            stuck.send(build_request("GET", "/big?n=%d" % (16 << 20)))
            # squalld waits for the client for idle_timeout, then gives up:
            # the connection ends (FIN or reset) while we still read nothing
            wait_for(lambda: not proc_has_conn_to(srv, stuck), 5,
                     "squalld to drop the connection it cannot write to")
            self.assertStatus(other.request("GET", "/pid"), 200)

    def test_max_connections_pauses_accepting(self):
        srv = self.start(workers=1, max_connections=2)
        held = [srv.connect(), srv.connect()]
        for c in held:
            self.addCleanup(c.close)
            self.assertStatus(c.request("GET", "/pid"), 200)
        with srv.connect() as third:
            third.send(build_request("GET", "/args/3?q=waits"))
            self.assertFalse(third.readable(0.5),
                             "a third connection was served over "
                             "max_connections: 2")
            held[0].close()
            self.assertStatus(third.read_response(timeout=5), 200,
                              "id=3\nq=waits\n")

    # malformed requests: one generated test per MALFORMED entry -------------

    def check_malformed(self, request, status):
        srv = self.start()
        with srv.connect() as c:
            c.send(request + FOLLOW_UP)
            self.assertErrorThenClose(c, status)
        # the worker survived the bad input
        self.assertStatus(srv.get("/args/1?q=ok"), 200, "id=1\nq=ok\n")

    # backpressure ------------------------------------------------------------

    def test_backpressure_bounds_memory(self):
        """A client pipelines requests for 1 GiB of output and never reads:
        the worker must stop producing, not buffer it all, and keep serving
        other clients."""
        # AddressSanitizer builds would hold freed buffers in quarantine
        asan = os.environ.get("ASAN_OPTIONS", "")
        srv = self.start(workers=1, env={
            "ASAN_OPTIONS": asan + ":quarantine_size_mb=4" if asan
            else "quarantine_size_mb=4"})
        slow = srv.connect(rcvbuf=65536)
        self.addCleanup(slow.close)
        worker = int(slow.request("GET", "/pid").body)
        baseline = vm_rss(worker)
        n, count = 8 << 20, 128  # 128 x 8 MiB = 1 GiB
        slow.send(build_request("GET", "/big?n=%d" % n) * count)

        peak = baseline
        served = 0
        deadline = time.monotonic() + scaled(3)
        while time.monotonic() < deadline:
            peak = max(peak, vm_rss(worker))
            if served < 3:  # another client is served by the same worker
                resp = srv.get("/pid", timeout=5)
                self.assertStatus(resp, 200, str(worker))
                served += 1
            time.sleep(0.05)
        peak = max(peak, vm_rss(worker))
        head = slow.sock.recv(16, socket.MSG_PEEK)
        print("\nbackpressure: worker %d RSS baseline %.1f MiB, peak %.1f MiB"
              % (worker, baseline / 2**20, peak / 2**20))
        self.assertTrue(head.startswith(b"HTTP/1.1 200"),
                        "squalld never answered the pipelined requests: %r" % head)
        self.assertLess(peak - baseline, 64 << 20,
                        "worker RSS grew by %.1f MiB" % ((peak - baseline) / 2**20))


    def test_idle_keep_alive_connections_hold_little_memory(self):
        """Thousands of quiet connections (long polls, idle keep-alives)
        must not each keep read, write and pool buffers."""
        import resource
        count = 2000
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < count + 100:
            self.skipTest("needs %d file descriptors" % (count + 100))
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, count + 100), hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        srv = self.start(workers=1)
        worker = srv.worker_pid()
        before = vm_rss(worker)
        conns = []
        try:
            for _ in range(count):
                c = srv.connect()
                conns.append(c)
                self.assertStatus(c.request("GET", "/args/1?q=keep"), 200)
            grown = vm_rss(worker) - before
            print("\n%d idle keep-alive connections: worker RSS +%d kB "
                  "(%.2f kB each)" % (count, grown // 1024, grown / 1024 / count))
            self.assertLess(grown, count * 3 * 1024,
                            "more than 3 kB per idle connection")
        finally:
            for c in conns:
                c.close()

    def test_out_of_file_descriptors_pauses_accepting(self):
        """EMFILE on accept: the worker logs it, stops accepting for a
        moment instead of spinning, and serves again once fds are free."""
        import subprocess
        srv = self.start(workers=1)
        worker = srv.worker_pid()
        subprocess.run(["prlimit", "--pid", str(worker), "--nofile=32:32"],
                       check=True)
        held = []
        try:
            for _ in range(48):  # more connections than the worker has fds
                held.append(srv.connect())
            srv.wait_log(r"accept on .*: Too many open files; not accepting")

            def cpu_seconds():
                with open("/proc/%d/stat" % worker) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            t0, c0 = time.monotonic(), cpu_seconds()
            wait_for(lambda: time.monotonic() - t0 >= 1.0, 2, "a second to pass")
            used = cpu_seconds() - c0
            self.assertLess(used, 0.5, "the worker spun on accept (%.2fs CPU)" % used)
            pauses = len(re.findall(r"not accepting", srv.log_text()))
            self.assertLess(pauses, 40, "more pauses than 100 ms apart")
        finally:
            for c in held:
                c.close()
        # the queued connections and new ones are served once fds are free
        wait_for(lambda: srv.get("/").status == 200, 5, "serving again")

    # hostile input ---------------------------------------------------------

    def test_random_and_mutated_requests_never_crash_a_worker(self):
        """Garbage and mutations of valid requests get an HTTP error or a
        close, never a crash: the same workers serve before and after."""
        srv = self.start()
        workers = srv.worker_pids(2)
        rnd = random.Random(9112)  # fixed seed: a failure can be replayed
        valid = [
            build_request("GET", "/args/7?q=x"),
            build_request("POST", "/body", body=b"hello"),
            build_request("POST", "/body", headers=[("Transfer-Encoding", "chunked")],
                          body=b"5\r\nhello\r\n0\r\n\r\n"),
        ]
        cases = [bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300)))
                 for _ in range(100)]
        for _ in range(300):
            b = bytearray(rnd.choice(valid))
            for _ in range(rnd.randrange(1, 4)):
                i = rnd.randrange(len(b))
                op = rnd.randrange(3)
                if op == 0:
                    b[i] = rnd.randrange(256)
                elif op == 1:
                    del b[i]
                else:
                    b[i:i] = bytes([rnd.choice(b" :\r\n\t\x00\x7f0")])
            cases.append(bytes(b))
        for data in cases:
            with srv.connect(timeout=2) as c:
                try:
                    c.send(data)
                    c.sock.shutdown(socket.SHUT_WR)
                    c.read_until_eof(timeout=2)
                except (ConnectionResetError, BrokenPipeError):
                    pass
        self.assertEqual(srv.worker_pids(2), workers,
                         "a worker died on hostile input:\n" + srv.log_tail())
        self.assertStatus(srv.get("/"), 200, "Hello, world!")


def _malformed_test(request, status):
    def test(self):
        self.check_malformed(request, status)
    test.__doc__ = "%r -> %d, then close" % (request[:60], status)
    return test


for _name, (_request, _status) in MALFORMED.items():
    setattr(LimitsTest, "test_malformed_%s_%d" % (_name, _status),
            _malformed_test(_request, _status))


if __name__ == "__main__":
    squalltest.main()
