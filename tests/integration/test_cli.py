#!/usr/bin/python3
"""The command line: -t checks a config fully and names the exact place of
every error; the same errors stop a normal start before it serves; -V; and
the listen forms (unix socket, IPv6, a list)."""

import os
import re
import socket
import stat
import string
import unittest

import squalltest
from squalltest import TEST_MODULES, Conn, proc_alive

# "<@>" marks the line and column the error message must name; it is removed
# before the file is written. $testmods is the directory of the test modules.
VALID = """\
server:
  listen: 127.0.0.1:$port
  workers: 2
  shutdown_timeout: 5s
  limits:
    max_body_size: 1m
    header_timeout: 10s
modules:
  hello:
    path: hello.so
  testmod:
    path: $testmods/testmod.so
routes:
  - path: /
    handler: hello:hello
  - path: /pid
    methods: [GET]
    handler: testmod:pid
"""

# name -> (config with a <@> mark, strings the message must contain)
BROKEN = {
    "yaml_syntax": ("""\
server:
  workers: 2
   listen<@>: 127.0.0.1:$port
""", []),
    "unknown_key": ("""\
server:
  listen: 127.0.0.1:$port
  <@>shutdown_timout: 5s
""", ["did you mean", "shutdown_timeout"]),
    "bad_size": ("""\
server:
  listen: 127.0.0.1:$port
  limits:
    max_body_size: <@>12q
""", ["max_body_size"]),
    "bad_duration": ("""\
server:
  listen: 127.0.0.1:$port
  limits:
    header_timeout: <@>soon
""", ["header_timeout"]),
    "bad_listen": ("""\
server:
  listen: <@>127.0.0.1:notaport
""", ["127.0.0.1:notaport"]),
    "missing_module_file": ("""\
server:
  listen: 127.0.0.1:$port
modules:
  gone:
    path: <@>/nonexistent/squall/gone.so
routes:
  - path: /
    handler: gone:hello
""", ["/nonexistent/squall/gone.so"]),
    "wrong_abi": ("""\
server:
  listen: 127.0.0.1:$port
modules:
  wrongabi:
    path: <@>$testmods/wrongabi.so
""", ["ABI", "$testmods/wrongabi.so"]),
    "no_descriptor": ("""\
server:
  listen: 127.0.0.1:$port
modules:
  nodesc:
    path: <@>$testmods/nodesc.so
""", ["$testmods/nodesc.so"]),
    "missing_handler": ("""\
server:
  listen: 127.0.0.1:$port
modules:
  testmod:
    path: $testmods/testmod.so
routes:
  - path: /pid
    handler: testmod:pid
  - path: /nope
    handler: <@>testmod:no_such_handler
""", ["no_such_handler"]),
}

MARK = "<@>"


def expand(template, port=None):
    """The config text and the (line, column) of its mark, if any."""
    text = string.Template(template).substitute(
        testmods=TEST_MODULES, port=port or squalltest.free_port())
    if MARK not in text:
        return text, None
    pos = squalltest.position(text, MARK)
    return text.replace(MARK, "", 1), pos


class CliTest(squalltest.SquallTestCase):

    def write(self, name, text):
        path = self.path(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    # -t ----------------------------------------------------------------------

    def test_check_valid_config(self):
        text, _ = expand(VALID)
        path = self.write("valid.yaml", text)
        proc = self.run_squalld(["-t", "-c", path])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("configuration ok", proc.stdout)

    def check_config_error(self, name, template, needles):
        text, (line, col) = expand(template)
        path = self.write(name + ".yaml", text)
        proc = self.run_squalld(["-t", "-c", path])
        self.assertEqual(proc.returncode, 1, "stdout %r stderr %r"
                         % (proc.stdout, proc.stderr))
        self.assertNotIn("configuration ok", proc.stdout)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, "expected one line: %r" % proc.stderr)
        where = "%s:%d:%d: " % (path, line, col)
        self.assertRegex(lines[0], r"^(squalld: )?" + re.escape(where),
                         "expected the error at %s" % where)
        for needle in needles:
            needle = string.Template(needle).substitute(testmods=TEST_MODULES)
            self.assertIn(needle.lower(), lines[0].lower())

    def check_start_error(self, name, template, needles):
        text, (line, col) = expand(template)
        srv = self.squalld(text)
        srv.start(wait_ready=False)
        self.assertEqual(srv.wait_exit(timeout=10), 1, srv.log_text())
        log = srv.log_text()
        self.assertIn("%s:%d:%d: " % (srv.config_path, line, col), log)
        for needle in needles:
            needle = string.Template(needle).substitute(testmods=TEST_MODULES)
            self.assertIn(needle.lower(), log.lower())
        self.assertFalse([d for d in srv.notified() if b"READY=1" in d],
                         "READY=1 sent by a squalld that failed to start")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(srv.address, timeout=2).close()

    def test_unopenable_log_file_fails_start_at_its_key(self):
        # (-t does not open files; starting does, and says where)
        text, (line, col) = expand("""\
server:
  listen: 127.0.0.1:$port
log:
  access: <@>/nonexistent/squall/access.log
""")
        srv = self.squalld(text)
        srv.start(wait_ready=False)
        self.assertEqual(srv.wait_exit(timeout=10), 1, srv.log_text())
        self.assertRegex(srv.log_text(), r"(?m)^squalld: %s:%d:%d: cannot open "
                         r"log file /nonexistent/squall/access\.log: No such"
                         % (re.escape(srv.config_path), line, col))

    # -V ----------------------------------------------------------------------

    def test_version(self):
        proc = self.run_squalld(["-V"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stdout.splitlines()
        self.assertRegex(lines[0], r"^squalld \d+\.\d+(\.\d+)?\S*$")
        self.assertTrue([l for l in lines if l.startswith("features:")],
                        proc.stdout)

    def test_unknown_option(self):
        proc = self.run_squalld(["--no-such-option"])
        self.assertNotEqual(proc.returncode, 0)
        self.assertTrue(proc.stderr.strip(), "no usage message")

    # listen --------------------------------------------------------------

    def serve(self, listen, address):
        srv = self.start_squalld(workers=2, listen=listen, activation=False,
                                 address=address)
        resp = srv.get("/pid")
        self.assertStatus(resp, 200)
        self.assertTrue(resp.body.isdigit(), resp)
        return srv

    def test_listen_unix_socket(self):
        path = self.path("squall.sock")
        srv = self.serve("unix:" + path, path)
        self.assertEqual(srv.stop(), 0, srv.log_tail())
        self.assertFalse(os.path.exists(path),
                         "squalld left the socket it bound behind")

    def test_listen_unix_replaces_a_stale_socket(self):
        path = self.path("stale.sock")
        with socket.socket(socket.AF_UNIX) as dead:
            dead.bind(path)  # a file nobody accepts on: ECONNREFUSED
        self.serve("unix:" + path, path)

    def test_listen_unix_refuses_a_live_socket(self):
        path = self.path("live.sock")
        first = self.serve("unix:" + path, path)
        second = self.squalld(workers=2, listen="unix:" + path,
                              activation=False, address=path)
        second.start(wait_ready=False)
        self.assertEqual(second.wait_exit(timeout=10), 1, second.log_text())
        with open(second.config_path) as f:
            line, col = squalltest.position(f.read(), "unix:")
        self.assertIn("%s:%d:%d: " % (second.config_path, line, col),
                      second.log_text())
        self.assertIn("another process is listening on %s" % path,
                      second.log_text())
        with Conn(path) as c:  # the first one still has its socket
            self.assertStatus(c.request("GET", "/pid"), 200)
        self.assertTrue(proc_alive(first.pid))

    def test_activated_unix_socket_is_kept_at_stop(self):
        path = self.path("activated.sock")
        srv = self.start_squalld(workers=2, unix_path=path)
        self.assertStatus(srv.get("/pid"), 200)
        self.assertEqual(srv.stop(), 0, srv.log_tail())
        # systemd still listens on it: the next squalld gets it again
        self.assertTrue(stat.S_ISSOCK(os.stat(path).st_mode),
                        "squalld removed a socket systemd passed it")

    def test_listen_ipv6(self):
        if not squalltest.ipv6_loopback_available():
            raise unittest.SkipTest("::1 not available")
        port = squalltest.free_port("::1", socket.AF_INET6)
        self.serve("[::1]:%d" % port, ("::1", port))

    def test_listen_list(self):
        port = squalltest.free_port()
        path = self.path("list.sock")
        self.serve(["127.0.0.1:%d" % port, "unix:" + path], ("127.0.0.1", port))
        with Conn(path) as c:
            self.assertStatus(c.request("GET", "/args/1?q=unix"), 200,
                              "id=1\nq=unix\n")

    def test_listen_port_in_use_fails(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            srv = self.squalld(listen="127.0.0.1:%d" % port, activation=False,
                               address=("127.0.0.1", port))
            srv.start(wait_ready=False)
            self.assertEqual(srv.wait_exit(timeout=10), 1, srv.log_text())
            self.assertIn("127.0.0.1:%d" % port, srv.log_text())


def _config_test(check, name, template, needles):
    def test(self):
        getattr(self, check)(name, template, needles)
    return test


for _name, (_template, _needles) in BROKEN.items():
    setattr(CliTest, "test_check_%s" % _name,
            _config_test("check_config_error", _name, _template, _needles))
    setattr(CliTest, "test_start_%s" % _name,
            _config_test("check_start_error", _name, _template, _needles))

if __name__ == "__main__":
    squalltest.main()
