#!/usr/bin/python3
"""Request parsing seen from a raw client: the cases that public request
corpora (gunicorn's tests/requests, llhttp's strict request tests) caught,
and the input handling of query arguments. Each refused request is sent
with a follow-up request behind it that must never be answered: after a
framing error the stream cannot be trusted, so squalld closes."""

import squalltest

# Sent after a refused request: it must never be answered.
FOLLOW_UP = b"GET /pid HTTP/1.1\r\nHost: test\r\n\r\n"

# name -> (request bytes, expected status)
REFUSED = {
    # RFC 9112 2.2: a bare CR is invalid, not a line end that eats a byte
    "bare_cr_before_a_line": (
        b"GET /pid HTTP/1.1\r\nHost: a\r\n\rXGET /pid HTTP/1.1\r\n"
        b"Host: a\r\n\r\n", 400),
    "bare_cr_hiding_content_length": (
        b"POST /body HTTP/1.1\r\nHost: a\r\nx:\rContent-Length: 5\r\n\r\n"
        b"hello", 400),
    # RFC 9112 7.1: chunk data ends with CRLF, not any two bytes
    "chunk_data_without_crlf": (
        b"POST /body HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked"
        b"\r\n\r\n5\r\nhelloXY0\r\n\r\n", 400),
    "bare_cr_in_chunk_size_line": (
        b"POST /body HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked"
        b"\r\n\r\n5\rXhello\r\n0\r\n\r\n", 400),
    # RFC 9112 5.2: obs-fold, also after an empty first value
    "obs_fold_content_length_after_empty_value": (
        b"POST /body HTTP/1.1\r\nHost: test\r\nContent-Length:\r\n 5\r\n\r\n"
        b"hello", 400),
    "obs_fold_transfer_encoding_after_empty_value": (
        b"POST /body HTTP/1.1\r\nHost: test\r\nTransfer-Encoding:\r\n chunked"
        b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
    # RFC 9110 4.2.4: userinfo in the target
    "userinfo_in_absolute_target": (
        b"GET http://user@test/pid HTTP/1.1\r\nHost: test\r\n\r\n", 400),
    # RFC 9110 9.1: unknown method token 501, not a token 400
    "unknown_method": (b"FOO /pid HTTP/1.1\r\nHost: test\r\n\r\n", 501),
    "lowercase_method": (b"get /pid HTTP/1.1\r\nHost: test\r\n\r\n", 501),
    "method_not_a_token": (b"GE(T /pid HTTP/1.1\r\nHost: test\r\n\r\n", 400),
    # RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 is faulty framing
    "http10_transfer_encoding": (
        b"POST /body HTTP/1.0\r\nConnection: keep-alive\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
}


class ParsingTest(squalltest.SquallTestCase):

    def setUp(self):
        super().setUp()
        self.srv = self.start_squalld(workers=1)

    def assertErrorThenClose(self, conn, status):
        self.assertStatus(conn.read_response(), status)
        conn.assert_closed()

    def check_refused(self, request, status):
        with self.srv.connect() as c:
            c.send(request + FOLLOW_UP)
            self.assertErrorThenClose(c, status)

    # Connection (RFC 9112 9.6) -------------------------------------------

    def check_closes_after(self, connection):
        """One response with Connection: close, then the connection ends;
        the pipelined request behind it is not served."""
        with self.srv.connect() as c:
            c.send(b"GET /pid HTTP/1.1\r\nHost: test\r\nConnection: "
                   + connection + b"\r\n\r\n" + FOLLOW_UP)
            resp = c.read_response()
            self.assertStatus(resp, 200)
            self.assertIn("close", resp.tokens("Connection"))
            c.assert_closed()

    def test_connection_close_followed_by_tab(self):
        self.check_closes_after(b"close\t")

    def test_connection_close_in_a_list(self):
        self.check_closes_after(b"keep-alive, close")

    def test_connection_close_among_other_tokens(self):
        self.check_closes_after(b"te ,\tCLOSE ")

    def test_http10_keep_alive_with_whitespace(self):
        req = b"GET /pid HTTP/1.0\r\nConnection: keep-alive\t\r\n\r\n"
        with self.srv.connect() as c:
            c.send(req)
            first = c.read_response()
            self.assertStatus(first, 200)
            self.assertIn("keep-alive", first.tokens("Connection"))
            c.send(req)
            self.assertStatus(c.read_response(), 200, first.body)

    # query arguments -----------------------------------------------------

    def test_query_arg_with_nul_is_skipped(self):
        # the router refuses %00 in path parameters; query arguments agree
        resp = self.srv.request("GET", "/args/1?q=admin%00.evil")
        self.assertStatus(resp, 200, "id=1\nq=\n")
        resp = self.srv.request("GET", "/args/1?q=admin%00.evil&q=ok")
        self.assertStatus(resp, 200, "id=1\nq=ok\n")

    def test_path_param_with_nul_is_refused(self):
        # what the query arguments now agree with
        self.assertStatus(self.srv.request("GET", "/args/a%00b"), 404)

    def test_at_sign_in_path_is_fine(self):
        resp = self.srv.request("GET", "http://test/args/a@b?q=c@d")
        self.assertStatus(resp, 200, "id=a@b\nq=c@d\n")


def _refused_test(request, status):
    def test(self):
        self.check_refused(request, status)
    return test


for _name, (_request, _status) in REFUSED.items():
    setattr(ParsingTest, "test_refused_%s_%d" % (_name, _status),
            _refused_test(_request, _status))


if __name__ == "__main__":
    squalltest.main()
