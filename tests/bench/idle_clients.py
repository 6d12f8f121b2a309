#!/usr/bin/python3
"""Idle keep-alive clients for tests/bench/idle_memory.sh.

Opens COUNT connections from one source address to HOST:PORT, at most
WINDOW of them in progress at a time; on each it sends one "GET /
HTTP/1.1" and reads the whole response (status 200, a Content-Length
body, no "Connection: close"). With --websocket PATH each connection
instead does the opening handshake of RFC 6455 for PATH (status 101 and
the Sec-WebSocket-Accept its key calls for), then sends one small masked
text message and reads its echo: one unmasked, unfragmented text frame
with the same payload and nothing after it. Once all are answered it prints
"ready COUNT" and then holds the sockets open, idle, until its standard
input reaches end of file (or a signal ends it), and exits 0. Any
connection that fails or is answered otherwise ends it with status 1 and
a message on stderr; so does not being done within --deadline seconds.

    /usr/bin/python3 idle_clients.py --port 8080 --source 127.0.0.2 \\
        --count 3750 </some/pipe
"""

import argparse
import base64
import errno
import hashlib
import os
import selectors
import socket
import sys
import time

# Linux <netinet/in.h>: bind() reserves no port, connect() picks one
# unique for the 4-tuple, so many destinations can share source ports.
IP_BIND_ADDRESS_NO_PORT = 24

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 1.3


class Conn:
    """One client connection and what it has read so far."""

    def __init__(self, sock):
        self.sock = sock
        self.state = "connecting"
        self.buf = b""
        self.need = None  # bytes of the whole response, once the head is in
        self.key = None  # Sec-WebSocket-Key, for --websocket
        self.echo = None  # the text frame expected back, for --websocket


def fail(msg):
    print(f"idle_clients: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def open_one(sel, args):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    except OSError:
        pass  # an older kernel: bind() reserves a port, still enough
    s.bind((args.source, 0))
    err = s.connect_ex((args.host, args.port))
    if err not in (0, errno.EINPROGRESS):
        fail(f"connect from {args.source}: {errno.errorcode.get(err, err)}")
    c = Conn(s)
    sel.register(s, selectors.EVENT_WRITE, c)
    return c


def ws_request(args, c):
    """The opening handshake of connection C, with a key of its own."""
    c.key = base64.b64encode(os.urandom(16))
    return (
        f"GET {args.websocket} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {c.key.decode()}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def ws_frame(payload):
    """One masked, final text frame (RFC 6455 5.2) of < 126 bytes."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes((0x81, 0x80 | len(payload))) + mask + masked


def parse_ws_head(c):
    """Returns True once the handshake response is complete and right."""
    end = c.buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    head = c.buf[:end].decode("latin-1").split("\r\n")
    if not head[0].startswith("HTTP/1.1 101 "):
        fail(f"answered the handshake with {head[0]!r}")
    want = base64.b64encode(hashlib.sha1(c.key + WS_GUID).digest()).decode()
    fields = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if fields.get("upgrade", "").lower() != "websocket":
        fail(f"101 with Upgrade {fields.get('upgrade')!r}")
    if fields.get("sec-websocket-accept") != want:
        fail(f"Sec-WebSocket-Accept {fields.get('sec-websocket-accept')!r}, not {want!r}")
    if len(c.buf) > end + 4:
        fail("the server sent data before the client's first message")
    c.buf = b""
    return True


def parse_head(c):
    """Sets c.need once the response head is complete; fails on a bad one."""
    end = c.buf.find(b"\r\n\r\n")
    if end < 0:
        return
    head = c.buf[:end].decode("latin-1").split("\r\n")
    if not head[0].startswith("HTTP/1.1 200 "):
        fail(f"answered {head[0]!r}")
    length = None
    for line in head[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value == "close":
            fail("the server closes the connection after the response")
    if length is None:
        fail("a response without Content-Length")
    c.need = end + 4 + length


def on_ready(sel, c, args, request):
    """Advances one connection; returns True when its response is complete."""
    if c.state == "connecting":
        err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            fail(f"connect: {errno.errorcode.get(err, err)}")
        if args.websocket:
            request = ws_request(args, c)
            c.state = "handshake"
        else:
            c.state = "reading"
        c.sock.send(request)  # a few hundred bytes: the empty buffer takes them
        sel.modify(c.sock, selectors.EVENT_READ, c)
        return False
    try:
        data = c.sock.recv(4096)
    except (BlockingIOError, InterruptedError):
        return False
    except OSError as e:
        fail(f"read: {e}")
    if not data:
        fail("the server closed the connection before the response ended")
    c.buf += data
    if c.state == "handshake":
        if not parse_ws_head(c):
            return False
        message = f"idle {args.source} {c.sock.getsockname()[1]}".encode()
        c.echo = bytes((0x81, len(message))) + message
        c.sock.send(ws_frame(message))
        c.state = "reading"
        c.need = len(c.echo)
        return False
    if c.need is None:
        parse_head(c)
    if c.need is None or len(c.buf) < c.need:
        return False
    if len(c.buf) > c.need:
        fail("more bytes than one response")
    if c.echo is not None and c.buf != c.echo:
        fail(f"echoed {c.buf!r}, not {c.echo!r}")
    sel.unregister(c.sock)
    c.buf = b""
    return True


def open_all(args):
    request = f"GET / HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    conns, answered = [], 0
    deadline = time.monotonic() + args.deadline
    while answered < args.count:
        while len(conns) < args.count and len(conns) - answered < args.window:
            conns.append(open_one(sel, args))
        left = deadline - time.monotonic()
        if left <= 0:
            fail(f"{answered} of {args.count} answered after {args.deadline} s")
        for key, _ in sel.select(min(left, 1.0)):
            if on_ready(sel, key.data, args, request):
                answered += 1
    sel.close()
    return conns


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--source", default="127.0.0.2")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--window", type=int, default=32)
    p.add_argument("--deadline", type=float, default=120)
    p.add_argument(
        "--websocket",
        metavar="PATH",
        help="open WebSockets to PATH, each echoing one message",
    )
    args = p.parse_args()
    conns = open_all(args)
    print(f"ready {len(conns)}", flush=True)
    sys.stdin.buffer.read()  # idle: blocks until the script lets go
    for c in conns:
        c.sock.close()


if __name__ == "__main__":
    main()
