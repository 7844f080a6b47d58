/* Tests of analysis/stats: degenerate inputs first, then the fast path
 * against the two-pass reference, known distributions, per-channel and
 * histograms. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stats.h"
#include "tests/testutil.h"

static float *fill_normal(size_t n, double mu, double sigma)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(mu + sigma * tu_normal());
    return x;
}

static int close_rel(double a, double b, double tol, double scale)
{
    double s = fabs(b) > scale ? fabs(b) : scale;
    return fabs(a - b) <= tol * s;
}

/* The fast path must match the reference: moments to ~1e-9 relative,
 * min/max/counts exactly. */
static void expect_same(const struct stats *f, const struct stats *r, const char *what)
{
    ck_assert_msg(f->n == r->n, "%s: n %llu vs %llu", what, (unsigned long long)f->n,
                  (unsigned long long)r->n);
    ck_assert_msg(f->n_nonfinite == r->n_nonfinite, "%s: nonfinite", what);
    ck_assert_msg(f->min == r->min && f->max == r->max && f->absmax == r->absmax,
                  "%s: min/max %g %g vs %g %g", what, f->min, f->max, r->min, r->max);
    double sc = r->std > 0 ? r->std : 1e-300;
    ck_assert_msg(close_rel(f->mean, r->mean, 1e-12, sc), "%s: mean %.17g vs %.17g", what,
                  f->mean, r->mean);
    ck_assert_msg(close_rel(f->std, r->std, 1e-10, 0), "%s: std %.17g vs %.17g", what, f->std,
                  r->std);
    ck_assert_msg(close_rel(f->skew, r->skew, 1e-8, 1e-3), "%s: skew %.17g vs %.17g", what,
                  f->skew, r->skew);
    ck_assert_msg(close_rel(f->kurt, r->kurt, 1e-9, 0), "%s: kurt %.17g vs %.17g", what,
                  f->kurt, r->kurt);
    ck_assert(close_rel(f->exkurt, r->exkurt, 1e-8, 1e-3));
    ck_assert(close_rel(f->absmax_over_std, r->absmax_over_std, 1e-10, 0));
    ck_assert_msg(f->n_k3 == r->n_k3 && f->n_k6 == r->n_k6 && f->n_abs == r->n_abs,
                  "%s: counts %llu/%llu/%llu vs %llu/%llu/%llu", what,
                  (unsigned long long)f->n_k3, (unsigned long long)f->n_k6,
                  (unsigned long long)f->n_abs, (unsigned long long)r->n_k3,
                  (unsigned long long)r->n_k6, (unsigned long long)r->n_abs);
    ck_assert(f->frac_k3 == r->frac_k3 && f->frac_k6 == r->frac_k6 && f->frac_abs == r->frac_abs);
    ck_assert(f->degenerate == r->degenerate);
    ck_assert(f->abs_thresh == r->abs_thresh || (isnan(f->abs_thresh) && isnan(r->abs_thresh)));
}

static void both(const float *x, size_t n, const struct stats_opts *o, struct stats *f,
                 const char *what)
{
    struct stats r;
    stats_compute(x, n, o, f);
    stats_compute_ref(x, n, o, &r);
    expect_same(f, &r, what);
}

/* ---- degenerate inputs ---- */

START_TEST(test_empty)
{
    struct stats s;
    float dummy = 1;
    both(&dummy, 0, NULL, &s, "n=0");
    ck_assert(s.n == 0 && s.n_nonfinite == 0 && s.mean == 0 && s.std == 0 && s.kurt == 0);
    ck_assert(s.min == 0 && s.max == 0 && s.frac_k3 == 0 && s.frac_abs == 0);
    ck_assert(s.abs_thresh == 6.0);
    stats_compute(NULL, 0, NULL, &s); /* NULL with n = 0 is fine */
    ck_assert(s.n == 0);
}
END_TEST

START_TEST(test_one)
{
    struct stats s;
    float x = -7.5f;
    both(&x, 1, NULL, &s, "n=1");
    ck_assert(s.n == 1 && s.mean == -7.5 && s.min == -7.5 && s.max == -7.5);
    ck_assert(s.absmax == 7.5 && s.std == 0 && s.degenerate == 1);
    ck_assert(s.skew == 0 && s.kurt == 0 && s.absmax_over_std == 0);
    ck_assert(s.n_k3 == 0 && s.n_abs == 1); /* |x| > 6 */
}
END_TEST

START_TEST(test_constant)
{
    size_t sizes[] = {2, 63, 64, 65, 4096, 10001};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        float *x = malloc(n * sizeof *x);
        for (size_t i = 0; i < n; i++)
            x[i] = 0.1f; /* not representable: mean must still be exact */
        struct stats s;
        both(x, n, NULL, &s, "constant");
        ck_assert(s.mean == (double)0.1f && s.std == 0 && s.degenerate == 1);
        ck_assert(s.kurt == 0 && s.skew == 0 && s.n_k3 == 0 && s.n_k6 == 0);
        ck_assert(!isnan(s.absmax_over_std));
        free(x);
    }
}
END_TEST

START_TEST(test_all_nonfinite)
{
    float x[100];
    for (int i = 0; i < 100; i++)
        x[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;
    struct stats s;
    both(x, 100, NULL, &s, "all non-finite");
    ck_assert(s.n == 0 && s.n_nonfinite == 100);
    ck_assert(s.mean == 0 && s.std == 0 && isfinite(s.kurt) && s.n_abs == 0);
}
END_TEST

START_TEST(test_nonfinite_mixed)
{
    tu_seed(11);
    size_t n = 3 * 4096 + 77;
    float *x = fill_normal(n, 0.5, 2.0);
    float *clean = malloc(n * sizeof *clean);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 997 == 5)
            x[i] = NAN;
        else if (i % 1499 == 3)
            x[i] = (i & 1) ? INFINITY : -INFINITY;
        else
            clean[m++] = x[i];
    }
    struct stats s, c;
    both(x, n, NULL, &s, "mixed");
    ck_assert(s.n == m && s.n_nonfinite == n - m);
    stats_compute_ref(clean, m, NULL, &c); /* non-finite excluded from all */
    s.n_nonfinite = 0;
    expect_same(&s, &c, "mixed vs clean");
    free(x);
    free(clean);
}
END_TEST

START_TEST(test_huge_outlier)
{
    tu_seed(12);
    size_t n = 50000;
    float *x = fill_normal(n, 0, 1e-3);
    x[31337] = 3e30f;
    struct stats s;
    both(x, n, NULL, &s, "outlier");
    ck_assert(s.absmax == (double)3e30f && s.n_k3 == 1 && s.n_abs == 1);
    /* one point dominates: a two-point law with p = 1/n, whose Pearson
     * kurtosis is (1 - 3p + 3p^2) / (p (1 - p)) = n - 2 + 1/(n - 1) */
    ck_assert_msg(fabs(s.kurt - (n - 2.0 + 1.0 / (n - 1))) < 1e-6 * n, "kurt %g", s.kurt);
    x[0] = -FLT_MAX; /* extremes must not overflow the double sums */
    x[1] = FLT_MAX;
    both(x, n, NULL, &s, "FLT_MAX");
    ck_assert(isfinite(s.kurt) && isfinite(s.std));
    free(x);
}
END_TEST

START_TEST(test_denormals)
{
    size_t n = 1000;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(i % 7) * 1e-44f; /* subnormal floats */
    struct stats s;
    both(x, n, NULL, &s, "denormals");
    ck_assert(s.std > 0 && s.degenerate == 0 && s.max == (double)(6 * 1e-44f));
    free(x);
}
END_TEST

/* ---- against the reference on random data ---- */

START_TEST(test_sizes_vs_ref)
{
    tu_seed(13);
    size_t extra[] = {127, 128, 129, 4095, 4096, 4097, 8191, 12289, 65536, 65600, 100003};
    for (size_t n = 2; n < 300; n += 1 + n / 16) {
        float *x = fill_normal(n, 0.1, 1.5);
        struct stats s;
        both(x, n, NULL, &s, "small");
        free(x);
    }
    for (size_t k = 0; k < sizeof extra / sizeof *extra; k++) {
        float *x = fill_normal(extra[k], -0.3, 0.02);
        struct stats s;
        struct stats_opts o = {.abs_thresh = 0.03};
        both(x, extra[k], &o, &s, "sizes");
        ck_assert(s.n_abs > 0 && (extra[k] < 4096 || s.n_k3 > 0));
        free(x);
    }
}
END_TEST

START_TEST(test_large_mean)
{
    tu_seed(14);
    size_t n = 300000;
    float *x = fill_normal(n, 1e4, 1.0);
    struct stats s;
    both(x, n, NULL, &s, "1e4 + N(0,1)");
    ck_assert(fabs(s.std - 1.0) < 0.01 && fabs(s.kurt - 3.0) < 0.05);
    /* a step: the running shift is suddenly far from the data */
    for (size_t i = n / 2; i < n; i++)
        x[i] -= 2e4f;
    both(x, n, NULL, &s, "step");
    ck_assert(fabs(s.kurt - 1.0) < 1e-3); /* two far clusters ~ two-point */
    free(x);
}
END_TEST

START_TEST(test_heavy_tails_counts)
{
    tu_seed(15);
    size_t n = 200001;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) { /* Student-t-like: normal / sqrt(u) */
        double u = tu_uniform() + 1e-3;
        x[i] = (float)(tu_normal() / sqrt(u));
    }
    struct stats s;
    both(x, n, NULL, &s, "heavy tails");
    ck_assert(s.n_k6 > 0 && s.kurt > 6);
    free(x);
}
END_TEST

/* Pass 2 takes candidates collected against the running std where that
 * was no wider than the final one, and re-reads elsewhere: make the std
 * drift both ways along the array, and overflow the candidate store. */
START_TEST(test_drift_and_many_candidates)
{
    tu_seed(20);
    size_t n = 400000;
    float *x = malloc(n * sizeof *x);
    for (int order = 0; order < 2; order++) {
        for (size_t i = 0; i < n; i++) {
            int first = i < n / 2;
            x[i] = (float)(tu_normal() * ((first ^ order) ? 1.0 : 4.0));
        }
        struct stats s;
        both(x, n, NULL, &s, order ? "std 4 then 1" : "std 1 then 4");
        ck_assert(s.n_k3 > 100 && s.n_abs > 100);
        struct stats_opts o = {.abs_thresh = 0.01}; /* nearly all values count */
        both(x, n, &o, &s, "abs 0.01");
        ck_assert(s.n_abs > n * 9 / 10);
        o.abs_thresh = -1; /* every finite value */
        both(x, n, &o, &s, "abs -1");
        ck_assert(s.n_abs == n);
        o.abs_thresh = NAN; /* none */
        both(x, n, &o, &s, "abs NaN");
        ck_assert(s.n_abs == 0);
    }
    free(x);
}
END_TEST

/* Many random shapes of data through the fast path (candidates, re-reads,
 * shifts), each against the reference. */
START_TEST(test_random_configs)
{
    tu_seed(21);
    for (int k = 0; k < 24; k++) {
        size_t n = 65537 + (size_t)(tu_uniform() * 250000);
        double mu = (k % 3 == 0) ? 0 : (tu_uniform() - 0.5) * pow(10, (int)(tu_uniform() * 6));
        double sigma = pow(10, (tu_uniform() - 0.5) * 8);
        float *x = malloc(n * sizeof *x);
        for (size_t i = 0; i < n; i++) {
            double z = tu_normal();
            switch (k % 4) {
            case 1: z = tu_uniform() - 0.5; break;                       /* light tails */
            case 2: z = log(tu_uniform() + 1e-12) * (tu_uniform() < 0.5 ? 1 : -1); break; /* Laplace */
            case 3: z *= 1 + 4.0 * i / n; break;                         /* std drifts */
            }
            x[i] = (float)(mu + sigma * z);
        }
        if (k % 5 == 4)
            for (size_t i = 7; i < n; i += 10007)
                x[i] = (i & 1) ? NAN : -INFINITY;
        struct stats_opts o = {.abs_thresh = fabs(mu) + sigma * (0.5 + 4 * tu_uniform())};
        struct stats s;
        both(x, n, &o, &s, "random config");
        free(x);
    }
}
END_TEST

START_TEST(test_strided)
{
    tu_seed(16);
    size_t rows = 5000, cols = 7;
    float *x = fill_normal(rows * cols, 2, 3);
    float *col = malloc(rows * sizeof *col);
    for (size_t j = 0; j < cols; j++) {
        for (size_t r = 0; r < rows; r++)
            col[r] = x[r * cols + j];
        struct stats a, b;
        stats_compute_strided(x + j, rows, cols, NULL, &a);
        stats_compute_ref(col, rows, NULL, &b);
        expect_same(&a, &b, "strided");
    }
    free(x);
    free(col);
}
END_TEST

/* ---- known distributions ---- */

START_TEST(test_two_point_exact)
{
    /* +-1 with equal weight: mean 0, std 1, skew 0, kurt 1. */
    float x[1000];
    for (int i = 0; i < 1000; i++)
        x[i] = (i & 1) ? 1.0f : -1.0f;
    struct stats s;
    both(x, 1000, NULL, &s, "+-1");
    ck_assert(s.mean == 0 && s.std == 1 && s.skew == 0 && s.kurt == 1 && s.exkurt == -2);
    ck_assert(s.absmax_over_std == 1 && s.n_k3 == 0);
    /* p = 1/4 of 1, 3/4 of 0: var 3/16, skew 2/sqrt(3), kurt 7/3. */
    for (int i = 0; i < 1000; i++)
        x[i] = i % 4 == 0 ? 1.0f : 0.0f;
    both(x, 1000, NULL, &s, "bernoulli");
    ck_assert(fabs(s.mean - 0.25) < 1e-15 && fabs(s.std - sqrt(3.0) / 4) < 1e-15);
    ck_assert(fabs(s.skew - 2 / sqrt(3.0)) < 1e-13 && fabs(s.kurt - 7.0 / 3) < 1e-13);
    /* a lone value among n-1 zeros sits at exactly sqrt(n-1) std: the
     * boundary k = 3 (n = 10) and k = 6 (n = 37) is not "beyond" */
    size_t ns[] = {10, 11, 37, 38};
    for (int k = 0; k < 4; k++) {
        memset(x, 0, sizeof x);
        x[ns[k] / 2] = 2.5f;
        both(x, ns[k], NULL, &s, "lone value");
        ck_assert_uint_eq(s.n_k3, ns[k] > 10);
        ck_assert_uint_eq(s.n_k6, ns[k] > 37);
    }
}
END_TEST

START_TEST(test_uniform_normal)
{
    tu_seed(17);
    size_t n = 1 << 20;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(tu_uniform() * 2 - 1);
    struct stats s;
    both(x, n, NULL, &s, "uniform");
    /* uniform: kurt 9/5, std 1/sqrt(3); se(kurt) ~ 0.001 here */
    ck_assert_msg(fabs(s.kurt - 1.8) < 0.006, "uniform kurt %g", s.kurt);
    ck_assert(fabs(s.std - 1 / sqrt(3.0)) < 0.002 && fabs(s.skew) < 0.01);
    ck_assert(s.n_k3 == 0);
    free(x);
    x = fill_normal(n, 0, 1);
    both(x, n, NULL, &s, "normal");
    /* se(kurt) = sqrt(24/n) ~ 0.0048; 5 se */
    ck_assert_msg(fabs(s.kurt - 3) < 0.025, "normal kurt %g", s.kurt);
    ck_assert(fabs(s.exkurt) < 0.025 && fabs(s.skew) < 0.012);
    /* P(|z| > 3) = 0.0027 */
    ck_assert_msg(fabs(s.frac_k3 - 0.0026998) < 0.0004, "frac_k3 %g", s.frac_k3);
    free(x);
}
END_TEST

/* ---- per channel ---- */

/* Both axes against the reference on each gathered channel (rows only
 * when there are few: every ck_assert is a message to Check's parent). */
static void check_channels(const float *x, size_t rows, size_t cols)
{
    struct stats *rs = malloc(rows * sizeof *rs), *cs = malloc(cols * sizeof *cs);
    float *tmp = malloc((rows > cols ? rows : cols) * sizeof *tmp);
    struct stats_opts o = {.abs_thresh = 1.5};
    stats_per_channel(x, rows, cols, STATS_ROWS, &o, rs);
    stats_per_channel(x, rows, cols, STATS_COLS, &o, cs);
    for (size_t r = 0; r < rows && r < 5000; r++) {
        struct stats ref;
        stats_compute_ref(x + r * cols, cols, &o, &ref);
        expect_same(&rs[r], &ref, "row");
    }
    for (size_t j = 0; j < cols; j++) {
        struct stats ref;
        for (size_t r = 0; r < rows; r++)
            tmp[r] = x[r * cols + j];
        stats_compute_ref(tmp, rows, &o, &ref);
        expect_same(&cs[j], &ref, "col");
    }
    free(rs);
    free(cs);
    free(tmp);
}

START_TEST(test_per_channel)
{
    tu_seed(18);
    size_t rows = 300, cols = 37;
    float *x = fill_normal(rows * cols, 0, 1);
    for (size_t j = 0; j < cols; j++)
        x[11 * cols + j] = 0; /* a zero row */
    for (size_t r = 0; r < rows; r++)
        x[r * cols + 5] = 2.5f; /* a constant column */
    x[7 * cols + 3] = NAN;
    x[9 * cols + 3] = 1e4f; /* an outlier in column 3 */
    check_channels(x, rows, cols);
    check_channels(x, 1, cols); /* one row: every column has n = 1 */
    check_channels(x, rows, 1);
    struct stats cs[37];
    stats_per_channel(x, rows, cols, STATS_COLS, NULL, cs);
    ck_assert(cs[5].degenerate && cs[5].mean == 2.5 && cs[5].std == 0);
    ck_assert(cs[3].n_nonfinite == 1 && cs[3].n == rows - 1 && cs[3].max == 1e4);
    free(x);
}
END_TEST

START_TEST(test_per_channel_large_mean)
{
    tu_seed(19);
    size_t rows = 2000, cols = 16;
    float *x = fill_normal(rows * cols, 1e4, 1);
    for (size_t j = 0; j < cols; j++)
        x[j] = 1e7f; /* an outlier row first: a naive shift would break */
    check_channels(x, rows, cols);
    free(x);
    /* columns whose first rows sit far from the rest: the column fast path
     * shifts by the first rows' mean and must notice it was a bad guess */
    rows = 30000, cols = 3;
    x = fill_normal(rows * cols, 1e4, 1);
    for (size_t i = 0; i < 64 * cols; i++)
        x[i] -= 1e4f;
    check_channels(x, rows, cols);
    free(x);
}
END_TEST

/* ---- histograms ---- */

START_TEST(test_hist_linear)
{
    float x[] = {-10, -1, -0.5f, 0, 0.25f, 0.5f, 0.99f, 1, 10, NAN, INFINITY};
    uint64_t c[4] = {9, 9, 9, 9};
    stats_hist_linear(x, 11, -1, 1, 4, c);
    /* bins [-1,-.5) [-.5,0) [0,.5) [.5,1]; outside clamped, non-finite skipped */
    ck_assert(c[0] == 2 && c[1] == 1 && c[2] == 2 && c[3] == 4);
    stats_hist_linear(x, 0, -1, 1, 4, c);
    ck_assert(c[0] == 0 && c[3] == 0);
    stats_hist_linear(x, 11, 1, 1, 4, c); /* empty range: all in bin 0 */
    ck_assert(c[0] == 9);
    stats_hist_linear(x, 11, -1, 1, 0, NULL); /* no bins: no-op */
}
END_TEST

START_TEST(test_hist_log2)
{
    float x[] = {0, 1e-45f, 0.1f, -0.5f, 0.75f, 1, -1.5f, 2, 3, 1000, NAN, -INFINITY};
    uint64_t c[4], below = 77;
    stats_hist_log2(x, 12, -1, 4, c, &below);
    /* e=-1: .5 .75; e=0: 1 1.5; e=1: 2 3; e=2+: 1000 (clamped) */
    ck_assert(below == 3); /* 0, 1e-45, 0.1 */
    ck_assert(c[0] == 2 && c[1] == 2 && c[2] == 2 && c[3] == 1);
    stats_hist_log2(x, 12, -149, 1, c, NULL); /* subnormal 2^-149 in bin 0 */
    ck_assert(c[0] == 9);
}
END_TEST

/* Rows straight from a float array, copied into the engine's buffer (so
 * the engine never sees the array itself); counts the calls. */
#if defined(__AVX512F__)
#define COL_PASSES 2 /* moments, counts */
#else
#define COL_PASSES 3 /* sums, moments, counts */
#endif

struct arr_src {
    const float *x;
    size_t rows, cols, calls, max_nr;
};

static const float *arr_fetch(void *ud, size_t r0, size_t nr, float *buf)
{
    struct arr_src *a = ud;
    ck_assert(r0 + nr <= a->rows && nr <= stats_col_src_rows(a->cols));
    a->calls++;
    a->max_nr = nr > a->max_nr ? nr : a->max_nr;
    memcpy(buf, a->x + r0 * a->cols, nr * a->cols * sizeof *buf);
    return buf;
}

/* Streamed per-column statistics equal, bit for bit, the in-memory ones:
 * odd shapes around the engine's row blocks and the 64 shift rows, NaN
 * and Inf mixed in, and columns whose mean jumps after the shift rows (the
 * gathered re-computation). */
START_TEST(test_per_col_src)
{
    const size_t rows_v[] = {0, 1, 63, 64, 65, 200, 1100, 6000}, cols_v[] = {1, 15, 17, 33, 100};
    tu_seed(77);
    for (size_t a = 0; a < sizeof rows_v / sizeof *rows_v; a++)
        for (size_t b = 0; b < sizeof cols_v / sizeof *cols_v; b++) {
            size_t rows = rows_v[a], cols = cols_v[b], n = rows * cols;
            float *x = malloc((n ? n : 1) * sizeof *x);
            for (size_t i = 0; i < n; i++) {
                size_t r = i / cols, j = i % cols;
                x[i] = (float)(tu_normal() * 0.02);
                if (j % 5 == 3 && r >= 64)
                    x[i] += 1000.0f; /* the column's mean jumps: redo */
                if (i % 97 == 11)
                    x[i] = NAN;
                if (i % 131 == 7)
                    x[i] = -INFINITY;
            }
            struct stats *ref = malloc((cols ? cols : 1) * sizeof *ref);
            struct stats *got = malloc((cols ? cols : 1) * sizeof *got);
            stats_per_channel(x, rows, cols, STATS_COLS, NULL, ref);
            struct arr_src as = {x, rows, cols, 0, 0};
            struct stats_rows_src src = {arr_fetch, &as};
            ck_assert_int_eq(stats_per_col_src(&src, rows, cols, NULL, got), 0);
            for (size_t j = 0; j < cols; j++)
                ck_assert_msg(!memcmp(&ref[j], &got[j], sizeof *ref),
                              "%zux%zu column %zu", rows, cols, j);
            if (rows > stats_col_src_rows(cols))
                ck_assert(as.max_nr < rows); /* streamed, never the whole matrix */
            size_t blocks = (rows + stats_col_src_rows(cols) - 1) / stats_col_src_rows(cols);
            if (rows == 6000 && cols >= 15) /* 64 of 6000 rows near 0: 8.8 std off */
                ck_assert_msg(as.calls > COL_PASSES * blocks, "no re-computed column (%zu calls)",
                              as.calls);
            free(x), free(ref), free(got);
        }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("stats");
    TCase *t = tcase_create("degenerate");
    tcase_add_test(t, test_empty);
    tcase_add_test(t, test_one);
    tcase_add_test(t, test_constant);
    tcase_add_test(t, test_all_nonfinite);
    tcase_add_test(t, test_nonfinite_mixed);
    tcase_add_test(t, test_huge_outlier);
    tcase_add_test(t, test_denormals);
    suite_add_tcase(s, t);
    t = tcase_create("reference");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_sizes_vs_ref);
    tcase_add_test(t, test_large_mean);
    tcase_add_test(t, test_heavy_tails_counts);
    tcase_add_test(t, test_strided);
    tcase_add_test(t, test_drift_and_many_candidates);
    tcase_add_test(t, test_random_configs);
    tcase_add_test(t, test_two_point_exact);
    tcase_add_test(t, test_uniform_normal);
    suite_add_tcase(s, t);
    t = tcase_create("channels");
    tcase_add_test(t, test_per_channel);
    tcase_add_test(t, test_per_channel_large_mean);
    tcase_add_test(t, test_per_col_src);
    tcase_add_test(t, test_hist_linear);
    tcase_add_test(t, test_hist_log2);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
