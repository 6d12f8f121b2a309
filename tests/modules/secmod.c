/*
 * secmod.c - the forms, cookies, signed cookies, current user and XSRF API
 * in use (tests/integration/test_security.py). Each handler answers
 * text/plain; a refused call answers 500 (its reason is in the log).
 *
 *   GET  /sec/cookie?name=N         sq_cookie: its value, or 404 "none"
 *   GET  /sec/setcookie?name=N&value=V[&domain=&path=&samesite=&expires=
 *        &max_age=&httponly=1&secure=1|-1][&twice=V2]
 *                                   sq_set_cookie (twice: set again with
 *                                   V2, which replaces the first)
 *   GET  /sec/clearcookie?name=N[&path=&domain=]   sq_clear_cookie
 *   GET  /sec/setsigned?name=N&value=V[&expires=-1]  sq_set_signed_cookie
 *   GET  /sec/getsigned?name=N[&days=D] sq_signed_cookie, or 404 "none"
 *   GET  /sec/user                  sq_current_user, or "none"
 *   GET  /sec/xsrf                  sq_xsrf_token (twice: both printed on
 *                                   two lines, to show the per-request cache)
 *   GET  /sec/xsrfform              sq_xsrf_form_html
 *   *    /sec/form?names=a,b        "a=<value>\n" per name (sq_body_arg;
 *                                   "a=NONE" when absent), then each file
 *                                   "file:<name>:<filename>:<type>:<len>:
 *                                   <bytes>" for ?files=f
 *   *    /sec/ok                    "ok <method>" (a guarded target)
 *   *    /sec/scheme                sq_scheme
 */
#include <squall/squall.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int text(sq_req *r, int status, const char *s)
{
    sq_set_status(r, status);
    sq_set_header(r, "Content-Type", "text/plain");
    sq_write(r, s, strlen(s));
    return SQ_DONE;
}

static int cookie(sq_req *r)
{
    const char *v = sq_cookie(r, sq_query_arg(r, "name"));

    return v != NULL ? text(r, 200, v) : text(r, 404, "none");
}

static int setcookie(sq_req *r)
{
    sq_cookie_opts o = {0};
    const char *s, *name = sq_query_arg(r, "name");

    o.domain = sq_query_arg(r, "domain");
    o.path = sq_query_arg(r, "path");
    o.same_site = sq_query_arg(r, "samesite");
    if ((s = sq_query_arg(r, "expires")) != NULL)
        o.expires = atoll(s);
    if ((s = sq_query_arg(r, "max_age")) != NULL)
        o.max_age = atoll(s);
    o.http_only = sq_query_arg(r, "httponly") != NULL;
    if ((s = sq_query_arg(r, "secure")) != NULL)
        o.secure = atoi(s);
    if (name == NULL || sq_query_arg(r, "value") == NULL ||
        sq_set_cookie(r, name, sq_query_arg(r, "value"), &o) < 0)
        return text(r, 500, "refused");
    if ((s = sq_query_arg(r, "twice")) != NULL &&
        sq_set_cookie(r, name, s, &o) < 0)
        return text(r, 500, "refused");
    return text(r, 200, "set");
}

static int clearcookie(sq_req *r)
{
    sq_cookie_opts o = {0};

    o.domain = sq_query_arg(r, "domain");
    o.path = sq_query_arg(r, "path");
    if (sq_clear_cookie(r, sq_query_arg(r, "name"), &o) < 0)
        return text(r, 500, "refused");
    return text(r, 200, "cleared");
}

static int setsigned(sq_req *r)
{
    sq_cookie_opts o = {0};
    const char *v = sq_query_arg(r, "value"), *s;

    if ((s = sq_query_arg(r, "expires")) != NULL)
        o.expires = atoll(s);
    if (v == NULL ||
        sq_set_signed_cookie(r, sq_query_arg(r, "name"), v, strlen(v), &o) < 0)
        return text(r, 500, "refused");
    return text(r, 200, "set");
}

static int getsigned(sq_req *r)
{
    const char *d = sq_query_arg(r, "days");
    const char *v = sq_signed_cookie(r, sq_query_arg(r, "name"),
                                     d != NULL ? (unsigned)atoi(d) : 0, NULL);

    return v != NULL ? text(r, 200, v) : text(r, 404, "none");
}

static int user(sq_req *r)
{
    const char *u = sq_current_user(r);

    return text(r, 200, u != NULL ? u : "none");
}

static int xsrf(sq_req *r)
{
    const char *a = sq_xsrf_token(r), *b = sq_xsrf_token(r);

    if (a == NULL || b == NULL)
        return text(r, 500, "refused");
    sq_set_header(r, "Content-Type", "text/plain");
    sq_printf(r, "%s\n%s\n", a, b);
    return SQ_DONE;
}

static int xsrfform(sq_req *r)
{
    const char *h = sq_xsrf_form_html(r);

    return h != NULL ? text(r, 200, h) : text(r, 500, "refused");
}

/* Prints each of the comma-separated names of ?param= with print(). */
static void each_name(sq_req *r, const char *param,
                      void (*print)(sq_req *r, const char *name))
{
    const char *list = sq_query_arg(r, param);
    char name[256];

    while (list != NULL && *list != '\0') {
        size_t n = strcspn(list, ",");
        if (n < sizeof(name)) {
            memcpy(name, list, n);
            name[n] = '\0';
            print(r, name);
        }
        list += n + (list[n] == ',');
    }
}

static void print_field(sq_req *r, const char *name)
{
    const char *v = sq_body_arg(r, name);

    sq_printf(r, "%s=%s\n", name, v != NULL ? v : "NONE");
}

static void print_file(sq_req *r, const char *name)
{
    const char *fn, *ct, *data;
    size_t len;

    if ((data = sq_body_file(r, name, &len, &fn, &ct)) == NULL) {
        sq_printf(r, "file:%s:NONE\n", name);
        return;
    }
    sq_printf(r, "file:%s:%s:%s:%zu:", name, fn, ct != NULL ? ct : "-", len);
    sq_write(r, data, len);
    sq_write(r, "\n", 1);
}

static int form(sq_req *r)
{
    sq_set_header(r, "Content-Type", "text/plain");
    each_name(r, "names", print_field);
    each_name(r, "files", print_file);
    return SQ_DONE;
}

static int ok(sq_req *r)
{
    sq_set_header(r, "Content-Type", "text/plain");
    sq_printf(r, "ok %s", sq_method(r));
    return SQ_DONE;
}

static int scheme(sq_req *r)
{
    return text(r, 200, sq_scheme(r));
}

SQ_MODULE(.name = "secmod",
          .handlers = SQ_HANDLERS(cookie, setcookie, clearcookie, setsigned,
                                  getsigned, user, xsrf, xsrfform, form, ok,
                                  scheme));
