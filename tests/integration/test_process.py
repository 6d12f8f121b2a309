#!/usr/bin/python3
"""The process model: connections spread over workers, the master respawns
dead workers (with back-off for crash loops), graceful stop on
SIGTERM/SIGINT, and the access log."""

import collections
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import squalltest
from squalltest import build_request, proc_alive, scaled, wait_for


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def read_lines(path):
    return read_text(path).split()


LIFEMOD = os.path.join(squalltest.TEST_MODULES, "lifemod.so")


def lifemod_config(workers=2, **lifemod):
    """The default test config plus lifemod (tests/modules/lifemod.c) with
    `lifemod` as its config block."""
    cfg = squalltest.make_config(workers=workers)
    cfg["modules"]["lifemod"] = {"path": LIFEMOD, "config": lifemod}
    return cfg


# A client process that opens n connections from source address src, says
# "ok" and holds them until its stdin closes.
_HOLDER = r"""
import socket, sys
host, port, n, src = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
held = []
for _ in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.connect((host, port))
    held.append(s)
sys.stdout.write("ok\n")
sys.stdout.flush()
sys.stdin.read()
"""


def server_sockets(port):
    """Inodes of the accepted (established, inode given) TCP sockets whose
    local port is port, from /proc/net/tcp."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "01" and int(local.split(":")[1], 16) == port \
                    and inode != "0":
                inodes.add(inode)
    return inodes


def socket_inodes(pid):
    """Inodes of the sockets process pid holds."""
    out = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(os.path.join(fd_dir, fd))
        except FileNotFoundError:
            continue
        if link.startswith("socket:["):
            out.add(link[8:-1])
    return out


def init_events(path):
    """lifemod's init_log as a list of (what, pid)."""
    out = []
    for line in read_text(path).splitlines():
        what, pid = line.split()
        out.append((what, int(pid)))
    return out


def in_init(path, exclude=()):
    """A pid whose init has started and not returned, or None."""
    events = init_events(path)
    done = {pid for what, pid in events if what == "done"}
    for what, pid in events:
        if what == "start" and pid not in done and pid not in exclude:
            return pid
    return None


class ProcessTest(squalltest.SquallTestCase):

    def check_spread(self, srv):
        """8 clients x 100 requests over fresh connections: each of the 2
        workers serves at least a quarter of its fair share."""
        counts = collections.Counter()
        errors = []
        lock = threading.Lock()

        def client():
            try:
                for _ in range(100):
                    pid = srv.worker_pid()  # a fresh connection each time
                    with lock:
                        counts[pid] += 1
            except Exception as e:  # reported below, not lost in a thread
                errors.append(e)
        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(60))
        self.assertFalse(any(t.is_alive() for t in threads), "clients hung")
        self.assertEqual(errors, [])
        total = sum(counts.values())
        print("\nspread over workers: %s of %d requests"
              % (dict(counts), total))
        self.assertEqual(total, 800)
        self.assertEqual(len(counts), 2, "expected both workers to serve")
        for pid, n in counts.items():
            self.assertGreaterEqual(n, total * 0.125,
                                    "worker %d served only %d of %d"
                                    % (pid, n, total))

    def test_connections_spread_over_workers_socket_activation(self):
        self.check_spread(self.start_squalld(workers=2))

    def test_connections_spread_over_workers_listen(self):
        port = squalltest.free_port()
        self.check_spread(self.start_squalld(
            workers=2, listen="127.0.0.1:%d" % port, activation=False,
            address=("127.0.0.1", port)))

    def test_killed_worker_is_respawned(self):
        srv = self.start_squalld(workers=2)
        before = srv.worker_pids(2)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: not proc_alive(victim), 5, "worker %d to die" % victim)

        # every request is answered while the slot is empty and refilled
        seen = set()

        def respawned():
            pid = srv.worker_pid()
            self.assertNotEqual(pid, victim)
            seen.add(pid)
            return seen - before
        new = wait_for(respawned, 10, "a respawned worker to answer /pid",
                       interval=0.01)
        self.assertTrue(new)
        self.assertTrue(proc_alive(max(before)), "the other worker died")
        self.assertTrue(proc_alive(srv.pid), "master died")

    def test_connections_queued_when_a_worker_dies_are_served(self):
        # both workers frozen: connections wait in the shared socket's
        # queue; one worker dies, and every queued connection is served
        # all the same (with a socket per worker they would be lost)
        srv = self.start_squalld(workers=2)
        victim, survivor = sorted(srv.worker_pids(2))
        for pid in (victim, survivor):
            os.kill(pid, signal.SIGSTOP)
        self.addCleanup(os.kill, survivor, signal.SIGCONT)
        conns = [srv.connect(timeout=10) for _ in range(20)]
        for c in conns:
            self.addCleanup(c.close)
            c.send(build_request("GET", "/pid"))
        os.kill(victim, signal.SIGKILL)
        os.kill(survivor, signal.SIGCONT)
        for c in conns:
            resp = c.read_response(timeout=10)
            self.assertStatus(resp, 200)
            self.assertNotEqual(int(resp.body), victim)

    def test_crash_loop_backs_off(self):
        crash = self.path("crash")
        spawns = self.path("spawns")
        srv = self.start_squalld(workers=2, testmod={
            "crash_file": crash, "spawn_log": spawns})
        wait_for(lambda: len(read_lines(spawns)) >= 2, 5, "two workers")
        first = read_lines(spawns)
        with open(crash, "w"):
            pass  # from now on every new worker aborts in init
        log_start = len(srv.log_text())
        victim = int(first[0])
        os.kill(victim, signal.SIGKILL)

        # observe the crash loop for 3 s; the other worker keeps serving
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3:
            self.assertStatus(srv.get("/args/1?q=up"), 200, "id=1\nq=up\n")
            time.sleep(0.1)
        attempts = len(read_lines(spawns)) - len(first)
        print("\ncrash loop: %d spawn attempts in 3 s" % attempts)
        self.assertGreaterEqual(attempts, 1, "the dead worker was not respawned")
        self.assertLessEqual(attempts, 6, "respawned in a hot loop")

        # the master says so at error or crit level, with the delay
        log = srv.log_text()[log_start:]
        lines = [l for l in log.splitlines()
                 if re.search(r"\[(error|crit)\]", l)
                 and re.search(r"respawn|restart", l, re.I)
                 and re.search(r"\d+(\.\d+)?\s*(ms|s|sec|secs|seconds)\b", l)]
        self.assertTrue(lines, "no error/crit line about the respawn delay in:\n"
                        + log)

        # once the cause is gone, the slot is filled again
        os.unlink(crash)
        crashed = set(int(p) for p in read_lines(spawns))

        def back():
            pid = srv.worker_pid()
            return pid not in crashed and pid != int(first[1])
        wait_for(back, 40, "a worker to come back after the crash loop",
                 interval=0.05)
        self.assertTrue(proc_alive(srv.pid), "master died")

    def test_sigterm_finishes_in_flight_requests(self):
        srv = self.start_squalld(workers=2, shutdown_timeout="10s")
        workers = srv.worker_pids(2)
        slow = srv.connect(timeout=10)
        self.addCleanup(slow.close)
        slow.send(build_request("GET", "/slow?ms=1500"))
        srv.wait_log(r"testmod: slow request started")  # now it is in flight
        srv.send_signal(signal.SIGTERM)
        t0 = time.monotonic()

        # new connections are refused while the slow one drains
        def refused():
            try:
                socket.create_connection(srv.address, timeout=1).close()
                return False
            except ConnectionRefusedError:
                return True
        wait_for(refused, 1.0, "new connections to be refused after SIGTERM",
                 interval=0.01)

        resp = slow.read_response(timeout=10)
        self.assertStatus(resp, 200, "slow done")
        self.assertGreaterEqual(time.monotonic() - t0, 1.0,
                                "the slow request was not in flight")
        # exits once drained, well before shutdown_timeout
        self.assertEqual(srv.wait_exit(timeout=3), 0, srv.log_tail())
        wait_for(lambda: not any(proc_alive(p) for p in workers), 3,
                 "the workers to exit")

    def test_sigterm_ends_idle_keep_alive_connections(self):
        srv = self.start_squalld(workers=2, shutdown_timeout="10s")
        with srv.connect() as idle:
            self.assertStatus(idle.request("GET", "/pid"), 200)
            t0 = time.monotonic()
            srv.send_signal(signal.SIGTERM)
            idle.assert_closed(timeout=3)
        self.assertEqual(srv.wait_exit(timeout=3), 0, srv.log_tail())
        self.assertLess(time.monotonic() - t0, 5)

    def test_sigint_exits_zero(self):
        srv = self.start_squalld(workers=2)
        workers = srv.worker_pids(2)
        srv.send_signal(signal.SIGINT)
        self.assertEqual(srv.wait_exit(timeout=5), 0, srv.log_tail())
        wait_for(lambda: not any(proc_alive(p) for p in workers), 3,
                 "the workers to exit")

    LOG_LINE = (r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z "
                r"\[(debug|info|notice|warn|error|crit)\] "
                r"squalld\[\d+\] (master|worker \d+|hub): \S")

    def test_error_log_format(self):
        srv = self.start_squalld(workers=2)
        self.assertStatus(srv.get("/slow?ms=1"), 200)  # makes a worker log
        srv.wait_log(r"testmod: slow request started")
        lines = srv.log_text().splitlines()
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, self.LOG_LINE)
        self.assertTrue([l for l in lines if " master: " in l], lines)
        self.assertTrue([l for l in lines if re.search(r" worker \d+: testmod: slow", l)],
                        lines)

    def test_error_log_to_file(self):
        errlog = self.path("error.log")
        srv = self.start_squalld(workers=2, log={"error": errlog})
        self.assertStatus(srv.get("/slow?ms=1"), 200)
        wait_for(lambda: "testmod: slow request started" in read_text(errlog),
                 5, "the worker's line in log.error")
        for line in read_text(errlog).splitlines():
            self.assertRegex(line, self.LOG_LINE)

    def test_access_log_combined_format(self):
        access = self.path("access.log")
        srv = self.start_squalld(workers=2, log={"access": access})
        resp = srv.get("/args/12?q=log", headers=[
            ("User-Agent", "squalltest/1.0"), ("Referer", "http://ref.example/")])
        self.assertStatus(resp, 200)
        # host ident user [time] "request" status bytes "referer" "agent"
        line = re.compile(
            r'^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} '
            r'[+-]\d{4}\] "GET /args/12\?q=log HTTP/1\.1" 200 %d '
            r'"http://ref\.example/" "squalltest/1\.0"$' % len(resp.body), re.M)
        wait_for(lambda: line.search(read_text(access)), 5,
                 "the access log line")

        resp = srv.get("/no/such")
        self.assertStatus(resp, 404)
        wait_for(lambda: re.search(r'"GET /no/such HTTP/1\.1" 404 \d+ "-" "-"$',
                                   read_text(access), re.M),
                 5, "the 404 access line with - for referer and agent")


    def test_worker_failing_first_start_stops_squalld(self):
        srv = self.squalld(workers=2, testmod={"init_fail": True})
        srv.start(wait_ready=False)
        self.assertEqual(srv.wait_exit(timeout=10), 1, srv.log_tail())
        self.assertFalse(srv.ready or any(b"READY=1" in d for d in srv.notified()),
                         "READY=1 sent although no worker could start")
        self.assertRegex(srv.log_text(), r"\[crit\] .* during startup")

    def test_shutdown_timeout_cuts_long_requests(self):
        srv = self.start_squalld(workers=1, shutdown_timeout="500ms")
        slow = srv.connect(timeout=10)
        self.addCleanup(slow.close)
        slow.send(build_request("GET", "/slow?ms=60000"))
        srv.wait_log(r"testmod: slow request started")
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        # the worker gives up on the request after shutdown_timeout: the
        # client sees its connection closed, and squalld exits cleanly
        slow.assert_closed(timeout=5)
        self.assertEqual(srv.wait_exit(timeout=5), 0, srv.log_tail())
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 0.4, "stopped before shutdown_timeout")
        self.assertLess(elapsed, scaled(4.5), "did not honour shutdown_timeout")
        self.assertRegex(srv.log_text(), r"shutdown_timeout reached")

    def test_sigusr1_reopens_log_files(self):
        access = self.path("access.log")
        srv = self.start_squalld(workers=2, log={"access": access})
        self.assertStatus(srv.get("/pid?before"), 200)
        wait_for(lambda: "/pid?before" in read_text(access), 5,
                 "the first access line")
        os.rename(access, access + ".1")  # what logrotate does
        srv.send_signal(signal.SIGUSR1)
        # the master and both workers say so once they have reopened
        wait_for(lambda: len(re.findall(r"log files reopened", srv.log_text())) >= 3,
                 5, "master and workers to reopen their logs")
        for i in range(20):  # fresh connections: both workers answer some
            self.assertStatus(srv.get("/pid?after=%d" % i), 200)
        wait_for(lambda: all("/pid?after=%d " % i in read_text(access)
                             for i in range(20)),
                 5, "every later access line in the reopened file")
        self.assertNotIn("/pid?after", read_text(access + ".1"))
        self.assertIn("/pid?before", read_text(access + ".1"))

    def test_sighup_is_ignored_and_serving_goes_on(self):
        srv = self.start_squalld(workers=2)
        srv.send_signal(signal.SIGHUP)
        srv.wait_log(r"SIGHUP: configuration reload is not supported yet")
        self.assertStatus(srv.get("/"), 200, "Hello, world!")
        self.assertTrue(proc_alive(srv.pid))

    # long-lived connections spread over workers -----------------------------

    def open_burst(self, srv, total, procs):
        """Opens `total` connections at once from `procs` client processes,
        each from its own 127.0.0.x, and holds them until the test ends."""
        host, port = srv.address
        holders = []
        for i in range(procs):
            n = total // procs + (i < total % procs)
            p = subprocess.Popen(
                [sys.executable, "-c", _HOLDER, host, str(port), str(n),
                 "127.0.0.%d" % (2 + i % 200)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            holders.append(p)
            self.addCleanup(self.release, p)
        for p in holders:
            line = p.stdout.readline()
            self.assertEqual(line, b"ok\n", "a client could not connect")
        return holders

    @staticmethod
    def release(holder):
        holder.stdin.close()
        holder.wait(30)
        holder.stdout.close()

    def per_worker(self, srv, workers, total, timeout=30):
        """{pid: accepted connections} once the workers hold `total`."""
        port = srv.address[1]

        def counts():
            accepted = server_sockets(port)
            c = {pid: len(socket_inodes(pid) & accepted) for pid in workers}
            return c if sum(c.values()) == total else None
        return wait_for(counts, timeout, "%d connections accepted" % total,
                        interval=0.1)

    def check_burst_spread(self, total, procs):
        srv = self.start_squalld(workers=2, limits={
            "header_timeout": "60s", "idle_timeout": "60s",
            "max_connections": 12000})
        workers = srv.worker_pids(2)
        t0 = time.monotonic()
        self.open_burst(srv, total, procs)
        counts = self.per_worker(srv, workers, total)
        print("\n%d connections in a burst: %s per worker, %.1f s"
              % (total, sorted(counts.values()), time.monotonic() - t0))
        for pid, n in counts.items():
            self.assertLessEqual(abs(n - total / 2), total / 2 * 0.15,
                                 "worker %d holds %d of %d connections: %s"
                                 % (pid, n, total, counts))

    def test_long_lived_connections_spread_1000(self):
        self.check_burst_spread(1000, 4)

    def test_long_lived_connections_spread_10000(self):
        self.check_burst_spread(10000, 8)

    def test_stuck_worker_does_not_stall_accepting(self):
        # one worker stops running (a blocked loop): the other accepts
        # everything, beyond its fair share, after a short hold
        srv = self.start_squalld(workers=2, limits={"header_timeout": "60s"})
        stuck, live = sorted(srv.worker_pids(2))
        os.kill(stuck, signal.SIGSTOP)
        self.addCleanup(os.kill, stuck, signal.SIGCONT)
        self.open_burst(srv, 300, 2)
        counts = self.per_worker(srv, {stuck, live}, 300, timeout=10)
        self.assertEqual(counts, {stuck: 0, live: 300})

    # signals during a worker's start-up -------------------------------------

    SLOW_INIT_MS = 2000

    def start_slow_init(self, init_log, wait_ready):
        srv = self.squalld(lifemod_config(
            init_log=init_log, init_sleep_ms=self.SLOW_INIT_MS))
        return srv.start(wait_ready=wait_ready, timeout=15)

    def signal_during_init(self, srv, init_log, sig, exclude=()):
        """Waits for a worker to be inside its (slow) init, sends sig to
        the master, and checks that the init had not returned by then."""
        pid = wait_for(lambda: in_init(init_log, exclude), 10,
                       "a worker inside its module init")
        time.sleep(0.5)  # the scenario: a signal well inside the 2 s init
        srv.send_signal(sig)
        self.assertNotIn(("done", pid), init_events(init_log),
                         "the signal came after init returned")
        return pid

    def test_sigusr1_during_first_start(self):
        init_log = self.path("init.log")
        srv = self.start_slow_init(init_log, wait_ready=False)
        self.signal_during_init(srv, init_log, signal.SIGUSR1)
        srv.wait_ready(timeout=15)
        starts = [p for what, p in init_events(init_log) if what == "start"]
        self.assertEqual(len(starts), 2, "a worker was respawned: %s"
                         % init_events(init_log))
        self.assertEqual(srv.worker_pids(2), set(starts))
        wait_for(lambda: len(re.findall(r"log files reopened",
                                        srv.log_text())) >= 3,
                 5, "master and both workers to reopen their logs")

    def test_sigterm_during_first_start_stops_cleanly(self):
        init_log = self.path("init.log")
        srv = self.start_slow_init(init_log, wait_ready=False)
        self.signal_during_init(srv, init_log, signal.SIGTERM)
        self.assertEqual(srv.wait_exit(timeout=15), 0, srv.log_tail())
        self.assertNotRegex(srv.log_text(), r"killed by signal")

    def respawn_slow_worker(self, srv, init_log):
        """Kills a worker; returns its pid once its successor is inside
        its init."""
        first = srv.worker_pids(2)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: not proc_alive(victim), 5, "worker %d to die" % victim)
        return first

    def test_sigusr1_during_respawned_worker_start(self):
        init_log = self.path("init.log")
        srv = self.start_slow_init(init_log, wait_ready=True)
        first = self.respawn_slow_worker(srv, init_log)
        new = self.signal_during_init(srv, init_log, signal.SIGUSR1,
                                      exclude=first)
        wait_for(lambda: ("done", new) in init_events(init_log), 10,
                 "the respawned worker to finish its init")
        wait_for(lambda: new in srv.worker_pids(2), 10,
                 "the respawned worker to serve")
        self.assertTrue(proc_alive(new), "the respawned worker died")
        starts = [p for what, p in init_events(init_log) if what == "start"]
        self.assertEqual(len(starts), 3, "respawned more than once: %s"
                         % init_events(init_log))

    def test_sigterm_during_respawned_worker_start_stops_cleanly(self):
        init_log = self.path("init.log")
        srv = self.start_slow_init(init_log, wait_ready=True)
        first = self.respawn_slow_worker(srv, init_log)
        self.signal_during_init(srv, init_log, signal.SIGTERM, exclude=first)
        self.assertEqual(srv.wait_exit(timeout=15), 0, srv.log_tail())
        self.assertNotRegex(srv.log_text(), r"while stopping")

    # teardown ---------------------------------------------------------------

    def test_module_event_left_in_base_does_not_crash_stop(self):
        srv = self.start_squalld(lifemod_config(static_event=True))
        self.assertStatus(srv.get("/"), 200)
        self.assertEqual(srv.stop(), 0, srv.log_tail())
        self.assertNotRegex(srv.log_text(), r"killed by signal")

    def test_fini_runs_when_a_later_module_init_fails(self):
        fini = self.path("fini")
        cfg = squalltest.make_config(workers=1, testmod={"init_fail": True})
        # lifemod first: its init succeeds before testmod's fails
        cfg["modules"] = {
            "lifemod": {"path": LIFEMOD, "config": {"fini_file": fini}},
            "testmod": cfg["modules"]["testmod"]}
        cfg["routes"] = [{"path": "/pid", "handler": "testmod:pid"}]
        srv = self.squalld(cfg)
        srv.start(wait_ready=False)
        self.assertEqual(srv.wait_exit(timeout=10), 1, srv.log_tail())
        self.assertRegex(srv.log_text(), r"module 'testmod': init failed")
        self.assertEqual(len(read_text(fini).splitlines()), 1,
                         "lifemod's fini did not run: %r" % read_text(fini))


if __name__ == "__main__":
    squalltest.main()
