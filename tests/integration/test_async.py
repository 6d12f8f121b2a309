"""The asynchronous API against the real squalld, with the asyncmod module:
periodic timers, thread pool jobs, clients that leave while either runs,
a stop while a job runs, server.thread_pool itself.
"""

import os
import signal
import threading
import time

from squalltest import (TEST_MODULES, SquallTestCase, build_request, main,
                        make_config, position, scaled, to_yaml, wait_for)

ASYNCMOD = os.path.join(TEST_MODULES, "asyncmod.so")

ROUTES = [
    {"path": "/tick", "handler": "asyncmod:tick"},
    {"path": "/compute", "handler": "asyncmod:compute"},
]


def async_config(thread_pool=None, **kw):
    kw.setdefault("workers", 1)
    cfg = make_config(routes=ROUTES, **kw)
    cfg["modules"] = {"asyncmod": {"path": ASYNCMOD}}
    if thread_pool is not None:
        cfg["server"]["thread_pool"] = thread_pool
    return cfg


def worker_threads(srv):
    """Threads of the one worker."""
    kids = srv.worker_processes()
    if len(kids) != 1:
        raise AssertionError("expected one worker, found %r" % kids)
    return len(os.listdir("/proc/%d/task" % kids[0]))


class AsyncTest(SquallTestCase):

    def start(self, **kw):
        return self.start_squalld(async_config(**kw))

    # -- periodic timers --------------------------------------------------------

    def test_answer_after_three_ticks(self):
        srv = self.start()
        started = time.monotonic()
        resp = srv.get("/tick?n=3&ms=100")
        self.assertStatus(resp, 200, "ticks 3\n")
        # three periods (libevent's clock may round a few ms short)
        self.assertGreaterEqual(time.monotonic() - started, 0.28)

    def test_client_leaving_during_a_timer(self):
        """on_close cancels the periodic timer: it does not tick into the
        finished request, and the worker serves on."""
        srv = self.start()
        conn = srv.connect()
        conn.send(build_request("GET", "/tick?n=100000&ms=10"))
        srv.wait_log(r"asyncmod: tick started")
        time.sleep(0.05)
        conn.close()
        srv.wait_log(r"asyncmod: tick closed after \d+ ticks")
        time.sleep(0.1)  # ticks after the close would crash or be reported
        self.assertStatus(srv.get("/tick?n=2&ms=10"), 200, "ticks 2\n")

    # -- the thread pool --------------------------------------------------------

    def test_a_job_computes_off_the_loop(self):
        srv = self.start()
        started = time.monotonic()
        resp = srv.get("/compute?ms=200")
        self.assertStatus(resp, 200, "sum 500500\nwork off the loop: yes\n"
                          "done on the loop: yes\n")
        self.assertGreaterEqual(time.monotonic() - started, 0.19)
        # sq_log from the pool thread
        self.assertRegex(srv.log_text(), r"asyncmod: job started")

    def test_jobs_run_in_parallel_on_the_pool_size(self):
        """8 jobs of 300 ms on the default pool (4 threads) take two rounds:
        in parallel, but not more than 4 at a time."""
        srv = self.start()
        results = []

        def one():
            results.append(srv.get("/compute?ms=300", timeout=10).status)
        started = time.monotonic()
        threads = [threading.Thread(target=one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - started
        self.assertEqual(results, [200] * 8)
        self.assertGreaterEqual(took, 0.58)
        self.assertLess(took, scaled(2.0))  # one by one: 2.4 s

    def test_client_leaving_during_a_job(self):
        """The job finishes and its done runs, sees the flag on_close set,
        and frees its state without touching the finished request."""
        srv = self.start()
        conn = srv.connect()
        conn.send(build_request("GET", "/compute?ms=500"))
        srv.wait_log(r"asyncmod: job started")
        conn.close()
        srv.wait_log(r"asyncmod: compute closed")
        srv.wait_log(r"asyncmod: job done, client gone")
        self.assertStatus(srv.get("/compute?ms=0"), 200)

    def test_stop_while_a_job_runs_still_answers(self):
        srv = self.start(shutdown_timeout="5s")
        conn = srv.connect()
        conn.send(build_request("GET", "/compute?ms=1000"))
        srv.wait_log(r"asyncmod: job started")
        srv.send_signal(signal.SIGTERM)
        resp = conn.read_response(timeout=5)
        self.assertStatus(resp, 200)
        self.assertIn(b"sum 500500", resp.body)
        self.assertEqual(resp.header("Connection"), "close")
        conn.close()
        self.assertEqual(srv.wait_exit(10), 0)

    def test_stop_waits_for_a_job_whose_client_left(self):
        """No connection is left, but a job is in flight: the worker keeps
        its loop until the job's done has run."""
        srv = self.start(shutdown_timeout="5s")
        conn = srv.connect()
        conn.send(build_request("GET", "/compute?ms=800"))
        srv.wait_log(r"asyncmod: job started")
        conn.close()
        srv.wait_log(r"asyncmod: compute closed")
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(srv.wait_exit(10), 0)
        self.assertIn("asyncmod: job done, client gone", srv.log_text())
        self.assertNotIn("unfinished at shutdown_timeout", srv.log_text())

    def test_a_job_longer_than_shutdown_timeout_is_abandoned(self):
        srv = self.start(shutdown_timeout="1s")
        conn = srv.connect()
        conn.send(build_request("GET", "/compute?ms=20000"))
        srv.wait_log(r"asyncmod: job started")
        started = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(srv.wait_exit(10), 0)
        self.assertLess(time.monotonic() - started, scaled(5))
        self.assertRegex(srv.log_text(), r"1 thread pool job\(s\) unfinished "
                         r"at shutdown_timeout; exiting without them")
        self.assertNotIn("job done", srv.log_text())
        self.assertEqual(conn.read_until_eof(), b"")  # closed, no answer
        conn.close()

    # -- server.thread_pool -------------------------------------------------------

    def test_thread_pool_zero_refuses_jobs(self):
        srv = self.start(thread_pool=0)
        resp = srv.get("/compute?ms=10")
        self.assertStatus(resp, 503)
        self.assertEqual(resp.header("X-Asyncmod"), "no thread pool")
        self.assertStatus(srv.get("/tick?n=1&ms=10"), 200, "ticks 1\n")

    def test_thread_pool_sets_the_worker_threads(self):
        counts = {}
        for n in (0, None, 7):
            srv = self.start(thread_pool=n)
            srv.get("/tick?n=1&ms=1")  # the worker is up
            counts[n] = worker_threads(srv)
            self.assertEqual(srv.stop(), 0)
        self.assertEqual(counts[None] - counts[0], 4)  # the default
        self.assertEqual(counts[7] - counts[0], 7)

    def test_thread_pool_range_is_checked(self):
        for value in ("65", "-1", "four"):
            path = self.path("bad.yaml")
            cfg = async_config()
            cfg["server"]["thread_pool"] = value
            text = to_yaml(cfg) + "\n"
            with open(path, "w") as f:
                f.write(text)
            proc = self.run_squalld(["-t", "-c", path])
            self.assertEqual(proc.returncode, 1, proc.stderr)
            line, col = position(text, "thread_pool: ")
            col += len("thread_pool: ")
            self.assertIn("%s:%d:%d: expected an integer from 0 to 64 for "
                          "server.thread_pool, got '%s'" % (path, line, col, value),
                          proc.stderr)
        path = self.path("good.yaml")
        cfg = async_config(thread_pool=64)
        with open(path, "w") as f:
            f.write(to_yaml(cfg) + "\n")
        proc = self.run_squalld(["-t", "-c", path])
        self.assertEqual(proc.returncode, 0, proc.stderr)


if __name__ == "__main__":
    main()
