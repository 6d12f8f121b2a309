/*
 * test_config.c - src/config.c and src/conftree.c: the YAML config file
 * and the sq_conf tree handed to modules.
 *
 * Error tests assert the whole message, "file:line:col: text", because the
 * message is the user interface of a config mistake.
 */
#include "internal.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char err[512];

static struct config *parse(const char *yaml)
{
    err[0] = '\0';
    return config_parse(yaml, strlen(yaml), "t.yaml", err, sizeof(err));
}

/* The config must be refused with exactly this message. */
#define ASSERT_ERROR(yaml, message)                                            \
    do {                                                                       \
        struct config *cfg_ = parse(yaml);                                     \
        ck_assert_ptr_null(cfg_);                                              \
        ck_assert_str_eq(err, message);                                        \
    } while (0)

/* A minimal valid file to which a test adds a section. */
#define MOD "modules: {hello: {path: hello.so}}\n"

/* Files ---------------------------------------------------------------- */

static char tmpdir[64];

static void tmpdir_setup(void)
{
    strcpy(tmpdir, "/tmp/test_config.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmpdir_teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* Defaults and a complete file ----------------------------------------- */

START_TEST(test_defaults)
{
    struct config *cfg = parse("server:\n");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_str_eq(cfg->file, "t.yaml");
    ck_assert_uint_eq(cfg->nlisten, 1);
    ck_assert_str_eq(cfg->listen[0].text, "127.0.0.1:8080");
    ck_assert_int_eq(cfg->listen[0].mark.line, 0);
    ck_assert_int_eq(cfg->workers, cpu_count());
    ck_assert_uint_eq(cfg->shutdown_timeout_ms, 30000);
    ck_assert_uint_eq(cfg->limits.max_header_size, 16 * 1024);
    ck_assert_uint_eq(cfg->limits.max_uri_size, 8 * 1024);
    ck_assert_uint_eq(cfg->limits.max_body_size, 10 * 1024 * 1024);
    ck_assert_uint_eq(cfg->limits.header_timeout_ms, 10000);
    ck_assert_uint_eq(cfg->limits.body_timeout_ms, 60000);
    ck_assert_uint_eq(cfg->limits.idle_timeout_ms, 75000);
    ck_assert_uint_eq(cfg->limits.max_connections, 10000);
    ck_assert_uint_eq(cfg->limits.body_min_rate, 500);
    ck_assert_uint_eq(cfg->limits.body_rate_grace_ms, 20000);
    ck_assert_int_eq(cfg->log_level, SQ_LOG_INFO);
    ck_assert_ptr_null(cfg->log_error);
    ck_assert_int_eq(cfg->access_mode, ACCESS_OFF);
    ck_assert_ptr_null(cfg->log_access);
    ck_assert_uint_eq(cfg->nmodules, 0);
    ck_assert_uint_eq(cfg->nroutes, 0);
    config_free(cfg);
}
END_TEST

static const char full[] =
    "# every key\n"
    "server:\n"
    "  listen: [\"127.0.0.1:8081\", \"127.0.0.1:8082\"]\n"
    "  workers: 3\n"
    "  shutdown_timeout: 5s\n"
    "  limits:\n"
    "    max_header_size: 32k\n"
    "    max_uri_size: 4096\n"
    "    max_body_size: 2m\n"
    "    header_timeout: 500ms\n"
    "    body_timeout: 2m\n"
    "    idle_timeout: 1h\n"
    "    max_connections: 512\n"
    "log:\n"
    "  level: debug\n"
    "  error: /var/log/squall/error.log\n"
    "  access: /var/log/squall/access.log\n"
    "modules:\n"
    "  hello:\n"
    "    path: /usr/lib/squall/modules/hello.so\n"
    "  chat:\n"
    "    path: chat.so\n"
    "    config: {history: 200}\n"
    "routes:\n"
    "  - path: /\n"
    "    handler: hello:hello\n"
    "  - path: \"/users/{id}\"\n"
    "    methods: [GET, POST]\n"
    "    handler: chat:show\n";

START_TEST(test_full_file)
{
    struct config *cfg = parse(full);

    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_eq(cfg->nlisten, 2);
    ck_assert_str_eq(cfg->listen[1].text, "127.0.0.1:8082");
    ck_assert_int_eq(cfg->workers, 3);
    ck_assert_uint_eq(cfg->shutdown_timeout_ms, 5000);
    ck_assert_uint_eq(cfg->limits.max_header_size, 32768);
    ck_assert_uint_eq(cfg->limits.max_uri_size, 4096);
    ck_assert_uint_eq(cfg->limits.max_body_size, 2 * 1024 * 1024);
    ck_assert_uint_eq(cfg->limits.header_timeout_ms, 500);
    ck_assert_uint_eq(cfg->limits.body_timeout_ms, 120000);
    ck_assert_uint_eq(cfg->limits.idle_timeout_ms, 3600000);
    ck_assert_uint_eq(cfg->limits.max_connections, 512);
    ck_assert_int_eq(cfg->log_level, SQ_LOG_DEBUG);
    ck_assert_str_eq(cfg->log_error, "/var/log/squall/error.log");
    ck_assert_int_eq(cfg->access_mode, ACCESS_FILE);
    ck_assert_str_eq(cfg->log_access, "/var/log/squall/access.log");
    ck_assert_uint_eq(cfg->nmodules, 2);
    ck_assert_str_eq(cfg->modules[0].name, "hello");
    ck_assert_str_eq(cfg->modules[0].path, "/usr/lib/squall/modules/hello.so");
    ck_assert_ptr_null(cfg->modules[0].config);
    ck_assert_str_eq(cfg->modules[1].name, "chat");
    ck_assert_str_eq(cfg->modules[1].path, "chat.so");
    ck_assert_str_eq(sq_conf_str(cfg->modules[1].config, "history", ""), "200");
    ck_assert_uint_eq(cfg->nroutes, 2);
    ck_assert_str_eq(cfg->routes[0].path, "/");
    ck_assert_uint_eq(cfg->routes[0].methods, 0);
    ck_assert_str_eq(cfg->routes[0].module, "hello");
    ck_assert_str_eq(cfg->routes[0].handler, "hello");
    ck_assert_str_eq(cfg->routes[1].path, "/users/{id}");
    ck_assert_uint_eq(cfg->routes[1].methods,
                      METHOD_BIT(METHOD_GET) | METHOD_BIT(METHOD_POST));
    ck_assert_str_eq(cfg->routes[1].module, "chat");
    ck_assert_str_eq(cfg->routes[1].handler, "show");
    config_free(cfg);
}
END_TEST

START_TEST(test_flow_style)
{
    struct config *cfg = parse(
        MOD
        "routes:\n"
        "  - { path: /, handler: hello:hello }\n"
        "  - { path: \"^/legacy/(?<year>[0-9]{4})$\", handler: hello:y }\n");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_eq(cfg->nroutes, 2);
    ck_assert_str_eq(cfg->routes[0].path, "/");
    ck_assert_str_eq(cfg->routes[1].path, "^/legacy/(?<year>[0-9]{4})$");
    ck_assert_str_eq(cfg->routes[1].handler, "y");
    config_free(cfg);
}
END_TEST

START_TEST(test_marks)
{
    struct config *cfg = parse("modules:\n"
                               "  hello:\n"
                               "    path: hello.so\n"
                               "routes:\n"
                               "  - path: /\n"
                               "    handler: hello:hello\n"
                               "server:\n"
                               "  listen: 127.0.0.1:80\n");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_ptr_eq(cfg->modules[0].mark.file, cfg->file);
    ck_assert_int_eq(cfg->modules[0].mark.line, 2);
    ck_assert_int_eq(cfg->modules[0].mark.col, 3);
    ck_assert_int_eq(cfg->modules[0].path_mark.line, 3);
    ck_assert_int_eq(cfg->modules[0].path_mark.col, 11);
    ck_assert_int_eq(cfg->routes[0].mark.line, 5);
    ck_assert_int_eq(cfg->routes[0].mark.col, 5);
    ck_assert_int_eq(cfg->routes[0].handler_mark.line, 6);
    ck_assert_int_eq(cfg->routes[0].handler_mark.col, 14);
    ck_assert_ptr_eq(cfg->listen[0].mark.file, cfg->file);
    ck_assert_int_eq(cfg->listen[0].mark.line, 8);
    ck_assert_int_eq(cfg->listen[0].mark.col, 11);
    config_free(cfg);
}
END_TEST

START_TEST(test_empty_sections_keep_defaults)
{
    struct config *cfg = parse("server:\n"
                               "  limits:\n"
                               "log:\n"
                               "modules:\n"
                               "routes:\n");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_eq(cfg->limits.max_connections, 10000);
    ck_assert_uint_eq(cfg->nmodules, 0);
    ck_assert_uint_eq(cfg->nroutes, 0);
    config_free(cfg);
}
END_TEST

/* YAML itself ---------------------------------------------------------- */

START_TEST(test_syntax_error)
{
    ASSERT_ERROR("server:\n  workers: 4\n   listen: x\n",
                 "t.yaml:3:10: YAML syntax error: mapping values are not "
                 "allowed in this context");
}
END_TEST

START_TEST(test_syntax_error_with_context)
{
    ASSERT_ERROR("routes: [1, 2\nb: 3\n",
                 "t.yaml:2:2: YAML syntax error: did not find expected ',' "
                 "or ']' (while parsing a flow sequence at line 1)");
}
END_TEST

START_TEST(test_invalid_utf8)
{
    ASSERT_ERROR("log:\n  level: inf\xff\n",
                 "t.yaml:2:13: YAML syntax error: invalid leading UTF-8 "
                 "octet");
}
END_TEST

START_TEST(test_empty_file)
{
    ASSERT_ERROR("", "t.yaml:1:1: no configuration");
}
END_TEST

START_TEST(test_comments_only)
{
    ASSERT_ERROR("# nothing yet\n", "t.yaml:2:1: no configuration");
}
END_TEST

START_TEST(test_null_document)
{
    ASSERT_ERROR("~\n", "t.yaml:1:1: no configuration");
}
END_TEST

START_TEST(test_two_documents)
{
    ASSERT_ERROR("server: {}\n---\nlog: {}\n",
                 "t.yaml:2:1: more than one YAML document");
}
END_TEST

START_TEST(test_top_level_not_mapping)
{
    ASSERT_ERROR("- server\n",
                 "t.yaml:1:1: expected a mapping at the top level, got a "
                 "list");
}
END_TEST

START_TEST(test_anchor_rejected)
{
    ASSERT_ERROR("server: &s {workers: 2}\n",
                 "t.yaml:1:9: YAML anchors and aliases are not supported");
}
END_TEST

START_TEST(test_alias_rejected)
{
    ASSERT_ERROR("modules:\n  a: {path: a.so, config: {x: *s}}\n",
                 "t.yaml:2:31: YAML anchors and aliases are not supported");
}
END_TEST

START_TEST(test_nul_rejected)
{
    ASSERT_ERROR("log: {error: \"/tmp/a\\0b\"}\n",
                 "t.yaml:1:14: a NUL character is not allowed in a value");
}
END_TEST

START_TEST(test_nesting_limit)
{
    char yaml[256];

    memset(yaml, '[', 100);
    memset(yaml + 100, ']', 100);
    yaml[200] = '\0';
    ASSERT_ERROR(yaml, "t.yaml:1:66: nesting deeper than 64 levels");
}
END_TEST

START_TEST(test_non_scalar_key)
{
    ASSERT_ERROR("server:\n  ? [a]\n  : b\n",
                 "t.yaml:2:5: expected a scalar as a key in server, got a "
                 "list");
}
END_TEST

START_TEST(test_message_is_one_line)
{
    ASSERT_ERROR("server: {\"a\\nb\": 1}\n",
                 "t.yaml:1:10: unknown key 'a?b' in server");
}
END_TEST

START_TEST(test_message_truncated)
{
    char small[16];
    struct config *cfg;

    memset(small, 'x', sizeof(small));
    cfg = config_parse("", 0, "t.yaml", small, sizeof(small));
    ck_assert_ptr_null(cfg);
    ck_assert_str_eq(small, "t.yaml:1:1: no ");
    ck_assert_ptr_null(config_parse("", 0, "t.yaml", NULL, 0));
}
END_TEST

/* Unknown and duplicate keys ------------------------------------------- */

START_TEST(test_unknown_key_suggests)
{
    ASSERT_ERROR("server:\n  wrokers: 4\n",
                 "t.yaml:2:3: unknown key 'wrokers' in server (did you mean "
                 "'workers'?)");
}
END_TEST

START_TEST(test_unknown_key_top_level)
{
    ASSERT_ERROR("rotues: []\n",
                 "t.yaml:1:1: unknown key 'rotues' (did you mean 'routes'?)");
}
END_TEST

START_TEST(test_unknown_key_nested)
{
    ASSERT_ERROR("server:\n  limits:\n    max_bdy_size: 1m\n",
                 "t.yaml:3:5: unknown key 'max_bdy_size' in server.limits (did "
                 "you mean 'max_body_size'?)");
}
END_TEST

START_TEST(test_unknown_key_no_suggestion)
{
    ASSERT_ERROR("server:\n  colour: blue\n",
                 "t.yaml:2:3: unknown key 'colour' in server");
}
END_TEST

START_TEST(test_unknown_key_case)
{
    ASSERT_ERROR("Server: {}\n",
                 "t.yaml:1:1: unknown key 'Server' (did you mean 'server'?)");
}
END_TEST

START_TEST(test_unknown_key_in_route)
{
    ASSERT_ERROR(MOD "routes:\n  - {path: /, handler: hello:hello, metods: "
                     "[GET]}\n",
                 "t.yaml:3:37: unknown key 'metods' in routes[0] (did you "
                 "mean 'methods'?)");
}
END_TEST

START_TEST(test_duplicate_key)
{
    ASSERT_ERROR("server:\n  workers: 2\n  listen: 127.0.0.1:1\n"
                 "  workers: 3\n",
                 "t.yaml:4:3: duplicate key 'workers' in server (first at "
                 "line 2)");
}
END_TEST

START_TEST(test_duplicate_key_top_level)
{
    ASSERT_ERROR("log: {}\nserver: {}\nlog: {}\n",
                 "t.yaml:3:1: duplicate key 'log' (first at line 1)");
}
END_TEST

START_TEST(test_duplicate_key_in_module_config)
{
    ASSERT_ERROR("modules:\n  chat:\n    path: chat.so\n"
                 "    config: {a: 1, b: 2, a: 3}\n",
                 "t.yaml:4:26: duplicate key 'a' in modules.chat.config "
                 "(first at line 4)");
}
END_TEST

/* Types ------------------------------------------------------------------ */

START_TEST(test_expected_mapping)
{
    ASSERT_ERROR("server: [1]\n",
                 "t.yaml:1:9: expected a mapping for server, got a list");
}
END_TEST

START_TEST(test_expected_list)
{
    ASSERT_ERROR("routes: {path: /}\n",
                 "t.yaml:1:9: expected a list for routes, got a mapping");
}
END_TEST

START_TEST(test_expected_string)
{
    ASSERT_ERROR("log:\n  error: [a]\n",
                 "t.yaml:2:10: expected a string for log.error, got a list");
}
END_TEST

START_TEST(test_expected_string_not_empty)
{
    ASSERT_ERROR("log:\n  error:\n",
                 "t.yaml:2:9: expected a string for log.error, got an empty "
                 "value");
}
END_TEST

START_TEST(test_expected_integer)
{
    ASSERT_ERROR("server: {limits: {max_connections: [1]}}\n",
                 "t.yaml:1:36: expected an integer for "
                 "server.limits.max_connections, got a list");
}
END_TEST

START_TEST(test_integer_out_of_range)
{
    ASSERT_ERROR("server: {limits: {max_connections: 0}}\n",
                 "t.yaml:1:36: expected an integer from 1 to 1000000 for "
                 "server.limits.max_connections, got '0'");
}
END_TEST

START_TEST(test_integer_garbage)
{
    ASSERT_ERROR("server: {limits: {max_connections: 10k}}\n",
                 "t.yaml:1:36: expected an integer from 1 to 1000000 for "
                 "server.limits.max_connections, got '10k'");
}
END_TEST

/* Sizes and durations ---------------------------------------------------- */

START_TEST(test_parse_size_units)
{
    size_t n;

    ck_assert_int_eq(parse_size("512", &n), 0);
    ck_assert_uint_eq(n, 512);
    ck_assert_int_eq(parse_size("0", &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(parse_size("16k", &n), 0);
    ck_assert_uint_eq(n, 16384);
    ck_assert_int_eq(parse_size("16K", &n), 0);
    ck_assert_uint_eq(n, 16384);
    ck_assert_int_eq(parse_size("1m", &n), 0);
    ck_assert_uint_eq(n, 1048576);
    ck_assert_int_eq(parse_size("1M", &n), 0);
    ck_assert_uint_eq(n, 1048576);
    ck_assert_int_eq(parse_size("2g", &n), 0);
    ck_assert_uint_eq(n, 2147483648u);
    ck_assert_int_eq(parse_size("2G", &n), 0);
    ck_assert_uint_eq(n, 2147483648u);
}
END_TEST

START_TEST(test_parse_size_rejects)
{
    static const char *const bad[] = {"",     "-1",   "+1",   " 1",   "1 ",
                                      "16kb", "k",    "1.5m", "0x10", "16t",
                                      "1kk",  "16 k", "abc"};
    size_t i, n = 7;

    for (i = 0; i < ARRAY_LEN(bad); i++) {
        ck_assert_msg(parse_size(bad[i], &n) < 0, "accepted '%s'", bad[i]);
        ck_assert_uint_eq(n, 7);
    }
    ck_assert_int_lt(parse_size(NULL, &n), 0);
}
END_TEST

START_TEST(test_parse_size_overflow)
{
    char buf[64];
    size_t n;

    snprintf(buf, sizeof(buf), "%zu", (size_t)SIZE_MAX);
    ck_assert_int_eq(parse_size(buf, &n), 0);
    ck_assert_uint_eq(n, SIZE_MAX);
    snprintf(buf, sizeof(buf), "%zu0", (size_t)SIZE_MAX);
    ck_assert_int_lt(parse_size(buf, &n), 0);
    snprintf(buf, sizeof(buf), "%zuk", (size_t)SIZE_MAX / 1024 + 1);
    ck_assert_int_lt(parse_size(buf, &n), 0);
    snprintf(buf, sizeof(buf), "%zug", (size_t)SIZE_MAX / 1073741824 + 1);
    ck_assert_int_lt(parse_size(buf, &n), 0);
}
END_TEST

START_TEST(test_parse_duration_units)
{
    unsigned ms;

    ck_assert_int_eq(parse_duration("30", &ms), 0);
    ck_assert_uint_eq(ms, 30000);
    ck_assert_int_eq(parse_duration("0", &ms), 0);
    ck_assert_uint_eq(ms, 0);
    ck_assert_int_eq(parse_duration("500ms", &ms), 0);
    ck_assert_uint_eq(ms, 500);
    ck_assert_int_eq(parse_duration("10s", &ms), 0);
    ck_assert_uint_eq(ms, 10000);
    ck_assert_int_eq(parse_duration("5m", &ms), 0);
    ck_assert_uint_eq(ms, 300000);
    ck_assert_int_eq(parse_duration("1h", &ms), 0);
    ck_assert_uint_eq(ms, 3600000);
}
END_TEST

START_TEST(test_parse_duration_rejects)
{
    static const char *const bad[] = {"",     "-1",   "-1s", "1.5s", "10 s",
                                      "10S",  "5min", "1d",  "s",    "ms",
                                      "1sec", "0x10", " 1"};
    unsigned ms = 7;
    size_t i;

    for (i = 0; i < ARRAY_LEN(bad); i++) {
        ck_assert_msg(parse_duration(bad[i], &ms) < 0, "accepted '%s'", bad[i]);
        ck_assert_uint_eq(ms, 7);
    }
    ck_assert_int_lt(parse_duration(NULL, &ms), 0);
}
END_TEST

START_TEST(test_parse_duration_overflow)
{
    char buf[64];
    unsigned ms;

    snprintf(buf, sizeof(buf), "%ums", UINT_MAX);
    ck_assert_int_eq(parse_duration(buf, &ms), 0);
    ck_assert_uint_eq(ms, UINT_MAX);
    snprintf(buf, sizeof(buf), "%lums", (unsigned long)UINT_MAX + 1);
    ck_assert_int_lt(parse_duration(buf, &ms), 0);
    snprintf(buf, sizeof(buf), "%us", UINT_MAX / 1000 + 1);
    ck_assert_int_lt(parse_duration(buf, &ms), 0);
    ck_assert_int_lt(parse_duration("1194h", &ms), 0); /* ~49.7 days max */
    ck_assert_int_eq(parse_duration("1193h", &ms), 0);
}
END_TEST

/* Overflow is -ERANGE and leaves *out alone; bad text stays -EINVAL even
 * when the number is also too large. */
START_TEST(test_parse_size_erange)
{
    size_t n = 7;

    ck_assert_int_eq(parse_size("99999999999999999999k", &n), -ERANGE);
    ck_assert_int_eq(parse_size("99999999999999999999", &n), -ERANGE);
    ck_assert_int_eq(parse_size("18446744073709551616", &n), -ERANGE);
    ck_assert_int_eq(parse_size("18014398509481984k", &n), -ERANGE);
    ck_assert_uint_eq(n, 7);
    ck_assert_int_eq(parse_size("99999999999999999999kb", &n), -EINVAL);
    ck_assert_int_eq(parse_size("1x", &n), -EINVAL);
    ck_assert_uint_eq(n, 7);
}
END_TEST

START_TEST(test_parse_duration_erange)
{
    unsigned ms = 7;

    ck_assert_int_eq(parse_duration("5000000h", &ms), -ERANGE);
    ck_assert_int_eq(parse_duration("99999999999999999999ms", &ms), -ERANGE);
    ck_assert_int_eq(parse_duration("4294968s", &ms), -ERANGE);
    ck_assert_int_eq(parse_duration("71583m", &ms), -ERANGE);
    ck_assert_uint_eq(ms, 7);
    ck_assert_int_eq(parse_duration("5000000d", &ms), -EINVAL);
    ck_assert_int_eq(parse_duration("99999999999999999999", &ms), -ERANGE);
    ck_assert_uint_eq(ms, 7);
}
END_TEST

START_TEST(test_bad_size)
{
    ASSERT_ERROR("server:\n  limits:\n    max_body_size: 16kb\n",
                 "t.yaml:3:20: bad size '16kb' for server.limits.max_body_size "
                 "(expected bytes, or a number with k, m or g, like 16k)");
}
END_TEST

START_TEST(test_size_zero_rejected)
{
    ASSERT_ERROR("server: {limits: {max_header_size: 0}}\n",
                 "t.yaml:1:36: expected a size from 1k to 1m for "
                 "server.limits.max_header_size, got '0'");
}
END_TEST

START_TEST(test_bad_duration)
{
    ASSERT_ERROR("server:\n  shutdown_timeout: -5s\n",
                 "t.yaml:2:21: bad duration '-5s' for server.shutdown_timeout "
                 "(expected seconds, or a number with ms, s, m or h, like "
                 "30s)");
}
END_TEST

START_TEST(test_timeout_zero_rejected)
{
    ASSERT_ERROR("server: {limits: {idle_timeout: 0s}}\n",
                 "t.yaml:1:33: expected a duration from 100ms to 24h for "
                 "server.limits.idle_timeout, got '0s'");
}
END_TEST

START_TEST(test_shutdown_timeout_zero)
{
    struct config *cfg = parse("server: {shutdown_timeout: 0}\n");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_eq(cfg->shutdown_timeout_ms, 0);
    config_free(cfg);
}
END_TEST

START_TEST(test_size_expected_scalar)
{
    ASSERT_ERROR("server: {limits: {max_uri_size: {a: 1}}}\n",
                 "t.yaml:1:33: expected a size for server.limits.max_uri_size, "
                 "got a mapping");
}
END_TEST

/* Ranges --------------------------------------------------------------------
 * Each bound is tried just below, at and just above. */

/* "server: {limits: {key: value}}" */
static struct config *parse_limit(const char *key, const char *value)
{
    char yaml[256];

    snprintf(yaml, sizeof(yaml), "server: {limits: {%s: %s}}\n", key, value);
    return parse(yaml);
}

/* The limit is accepted and its field holds expect. */
#define ACCEPT_LIMIT(key, value, field, expect)                                \
    do {                                                                       \
        struct config *cfg_ = parse_limit(key, value);                         \
        ck_assert_msg(cfg_ != NULL, "%s: %s refused: %s", key, value, err);    \
        ck_assert_uint_eq(cfg_->limits.field, expect);                         \
        config_free(cfg_);                                                     \
    } while (0)

/* The limit is refused with "expected <range> for server.limits.key". */
static void refuse_limit(const char *key, const char *value, const char *range)
{
    char expect[512];

    ck_assert_ptr_null(parse_limit(key, value));
    /* the value's column: after "server: {limits: {", the key and ": " */
    snprintf(expect, sizeof(expect),
             "t.yaml:1:%zu: expected %s for server.limits.%s, got '%s'",
             strlen("server: {limits: {") + strlen(key) + 3, range, key, value);
    ck_assert_str_eq(err, expect);
}

START_TEST(test_max_header_size_range)
{
    refuse_limit("max_header_size", "1023", "a size from 1k to 1m");
    ACCEPT_LIMIT("max_header_size", "1k", max_header_size, 1024);
    ACCEPT_LIMIT("max_header_size", "1m", max_header_size, 1048576);
    refuse_limit("max_header_size", "1048577", "a size from 1k to 1m");
}
END_TEST

/* Issue #12: this passed squalld -t, then http.c's max_header_size + 1
 * wrapped to 0 and a worker spun on the first request. */
START_TEST(test_max_header_size_all_ones)
{
    refuse_limit("max_header_size", "18446744073709551615",
                 "a size from 1k to 1m");
}
END_TEST

START_TEST(test_max_uri_size_range)
{
    refuse_limit("max_uri_size", "255",
                 "a size from 256 to 16k (server.limits.max_header_size)");
    ACCEPT_LIMIT("max_uri_size", "256", max_uri_size, 256);
    ACCEPT_LIMIT("max_uri_size", "16k", max_uri_size, 16384);
    refuse_limit("max_uri_size", "16385",
                 "a size from 256 to 16k (server.limits.max_header_size)");
    refuse_limit("max_uri_size", "99999999999999999999k",
                 "a size from 256 to 16k (server.limits.max_header_size)");
}
END_TEST

/* The bound is max_header_size as configured, wherever it is written. */
START_TEST(test_max_uri_size_above_header_size)
{
    ASSERT_ERROR("server:\n  limits:\n    max_uri_size: 4097\n"
                 "    max_header_size: 4k\n",
                 "t.yaml:3:19: expected a size from 256 to 4k "
                 "(server.limits.max_header_size) for "
                 "server.limits.max_uri_size, got '4097'");
    ASSERT_ERROR("server: {limits: {max_header_size: 1m, max_uri_size: 2m}}\n",
                 "t.yaml:1:54: expected a size from 256 to 1m "
                 "(server.limits.max_header_size) for "
                 "server.limits.max_uri_size, got '2m'");
}
END_TEST

/* The default max_uri_size (8k) follows a smaller max_header_size. */
START_TEST(test_max_uri_size_default_follows_header_size)
{
    struct config *cfg = parse_limit("max_header_size", "2k");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_eq(cfg->limits.max_uri_size, 2048);
    config_free(cfg);
    cfg = parse_limit("max_header_size", "32k");
    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_eq(cfg->limits.max_uri_size, 8192);
    config_free(cfg);
}
END_TEST

START_TEST(test_max_body_size_range)
{
    ACCEPT_LIMIT("max_body_size", "0", max_body_size, 0);
    ACCEPT_LIMIT("max_body_size", "1g", max_body_size, 1073741824);
    refuse_limit("max_body_size", "1073741825", "a size from 0 to 1g");
    refuse_limit("max_body_size", "2g", "a size from 0 to 1g");
}
END_TEST

START_TEST(test_header_timeout_range)
{
    refuse_limit("header_timeout", "99ms", "a duration from 100ms to 1h");
    ACCEPT_LIMIT("header_timeout", "100ms", header_timeout_ms, 100);
    ACCEPT_LIMIT("header_timeout", "1h", header_timeout_ms, 3600000);
    refuse_limit("header_timeout", "3600001ms", "a duration from 100ms to 1h");
}
END_TEST

START_TEST(test_body_timeout_range)
{
    refuse_limit("body_timeout", "99ms", "a duration from 100ms to 1h");
    ACCEPT_LIMIT("body_timeout", "100ms", body_timeout_ms, 100);
    ACCEPT_LIMIT("body_timeout", "60m", body_timeout_ms, 3600000);
    refuse_limit("body_timeout", "61m", "a duration from 100ms to 1h");
}
END_TEST

START_TEST(test_idle_timeout_range)
{
    refuse_limit("idle_timeout", "99ms", "a duration from 100ms to 24h");
    ACCEPT_LIMIT("idle_timeout", "100ms", idle_timeout_ms, 100);
    ACCEPT_LIMIT("idle_timeout", "24h", idle_timeout_ms, 86400000);
    refuse_limit("idle_timeout", "86400001ms", "a duration from 100ms to 24h");
}
END_TEST

START_TEST(test_max_connections_range)
{
    refuse_limit("max_connections", "0", "an integer from 1 to 1000000");
    ACCEPT_LIMIT("max_connections", "1", max_connections, 1);
    ACCEPT_LIMIT("max_connections", "1000000", max_connections, 1000000);
    refuse_limit("max_connections", "1000001", "an integer from 1 to 1000000");
}
END_TEST

START_TEST(test_body_min_rate_range)
{
    ACCEPT_LIMIT("body_min_rate", "0", body_min_rate, 0); /* no minimum rate */
    ACCEPT_LIMIT("body_min_rate", "1", body_min_rate, 1);
    ACCEPT_LIMIT("body_min_rate", "1k", body_min_rate, 1024);
    ACCEPT_LIMIT("body_min_rate", "1g", body_min_rate, 1073741824);
    refuse_limit("body_min_rate", "1073741825", "a size from 0 to 1g");
}
END_TEST

START_TEST(test_body_min_rate_bad)
{
    ASSERT_ERROR("server: {limits: {body_min_rate: 500/s}}\n",
                 "t.yaml:1:34: bad size '500/s' for "
                 "server.limits.body_min_rate (expected bytes, or a number "
                 "with k, m or g, like 16k)");
}
END_TEST

START_TEST(test_body_rate_grace_range)
{
    refuse_limit("body_rate_grace", "999ms", "a duration from 1s to 1h");
    ACCEPT_LIMIT("body_rate_grace", "1s", body_rate_grace_ms, 1000);
    ACCEPT_LIMIT("body_rate_grace", "1h", body_rate_grace_ms, 3600000);
    refuse_limit("body_rate_grace", "3601s", "a duration from 1s to 1h");
    refuse_limit("body_rate_grace", "0", "a duration from 1s to 1h");
}
END_TEST

START_TEST(test_shutdown_timeout_range)
{
    struct config *cfg = parse("server: {shutdown_timeout: 1h}\n");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_eq(cfg->shutdown_timeout_ms, 3600000);
    config_free(cfg);
    ASSERT_ERROR("server: {shutdown_timeout: 3601s}\n",
                 "t.yaml:1:28: expected a duration from 0 to 1h for "
                 "server.shutdown_timeout, got '3601s'");
}
END_TEST

/* A number too large for its type is out of range, not a bad size. */
START_TEST(test_size_overflow_message)
{
    refuse_limit("max_body_size", "99999999999999999999k",
                 "a size from 0 to 1g");
    refuse_limit("max_body_size", "18014398509481984k", "a size from 0 to 1g");
}
END_TEST

START_TEST(test_duration_overflow_message)
{
    refuse_limit("idle_timeout", "5000000h", "a duration from 100ms to 24h");
    refuse_limit("idle_timeout", "99999999999999999999ms",
                 "a duration from 100ms to 24h");
}
END_TEST

/* squalld -t reads the file with config_load(): the same path as here. */
START_TEST(test_load_refuses_absurd_header_size)
{
    char path[128], expect[256];

    tmpdir_setup();
    snprintf(path, sizeof(path), "%s/absurd.yaml", tmpdir);
    write_file(path, "server:\n  limits:\n"
                     "    max_header_size: 18446744073709551615\n");
    ck_assert_ptr_null(config_load(path, err, sizeof(err)));
    snprintf(expect, sizeof(expect),
             "%s:3:22: expected a size from 1k to 1m for "
             "server.limits.max_header_size, got '18446744073709551615'",
             path);
    ck_assert_str_eq(err, expect);
    tmpdir_teardown();
}
END_TEST

/* server ------------------------------------------------------------------ */

START_TEST(test_listen_string)
{
    struct config *cfg = parse("server: {listen: \"127.0.0.1:9000\"}\n");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_eq(cfg->nlisten, 1);
    ck_assert_str_eq(cfg->listen[0].text, "127.0.0.1:9000");
    ck_assert_uint_gt(cfg->listen[0].addrlen, 0);
    config_free(cfg);
}
END_TEST

START_TEST(test_listen_list)
{
    struct config *cfg =
        parse("server:\n  listen:\n    - 127.0.0.1:1\n    - 127.0.0.1:2\n");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_eq(cfg->nlisten, 2);
    ck_assert_str_eq(cfg->listen[0].text, "127.0.0.1:1");
    ck_assert_str_eq(cfg->listen[1].text, "127.0.0.1:2");
    ck_assert_int_eq(cfg->listen[1].mark.line, 4);
    ck_assert_int_eq(cfg->listen[1].mark.col, 7);
    config_free(cfg);
}
END_TEST

/* The wording after the mark is listen_parse()'s. */
START_TEST(test_listen_bad_address)
{
    static const char prefix[] = "t.yaml:4:7: ";
    struct config *cfg =
        parse("server:\n  listen:\n    - 127.0.0.1:1\n    - nonsense\n");

    ck_assert_ptr_null(cfg);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "got '%s'", err);
    ck_assert_uint_gt(strlen(err), strlen(prefix));
}
END_TEST

/* server.trusted_proxies ------------------------------------------------ */

START_TEST(test_trusted_proxies_default_empty)
{
    struct config *cfg = parse("server:\n");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_eq(cfg->trusted_proxies.n, 0);
    ck_assert_int_eq(cfg->trusted_proxies.unix_trusted, 0);
    config_free(cfg);
}
END_TEST

START_TEST(test_trusted_proxies_list)
{
    struct config *cfg = parse("server:\n"
                               "  trusted_proxies:\n"
                               "    - 127.0.0.1\n"
                               "    - 10.0.0.0/8\n"
                               "    - \"::1\"\n"
                               "    - \"fd00::/8\"\n"
                               "    - unix\n");

    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_uint_eq(cfg->trusted_proxies.n, 4);
    ck_assert_int_eq(cfg->trusted_proxies.unix_trusted, 1);
    ck_assert_uint_eq(cfg->trusted_proxies.nets[0].bits, 32);
    ck_assert_uint_eq(cfg->trusted_proxies.nets[1].bits, 8);
    ck_assert_uint_eq(cfg->trusted_proxies.nets[2].bits, 128);
    ck_assert_uint_eq(cfg->trusted_proxies.nets[3].bits, 8);
    config_free(cfg);
    /* one entry alone, and an empty list */
    cfg = parse("server: {trusted_proxies: 192.168.0.0/16}\n");
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_uint_eq(cfg->trusted_proxies.n, 1);
    config_free(cfg);
    cfg = parse("server: {trusted_proxies: []}\n");
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_uint_eq(cfg->trusted_proxies.n, 0);
    config_free(cfg);
}
END_TEST

START_TEST(test_trusted_proxies_errors)
{
    ASSERT_ERROR("server:\n  trusted_proxies:\n    - 127.0.0.1\n"
                 "    - 10.0.0.300\n",
                 "t.yaml:4:7: server.trusted_proxies[1]: bad address "
                 "'10.0.0.300' (expected an IPv4 or IPv6 address, a CIDR such "
                 "as 10.0.0.0/8 or fd00::/8, or 'unix')");
    ASSERT_ERROR("server: {trusted_proxies: [10.0.0.0/33]}\n",
                 "t.yaml:1:28: server.trusted_proxies[0]: prefix length /33 "
                 "is out of range in '10.0.0.0/33' (0 to 32 for an IPv4 "
                 "address)");
    ASSERT_ERROR("server: {trusted_proxies: [\"::/129\"]}\n",
                 "t.yaml:1:28: server.trusted_proxies[0]: prefix length "
                 "/129 is out of range in '::/129' (0 to 128 for an IPv6 "
                 "address)");
    ASSERT_ERROR("server: {trusted_proxies: [10.0.0.0/x]}\n",
                 "t.yaml:1:28: server.trusted_proxies[0]: bad prefix length "
                 "'x' in '10.0.0.0/x'");
    ASSERT_ERROR("server: {trusted_proxies: [10.0.0.0/]}\n",
                 "t.yaml:1:28: server.trusted_proxies[0]: bad prefix length "
                 "'' in '10.0.0.0/'");
    ASSERT_ERROR("server: {trusted_proxies: [192.168.1.10/24]}\n",
                 "t.yaml:1:28: server.trusted_proxies[0]: '192.168.1.10/24' "
                 "has bits set after its /24 prefix (the network is "
                 "192.168.1.0/24; a single address needs no prefix)");
    ASSERT_ERROR("server: {trusted_proxies: [localhost]}\n",
                 "t.yaml:1:28: server.trusted_proxies[0]: bad address "
                 "'localhost' (expected an IPv4 or IPv6 address, a CIDR such "
                 "as 10.0.0.0/8 or fd00::/8, or 'unix')");
    ASSERT_ERROR("server:\n  trusted_proxies:\n    - {a: b}\n",
                 "t.yaml:3:7: expected a string for server.trusted_proxies[0], "
                 "got a mapping");
    ASSERT_ERROR("server: {trusted_proxies: {a: b}}\n",
                 "t.yaml:1:27: expected a list of addresses and CIDRs for "
                 "server.trusted_proxies, got a mapping");
}
END_TEST

START_TEST(test_listen_empty_list)
{
    ASSERT_ERROR("server: {listen: []}\n",
                 "t.yaml:1:18: empty list for server.listen (give at least "
                 "one address)");
}
END_TEST

START_TEST(test_listen_wrong_type)
{
    ASSERT_ERROR("server: {listen: [[a]]}\n",
                 "t.yaml:1:19: expected a string for server.listen[0], got a "
                 "list");
    ASSERT_ERROR("server: {listen: {a: b}}\n",
                 "t.yaml:1:18: server.listen needs an address (host:port, "
                 "[ipv6]:port or unix:/path)");
}
END_TEST

/* listen entries as mappings: {address, tls} */
START_TEST(test_listen_tls)
{
    struct config *cfg =
        parse("server:\n  listen:\n    - 127.0.0.1:1\n"
              "    - address: 127.0.0.1:2\n"
              "      tls: {cert: /c.pem, key: /k.pem, protocols: [TLSv1.3],\n"
              "            ciphers: ECDHE+AESGCM, ciphersuites: "
              "TLS_AES_128_GCM_SHA256}\n"
              "    - {address: 127.0.0.1:3}\n");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_eq(cfg->nlisten, 3);
    ck_assert_ptr_null(cfg->listen[0].tls);
    ck_assert_ptr_null(cfg->listen[2].tls);
    ck_assert_str_eq(cfg->listen[1].text, "127.0.0.1:2");
    ck_assert_int_eq(cfg->listen[1].mark.line, 4);
    ck_assert_int_eq(cfg->listen[1].mark.col, 16);
    ck_assert_ptr_nonnull(cfg->listen[1].tls);
    ck_assert_str_eq(cfg->listen[1].tls->cert, "/c.pem");
    ck_assert_str_eq(cfg->listen[1].tls->key, "/k.pem");
    ck_assert_int_eq(cfg->listen[1].tls->key_mark.line, 5);
    ck_assert_uint_eq(cfg->listen[1].tls->protocols, TLS_PROTO_13);
    ck_assert_str_eq(cfg->listen[1].tls->ciphers, "ECDHE+AESGCM");
    ck_assert_str_eq(cfg->listen[1].tls->ciphersuites,
                     "TLS_AES_128_GCM_SHA256");
    config_free(cfg);
    cfg = parse("server:\n  listen: {address: \"[::1]:4\", tls: {cert: c, "
                "key: k}}\n");
    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_eq(cfg->nlisten, 1);
    ck_assert_uint_eq(cfg->listen[0].tls->protocols,
                      TLS_PROTO_12 | TLS_PROTO_13);
    ck_assert_ptr_null(cfg->listen[0].tls->ciphers);
    config_free(cfg);
}
END_TEST

START_TEST(test_listen_tls_errors)
{
    ASSERT_ERROR("server: {listen: {address: 127.0.0.1:1, tls: {cert: c}}}\n",
                 "t.yaml:1:46: server.listen.tls needs key (a PEM file)");
    ASSERT_ERROR("server: {listen: {address: 127.0.0.1:1, tls: {key: k}}}\n",
                 "t.yaml:1:46: server.listen.tls needs cert (a PEM file)");
    ASSERT_ERROR("server: {listen: {address: 127.0.0.1:1, tls: }}\n",
                 "t.yaml:1:46: expected a mapping with cert and key for "
                 "server.listen.tls, got an empty value");
    ASSERT_ERROR("server: {listen: [{address: 127.0.0.1:1, tls: {cert: c, "
                 "key: k, protocols: [TLSv1.2, TLSv1]}}]}\n",
                 "t.yaml:1:86: TLSv1 is not supported for "
                 "server.listen[0].tls.protocols[1]: squall speaks TLSv1.2 "
                 "and TLSv1.3 only");
    ASSERT_ERROR("server: {listen: {address: 127.0.0.1:1, tls: {cert: c, "
                 "key: k, protocols: []}}}\n",
                 "t.yaml:1:75: empty list for server.listen.tls.protocols "
                 "(give TLSv1.2, TLSv1.3 or both)");
    ASSERT_ERROR("server: {listen: {address: 127.0.0.1:1, tls: {cert: c, "
                 "key: k, version: 3}}}\n",
                 "t.yaml:1:64: unknown key 'version' in server.listen.tls");
    ASSERT_ERROR("server: {listen: {adress: 127.0.0.1:1}}\n",
                 "t.yaml:1:18: server.listen needs an address (host:port, "
                 "[ipv6]:port or unix:/path)");
    ASSERT_ERROR("server: {listen: {address: 127.0.0.1:1, port: 2}}\n",
                 "t.yaml:1:41: unknown key 'port' in server.listen");
    ASSERT_ERROR("server: {listen: {address: nowhere}}\n",
                 "t.yaml:1:28: bad listen address 'nowhere' (expected "
                 "host:port, [ipv6]:port or unix:/path; host is a numeric "
                 "address or *)");
}
END_TEST

START_TEST(test_workers_auto)
{
    struct config *cfg = parse("server: {workers: auto}\n");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(cfg->workers, cpu_count());
    config_free(cfg);
}
END_TEST

START_TEST(test_workers_number)
{
    struct config *cfg = parse("server: {workers: 256}\n");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(cfg->workers, 256);
    config_free(cfg);
    cfg = parse("server: {workers: 1}\n");
    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(cfg->workers, 1);
    config_free(cfg);
}
END_TEST

START_TEST(test_workers_zero)
{
    ASSERT_ERROR("server: {workers: 0}\n",
                 "t.yaml:1:19: expected 'auto' or an integer from 1 to 256 "
                 "for server.workers, got '0'");
}
END_TEST

START_TEST(test_workers_too_many)
{
    ASSERT_ERROR("server: {workers: 257}\n",
                 "t.yaml:1:19: expected 'auto' or an integer from 1 to 256 "
                 "for server.workers, got '257'");
}
END_TEST

START_TEST(test_workers_garbage)
{
    ASSERT_ERROR("server: {workers: many}\n",
                 "t.yaml:1:19: expected 'auto' or an integer from 1 to 256 "
                 "for server.workers, got 'many'");
}
END_TEST

START_TEST(test_workers_wrong_type)
{
    ASSERT_ERROR("server: {workers: [4]}\n",
                 "t.yaml:1:19: expected 'auto' or an integer for "
                 "server.workers, got a list");
}
END_TEST

/* log -----------------------------------------------------------------------
 */

START_TEST(test_log_levels)
{
    static const char *const names[] = {"debug", "info",  "notice",
                                        "warn",  "error", "crit"};
    static const int levels[] = {SQ_LOG_DEBUG, SQ_LOG_INFO,  SQ_LOG_NOTICE,
                                 SQ_LOG_WARN,  SQ_LOG_ERROR, SQ_LOG_CRIT};
    struct config *cfg;
    char yaml[64];
    size_t i;

    for (i = 0; i < ARRAY_LEN(names); i++) {
        snprintf(yaml, sizeof(yaml), "log: {level: %s}\n", names[i]);
        cfg = parse(yaml);
        ck_assert_ptr_nonnull(cfg);
        ck_assert_int_eq(cfg->log_level, levels[i]);
        config_free(cfg);
    }
}
END_TEST

START_TEST(test_log_bad_level)
{
    ASSERT_ERROR("log:\n  level: verbose\n",
                 "t.yaml:2:10: unknown log level 'verbose' for log.level "
                 "(expected debug, info, notice, warn, error or crit)");
}
END_TEST

START_TEST(test_log_error_stderr)
{
    struct config *cfg = parse("log: {error: stderr}\n");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_ptr_null(cfg->log_error);
    config_free(cfg);
}
END_TEST

START_TEST(test_log_access_modes)
{
    struct config *cfg = parse("log: {access: stderr}\n");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(cfg->access_mode, ACCESS_STDERR);
    ck_assert_ptr_null(cfg->log_access);
    config_free(cfg);
    cfg = parse("log: {access: off}\n");
    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(cfg->access_mode, ACCESS_OFF);
    config_free(cfg);
    cfg = parse("log: {access: logs/access.log}\n");
    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(cfg->access_mode, ACCESS_FILE);
    ck_assert_str_eq(cfg->log_access, "logs/access.log");
    config_free(cfg);
}
END_TEST

START_TEST(test_log_access_boolean_rejected)
{
    ASSERT_ERROR("log: {access: false}\n",
                 "t.yaml:1:15: expected off, stderr or a file path for "
                 "log.access, got 'false'");
}
END_TEST

/* modules ----------------------------------------------------------------- */

START_TEST(test_module_missing_path)
{
    ASSERT_ERROR("modules:\n  hello:\n    config: {a: 1}\n",
                 "t.yaml:2:3: missing 'path' in modules.hello");
}
END_TEST

START_TEST(test_module_empty)
{
    ASSERT_ERROR("modules:\n  hello:\n",
                 "t.yaml:2:3: missing 'path' in modules.hello");
}
END_TEST

START_TEST(test_module_bad_name)
{
    ASSERT_ERROR("modules:\n  hello-world: {path: hw.so}\n",
                 "t.yaml:2:3: bad module name 'hello-world' in modules (use "
                 "letters, digits and '_', not starting with a digit)");
}
END_TEST

START_TEST(test_module_not_mapping)
{
    ASSERT_ERROR("modules:\n  hello: hello.so\n",
                 "t.yaml:2:10: expected a mapping for modules.hello, got a "
                 "string");
}
END_TEST

START_TEST(test_module_unknown_key)
{
    ASSERT_ERROR("modules:\n  hello: {pth: hello.so}\n",
                 "t.yaml:2:11: unknown key 'pth' in modules.hello (did you "
                 "mean 'path'?)");
}
END_TEST

/* A string has no directory: relative paths stay as written. */
START_TEST(test_module_path_kept_in_string)
{
    struct config *cfg = parse("modules:\n"
                               "  a: {path: a.so}\n"
                               "  b: {path: ./b.so}\n"
                               "  c: {path: lib/c.so}\n");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_str_eq(cfg->modules[0].path, "a.so");
    ck_assert_str_eq(cfg->modules[1].path, "./b.so");
    ck_assert_str_eq(cfg->modules[2].path, "lib/c.so");
    config_free(cfg);
}
END_TEST

START_TEST(test_module_path_resolved_in_file)
{
    char path[128], expect[256];
    struct config *cfg;

    tmpdir_setup();
    snprintf(path, sizeof(path), "%s/squall.yaml", tmpdir);
    write_file(path, "modules:\n"
                     "  a: {path: a.so}\n"
                     "  b: {path: ./b.so}\n"
                     "  c: {path: lib/c.so}\n"
                     "  d: {path: /abs/d.so}\n"
                     "log: {access: access.log}\n");
    cfg = config_load(path, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(cfg->file, path);
    ck_assert_ptr_eq(cfg->modules[0].mark.file, cfg->file);
    ck_assert_str_eq(cfg->modules[0].path, "a.so");
    snprintf(expect, sizeof(expect), "%s/b.so", tmpdir);
    ck_assert_str_eq(cfg->modules[1].path, expect);
    snprintf(expect, sizeof(expect), "%s/lib/c.so", tmpdir);
    ck_assert_str_eq(cfg->modules[2].path, expect);
    ck_assert_str_eq(cfg->modules[3].path, "/abs/d.so");
    snprintf(expect, sizeof(expect), "%s/access.log", tmpdir);
    ck_assert_str_eq(cfg->log_access, expect);
    config_free(cfg);
    tmpdir_teardown();
}
END_TEST

/* A config path relative to the working directory still gives absolute
 * module paths, so a later chdir("/") does not break them. */
START_TEST(test_module_path_relative_config)
{
    char path[128], old[PATH_MAX], cwd[PATH_MAX], expect[PATH_MAX + 256];
    struct config *cfg;

    tmpdir_setup();
    snprintf(path, sizeof(path), "%s/squall.yaml", tmpdir);
    write_file(path, "modules: {m: {path: mods/m.so}}\n");
    ck_assert_ptr_nonnull(getcwd(old, sizeof(old)));
    ck_assert_int_eq(chdir("/tmp"), 0);
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
    cfg = config_load(path + strlen("/tmp/"), err, sizeof(err));
    /* back before asserting: with CK_FORK=no later tests share the cwd */
    ck_assert_int_eq(chdir(old), 0);
    ck_assert_msg(cfg != NULL, "%s", err);
    snprintf(expect, sizeof(expect), "%s/%s/mods/m.so", cwd,
             tmpdir + strlen("/tmp/"));
    ck_assert_str_eq(cfg->modules[0].path, expect);
    config_free(cfg);
    tmpdir_teardown();
}
END_TEST

START_TEST(test_module_config_tree)
{
    struct config *cfg = parse("modules:\n"
                               "  chat:\n"
                               "    path: chat.so\n"
                               "    config:\n"
                               "      history: 200\n"
                               "      rooms: [lobby, \"dev\"]\n"
                               "      quoted: \"null\"\n"
                               "      empty:\n"
                               "      tilde: ~\n"
                               "      nested: {on: yes}\n");
    const sq_conf *c, *rooms;
    const char *key;

    ck_assert_ptr_nonnull(cfg);
    c = cfg->modules[0].config;
    ck_assert_int_eq(sq_conf_type(c), SQ_CONF_MAP);
    ck_assert_uint_eq(sq_conf_len(c), 6);
    ck_assert_int_eq(sq_conf_int(c, "history", 0), 200);
    rooms = sq_conf_get(c, "rooms");
    ck_assert_int_eq(sq_conf_type(rooms), SQ_CONF_LIST);
    ck_assert_uint_eq(sq_conf_len(rooms), 2);
    ck_assert_str_eq(sq_conf_value(sq_conf_at(rooms, 1, &key)), "dev");
    ck_assert_ptr_null(key);
    ck_assert_str_eq(sq_conf_str(c, "quoted", "x"), "null");
    ck_assert_str_eq(sq_conf_str(c, "empty", "x"), "");
    ck_assert_str_eq(sq_conf_str(c, "tilde", "x"), "");
    ck_assert_int_eq(sq_conf_bool(sq_conf_get(c, "nested"), "on", 0), 1);
    ck_assert_ptr_nonnull(sq_conf_at(c, 5, &key));
    ck_assert_str_eq(key, "nested");
    config_free(cfg);
}
END_TEST

START_TEST(test_module_config_empty_is_null)
{
    struct config *cfg = parse("modules:\n  a: {path: a.so, config: }\n"
                               "  b: {path: b.so, config: ~}\n"
                               "  c: {path: c.so, config: 5}\n");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_ptr_null(cfg->modules[0].config);
    ck_assert_ptr_null(cfg->modules[1].config);
    ck_assert_int_eq(sq_conf_type(cfg->modules[2].config), SQ_CONF_SCALAR);
    ck_assert_str_eq(sq_conf_value(cfg->modules[2].config), "5");
    config_free(cfg);
}
END_TEST

/* routes ------------------------------------------------------------------ */

START_TEST(test_route_missing_path)
{
    ASSERT_ERROR(MOD "routes:\n  - handler: hello:hello\n",
                 "t.yaml:3:5: missing 'path' in routes[0]");
}
END_TEST

START_TEST(test_route_missing_handler)
{
    ASSERT_ERROR(MOD "routes:\n  - path: /\n  - path: /x\n",
                 "t.yaml:3:5: missing 'handler' in routes[0]");
}
END_TEST

START_TEST(test_route_not_mapping)
{
    ASSERT_ERROR(MOD "routes:\n  - /x\n",
                 "t.yaml:3:5: expected a mapping for routes[0], got a string");
}
END_TEST

START_TEST(test_route_bad_path)
{
    ASSERT_ERROR(MOD "routes:\n  - {path: x/y, handler: hello:hello}\n",
                 "t.yaml:3:12: bad path 'x/y' for routes[0].path (expected "
                 "'/...', or '^...' for a regex)");
}
END_TEST

START_TEST(test_route_bad_handler)
{
    static const char *const bad[] = {"hello",    "hello:", ":hello",
                                      "a:b:c",    "1a:b",   "a:1b",
                                      "he-llo:x", "a :b",   "a.b"};
    char yaml[128], expect[256];
    size_t i;

    for (i = 0; i < ARRAY_LEN(bad); i++) {
        snprintf(yaml, sizeof(yaml),
                 MOD "routes:\n  - {path: /, handler: \"%s\"}\n", bad[i]);
        snprintf(expect, sizeof(expect),
                 "t.yaml:3:24: bad handler '%s' for routes[0].handler "
                 "(expected module:function, like hello:hello)",
                 bad[i]);
        ASSERT_ERROR(yaml, expect);
    }
}
END_TEST

START_TEST(test_route_unknown_module)
{
    ASSERT_ERROR("routes:\n  - path: /\n    handler: helo:hello\n" MOD,
                 "t.yaml:3:14: unknown module 'helo' in handler 'helo:hello' "
                 "(did you mean 'hello'?)");
}
END_TEST

START_TEST(test_route_no_modules)
{
    ASSERT_ERROR("routes:\n  - {path: /, handler: hello:hello}\n",
                 "t.yaml:2:24: unknown module 'hello' in handler "
                 "'hello:hello'");
}
END_TEST

START_TEST(test_route_module_declared_later)
{
    struct config *cfg =
        parse("routes:\n  - {path: /, handler: hello:hello}\n" MOD);

    ck_assert_ptr_nonnull(cfg);
    ck_assert_str_eq(cfg->routes[0].module, "hello");
    config_free(cfg);
}
END_TEST

START_TEST(test_route_methods)
{
    struct config *cfg =
        parse(MOD "routes:\n  - {path: /, handler: hello:hello, methods: "
                  "[GET, HEAD, DELETE, GET]}\n");

    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_eq(cfg->routes[0].methods, METHOD_BIT(METHOD_GET) |
                                                  METHOD_BIT(METHOD_HEAD) |
                                                  METHOD_BIT(METHOD_DELETE));
    config_free(cfg);
}
END_TEST

START_TEST(test_route_unknown_method)
{
    ASSERT_ERROR(MOD "routes:\n  - path: /\n    handler: hello:hello\n"
                     "    methods: [GET, PSOT]\n",
                 "t.yaml:5:20: unknown method 'PSOT' in routes[0].methods "
                 "(did you mean 'POST'?)");
}
END_TEST

START_TEST(test_route_method_lowercase)
{
    ASSERT_ERROR(MOD "routes:\n  - {path: /, handler: hello:hello, methods: "
                     "[delete]}\n",
                 "t.yaml:3:47: unknown method 'delete' in routes[0].methods "
                 "(did you mean 'DELETE'?)");
}
END_TEST

START_TEST(test_route_methods_empty)
{
    ASSERT_ERROR(MOD "routes:\n  - {path: /, handler: hello:hello, methods: "
                     "[]}\n",
                 "t.yaml:3:46: empty list for routes[0].methods (leave "
                 "'methods' out to allow any method)");
}
END_TEST

START_TEST(test_route_methods_not_list)
{
    ASSERT_ERROR(MOD "routes:\n  - {path: /, handler: hello:hello, methods: "
                     "GET}\n",
                 "t.yaml:3:46: expected a list for routes[0].methods, got a "
                 "string");
}
END_TEST

/* config_load ----------------------------------------------------------------
 */

START_TEST(test_route_websocket)
{
    struct config *cfg = parse(
        MOD "routes:\n  - {path: /ws, websocket: \"hello:chat\", "
            "origins: [\"https://a.example\", \"*\"], subprotocols: [v2, "
            "v1], deflate: true}\n  - {path: /x, handler: hello:hello}\n");

    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->routes[0].websocket, 1);
    ck_assert_str_eq(cfg->routes[0].module, "hello");
    ck_assert_str_eq(cfg->routes[0].handler, "chat");
    ck_assert_uint_eq(cfg->routes[0].norigins, 2);
    ck_assert_str_eq(cfg->routes[0].origins[1], "*");
    ck_assert_uint_eq(cfg->routes[0].nsubprotocols, 2);
    ck_assert_str_eq(cfg->routes[0].subprotocols[0], "v2");
    ck_assert_int_eq(cfg->routes[0].deflate.enabled, 1);
    ck_assert_int_eq(cfg->routes[0].deflate.server_no_context_takeover, 0);
    ck_assert_int_eq(cfg->routes[0].deflate.server_max_window_bits, 15);
    ck_assert_int_eq(cfg->routes[0].deflate.client_max_window_bits, 15);
    ck_assert_int_eq(cfg->routes[1].websocket, 0);
    ck_assert_int_eq(cfg->routes[1].deflate.enabled, 0);
    config_free(cfg);
}
END_TEST

START_TEST(test_route_websocket_and_handler)
{
    ASSERT_ERROR(MOD "routes:\n  - {path: /ws, websocket: hello:a, handler: "
                     "hello:b}\n",
                 "t.yaml:3:5: both 'handler' and 'websocket' in routes[0]");
}
END_TEST

START_TEST(test_route_websocket_options_on_a_handler)
{
    ASSERT_ERROR(MOD "routes:\n  - {path: /x, handler: hello:a, deflate: "
                     "true}\n",
                 "t.yaml:3:34: 'deflate' in routes[0] applies to websocket "
                 "routes only");
}
END_TEST

START_TEST(test_route_websocket_bad_deflate)
{
    ASSERT_ERROR(MOD "routes:\n  - {path: /x, websocket: hello:a, deflate: "
                     "yes}\n",
                 "t.yaml:3:45: expected true, false or a mapping of "
                 "permessage-deflate parameters for routes[0].deflate, got "
                 "'yes'");
}
END_TEST

START_TEST(test_route_websocket_deflate_parameters)
{
    struct config *cfg = parse(
        MOD "routes:\n  - {path: /ws, websocket: hello:a, deflate: "
            "{server_no_context_takeover: true, client_no_context_takeover: "
            "true, server_max_window_bits: 8, client_max_window_bits: 10}}\n"
            "  - {path: /z, websocket: hello:a, deflate: {}}\n"
            "  - {path: /n, websocket: hello:a, deflate: false}\n");
    const struct wsdeflate_policy *p;

    ck_assert_msg(cfg != NULL, "%s", err);
    p = &cfg->routes[0].deflate;
    ck_assert_int_eq(p->enabled, 1);
    ck_assert_int_eq(p->server_no_context_takeover, 1);
    ck_assert_int_eq(p->client_no_context_takeover, 1);
    ck_assert_int_eq(p->server_max_window_bits, 8);
    ck_assert_int_eq(p->client_max_window_bits, 10);
    /* an empty mapping is deflate with every default */
    p = &cfg->routes[1].deflate;
    ck_assert_int_eq(p->enabled, 1);
    ck_assert_int_eq(p->server_no_context_takeover, 0);
    ck_assert_int_eq(p->server_max_window_bits, 15);
    ck_assert_int_eq(cfg->routes[2].deflate.enabled, 0);
    config_free(cfg);
}
END_TEST

START_TEST(test_route_websocket_deflate_bad_parameters)
{
    ASSERT_ERROR(MOD "routes:\n  - {path: /x, websocket: hello:a, deflate: "
                     "{server_max_window_bits: 7}}\n",
                 "t.yaml:3:70: expected an integer from 8 to 15 for "
                 "routes[0].deflate.server_max_window_bits, got '7'");
    ASSERT_ERROR(MOD "routes:\n  - {path: /x, websocket: hello:a, deflate: "
                     "{client_max_window_bits: 16}}\n",
                 "t.yaml:3:70: expected an integer from 8 to 15 for "
                 "routes[0].deflate.client_max_window_bits, got '16'");
    ASSERT_ERROR(MOD "routes:\n  - {path: /x, websocket: hello:a, deflate: "
                     "{server_no_context_takeover: 1}}\n",
                 "t.yaml:3:74: expected true or false for "
                 "routes[0].deflate.server_no_context_takeover, got '1'");
    ASSERT_ERROR(MOD "routes:\n  - {path: /x, websocket: hello:a, deflate: "
                     "{server_no_context_takover: true}}\n",
                 "t.yaml:3:46: unknown key 'server_no_context_takover' in "
                 "routes[0].deflate (did you mean "
                 "'server_no_context_takeover'?)");
}
END_TEST

START_TEST(test_websocket_section)
{
    struct config *cfg = parse(MOD "websocket: {max_message_size: 64k, "
                                   "max_send_buffer: 2m, ping_interval: 20s, "
                                   "ping_timeout: 5s, close_timeout: 1s}\n");

    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_uint_eq(cfg->ws.max_message_size, 64 * 1024);
    ck_assert_uint_eq(cfg->ws.max_send_buffer, 2 * 1024 * 1024);
    ck_assert_uint_eq(cfg->ws.ping_interval_ms, 20000);
    ck_assert_uint_eq(cfg->ws.ping_timeout_ms, 5000);
    ck_assert_uint_eq(cfg->ws.close_timeout_ms, 1000);
    config_free(cfg);
    cfg = parse(MOD);
    ck_assert_uint_eq(cfg->ws.max_message_size, 1024 * 1024);
    ck_assert_uint_eq(cfg->ws.max_send_buffer, 1024 * 1024);
    ck_assert_uint_eq(cfg->ws.ping_interval_ms, 0);
    ck_assert_uint_eq(cfg->ws.close_timeout_ms, 5000);
    config_free(cfg);
}
END_TEST

START_TEST(test_websocket_ranges)
{
    ASSERT_ERROR("websocket: {max_send_buffer: 16m}\n",
                 "t.yaml:1:30: expected a size from 1k to 8m for "
                 "websocket.max_send_buffer, got '16m'");
    ASSERT_ERROR("websocket: {max_message_size: 100}\n",
                 "t.yaml:1:31: expected a size from 125 to 1g for "
                 "websocket.max_message_size, got '100'");
    ASSERT_ERROR("websocket: {ping_interval: 10ms}\n",
                 "t.yaml:1:28: expected 0 (off) or a duration from 100ms to "
                 "24h for websocket.ping_interval, got '10ms'");
    ASSERT_ERROR("websocket: {close_timeout: 0}\n",
                 "t.yaml:1:28: expected a duration from 100ms to 1h for "
                 "websocket.close_timeout, got '0'");
    ASSERT_ERROR("websocket: {max_mesage_size: 1m}\n",
                 "t.yaml:1:13: unknown key 'max_mesage_size' in websocket "
                 "(did you mean 'max_message_size'?)");
}
END_TEST

/* pubsub ------------------------------------------------------------------ */

START_TEST(test_pubsub_defaults)
{
    struct config *cfg = parse(MOD);

    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_eq(cfg->pubsub.history, 100);
    ck_assert_uint_eq(cfg->pubsub.history_ttl_ms, 5 * 60 * 1000);
    ck_assert_uint_eq(cfg->pubsub.max_channels, 100000);
    ck_assert_uint_eq(cfg->pubsub.max_message_size, 64 * 1024);
    ck_assert_uint_eq(cfg->pubsub.max_history_memory, 64 * 1024 * 1024);
    ck_assert_uint_eq(cfg->pubsub.hub_queue, 16 * 1024 * 1024);
    ck_assert_ptr_null(cfg->pubsub.redis);
    config_free(cfg);
}
END_TEST

START_TEST(test_pubsub_section)
{
    struct config *cfg =
        parse("pubsub:\n  history: 0\n  history_ttl: 168h\n"
              "  max_channels: 10000000\n  max_message_size: 16m\n"
              "  max_history_memory: 0\n  hub_queue: 1g\n"
              "  redis: redis://127.0.0.1:6379/2\n");

    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_uint_eq(cfg->pubsub.history, 0);
    ck_assert_uint_eq(cfg->pubsub.history_ttl_ms, 168u * 3600 * 1000);
    ck_assert_uint_eq(cfg->pubsub.max_channels, 10000000);
    ck_assert_uint_eq(cfg->pubsub.max_message_size, 16 * 1024 * 1024);
    ck_assert_uint_eq(cfg->pubsub.max_history_memory, 0);
    ck_assert_uint_eq(cfg->pubsub.hub_queue, 1024 * 1024 * 1024);
    ck_assert_str_eq(cfg->pubsub.redis, "redis://127.0.0.1:6379/2");
    ck_assert_int_eq(cfg->pubsub.redis_mark.line, 8);
    ck_assert_int_eq(cfg->pubsub.redis_mark.col, 10);
    config_free(cfg);
    /* an empty redis is the default: none */
    cfg = parse("pubsub: {history: 100000, history_ttl: 1s, redis: }\n");
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_uint_eq(cfg->pubsub.history, 100000);
    ck_assert_uint_eq(cfg->pubsub.history_ttl_ms, 1000);
    ck_assert_ptr_null(cfg->pubsub.redis);
    config_free(cfg);
}
END_TEST

START_TEST(test_pubsub_ranges)
{
    ASSERT_ERROR("pubsub: {history: 100001}\n",
                 "t.yaml:1:19: expected an integer from 0 to 100000 for "
                 "pubsub.history, got '100001'");
    ASSERT_ERROR("pubsub: {history_ttl: 500ms}\n",
                 "t.yaml:1:23: expected a duration from 1s to 168h for "
                 "pubsub.history_ttl, got '500ms'");
    ASSERT_ERROR("pubsub: {history_ttl: 169h}\n",
                 "t.yaml:1:23: expected a duration from 1s to 168h for "
                 "pubsub.history_ttl, got '169h'");
    ASSERT_ERROR("pubsub: {max_channels: 0}\n",
                 "t.yaml:1:24: expected an integer from 1 to 10000000 for "
                 "pubsub.max_channels, got '0'");
    ASSERT_ERROR("pubsub: {max_message_size: 17m}\n",
                 "t.yaml:1:28: expected a size from 1 to 16m for "
                 "pubsub.max_message_size, got '17m'");
    ASSERT_ERROR("pubsub: {max_message_size: 0}\n",
                 "t.yaml:1:28: expected a size from 1 to 16m for "
                 "pubsub.max_message_size, got '0'");
    ASSERT_ERROR("pubsub: {max_history_memory: 17g}\n",
                 "t.yaml:1:30: expected a size from 0 to 16g for "
                 "pubsub.max_history_memory, got '17g'");
    ASSERT_ERROR("pubsub: {hub_queue: 32k}\n",
                 "t.yaml:1:21: expected a size from 64k to 1g for "
                 "pubsub.hub_queue, got '32k'");
    ASSERT_ERROR("pubsub: {hub_queue: 2g}\n",
                 "t.yaml:1:21: expected a size from 64k to 1g for "
                 "pubsub.hub_queue, got '2g'");
    ASSERT_ERROR("pubsub: {histroy: 5}\n",
                 "t.yaml:1:10: unknown key 'histroy' in pubsub (did you "
                 "mean 'history'?)");
}
END_TEST

START_TEST(test_pubsub_redis_urls)
{
    static const char *const good[] = {
        "redis://localhost:6379",
        "redis://127.0.0.1:6379/0",
        "redis://redis-1.internal:1/15",
        "redis://[::1]:6379",
        "redis://[2001:db8::1]:6380/2147483647",
    };
    static const struct {
        const char *url, *why;
    } bad[] = {
        {"http://localhost:6379", "it must start with redis://"},
        {"rediss://localhost:6379", "it must start with redis://"},
        {"redis://:6379", "no host"},
        {"redis://localhost", "no port"},
        {"redis://localhost/0", "no port"},
        {"redis://local_host:6379", "bad character in host"},
        {"redis://user@localhost:6379", "bad character in host"},
        {"redis://localhost:", "the port is a number from 1 to 65535"},
        {"redis://localhost:0", "the port is a number from 1 to 65535"},
        {"redis://localhost:065", "the port is a number from 1 to 65535"},
        {"redis://localhost:65536", "the port is a number from 1 to 65535"},
        {"redis://localhost:+80", "the port is a number from 1 to 65535"},
        {"redis://localhost:6379/", "the database is a number from 0 to "
                                    "2147483647"},
        {"redis://localhost:6379/01", "the database is a number from 0 to "
                                      "2147483647"},
        {"redis://localhost:6379/2147483648", "the database is a number "
                                              "from 0 to 2147483647"},
        {"redis://localhost:6379/1/2", "bad character after the database"},
        {"redis://localhost:6379?x=1", "bad character after the port"},
        {"redis://[]:6379", "bad IPv6 address"},
        {"redis://[::1:6379", "bad IPv6 address"},
    };
    char yaml[128], want[384];
    struct config *cfg;

    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        snprintf(yaml, sizeof(yaml), "pubsub:\n  redis: \"%s\"\n", good[i]);
        cfg = parse(yaml);
        ck_assert_msg(cfg != NULL, "%s: %s", good[i], err);
        ck_assert_str_eq(cfg->pubsub.redis, good[i]);
        config_free(cfg);
    }
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        snprintf(yaml, sizeof(yaml), "pubsub:\n  redis: \"%s\"\n", bad[i].url);
        snprintf(want, sizeof(want),
                 "t.yaml:2:10: bad URL '%s' for pubsub.redis: %s (expected "
                 "redis://host:port or redis://host:port/db)",
                 bad[i].url, bad[i].why);
        ASSERT_ERROR(yaml, want);
    }
    ASSERT_ERROR("pubsub: {redis: [a]}\n",
                 "t.yaml:1:17: expected a string for pubsub.redis, got a "
                 "list");
}
END_TEST

/* subscribe and publish routes ----------------------------------------- */

START_TEST(test_route_subscribe)
{
    struct config *cfg =
        parse("routes:\n"
              "  - {path: \"/chat/{room}\", subscribe: {channel: "
              "\"chat.{room}\"}}\n"
              "  - path: /feed\n"
              "    subscribe:\n"
              "      channel: feed\n"
              "      poll_timeout: 1h\n"
              "      sse_keepalive: 1s\n");
    const struct route_conf *rc;

    ck_assert_msg(cfg != NULL, "%s", err);
    rc = &cfg->routes[0];
    ck_assert_int_eq(rc->subscribe, 1);
    ck_assert_int_eq(rc->publish, 0);
    ck_assert_int_eq(rc->websocket, 0);
    ck_assert_ptr_null(rc->module);
    ck_assert_ptr_null(rc->handler);
    ck_assert_str_eq(rc->channel, "chat.{room}");
    ck_assert_uint_eq(rc->methods, METHOD_BIT(METHOD_GET));
    ck_assert_uint_eq(rc->poll_timeout_ms, 30000);
    ck_assert_uint_eq(rc->sse_keepalive_ms, 15000);
    rc = &cfg->routes[1];
    ck_assert_str_eq(rc->channel, "feed");
    ck_assert_uint_eq(rc->poll_timeout_ms, 3600 * 1000);
    ck_assert_uint_eq(rc->sse_keepalive_ms, 1000);
    config_free(cfg);
}
END_TEST

START_TEST(test_route_publish)
{
    struct config *cfg =
        parse("routes:\n"
              "  - {path: \"/chat/{room}\", publish: {channel: "
              "\"chat.{room}\"}}\n"
              "  - {path: \"^/u/(?<user>[0-9]+)/(?<box>[a-z]+)$\", "
              "methods: [PUT, POST], publish: {channel: \"{box}@{user}\"}}\n");
    const struct route_conf *rc;

    ck_assert_msg(cfg != NULL, "%s", err);
    rc = &cfg->routes[0];
    ck_assert_int_eq(rc->publish, 1);
    ck_assert_int_eq(rc->subscribe, 0);
    ck_assert_str_eq(rc->channel, "chat.{room}");
    ck_assert_uint_eq(rc->methods, METHOD_BIT(METHOD_POST));
    rc = &cfg->routes[1];
    ck_assert_str_eq(rc->channel, "{box}@{user}");
    ck_assert_uint_eq(rc->methods,
                      METHOD_BIT(METHOD_PUT) | METHOD_BIT(METHOD_POST));
    config_free(cfg);
}
END_TEST

START_TEST(test_route_channel_errors)
{
    ASSERT_ERROR("routes:\n  - {path: \"/c/{room}\", subscribe: {channel: "
                 "\"chat.{user}\"}}\n",
                 "t.yaml:2:46: unknown parameter '{user}' in channel "
                 "'chat.{user}' (the path has room) for "
                 "routes[0].subscribe.channel");
    ASSERT_ERROR("routes:\n  - {path: \"^/c/(?<room>[a-z]+)$\", publish: "
                 "{channel: \"c.{room}.{id}\"}}\n",
                 "t.yaml:2:55: unknown parameter '{id}' in channel "
                 "'c.{room}.{id}' (the path has room) for "
                 "routes[0].publish.channel");
    ASSERT_ERROR("routes:\n  - {path: /c, subscribe: {channel: \"c.{room\"}}\n",
                 "t.yaml:2:37: unbalanced '{' at offset 2 of 'c.{room' for "
                 "routes[0].subscribe.channel");
    ASSERT_ERROR("routes:\n  - {path: \"/c/{room\", subscribe: {channel: "
                 "\"c.{room}\"}}\n",
                 "t.yaml:2:12: route '/c/{room': unclosed '{'");
}
END_TEST

START_TEST(test_route_pubsub_keys)
{
    ASSERT_ERROR("routes:\n  - {path: /c, subscribe: {channel: c, "
                 "poll_timeout: 2h}}\n",
                 "t.yaml:2:54: expected a duration from 1s to 1h for "
                 "routes[0].subscribe.poll_timeout, got '2h'");
    ASSERT_ERROR("routes:\n  - {path: /c, publish: {channel: c, "
                 "poll_timeout: 2s}}\n",
                 "t.yaml:2:38: unknown key 'poll_timeout' in "
                 "routes[0].publish");
    ASSERT_ERROR("routes:\n  - {path: /c, subscribe: {poll_timeout: 2s}}\n",
                 "t.yaml:2:27: missing 'channel' in routes[0].subscribe");
    ASSERT_ERROR("routes:\n  - {path: /c, subscribe: c}\n",
                 "t.yaml:2:27: expected a mapping for routes[0].subscribe, "
                 "got a string");
    ASSERT_ERROR("routes:\n  - {path: /c, subscribe: {channel: c}, deflate: "
                 "true}\n",
                 "t.yaml:2:41: 'deflate' in routes[0] applies to websocket "
                 "routes only");
}
END_TEST

START_TEST(test_route_one_kind)
{
    ASSERT_ERROR(MOD "routes:\n  - {path: /c, handler: hello:a, subscribe: "
                     "{channel: c}}\n",
                 "t.yaml:3:5: both 'handler' and 'subscribe' in routes[0]");
    ASSERT_ERROR(MOD "routes:\n  - {path: /c, publish: {channel: c}, "
                     "websocket: hello:a}\n",
                 "t.yaml:3:5: both 'websocket' and 'publish' in routes[0]");
    ASSERT_ERROR("routes:\n  - {path: /c, publish: {channel: c}, subscribe: "
                 "{channel: c}}\n",
                 "t.yaml:2:5: both 'subscribe' and 'publish' in routes[0]");
}
END_TEST

START_TEST(test_load_missing_file)
{
    struct config *cfg =
        config_load("/nonexistent/squall.yaml", err, sizeof(err));

    ck_assert_ptr_null(cfg);
    ck_assert_str_eq(err, "/nonexistent/squall.yaml: cannot read: No such "
                          "file or directory");
}
END_TEST

START_TEST(test_load_error_names_file)
{
    char path[128], expect[256];

    tmpdir_setup();
    snprintf(path, sizeof(path), "%s/bad.yaml", tmpdir);
    write_file(path, "server:\n  workers: 0\n");
    ck_assert_ptr_null(config_load(path, err, sizeof(err)));
    snprintf(expect, sizeof(expect),
             "%s:2:12: expected 'auto' or an integer from 1 to 256 for "
             "server.workers, got '0'",
             path);
    ck_assert_str_eq(err, expect);
    tmpdir_teardown();
}
END_TEST

START_TEST(test_load_directory)
{
    struct config *cfg = config_load("/tmp", err, sizeof(err));

    ck_assert_ptr_null(cfg);
    ck_assert_str_eq(err, "/tmp: cannot read: Is a directory");
}
END_TEST

/* security.jwt and auth: jwt ------------------------------------------- */

#define JWT_ROUTE                                                              \
    MOD "routes:\n  - {path: \"/u/{user}\", handler: hello:hello, auth: "      \
        "jwt}\n"

START_TEST(test_jwt_section)
{
    struct config *cfg =
        parse(JWT_ROUTE "security:\n  jwt: {algorithm: RS256, "
                        "key_file: /k.pem, issuer: me, audience: "
                        "api, leeway: 5s}\n");

    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_ptr_nonnull(cfg->security.jwt);
    ck_assert_int_eq(cfg->security.jwt->alg, JWTC_RS256);
    ck_assert_str_eq(cfg->security.jwt->key_file, "/k.pem");
    ck_assert_str_eq(cfg->security.jwt->issuer, "me");
    ck_assert_str_eq(cfg->security.jwt->audience, "api");
    ck_assert_uint_eq(cfg->security.jwt->leeway_ms, 5000);
    ck_assert_int_eq(cfg->routes[0].auth, AUTH_JWT);
    config_free(cfg);
    cfg = parse(JWT_ROUTE "security:\n  jwt: {algorithm: ES256, key_file: "
                          "/k.pem}\n");
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->security.jwt->alg, JWTC_ES256);
    ck_assert_uint_eq(cfg->security.jwt->leeway_ms, 60000);
    ck_assert_ptr_null(cfg->security.jwt->issuer);
    ck_assert_ptr_null(cfg->security.jwt->audience);
    config_free(cfg);
    cfg = parse("server:\n");
    ck_assert_ptr_null(cfg->security.jwt);
    config_free(cfg);
}
END_TEST

START_TEST(test_jwt_errors)
{
    ASSERT_ERROR(JWT_ROUTE,
                 "t.yaml:3:53: auth: jwt checks bearer tokens with the key "
                 "of security.jwt, which is not set");
    ASSERT_ERROR(MOD "routes:\n  - {path: /a, handler: hello:hello, auth: "
                     "jws}\n",
                 "t.yaml:3:44: unknown routes[0].auth 'jws' (expected login "
                 "or jwt)");
    ASSERT_ERROR(JWT_ROUTE "security:\n  jwt: {algorithm: HS512, key_file: "
                           "/k}\n",
                 "t.yaml:5:20: unknown security.jwt.algorithm 'HS512' "
                 "(expected HS256, RS256 or ES256)");
    ASSERT_ERROR(JWT_ROUTE "security:\n  jwt: {algorithm: none, key_file: "
                           "/k}\n",
                 "t.yaml:5:20: unknown security.jwt.algorithm 'none' "
                 "(expected HS256, RS256 or ES256)");
    ASSERT_ERROR(JWT_ROUTE "security:\n  jwt: {algorithm: HS256}\n",
                 "t.yaml:5:8: missing 'key_file' in security.jwt");
    ASSERT_ERROR(JWT_ROUTE "security:\n  jwt: {key_file: /k}\n",
                 "t.yaml:5:8: missing 'algorithm' in security.jwt");
    ASSERT_ERROR(JWT_ROUTE "security:\n  jwt: {algorithm: HS256, key_file: "
                           "/k, leeway: 2h}\n",
                 "t.yaml:5:49: expected a duration from 0 to 1h for "
                 "security.jwt.leeway, got '2h'");
    ASSERT_ERROR(JWT_ROUTE "security:\n  jwt: {algorithm: HS256, key_file: "
                           "/k, issuer: {a: b}}\n",
                 "t.yaml:5:49: expected a string for security.jwt.issuer, "
                 "got a mapping");
    ASSERT_ERROR(JWT_ROUTE "security:\n  jwt: HS256\n",
                 "t.yaml:5:8: expected a mapping for security.jwt, got a "
                 "string");
}
END_TEST

#define JWT_SEC "security:\n  jwt: {algorithm: HS256, key_file: /k}\n"

START_TEST(test_jwt_require)
{
    struct config *cfg = parse(
        MOD JWT_SEC "routes:\n  - {path: \"/u/{user}\", handler: hello:hello, "
                    "auth: jwt, require: {sub: \"{user}\", role: admin}}\n");

    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_uint_eq(cfg->routes[0].nrequire, 2);
    ck_assert_str_eq(cfg->routes[0].require[0].claim, "sub");
    ck_assert_str_eq(cfg->routes[0].require[0].tmpl, "{user}");
    ck_assert_str_eq(cfg->routes[0].require[1].claim, "role");
    ck_assert_str_eq(cfg->routes[0].require[1].tmpl, "admin");
    config_free(cfg);
    ASSERT_ERROR(MOD JWT_SEC "routes:\n  - {path: \"/u/{user}\", handler: "
                             "hello:hello, require: {sub: \"{user}\"}}\n",
                 "t.yaml:5:56: 'require' in routes[0] binds the claims of a "
                 "bearer token, so it needs auth: jwt");
    ASSERT_ERROR(MOD JWT_SEC "routes:\n  - {path: \"/u/{user}\", handler: "
                             "hello:hello, auth: jwt, require: {sub: "
                             "\"{name}\"}}\n",
                 "t.yaml:5:73: unknown parameter '{name}' in '{name}' (the "
                 "path has user) for routes[0].require.sub");
    ASSERT_ERROR(MOD JWT_SEC "routes:\n  - {path: /u, handler: hello:hello, "
                             "auth: jwt, require: {sub: \"u{\"}}\n",
                 "t.yaml:5:64: unbalanced '{' at offset 1 of 'u{' for "
                 "routes[0].require.sub");
    ASSERT_ERROR(MOD JWT_SEC "routes:\n  - {path: /u, handler: hello:hello, "
                             "auth: jwt, require: sub}\n",
                 "t.yaml:5:58: expected a mapping of claims to values for "
                 "routes[0].require, got a string");
    ASSERT_ERROR(MOD JWT_SEC "routes:\n  - {path: /u, handler: hello:hello, "
                             "auth: jwt, require: {}}\n",
                 "t.yaml:5:58: empty routes[0].require (leave it out to "
                 "require nothing)");
    ASSERT_ERROR(MOD JWT_SEC "routes:\n  - {path: /u, handler: hello:hello, "
                             "auth: jwt, require: {sub: [a]}}\n",
                 "t.yaml:5:64: expected a string for routes[0].require.sub, "
                 "got a list");
}
END_TEST

/* security_load: the key file, with the file:line:col of its name. */
static const char *load_jwt(const char *alg, const char *file)
{
    static char yaml[1024];
    struct config *cfg;
    int rc;

    snprintf(yaml, sizeof(yaml),
             "security:\n  jwt: {algorithm: %s, key_file: \"%s\"}\n", alg,
             file);
    cfg = parse(yaml);
    ck_assert_msg(cfg != NULL, "%s", err);
    rc = security_load(cfg, err, sizeof(err));
    if (rc == 0 && strcmp(alg, "HS256") == 0) {
        ck_assert_ptr_nonnull(cfg->security.jwt->key);
        ck_assert_uint_gt(cfg->security.jwt->key_len, 0);
    } else if (rc == 0) {
        ck_assert_ptr_nonnull(cfg->security.jwt->pkey); /* parsed once */
    }
    config_free(cfg);
    return rc == 0 ? NULL : err;
}

static void genkey(const char *name, const char *args)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd),
             "cd '%s' && openssl genpkey %s -out %s.key 2>/dev/null && "
             "openssl pkey -in %s.key -pubout -out %s.pub 2>/dev/null",
             tmpdir, args, name, name, name);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_jwt_key_files)
{
    char rsa[128], ec[128], rsapriv[128], small[128], secret[128], missing[128],
        want[512];

    tmpdir_setup();
    genkey("rsa", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048");
    genkey("small", "-algorithm RSA -pkeyopt rsa_keygen_bits:1024");
    genkey("ec", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
    snprintf(rsa, sizeof(rsa), "%s/rsa.pub", tmpdir);
    snprintf(rsapriv, sizeof(rsapriv), "%s/rsa.key", tmpdir);
    snprintf(small, sizeof(small), "%s/small.pub", tmpdir);
    snprintf(ec, sizeof(ec), "%s/ec.pub", tmpdir);
    snprintf(secret, sizeof(secret), "%s/secret", tmpdir);
    snprintf(missing, sizeof(missing), "%s/missing", tmpdir);
    write_file(secret, "0123456789abcdef0123456789abcdef\n");
    ck_assert_int_eq(chmod(secret, 0600), 0);

    ck_assert_ptr_null(load_jwt("RS256", rsa));
    ck_assert_ptr_null(load_jwt("ES256", ec));
    ck_assert_ptr_null(load_jwt("HS256", secret));

    snprintf(want, sizeof(want),
             "t.yaml:2:37: key file %s cannot be opened: No such file or "
             "directory",
             missing);
    ck_assert_str_eq(load_jwt("RS256", missing), want);
    snprintf(want, sizeof(want),
             "t.yaml:2:37: key file %s is not an RSA public key, which RS256 "
             "needs",
             ec);
    ck_assert_str_eq(load_jwt("RS256", ec), want);
    snprintf(want, sizeof(want),
             "t.yaml:2:37: key file %s is not an EC P-256 public key, which "
             "ES256 needs",
             rsa);
    ck_assert_str_eq(load_jwt("ES256", rsa), want);
    snprintf(want, sizeof(want),
             "t.yaml:2:37: key file %s is an RSA key of fewer than 2048 bits",
             small);
    ck_assert_str_eq(load_jwt("RS256", small), want);
    snprintf(want, sizeof(want),
             "t.yaml:2:37: key file %s is not a PEM public key (-----BEGIN "
             "PUBLIC KEY-----), which RS256 needs",
             rsapriv);
    ck_assert_str_eq(load_jwt("RS256", rsapriv), want);
    snprintf(want, sizeof(want),
             "t.yaml:2:37: key file %s is not a PEM public key (-----BEGIN "
             "PUBLIC KEY-----), which ES256 needs",
             secret);
    ck_assert_str_eq(load_jwt("ES256", secret), want);
    /* HS256: a secret, with the checks of cookie secrets */
    snprintf(want, sizeof(want),
             "t.yaml:2:37: secret file %s cannot be opened: No such file or "
             "directory",
             missing);
    ck_assert_str_eq(load_jwt("HS256", missing), want);
    ck_assert_int_eq(chmod(rsa, 0600), 0);
    snprintf(want, sizeof(want),
             "t.yaml:2:37: key file %s is a PEM key, but HS256 needs a "
             "shared secret (RS256 and ES256 take a public key)",
             rsa);
    ck_assert_str_eq(load_jwt("HS256", rsa), want);
    ck_assert_int_eq(chmod(secret, 0644), 0);
    snprintf(want, sizeof(want),
             "t.yaml:2:37: secret file %s is open to group or others (mode "
             "0644); make it 0600 or 0400",
             secret);
    ck_assert_str_eq(load_jwt("HS256", secret), want);
    tmpdir_teardown();
}
END_TEST

/* The shipped reference sets every key to its default: it must parse, and
 * its values must be the defaults of the code. */
START_TEST(test_reference_file)
{
    const char *srcdir = getenv("SQUALL_SRCDIR");
    struct config *ref, *def;
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/conf/squall.reference.yaml",
             srcdir != NULL ? srcdir : ".");
    ref = config_load(path, err, sizeof(err));
    ck_assert_msg(ref != NULL, "%s", err);
    def = parse("server:\n");
    ck_assert_ptr_nonnull(def);
    ck_assert_str_eq(ref->listen[0].text, def->listen[0].text);
    ck_assert_int_eq(ref->workers, def->workers);
    ck_assert_uint_eq(ref->shutdown_timeout_ms, def->shutdown_timeout_ms);
    ck_assert_uint_eq(ref->thread_pool, def->thread_pool);
    ck_assert_mem_eq(&ref->limits, &def->limits, sizeof(def->limits));
    ck_assert_mem_eq(&ref->ws, &def->ws, sizeof(def->ws));
    ck_assert_uint_eq(ref->pubsub.history, def->pubsub.history);
    ck_assert_uint_eq(ref->pubsub.history_ttl_ms, def->pubsub.history_ttl_ms);
    ck_assert_uint_eq(ref->pubsub.max_channels, def->pubsub.max_channels);
    ck_assert_uint_eq(ref->pubsub.max_message_size,
                      def->pubsub.max_message_size);
    ck_assert_uint_eq(ref->pubsub.max_history_memory,
                      def->pubsub.max_history_memory);
    ck_assert_uint_eq(ref->pubsub.hub_queue, def->pubsub.hub_queue);
    ck_assert_ptr_null(ref->pubsub.redis);
    ck_assert_int_eq(ref->log_level, def->log_level);
    ck_assert_ptr_null(ref->log_error);
    ck_assert_int_eq(ref->access_mode, def->access_mode);
    ck_assert_uint_gt(ref->nmodules, 0);
    ck_assert_uint_gt(ref->nroutes, 0);
    config_free(ref);
    config_free(def);
}
END_TEST

/* conftree ---------------------------------------------------------------- */

START_TEST(test_conf_null_safe)
{
    ck_assert_int_eq(sq_conf_type(NULL), 0);
    ck_assert_ptr_null(sq_conf_value(NULL));
    ck_assert_uint_eq(sq_conf_len(NULL), 0);
    ck_assert_ptr_null(sq_conf_at(NULL, 0, NULL));
    ck_assert_ptr_null(sq_conf_get(NULL, "a"));
    ck_assert_str_eq(sq_conf_str(NULL, "a", "d"), "d");
    ck_assert_int_eq(sq_conf_int(NULL, "a", 42), 42);
    ck_assert_int_eq(sq_conf_bool(NULL, "a", 1), 1);
    conftree_free(NULL);
}
END_TEST

START_TEST(test_conf_wrong_kind)
{
    sq_conf *map = conftree_new(SQ_CONF_MAP);
    sq_conf *list = conftree_new(SQ_CONF_LIST);
    const char *key = "x";

    ck_assert_int_eq(conftree_append(list, NULL, conftree_scalar("1")), 0);
    ck_assert_int_eq(conftree_append(map, "l", list), 0);
    ck_assert_ptr_null(sq_conf_value(map));
    ck_assert_str_eq(sq_conf_str(map, "l", "d"), "d");
    ck_assert_int_eq(sq_conf_int(map, "l", 3), 3);
    ck_assert_ptr_null(sq_conf_get(list, "a"));
    ck_assert_ptr_null(sq_conf_at(map, 1, &key));
    ck_assert_ptr_null(key);
    ck_assert_uint_eq(sq_conf_len(sq_conf_at(list, 0, NULL)), 0);
    conftree_free(map);
}
END_TEST

START_TEST(test_conf_int)
{
    sq_conf *map = conftree_new(SQ_CONF_MAP);

    conftree_append(map, "dec", conftree_scalar("42"));
    conftree_append(map, "neg", conftree_scalar("-7"));
    conftree_append(map, "oct", conftree_scalar("010"));
    conftree_append(map, "big", conftree_scalar("99999999999999999999"));
    conftree_append(map, "junk", conftree_scalar("12abc"));
    conftree_append(map, "space", conftree_scalar(" 1"));
    conftree_append(map, "empty", conftree_scalar(""));
    ck_assert_int_eq(sq_conf_int(map, "dec", 0), 42);
    ck_assert_int_eq(sq_conf_int(map, "neg", 0), -7);
    ck_assert_int_eq(sq_conf_int(map, "oct", 0), 10);
    ck_assert_int_eq(sq_conf_int(map, "big", -1), -1);
    ck_assert_int_eq(sq_conf_int(map, "junk", -1), -1);
    ck_assert_int_eq(sq_conf_int(map, "space", -1), -1);
    ck_assert_int_eq(sq_conf_int(map, "empty", -1), -1);
    ck_assert_int_eq(sq_conf_int(map, "absent", -1), -1);
    conftree_free(map);
}
END_TEST

START_TEST(test_conf_bool)
{
    static const char *const yes[] = {"true", "True", "yes", "on", "1"};
    static const char *const no[] = {"false", "FALSE", "no", "off", "0"};
    sq_conf *map = conftree_new(SQ_CONF_MAP);
    char key[16];
    size_t i;

    for (i = 0; i < ARRAY_LEN(yes); i++) {
        snprintf(key, sizeof(key), "y%zu", i);
        conftree_append(map, key, conftree_scalar(yes[i]));
        ck_assert_int_eq(sq_conf_bool(map, key, -1), 1);
        snprintf(key, sizeof(key), "n%zu", i);
        conftree_append(map, key, conftree_scalar(no[i]));
        ck_assert_int_eq(sq_conf_bool(map, key, -1), 0);
    }
    conftree_append(map, "maybe", conftree_scalar("maybe"));
    ck_assert_int_eq(sq_conf_bool(map, "maybe", -1), -1);
    conftree_free(map);
}
END_TEST

START_TEST(test_conftree_append_checks)
{
    sq_conf *map = conftree_new(SQ_CONF_MAP);
    sq_conf *list = conftree_new(SQ_CONF_LIST);
    sq_conf *scalar = conftree_scalar("s");

    /* the item is freed on failure: ASan/valgrind would see a leak */
    ck_assert_int_lt(conftree_append(map, NULL, conftree_scalar("a")), 0);
    ck_assert_int_lt(conftree_append(list, "k", conftree_scalar("a")), 0);
    ck_assert_int_lt(conftree_append(scalar, NULL, conftree_scalar("a")), 0);
    ck_assert_int_lt(conftree_append(map, "k", NULL), 0);
    ck_assert_ptr_null(conftree_new(0));
    ck_assert_uint_eq(sq_conf_len(map), 0);
    conftree_free(map);
    conftree_free(list);
    conftree_free(scalar);
}
END_TEST

START_TEST(test_conftree_many_items)
{
    sq_conf *map = conftree_new(SQ_CONF_MAP);
    char key[16], val[16];
    const char *k;
    int i;

    for (i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(val, sizeof(val), "%d", i);
        ck_assert_int_eq(conftree_append(map, key, conftree_scalar(val)), 0);
    }
    ck_assert_uint_eq(sq_conf_len(map), 1000);
    ck_assert_int_eq(sq_conf_int(map, "k777", -1), 777);
    ck_assert_str_eq(sq_conf_value(sq_conf_at(map, 999, &k)), "999");
    ck_assert_str_eq(k, "k999");
    conftree_free(map);
}
END_TEST

/* security ------------------------------------------------------------- */

START_TEST(test_security_defaults)
{
    struct config *cfg = parse(MOD);

    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_eq(cfg->security.nsecrets, 0);
    ck_assert_int_eq(cfg->security.key_version, SIGNED_KV_NONE);
    ck_assert_str_eq(cfg->security.user_cookie, "user");
    ck_assert_str_eq(cfg->security.login_url, "/login");
    ck_assert_int_eq(cfg->security.xsrf_cookies, 0);
    ck_assert_uint_eq(cfg->security.max_age_days, 31);
    config_free(cfg);
}
END_TEST

START_TEST(test_security_section)
{
    struct config *cfg = parse(
        MOD "security:\n  cookie_secret_file: /etc/squall/secret\n"
            "  user_cookie: who\n  login_url: /auth/in?x=1\n"
            "  xsrf_cookies: true\n  max_age_days: 7\n"
            "routes:\n  - {path: /a, handler: hello:a, auth: login}\n"
            "  - {path: /b, handler: hello:b, xsrf: false}\n"
            "  - {path: /c, handler: hello:c}\n");

    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_uint_eq(cfg->security.nsecrets, 1);
    ck_assert_str_eq(cfg->security.secrets[0].file, "/etc/squall/secret");
    ck_assert_int_eq(cfg->security.secrets[0].version, SIGNED_KV_NONE);
    ck_assert_int_eq(cfg->security.secrets[0].mark.line, 3);
    ck_assert_int_eq(cfg->security.secrets[0].mark.col, 23);
    ck_assert_str_eq(cfg->security.user_cookie, "who");
    ck_assert_str_eq(cfg->security.login_url, "/auth/in?x=1");
    ck_assert_int_eq(cfg->security.xsrf_cookies, 1);
    ck_assert_uint_eq(cfg->security.max_age_days, 7);
    ck_assert_int_eq(cfg->routes[0].auth, AUTH_LOGIN);
    ck_assert_int_eq(cfg->routes[0].xsrf, -1);
    ck_assert_int_eq(cfg->routes[1].auth, AUTH_NONE);
    ck_assert_int_eq(cfg->routes[1].xsrf, 0);
    ck_assert_int_eq(cfg->routes[2].xsrf, -1);
    config_free(cfg);
}
END_TEST

START_TEST(test_security_key_versions)
{
    struct config *cfg = parse(
        MOD "security:\n  cookie_secret_file: {1: /s/one, 2: /s/two}\n"
            "  key_version: 2\n");

    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_uint_eq(cfg->security.nsecrets, 2);
    ck_assert_int_eq(cfg->security.secrets[0].version, 1);
    ck_assert_str_eq(cfg->security.secrets[0].file, "/s/one");
    ck_assert_int_eq(cfg->security.secrets[1].version, 2);
    ck_assert_str_eq(cfg->security.secrets[1].file, "/s/two");
    ck_assert_int_eq(cfg->security.key_version, 2);
    config_free(cfg);
}
END_TEST

START_TEST(test_security_errors)
{
    ASSERT_ERROR(MOD "security:\n  cookie_secret_file: {1: /a, 2: /b}\n",
                 "t.yaml:3:3: security.key_version must say which key of "
                 "security.cookie_secret_file signs new values");
    ASSERT_ERROR(MOD "security:\n  cookie_secret_file: {1: /a}\n"
                     "  key_version: 3\n",
                 "t.yaml:4:16: security.key_version 3 is not a key of "
                 "security.cookie_secret_file");
    ASSERT_ERROR(MOD "security:\n  cookie_secret_file: /a\n"
                     "  key_version: 1\n",
                 "t.yaml:4:16: security.key_version needs a mapping of key "
                 "versions to files in security.cookie_secret_file");
    ASSERT_ERROR(MOD "security:\n  cookie_secret_file: {1: /a, 1: /b}\n"
                     "  key_version: 1\n",
                 "t.yaml:3:31: duplicate key '1' in "
                 "security.cookie_secret_file (first at line 3)");
    ASSERT_ERROR(MOD "security:\n  cookie_secret_file: {+1: /a}\n"
                     "  key_version: 1\n",
                 "t.yaml:3:24: expected an integer from 0 to 2147483647 for "
                 "a key version of security.cookie_secret_file, got '+1'");
    ASSERT_ERROR(MOD "security:\n  cookie_secret_file: {x: /a}\n",
                 "t.yaml:3:24: expected an integer from 0 to 2147483647 for "
                 "a key version of security.cookie_secret_file, got 'x'");
    ASSERT_ERROR(MOD "security:\n  cookie_secret_file: \"\"\n",
                 "t.yaml:3:23: empty value for "
                 "security.cookie_secret_file");
    ASSERT_ERROR(MOD "security:\n  user_cookie: \"a b\"\n",
                 "t.yaml:3:16: bad cookie name 'a b' for "
                 "security.user_cookie");
    ASSERT_ERROR(MOD "security:\n  login_url: \"/a b\"\n",
                 "t.yaml:3:14: bad URL '/a b' for security.login_url (a "
                 "path like /login, or an absolute URL, without spaces)");
    ASSERT_ERROR(MOD "security:\n  max_age_days: 0\n",
                 "t.yaml:3:17: expected an integer from 1 to 36500 for "
                 "security.max_age_days, got '0'");
    ASSERT_ERROR(MOD "security:\n  xsrf_cookies: yes\n",
                 "t.yaml:3:17: expected true or false for "
                 "security.xsrf_cookies, got 'yes'");
    ASSERT_ERROR(MOD "security:\n  cookie_secret_files: /a\n",
                 "t.yaml:3:3: unknown key 'cookie_secret_files' in security (did "
                 "you mean 'cookie_secret_file'?)");
}
END_TEST

START_TEST(test_route_auth_errors)
{
    ASSERT_ERROR(MOD "routes:\n  - {path: /a, handler: hello:a, auth: login}\n",
                 "t.yaml:3:40: auth: login reads the signed cookie "
                 "security.user_cookie, so it needs "
                 "security.cookie_secret_file");
    ASSERT_ERROR(MOD "security: {cookie_secret_file: /s}\n"
                     "routes:\n  - {path: /a, handler: hello:a, auth: basic}\n",
                 "t.yaml:4:40: unknown routes[0].auth 'basic' (expected "
                 "login or jwt)");
    ASSERT_ERROR(MOD "routes:\n  - {path: /a, handler: hello:a, xsrf: no}\n",
                 "t.yaml:3:40: expected true or false for routes[0].xsrf, "
                 "got 'no'");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc;

    tc = tcase_create("files");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_full_file);
    tcase_add_test(tc, test_flow_style);
    tcase_add_test(tc, test_marks);
    tcase_add_test(tc, test_empty_sections_keep_defaults);
    suite_add_tcase(s, tc);

    tc = tcase_create("yaml");
    tcase_add_test(tc, test_syntax_error);
    tcase_add_test(tc, test_syntax_error_with_context);
    tcase_add_test(tc, test_invalid_utf8);
    tcase_add_test(tc, test_empty_file);
    tcase_add_test(tc, test_comments_only);
    tcase_add_test(tc, test_null_document);
    tcase_add_test(tc, test_two_documents);
    tcase_add_test(tc, test_top_level_not_mapping);
    tcase_add_test(tc, test_anchor_rejected);
    tcase_add_test(tc, test_alias_rejected);
    tcase_add_test(tc, test_nul_rejected);
    tcase_add_test(tc, test_nesting_limit);
    tcase_add_test(tc, test_non_scalar_key);
    tcase_add_test(tc, test_message_is_one_line);
    tcase_add_test(tc, test_message_truncated);
    suite_add_tcase(s, tc);

    tc = tcase_create("keys");
    tcase_add_test(tc, test_unknown_key_suggests);
    tcase_add_test(tc, test_unknown_key_top_level);
    tcase_add_test(tc, test_unknown_key_nested);
    tcase_add_test(tc, test_unknown_key_no_suggestion);
    tcase_add_test(tc, test_unknown_key_case);
    tcase_add_test(tc, test_unknown_key_in_route);
    tcase_add_test(tc, test_duplicate_key);
    tcase_add_test(tc, test_duplicate_key_top_level);
    tcase_add_test(tc, test_duplicate_key_in_module_config);
    suite_add_tcase(s, tc);

    tc = tcase_create("types");
    tcase_add_test(tc, test_expected_mapping);
    tcase_add_test(tc, test_expected_list);
    tcase_add_test(tc, test_expected_string);
    tcase_add_test(tc, test_expected_string_not_empty);
    tcase_add_test(tc, test_expected_integer);
    tcase_add_test(tc, test_integer_out_of_range);
    tcase_add_test(tc, test_integer_garbage);
    suite_add_tcase(s, tc);

    tc = tcase_create("units");
    tcase_add_test(tc, test_parse_size_units);
    tcase_add_test(tc, test_parse_size_rejects);
    tcase_add_test(tc, test_parse_size_overflow);
    tcase_add_test(tc, test_parse_duration_units);
    tcase_add_test(tc, test_parse_duration_rejects);
    tcase_add_test(tc, test_parse_duration_overflow);
    tcase_add_test(tc, test_parse_size_erange);
    tcase_add_test(tc, test_parse_duration_erange);
    tcase_add_test(tc, test_bad_size);
    tcase_add_test(tc, test_size_zero_rejected);
    tcase_add_test(tc, test_bad_duration);
    tcase_add_test(tc, test_timeout_zero_rejected);
    tcase_add_test(tc, test_shutdown_timeout_zero);
    tcase_add_test(tc, test_size_expected_scalar);
    suite_add_tcase(s, tc);

    tc = tcase_create("ranges");
    tcase_add_test(tc, test_max_header_size_range);
    tcase_add_test(tc, test_max_header_size_all_ones);
    tcase_add_test(tc, test_max_uri_size_range);
    tcase_add_test(tc, test_max_uri_size_above_header_size);
    tcase_add_test(tc, test_max_uri_size_default_follows_header_size);
    tcase_add_test(tc, test_max_body_size_range);
    tcase_add_test(tc, test_header_timeout_range);
    tcase_add_test(tc, test_body_timeout_range);
    tcase_add_test(tc, test_idle_timeout_range);
    tcase_add_test(tc, test_max_connections_range);
    tcase_add_test(tc, test_body_min_rate_range);
    tcase_add_test(tc, test_body_min_rate_bad);
    tcase_add_test(tc, test_body_rate_grace_range);
    tcase_add_test(tc, test_shutdown_timeout_range);
    tcase_add_test(tc, test_size_overflow_message);
    tcase_add_test(tc, test_duration_overflow_message);
    tcase_add_test(tc, test_load_refuses_absurd_header_size);
    suite_add_tcase(s, tc);

    tc = tcase_create("server");
    tcase_add_test(tc, test_listen_string);
    tcase_add_test(tc, test_listen_list);
    tcase_add_test(tc, test_listen_bad_address);
    tcase_add_test(tc, test_listen_empty_list);
    tcase_add_test(tc, test_trusted_proxies_default_empty);
    tcase_add_test(tc, test_trusted_proxies_list);
    tcase_add_test(tc, test_trusted_proxies_errors);
    tcase_add_test(tc, test_listen_wrong_type);
    tcase_add_test(tc, test_listen_tls);
    tcase_add_test(tc, test_listen_tls_errors);
    tcase_add_test(tc, test_workers_auto);
    tcase_add_test(tc, test_workers_number);
    tcase_add_test(tc, test_workers_zero);
    tcase_add_test(tc, test_workers_too_many);
    tcase_add_test(tc, test_workers_garbage);
    tcase_add_test(tc, test_workers_wrong_type);
    suite_add_tcase(s, tc);

    tc = tcase_create("log");
    tcase_add_test(tc, test_log_levels);
    tcase_add_test(tc, test_log_bad_level);
    tcase_add_test(tc, test_log_error_stderr);
    tcase_add_test(tc, test_log_access_modes);
    tcase_add_test(tc, test_log_access_boolean_rejected);
    suite_add_tcase(s, tc);

    tc = tcase_create("modules");
    tcase_add_test(tc, test_module_missing_path);
    tcase_add_test(tc, test_module_empty);
    tcase_add_test(tc, test_module_bad_name);
    tcase_add_test(tc, test_module_not_mapping);
    tcase_add_test(tc, test_module_unknown_key);
    tcase_add_test(tc, test_module_path_kept_in_string);
    tcase_add_test(tc, test_module_path_resolved_in_file);
    tcase_add_test(tc, test_module_path_relative_config);
    tcase_add_test(tc, test_module_config_tree);
    tcase_add_test(tc, test_module_config_empty_is_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("routes");
    tcase_add_test(tc, test_route_missing_path);
    tcase_add_test(tc, test_route_missing_handler);
    tcase_add_test(tc, test_route_not_mapping);
    tcase_add_test(tc, test_route_bad_path);
    tcase_add_test(tc, test_route_bad_handler);
    tcase_add_test(tc, test_route_unknown_module);
    tcase_add_test(tc, test_route_no_modules);
    tcase_add_test(tc, test_route_module_declared_later);
    tcase_add_test(tc, test_route_methods);
    tcase_add_test(tc, test_route_unknown_method);
    tcase_add_test(tc, test_route_method_lowercase);
    tcase_add_test(tc, test_route_methods_empty);
    tcase_add_test(tc, test_route_methods_not_list);
    tcase_add_test(tc, test_route_websocket);
    tcase_add_test(tc, test_route_websocket_and_handler);
    tcase_add_test(tc, test_route_websocket_options_on_a_handler);
    tcase_add_test(tc, test_route_websocket_bad_deflate);
    tcase_add_test(tc, test_route_websocket_deflate_parameters);
    tcase_add_test(tc, test_route_websocket_deflate_bad_parameters);
    tcase_add_test(tc, test_websocket_section);
    tcase_add_test(tc, test_websocket_ranges);
    suite_add_tcase(s, tc);

    tc = tcase_create("pubsub");
    tcase_add_test(tc, test_pubsub_defaults);
    tcase_add_test(tc, test_pubsub_section);
    tcase_add_test(tc, test_pubsub_ranges);
    tcase_add_test(tc, test_pubsub_redis_urls);
    tcase_add_test(tc, test_route_subscribe);
    tcase_add_test(tc, test_route_publish);
    tcase_add_test(tc, test_route_channel_errors);
    tcase_add_test(tc, test_route_pubsub_keys);
    tcase_add_test(tc, test_route_one_kind);
    suite_add_tcase(s, tc);

    tc = tcase_create("security");
    tcase_add_test(tc, test_security_defaults);
    tcase_add_test(tc, test_security_section);
    tcase_add_test(tc, test_security_key_versions);
    tcase_add_test(tc, test_security_errors);
    tcase_add_test(tc, test_route_auth_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("jwt");
    tcase_add_test(tc, test_jwt_section);
    tcase_add_test(tc, test_jwt_errors);
    tcase_add_test(tc, test_jwt_require);
    tcase_add_test(tc, test_jwt_key_files);
    suite_add_tcase(s, tc);

    tc = tcase_create("load");
    tcase_add_test(tc, test_load_missing_file);
    tcase_add_test(tc, test_load_error_names_file);
    tcase_add_test(tc, test_load_directory);
    tcase_add_test(tc, test_reference_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("conftree");
    tcase_add_test(tc, test_conf_null_safe);
    tcase_add_test(tc, test_conf_wrong_kind);
    tcase_add_test(tc, test_conf_int);
    tcase_add_test(tc, test_conf_bool);
    tcase_add_test(tc, test_conftree_append_checks);
    tcase_add_test(tc, test_conftree_many_items);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
