/*
 * internal.h - private declarations of squalld, grouped by the file that
 * defines them. Nothing here is visible to modules; the public API is
 * include/squall/squall.h.
 *
 * Conventions: functions return 0 on success and a negative value on
 * failure; those that can fail for a user-visible reason take
 * (char *err, size_t errlen) and write one line without a trailing newline.
 */
#ifndef SQUALL_INTERNAL_H
#define SQUALL_INTERNAL_H

#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <squall/squall.h>

struct event_base;
struct event;
struct timeval;
struct evbuffer;
struct config;

#define SQ_SERVER_NAME "squall"

/* for callback parameters an interface imposes */
#define UNUSED __attribute__((unused))

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* pool.c ------------------------------------------------------------- */

/* Creates a pool whose first block holds `size` bytes. */
sq_pool *pool_new(size_t size);
/* Runs the cleanups and frees every block but the first, for reuse. */
void pool_reset(sq_pool *p);
/* Runs the cleanups and frees the pool. NULL is fine. */
void pool_free(sq_pool *p);
/* A request pool (POOL_REQUEST bytes first block) from a per-process
 * cache, and back: recycling resets it and keeps it for the next request
 * when the cache has room, so requests cost no malloc. */
#define POOL_REQUEST 4096
sq_pool *pool_get(void);
void pool_recycle(sq_pool *p);

/* buf.c -------------------------------------------------------------- */

/* Bytes p[off, len) are pending; p[len, cap) is free room. */
struct buf {
    char *p;
    size_t off, len, cap;
};

#define buf_pending(b) ((b)->len - (b)->off)

/* Room for n more bytes at p + len (len is not advanced); NULL when out of
 * memory. May move the pending bytes. */
char *buf_reserve(struct buf *b, size_t n);
int buf_add(struct buf *b, const void *data, size_t n);
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Drops n pending bytes from the front; an emptied large buffer is freed. */
void buf_consume(struct buf *b, size_t n);
void buf_clear(struct buf *b);
/* Gives the memory back (to a cache of blocks for the next buffer). */
void buf_release(struct buf *b);
void buf_free(struct buf *b);

/* log.c -------------------------------------------------------------- */

/* Error log: level names "debug" ... "crit"; -1 when unknown. */
int log_level_from_name(const char *name);
/* Opens log.error and log.access of cfg (files are opened O_APPEND). */
int log_open(const struct config *cfg, char *err, size_t errlen);
/* Reopens the log files (SIGUSR1, after rotation). */
void log_reopen(void);
/* The role shown in every line: "master", "worker 1", ... */
void log_set_role(const char *role);
void log_msg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap);
/* Logs at crit level and exits 1: for impossible states only. */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* Appends the combined-format access line of a finished request. */
void access_log(const struct sq_req *r);
/* Writes buffered access lines out. */
void access_flush(void);

#define log_debug(...) log_msg(SQ_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(SQ_LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(SQ_LOG_NOTICE, __VA_ARGS__)
#define log_warn(...) log_msg(SQ_LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(SQ_LOG_ERROR, __VA_ARGS__)
#define log_crit(...) log_msg(SQ_LOG_CRIT, __VA_ARGS__)

/* proxy.c ------------------------------------------------------------ */

/* server.trusted_proxies: the peers whose X-Real-IP, X-Forwarded-For and
 * X-Forwarded-Proto (or X-Scheme) are believed. */

/* An IP address in binary; family AF_INET (addr[0, 4)) or AF_INET6. */
struct proxy_addr {
    int family;
    uint8_t addr[16];
};

/* One network of the set: family AF_INET or AF_INET6, the first `bits`
 * bits of addr (the others are 0). */
struct proxy_net {
    uint8_t family;
    uint8_t bits;
    uint8_t addr[16];
};

struct proxy_set {
    struct proxy_net *nets;
    size_t n;
    int unix_trusted; /* `unix`: peers on a unix socket */
};

/* The text of an address, NUL included (INET6_ADDRSTRLEN); a longer
 * text is not an address. */
#define PROXY_ADDR_MAX 46

struct header;

/* Parses one entry: "unix" (net->family AF_UNIX), an address (a /32 or
 * /128), or a CIDR "addr/bits". -1 with a message for anything else: a bad
 * address or prefix, a prefix beyond 32 or 128, bits set after it. */
int proxy_net_parse(const char *text, struct proxy_net *net, char *err,
                    size_t errlen);
/* Adds an entry (as proxy_net_parse reads it) to s. */
int proxy_set_add(struct proxy_set *s, const char *text, char *err,
                  size_t errlen);
void proxy_set_free(struct proxy_set *s);
/* Parses exactly s[0, len) as an IPv4 or IPv6 address (no port, no
 * brackets, no zone): 0, or -1. Any bytes are safe. */
int proxy_addr_parse(const char *s, size_t len, struct proxy_addr *a);
/* The canonical text of a (inet_ntop): 0, or -1 when outlen is short. */
int proxy_addr_format(const struct proxy_addr *a, char *out, size_t outlen);
/* Whether a is in one of s's networks (an IPv4-mapped IPv6 address counts
 * as its IPv4 address). s may be NULL: nothing is trusted. */
int proxy_trusted_addr(const struct proxy_set *s, const struct proxy_addr *a);
/* The same for an accepted peer (is_unix: a unix socket, sa unused). */
int proxy_trusted_sockaddr(const struct proxy_set *s, const struct sockaddr *sa,
                           int is_unix);
/* The client a trusted proxy names in headers h[0, n): a valid X-Real-IP
 * (only one such header), else the rightmost X-Forwarded-For element that
 * is not itself a trusted proxy, walking every X-Forwarded-For header from
 * the last (the leftmost when all are trusted; a bad element ends the walk
 * and the last good one stands). 1 with *out set, or 0 when there is
 * none. */
int proxy_client_addr(const struct proxy_set *s, const struct header *h,
                      size_t n, struct proxy_addr *out);
/* The scheme a trusted proxy names: X-Scheme, else X-Forwarded-Proto (the
 * last element of the last header, as Tornado): 1 https, 0 http, -1 none
 * or another word. */
int proxy_scheme(const struct header *h, size_t n);

/* The worker's set (the config's; NULL: none). */
void proxy_setup(const struct proxy_set *s);
/* Whether an accepted peer is trusted by the worker's set. */
int proxy_peer_trusted(const struct sockaddr *sa, int is_unix);
/* On a request from a trusted peer, before routing: r->remote becomes
 * the client proxy_client_addr finds and r->https follows proxy_scheme. */
void proxy_apply(sq_req *r);

/* config.c ----------------------------------------------------------- */

/* Where a value stood in its YAML file, for messages "file:line:col". */
struct conf_mark {
    const char *file;
    int line, col; /* 1-based */
};

/* A listen entry's `tls:` block (tls.c makes its SSL_CTX). */
#define TLS_PROTO_12 1u /* TLSv1.2 */
#define TLS_PROTO_13 2u /* TLSv1.3 */
struct tls_conf {
    char *cert, *key;      /* PEM files, resolved against the config's dir */
    unsigned protocols;    /* TLS_PROTO_* set, not empty */
    char *ciphers;         /* TLS 1.2 cipher list; NULL: tls.c's default */
    char *ciphersuites;    /* TLS 1.3 suites; NULL: tls.c's default */
    struct conf_mark mark; /* of the tls: block */
    struct conf_mark cert_mark, key_mark, ciphers_mark, ciphersuites_mark;
};

struct listen_conf {
    char *text; /* as written: "127.0.0.1:8080", "[::1]:80", "unix:/p" */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    struct conf_mark mark;
    struct tls_conf *tls; /* NULL: plain HTTP */
};

/* Every value is within the range config.c checks (squall.yaml(5)), so
 * the runtime may add to them and convert them without overflow. */
struct limits_conf {
    size_t max_header_size;     /* request line + headers; 431 beyond */
    size_t max_uri_size;        /* request target; 414 beyond */
    size_t max_body_size;       /* 413 beyond */
    unsigned header_timeout_ms; /* 408 when the head is not complete */
    unsigned body_timeout_ms;   /* 408 when the body stalls this long */
    unsigned idle_timeout_ms;   /* idle keep-alive connections closed */
    unsigned max_connections;   /* per worker */
    /* 408 unless the body is complete body_rate_grace_ms + received bytes
     * / body_min_rate after the head (mod_reqtimeout's MinRate); bytes
     * per second, 0 = no minimum rate */
    size_t body_min_rate;
    unsigned body_rate_grace_ms;
};

struct module_conf {
    char *name;
    char *path;
    sq_conf *config;            /* NULL when the block has no `config:` */
    struct conf_mark mark;      /* of the module's key */
    struct conf_mark path_mark; /* of its path value */
};

/* A route's permessage-deflate policy (`deflate:`), validated by config.c
 * (window bits 8..15); the default when enabled is the most generous. */
struct wsdeflate_policy {
    int enabled;
    int server_no_context_takeover; /* never reuse our window (memory) */
    int client_no_context_takeover; /* the client may not reuse its own */
    int server_max_window_bits;     /* our window, at most */
    int client_max_window_bits;     /* the client's, if it lets us choose */
};

#define WSDEFLATE_POLICY_DEFAULT {1, 0, 0, 15, 15}

struct route_conf {
    char *path;       /* exact, with {param}s, or a regex starting with ^ */
    unsigned methods; /* METHOD_BIT() set; 0 = any method */
    char *module;     /* "hello" of handler: hello:echo */
    char *handler;    /* "echo"; the endpoint's name for a websocket */
    struct conf_mark mark;         /* of the route entry */
    struct conf_mark handler_mark; /* of the handler (or websocket) value */
    /* a `websocket: module:name` route, and its options */
    int websocket;
    struct wsdeflate_policy deflate; /* .enabled: accept permessage-deflate */
    char **origins; /* allowed Origins; none: the request's Host */
    size_t norigins;
    char **subprotocols; /* in the server's order of preference */
    size_t nsubprotocols;
    /* a `subscribe:` or `publish:` route (pubsub endpoints, no module) */
    int subscribe, publish;
    char *channel;                /* template: "chat.{room}" */
    unsigned poll_timeout_ms;     /* long poll: 204 after this */
    unsigned sse_keepalive_ms;    /* SSE: a comment line this often */
    /* options that run before the target (security.c) */
    int auth;               /* AUTH_* */
    struct conf_mark auth_mark;
    int xsrf;               /* -1: as security.xsrf_cookies; 0 or 1 */
    /* auth: jwt's claim binding, `require: {CLAIM: TEMPLATE}` (jwtauth.c) */
    struct jwt_require *require;
    size_t nrequire;
    struct conf_mark require_mark;
};

/* One claim a route requires: the token's claim must equal the template
 * with the route's path parameters filled in ("{user}", or a literal). */
struct jwt_require {
    char *claim;
    char *tmpl;
};

/* The top-level `websocket:` section. */
struct ws_conf {
    size_t max_message_size;   /* after inflation; 1009 beyond */
    size_t max_send_buffer;    /* waiting output; 1008 beyond */
    unsigned ping_interval_ms; /* 0: no server pings */
    unsigned ping_timeout_ms;  /* for the pong */
    unsigned close_timeout_ms; /* for the client's close frame */
};

/* The top-level `pubsub:` section (the hub's channels and history). */
struct pubsub_conf {
    unsigned history;            /* messages kept per channel; 0: none */
    unsigned history_ttl_ms;     /* a message is kept at most this long */
    unsigned max_channels;       /* channels the hub holds at once */
    size_t max_message_size;     /* a publish larger than this: 413 */
    size_t max_history_memory;   /* all channels' history together */
    size_t hub_queue;            /* unsent bytes per worker in the hub */
    char *redis;                 /* "redis://host:port[/db]", or NULL */
    struct conf_mark redis_mark; /* for messages about it */
};

/* A secret file named in `security:`; the bytes are read by
 * security_load() (security.c), not by the parser. */
struct secret_conf {
    long version; /* key version; -1 (SIGNED_KV_NONE) for a single file */
    char *file;
    struct conf_mark mark; /* of the file name */
    unsigned char *key;    /* the file's content without its newline */
    size_t len;
};

/* The top-level `security:` section. */
struct security_conf {
    struct secret_conf *secrets; /* cookie_secret_file: one, or a map */
    size_t nsecrets;
    long key_version; /* signs new values; -1: the single file's */
    struct conf_mark key_version_mark;
    char *user_cookie;     /* sq_current_user's signed cookie ("user") */
    char *login_url;       /* where auth: login sends a GET ("/login") */
    int xsrf_cookies;      /* check _xsrf on POST, PUT, PATCH, DELETE ... */
    unsigned max_age_days; /* of a signed value read (31) */
    struct jwt_conf *jwt;  /* security.jwt, or NULL */
};

/* security.jwt: how auth: jwt routes check bearer tokens (jwtauth.c). */
enum { JWTC_HS256 = 1, JWTC_RS256, JWTC_ES256 };
struct jwt_conf {
    int alg; /* JWTC_* (not libjwt's enum: internal.h does not include it) */
    char *key_file;
    struct conf_mark key_mark; /* of the file name */
    char *issuer;              /* the "iss" a token must have, or NULL */
    char *audience;            /* what its "aud" must name, or NULL: no "aud" */
    unsigned leeway_ms;        /* allowed clock skew for exp and nbf (60s) */
    unsigned char *key;        /* read by security_load: the HS256 secret */
    size_t key_len;
    struct evp_pkey_st *pkey;  /* ... or the RS256/ES256 public key, parsed */
};

/* A route's `auth:` */
enum { AUTH_NONE, AUTH_LOGIN, AUTH_JWT };

enum { ACCESS_OFF, ACCESS_STDERR, ACCESS_FILE };

struct config {
    char *file; /* path it was read from, or the name given for a string */
    struct listen_conf *listen;
    size_t nlisten;
    int workers; /* resolved: `auto` is the number of online CPUs */
    unsigned shutdown_timeout_ms;
    unsigned thread_pool; /* threads per worker; 0 = no pool */
    struct proxy_set trusted_proxies; /* server.trusted_proxies */
    struct limits_conf limits;
    struct ws_conf ws;
    struct pubsub_conf pubsub;
    struct security_conf security;
    int log_level;    /* SQ_LOG_* */
    char *log_error;  /* NULL = stderr, else a file path */
    int access_mode;  /* ACCESS_* */
    char *log_access; /* file path when ACCESS_FILE */
    struct conf_mark log_error_mark, log_access_mark; /* for messages */
    struct module_conf *modules;
    size_t nmodules;
    struct route_conf *routes;
    size_t nroutes;
};

/* Reads, parses and validates a config file; no side effects. NULL and a
 * message "file:line:col: what" on error. */
struct config *config_load(const char *path, char *err, size_t errlen);
/* The same from a string; name stands for the file in messages. */
struct config *config_parse(const char *text, size_t len, const char *name,
                            char *err, size_t errlen);
void config_free(struct config *cfg);
/* "16k", "1m", "512" (bytes) -> bytes. -EINVAL for bad text, -ERANGE for
 * a number too large for a size_t; *out is set only on success. */
int parse_size(const char *s, size_t *out);
/* "500ms", "10s", "5m", "1h", "30" (seconds) -> milliseconds. -EINVAL or
 * -ERANGE (above UINT_MAX ms) as parse_size. */
int parse_duration(const char *s, unsigned *ms_out);

/* yamltree.c --------------------------------------------------------- */

/* Where a parse writes its one error: "file:line:col: message". */
struct conf_err {
    const char *file;
    char *err;
    size_t errlen;
};

/* The mark of a 0-based libyaml position. */
struct conf_mark conf_mark_at(const struct conf_err *e, size_t line,
                              size_t col);
/* Writes "file:line:col: message" (one line) and returns -1. */
int conf_fail(const struct conf_err *e, struct conf_mark m, const char *fmt,
              ...) __attribute__((format(printf, 3, 4)));
/* Longest "where" of a value: "modules.chat.config.rooms[3]" and such. */
#define CONF_WHERE_MAX 256
/* " in server" for a section, "" at the top level, for messages. */
const char *conf_in_where(const char *where, char *buf, size_t len);

enum { YNODE_SCALAR, YNODE_LIST, YNODE_MAP };

struct ynode {
    int type;
    int is_null; /* a plain "", "~" or "null": an empty value */
    char *text;  /* YNODE_SCALAR */
    struct conf_mark mark;
    size_t n;            /* list items, or map entries */
    size_t nkids;        /* n for a list, 2 n for a map */
    struct ynode **kids; /* list: items; map: key, value, key, value, ... */
};

#define YMAP_KEY(m, i) ((m)->kids[2 * (i)])
#define YMAP_VALUE(m, i) ((m)->kids[2 * (i) + 1])

/* Parses one YAML document into a tree; NULL and an error in e. */
struct ynode *yamltree_load(const struct conf_err *e, const char *text,
                            size_t len);
void yamltree_free(struct ynode *n);
/* "a list", "a mapping", "a string" or "an empty value", for messages. */
const char *ynode_kind(const struct ynode *n);

/* conftree.c --------------------------------------------------------- */

/* The plain tree handed to module init(). Built by config.c, freed with
 * the config. */
struct sq_conf {
    int type;        /* SQ_CONF_* */
    char *value;     /* scalar text */
    size_t n;        /* entries of a list or map */
    char **keys;     /* map keys */
    sq_conf **items; /* list items or map values */
};

sq_conf *conftree_scalar(const char *value);
sq_conf *conftree_new(int type);
/* Appends to a list (key NULL) or a map. Takes ownership of item. */
int conftree_append(sq_conf *c, const char *key, sq_conf *item);
void conftree_free(sq_conf *c);

/* listen.c ----------------------------------------------------------- */

/* Parses "host:port", "[v6]:port" or "unix:/path" into lc->addr. */
int listen_parse(const char *text, struct listen_conf *lc, char *err,
                 size_t errlen);

struct ssl_ctx_st;

struct listener {
    int fd;
    char *name; /* for logs */
    int is_unix;
    int owned; /* bound by squalld (not inherited): its unix path is ours */
    struct ssl_ctx_st *tls; /* a tls: listener's context (tls_attach) */
};

/* Binds and listens on every address of cfg, or takes the sockets passed
 * by systemd socket activation (LISTEN_FDS). */
int listen_open(const struct config *cfg, struct listener **out, size_t *n,
                char *err, size_t errlen);
/* Closes the sockets and frees l; with unlink_unix, also removes the unix
 * socket files squalld bound itself (never inherited ones). */
void listen_close(struct listener *l, size_t n, int unlink_unix);

/* notify.c ----------------------------------------------------------- */

/* Sends a state ("READY=1", "STOPPING=1", ...) to $NOTIFY_SOCKET, if set. */
void notify_send(const char *state);

/* module.c ----------------------------------------------------------- */

struct module {
    const struct module_conf *conf;
    void *dl;
    const sq_module *desc;
    int inited;
};

/* The directory where bare module names ("hello.so") are looked up:
 * -m DIR, else $SQUALL_MODULE_DIR, else the installed module directory. */
extern const char *module_dir;

/* dlopens mc->path and checks its descriptor (magic, ABI, name). */
int module_load(struct module *m, const struct module_conf *mc, char *err,
                size_t errlen);
/* The handler `name` exported by m, or NULL. */
sq_handler_fn module_handler(const struct module *m, const char *name);
/* Runs fini (if init ran) and dlcloses. */
void module_unload(struct module *m);

/* The WebSocket endpoint `name` of m, or NULL. */
const sq_ws_def *module_websocket(const struct module *m, const char *name);

/* A route resolved to its target. */
enum route_kind { ROUTE_HANDLER, ROUTE_WEBSOCKET, ROUTE_SUBSCRIBE,
                  ROUTE_PUBLISH };

struct route {
    const struct route_conf *conf;
    enum route_kind kind;
    const struct module *mod;
    sq_handler_fn fn;    /* ROUTE_HANDLER */
    const sq_ws_def *ws; /* ROUTE_WEBSOCKET, ROUTE_SUBSCRIBE's upgrades */
};

struct modset {
    struct module *mods;
    size_t nmods;
    struct route *routes;
    size_t nroutes;
};

/* Loads every module of cfg and resolves every route's handler. */
int modset_load(struct modset *ms, const struct config *cfg, char *err,
                size_t errlen);
/* Runs every module's init (in a worker). */
int modset_init(struct modset *ms, char *err, size_t errlen);
/* Runs fini for every module whose init succeeded, last first. A worker
 * calls it before freeing its event base, which may still hold events that
 * live in a module's memory; modset_unload (which dlcloses) comes after. */
void modset_fini(struct modset *ms);
/* modset_fini, then dlclose every module and free the set. */
void modset_unload(struct modset *ms);

/* router.c ----------------------------------------------------------- */

enum {
    METHOD_GET,
    METHOD_HEAD,
    METHOD_POST,
    METHOD_PUT,
    METHOD_DELETE,
    METHOD_PATCH,
    METHOD_OPTIONS,
    METHOD_CONNECT,
    METHOD_TRACE,
    METHOD_OTHER, /* any other token: only routes without `methods` match */
    METHOD_COUNT
};
#define METHOD_BIT(m) (1u << (m))

/* METHOD_* of a method name (exact, case-sensitive), METHOD_OTHER if
 * unknown. */
int method_from_name(const char *name, size_t len);
const char *method_name(int method);
/* "GET, HEAD, POST" for an Allow header, into buf. */
size_t methods_format(unsigned methods, char *buf, size_t len);

#define ROUTE_MAX_PARAMS 16

struct route_param {
    const char *name;
    const char *value; /* percent-decoded, from the match pool */
};

struct route_match {
    void *target;
    unsigned allow; /* with ROUTER_BAD_METHOD: methods that would match */
    size_t nparams;
    struct route_param params[ROUTE_MAX_PARAMS];
};

enum { ROUTER_OK = 0, ROUTER_NOT_FOUND = -1, ROUTER_BAD_METHOD = -2 };
/* router_match could not allocate the parameters from pool: answer 500. */
#define ROUTER_ERROR (-3)

struct router;

struct router *router_new(void);
/* Adds a route: pattern is an exact path ("/a/b"), a template with
 * {name} segments ("/users/{id}"), or a PCRE2 regex starting with '^'
 * whose named groups become parameters. methods 0 = any. */
int router_add(struct router *rt, const char *pattern, unsigned methods,
               void *target, char *err, size_t errlen);
/* The names of the parameters a pattern captures, in order: its {name}
 * segments, or the named groups of a regex (none for an exact path).
 * names[i] point into buf, which has room for strlen(pattern) + 1 bytes.
 * Returns how many, or -1 with router_add's message when the pattern is
 * not one router_add would take. */
int router_param_names(const char *pattern, char *buf,
                       const char *names[ROUTE_MAX_PARAMS], char *err,
                       size_t errlen);
/* Matches a path (percent-encoded, no query). GET routes also answer
 * HEAD. Parameters are decoded into pool. */
int router_match(const struct router *rt, const char *path, size_t len,
                 int method, sq_pool *pool, struct route_match *m);
void router_free(struct router *rt);

/* util.c ------------------------------------------------------------- */

/* The value of a hex digit of either case, or -1. */
int hex_value(int c);
/* p[0, len) as an unsigned decimal (no sign, no leading zero but "0", at
 * most UINT64_MAX): 0, or -1. *v is set only on success. */
int parse_u64(const char *p, size_t len, uint64_t *v);
/* p[0, len) as a channel epoch: exactly 16 lowercase hex digits, not all
 * zero (positions, Redis replies): 0, or -1. */
int parse_epoch(const char *p, size_t len, uint64_t *v);

struct route_param;
/* A template ("chat.{room}") with each {name} replaced by the value of
 * the parameter of that name, NUL-terminated in out: its length, or -1
 * when a parameter is missing, a brace is not closed, or out is too
 * small. (Channel names and require: claims; each checks the result.) */
long template_fill(const char *tmpl, const struct route_param *params,
                   size_t nparams, char *out, size_t outlen);
/* Whether tmpl's braces pair up and every {name} is one of names[0, n):
 * 0, or -1 with a message ("unknown parameter '{x}' in <what>'<tmpl>'
 * (the path has a, b)"; what is "channel " or ""). */
int template_check(const char *tmpl, const char *what,
                   const char *const *names, size_t nnames, char *err,
                   size_t errlen);

/* Decodes %XX (and '+' as space when plus) in place; returns the new
 * length, or -1 on a bad escape. */
long url_decode(char *s, size_t len, int plus);
/* The length s would have after url_decode(), or -1 on a bad escape;
 * s is not changed. */
long url_decoded_len(const char *s, size_t len);
/* The name of an HTTP status ("Not Found"), "Unknown" if none. */
const char *http_status_text(int status);
/* Number of online CPUs (>= 1). */
int cpu_count(void);
/* ASCII case-insensitive equality of two field names (RFC 9110 5.1),
 * lengths first: it runs for every header lookup. */
static inline int name_eq(const char *a, size_t alen, const char *b,
                          size_t blen)
{
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x |= 0x20;
        if (y >= 'A' && y <= 'Z')
            y |= 0x20;
        if (x != y)
            return 0;
    }
    return 1;
}

/* Writes a one-line error message into err (when err is not NULL). */
void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* http.c ------------------------------------------------------------- */

/*
 * The HTTP/1.1 request parser behind a small interface, so that the
 * http-parser library can be replaced (by llhttp) without touching conn.c.
 * http_feed() parses until one message is complete and stops there.
 */
struct http_in;

struct http_in *http_in_new(void);
void http_in_free(struct http_in *h);
/* Starts a new request, r receives what is parsed. */
void http_in_begin(struct http_in *h, struct sq_req *r,
                   const struct limits_conf *lim);

enum {
    HTTP_IN_MORE = 0, /* all input consumed, message not complete */
    HTTP_IN_HEAD = 1, /* the head just completed and a body follows */
    HTTP_IN_DONE = 2, /* the message is complete */
};

/* Feeds input; *used gets the bytes consumed. Returns HTTP_IN_*, or the
 * negated HTTP status to answer with before closing (-400, -413, ...). */
int http_feed(struct http_in *h, const char *data, size_t len, size_t *used);
/* Whether the head has been seen completely for the current request. */
int http_in_head_done(const struct http_in *h);
/* Whether any byte of the current request has been seen. */
int http_in_started(const struct http_in *h);

/* request.c / response.c --------------------------------------------- */

struct header {
    const char *name;
    const char *value;
    uint32_t name_len, value_len;
};

/* The transport a request is answered on (http1.c): how the request
 * lifecycle (request.c) reaches the connection without knowing it. */
struct req_transport {
    /* Serialises the head (once) and the buffered body, and writes;
     * SQ_AGAIN when the connection's output is above the high mark. */
    int (*flush)(sq_req *r);
    /* An SQ_ASYNC request is complete: queue the rest, release r. */
    void (*finish)(sq_req *r);
    /* Call r->on_drain when the output falls below the low mark. */
    void (*want_drain)(sq_req *r);
    size_t (*pending)(const sq_req *r);
};

struct sq_req {
    sq_pool *pool;
    void *tp; /* the transport's state; NULL once the client went away */
    const struct req_transport *ops;

    /* request */
    int method; /* METHOD_* */
    const char *method_s;
    int version;  /* 10 or 11 */
    char *target; /* as received */
    char *path;   /* path part of target (for absolute-form too) */
    size_t path_len;
    const char *query; /* after '?' or "" */
    struct header *headers;
    size_t nheaders, cap_headers;
    const char *host; /* Host header */
    char *body;
    size_t body_len, body_cap;
    unsigned keep_alive : 1;
    unsigned expect_continue : 1;
    unsigned chunked_in : 1;
    unsigned routed : 1; /* match holds the route (found at the head) */
    unsigned https : 1;  /* over TLS, or X-Forwarded-Proto from a proxy */
    struct route_match match;
    char **qargs; /* decoded query pairs, parsed on first use */
    size_t nqargs;
    int qargs_parsed;
    struct form_field *bargs; /* form fields of the body (security.c) */
    size_t nbargs;
    int bargs_parsed;
    const char *user;  /* sq_current_user, once known */
    int user_known;
    int auth_done;     /* the route's auth ran (at the head, or later) */
    char *xsrf;        /* sq_xsrf_token's token, once made */
    struct jwt_claims *jwt; /* auth: jwt's verified claims (jwtauth.c) */

    /* response */
    int status;
    struct header *out_headers;
    size_t nout, cap_out;
    struct buf *out;        /* body buffered by sq_write, lent by the conn */
    unsigned head_sent : 1; /* after sq_flush */
    unsigned chunked_out : 1;
    unsigned finished : 1;
    unsigned async : 1;
    unsigned in_handler : 1;
    void (*on_close)(sq_req *r, void *arg);
    void *on_close_arg;
    void (*on_drain)(sq_req *r, void *arg);
    void *on_drain_arg;

    char remote[48]; /* client address as text, for sq_remote_addr and logs */
    uint64_t body_bytes; /* response body bytes, for the access log */
    struct sq_sub *subs;         /* its subscriptions (pubsub.c) */
    struct ps_pending *pubs;     /* its publishes waiting for the hub */
};

/* Prepares r (from a fresh or reset pool) for a new request answered on
 * transport tp. */
void req_init(sq_req *r, sq_pool *pool, void *tp,
              const struct req_transport *ops);
/* Appends a header to r; the strings must live in r->pool. */
int req_add_header(sq_req *r, const char *name, size_t nlen, const char *value,
                   size_t vlen);
/* Splits q ("a=1&b=2") into percent-decoded pairs ('+' a space) in pool,
 * (*args)[2i] the name and (*args)[2i + 1] the value; broken pairs are
 * skipped (request.c). -1 when out of memory. */
int req_parse_pairs(sq_pool *pool, const char *q, char ***args, size_t *n);
/* Splits r->target into path and query. Returns -1 when it is not a valid
 * origin-form or absolute-form target. */
int req_parse_target(sq_req *r);

/* Serialises status line, headers and buffered body of r into out: pure,
 * request in, bytes out. With final = 0 it is a flush: headers go out with
 * chunked (or close-delimited) framing and the buffered body as the first
 * chunk. Whether the connection closes (r->keep_alive) must be decided
 * before the head is serialised. A large final body is moved into tail
 * (when given and empty) instead of being copied; it must then be sent
 * right after out. */
int response_serialize(sq_req *r, struct buf *out, struct buf *tail, int final);
/* A complete error response for protocol errors (no request object). */
int response_simple_error(struct buf *out, int status, int close);
/* Replaces r's response by an error page. */
void response_error_page(sq_req *r, int status);

/* route.c ------------------------------------------------------------ */

/* route_run: r is to be upgraded by its transport (ws_upgrade). */
#define ROUTE_UPGRADE 3
/* a route option answered r (security_route): the target does not run */
#define ROUTE_ANSWERED 4

/* Runs what a matched route does with r: its options (auth, xsrf:
 * security_route), then its target. Returns the handler's SQ_* result,
 * or ROUTE_UPGRADE for a WebSocket handshake (rt->ws is its endpoint). */
int route_run(const struct route *rt, sq_req *r);

/* endpoint.c --------------------------------------------------------- */

/* The targets of subscribe and publish routes; they return what a
 * handler returns, or ROUTE_UPGRADE for a WebSocket subscriber, whose
 * endpoint is endpoint_ws. */
int endpoint_subscribe(const struct route *rt, sq_req *r);
int endpoint_publish(const struct route *rt, sq_req *r);
extern const sq_ws_def endpoint_ws;

/* conn.c ------------------------------------------------------------- */

/*
 * The transport (see conn.c). A protocol is a set of callbacks; the
 * connection calls them, never the other way round, so the protocol can
 * be swapped (HTTP/1.1 now, WebSocket after an upgrade).
 */
struct conn;

struct conn_proto {
    const char *name;
    /* New input (kept input first): returns the bytes consumed; the rest
     * is kept (up to 64 KiB) and offered again with the next input. */
    size_t (*input)(struct conn *c, const char *data, size_t len);
    /* The client sends nothing more: FIN, or a reset while paused. */
    void (*eof)(struct conn *c);
    /* The protocol's timer (conn_timer) expired. */
    void (*timeout)(struct conn *c);
    /* Output fell to CONN_OUT_LOW after conn_want_drain(). May be NULL. */
    void (*drain)(struct conn *c);
    /* Graceful stop of the worker. NULL: closed at once. */
    void (*shutdown)(struct conn *c);
    /* The connection is being freed: release the protocol's state. */
    void (*release)(struct conn *c);
};

/* Producers wait above OUT_HIGH and resume below OUT_LOW; a connection
 * whose pending output exceeds OUT_LIMIT is closed (a client that does
 * not read, and a producer that ignores SQ_AGAIN). */
#define CONN_OUT_HIGH (1024 * 1024)
#define CONN_OUT_LOW (256 * 1024)
#define CONN_OUT_LIMIT (16 * 1024 * 1024)

/* Per worker, before the first connection. count_changed (may be NULL)
 * is told the number of open connections after each open and close. */
void conn_setup(struct event_base *base, const struct limits_conf *lim,
                void (*count_changed)(unsigned count, int opened));
/* Takes an accepted socket; NULL (socket closed) when out of memory. The
 * caller then gives it a protocol (http1_start). */
struct conn *conn_new(int fd, const struct sockaddr *sa, int is_unix);
void conn_set_proto(struct conn *c, const struct conn_proto *proto,
                    void *data);
void *conn_proto_data(const struct conn *c);
const char *conn_remote(const struct conn *c);
/* Whether the peer is a trusted proxy (server.trusted_proxies), as
 * decided when it was accepted. */
int conn_trusted(const struct conn *c);
/* The output buffers: append to out (a large body may be moved to an
 * empty tail), then conn_send(). */
struct buf *conn_out(struct conn *c);
struct buf *conn_tail(struct conn *c);
void conn_send(struct conn *c);
/* Writes what it can now, also inside a callback (where conn_send waits
 * for the callback's end): for a producer that must know what the client
 * did not take. The connection is never freed under the caller. */
void conn_flush(struct conn *c);
size_t conn_pending(const struct conn *c);
/* Whether producers should wait (pending output at CONN_OUT_HIGH). */
int conn_output_high(const struct conn *c);
/* Calls proto->drain once the output is at CONN_OUT_LOW or below. */
void conn_want_drain(struct conn *c);
/* Stops (on) or resumes offering input; the client leaving is still
 * noticed while paused. Resuming offers kept input from the loop. */
void conn_pause(struct conn *c, int on);
size_t conn_kept(const struct conn *c);
/* Arms the protocol's timer: common is a conn_common_timeout() of ms;
 * NULL disarms. While output waits the write timer takes its place. */
void conn_timer(struct conn *c, const struct timeval *common, unsigned ms);
const struct timeval *conn_common_timeout(unsigned ms, struct timeval *tv);
/* Closes now, or when the running callback returns; proto->release runs
 * first. */
void conn_close(struct conn *c);
/* Closes from the loop, never under the caller: for the request API,
 * whose caller may still hold the request that the close detaches. */
void conn_abort(struct conn *c);
/* Closes once the output is written; with linger, after a half-close and
 * a moment of discarding input (so that the client reads the answer). */
void conn_close_after_output(struct conn *c, int linger);
/* Closed or closing after its output. */
int conn_closing(const struct conn *c);
/* Graceful stop: proto->shutdown of every connection. */
void conn_shutdown_all(void);
/* Closes every connection now (worker exit). */
void conn_close_all(void);
/* Speaks TLS on c (a new connection of a tls: listener): the handshake
 * first, then the protocol's bytes through it; -1 when out of memory. */
int conn_start_tls(struct conn *c, struct ssl_ctx_st *ctx);
/* Whether c is a TLS connection. */
int conn_is_tls(const struct conn *c);
unsigned conn_count(void);
/* A monotonic clock in milliseconds, coarse and cheap. */
uint64_t conn_now_ms(void);

/* http1.c ------------------------------------------------------------ */

struct router;
/* Per worker, after conn_setup. */
void http1_setup(const struct router *rt, const struct limits_conf *lim);
/* Serves HTTP/1.1 on c; -1 when out of memory (then close c). */
int http1_start(struct conn *c);
/* The worker is stopping: every response from now on closes. */
void http1_stop(void);

/* wshandshake.c ------------------------------------------------------ */

/* Sec-WebSocket-Accept: 20 bytes of SHA-1 in base64 */
#define WS_ACCEPT_LEN 28

/* 0 when r is a WebSocket opening handshake squall accepts (RFC 6455
 * 4.2.1); else the status to answer (400, or 426 for another version)
 * and *why says what is wrong, for the log. */
int ws_check_request(const sq_req *r, const char **why);
/* Whether key is 16 bytes in base64 (RFC 6455 4.1). */
int ws_key_valid(const char *key);
/* Sec-WebSocket-Accept for key into out (NUL-terminated); -1 for a bad
 * key. */
int ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1]);
/* Whether a header `name` (all of them) lists token, case-insensitively. */
int ws_header_has_token(const sq_req *r, const char *name, const char *token);
/* The first subprotocol the client offers that supported[] has, or NULL. */
const char *ws_select_protocol(const sq_req *r, const char *const *supported,
                               size_t n);
/* Tornado's check_origin: no Origin is allowed (not a browser); with an
 * allowed list (n > 0) the Origin must be one of them ("*": any); without,
 * its host[:port] must be the request's Host, and an http:// Origin is
 * refused on a request whose scheme is https (sq_scheme). */
int ws_origin_allowed(const sq_req *r, const char *const *allowed, size_t n);

/* websocket.c -------------------------------------------------------- */

/* The list of ws's subscriptions (from its open on); NULL once it is
 * closing. */
struct sq_sub **ws_subs(sq_ws *ws);

/* Per worker, after conn_setup. */
void ws_setup(struct event_base *base, const struct ws_conf *conf);
/* Performs the opening handshake of r on route rt (ROUTE_WEBSOCKET) and,
 * when the module's open accepts it, queues the 101 response on c and
 * swaps c's protocol to WebSocket: 0. The caller still owns r (and
 * finishes it) but no longer owns c's protocol state: it frees its own
 * at once, and the input c kept goes to the WebSocket. Otherwise returns
 * the status to answer with (400, 403, 426, 500); nothing changed. */
int ws_upgrade(struct conn *c, const struct route *rt, sq_req *r);
/* The bytes of one WebSocket's state, for tests and the README. */
size_t ws_state_size(void);

/* scoreboard.c ------------------------------------------------------- */

/* Creates the counters shared with the workers: one slot per worker, in
 * memory the master maps before it forks. */
int scoreboard_create(int slots);
void scoreboard_destroy(void);
/* The master, when a slot's worker starts or dies: not live, no
 * connections. */
void scoreboard_reset(int slot);
/* A worker: whether it accepts, how many connections it holds, how many
 * more it accepted. No-ops without a scoreboard (unit tests). */
void scoreboard_set_live(int slot, int live);
void scoreboard_set_conns(int slot, unsigned conns);
void scoreboard_accepted(int slot, unsigned n);

/* What a worker sees of the others. */
struct sb_view {
    unsigned mine;                 /* this slot's connections */
    unsigned total;                /* connections of the live slots + mine */
    unsigned nlive;                /* live slots, counting this one */
    unsigned long others_accepted; /* accepted by the other slots, ever */
};

/* A share is exceeded by more than slack plus 1/SB_SHARE_TOLERANCE. */
#define SB_SHARE_TOLERANCE 32

void scoreboard_view(int slot, struct sb_view *v);
/* Whether this slot holds more than the average of the live slots, plus
 * slack and 1/SB_SHARE_TOLERANCE of the average. */
int scoreboard_over_share(const struct sb_view *v, unsigned slack);

/* accept.c ----------------------------------------------------------- */

struct worker;

/* Creates w's accept events and starts accepting; marks the slot live. */
int accept_start(struct worker *w);
/* Stops accepting for good and closes w's copies of the listening sockets
 * (graceful stop). */
void accept_stop(struct worker *w);
void accept_free(struct worker *w);
/* Re-evaluates whether to accept (conn.c calls it when max_connections is
 * reached or left; the argument is not needed any more). */
void worker_accept_enable(int on);
/* A connection closed: publishes the count. */
void accept_conn_closed(void);

/* threadpool.c ------------------------------------------------------- */

/* Jobs waiting for a pool thread, per worker; sq_run_in_pool returns
 * SQ_AGAIN beyond. Running jobs and jobs whose done has not run yet do
 * not count. */
#define THREADPOOL_QUEUE_MAX 1024

struct threadpool;

/* Starts nthreads (>= 1) threads whose jobs complete on base's loop; the
 * calling thread is that loop's thread. idle(idle_arg) (may be NULL) runs
 * on the loop whenever the last job in flight has completed. NULL when
 * out of memory or threads. */
struct threadpool *threadpool_new(struct event_base *base, unsigned nthreads,
                                  unsigned queue_max, void (*idle)(void *arg),
                                  void *idle_arg);
/* Queues work(arg) for a pool thread; done(arg) (may be NULL) then runs on
 * the loop. Loop thread only. 0, SQ_AGAIN when queue_max jobs wait, or
 * SQ_ERROR (NULL pool, another thread, out of memory, being freed). */
int threadpool_submit(struct threadpool *p, void (*work)(void *arg),
                      void (*done)(void *arg), void *arg);
/* Jobs submitted whose done callback has not returned yet (0 for NULL). */
unsigned threadpool_inflight(const struct threadpool *p);
/* Lets the threads finish every queued job, joins them, runs the done
 * callbacks still due, and frees p: it blocks for as long as the jobs
 * take (the worker calls it when none is in flight). NULL is fine. */
void threadpool_free(struct threadpool *p);

/* worker.c ----------------------------------------------------------- */

struct worker {
    int slot; /* 0 .. workers-1, its place in the scoreboard */
    struct event_base *base;
    const struct config *cfg;
    struct modset mods;
    struct router *router;
    struct listener *listeners;
    size_t nlisteners;
    struct event **accept_ev;
    struct threadpool *pool; /* NULL with server.thread_pool: 0 */
    int stopping;
};

extern struct worker *worker;

/* Runs a worker in the child after fork; returns the exit status. It
 * writes one byte to ready_fd (and closes it) once it serves. */
int worker_main(int slot, const struct config *cfg, struct listener *l,
                size_t nl, int ready_fd);

/* hub.c -------------------------------------------------------------- */

/* The hub's listening socket, made by the master before any fork: a unix
 * stream socket under a random abstract name. */
struct hub_address {
    int fd; /* listening; the hub accepts on it, workers close it */
    struct sockaddr_un sun;
    socklen_t len;
};

extern struct hub_address hub_address;

int hub_listen(char *err, size_t errlen);
/* Runs the hub in the child after fork; returns the exit status. */
int hub_main(const struct config *cfg);

/* pubsub.c ----------------------------------------------------------- */

/* Connects the worker to the hub (and keeps it connected). */
void pubsub_setup(struct event_base *base, const struct config *cfg,
                  int slot);
void pubsub_free(void);
/* A request is finished or detached: its subscriptions end, and its
 * publishes' outcomes are not told. */
void pubsub_req_gone(sq_req *r);
/* Every subscription in an owner's list ends (a WebSocket closing). */
void pubsub_owner_gone(struct sq_sub **owner);

/* tls.c -------------------------------------------------------------- */

/*
 * TLS listeners with OpenSSL. The master makes one SSL_CTX per tls:
 * listener before it forks, so every worker shares its session ticket
 * keys (random per SSL_CTX: they live as long as the master).
 */
struct ssl_st;

/* The context of a tls: block: certificate chain and key read and
 * checked against each other, protocols, ciphers. NULL and a message
 * "file:line:col: ..." naming the file or setting at fault. */
struct ssl_ctx_st *tls_ctx_new(const struct tls_conf *tc, char *err,
                               size_t errlen);
void tls_ctx_free(struct ssl_ctx_st *ctx);
/* squalld -t: makes and frees the context of every tls: block. */
int tls_check(const struct config *cfg, char *err, size_t errlen);
/* Gives listener i the context of cfg->listen[i].tls (sockets passed by
 * systemd are taken in the order of the listen entries). */
int tls_attach(const struct config *cfg, struct listener *ls, size_t n,
               char *err, size_t errlen);

/* Per connection (conn.c). A call's outcome besides bytes moved: */
enum {
    TLS_DONE = 0,       /* bytes moved, or the handshake is complete */
    TLS_WANT_READ = 1,  /* the socket had nothing more to read (EAGAIN) */
    TLS_WANT_WRITE = 2, /* the socket took nothing more (EAGAIN) */
    TLS_EOF = 3,        /* the peer closed (close_notify, or a bare FIN) */
    TLS_ERROR = 4,      /* a protocol or socket error: the reason is logged
                         * by tls.c at info level */
};
struct ssl_st *tls_conn_new(struct ssl_ctx_st *ctx, int fd);
int tls_handshake(struct ssl_st *ssl, const char *remote);
/* SSL_read / SSL_write: bytes (> 0) with TLS_DONE, or 0 and the reason. */
size_t tls_read(struct ssl_st *ssl, void *p, size_t len, int *st,
                const char *remote);
size_t tls_write(struct ssl_st *ssl, const void *p, size_t len, int *st,
                 const char *remote);
/* Whether the last SSL_read on ssl left nothing buffered and found the
 * socket empty (a short read(2)): the next byte brings a new edge. */
int tls_drained(struct ssl_st *ssl);
/* Sends close_notify, without waiting for the peer's (best effort). */
void tls_notify_close(struct ssl_st *ssl);
void tls_conn_free(struct ssl_st *ssl);

/* master.c ----------------------------------------------------------- */

/* Forks the workers and supervises them until SIGTERM/SIGINT. */
int master_main(struct config *cfg, const char *config_path, struct listener *l,
                size_t nl);

/* utf8.c ------------------------------------------------------------- */

/*
 * Incremental UTF-8 validation (RFC 3629): the state is carried across
 * feeds, so a text split anywhere (fragments, reads) is checked as it
 * arrives and refused at its first impossible byte.
 */
struct utf8_state {
    uint8_t need;   /* continuation bytes still expected; 0xff: invalid */
    uint8_t lo, hi; /* the range the next continuation byte must be in */
};

void utf8_init(struct utf8_state *s);
/* Checks n more bytes (p may be NULL when n is 0): 0 while they can still
 * be valid UTF-8, -1 at the first byte that cannot; once -1, always -1. */
int utf8_feed(struct utf8_state *s, const uint8_t *p, size_t n);
/* Whether what was fed is valid and ends on a character boundary (a text
 * must not end inside a sequence). */
int utf8_complete(const struct utf8_state *s);
/* Whether [p, p + n) as a whole is valid UTF-8. */
int utf8_valid(const uint8_t *p, size_t n);

/* wsframe.c ---------------------------------------------------------- */

/*
 * The WebSocket frame codec (RFC 6455 5), free of I/O and allocation: a
 * decoder for the frames a client sends, and an encoder for the frames a
 * server sends. The transport feeds the decoder whatever bytes it read and
 * acts on the events it returns; a protocol error comes back as the close
 * code to send before closing.
 */

/* Opcodes (RFC 6455 5.2) */
#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xa

/* Close codes (RFC 6455 7.4.1) */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_PROTOCOL 1002
#define WS_CLOSE_UNSUPPORTED 1003
#define WS_CLOSE_NO_STATUS 1005 /* never sent: a close frame had no code */
#define WS_CLOSE_ABNORMAL 1006  /* never sent: TCP closed without a close */
#define WS_CLOSE_BAD_DATA 1007
#define WS_CLOSE_POLICY 1008
#define WS_CLOSE_TOO_BIG 1009
#define WS_CLOSE_INTERNAL 1011

#define WS_CONTROL_MAX 125 /* payload of a control frame (RFC 6455 5.5) */
#define WS_HEADER_MAX 10   /* header of a server frame: never masked */
#define WS_CONTROL_FRAME_MAX (2 + WS_CONTROL_MAX)

/* What ws_decode() returns besides errors. */
enum {
    WS_MORE = 0,    /* all input consumed, no event */
    WS_DATA = 1,    /* ev holds a piece of a text or binary message */
    WS_CONTROL = 2, /* ev holds a whole close, ping or pong frame */
};

struct ws_event {
    /* WS_DATA: payload bytes, unmasked in place in the caller's input
     * (len may be 0: an empty frame). WS_CONTROL: the whole payload, in
     * the decoder; valid until the next ws_decode(). */
    const uint8_t *data;
    size_t len;
    /* WS_DATA: WS_OP_TEXT or WS_OP_BINARY, that of the message, also for
     * its continuation frames. WS_CONTROL: WS_OP_CLOSE, _PING or _PONG. */
    uint8_t opcode;
    uint8_t first;      /* WS_DATA: the first piece of a message */
    uint8_t fin;        /* WS_DATA: the last piece of a message */
    uint8_t compressed; /* WS_DATA: the message had RSV1 (RFC 7692 6):
                         * data is deflated, not yet checked as UTF-8 */
    /* WS_OP_CLOSE: the peer's code (WS_CLOSE_NO_STATUS if it sent none)
     * and its reason, valid UTF-8, inside data */
    uint16_t code;
    const uint8_t *reason;
    size_t reason_len;
};

/* One per connection, about 180 bytes, no pointers: it can live inside
 * the WebSocket's state and needs no freeing. */
struct ws_decoder {
    uint64_t max_message;   /* payload bytes of a message; 0: no limit */
    uint64_t left;          /* of the current frame's payload */
    uint64_t msg_len;       /* payload bytes of the current message so far */
    struct utf8_state utf8; /* of the current text message */
    uint8_t state;
    uint8_t have, need; /* header bytes read, and needed */
    uint8_t hdr[14];    /* 2 + extended length (8) + masking key (4) */
    uint8_t mask[4];
    uint8_t phase;  /* payload bytes of the frame unmasked, modulo 4 */
    uint8_t msg_op; /* of the unfinished data message; 0: none */
    uint8_t msg_deflate, msg_first;
    uint8_t rsv1_ok; /* permessage-deflate was negotiated */
    uint8_t ctl_len; /* control payload bytes in ctl */
    uint16_t error;  /* the close code of a failure; 0: none */
    uint8_t ctl[WS_CONTROL_MAX];
};

/* Readies d for a new connection. max_message bounds a message's payload
 * (the sum of its fragments; 0: no bound); rsv1_ok says permessage-deflate
 * was negotiated, so that RSV1 marks a compressed message. A compressed
 * message is allowed deflate's overhead on the wire (max_message / 2048 +
 * 64 bytes more): the inflater must bound its inflated size, and check it
 * as UTF-8 if it is text. */
void ws_decoder_init(struct ws_decoder *d, uint64_t max_message, int rsv1_ok);

/*
 * Feeds bytes a client sent, in pieces of any size (one byte at a time
 * works). Reads up to one event and stores the bytes consumed in *used:
 *   WS_MORE      every byte was consumed, nothing to report yet;
 *   WS_DATA      ev is a piece of a data message (feed the rest again);
 *   WS_CONTROL   ev is a close, ping or pong frame (may come between the
 *                fragments of a message: RFC 6455 5.4);
 *   negative     the connection fails: send a close frame with the code
 *                -rc (1002, 1007 or 1009), then close. It sticks: later
 *                calls return it again without reading.
 * Payload is unmasked in place in `in`. Uncompressed text is validated as
 * it arrives, so a WS_DATA piece is valid UTF-8 as far as it goes. A
 * message over max_message fails with 1009 as soon as a header shows it,
 * before its payload is read. After a close event the caller stops
 * feeding (RFC 6455 5.5.1).
 */
int ws_decode(struct ws_decoder *d, uint8_t *in, size_t len, size_t *used,
              struct ws_event *ev);

/* Whether a close frame may carry code (RFC 6455 7.4.1, 7.4.2, and the
 * IANA registry: 1000-1003, 1007-1014, 3000-4999). */
int ws_close_code_valid(unsigned code);

/* XORs n bytes from src into dst (which may be src) with the masking key,
 * starting at the key's byte `phase` (RFC 6455 5.3). Masking and unmasking
 * are the same operation. */
void ws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
             size_t phase);

/* Writes the header of an unmasked (server) frame to out, which has room
 * for WS_HEADER_MAX bytes; returns its length: 2, 4 or 10. len must be
 * below 2^63. */
size_t ws_encode_header(uint8_t *out, unsigned opcode, int fin, int rsv1,
                        uint64_t len);
/* Writes a whole ping or pong frame (or any control frame) to out, which
 * has room for WS_CONTROL_FRAME_MAX bytes; returns its length, or -1 when
 * len > WS_CONTROL_MAX. */
int ws_encode_control(uint8_t *out, unsigned opcode, const void *payload,
                      size_t len);
/* Writes a whole close frame to out (room for WS_CONTROL_FRAME_MAX bytes):
 * code 0 gives an empty payload; otherwise code and reason. Returns its
 * length, or -1 when code may not be sent, reason is longer than 123
 * bytes or is not UTF-8 (RFC 6455 5.5.1). */
int ws_encode_close(uint8_t *out, unsigned code, const char *reason,
                    size_t reason_len);
/* wsdeflate.c -------------------------------------------------------- */

/* permessage-deflate (RFC 7692): negotiation and whole-message codec, no
 * I/O. websocket.c owns one struct wsdeflate per connection that agreed
 * to it. Loop thread only: nothing here is shared, but nothing is locked.
 */

/* What was agreed with one client: the codec's configuration. */
struct wsdeflate_params {
    uint8_t server_no_context_takeover;
    uint8_t client_no_context_takeover;
    uint8_t server_max_window_bits; /* 8..15 */
    uint8_t client_max_window_bits; /* 8..15 */
};

/* Longest response value, NUL included. */
#define WSDEFLATE_RESPONSE_MAX 160

/* Reads the client's Sec-WebSocket-Extensions value (several fields joined
 * with ", ", RFC 7230 3.2.2) and takes the first permessage-deflate offer
 * that is valid and fits the policy (RFC 7692 5, 7.1). Returns 1 with
 * *agreed set and the response header value in resp; 0 when no offer was
 * taken (none, all declined, or policy off: no compression, no response
 * header); -1 when the value does not parse (RFC 6455 9.1; answer 400).
 * resp must hold WSDEFLATE_RESPONSE_MAX bytes. */
int wsdeflate_negotiate(const struct wsdeflate_policy *policy,
                        const char *value, size_t len,
                        struct wsdeflate_params *agreed, char *resp);

/* A connection's compressor (server to client) and decompressor (client to
 * server). Each zlib stream is created on first use and, without context
 * takeover in its direction, freed after each message; so a connection
 * that agreed to no_context_takeover both ways holds no zlib memory
 * between messages. zmem counts the zlib bytes held now, zpeak the most
 * ever held (both include the z_streams). */
struct wsdeflate {
    struct z_stream_s *tx, *rx; /* NULL while not needed */
    struct wsdeflate_params p;
    uint32_t zmem, zpeak;
};

enum {
    WSDEFLATE_OK = 0,
    WSDEFLATE_ENOMEM = -1,  /* close 1011 */
    WSDEFLATE_EDATA = -2,   /* not a valid compressed message: close 1007 */
    WSDEFLATE_ETOOBIG = -3, /* inflates beyond the limit: close 1009 */
};

/* Sets d up for the agreed parameters; allocates nothing. */
void wsdeflate_init(struct wsdeflate *d, const struct wsdeflate_params *p);
/* Compresses one whole message and appends the payload of its frame (or
 * frames: RSV1 on the first only) to out (RFC 7692 7.2.1). Returns 0 or
 * WSDEFLATE_ENOMEM; out keeps only what it had on failure. A message may
 * also go out uncompressed (RSV1 clear, no call): it stays out of the
 * window. */
int wsdeflate_compress(struct wsdeflate *d, const void *in, size_t len,
                       struct buf *out);
/* Decompresses one whole message that had RSV1 set (its frames' payloads
 * concatenated) and appends it to out (RFC 7692 7.2.2). max bounds what
 * it adds (websocket.max_message_size): a message that inflates to more is
 * WSDEFLATE_ETOOBIG, and out is never grown past its length + max, so a
 * zip bomb allocates nothing more. out grows with realloc, as in buf.c,
 * so buf_free still applies. On failure out keeps only what it had and
 * the connection must be closed. */
int wsdeflate_decompress(struct wsdeflate *d, const void *in, size_t len,
                         size_t max, struct buf *out);
/* Frees both zlib streams; d can be initialised again. */
void wsdeflate_free(struct wsdeflate *d);

/* hubproto.c -------------------------------------------------------- */

/* The hub protocol: frames between the workers and the hub over a stream
 * socket, batched (many per write). A frame is a 32-bit big-endian length
 * of what follows, a type byte, then the type's fields in order:
 * integers big-endian, str = u16 length + bytes, blob = u32 length +
 * bytes. A position is (epoch, offset): offsets count a channel's
 * messages from 1; epoch 0 means "no position". */
enum hub_type {
    HUB_HELLO = 1, /* W>H  n = worker slot, pid                           */
    HUB_SUB,       /* W>H  channel, n = the worker's subscribers (0: none) */
    HUB_PUB,       /* W>H  id, channel, data                               */
    HUB_HIST,      /* W>H  id, channel, epoch, offset: what came after it  */
    HUB_PUBOK,     /* H>W  id, epoch, offset, n = subscribers reached      */
    HUB_ERR,       /* H>W  id, code (HUB_E*): a PUB or HIST refused        */
    HUB_MSG,       /* H>W  channel, epoch, offset, data                    */
    HUB_HISTOK,    /* H>W  id, recovered, epoch, offset (the channel's
                    *      last), n = HUB_HITEMs that follow               */
    HUB_HITEM,     /* H>W  id, offset, data                                */
};

enum hub_error {
    HUB_ETOOBIG = 1,  /* larger than pubsub.max_message_size */
    HUB_ETOOMANY = 2, /* pubsub.max_channels reached */
    HUB_ENOMEM = 3,
    HUB_EBADNAME = 4, /* empty, too long, or a byte a name may not have */
    HUB_EREDIS = 5,   /* Redis lost with the publish in flight: whether it
                       * was published is not known */
};

/* One decoded frame; which fields count depends on type. channel and data
 * point into the decoded input and live as long as it. */
struct hub_frame {
    uint8_t type;
    uint8_t recovered;
    uint16_t code;
    uint32_t n;
    uint32_t pid;
    uint64_t id;
    uint64_t epoch, offset;
    const char *channel;
    size_t channel_len;
    const void *data;
    size_t len;
};

/* Longest channel name. */
#define HUB_CHANNEL_MAX 255
/* The frame around a message of max bytes can be this large at most. */
#define HUB_FRAME_MAX(max) ((max) + HUB_CHANNEL_MAX + 64)

/* Appends f, encoded, to out; -1 (out unchanged) when out of memory, or
 * when f is not a frame hub_decode would take (unknown type, a channel of
 * 0 or more than HUB_CHANNEL_MAX bytes, a frame of 4 GiB or more). */
int hub_encode(struct buf *out, const struct hub_frame *f);
/* Decodes the frame at the start of in[0, len): returns the bytes it
 * took (> 0), 0 when more input is needed, -1 when the input is not a
 * frame (unknown type, fields that disagree with the length, a length
 * of 0 or over max_frame - known from the 4 length bytes alone -, a
 * channel of 0 or more than HUB_CHANNEL_MAX bytes, recovered not 0 or
 * 1). f is written only when a frame is returned. */
long hub_decode(const char *in, size_t len, size_t max_frame,
                struct hub_frame *f);

/* outq.c ------------------------------------------------------------- */

/* The hub's output to one worker, in order, with holes: a frame that can
 * only be written later (an answer that needs Redis) reserves a segment,
 * and nothing queued after it is written before it is filled. Bytes ready
 * to be written are in out; the segments hold what waits behind the
 * first unfilled one. */
struct outq_seg {
    struct outq_seg *next;
    int pending; /* reserved, not filled yet */
    struct buf b;
};
struct outq {
    struct buf out;               /* ready: write from here */
    struct outq_seg *head, *tail; /* behind the first unfilled segment */
};

/* Where the next frame goes (out, or the last segment): NULL when out of
 * memory. */
struct buf *outq_tail(struct outq *q);
/* A reserved place for frames to be written later, after everything
 * queued so far and before everything queued next; NULL when out of
 * memory. Its frames go in seg->b; outq_fill releases them. */
struct outq_seg *outq_reserve(struct outq *q);
/* seg's frames are in: what it held back is ready (moved to out) when no
 * earlier segment is still pending. */
void outq_fill(struct outq *q, struct outq_seg *seg);
/* Bytes queued in all: ready and held. */
size_t outq_size(const struct outq *q);
/* Whether a segment is still to be filled. */
int outq_waiting(const struct outq *q);
void outq_free(struct outq *q);

/* redisproto.c ------------------------------------------------------- */

/* pubsub.redis, parsed: "redis://host:port[/db]" (IPv6 hosts without
 * their brackets). 0, or -1 when it is not that form. */
struct redis_url {
    char host[256];
    int port;
    long db;
};
int redis_url_parse(const char *text, struct redis_url *u);
/* What a message carries in Redis (published and kept in history):
 * "<epoch: 16 lowercase hex>:<offset, decimal>\n<data>", binary-safe. */
int redis_payload_encode(struct buf *out, uint64_t epoch, uint64_t offset,
                         const void *data, size_t len);
/* 0 and the parts (data points into p), or -1 when p[0, len) is not that
 * form (epoch 0 or offset 0 included). */
int redis_payload_decode(const char *p, size_t len, uint64_t *epoch,
                         uint64_t *offset, const char **data,
                         size_t *datalen);

/* channel.c ---------------------------------------------------------- */

/* A message in a channel's history. */
struct hmsg {
    struct hmsg *next;         /* the next newer in its channel */
    struct hmsg *older, *newer; /* every channel's, by age (for memory) */
    struct channel *ch;
    uint64_t offset;
    int64_t at_ms; /* when it was published */
    uint32_t len;
    char data[];
};

/* A channel the hub knows: its stream position and its history. */
struct channel {
    struct channel *hnext; /* hash chain */
    uint64_t epoch;        /* never 0 */
    uint64_t offset;       /* the last message's; 0 before the first */
    struct hmsg *first, *last;
    uint32_t count;        /* messages in history */
    uint32_t *subs;        /* subscribers per worker slot (nslots) */
    uint32_t nsubs;        /* their sum */
    struct channel *idle_next; /* on channels.idle, when idle_listed */
    uint8_t idle_listed;
    uint8_t pinned;        /* kept even when idle (channel_set_pinned) */
    /* the hub's link to Redis (hub.c): its subscription there, whether
     * this cache follows Redis's stream, whether it has a local epoch */
    uint8_t rstate, rsynced, rlocal;
    size_t len;
    char name[];           /* len bytes, NUL-terminated */
};

struct channels {
    struct channel **buckets;
    size_t nbuckets, count;
    struct channel *idle; /* may have no history and no subscribers */
    struct hmsg *oldest, *newest; /* every history message, by age */
    size_t mem;                   /* bytes of history (hmsg + data) */
    unsigned nslots;              /* worker slots */
    struct pubsub_conf conf;      /* the limits (redis unused here) */
    /* a new epoch, never 0: random in the hub, fixed in tests */
    uint64_t (*new_epoch)(void *arg);
    void *epoch_arg;
};

int channels_init(struct channels *t, const struct pubsub_conf *conf,
                  unsigned nslots, uint64_t (*new_epoch)(void *),
                  void *epoch_arg);
void channels_free(struct channels *t);
/* FNV-1a (64 bits) of a channel name, for the hub's table and the
 * workers'. */
uint64_t channel_hash(const char *s, size_t len);
/* Whether name[0, len) may name a channel: 1 to HUB_CHANNEL_MAX bytes,
 * printable ASCII (0x21-0x7e: no space) or valid UTF-8, no control
 * characters (C0, DEL, and the C1 U+0080-U+009F). */
int channel_name_ok(const char *name, size_t len);
struct channel *channel_find(struct channels *t, const char *name,
                             size_t len);
/* Finds the channel or creates it with a new epoch; NULL and *err set to
 * HUB_ETOOMANY, HUB_ENOMEM or HUB_EBADNAME (*err 0 otherwise). At
 * max_channels it first frees the idle channels (no history, no
 * subscribers), so a channel pointer is valid until the next
 * channel_get or channels_expire only, unless it has history or
 * subscribers. */
struct channel *channel_get(struct channels *t, const char *name,
                            size_t len, int *err);
/* Appends a message with the next offset and returns it; the oldest
 * messages go when the channel holds more than conf.history, and the
 * oldest of any channel while all history takes more than
 * conf.max_history_memory. With conf.history 0, or a message that takes
 * more than all of max_history_memory (sizeof(struct hmsg) + len), the
 * message is not kept: NULL with *err 0 and ch->offset advanced; the
 * channel's history is then emptied, since it no longer leads up to the
 * present. On failure NULL, *err HUB_ETOOBIG (len > max_message_size) or
 * HUB_ENOMEM, and ch->offset unchanged. */
const struct hmsg *channel_publish(struct channels *t, struct channel *ch,
                                   const void *data, size_t len,
                                   int64_t now_ms, int *err);
/* What a subscriber at (epoch, offset) missed. recovered: 1 when every
 * message after the position is in history (from is the first of them,
 * NULL when none is missing); 0 when the position is not covered (another
 * epoch, fell out of the window, or ahead of the channel): the subscriber
 * must reload its state, and continues from (ch->epoch, ch->offset). */
struct recovery {
    int recovered;
    const struct hmsg *from;
    uint32_t count;
};
void channel_since(const struct channel *ch, uint64_t epoch, uint64_t offset,
                   struct recovery *r);
/* Sets worker slot's subscriber count (a slot >= nslots is ignored). A
 * channel left with no subscribers and no history is freed by the next
 * channels_expire (or channel_get at max_channels). */
void channel_set_subs(struct channels *t, struct channel *ch, unsigned slot,
                      uint32_t n);
/* Sets every channel's count for slot to 0 (its worker went away). */
void channels_clear_slot(struct channels *t, unsigned slot);
/* Keeps ch (pinned 1) even with no history and no subscribers, or lets
 * it be freed again when idle (0). */
void channel_set_pinned(struct channels *t, struct channel *ch, int pinned);
/* Empties ch's history and sets its position: it continues from (epoch,
 * offset) (epoch not 0). */
void channel_reset(struct channels *t, struct channel *ch, uint64_t epoch,
                   uint64_t offset);
/* A message whose position was given elsewhere (Redis): 0 when ch has it
 * already (same epoch, offset <= ch->offset: nothing is changed); 1 when
 * it is the next one (same epoch, ch->offset + 1) and was appended as
 * channel_publish would; 2 when the history restarted at it (another
 * epoch, or a gap: what was kept no longer leads up to it). -1 and *err
 * (HUB_ETOOBIG, HUB_ENOMEM) when it could not be taken: the channel is
 * then at (epoch, offset) with its history emptied, so that a subscriber
 * behind it is told of the loss. offset is not 0. */
int channel_append(struct channels *t, struct channel *ch, uint64_t epoch,
                   uint64_t offset, const void *data, size_t len,
                   int64_t now_ms, int *err);
/* Drops history older than conf.history_ttl_ms, then channels with no
 * history and no subscribers (their epoch is lost with them). A message
 * published at at_ms goes once now_ms >= at_ms + history_ttl_ms. Returns
 * the milliseconds until the next message expires (> 0), or -1 when no
 * message is kept. */
int64_t channels_expire(struct channels *t, int64_t now_ms);

/* A position as clients see it: "<epoch, 16 lowercase hex>:<offset>".
 * Returns the length written (NUL-terminated), -1 when len is too small. */
#define POSITION_MAX 40
int position_format(uint64_t epoch, uint64_t offset, char *out, size_t len);
/* -1 unless s[0, len) is exactly that form with a non-zero epoch: what
 * position_format writes and nothing else (one spelling per position): no
 * uppercase hex, no sign, space or leading zero in the offset, which is
 * at most UINT64_MAX. *epoch and *offset are set only on success. */
int position_parse(const char *s, size_t len, uint64_t *epoch,
                   uint64_t *offset);

/* A channel template ("chat.{room}") against the names a route's path
 * captures: 0, or -1 with a message naming the unknown parameter or the
 * bad character. */
int channel_template_check(const char *tmpl, const char *const *names,
                           size_t nnames, char *err, size_t errlen);
/* The channel name for one request: the template with each {name}
 * replaced by the parameter's value, NUL-terminated in out. Returns its
 * length, or -1 when it would not be a valid name (too long, a bad byte
 * in a value), does not fit in outlen, or names a missing parameter. */
long channel_template_fill(const char *tmpl, const struct route_param *params,
                           size_t nparams, char *out, size_t outlen);

/* signed.c --------------------------------------------------------- */

/* Tornado's signed values (create_signed_value / decode_signed_value) and
 * XSRF tokens, byte for byte. Pure: the clock and the random bytes are the
 * caller's. */

/* The longest signed value or XSRF token read (a cookie's worth). */
#define SIGNED_MAX 4096

/* signed_decode's failures, each its own negative value. */
enum {
    SIGNED_EMALFORMED = -1, /* not a signed value of a version read */
    SIGNED_ESIZE = -2,      /* longer than SIGNED_MAX, or the value does not
                             * fit the caller's buffer */
    SIGNED_EVERSION = -3,   /* a version that is neither 1 nor 2, or below
                             * min_version */
    SIGNED_EKEY = -4,       /* no secret for its key version */
    SIGNED_ESIG = -5,       /* the signature does not match */
    SIGNED_ENAME = -6,      /* signed for another name */
    SIGNED_EEXPIRED = -7,   /* older than max_age_days */
    SIGNED_EFUTURE = -8,    /* newer than now + skew */
};

/* The secret of key version kv (0 ... INT32_MAX as in the value; -1 for a
 * version 1 value, which has none): 0 with *secret and *len (> 0) set, or
 * -1 when there is none. Tornado's single cookie_secret answers every kv;
 * a cookie_secret dict answers its keys and not -1. */
#define SIGNED_KV_NONE (-1L)
typedef int (*signed_secret_fn)(void *arg, long kv, const void **secret,
                                size_t *len);

struct signed_opts {
    signed_secret_fn secret;
    void *arg;
    double max_age_days; /* Tornado's default is 31 */
    int64_t skew;        /* seconds a timestamp may be ahead of now */
    int min_version;     /* 1 (Tornado's default) or 2 */
};

/* Writes Tornado's version 2 signed value of value[0, vlen) for name,
 * NUL-terminated, into out and its length into *outlen:
 * "2|<n>:<kv>|<n>:<timestamp>|<n>:<name>|<n>:<base64 value>|<hex sha256
 * hmac of all before it>". kv is the key version (0 ... INT32_MAX);
 * Tornado signs without one as key version 0. -1 with a message for an
 * empty secret or name, a name with a space or control byte, a negative
 * timestamp, or a result longer than outcap - 1 or SIGNED_MAX (which
 * signed_decode would not read back). */
int signed_create(const void *secret, size_t secret_len, long kv,
                  const char *name, const void *value, size_t vlen,
                  int64_t timestamp, char *out, size_t outcap, size_t *outlen,
                  char *err, size_t errlen);
/* Checks in[0, len) as a signed value for name at time now (versions 1 and
 * 2, as Tornado reads them) and writes the value it carries into out
 * (binary, not terminated) and its length into *outlen. 0, or one of the
 * SIGNED_E* with a message. Stricter than Tornado where Tornado's Python
 * is lenient with what it never writes: numbers are plain decimal without
 * leading zeros, base64 is canonical, control bytes and spaces are
 * refused, and no timestamp is more than o->skew ahead of now. */
int signed_decode(const struct signed_opts *o, const char *name,
                  const char *in, size_t len, int64_t now, void *out,
                  size_t outcap, size_t *outlen, char *err, size_t errlen);

/* An XSRF token as Tornado's _decode_xsrf_token reads it. */
#define XSRF_RAW_MAX 128 /* the longest raw token kept */
#define XSRF_MASK_LEN 4
struct xsrf_token {
    int version;   /* 1 or 2 */
    size_t len;    /* of raw, > 0 */
    unsigned char raw[XSRF_RAW_MAX];
    int64_t timestamp; /* version 1 has none: now */
};

/* Reads s[0, len): "2|<hex mask, 4 bytes>|<hex masked token>|<timestamp>"
 * is version 2; anything without Tornado's "<version>|" prefix is version
 * 1, the token in hex (either case) or, when it is not hex, its bytes as
 * they are. 0, or -1 with a message for another version, a malformed
 * version 2, an empty token or one longer than XSRF_RAW_MAX. */
int xsrf_decode(const char *s, size_t len, int64_t now, struct xsrf_token *t,
                char *err, size_t errlen);
/* Tornado's version 2 token for raw[0, n) masked with mask at timestamp,
 * NUL-terminated in out; its length, or -1 when out is too small or n is
 * 0 or more than XSRF_RAW_MAX. */
#define XSRF_V2_MAX (2 + 2 * XSRF_MASK_LEN + 1 + 2 * XSRF_RAW_MAX + 1 + 20 + 1)
long xsrf_encode_v2(const unsigned char *raw, size_t n,
                    const unsigned char mask[XSRF_MASK_LEN], int64_t timestamp,
                    char *out, size_t outcap);
/* Version 1: the token in lowercase hex; as xsrf_encode_v2. */
long xsrf_encode_v1(const unsigned char *raw, size_t n, char *out,
                    size_t outcap);
/* Whether the raw tokens of a and b are equal; in time that depends only on
 * their lengths. */
int xsrf_equal(const struct xsrf_token *a, const struct xsrf_token *b);

/* cookie.c --------------------------------------------------------- */

/* Called for each cookie of a Cookie header in order: the name (may be
 * empty) and the unquoted value (in the scratch buffer, valid during the
 * call). Nonzero stops the walk and is returned. */
typedef int (*cookie_fn)(void *arg, const char *name, size_t nlen,
                         const char *value, size_t vlen);
/* Tornado's parse_cookie over h[0, len): ';'-separated pairs split at
 * their first '=' (none: an empty name), both ends stripped of ASCII
 * whitespace, pairs with neither a name nor a value skipped, a value in
 * double quotes unquoted (backslash escapes, "\ooo" octal bytes).
 * scratch needs len bytes (-1 when fewer). */
int cookie_each(const char *h, size_t len, char *scratch, size_t scratchlen,
                cookie_fn fn, void *arg);
/* The value of the last cookie named name (Tornado keeps the last) into
 * out: its length, -1 when there is none, -2 when it or the scratch
 * does not fit. */
long cookie_get(const char *h, size_t len, const char *name, char *scratch,
                size_t scratchlen, char *out, size_t outcap);

struct cookie_attrs {
    const char *domain;   /* NULL or "": none */
    const char *path;     /* NULL or "": none (Tornado's default is "/") */
    const char *samesite; /* NULL or "": none; else as given */
    int has_expires, has_max_age;
    int64_t expires; /* Unix time */
    int64_t max_age; /* seconds */
    int httponly, secure;
};
/* The value of a Set-Cookie header as Tornado writes it, NUL-terminated:
 * name=value, the value in double quotes with Python's escapes when it
 * has a byte outside Python's legal cookie characters, then Domain,
 * expires, HttpOnly, Max-Age, Path, SameSite, Secure (Morsel's order).
 * -1 with a message for a name that is empty, has a byte outside those
 * characters or is an attribute's; a value with a space or control byte
 * (as Tornado refuses); an attribute with a control byte or ';'; or an
 * out too small. */
int cookie_format(const char *name, const char *value, size_t vlen,
                  const struct cookie_attrs *a, char *out, size_t outcap,
                  size_t *outlen, char *err, size_t errlen);

/* form.c ----------------------------------------------------------- */

/* One part of a multipart/form-data body; everything points into the
 * body but name and filename, which are the parser's (valid during the
 * callback). */
struct form_part {
    const char *name; /* NUL-terminated, nlen > 0 */
    size_t nlen;
    const char *filename; /* NULL: a plain field */
    size_t flen;
    const char *ctype; /* its Content-Type, or NULL */
    size_t clen;
    const char *data;
    size_t dlen;
};
typedef int (*form_part_fn)(void *arg, const struct form_part *p);

/* The boundary of a "multipart/form-data; boundary=..." Content-Type
 * value: 0 with *b (in ctype) and *blen, -1 when it is not one. */
int form_boundary(const char *ctype, const char **b, size_t *blen);
/* Calls fn for each part of body[0, len) in order; a nonzero result stops
 * the walk and is returned. 0 at the final delimiter; -1 with a message
 * for a body without one, a part without the form-data disposition and a
 * name, or headers over 8 KiB. Parts before the error were delivered. */
int form_multipart_each(const char *boundary, size_t blen, const char *body,
                        size_t len, form_part_fn fn, void *arg, char *err,
                        size_t errlen);

/* security.c ------------------------------------------------------- */

/* A form field of the request body (sq_body_arg, sq_body_file). */
struct form_field {
    const char *name;
    const char *filename;     /* NULL: not a file */
    const char *content_type; /* a file's, or NULL */
    const char *value;        /* NUL-terminated (a file may hold NULs) */
    size_t len;
};

/* Reads the secret files of cfg->security into it (in the master, before
 * any fork): -1 with "file:line:col: ..." when a file is missing, not a
 * regular file, readable by group or others, over 64 KiB, or shorter
 * than 32 bytes without its trailing newline. */
int security_load(struct config *cfg, char *err, size_t errlen);
/* The worker's security settings (NULL: none, as config_parse gives). */
void security_setup(const struct security_conf *sc);
/* The route's auth alone (login, jwt), once per request: http1.c runs it
 * as soon as the head of a request with a body is in, so that a refused
 * client never gets to send the body. 0 to go on, or ROUTE_ANSWERED with
 * r answered (302, 401 or 403). */
int security_auth(const struct route *rt, sq_req *r);
/* The route's options before its target: auth (unless it ran already),
 * then XSRF, which needs the body. As security_auth. */
int security_route(const struct route *rt, sq_req *r);
/* The secret file s->file with the checks of cookie secrets (mode, size,
 * length), into s->key and s->len: 0, or -1 with "file:line:col: secret
 * file X ..." from s->mark. */
int security_read_secret(struct secret_conf *s, char *err, size_t errlen);

/* jose.c ------------------------------------------------------------ */

/*
 * The parts of a JWT that squall reads itself before libjwt sees the
 * token: the compact serialisation (RFC 7515 7.1) and the JOSE header,
 * whose "alg" must be the configured one (no "none", no confusion of an
 * RSA public key with an HMAC secret). Pure: no I/O, no allocation but
 * jansson's while a header is parsed.
 */
#define JWT_TOKEN_MAX 8192 /* bytes of a token; longer ones are refused */

struct jose_token {
    const char *part[3]; /* header, payload, signature: base64url */
    size_t len[3];
};

/* Splits t[0, len) into its three non-empty base64url parts (no padding):
 * 0, or -1 with why in err. */
int jose_split(const char *t, size_t len, struct jose_token *tok, char *err,
               size_t errlen);
/* Decodes unpadded base64url in[0, len) into out: the decoded length, or
 * -1 for a bad character or length or when outcap is too small (len / 4 *
 * 3 + 2 is always enough). */
long jose_b64url_decode(const char *in, size_t len, unsigned char *out,
                        size_t outcap);
/* Whether the base64url JOSE header b64[0, len) is a JSON object whose
 * "alg" is exactly alg and that has no "crit" (extensions squall does not
 * know): 0, or -1 with why in err. */
int jose_header_check(const char *b64, size_t len, const char *alg, char *err,
                      size_t errlen);

/* jwtauth.c --------------------------------------------------------- */

/* A token's claims, for sq_jwt_claim: names[i] and values[i] (string
 * claims as they are, others as compact JSON text; NULL for a string with
 * a NUL byte), json the whole claims object as text. */
struct jwt_claims {
    const char *json;
    const char *sub; /* the "sub" claim when it is a string, or NULL */
    size_t n;
    const char **names;
    const char **values;
};

/* Reads security.jwt's key (in the master, from security_load): the
 * secret of HS256 with security_read_secret's checks, or the PEM public
 * key of RS256 (RSA) or ES256 (EC P-256), parsed to check it: 0, or -1
 * with "file:line:col: key file X ...". */
int jwt_load(struct jwt_conf *jc, char *err, size_t errlen);
/* The worker's security.jwt (NULL: none). */
void jwt_setup(const struct jwt_conf *jc);
/* auth: jwt before the route's target: 0 to go on (r->jwt and the
 * current user set), or ROUTE_ANSWERED with r answered 401 or 403. */
int jwt_route(const struct route *rt, sq_req *r);
/* A copy of c in one malloc'd block (free() it), for a WebSocket that
 * outlives its request; NULL when out of memory. */
struct jwt_claims *jwt_claims_copy(const struct jwt_claims *c);
/* The value of claim name in c, or NULL. */
const char *jwt_claims_get(const struct jwt_claims *c, const char *name);

#endif /* SQUALL_INTERNAL_H */
