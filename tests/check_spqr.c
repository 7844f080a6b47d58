/* SpQR: engine vs reference, the bits/weight accounting, outlier
 * isolation (planted outliers, fractions by bit width), and the ablation
 * switches (outliers off, group size, unquantized statistics). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"
#include "quant/quant_impl.h"
#include "tests/testutil.h"
#include "tests/testutil_quant.h"

enum { R = 32, C = 128 };

static void spqr(int bits, int group, const char *opts, const float *w,
                 const struct quant_calib *c, float *out, struct quant_report *r)
{
    struct quant_spec s;
    struct qerr e = {0};
    ck_assert_int_eq(quant_spec_parse(&s, "spqr", bits, group, 0, opts, &e), 0);
    int rc = quant_apply(&s, w, R, C, c, out, NULL, r, NULL, &e);
    ck_assert_msg(rc == 0, "%s", e.msg);
}

START_TEST(blocked_matches_plain)
{
    tu_seed(41);
    struct tq_calib t;
    tq_calib_make(&t, C, 400, 0.8, 0, 1);
    float *w = tq_matrix(R, C, 0.02), *a = malloc(R * C * 4), *b = malloc(R * C * 4);
    const char *opts[] = {"", "act_order=0,block=24", "outliers=0", "qq_bits=0"};
    for (int k = 0; k < 4; k++) {
        struct quant_spec s;
        struct quant_report ra, rb;
        struct qerr e = {0};
        quant_spec_parse(&s, "spqr", 3, 16, 0, opts[k], &e);
        ck_assert_int_eq(quant_apply(&s, w, R, C, &t.c, a, NULL, &ra, NULL, &e), 0);
        ck_assert_int_eq(spqr_apply_ref(&s, w, R, C, &t.c, b, NULL, &rb, NULL, &e), 0);
        int diff = 0;
        for (int i = 0; i < R * C; i++)
            diff += fabsf(a[i] - b[i]) > 1e-6f;
        ck_assert_msg(diff <= R * C / 100, "'%s': %d differ", opts[k], diff);
        ck_assert_int_le(labs(ra.n_outliers - rb.n_outliers), 2);
    }
    free(w), free(a), free(b);
    tq_calib_free(&t);
}
END_TEST

/* A first group of zeros stays exactly zero (act order off so it is
 * quantized first), with and without outlier detection. */
START_TEST(zero_group)
{
    tu_seed(47);
    struct tq_calib t;
    tq_calib_make(&t, C, 300, 0.5, 0, 1);
    float *w = tq_matrix(R, C, 0.02), *o = malloc(R * C * 4);
    memset(w + 4 * C, 0, 16 * sizeof *w);
    struct quant_report r;
    spqr(3, 16, "act_order=0", w, &t.c, o, &r);
    for (int c = 0; c < 16; c++)
        ck_assert_float_eq(o[4 * C + c], 0);
    spqr(3, 16, "act_order=0,outliers=0", w, &t.c, o, &r);
    for (int c = 0; c < 16; c++)
        ck_assert_float_eq(o[4 * C + c], 0);
    /* the zero row's degenerate statistics must not spoil the 3-bit
     * quantization of its neighbours' scales (same second-level group) */
    float *clean = tq_matrix(R, C, 0.02), *oc = malloc(R * C * 4);
    memcpy(clean, w, R * C * sizeof *w);
    for (int c = 0; c < 16; c++)
        clean[4 * C + c] = 0.01f * (c % 3 - 1);
    spqr(3, 16, "act_order=0,outliers=0", clean, &t.c, oc, &r);
    double e0 = 0, ec = 0;
    for (int rr = 0; rr < 16; rr++)
        for (int c = 0; c < 16 && rr != 4; c++) {
            double a = o[rr * C + c] - w[rr * C + c], b = oc[rr * C + c] - clean[rr * C + c];
            e0 += a * a, ec += b * b;
        }
    if (getenv("QLENS_VERBOSE"))
        fprintf(stderr, "zero row: neighbours %g, clean %g\n", e0, ec);
    ck_assert_msg(e0 < 1.5 * ec, "neighbours' error %g with a zero row, %g without", e0, ec);
    free(clean), free(oc);
    free(w), free(o);
    tq_calib_free(&t);
}
END_TEST

/* With its extras switched off (no outliers, 16-bit statistics, no act
 * order) SpQR is GPTQ: same engine, same grid. */
START_TEST(extras_off_is_gptq)
{
    tu_seed(48);
    struct tq_calib t;
    tq_calib_make(&t, C, 300, 0.8, 0, 1);
    float *w = tq_matrix(R, C, 0.02), *a = malloc(R * C * 4), *b = malloc(R * C * 4);
    int groups[] = {16, 0, 48};
    for (int gi = 0; gi < 3; gi++) {
        struct quant_report r;
        spqr(3, groups[gi], "outliers=0,qq_bits=0,act_order=0", w, &t.c, a, &r);
        struct quant_spec s;
        struct qerr e = {0};
        quant_spec_parse(&s, "gptq", 3, groups[gi], 0, NULL, &e);
        ck_assert_int_eq(quant_apply(&s, w, R, C, &t.c, b, NULL, &r, NULL, &e), 0);
        for (int i = 0; i < R * C; i++)
            ck_assert_float_eq(a[i], b[i]);
    }
    free(w), free(a), free(b);
    tq_calib_free(&t);
}
END_TEST

/* The paper's count: b + (3 + 3)/16 + 4·16/(16·16) = b + 0.625 bits with
 * 3-bit statistics, plus 32 bits per outlier. */
START_TEST(bits_per_weight_accounting)
{
    tu_seed(42);
    struct tq_calib t;
    tq_calib_make(&t, C, 300, 0.5, 0, 1);
    float *w = tq_matrix(R, C, 0.02), *o = malloc(R * C * 4);
    struct quant_report r;
    spqr(3, 16, "outliers=0", w, &t.c, o, &r);
    ck_assert_int_eq(r.n_outliers, 0);
    ck_assert_double_eq_tol(r.bits_per_weight, 3.625, 1e-12);
    spqr(3, 16, "outliers=0,qq_bits=0", w, &t.c, o, &r);   /* 16-bit scale + zero */
    ck_assert_double_eq_tol(r.bits_per_weight, 3 + 32.0 / 16, 1e-12);
    spqr(2, 128, "outliers=0", w, &t.c, o, &r);
    ck_assert_double_eq_tol(r.bits_per_weight, 2 + 6.0 / 128 + 64.0 / (128 * 16), 1e-12);
    spqr(3, 16, NULL, w, &t.c, o, &r);
    ck_assert_double_eq_tol(r.bits_per_weight, 3.625 + 32.0 * r.outlier_frac, 1e-12);
    ck_assert_double_eq_tol(r.outlier_frac, (double)r.n_outliers / (R * C), 1e-15);
    free(w), free(o);
    tq_calib_free(&t);
}
END_TEST

/* Planted weight outliers (40 sd) are kept in float -- at their
 * error-compensated value (GPTQ feedback from earlier columns moves them
 * slightly), so close to, not equal to, the original. */
START_TEST(planted_outliers_kept)
{
    tu_seed(43);
    struct tq_calib t;
    tq_calib_make(&t, C, 400, 0.5, 0, 1);
    float *w = tq_matrix(R, C, 0.02), *o = malloc(R * C * 4), *o2 = malloc(R * C * 4);
    int pos[12];
    for (int k = 0; k < 12; k++) {
        pos[k] = (k * 5 % R) * C + (k * 37 + 3) % C;
        w[pos[k]] = k & 1 ? 0.8f : -0.8f;
    }
    struct quant_report r, r0;
    spqr(3, 16, NULL, w, &t.c, o, &r);
    ck_assert_int_ge(r.n_outliers, 12);
    spqr(3, 16, "outliers=0", w, &t.c, o2, &r0);
    for (int k = 0; k < 12; k++) {
        ck_assert_msg(fabsf(o[pos[k]] - w[pos[k]]) < 0.03f, "outlier %d: %g -> %g", k,
                      w[pos[k]], o[pos[k]]);
    }
    ck_assert_msg(r.out_err < 0.8 * r0.out_err, "with %g without %g", r.out_err, r0.out_err);
    free(w), free(o), free(o2);
    tq_calib_free(&t);
}
END_TEST

/* The kept-weight mask (quant_side.fp_weights, shown by the dashboard's
 * Quant view) has one entry per kept weight, in the original column
 * order even with act_order permuting the columns, and covers the
 * planted outliers. */
START_TEST(kept_mask_marks_outliers)
{
    tu_seed(47);
    struct tq_calib t;
    tq_calib_make(&t, C, 400, 0.5, 0, 1);
    float *w = tq_matrix(R, C, 0.02), *o = malloc(R * C * 4);
    unsigned char *m = malloc(R * C);
    int pos[8];
    for (int k = 0; k < 8; k++) {
        pos[k] = (k * 7 % R) * C + (k * 29 + 5) % C;
        w[pos[k]] = k & 1 ? 0.9f : -0.9f;
    }
    for (int ao = 0; ao <= 1; ao++) {
        struct quant_spec s;
        struct qerr e = {0};
        ck_assert_int_eq(quant_spec_parse(&s, "spqr", 3, 16, 0, ao ? "act_order=1" : NULL, &e), 0);
        struct quant_side side;
        memset(&side, 0, sizeof side);
        side.fp_weights = m;
        memset(m, 7, R * C);
        struct quant_report r;
        ck_assert_int_eq(quant_apply(&s, w, R, C, &t.c, o, &side, &r, NULL, &e), 0);
        ck_assert_int_eq(side.has_fp_weights, 1);
        long n = 0;
        for (int i = 0; i < R * C; i++) {
            ck_assert_int_le(m[i], 1);
            n += m[i];
        }
        ck_assert_int_eq(n, r.n_outliers);
        for (int k = 0; k < 8; k++)
            ck_assert_msg(m[pos[k]], "act_order %d: planted outlier %d not marked", ao, k);
    }
    /* Methods that keep no weights say so. */
    struct quant_spec s;
    struct qerr e = {0};
    ck_assert_int_eq(quant_spec_parse(&s, "rtn", 3, 16, 0, NULL, &e), 0);
    struct quant_side side = {.fp_weights = m, .has_fp_weights = 1};
    struct quant_report r;
    ck_assert_int_eq(quant_apply(&s, w, R, C, NULL, o, &side, &r, NULL, &e), 0);
    ck_assert_int_eq(side.has_fp_weights, 0);
    free(w), free(o), free(m);
    tq_calib_free(&t);
}
END_TEST

/* Fewer bits -> more weights exceed the error threshold (the paper's
 * Table 5 shape: ~11% at 2 bits, ~1.7% at 3, ~0.04% at 4). */
START_TEST(outlier_fraction_falls_with_bits)
{
    tu_seed(44);
    struct tq_calib t;
    tq_calib_make(&t, C, 400, 0.8, 0, 1);
    float *w = tq_matrix(R, C, 0.02), *o = malloc(R * C * 4);
    struct quant_report r;
    double prev = 2;
    for (int bits = 2; bits <= 4; bits++) {
        spqr(bits, 16, NULL, w, &t.c, o, &r);
        ck_assert_msg(r.outlier_frac < prev, "%d bits: %g", bits, r.outlier_frac);
        prev = r.outlier_frac;
    }
    spqr(2, 16, NULL, w, &t.c, o, &r);
    ck_assert(r.outlier_frac > 0.01 && r.outlier_frac < 0.3);
    free(w), free(o);
    tq_calib_free(&t);
}
END_TEST

/* The ablation knobs move the error the right way at 2 bits. */
START_TEST(ablation_directions)
{
    tu_seed(45);
    struct tq_calib t;
    tq_calib_make(&t, C, 400, 0.8, 0, 1);
    float *w = tq_matrix(R, C, 0.02), *o = malloc(R * C * 4);
    for (int k = 0; k < 40; k++)   /* heavy-tailed weights */
        w[(k * 11 % R) * C + (k * 29) % C] *= 12;
    struct quant_report g16, g16n, g128, gptq;
    spqr(2, 16, NULL, w, &t.c, o, &g16);
    spqr(2, 16, "outliers=0", w, &t.c, o, &g16n);
    spqr(2, 128, NULL, w, &t.c, o, &g128);
    struct quant_spec s;
    struct qerr e = {0};
    quant_spec_parse(&s, "gptq", 2, 16, 0, NULL, &e);
    ck_assert_int_eq(quant_apply(&s, w, R, C, &t.c, o, NULL, &gptq, NULL, &e), 0);
    ck_assert(g16.out_err < g16n.out_err);
    ck_assert(g16.out_err < g128.out_err);
    ck_assert(g16.out_err < gptq.out_err);
    ck_assert(g16n.n_outliers == 0 && g16.n_outliers > 0);
    free(w), free(o);
    tq_calib_free(&t);
}
END_TEST

/* At 8 bits the 3-bit zero points dominate the error; unquantized
 * statistics (qq_bits=0) remove that floor. */
START_TEST(stat_quantization_floor)
{
    tu_seed(46);
    struct tq_calib t;
    tq_calib_make(&t, C, 300, 0.5, 0, 1);
    float *w = tq_matrix(R, C, 0.02), *o = malloc(R * C * 4);
    struct quant_report q3, q0;
    spqr(8, 16, "outliers=0", w, &t.c, o, &q3);
    spqr(8, 16, "outliers=0,qq_bits=0", w, &t.c, o, &q0);
    ck_assert(q0.rel_fro < 0.01);
    ck_assert(q0.rel_fro < q3.rel_fro);
    free(w), free(o);
    tq_calib_free(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("spqr");
    TCase *tc = tcase_create("spqr");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, blocked_matches_plain);
    tcase_add_test(tc, kept_mask_marks_outliers);
    tcase_add_test(tc, bits_per_weight_accounting);
    tcase_add_test(tc, zero_group);
    tcase_add_test(tc, extras_off_is_gptq);
    tcase_add_test(tc, planted_outliers_kept);
    tcase_add_test(tc, outlier_fraction_falls_with_bits);
    tcase_add_test(tc, ablation_directions);
    tcase_add_test(tc, stat_quantization_floor);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
