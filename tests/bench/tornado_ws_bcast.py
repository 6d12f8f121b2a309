#!/usr/bin/python3
"""Tornado's WebSocket broadcast for tests/bench/ws_broadcast.sh and
pubsub_memory.sh.

One process, one IOLoop. A WebSocket opened at PATH joins a set of
subscribers (and leaves it when it closes); POST PUBPATH publishes its
body: write_message of it, as text, to every subscriber in the set, and
answers {"subscribers": N}, the subscribers written to (squalld's publish
endpoint answers the same field). Stock settings otherwise (no
compression, no pings). Needs the Debian package python3-tornado:

    /usr/bin/python3 tests/bench/tornado_ws_bcast.py --port 8888
"""

import argparse
import asyncio
import json
import signal

import tornado.web
import tornado.websocket

subscribers = set()


class SubscribeHandler(tornado.websocket.WebSocketHandler):
    def open(self):
        subscribers.add(self)

    def on_message(self, message):
        self.close(1003, "this endpoint only sends")

    def on_close(self):
        subscribers.discard(self)


class PublishHandler(tornado.web.RequestHandler):
    def post(self):
        message = self.request.body.decode("utf-8", "replace")
        reached = 0
        for sub in list(subscribers):
            try:
                sub.write_message(message)
                reached += 1
            except tornado.websocket.WebSocketClosedError:
                subscribers.discard(sub)
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps({"subscribers": reached}, separators=(",", ":")) + "\n")


async def serve(args):
    app = tornado.web.Application(
        [(args.path, SubscribeHandler), (args.pubpath, PublishHandler)]
    )
    server = app.listen(args.port, address=args.address)
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
    parser.add_argument("--path", default="/sub/room")
    parser.add_argument("--pubpath", default="/pub/room")
    args = parser.parse_args()
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
