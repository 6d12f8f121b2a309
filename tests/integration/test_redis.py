"""pubsub.redis: two squalld instances (two workers each, their own ports)
that name the same redis-server share their channels and positions.

A real redis-server (Debian's) is started by each test on a free loopback
port, without persistence, and stopped by its pid. Long poll is the main
client (`GET /sub/x?position=P`: 200 + the next message, 205 = reload, 204
after poll_timeout; every answer has Squall-Position); SSE is tried too.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

from squalltest import (SquallTestCase, free_port, main, make_config, scaled,
                        wait_for)

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

ROUTES = [
    {"path": "/sub/{room}",
     "subscribe": {"channel": "r.{room}", "poll_timeout": "5s"}},
    {"path": "/pub/{room}", "publish": {"channel": "r.{room}"}},
    {"path": "/pid", "handler": "testmod:pid"},
]


# ---------------------------------------------------------------------------
# a little Redis client (RESP), enough for the tests

def resp_command(port, *args, timeout=2):
    """Sends one command, returns its decoded reply (bytes, int, list, or an
    Exception instance for an error reply)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        f = s.makefile("rb")
        return _resp_read(f)


def _resp_read(f):
    line = f.readline()
    if not line:
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest
    if kind == b"-":
        return Exception(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_resp_read(f) for _ in range(n)]
    raise ValueError("bad RESP line %r" % line)


class Redis:
    """A redis-server of the test's own, on a free loopback port."""

    def __init__(self, workdir, port=None):
        self.workdir = workdir
        self.port = port or free_port()
        self.proc = None

    def start(self):
        log = open(os.path.join(self.workdir, "redis-%d.log" % self.port), "ab")
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--save", "", "--appendonly", "no",
             "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", self.workdir],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True)
        log.close()

        def up():
            try:
                return resp_command(self.port, "PING") == b"PONG"
            except OSError:
                return False
        wait_for(up, 10, "redis-server to answer PING")
        return self

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGCONT)  # in case a test froze it
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(scaled(10))
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


# ---------------------------------------------------------------------------

class RedisTestCase(SquallTestCase):

    def start_redis(self, port=None):
        r = Redis(self.workdir, port).start()
        self.addCleanup(r.stop)
        return r

    def start_host(self, redis_url, history=100):
        cfg = make_config(workers=2, routes=ROUTES)
        cfg["pubsub"] = {"redis": redis_url, "history": history}
        return self.start_squalld(cfg)

    def two_hosts(self, history=100):
        redis = self.start_redis()
        a = self.start_host(redis.url, history)
        b = self.start_host(redis.url, history)
        for srv in (a, b):
            srv.wait_log(r"redis: connected to", timeout=10)
        return redis, a, b

    def publish(self, srv, room, body, status=200):
        t0 = time.monotonic()
        resp = srv.request("POST", "/pub/" + room, body=body, timeout=10)
        took = time.monotonic() - t0
        self.assertEqual(resp.status, status, "POST /pub/%s: %r" % (room, resp))
        if status != 200:
            return None, took
        doc = json.loads(resp.body)
        self.assertEqual(resp.header("Squall-Position"), doc["position"])
        return doc, took

    def poll(self, srv, room, position=None, timeout=10):
        target = "/sub/" + room
        if position:
            target += "?position=" + position
        return srv.get(target, timeout=timeout)

    def poll_message(self, srv, room, position):
        """The message after position: (body, its position)."""
        resp = self.poll(srv, room, position)
        self.assertEqual(resp.status, 200, "GET from %s: %r" % (position, resp))
        return resp.body, resp.header("Squall-Position")

    def read_all(self, srv, room, position, count):
        """count messages after position, polled one by one."""
        bodies = []
        for _ in range(count):
            body, position = self.poll_message(srv, room, position)
            bodies.append(body)
        return bodies, position


class AcrossHosts(RedisTestCase):

    def test_messages_and_positions_are_shared(self):
        """Published on A, read on B (and the reverse), in order, and a
        position from one host resumes on the other with exactly what was
        missed."""
        _, a, b = self.two_hosts()
        first, _ = self.publish(a, "x", b"m0")
        p0 = first["position"]
        # a waiting long poll on B gets what A publishes next
        result = {}

        def waiter():
            result["resp"] = self.poll(b, "x", p0)
        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.2)
        one, _ = self.publish(a, "x", b"m1")
        t.join(scaled(10))
        self.assertFalse(t.is_alive())
        self.assertStatus(result["resp"], 200, b"m1")
        self.assertEqual(result["resp"].header("Squall-Position"),
                         one["position"])
        # five more on A, read in order on B from p0, then on A from p0
        sent = [b"m1"] + [b"m%d" % i for i in range(2, 7)]
        last = None
        for body in sent[1:]:
            last, _ = self.publish(a, "x", body)
        got, pos = self.read_all(b, "x", p0, len(sent))
        self.assertEqual(got, sent)
        self.assertEqual(pos, last["position"])
        got, pos = self.read_all(a, "x", p0, len(sent))
        self.assertEqual(got, sent)
        # the reverse: published on B, read on A from the same stream
        back, _ = self.publish(b, "x", b"from-b")
        self.assertEqual(back["position"].split(":")[0], p0.split(":")[0])
        self.assertEqual(int(back["position"].split(":")[1]),
                         int(last["position"].split(":")[1]) + 1)
        body, pos = self.poll_message(a, "x", last["position"])
        self.assertEqual((body, pos), (b"from-b", back["position"]))
        # a position taken on B's answer resumes on A: nothing missed
        # means the next one, published on B
        more, _ = self.publish(b, "x", b"again")
        self.assertEqual(self.poll_message(a, "x", pos),
                         (b"again", more["position"]))

    def test_subscribers_on_both_hosts_count_locally(self):
        """A publish answers how many subscribers it reached on its own
        host; the other host's long polls get the message too."""
        _, a, b = self.two_hosts()
        p0 = self.publish(a, "c", b"start")[0]["position"]
        results = []

        def waiter(srv):
            results.append(self.poll(srv, "c", p0))
        threads = [threading.Thread(target=waiter, args=(srv,))
                   for srv in (a, a, b)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        doc, _ = self.publish(b, "c", b"hello")
        for t in threads:
            t.join(scaled(10))
        self.assertEqual(sorted(r.status for r in results), [200, 200, 200])
        self.assertTrue(all(r.body == b"hello" for r in results))
        self.assertEqual(doc["subscribers"], 1)  # the one on B

    def test_sse_across_hosts(self):
        """An EventSource-style subscriber on B gets A's messages, each
        with its shared position as the event id."""
        _, a, b = self.two_hosts()
        p0 = self.publish(a, "s", b"zero")[0]["position"]
        conn = http.client.HTTPConnection(*b.address, timeout=scaled(10))
        conn.request("GET", "/sub/s", headers={"Accept": "text/event-stream",
                                               "Last-Event-ID": p0})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        positions = [self.publish(a, "s", b"e%d" % i)[0]["position"]
                     for i in range(3)]
        events, cur = [], {}
        while len(events) < 3:
            line = resp.readline()
            self.assertTrue(line, "the event stream ended")
            line = line.rstrip(b"\r\n")
            if line.startswith(b"id: "):
                cur["id"] = line[4:].decode()
            elif line.startswith(b"data: "):
                cur["data"] = line[6:]
            elif line == b"" and "data" in cur:
                events.append((cur.get("id"), cur["data"]))
                cur = {}
        conn.close()
        self.assertEqual(events, [(positions[i], b"e%d" % i) for i in range(3)])


class History(RedisTestCase):

    def test_trimmed_history_is_a_reload(self):
        """Redis keeps pubsub.history messages: a position older than that
        gets 205 on either host; one inside it gets what followed."""
        _, a, b = self.two_hosts(history=3)
        old = self.publish(a, "h", b"h0")[0]["position"]
        pos = [self.publish(a, "h", b"h%d" % i)[0]["position"]
               for i in range(1, 6)]
        self.assertEqual(resp_command(int(a.config["pubsub"]["redis"]
                                          .rsplit(":", 1)[1]),
                                      "LLEN", "squall:{r.h}:hist"), 3)
        for srv in (a, b):
            resp = self.poll(srv, "h", old)
            self.assertStatus(resp, 205)
            self.assertEqual(resp.header("Squall-Position"), pos[-1])
        # pos[1] is h2: h3, h4, h5 follow, all kept
        got, last = self.read_all(b, "h", pos[1], 3)
        self.assertEqual(got, [b"h3", b"h4", b"h5"])
        self.assertEqual(last, pos[-1])


class Outage(RedisTestCase):

    def test_redis_stopped_and_restarted(self):
        redis, a, b = self.two_hosts()
        shared = self.publish(a, "o", b"before")[0]["position"]
        epoch = shared.split(":")[0]
        mark_a, mark_b = len(a.log_text()), len(b.log_text())

        # a subscriber waits on each host at the shared position
        results = {}

        def waiter(srv):
            results[srv] = self.poll(srv, "o", shared)
        threads = {srv: threading.Thread(target=waiter, args=(srv,))
                   for srv in (a, b)}
        for t in threads.values():
            t.start()
        time.sleep(0.3)

        redis.stop()
        # each host goes on alone: publishes answered at once, in a local
        # epoch; the first one is a reload for a subscriber at the shared
        # position (its stream changed), then messages flow locally
        outage = {}
        for srv, name in ((a, b"A"), (b, b"B")):
            srv.wait_log(r"redis: lost", timeout=5,
                         start=mark_a if srv is a else mark_b)
            doc, took = self.publish(srv, "o", b"local1-" + name)
            self.assertLess(took, scaled(1.5))
            self.assertNotEqual(doc["position"].split(":")[0], epoch)
            threads[srv].join(scaled(10))
            self.assertStatus(results[srv], 205)
            local = results[srv].header("Squall-Position")
            self.assertEqual(local, doc["position"])
            doc2, took = self.publish(srv, "o", b"local2-" + name)
            self.assertLess(took, scaled(1.5))
            self.assertEqual(self.poll_message(srv, "o", local),
                             (b"local2-" + name, doc2["position"]))
            outage[srv] = doc2["position"]
        outage_a, outage_b = outage[a], outage[b]
        # what A published in the outage never reached B, and the reverse:
        # each holds its own local epoch
        self.assertNotEqual(outage_a.split(":")[0], outage_b.split(":")[0])
        resp = self.poll(b, "o", outage_a)
        self.assertStatus(resp, 205)

        # back: both reconnect; positions of the outage are not covered
        self.start_redis(redis.port)
        a.wait_log(r"redis: connected to", timeout=10, start=mark_a)
        b.wait_log(r"redis: connected to", timeout=10, start=mark_b)
        for srv, pos in ((a, outage_a), (b, outage_b)):
            resp = self.poll(srv, "o", pos)
            self.assertStatus(resp, 205)
            self.assertNotEqual(resp.header("Squall-Position").split(":")[0],
                                pos.split(":")[0])
        # delivery across hosts again
        p0 = self.publish(a, "o", b"after0")[0]["position"]
        p1 = self.publish(a, "o", b"after1")[0]["position"]
        self.assertEqual(self.poll_message(b, "o", p0), (b"after1", p1))
        p2 = self.publish(b, "o", b"after2")[0]["position"]
        self.assertEqual(self.poll_message(a, "o", p1), (b"after2", p2))
        # and a subscriber waiting on A with an outage position gets the
        # reload as soon as Redis's stream reaches it
        result = {}

        def waiter():
            result["resp"] = self.poll(a, "o", outage_a)
        t = threading.Thread(target=waiter)
        t.start()
        t.join(scaled(10))
        self.assertStatus(result["resp"], 205)
        self.assertEqual(result["resp"].header("Squall-Position"), p2)

    def test_publish_in_flight_when_redis_hangs(self):
        """Redis frozen (SIGSTOP): a publish waiting for it is answered 503
        within the hub's 2 s deadline (its outcome is unknown); the next
        ones are handled on this host at once; Redis thawed, the hubs
        reconnect and share again."""
        redis, a, b = self.two_hosts()
        warm = self.publish(a, "f", b"warm")[0]["position"]
        mark, mark_b = len(a.log_text()), len(b.log_text())
        os.kill(redis.proc.pid, signal.SIGSTOP)
        try:
            # a catch-up on B that needs Redis (B never followed "f") is
            # answered from B's own history when Redis does not answer:
            # a reload, in time (the worker gives the hub 5 s)
            result = {}

            def waiter():
                t0 = time.monotonic()
                result["resp"] = self.poll(b, "f", warm)
                result["took"] = time.monotonic() - t0
            t = threading.Thread(target=waiter)
            t.start()
            _, took = self.publish(a, "f", b"stuck", status=503)
            self.assertLess(took, scaled(4))
            t.join(scaled(10))
            self.assertStatus(result["resp"], 205)
            self.assertLess(result["took"], scaled(4))
            self.assertNotIn("lost the hub", b.log_text())
            a.wait_log(r"redis: lost .*no answer within 2 s", start=mark)
            for i in range(3):
                _, took = self.publish(a, "f", b"alone%d" % i)
                self.assertLess(took, scaled(1.5))
        finally:
            os.kill(redis.proc.pid, signal.SIGCONT)
        a.wait_log(r"redis: connected to", timeout=15, start=mark)
        # B lost Redis too (its catch-up got no answer)
        b.wait_log(r"redis: lost .*no answer within 2 s", start=mark_b)
        b.wait_log(r"redis: connected to", timeout=15, start=mark_b)
        p0 = self.publish(b, "f", b"b0")[0]["position"]
        p1 = self.publish(a, "f", b"a1")[0]["position"]
        self.assertEqual(self.poll_message(b, "f", p0), (b"a1", p1))

    def test_starts_without_redis(self):
        """No Redis at start: squalld serves, publishes locally, says so
        once, and joins Redis when it comes up."""
        port = free_port()
        a = self.start_host("redis://127.0.0.1:%d" % port)
        a.wait_log(r"redis: cannot reach", timeout=5)
        doc, took = self.publish(a, "n", b"alone")
        self.assertLess(took, scaled(1.5))
        time.sleep(1)
        self.assertEqual(len(__import__("re").findall(r"redis: cannot reach",
                                                      a.log_text())), 1)
        self.start_redis(port)
        a.wait_log(r"redis: connected to", timeout=15)
        b = self.start_host("redis://127.0.0.1:%d" % port)
        b.wait_log(r"redis: connected to", timeout=10)
        p0 = self.publish(a, "n", b"n0")[0]["position"]
        p1 = self.publish(a, "n", b"n1")[0]["position"]
        self.assertEqual(self.poll_message(b, "n", p0), (b"n1", p1))


if __name__ == "__main__":
    main()
