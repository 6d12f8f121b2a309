/*
 * route.c - what runs between routing and a route's target.
 *
 * A route has a target kind: a module handler, a WebSocket endpoint (the
 * transport upgrades the connection), or a pub/sub endpoint (endpoint.c);
 * static files and metrics will plug in here as further kinds. Route options
 * (auth, then XSRF: security.c) run before the target, so that they guard
 * every kind alike, before any upgrade.
 */
#include "internal.h"

static int run_handler(const struct route *rt, sq_req *r)
{
    int rc;

    r->in_handler = 1;
    rc = rt->fn(r);
    r->in_handler = 0;
    return rc;
}

int route_run(const struct route *rt, sq_req *r)
{
    if (security_route(rt, r) == ROUTE_ANSWERED)
        return SQ_DONE;
    switch (rt->kind) {
    case ROUTE_HANDLER:
        return run_handler(rt, r);
    case ROUTE_WEBSOCKET:
        return ROUTE_UPGRADE; /* the transport performs the handshake */
    case ROUTE_SUBSCRIBE:
        return endpoint_subscribe(rt, r);
    case ROUTE_PUBLISH:
        return endpoint_publish(rt, r);
    }
    fatal("route %s has an unknown target kind %d", rt->conf->path,
          (int)rt->kind);
}
