/*
 * tls.c - TLS listeners with OpenSSL 3, for running without nginx.
 *
 * Contexts. The master makes one SSL_CTX per `tls:` listener before it
 * forks (tls_attach), so the workers inherit the same context: its session
 * ticket keys, which OpenSSL draws at random when the context is made,
 * are the same in every worker, and a session resumes on whichever worker
 * takes the next connection. They change when squalld restarts (the
 * ticket key lives as long as the master). There is no server-side session
 * cache: it would be one per worker, and tickets need none.
 *
 * What a context allows: TLS 1.2 and 1.3 only (never below 1.2), Mozilla's
 * "intermediate" ciphers for 1.2 (ECDHE with AES-GCM or ChaCha20-Poly1305,
 * forward secrecy and AEAD only) and OpenSSL's three 1.3 suites; ALPN
 * selects http/1.1 (and refuses a client that offers only other
 * protocols, RFC 7301 3.2); no renegotiation, no compression. An idle
 * connection holds no TLS buffers (SSL_MODE_RELEASE_BUFFERS).
 *
 * Connections. conn.c calls tls_handshake, tls_read and tls_write on a
 * non-blocking socket and keeps its edge-triggered flags from what they
 * report (TLS_WANT_READ: the socket read EAGAIN; TLS_WANT_WRITE: it
 * wrote EAGAIN), whichever of the two calls it was. Writes may be partial
 * and the retry of a write that wanted more may come from a moved buffer
 * (SSL_MODE_ENABLE_PARTIAL_WRITE, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER):
 * conn.c writes c->out and c->tail in order, one SSL_write each.
 */
#include "internal.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

/* Mozilla's "intermediate" configuration (version 5.7) for TLS 1.2,
 * without its DHE suites (which need DH parameters and are slow). */
#define TLS12_CIPHERS                                                          \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"               \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"               \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS13_CIPHERSUITES                                                     \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"                           \
    "TLS_CHACHA20_POLY1305_SHA256"

/* ALPN: the protocols squall speaks, in wire format */
static const unsigned char alpn_protos[] = "\x08http/1.1";

/* The last OpenSSL error of this thread as text, and the queue cleared. */
static const char *ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    if (r != NULL)
        snprintf(buf, len, "%s", r);
    else if (e != 0)
        ERR_error_string_n(e, buf, len);
    else
        snprintf(buf, len, "unknown error");
    ERR_clear_error();
    return buf;
}

/* --- contexts ---------------------------------------------------------- */

static int alpn_select(SSL *ssl UNUSED, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg UNUSED)
{
    unsigned char *sel;

    if (SSL_select_next_proto(&sel, outlen, alpn_protos,
                              sizeof(alpn_protos) - 1, in,
                              inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL; /* no_application_protocol */
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* An encrypted key is not supported: no prompt on the terminal. */
static int no_passphrase(char *buf UNUSED, int size UNUSED, int rw UNUSED,
                         void *u UNUSED)
{
    return -1;
}

/* Whether path can be opened for reading; else a message naming it. */
static int readable(const char *what, const char *path, struct conf_mark m,
                    char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");

    if (f != NULL) {
        fclose(f);
        return 0;
    }
    errf(err, errlen, "%s:%d:%d: cannot read the TLS %s file %s: %s", m.file,
         m.line, m.col, what, path, strerror(errno));
    return -1;
}

/* The private key of a PEM file, or NULL (an OpenSSL error queued). */
static EVP_PKEY *read_key(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *pkey;

    if (f == NULL)
        return NULL;
    pkey = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
    fclose(f);
    return pkey;
}

static int load_keys(SSL_CTX *ctx, const struct tls_conf *tc, char *err,
                     size_t errlen)
{
    EVP_PKEY *pkey;
    char why[256];
    int rc;

    if (readable("certificate", tc->cert, tc->cert_mark, err, errlen) < 0 ||
        readable("key", tc->key, tc->key_mark, err, errlen) < 0)
        return -1;
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, tc->cert) != 1) {
        errf(err, errlen,
             "%s:%d:%d: the TLS certificate file %s has no usable PEM "
             "certificate: %s",
             tc->cert_mark.file, tc->cert_mark.line, tc->cert_mark.col,
             tc->cert, ssl_reason(why, sizeof(why)));
        return -1;
    }
    if ((pkey = read_key(tc->key)) == NULL) {
        errf(err, errlen,
             "%s:%d:%d: the TLS key file %s has no usable PEM private key "
             "(an encrypted key is not supported): %s",
             tc->key_mark.file, tc->key_mark.line, tc->key_mark.col, tc->key,
             ssl_reason(why, sizeof(why)));
        return -1;
    }
    rc = SSL_CTX_use_PrivateKey(ctx, pkey);
    EVP_PKEY_free(pkey);
    if (rc != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        errf(err, errlen,
             "%s:%d:%d: the TLS key in %s does not match the certificate in "
             "%s: %s",
             tc->key_mark.file, tc->key_mark.line, tc->key_mark.col, tc->key,
             tc->cert, ssl_reason(why, sizeof(why)));
        return -1;
    }
    return 0;
}

static int set_ciphers(SSL_CTX *ctx, const struct tls_conf *tc, char *err,
                       size_t errlen)
{
    const char *list = tc->ciphers ? tc->ciphers : TLS12_CIPHERS;
    const char *suites =
        tc->ciphersuites ? tc->ciphersuites : TLS13_CIPHERSUITES;
    struct conf_mark m;
    char why[256];

    ERR_clear_error();
    if (SSL_CTX_set_cipher_list(ctx, list) != 1) {
        m = tc->ciphers ? tc->ciphers_mark : tc->mark;
        errf(err, errlen, "%s:%d:%d: no TLS 1.2 cipher in '%s': %s", m.file,
             m.line, m.col, list, ssl_reason(why, sizeof(why)));
        return -1;
    }
    if (SSL_CTX_set_ciphersuites(ctx, suites) != 1) {
        m = tc->ciphersuites ? tc->ciphersuites_mark : tc->mark;
        errf(err, errlen, "%s:%d:%d: bad TLS 1.3 ciphersuites '%s': %s", m.file,
             m.line, m.col, suites, ssl_reason(why, sizeof(why)));
        return -1;
    }
    return 0;
}

SSL_CTX *tls_ctx_new(const struct tls_conf *tc, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    char why[256];

    if (ctx == NULL) {
        errf(err, errlen, "%s:%d:%d: cannot create a TLS context: %s",
             tc->mark.file, tc->mark.line, tc->mark.col,
             ssl_reason(why, sizeof(why)));
        return NULL;
    }
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    if (!SSL_CTX_set_min_proto_version(ctx, tc->protocols & TLS_PROTO_12
                                                ? TLS1_2_VERSION
                                                : TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, tc->protocols & TLS_PROTO_13
                                                ? TLS1_3_VERSION
                                                : TLS1_2_VERSION)) {
        errf(err, errlen, "%s:%d:%d: cannot set the TLS versions: %s",
             tc->mark.file, tc->mark.line, tc->mark.col,
             ssl_reason(why, sizeof(why)));
        goto fail;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
    /* read what the socket has, not a record header and then its body:
     * one read(2) per request instead of two */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
                              SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* tickets carry the sessions: no per-worker cache to fill */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"squall", 6);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    if (set_ciphers(ctx, tc, err, errlen) < 0 ||
        load_keys(ctx, tc, err, errlen) < 0)
        goto fail;
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

void tls_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx); /* NULL is fine */
}

int tls_check(const struct config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->nlisten; i++) {
        SSL_CTX *ctx;
        if (cfg->listen[i].tls == NULL)
            continue;
        if ((ctx = tls_ctx_new(cfg->listen[i].tls, err, errlen)) == NULL)
            return -1;
        SSL_CTX_free(ctx);
    }
    return 0;
}

int tls_attach(const struct config *cfg, struct listener *ls, size_t n,
               char *err, size_t errlen)
{
    size_t ntls = 0;

    for (size_t i = 0; i < n && i < cfg->nlisten; i++) {
        const struct tls_conf *tc = cfg->listen[i].tls;
        if (tc == NULL)
            continue;
        if ((ls[i].tls = tls_ctx_new(tc, err, errlen)) == NULL)
            return -1;
        ntls++;
        log_info("%s: TLS with %s", ls[i].name, tc->cert);
    }
    if (n != cfg->nlisten) {
        for (size_t i = 0; i < cfg->nlisten; i++)
            if (cfg->listen[i].tls != NULL && (i >= n || ntls == 0))
                log_warn("%s:%d:%d: %zu socket(s) passed for %zu listen "
                         "entries; the TLS of '%s' applies to the passed "
                         "socket in its place only",
                         cfg->listen[i].mark.file, cfg->listen[i].mark.line,
                         cfg->listen[i].mark.col, n, cfg->nlisten,
                         cfg->listen[i].text);
    }
    return 0;
}

/* --- connections ------------------------------------------------------- */

/* The last read from a connection's socket (one thread per process): of
 * which BIO, and whether it returned fewer bytes than asked, which on a
 * non-blocking socket means it emptied it. */
static struct {
    BIO *bio;
    int short_read;
} last_read;

static long bio_watch(BIO *b, int oper, const char *argp UNUSED, size_t len,
                      int argi UNUSED, long argl UNUSED, int ret,
                      size_t *processed)
{
    if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
        last_read.bio = b;
        last_read.short_read = ret > 0 && processed != NULL && *processed < len;
    }
    return ret;
}

SSL *tls_conn_new(SSL_CTX *ctx, int fd)
{
    SSL *ssl = SSL_new(ctx);

    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    BIO_set_callback_ex(SSL_get_rbio(ssl), bio_watch);
    SSL_set_accept_state(ssl);
    return ssl;
}

int tls_drained(SSL *ssl)
{
    return last_read.bio == SSL_get_rbio(ssl) && last_read.short_read &&
           !SSL_has_pending(ssl);
}

/* What SSL_get_error says of a call that returned rc, as TLS_*. */
static int outcome(SSL *ssl, int rc, const char *op, const char *remote)
{
    int e = SSL_get_error(ssl, rc);
    char why[256];

    switch (e) {
    case SSL_ERROR_WANT_READ:
        return TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return TLS_EOF;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0 && errno == 0) {
            /* EOF (IGNORE_UNEXPECTED_EOF makes it ZERO_RETURN after the
             * handshake; during it, a client that went away) */
            return TLS_EOF;
        }
        if (ERR_peek_error() == 0) {
            log_debug("%s: TLS %s: %s", remote, op, strerror(errno));
            return TLS_ERROR;
        }
        /* fall through */
    default:
        log_info("%s: TLS %s failed: %s", remote, op,
                 ssl_reason(why, sizeof(why)));
        return TLS_ERROR;
    }
}

int tls_handshake(SSL *ssl, const char *remote)
{
    int rc;

    ERR_clear_error();
    errno = 0;
    rc = SSL_do_handshake(ssl);
    if (rc == 1)
        return TLS_DONE;
    return outcome(ssl, rc, "handshake", remote);
}

size_t tls_read(SSL *ssl, void *p, size_t len, int *st, const char *remote)
{
    size_t n = 0;

    ERR_clear_error();
    errno = 0;
    if (SSL_read_ex(ssl, p, len, &n) == 1) {
        *st = TLS_DONE;
        return n;
    }
    *st = outcome(ssl, 0, "read", remote);
    return 0;
}

size_t tls_write(SSL *ssl, const void *p, size_t len, int *st,
                 const char *remote)
{
    size_t n = 0;

    ERR_clear_error();
    errno = 0;
    if (SSL_write_ex(ssl, p, len, &n) == 1) {
        *st = TLS_DONE;
        return n;
    }
    *st = outcome(ssl, 0, "write", remote);
    return 0;
}

void tls_notify_close(SSL *ssl)
{
    ERR_clear_error();
    (void)SSL_shutdown(ssl);
    ERR_clear_error();
}

void tls_conn_free(SSL *ssl)
{
    SSL_free(ssl);
}
