/* stats per channel (rows or columns of a matrix) and histograms.
 *
 * Columns are computed by streaming the matrix row by row with one
 * accumulator per column (three sequential passes: mean, central moments,
 * threshold counts), never by strided walks down a column, which would
 * touch one float per cache line.  The passes are the reference's own
 * definition, so per-column numbers agree with stats_compute_ref on the
 * gathered column. */
#include "analysis/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Per-column working arrays, cols entries each. */
struct colacc {
    double *cnt, *sum, *m2, *m3, *m4;
    float *mn, *mx;
    uint64_t *bad;
};

static int colacc_alloc(struct colacc *a, size_t cols)
{
    memset(a, 0, sizeof *a);
    a->cnt = calloc(cols, sizeof(double));
    a->sum = calloc(cols, sizeof(double));
    a->m2 = calloc(cols, sizeof(double));
    a->m3 = calloc(cols, sizeof(double));
    a->m4 = calloc(cols, sizeof(double));
    a->mn = malloc(cols * sizeof(float));
    a->mx = malloc(cols * sizeof(float));
    a->bad = calloc(cols, sizeof(uint64_t));
    return a->cnt && a->sum && a->m2 && a->m3 && a->m4 && a->mn && a->mx && a->bad ? 0 : -1;
}

static void colacc_free(struct colacc *a)
{
    free(a->cnt);
    free(a->sum);
    free(a->m2);
    free(a->m3);
    free(a->m4);
    free(a->mn);
    free(a->mx);
    free(a->bad);
}

/* The column loops below are element-wise over j (no reductions), so
 * they vectorize exactly; ask GCC to do it at -O2 as well. */
#define VEC __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))

/* Does the row hold a NaN or Inf?  (Exponent bits all ones; an integer
 * OR-reduction, so it vectorizes.) */
static VEC int row_has_nonfinite(const float *row, size_t cols)
{
    uint32_t acc = 0;
    for (size_t j = 0; j < cols; j++) {
        uint32_t u;
        memcpy(&u, &row[j], 4);
        acc |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return acc != 0;
}

static VEC void row_sum_finite(const float *row, size_t cols, struct colacc *a)
{
    for (size_t j = 0; j < cols; j++) {
        float v = row[j];
        a->sum[j] += v;
        a->mn[j] = v < a->mn[j] ? v : a->mn[j];
        a->mx[j] = v > a->mx[j] ? v : a->mx[j];
    }
}

static void row_sum_any(const float *row, size_t cols, struct colacc *a)
{
    for (size_t j = 0; j < cols; j++) {
        float v = row[j];
        if (!isfinite(v)) {
            a->bad[j]++;
            continue;
        }
        a->cnt[j] += 1;
        a->sum[j] += v;
        a->mn[j] = v < a->mn[j] ? v : a->mn[j];
        a->mx[j] = v > a->mx[j] ? v : a->mx[j];
    }
}

/* Pass A: count, sum, min, max, non-finite per column.  Rows without NaN
 * or Inf (nearly all) take the branch-free loop; cnt[] gets their number
 * at the end. */
static void cols_pass_sum(const float *x, size_t rows, size_t cols, struct colacc *a)
{
    for (size_t j = 0; j < cols; j++) {
        a->mn[j] = INFINITY;
        a->mx[j] = -INFINITY;
    }
    size_t clean = 0;
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        if (row_has_nonfinite(row, cols)) {
            row_sum_any(row, cols, a);
        } else {
            row_sum_finite(row, cols, a);
            clean++;
        }
    }
    for (size_t j = 0; j < cols; j++)
        a->cnt[j] += (double)clean;
}

static VEC void row_moments_finite(const float *row, size_t cols, struct colacc *a)
{
    for (size_t j = 0; j < cols; j++) {
        double d = (double)row[j] - a->sum[j], d2 = d * d;
        a->m2[j] += d2;
        a->m3[j] += d2 * d;
        a->m4[j] += d2 * d2;
    }
}

/* Pass B: central moments around each column's mean (kept in sum[]). */
static void cols_pass_moments(const float *x, size_t rows, size_t cols, struct colacc *a)
{
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        if (!row_has_nonfinite(row, cols)) {
            row_moments_finite(row, cols, a);
            continue;
        }
        for (size_t j = 0; j < cols; j++) {
            float v = row[j];
            if (!isfinite(v))
                continue;
            double d = (double)v - a->sum[j], d2 = d * d;
            a->m2[j] += d2;
            a->m3[j] += d2 * d;
            a->m4[j] += d2 * d2;
        }
    }
}

/* Per-column thresholds and counters for pass C (reusing colacc's
 * arrays: m2/m3/m4 are spent by then). */
static VEC void row_counts_finite(const float *row, size_t cols, const double *mean,
                                  const double *t3, const double *t6, const double *ta,
                                  uint64_t *c3, uint64_t *c6, uint64_t *ca)
{
    for (size_t j = 0; j < cols; j++) {
        double v = row[j], d = fabs(v - mean[j]);
        c3[j] += d > t3[j];
        c6[j] += d > t6[j];
        ca[j] += fabs(v) > ta[j];
    }
}

/* Pass C: threshold counts (out[j].mean/std/abs_thresh already set). */
static void cols_pass_counts(const float *x, size_t rows, size_t cols, struct colacc *a,
                             struct stats *out)
{
    double *mean = a->sum, *t3 = a->m2, *t6 = a->m3, *ta = a->m4;
    uint64_t *c3 = calloc(cols, 3 * sizeof(uint64_t));
    for (size_t j = 0; j < cols; j++) {
        double sd = out[j].std * (1 + STATS_KTOL);
        mean[j] = out[j].mean;
        t3[j] = 3.0 * sd;
        t6[j] = 6.0 * sd;
        ta[j] = out[j].abs_thresh;
    }
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        if (c3 && !row_has_nonfinite(row, cols)) {
            row_counts_finite(row, cols, mean, t3, t6, ta, c3, c3 + cols, c3 + 2 * cols);
            continue;
        }
        for (size_t j = 0; j < cols; j++) {
            float v = row[j];
            if (!isfinite(v))
                continue;
            double d = fabs((double)v - mean[j]);
            out[j].n_k3 += d > t3[j];
            out[j].n_k6 += d > t6[j];
            out[j].n_abs += fabs((double)v) > ta[j];
        }
    }
    if (c3)
        for (size_t j = 0; j < cols; j++) {
            out[j].n_k3 += c3[j];
            out[j].n_k6 += c3[cols + j];
            out[j].n_abs += c3[2 * cols + j];
        }
    free(c3);
}

/* Derived fields, mirroring stats.c's finish() (kept separate so the
 * analysis layer's fast engine stays private to stats.c). */
static void col_finish(struct stats *s, double m2, double m3, double m4)
{
    s->absmax = fabs(s->min) > fabs(s->max) ? fabs(s->min) : fabs(s->max);
    if (s->n < 2 || s->min == s->max || m2 <= 0) {
        if (s->n > 0 && s->min == s->max)
            s->mean = s->min;
        s->std = s->skew = s->kurt = s->exkurt = s->absmax_over_std = 0;
        s->degenerate = 1;
        return;
    }
    double n = (double)s->n, var = m2 / n;
    s->std = sqrt(var);
    s->skew = (m3 / n) / (var * s->std);
    s->kurt = (m4 / n) / (var * var);
    s->exkurt = s->kurt - 3.0;
    s->absmax_over_std = s->absmax / s->std;
    s->degenerate = 0;
}

static void per_cols(const float *x, size_t rows, size_t cols, double thresh,
                     struct stats *out)
{
    struct colacc a;
    if (colacc_alloc(&a, cols)) {
        colacc_free(&a);
        struct stats_opts o = {.abs_thresh = thresh};
        for (size_t j = 0; j < cols; j++) /* no memory: exact but slow */
            stats_compute_strided(x + j, rows, cols, &o, &out[j]);
        return;
    }
    cols_pass_sum(x, rows, cols, &a);
    for (size_t j = 0; j < cols; j++)
        a.sum[j] = a.cnt[j] > 0 ? a.sum[j] / a.cnt[j] : 0; /* now the mean */
    cols_pass_moments(x, rows, cols, &a);
    for (size_t j = 0; j < cols; j++) {
        struct stats *s = &out[j];
        memset(s, 0, sizeof *s);
        s->abs_thresh = thresh;
        s->n = (uint64_t)a.cnt[j];
        s->n_nonfinite = a.bad[j];
        if (s->n == 0)
            continue;
        s->min = a.mn[j];
        s->max = a.mx[j];
        s->mean = a.sum[j];
        col_finish(s, a.m2[j], a.m3[j], a.m4[j]);
    }
    cols_pass_counts(x, rows, cols, &a, out);
    for (size_t j = 0; j < cols; j++) {
        double n = (double)out[j].n;
        out[j].frac_k3 = n > 0 ? (double)out[j].n_k3 / n : 0;
        out[j].frac_k6 = n > 0 ? (double)out[j].n_k6 / n : 0;
        out[j].frac_abs = n > 0 ? (double)out[j].n_abs / n : 0;
    }
    colacc_free(&a);
}

void stats_per_channel(const float *x, size_t rows, size_t cols,
                       enum stats_axis axis, const struct stats_opts *o,
                       struct stats *out)
{
    double thresh = o ? o->abs_thresh : 6.0;
    if (axis == STATS_ROWS) {
        for (size_t r = 0; r < rows; r++)
            stats_compute(x + r * cols, cols, o, &out[r]);
    } else if (cols > 0) {
        per_cols(x, rows, cols, thresh, out);
    }
}

/* ---- histograms ---- */

void stats_hist_linear(const float *x, size_t n, double lo, double hi,
                       int nbins, uint64_t *counts)
{
    if (nbins <= 0)
        return;
    memset(counts, 0, (size_t)nbins * sizeof *counts);
    double scale = hi > lo ? nbins / (hi - lo) : 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        double t = ((double)x[i] - lo) * scale; /* clamp before int cast */
        int b = t <= 0 ? 0 : t >= nbins ? nbins - 1 : (int)t;
        counts[b]++;
    }
}

void stats_hist_log2(const float *x, size_t n, int emin, int nbins,
                     uint64_t *counts, uint64_t *below)
{
    uint64_t nb = 0;
    if (nbins > 0)
        memset(counts, 0, (size_t)nbins * sizeof *counts);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        if (x[i] == 0) {
            nb++;
            continue;
        }
        /* ilogb = floor(log2 |x|), exact also for subnormals. */
        long b = (long)ilogbf(x[i]) - emin;
        if (b < 0 || nbins <= 0)
            nb++;
        else
            counts[b >= nbins ? nbins - 1 : b]++;
    }
    if (below)
        *below = nb;
}
