/*
 * security.c - the secrets, cookies, signed cookies, current user and XSRF
 * tokens of requests, and the route options that run before a route's
 * target: auth (login; jwt in jwtauth.c), then the XSRF check.
 *
 * The formats are Tornado's (signed.c, cookie.c); this file applies them
 * to requests the way tornado.web.RequestHandler does, so that a Tornado
 * application and squalld behind the same nginx share cookies.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#define SECRET_MIN 32          /* bytes: a shorter key is guessable */
#define SECRET_MAX (64 * 1024) /* a larger "secret" is the wrong file */
#define SIGNED_SKEW 300        /* seconds a timestamp may be ahead */
#define XSRF_COOKIE "_xsrf"
#define XSRF_RAW_LEN 16        /* as Tornado's os.urandom(16) */
#define DAY (24 * 60 * 60)

static const struct security_conf *S;

/* --- secrets ----------------------------------------------------------- */

static int secret_fail(const struct secret_conf *s, char *err, size_t errlen,
                       const char *what)
{
    snprintf(err, errlen, "%s:%d:%d: secret file %s %s", s->mark.file,
             s->mark.line, s->mark.col, s->file, what);
    return -1;
}

static int load_one(struct secret_conf *s, char *err, size_t errlen)
{
    char what[128];
    struct stat st;
    ssize_t n;
    size_t len;
    int fd;

    fd = open(s->file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(what, sizeof(what), "cannot be opened: %s", strerror(errno));
        return secret_fail(s, err, errlen, what);
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return secret_fail(s, err, errlen, "is not a regular file");
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        close(fd);
        snprintf(what, sizeof(what),
                 "is open to group or others (mode %04o); make it 0600 or "
                 "0400",
                 (unsigned)(st.st_mode & 07777));
        return secret_fail(s, err, errlen, what);
    }
    if (st.st_size > SECRET_MAX) {
        close(fd);
        return secret_fail(s, err, errlen, "is larger than 64 KiB");
    }
    s->key = malloc((size_t)st.st_size + 1);
    if (s->key == NULL) {
        close(fd);
        return secret_fail(s, err, errlen, "does not fit in memory");
    }
    len = 0;
    while (len <= (size_t)st.st_size &&
           (n = read(fd, s->key + len, (size_t)st.st_size + 1 - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            snprintf(what, sizeof(what), "cannot be read: %s",
                     strerror(errno));
            return secret_fail(s, err, errlen, what);
        }
        len += (size_t)n;
    }
    close(fd);
    if (len > (size_t)st.st_size)
        return secret_fail(s, err, errlen, "grew while it was read");
    /* the content without its trailing newline (echo, editors) */
    if (len > 0 && s->key[len - 1] == '\n')
        len--;
    if (len > 0 && s->key[len - 1] == '\r')
        len--;
    s->len = len;
    if (len < SECRET_MIN) {
        snprintf(what, sizeof(what),
                 "is too short: %zu bytes, at least %d are needed (for "
                 "example: head -c 32 /dev/urandom | base64)",
                 len, SECRET_MIN);
        return secret_fail(s, err, errlen, what);
    }
    return 0;
}

int security_read_secret(struct secret_conf *s, char *err, size_t errlen)
{
    return load_one(s, err, errlen);
}

int security_load(struct config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->security.nsecrets; i++)
        if (load_one(&cfg->security.secrets[i], err, errlen) < 0)
            return -1;
    return jwt_load(cfg->security.jwt, err, errlen);
}

void security_setup(const struct security_conf *sc)
{
    S = sc;
    jwt_setup(sc != NULL ? sc->jwt : NULL);
}

/* Tornado's secret lookup: a single secret signs every key version (and
 * version 1 values, which have none); a map answers its own keys. */
static int secret_of(void *arg UNUSED, long kv, const void **secret,
                     size_t *len)
{
    if (S == NULL)
        return -1;
    for (size_t i = 0; i < S->nsecrets; i++) {
        const struct secret_conf *s = &S->secrets[i];
        if (s->key == NULL)
            continue;
        if (s->version == SIGNED_KV_NONE || s->version == kv) {
            *secret = s->key;
            *len = s->len;
            return 0;
        }
    }
    return -1;
}

/* The secret that signs new values, and its key version (Tornado writes
 * 0 when it has a single secret). */
static const struct secret_conf *signing_secret(long *kv)
{
    if (S == NULL)
        return NULL;
    for (size_t i = 0; i < S->nsecrets; i++) {
        const struct secret_conf *s = &S->secrets[i];
        if (s->key != NULL && (s->version == SIGNED_KV_NONE ||
                               s->version == S->key_version)) {
            *kv = s->version == SIGNED_KV_NONE ? 0 : s->version;
            return s;
        }
    }
    return NULL;
}

/* --- form fields --------------------------------------------------------- */

struct form_acc {
    sq_pool *pool;
    struct form_field *f;
    size_t n, cap;
};

static int add_part(void *arg, const struct form_part *p)
{
    struct form_acc *a = arg;
    struct form_field *f, *nf;

    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 8;
        if ((nf = sq_palloc(a->pool, cap * sizeof(*nf))) == NULL)
            return -1;
        if (a->n > 0)
            memcpy(nf, a->f, a->n * sizeof(*nf));
        a->f = nf;
        a->cap = cap;
    }
    f = &a->f[a->n];
    if (memchr(p->name, '\0', p->nlen) != NULL ||
        (p->filename == NULL && memchr(p->data, '\0', p->dlen) != NULL))
        return 0; /* not a C string: skipped, as sq_query_arg skips */
    f->name = sq_pstrndup(a->pool, p->name, p->nlen);
    f->value = sq_pstrndup(a->pool, p->data, p->dlen);
    f->len = p->dlen;
    f->filename = p->filename != NULL
                      ? sq_pstrndup(a->pool, p->filename, p->flen)
                      : NULL;
    f->content_type =
        p->ctype != NULL ? sq_pstrndup(a->pool, p->ctype, p->clen) : NULL;
    if (f->name == NULL || f->value == NULL ||
        (p->filename != NULL && f->filename == NULL) ||
        (p->ctype != NULL && f->content_type == NULL))
        return -1;
    a->n++;
    return 0;
}

/* Reads the body's fields once: urlencoded or multipart, by Content-Type;
 * any other body has none. */
static void parse_body(sq_req *r)
{
    const char *ct = sq_header(r, "Content-Type"), *b;
    struct form_acc a = {r->pool, NULL, 0, 0};
    char err[128], **pairs, *text;
    size_t blen, n;

    r->bargs_parsed = 1;
    if (ct == NULL || r->body_len == 0)
        return;
    if (strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0 &&
        (ct[33] == '\0' || ct[33] == ';' || ct[33] == ' ')) {
        text = sq_pstrndup(r->pool, r->body, r->body_len);
        if (text == NULL || strlen(text) != r->body_len ||
            req_parse_pairs(r->pool, text, &pairs, &n) < 0)
            return;
        a.f = sq_pcalloc(r->pool, (n ? n : 1) * sizeof(*a.f));
        if (a.f == NULL)
            return;
        for (size_t i = 0; i < n; i++) {
            a.f[i].name = pairs[2 * i];
            a.f[i].value = pairs[2 * i + 1];
            a.f[i].len = strlen(pairs[2 * i + 1]);
        }
        r->bargs = a.f;
        r->nbargs = n;
        return;
    }
    if (form_boundary(ct, &b, &blen) < 0)
        return;
    if (form_multipart_each(b, blen, r->body, r->body_len, add_part, &a, err,
                            sizeof(err)) < 0)
        log_info("%s: %s %s: malformed multipart/form-data body: %s",
                 r->remote, r->method_s, r->path, err);
    r->bargs = a.f;
    r->nbargs = a.n;
}

static const struct form_field *field_at(sq_req *r, const char *name,
                                         size_t n, int file)
{
    if (!r->bargs_parsed)
        parse_body(r);
    for (size_t i = 0; i < r->nbargs; i++)
        if ((r->bargs[i].filename != NULL) == file &&
            strcmp(r->bargs[i].name, name) == 0 && n-- == 0)
            return &r->bargs[i];
    return NULL;
}

const char *sq_body_arg_n(sq_req *r, const char *name, size_t n)
{
    const struct form_field *f = field_at(r, name, n, 0);

    return f != NULL ? f->value : NULL;
}

const char *sq_body_arg(sq_req *r, const char *name)
{
    return sq_body_arg_n(r, name, 0);
}

const char *sq_body_file(sq_req *r, const char *name, size_t *len,
                         const char **filename, const char **content_type)
{
    const struct form_field *f = field_at(r, name, 0, 1);

    if (f == NULL)
        return NULL;
    if (len != NULL)
        *len = f->len;
    if (filename != NULL)
        *filename = f->filename;
    if (content_type != NULL)
        *content_type = f->content_type;
    return f->value;
}

/* --- cookies ------------------------------------------------------------- */

/* The last cookie named name over every Cookie header, with its length. */
static const char *cookie_value(sq_req *r, const char *name, size_t *vlen)
{
    const char *hn, *hv, *found = NULL;
    char *scratch, *out;
    size_t i, hl;
    long n;

    for (i = 0; i < sq_header_count(r); i++) {
        if (sq_header_at(r, i, &hn, &hv) < 0 || strcasecmp(hn, "Cookie") != 0)
            continue;
        hl = strlen(hv);
        scratch = sq_palloc(r->pool, hl + 1);
        out = sq_palloc(r->pool, hl + 1);
        if (scratch == NULL || out == NULL)
            return NULL;
        n = cookie_get(hv, hl, name, scratch, hl + 1, out, hl + 1);
        if (n >= 0) {
            out[n] = '\0';
            found = out;
            *vlen = (size_t)n;
        }
    }
    return found;
}

const char *sq_cookie(sq_req *r, const char *name)
{
    size_t len;
    const char *v = cookie_value(r, name, &len);

    return v != NULL && strlen(v) == len ? v : NULL;
}

/* Replaces the Set-Cookie for name already in the response, if any:
 * Tornado keeps one per name (the last set). */
static void drop_set_cookie(sq_req *r, const char *name)
{
    size_t nl = strlen(name), j = 0;

    for (size_t i = 0; i < r->nout; i++) {
        const struct header *h = &r->out_headers[i];
        if (h->name_len == 10 && strncasecmp(h->name, "Set-Cookie", 10) == 0 &&
            h->value_len > nl && strncmp(h->value, name, nl) == 0 &&
            h->value[nl] == '=')
            continue;
        r->out_headers[j++] = *h;
    }
    r->nout = j;
}

static int set_cookie(sq_req *r, const char *name, const char *value,
                      size_t vlen, const sq_cookie_opts *o,
                      const char *caller)
{
    static const sq_cookie_opts none;
    struct cookie_attrs a;
    char err[256], *out;
    size_t cap, outlen;

    if (o == NULL)
        o = &none;
    if (r->head_sent) {
        log_error("%s: cookie '%s' set after the head was sent", caller,
                  name);
        return SQ_ERROR;
    }
    memset(&a, 0, sizeof(a));
    a.domain = o->domain;
    a.path = o->path != NULL ? o->path : "/";
    a.samesite = o->same_site;
    a.has_expires = o->expires != 0;
    a.expires = o->expires;
    a.has_max_age = o->max_age != 0;
    a.max_age = o->max_age;
    a.httponly = o->http_only;
    a.secure = o->secure > 0 || (o->secure == 0 && r->https);
    /* every byte quoted as \ooo at worst, and the attributes */
    cap = strlen(name) + 4 * vlen + 3 + 256 +
          (a.domain != NULL ? strlen(a.domain) : 0) + strlen(a.path) +
          (a.samesite != NULL ? strlen(a.samesite) : 0);
    if ((out = sq_palloc(r->pool, cap)) == NULL)
        return SQ_ERROR;
    if (cookie_format(name, value, vlen, &a, out, cap, &outlen, err,
                      sizeof(err)) < 0) {
        log_error("%s: %s", caller, err);
        return SQ_ERROR;
    }
    drop_set_cookie(r, name);
    return sq_add_header(r, "Set-Cookie", out);
}

int sq_set_cookie(sq_req *r, const char *name, const char *value,
                  const sq_cookie_opts *o)
{
    return set_cookie(r, name, value, strlen(value), o, "sq_set_cookie");
}

int sq_clear_cookie(sq_req *r, const char *name, const sq_cookie_opts *o)
{
    sq_cookie_opts c = {0};

    if (o != NULL) {
        c.domain = o->domain;
        c.path = o->path;
    }
    c.expires = (long long)time(NULL) - 365 * DAY;
    c.max_age = 0;
    return set_cookie(r, name, "", 0, &c, "sq_clear_cookie");
}

/* --- signed cookies ------------------------------------------------------ */

int sq_set_signed_cookie(sq_req *r, const char *name, const void *value,
                         size_t len, const sq_cookie_opts *o)
{
    static const sq_cookie_opts none;
    const struct secret_conf *s;
    char err[256], out[SIGNED_MAX + 1];
    sq_cookie_opts c;
    size_t outlen;
    long kv;
    time_t now = time(NULL);

    if ((s = signing_secret(&kv)) == NULL) {
        log_error("sq_set_signed_cookie: no security.cookie_secret_file "
                  "is configured");
        return SQ_ERROR;
    }
    if (signed_create(s->key, s->len, kv, name, value, len, (int64_t)now, out,
                      sizeof(out), &outlen, err, sizeof(err)) < 0) {
        log_error("sq_set_signed_cookie: %s", err);
        return SQ_ERROR;
    }
    c = o != NULL ? *o : none;
    if (c.expires == 0)
        c.expires = (long long)now + 30 * DAY;
    else if (c.expires < 0)
        c.expires = 0;
    return set_cookie(r, name, out, outlen, &c, "sq_set_signed_cookie");
}

const char *sq_signed_cookie(sq_req *r, const char *name,
                             unsigned max_age_days, size_t *len)
{
    struct signed_opts o = {secret_of, NULL, 31, SIGNED_SKEW, 1};
    const char *raw;
    char err[256], *out;
    size_t rlen, outlen;
    int rc;

    if ((raw = cookie_value(r, name, &rlen)) == NULL)
        return NULL;
    if (max_age_days == 0)
        max_age_days = S != NULL ? S->max_age_days : 31;
    o.max_age_days = max_age_days;
    if ((out = sq_palloc(r->pool, rlen + 1)) == NULL)
        return NULL;
    rc = signed_decode(&o, name, raw, rlen, (int64_t)time(NULL), out, rlen,
                       &outlen, err, sizeof(err));
    if (rc < 0) {
        log_debug("%s: signed cookie '%s' refused: %s", r->remote, name, err);
        return NULL;
    }
    out[outlen] = '\0';
    if (len != NULL)
        *len = outlen;
    return out;
}

const char *sq_current_user(sq_req *r)
{
    const char *v;
    size_t len;

    if (r->user_known)
        return r->user;
    r->user_known = 1;
    if (S == NULL || S->nsecrets == 0)
        return NULL;
    v = sq_signed_cookie(r, S->user_cookie, 0, &len);
    if (v != NULL && len > 0 && strlen(v) == len)
        r->user = v;
    return r->user;
}

int sq_login(sq_req *r, const char *user)
{
    sq_cookie_opts o = {0};

    if (S == NULL || user == NULL || *user == '\0')
        return SQ_ERROR;
    o.http_only = 1;
    o.same_site = "Lax";
    if (sq_set_signed_cookie(r, S->user_cookie, user, strlen(user), &o) < 0)
        return SQ_ERROR;
    r->user = sq_pstrdup(r->pool, user);
    r->user_known = r->user != NULL;
    return 0;
}

int sq_logout(sq_req *r)
{
    if (S == NULL)
        return SQ_ERROR;
    r->user = NULL;
    r->user_known = 1;
    return sq_clear_cookie(r, S->user_cookie, NULL);
}

/* --- XSRF ---------------------------------------------------------------- */

/* The raw token of the _xsrf cookie (Tornado's _get_raw_xsrf_token);
 * 0, or -1 when there is no valid one. */
static int cookie_token(sq_req *r, struct xsrf_token *t)
{
    const char *v;
    size_t len;

    if ((v = cookie_value(r, XSRF_COOKIE, &len)) == NULL)
        return -1;
    return xsrf_decode(v, len, (int64_t)time(NULL), t, NULL, 0);
}

const char *sq_xsrf_token(sq_req *r)
{
    unsigned char mask[XSRF_MASK_LEN];
    struct xsrf_token t;
    sq_cookie_opts o = {0};
    char *out;
    int fresh = 0;

    if (r->xsrf != NULL)
        return r->xsrf;
    if (cookie_token(r, &t) < 0) {
        t.version = 2;
        t.len = XSRF_RAW_LEN;
        t.timestamp = (int64_t)time(NULL);
        if (RAND_bytes(t.raw, XSRF_RAW_LEN) != 1)
            return NULL;
        fresh = 1;
    }
    if (RAND_bytes(mask, sizeof(mask)) != 1 ||
        (out = sq_palloc(r->pool, XSRF_V2_MAX)) == NULL ||
        xsrf_encode_v2(t.raw, t.len, mask, t.timestamp, out, XSRF_V2_MAX) < 0)
        return NULL;
    if (fresh) {
        /* as Tornado: kept 30 days for a logged-in user, else a session */
        if (sq_current_user(r) != NULL)
            o.expires = (long long)time(NULL) + 30 * DAY;
        if (set_cookie(r, XSRF_COOKIE, out, strlen(out), &o, "sq_xsrf_token") < 0)
            return NULL;
    }
    r->xsrf = out;
    return out;
}

const char *sq_xsrf_form_html(sq_req *r)
{
    const char *t = sq_xsrf_token(r);

    /* the token is digits, hex and '|': nothing to escape */
    return t != NULL ? sq_psprintf(r->pool,
                                   "<input type=\"hidden\" name=\"_xsrf\" "
                                   "value=\"%s\"/>",
                                   t)
                     : NULL;
}

/* Tornado's check_xsrf_cookie: the _xsrf argument (form field, then
 * query) or header must carry the raw token of the _xsrf cookie. */
static int check_xsrf(sq_req *r)
{
    struct xsrf_token sent, cookie;
    const char *tok, *from = "'_xsrf' form field";
    char err[128];

    tok = sq_body_arg(r, "_xsrf");
    if (tok == NULL && (tok = sq_query_arg(r, "_xsrf")) != NULL)
        from = "'_xsrf' query argument";
    if (tok == NULL && (tok = sq_header(r, "X-XSRFToken")) != NULL)
        from = "X-XSRFToken header";
    if (tok == NULL && (tok = sq_header(r, "X-CSRFToken")) != NULL)
        from = "X-CSRFToken header";
    if (tok == NULL || *tok == '\0') {
        log_notice("%s: %s %s: XSRF check failed: no '_xsrf' form field, "
                   "X-XSRFToken or X-CSRFToken header",
                   r->remote, r->method_s, r->path);
        return -1;
    }
    if (xsrf_decode(tok, strlen(tok), (int64_t)time(NULL), &sent, err,
                    sizeof(err)) < 0) {
        log_notice("%s: %s %s: XSRF check failed: the %s is malformed: %s",
                   r->remote, r->method_s, r->path, from, err);
        return -1;
    }
    if (cookie_token(r, &cookie) < 0) {
        log_notice("%s: %s %s: XSRF check failed: no valid '_xsrf' cookie "
                   "to match the %s",
                   r->remote, r->method_s, r->path, from);
        return -1;
    }
    if (!xsrf_equal(&sent, &cookie)) {
        log_notice("%s: %s %s: XSRF check failed: the %s does not match "
                   "the '_xsrf' cookie",
                   r->remote, r->method_s, r->path, from);
        return -1;
    }
    return 0;
}

static int xsrf_applies(const struct route *rt, const sq_req *r)
{
    int on = rt->conf->xsrf;

    if (on < 0) /* a bearer token is not sent by a browser on its own */
        on = S != NULL && S->xsrf_cookies && rt->conf->auth != AUTH_JWT;
    return on && r->method != METHOD_GET && r->method != METHOD_HEAD &&
           r->method != METHOD_OPTIONS;
}

/* --- auth: login ----------------------------------------------------------- */

/* Python's quote_plus: what urlencode({"next": uri}) writes. */
static char *quote_plus(sq_pool *p, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = sq_palloc(p, 3 * strlen(s) + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
            c == '~') {
            *o++ = (char)c;
        } else if (c == ' ') {
            *o++ = '+';
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

/* Tornado's @authenticated: a GET or HEAD goes to the login page with
 * next= the request (the full URL when the login page is on another
 * origin), anything else is refused. */
static int need_login(sq_req *r)
{
    const char *url = S->login_url, *next;
    char *loc;

    if (sq_current_user(r) != NULL)
        return 0;
    if (r->method != METHOD_GET && r->method != METHOD_HEAD) {
        log_info("%s: %s %s: 403, no logged-in user", r->remote, r->method_s,
                 r->path);
        sq_send_error(r, 403);
        return ROUTE_ANSWERED;
    }
    next = r->target;
    if (strstr(url, "://") != NULL && r->host != NULL)
        next = sq_psprintf(r->pool, "%s://%s%s", sq_scheme(r), r->host,
                           r->target);
    if (next == NULL || (next = quote_plus(r->pool, next)) == NULL ||
        (loc = sq_psprintf(r->pool, "%s%cnext=%s", url,
                           strchr(url, '?') != NULL ? '&' : '?', next)) ==
            NULL ||
        sq_redirect(r, loc, 302) < 0)
        sq_send_error(r, 500);
    return ROUTE_ANSWERED;
}

int security_auth(const struct route *rt, sq_req *r)
{
    if (r->auth_done)
        return 0;
    r->auth_done = 1;
    switch (rt->conf->auth) {
    case AUTH_LOGIN:
        if (S == NULL)
            fatal("route %s: auth: login without security settings",
                  rt->conf->path);
        return need_login(r);
    case AUTH_JWT:
        return jwt_route(rt, r);
    default:
        return 0;
    }
}

int security_route(const struct route *rt, sq_req *r)
{
    if (security_auth(rt, r) == ROUTE_ANSWERED)
        return ROUTE_ANSWERED;
    if (xsrf_applies(rt, r) && check_xsrf(r) < 0) {
        sq_send_error(r, 403);
        return ROUTE_ANSWERED;
    }
    return 0;
}
