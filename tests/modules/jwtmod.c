/*
 * jwtmod.c - the claims of `auth: jwt` routes in a module
 * (tests/integration/test_jwt.py).
 *
 *   whoami (handler)   "user=<sq_current_user> role=<claim role>
 *                      admin=<claim admin>\n<sq_jwt_claims>"
 *   who (WebSocket)    open sends "open user=<sq_current_user(r)>
 *                      ws=<sq_ws_current_user>"; each message then gets
 *                      "user=<sq_ws_current_user> role=<sq_ws_jwt_claim
 *                      role> claims=<sq_ws_jwt_claims>", from what the
 *                      ws kept after its request was gone
 *
 * "-" stands for NULL.
 */
#include <squall/squall.h>

#include <stdio.h>
#include <string.h>

#define OR(s) ((s) != NULL ? (s) : "-")

static int whoami(sq_req *r)
{
    sq_set_header(r, "Content-Type", "text/plain");
    sq_printf(r, "user=%s role=%s admin=%s\n%s", OR(sq_current_user(r)),
              OR(sq_jwt_claim(r, "role")), OR(sq_jwt_claim(r, "admin")),
              OR(sq_jwt_claims(r)));
    return SQ_DONE;
}

static int who_open(sq_ws *ws, sq_req *r)
{
    char out[512];

    snprintf(out, sizeof(out), "open user=%s ws=%s", OR(sq_current_user(r)),
             OR(sq_ws_current_user(ws)));
    return sq_ws_send_text(ws, out, strlen(out));
}

static void who_message(sq_ws *ws, int binary, const void *data, size_t len)
{
    char out[2048];

    (void)binary;
    (void)data;
    (void)len;
    snprintf(out, sizeof(out), "user=%s role=%s claims=%s",
             OR(sq_ws_current_user(ws)), OR(sq_ws_jwt_claim(ws, "role")),
             OR(sq_ws_jwt_claims(ws)));
    sq_ws_send_text(ws, out, strlen(out));
}

SQ_MODULE(.name = "jwtmod", .handlers = SQ_HANDLERS(whoami),
          .websockets = SQ_WEBSOCKETS({"who", who_open, who_message, NULL,
                                       NULL}));
