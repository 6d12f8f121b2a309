/*
 * config.c - the YAML configuration file, turned into a struct config.
 *
 * Two passes. The first (yamltree.c) reads the YAML into a small tree of
 * nodes that remember where they stood in the file. The second, here,
 * walks that tree against the schema below, one table of keys per section,
 * and fills plain structs.
 * Nothing here opens a socket, a log or a module, so checking a file
 * (squalld -t, or a new file on reload) changes nothing that runs.
 *
 * Every error is one line "file:line:col: message" pointing at the node
 * that is wrong; the first error stops the parse.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define SUGGEST_MAX 64 /* words longer than this get no suggestion */

#define KIB 1024ULL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define SECOND 1000U /* durations are in milliseconds */
#define MINUTE (60 * SECOND)
#define MAX_AGE_DAYS_MAX 36500 /* a century: beyond, a typo */
#define JWT_LEEWAY_MAX (HOUR)  /* clocks further apart need fixing */
#define HOUR (60 * MINUTE)

/*
 * The ranges of sizes, durations and counts. Each bound keeps a value that
 * the runtime can compute with (http.c adds 1 to max_header_size; the
 * master's poll(2) takes an int of milliseconds) and refuses what can only
 * be a typo or a misunderstanding. squall.reference.yaml and
 * squall.yaml(5) give the same ranges and the reasons to users.
 */
#define WORKERS_MAX 256           /* more than the cores of any one machine */
#define THREAD_POOL_MAX 64        /* per worker; each thread has its stack */
#define HEADER_SIZE_MIN (1 * KIB) /* a request line, Host and a few headers */
#define HEADER_SIZE_MAX (1 * MIB) /* a head is buffered whole, per request */
#define URI_SIZE_MIN 256          /* its max is max_header_size: see below */
#define BODY_SIZE_MAX (1 * GIB)   /* a body is held in memory whole */
#define TIMEOUT_MIN 100  /* ms; less turns scheduling noise into 408s */
#define TIMEOUT_MAX HOUR /* header_timeout, body_timeout */
#define IDLE_TIMEOUT_MAX (24 * HOUR) /* a quiet proxy keep-alive connection */
#define SHUTDOWN_TIMEOUT_MAX HOUR    /* 0 is allowed: stop at once */
#define CONNECTIONS_MAX 1000000      /* per worker; under fs.nr_open, 1048576 */
#define BODY_RATE_MAX (1 * GIB)      /* bytes/s; no client sends faster */
#define BODY_GRACE_MIN SECOND /* less refuses bodies sent after a pause */
#define BODY_GRACE_MAX HOUR
/* websocket: a message is held whole (and inflated whole) in memory; the
 * send buffer stays under conn.c's CONN_OUT_LIMIT, where a connection is
 * dropped without a close frame */
#define WS_MESSAGE_MIN 125
#define WS_MESSAGE_MAX (1 * GIB)
#define WS_SEND_MIN (1 * KIB)
#define WS_SEND_MAX (8 * MIB)
/* pubsub: the hub holds every channel's history in its one process; a
 * message is copied whole into history and into every worker's queue */
#define HISTORY_MAX 100000           /* messages per channel */
#define HISTORY_TTL_MIN SECOND       /* less is no history at all */
#define HISTORY_TTL_MAX (168 * HOUR) /* 7 days */
#define CHANNELS_MAX 10000000        /* a channel costs ~100 bytes + name */
#define PUBSUB_MESSAGE_MAX (16 * MIB)
#define HISTORY_MEMORY_MAX (16 * GIB) /* 0: no history kept */
#define HUB_QUEUE_MIN (64 * KIB)
#define HUB_QUEUE_MAX (1 * GIB)
#define POLL_TIMEOUT_MAX HOUR   /* subscribe.poll_timeout, sse_keepalive */
#define REDIS_DB_MAX 2147483647 /* Redis's databases setting is an int */

/* Context of one parse ------------------------------------------------- */

struct ctx {
    struct conf_err e; /* file, and where the message goes */
    struct config *cfg;
    const char *basedir; /* for relative file paths; NULL: keep them */
    /* server.limits.max_uri_size as written, or NULL: checked against
     * max_header_size once the whole section is read */
    const struct ynode *uri_size;
    /* the route being read: its subscribe/publish channel, checked
     * against its path's parameters once the whole route is read */
    const struct ynode *channel;
};

#define fail(c, ...) conf_fail(&(c)->e, __VA_ARGS__)
#define mark_at(c, line, col) conf_mark_at(&(c)->e, line, col)

/* Values: sizes, durations, integers, strings ----------------------------- */

/*
 * Decimal digits only (no sign, no space), at least one: -EINVAL without
 * one. A number above max is -ERANGE, but only after all its digits are
 * read, so that the caller can still tell a bad unit from a large number.
 */
static int parse_digits(const char **s, uint64_t max, uint64_t *out)
{
    const char *p = *s;
    uint64_t n = 0, d;
    int over = 0;

    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        d = (uint64_t)(*p - '0');
        if (n > (max - d) / 10)
            over = 1;
        else
            n = n * 10 + d;
    }
    *s = p;
    *out = n;
    return over ? -ERANGE : 0;
}

struct unit {
    const char *name;
    uint64_t mult;
};

static const struct unit size_units[] = {
    {"", 1},    {"k", KIB}, {"K", KIB}, {"m", MIB},
    {"M", MIB}, {"g", GIB}, {"G", GIB}, {NULL, 0},
};

static const struct unit duration_units[] = {
    {"", SECOND},  {"ms", 1},   {"s", SECOND},
    {"m", MINUTE}, {"h", HOUR}, {NULL, 0},
};

/* A number and a unit, nothing else; -EINVAL for bad text, -ERANGE for a
 * value above max (never a wrapped one). */
static int parse_number(const char *s, const struct unit *units, uint64_t max,
                        uint64_t *out)
{
    uint64_t n;
    int rc;

    if (s == NULL)
        return -EINVAL;
    rc = parse_digits(&s, max, &n);
    if (rc == -EINVAL)
        return rc;
    for (; units->name != NULL; units++)
        if (strcmp(units->name, s) == 0)
            break;
    if (units->name == NULL)
        return -EINVAL;
    if (rc < 0 || n > max / units->mult)
        return -ERANGE;
    *out = n * units->mult;
    return 0;
}

int parse_size(const char *s, size_t *out)
{
    uint64_t n;
    int rc = parse_number(s, size_units, SIZE_MAX, &n);

    if (rc == 0)
        *out = (size_t)n;
    return rc;
}

int parse_duration(const char *s, unsigned *ms_out)
{
    uint64_t n;
    int rc = parse_number(s, duration_units, UINT_MAX, &n);

    if (rc == 0)
        *ms_out = (unsigned)n;
    return rc;
}

/* For messages: n in the largest of units (largest first, down to 1) that
 * divides it, "16k", "1g", "20s", "100ms"; 0 is "0". */
static const char *format_number(uint64_t n, const struct unit *units,
                                 char *buf, size_t len)
{
    if (n == 0) {
        snprintf(buf, len, "0");
        return buf;
    }
    while (n % units->mult != 0)
        units++;
    snprintf(buf, len, "%llu%s", (unsigned long long)(n / units->mult),
             units->name);
    return buf;
}

static const struct unit size_display[] = {
    {"g", GIB}, {"m", MIB}, {"k", KIB}, {"", 1}};
static const struct unit duration_display[] = {
    {"h", HOUR}, {"m", MINUTE}, {"s", SECOND}, {"ms", 1}};

/* [A-Za-z_][A-Za-z0-9_]*, the first len bytes of s. */
static int is_ident(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || isdigit((unsigned char)s[0]))
        return 0;
    for (i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return 0;
    return 1;
}

static int wrong_type(struct ctx *c, const struct ynode *v, const char *where,
                      const char *expected)
{
    if (*where == '\0')
        return fail(c, v->mark, "expected %s at the top level, got %s",
                    expected, ynode_kind(v));
    return fail(c, v->mark, "expected %s for %s, got %s", expected, where,
                ynode_kind(v));
}

/* A non-empty scalar. */
static int get_string(struct ctx *c, const struct ynode *v, const char *where,
                      const char **out)
{
    *out = NULL; /* (also keeps gcc's -Wmaybe-uninitialized quiet) */
    if (v->type == YNODE_SCALAR && !v->is_null && v->text[0] == '\0')
        return fail(c, v->mark, "empty value for %s", where);
    if (v->type != YNODE_SCALAR || v->is_null)
        return wrong_type(c, v, where, "a string");
    *out = v->text;
    return 0;
}

static int copy_string(struct ctx *c, const struct ynode *v, const char *text,
                       char **out)
{
    char *s = strdup(text);

    if (s == NULL)
        return fail(c, v->mark, "out of memory");
    free(*out);
    *out = s;
    return 0;
}

static int get_int(struct ctx *c, const struct ynode *v, const char *where,
                   uint64_t min, uint64_t max, uint64_t *out)
{
    const char *s = v->text;

    *out = 0;
    if (v->type != YNODE_SCALAR || v->is_null)
        return wrong_type(c, v, where, "an integer");
    if (parse_digits(&s, max, out) < 0 || *s != '\0' || *out < min)
        return fail(c, v->mark,
                    "expected an integer from %llu to %llu for %s, got '%s'",
                    (unsigned long long)min, (unsigned long long)max, where,
                    v->text);
    return 0;
}

static int size_range(struct ctx *c, const struct ynode *v, const char *where,
                      uint64_t min, uint64_t max)
{
    char lo[32], hi[32];

    return fail(c, v->mark, "expected a size from %s to %s for %s, got '%s'",
                format_number(min, size_display, lo, sizeof(lo)),
                format_number(max, size_display, hi, sizeof(hi)), where,
                v->text);
}

static int bad_size(struct ctx *c, const struct ynode *v, const char *where)
{
    return fail(c, v->mark,
                "bad size '%s' for %s (expected bytes, or a number with k, m "
                "or g, like 16k)",
                v->text, where);
}

static int get_size(struct ctx *c, const struct ynode *v, const char *where,
                    uint64_t min, uint64_t max, size_t *out)
{
    int rc;

    if (v->type != YNODE_SCALAR || v->is_null)
        return wrong_type(c, v, where, "a size");
    rc = parse_size(v->text, out);
    if (rc == -EINVAL)
        return bad_size(c, v, where);
    if (rc < 0 || *out < min || *out > max)
        return size_range(c, v, where, min, max);
    return 0;
}

static int get_duration(struct ctx *c, const struct ynode *v, const char *where,
                        unsigned min, unsigned max, unsigned *out)
{
    char lo[32], hi[32];
    int rc;

    if (v->type != YNODE_SCALAR || v->is_null)
        return wrong_type(c, v, where, "a duration");
    rc = parse_duration(v->text, out);
    if (rc == -EINVAL)
        return fail(c, v->mark,
                    "bad duration '%s' for %s (expected seconds, or a "
                    "number with ms, s, m or h, like 30s)",
                    v->text, where);
    if (rc < 0 || *out < min || *out > max)
        return fail(c, v->mark,
                    "expected a duration from %s to %s for %s, got '%s'",
                    format_number(min, duration_display, lo, sizeof(lo)),
                    format_number(max, duration_display, hi, sizeof(hi)), where,
                    v->text);
    return 0;
}

/*
 * A relative path is taken relative to the directory of the config file,
 * not to squalld's working directory (which is / under systemd), so that
 * a file and the files it names can move together. Paths from
 * config_parse() strings have no directory and stay as written.
 */
static int resolve_path(struct ctx *c, const struct ynode *v, char **out)
{
    const char *p = v->text;
    char *s;

    if (c->basedir == NULL || p[0] == '/')
        return copy_string(c, v, p, out);
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    if (asprintf(&s, "%s%s%s", c->basedir,
                 strcmp(c->basedir, "/") == 0 ? "" : "/", p) < 0)
        return fail(c, v->mark, "out of memory");
    free(*out);
    *out = s;
    return 0;
}

/* Suggestions for misspelt names ---------------------------------------- */

/* Levenshtein distance, ignoring case so that "Server" finds "server";
 * SIZE_MAX for words too long to be typos of a key. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j;
    size_t row[SUGGEST_MAX + 1], diag, up;

    if (la > SUGGEST_MAX || lb > SUGGEST_MAX)
        return SIZE_MAX;
    for (j = 0; j <= lb; j++)
        row[j] = j;
    for (i = 1; i <= la; i++) {
        diag = row[0];
        row[0] = i;
        for (j = 1; j <= lb; j++) {
            up = row[j];
            row[j] = diag + (tolower((unsigned char)a[i - 1]) !=
                             tolower((unsigned char)b[j - 1]));
            if (up + 1 < row[j])
                row[j] = up + 1;
            if (row[j - 1] + 1 < row[j])
                row[j] = row[j - 1] + 1;
            diag = up;
        }
    }
    return row[lb];
}

struct suggest {
    const char *word;
    const char *best;
    size_t dist;
};

static void suggest_init(struct suggest *s, const char *word)
{
    s->word = word;
    s->best = NULL;
    s->dist = SIZE_MAX;
}

static void suggest_try(struct suggest *s, const char *candidate)
{
    size_t d = edit_distance(s->word, candidate);

    if (d < s->dist) {
        s->dist = d;
        s->best = candidate;
    }
}

/* " (did you mean 'x'?)" when the best candidate is close: at most 2 edits
 * or a third of the word, and fewer edits than the word has letters (else
 * "ab" would suggest "log"). "" otherwise. */
static const char *suggest_hint(const struct suggest *s, char *buf, size_t len)
{
    size_t wl = strlen(s->word);

    if (s->best == NULL || s->dist >= wl || (s->dist > 2 && s->dist > wl / 3))
        return "";
    snprintf(buf, len, " (did you mean '%s'?)", s->best);
    return buf;
}

/* Pass 2: the schema ------------------------------------------------------ */

/*
 * A section is a table of keys. Each key's function checks its value and
 * stores it in the field at `off` within the section's object (a struct
 * config, limits_conf, module_conf or route_conf); where is the key's
 * dotted path for messages ("server.limits.max_body_size").
 */
typedef int (*key_fn)(struct ctx *c, const struct ynode *v, const char *where,
                      void *field);

struct key_def {
    const char *name;
    key_fn fn;
    size_t off;
};

static int unknown_key(struct ctx *c, const struct ynode *key,
                       const char *where, const struct key_def *defs)
{
    char in[CONF_WHERE_MAX + 8], hint[SUGGEST_MAX + 32];
    struct suggest s;

    suggest_init(&s, key->text);
    for (; defs->name != NULL; defs++)
        suggest_try(&s, defs->name);
    return fail(c, key->mark, "unknown key '%s'%s%s", key->text,
                conf_in_where(where, in, sizeof(in)),
                suggest_hint(&s, hint, sizeof(hint)));
}

/* Applies defs to every entry of map. An empty section ("server:" with
 * nothing under it) keeps every default. */
static int walk_map(struct ctx *c, const struct ynode *map, const char *where,
                    const struct key_def *defs, void *obj)
{
    const struct key_def *d;
    const struct ynode *key;
    char kwhere[CONF_WHERE_MAX];
    size_t i;

    if (map->is_null)
        return 0;
    if (map->type != YNODE_MAP)
        return wrong_type(c, map, where, "a mapping");
    for (i = 0; i < map->n; i++) {
        key = YMAP_KEY(map, i);
        for (d = defs; d->name != NULL; d++)
            if (strcmp(d->name, key->text) == 0)
                break;
        if (d->name == NULL)
            return unknown_key(c, key, where, defs);
        snprintf(kwhere, sizeof(kwhere), "%s%s%s", where,
                 *where != '\0' ? "." : "", d->name);
        if (d->fn(c, YMAP_VALUE(map, i), kwhere, (char *)obj + d->off) < 0)
            return -1;
    }
    return 0;
}

/* server.limits */

/* One function per key, so that each range is written once, here. */

static int set_max_header_size(struct ctx *c, const struct ynode *v,
                               const char *where, void *field)
{
    return get_size(c, v, where, HEADER_SIZE_MIN, HEADER_SIZE_MAX, field);
}

/* Only read here: its range, up to max_header_size, is checked by
 * check_uri_size() once the whole section is read. */
static int set_max_uri_size(struct ctx *c, const struct ynode *v,
                            const char *where, void *field)
{
    size_t *out = field;
    int rc;

    if (v->type != YNODE_SCALAR || v->is_null)
        return wrong_type(c, v, where, "a size");
    rc = parse_size(v->text, out);
    if (rc == -EINVAL)
        return bad_size(c, v, where);
    if (rc < 0)
        *out = SIZE_MAX; /* out of range, as check_uri_size() will say */
    c->uri_size = v;
    return 0;
}

static int set_max_body_size(struct ctx *c, const struct ynode *v,
                             const char *where, void *field)
{
    return get_size(c, v, where, 0, BODY_SIZE_MAX, field);
}

static int set_timeout(struct ctx *c, const struct ynode *v, const char *where,
                       void *field)
{
    return get_duration(c, v, where, TIMEOUT_MIN, TIMEOUT_MAX, field);
}

static int set_idle_timeout(struct ctx *c, const struct ynode *v,
                            const char *where, void *field)
{
    return get_duration(c, v, where, TIMEOUT_MIN, IDLE_TIMEOUT_MAX, field);
}

static int set_body_min_rate(struct ctx *c, const struct ynode *v,
                             const char *where, void *field)
{
    return get_size(c, v, where, 0, BODY_RATE_MAX, field);
}

static int set_body_rate_grace(struct ctx *c, const struct ynode *v,
                               const char *where, void *field)
{
    return get_duration(c, v, where, BODY_GRACE_MIN, BODY_GRACE_MAX, field);
}

static int set_max_connections(struct ctx *c, const struct ynode *v,
                               const char *where, void *field)
{
    uint64_t n;

    if (get_int(c, v, where, 1, CONNECTIONS_MAX, &n) < 0)
        return -1;
    *(unsigned *)field = (unsigned)n;
    return 0;
}

static const struct key_def limits_keys[] = {
    {"max_header_size", set_max_header_size,
     offsetof(struct limits_conf, max_header_size)},
    {"max_uri_size", set_max_uri_size,
     offsetof(struct limits_conf, max_uri_size)},
    {"max_body_size", set_max_body_size,
     offsetof(struct limits_conf, max_body_size)},
    {"header_timeout", set_timeout,
     offsetof(struct limits_conf, header_timeout_ms)},
    {"body_timeout", set_timeout,
     offsetof(struct limits_conf, body_timeout_ms)},
    {"body_min_rate", set_body_min_rate,
     offsetof(struct limits_conf, body_min_rate)},
    {"body_rate_grace", set_body_rate_grace,
     offsetof(struct limits_conf, body_rate_grace_ms)},
    {"idle_timeout", set_idle_timeout,
     offsetof(struct limits_conf, idle_timeout_ms)},
    {"max_connections", set_max_connections,
     offsetof(struct limits_conf, max_connections)},
    {NULL, NULL, 0},
};

/*
 * A request target longer than the whole head would meet 431 before 414,
 * so a max_uri_size above max_header_size could never apply: written so,
 * it is an error; the default (8k) follows a smaller max_header_size down
 * instead, so that "max_header_size: 4k" alone is a valid file.
 */
static int check_uri_size(struct ctx *c, struct limits_conf *lim)
{
    char hi[32];

    if (c->uri_size == NULL) {
        if (lim->max_uri_size > lim->max_header_size)
            lim->max_uri_size = lim->max_header_size;
        return 0;
    }
    if (lim->max_uri_size >= URI_SIZE_MIN &&
        lim->max_uri_size <= lim->max_header_size)
        return 0;
    return fail(
        c, c->uri_size->mark,
        "expected a size from %u to %s (server.limits.max_header_size)"
        " for server.limits.max_uri_size, got '%s'",
        URI_SIZE_MIN,
        format_number(lim->max_header_size, size_display, hi, sizeof(hi)),
        c->uri_size->text);
}

static int set_limits(struct ctx *c, const struct ynode *v, const char *where,
                      void *field)
{
    if (walk_map(c, v, where, limits_keys, field) < 0)
        return -1;
    return check_uri_size(c, field);
}

/* server */

/* The mark of a default value: line 0, not from the file. */
static int add_listen(struct ctx *c, const char *text, struct conf_mark m)
{
    struct config *cfg = c->cfg;
    struct listen_conf *lc;
    char msg[256];

    lc = realloc(cfg->listen, (cfg->nlisten + 1) * sizeof(*lc));
    if (lc == NULL)
        return fail(c, m, "out of memory");
    cfg->listen = lc;
    lc = &cfg->listen[cfg->nlisten];
    memset(lc, 0, sizeof(*lc));
    msg[0] = '\0';
    if (listen_parse(text, lc, msg, sizeof(msg)) < 0)
        return fail(c, m, "%s", msg);
    /* config.c owns text: listen_parse only fills addr and addrlen */
    lc->text = strdup(text);
    if (lc->text == NULL)
        return fail(c, m, "out of memory");
    lc->mark = m;
    cfg->nlisten++;
    return 0;
}

/* A listen entry as a mapping: {address: "host:port", tls: {...}}. */

static int set_tls_file(struct ctx *c, const struct ynode *v, const char *where,
                        char **out, struct conf_mark *mark)
{
    const char *text;

    if (get_string(c, v, where, &text) < 0)
        return -1;
    *mark = v->mark;
    return resolve_path(c, v, out);
}

static int set_tls_cert(struct ctx *c, const struct ynode *v, const char *where,
                        void *field)
{
    struct tls_conf *tc = field;

    return set_tls_file(c, v, where, &tc->cert, &tc->cert_mark);
}

static int set_tls_key(struct ctx *c, const struct ynode *v, const char *where,
                       void *field)
{
    struct tls_conf *tc = field;

    return set_tls_file(c, v, where, &tc->key, &tc->key_mark);
}

/* TLS 1.2 and 1.3 only: anything older is refused, not configurable. */
static int set_tls_protocols(struct ctx *c, const struct ynode *v,
                             const char *where, void *field)
{
    static const char *const old[] = {"SSLv2", "SSLv3", "TLSv1", "TLSv1.0",
                                      "TLSv1.1"};
    struct tls_conf *tc = field;
    char iwhere[CONF_WHERE_MAX];
    const char *text;

    if (v->type != YNODE_LIST)
        return wrong_type(c, v, where, "a list");
    if (v->n == 0)
        return fail(c, v->mark,
                    "empty list for %s (give TLSv1.2, TLSv1.3 or both)", where);
    tc->protocols = 0;
    for (size_t i = 0; i < v->n; i++) {
        const struct ynode *k = v->kids[i];
        snprintf(iwhere, sizeof(iwhere), "%s[%zu]", where, i);
        if (get_string(c, k, iwhere, &text) < 0)
            return -1;
        if (strcmp(text, "TLSv1.2") == 0) {
            tc->protocols |= TLS_PROTO_12;
            continue;
        }
        if (strcmp(text, "TLSv1.3") == 0) {
            tc->protocols |= TLS_PROTO_13;
            continue;
        }
        for (size_t j = 0; j < ARRAY_LEN(old); j++)
            if (strcasecmp(text, old[j]) == 0)
                return fail(c, k->mark,
                            "%s is not supported for %s: squall speaks "
                            "TLSv1.2 and TLSv1.3 only",
                            text, iwhere);
        return fail(c, k->mark,
                    "unknown TLS protocol '%s' for %s (expected TLSv1.2 or "
                    "TLSv1.3)",
                    text, iwhere);
    }
    return 0;
}

static int set_tls_ciphers(struct ctx *c, const struct ynode *v,
                           const char *where, void *field)
{
    struct tls_conf *tc = field;
    const char *text;

    if (get_string(c, v, where, &text) < 0)
        return -1;
    tc->ciphers_mark = v->mark;
    return copy_string(c, v, text, &tc->ciphers);
}

static int set_tls_ciphersuites(struct ctx *c, const struct ynode *v,
                                const char *where, void *field)
{
    struct tls_conf *tc = field;
    const char *text;

    if (get_string(c, v, where, &text) < 0)
        return -1;
    tc->ciphersuites_mark = v->mark;
    return copy_string(c, v, text, &tc->ciphersuites);
}

static const struct key_def tls_keys[] = {
    {"cert", set_tls_cert, 0},
    {"key", set_tls_key, 0},
    {"protocols", set_tls_protocols, 0},
    {"ciphers", set_tls_ciphers, 0},
    {"ciphersuites", set_tls_ciphersuites, 0},
    {NULL, NULL, 0},
};

static int set_listen_tls(struct ctx *c, const struct ynode *v,
                          const char *where, void *field)
{
    struct tls_conf **tcp = field, *tc;

    if (v->type != YNODE_MAP)
        return wrong_type(c, v, where, "a mapping with cert and key");
    if ((tc = calloc(1, sizeof(*tc))) == NULL)
        return fail(c, v->mark, "out of memory");
    *tcp = tc; /* freed with the config */
    tc->protocols = TLS_PROTO_12 | TLS_PROTO_13;
    tc->mark = v->mark;
    if (walk_map(c, v, where, tls_keys, tc) < 0)
        return -1;
    if (tc->cert == NULL || tc->key == NULL)
        return fail(c, v->mark, "%s needs %s (a PEM file)", where,
                    tc->cert == NULL ? "cert" : "key");
    return 0;
}

static int set_listen_address(struct ctx *c UNUSED,
                              const struct ynode *v UNUSED,
                              const char *where UNUSED, void *field UNUSED)
{
    return 0; /* read first, by add_listen_map */
}

static const struct key_def listen_keys[] = {
    {"address", set_listen_address, 0},
    {"tls", set_listen_tls, offsetof(struct listen_conf, tls)},
    {NULL, NULL, 0},
};

static int add_listen_map(struct ctx *c, const struct ynode *v,
                          const char *where)
{
    const struct ynode *addr = NULL;
    const char *text;
    char awhere[CONF_WHERE_MAX];

    for (size_t i = 0; i < v->n; i++)
        if (strcmp(YMAP_KEY(v, i)->text, "address") == 0)
            addr = YMAP_VALUE(v, i);
    if (addr == NULL)
        return fail(c, v->mark,
                    "%s needs an address (host:port, "
                    "[ipv6]:port or unix:/path)",
                    where);
    snprintf(awhere, sizeof(awhere), "%s.address", where);
    if (get_string(c, addr, awhere, &text) < 0 ||
        add_listen(c, text, addr->mark) < 0)
        return -1;
    return walk_map(c, v, where, listen_keys,
                    &c->cfg->listen[c->cfg->nlisten - 1]);
}

static int set_listen(struct ctx *c, const struct ynode *v, const char *where,
                      void *field UNUSED)
{
    char iwhere[CONF_WHERE_MAX];
    const char *text;
    size_t i;

    if (v->type == YNODE_SCALAR && !v->is_null)
        return add_listen(c, v->text, v->mark);
    if (v->type == YNODE_MAP)
        return add_listen_map(c, v, where);
    if (v->type != YNODE_LIST)
        return wrong_type(c, v, where, "an address or a list of them");
    if (v->n == 0)
        return fail(c, v->mark, "empty list for %s (give at least one address)",
                    where);
    for (i = 0; i < v->n; i++) {
        snprintf(iwhere, sizeof(iwhere), "%s[%zu]", where, i);
        if (v->kids[i]->type == YNODE_MAP) {
            if (add_listen_map(c, v->kids[i], iwhere) < 0)
                return -1;
            continue;
        }
        if (get_string(c, v->kids[i], iwhere, &text) < 0 ||
            add_listen(c, text, v->kids[i]->mark) < 0)
            return -1;
    }
    return 0;
}

static int set_shutdown_timeout(struct ctx *c, const struct ynode *v,
                                const char *where, void *field)
{
    return get_duration(c, v, where, 0, SHUTDOWN_TIMEOUT_MAX, field);
}

/* 0 stands for `auto` until the end of the parse. */
static int set_workers(struct ctx *c, const struct ynode *v, const char *where,
                       void *field)
{
    const char *s = v->text;
    uint64_t n;

    if (v->type != YNODE_SCALAR || v->is_null)
        return wrong_type(c, v, where, "'auto' or an integer");
    if (strcmp(s, "auto") == 0) {
        *(int *)field = 0;
        return 0;
    }
    if (parse_digits(&s, WORKERS_MAX, &n) < 0 || *s != '\0' || n < 1)
        return fail(c, v->mark,
                    "expected 'auto' or an integer from 1 to %d for %s, "
                    "got '%s'",
                    WORKERS_MAX, where, v->text);
    *(int *)field = (int)n;
    return 0;
}

static int set_thread_pool(struct ctx *c, const struct ynode *v,
                           const char *where, void *field)
{
    uint64_t n;

    if (get_int(c, v, where, 0, THREAD_POOL_MAX, &n) < 0)
        return -1;
    *(unsigned *)field = (unsigned)n;
    return 0;
}

/* server.trusted_proxies: a list of CIDRs, addresses and `unix` (or one
 * of them alone); each error points at its entry. */
static int add_trusted_proxy(struct ctx *c, const struct ynode *v,
                             const char *where)
{
    const char *text;
    char msg[256];

    if (get_string(c, v, where, &text) < 0)
        return -1;
    msg[0] = '\0';
    if (proxy_set_add(&c->cfg->trusted_proxies, text, msg, sizeof(msg)) < 0)
        return fail(c, v->mark, "%s: %s", where, msg);
    return 0;
}

static int set_trusted_proxies(struct ctx *c, const struct ynode *v,
                               const char *where, void *field UNUSED)
{
    char iwhere[CONF_WHERE_MAX];
    size_t i;

    if (v->is_null)
        return 0;
    if (v->type == YNODE_SCALAR)
        return add_trusted_proxy(c, v, where);
    if (v->type != YNODE_LIST)
        return wrong_type(c, v, where, "a list of addresses and CIDRs");
    for (i = 0; i < v->n; i++) {
        snprintf(iwhere, sizeof(iwhere), "%s[%zu]", where, i);
        if (add_trusted_proxy(c, v->kids[i], iwhere) < 0)
            return -1;
    }
    return 0;
}

static const struct key_def server_keys[] = {
    {"listen", set_listen, 0},
    {"workers", set_workers, offsetof(struct config, workers)},
    {"shutdown_timeout", set_shutdown_timeout,
     offsetof(struct config, shutdown_timeout_ms)},
    {"thread_pool", set_thread_pool, offsetof(struct config, thread_pool)},
    {"limits", set_limits, offsetof(struct config, limits)},
    {"trusted_proxies", set_trusted_proxies, 0},
    {NULL, NULL, 0},
};

static int set_server(struct ctx *c, const struct ynode *v, const char *where,
                      void *field)
{
    return walk_map(c, v, where, server_keys, field);
}

/* log */

static int set_log_level(struct ctx *c, const struct ynode *v,
                         const char *where, void *field)
{
    const char *name;
    int level;

    if (get_string(c, v, where, &name) < 0)
        return -1;
    level = log_level_from_name(name);
    if (level < 0)
        return fail(c, v->mark,
                    "unknown log level '%s' for %s (expected debug, info, "
                    "notice, warn, error or crit)",
                    name, where);
    *(int *)field = level;
    return 0;
}

static int set_log_error(struct ctx *c, const struct ynode *v,
                         const char *where, void *field)
{
    const char *text;
    char **path = field;

    if (get_string(c, v, where, &text) < 0)
        return -1;
    if (strcmp(text, "stderr") == 0) {
        free(*path);
        *path = NULL;
        return 0;
    }
    c->cfg->log_error_mark = v->mark;
    return resolve_path(c, v, path);
}

/* YAML 1.1 would read `access: no` as false; here it would be a file
 * named "no" in the config directory, which is never what was meant. */
static int is_yaml11_bool(const char *s)
{
    static const char *const words[] = {"no",   "false", "n", "yes",
                                        "true", "y",     "on"};
    size_t i;

    for (i = 0; i < ARRAY_LEN(words); i++)
        if (strcasecmp(s, words[i]) == 0)
            return 1;
    return 0;
}

static int set_log_access(struct ctx *c, const struct ynode *v,
                          const char *where, void *field)
{
    struct config *cfg = field;
    const char *text;

    if (get_string(c, v, where, &text) < 0)
        return -1;
    free(cfg->log_access);
    cfg->log_access = NULL;
    if (strcmp(text, "off") == 0) {
        cfg->access_mode = ACCESS_OFF;
        return 0;
    }
    if (strcmp(text, "stderr") == 0) {
        cfg->access_mode = ACCESS_STDERR;
        return 0;
    }
    if (is_yaml11_bool(text))
        return fail(c, v->mark,
                    "expected off, stderr or a file path for %s, got '%s'",
                    where, text);
    cfg->access_mode = ACCESS_FILE;
    cfg->log_access_mark = v->mark;
    return resolve_path(c, v, &cfg->log_access);
}

static const struct key_def log_keys[] = {
    {"level", set_log_level, offsetof(struct config, log_level)},
    {"error", set_log_error, offsetof(struct config, log_error)},
    {"access", set_log_access, 0},
    {NULL, NULL, 0},
};

static int set_log(struct ctx *c, const struct ynode *v, const char *where,
                   void *field)
{
    return walk_map(c, v, where, log_keys, field);
}

/* modules */

/* A bare file name ("hello.so") is looked up in the module directory by
 * module.c; only a path with a '/' in it is a path to resolve. */
static int set_module_path(struct ctx *c, const struct ynode *v,
                           const char *where, void *field)
{
    struct module_conf *mc = field;
    const char *text;

    if (get_string(c, v, where, &text) < 0)
        return -1;
    mc->path_mark = v->mark;
    if (strchr(text, '/') == NULL)
        return copy_string(c, v, text, &mc->path);
    return resolve_path(c, v, &mc->path);
}

/* Any YAML, as text. An empty null inside the tree is the scalar "", so a
 * module sees "key:" as a key with an empty value. */
static sq_conf *to_conftree(const struct ynode *n)
{
    sq_conf *t, *kid;
    size_t i;

    if (n->type == YNODE_SCALAR)
        return conftree_scalar(n->is_null ? "" : n->text);
    t = conftree_new(n->type == YNODE_MAP ? SQ_CONF_MAP : SQ_CONF_LIST);
    if (t == NULL)
        return NULL;
    for (i = 0; i < n->n; i++) {
        kid = to_conftree(n->type == YNODE_MAP ? YMAP_VALUE(n, i) : n->kids[i]);
        if (kid == NULL ||
            conftree_append(t,
                            n->type == YNODE_MAP ? YMAP_KEY(n, i)->text : NULL,
                            kid) < 0) {
            conftree_free(t);
            return NULL;
        }
    }
    return t;
}

/* An empty `config:` is the same as none: the module gets NULL. */
static int set_module_config(struct ctx *c, const struct ynode *v,
                             const char *where UNUSED, void *field)
{
    sq_conf **tree = field;

    if (v->is_null)
        return 0;
    *tree = to_conftree(v);
    if (*tree == NULL)
        return fail(c, v->mark, "out of memory");
    return 0;
}

static const struct key_def module_keys[] = {
    {"path", set_module_path, 0},
    {"config", set_module_config, offsetof(struct module_conf, config)},
    {NULL, NULL, 0},
};

static int add_module(struct ctx *c, const struct ynode *key,
                      const struct ynode *v, const char *where)
{
    struct module_conf *mc = &c->cfg->modules[c->cfg->nmodules];
    char mwhere[CONF_WHERE_MAX];

    if (!is_ident(key->text, strlen(key->text)))
        return fail(c, key->mark,
                    "bad module name '%s' in %s (use letters, digits and "
                    "'_', not starting with a digit)",
                    key->text, where);
    if (copy_string(c, key, key->text, &mc->name) < 0)
        return -1;
    mc->mark = key->mark;
    c->cfg->nmodules++; /* counted now, so config_free frees it on error */
    snprintf(mwhere, sizeof(mwhere), "%s.%s", where, key->text);
    if (walk_map(c, v, mwhere, module_keys, mc) < 0)
        return -1;
    if (mc->path == NULL)
        return fail(c, key->mark, "missing 'path' in %s", mwhere);
    return 0;
}

static int set_modules(struct ctx *c, const struct ynode *v, const char *where,
                       void *field UNUSED)
{
    size_t i;

    if (v->is_null)
        return 0;
    if (v->type != YNODE_MAP)
        return wrong_type(c, v, where, "a mapping");
    c->cfg->modules = calloc(v->n ? v->n : 1, sizeof(struct module_conf));
    if (c->cfg->modules == NULL)
        return fail(c, v->mark, "out of memory");
    for (i = 0; i < v->n; i++)
        if (add_module(c, YMAP_KEY(v, i), YMAP_VALUE(v, i), where) < 0)
            return -1;
    return 0;
}

/* routes */

static int set_route_path(struct ctx *c, const struct ynode *v,
                          const char *where, void *field)
{
    const char *text;

    if (get_string(c, v, where, &text) < 0)
        return -1;
    if (text[0] != '/' && text[0] != '^')
        return fail(c, v->mark,
                    "bad path '%s' for %s (expected '/...', or '^...' for a "
                    "regex)",
                    text, where);
    return copy_string(c, v, text, field);
}

static int unknown_method(struct ctx *c, const struct ynode *v,
                          const char *where)
{
    char hint[SUGGEST_MAX + 32];
    struct suggest s;
    int m;

    suggest_init(&s, v->text);
    for (m = 0; m < METHOD_OTHER; m++)
        suggest_try(&s, method_name(m));
    return fail(c, v->mark, "unknown method '%s' in %s%s", v->text, where,
                suggest_hint(&s, hint, sizeof(hint)));
}

/* 0 means any method, so an empty list would be a silent "any": refused. */
static int set_methods(struct ctx *c, const struct ynode *v, const char *where,
                       void *field)
{
    char iwhere[CONF_WHERE_MAX];
    const char *name;
    unsigned set = 0;
    size_t i;
    int m;

    if (v->type != YNODE_LIST)
        return wrong_type(c, v, where, "a list");
    if (v->n == 0)
        return fail(c, v->mark,
                    "empty list for %s (leave 'methods' out to allow any "
                    "method)",
                    where);
    for (i = 0; i < v->n; i++) {
        snprintf(iwhere, sizeof(iwhere), "%s[%zu]", where, i);
        if (get_string(c, v->kids[i], iwhere, &name) < 0)
            return -1;
        m = method_from_name(name, strlen(name));
        if (m < 0 || m >= METHOD_OTHER)
            return unknown_method(c, v->kids[i], where);
        set |= METHOD_BIT(m);
    }
    *(unsigned *)field = set;
    return 0;
}

static int set_handler(struct ctx *c, const struct ynode *v, const char *where,
                       void *field)
{
    struct route_conf *rc = field;
    const char *text, *colon;

    if (get_string(c, v, where, &text) < 0)
        return -1;
    colon = strchr(text, ':');
    if (colon == NULL || !is_ident(text, (size_t)(colon - text)) ||
        !is_ident(colon + 1, strlen(colon + 1)))
        return fail(c, v->mark,
                    "bad handler '%s' for %s (expected module:function, "
                    "like hello:hello)",
                    text, where);
    rc->handler_mark = v->mark;
    free(rc->module);
    free(rc->handler);
    rc->module = strndup(text, (size_t)(colon - text));
    rc->handler = strdup(colon + 1);
    if (rc->module == NULL || rc->handler == NULL)
        return fail(c, v->mark, "out of memory");
    return 0;
}

static int set_websocket(struct ctx *c, const struct ynode *v,
                         const char *where, void *field)
{
    struct route_conf *rc = field;

    if (set_handler(c, v, where, field) < 0)
        return -1;
    rc->websocket = 1;
    return 0;
}

static int get_bool(struct ctx *c, const struct ynode *v, const char *where,
                    int *out)
{
    if (v->type == YNODE_SCALAR && strcmp(v->text, "true") == 0)
        *out = 1;
    else if (v->type == YNODE_SCALAR && strcmp(v->text, "false") == 0)
        *out = 0;
    else
        return fail(c, v->mark, "expected true or false for %s, got %s%s%s",
                    where, v->type == YNODE_SCALAR ? "'" : "",
                    v->type == YNODE_SCALAR ? v->text : ynode_kind(v),
                    v->type == YNODE_SCALAR ? "'" : "");
    return 0;
}

static int set_flag(struct ctx *c, const struct ynode *v, const char *where,
                    void *field)
{
    return get_bool(c, v, where, field);
}

static int set_window_bits(struct ctx *c, const struct ynode *v,
                           const char *where, void *field)
{
    uint64_t n;

    if (get_int(c, v, where, 8, 15, &n) < 0)
        return -1;
    *(int *)field = (int)n;
    return 0;
}

static const struct key_def deflate_keys[] = {
    {"server_no_context_takeover", set_flag,
     offsetof(struct wsdeflate_policy, server_no_context_takeover)},
    {"client_no_context_takeover", set_flag,
     offsetof(struct wsdeflate_policy, client_no_context_takeover)},
    {"server_max_window_bits", set_window_bits,
     offsetof(struct wsdeflate_policy, server_max_window_bits)},
    {"client_max_window_bits", set_window_bits,
     offsetof(struct wsdeflate_policy, client_max_window_bits)},
    {NULL, NULL, 0},
};

/* deflate: true | false | {the RFC 7692 parameters squall insists on} */
static int set_deflate(struct ctx *c, const struct ynode *v, const char *where,
                       void *field)
{
    struct wsdeflate_policy *p = field;

    *p = (struct wsdeflate_policy)WSDEFLATE_POLICY_DEFAULT;
    if (v->type == YNODE_MAP && !v->is_null)
        return walk_map(c, v, where, deflate_keys, p);
    if (v->type == YNODE_SCALAR &&
        (strcmp(v->text, "true") == 0 || strcmp(v->text, "false") == 0))
        return get_bool(c, v, where, &p->enabled);
    return fail(c, v->mark,
                "expected true, false or a mapping of permessage-deflate "
                "parameters for %s, got %s%s%s",
                where, v->type == YNODE_SCALAR ? "'" : "",
                v->type == YNODE_SCALAR ? v->text : ynode_kind(v),
                v->type == YNODE_SCALAR ? "'" : "");
}

/* A list of non-empty strings into (*out, *n). */
static int get_strings(struct ctx *c, const struct ynode *v, const char *where,
                       char ***out, size_t *n)
{
    char iwhere[CONF_WHERE_MAX];
    const char *text;
    size_t i;

    if (v->type != YNODE_LIST)
        return wrong_type(c, v, where, "a list");
    *out = calloc(v->n ? v->n : 1, sizeof(char *));
    if (*out == NULL)
        return fail(c, v->mark, "out of memory");
    for (i = 0; i < v->n; i++) {
        snprintf(iwhere, sizeof(iwhere), "%s[%zu]", where, i);
        if (get_string(c, v->kids[i], iwhere, &text) < 0 ||
            copy_string(c, v->kids[i], text, &(*out)[*n]) < 0)
            return -1;
        (*n)++;
    }
    return 0;
}

static int set_origins(struct ctx *c, const struct ynode *v, const char *where,
                       void *field)
{
    struct route_conf *rc = field;

    if (rc->origins != NULL)
        return fail(c, v->mark, "%s given twice", where);
    return get_strings(c, v, where, &rc->origins, &rc->norigins);
}

static int set_subprotocols(struct ctx *c, const struct ynode *v,
                            const char *where, void *field)
{
    struct route_conf *rc = field;

    if (rc->subprotocols != NULL)
        return fail(c, v->mark, "%s given twice", where);
    return get_strings(c, v, where, &rc->subprotocols, &rc->nsubprotocols);
}

/* subscribe: and publish: */

static int set_channel(struct ctx *c, const struct ynode *v, const char *where,
                       void *field)
{
    const char *text;

    if (get_string(c, v, where, &text) < 0)
        return -1;
    c->channel = v;
    return copy_string(c, v, text, field);
}

static int set_poll_timeout(struct ctx *c, const struct ynode *v,
                            const char *where, void *field)
{
    return get_duration(c, v, where, SECOND, POLL_TIMEOUT_MAX, field);
}

static const struct key_def subscribe_keys[] = {
    {"channel", set_channel, offsetof(struct route_conf, channel)},
    {"poll_timeout", set_poll_timeout,
     offsetof(struct route_conf, poll_timeout_ms)},
    {"sse_keepalive", set_poll_timeout,
     offsetof(struct route_conf, sse_keepalive_ms)},
    {NULL, NULL, 0},
};

static const struct key_def publish_keys[] = {
    {"channel", set_channel, offsetof(struct route_conf, channel)},
    {NULL, NULL, 0},
};

static int set_pubsub_route(struct ctx *c, const struct ynode *v,
                            const char *where, struct route_conf *rc,
                            const struct key_def *keys)
{
    if (v->type != YNODE_MAP || v->is_null)
        return wrong_type(c, v, where, "a mapping");
    if (walk_map(c, v, where, keys, rc) < 0)
        return -1;
    if (rc->channel == NULL)
        return fail(c, v->mark, "missing 'channel' in %s", where);
    return 0;
}

static int set_subscribe(struct ctx *c, const struct ynode *v,
                         const char *where, void *field)
{
    struct route_conf *rc = field;

    rc->subscribe = 1;
    return set_pubsub_route(c, v, where, rc, subscribe_keys);
}

static int set_publish(struct ctx *c, const struct ynode *v, const char *where,
                       void *field)
{
    struct route_conf *rc = field;

    rc->publish = 1;
    return set_pubsub_route(c, v, where, rc, publish_keys);
}

/* Route options: auth and xsrf (security.c runs them) */

static int set_auth(struct ctx *c, const struct ynode *v, const char *where,
                    void *field)
{
    struct route_conf *rc = field;
    const char *text;

    if (get_string(c, v, where, &text) < 0)
        return -1;
    if (strcmp(text, "login") == 0)
        rc->auth = AUTH_LOGIN;
    else if (strcmp(text, "jwt") == 0)
        rc->auth = AUTH_JWT;
    else
        return fail(c, v->mark, "unknown %s '%s' (expected login or jwt)",
                    where, text);
    rc->auth_mark = v->mark;
    return 0;
}

static int set_route_xsrf(struct ctx *c, const struct ynode *v,
                          const char *where, void *field)
{
    return get_bool(c, v, where, field);
}

/* require: {CLAIM: TEMPLATE, ...}; the templates are checked against the
 * path by check_require, once the whole route is read. */
static int set_require(struct ctx *c, const struct ynode *v, const char *where,
                       void *field)
{
    struct route_conf *rc = field;
    char kwhere[CONF_WHERE_MAX + 64];
    const char *text;

    if (rc->require != NULL)
        return fail(c, v->mark, "%s given twice", where);
    if (v->type != YNODE_MAP || v->is_null)
        return wrong_type(c, v, where, "a mapping of claims to values");
    if (v->n == 0)
        return fail(c, v->mark, "empty %s (leave it out to require nothing)",
                    where);
    rc->require_mark = v->mark;
    if ((rc->require = calloc(v->n, sizeof(*rc->require))) == NULL)
        return fail(c, v->mark, "out of memory");
    for (size_t i = 0; i < v->n; i++) {
        struct jwt_require *q = &rc->require[rc->nrequire];
        snprintf(kwhere, sizeof(kwhere), "%s.%s", where, YMAP_KEY(v, i)->text);
        rc->nrequire++; /* counted now, so config_free frees it on error */
        if (get_string(c, YMAP_VALUE(v, i), kwhere, &text) < 0 ||
            copy_string(c, YMAP_KEY(v, i), YMAP_KEY(v, i)->text, &q->claim) <
                0 ||
            copy_string(c, YMAP_VALUE(v, i), text, &q->tmpl) < 0)
            return -1;
    }
    return 0;
}

static const struct key_def route_keys[] = {
    {"path", set_route_path, offsetof(struct route_conf, path)},
    {"methods", set_methods, offsetof(struct route_conf, methods)},
    {"handler", set_handler, 0},
    {"websocket", set_websocket, 0},
    {"origins", set_origins, 0},
    {"subprotocols", set_subprotocols, 0},
    {"deflate", set_deflate, offsetof(struct route_conf, deflate)},
    {"subscribe", set_subscribe, 0},
    {"publish", set_publish, 0},
    {"auth", set_auth, 0},
    {"xsrf", set_route_xsrf, offsetof(struct route_conf, xsrf)},
    {"require", set_require, 0},
    {NULL, NULL, 0},
};

static const struct ynode *map_get(const struct ynode *map, const char *key)
{
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(YMAP_KEY(map, i)->text, key) == 0)
            return YMAP_VALUE(map, i);
    return NULL;
}

/* A route does one thing: exactly one of these keys. */
static const char *const route_kinds[] = {"handler", "websocket", "subscribe",
                                          "publish"};

/* One kind, and the options that only a websocket route takes. */
static int check_route_kind(struct ctx *c, const struct ynode *v,
                            const struct route_conf *rc, const char *rwhere)
{
    const char *kind = NULL;
    size_t i;

    for (i = 0; i < ARRAY_LEN(route_kinds); i++) {
        if (map_get(v, route_kinds[i]) == NULL)
            continue;
        if (kind != NULL)
            return fail(c, v->mark, "both '%s' and '%s' in %s", kind,
                        route_kinds[i], rwhere);
        kind = route_kinds[i];
    }
    if (kind == NULL)
        return fail(c, v->mark, "missing 'handler' in %s", rwhere);
    if (rc->websocket)
        return 0;
    for (i = 0; i < v->n; i++) {
        const char *k = YMAP_KEY(v, i)->text;
        if (strcmp(k, "origins") == 0 || strcmp(k, "subprotocols") == 0 ||
            strcmp(k, "deflate") == 0)
            return fail(c, YMAP_KEY(v, i)->mark,
                        "'%s' in %s applies to websocket routes only", k,
                        rwhere);
    }
    return 0;
}

/* A subscribe or publish route's channel may use its path's parameters,
 * and only those. */
/* The names of the parameters of a route's path, into names (pointing
 * into *buf, which the caller frees): their count, or -1 (failed). */
static int path_names(struct ctx *c, const struct ynode *v,
                      const struct route_conf *rc,
                      const char *names[ROUTE_MAX_PARAMS], char **buf)
{
    char msg[512];
    int n;

    if ((*buf = malloc(strlen(rc->path) + 1)) == NULL)
        return fail(c, v->mark, "out of memory");
    n = router_param_names(rc->path, *buf, names, msg, sizeof(msg));
    if (n < 0)
        return fail(c, map_get(v, "path")->mark, "%s", msg);
    return n;
}

static int check_channel(struct ctx *c, const struct ynode *v,
                         struct route_conf *rc, const char *rwhere)
{
    const char *names[ROUTE_MAX_PARAMS];
    char cwhere[CONF_WHERE_MAX + 32], msg[512], *buf = NULL;
    int n;

    if (!rc->subscribe && !rc->publish)
        return 0;
    n = path_names(c, v, rc, names, &buf);
    if (n >= 0 && channel_template_check(rc->channel, names, (size_t)n, msg,
                                         sizeof(msg)) < 0) {
        snprintf(cwhere, sizeof(cwhere), "%s.%s.channel", rwhere,
                 rc->subscribe ? "subscribe" : "publish");
        n = fail(c, c->channel->mark, "%s for %s", msg, cwhere);
    }
    free(buf);
    if (n < 0)
        return -1;
    /* a publish is a POST, a subscription a GET (and HEAD), unless the
     * route says otherwise */
    if (rc->methods == 0)
        rc->methods = METHOD_BIT(rc->publish ? METHOD_POST : METHOD_GET);
    return 0;
}

/* require: on an auth: jwt route, its templates naming the path's
 * parameters only. */
static int check_require(struct ctx *c, const struct ynode *v,
                         const struct route_conf *rc, const char *rwhere)
{
    const char *names[ROUTE_MAX_PARAMS];
    const struct ynode *req = map_get(v, "require");
    char msg[512], *buf = NULL;
    int n;

    if (rc->nrequire == 0)
        return 0;
    if (rc->auth != AUTH_JWT)
        return fail(c, rc->require_mark,
                    "'require' in %s binds the claims of a bearer token, "
                    "so it needs auth: jwt",
                    rwhere);
    n = path_names(c, v, rc, names, &buf);
    for (size_t i = 0; n >= 0 && i < rc->nrequire; i++)
        if (template_check(rc->require[i].tmpl, "", names, (size_t)n, msg,
                           sizeof(msg)) < 0)
            n = fail(c, YMAP_VALUE(req, i)->mark, "%s for %s.require.%s", msg,
                     rwhere, rc->require[i].claim);
    free(buf);
    return n < 0 ? -1 : 0;
}

static int add_route(struct ctx *c, const struct ynode *v, size_t i,
                     const char *where)
{
    struct route_conf *rc = &c->cfg->routes[c->cfg->nroutes];
    char rwhere[CONF_WHERE_MAX];

    rc->mark = v->mark;
    rc->poll_timeout_ms = 30 * SECOND;
    rc->sse_keepalive_ms = 15 * SECOND;
    rc->xsrf = -1;
    c->channel = NULL;
    c->cfg->nroutes++; /* counted now, so config_free frees it on error */
    snprintf(rwhere, sizeof(rwhere), "%s[%zu]", where, i);
    if (walk_map(c, v, rwhere, route_keys, rc) < 0)
        return -1;
    if (rc->path == NULL)
        return fail(c, v->mark, "missing 'path' in %s", rwhere);
    if (check_route_kind(c, v, rc, rwhere) < 0 ||
        check_require(c, v, rc, rwhere) < 0)
        return -1;
    return check_channel(c, v, rc, rwhere);
}

static int set_routes(struct ctx *c, const struct ynode *v, const char *where,
                      void *field UNUSED)
{
    size_t i;

    if (v->is_null)
        return 0;
    if (v->type != YNODE_LIST)
        return wrong_type(c, v, where, "a list");
    c->cfg->routes = calloc(v->n ? v->n : 1, sizeof(struct route_conf));
    if (c->cfg->routes == NULL)
        return fail(c, v->mark, "out of memory");
    for (i = 0; i < v->n; i++)
        if (add_route(c, v->kids[i], i, where) < 0)
            return -1;
    return 0;
}

/* websocket */

static int set_ws_message_size(struct ctx *c, const struct ynode *v,
                               const char *where, void *field)
{
    return get_size(c, v, where, WS_MESSAGE_MIN, WS_MESSAGE_MAX, field);
}

static int set_ws_send_buffer(struct ctx *c, const struct ynode *v,
                              const char *where, void *field)
{
    return get_size(c, v, where, WS_SEND_MIN, WS_SEND_MAX, field);
}

/* 0 turns server pings off */
static int set_ws_ping_interval(struct ctx *c, const struct ynode *v,
                                const char *where, void *field)
{
    unsigned *ms = field;

    if (get_duration(c, v, where, 0, IDLE_TIMEOUT_MAX, ms) < 0)
        return -1;
    if (*ms != 0 && *ms < TIMEOUT_MIN)
        return fail(c, v->mark,
                    "expected 0 (off) or a duration from 100ms to 24h for "
                    "%s, got '%s'",
                    where, v->text);
    return 0;
}

static const struct key_def ws_keys[] = {
    {"max_message_size", set_ws_message_size,
     offsetof(struct ws_conf, max_message_size)},
    {"max_send_buffer", set_ws_send_buffer,
     offsetof(struct ws_conf, max_send_buffer)},
    {"ping_interval", set_ws_ping_interval,
     offsetof(struct ws_conf, ping_interval_ms)},
    {"ping_timeout", set_timeout, offsetof(struct ws_conf, ping_timeout_ms)},
    {"close_timeout", set_timeout, offsetof(struct ws_conf, close_timeout_ms)},
    {NULL, NULL, 0},
};

static int set_websocket_section(struct ctx *c, const struct ynode *v,
                                 const char *where, void *field)
{
    return walk_map(c, v, where, ws_keys, field);
}

/* pubsub */

static int set_history(struct ctx *c, const struct ynode *v, const char *where,
                       void *field)
{
    uint64_t n;

    if (get_int(c, v, where, 0, HISTORY_MAX, &n) < 0)
        return -1;
    *(unsigned *)field = (unsigned)n;
    return 0;
}

static int set_history_ttl(struct ctx *c, const struct ynode *v,
                           const char *where, void *field)
{
    return get_duration(c, v, where, HISTORY_TTL_MIN, HISTORY_TTL_MAX, field);
}

static int set_max_channels(struct ctx *c, const struct ynode *v,
                            const char *where, void *field)
{
    uint64_t n;

    if (get_int(c, v, where, 1, CHANNELS_MAX, &n) < 0)
        return -1;
    *(unsigned *)field = (unsigned)n;
    return 0;
}

static int set_pubsub_message_size(struct ctx *c, const struct ynode *v,
                                   const char *where, void *field)
{
    return get_size(c, v, where, 1, PUBSUB_MESSAGE_MAX, field);
}

static int set_history_memory(struct ctx *c, const struct ynode *v,
                              const char *where, void *field)
{
    return get_size(c, v, where, 0, HISTORY_MEMORY_MAX, field);
}

static int set_hub_queue(struct ctx *c, const struct ynode *v,
                         const char *where, void *field)
{
    return get_size(c, v, where, HUB_QUEUE_MIN, HUB_QUEUE_MAX, field);
}

/* Why text is not "redis://host:port" or "redis://host:port/db"; NULL when
 * it is. host is a name or an IPv4 address (letters, digits, '-', '.'),
 * or an IPv6 address in brackets; port 1..65535; db 0..REDIS_DB_MAX; no
 * leading zeros, nothing after. Only the syntax: nothing is resolved. */
static const char *redis_url_error(const char *text)
{
    const char *p = text, *host;
    uint64_t n;

    if (strncmp(p, "redis://", 8) != 0)
        return "it must start with redis://";
    p += 8;
    host = p;
    if (*p == '[') {
        p++;
        while (isxdigit((unsigned char)*p) || *p == ':' || *p == '.')
            p++;
        if (*p != ']' || p == host + 1)
            return "bad IPv6 address";
        p++;
    } else {
        while (isalnum((unsigned char)*p) || *p == '-' || *p == '.')
            p++;
        if (p == host)
            return "no host";
    }
    if (*p != ':')
        return *p == '\0' || *p == '/' ? "no port" : "bad character in host";
    p++;
    if (*p == '0' || parse_digits(&p, 65535, &n) < 0 || n == 0)
        return "the port is a number from 1 to 65535";
    if (*p == '\0')
        return NULL;
    if (*p != '/')
        return "bad character after the port";
    p++;
    if ((*p == '0' && p[1] != '\0') || parse_digits(&p, REDIS_DB_MAX, &n) < 0)
        return "the database is a number from 0 to 2147483647";
    if (*p != '\0')
        return "bad character after the database";
    return NULL;
}

/* An empty value is the default: no Redis. */
static int set_redis(struct ctx *c, const struct ynode *v, const char *where,
                     void *field)
{
    struct pubsub_conf *ps = field;
    const char *text, *why;

    if (v->type == YNODE_SCALAR && v->is_null) {
        free(ps->redis);
        ps->redis = NULL;
        return 0;
    }
    if (get_string(c, v, where, &text) < 0)
        return -1;
    why = redis_url_error(text);
    if (why != NULL)
        return fail(c, v->mark,
                    "bad URL '%s' for %s: %s (expected "
                    "redis://host:port or redis://host:port/db)",
                    text, where, why);
    ps->redis_mark = v->mark;
    return copy_string(c, v, text, &ps->redis);
}

static const struct key_def pubsub_keys[] = {
    {"history", set_history, offsetof(struct pubsub_conf, history)},
    {"history_ttl", set_history_ttl,
     offsetof(struct pubsub_conf, history_ttl_ms)},
    {"max_channels", set_max_channels,
     offsetof(struct pubsub_conf, max_channels)},
    {"max_message_size", set_pubsub_message_size,
     offsetof(struct pubsub_conf, max_message_size)},
    {"max_history_memory", set_history_memory,
     offsetof(struct pubsub_conf, max_history_memory)},
    {"hub_queue", set_hub_queue, offsetof(struct pubsub_conf, hub_queue)},
    {"redis", set_redis, 0},
    {NULL, NULL, 0},
};

static int set_pubsub_section(struct ctx *c, const struct ynode *v,
                              const char *where, void *field)
{
    return walk_map(c, v, where, pubsub_keys, field);
}

/* security */

/* A key version as in Tornado's signed values: 0 ... INT32_MAX. */
static int get_key_version(struct ctx *c, const struct ynode *v,
                           const char *where, long *out)
{
    uint64_t n;

    if (get_int(c, v, where, 0, INT32_MAX, &n) < 0)
        return -1;
    *out = (long)n;
    return 0;
}

static int add_secret(struct ctx *c, const struct ynode *v, const char *where,
                      long version)
{
    struct security_conf *sc = &c->cfg->security;
    struct secret_conf *s = &sc->secrets[sc->nsecrets];
    const char *text;

    if (get_string(c, v, where, &text) < 0)
        return -1;
    s->version = version;
    s->mark = v->mark;
    sc->nsecrets++; /* counted now, so config_free frees it on error */
    return resolve_path(c, v, &s->file);
}

/* cookie_secret_file: FILE, or {KEY_VERSION: FILE, ...} */
static int set_secret_files(struct ctx *c, const struct ynode *v,
                            const char *where, void *field)
{
    struct security_conf *sc = field;
    char kwhere[CONF_WHERE_MAX + 32];
    long version;
    size_t i;

    if (sc->secrets != NULL)
        return fail(c, v->mark, "%s given twice", where);
    if (v->type == YNODE_MAP && v->is_null)
        return wrong_type(c, v, where, "a file name or a mapping");
    sc->secrets = calloc(v->type == YNODE_MAP && v->n ? v->n : 1,
                         sizeof(*sc->secrets));
    if (sc->secrets == NULL)
        return fail(c, v->mark, "out of memory");
    if (v->type != YNODE_MAP)
        return add_secret(c, v, where, SIGNED_KV_NONE);
    for (i = 0; i < v->n; i++) {
        const struct ynode *key = YMAP_KEY(v, i);
        snprintf(kwhere, sizeof(kwhere), "a key version of %s", where);
        /* the YAML reader refuses a key given twice */
        if (get_key_version(c, key, kwhere, &version) < 0)
            return -1;
        snprintf(kwhere, sizeof(kwhere), "%s.%ld", where, version);
        if (add_secret(c, YMAP_VALUE(v, i), kwhere, version) < 0)
            return -1;
    }
    return 0;
}

static int set_key_version(struct ctx *c, const struct ynode *v,
                           const char *where, void *field)
{
    struct security_conf *sc = field;

    sc->key_version_mark = v->mark;
    return get_key_version(c, v, where, &sc->key_version);
}

static int set_cookie_name(struct ctx *c, const struct ynode *v,
                           const char *where, void *field)
{
    const char *text, *p;

    if (get_string(c, v, where, &text) < 0)
        return -1;
    for (p = text; *p != '\0'; p++)
        if (*p <= ' ' || *p >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", *p))
            break;
    if (*text == '\0' || *p != '\0')
        return fail(c, v->mark, "bad cookie name '%s' for %s", text, where);
    return copy_string(c, v, text, field);
}

static int set_login_url(struct ctx *c, const struct ynode *v,
                         const char *where, void *field)
{
    const char *text, *p;

    if (get_string(c, v, where, &text) < 0)
        return -1;
    for (p = text; *p != '\0'; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            break;
    if (*text == '\0' || *p != '\0')
        return fail(c, v->mark,
                    "bad URL '%s' for %s (a path like /login, or an "
                    "absolute URL, without spaces)",
                    text, where);
    return copy_string(c, v, text, field);
}

static int set_max_age_days(struct ctx *c, const struct ynode *v,
                            const char *where, void *field)
{
    uint64_t n;

    if (get_int(c, v, where, 1, MAX_AGE_DAYS_MAX, &n) < 0)
        return -1;
    *(unsigned *)field = (unsigned)n;
    return 0;
}

/* security.jwt */

static int set_jwt_algorithm(struct ctx *c, const struct ynode *v,
                             const char *where, void *field)
{
    static const char *const names[] = {"HS256", "RS256", "ES256"};
    const char *text;

    if (get_string(c, v, where, &text) < 0)
        return -1;
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        if (strcmp(text, names[i]) == 0) {
            *(int *)field = JWTC_HS256 + (int)i;
            return 0;
        }
    return fail(c, v->mark, "unknown %s '%s' (expected HS256, RS256 or ES256)",
                where, text);
}

static int set_jwt_key_file(struct ctx *c, const struct ynode *v,
                            const char *where, void *field)
{
    struct jwt_conf *jc = field;
    const char *text;

    if (get_string(c, v, where, &text) < 0)
        return -1;
    jc->key_mark = v->mark;
    return resolve_path(c, v, &jc->key_file);
}

static int set_jwt_string(struct ctx *c, const struct ynode *v,
                          const char *where, void *field)
{
    const char *text;

    if (get_string(c, v, where, &text) < 0)
        return -1;
    return copy_string(c, v, text, field);
}

static int set_jwt_leeway(struct ctx *c, const struct ynode *v,
                          const char *where, void *field)
{
    return get_duration(c, v, where, 0, JWT_LEEWAY_MAX, field);
}

static const struct key_def jwt_keys[] = {
    {"algorithm", set_jwt_algorithm, offsetof(struct jwt_conf, alg)},
    {"key_file", set_jwt_key_file, 0},
    {"issuer", set_jwt_string, offsetof(struct jwt_conf, issuer)},
    {"audience", set_jwt_string, offsetof(struct jwt_conf, audience)},
    {"leeway", set_jwt_leeway, offsetof(struct jwt_conf, leeway_ms)},
    {NULL, NULL, 0},
};

static int set_jwt_section(struct ctx *c, const struct ynode *v,
                           const char *where, void *field)
{
    struct jwt_conf **jc = field;

    if (v->type != YNODE_MAP || v->is_null)
        return wrong_type(c, v, where, "a mapping");
    if ((*jc = calloc(1, sizeof(**jc))) == NULL)
        return fail(c, v->mark, "out of memory");
    (*jc)->leeway_ms = 60 * SECOND;
    if (walk_map(c, v, where, jwt_keys, *jc) < 0)
        return -1;
    if ((*jc)->alg == 0)
        return fail(c, v->mark, "missing 'algorithm' in %s", where);
    if ((*jc)->key_file == NULL)
        return fail(c, v->mark, "missing 'key_file' in %s", where);
    return 0;
}

static const struct key_def security_keys[] = {
    {"cookie_secret_file", set_secret_files, 0},
    {"key_version", set_key_version, 0},
    {"user_cookie", set_cookie_name,
     offsetof(struct security_conf, user_cookie)},
    {"login_url", set_login_url, offsetof(struct security_conf, login_url)},
    {"xsrf_cookies", set_flag, offsetof(struct security_conf, xsrf_cookies)},
    {"max_age_days", set_max_age_days,
     offsetof(struct security_conf, max_age_days)},
    {"jwt", set_jwt_section, offsetof(struct security_conf, jwt)},
    {NULL, NULL, 0},
};

static int set_security_section(struct ctx *c, const struct ynode *v,
                                const char *where, void *field)
{
    struct security_conf *sc = field;
    int map = 0;

    sc->key_version_mark.line = 0;
    if (walk_map(c, v, where, security_keys, sc) < 0)
        return -1;
    for (size_t i = 0; i < sc->nsecrets; i++)
        map |= sc->secrets[i].version != SIGNED_KV_NONE;
    if (sc->key_version_mark.line != 0 && !map)
        return fail(c, sc->key_version_mark,
                    "security.key_version needs a mapping of key versions "
                    "to files in security.cookie_secret_file");
    if (map && sc->key_version_mark.line == 0)
        return fail(c, v->mark,
                    "security.key_version must say which key of "
                    "security.cookie_secret_file signs new values");
    if (map) {
        size_t i;
        for (i = 0; i < sc->nsecrets; i++)
            if (sc->secrets[i].version == sc->key_version)
                break;
        if (i == sc->nsecrets)
            return fail(c, sc->key_version_mark,
                        "security.key_version %ld is not a key of "
                        "security.cookie_secret_file",
                        sc->key_version);
    }
    return 0;
}

/* Routes that need a secret, checked once everything is read. */
static int check_security(struct ctx *c)
{
    const struct config *cfg = c->cfg;

    for (size_t i = 0; i < cfg->nroutes; i++)
        if (cfg->routes[i].auth == AUTH_LOGIN &&
            cfg->security.nsecrets == 0)
            return fail(c, cfg->routes[i].auth_mark,
                        "auth: login reads the signed cookie "
                        "security.user_cookie, so it needs "
                        "security.cookie_secret_file");
    for (size_t i = 0; i < cfg->nroutes; i++)
        if (cfg->routes[i].auth == AUTH_JWT && cfg->security.jwt == NULL)
            return fail(c, cfg->routes[i].auth_mark,
                        "auth: jwt checks bearer tokens with the key of "
                        "security.jwt, which is not set");
    return 0;
}

/* the top level */

static const struct key_def top_keys[] = {
    {"server", set_server, 0},
    {"log", set_log, 0},
    {"modules", set_modules, 0},
    {"routes", set_routes, 0},
    {"websocket", set_websocket_section, offsetof(struct config, ws)},
    {"pubsub", set_pubsub_section, offsetof(struct config, pubsub)},
    {"security", set_security_section, offsetof(struct config, security)},
    {NULL, NULL, 0},
};

/* Routes may come before the modules they name, so this runs last. */
static int check_handlers(struct ctx *c)
{
    const struct config *cfg = c->cfg;
    const struct route_conf *rc;
    char hint[SUGGEST_MAX + 32];
    struct suggest s;
    size_t i, j;

    for (i = 0; i < cfg->nroutes; i++) {
        rc = &cfg->routes[i];
        if (rc->module == NULL) /* subscribe or publish */
            continue;
        suggest_init(&s, rc->module);
        for (j = 0; j < cfg->nmodules; j++) {
            if (strcmp(cfg->modules[j].name, rc->module) == 0)
                break;
            suggest_try(&s, cfg->modules[j].name);
        }
        if (j == cfg->nmodules)
            return fail(c, rc->handler_mark,
                        "unknown module '%s' in %s '%s:%s'%s", rc->module,
                        rc->websocket ? "websocket" : "handler", rc->module,
                        rc->handler, suggest_hint(&s, hint, sizeof(hint)));
    }
    return 0;
}

static void set_defaults(struct config *cfg)
{
    cfg->workers = 0; /* auto */
    cfg->shutdown_timeout_ms = 30 * 1000;
    cfg->thread_pool = 4;
    cfg->limits.max_header_size = 16 * 1024;
    cfg->limits.max_uri_size = 8 * 1024;
    cfg->limits.max_body_size = 10 * 1024 * 1024;
    cfg->limits.header_timeout_ms = 10 * 1000;
    cfg->limits.body_timeout_ms = 60 * 1000;
    cfg->limits.body_min_rate = 500;
    cfg->limits.body_rate_grace_ms = 20 * 1000;
    cfg->limits.idle_timeout_ms = 75 * 1000;
    cfg->limits.max_connections = 10000;
    cfg->ws.max_message_size = 1 * MIB;
    cfg->ws.max_send_buffer = 1 * MIB;
    cfg->ws.ping_interval_ms = 0;
    cfg->ws.ping_timeout_ms = 30 * SECOND;
    cfg->ws.close_timeout_ms = 5 * SECOND;
    cfg->pubsub.history = 100;
    cfg->pubsub.history_ttl_ms = 5 * MINUTE;
    cfg->pubsub.max_channels = 100000;
    cfg->pubsub.max_message_size = 64 * KIB;
    cfg->pubsub.max_history_memory = 64 * MIB;
    cfg->pubsub.hub_queue = 16 * MIB;
    cfg->pubsub.redis = NULL;
    cfg->security.key_version = SIGNED_KV_NONE;
    cfg->security.max_age_days = 31;
    cfg->log_level = SQ_LOG_INFO;
    cfg->log_error = NULL;
    cfg->access_mode = ACCESS_OFF;
}

static int apply(struct ctx *c, const struct ynode *root)
{
    struct conf_mark nowhere = {c->e.file, 0, 0};

    if (walk_map(c, root, "", top_keys, c->cfg) < 0)
        return -1;
    if (c->cfg->nlisten == 0 && add_listen(c, DEFAULT_LISTEN, nowhere) < 0)
        return -1;
    if (c->cfg->workers == 0)
        c->cfg->workers = cpu_count();
    if (c->cfg->workers > WORKERS_MAX) /* auto on a very large machine */
        c->cfg->workers = WORKERS_MAX;
    if (check_handlers(c) < 0)
        return -1;
    if (c->cfg->security.user_cookie == NULL &&
        (c->cfg->security.user_cookie = strdup("user")) == NULL)
        return fail(c, root->mark, "out of memory");
    if (c->cfg->security.login_url == NULL &&
        (c->cfg->security.login_url = strdup("/login")) == NULL)
        return fail(c, root->mark, "out of memory");
    return check_security(c);
}

/* Entry points ------------------------------------------------------------ */

static struct config *parse_text(const char *text, size_t len, const char *name,
                                 const char *basedir, char *err, size_t errlen)
{
    struct ctx c = {.e = {.err = err, .errlen = errlen}, .basedir = basedir};
    struct ynode *root = NULL;
    struct config *cfg;

    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL || (cfg->file = strdup(name)) == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: out of memory", name);
        free(cfg);
        return NULL;
    }
    c.cfg = cfg;
    c.e.file = cfg->file;
    set_defaults(cfg);
    root = yamltree_load(&c.e, text, len);
    if (root == NULL || apply(&c, root) < 0)
        goto fail;
    yamltree_free(root);
    return cfg;

fail:
    yamltree_free(root);
    config_free(cfg);
    return NULL;
}

struct config *config_parse(const char *text, size_t len, const char *name,
                            char *err, size_t errlen)
{
    if (text == NULL) {
        text = "";
        len = 0;
    }
    return parse_text(text, len, name != NULL ? name : "<string>", NULL, err,
                      errlen);
}

static int read_file(const char *path, char **text, size_t *len, char *err,
                     size_t errlen)
{
    size_t cap = 4096, n = 0, got;
    char *buf = NULL, *p;
    FILE *f;

    f = fopen(path, "rb");
    if (f == NULL)
        goto fail;
    for (;;) {
        if (n == cap || buf == NULL) {
            cap = buf == NULL ? cap : cap * 2;
            if ((p = realloc(buf, cap)) == NULL)
                goto fail;
            buf = p;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        goto fail;
    fclose(f);
    *text = buf;
    *len = n;
    return 0;

fail:
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    if (f != NULL)
        fclose(f);
    free(buf);
    return -1;
}

/* The absolute directory of path, for resolve_path(). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char cwd[PATH_MAX], *dir;
    int n;

    if (slash == path)
        return strdup("/");
    if (path[0] == '/')
        return strndup(path, (size_t)(slash - path));
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return slash != NULL ? strndup(path, (size_t)(slash - path))
                             : strdup(".");
    if (slash == NULL)
        return strdup(cwd);
    n = asprintf(&dir, "%s/%.*s", cwd, (int)(slash - path), path);
    return n < 0 ? NULL : dir;
}

struct config *config_load(const char *path, char *err, size_t errlen)
{
    struct config *cfg = NULL;
    char *text = NULL, *dir = NULL;
    size_t len;

    if (read_file(path, &text, &len, err, errlen) < 0)
        return NULL;
    dir = dir_of(path);
    if (dir == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    cfg = parse_text(text, len, path, dir, err, errlen);
out:
    free(dir);
    free(text);
    return cfg;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void config_free(struct config *cfg)
{
    size_t i;

    if (cfg == NULL)
        return;
    for (i = 0; i < cfg->nlisten; i++) {
        struct tls_conf *tc = cfg->listen[i].tls;
        free(cfg->listen[i].text);
        if (tc != NULL) {
            free(tc->cert);
            free(tc->key);
            free(tc->ciphers);
            free(tc->ciphersuites);
            free(tc);
        }
    }
    free(cfg->listen);
    for (i = 0; i < cfg->nmodules; i++) {
        free(cfg->modules[i].name);
        free(cfg->modules[i].path);
        conftree_free(cfg->modules[i].config);
    }
    free(cfg->modules);
    for (i = 0; i < cfg->nroutes; i++) {
        free(cfg->routes[i].path);
        free(cfg->routes[i].module);
        free(cfg->routes[i].handler);
        free(cfg->routes[i].channel);
        free_strings(cfg->routes[i].origins, cfg->routes[i].norigins);
        free_strings(cfg->routes[i].subprotocols, cfg->routes[i].nsubprotocols);
        for (size_t j = 0; j < cfg->routes[i].nrequire; j++) {
            free(cfg->routes[i].require[j].claim);
            free(cfg->routes[i].require[j].tmpl);
        }
        free(cfg->routes[i].require);
    }
    free(cfg->routes);
    free(cfg->pubsub.redis);
    for (i = 0; i < cfg->security.nsecrets; i++) {
        free(cfg->security.secrets[i].file);
        if (cfg->security.secrets[i].key != NULL) {
            OPENSSL_cleanse(cfg->security.secrets[i].key,
                            cfg->security.secrets[i].len);
            free(cfg->security.secrets[i].key);
        }
    }
    free(cfg->security.secrets);
    free(cfg->security.user_cookie);
    free(cfg->security.login_url);
    proxy_set_free(&cfg->trusted_proxies);
    if (cfg->security.jwt != NULL) {
        struct jwt_conf *jc = cfg->security.jwt;
        free(jc->key_file);
        free(jc->issuer);
        free(jc->audience);
        if (jc->key != NULL) {
            OPENSSL_cleanse(jc->key, jc->key_len);
            free(jc->key);
        }
        EVP_PKEY_free(jc->pkey);
        free(jc);
    }
    free(cfg->log_error);
    free(cfg->log_access);
    free(cfg->file);
    free(cfg);
}
