/*
 * test_form.c - src/form.c: the boundary of a multipart/form-data
 * Content-Type and the parts of a body, including every way a body can be
 * malformed.
 */
#include "internal.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXP 8

struct seen {
    int n;
    char name[MAXP][64];
    char file[MAXP][64];
    char ctype[MAXP][64];
    char data[MAXP][256];
    size_t dlen[MAXP];
    int has_file[MAXP];
    int stop_at; /* nonzero: return 7 at this part number (1-based) */
};

static int collect(void *arg, const struct form_part *p)
{
    struct seen *s = arg;
    int i = s->n++;

    ck_assert_int_lt(i, MAXP);
    ck_assert_uint_eq(strlen(p->name), p->nlen);
    snprintf(s->name[i], sizeof(s->name[i]), "%s", p->name);
    s->has_file[i] = p->filename != NULL;
    if (p->filename != NULL)
        snprintf(s->file[i], sizeof(s->file[i]), "%.*s", (int)p->flen,
                 p->filename);
    if (p->ctype != NULL)
        snprintf(s->ctype[i], sizeof(s->ctype[i]), "%.*s", (int)p->clen,
                 p->ctype);
    ck_assert_uint_lt(p->dlen, sizeof(s->data[i]));
    memcpy(s->data[i], p->data, p->dlen);
    s->dlen[i] = p->dlen;
    return s->stop_at == s->n ? 7 : 0;
}

static char err[256];

static int parse(const char *boundary, const char *body, size_t len,
                 struct seen *s)
{
    memset(s, 0, sizeof(*s));
    err[0] = '\0';
    return form_multipart_each(boundary, strlen(boundary), body, len, collect,
                               s, err, sizeof(err));
}

#define PARSE(b, lit, s) parse(b, lit, sizeof(lit) - 1, s)

START_TEST(test_boundary)
{
    const char *b;
    size_t n;

    ck_assert_int_eq(form_boundary("multipart/form-data; boundary=abc", &b, &n),
                     0);
    ck_assert_int_eq((int)n, 3);
    ck_assert_int_eq(strncmp(b, "abc", 3), 0);
    ck_assert_int_eq(
        form_boundary("Multipart/Form-Data;charset=utf-8; boundary=\"a b;c\"",
                      &b, &n),
        0);
    ck_assert_int_eq(strncmp(b, "a b;c", n), 0);
    ck_assert_int_eq((int)n, 5);
    ck_assert_int_eq(form_boundary("multipart/form-data; boundary=x; a=b", &b,
                                   &n),
                     0);
    ck_assert_int_eq((int)n, 1);
    ck_assert_int_eq(form_boundary("multipart/mixed; boundary=x", &b, &n), -1);
    ck_assert_int_eq(form_boundary("multipart/form-data", &b, &n), -1);
    ck_assert_int_eq(form_boundary("multipart/form-data; boundary=", &b, &n),
                     -1);
    ck_assert_int_eq(form_boundary("multipart/form-data; boundary=\"abc", &b,
                                   &n),
                     -1);
    /* RFC 2046: at most 70 characters */
    char ct[128];
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%071d", 0);
    ck_assert_int_eq(form_boundary(ct, &b, &n), -1);
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%070d", 0);
    ck_assert_int_eq(form_boundary(ct, &b, &n), 0);
}
END_TEST

START_TEST(test_fields_and_files)
{
    struct seen s;
    static const char body[] =
        "preamble is ignored\r\n"
        "--B\r\n"
        "Content-Disposition: form-data; name=\"a\"\r\n\r\n"
        "1\r\n"
        "--B\r\n"
        "Content-Disposition: form-data; name=\"f\"; filename=\"x \\\"y\\\".txt\"\r\n"
        "Content-Type: text/plain \r\n\r\n"
        "line\r\n--Bnot-a-delimiter\r\n"
        "--B  \t\r\n" /* transport padding after a delimiter */
        "CONTENT-DISPOSITION: FORM-DATA; NAME=tok\r\n\r\n"
        "\r\n"
        "--B--\r\n"
        "epilogue is ignored";

    ck_assert_int_eq(PARSE("B", body, &s), 0);
    ck_assert_int_eq(s.n, 3);
    ck_assert_str_eq(s.name[0], "a");
    ck_assert_int_eq(s.has_file[0], 0);
    ck_assert_uint_eq(s.dlen[0], 1);
    ck_assert_int_eq(memcmp(s.data[0], "1", 1), 0);
    ck_assert_str_eq(s.name[1], "f");
    ck_assert_int_eq(s.has_file[1], 1);
    ck_assert_str_eq(s.file[1], "x \"y\".txt");
    ck_assert_str_eq(s.ctype[1], "text/plain");
    ck_assert_uint_eq(s.dlen[1], strlen("line\r\n--Bnot-a-delimiter"));
    ck_assert_str_eq(s.name[2], "tok");
    ck_assert_uint_eq(s.dlen[2], 0);
}
END_TEST

START_TEST(test_binary_data_and_empty_filename)
{
    struct seen s;
    static const char body[] =
        "--zz\r\n"
        "Content-Disposition: form-data; name=\"bin\"; filename=\"\"\r\n\r\n"
        "\0\r\n\r\0\n\r\n"
        "--zz--";

    ck_assert_int_eq(PARSE("zz", body, &s), 0);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.has_file[0], 1);
    ck_assert_str_eq(s.file[0], "");
    ck_assert_uint_eq(s.dlen[0], 6);
    ck_assert_int_eq(memcmp(s.data[0], "\0\r\n\r\0\n", 6), 0);
}
END_TEST

START_TEST(test_callback_stops_the_walk)
{
    struct seen s;
    static const char body[] =
        "--B\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
        "--B\r\nContent-Disposition: form-data; name=b\r\n\r\n2\r\n--B--";

    memset(&s, 0, sizeof(s));
    s.stop_at = 1;
    ck_assert_int_eq(form_multipart_each("B", 1, body, sizeof(body) - 1,
                                         collect, &s, err, sizeof(err)),
                     7);
    ck_assert_int_eq(s.n, 1);
}
END_TEST

/* Each malformed body: the parts before the error are delivered, then -1
 * and the message. */
struct bad {
    const char *body;
    int parts;
    const char *msg;
};

START_TEST(test_malformed)
{
    static const struct bad cases[] = {
        {"", 0, "no boundary in the body"},
        {"no delimiter at all", 0, "no boundary in the body"},
        {"--B\r\nContent-Disposition: form-data; name=a\r\n\r\n1", 0,
         "no final boundary (the body is cut short)"},
        {"--B\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--B", 0,
         "no final boundary (the body is cut short)"},
        {"--B\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--Bx", 0,
         "no final boundary (the body is cut short)"},
        {"--B\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--B\r\n",
         1, "no final boundary (the body is cut short)"},
        {"--B\r\nContent-Disposition: form-data; name=a\r\n1\r\n--B--", 0,
         "a part without a blank line after its headers"},
        {"--B\r\nContent-Disposition: attachment; name=a\r\n\r\n1\r\n--B--",
         0, "a part whose Content-Disposition is not form-data with a name"},
        {"--B\r\nContent-Disposition: form-data\r\n\r\n1\r\n--B--", 0,
         "a part without a name"},
        {"--B\r\nContent-Disposition: form-data; name=\"\"\r\n\r\n1\r\n--B--",
         0, "a part without a name"},
        {"--B\r\nContent-Type: text/plain\r\n\r\n1\r\n--B--", 0,
         "a part without a name"},
        {"--B\r\n\r\n1\r\n--B--", 0, "a part without a name"},
        {"--B\r\nContent-Disposition: form-data; name=\"a\r\n\r\n1\r\n--B--",
         0, "a part whose Content-Disposition is not form-data with a name"},
        {"--B\r\nContent-Disposition: form-data; name=a; name\r\n\r\n1\r\n"
         "--B--",
         0, "a part whose Content-Disposition is not form-data with a name"},
        {"--B\r\nnocolon\r\n\r\n1\r\n--B--", 0,
         "a part header without a name"},
        {"--B\r\nContent-Disposition: form-data; name=a\r\n"
         "Content-Disposition: form-data; name=b\r\n\r\n1\r\n--B--",
         0, "a part whose Content-Disposition is not form-data with a name"},
    };
    struct seen s;

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        ck_assert_msg(parse("B", cases[i].body, strlen(cases[i].body), &s) ==
                          -1,
                      "case %zu accepted", i);
        ck_assert_msg(s.n == cases[i].parts, "case %zu: %d parts", i, s.n);
        ck_assert_msg(strcmp(err, cases[i].msg) == 0, "case %zu: %s", i, err);
    }
}
END_TEST

START_TEST(test_long_headers_refused)
{
    size_t n = 9000;
    char *body = malloc(n + 64), *p = body;
    struct seen s;

    p += sprintf(p, "--B\r\nX-Long: ");
    memset(p, 'a', n);
    p += n;
    p += sprintf(p, "\r\n\r\n1\r\n--B--");
    ck_assert_int_eq(parse("B", body, (size_t)(p - body), &s), -1);
    ck_assert_str_eq(err, "a part's headers are too long");
    free(body);
}
END_TEST

START_TEST(test_long_name_refused)
{
    char body[2048], *p = body;
    struct seen s;

    p += sprintf(p, "--B\r\nContent-Disposition: form-data; name=\"");
    memset(p, 'n', 1100);
    p += 1100;
    p += sprintf(p, "\"\r\n\r\n1\r\n--B--");
    ck_assert_int_eq(parse("B", body, (size_t)(p - body), &s), -1);
    ck_assert_str_eq(
        err, "a part whose Content-Disposition is not form-data with a name");
}
END_TEST

static Suite *form_suite(void)
{
    Suite *s = suite_create("form");
    TCase *tc = tcase_create("multipart");

    tcase_add_test(tc, test_boundary);
    tcase_add_test(tc, test_fields_and_files);
    tcase_add_test(tc, test_binary_data_and_empty_filename);
    tcase_add_test(tc, test_callback_stops_the_walk);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_long_headers_refused);
    tcase_add_test(tc, test_long_name_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(form_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
