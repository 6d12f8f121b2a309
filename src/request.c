/*
 * request.c - the request object: what the parser fills in, what handlers
 * read through the sq_* accessors, and its lifecycle (sq_flush,
 * sq_finish, sq_on_close, sq_on_drain), which reaches the connection only
 * through the request's transport operations (http1.c), never directly.
 */
#include "internal.h"

#include <string.h>
#include <strings.h>

void req_init(sq_req *r, sq_pool *pool, void *tp,
              const struct req_transport *ops)
{
    memset(r, 0, sizeof(*r));
    r->pool = pool;
    r->tp = tp;
    r->ops = ops;
    r->status = 200;
    r->query = "";
    r->version = 11;
}

int req_add_header(sq_req *r, const char *name, size_t nlen, const char *value,
                   size_t vlen)
{
    struct header *h;

    if (r->nheaders == r->cap_headers) {
        size_t cap = r->cap_headers ? r->cap_headers * 2 : 16;
        struct header *n = sq_palloc(r->pool, cap * sizeof(*n));
        if (n == NULL)
            return -1;
        if (r->nheaders > 0)
            memcpy(n, r->headers, r->nheaders * sizeof(*n));
        r->headers = n;
        r->cap_headers = cap;
    }
    h = &r->headers[r->nheaders++];
    h->name = name;
    h->value = value;
    h->name_len = (uint32_t)nlen;
    h->value_len = (uint32_t)vlen;
    return 0;
}

/* RFC 9112 3.2.2: in absolute-form the authority of the target replaces
 * Host, and the path is what follows it ("/" when empty). */
static int parse_absolute(sq_req *r, const char *t, const char **path)
{
    const char *auth, *end;

    if (strncasecmp(t, "http://", 7) == 0)
        auth = t + 7;
    else if (strncasecmp(t, "https://", 8) == 0)
        auth = t + 8;
    else
        return -1;
    end = auth + strcspn(auth, "/?#");
    if (end == auth)
        return -1;
    r->host = sq_pstrndup(r->pool, auth, (size_t)(end - auth));
    *path = end;
    return r->host == NULL ? -1 : 0;
}

int req_parse_target(sq_req *r)
{
    const char *t = r->target, *path = t, *q;
    size_t plen;

    if (t[0] == '*' && t[1] == '\0' && r->method == METHOD_OPTIONS) {
        r->path = "*";
        r->path_len = 1;
        return 0;
    }
    if (t[0] != '/' && parse_absolute(r, t, &path) < 0)
        return -1;
    plen = strcspn(path, "?#");
    q = path[plen] == '?' ? path + plen + 1 : NULL;
    if (plen == 0)
        r->path = sq_pstrdup(r->pool, "/");
    else
        r->path = sq_pstrndup(r->pool, path, plen);
    if (r->path == NULL)
        return -1;
    r->path_len = plen ? plen : 1;
    if (q != NULL) {
        r->query = sq_pstrndup(r->pool, q, strcspn(q, "#"));
        if (r->query == NULL)
            return -1;
    }
    return 0;
}

const char *sq_method(const sq_req *r)
{
    return r->method_s;
}

const char *sq_path(const sq_req *r)
{
    return r->path;
}

const char *sq_query(const sq_req *r)
{
    return r->query;
}

/* Decodes a query name or value in place. A broken escape, or a %00 that
 * would cut the C string short (?name=admin%00.evil read as "admin"), is
 * an error: the router refuses %00 in path parameters for the same reason. */
static int query_decode(char *s)
{
    size_t len = strlen(s);
    long n = url_decode(s, len, 1);

    return n < 0 || strlen(s) != (size_t)n ? -1 : 0;
}

/* Splits q ("a=1&b=2", NUL-terminated) into decoded name/value pairs in
 * pool: (*args)[2i] and (*args)[2i + 1], *n of them. A pair that does not
 * decode (see query_decode) is skipped, as Tornado skips broken ones; so
 * is one with an empty name. -1 when out of memory. */
int req_parse_pairs(sq_pool *pool, const char *q, char ***args, size_t *n)
{
    size_t cap = 1, i = 0;

    for (const char *s = q; *s; s++)
        cap += *s == '&';
    *n = 0;
    *args = sq_palloc(pool, 2 * cap * sizeof(char *));
    if (*args == NULL)
        return -1;
    while (*q != '\0') {
        size_t len = strcspn(q, "&"), klen = strcspn(q, "=");
        char *k, *v;

        if (klen > len)
            klen = len;
        k = sq_pstrndup(pool, q, klen);
        v = sq_pstrndup(pool, klen < len ? q + klen + 1 : "",
                        klen < len ? len - klen - 1 : 0);
        q += len + (q[len] == '&');
        if (k == NULL || v == NULL)
            return -1;
        if (klen == 0 || query_decode(k) < 0 || query_decode(v) < 0)
            continue;
        (*args)[2 * i] = k;
        (*args)[2 * i + 1] = v;
        i++;
    }
    *n = i;
    return 0;
}

/* The query's pairs, once. */
static void parse_query(sq_req *r)
{
    r->qargs_parsed = 1;
    if (req_parse_pairs(r->pool, r->query, &r->qargs, &r->nqargs) < 0)
        r->nqargs = 0;
}

const char *sq_query_arg_n(sq_req *r, const char *name, size_t n)
{
    if (!r->qargs_parsed)
        parse_query(r);
    for (size_t i = 0; i < r->nqargs; i++)
        if (strcmp(r->qargs[2 * i], name) == 0 && n-- == 0)
            return r->qargs[2 * i + 1];
    return NULL;
}

const char *sq_query_arg(sq_req *r, const char *name)
{
    return sq_query_arg_n(r, name, 0);
}

const char *sq_path_arg(const sq_req *r, const char *name)
{
    for (size_t i = 0; i < r->match.nparams; i++)
        if (strcmp(r->match.params[i].name, name) == 0)
            return r->match.params[i].value;
    return NULL;
}

const char *sq_header(const sq_req *r, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < r->nheaders; i++)
        if (name_eq(r->headers[i].name, r->headers[i].name_len, name, len))
            return r->headers[i].value;
    return NULL;
}

size_t sq_header_count(const sq_req *r)
{
    return r->nheaders;
}

int sq_header_at(const sq_req *r, size_t i, const char **name,
                 const char **value)
{
    if (i >= r->nheaders)
        return SQ_ERROR;
    *name = r->headers[i].name;
    *value = r->headers[i].value;
    return 0;
}

const char *sq_body(const sq_req *r, size_t *len)
{
    if (len != NULL)
        *len = r->body_len;
    return r->body ? r->body : "";
}

const char *sq_remote_addr(const sq_req *r)
{
    return r->remote;
}

const char *sq_scheme(const sq_req *r)
{
    return r->https ? "https" : "http";
}

int sq_http_version(const sq_req *r)
{
    return r->version;
}

sq_pool *sq_req_pool(sq_req *r)
{
    return r->pool;
}

/* --- the lifecycle ----------------------------------------------------- */

int sq_flush(sq_req *r)
{
    if (r->finished)
        return SQ_ERROR;
    if (r->tp == NULL)
        return 0; /* the client went away: dropped, as documented */
    return r->ops->flush(r);
}

int sq_on_drain(sq_req *r, void (*cb)(sq_req *r, void *arg), void *arg)
{
    if (r->finished || r->tp == NULL)
        return SQ_ERROR;
    r->on_drain = cb;
    r->on_drain_arg = arg;
    r->ops->want_drain(r);
    return 0;
}

size_t sq_output_pending(const sq_req *r)
{
    return r->tp != NULL ? r->ops->pending(r) : 0;
}

void sq_on_close(sq_req *r, void (*cb)(sq_req *r, void *arg), void *arg)
{
    r->on_close = cb;
    r->on_close_arg = arg;
}

int sq_connected(const sq_req *r)
{
    return r->tp != NULL;
}

void sq_finish(sq_req *r)
{
    if (r->finished)
        return;
    r->finished = 1;
    /* Inside the handler the connection finishes it when it returns. */
    if (r->in_handler)
        return;
    if (r->tp != NULL) {
        r->ops->finish(r);
        return;
    }
    /* Detached: the client left first. nginx's 499 says so in the access
     * log when nothing of the response had gone out. */
    if (!r->head_sent)
        r->status = 499;
    access_log(r);
    pool_recycle(r->pool);
}
