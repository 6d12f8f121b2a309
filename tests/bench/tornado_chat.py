#!/usr/bin/python3
"""Tornado's long-poll chat for tests/bench/longpoll_fanout.sh and
pubsub_memory.sh, in the pattern of Tornado's demos/chat.

One process, one IOLoop. GET PATH waits for the next message: the
request parks a Future in a set of waiters and answers 200 with the
message as its body once one is published (or 204 after --poll-timeout
seconds). POST PUBPATH publishes its body: every waiting Future gets it
at once, and the POST answers {"subscribers": N}, N being the waiters it
reached (squalld's publish endpoint answers the same field). Stock
settings otherwise. Needs the Debian package python3-tornado:

    /usr/bin/python3 tests/bench/tornado_chat.py --port 8888
"""

import argparse
import asyncio
import json
import signal

import tornado.web

waiters = set()


class SubscribeHandler(tornado.web.RequestHandler):
    async def get(self):
        future = asyncio.get_running_loop().create_future()
        waiters.add(future)
        self.future = future
        try:
            message = await asyncio.wait_for(
                asyncio.shield(future), self.settings["poll_timeout"]
            )
        except asyncio.TimeoutError:
            waiters.discard(future)
            self.set_status(204)
            return
        if self.request.connection.stream.closed():
            return
        self.set_header("Content-Type", "text/plain")
        self.write(message)

    def on_connection_close(self):
        waiters.discard(self.future)
        if not self.future.done():
            self.future.set_result(None)


class PublishHandler(tornado.web.RequestHandler):
    def post(self):
        global waiters
        message = self.request.body
        reached, waiters = waiters, set()
        for future in reached:
            if not future.done():
                future.set_result(message)
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps({"subscribers": len(reached)}, separators=(",", ":")) + "\n")


async def serve(args):
    app = tornado.web.Application(
        [(args.path, SubscribeHandler), (args.pubpath, PublishHandler)],
        poll_timeout=args.poll_timeout,
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
    parser.add_argument("--poll-timeout", type=float, default=60.0)
    args = parser.parse_args()
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
