/* SmoothQuant: the scale formula, the equivalent-function output, and the
 * W8A8 claim: with activation outlier channels, smoothing lowers the error
 * of the simulated int8 x int8 product. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/qgrid.h"
#include "quant/quant.h"
#include "tests/testutil.h"
#include "tests/testutil_quant.h"

enum { R = 32, C = 64, NT = 256 };

static void sq(const char *m, const char *opts, const float *w, const struct quant_calib *c,
               float *out, float *s, struct quant_report *r)
{
    struct quant_spec sp;
    struct qerr e = {0};
    ck_assert_int_eq(quant_spec_parse(&sp, m, 8, 0, 1, opts, &e), 0);
    struct quant_side side = {.in_scale = s};
    ck_assert_msg(quant_apply(&sp, w, R, C, c, out, &side, r, NULL, &e) == 0, "%s", e.msg);
}

START_TEST(scales_and_output)
{
    tu_seed(61);
    struct tq_calib t;
    tq_calib_make(&t, C, NT, 0.3, 4, 30);
    float *w = tq_matrix(R, C, 0.02), *o = malloc(R * C * 4), *ws = malloc(R * C * 4);
    float *ref = malloc(R * C * 4), s[C];
    struct quant_report r;
    sq("smoothquant", "alpha=0.5", w, &t.c, o, s, &r);
    for (int j = 0; j < C; j++) {
        double wm = 0;
        for (int i = 0; i < R; i++)
            wm = fmax(wm, fabs(w[i * C + j]));
        ck_assert_double_eq_tol(s[j], sqrt(t.max_abs[j]) / sqrt(wm), 1e-4 * s[j]);
    }
    for (int i = 0; i < R * C; i++)
        ws[i] = w[i] * s[i % C];
    qgrid_rtn(ws, R, C, 8, 0, 1, NULL, 1.0f, ref);
    for (int i = 0; i < R * C; i++)
        ck_assert_float_eq_tol(o[i], ref[i] / s[i % C], 1e-8);
    ck_assert_double_eq_tol(r.bits_per_weight, 8 + 16.0 / C, 1e-12);
    /* alpha = 0: s = 1 / max|W_j|, every column of W·diag(s) has max 1 */
    sq("smoothquant", "alpha=0", w, &t.c, o, s, &r);
    for (int j = 0; j < C; j++) {
        double m = 0;
        for (int i = 0; i < R; i++)
            m = fmax(m, fabs(w[i * C + j] * s[j]));
        ck_assert_double_eq_tol(m, 1, 1e-5);
    }
    free(w), free(o), free(ws), free(ref);
    tq_calib_free(&t);
}
END_TEST

/* Per-token symmetric int8 of one activation row (what the runner does). */
static void q_token(float *x, int n)
{
    float m = 0;
    for (int i = 0; i < n; i++)
        m = fmaxf(m, fabsf(x[i]));
    float sc = m > 0 ? m / 127 : 1;
    for (int i = 0; i < n; i++)
        x[i] = sc * rintf(x[i] / sc);
}

/* ‖W X - Ŵ X'‖ / ‖W X‖ with X' = s ⊙ Qtok(X / s). */
static double w8a8_err(const float *w, const float *wq, const float *s, const float *x)
{
    float *xq = malloc(NT * C * 4);
    for (int t = 0; t < NT; t++) {
        for (int j = 0; j < C; j++)
            xq[t * C + j] = x[t * C + j] / s[j];
        q_token(xq + t * C, C);
        for (int j = 0; j < C; j++)
            xq[t * C + j] *= s[j];
    }
    double num = 0, den = 0;
    for (int t = 0; t < NT; t++)
        for (int i = 0; i < R; i++) {
            double y = 0, yq = 0;
            for (int j = 0; j < C; j++) {
                y += (double)w[i * C + j] * x[t * C + j];
                yq += (double)wq[i * C + j] * xq[t * C + j];
            }
            num += (y - yq) * (y - yq), den += y * y;
        }
    free(xq);
    return sqrt(num / den);
}

START_TEST(smoothing_helps_w8a8)
{
    tu_seed(62);
    struct tq_calib t;
    tq_calib_make(&t, C, NT, 0.3, 3, 60);   /* 3 channels 60x larger */
    float *w = tq_matrix(R, C, 0.02), *o = malloc(R * C * 4), s[C], ones[C];
    struct quant_report r;
    for (int j = 0; j < C; j++)
        ones[j] = 1;
    sq("rtn", NULL, w, NULL, o, NULL, &r);
    double naive = w8a8_err(w, o, ones, t.x);
    sq("smoothquant", NULL, w, &t.c, o, s, &r);
    double smooth = w8a8_err(w, o, s, t.x);
    ck_assert_msg(smooth < 0.7 * naive, "smoothquant %g naive %g", smooth, naive);
    free(w), free(o);
    tq_calib_free(&t);
}
END_TEST

START_TEST(dead_channel_scale_one)
{
    tu_seed(63);
    struct tq_calib t;
    tq_calib_make(&t, C, NT, 0.3, 0, 1);
    t.max_abs[5] = 0;
    float *w = tq_matrix(R, C, 0.02), *o = malloc(R * C * 4), s[C];
    for (int i = 0; i < R; i++)
        w[i * C + 9] = 0;
    struct quant_report r;
    sq("smoothquant", NULL, w, &t.c, o, s, &r);
    ck_assert_float_eq(s[5], 1);
    ck_assert_float_eq(s[9], 1);
    for (int i = 0; i < R * C; i++)
        ck_assert(isfinite(o[i]));
    free(w), free(o);
    tq_calib_free(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("smoothquant");
    TCase *tc = tcase_create("smoothquant");
    tcase_add_test(tc, scales_and_output);
    tcase_add_test(tc, smoothing_helps_w8a8);
    tcase_add_test(tc, dead_channel_scale_one);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
