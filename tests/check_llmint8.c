/* LLM.int8: outlier features by calibration max |x|, float columns,
 * per-row absmax int8 elsewhere. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"
#include "tests/testutil.h"
#include "tests/testutil_quant.h"

enum { R = 16, C = 40 };

static int run(const char *opts, const float *w, const float *amax, float *out,
               unsigned char *fp, struct quant_report *r, struct qerr *e)
{
    struct quant_spec s;
    ck_assert_int_eq(quant_spec_parse(&s, "llm.int8", 0, QUANT_GROUP_DEFAULT, -1, opts, e), 0);
    ck_assert_int_eq(s.bits, 8);
    ck_assert_int_eq(s.group, 0);
    ck_assert_int_eq(s.sym, 1);
    struct quant_calib c = {.act_max_abs = amax};
    struct quant_side side = {.fp_cols = fp};
    int rc = quant_apply(&s, w, R, C, &c, out, &side, r, NULL, e);
    if (rc == 0)
        ck_assert(side.has_fp_cols);
    return rc;
}

/* Per-row absmax int8 over the non-outlier columns, written out plainly. */
static void ref(const float *w, const unsigned char *fp, float *out)
{
    for (int r = 0; r < R; r++) {
        double amax = 0;
        for (int c = 0; c < C; c++)
            if (!fp[c])
                amax = fmax(amax, fabs(w[r * C + c]));
        float scale = amax > 0 ? (float)(amax / 127) : 1.0f;
        for (int c = 0; c < C; c++) {
            float q = rintf(w[r * C + c] / scale);
            q = q > 127 ? 127 : q < -127 ? -127 : q;
            out[r * C + c] = fp[c] ? w[r * C + c] : scale * q;
        }
    }
}

START_TEST(outlier_features)
{
    tu_seed(51);
    float *w = tq_matrix(R, C, 0.02), out[R * C], expect[R * C], amax[C];
    unsigned char fp[C], want[C];
    for (int c = 0; c < C; c++) {
        amax[c] = (float)(1 + 2 * tu_uniform());
        want[c] = 0;
    }
    amax[3] = 6.0f, amax[17] = 40.0f, amax[39] = 5.999f;   /* >= 6 counts */
    want[3] = want[17] = 1;
    w[2 * C + 17] = 1.5f;   /* a big weight in a float column: no effect on the row scale */
    struct quant_report r;
    struct qerr e = {0};
    ck_assert_int_eq(run(NULL, w, amax, out, fp, &r, &e), 0);
    ck_assert_int_eq(r.n_outlier_features, 2);
    ck_assert_int_eq(memcmp(fp, want, C), 0);
    ref(w, want, expect);
    for (int i = 0; i < R * C; i++)
        ck_assert_float_eq_tol(out[i], expect[i], 1e-9);
    for (int rr = 0; rr < R; rr++)
        ck_assert_float_eq(out[rr * C + 17], w[rr * C + 17]);
    /* 8 bits per int8 weight + a 16-bit scale per row + 16 bits per float weight */
    double n = R * C;
    ck_assert_double_eq_tol(r.bits_per_weight, (R * (C - 2) * 8.0 + R * 16 + R * 2 * 16) / n,
                            1e-12);
    free(w);
}
END_TEST

START_TEST(threshold_option)
{
    tu_seed(52);
    float *w = tq_matrix(R, C, 0.02), out[R * C], amax[C];
    unsigned char fp[C];
    for (int c = 0; c < C; c++)
        amax[c] = (float)c;          /* features 0..39: max |x| = c */
    struct quant_report r;
    struct qerr e = {0};
    ck_assert_int_eq(run("threshold=20", w, amax, out, fp, &r, &e), 0);
    ck_assert_int_eq(r.n_outlier_features, 20);
    ck_assert_int_eq(run("threshold=1e9", w, amax, out, fp, &r, &e), 0);
    ck_assert_int_eq(r.n_outlier_features, 0);
    ck_assert_double_eq_tol(r.bits_per_weight, 8 + 16.0 / C, 1e-12);
    ck_assert_int_eq(run("threshold=0", w, amax, out, fp, &r, &e), 0);   /* all float */
    ck_assert_int_eq(r.n_outlier_features, C);
    ck_assert_double_eq(r.sqnr_db, 300);
    struct quant_spec sp;
    ck_assert_int_eq(quant_spec_parse(&sp, "llm.int8", 8, 0, 1, "threshold=-1", &e), QERR_ARG);
    free(w);
}
END_TEST

/* Only a sample x: the max |x| is taken from it. */
START_TEST(sample_only)
{
    tu_seed(53);
    struct tq_calib t;
    tq_calib_make(&t, C, 200, 0.3, 3, 8);
    float *w = tq_matrix(R, C, 0.02), out[R * C];
    struct quant_spec s;
    struct qerr e = {0};
    struct quant_report a, b;
    quant_spec_parse(&s, "llm.int8", 8, 0, 1, NULL, &e);
    struct quant_calib c = {.x = t.x, .n_x = t.n};
    ck_assert_int_eq(quant_apply(&s, w, R, C, &c, out, NULL, &a, NULL, &e), 0);
    ck_assert_int_eq(quant_apply(&s, w, R, C, &t.c, out, NULL, &b, NULL, &e), 0);
    ck_assert_int_eq(a.n_outlier_features, b.n_outlier_features);
    ck_assert_int_gt(a.n_outlier_features, 0);
    free(w);
    tq_calib_free(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("llmint8");
    TCase *tc = tcase_create("llmint8");
    tcase_add_test(tc, outlier_features);
    tcase_add_test(tc, threshold_option);
    tcase_add_test(tc, sample_only);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
