#!/usr/bin/python3
"""Cookies, signed cookies, the current user, XSRF, form bodies and
`auth: login` on a real squalld (2 workers, tests/modules/secmod.c), with
Debian's python3-tornado as the other side: values and tokens made by
Tornado are accepted by squall and the other way round."""

import http.cookies
import os
import subprocess
import time
import urllib.parse

import tornado.web

from squalltest import (DEFAULT_ROUTES, TEST_MODULES, SquallTestCase, main,
                        make_config)

SECRET = "squall-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
SECRET2 = "another-test-secret-9876543210-ZYXWVUTSRQPONMLKJIHGFEDCBA"

def sec_routes(extra=()):
    names = ["cookie", "setcookie", "clearcookie", "setsigned", "getsigned",
             "user", "xsrf", "xsrfform", "form", "ok", "scheme"]
    routes = [{"path": "/sec/" + n, "handler": "secmod:" + n} for n in names]
    return list(extra) + routes


def write_secret(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text + "\n")  # the trailing newline is not part of it
    os.chmod(path, mode)
    return path


def cookie_header(resp, name):
    """The Set-Cookie of name in resp, or None."""
    found = [v for v in resp.header_all("Set-Cookie") if v.startswith(name + "=")]
    return found[-1] if found else None


def cookie_value(resp, name):
    """The value Set-Cookie gives name (unquoted as a browser reads it)."""
    h = cookie_header(resp, name)
    if h is None:
        return None
    jar = http.cookies.SimpleCookie()
    jar.load(h)
    return jar[name].value


def attrs(set_cookie):
    """The attributes of a Set-Cookie value: {lowercase name: value}."""
    out = {}
    for part in set_cookie.split(";")[1:]:
        k, _, v = part.strip().partition("=")
        out[k.lower()] = v
    return out


class SecurityBase(SquallTestCase):
    xsrf = False
    extra_routes = ()
    security = None

    def setUp(self):
        super().setUp()
        self.secret_path = write_secret(self.path("cookie_secret"), SECRET)
        self.srv = self.start_squalld(self.config())

    def config(self, security=None, routes=None):
        cfg = make_config(workers=2, routes=DEFAULT_ROUTES + (
            routes if routes is not None else sec_routes(self.extra_routes)))
        cfg["modules"]["secmod"] = {"path": os.path.join(TEST_MODULES, "secmod.so")}
        sec = {"cookie_secret_file": self.secret_path,
               "xsrf_cookies": self.xsrf}
        sec.update(security or self.security or {})
        cfg["security"] = sec
        return cfg

    def get(self, target, cookies=None, headers=()):
        hdrs = list(headers)
        if cookies:
            hdrs.append(("Cookie", "; ".join("%s=%s" % kv for kv in cookies.items())))
        return self.srv.request("GET", target, headers=hdrs)

    def post(self, target, body=b"", ctype="application/x-www-form-urlencoded",
             cookies=None, headers=(), method="POST"):
        hdrs = list(headers)
        if ctype:
            hdrs.append(("Content-Type", ctype))
        if cookies:
            hdrs.append(("Cookie", "; ".join("%s=%s" % kv for kv in cookies.items())))
        return self.srv.request(method, target, headers=hdrs, body=body)

    def signed_user(self, value, secret=SECRET, name="user", **kw):
        return tornado.web.create_signed_value(secret, name, value, **kw).decode()


# ---------------------------------------------------------------------------

class CookieTest(SecurityBase):

    def test_cookie_read_from_several_headers_last_wins_and_quoted(self):
        resp = self.srv.request("GET", "/sec/cookie?name=a", headers=[
            ("Cookie", "a=1; b=2"), ("Cookie", 'c=3; a="x\\"y\\073z"')])
        self.assertStatus(resp, 200, b'x"y;z')
        self.assertStatus(self.get("/sec/cookie?name=b",
                                   headers=[("Cookie", "b=2")]), 200, b"2")
        self.assertStatus(self.get("/sec/cookie?name=zz",
                                   headers=[("Cookie", "a=1")]), 404)
        self.assertStatus(self.get("/sec/cookie?name=a"), 404)

    def test_set_cookie_with_every_attribute_as_tornado_writes_it(self):
        q = urllib.parse.urlencode({
            "name": "pref", "value": "dark;mode", "domain": "example.com",
            "path": "/app", "samesite": "Lax", "expires": "1700000000",
            "max_age": "3600", "httponly": "1", "secure": "1"})
        resp = self.get("/sec/setcookie?" + q)
        self.assertStatus(resp, 200)
        # Python's Morsel (what Tornado uses) for the same cookie
        m = http.cookies.SimpleCookie()
        m["pref"] = "dark;mode"  # quoted, as Morsel quotes it
        m["pref"]["domain"] = "example.com"
        m["pref"]["path"] = "/app"
        m["pref"]["samesite"] = "Lax"
        m["pref"]["expires"] = "Tue, 14 Nov 2023 22:13:20 GMT"
        m["pref"]["max-age"] = 3600
        m["pref"]["httponly"] = True
        m["pref"]["secure"] = True
        self.assertEqual(cookie_header(resp, "pref"), m["pref"].OutputString())

    def test_default_path_and_no_secure_over_http(self):
        resp = self.get("/sec/setcookie?name=a&value=1")
        h = cookie_header(resp, "a")
        self.assertEqual(h, "a=1; Path=/")
        resp = self.get("/sec/setcookie?name=a&value=1&secure=-1")
        self.assertNotIn("secure", attrs(cookie_header(resp, "a")))

    def test_setting_a_cookie_twice_keeps_the_last(self):
        resp = self.get("/sec/setcookie?name=a&value=1&twice=2")
        self.assertEqual([h for h in resp.header_all("Set-Cookie")], ["a=2; Path=/"])

    def test_bad_name_refused_with_a_clear_error(self):
        for name in ["a b", "a;b", "a=b", "", "a\tb"]:
            with self.subTest(name=name):
                start = len(self.srv.log_text())
                resp = self.get("/sec/setcookie?" + urllib.parse.urlencode(
                    {"name": name, "value": "v"}))
                self.assertStatus(resp, 500)
                self.assertIsNone(resp.header("Set-Cookie"))
                self.srv.wait_log(r"sq_set_cookie: .*name", start=start)

    def test_bad_value_refused_with_a_clear_error(self):
        # Tornado refuses spaces and control bytes; ';' and ',' are quoted
        for value in ["a b", "a\x01b", "a\tb"]:
            with self.subTest(value=value):
                start = len(self.srv.log_text())
                resp = self.get("/sec/setcookie?" + urllib.parse.urlencode(
                    {"name": "n", "value": value}))
                self.assertStatus(resp, 500)
                self.assertIsNone(resp.header("Set-Cookie"))
                self.srv.wait_log(r"sq_set_cookie: .*value", start=start)

    def test_bad_attribute_refused(self):
        resp = self.get("/sec/setcookie?" + urllib.parse.urlencode(
            {"name": "n", "value": "v", "path": "/a;b"}))
        self.assertStatus(resp, 500)

    def test_clear_cookie_expires_it_in_the_past(self):
        resp = self.get("/sec/clearcookie?name=user&path=/app")
        h = cookie_header(resp, "user")
        self.assertTrue(h.startswith('user=""') or h.startswith("user=;"), h)
        a = attrs(h)
        self.assertEqual(a["path"], "/app")
        t = time.mktime(time.strptime(a["expires"], "%a, %d %b %Y %H:%M:%S GMT"))
        self.assertLess(t, time.time() - 300 * 86400)


# ---------------------------------------------------------------------------

class SignedCookieTest(SecurityBase):

    def test_squall_signs_and_tornado_reads(self):
        resp = self.get("/sec/setsigned?name=session&value=alice%7C42")
        self.assertStatus(resp, 200)
        value = cookie_value(resp, "session")
        self.assertTrue(value.startswith("2|1:0|10:"), value)
        self.assertEqual(tornado.web.decode_signed_value(
            SECRET, "session", value), b"alice|42")
        # Tornado's default 30 days, HttpOnly is the module's choice
        exp = attrs(cookie_header(resp, "session"))["expires"]
        t = time.mktime(time.strptime(exp, "%a, %d %b %Y %H:%M:%S GMT")) - time.timezone
        self.assertAlmostEqual(t, time.time() + 30 * 86400, delta=600)

    def test_session_signed_cookie_has_no_expiry(self):
        resp = self.get("/sec/setsigned?name=s&value=v&expires=-1")
        self.assertNotIn("expires", attrs(cookie_header(resp, "s")))

    def test_tornado_signs_version_2_and_squall_reads(self):
        v = self.signed_user("bob", version=2)
        self.assertStatus(self.get("/sec/getsigned?name=user", {"user": v}), 200, b"bob")
        self.assertStatus(self.get("/sec/user", {"user": v}), 200, b"bob")

    def test_tornado_signs_version_1_and_squall_reads(self):
        v = self.signed_user("carol", version=1)
        self.assertTrue(v.startswith("Y2Fyb2w=|"), v)
        self.assertStatus(self.get("/sec/getsigned?name=user", {"user": v}), 200, b"carol")

    def test_binary_and_long_values_round_trip_with_tornado(self):
        value = "x" * 2000 + "\u00e9\u6f22"
        v = self.signed_user(value)
        resp = self.get("/sec/getsigned?name=user", {"user": v})
        self.assertStatus(resp, 200, value.encode())

    def refused(self, value, name="user"):
        start = len(self.srv.log_text())
        resp = self.get("/sec/getsigned?name=" + name, {name: value})
        self.assertStatus(resp, 404, b"none")
        self.assertStatus(self.get("/sec/user", {name: value}), 200, b"none")
        return start

    def test_tampered_value_refused(self):
        v = self.signed_user("bob")
        parts = v.split("|")
        parts[4] = "4:" + "YWxp"  # "ali" instead of "bob"... same length field
        tampered = "|".join(parts)
        self.assertNotEqual(tampered, v)
        self.refused(tampered)

    def test_tampered_signature_refused(self):
        v = self.signed_user("bob")
        last = v[-1]
        self.refused(v[:-1] + ("0" if last != "0" else "1"))

    def test_value_signed_for_another_name_refused(self):
        self.refused(self.signed_user("bob", name="other"))

    def test_expired_value_refused(self):
        old = time.time() - 32 * 86400
        self.refused(self.signed_user("bob", clock=lambda: old))
        # 30 days old is still fine with the default 31
        ok = time.time() - 30 * 86400
        v = self.signed_user("bob", clock=lambda: ok)
        self.assertStatus(self.get("/sec/user", {"user": v}), 200, b"bob")

    def test_handler_max_age_days(self):
        two = time.time() - 2 * 86400 - 60
        v = self.signed_user("bob", clock=lambda: two)
        self.assertStatus(self.get("/sec/getsigned?name=user&days=1", {"user": v}), 404)
        self.assertStatus(self.get("/sec/getsigned?name=user&days=3", {"user": v}), 200)

    def test_future_timestamp_refused(self):
        ahead = time.time() + 3600
        self.refused(self.signed_user("bob", clock=lambda: ahead))
        # a little clock skew between hosts is allowed
        skew = time.time() + 60
        v = self.signed_user("bob", clock=lambda: skew)
        self.assertStatus(self.get("/sec/user", {"user": v}), 200, b"bob")

    def test_unknown_key_version_refused(self):
        # a single secret answers every key version, as Tornado's does;
        # key versions are refused only with a map (KeyRotationTest)
        v = self.signed_user("bob", secret={7: SECRET}, key_version=7)
        self.assertStatus(self.get("/sec/user", {"user": v}), 200, b"bob")

    def test_truncated_value_refused(self):
        v = self.signed_user("bob")
        for cut in (1, 10, len(v) // 2, len(v) - 1):
            with self.subTest(cut=cut):
                self.refused(v[:cut])

    def test_oversized_value_refused(self):
        v = self.signed_user("y" * 3500)  # well over 4096 bytes once signed
        self.assertGreater(len(v), 4096)
        self.refused(v)

    def test_garbage_refused(self):
        for g in ["", "2|", "2|1:0|1:0|1:x|0:|", "|||||", "3|1:0|1:0|4:user|4:Ym9i|00",
                  "\u00e9".encode("utf-8").decode("latin-1")]:
            with self.subTest(g=g):
                self.refused(g)

    def test_wrong_secret_refused(self):
        self.refused(self.signed_user("bob", secret=SECRET2))


class KeyRotationTest(SecurityBase):
    """security.cookie_secret_file as a map of key versions plus
    key_version: new values use the current key, old ones still verify."""

    def setUp(self):
        SquallTestCase.setUp(self)
        self.secret_path = None
        self.k1 = write_secret(self.path("k1"), SECRET)
        self.k2 = write_secret(self.path("k2"), SECRET2)
        self.srv = self.start_squalld(self.config(security={
            "cookie_secret_file": {1: self.k1, 2: self.k2}, "key_version": 2}))

    def test_new_values_use_the_current_key(self):
        resp = self.get("/sec/setsigned?name=user&value=dave")
        v = cookie_value(resp, "user")
        self.assertTrue(v.startswith("2|1:2|"), v)
        keys = {1: SECRET, 2: SECRET2}
        self.assertEqual(tornado.web.decode_signed_value(keys, "user", v), b"dave")
        self.assertIsNone(tornado.web.decode_signed_value({1: SECRET}, "user", v))

    def test_old_key_still_verifies(self):
        v = self.signed_user("erin", secret={1: SECRET, 2: SECRET2}, key_version=1)
        self.assertStatus(self.get("/sec/user", {"user": v}), 200, b"erin")
        v = self.signed_user("erin", secret={1: SECRET, 2: SECRET2}, key_version=2)
        self.assertStatus(self.get("/sec/user", {"user": v}), 200, b"erin")

    def test_unknown_key_version_refused(self):
        v = self.signed_user("bob", secret={3: SECRET}, key_version=3)
        self.assertStatus(self.get("/sec/user", {"user": v}), 200, b"none")

    def test_version_1_values_refused_with_a_key_map(self):
        # Tornado cannot check a version 1 value against a dict either
        v = self.signed_user("bob", version=1)
        self.assertStatus(self.get("/sec/user", {"user": v}), 200, b"none")


class UserCookieNameTest(SecurityBase):
    security = {"user_cookie": "who"}

    def test_current_user_reads_the_configured_cookie(self):
        v = self.signed_user("frank", name="who")
        self.assertStatus(self.get("/sec/user", {"who": v}), 200, b"frank")
        v = self.signed_user("frank")
        self.assertStatus(self.get("/sec/user", {"user": v}), 200, b"none")


class SecretFileTest(SquallTestCase):
    """squalld refuses to start with a bad secret file, naming it."""

    def start_with(self, path):
        cfg = make_config(workers=1)
        cfg["security"] = {"cookie_secret_file": path}
        srv = self.squalld(cfg)
        srv.expected_exit = None
        srv.start(wait_ready=False)
        status = srv.wait_exit(timeout=10)
        srv.exit_observed = True
        self.assertEqual(status, 1)
        return open(srv.stderr_path).read()

    def test_mode_0644_refused(self):
        p = write_secret(self.path("s"), SECRET, 0o644)
        err = self.start_with(p)
        self.assertIn(p, err)
        self.assertIn("mode 0644", err)
        self.assertRegex(err, r"squall\.yaml:\d+:\d+:")

    def test_group_readable_refused(self):
        p = write_secret(self.path("s"), SECRET, 0o640)
        self.assertIn("mode 0640", self.start_with(p))

    def test_too_short_refused(self):
        p = write_secret(self.path("s"), "x" * 31)  # + newline: 31 bytes
        err = self.start_with(p)
        self.assertIn(p, err)
        self.assertIn("too short: 31 bytes", err)

    def test_missing_file_refused(self):
        p = self.path("nope")
        err = self.start_with(p)
        self.assertIn(p, err)
        self.assertIn("No such file", err)

    def test_directory_refused(self):
        os.mkdir(self.path("d"), 0o700)
        self.assertIn("not a regular file", self.start_with(self.path("d")))

    def test_config_check_reads_the_secret_too(self):
        p = write_secret(self.path("s"), SECRET, 0o644)
        cfg_path = self.path("c.yaml")
        with open(cfg_path, "w") as f:
            f.write("security:\n  cookie_secret_file: %s\n" % p)
        res = self.run_squalld(["-t", "-c", cfg_path])
        self.assertEqual(res.returncode, 1)
        self.assertIn(p, res.stderr)


# ---------------------------------------------------------------------------

class FormTest(SecurityBase):

    def test_urlencoded_fields(self):
        resp = self.post("/sec/form?names=a,b,c,d", b"a=1&b=x+y%21&a=2&c=&d")
        self.assertStatus(resp, 200, b"a=1\nb=x y!\nc=\nd=\n")

    def test_multipart_fields_and_files(self):
        body = (b"--XyZ\r\n"
                b'Content-Disposition: form-data; name="a"\r\n\r\n'
                b"first\r\nline\r\n"
                b"--XyZ\r\n"
                b'Content-Disposition: form-data; name="up"; filename="f.bin"\r\n'
                b"Content-Type: application/octet-stream\r\n\r\n"
                b"\x00\x01--XyZ\r\n"
                b"--XyZ\r\n"
                b'content-disposition: form-data; name="b c"\r\n\r\n'
                b"\r\n"
                b"--XyZ--\r\n")
        resp = self.post("/sec/form?names=a,b%20c,up&files=up,a", body,
                         ctype='multipart/form-data; boundary="XyZ"')
        self.assertStatus(resp, 200,
                          b"a=first\r\nline\nb c=\nup=NONE\n"
                          b"file:up:f.bin:application/octet-stream:7:\x00\x01--XyZ\n"
                          b"file:a:NONE\n")

    def test_malformed_multipart_gives_no_fields_and_a_log_line(self):
        body = (b"--b\r\n"
                b'Content-Disposition: form-data; name="a"\r\n\r\n1\r\n')
        start = len(self.srv.log_text())
        resp = self.post("/sec/form?names=a", body,
                         ctype="multipart/form-data; boundary=b")
        self.assertStatus(resp, 200, b"a=NONE\n")
        self.srv.wait_log(r"malformed multipart/form-data body: no final boundary",
                          start=start)

    def test_other_content_types_have_no_fields(self):
        resp = self.post("/sec/form?names=a", b"a=1", ctype="text/plain")
        self.assertStatus(resp, 200, b"a=NONE\n")


# ---------------------------------------------------------------------------

XSRF_ROUTES = [
    {"path": "/open/ok", "handler": "secmod:ok", "xsrf": False},
]


class XsrfTest(SecurityBase):
    xsrf = True
    extra_routes = XSRF_ROUTES

    def token(self, cookies=None):
        """A token and the _xsrf cookie (new, or the one sent)."""
        resp = self.get("/sec/xsrf", cookies)
        self.assertStatus(resp, 200)
        a, b = resp.text.split()
        self.assertEqual(a, b)  # one token per request
        return a, cookie_value(resp, "_xsrf")

    def test_token_is_tornados_version_2_and_sets_the_cookie(self):
        token, cookie = self.token()
        self.assertRegex(token, r"^2\|[0-9a-f]{8}\|[0-9a-f]{32}\|\d+$")
        self.assertEqual(cookie, token)
        # a client that has the cookie gets no new one, and a token masked
        # afresh for the same raw token
        resp = self.get("/sec/xsrf", {"_xsrf": cookie})
        self.assertIsNone(cookie_header(resp, "_xsrf"))
        again = resp.text.split()[0]
        self.assertNotEqual(again, token)
        dec = tornado.web.RequestHandler._decode_xsrf_token
        self.assertEqual(dec(None, again)[1], dec(None, token)[1])

    def test_form_html(self):
        resp = self.get("/sec/xsrfform")
        token = cookie_value(resp, "_xsrf")
        self.assertEqual(resp.text,
                         '<input type="hidden" name="_xsrf" value="%s"/>' % token)

    def test_missing_token_refused_and_logged(self):
        token, cookie = self.token()
        start = len(self.srv.log_text())
        resp = self.post("/sec/ok", b"a=1", cookies={"_xsrf": cookie})
        self.assertStatus(resp, 403)
        self.srv.wait_log(r"POST /sec/ok: XSRF check failed: no '_xsrf' form "
                          r"field, X-XSRFToken or X-CSRFToken header", start=start)

    def test_missing_cookie_refused_and_logged(self):
        token, _ = self.token()
        start = len(self.srv.log_text())
        resp = self.post("/sec/ok", ("_xsrf=" + urllib.parse.quote(token)).encode())
        self.assertStatus(resp, 403)
        self.srv.wait_log(r"no valid '_xsrf' cookie to match the '_xsrf' form field",
                          start=start)

    def test_mismatched_token_refused_and_logged(self):
        token, _ = self.token()
        _, other_cookie = self.token()
        start = len(self.srv.log_text())
        resp = self.post("/sec/ok", ("_xsrf=" + urllib.parse.quote(token)).encode(),
                         cookies={"_xsrf": other_cookie})
        self.assertStatus(resp, 403)
        self.srv.wait_log(r"the '_xsrf' form field does not match the '_xsrf' cookie",
                          start=start)

    def test_malformed_token_refused(self):
        _, cookie = self.token()
        resp = self.post("/sec/ok", b"", ctype=None, cookies={"_xsrf": cookie},
                         headers=[("X-XSRFToken", "3|abc")])
        self.assertStatus(resp, 403)

    def test_urlencoded_form_field_accepted(self):
        token, cookie = self.token()
        resp = self.post("/sec/ok", ("a=1&_xsrf=" + urllib.parse.quote(token)).encode(),
                         cookies={"_xsrf": cookie})
        self.assertStatus(resp, 200, b"ok POST")

    def test_multipart_form_field_accepted(self):
        token, cookie = self.token()
        body = ("--bnd\r\nContent-Disposition: form-data; name=\"_xsrf\"\r\n\r\n"
                "%s\r\n--bnd--\r\n" % token).encode()
        resp = self.post("/sec/ok", body, ctype="multipart/form-data; boundary=bnd",
                         cookies={"_xsrf": cookie})
        self.assertStatus(resp, 200, b"ok POST")

    def test_x_xsrftoken_header_accepted(self):
        token, cookie = self.token()
        resp = self.post("/sec/ok", b"", cookies={"_xsrf": cookie},
                         headers=[("X-XSRFToken", token)])
        self.assertStatus(resp, 200)

    def test_x_csrftoken_header_accepted(self):
        token, cookie = self.token()
        resp = self.post("/sec/ok", b"", cookies={"_xsrf": cookie},
                         headers=[("X-CSRFToken", token)])
        self.assertStatus(resp, 200)

    def test_put_patch_delete_checked_get_head_options_not(self):
        token, cookie = self.token()
        for m in ("PUT", "PATCH", "DELETE"):
            with self.subTest(method=m):
                self.assertStatus(self.post("/sec/ok", b"", method=m), 403)
                self.assertStatus(self.post("/sec/ok", b"", method=m,
                                            cookies={"_xsrf": cookie},
                                            headers=[("X-XSRFToken", token)]), 200)
        for m in ("GET", "HEAD", "OPTIONS"):
            with self.subTest(method=m):
                resp = self.srv.request(m, "/sec/ok")
                self.assertStatus(resp, 200)

    def test_route_with_xsrf_false_is_not_checked(self):
        self.assertStatus(self.post("/open/ok", b"a=1"), 200, b"ok POST")

    def test_version_1_and_raw_tokens_accepted(self):
        raw = os.urandom(16)
        # cookie in version 1 (hex), token in version 2 of the same raw bytes
        v2 = tornado.web._websocket_mask(b"\x01\x02\x03\x04", raw)
        token = "2|01020304|%s|%d" % (v2.hex(), int(time.time()))
        resp = self.post("/sec/ok", b"", cookies={"_xsrf": raw.hex()},
                         headers=[("X-XSRFToken", token)])
        self.assertStatus(resp, 200)
        # a raw (non-hex) token and the same as a cookie
        resp = self.post("/sec/ok", b"", cookies={"_xsrf": "not-hex-token"},
                         headers=[("X-XSRFToken", "not-hex-token")])
        self.assertStatus(resp, 200)

    def test_tokens_interoperate_with_a_real_tornado_app(self):
        app = TornadoApp(self)
        # Tornado's token and cookie are accepted by squall
        token, cookie = app.token()
        resp = self.post("/sec/ok", b"", cookies={"_xsrf": cookie},
                         headers=[("X-XSRFToken", token)])
        self.assertStatus(resp, 200)
        # squall's are accepted by Tornado
        token, cookie = self.token()
        self.assertEqual(app.post(token, cookie), 200)
        self.assertEqual(app.post(token, self.token()[1]), 403)


TORNADO_APP = r"""
import sys, tornado.ioloop, tornado.web
class Token(tornado.web.RequestHandler):
    def get(self):
        self.write(self.xsrf_token)
class Post(tornado.web.RequestHandler):
    def post(self):
        self.write("ok")
app = tornado.web.Application([("/token", Token), ("/post", Post)],
                               xsrf_cookies=True, cookie_secret=sys.argv[1])
server = app.listen(0, "127.0.0.1")
port = list(server._sockets.values())[0].getsockname()[1]
print(port, flush=True)
tornado.ioloop.IOLoop.current().start()
"""


class TornadoApp:
    """A real Tornado application (xsrf_cookies=True) in a subprocess."""

    def __init__(self, test, secret=SECRET):
        self.proc = subprocess.Popen(["/usr/bin/python3", "-c", TORNADO_APP, secret],
                                     stdout=subprocess.PIPE, text=True)
        test.addCleanup(self.stop)
        self.port = int(self.proc.stdout.readline())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)

    def token(self):
        import requests
        r = requests.get("http://127.0.0.1:%d/token" % self.port, timeout=5)
        return r.text, r.cookies["_xsrf"]

    def post(self, token, cookie):
        import requests
        r = requests.post("http://127.0.0.1:%d/post" % self.port,
                          data={"_xsrf": token}, cookies={"_xsrf": cookie},
                          timeout=5)
        return r.status_code


# ---------------------------------------------------------------------------

LOGIN_ROUTES = [
    {"path": "/private/ok", "handler": "secmod:ok", "auth": "login"},
    {"path": "/private/user", "handler": "secmod:user", "auth": "login"},
    {"path": "/private/ws", "websocket": "wsmod:app", "auth": "login"},
    {"path": "/private/sub/{room}", "auth": "login",
     "subscribe": {"channel": "room.{room}", "poll_timeout": "1s"}},
]


class LoginTest(SecurityBase):
    extra_routes = LOGIN_ROUTES

    def config(self, security=None, routes=None):
        cfg = SecurityBase.config(self, security, routes)
        cfg["modules"]["wsmod"] = {"path": os.path.join(TEST_MODULES, "wsmod.so")}
        return cfg

    def test_get_without_user_is_redirected_with_next(self):
        resp = self.get("/private/ok?a=1&b=%20")
        self.assertStatus(resp, 302)
        self.assertEqual(resp.header("Location"),
                         "/login?next=%2Fprivate%2Fok%3Fa%3D1%26b%3D%2520")

    def test_head_without_user_is_redirected(self):
        resp = self.srv.request("HEAD", "/private/ok")
        self.assertStatus(resp, 302)

    def test_post_without_user_is_forbidden(self):
        self.assertStatus(self.post("/private/ok", b"x=1"), 403)

    def refused_at_the_head(self, expect_continue):
        """A POST with a 1 MB body whose head only is sent: the answer
        comes anyway, and the connection closes without the body."""
        hdrs = "Content-Type: text/plain\r\nContent-Length: 1000000\r\n"
        if expect_continue:
            hdrs += "Expect: 100-continue\r\n"
        with self.srv.connect() as c:
            c.send(("POST /private/ok HTTP/1.1\r\nHost: test\r\n%s\r\n"
                    % hdrs).encode())
            resp = c.read_response()
            self.assertStatus(resp, 403)
            self.assertEqual(resp.header("Connection"), "close")
            c.assert_closed()

    def test_refused_before_its_body_is_sent(self):
        self.refused_at_the_head(False)

    def test_refused_instead_of_100_continue(self):
        self.refused_at_the_head(True)

    def test_logged_in_post_with_expect_gets_100_continue(self):
        v = self.signed_user("grace")
        with self.srv.connect() as c:
            c.send(("POST /private/ok HTTP/1.1\r\nHost: test\r\n"
                    "Cookie: user=%s\r\nContent-Length: 3\r\n"
                    "Expect: 100-continue\r\n\r\n" % v).encode())
            interim = c.read_response()
            self.assertStatus(interim, 100)
            c.send(b"abc")
            self.assertStatus(c.read_response(), 200, b"ok POST")

    def test_bad_user_cookie_is_no_user(self):
        v = self.signed_user("mallory", secret=SECRET2)
        self.assertStatus(self.get("/private/ok", {"user": v}), 302)

    def test_logged_in_user_passes(self):
        v = self.signed_user("grace")
        self.assertStatus(self.get("/private/user", {"user": v}), 200, b"grace")
        self.assertStatus(self.post("/private/ok", b"", cookies={"user": v}), 200)

    def test_websocket_upgrade_refused_before_the_handshake(self):
        hdrs = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Version", "13"), ("Origin", "http://test")]
        resp = self.srv.request("GET", "/private/ws", headers=hdrs)
        self.assertStatus(resp, 302)
        v = self.signed_user("grace")
        with self.srv.connect() as c:
            c.send(("GET /private/ws HTTP/1.1\r\nHost: test\r\n%s"
                    "Cookie: user=%s\r\n\r\n" % ("".join(
                        "%s: %s\r\n" % h for h in hdrs), v)).encode())
            resp = c.read_response()
            self.assertStatus(resp, 101)

    def test_subscribe_route_guarded(self):
        self.assertStatus(self.get("/private/sub/r1"), 302)
        v = self.signed_user("grace")
        resp = self.get("/private/sub/r1", {"user": v})
        self.assertStatus(resp, 204)


class LoginUrlTest(SecurityBase):
    extra_routes = LOGIN_ROUTES[:1]
    security = {"login_url": "https://auth.example.com/in?app=1"}

    def test_absolute_login_url_gets_the_full_url_and_an_ampersand(self):
        resp = self.srv.request("GET", "/private/ok?x=1", headers=[("Host", "app.test")])
        self.assertStatus(resp, 302)
        self.assertEqual(resp.header("Location"),
                         "https://auth.example.com/in?app=1&next="
                         "http%3A%2F%2Fapp.test%2Fprivate%2Fok%3Fx%3D1")


class BehindProxyTest(SecurityBase):
    """Behind a trusted proxy that says the client came over https, cookies
    are Secure by default and the login redirect's next URL says https;
    the same header from an untrusted peer changes nothing."""
    extra_routes = LOGIN_ROUTES[:1]
    security = {"login_url": "https://auth.example.com/in"}

    def config(self, security=None, routes=None):
        cfg = SecurityBase.config(self, security, routes)
        cfg["server"]["trusted_proxies"] = ["127.0.0.1"]
        return cfg

    def request_from(self, source, target):
        with self.srv.connect(source=(source, 0)) as c:
            return c.request("GET", target, close=True, headers=[
                ("Host", "app.test"), ("X-Forwarded-Proto", "https")])

    def test_secure_default_follows_the_trusted_scheme(self):
        resp = self.request_from("127.0.0.1", "/sec/setcookie?name=a&value=1")
        self.assertEqual(cookie_header(resp, "a"), "a=1; Path=/; Secure")
        self.assertEqual(self.request_from("127.0.0.1", "/sec/scheme").body, b"https")
        resp = self.request_from("127.0.0.2", "/sec/setcookie?name=a&value=1")
        self.assertEqual(cookie_header(resp, "a"), "a=1; Path=/")
        self.assertEqual(self.request_from("127.0.0.2", "/sec/scheme").body, b"http")

    def test_login_redirect_names_the_https_url(self):
        resp = self.request_from("127.0.0.1", "/private/ok")
        self.assertEqual(resp.header("Location"), "https://auth.example.com/in?next="
                         "https%3A%2F%2Fapp.test%2Fprivate%2Fok")
        resp = self.request_from("127.0.0.2", "/private/ok")
        self.assertEqual(resp.header("Location"), "https://auth.example.com/in?next="
                         "http%3A%2F%2Fapp.test%2Fprivate%2Fok")


if __name__ == "__main__":
    main()
