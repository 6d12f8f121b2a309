#!/usr/bin/python3
"""Trusted proxies (server.trusted_proxies): from a trusted peer, X-Real-IP,
X-Forwarded-For (the rightmost address that is not a trusted proxy) and
X-Forwarded-Proto say who the client is and how it came; from anyone else
they are ignored. GET /client (testmod) answers "ADDRESS SCHEME" as
handlers see them (sq_remote_addr, sq_scheme).

Untrusted peers are made by connecting from 127.0.0.2 while only
127.0.0.1 is trusted (the loopback answers all of 127/8)."""

import os
import shutil
import socket
import subprocess
import unittest

import squalltest
from squalltest import build_request, free_port, make_config, wait_for

CURL = shutil.which("curl")

TRUSTED = ("127.0.0.1", 0)
UNTRUSTED = ("127.0.0.2", 0)

SPOOF = [("X-Forwarded-For", "6.6.6.6"), ("X-Real-IP", "7.7.7.7"),
         ("X-Forwarded-Proto", "https")]


def config(trusted, **kw):
    cfg = make_config(workers=1, **kw)
    if trusted is not None:
        cfg["server"]["trusted_proxies"] = list(trusted)
    return cfg


class ProxiesTest(squalltest.SquallTestCase):

    def client(self, srv, headers=(), source=TRUSTED, address=None):
        """(address, scheme) that /client answers for a request with
        headers, sent from source."""
        with squalltest.Conn(address or srv.address, timeout=5,
                             source=source) as c:
            resp = c.request("GET", "/client", headers=list(headers),
                             close=True)
        self.assertStatus(resp, 200)
        addr, scheme = resp.text.split(" ")
        return addr, scheme

    # -- who is believed -----------------------------------------------------

    def test_untrusted_peer_headers_ignored(self):
        srv = self.start_squalld(config(["127.0.0.1/32"]))
        self.assertEqual(self.client(srv, SPOOF, source=UNTRUSTED),
                         ("127.0.0.2", "http"))
        # X-Scheme too, and X-Forwarded-For alone
        self.assertEqual(self.client(srv, [("X-Scheme", "https"),
                                           ("X-Forwarded-For", "6.6.6.6")],
                                     source=UNTRUSTED),
                         ("127.0.0.2", "http"))

    def test_nobody_trusted_by_default(self):
        srv = self.start_squalld(config(None))
        self.assertEqual(self.client(srv, SPOOF), ("127.0.0.1", "http"))

    def test_trusted_peer_headers_used(self):
        srv = self.start_squalld(config(["127.0.0.1/32"]))
        # X-Real-IP first (as Tornado's xheaders)
        self.assertEqual(self.client(srv, SPOOF), ("7.7.7.7", "https"))
        # then X-Forwarded-For
        self.assertEqual(self.client(srv, [("X-Forwarded-For", "203.0.113.9")]),
                         ("203.0.113.9", "http"))
        self.assertEqual(self.client(srv, [("X-Scheme", "https")]),
                         ("127.0.0.1", "https"))
        # an X-Real-IP that is no address does not count
        self.assertEqual(self.client(srv, [("X-Real-IP", "unknown"),
                                           ("X-Forwarded-For", "203.0.113.9")]),
                         ("203.0.113.9", "http"))
        # with no headers, the peer
        self.assertEqual(self.client(srv), ("127.0.0.1", "http"))

    def test_rightmost_untrusted_address(self):
        srv = self.start_squalld(config(["127.0.0.1", "10.0.0.0/8"]))
        # a client's spoofed entries stay left of what the proxies append
        self.assertEqual(self.client(srv, [
            ("X-Forwarded-For", "6.6.6.6, 203.0.113.7, 10.1.1.1, 10.2.2.2")]),
            ("203.0.113.7", "http"))
        # over several headers, the last one first
        self.assertEqual(self.client(srv, [
            ("X-Forwarded-For", "6.6.6.6, 203.0.113.7"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-For", "10.1.1.1"),
            ("X-Forwarded-For", "10.2.2.2, 127.0.0.1")]),
            ("203.0.113.7", "https"))
        # every entry a trusted proxy: the leftmost
        self.assertEqual(self.client(srv, [
            ("X-Forwarded-For", "10.9.9.9, 10.1.1.1"),
            ("X-Forwarded-For", "127.0.0.1")]),
            ("10.9.9.9", "http"))
        # IPv6 entries, in canonical form
        self.assertEqual(self.client(srv, [
            ("X-Forwarded-For", "2001:DB8:0::7, 10.1.1.1")]),
            ("2001:db8::7", "http"))

    def test_garbage_entries(self):
        srv = self.start_squalld(config(["127.0.0.1", "10.0.0.0/8"]))
        # garbage on the right: the peer stays
        self.assertEqual(self.client(srv, [
            ("X-Forwarded-For", "203.0.113.7, not-an-address")]),
            ("127.0.0.1", "http"))
        # garbage behind a trusted hop: the walk stops at the last good one
        self.assertEqual(self.client(srv, [
            ("X-Forwarded-For", "203.0.113.7, 1.2.3.4:80, 10.0.0.2")]),
            ("10.0.0.2", "http"))
        for junk in ("[::1]", "fe80::1%eth0", "999.1.1.1", "x" * 5000,
                     "1.2.3.4 5.6.7.8", ""):
            self.assertEqual(self.client(srv, [("X-Forwarded-For", junk),
                                               ("X-Forwarded-Proto", junk)]),
                             ("127.0.0.1", "http"), junk[:40])
        self.assertEqual(self.client(srv, [("X-Forwarded-Proto", "ftp")]),
                         ("127.0.0.1", "http"))
        self.assertEqual(self.client(srv, [("X-Forwarded-Proto", "http")]),
                         ("127.0.0.1", "http"))

    @unittest.skipUnless(squalltest.ipv6_loopback_available(), "no IPv6 loopback")
    def test_ipv6_peer_and_cidr(self):
        port = free_port("::1", socket.AF_INET6)
        srv = self.start_squalld(config(["::/127"], listen="[::1]:%d" % port),
                                 activation=False, address=("::1", port))
        self.assertEqual(self.client(srv, [("X-Forwarded-For", "203.0.113.4"),
                                           ("X-Forwarded-Proto", "https")],
                                     source=("::1", 0)),
                         ("203.0.113.4", "https"))
        # a CIDR that leaves ::1 out
        port = free_port("::1", socket.AF_INET6)
        srv = self.start_squalld(config(["::2/127", "127.0.0.1"],
                                        listen="[::1]:%d" % port),
                                 activation=False, address=("::1", port))
        self.assertEqual(self.client(srv, [("X-Forwarded-For", "203.0.113.4"),
                                           ("X-Forwarded-Proto", "https")],
                                     source=("::1", 0)),
                         ("::1", "http"))

    # -- unix sockets --------------------------------------------------------

    def curl_unix(self, srv, *headers):
        out = subprocess.run(
            [CURL, "-sS", "--max-time", str(squalltest.scaled(10)),
             "--unix-socket", srv.unix_path, "http://localhost/client"]
            + [a for h in headers for a in ("-H", h)],
            capture_output=True, text=True, check=True)
        return out.stdout

    @unittest.skipUnless(CURL, "curl is not installed")
    def test_unix_socket_peer(self):
        headers = ("X-Forwarded-For: 198.51.100.3", "X-Forwarded-Proto: https")
        srv = self.start_squalld(config(["unix"]),
                                 unix_path=self.path("trusted.sock"))
        self.assertEqual(self.curl_unix(srv, *headers), "198.51.100.3 https")
        # `unix` not listed: a unix peer is not trusted
        srv = self.start_squalld(config(["127.0.0.1"]),
                                 unix_path=self.path("untrusted.sock"))
        self.assertEqual(self.curl_unix(srv, *headers), "unix http")

    # -- what follows from the client address --------------------------------

    def test_access_log_shows_the_client(self):
        access = self.path("access.log")
        srv = self.start_squalld(config(["127.0.0.1"], log={"access": access}))
        self.client(srv, [("X-Forwarded-For", "203.0.113.50")])
        self.client(srv, [("X-Forwarded-For", "203.0.113.51")],
                    source=UNTRUSTED)

        def lines():
            try:
                with open(access) as f:
                    got = f.read().splitlines()
            except FileNotFoundError:
                return None
            return got if len(got) >= 2 else None
        got = wait_for(lines, 5, "2 access log lines")
        self.assertTrue(got[0].startswith("203.0.113.50 - - ["), got[0])
        self.assertTrue(got[1].startswith("127.0.0.2 - - ["), got[1])

    def test_connection_log_lines_keep_the_peer(self):
        """A line about the connection (here a request that cannot be
        parsed, after one that named a client) shows the proxy."""
        srv = self.start_squalld(config(["127.0.0.1"]))
        with squalltest.Conn(srv.address, source=TRUSTED) as c:
            resp = c.request("GET", "/client", headers=[
                ("X-Forwarded-For", "203.0.113.60")])
            self.assertStatus(resp, 200, "203.0.113.60 http")
            c.send(b"GET /client HTTP/1.1\r\nHost: t\r\nBad Header: v\r\n\r\n")
            self.assertStatus(c.read_response(), 400)
        srv.wait_log(r"127\.0\.0\.1: bad request, answering 400")
        self.assertNotIn("203.0.113.60: bad request", srv.log_text())

    # -- the WebSocket origin check ------------------------------------------

    def ws_status(self, srv, origin, headers=(), source=TRUSTED):
        head = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Version", "13"), ("Origin", origin)]
        with squalltest.Conn(srv.address, timeout=5, source=source) as c:
            c.send(build_request("GET", "/ws/echo", host="app.example",
                                 headers=head + list(headers)))
            return c.read_response().status

    def test_websocket_origin_follows_the_scheme(self):
        cfg = config(["127.0.0.1"], routes=[
            {"path": "/ws/echo", "websocket": "echo:echo"}])
        cfg["modules"]["echo"] = {"path": "echo.so"}
        srv = self.start_squalld(cfg)
        https = [("X-Forwarded-Proto", "https")]
        # behind a TLS proxy: the https page is the same origin
        self.assertEqual(self.ws_status(srv, "https://app.example", https), 101)
        # an http page may not open the https side
        self.assertEqual(self.ws_status(srv, "http://app.example", https), 403)
        srv.wait_log(r"WebSocket Origin 'http://app\.example' not allowed")
        # another host, whatever the scheme
        self.assertEqual(self.ws_status(srv, "https://evil.example", https), 403)
        # on plain http both are let in (Tornado compares the host only)
        self.assertEqual(self.ws_status(srv, "http://app.example"), 101)
        self.assertEqual(self.ws_status(srv, "https://app.example"), 101)
        # an untrusted peer's X-Forwarded-Proto changes nothing
        self.assertEqual(self.ws_status(srv, "http://app.example", https,
                                        source=UNTRUSTED), 101)


if __name__ == "__main__":
    squalltest.main()
