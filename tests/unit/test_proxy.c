/*
 * test_proxy.c - src/proxy.c: the trusted_proxies entries (CIDRs, bare
 * addresses, unix), matching, and what a trusted proxy's headers say of
 * the client (X-Real-IP, the X-Forwarded-For walk, X-Forwarded-Proto and
 * X-Scheme), as pure functions.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

static struct proxy_set set_of(const char *const *entries)
{
    struct proxy_set s = {0};

    for (; *entries != NULL; entries++)
        ck_assert_msg(proxy_set_add(&s, *entries, err, sizeof(err)) == 0,
                      "%s: %s", *entries, err);
    return s;
}

static int trusted(const struct proxy_set *s, const char *addr)
{
    struct proxy_addr a;

    ck_assert_msg(proxy_addr_parse(addr, strlen(addr), &a) == 0, "%s", addr);
    return proxy_trusted_addr(s, &a);
}

static int parses(const char *text)
{
    struct proxy_net net;

    err[0] = '\0';
    return proxy_net_parse(text, &net, err, sizeof(err)) == 0;
}

START_TEST(entries_parse)
{
    struct proxy_net net;

    ck_assert_int_eq(proxy_net_parse("10.1.0.0/16", &net, err, sizeof(err)), 0);
    ck_assert_int_eq(net.family, AF_INET);
    ck_assert_int_eq(net.bits, 16);
    ck_assert_int_eq(net.addr[0], 10);
    ck_assert_int_eq(net.addr[1], 1);
    ck_assert_int_eq(proxy_net_parse("127.0.0.1", &net, err, sizeof(err)), 0);
    ck_assert_int_eq(net.bits, 32);
    ck_assert_int_eq(proxy_net_parse("::1", &net, err, sizeof(err)), 0);
    ck_assert_int_eq(net.family, AF_INET6);
    ck_assert_int_eq(net.bits, 128);
    ck_assert_int_eq(proxy_net_parse("2001:db8::/32", &net, err, sizeof(err)),
                     0);
    ck_assert_int_eq(net.bits, 32);
    ck_assert_int_eq(proxy_net_parse("unix", &net, err, sizeof(err)), 0);
    ck_assert_int_eq(net.family, AF_UNIX);
    ck_assert(parses("0.0.0.0/0"));
    ck_assert(parses("::/0"));
    ck_assert(parses("10.0.0.1/32"));
    ck_assert(parses("::ffff:10.0.0.1"));
}
END_TEST

START_TEST(entries_refused)
{
    static const char *const bad[] = {
        "", "unix:", "UNIX", "localhost", "10.0.0", "10.0.0.256", "010.0.0.1",
        "10.0.0.1 ", " 10.0.0.1", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1",
        "10.0.0.0/08", "10.0.0.0/8/8", "10.0.0.0/1000", "::/129", "[::1]",
        "::1%lo", "10.0.0.1:80", "10.0.0.0/8x", "1.2.3.5/31",
        "10.0.0.1/24", "fd00::1/8", "/8",
    };

    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        ck_assert_msg(!parses(bad[i]), "'%s' parsed", bad[i]);
        ck_assert_msg(err[0] != '\0', "no message for '%s'", bad[i]);
    }
    ck_assert(!parses("10.0.0.1/24"));
    ck_assert_str_eq(err, "'10.0.0.1/24' has bits set after its /24 prefix "
                          "(the network is 10.0.0.0/24; a single address "
                          "needs no prefix)");
    ck_assert(!parses("fd00::1/8"));
    ck_assert_str_eq(err, "'fd00::1/8' has bits set after its /8 prefix (the "
                          "network is fd00::/8; a single address needs no "
                          "prefix)");
}
END_TEST

START_TEST(matching)
{
    static const char *const entries[] = {"10.0.0.0/8", "192.168.1.7",
                                          "172.16.0.0/12", "fd00::/8",
                                          "2001:db8::1", NULL};
    struct proxy_set s = set_of(entries);

    ck_assert(trusted(&s, "10.0.0.1"));
    ck_assert(trusted(&s, "10.255.255.255"));
    ck_assert(!trusted(&s, "11.0.0.1"));
    ck_assert(!trusted(&s, "9.255.255.255"));
    ck_assert(trusted(&s, "192.168.1.7"));
    ck_assert(!trusted(&s, "192.168.1.8"));
    ck_assert(trusted(&s, "172.31.255.1")); /* /12: 172.16 - 172.31 */
    ck_assert(!trusted(&s, "172.32.0.1"));
    ck_assert(!trusted(&s, "172.15.255.255"));
    ck_assert(trusted(&s, "fdab::1"));
    ck_assert(!trusted(&s, "fe00::1"));
    ck_assert(trusted(&s, "2001:db8::1"));
    ck_assert(!trusted(&s, "2001:db8::2"));
    /* a dual-stack socket's IPv4 peer is its IPv4 address */
    ck_assert(trusted(&s, "::ffff:10.1.2.3"));
    ck_assert(!trusted(&s, "::ffff:11.1.2.3"));
    /* families do not mix: ::a00:1 is not 10.0.0.1 */
    ck_assert(!trusted(&s, "::a00:1"));
    ck_assert_int_eq(s.unix_trusted, 0);
    proxy_set_free(&s);
}
END_TEST

START_TEST(prefix_bits_inside_a_byte)
{
    static const char *const e1[] = {"128.0.0.0/1", NULL};
    static const char *const e7[] = {"10.0.0.0/7", NULL};
    static const char *const e0[] = {"0.0.0.0/0", NULL};
    struct proxy_set s = set_of(e1);

    ck_assert(trusted(&s, "200.1.1.1"));
    ck_assert(!trusted(&s, "127.255.255.255"));
    proxy_set_free(&s);
    s = set_of(e7);
    ck_assert(trusted(&s, "10.0.0.1"));
    ck_assert(trusted(&s, "11.255.0.1"));
    ck_assert(!trusted(&s, "12.0.0.1"));
    ck_assert(!trusted(&s, "9.0.0.1"));
    proxy_set_free(&s);
    s = set_of(e0);
    ck_assert(trusted(&s, "1.2.3.4"));
    ck_assert(!trusted(&s, "::1")); /* 0.0.0.0/0 is every IPv4 address */
    proxy_set_free(&s);
}
END_TEST

START_TEST(peers)
{
    static const char *const entries[] = {"127.0.0.1", "::1", NULL};
    static const char *const with_unix[] = {"unix", NULL};
    struct proxy_set s = set_of(entries);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert(proxy_trusted_sockaddr(&s, (struct sockaddr *)&sin, 0));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1); /* 127.0.0.2 */
    ck_assert(!proxy_trusted_sockaddr(&s, (struct sockaddr *)&sin, 0));
    sin6.sin6_addr = in6addr_loopback;
    ck_assert(proxy_trusted_sockaddr(&s, (struct sockaddr *)&sin6, 0));
    ck_assert(inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr) == 1);
    ck_assert(proxy_trusted_sockaddr(&s, (struct sockaddr *)&sin6, 0));
    /* unix peers only with `unix` */
    ck_assert(!proxy_trusted_sockaddr(&s, NULL, 1));
    ck_assert(!proxy_trusted_sockaddr(NULL, (struct sockaddr *)&sin, 0));
    proxy_set_free(&s);
    s = set_of(with_unix);
    ck_assert(proxy_trusted_sockaddr(&s, NULL, 1));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert(!proxy_trusted_sockaddr(&s, (struct sockaddr *)&sin, 0));
    proxy_set_free(&s);
}
END_TEST

/* --- the headers --------------------------------------------------------- */

static struct header hs[16];
static size_t nhs;

static void hdr(const char *name, const char *value)
{
    ck_assert_uint_lt(nhs, ARRAY_LEN(hs));
    hs[nhs].name = name;
    hs[nhs].value = value;
    hs[nhs].name_len = (uint32_t)strlen(name);
    hs[nhs].value_len = (uint32_t)strlen(value);
    nhs++;
}

static void reset(void)
{
    nhs = 0;
}

/* The client the headers name, as text, or "-" when none. */
static const char *client(const struct proxy_set *s)
{
    static char text[PROXY_ADDR_MAX];
    struct proxy_addr a;

    if (proxy_client_addr(s, hs, nhs, &a) != 1)
        return "-";
    ck_assert_int_eq(proxy_addr_format(&a, text, sizeof(text)), 0);
    return text;
}

static const char *const lan[] = {"10.0.0.0/8", "127.0.0.1", NULL};

START_TEST(xff_rightmost_untrusted)
{
    struct proxy_set s = set_of(lan);

    reset();
    ck_assert_str_eq(client(&s), "-");
    hdr("X-Forwarded-For", "203.0.113.7");
    ck_assert_str_eq(client(&s), "203.0.113.7");
    /* a client's spoofed entry stays on the left of the real one */
    reset();
    hdr("X-Forwarded-For", "1.1.1.1, 203.0.113.7, 10.0.0.2, 10.0.0.3");
    ck_assert_str_eq(client(&s), "203.0.113.7");
    /* several headers: the last one holds the rightmost entries */
    reset();
    hdr("X-Forwarded-For", "1.1.1.1, 203.0.113.7");
    hdr("Host", "x");
    hdr("x-forwarded-for", "10.0.0.2,10.0.0.3");
    ck_assert_str_eq(client(&s), "203.0.113.7");
    reset();
    hdr("X-Forwarded-For", "1.1.1.1");
    hdr("X-Forwarded-For", "198.51.100.1, 10.0.0.9");
    ck_assert_str_eq(client(&s), "198.51.100.1");
    /* all trusted: the leftmost */
    reset();
    hdr("X-Forwarded-For", "10.0.0.5, 127.0.0.1");
    hdr("X-Forwarded-For", "10.0.0.6");
    ck_assert_str_eq(client(&s), "10.0.0.5");
    /* empty elements and spaces do not count */
    reset();
    hdr("X-Forwarded-For", " , 203.0.113.9 ,\t, 10.0.0.1 ,");
    ck_assert_str_eq(client(&s), "203.0.113.9");
    reset();
    hdr("X-Forwarded-For", "");
    ck_assert_str_eq(client(&s), "-");
    /* IPv6, canonical text */
    reset();
    hdr("X-Forwarded-For", "2001:DB8:0:0::7, 10.0.0.1");
    ck_assert_str_eq(client(&s), "2001:db8::7");
    proxy_set_free(&s);
}
END_TEST

START_TEST(xff_garbage_stops_the_walk)
{
    struct proxy_set s = set_of(lan);

    /* the rightmost is garbage: nothing is believed */
    reset();
    hdr("X-Forwarded-For", "203.0.113.7, bogus");
    ck_assert_str_eq(client(&s), "-");
    /* garbage behind a trusted hop: the last good one (the hop) stands */
    reset();
    hdr("X-Forwarded-For", "203.0.113.7, unknown, 10.0.0.2");
    ck_assert_str_eq(client(&s), "10.0.0.2");
    reset();
    hdr("X-Forwarded-For", "203.0.113.7");
    hdr("X-Forwarded-For", "[::1], 10.0.0.3");
    ck_assert_str_eq(client(&s), "10.0.0.3");
    /* ports, brackets, zones, names and overlong entries are garbage */
    static const char *const junk[] = {
        "1.2.3.4:80", "[2001:db8::1]", "fe80::1%eth0", "example.com",
        "1.2.3.4.5", "::ffff:1.2.3.4:1",
        "1111:2222:3333:4444:5555:6666:7777:8888:9999",
        "0000000000000000000000000000000000000000000000000001.2.3.4",
    };
    for (size_t i = 0; i < ARRAY_LEN(junk); i++) {
        reset();
        hdr("X-Forwarded-For", junk[i]);
        ck_assert_msg(strcmp(client(&s), "-") == 0, "%s taken", junk[i]);
    }
    proxy_set_free(&s);
}
END_TEST

START_TEST(x_real_ip_first)
{
    struct proxy_set s = set_of(lan);

    reset();
    hdr("X-Forwarded-For", "198.51.100.1, 10.0.0.2");
    hdr("X-Real-IP", " 203.0.113.5 ");
    ck_assert_str_eq(client(&s), "203.0.113.5");
    /* not an address: the X-Forwarded-For walk decides */
    reset();
    hdr("X-Real-IP", "unknown");
    hdr("X-Forwarded-For", "198.51.100.1, 10.0.0.2");
    ck_assert_str_eq(client(&s), "198.51.100.1");
    /* two of them are no address (Tornado joins them with a comma) */
    reset();
    hdr("X-Real-IP", "203.0.113.5");
    hdr("X-Real-IP", "203.0.113.6");
    ck_assert_str_eq(client(&s), "-");
    reset();
    hdr("x-real-ip", "::1");
    ck_assert_str_eq(client(&s), "::1");
    proxy_set_free(&s);
}
END_TEST

START_TEST(scheme)
{
    reset();
    ck_assert_int_eq(proxy_scheme(hs, nhs), -1);
    hdr("X-Forwarded-Proto", "https");
    ck_assert_int_eq(proxy_scheme(hs, nhs), 1);
    reset();
    hdr("X-Forwarded-Proto", "http");
    ck_assert_int_eq(proxy_scheme(hs, nhs), 0);
    reset();
    hdr("X-Forwarded-Proto", "ftp");
    ck_assert_int_eq(proxy_scheme(hs, nhs), -1);
    reset();
    hdr("X-Forwarded-Proto", "https, http"); /* the last hop's word */
    ck_assert_int_eq(proxy_scheme(hs, nhs), 0);
    reset();
    hdr("X-Forwarded-Proto", "http");
    hdr("X-Forwarded-Proto", " HTTPS ");
    ck_assert_int_eq(proxy_scheme(hs, nhs), 1);
    reset();
    hdr("X-Forwarded-Proto", "http");
    hdr("X-Scheme", "https"); /* X-Scheme first, as Tornado */
    ck_assert_int_eq(proxy_scheme(hs, nhs), 1);
    reset();
    hdr("X-Forwarded-Proto", "");
    ck_assert_int_eq(proxy_scheme(hs, nhs), -1);
    reset();
    hdr("X-Forwarded-Proto", "httpss");
    ck_assert_int_eq(proxy_scheme(hs, nhs), -1);
}
END_TEST

/* Any bytes: no crash, no read outside (ASan), no address out of junk
 * that inet_pton would not take. */
START_TEST(any_bytes_are_safe)
{
    static const char *const entries[] = {"10.0.0.0/8", NULL};
    struct proxy_set s = set_of(entries);
    char buf[300], nul[PROXY_ADDR_MAX + 8];
    struct proxy_addr a;
    struct proxy_net net;
    unsigned seed = 12345;

    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(rand_r(&seed) % 80);
        for (size_t i = 0; i < len; i++) {
            static const char alpha[] = "0123456789abcdefABCDEF.:/, \t[]%x";
            buf[i] = rand_r(&seed) % 4 == 0
                         ? (char)(rand_r(&seed) % 256)
                         : alpha[rand_r(&seed) % (sizeof(alpha) - 1)];
        }
        (void)proxy_addr_parse(buf, len, &a);
        reset();
        buf[len] = '\0';
        hdr("X-Forwarded-For", buf);
        hs[0].value_len = (uint32_t)len; /* may hold a NUL */
        (void)client(&s);
        (void)proxy_scheme(hs, nhs);
        if (strlen(buf) == len)
            (void)proxy_net_parse(buf, &net, err, sizeof(err));
    }
    /* an address with a NUL inside is not one */
    memcpy(nul, "10.0.0.1\0junk", 13);
    ck_assert_int_eq(proxy_addr_parse(nul, 13, &a), -1);
    ck_assert_int_eq(proxy_addr_parse(nul, 8, &a), 0);
    proxy_set_free(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proxy");
    TCase *tc = tcase_create("proxy");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, entries_parse);
    tcase_add_test(tc, entries_refused);
    tcase_add_test(tc, matching);
    tcase_add_test(tc, prefix_bits_inside_a_byte);
    tcase_add_test(tc, peers);
    tcase_add_test(tc, xff_rightmost_untrusted);
    tcase_add_test(tc, xff_garbage_stops_the_walk);
    tcase_add_test(tc, x_real_ip_first);
    tcase_add_test(tc, scheme);
    tcase_add_test(tc, any_bytes_are_safe);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
