#!/usr/bin/python3
"""Tornado's WebSocket echo for tests/bench/idle_memory.sh -W and ws_echo.sh.

One process, one IOLoop, a tornado.websocket.WebSocketHandler at PATH
that sends every message back as it came, text as text, binary as
binary; stock settings otherwise (no compression, no pings), so the
benchmarks compare squalld's handlers/echo.so with Tornado as its users
run it. Needs the Debian package python3-tornado:

    /usr/bin/python3 tests/bench/tornado_ws.py --port 8888 --path /ws/echo
"""

import argparse
import asyncio
import signal

import tornado.web
import tornado.websocket


class EchoHandler(tornado.websocket.WebSocketHandler):
    def on_message(self, message):
        self.write_message(message, binary=isinstance(message, bytes))


async def serve(address, port, path):
    app = tornado.web.Application([(path, EchoHandler)])
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
    parser.add_argument("--path", default="/ws/echo")
    args = parser.parse_args()
    asyncio.run(serve(args.address, args.port, args.path))


if __name__ == "__main__":
    main()
