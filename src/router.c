/*
 * router.c - maps a request path and method to the target of a route.
 *
 * Three kinds of pattern, tried in this order:
 *
 *   exact     "/a/b"              a hash table keyed by the whole path;
 *   template  "/users/{id}/edit"  a trie with one level per path segment,
 *                                 literal children in a hash table and at
 *                                 most one {param} child per node;
 *   regex     "^/y/(?<year>\d+)"  PCRE2, in the order added.
 *
 * So finding an exact or template route costs one hash lookup per segment
 * whatever the number of routes; only regexes are tried one by one.
 *
 * Matching is on the raw, still percent-encoded path. Parameters are
 * decoded afterwards; a parameter that does not decode (bad %XX, or %00,
 * which a C string cannot carry) does not match.
 *
 * Methods take part in the search: the first route by precedence whose
 * path and method both match wins, so "GET /u/me" (exact) and
 * "DELETE /u/{id}" (template) both answer /u/me. Only when no route takes
 * the method does the union of the methods of the routes that matched the
 * path become a 405's Allow. Of two routes with the same pattern whose
 * methods overlap, the one added first wins.
 *
 * A regex must match the whole path, as in Tornado, which appends '$':
 * "^/a" does not match "/ab". It is compiled anchored at both ends
 * (PCRE2_ANCHORED | PCRE2_ENDANCHORED), which unlike appending '$' also
 * holds for top-level alternatives: "^/a|/ab" matches "/a" and "/ab" only.
 */
#include "internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

/* Method names ------------------------------------------------------- */

static const char *const method_names[METHOD_COUNT] = {
    [METHOD_GET] = "GET",         [METHOD_HEAD] = "HEAD",
    [METHOD_POST] = "POST",       [METHOD_PUT] = "PUT",
    [METHOD_DELETE] = "DELETE",   [METHOD_PATCH] = "PATCH",
    [METHOD_OPTIONS] = "OPTIONS", [METHOD_CONNECT] = "CONNECT",
    [METHOD_TRACE] = "TRACE",     [METHOD_OTHER] = "OTHER",
};

int method_from_name(const char *name, size_t len)
{
    int i;

    for (i = 0; i < METHOD_OTHER; i++)
        if (strlen(method_names[i]) == len &&
            memcmp(method_names[i], name, len) == 0)
            return i;
    return METHOD_OTHER;
}

/* "OTHER" for METHOD_OTHER and anything out of range: the request keeps
 * the name it was sent with. */
const char *method_name(int method)
{
    if (method < 0 || method >= METHOD_COUNT)
        return method_names[METHOD_OTHER];
    return method_names[method];
}

/* Appends s at buf[at] as far as it fits; returns strlen(s). */
static size_t put(char *buf, size_t len, size_t at, const char *s)
{
    size_t n = strlen(s), room;

    if (at + 1 >= len)
        return n;
    room = len - at - 1;
    if (n < room)
        room = n;
    memcpy(buf + at, s, room);
    buf[at + room] = '\0';
    return n;
}

/* Like snprintf: returns the length of the whole list and writes what fits,
 * NUL-terminated when len > 0. METHOD_OTHER has no name and is left out. */
size_t methods_format(unsigned methods, char *buf, size_t len)
{
    size_t n = 0;
    int i;

    if (len > 0)
        buf[0] = '\0';
    for (i = 0; i < METHOD_OTHER; i++) {
        if (!(methods & METHOD_BIT(i)))
            continue;
        if (n)
            n += put(buf, len, n, ", ");
        n += put(buf, len, n, method_names[i]);
    }
    return n;
}

static int method_allowed(unsigned methods, int method)
{
    if (methods == 0 || (methods & METHOD_BIT(method)))
        return 1;
    /* RFC 9110 9.3.2: a server that answers GET answers HEAD */
    return method == METHOD_HEAD && (methods & METHOD_BIT(METHOD_GET));
}

/* A hash table of byte strings ---------------------------------------- */

struct hnode {
    struct hnode *next;
    uint32_t hash;
    size_t len;
    void *value;
    char key[];
};

struct htab {
    struct hnode **buckets;
    size_t nbuckets; /* 0 or a power of two */
    size_t count;
};

/* FNV-1a. Keys come from the config; a client only chooses what is
 * looked up, which cannot lengthen a chain. */
static uint32_t hash_bytes(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static struct hnode *htab_find(const struct htab *t, const char *key,
                               size_t len, uint32_t h)
{
    struct hnode *n;

    if (t->nbuckets == 0)
        return NULL;
    for (n = t->buckets[h & (t->nbuckets - 1)]; n; n = n->next)
        if (n->hash == h && n->len == len && memcmp(n->key, key, len) == 0)
            return n;
    return NULL;
}

static void *htab_get(const struct htab *t, const char *key, size_t len)
{
    struct hnode *n = htab_find(t, key, len, hash_bytes(key, len));

    return n ? n->value : NULL;
}

static int htab_grow(struct htab *t)
{
    size_t nb = t->nbuckets ? t->nbuckets * 2 : 4, i;
    struct hnode **b = calloc(nb, sizeof(*b));

    if (!b)
        return -1;
    for (i = 0; i < t->nbuckets; i++) {
        struct hnode *n = t->buckets[i], *next;

        for (; n; n = next) {
            next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
    return 0;
}

/* The value slot of key, added (holding NULL) when absent; NULL when out
 * of memory. */
static void **htab_slot(struct htab *t, const char *key, size_t len)
{
    uint32_t h = hash_bytes(key, len);
    struct hnode *n = htab_find(t, key, len, h), **b;

    if (n)
        return &n->value;
    if (t->count >= t->nbuckets && htab_grow(t) < 0)
        return NULL;
    n = malloc(sizeof(*n) + len);
    if (!n)
        return NULL;
    n->hash = h;
    n->len = len;
    n->value = NULL;
    memcpy(n->key, key, len);
    b = &t->buckets[h & (t->nbuckets - 1)];
    n->next = *b;
    *b = n;
    t->count++;
    return &n->value;
}

/* Frees the table, and each value with free_value. */
static void htab_free(struct htab *t, void (*free_value)(void *))
{
    size_t i;

    for (i = 0; i < t->nbuckets; i++) {
        struct hnode *n = t->buckets[i], *next;

        for (; n; n = next) {
            next = n->next;
            free_value(n->value);
            free(n);
        }
    }
    free(t->buckets);
}

/* Routes --------------------------------------------------------------- */

/* One exact or template route. Several may share a pattern (a node). */
struct rentry {
    struct rentry *next; /* in the order added */
    unsigned methods;
    void *target;
    size_t nnames;
    const char *names[ROUTE_MAX_PARAMS]; /* point into text */
    char text[];                         /* the pattern, '}'s cut to NULs */
};

/* A trie node stands for the segments that lead to it. */
struct tnode {
    struct htab lit;       /* literal segment -> struct tnode */
    struct tnode *param;   /* the {param} child */
    struct rentry *routes; /* templates that end here */
};

struct rx {
    pcre2_code *code;
    pcre2_match_data *md; /* reused: router_match runs on one thread */
    unsigned methods;
    void *target;
    size_t nnames;
    struct {
        const char *name; /* in PCRE2's name table */
        uint32_t group;
    } names[ROUTE_MAX_PARAMS];
    char *pattern;
};

struct router {
    struct htab exact; /* path -> struct rentry list */
    struct tnode *root;
    struct rx *rx;
    size_t nrx, caprx;
};

static void rentry_free_list(void *p)
{
    struct rentry *e = p, *next;

    for (; e; e = next) {
        next = e->next;
        free(e);
    }
}

static struct rentry *rentry_new(const char *pattern, unsigned methods,
                                 void *target)
{
    size_t len = strlen(pattern);
    struct rentry *e = calloc(1, sizeof(*e) + len + 1);

    if (!e)
        return NULL;
    e->methods = methods;
    e->target = target;
    memcpy(e->text, pattern, len + 1);
    return e;
}

static void rentry_append(struct rentry **list, struct rentry *e)
{
    while (*list)
        list = &(*list)->next;
    *list = e;
}

struct router *router_new(void)
{
    return calloc(1, sizeof(struct router));
}

static void tnode_free(void *p)
{
    struct tnode *n = p;

    if (!n)
        return;
    htab_free(&n->lit, tnode_free);
    tnode_free(n->param);
    rentry_free_list(n->routes);
    free(n);
}

void router_free(struct router *rt)
{
    size_t i;

    if (!rt)
        return;
    htab_free(&rt->exact, rentry_free_list);
    tnode_free(rt->root);
    for (i = 0; i < rt->nrx; i++) {
        pcre2_match_data_free(rt->rx[i].md);
        pcre2_code_free(rt->rx[i].code);
        free(rt->rx[i].pattern);
    }
    free(rt->rx);
    free(rt);
}

/* Adding exact routes ------------------------------------------------- */

static int exact_add(struct router *rt, const char *pattern, unsigned methods,
                     void *target, char *err, size_t errlen)
{
    struct rentry *e = rentry_new(pattern, methods, target);
    void **slot;

    if (!e)
        goto oom;
    slot = htab_slot(&rt->exact, pattern, strlen(pattern));
    if (!slot)
        goto oom;
    rentry_append((struct rentry **)slot, e);
    return 0;
oom:
    free(e);
    errf(err, errlen, "route '%s': out of memory", pattern);
    return -1;
}

/* Adding templates ---------------------------------------------------- */

static int param_name_ok(const char *s, size_t len)
{
    size_t i;

    if (isdigit((unsigned char)s[0]))
        return 0;
    for (i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return 0;
    return 1;
}

/* Checks segment seg (len bytes of e->text) and, when it is a {param},
 * records its name in e. Returns 1 for a param, 0 for a literal, -1 (and
 * the reason in why) when it is malformed. */
static int segment_parse(struct rentry *e, char *seg, size_t len,
                         const char **why)
{
    char *open = memchr(seg, '{', len), *close = memchr(seg, '}', len);
    size_t i;

    if (!open && !close)
        return 0;
    if (open == seg && !close) {
        *why = "unclosed '{'";
        return -1;
    }
    if (open != seg || close != seg + len - 1 ||
        memchr(seg + 1, '{', len - 1) || memchr(seg, '}', len - 1)) {
        *why = "a {parameter} must be a whole path segment";
        return -1;
    }
    if (len == 2) {
        *why = "empty parameter name";
        return -1;
    }
    if (!param_name_ok(seg + 1, len - 2)) {
        *why = "a parameter name is letters, digits and '_'";
        return -1;
    }
    for (i = 0; i < e->nnames; i++)
        if (strlen(e->names[i]) == len - 2 &&
            memcmp(e->names[i], seg + 1, len - 2) == 0) {
            *why = "duplicate parameter name";
            return -1;
        }
    if (e->nnames == ROUTE_MAX_PARAMS) {
        *why = "too many parameters (at most " STR(ROUTE_MAX_PARAMS) ")";
        return -1;
    }
    seg[len - 1] = '\0';
    e->names[e->nnames++] = seg + 1;
    return 1;
}

static struct tnode *tnode_child(struct tnode *n, const char *seg, size_t len,
                                 int is_param)
{
    struct tnode **slot;

    if (is_param)
        slot = &n->param;
    else
        slot = (struct tnode **)htab_slot(&n->lit, seg, len);
    if (slot && !*slot)
        *slot = calloc(1, sizeof(**slot));
    return slot ? *slot : NULL;
}

/* Walks the segments of e->text after its leading '/', validating them
 * and recording parameter names in e; with a root, also descends (and
 * grows) the trie and sets *out to the node where the template ends. */
static int template_walk(struct tnode *root, struct rentry *e,
                         struct tnode **out, const char **why)
{
    char *seg = e->text + 1;
    struct tnode *n = root;

    for (;;) {
        char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        int kind = segment_parse(e, seg, len, why);

        if (kind < 0)
            return -1;
        if (n && !(n = tnode_child(n, seg, len, kind))) {
            *why = "out of memory";
            return -1;
        }
        if (!slash)
            break;
        seg = slash + 1;
    }
    *out = n;
    return 0;
}

static int template_add(struct router *rt, const char *pattern,
                        unsigned methods, void *target, char *err,
                        size_t errlen)
{
    struct rentry *e = rentry_new(pattern, methods, target);
    const char *why = "out of memory";
    struct tnode *n;

    if (!e || (!rt->root && !(rt->root = calloc(1, sizeof(*rt->root)))))
        goto fail;
    /* validate first, so that a bad template leaves no nodes behind */
    if (template_walk(NULL, e, &n, &why) < 0)
        goto fail;
    memcpy(e->text, pattern, strlen(pattern) + 1);
    e->nnames = 0;
    if (template_walk(rt->root, e, &n, &why) < 0)
        goto fail;
    rentry_append(&n->routes, e);
    return 0;
fail:
    free(e);
    errf(err, errlen, "route '%s': %s", pattern, why);
    return -1;
}

/* Adding regexes ------------------------------------------------------ */

/* Records the named groups of x->code as its parameters. */
static int rx_names(struct rx *x, const char **why)
{
    uint32_t count, size, i;
    PCRE2_SPTR table;

    pcre2_pattern_info(x->code, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(x->code, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(x->code, PCRE2_INFO_NAMETABLE, &table);
    if (count > ROUTE_MAX_PARAMS) {
        *why = "too many named groups (at most " STR(ROUTE_MAX_PARAMS) ")";
        return -1;
    }
    for (i = 0; i < count; i++) {
        PCRE2_SPTR ent = table + (size_t)i * size;

        /* an entry is the group number, big-endian, then the name */
        x->names[i].group = (uint32_t)ent[0] << 8 | ent[1];
        x->names[i].name = (const char *)ent + 2;
    }
    x->nnames = count;
    return 0;
}

static int rx_compile(struct rx *x, const char *pattern, char *err,
                      size_t errlen)
{
    int code;
    PCRE2_SIZE off;
    PCRE2_UCHAR msg[256];
    const char *why = "out of memory";

    x->code =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                      PCRE2_ANCHORED | PCRE2_ENDANCHORED, &code, &off, NULL);
    if (!x->code) {
        pcre2_get_error_message(code, msg, sizeof(msg));
        errf(err, errlen, "route '%s': bad regex: %s at offset %zu", pattern,
             (const char *)msg, (size_t)off);
        return -1;
    }
    /* JIT is only an accelerator: without it pcre2_match interprets */
    (void)pcre2_jit_compile(x->code, PCRE2_JIT_COMPLETE);
    if (rx_names(x, &why) < 0)
        goto fail;
    x->md = pcre2_match_data_create_from_pattern(x->code, NULL);
    x->pattern = strdup(pattern);
    if (!x->md || !x->pattern)
        goto fail;
    return 0;
fail:
    errf(err, errlen, "route '%s': %s", pattern, why);
    return -1;
}

static int regex_add(struct router *rt, const char *pattern, unsigned methods,
                     void *target, char *err, size_t errlen)
{
    struct rx *x;

    if (rt->nrx == rt->caprx) {
        size_t cap = rt->caprx ? rt->caprx * 2 : 8;
        struct rx *p = realloc(rt->rx, cap * sizeof(*p));

        if (!p) {
            errf(err, errlen, "route '%s': out of memory", pattern);
            return -1;
        }
        rt->rx = p;
        rt->caprx = cap;
    }
    x = &rt->rx[rt->nrx];
    memset(x, 0, sizeof(*x));
    x->methods = methods;
    x->target = target;
    if (rx_compile(x, pattern, err, errlen) < 0) {
        pcre2_match_data_free(x->md);
        pcre2_code_free(x->code);
        free(x->pattern);
        return -1;
    }
    rt->nrx++;
    return 0;
}

/* Copies n to buf at *at (NUL-terminated) and records it in names. */
static void name_copy(const char *n, char *buf, size_t *at, const char **names,
                      size_t i)
{
    size_t len = strlen(n);

    memcpy(buf + *at, n, len + 1);
    names[i] = buf + *at;
    *at += len + 1;
}

static int not_a_path(const char *pattern, char *err, size_t errlen)
{
    errf(err, errlen, "route '%s': a path must start with '/' (or '^' for a "
         "regex)",
         pattern);
    return -1;
}

int router_param_names(const char *pattern, char *buf,
                       const char *names[ROUTE_MAX_PARAMS], char *err,
                       size_t errlen)
{
    const char *why = "out of memory";
    struct rentry *e;
    struct tnode *n;
    struct rx x;
    size_t at = 0, i;
    int count;

    if (pattern[0] == '^') {
        memset(&x, 0, sizeof(x));
        if (rx_compile(&x, pattern, err, errlen) < 0) {
            count = -1;
        } else {
            /* a group's name is written in the pattern, with "(?<" and ">"
             * around it: the names fit in strlen(pattern) + 1 bytes */
            for (i = 0; i < x.nnames; i++)
                name_copy(x.names[i].name, buf, &at, names, i);
            count = (int)x.nnames;
        }
        pcre2_match_data_free(x.md);
        pcre2_code_free(x.code);
        free(x.pattern);
        return count;
    }
    if (pattern[0] != '/')
        return not_a_path(pattern, err, errlen);
    e = rentry_new(pattern, 0, NULL);
    if (!e || template_walk(NULL, e, &n, &why) < 0) {
        errf(err, errlen, "route '%s': %s", pattern, why);
        free(e);
        return -1;
    }
    for (i = 0; i < e->nnames; i++)
        name_copy(e->names[i], buf, &at, names, i);
    count = (int)e->nnames;
    free(e);
    return count;
}

int router_add(struct router *rt, const char *pattern, unsigned methods,
               void *target, char *err, size_t errlen)
{
    if (pattern[0] == '^')
        return regex_add(rt, pattern, methods, target, err, errlen);
    if (pattern[0] != '/')
        return not_a_path(pattern, err, errlen);
    if (strpbrk(pattern, "{}"))
        return template_add(rt, pattern, methods, target, err, errlen);
    return exact_add(rt, pattern, methods, target, err, errlen);
}

/* Matching ----------------------------------------------------------- */

struct span {
    const char *p;
    size_t len;
};

struct search {
    int method;
    unsigned allow;   /* methods of routes that matched the path only */
    int path_matched; /* some route matched the path */
    void *target;
    size_t nvals;
    struct span vals[ROUTE_MAX_PARAMS];
    const char *names[ROUTE_MAX_PARAMS];
};

/* Whether a parameter decodes to a C string: valid escapes, no %00. */
static int param_ok(const char *p, size_t len)
{
    size_t i;

    if (url_decoded_len(p, len) < 0)
        return 0;
    for (i = 0; i + 2 < len; i++)
        if (p[i] == '%' && p[i + 1] == '0' && p[i + 2] == '0')
            return 0;
    return 1;
}

/* Picks the first route of a list that takes the method; remembers the
 * methods of the others for Allow. */
static const struct rentry *pick(const struct rentry *e, struct search *s)
{
    for (; e; e = e->next) {
        if (method_allowed(e->methods, s->method))
            return e;
        s->allow |= e->methods;
        s->path_matched = 1;
    }
    return NULL;
}

static int found(const struct rentry *e, struct search *s)
{
    size_t i;

    s->target = e->target;
    for (i = 0; i < e->nnames; i++)
        s->names[i] = e->names[i];
    return 1;
}

static int match_exact(const struct router *rt, const char *path, size_t len,
                       struct search *s)
{
    const struct rentry *e = pick(htab_get(&rt->exact, path, len), s);

    return e ? found(e, s) : 0;
}

/* Depth-first: the literal child first, then the param child, so a
 * literal segment wins but "/users/new/edit" still reaches
 * "/users/{id}/edit" when "/users/new/..." leads nowhere. A node sits at a
 * fixed depth, so each is visited at most once. seg is the current
 * segment, NULL past the last one. */
static int walk(const struct tnode *n, const char *seg, const char *end,
                struct search *s)
{
    const char *slash, *next;
    const struct tnode *c;
    size_t len;

    if (!seg) {
        const struct rentry *e = pick(n->routes, s);

        return e ? found(e, s) : 0;
    }
    slash = memchr(seg, '/', (size_t)(end - seg));
    len = (size_t)((slash ? slash : end) - seg);
    next = slash ? slash + 1 : NULL;
    c = htab_get(&n->lit, seg, len);
    if (c && walk(c, next, end, s))
        return 1;
    if (!n->param || len == 0 || s->nvals == ROUTE_MAX_PARAMS ||
        !param_ok(seg, len))
        return 0;
    s->vals[s->nvals++] = (struct span){seg, len};
    if (walk(n->param, next, end, s))
        return 1;
    s->nvals--;
    return 0;
}

static int match_template(const struct router *rt, const char *path, size_t len,
                          struct search *s)
{
    if (!rt->root || len == 0 || path[0] != '/')
        return 0;
    return walk(rt->root, path + 1, path + len, s);
}

/* Takes the named groups that took part in the match as parameters. */
static int rx_params(const struct rx *x, const char *path, struct search *s)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(x->md);
    size_t i;

    s->nvals = 0;
    for (i = 0; i < x->nnames; i++) {
        PCRE2_SIZE a = ov[2 * x->names[i].group];
        PCRE2_SIZE b = ov[2 * x->names[i].group + 1];

        if (a == PCRE2_UNSET)
            continue;
        if (!param_ok(path + a, b - a))
            return 0;
        s->names[s->nvals] = x->names[i].name;
        s->vals[s->nvals++] = (struct span){path + a, b - a};
    }
    return 1;
}

static int rx_matches(const struct rx *x, const char *path, size_t len)
{
    int rc = pcre2_match(x->code, (PCRE2_SPTR)path, len, 0, 0, x->md, NULL);
    PCRE2_UCHAR msg[128];

    if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH)
        return rc >= 0;
    /* a match limit hit by a pathological path: the admin should know */
    pcre2_get_error_message(rc, msg, sizeof(msg));
    log_warn("route '%s': regex match failed: %s", x->pattern,
             (const char *)msg);
    return 0;
}

static int match_regex(const struct router *rt, const char *path, size_t len,
                       struct search *s)
{
    size_t i;

    for (i = 0; i < rt->nrx; i++) {
        const struct rx *x = &rt->rx[i];

        if (!rx_matches(x, path, len) || !rx_params(x, path, s))
            continue;
        if (method_allowed(x->methods, s->method)) {
            s->target = x->target;
            return 1;
        }
        s->allow |= x->methods;
        s->path_matched = 1;
    }
    s->nvals = 0;
    return 0;
}

/* Decodes the parameters of the winning route into pool. */
static int emit_params(const struct search *s, sq_pool *pool,
                       struct route_match *m)
{
    size_t i;

    for (i = 0; i < s->nvals; i++) {
        char *v = sq_palloc(pool, s->vals[i].len + 1);

        if (!v)
            return ROUTER_ERROR;
        memcpy(v, s->vals[i].p, s->vals[i].len);
        url_decode(v, s->vals[i].len, 0);
        m->params[i].name = s->names[i];
        m->params[i].value = v;
    }
    m->nparams = s->nvals;
    return ROUTER_OK;
}

int router_match(const struct router *rt, const char *path, size_t len,
                 int method, sq_pool *pool, struct route_match *m)
{
    struct search s;

    memset(&s, 0, sizeof(s));
    s.method = method >= 0 && method < METHOD_COUNT ? method : METHOD_OTHER;
    m->target = NULL;
    m->allow = 0;
    m->nparams = 0;
    if (match_exact(rt, path, len, &s) || match_template(rt, path, len, &s) ||
        match_regex(rt, path, len, &s)) {
        m->target = s.target;
        return emit_params(&s, pool, m);
    }
    if (!s.path_matched)
        return ROUTER_NOT_FOUND;
    m->allow = s.allow;
    if (s.allow & METHOD_BIT(METHOD_GET))
        m->allow |= METHOD_BIT(METHOD_HEAD);
    return ROUTER_BAD_METHOD;
}
