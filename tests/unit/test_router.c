/*
 * test_router.c - src/router.c: exact, template and regex routes, their
 * precedence, parameters, 404 and 405.
 */
#include "internal.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GET METHOD_BIT(METHOD_GET)
#define HEAD METHOD_BIT(METHOD_HEAD)
#define POST METHOD_BIT(METHOD_POST)
#define PUT METHOD_BIT(METHOD_PUT)
#define DELETE METHOD_BIT(METHOD_DELETE)
#define PATCH METHOD_BIT(METHOD_PATCH)

static struct router *rt;
static sq_pool *pool;
static struct route_match m;
static char err[512];
static char A, B, C; /* targets */

static void setup(void)
{
    rt = router_new();
    pool = pool_new(4096);
    ck_assert_ptr_nonnull(rt);
    ck_assert_ptr_nonnull(pool);
    memset(&m, 0, sizeof(m));
    err[0] = '\0';
}

static void teardown(void)
{
    router_free(rt);
    pool_free(pool);
}

static void add(const char *pattern, unsigned methods, void *target)
{
    int rc = router_add(rt, pattern, methods, target, err, sizeof(err));

    ck_assert_msg(rc == 0, "router_add(%s): %s", pattern, err);
}

static int add_err(const char *pattern)
{
    err[0] = '\0';
    return router_add(rt, pattern, 0, &A, err, sizeof(err));
}

static int match(const char *path, int method)
{
    return router_match(rt, path, strlen(path), method, pool, &m);
}

static const char *param(const char *name)
{
    size_t i;

    for (i = 0; i < m.nparams; i++)
        if (strcmp(m.params[i].name, name) == 0)
            return m.params[i].value;
    return NULL;
}

/* Methods ------------------------------------------------------------ */

START_TEST(test_method_names)
{
    ck_assert_int_eq(method_from_name("GET", 3), METHOD_GET);
    ck_assert_int_eq(method_from_name("DELETE", 6), METHOD_DELETE);
    ck_assert_int_eq(method_from_name("TRACE", 5), METHOD_TRACE);
    ck_assert_int_eq(method_from_name("get", 3), METHOD_OTHER);
    ck_assert_int_eq(method_from_name("GETX", 3), METHOD_GET);
    ck_assert_int_eq(method_from_name("GE", 2), METHOD_OTHER);
    ck_assert_int_eq(method_from_name("PROPFIND", 8), METHOD_OTHER);
    ck_assert_str_eq(method_name(METHOD_OPTIONS), "OPTIONS");
    ck_assert_str_eq(method_name(METHOD_OTHER), "OTHER");
    ck_assert_str_eq(method_name(-1), "OTHER");
}
END_TEST

START_TEST(test_methods_format)
{
    char buf[64], small[8];

    ck_assert_uint_eq(methods_format(POST | GET | HEAD, buf, sizeof(buf)), 15);
    ck_assert_str_eq(buf, "GET, HEAD, POST");
    methods_format(METHOD_BIT(METHOD_TRACE) | DELETE, buf, sizeof(buf));
    ck_assert_str_eq(buf, "DELETE, TRACE");
    methods_format(0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "");
    /* truncates like snprintf, returning the full length */
    ck_assert_uint_eq(methods_format(GET | HEAD | POST, small, sizeof(small)),
                      15);
    ck_assert_str_eq(small, "GET, HE");
}
END_TEST

/* Exact routes ------------------------------------------------------- */

START_TEST(test_exact)
{
    add("/", GET, &A);
    add("/a/b", GET, &B);
    ck_assert_int_eq(match("/", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &A);
    ck_assert_int_eq(match("/a/b", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &B);
    ck_assert_uint_eq(m.nparams, 0);
    ck_assert_int_eq(match("/a/b/", METHOD_GET), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("/a", METHOD_GET), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_exact_raw_bytes)
{
    add("/a%20b", GET, &A);
    ck_assert_int_eq(match("/a%20b", METHOD_GET), ROUTER_OK);
    ck_assert_int_eq(match("/a b", METHOD_GET), ROUTER_NOT_FOUND);
    /* the length given counts, not a NUL */
    ck_assert_int_eq(router_match(rt, "/a%20bcd", 6, METHOD_GET, pool, &m),
                     ROUTER_OK);
}
END_TEST

/* Templates ---------------------------------------------------------- */

START_TEST(test_template_params)
{
    add("/users/{id}/posts/{pid}", GET, &A);
    ck_assert_int_eq(match("/users/j%C3%B6rg/posts/7", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &A);
    ck_assert_uint_eq(m.nparams, 2);
    ck_assert_str_eq(m.params[0].name, "id");
    ck_assert_str_eq(m.params[0].value, "j\xc3\xb6rg");
    ck_assert_str_eq(m.params[1].name, "pid");
    ck_assert_str_eq(m.params[1].value, "7");
}
END_TEST

START_TEST(test_template_plus_not_space)
{
    add("/q/{s}", GET, &A);
    ck_assert_int_eq(match("/q/a+b%2Fc", METHOD_GET), ROUTER_OK);
    ck_assert_str_eq(param("s"), "a+b/c");
}
END_TEST

START_TEST(test_template_param_not_empty)
{
    add("/users/{id}/posts", GET, &A);
    ck_assert_int_eq(match("/users//posts", METHOD_GET), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("/users/", METHOD_GET), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_template_param_one_segment)
{
    add("/a/{x}", GET, &A);
    add("/a/{x}/", GET, &B);
    ck_assert_int_eq(match("/a/b/c", METHOD_GET), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("/a/b/", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &B);
    ck_assert_int_eq(match("/a/b", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &A);
}
END_TEST

START_TEST(test_template_bad_escape_no_match)
{
    add("/f/{name}", GET, &A);
    ck_assert_int_eq(match("/f/%zz", METHOD_GET), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("/f/ab%4", METHOD_GET), ROUTER_NOT_FOUND);
    /* a C string cannot carry %00 */
    ck_assert_int_eq(match("/f/a%00b", METHOD_GET), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_template_bad_escape_falls_back)
{
    /* the param branch fails to decode, so the regex answers */
    add("/f/{name}", GET, &A);
    add("^/f/.*$", GET, &B);
    ck_assert_int_eq(match("/f/%zz", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &B);
}
END_TEST

START_TEST(test_literal_before_param)
{
    add("/files/{version}/{name}", GET, &A);
    add("/files/latest/{name}", GET, &B);
    ck_assert_int_eq(match("/files/latest/x", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &B);
    ck_assert_uint_eq(m.nparams, 1);
    ck_assert_str_eq(param("name"), "x");
    ck_assert_int_eq(match("/files/v2/y", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &A);
    ck_assert_str_eq(param("version"), "v2");
    ck_assert_str_eq(param("name"), "y");
}
END_TEST

START_TEST(test_backtrack_literal_to_param)
{
    add("/users/{id}/edit", GET, &A);
    add("/users/new/{kind}/x", GET, &B);
    /* "new" leads to /users/new/{kind}/x, which needs one more segment */
    ck_assert_int_eq(match("/users/new/edit", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &A);
    ck_assert_uint_eq(m.nparams, 1);
    ck_assert_str_eq(m.params[0].name, "id");
    ck_assert_str_eq(m.params[0].value, "new");
    ck_assert_int_eq(match("/users/new/edit/x", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &B);
    ck_assert_str_eq(param("kind"), "edit");
}
END_TEST

START_TEST(test_backtrack_param_to_param)
{
    /* the first param branch fails two levels down; the values of its
     * params must not leak into the match that follows */
    add("/{a}/x/{b}/end", GET, &A);
    add("/{c}/{d}/y", GET, &B);
    ck_assert_int_eq(match("/1/x/y", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &B);
    ck_assert_uint_eq(m.nparams, 2);
    ck_assert_str_eq(param("c"), "1");
    ck_assert_str_eq(param("d"), "x");
    ck_assert_ptr_null(param("a"));
}
END_TEST

START_TEST(test_exact_before_template)
{
    add("/users/{id}", GET, &A);
    add("/users/me", GET, &B);
    ck_assert_int_eq(match("/users/me", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &B);
    ck_assert_uint_eq(m.nparams, 0);
    ck_assert_int_eq(match("/users/you", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &A);
}
END_TEST

START_TEST(test_template_before_regex)
{
    add("^/a/(?<y>.*)$", GET, &A);
    add("/a/{x}", GET, &B);
    ck_assert_int_eq(match("/a/1", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &B);
    ck_assert_str_eq(param("x"), "1");
    ck_assert_int_eq(match("/a/1/2", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &A);
    ck_assert_str_eq(param("y"), "1/2");
}
END_TEST

/* Regexes ------------------------------------------------------------ */

START_TEST(test_regex_named_groups)
{
    add("^/legacy/(?<year>[0-9]{4})/([a-z]+)/(?<slug>.+)$", GET, &A);
    ck_assert_int_eq(match("/legacy/2019/news/hello%20world", METHOD_GET),
                     ROUTER_OK);
    ck_assert_ptr_eq(m.target, &A);
    /* the unnamed group is not a parameter */
    ck_assert_uint_eq(m.nparams, 2);
    ck_assert_str_eq(param("year"), "2019");
    ck_assert_str_eq(param("slug"), "hello world");
    ck_assert_int_eq(match("/legacy/19/news/x", METHOD_GET), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_regex_unset_group_absent)
{
    add("^/p(?:/(?<page>[0-9]+))?$", GET, &A);
    ck_assert_int_eq(match("/p", METHOD_GET), ROUTER_OK);
    ck_assert_uint_eq(m.nparams, 0);
    ck_assert_int_eq(match("/p/3", METHOD_GET), ROUTER_OK);
    ck_assert_str_eq(param("page"), "3");
}
END_TEST

START_TEST(test_regex_whole_match)
{
    add("^/a", GET, &A);
    ck_assert_int_eq(match("/a", METHOD_GET), ROUTER_OK);
    ck_assert_int_eq(match("/ab", METHOD_GET), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("/a/", METHOD_GET), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("x/a", METHOD_GET), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_regex_whole_match_alternatives)
{
    /* anchoring covers each top-level alternative, unlike appending '$' */
    add("^/a|/ab", GET, &A);
    ck_assert_int_eq(match("/a", METHOD_GET), ROUTER_OK);
    ck_assert_int_eq(match("/ab", METHOD_GET), ROUTER_OK);
    ck_assert_int_eq(match("/abc", METHOD_GET), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("/a/ab", METHOD_GET), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_regex_dollar_not_before_newline)
{
    add("^/a$", GET, &A);
    ck_assert_int_eq(match("/a\n", METHOD_GET), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_regex_order_added)
{
    add("^/x/(?<a>.*)$", GET, &A);
    add("^/x/(?<b>[0-9]+)$", GET, &B);
    ck_assert_int_eq(match("/x/12", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &A);
    ck_assert_str_eq(param("a"), "12");
}
END_TEST

START_TEST(test_regex_bad_escape_tries_next)
{
    add("^/r/(?<v>.*)$", GET, &A);
    add("^/r/.*$", GET, &B);
    ck_assert_int_eq(match("/r/%g0", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &B);
    ck_assert_uint_eq(m.nparams, 0);
}
END_TEST

/* Methods, 404, 405 -------------------------------------------------- */

START_TEST(test_not_found)
{
    add("/a", GET, &A);
    add("/b/{x}", GET, &B);
    add("^/c$", GET, &C);
    ck_assert_int_eq(match("/nope", METHOD_GET), ROUTER_NOT_FOUND);
    ck_assert_ptr_null(m.target);
    ck_assert_uint_eq(m.allow, 0);
    ck_assert_int_eq(match("", METHOD_GET), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_not_found_empty_router)
{
    ck_assert_int_eq(match("/", METHOD_GET), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_bad_method_allow)
{
    add("/r", GET | POST, &A);
    ck_assert_int_eq(match("/r", METHOD_DELETE), ROUTER_BAD_METHOD);
    ck_assert_ptr_null(m.target);
    ck_assert_uint_eq(m.allow, GET | HEAD | POST);
}
END_TEST

START_TEST(test_bad_method_allow_union)
{
    /* every kind of route that matched the path adds its methods */
    add("/t/1", POST, &A);
    add("/t/{x}", PUT, &B);
    add("^/t/.*$", PATCH, &C);
    ck_assert_int_eq(match("/t/1", METHOD_DELETE), ROUTER_BAD_METHOD);
    ck_assert_uint_eq(m.allow, POST | PUT | PATCH);
    ck_assert_int_eq(match("/t/2", METHOD_DELETE), ROUTER_BAD_METHOD);
    ck_assert_uint_eq(m.allow, PUT | PATCH);
}
END_TEST

START_TEST(test_head_via_get)
{
    add("/r", GET, &A);
    add("/p", POST, &B);
    ck_assert_int_eq(match("/r", METHOD_HEAD), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &A);
    ck_assert_int_eq(match("/p", METHOD_HEAD), ROUTER_BAD_METHOD);
    ck_assert_uint_eq(m.allow, POST);
}
END_TEST

START_TEST(test_any_method)
{
    add("/any", 0, &A);
    add("/get", GET, &B);
    ck_assert_int_eq(match("/any", METHOD_OTHER), ROUTER_OK);
    ck_assert_int_eq(match("/any", METHOD_DELETE), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &A);
    /* an unknown method only reaches routes without `methods` */
    ck_assert_int_eq(match("/get", METHOD_OTHER), ROUTER_BAD_METHOD);
    ck_assert_uint_eq(m.allow, GET | HEAD);
}
END_TEST

START_TEST(test_methods_per_pattern)
{
    add("/u/{id}", GET, &A);
    add("/u/{uid}", DELETE, &B);
    add("/x", GET, &A);
    add("/x", PUT | DELETE, &B);
    ck_assert_int_eq(match("/u/7", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &A);
    ck_assert_str_eq(param("id"), "7");
    ck_assert_int_eq(match("/u/7", METHOD_DELETE), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &B);
    ck_assert_str_eq(param("uid"), "7");
    ck_assert_ptr_null(param("id"));
    ck_assert_int_eq(match("/u/7", METHOD_POST), ROUTER_BAD_METHOD);
    ck_assert_uint_eq(m.allow, GET | HEAD | DELETE);
    ck_assert_int_eq(match("/x", METHOD_PUT), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &B);
    ck_assert_int_eq(match("/x", METHOD_HEAD), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &A);
}
END_TEST

START_TEST(test_method_falls_through_precedence)
{
    add("/u/me", GET, &B);
    add("/u/{id}", DELETE, &A);
    ck_assert_int_eq(match("/u/me", METHOD_DELETE), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &A);
    ck_assert_str_eq(param("id"), "me");
    ck_assert_int_eq(match("/u/me", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &B);
}
END_TEST

START_TEST(test_first_added_wins)
{
    add("/d", GET, &A);
    add("/d", GET | POST, &B);
    ck_assert_int_eq(match("/d", METHOD_GET), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &A);
    ck_assert_int_eq(match("/d", METHOD_POST), ROUTER_OK);
    ck_assert_ptr_eq(m.target, &B);
}
END_TEST

/* Bad patterns ------------------------------------------------------- */

START_TEST(test_bad_regex)
{
    ck_assert_int_lt(add_err("^/a(b"), 0);
    ck_assert_msg(strstr(err, "^/a(b") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "missing closing parenthesis") != NULL, "%s",
                  err);
    ck_assert_msg(strstr(err, "at offset 5") != NULL, "%s", err);
    ck_assert_int_eq(match("/ab", METHOD_GET), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_bad_regex_too_many_groups)
{
    char pat[512] = "^";
    int i;

    for (i = 0; i <= ROUTE_MAX_PARAMS; i++)
        snprintf(pat + strlen(pat), sizeof(pat) - strlen(pat), "/(?<g%d>[a-z])",
                 i);
    ck_assert_int_lt(add_err(pat), 0);
    ck_assert_msg(strstr(err, "too many named groups") != NULL, "%s", err);
}
END_TEST

START_TEST(test_bad_template_unclosed)
{
    ck_assert_int_lt(add_err("/u/{id"), 0);
    ck_assert_msg(strstr(err, "unclosed '{'") != NULL, "%s", err);
    ck_assert_int_lt(add_err("/u/{id/x}"), 0);
    ck_assert_msg(strstr(err, "unclosed '{'") != NULL, "%s", err);
}
END_TEST

START_TEST(test_bad_template_empty_name)
{
    ck_assert_int_lt(add_err("/u/{}"), 0);
    ck_assert_msg(strstr(err, "empty parameter name") != NULL, "%s", err);
}
END_TEST

START_TEST(test_bad_template_bad_name)
{
    ck_assert_int_lt(add_err("/u/{a-b}"), 0);
    ck_assert_msg(strstr(err, "parameter name") != NULL, "%s", err);
}
END_TEST

START_TEST(test_bad_template_duplicate)
{
    ck_assert_int_lt(add_err("/u/{id}/v/{id}"), 0);
    ck_assert_msg(strstr(err, "duplicate parameter") != NULL, "%s", err);
}
END_TEST

START_TEST(test_bad_template_too_many)
{
    char pat[512] = "";
    int i;

    for (i = 0; i < ROUTE_MAX_PARAMS; i++)
        snprintf(pat + strlen(pat), sizeof(pat) - strlen(pat), "/{p%d}", i);
    add(pat, GET, &A);
    strcat(pat, "/{last}");
    ck_assert_int_lt(add_err(pat), 0);
    ck_assert_msg(strstr(err, "too many parameters") != NULL, "%s", err);
}
END_TEST

START_TEST(test_bad_template_partial_segment)
{
    ck_assert_int_lt(add_err("/u/x{id}"), 0);
    ck_assert_msg(strstr(err, "whole path segment") != NULL, "%s", err);
    ck_assert_int_lt(add_err("/u/{id}x"), 0);
    ck_assert_int_lt(add_err("/u/id}"), 0);
}
END_TEST

START_TEST(test_bad_template_leaves_no_route)
{
    ck_assert_int_lt(add_err("/a/{x}/{x}"), 0);
    ck_assert_int_eq(match("/a/1/2", METHOD_GET), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_bad_pattern_no_slash)
{
    ck_assert_int_lt(add_err("users"), 0);
    ck_assert_msg(strstr(err, "must start with '/'") != NULL, "%s", err);
    ck_assert_int_lt(add_err(""), 0);
}
END_TEST

/* Scale ---------------------------------------------------------------- */

#define NMANY 10000

START_TEST(test_many_routes)
{
    char path[64], want[16];
    int i;

    for (i = 0; i < NMANY; i++) {
        snprintf(path, sizeof(path), "/exact/%d/page", i);
        add(path, GET, (void *)(uintptr_t)(2 * i + 1));
        snprintf(path, sizeof(path), "/t%d/{id}/v", i);
        add(path, GET, (void *)(uintptr_t)(2 * i + 2));
    }
    for (i = 0; i < NMANY; i++) {
        snprintf(path, sizeof(path), "/exact/%d/page", i);
        ck_assert_int_eq(match(path, METHOD_GET), ROUTER_OK);
        ck_assert_ptr_eq(m.target, (void *)(uintptr_t)(2 * i + 1));
        snprintf(path, sizeof(path), "/t%d/x%d/v", i, i);
        ck_assert_int_eq(match(path, METHOD_GET), ROUTER_OK);
        ck_assert_ptr_eq(m.target, (void *)(uintptr_t)(2 * i + 2));
        snprintf(want, sizeof(want), "x%d", i);
        ck_assert_str_eq(param("id"), want);
    }
    ck_assert_int_eq(match("/exact/10000/page", METHOD_GET), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("/t10000/x/v", METHOD_GET), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_param_names)
{
    const char *names[ROUTE_MAX_PARAMS];
    char buf[128], e[256];

    ck_assert_int_eq(router_param_names("/a/b", buf, names, e, sizeof(e)), 0);
    ck_assert_int_eq(
        router_param_names("/u/{id}/x/{tab}", buf, names, e, sizeof(e)), 2);
    ck_assert_str_eq(names[0], "id");
    ck_assert_str_eq(names[1], "tab");
    ck_assert_int_eq(router_param_names("^/y/(?<year>[0-9]+)/(?<m>[0-9]+)$",
                                        buf, names, e, sizeof(e)),
                     2);
    ck_assert_str_eq(names[0], "m"); /* PCRE2's table is sorted by name */
    ck_assert_str_eq(names[1], "year");
    ck_assert_int_eq(router_param_names("/u/{id", buf, names, e, sizeof(e)),
                     -1);
    ck_assert_str_eq(e, "route '/u/{id': unclosed '{'");
    ck_assert_int_eq(router_param_names("^/(", buf, names, e, sizeof(e)), -1);
    ck_assert_int_eq(router_param_names("x", buf, names, e, sizeof(e)), -1);
}
END_TEST

static Suite *router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("router");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_param_names);
    tcase_add_test(tc, test_method_names);
    tcase_add_test(tc, test_methods_format);
    tcase_add_test(tc, test_exact);
    tcase_add_test(tc, test_exact_raw_bytes);
    tcase_add_test(tc, test_template_params);
    tcase_add_test(tc, test_template_plus_not_space);
    tcase_add_test(tc, test_template_param_not_empty);
    tcase_add_test(tc, test_template_param_one_segment);
    tcase_add_test(tc, test_template_bad_escape_no_match);
    tcase_add_test(tc, test_template_bad_escape_falls_back);
    tcase_add_test(tc, test_literal_before_param);
    tcase_add_test(tc, test_backtrack_literal_to_param);
    tcase_add_test(tc, test_backtrack_param_to_param);
    tcase_add_test(tc, test_exact_before_template);
    tcase_add_test(tc, test_template_before_regex);
    tcase_add_test(tc, test_regex_named_groups);
    tcase_add_test(tc, test_regex_unset_group_absent);
    tcase_add_test(tc, test_regex_whole_match);
    tcase_add_test(tc, test_regex_whole_match_alternatives);
    tcase_add_test(tc, test_regex_dollar_not_before_newline);
    tcase_add_test(tc, test_regex_order_added);
    tcase_add_test(tc, test_regex_bad_escape_tries_next);
    tcase_add_test(tc, test_not_found);
    tcase_add_test(tc, test_not_found_empty_router);
    tcase_add_test(tc, test_bad_method_allow);
    tcase_add_test(tc, test_bad_method_allow_union);
    tcase_add_test(tc, test_head_via_get);
    tcase_add_test(tc, test_any_method);
    tcase_add_test(tc, test_methods_per_pattern);
    tcase_add_test(tc, test_method_falls_through_precedence);
    tcase_add_test(tc, test_first_added_wins);
    tcase_add_test(tc, test_bad_regex);
    tcase_add_test(tc, test_bad_regex_too_many_groups);
    tcase_add_test(tc, test_bad_template_unclosed);
    tcase_add_test(tc, test_bad_template_empty_name);
    tcase_add_test(tc, test_bad_template_bad_name);
    tcase_add_test(tc, test_bad_template_duplicate);
    tcase_add_test(tc, test_bad_template_too_many);
    tcase_add_test(tc, test_bad_template_partial_segment);
    tcase_add_test(tc, test_bad_template_leaves_no_route);
    tcase_add_test(tc, test_bad_pattern_no_slash);
    tcase_add_test(tc, test_many_routes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(router_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
