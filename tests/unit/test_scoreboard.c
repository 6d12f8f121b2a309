/*
 * test_scoreboard.c - src/scoreboard.c: the counters the master shares with
 * its workers, and the fair-share rule accept throttling uses.
 */
#include "internal.h"

#include <check.h>
#include <sys/wait.h>
#include <unistd.h>

static void teardown(void)
{
    scoreboard_destroy();
}

START_TEST(test_without_scoreboard_nothing_is_over_share)
{
    struct sb_view v;

    scoreboard_set_live(0, 1);
    scoreboard_set_conns(0, 1000);
    scoreboard_accepted(0, 1000);
    scoreboard_view(0, &v);
    ck_assert_uint_eq(v.nlive, 0);
    ck_assert_int_eq(scoreboard_over_share(&v, 0), 0);
}
END_TEST

START_TEST(test_view_counts_live_slots_and_self)
{
    struct sb_view v;

    ck_assert_int_eq(scoreboard_create(3), 0);
    scoreboard_set_conns(0, 5); /* this slot, not (yet) marked live */
    scoreboard_set_live(1, 1);
    scoreboard_set_conns(1, 1);
    scoreboard_accepted(1, 7);
    scoreboard_set_conns(2, 100); /* not live: not in the share */
    scoreboard_accepted(2, 3);
    scoreboard_view(0, &v);
    ck_assert_uint_eq(v.mine, 5);
    ck_assert_uint_eq(v.total, 6);
    ck_assert_uint_eq(v.nlive, 2);
    ck_assert_uint_eq(v.others_accepted, 10);
}
END_TEST

START_TEST(test_over_share_rule)
{
    struct sb_view v = {.mine = 60, .total = 100, .nlive = 2};

    /* average 50: over it by more than slack + 50/32 */
    ck_assert_int_eq(scoreboard_over_share(&v, 8), 1);
    v.mine = 59;
    ck_assert_int_eq(scoreboard_over_share(&v, 8), 0);
    v.mine = 52;
    ck_assert_int_eq(scoreboard_over_share(&v, 0), 1);
    v.mine = 51;
    ck_assert_int_eq(scoreboard_over_share(&v, 0), 0);
    /* alone, a worker takes everything */
    v = (struct sb_view){.mine = 1000, .total = 1000, .nlive = 1};
    ck_assert_int_eq(scoreboard_over_share(&v, 0), 0);
}
END_TEST

START_TEST(test_reset_keeps_accepted)
{
    struct sb_view v;

    ck_assert_int_eq(scoreboard_create(2), 0);
    scoreboard_set_live(1, 1);
    scoreboard_set_conns(1, 40);
    scoreboard_accepted(1, 40);
    scoreboard_reset(1); /* its worker died */
    scoreboard_view(0, &v);
    ck_assert_uint_eq(v.nlive, 1);
    ck_assert_uint_eq(v.total, 0);
    /* monotonic, so that a worker holding back sees progress, not a drop */
    ck_assert_uint_eq(v.others_accepted, 40);
}
END_TEST

START_TEST(test_shared_with_a_forked_child)
{
    struct sb_view v;
    int status;
    pid_t pid;

    ck_assert_int_eq(scoreboard_create(2), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        scoreboard_set_live(1, 1);
        scoreboard_set_conns(1, 9);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    scoreboard_view(0, &v);
    ck_assert_uint_eq(v.nlive, 2);
    ck_assert_uint_eq(v.total, 9);
}
END_TEST

static Suite *scoreboard_suite(void)
{
    Suite *s = suite_create("scoreboard");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_without_scoreboard_nothing_is_over_share);
    tcase_add_test(tc, test_view_counts_live_slots_and_self);
    tcase_add_test(tc, test_over_share_rule);
    tcase_add_test(tc, test_reset_keeps_accepted);
    tcase_add_test(tc, test_shared_with_a_forked_child);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(scoreboard_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
