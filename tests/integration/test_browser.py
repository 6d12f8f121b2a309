"""The pages in a real browser: headless Chromium (Debian's chromium)
driven by playwright-core from npm against the real squalld with 2
workers, routed as conf/squall.yaml does.

- /ws/ (tests/browser/ws_page.mjs): a person types a message and presses
  Send; the echo of permessage-deflate must show, as text.
- /chat/ (tests/browser/chat_page.mjs), once per way of receiving (long
  poll, WebSocket, SSE): two people in two browser contexts; what one
  types shows on the other's page, as text; one leaves and comes back and
  is shown what was written meanwhile.

dev.sh installs chromium and runs `npm ci` in tests/browser.
"""

import json
import os
import shutil
import subprocess

from squalltest import SRCDIR, SquallTestCase, main, make_config, scaled
from test_chat import chat_config

BROWSER_DIR = os.path.join(SRCDIR, "tests", "browser")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


class BrowserTest(SquallTestCase):

    def setUp(self):
        super().setUp()
        self.node = shutil.which("node")
        missing = []
        if self.node is None:
            missing.append("node (Debian package nodejs)")
        if not os.access(CHROMIUM, os.X_OK):
            missing.append("%s (Debian package chromium)" % CHROMIUM)
        if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules",
                                          "playwright-core")):
            missing.append("playwright-core (npm ci in tests/browser)")
        if missing:
            self.fail("missing: %s; ./dev.sh test installs them"
                      % ", ".join(missing))

    def page(self, url, script="ws_page.mjs", *args):
        """A script of tests/browser on url: its exit status and its JSON
        line."""
        timeout = scaled(20)
        proc = subprocess.run(
            [self.node, os.path.join(BROWSER_DIR, script), url] + list(args),
            capture_output=True, text=True, timeout=timeout + 30,
            env=dict(os.environ, CHROMIUM=CHROMIUM,
                     BROWSER_TIMEOUT_MS=str(int(timeout * 1000))))
        lines = proc.stdout.strip().splitlines()
        result = json.loads(lines[-1]) if lines else None
        return proc.returncode, result, proc.stderr

    def test_echo_page_in_chromium(self):
        cfg = make_config(workers=2, routes=[
            {"path": "/ws/", "methods": ["GET"], "handler": "echo:page"},
            {"path": "/ws/echo", "websocket": "echo:echo", "deflate": True},
        ])
        cfg["modules"]["echo"] = {"path": "echo.so"}
        srv = self.start_squalld(cfg)
        url = "http://127.0.0.1:%d/ws/" % srv.address[1]

        rc, result, stderr = self.page(url)
        self.assertIsNotNone(result, "ws_page.mjs printed nothing: %s" % stderr)
        self.assertEqual(result["http_status"], 200)
        self.assertEqual(result["content_type"], "text/html; charset=utf-8")
        self.assertIn("connected to ws://127.0.0.1:%d/ws/echo"
                      % srv.address[1], result["status"])
        # Chromium offers permessage-deflate and the route accepts it
        self.assertIn("permessage-deflate", result["status"])
        self.assertEqual(result["echo"],
                         "\u2190 hello from Chromium \u2713 <b>not bold</b>")
        self.assertEqual(result["elements_in_echo"], 0)
        self.assertEqual(result["errors"], [])
        self.assertEqual(rc, 0, stderr)
        # the browser going away closed the WebSocket, and the module knew
        srv.wait_log(r"echo: closed 100[01] ", timeout=scaled(10))

    def chat(self, mode):
        srv = self.start_squalld(chat_config(self.workdir, workers=2, xsrf=True))
        url = "http://127.0.0.1:%d/chat/room-%s" % (srv.address[1], mode)
        rc, result, stderr = self.page(url, "chat_page.mjs", mode)
        self.assertIsNotNone(result, "chat_page.mjs printed nothing: %s" % stderr)
        self.assertNotIn("error", result)
        self.assertEqual(result["errors"], [])
        self.assertEqual(rc, 0, "%s\n%s" % (result, stderr))

    def test_chat_by_long_polling(self):
        self.chat("poll")

    def test_chat_by_websocket(self):
        self.chat("ws")

    def test_chat_by_server_sent_events(self):
        self.chat("sse")


if __name__ == "__main__":
    main()
