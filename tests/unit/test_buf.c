/*
 * test_buf.c - src/buf.c: the flat byte buffers of connections and heads.
 *
 * BUF_BLOCK (4096), the size of a first block, and BUF_KEEP (64k), above
 * which an emptied buffer is freed, are private to buf.c; the tests name
 * their values.
 */
#include "internal.h"
#include "asan.h"
#if SQ_ASAN
#include "asan_report.h"
#endif

#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 4096

static int bprintf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int bprintf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* Fills b with n bytes 'a', 'b', ... 'z', 'a', ... */
static void add_pattern(struct buf *b, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        char c = (char)('a' + i % 26);
        ck_assert_int_eq(buf_add(b, &c, 1), 0);
    }
}

/* The pending bytes are the pattern from its byte `from` on. */
static void assert_pattern(const struct buf *b, size_t from, size_t n)
{
    size_t i;

    ck_assert_uint_eq(buf_pending(b), n);
    for (i = 0; i < n; i++)
        ck_assert_int_eq(b->p[b->off + i], 'a' + (from + i) % 26);
}

/* buf_reserve ------------------------------------------------------------ */

/* Issue 5 #7: sq_write(r, p, 0) failed on a fresh connection, because
 * reserving 0 bytes of a buffer without memory returned its NULL + 0. */
START_TEST(test_reserve_zero_on_empty)
{
    struct buf b = {0};

    ck_assert_ptr_nonnull(buf_reserve(&b, 0));
    ck_assert_uint_eq(b.len, 0);
    buf_free(&b);
}
END_TEST

START_TEST(test_add_zero_on_empty)
{
    struct buf b = {0};

    ck_assert_int_eq(buf_add(&b, "", 0), 0);
    ck_assert_uint_eq(buf_pending(&b), 0);
    buf_free(&b);
}
END_TEST

START_TEST(test_reserve_first_block)
{
    struct buf b = {0};
    char *p = buf_reserve(&b, 10);

    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_eq(p, b.p);
    ck_assert_uint_eq(b.cap, BLOCK);
    ck_assert_uint_eq(b.len, 0);
    buf_free(&b);
}
END_TEST

START_TEST(test_reserve_large_on_empty)
{
    struct buf b = {0};

    ck_assert_ptr_nonnull(buf_reserve(&b, 10000));
    ck_assert_uint_eq(b.cap, 4 * BLOCK); /* doubled until it fits */
    buf_free(&b);
}
END_TEST

START_TEST(test_reserve_within_room)
{
    struct buf b = {0};
    char *first;

    add_pattern(&b, 100);
    first = b.p;
    ck_assert_ptr_eq(buf_reserve(&b, BLOCK - 100), first + 100);
    ck_assert_uint_eq(b.cap, BLOCK);
    buf_free(&b);
}
END_TEST

/* Consumed bytes at the front make room before the buffer grows. */
START_TEST(test_reserve_moves_pending_to_front)
{
    struct buf b = {0};
    char *first;

    add_pattern(&b, 4000);
    first = b.p;
    buf_consume(&b, 3000);
    ck_assert_ptr_eq(buf_reserve(&b, 2000), first + 1000);
    ck_assert_ptr_eq(b.p, first);
    ck_assert_uint_eq(b.off, 0);
    ck_assert_uint_eq(b.cap, BLOCK);
    assert_pattern(&b, 3000, 1000);
    buf_free(&b);
}
END_TEST

START_TEST(test_reserve_grows)
{
    struct buf b = {0};

    add_pattern(&b, 4000);
    ck_assert_ptr_nonnull(buf_reserve(&b, 200));
    ck_assert_uint_eq(b.cap, 2 * BLOCK);
    assert_pattern(&b, 0, 4000);
    buf_free(&b);
}
END_TEST

START_TEST(test_reserve_grows_and_moves)
{
    struct buf b = {0};
    char *p;

    add_pattern(&b, BLOCK);
    buf_consume(&b, 10);
    p = buf_reserve(&b, 5000);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(b.off, 0);
    ck_assert_ptr_eq(p, b.p + BLOCK - 10);
    ck_assert_uint_ge(b.cap - b.len, 5000);
    assert_pattern(&b, 10, BLOCK - 10);
    buf_free(&b);
}
END_TEST

/* A size no buffer can have is NULL, and the buffer is left as it was. */
START_TEST(test_reserve_too_large)
{
    struct buf b = {0};

    ck_assert_ptr_null(buf_reserve(&b, SIZE_MAX));
    ck_assert_ptr_null(b.p);
    add_pattern(&b, 10);
    ck_assert_ptr_null(buf_reserve(&b, SIZE_MAX - 5));
    assert_pattern(&b, 0, 10);
    buf_free(&b);
}
END_TEST

/* buf_add, buf_consume, buf_clear ----------------------------------------- */

START_TEST(test_add_appends)
{
    struct buf b = {0};

    ck_assert_int_eq(buf_add(&b, "abc", 3), 0);
    ck_assert_int_eq(buf_add(&b, "def", 3), 0);
    ck_assert_uint_eq(buf_pending(&b), 6);
    ck_assert_mem_eq(b.p + b.off, "abcdef", 6);
    buf_free(&b);
}
END_TEST

START_TEST(test_consume_partial)
{
    struct buf b = {0};

    add_pattern(&b, 6);
    buf_consume(&b, 2);
    ck_assert_uint_eq(b.off, 2);
    assert_pattern(&b, 2, 4);
    buf_free(&b);
}
END_TEST

/* An emptied small buffer keeps its block for the next bytes. */
START_TEST(test_consume_all_keeps_block)
{
    struct buf b = {0};
    char *first;

    add_pattern(&b, 100);
    first = b.p;
    buf_consume(&b, 100);
    ck_assert_uint_eq(b.off, 0);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_ptr_eq(b.p, first);
    buf_free(&b);
}
END_TEST

/* One large response does not pin its memory to the connection. */
START_TEST(test_consume_all_frees_large_buffer)
{
    struct buf b = {0};

    add_pattern(&b, 70000);
    ck_assert_uint_gt(b.cap, 64 * 1024);
    buf_consume(&b, 69999);
    ck_assert_ptr_nonnull(b.p);
    buf_consume(&b, 1);
    ck_assert_ptr_null(b.p);
    ck_assert_uint_eq(b.cap, 0);
}
END_TEST

START_TEST(test_clear)
{
    struct buf b = {0};

    add_pattern(&b, 100);
    buf_consume(&b, 10);
    buf_clear(&b);
    ck_assert_uint_eq(b.off, 0);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(buf_add(&b, "x", 1), 0);
    ck_assert_mem_eq(b.p, "x", 1);
    buf_free(&b);
}
END_TEST

/* buf_release and the block cache ------------------------------------------ */

START_TEST(test_release_empties)
{
    struct buf b = {0};

    buf_release(&b); /* nothing to release: fine */
    add_pattern(&b, 100);
    buf_release(&b);
    ck_assert_ptr_null(b.p);
    ck_assert_uint_eq(b.off + b.len + b.cap, 0);
    add_pattern(&b, 10); /* and usable again */
    assert_pattern(&b, 0, 10);
    buf_free(&b);
}
END_TEST

#if !SQ_ASAN
/* The next buffer gets the released block back: no malloc per request. */
START_TEST(test_release_caches_block)
{
    struct buf a = {0}, b = {0};
    char *block;

    add_pattern(&a, 100);
    block = a.p;
    buf_release(&a);
    add_pattern(&b, 10);
    ck_assert_ptr_eq(b.p, block);
    buf_free(&b);
}
END_TEST

/* A grown buffer is not a block: it is freed, not cached. */
START_TEST(test_release_grown_not_cached)
{
    struct buf a = {0}, b = {0}, c = {0};
    char *block;

    add_pattern(&a, 10);
    block = a.p;
    add_pattern(&b, 5000); /* grown by realloc */
    buf_release(&a);       /* the cache's top is now a's block */
    buf_release(&b);
    add_pattern(&c, 10);
    ck_assert_ptr_eq(c.p, block);
    buf_free(&c);
}
END_TEST
#else
static void touch_released_block(void)
{
    struct buf b = {0};
    volatile char *p;

    add_pattern(&b, 10);
    p = b.p;
    buf_release(&b);
    p[0] = 'x';
}

/* Under ASan a cached block is poisoned: a use is reported. */
START_TEST(test_released_block_use_reported)
{
    char report[16384];

    asan_report(touch_released_block, report, sizeof(report));
    ck_assert_msg(strstr(report, "AddressSanitizer: use-after-poison"), "%s",
                  report);
}
END_TEST
#endif

/* buf_vprintf -------------------------------------------------------------- */

START_TEST(test_vprintf_on_empty)
{
    struct buf b = {0};

    ck_assert_int_eq(bprintf(&b, "x=%d", 5), 0);
    ck_assert_uint_eq(buf_pending(&b), 3);
    ck_assert_mem_eq(b.p, "x=5", 3);
    ck_assert_int_eq(bprintf(&b, "%s", ""), 0);
    ck_assert_uint_eq(buf_pending(&b), 3);
    buf_free(&b);
}
END_TEST

START_TEST(test_vprintf_appends)
{
    struct buf b = {0};

    ck_assert_int_eq(buf_add(&b, "ab", 2), 0);
    ck_assert_int_eq(bprintf(&b, "%c%s", 'c', "de"), 0);
    ck_assert_uint_eq(buf_pending(&b), 5);
    ck_assert_mem_eq(b.p, "abcde", 5);
    buf_free(&b);
}
END_TEST

/* Output longer than the room left is formatted again after growing. */
START_TEST(test_vprintf_grows)
{
    struct buf b = {0};
    char *big = malloc(10001);

    ck_assert_ptr_nonnull(big);
    memset(big, 'q', 10000);
    big[10000] = '\0';
    add_pattern(&b, 4000);
    buf_consume(&b, 1000);
    ck_assert_int_eq(bprintf(&b, "<%s>", big), 0);
    ck_assert_uint_eq(buf_pending(&b), 3000 + 10002);
    ck_assert_int_eq(b.p[b.off + 2999], 'a' + 3999 % 26);
    ck_assert_int_eq(b.p[b.off + 3000], '<');
    ck_assert_int_eq(b.p[b.off + 3001 + 9999], 'q');
    ck_assert_int_eq(b.p[b.off + 3000 + 10001], '>');
    free(big);
    buf_free(&b);
}
END_TEST

/* Exactly as long as the room: vsnprintf's NUL needs one byte more. */
START_TEST(test_vprintf_fills_room)
{
    struct buf b = {0};
    char s[97];

    add_pattern(&b, BLOCK - 96);
    memset(s, 'z', 96);
    s[96] = '\0';
    ck_assert_int_eq(bprintf(&b, "%s", s), 0);
    ck_assert_uint_eq(buf_pending(&b), BLOCK);
    ck_assert_int_eq(b.p[b.off + BLOCK - 1], 'z');
    ck_assert_int_eq(b.p[b.off + BLOCK - 97], 'a' + (BLOCK - 97) % 26);
    buf_free(&b);
}
END_TEST

static Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc;

    tc = tcase_create("reserve");
    tcase_add_test(tc, test_reserve_zero_on_empty);
    tcase_add_test(tc, test_add_zero_on_empty);
    tcase_add_test(tc, test_reserve_first_block);
    tcase_add_test(tc, test_reserve_large_on_empty);
    tcase_add_test(tc, test_reserve_within_room);
    tcase_add_test(tc, test_reserve_moves_pending_to_front);
    tcase_add_test(tc, test_reserve_grows);
    tcase_add_test(tc, test_reserve_grows_and_moves);
    tcase_add_test(tc, test_reserve_too_large);
    suite_add_tcase(s, tc);

    tc = tcase_create("add");
    tcase_add_test(tc, test_add_appends);
    tcase_add_test(tc, test_consume_partial);
    tcase_add_test(tc, test_consume_all_keeps_block);
    tcase_add_test(tc, test_consume_all_frees_large_buffer);
    tcase_add_test(tc, test_clear);
    suite_add_tcase(s, tc);

    tc = tcase_create("release");
    tcase_add_test(tc, test_release_empties);
#if !SQ_ASAN
    tcase_add_test(tc, test_release_caches_block);
    tcase_add_test(tc, test_release_grown_not_cached);
#else
    tcase_add_test(tc, test_released_block_use_reported);
#endif
    suite_add_tcase(s, tc);

    tc = tcase_create("printf");
    tcase_add_test(tc, test_vprintf_on_empty);
    tcase_add_test(tc, test_vprintf_appends);
    tcase_add_test(tc, test_vprintf_grows);
    tcase_add_test(tc, test_vprintf_fills_room);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(buf_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
