/* check_qnum: checked double -> int conversions of file data. */
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "analysis/qnum.h"

START_TEST(int_rejects_non_finite)
{
    int v = 7;
    ck_assert_int_eq(qnum_int(NAN, INT_MIN, INT_MAX, &v), -1);
    ck_assert_int_eq(qnum_int(INFINITY, INT_MIN, INT_MAX, &v), -1);
    ck_assert_int_eq(qnum_int(-INFINITY, INT_MIN, INT_MAX, &v), -1);
    ck_assert_int_eq(v, 7); /* untouched on failure */
}
END_TEST

START_TEST(int_rejects_out_of_range_and_fractions)
{
    int v = 7;
    ck_assert_int_eq(qnum_int(1e300, INT_MIN, INT_MAX, &v), -1);
    ck_assert_int_eq(qnum_int(3e10, INT_MIN, INT_MAX, &v), -1);
    ck_assert_int_eq(qnum_int(2147483648.0, INT_MIN, INT_MAX, &v), -1);
    ck_assert_int_eq(qnum_int(-2147483649.0, INT_MIN, INT_MAX, &v), -1);
    ck_assert_int_eq(qnum_int(4.5, INT_MIN, INT_MAX, &v), -1);
    ck_assert_int_eq(qnum_int(65, 1, 64, &v), -1);
    ck_assert_int_eq(qnum_int(0, 1, 64, &v), -1);
    ck_assert_int_eq(v, 7);
}
END_TEST

START_TEST(int_accepts_whole_numbers_in_range)
{
    int v = 0;
    ck_assert_int_eq(qnum_int(2147483647.0, INT_MIN, INT_MAX, &v), 0);
    ck_assert_int_eq(v, INT_MAX);
    ck_assert_int_eq(qnum_int(-2147483648.0, INT_MIN, INT_MAX, &v), 0);
    ck_assert_int_eq(v, INT_MIN);
    ck_assert_int_eq(qnum_int(-0.0, -1, 1, &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(qnum_int(64, 1, 64, &v), 0);
    ck_assert_int_eq(v, 64);
}
END_TEST

START_TEST(clamp_saturates)
{
    ck_assert_int_eq(qnum_clamp_int(NAN, 0, 10, 5), 5);
    ck_assert_int_eq(qnum_clamp_int(INFINITY, INT_MIN, INT_MAX, 0), INT_MAX);
    ck_assert_int_eq(qnum_clamp_int(-1e300, INT_MIN, INT_MAX, 0), INT_MIN);
    ck_assert_int_eq(qnum_clamp_int(1e300, 0, 10, 0), 10);
    ck_assert_int_eq(qnum_clamp_int(-3.9, -10, 10, 0), -3);
    ck_assert_int_eq(qnum_clamp_int(3.9, -10, 10, 0), 3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("qnum");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, int_rejects_non_finite);
    tcase_add_test(tc, int_rejects_out_of_range_and_fractions);
    tcase_add_test(tc, int_accepts_whole_numbers_in_range);
    tcase_add_test(tc, clamp_saturates);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
