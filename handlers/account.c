/*
 * account.c - logging in with a signed cookie, as a Tornado application
 * does, and the pages a login needs: the third module to read.
 *
 *   security:
 *     cookie_secret_file: cookie_secret   # 0600, 32 bytes or more
 *     xsrf_cookies: true
 *   modules:
 *     account: { path: account.so }
 *   routes:
 *     - { path: /login, methods: [GET, POST], handler: account:login }
 *     - { path: /logout, methods: [GET, POST], handler: account:logout }
 *     - { path: /whoami, methods: [GET], handler: account:whoami,
 *         auth: login }
 *
 * GET /login shows a form; POST /login with name=... logs that name in
 * (sq_login: the signed cookie security.user_cookie) and goes back to
 * ?next=, which `auth: login` routes send here. This demo trusts the name
 * it is given: a real application checks a password, or asks an identity
 * provider, before it calls sq_login. GET /logout shows a button, POST
 * /logout logs out. /whoami answers who is logged in, as text; without a
 * login, `auth: login` redirects to /login?next=%2Fwhoami.
 *
 * The forms carry the XSRF field (sq_xsrf_form_html): with
 * security.xsrf_cookies, squalld refuses a POST without it before the
 * handler runs, so no other site can log a browser in or out.
 */
#include <squall/squall.h>

#include <string.h>

#define MAX_NAME 64 /* bytes */

/* text with &, <, >, " and ' escaped, for HTML; NULL when out of memory */
static const char *html(sq_req *r, const char *s)
{
    size_t n = 0;
    char *out, *o;

    for (const char *p = s; *p != '\0'; p++)
        n += strchr("&<>\"'", *p) != NULL ? 6 : 1;
    if ((out = o = sq_palloc(sq_req_pool(r), n + 1)) == NULL)
        return NULL;
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&': memcpy(o, "&amp;", 5), o += 5; break;
        case '<': memcpy(o, "&lt;", 4), o += 4; break;
        case '>': memcpy(o, "&gt;", 4), o += 4; break;
        case '"': memcpy(o, "&quot;", 6), o += 6; break;
        case '\'': memcpy(o, "&#39;", 5), o += 5; break;
        default: *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

/* Where to go after logging in: a path on this site, never another site
 * ("//evil.example" and "/\evil.example" are other sites to a browser). */
static const char *local_path(const char *next)
{
    if (next == NULL || next[0] != '/' || next[1] == '/' || next[1] == '\\')
        return "/";
    for (const char *p = next; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return "/";
    return next;
}

/* A name to show: 1 to MAX_NAME bytes, no control bytes, not blank. */
static int valid_name(const char *s)
{
    size_t n = strlen(s);
    int blank = 1;

    if (n == 0 || n > MAX_NAME)
        return 0;
    for (const char *p = s; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
        blank &= *p == ' ';
    }
    return !blank;
}

static int page(sq_req *r, int status, const char *title, const char *body)
{
    sq_set_status(r, status);
    sq_set_header(r, "Content-Type", "text/html; charset=utf-8");
    sq_set_header(r, "Cache-Control", "no-store");
    sq_printf(r,
              "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
              "<meta name='viewport' content='width=device-width'>"
              "<title>%s</title></head>\n<body>\n<h1>%s</h1>\n%s</body>"
              "</html>\n",
              title, title, body);
    return SQ_DONE;
}

static int login_form(sq_req *r, int status, const char *next,
                      const char *error)
{
    const char *field = sq_xsrf_form_html(r), *nx = html(r, next);
    const char *body;

    if (field == NULL || nx == NULL)
        return SQ_ERROR;
    body = sq_psprintf(sq_req_pool(r),
                       "%s<form method='post' action='/login'>\n%s\n"
                       "<input type='hidden' name='next' value='%s'>\n"
                       "<label>Name <input name='name' maxlength='%d' "
                       "autocomplete='username' required autofocus></label>\n"
                       "<button>Log in</button>\n</form>\n",
                       error, field, nx, MAX_NAME);
    return body != NULL ? page(r, status, "Log in", body) : SQ_ERROR;
}

/* GET /login?next=/x: the form. POST /login name=...&next=...: logs in. */
static int login(sq_req *r)
{
    const char *name, *next;

    if (strcmp(sq_method(r), "POST") != 0)
        return login_form(r, 200, local_path(sq_query_arg(r, "next")), "");
    next = local_path(sq_body_arg(r, "next"));
    name = sq_body_arg(r, "name");
    if (name == NULL || !valid_name(name))
        return login_form(r, 400, next,
                          "<p role='alert'>A name is 1 to 64 bytes of text, "
                          "not only spaces.</p>\n");
    if (sq_login(r, name) < 0)
        return SQ_ERROR;
    return sq_redirect(r, next, 303) == 0 ? SQ_DONE : SQ_ERROR;
}

/* GET /logout: a button (a GET changes nothing); POST /logout: logs out. */
static int logout(sq_req *r)
{
    const char *field, *body;

    if (strcmp(sq_method(r), "POST") == 0) {
        if (sq_logout(r) < 0)
            return SQ_ERROR;
        return sq_redirect(r, "/login", 303) == 0 ? SQ_DONE : SQ_ERROR;
    }
    if ((field = sq_xsrf_form_html(r)) == NULL)
        return SQ_ERROR;
    body = sq_psprintf(sq_req_pool(r),
                       "<form method='post' action='/logout'>\n%s\n"
                       "<button>Log out</button>\n</form>\n",
                       field);
    return body != NULL ? page(r, 200, "Log out", body) : SQ_ERROR;
}

/* GET /whoami (auth: login): the user's name, as text. */
static int whoami(sq_req *r)
{
    const char *user = sq_current_user(r);

    sq_set_header(r, "Content-Type", "text/plain; charset=utf-8");
    sq_set_header(r, "Cache-Control", "no-store");
    sq_printf(r, "%s\n", user != NULL ? user : "");
    return SQ_DONE;
}

SQ_MODULE(.name = "account", .handlers = SQ_HANDLERS(login, logout, whoami));
