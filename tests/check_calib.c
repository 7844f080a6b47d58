/* check_calib: calibration capture (XᵀX, per-channel |x|, merged moments)
 * against direct computations, site selection, and capture / fake-quant
 * through the real forward pass. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stats.h"
#include "src/calib.h"
#include "src/forward.h"
#include "src/model.h"
#include "tests/testutil.h"

static struct qconfig small_cfg(void)
{
    struct qconfig c = {.dim = 13, .hidden_dim = 21, .n_layers = 3, .n_heads = 2,
                        .n_kv_heads = 1, .head_dim = 6, .vocab_size = 50};
    return c;
}

static float *randmat(int n, int d, double scale)
{
    float *x = malloc((size_t)n * d * sizeof(float));
    for (int i = 0; i < n * d; i++)
        x[i] = (float)(tu_normal() * scale + (i % d == 2 ? 3.0 : 0.0));
    return x;
}

START_TEST(test_degenerate)
{
    struct calib c;
    struct qerr err = {0};
    struct qconfig cfg = small_cfg();
    cfg.n_layers = 0;
    ck_assert_int_eq(calib_init(&c, &cfg, &err), QERR_ARG);
    calib_free(&c);
    cfg = small_cfg();
    ck_assert_int_eq(calib_init(&c, &cfg, &err), 0);
    ck_assert_ptr_null(calib_get(&c, -1, 0));
    ck_assert_ptr_null(calib_get(&c, 3, 0));
    ck_assert_ptr_null(calib_get(&c, 0, CALIB__NSITES));
    struct calib_acc *a = calib_get(&c, 1, CALIB_FFN_DOWN);
    ck_assert_int_eq(a->dim, 21);
    ck_assert_int_eq(calib_get(&c, 1, CALIB_ATTN_OUT)->dim, 12);
    ck_assert_int_eq(calib_get(&c, 1, CALIB_K)->dim, 6);
    /* nothing selected: adding is a no-op, nothing allocated */
    float x[21] = {1};
    ck_assert_int_eq(calib_acc_add(&c, a, x, 1, 21), 0);
    ck_assert_uint_eq(a->n_rows, 0);
    ck_assert_ptr_null(a->xtx);
    /* wrong width is an error; zero rows is nothing */
    calib_select(&c, 1, CALIB_FFN_DOWN, CALIB_ALL);
    ck_assert_int_eq(calib_acc_add(&c, a, x, 1, 20), QERR_ARG);
    ck_assert_int_eq(calib_acc_add(&c, a, x, 0, 21), 0);
    struct stats s;
    calib_acc_stats(a, &s);
    ck_assert_uint_eq(s.n, 0);
    ck_assert_str_eq(calib_site_name(CALIB_FFN_DOWN), "ffn_down");
    ck_assert_str_eq(calib_site_name(99), "?");
    calib_free(&c);
    calib_free(&c);
}
END_TEST

/* XᵀX, mean |x|, max |x| over three batches vs a direct double computation. */
START_TEST(test_hessian_channel_direct)
{
    struct calib c;
    struct qerr err = {0};
    struct qconfig cfg = small_cfg();
    ck_assert_int_eq(calib_init(&c, &cfg, &err), 0);
    ck_assert_int_eq(calib_select(&c, 2, CALIB_ATTN_IN, CALIB_HESSIAN | CALIB_CHANNEL), 0);
    struct calib_acc *a = calib_get(&c, 2, CALIB_ATTN_IN);
    ck_assert_ptr_null(calib_get(&c, 1, CALIB_ATTN_IN)->xtx); /* only layer 2 */
    int d = 13, ns[3] = {37, 1, 64}, N = 102;
    tu_seed(17);
    float *all = malloc((size_t)N * d * sizeof(float));
    int off = 0;
    for (int b = 0; b < 3; b++) {
        float *x = randmat(ns[b], d, 1.5);
        memcpy(all + (size_t)off * d, x, (size_t)ns[b] * d * sizeof(float));
        ck_assert_int_eq(calib_acc_add(&c, a, x, ns[b], d), 0);
        off += ns[b];
        free(x);
    }
    ck_assert_uint_eq(a->n_rows, (uint64_t)N);
    for (int i = 0; i < d; i++) {
        double sa = 0, mx = 0;
        for (int r = 0; r < N; r++) {
            sa += fabs(all[r * d + i]);
            mx = fmax(mx, fabs(all[r * d + i]));
        }
        ck_assert_double_eq_tol(a->sum_abs[i] / N, sa / N, 1e-9);
        ck_assert_float_eq(a->max_abs[i], (float)mx);
        for (int j = 0; j < d; j++) {
            double h = 0;
            for (int r = 0; r < N; r++)
                h += (double)all[r * d + i] * all[r * d + j];
            ck_assert_msg(fabs(a->xtx[i * d + j] - h) <= 1e-4 * fmax(1, fabs(h)),
                          "xtx[%d,%d] %g vs %g", i, j, a->xtx[i * d + j], h);
        }
    }
    /* reset keeps buffers but zeroes */
    calib_reset(&c);
    ck_assert_uint_eq(a->n_rows, 0);
    ck_assert_double_eq(a->xtx[5], 0.0);
    ck_assert_double_eq(a->sum_abs[2], 0.0);
    /* deselect frees */
    calib_select(&c, -1, -1, 0);
    ck_assert_ptr_null(a->xtx);
    ck_assert_ptr_null(a->sum_abs);
    free(all);
    calib_free(&c);
}
END_TEST

/* Moments merged over batches equal stats_compute_ref on all values. */
START_TEST(test_stats_merge)
{
    struct calib c;
    struct qerr err = {0};
    struct qconfig cfg = small_cfg();
    ck_assert_int_eq(calib_init(&c, &cfg, &err), 0);
    calib_select(&c, 0, CALIB_FFN_DOWN, CALIB_STATS);
    struct calib_acc *a = calib_get(&c, 0, CALIB_FFN_DOWN);
    int d = 21, ns[4] = {5, 50, 1, 30}, N = 86;
    tu_seed(5);
    float *all = malloc((size_t)N * d * sizeof(float));
    int off = 0;
    for (int b = 0; b < 4; b++) {
        float *x = randmat(ns[b], d, 2.0 + b); /* batches with different spreads */
        if (b == 1)
            x[7] = 40.0f; /* an outlier beyond 6 */
        memcpy(all + (size_t)off * d, x, (size_t)ns[b] * d * sizeof(float));
        calib_acc_add(&c, a, x, ns[b], d);
        off += ns[b];
        free(x);
    }
    struct stats got, want;
    struct stats_opts o;
    stats_opts_default(&o);
    calib_acc_stats(a, &got);
    stats_compute_ref(all, (size_t)N * d, &o, &want);
    ck_assert_uint_eq(got.n, want.n);
    ck_assert_double_eq_tol(got.mean, want.mean, 1e-9);
    ck_assert_double_eq_tol(got.std, want.std, 1e-9);
    ck_assert_double_eq_tol(got.skew, want.skew, 1e-8);
    ck_assert_double_eq_tol(got.kurt, want.kurt, 1e-8);
    ck_assert_double_eq_tol(got.exkurt, want.exkurt, 1e-8);
    ck_assert_double_eq(got.absmax, want.absmax);
    ck_assert_double_eq(got.min, want.min);
    ck_assert_double_eq(got.max, want.max);
    ck_assert_uint_eq(got.n_abs, want.n_abs);
    ck_assert_double_eq_tol(got.absmax_over_std, want.absmax_over_std, 1e-8);
    ck_assert_int_eq(got.degenerate, 0);
    free(all);
    calib_free(&c);
}
END_TEST

START_TEST(test_stats_nonfinite_constant)
{
    struct calib c;
    struct qerr err = {0};
    struct qconfig cfg = small_cfg();
    calib_init(&c, &cfg, &err);
    calib_select(&c, 0, CALIB_K, CALIB_STATS | CALIB_CHANNEL);
    struct calib_acc *a = calib_get(&c, 0, CALIB_K);
    float x[12] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, NAN, INFINITY};
    calib_acc_add(&c, a, x, 2, 6);
    struct stats s;
    calib_acc_stats(a, &s);
    ck_assert_uint_eq(s.n, 10);
    ck_assert_uint_eq(s.n_nonfinite, 2);
    ck_assert_double_eq(s.std, 0.0);
    ck_assert_int_eq(s.degenerate, 1);
    ck_assert_double_eq(s.kurt, 0.0);
    ck_assert_float_eq(a->max_abs[4], 2.0f); /* NaN skipped */
    calib_free(&c);
}
END_TEST

/* ---- through the real forward pass ---- */

struct rec {
    float *x;
    int n, d;
};

static int record_ffn_in(void *ud, int layer, enum qrole role, float *x, int n, int in_dim)
{
    struct rec *r = ud;
    if (layer == 1 && role == QR_FFN_GATE) {
        r->x = malloc((size_t)n * in_dim * sizeof(float));
        memcpy(r->x, x, (size_t)n * in_dim * sizeof(float));
        r->n = n;
        r->d = in_dim;
    }
    return 0;
}

START_TEST(test_forward_capture)
{
    struct qmodel m;
    struct fwd f;
    struct calib c;
    struct qerr err = {0};
    ck_assert_int_eq(qmodel_open(&m, tu_shared("models/stories260K.bin"), &err), 0);
    int n = 48;
    int toks[48];
    tu_seed(8);
    for (int i = 0; i < n; i++)
        toks[i] = (int)(tu_uniform() * m.cfg.vocab_size);
    float *logits = malloc((size_t)n * m.cfg.vocab_size * sizeof(float));
    ck_assert_int_eq(fwd_init(&f, &m, n, &err), 0);
    ck_assert_int_eq(calib_init(&c, &m.cfg, &err), 0);
    calib_select(&c, 1, -1, CALIB_ALL); /* one layer only */
    struct fwd_hooks h;
    calib_hooks(&c, &h);
    ck_assert_int_eq(fwd_chunk(&f, toks, n, logits, &h), 0);
    ck_assert_int_eq(fwd_chunk(&f, toks, n, logits, &h), 0); /* twice: sums double */
    struct rec r = {0};
    struct fwd_hooks hr = {&r, record_ffn_in, NULL};
    ck_assert_int_eq(fwd_chunk(&f, toks, n, logits, &hr), 0);
    struct calib_acc *a = calib_get(&c, 1, CALIB_FFN_IN);
    ck_assert_uint_eq(a->n_rows, 2 * (uint64_t)n);
    ck_assert_uint_eq(calib_get(&c, 0, CALIB_FFN_IN)->n_rows, 0);
    ck_assert_uint_eq(calib_get(&c, 1, CALIB_V)->n_rows, 2 * (uint64_t)n);
    int d = r.d;
    for (int i = 0; i < d; i += 5)
        for (int j = 0; j < d; j += 3) {
            double hsum = 0;
            for (int t = 0; t < n; t++)
                hsum += (double)r.x[t * d + i] * r.x[t * d + j];
            ck_assert(fabs(a->xtx[i * d + j] - 2 * hsum) <= 1e-4 * fmax(1, fabs(hsum)));
        }
    free(r.x);
    calib_free(&c);
    fwd_free(&f);
    free(logits);
    qmodel_close(&m);
}
END_TEST

/* Fake-quant through the hooks: 8 bits moves logits a little (max 0.49 on
 * stories260K, whose logits span ~30), 3 bits moves
 * them more; K/V quant alone changes them too. */
START_TEST(test_forward_fakequant)
{
    struct qmodel m;
    struct fwd f;
    struct calib c;
    struct qerr err = {0};
    ck_assert_int_eq(qmodel_open(&m, tu_shared("models/stories260K.bin"), &err), 0);
    int n = 32, V = m.cfg.vocab_size;
    int toks[32];
    for (int i = 0; i < n; i++)
        toks[i] = 1 + (i * 37) % (V - 1);
    float *a = malloc((size_t)n * V * sizeof(float)), *b = malloc((size_t)n * V * sizeof(float));
    ck_assert_int_eq(fwd_init(&f, &m, n, &err), 0);
    ck_assert_int_eq(calib_init(&c, &m.cfg, &err), 0);
    struct fwd_hooks h;
    calib_hooks(&c, &h);
    ck_assert_int_eq(fwd_chunk(&f, toks, n, a, NULL), 0);
    double dev[3];
    int bits[3] = {8, 3, 0};
    for (int k = 0; k < 3; k++) {
        c.act_bits = bits[k];
        c.kv_bits = k == 2 ? 3 : 0;
        c.k_axis = CALIB_PER_CHANNEL;
        c.kv_group = 16;
        ck_assert_int_eq(fwd_chunk(&f, toks, n, b, &h), 0);
        dev[k] = 0;
        for (int i = 0; i < n * V; i++)
            dev[k] = fmax(dev[k], fabs(a[i] - b[i]));
    }
    ck_assert_msg(dev[0] > 0 && dev[0] < 1.0, "8-bit deviation %g, 3-bit %g, kv %g", dev[0], dev[1], dev[2]);
    ck_assert(dev[1] > 3 * dev[0]);
    ck_assert(dev[2] > 0);
    c.act_bits = 1; /* invalid: the pass fails with the reason */
    ck_assert_int_eq(fwd_chunk(&f, toks, n, b, &h), QERR_ARG);
    calib_free(&c);
    fwd_free(&f);
    free(a); free(b);
    qmodel_close(&m);
}
END_TEST

static Suite *calib_suite(void)
{
    Suite *s = suite_create("calib");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_degenerate);
    tcase_add_test(tc, test_hessian_channel_direct);
    tcase_add_test(tc, test_stats_merge);
    tcase_add_test(tc, test_stats_nonfinite_constant);
    tcase_add_test(tc, test_forward_capture);
    tcase_add_test(tc, test_forward_fakequant);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(calib_suite());
}
