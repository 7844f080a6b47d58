/* check_actquant: round-to-nearest activation / KV fake quantization. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/actquant.h"
#include "tests/testutil.h"

START_TEST(test_bad_bits)
{
    float x[4] = {1, 2, 3, 4};
    struct qerr err = {0};
    ck_assert_int_eq(actq_rows(x, 1, 4, 1, 0, 0, &err), QERR_ARG);
    ck_assert_int_eq(actq_rows(x, 1, 4, 17, 0, 0, &err), QERR_ARG);
    ck_assert_int_eq(actq_cols(x, 4, 1, 0, 0, 1, &err), QERR_ARG);
    ck_assert_float_eq(x[2], 3.0f); /* untouched on error */
    ck_assert_int_eq(actq_rows(x, 0, 4, 8, 0, 0, &err), 0); /* no rows: fine */
}
END_TEST

START_TEST(test_zero_constant_nonfinite)
{
    float z[5] = {0, 0, 0, 0, 0};
    actq_group(z, 5, 1, 4, 0);
    actq_group(z, 5, 1, 4, 1);
    for (int i = 0; i < 5; i++)
        ck_assert_float_eq(z[i], 0.0f);
    float c[3] = {2.5f, 2.5f, 2.5f};
    actq_group(c, 3, 1, 4, 1); /* constant: asymmetric range is 0 */
    ck_assert_float_eq(c[1], 2.5f);
    actq_group(c, 3, 1, 4, 0); /* symmetric: absmax maps to qmax exactly */
    ck_assert_float_eq(c[1], 2.5f);
    float n[4] = {NAN, 1.0f, INFINITY, -0.5f};
    actq_group(n, 4, 1, 8, 0);
    ck_assert(isnan(n[0]));
    ck_assert(isinf(n[2]));
    ck_assert_float_eq(n[1], 1.0f);
    ck_assert_float_eq_tol(n[3], -0.5f, 1.0f / 127);
    float all_nan[2] = {NAN, NAN};
    actq_group(all_nan, 2, 1, 8, 1);
    ck_assert(isnan(all_nan[0]) && isnan(all_nan[1]));
}
END_TEST

/* Symmetric: error <= scale/2, values on the grid, absmax preserved. */
START_TEST(test_symmetric_grid)
{
    tu_seed(1);
    for (int bits = 2; bits <= 8; bits++) {
        float x[257], y[257];
        for (int i = 0; i < 257; i++)
            x[i] = y[i] = (float)tu_normal();
        actq_group(y, 257, 1, bits, 0);
        float amax = 0;
        for (int i = 0; i < 257; i++)
            amax = fmaxf(amax, fabsf(x[i]));
        float qmax = (float)((1 << (bits - 1)) - 1), scale = amax / qmax;
        for (int i = 0; i < 257; i++) {
            ck_assert_float_le(fabsf(x[i] - y[i]), scale / 2 * 1.0001f);
            float q = y[i] / scale;
            ck_assert_float_le(fabsf(q - roundf(q)), 1e-3f);
            ck_assert_float_le(fabsf(q), qmax + 1e-3f);
        }
    }
    float two[3] = {-1.0f, 0.4f, 1.0f}; /* 2 bits: levels -1, 0, 1 */
    actq_group(two, 3, 1, 2, 0);
    ck_assert_float_eq(two[0], -1.0f);
    ck_assert_float_eq(two[1], 0.0f);
    ck_assert_float_eq(two[2], 1.0f);
}
END_TEST

START_TEST(test_asymmetric)
{
    float x[4] = {0.0f, 1.0f, 2.0f, 3.0f};
    actq_group(x, 4, 1, 2, 1); /* 4 levels over [0, 3]: exact */
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq_tol(x[i], (float)i, 1e-6f);
    /* all positive: the zero point is rounded (-3.75 -> -4), so the ends
     * move by up to scale/2; 1.0 lands on 4 * 4/15 */
    float y[3] = {1.0f, 1.2f, 5.0f};
    actq_group(y, 3, 1, 4, 1);
    ck_assert_float_eq_tol(y[0], 16.0f / 15, 1e-5f);
    for (int i = 0; i < 3; i++)
        ck_assert_float_le(fabsf(y[i] - (float[]){1.0f, 1.2f, 5.0f}[i]), (4.0f / 15) / 2 + 1e-6f);
}
END_TEST

/* Groups: rows vs cols are transposes of each other; a group size that does
 * not divide the length leaves a short last group; fast == reference. */
START_TEST(test_groups_and_ref)
{
    enum { R = 7, C = 10 };
    float a[R * C], t[C * R], b[R * C], r[R * C];
    struct qerr err = {0};
    tu_seed(3);
    for (int i = 0; i < R * C; i++)
        a[i] = (float)tu_normal() * (i % 3 + 1);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++)
            t[j * R + i] = a[i * C + j];
    memcpy(b, a, sizeof a);
    ck_assert_int_eq(actq_rows(b, R, C, 3, 4, 1, &err), 0);
    ck_assert_int_eq(actq_cols(t, C, R, 3, 0, 1, &err), 0); /* different grouping */
    ck_assert_int_eq(actq_cols(t, C, R, 3, 4, 1, &err), 0);
    /* reference per group on a copy: rows, groups of 4 = [0,4) [4,8) [8,10) */
    memcpy(r, a, sizeof a);
    for (int i = 0; i < R; i++) {
        actq_group_ref(r + i * C, 4, 1, 3, 1);
        actq_group_ref(r + i * C + 4, 4, 1, 3, 1);
        actq_group_ref(r + i * C + 8, 2, 1, 3, 1);
    }
    for (int i = 0; i < R * C; i++)
        ck_assert_float_eq(b[i], r[i]);
    /* the last group really is separate: its error is bounded by its own
     * range/7/2, not the row's */
    for (int i = 0; i < R; i++) {
        float s = fabsf(a[i * C + 8] - a[i * C + 9]) / 7;
        ck_assert_float_le(fabsf(b[i * C + 8] - a[i * C + 8]), s / 2 + 1e-6f);
        ck_assert_float_le(fabsf(b[i * C + 9] - a[i * C + 9]), s / 2 + 1e-6f);
    }
    /* columns: transpose of rows with the same grouping */
    float u[C * R];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++)
            u[j * R + i] = a[i * C + j];
    ck_assert_int_eq(actq_cols(u, C, R, 3, 4, 0, &err), 0);
    memcpy(b, a, sizeof a);
    float col[C];
    for (int i = 0; i < R; i++) { /* column i of u = row i of a, groups of 4 rows of u */
        for (int j = 0; j < C; j++)
            col[j] = a[i * C + j];
        actq_group_ref(col, 4, 1, 3, 0);
        actq_group_ref(col + 4, 4, 1, 3, 0);
        actq_group_ref(col + 8, 2, 1, 3, 0);
        for (int j = 0; j < C; j++)
            ck_assert_float_eq(u[j * R + i], col[j]);
    }
}
END_TEST

START_TEST(test_fast_vs_ref_random)
{
    tu_seed(9);
    float x[1000], y[1000];
    for (int trial = 0; trial < 40; trial++) {
        int bits = 2 + trial % 7, asym = trial % 2;
        for (int i = 0; i < 1000; i++)
            x[i] = y[i] = (float)(tu_normal() * (1 + 10 * (i % 97 == 0)));
        actq_group(x, 1000, 1, bits, asym);
        actq_group_ref(y, 1000, 1, bits, asym);
        ck_assert_mem_eq(x, y, sizeof x);
    }
}
END_TEST

static Suite *actquant_suite(void)
{
    Suite *s = suite_create("actquant");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_bad_bits);
    tcase_add_test(tc, test_zero_constant_nonfinite);
    tcase_add_test(tc, test_symmetric_grid);
    tcase_add_test(tc, test_asymmetric);
    tcase_add_test(tc, test_groups_and_ref);
    tcase_add_test(tc, test_fast_vs_ref_random);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(actquant_suite());
}
