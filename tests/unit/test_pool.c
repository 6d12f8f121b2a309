/*
 * test_pool.c - src/pool.c: memory pools and their per-process cache.
 */
#include "internal.h"
#include "asan.h"
#include "cache.h"
#if SQ_ASAN
#include "asan_report.h"
#endif

#include <check.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int aligned(const void *p)
{
    return (uintptr_t)p % alignof(max_align_t) == 0;
}

/* Allocations ------------------------------------------------------------- */

START_TEST(test_alloc_aligned)
{
    sq_pool *p = pool_new(1024);
    size_t n;

    for (n = 1; n < 300; n += 7) {
        void *m = sq_palloc(p, n);
        ck_assert_ptr_nonnull(m);
        ck_assert_msg(aligned(m), "%zu bytes at %p", n, m);
    }
    pool_free(p);
}
END_TEST

/* Allocations that fill block after block never overlap. */
START_TEST(test_alloc_spans_blocks)
{
    sq_pool *p = pool_new(1024);
    unsigned char *m[100];
    size_t i, j;

    for (i = 0; i < ARRAY_LEN(m); i++) {
        m[i] = sq_palloc(p, 100);
        ck_assert_ptr_nonnull(m[i]);
        ck_assert(aligned(m[i]));
        memset(m[i], (int)i, 100);
    }
    for (i = 0; i < ARRAY_LEN(m); i++)
        for (j = 0; j < 100; j++)
            ck_assert_uint_eq(m[i][j], i);
    pool_free(p);
}
END_TEST

/* What does not fit in the block and is more than a quarter of a block
 * gets its own malloc, and the block goes on serving small allocations
 * where it was. */
START_TEST(test_large_alloc)
{
    sq_pool *p = pool_new(1024);
    char *a = sq_palloc(p, 16), *big, *b;

    sq_palloc(p, 900);
    big = sq_palloc(p, 300);
    ck_assert_ptr_nonnull(big);
    ck_assert(aligned(big));
    memset(big, 'x', 300);
    b = sq_palloc(p, 16);
    ck_assert_ptr_eq(b, a + 16 + 912); /* after the 900, aligned */
    big = sq_palloc(p, 1 << 20);
    ck_assert_ptr_nonnull(big);
    ck_assert(aligned(big));
    memset(big, 'y', 1 << 20);
    pool_free(p);
}
END_TEST

START_TEST(test_alloc_too_large)
{
    sq_pool *p = pool_new(1024);

    ck_assert_ptr_null(sq_palloc(p, SIZE_MAX));
    ck_assert_ptr_null(sq_palloc(p, SIZE_MAX - 8));
    ck_assert_ptr_nonnull(sq_palloc(p, 8)); /* still usable */
    pool_free(p);
}
END_TEST

START_TEST(test_pcalloc_zeroes)
{
    sq_pool *p = pool_new(1024);
    unsigned char *m = sq_palloc(p, 200);
    size_t i;

    memset(m, 0xff, 200);
    pool_reset(p);
    m = sq_pcalloc(p, 200); /* the same memory, dirty */
    ck_assert_ptr_nonnull(m);
    for (i = 0; i < 200; i++)
        ck_assert_uint_eq(m[i], 0);
    pool_free(p);
}
END_TEST

START_TEST(test_pstrndup)
{
    sq_pool *p = pool_new(1024);
    char *s = sq_pstrndup(p, "hello, world", 5);

    ck_assert_str_eq(s, "hello");
    s = sq_pstrndup(p, "", 0);
    ck_assert_str_eq(s, "");
    s = sq_pstrndup(p, "a\0b", 3); /* n bytes, whatever they are */
    ck_assert_mem_eq(s, "a\0b", 4);
    ck_assert_str_eq(sq_pstrdup(p, "squall"), "squall");
    pool_free(p);
}
END_TEST

/* A length with no room for the NUL is refused, not wrapped to 0 bytes
 * and copied past. */
START_TEST(test_pstrndup_too_large)
{
    sq_pool *p = pool_new(1024);

    ck_assert_ptr_null(sq_pstrndup(p, "x", SIZE_MAX));
    pool_free(p);
}
END_TEST

START_TEST(test_psprintf)
{
    sq_pool *p = pool_new(1024);
    char *s = sq_psprintf(p, "%s=%d", "n", 42), *big;

    ck_assert_str_eq(s, "n=42");
    ck_assert_str_eq(sq_psprintf(p, "%s", ""), "");
    big = sq_psprintf(p, "%05000d", 7); /* larger than a block */
    ck_assert_uint_eq(strlen(big), 5000);
    ck_assert_int_eq(big[4999], '7');
    ck_assert_int_eq(big[0], '0');
    pool_free(p);
}
END_TEST

/* Cleanups ---------------------------------------------------------------- */

static char order[16];

static void record(void *arg)
{
    strncat(order, arg, sizeof(order) - strlen(order) - 1);
}

/* Newest first: what was set up last may use what was set up before. */
START_TEST(test_cleanups_newest_first)
{
    sq_pool *p = pool_new(1024);

    order[0] = '\0';
    ck_assert_int_eq(sq_pool_cleanup(p, record, "1"), 0);
    ck_assert_int_eq(sq_pool_cleanup(p, record, "2"), 0);
    ck_assert_int_eq(sq_pool_cleanup(p, record, "3"), 0);
    pool_free(p);
    ck_assert_str_eq(order, "321");
}
END_TEST

/* A reset runs the cleanups once; they do not run again at the end. */
START_TEST(test_cleanups_run_on_reset)
{
    sq_pool *p = pool_new(1024);

    order[0] = '\0';
    ck_assert_int_eq(sq_pool_cleanup(p, record, "a"), 0);
    pool_reset(p);
    ck_assert_str_eq(order, "a");
    ck_assert_int_eq(sq_pool_cleanup(p, record, "b"), 0);
    pool_free(p);
    ck_assert_str_eq(order, "ab");
}
END_TEST

/* Cleanups run before any memory of the pool is freed, so they may use
 * it: here arguments in the first block, a later block and a large
 * allocation. */
START_TEST(test_cleanups_see_pool_memory)
{
    sq_pool *p = pool_new(1024);
    char *first = sq_pstrdup(p, "f"), *big, *later = NULL;
    int i;

    big = sq_palloc(p, 2000);
    strcpy(big, "g");
    for (i = 0; i < 20; i++)
        later = sq_pstrdup(p, "l");
    order[0] = '\0';
    ck_assert_int_eq(sq_pool_cleanup(p, record, first), 0);
    ck_assert_int_eq(sq_pool_cleanup(p, record, big), 0);
    ck_assert_int_eq(sq_pool_cleanup(p, record, later), 0);
    for (i = 0; i < 100; i++)
        sq_palloc(p, 100); /* more blocks after the cleanups' own */
    pool_free(p);
    ck_assert_str_eq(order, "lgf");
}
END_TEST

/* Reset and the cache ----------------------------------------------------- */

/* A reset pool allocates from the start of its first block again. */
START_TEST(test_reset_reuses_first_block)
{
    sq_pool *p = pool_new(1024);
    char *a = sq_palloc(p, 16);
    int i;

    for (i = 0; i < 50; i++)
        sq_palloc(p, 100);
    sq_palloc(p, 5000);
    pool_reset(p);
    ck_assert_ptr_eq(sq_palloc(p, 16), a);
    pool_free(p);
}
END_TEST

START_TEST(test_recycle_null)
{
    pool_recycle(NULL);
    pool_free(NULL);
}
END_TEST

/* Recycling runs the cleanups whether the pool is cached or freed. */
START_TEST(test_recycle_runs_cleanups)
{
    sq_pool *p = pool_get();

    order[0] = '\0';
    ck_assert_int_eq(sq_pool_cleanup(p, record, "r"), 0);
    pool_recycle(p);
    ck_assert_str_eq(order, "r");
}
END_TEST

#if !SQ_ASAN
/* The next request gets the pool back, reset: no malloc per request. */
START_TEST(test_recycle_caches_pool)
{
    sq_pool *p = pool_get();
    char *a = sq_palloc(p, 16);

    sq_palloc(p, 3000);
    pool_recycle(p);
    ck_assert_ptr_eq(pool_get(), p);
    ck_assert_ptr_eq(sq_palloc(p, 16), a);
    pool_recycle(p);
}
END_TEST

/* A pool of another size is freed, not handed out as a request pool. */
START_TEST(test_recycle_other_size_not_cached)
{
    sq_pool *req = pool_get(), *other = pool_new(1024);

    pool_recycle(req);   /* the cache's top is now req */
    pool_recycle(other); /* freed */
    ck_assert_ptr_eq(pool_get(), req);
    pool_recycle(req);
}
END_TEST
#else
/* Under ASan a recycled pool is poisoned, and any use of its memory is
 * reported, even after the next request got a pool and allocated: the
 * case a LIFO cache would hide. */

static void touch_recycled_pool(void)
{
    sq_pool *p = pool_get();
    volatile char *m = sq_palloc(p, 16);

    pool_recycle(p);
    m[0] = 'x';
}

static void touch_recycled_pool_after_reuse(void)
{
    sq_pool *p = pool_get(), *next;
    volatile char *m = sq_palloc(p, 16);

    pool_recycle(p);
    next = pool_get();
    memset(sq_palloc(next, 64), 0, 64);
    m[0] = 'x';
}

START_TEST(test_recycled_pool_use_reported)
{
    char report[16384];

    asan_report(touch_recycled_pool, report, sizeof(report));
    ck_assert_msg(strstr(report, "AddressSanitizer: use-after-poison"), "%s",
                  report);
    asan_report(touch_recycled_pool_after_reuse, report, sizeof(report));
    ck_assert_msg(strstr(report, "AddressSanitizer: use-after-poison"), "%s",
                  report);
}
END_TEST

/* Still a cache: the oldest pool comes back once enough newer ones wait,
 * so memory stays bounded. */
START_TEST(test_recycle_reuses_oldest_after_delay)
{
    sq_pool *pools[CACHE_DELAY + 3], *p;
    size_t i;

    for (i = 0; i < ARRAY_LEN(pools); i++)
        pools[i] = pool_get();
    for (i = 0; i < ARRAY_LEN(pools); i++)
        pool_recycle(pools[i]);
    for (i = 0; i < 3; i++)
        ck_assert_ptr_eq(pool_get(), pools[i]);
    p = pool_get(); /* a new one: the rest are still waiting */
    for (i = 0; i < ARRAY_LEN(pools); i++)
        ck_assert_ptr_ne(p, pools[i]);
    pool_recycle(p);
    for (i = 0; i < 3; i++)
        pool_recycle(pools[i]);
}
END_TEST

static void touch_after_reset(void)
{
    sq_pool *p = pool_new(1024);
    volatile char *m = sq_palloc(p, 16);

    pool_reset(p);
    m[0] = 'x';
}

/* The free room of a block is poisoned, so a stale pointer into a reset
 * pool is reported until the memory is handed out again. */
START_TEST(test_reset_pool_use_reported)
{
    char report[16384];

    asan_report(touch_after_reset, report, sizeof(report));
    ck_assert_msg(strstr(report, "AddressSanitizer: use-after-poison"), "%s",
                  report);
}
END_TEST

static void write_past_allocation(void)
{
    sq_pool *p = pool_new(1024);
    volatile char *m = sq_palloc(p, 10);

    m[10] = 'x';
}

/* sq_palloc unpoisons exactly what it hands out: one byte too many is
 * reported, though the block around it is the pool's. */
START_TEST(test_overflow_into_pool_reported)
{
    char report[16384];

    asan_report(write_past_allocation, report, sizeof(report));
    ck_assert_msg(strstr(report, "AddressSanitizer: use-after-poison"), "%s",
                  report);
}
END_TEST
#endif

static Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc;

    tc = tcase_create("alloc");
    tcase_add_test(tc, test_alloc_aligned);
    tcase_add_test(tc, test_alloc_spans_blocks);
    tcase_add_test(tc, test_large_alloc);
    tcase_add_test(tc, test_alloc_too_large);
    tcase_add_test(tc, test_pcalloc_zeroes);
    tcase_add_test(tc, test_pstrndup);
    tcase_add_test(tc, test_pstrndup_too_large);
    tcase_add_test(tc, test_psprintf);
    suite_add_tcase(s, tc);

    tc = tcase_create("cleanups");
    tcase_add_test(tc, test_cleanups_newest_first);
    tcase_add_test(tc, test_cleanups_run_on_reset);
    tcase_add_test(tc, test_cleanups_see_pool_memory);
    suite_add_tcase(s, tc);

    tc = tcase_create("reuse");
    tcase_add_test(tc, test_reset_reuses_first_block);
    tcase_add_test(tc, test_recycle_null);
    tcase_add_test(tc, test_recycle_runs_cleanups);
#if !SQ_ASAN
    tcase_add_test(tc, test_recycle_caches_pool);
    tcase_add_test(tc, test_recycle_other_size_not_cached);
#else
    tcase_add_test(tc, test_recycled_pool_use_reported);
    tcase_add_test(tc, test_recycle_reuses_oldest_after_delay);
    tcase_add_test(tc, test_reset_pool_use_reported);
    tcase_add_test(tc, test_overflow_into_pool_reported);
#endif
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pool_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
