/* RTN and the shared grid (quant/qgrid.c). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/qgrid.h"
#include "quant/quant.h"
#include "tests/testutil.h"
#include "tests/testutil_quant.h"

static int rtn(const float *w, int rows, int cols, int bits, int group, int sym, float *out,
               struct quant_report *rep)
{
    struct quant_spec s;
    struct qerr e = {0};
    ck_assert_int_eq(quant_spec_parse(&s, "rtn", bits, group, sym, NULL, &e), 0);
    return quant_apply(&s, w, rows, cols, NULL, out, NULL, rep, NULL, &e);
}

START_TEST(degenerate_single_value)
{
    float w = 0.3f, out;
    struct quant_report r;
    ck_assert_int_eq(rtn(&w, 1, 1, 4, 0, 0, &out, &r), 0);
    ck_assert_float_eq_tol(out, 0.3f, 1e-7);  /* range [0, 0.3]: top level */
    ck_assert_int_eq(rtn(&w, 1, 1, 2, 0, 1, &out, &r), 0);
    ck_assert_float_eq_tol(out, 0.3f, 1e-7);
    w = 0;
    ck_assert_int_eq(rtn(&w, 1, 1, 3, -1, 0, &out, &r), 0);
    ck_assert_float_eq(out, 0);
}
END_TEST

START_TEST(exact_grids)
{
    float a[] = {0, 1, 2, 3}, out[4];   /* 2-bit asym: levels 0..3 */
    struct quant_report r;
    ck_assert_int_eq(rtn(a, 1, 4, 2, 0, 0, out, &r), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq_tol(out[i], a[i], 1e-6);
    float b[15], ob[15];                 /* 4-bit sym: levels -7..7 */
    for (int i = 0; i < 15; i++)
        b[i] = 0.25f * (i - 7);
    ck_assert_int_eq(rtn(b, 1, 15, 4, 0, 1, ob, &r), 0);
    for (int i = 0; i < 15; i++)
        ck_assert_float_eq_tol(ob[i], b[i], 1e-6);
    ck_assert_double_eq(r.sqnr_db, 300);
}
END_TEST

START_TEST(fast_matches_ref)
{
    tu_seed(11);
    int rows = 9, cols = 100, groups[] = {-1, 0, 7, 32, 100, 128};
    float *w = tq_matrix(rows, cols, 1), *a = malloc(rows * cols * 4), *b = malloc(rows * cols * 4);
    w[5] = 9.0f;  /* an outlier for good measure */
    for (int bits = 2; bits <= 8; bits++)
        for (int gi = 0; gi < 6; gi++)
            for (int sym = 0; sym < 2; sym++) {
                qgrid_rtn(w, rows, cols, bits, groups[gi], sym, NULL, 1.0f, a);
                qgrid_rtn_ref(w, rows, cols, bits, groups[gi], sym, b);
                int diff = 0;
                for (int i = 0; i < rows * cols; i++)  /* 9 = max |w| */
                    diff += fabsf(a[i] - b[i]) > 1e-5f * 9;
                /* ties may round differently (float vs double quotient) */
                ck_assert_msg(diff <= 1, "bits %d group %d sym %d: %d differ", bits,
                              groups[gi], sym, diff);
            }
    free(w), free(a), free(b);
}
END_TEST

/* The vector kernel does qgrid_q's operations in the same order. */
START_TEST(row_kernel_bit_identical)
{
    tu_seed(16);
    float *x = tq_matrix(1, 1003, 3), a[1003], b[1003];
    x[7] = 0.5f, x[8] = -0.5f, x[9] = 1.5f;   /* exact ties: half to even */
    for (int bits = 2; bits <= 8; bits += 3)
        for (int sym = 0; sym < 2; sym++) {
            struct qgrid g;
            qgrid_from_range(&g, -2.5f, 4.0f, bits, sym, 1);
            for (int n = 0; n <= 1003; n += n < 40 ? 1 : 241) {
                qgrid_q_row(&g, x, n, a);
                qgrid_q_row_ref(&g, x, n, b);
                ck_assert_int_eq(memcmp(a, b, n * sizeof *a), 0);
            }
        }
    struct qgrid g = {.scale = 1, .zero = 0, .qmin = -8, .qmax = 7};
    qgrid_q_row(&g, x + 7, 3, a);
    ck_assert_float_eq(a[0], 0);
    ck_assert_float_eq(a[1], 0);
    ck_assert_float_eq(a[2], 2);
    free(x);
}
END_TEST

/* Error bound: |w - ŵ| <= scale/2 inside the group's range, and a group
 * has at most 2^b (asym) or 2^b - 1 (sym) distinct values. */
START_TEST(error_bound_and_levels)
{
    tu_seed(12);
    int cols = 64;
    float *w = tq_matrix(1, cols, 1), out[64];
    for (int bits = 2; bits <= 8; bits++)
        for (int sym = 0; sym < 2; sym++) {
            struct quant_report r;
            ck_assert_int_eq(rtn(w, 1, cols, bits, 0, sym, out, &r), 0);
            float lo = 0, hi = 0;
            for (int i = 0; i < cols; i++)
                lo = fminf(lo, w[i]), hi = fmaxf(hi, w[i]);
            double scale = sym ? fmax(-lo, hi) / ((1 << (bits - 1)) - 1)
                               : (hi - lo) / ((1 << bits) - 1.0);
            ck_assert_msg(r.max_abs_err <= scale / 2 * (1 + 1e-5), "bits %d sym %d", bits, sym);
            int distinct = 0;
            for (int i = 0; i < cols; i++) {
                int seen = 0;
                for (int k = 0; k < i; k++)
                    seen |= out[k] == out[i];
                distinct += !seen;
            }
            ck_assert_int_le(distinct, sym ? (1 << bits) - 1 : 1 << bits);
        }
    free(w);
}
END_TEST

START_TEST(zero_group_exact)
{
    tu_seed(13);
    int cols = 48;
    float *w = tq_matrix(2, cols, 0.02), out[96];
    memset(w, 0, 16 * sizeof *w);  /* row 0, first group of 16 all zero */
    struct quant_report r;
    for (int sym = 0; sym < 2; sym++) {
        ck_assert_int_eq(rtn(w, 2, cols, 3, 16, sym, out, &r), 0);
        for (int i = 0; i < 16; i++)
            ck_assert_float_eq(out[i], 0);
        for (int i = 16; i < 96; i++)
            ck_assert(fabsf(out[i] - w[i]) < 0.02f);
    }
    /* asymmetric grids keep 0.0 exact even in a group without zeros */
    for (int i = 16; i < 32; i++)
        w[i] = 1.0f + i;
    w[20] = 0;
    ck_assert_int_eq(rtn(w, 2, cols, 3, 16, 0, out, &r), 0);
    ck_assert_float_eq(out[20], 0);
    free(w);
}
END_TEST

/* cols 10, group 4: groups [0,4) [4,8) and a short last group [8,10). */
START_TEST(short_last_group)
{
    float w[10] = {0.1f, -0.2f, 0.3f, -0.4f, 0.5f, 0.6f, -0.7f, 0.8f, 50.0f, -40.0f}, out[10];
    struct quant_report r;
    ck_assert_int_eq(rtn(w, 1, 10, 4, 4, 1, out, &r), 0);
    for (int i = 0; i < 8; i++)   /* the big last group does not spoil them */
        ck_assert_float_le(fabsf(out[i] - w[i]), 0.8f / 7 / 2 + 1e-6f);
    ck_assert_float_eq_tol(out[8], 50.0f, 1e-4);
    ck_assert_double_eq_tol(r.bits_per_weight, 4 + 3 * 16.0 / 10, 1e-12);
    /* per tensor the same values wipe out the small ones */
    ck_assert_int_eq(rtn(w, 1, 10, 4, -1, 1, out, &r), 0);
    ck_assert_float_eq(out[0], 0);
}
END_TEST

/* A planted outlier costs only its own group (per group) or row (per
 * channel); per tensor it costs everything. */
START_TEST(planted_outlier_locality)
{
    tu_seed(14);
    int rows = 8, cols = 64, n = rows * cols;
    float *w = tq_matrix(rows, cols, 0.02), *o = malloc(n * 4), *clean = malloc(n * 4);
    float *wo = malloc(n * 4);
    memcpy(wo, w, n * 4);
    wo[3 * cols + 40] = 2.0f;   /* 100 sd */
    struct quant_report r;
    ck_assert_int_eq(rtn(w, rows, cols, 4, 32, 0, clean, &r), 0);
    ck_assert_int_eq(rtn(wo, rows, cols, 4, 32, 0, o, &r), 0);
    for (int i = 0; i < n; i++)
        if (i / cols != 3 || (i % cols) / 32 != 1)
            ck_assert_float_eq(o[i], clean[i]);
    double rel_group = tq_rel(wo, o, n);
    ck_assert_int_eq(rtn(wo, rows, cols, 4, -1, 0, o, &r), 0);
    ck_assert(r.rel_fro > 3 * rel_group);
    free(w), free(o), free(clean), free(wo);
}
END_TEST

START_TEST(error_falls_with_finer_groups)
{
    tu_seed(15);
    int rows = 32, cols = 256;
    float *w = tq_matrix(rows, cols, 0.02), *o = malloc(rows * cols * 4);
    for (int r = 0; r < rows; r++)   /* rows of different magnitude */
        for (int c = 0; c < cols; c++)
            w[r * cols + c] *= 1 + r % 5 + (c % 64 == 0 ? 4 : 0);
    struct quant_report r;
    double prev = 1e9;
    int groups[] = {-1, 0, 128, 32, 8};
    for (int k = 0; k < 5; k++) {
        ck_assert_int_eq(rtn(w, rows, cols, 3, groups[k], 0, o, &r), 0);
        ck_assert_msg(r.rel_fro < prev, "group %d", groups[k]);
        prev = r.rel_fro;
    }
    free(w), free(o);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("rtn");
    TCase *tc = tcase_create("rtn");
    tcase_add_test(tc, degenerate_single_value);
    tcase_add_test(tc, exact_grids);
    tcase_add_test(tc, fast_matches_ref);
    tcase_add_test(tc, row_kernel_bit_identical);
    tcase_add_test(tc, error_bound_and_levels);
    tcase_add_test(tc, zero_group_exact);
    tcase_add_test(tc, short_last_group);
    tcase_add_test(tc, planted_outlier_locality);
    tcase_add_test(tc, error_falls_with_finer_groups);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
