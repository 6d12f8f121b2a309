#!/usr/bin/python3
"""Tornado's "Hello, world!" for tests/bench/run.sh.

One process, one IOLoop, stock settings except the Content-Type, so the
benchmark compares squalld with Tornado as its users run it. Needs the
Debian package python3-tornado:

    /usr/bin/python3 tests/bench/tornado_hello.py --port 8888
"""

import argparse
import asyncio
import signal

import tornado.web


class HelloHandler(tornado.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.write("Hello, world!")


async def serve(address, port):
    app = tornado.web.Application([(r"/", HelloHandler)])
    server = app.listen(port, address=address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8888)
    args = parser.parse_args()
    asyncio.run(serve(args.address, args.port))


if __name__ == "__main__":
    main()
