"""squalltest - the harness of squalld's integration tests.

It starts the real daemon and talks to it with real clients:

- Squalld runs one squalld (master + workers) from a config built here.
  By default the harness creates the listening socket itself (127.0.0.1,
  port 0) and hands it over by systemd socket activation (LISTEN_FDS=1,
  fd 3), so there is no race for a port; `unix_path=` activates a unix
  socket at that path instead, and `listen=` starts with a real
  server.listen. Readiness is the READY=1 datagram squalld sends
  to $NOTIFY_SOCKET. squalld runs in its own session, so its whole process
  group (master and workers) is killed when the test ends.
- Conn is a raw HTTP/1.1 client over a socket: the tests send exact bytes
  and parse exactly what comes back (interim responses, chunked framing,
  the connection closing).
- SquallTestCase gives each test a scratch directory, starts servers that
  are stopped by its cleanups, and prints squalld's log when a test fails.
  A server must exit 0 when that final stop ends it (a crash at shutdown
  fails the test), or when it ended during the test unobserved; a test
  that expects otherwise sets `srv.expected_exit` (None: anything).

Every wait is a poll for a condition with a deadline. Environment (set by
`make check`): SQUALLD, SQUALL_MODULE_DIR, SQUALL_TEST_MODULES,
SQUALL_SRCDIR; SQUALLTEST_SLOW=N multiplies every deadline (sanitizer
builds); SQUALLTEST_KEEP=1 keeps the scratch directories.
"""

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("SQUALL_SRCDIR") or os.path.dirname(os.path.dirname(HERE))
SQUALLD = os.environ.get("SQUALLD") or os.path.join(SRCDIR, "src", "squalld")
MODULE_DIR = os.environ.get("SQUALL_MODULE_DIR") or os.path.join(SRCDIR, "handlers")
TEST_MODULES = os.environ.get("SQUALL_TEST_MODULES") or os.path.join(
    SRCDIR, "tests", "modules")
TESTMOD = os.path.join(TEST_MODULES, "testmod.so")

SLOW = float(os.environ.get("SQUALLTEST_SLOW", "1"))


def _sanitized():
    try:
        out = subprocess.run([SQUALLD, "-V"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return " asan" in out


# A sanitizer build: ASan keeps freed memory in quarantine, so memory
# bounds are looser there (the behaviour is still bounded).
SANITIZED = _sanitized()


# what AddressSanitizer, LeakSanitizer and UBSan print when they find a bug
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error: ")


def scaled(seconds):
    """A deadline, stretched for slow (sanitizer) builds."""
    return seconds * SLOW


def wait_for(cond, timeout, what="condition", interval=0.02):
    """Polls cond() until it returns a true value (which is returned), or
    fails the test after timeout seconds."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (scaled(timeout), what))
        time.sleep(interval)


# ---------------------------------------------------------------------------
# configuration

DEFAULT_ROUTES = [
    {"path": "/", "handler": "hello:hello"},
    {"path": "/echo", "methods": ["POST"], "handler": "hello:echo"},
    {"path": "/pid", "handler": "testmod:pid"},
    {"path": "/slow", "handler": "testmod:slow"},
    {"path": "/stream", "handler": "testmod:stream"},
    {"path": "/drip", "handler": "testmod:drip"},
    {"path": "/big", "handler": "testmod:big"},
    {"path": "/headers", "handler": "testmod:headers"},
    {"path": "/args/{id}", "handler": "testmod:args"},
    {"path": "/status", "handler": "testmod:status"},
    {"path": "/redirect", "handler": "testmod:redirect"},
    {"path": "/fail", "handler": "testmod:fail"},
    {"path": "/body", "methods": ["POST", "PUT"], "handler": "testmod:body"},
    {"path": "/get-only", "methods": ["GET"], "handler": "testmod:pid"},
    {"path": "/flushstatus", "handler": "testmod:flushstatus"},
    {"path": "/hold", "handler": "testmod:hold"},
    {"path": "/firehose", "handler": "testmod:firehose"},
    {"path": "/selfcancel", "handler": "testmod:selfcancel"},
    {"path": "/client", "handler": "testmod:client"},
]


def make_config(workers=2, listen=None, limits=None, log=None, testmod=None,
                routes=None, shutdown_timeout="5s"):
    """The config of a test server as a dict (see to_yaml): the hello module,
    testmod (with `testmod` as its config block) and DEFAULT_ROUTES."""
    server = {"workers": workers, "shutdown_timeout": shutdown_timeout}
    if listen is not None:
        server["listen"] = listen
    if limits:
        server["limits"] = dict(limits)
    testmod_block = {"path": TESTMOD}
    if testmod:
        testmod_block["config"] = dict(testmod)
    return {
        "server": server,
        "log": dict({"level": "info", "error": "stderr"}, **(log or {})),
        "modules": {"hello": {"path": "hello.so"}, "testmod": testmod_block},
        "routes": list(DEFAULT_ROUTES if routes is None else routes),
    }


_PLAIN = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./:-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(value):
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)  # a double-quoted YAML scalar


def to_yaml(obj, indent=0):
    """Block-style YAML for nested dicts, lists and scalars."""
    pad = " " * indent
    lines = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, (dict, list)) and value:
                lines.append("%s%s:" % (pad, key))
                lines.append(to_yaml(value, indent + 2))
            elif isinstance(value, (dict, list)):
                lines.append("%s%s: %s" % (pad, key, "{}" if isinstance(value, dict) else "[]"))
            else:
                lines.append("%s%s: %s" % (pad, key, _scalar(value)))
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict) and item:
                sub = to_yaml(item, indent + 2).split("\n")
                lines.append("%s- %s" % (pad, sub[0].lstrip()))
                lines.extend(sub[1:])
            elif isinstance(item, list) and item:
                lines.append("%s-" % pad)
                lines.append(to_yaml(item, indent + 2))
            else:
                lines.append("%s- %s" % (pad, _scalar(item)))
    else:
        lines.append(pad + _scalar(obj))
    return "\n".join(lines)


def free_port(host="127.0.0.1", family=socket.AF_INET):
    """A port that was free a moment ago, for tests of server.listen."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ipv6_loopback_available():
    try:
        free_port("::1", socket.AF_INET6)
        return True
    except OSError:
        return False


def position(text, token, occurrence=1):
    """(line, column), 1-based, where the occurrence-th `token` starts."""
    index = -1
    for _ in range(occurrence):
        index = text.index(token, index + 1)
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, col


# ---------------------------------------------------------------------------
# /proc helpers

def proc_alive(pid):
    """Whether pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def vm_rss(pid):
    """Resident set size of pid in bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid %d" % pid)


# ---------------------------------------------------------------------------
# a raw HTTP/1.1 client

def build_request(method, target, headers=None, body=None, version="HTTP/1.1",
                  host="test", close=False):
    """Request bytes. Host is added for HTTP/1.1 unless given (host=None
    leaves it out), Content-Length when there is a body and no framing
    header was given."""
    headers = list(headers or [])
    names = {name.lower() for name, _ in headers}
    if host is not None and version == "HTTP/1.1" and "host" not in names:
        headers.insert(0, ("Host", host))
    if body is not None and not names & {"content-length", "transfer-encoding"}:
        headers.append(("Content-Length", str(len(body))))
    if close and "connection" not in names:
        headers.append(("Connection", "close"))
    head = "%s %s %s\r\n" % (method, target, version)
    head += "".join("%s: %s\r\n" % h for h in headers) + "\r\n"
    data = head.encode("latin-1")
    if body is not None:
        data += body if isinstance(body, bytes) else body.encode()
    return data


class Response:
    """One parsed response. headers keeps order and repeats."""

    def __init__(self, version, status, reason, headers, body, chunks=None):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.chunks = chunks  # chunk sizes, for a chunked response

    def header(self, name, default=None):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def tokens(self, name):
        """The comma-separated tokens of every `name` header, lowercased."""
        out = []
        for value in self.header_all(name):
            out.extend(t.strip().lower() for t in value.split(",") if t.strip())
        return out

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Response %s %d %r body=%r>" % (
            self.version, self.status, self.headers, self.body[:200])


class Conn:
    """A client connection to squalld that sends raw bytes and parses
    responses exactly."""

    def __init__(self, address, timeout=5, rcvbuf=None, source=None):
        if isinstance(address, str):
            family = socket.AF_UNIX
        elif len(address) == 4 or ":" in address[0]:
            family = socket.AF_INET6
        else:
            family = socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(scaled(timeout))
        try:
            if source is not None:  # (host, port): connect from there
                self.sock.bind(source)
            self.sock.connect(address)
        except OSError:
            self.sock.close()
            raise
        self.timeout = timeout
        self.buf = b""
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method, target, **kw):
        """Sends one request and reads its response."""
        self.send(build_request(method, target, **kw))
        return self.read_response(method)

    def _fill(self, deadline):
        """Reads more into buf; False at EOF."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("timed out reading from squalld; have %r"
                                 % self.buf[:300])
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError("timed out reading from squalld; have %r"
                                 % self.buf[:300]) from None
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _take(self, n):
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _read_until(self, delim, deadline, what):
        while delim not in self.buf:
            if not self._fill(deadline):
                raise AssertionError("connection closed while reading %s; "
                                     "got %r" % (what, self.buf[:300]))
        return self._take(self.buf.index(delim) + len(delim))

    def _read_exact(self, n, deadline, what):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise AssertionError("connection closed after %d of %d bytes "
                                     "of %s" % (len(self.buf), n, what))
        return self._take(n)

    def read_response(self, method="GET", timeout=None):
        """Reads one response (an interim 1xx is returned on its own)."""
        deadline = time.monotonic() + scaled(timeout or self.timeout)
        head = self._read_until(b"\r\n\r\n", deadline, "a response head")
        lines = head[:-4].decode("latin-1").split("\r\n")
        m = re.match(r"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
        if not m:
            raise AssertionError("bad status line %r" % lines[0])
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise AssertionError("bad response header line %r" % line)
            headers.append((name, value.strip()))
        resp = Response(m.group(1), int(m.group(2)), m.group(3) or "",
                        headers, b"")
        if method == "HEAD" or resp.status < 200 or resp.status in (204, 304):
            return resp
        if "chunked" in resp.tokens("Transfer-Encoding"):
            resp.body, resp.chunks = self._read_chunked(deadline)
        elif resp.header("Content-Length") is not None:
            resp.body = self._read_exact(int(resp.header("Content-Length")),
                                         deadline, "a body")
        else:
            resp.body = self.read_until_eof(timeout or self.timeout)
        return resp

    def _read_chunked(self, deadline):
        body, sizes = b"", []
        while True:
            line = self._read_until(b"\r\n", deadline, "a chunk size")
            size = int(line.split(b";")[0].strip(), 16)
            sizes.append(size)
            if size == 0:
                break
            body += self._read_exact(size, deadline, "a chunk")
            if self._read_exact(2, deadline, "a chunk end") != b"\r\n":
                raise AssertionError("chunk not followed by CRLF")
        while self._read_until(b"\r\n", deadline, "the trailer") != b"\r\n":
            pass
        return body, sizes

    def read_until_eof(self, timeout=3):
        """Everything until squalld closes the connection (a reset counts as
        closing); fails when it is still open after timeout."""
        deadline = time.monotonic() + scaled(timeout)
        try:
            while self._fill(deadline):
                pass
        except ConnectionResetError:
            self.eof = True
        return self._take(len(self.buf))

    def assert_closed(self, timeout=3):
        """The connection is closed by squalld with nothing more sent."""
        extra = self.read_until_eof(timeout)
        if extra:
            raise AssertionError("expected the connection to close, got "
                                 "more bytes: %r" % extra[:300])

    def readable(self, timeout):
        """Whether data (or EOF) arrives within timeout, without reading."""
        if self.buf:
            return True
        r, _, _ = select.select([self.sock], [], [], scaled(timeout))
        return bool(r)


# ---------------------------------------------------------------------------
# the daemon

# Runs in the child before squalld: moves the inherited listening socket to
# fd 3, sets LISTEN_PID to its own pid (kept across exec) and disables core
# dumps (the crash-loop test aborts workers).
_LAUNCHER = r"""
import os, resource, sys
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
if sys.argv[1] != "-":
    fd = int(sys.argv[1])
    if fd != 3:
        os.dup2(fd, 3)
        os.close(fd)
    os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[2], sys.argv[2:])
"""


class Squalld:
    """One squalld process tree started from a config.

    config is a dict (written as YAML) or YAML text. With activation=True
    (the default) the listening socket is made here and passed as fd 3;
    otherwise squalld binds server.listen itself and `address` must be
    given for connecting. unix_path (with activation) activates a unix
    socket bound at that path instead of a TCP one.

    expected_exit is the status the harness requires when it stops squalld
    at the end of a test (None: any)."""

    def __init__(self, workdir, config, activation=True, address=None,
                 args=(), env=None, unix_path=None):
        self.workdir = workdir
        self.unix_path = unix_path
        self.expected_exit = 0
        self.exit_observed = False
        self.env = dict(env or {})
        self.config = config
        self.activation = activation
        self.address = address
        self.args = list(args)
        self.config_path = os.path.join(workdir, "squall.yaml")
        self.stderr_path = os.path.join(workdir, "squalld.stderr")
        self.stdout_path = os.path.join(workdir, "squalld.stdout")
        self.notify_path = os.path.join(workdir, "notify.sock")
        self.proc = None
        self.notify = None
        self.ready = False

    # starting and stopping -------------------------------------------------

    def start(self, wait_ready=True, timeout=10):
        text = self.config if isinstance(self.config, str) else to_yaml(self.config) + "\n"
        with open(self.config_path, "w") as f:
            f.write(text)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        env = dict(os.environ)
        for key in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
            env.pop(key, None)
        env["SQUALL_MODULE_DIR"] = MODULE_DIR
        env["NOTIFY_SOCKET"] = self.notify_path
        env.update(self.env)
        argv = [SQUALLD, "-c", self.config_path] + self.args
        lsock = None
        if self.activation:
            lsock = self._activation_socket()
            self.address = lsock.getsockname()
            env["LISTEN_FDS"] = "1"
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _LAUNCHER,
                 str(lsock.fileno()) if lsock else "-"] + argv,
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                pass_fds=(lsock.fileno(),) if lsock else (),
                start_new_session=True)
        if lsock is not None:
            lsock.close()  # squalld owns it now: refused once squalld is gone
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def _activation_socket(self):
        """The listening socket systemd would pass."""
        if self.unix_path is not None:
            lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            lsock.bind(self.unix_path)
        else:
            lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lsock.bind(("127.0.0.1", 0))
        lsock.listen(128)
        return lsock

    def wait_ready(self, timeout=10):
        """Waits for READY=1 on the notify socket."""
        deadline = time.monotonic() + scaled(timeout)
        while not self.ready:
            if self.proc.poll() is not None:
                raise AssertionError("squalld exited with %s before READY=1:\n%s"
                                     % (self.proc.returncode, self.log_text()))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("squalld sent no READY=1 within %.1fs:\n%s"
                                     % (scaled(timeout), self.log_text()))
            r, _, _ = select.select([self.notify], [], [], min(0.1, remaining))
            if r and b"READY=1" in self.notify.recv(4096).split(b"\n"):
                self.ready = True
        return self

    def notified(self):
        """Datagrams that arrived on the notify socket and were not read."""
        out = []
        while select.select([self.notify], [], [], 0)[0]:
            out.append(self.notify.recv(4096))
        return out

    @property
    def pid(self):
        return self.proc.pid

    def send_signal(self, sig):
        os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout=10):
        """The exit status of squalld; fails if it is still running after
        timeout."""
        try:
            status = self.proc.wait(scaled(timeout))
            self.exit_observed = True
            return status
        except subprocess.TimeoutExpired:
            raise AssertionError("squalld still running %.1fs later:\n%s"
                                 % (scaled(timeout), self.log_tail())) from None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        self.send_signal(sig)
        return self.wait_exit(timeout)

    def cleanup(self):
        """Kills whatever is left of the process group and closes up."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if self.notify is not None:
            self.notify.close()

    # talking to it ----------------------------------------------------------

    def connect(self, timeout=5, **kw):
        return Conn(self.address, timeout=timeout, **kw)

    def request(self, method, target, timeout=5, **kw):
        """One request on a fresh connection (Connection: close)."""
        kw.setdefault("close", True)
        with self.connect(timeout) as c:
            return c.request(method, target, **kw)

    def get(self, target, **kw):
        return self.request("GET", target, **kw)

    def children(self):
        """Pids of the master's children: the workers and the hub."""
        with open("/proc/%d/task/%d/children" % (self.pid, self.pid)) as f:
            return [int(p) for p in f.read().split()]

    def hub_pid(self):
        """The hub's pid (its name is "squalld: hub"), or None."""
        for pid in self.children():
            try:
                with open("/proc/%d/comm" % pid) as f:
                    if f.read().strip() == "squalld: hub":
                        return pid
            except OSError:
                pass
        return None

    def worker_processes(self):
        """Pids of the workers running now (the children but the hub)."""
        hub = self.hub_pid()
        return [p for p in self.children() if p != hub]

    def worker_pid(self):
        """The pid of the worker that serves a fresh connection."""
        resp = self.get("/pid")
        if resp.status != 200:
            raise AssertionError("GET /pid: %r" % resp)
        return int(resp.body)

    def worker_pids(self, count, timeout=10):
        """Pids of `count` distinct workers, found by asking /pid."""
        seen = set()

        def enough():
            seen.add(self.worker_pid())
            return len(seen) >= count
        wait_for(enough, timeout, "%d distinct workers to answer /pid" % count,
                 interval=0)
        return seen

    # its log ----------------------------------------------------------------

    def log_text(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, lines=40):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_log(self, pattern, timeout=5, start=0):
        """The first match of regex pattern in squalld's stderr (from offset
        start), waiting for it to appear."""
        rx = re.compile(pattern, re.M)
        return wait_for(lambda: rx.search(self.log_text(), start), timeout,
                        "log line /%s/" % pattern)


# ---------------------------------------------------------------------------
# test cases

class SquallTestCase(unittest.TestCase):
    """Base class: scratch directory, servers stopped by cleanups, the log
    of each server printed when the test fails."""

    def setUp(self):
        for path in (SQUALLD, TESTMOD):
            if not os.access(path, os.R_OK):
                self.fail("%s is not built (run make check, or set SQUALLD "
                          "and SQUALL_TEST_MODULES)" % path)
        self._workdir = None

    @property
    def workdir(self):
        if self._workdir is None:
            self._workdir = tempfile.mkdtemp(prefix="squalltest-")
            if not os.environ.get("SQUALLTEST_KEEP"):
                self.addCleanup(shutil.rmtree, self._workdir, True)
        return self._workdir

    def path(self, name):
        return os.path.join(self.workdir, name)

    def _failed(self):
        outcome = getattr(self, "_outcome", None)
        return outcome is not None and not getattr(outcome, "success", True)

    @staticmethod
    def _final_stop(srv):
        """Stops srv gracefully (so that a sanitizer build checks the
        processes for leaks as they exit); what went wrong, or None."""
        if srv.proc is None:
            return None
        if srv.proc.poll() is not None:
            status = srv.proc.returncode
            if srv.exit_observed or srv.expected_exit in (None, status):
                return None
            return "squalld exited with status %d during the test" % status
        try:
            status = srv.stop(timeout=10)
        except AssertionError:
            return "squalld did not stop within %.0fs of SIGTERM" % scaled(10)
        if srv.expected_exit in (None, status):
            return None
        return ("squalld exited with status %d at its final stop (expected %d)"
                % (status, srv.expected_exit))

    def _finish_server(self, srv):
        problem = self._final_stop(srv)
        srv.cleanup()  # then nothing may be left
        if not os.path.exists(srv.stderr_path):
            if problem:
                self.fail(problem)
            return
        if self._failed() or problem:
            sys.stderr.write("\n--- squalld log of %s (%s) ---\n%s\n--- end ---\n"
                             % (self.id(), srv.config_path, srv.log_tail(60)))
        report = SANITIZER_REPORT.search(srv.log_text())
        if report:
            self.fail("sanitizer report in squalld's log:\n%s"
                      % srv.log_text()[report.start():][:6000])
        if problem:
            self.fail("%s; its log ends:\n%s" % (problem, srv.log_tail(20)))

    def squalld(self, config=None, activation=True, address=None, args=(),
                env=None, unix_path=None, **config_kw):
        """A Squalld (not started yet) whose cleanup is registered.
        config_kw go to make_config when config is None; env adds to
        squalld's environment."""
        if config is None:
            config = make_config(**config_kw)
        sub = tempfile.mkdtemp(prefix="srv-", dir=self.workdir)
        srv = Squalld(sub, config, activation=activation, address=address,
                      args=args, env=env, unix_path=unix_path)
        self.addCleanup(self._finish_server, srv)
        return srv

    def start_squalld(self, config=None, wait_ready=True, **kw):
        """Starts squalld and waits for READY=1."""
        return self.squalld(config, **kw).start(wait_ready)

    def run_squalld(self, args, timeout=10):
        """Runs squalld to completion (-t, -V): a CompletedProcess."""
        env = dict(os.environ, SQUALL_MODULE_DIR=MODULE_DIR)
        for key in ("LISTEN_FDS", "LISTEN_PID", "NOTIFY_SOCKET"):
            env.pop(key, None)
        return subprocess.run([SQUALLD] + list(args), env=env,
                              stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=scaled(timeout),
                              start_new_session=True)

    # assertions -------------------------------------------------------------

    def assertStatus(self, resp, status, body=None):
        self.assertEqual(resp.status, status, "unexpected response %r" % resp)
        if body is not None:
            self.assertEqual(resp.body, body if isinstance(body, bytes) else body.encode())


def main():
    unittest.main(verbosity=2)
