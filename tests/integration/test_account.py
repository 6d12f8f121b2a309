#!/usr/bin/python3
"""Logging in, end to end: the account demo (handlers/account.c) as
conf/squall.yaml serves it, driven by curl with a cookie jar as a browser
would; and a real Tornado application behind the same nginx as squalld
(the shipped site, conf/nginx-squall.conf), sharing the login both ways
during a migration."""

import os
import re
import shutil
import subprocess
import urllib.parse

import squalltest
from squalltest import SquallTestCase, main, scaled
from test_chat import SECRET, chat_config
from test_nginx import NGINX, run_nginx, site_for

CURL = shutil.which("curl") or "/usr/bin/curl"


class Curl:
    """curl with one cookie jar: a browser's memory of cookies."""

    def __init__(self, test, base):
        self.base = base
        self.jar = test.path("cookies-%d.txt" % id(self))
        self.test = test

    def __call__(self, path, data=None, method=None):
        """(status, headers dict (lowercase names, last wins), body text)."""
        argv = [CURL, "-sS", "-D", "-", "-o", self.test.path("body"),
                "-b", self.jar, "-c", self.jar, "--max-time", str(scaled(10))]
        if data is not None:
            argv += ["--data-raw", urllib.parse.urlencode(data)]
        if method:
            argv += ["-X", method]
        out = subprocess.run(argv + [self.base + path], capture_output=True,
                             text=True, timeout=scaled(20), check=True).stdout
        head = out.replace("\r\n", "\n").strip().split("\n\n")[-1].split("\n")
        status = int(head[0].split()[1])
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers.setdefault(k.strip().lower(), []).append(v.strip())
        with open(self.test.path("body"), encoding="utf-8") as f:
            return status, headers, f.read()

    def cookies(self):
        """{name: (value, flags)} from the jar (HttpOnly ones too)."""
        found = {}
        with open(self.jar) as f:
            for line in f:
                http_only = line.startswith("#HttpOnly_")
                if line.startswith("#") and not http_only:
                    continue
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 7:
                    found[parts[5]] = (parts[6], http_only)
        return found


def xsrf_field(html):
    m = re.search(r'name="_xsrf" value="([^"]+)"', html)
    assert m, "no _xsrf field in:\n" + html
    return m.group(1)


class LoginFlowTest(SquallTestCase):
    """conf/squall.yaml's demo, with curl."""

    def setUp(self):
        super().setUp()
        # the shipped configuration, next to a cookie secret of its own
        conf_dir = self.path("conf")
        os.mkdir(conf_dir)
        with open(os.path.join(squalltest.SRCDIR, "conf", "squall.yaml")) as f:
            text = f.read()
        secret = os.path.join(conf_dir, "cookie_secret")
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, (SECRET + "\n").encode())
        os.close(fd)
        # the secret path is relative to the file; the copy lives elsewhere
        text = text.replace("cookie_secret_file: cookie_secret",
                            "cookie_secret_file: " + secret)
        self.assertIn(secret, text)
        self.srv = self.start_squalld(text)
        self.curl = Curl(self, "http://127.0.0.1:%d" % self.srv.address[1])

    def log_in(self, name="ann", next_path="/whoami"):
        status, _, html = self.curl("/login?next=" + urllib.parse.quote(next_path))
        self.assertEqual(status, 200)
        return self.curl("/login", data={"name": name, "next": next_path,
                                         "_xsrf": xsrf_field(html)})

    def test_login_flow_with_a_cookie_jar(self):
        status, headers, _ = self.curl("/whoami")
        self.assertEqual(status, 302)
        self.assertEqual(headers["location"], ["/login?next=%2Fwhoami"])
        status, headers, html = self.curl("/login?next=%2Fwhoami")
        self.assertEqual(status, 200)
        self.assertIn('<input type="hidden" name="_xsrf"', html)
        self.assertIn("value='/whoami'", html)
        self.assertIn("_xsrf", self.curl.cookies())
        status, headers, _ = self.curl("/login", data={
            "name": "ann <b>", "next": "/whoami", "_xsrf": xsrf_field(html)})
        self.assertEqual(status, 303)
        self.assertEqual(headers["location"], ["/whoami"])
        user = [c for c in headers["set-cookie"] if c.startswith("user=")][0]
        self.assertIn("HttpOnly", user)
        self.assertIn("SameSite=Lax", user)
        value, http_only = self.curl.cookies()["user"]
        self.assertTrue(http_only)
        self.assertEqual(b"ann <b>", __import__("tornado.web").web.decode_signed_value(
            SECRET, "user", value.strip('"')))
        status, headers, text = self.curl("/whoami")
        self.assertEqual((status, text), (200, "ann <b>\n"))
        self.assertEqual(headers["content-type"], ["text/plain; charset=utf-8"])

    def test_login_without_the_xsrf_field_is_refused(self):
        self.curl("/login")  # gets the _xsrf cookie
        status, _, _ = self.curl("/login", data={"name": "ann"})
        self.assertEqual(status, 403)
        self.srv.wait_log(r"POST /login: XSRF check failed: no '_xsrf'")
        self.assertNotIn("user", self.curl.cookies())

    def test_next_goes_only_to_a_local_path(self):
        for evil in ("//evil.example/x", "https://evil.example/",
                     "/\\evil.example", "javascript:alert(1)", ""):
            with self.subTest(next=evil):
                status, headers, _ = self.log_in(next_path=evil)
                self.assertEqual(status, 303)
                self.assertEqual(headers["location"], ["/"])
        status, headers, _ = self.log_in(next_path="/chat/?mode=ws")
        self.assertEqual(headers["location"], ["/chat/?mode=ws"])

    def test_next_is_escaped_in_the_form(self):
        status, _, html = self.curl("/login?next=" + urllib.parse.quote(
            "/x'><script>alert(1)</script>"))
        self.assertEqual(status, 200)
        self.assertNotIn("<script>", html)
        self.assertIn("&lt;script&gt;", html)

    def test_bad_names_are_refused_with_the_form_again(self):
        for name in ("", "   ", "x" * 65, "a\tb"):
            with self.subTest(name=name):
                status, _, html = self.log_in(name=name)
                self.assertEqual(status, 400)
                self.assertIn("A name is 1 to 64 bytes", html)
                self.assertIn('name="_xsrf"', html)
        self.assertNotIn("user", self.curl.cookies())

    def test_logout(self):
        self.log_in()
        self.assertEqual(self.curl("/whoami")[0], 200)
        status, _, html = self.curl("/logout")
        self.assertEqual(status, 200)  # a GET only shows the button
        self.assertEqual(self.curl("/whoami")[0], 200)
        status, headers, _ = self.curl("/logout", data={"_xsrf": xsrf_field(html)})
        self.assertEqual(status, 303)
        self.assertEqual(headers["location"], ["/login"])
        self.assertEqual(self.curl("/whoami")[0], 302)

    def test_chat_is_behind_the_login_and_names_the_user(self):
        status, headers, _ = self.curl("/chat/lobby")
        self.assertEqual((status, headers["location"]),
                         (302, ["/login?next=%2Fchat%2Flobby"]))
        # the updates too (a long poll, and a WebSocket before its upgrade)
        self.assertEqual(self.curl("/chat/lobby/updates")[0], 302)
        self.log_in(name="zoe", next_path="/chat/lobby")
        status, _, html = self.curl("/chat/lobby")
        self.assertEqual(status, 200)
        self.assertIn("<b id='me'>zoe</b>", html)


# ---------------------------------------------------------------------------

TORNADO_APP = r"""
import sys, tornado.ioloop, tornado.web

class Base(tornado.web.RequestHandler):
    def get_current_user(self):
        return self.get_secure_cookie("user")  # get_signed_cookie since 6.3

class WhoAmI(Base):
    @tornado.web.authenticated
    def get(self):
        self.write(b"tornado sees " + self.current_user)

class Login(Base):
    def post(self):
        self.set_secure_cookie("user", self.get_argument("name"))
        self.redirect("/tornado/whoami")

app = tornado.web.Application(
    [("/tornado/whoami", WhoAmI), ("/tornado/login", Login)],
    cookie_secret=sys.argv[1], xsrf_cookies=True, login_url="/login")
server = app.listen(0, "127.0.0.1")
print(list(server._sockets.values())[0].getsockname()[1], flush=True)
tornado.ioloop.IOLoop.current().start()
"""


class SharedLoginBehindNginxTest(SquallTestCase):
    """A Tornado application at /tornado/ and squalld at / behind the same
    nginx, with the same cookie secret: a user logged in by either is
    logged in for both."""

    def setUp(self):
        super().setUp()
        if not os.access(NGINX, os.X_OK):
            self.fail("nginx is not installed (Debian package nginx-light)")
        self.squall = self.start_squalld(chat_config(self.workdir, xsrf=True))
        self.tornado = subprocess.Popen(
            ["/usr/bin/python3", "-c", TORNADO_APP, SECRET],
            stdout=subprocess.PIPE, text=True)
        self.addCleanup(self.stop_tornado)
        tornado_port = int(self.tornado.stdout.readline())
        self.port = self.start_nginx(tornado_port)
        self.curl = Curl(self, "http://127.0.0.1:%d" % self.port)

    def stop_tornado(self):
        self.tornado.terminate()
        self.tornado.wait(scaled(10))
        self.tornado.stdout.close()

    def start_nginx(self, tornado_port):
        def site(port):
            text = site_for(self.squall.address[1], port)
            # the Tornado application's location, next to squalld's
            text, n = re.subn(
                r"(?m)^(\s*)location / \{",
                r"\1location /tornado/ { proxy_pass http://127.0.0.1:%d; "
                r"proxy_set_header Host $host; }\n\1location / {"
                % tornado_port, text, count=1)
            assert n == 1
            return text
        return run_nginx(self, site)

    def test_logged_in_by_squall_is_logged_in_for_tornado(self):
        status, headers, _ = self.curl("/tornado/whoami")
        self.assertEqual(status, 302)  # Tornado's @authenticated
        self.assertTrue(headers["location"][0].startswith("/login?next="))
        _, _, html = self.curl("/login")
        status, _, _ = self.curl("/login", data={"name": "ann",
                                                 "_xsrf": xsrf_field(html)})
        self.assertEqual(status, 303)
        status, _, text = self.curl("/tornado/whoami")
        self.assertEqual((status, text), (200, "tornado sees ann"))
        self.assertEqual(self.curl("/whoami")[2], "ann\n")

    def test_logged_in_by_tornado_is_logged_in_for_squall(self):
        # squall's XSRF cookie and token are good for Tornado's form too
        _, _, html = self.curl("/login")
        status, headers, _ = self.curl("/tornado/login", data={
            "name": "bob", "_xsrf": xsrf_field(html)})
        self.assertEqual(status, 302)
        self.assertEqual(self.curl("/tornado/whoami")[2], "tornado sees bob")
        status, _, text = self.curl("/whoami")
        self.assertEqual((status, text), (200, "bob\n"))
        # and squall's chat page greets the same user
        status, _, html = self.curl("/chat/lobby")
        self.assertEqual(status, 200)
        self.assertIn("<b id='me'>bob</b>", html)


if __name__ == "__main__":
    main()
