/* AWQ: the equivalent-function output, the scale normalisation, the
 * search, and lower output error than RTN when activations have outlier
 * channels. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/qgrid.h"
#include "quant/quant.h"
#include "quant/quant_impl.h"
#include "tests/testutil.h"
#include "tests/testutil_quant.h"

static int awq(int bits, int group, const char *opts, const float *w, int rows, int cols,
               const struct quant_calib *c, float *out, float *scale, struct quant_report *r)
{
    struct quant_spec s;
    struct qerr e = {0};
    ck_assert_int_eq(quant_spec_parse(&s, "awq", bits, group, 0, opts, &e), 0);
    struct quant_side side = {.in_scale = scale};
    int rc = quant_apply(&s, w, rows, cols, c, out, &side, r, NULL, &e);
    ck_assert_msg(rc == 0, "%s", e.msg);
    ck_assert(!scale || side.has_scale);
    return rc;
}

/* Without clipping, Ŵ is exactly Q(W·diag(s))·diag(1/s) for the returned s. */
START_TEST(output_is_scaled_back)
{
    tu_seed(31);
    int rows = 16, cols = 96;
    struct tq_calib t;
    tq_calib_make(&t, cols, 300, 0.5, 4, 10);
    float *w = tq_matrix(rows, cols, 0.02), *o = malloc(rows * cols * 4);
    float *ws = malloc(rows * cols * 4), *ref = malloc(rows * cols * 4), s[96];
    struct quant_report r;
    awq(3, 32, "clip=0", w, rows, cols, &t.c, o, s, &r);
    double smax = 0, smin = 1e30;
    for (int j = 0; j < cols; j++)
        smax = fmax(smax, s[j]), smin = fmin(smin, s[j]);
    ck_assert_double_eq_tol(smax * smin, 1.0, 1e-5);   /* normalised */
    for (int i = 0; i < rows * cols; i++)
        ws[i] = w[i] * s[i % cols];
    qgrid_rtn(ws, rows, cols, 3, 32, 0, NULL, 1.0f, ref);
    for (int i = 0; i < rows * cols; i++)
        ck_assert_float_eq_tol(o[i], ref[i] / s[i % cols], 1e-7);
    /* the chosen exponent reproduces s: s_j ∝ mean|x_j|^a */
    double a = r.chosen;
    ck_assert(a >= 0 && a < 1);
    double k0 = s[0] / pow(fmax(t.mean_abs[0], 1e-4), a);
    for (int j = 1; j < cols; j++)
        ck_assert_double_eq_tol(s[j] / pow(fmax(t.mean_abs[j], 1e-4), a), k0, 1e-4 * k0);
    free(w), free(o), free(ws), free(ref);
    tq_calib_free(&t);
}
END_TEST

/* grid=1 tries only a = 0 (s = 1): AWQ without clipping is RTN. */
START_TEST(grid1_noclip_is_rtn)
{
    tu_seed(32);
    int rows = 8, cols = 64;
    struct tq_calib t;
    tq_calib_make(&t, cols, 200, 0.5, 2, 10);
    float *w = tq_matrix(rows, cols, 0.02), *o = malloc(rows * cols * 4),
          *ref = malloc(rows * cols * 4), s[64];
    struct quant_report r;
    awq(4, 16, "grid=1,clip=0", w, rows, cols, &t.c, o, s, &r);
    qgrid_rtn(w, rows, cols, 4, 16, 0, NULL, 1.0f, ref);
    for (int i = 0; i < rows * cols; i++)
        ck_assert_float_eq_tol(o[i], ref[i], 1e-7);
    for (int j = 0; j < cols; j++)
        ck_assert_float_eq(s[j], 1);
    ck_assert_double_eq(r.chosen, 0);
    free(w), free(o), free(ref);
    tq_calib_free(&t);
}
END_TEST

/* Activations with outlier channels (20x): AWQ protects their weights and
 * beats RTN on output error; clipping helps further. */
START_TEST(beats_rtn_with_outlier_channels)
{
    tu_seed(33);
    int rows = 48, cols = 128;
    struct tq_calib t;
    tq_calib_make(&t, cols, 512, 0.3, 6, 20);
    float *w = tq_matrix(rows, cols, 0.02), *o = malloc(rows * cols * 4);
    struct quant_report r, rr;
    for (int bits = 3; bits <= 4; bits++) {
        struct quant_spec s;
        struct qerr e = {0};
        quant_spec_parse(&s, "rtn", bits, 32, 0, NULL, &e);
        ck_assert_int_eq(quant_apply(&s, w, rows, cols, &t.c, o, NULL, &rr, NULL, &e), 0);
        awq(bits, 32, "clip=0", w, rows, cols, &t.c, o, NULL, &r);
        ck_assert_msg(r.out_err < 0.9 * rr.out_err, "%d bits: awq %g rtn %g", bits, r.out_err,
                      rr.out_err);
        ck_assert(r.chosen > 0);
        double noclip = r.out_err;
        awq(bits, 32, NULL, w, rows, cols, &t.c, o, NULL, &r);
        ck_assert_msg(r.out_err <= noclip * 1.001, "clip %g noclip %g", r.out_err, noclip);
        ck_assert_double_eq_tol(r.out_err, tq_out_err(w, o, rows, cols, t.x, t.n),
                                1e-3 * r.out_err);
    }
    free(w), free(o);
    tq_calib_free(&t);
}
END_TEST

/* Only a sample x (no xtx, no statistics): mean |x| and H come from it;
 * the result equals the run with the statistics and xtx of that sample. */
START_TEST(sample_only_calibration)
{
    tu_seed(34);
    int rows = 8, cols = 40;
    struct tq_calib t;
    tq_calib_make(&t, cols, 100, 0.5, 2, 5);
    float *w = tq_matrix(rows, cols, 0.02), *a = malloc(rows * cols * 4),
          *b = malloc(rows * cols * 4);
    struct quant_calib c = {.x = t.x, .n_x = t.n};
    struct quant_report r;
    awq(4, 0, NULL, w, rows, cols, &c, a, NULL, &r);
    double ea = r.chosen;
    awq(4, 0, NULL, w, rows, cols, &t.c, b, NULL, &r);
    ck_assert_double_eq(ea, r.chosen);
    ck_assert(tq_rel(b, a, rows * cols) < 1e-3);
    free(w), free(a), free(b);
    tq_calib_free(&t);
}
END_TEST

/* A channel never active (mean |x| = 0) gets the smallest scale and its
 * weights stay finite. */
START_TEST(dead_channel)
{
    tu_seed(35);
    int rows = 8, cols = 32;
    struct tq_calib t;
    tq_calib_make(&t, cols, 100, 0.5, 0, 1);
    for (int i = 0; i < t.n; i++)
        t.x[i * cols + 3] = 0;
    t.mean_abs[3] = t.max_abs[3] = 0;
    for (int i = 0; i < cols; i++)
        t.xtx[3 * cols + i] = t.xtx[i * cols + 3] = 0;
    float *w = tq_matrix(rows, cols, 0.02), *o = malloc(rows * cols * 4), s[32];
    struct quant_report r;
    awq(3, 0, NULL, w, rows, cols, &t.c, o, s, &r);
    for (int i = 0; i < rows * cols; i++)
        ck_assert(isfinite(o[i]));
    for (int j = 0; j < cols; j++)
        ck_assert(s[3] <= s[j]);
    free(w), free(o);
    tq_calib_free(&t);
}
END_TEST

/* The sgemm-based searches against the plain double loops: same exponent,
 * same clipping, same output (up to float summation order). */
START_TEST(fast_matches_plain)
{
    tu_seed(36);
    int rows = 12, cols = 70;
    struct tq_calib t;
    tq_calib_make(&t, cols, 200, 0.6, 3, 10);
    float *w = tq_matrix(rows, cols, 0.02), *a = malloc(rows * cols * 4),
          *b = malloc(rows * cols * 4);
    int groups[] = {16, 0, -1};
    for (int gi = 0; gi < 3; gi++) {
        struct quant_spec s;
        struct qerr e = {0};
        struct quant_report ra, rb;
        quant_spec_parse(&s, "awq", 3, groups[gi], 0, NULL, &e);
        ck_assert_int_eq(quant_apply(&s, w, rows, cols, &t.c, a, NULL, &ra, NULL, &e), 0);
        memset(&rb, 0, sizeof rb);
        ck_assert_int_eq(awq_apply_ref(&s, w, rows, cols, &t.c, b, NULL, &rb, NULL, &e), 0);
        ck_assert_double_eq(ra.chosen, rb.chosen);
        int diff = 0;
        for (int i = 0; i < rows * cols; i++)
            diff += fabsf(a[i] - b[i]) > 1e-6f;
        ck_assert_msg(diff <= rows * cols / 100, "group %d: %d differ", groups[gi], diff);
    }
    /* and the quadratic form itself */
    float *hf = qi_xtx_float(t.xtx, cols);
    double fr[12], rr[12], ft, rt;
    ck_assert_int_eq(qi_hform(w, rows, cols, hf, fr, &ft), 0);
    qi_hform_ref(w, rows, cols, hf, rr, &rt);
    for (int r = 0; r < rows; r++)
        ck_assert_double_eq_tol(fr[r], rr[r], 1e-4 * rr[r]);
    ck_assert_double_eq_tol(ft, rt, 1e-4 * rt);
    free(hf), free(w), free(a), free(b);
    tq_calib_free(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("awq");
    TCase *tc = tcase_create("awq");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, output_is_scaled_back);
    tcase_add_test(tc, grid1_noclip_is_rtn);
    tcase_add_test(tc, beats_rtn_with_outlier_channels);
    tcase_add_test(tc, sample_only_calibration);
    tcase_add_test(tc, dead_channel);
    tcase_add_test(tc, fast_matches_plain);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
