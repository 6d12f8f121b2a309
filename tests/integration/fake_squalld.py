#!/usr/bin/python3
"""fake_squalld.py - a stand-in for squalld that answers with canned bytes.

tests/unit/test_testclient.c runs it as $SQUALLD to exercise the server
side of the test client library (lib/testserver.c: socket activation,
readiness, exit status, the log) and sq_test_fetch() (lib/testfetch.c) on
responses, valid and malformed, that the real squalld never sends.

It starts the way sq_test_start() starts squalld: the arguments (-c FILE)
are ignored, the listening socket is fd 3 (LISTEN_FDS=1, LISTEN_PID), and
readiness is "READY=1" sent to $NOTIFY_SOCKET. Connections are served one
at a time: the request head is read (and a Content-Length body), and the
request path picks the answer (see answer()), sent as is. Then the fake
closes its side (unless the request said "Connection: keep-alive") and
waits for the client to close. SIGTERM exits 0, or with the status a line
"exit_status: N" in the config file asks for; "fake_squalld: ready" goes
to stderr (the log) at start.

Stdlib only.
"""

import os
import re
import signal
import socket
import sys
import threading

LISTEN_FD = 3


def big_body():
    """1 MiB, the same bytes as big_body() in test_testclient.c."""
    return bytes((i * 7 + i // 251) & 0xFF for i in range(1 << 20))


def chunked(body, sizes):
    """body in chunks of the given sizes, cycled, sizes in mixed hex case."""
    out = []
    pos = 0
    n = 0
    while pos < len(body):
        size = min(sizes[n % len(sizes)], len(body) - pos)
        digits = "%x" % size if n % 2 else "%X" % size
        out.append(digits.encode() + b"\r\n" + body[pos:pos + size] + b"\r\n")
        pos += size
        n += 1
    out.append(b"0\r\n\r\n")
    return b"".join(out)


RESPONSES = {
    # chunk extensions (with BWS and a quoted value), hex sizes in both
    # cases and a trailer section that the client keeps with the headers
    "/chunked": (
        b"HTTP/1.1 200 OK\r\n"
        b"Transfer-Encoding: chunked\r\n"
        b"X-Before: 1\r\n"
        b"\r\n"
        b"5;name=value\r\n"
        b"Hello\r\n"
        b"7 ; ext\r\n"
        b", world\r\n"
        b"A;q=\"a;b\"\r\n"
        b"! It works\r\n"
        b"0;last\r\n"
        b"X-Trailer: yes\r\n"
        b"X-Spaced: \t padded \t\r\n"
        b"\r\n"),
    # HTTP/1.0 style: no length, the body ends when the connection does
    "/close": (
        b"HTTP/1.0 200 OK\r\n"
        b"Content-Type: text/plain\r\n"
        b"\r\n"
        b"until the close\r\n\r\nincluding CRLFs"),
    # for HEAD: the length of the body a GET would get, and no body
    "/head-length": (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Length: 1234\r\n"
        b"\r\n"),
    # for HEAD too, but wrongly with the body
    "/head-body": (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Length: 4\r\n"
        b"\r\n"
        b"body"),
    # no body after a 204 (and no reason phrase) or a 304 (whose length is
    # that of the body a 200 would have)
    "/no-content": (
        b"HTTP/1.1 204\r\n"
        b"X-After: 204\r\n"
        b"\r\n"),
    "/not-modified": (
        b"HTTP/1.1 304 Not Modified\r\n"
        b"Content-Length: 1234\r\n"
        b"\r\n"),
    # interim responses (with a field of their own) before the final one
    "/continue": (
        b"HTTP/1.1 100 Continue\r\n"
        b"\r\n"
        b"HTTP/1.1 103 Early Hints\r\n"
        b"Link: </style.css>; rel=preload\r\n"
        b"\r\n"
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Length: 2\r\n"
        b"\r\n"
        b"ok"),
    "/bare-lf": (
        b"HTTP/1.1 200 OK\n"
        b"Content-Length: 2\r\n"
        b"\r\n"
        b"ok"),
    "/two-lengths": (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Length: 2\r\n"
        b"Content-Length: 3\r\n"
        b"\r\n"
        b"okk"),
    "/fold": (
        b"HTTP/1.1 200 OK\r\n"
        b"X-Folded: one\r\n"
        b" two\r\n"
        b"Content-Length: 2\r\n"
        b"\r\n"
        b"ok"),
    # 5 bytes more than the Content-Length, on a Connection: close request
    "/extra": (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Length: 2\r\n"
        b"\r\n"
        b"okEXTRA"),
    "/truncated": (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Length: 100\r\n"
        b"\r\n"
        b"0123456789"),
    "/bad-chunk": (
        b"HTTP/1.1 200 OK\r\n"
        b"Transfer-Encoding: chunked\r\n"
        b"\r\n"
        b"1g\r\n"
        b"x\r\n"
        b"0\r\n"
        b"\r\n"),
    # 2^64 - 1: too large for any size type
    "/huge-chunk": (
        b"HTTP/1.1 200 OK\r\n"
        b"Transfer-Encoding: chunked\r\n"
        b"\r\n"
        b"FFFFFFFFFFFFFFFF\r\n"
        b"x\r\n"
        b"0\r\n"
        b"\r\n"),
}


def read_request(conn):
    """The request head (through CRLFCRLF) and its Content-Length body;
    None when the client closes first."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(65536)
        if not more:
            return None, b""
        data += more
    end = data.index(b"\r\n\r\n") + 4
    head, body = data[:end], data[end:]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        more = conn.recv(65536)
        if not more:
            break
        body += more
    return head, body


def keep_alive(head):
    return head is not None and any(
        line.lower() == b"connection: keep-alive"
        for line in head.split(b"\r\n"))


def answer(head, body):
    """The bytes to send for a request, or None for no answer."""
    target = head.split(b"\r\n", 1)[0].split(b" ")
    path = target[1].decode("latin-1") if len(target) > 1 else ""
    if path == "/slow":
        return None
    if path == "/echo-head":
        return (b"HTTP/1.1 200 OK\r\n"
                b"Content-Length: %d\r\n"
                b"X-Body-Length: %d\r\n"
                b"\r\n" % (len(head), len(body)) + head)
    if path == "/chunked-big":
        return (b"HTTP/1.1 200 OK\r\n"
                b"Transfer-Encoding: chunked\r\n"
                b"\r\n" +
                chunked(big_body(), [1, 4093, 17, 65521, 333, 70001, 2]))
    if path in RESPONSES:
        return RESPONSES[path]
    return (b"HTTP/1.1 404 Not Found\r\n"
            b"Content-Length: 10\r\n"
            b"\r\n"
            b"not found\n")


def serve(listener):
    stalled = []  # /slow connections, kept open and never answered
    while True:
        conn, _ = listener.accept()
        try:
            conn.settimeout(5)
            head, body = read_request(conn)
            reply = answer(head, body) if head is not None else b""
            if reply is None:
                stalled.append(conn)
                conn = None
                continue
            conn.sendall(reply)
            # Our FIN, then wait for the client's: closing with unread
            # input would send a reset instead. On "Connection: keep-alive"
            # the client must see the end of the response without our FIN.
            if not keep_alive(head):
                conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
        except OSError as e:
            print("fake_squalld: %s" % e, file=sys.stderr, flush=True)
        finally:
            if conn is not None:
                conn.close()


def exit_status():
    """The status to exit with on SIGTERM: "exit_status: N" in -c FILE."""
    args = sys.argv[1:]
    if "-c" not in args or args.index("-c") + 1 >= len(args):
        return 0
    try:
        with open(args[args.index("-c") + 1]) as f:
            m = re.search(r"^exit_status: *(\d+)", f.read(), re.M)
    except OSError:
        return 0
    return int(m.group(1)) if m else 0


def main():
    status = exit_status()
    if (os.environ.get("LISTEN_FDS") != "1"
            or os.environ.get("LISTEN_PID") != str(os.getpid())):
        sys.exit("fake_squalld: LISTEN_FDS=%s LISTEN_PID=%s (pid %d)" %
                 (os.environ.get("LISTEN_FDS"), os.environ.get("LISTEN_PID"),
                  os.getpid()))
    listener = socket.socket(fileno=LISTEN_FD)

    # SIGTERM stays blocked (in the server thread too, which inherits the
    # mask) and is taken by sigwait(): a Python handler would only run
    # once a blocking accept() or recv() returned, and a SIGTERM arriving
    # just before one would then be missed until the next connection.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    threading.Thread(target=serve, args=(listener,), daemon=True).start()

    notify = os.environ.get("NOTIFY_SOCKET", "")
    if notify.startswith("@"):
        notify = "\0" + notify[1:]
    if notify:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(b"READY=1", notify)
    print("fake_squalld: ready", file=sys.stderr, flush=True)

    signal.sigwait({signal.SIGTERM})
    listener.close()
    os._exit(status)  # not sys.exit(): the server thread may be in accept()


if __name__ == "__main__":
    main()
