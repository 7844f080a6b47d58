/* stats per channel (rows or columns of a matrix) and histograms.
 *
 * Columns are computed by streaming the matrix row by row with one
 * accumulator per column (three sequential passes: mean, central moments,
 * threshold counts), never by strided walks down a column, which would
 * touch one float per cache line.  The passes are the reference's own
 * definition, so per-column numbers agree with stats_compute_ref on the
 * gathered column. */
#include "analysis/stats.h"
#include "analysis/stats_mom.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* Per-column working arrays, cols entries each. */
struct colacc {
    double *cnt, *sum, *m2, *m3, *m4;
    double *shift;        /* AVX-512 path: per-column shift           */
    unsigned char *redo;  /* columns to recompute on their own         */
    float *mn, *mx;
    uint64_t *bad;
    uint64_t *cnt3;       /* (3, cols) threshold counters              */
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
    a->shift = calloc(cols, sizeof(double));
    a->redo = calloc(cols, 1);
    a->cnt3 = calloc(cols, 3 * sizeof(uint64_t));
    return a->cnt && a->sum && a->m2 && a->m3 && a->m4 && a->mn && a->mx && a->bad &&
                   a->shift && a->redo && a->cnt3
               ? 0
               : -1;
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
    free(a->shift);
    free(a->redo);
    free(a->cnt3);
}

/* Rows of the matrix, a block at a time: straight from x when the matrix
 * is in memory, else converted by the caller's source into buf (nr rows of
 * cols floats).  Blocks are any size: every column's sums run down its
 * rows in order whatever the blocking, so the results do not depend on it. */
struct rowsrc {
    const float *x;                    /* (rows, cols) in memory, or NULL */
    const struct stats_rows_src *src;
    float *buf;                        /* (nr, cols) when src            */
    size_t rows, cols, nr;
};

static const float *rs_get(const struct rowsrc *s, size_t r0, size_t nr)
{
    if (s->x)
        return s->x + r0 * s->cols;
    return s->src->fetch(s->src->ud, r0, nr, s->buf);
}

/* Rows per block: about 256 KB of floats (stays in L2), at least 64 so
 * the first block holds the shift rows. */
static size_t rs_block(size_t cols)
{
    size_t nr = (65536 / (cols ? cols : 1)) / 16 * 16;
    return nr < 64 ? 64 : nr;
}

#if !defined(__AVX512F__)
/* Portable columns: three streaming passes (mean, central moments,
 * counts), each an element-wise loop over the row. */

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
static void cols_pass_sum(const struct rowsrc *s, struct colacc *a)
{
    size_t cols = s->cols, clean = 0;
    for (size_t j = 0; j < cols; j++) {
        a->mn[j] = INFINITY;
        a->mx[j] = -INFINITY;
    }
    for (size_t r0 = 0; r0 < s->rows; r0 += s->nr) {
        size_t nb = s->rows - r0 < s->nr ? s->rows - r0 : s->nr;
        const float *x = rs_get(s, r0, nb);
        for (size_t r = 0; r < nb; r++) {
            const float *row = x + r * cols;
            if (row_has_nonfinite(row, cols)) {
                row_sum_any(row, cols, a);
            } else {
                row_sum_finite(row, cols, a);
                clean++;
            }
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
static void cols_pass_moments(const struct rowsrc *s, struct colacc *a)
{
    size_t cols = s->cols;
    for (size_t r0 = 0; r0 < s->rows; r0 += s->nr) {
      size_t nb = s->rows - r0 < s->nr ? s->rows - r0 : s->nr;
      const float *x = rs_get(s, r0, nb);
      for (size_t r = 0; r < nb; r++) {
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
static void cols_pass_counts(const struct rowsrc *s, struct colacc *a, struct stats *out)
{
    size_t cols = s->cols;
    double *mean = a->sum, *t3 = a->m2, *t6 = a->m3, *ta = a->m4;
    uint64_t *c3 = calloc(cols, 3 * sizeof(uint64_t));
    for (size_t j = 0; j < cols; j++) {
        double sd = out[j].std * (1 + STATS_KTOL);
        mean[j] = out[j].mean;
        t3[j] = 3.0 * sd;
        t6[j] = 6.0 * sd;
        ta[j] = out[j].abs_thresh;
    }
    for (size_t r0 = 0; r0 < s->rows; r0 += s->nr) {
      size_t nb = s->rows - r0 < s->nr ? s->rows - r0 : s->nr;
      const float *x = rs_get(s, r0, nb);
      for (size_t r = 0; r < nb; r++) {
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
    }
    if (c3)
        for (size_t j = 0; j < cols; j++) {
            out[j].n_k3 += c3[j];
            out[j].n_k6 += c3[cols + j];
            out[j].n_abs += c3[2 * cols + j];
        }
    free(c3);
}

#endif /* !__AVX512F__ */

#if defined(__AVX512F__)
/* AVX-512 columns.  The matrix is streamed in tiles of TR rows x SW
 * columns (a tile's rows are consecutive in memory, so the stream stays
 * sequential); a tile's per-column accumulators stay in registers while it
 * walks down its TR rows.  Sums are of powers of x - c_j with c_j the mean
 * of the column's first SHIFT_ROWS rows, so they add up over the whole
 * column; a column whose final mean is more than 8 std from c_j (where
 * that shift would cost precision) is recomputed exactly on its own. */

#define SW 16          /* tile width: one cache line of floats */
#define TR 16          /* tile height */
#define SHIFT_ROWS 64
#define PF_LINES 4   /* software prefetch distance, in tiles */

/* One half (8 columns) of a tile row: finite mask, then the sums. */
#define HALF_SUMS(f, fin, vc, n, s1, s2, s3, s4, lo, hi)                              \
    do {                                                                              \
        __m512d d_ = _mm512_maskz_sub_pd(fin, _mm512_cvtps_pd(f), vc);                \
        __m512d d2_ = _mm512_mul_pd(d_, d_);                                          \
        n = _mm512_mask_add_pd(n, fin, n, one);                                       \
        s1 = _mm512_add_pd(s1, d_);                                                   \
        s2 = _mm512_add_pd(s2, d2_);                                                  \
        s3 = _mm512_fmadd_pd(d2_, d_, s3);                                            \
        s4 = _mm512_fmadd_pd(d2_, d2_, s4);                                           \
        lo = _mm256_mask_min_ps(lo, fin, lo, f);                                      \
        hi = _mm256_mask_max_ps(hi, fin, hi, f);                                      \
    } while (0)

#define LD(p, m) _mm512_maskz_loadu_pd(m, p)
#define ST(p, m, v) _mm512_mask_storeu_pd(p, m, v)

/* Rows [r0, r1) of the SW columns at j0 (lanes in m) added to the
 * column accumulators: cnt, sum = S1, m2..m4 = S2..S4, mn, mx. */
static void tile_sums(const float *x, size_t cols, size_t r0, size_t r1, size_t j0,
                      __mmask16 m, struct colacc *a)
{
    const __m512 inf = _mm512_set1_ps(INFINITY);
    const __m512d one = _mm512_set1_pd(1.0);
    __mmask8 m0 = (__mmask8)m, m1 = (__mmask8)(m >> 8);
    size_t k = j0 + 8;
    __m512d c0 = LD(a->shift + j0, m0), c1 = LD(a->shift + k, m1);
    __m512d n0 = LD(a->cnt + j0, m0), a1 = LD(a->sum + j0, m0), a2 = LD(a->m2 + j0, m0);
    __m512d a3 = LD(a->m3 + j0, m0), a4 = LD(a->m4 + j0, m0);
    __m512d n1 = LD(a->cnt + k, m1), b1 = LD(a->sum + k, m1), b2 = LD(a->m2 + k, m1);
    __m512d b3 = LD(a->m3 + k, m1), b4 = LD(a->m4 + k, m1);
    __m256 l0 = _mm256_maskz_loadu_ps(m0, a->mn + j0), l1 = _mm256_maskz_loadu_ps(m1, a->mn + k);
    __m256 h0 = _mm256_maskz_loadu_ps(m0, a->mx + j0), h1 = _mm256_maskz_loadu_ps(m1, a->mx + k);
    for (size_t r = r0; r < r1; r++) {
        /* TR interleaved streams are more than the hardware prefetcher
         * follows: fetch this row's line PF_LINES tiles ahead */
        _mm_prefetch((const char *)(x + r * cols + j0) + PF_LINES * 64, _MM_HINT_T0);
        __m512 f = _mm512_maskz_loadu_ps(m, x + r * cols + j0);
        __mmask16 fin = _mm512_mask_cmp_ps_mask(m, _mm512_abs_ps(f), inf, _CMP_LT_OQ);
        __m256 f0 = _mm512_castps512_ps256(f);
        __m256 f1 = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(f), 1));
        HALF_SUMS(f0, (__mmask8)fin, c0, n0, a1, a2, a3, a4, l0, h0);
        HALF_SUMS(f1, (__mmask8)(fin >> 8), c1, n1, b1, b2, b3, b4, l1, h1);
    }
    ST(a->cnt + j0, m0, n0), ST(a->sum + j0, m0, a1), ST(a->m2 + j0, m0, a2);
    ST(a->m3 + j0, m0, a3), ST(a->m4 + j0, m0, a4);
    ST(a->cnt + k, m1, n1), ST(a->sum + k, m1, b1), ST(a->m2 + k, m1, b2);
    ST(a->m3 + k, m1, b3), ST(a->m4 + k, m1, b4);
    _mm256_mask_storeu_ps(a->mn + j0, m0, l0), _mm256_mask_storeu_ps(a->mn + k, m1, l1);
    _mm256_mask_storeu_ps(a->mx + j0, m0, h0), _mm256_mask_storeu_ps(a->mx + k, m1, h1);
}

/* c_j: mean of the finite values in the column's first SHIFT_ROWS rows. */
static void col_shifts(const float *x, size_t rows, size_t cols, struct colacc *a)
{
    size_t nr = rows < SHIFT_ROWS ? rows : SHIFT_ROWS;
    for (size_t j = 0; j < cols; j++) {
        double s = 0, n = 0;
        for (size_t r = 0; r < nr; r++) {
            float v = x[r * cols + j];
            if (isfinite(v)) {
                s += v;
                n++;
            }
        }
        a->shift[j] = n > 0 ? s / n : 0;
    }
}

/* cnt, mean (in sum[]), central m2..m4, min, max, bad; redo[] flags the
 * columns to recompute on their own. */
static void cols_moments(const struct rowsrc *s, struct colacc *a)
{
    size_t rows = s->rows, cols = s->cols;
    for (size_t j = 0; j < cols; j++) {
        a->mn[j] = INFINITY;
        a->mx[j] = -INFINITY;
    }
    for (size_t b0 = 0; b0 < rows; b0 += s->nr) {
        size_t nb = rows - b0 < s->nr ? rows - b0 : s->nr;
        const float *x = rs_get(s, b0, nb); /* rows [b0, b0 + nb) */
        if (b0 == 0) /* s->nr >= SHIFT_ROWS */
            col_shifts(x, nb, cols, a);
        for (size_t r0 = 0; r0 < nb; r0 += TR) {
            size_t r1 = r0 + TR < nb ? r0 + TR : nb;
            for (size_t j0 = 0; j0 < cols; j0 += SW) {
                size_t w = cols - j0 < SW ? cols - j0 : SW;
                tile_sums(x, cols, r0, r1, j0, (__mmask16)((1u << w) - 1), a);
            }
        }
    }
    for (size_t j = 0; j < cols; j++) {
        double s[5] = {a->cnt[j], a->sum[j], a->m2[j], a->m3[j], a->m4[j]}, cm[3];
        double mean = stats_mom_from_sums(s[0], a->shift[j], s, cm);
        double dm = mean - a->shift[j];
        a->redo[j] = s[0] > 0 && dm * dm * s[0] > 64.0 * cm[0];
        a->sum[j] = mean;
        a->m2[j] = cm[0];
        a->m3[j] = cm[1];
        a->m4[j] = cm[2];
        a->bad[j] = (uint64_t)rows - (uint64_t)s[0];
    }
}

/* Threshold counts of rows [r0, r1) for the SW columns at j0 (lanes in
 * m), counters in registers, added to c3/c6/ca. */
static void tile_counts(const float *x, size_t cols, size_t r0, size_t r1, size_t j0,
                        __mmask16 m, const struct colacc *a, uint64_t *c3, uint64_t *c6,
                        uint64_t *ca)
{
    const __m512 inf = _mm512_set1_ps(INFINITY);
    const __m512i one = _mm512_set1_epi64(1);
    for (int h = 0; h < 2; h++) {
        size_t j = j0 + 8 * (size_t)h;
        __mmask8 mh = (__mmask8)(m >> (8 * h));
        if (!mh)
            break;
        /* after cols_moments: sum[] = mean, m2..m4[] = 3 std, 6 std, T */
        const double *mean = a->sum, *t3 = a->m2, *t6 = a->m3, *ta = a->m4;
        __m512d vm = LD(mean + j, mh), v3 = LD(t3 + j, mh), v6 = LD(t6 + j, mh), va = LD(ta + j, mh);
        __m512i k3 = _mm512_maskz_loadu_epi64(mh, c3 + j), k6 = _mm512_maskz_loadu_epi64(mh, c6 + j);
        __m512i ka = _mm512_maskz_loadu_epi64(mh, ca + j);
        for (size_t r = r0; r < r1; r++) {
            if (h == 0)
                _mm_prefetch((const char *)(x + r * cols + j) + PF_LINES * 64, _MM_HINT_T0);
            __m256 f = _mm256_maskz_loadu_ps(mh, x + r * cols + j);
            __mmask8 fin = _mm256_mask_cmp_ps_mask(mh, _mm256_andnot_ps(_mm256_set1_ps(-0.0f), f),
                                                   _mm512_castps512_ps256(inf), _CMP_LT_OQ);
            __m512d v = _mm512_cvtps_pd(f), d = _mm512_abs_pd(_mm512_sub_pd(v, vm));
            k3 = _mm512_mask_add_epi64(k3, _mm512_mask_cmp_pd_mask(fin, d, v3, _CMP_GT_OQ), k3, one);
            k6 = _mm512_mask_add_epi64(k6, _mm512_mask_cmp_pd_mask(fin, d, v6, _CMP_GT_OQ), k6, one);
            ka = _mm512_mask_add_epi64(ka, _mm512_mask_cmp_pd_mask(fin, _mm512_abs_pd(v), va, _CMP_GT_OQ),
                                       ka, one);
        }
        _mm512_mask_storeu_epi64(c3 + j, mh, k3);
        _mm512_mask_storeu_epi64(c6 + j, mh, k6);
        _mm512_mask_storeu_epi64(ca + j, mh, ka);
    }
}
#undef LD
#undef ST

static void cols_counts(const struct rowsrc *s, struct colacc *a, struct stats *out)
{
    size_t rows = s->rows, cols = s->cols;
    uint64_t *c = a->cnt3;
    for (size_t j = 0; j < cols; j++) {
        double sd = out[j].std * (1 + STATS_KTOL);
        a->sum[j] = out[j].mean;
        a->m2[j] = 3.0 * sd;
        a->m3[j] = 6.0 * sd;
        a->m4[j] = out[j].abs_thresh;
    }
    for (size_t b0 = 0; b0 < rows; b0 += s->nr) {
        size_t nb = rows - b0 < s->nr ? rows - b0 : s->nr;
        const float *x = rs_get(s, b0, nb);
        for (size_t r0 = 0; r0 < nb; r0 += TR) {
            size_t r1 = r0 + TR < nb ? r0 + TR : nb;
            for (size_t j0 = 0; j0 < cols; j0 += SW) {
                size_t w = cols - j0 < SW ? cols - j0 : SW;
                tile_counts(x, cols, r0, r1, j0, (__mmask16)((1u << w) - 1), a, c, c + cols,
                            c + 2 * cols);
            }
        }
    }
    for (size_t j = 0; j < cols; j++) {
        out[j].n_k3 = c[j];
        out[j].n_k6 = c[cols + j];
        out[j].n_abs = c[2 * cols + j];
    }
}
#else
/* Portable build: the three vectorizable streaming passes above. */
static void cols_moments(const struct rowsrc *s, struct colacc *a)
{
    cols_pass_sum(s, a);
    for (size_t j = 0; j < s->cols; j++)
        a->sum[j] = a->cnt[j] > 0 ? a->sum[j] / a->cnt[j] : 0; /* now the mean */
    cols_pass_moments(s, a);
}

static void cols_counts(const struct rowsrc *s, struct colacc *a, struct stats *out)
{
    cols_pass_counts(s, a, out);
}
#endif

/* Columns flagged in redo[] (mean far from their shift), recomputed
 * exactly on their own: in memory in place, else gathered a batch of
 * columns at a time (at most ~64 MB) from one more pass over the rows.
 * Returns -1 when the gather buffer cannot be had. */
static int cols_redo(const struct rowsrc *s, const unsigned char *redo, double thresh,
                     struct stats *out)
{
    struct stats_opts o = {.abs_thresh = thresh};
    size_t rows = s->rows, cols = s->cols;
    if (s->x) {
        for (size_t j = 0; j < cols; j++)
            if (redo[j])
                stats_compute_strided(s->x + j, rows, cols, &o, &out[j]);
        return 0;
    }
    size_t per = ((size_t)16 << 20) / (rows ? rows : 1), *idx = malloc(cols * sizeof *idx);
    per = per < 1 ? 1 : per;
    float *g = NULL;
    for (size_t j = 0; idx && j < cols;) {
        size_t k = 0;
        for (; j < cols && k < per; j++)
            if (redo[j])
                idx[k++] = j;
        if (!k)
            break;
        if (!g && !(g = malloc(k * rows * sizeof *g)))
            break;
        for (size_t r0 = 0; r0 < rows; r0 += s->nr) {
            size_t nb = rows - r0 < s->nr ? rows - r0 : s->nr;
            const float *x = rs_get(s, r0, nb);
            for (size_t r = 0; r < nb; r++)
                for (size_t i = 0; i < k; i++)
                    g[i * rows + r0 + r] = x[r * cols + idx[i]];
        }
        for (size_t i = 0; i < k; i++)
            stats_compute(g + i * rows, rows, &o, &out[idx[i]]);
    }
    int ok = idx && (g || !memchr(redo, 1, cols));
    free(g);
    free(idx);
    return ok ? 0 : -1;
}

/* Returns -1 (nothing valid in out) when memory runs out. */
static int per_cols(const struct rowsrc *s, double thresh, struct stats *out)
{
    struct colacc a;
    size_t cols = s->cols;
    if (colacc_alloc(&a, cols)) {
        colacc_free(&a);
        return -1;
    }
    cols_moments(s, &a);
    for (size_t j = 0; j < cols; j++) {
        struct stats *st = &out[j];
        memset(st, 0, sizeof *st);
        st->abs_thresh = thresh;
        st->n = (uint64_t)a.cnt[j];
        st->n_nonfinite = a.bad[j];
        if (st->n == 0)
            continue;
        st->min = a.mn[j];
        st->max = a.mx[j];
        st->mean = a.sum[j];
        stats_finish(st, a.m2[j], a.m3[j], a.m4[j]);
    }
    cols_counts(s, &a, out);
    int rc = cols_redo(s, a.redo, thresh, out);
    for (size_t j = 0; j < cols; j++)
        stats_fractions(&out[j]);
    colacc_free(&a);
    return rc;
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
        struct rowsrc s = {.x = x, .rows = rows, .cols = cols, .nr = rows ? rows : 1};
        if (per_cols(&s, thresh, out)) {
            struct stats_opts o1 = {.abs_thresh = thresh};
            for (size_t j = 0; j < cols; j++) /* no memory: exact but slow */
                stats_compute_strided(x + j, rows, cols, &o1, &out[j]);
        }
    }
}

size_t stats_col_src_rows(size_t cols)
{
    return rs_block(cols);
}

int stats_per_col_src(const struct stats_rows_src *src, size_t rows, size_t cols,
                      const struct stats_opts *o, struct stats *out)
{
    if (cols == 0)
        return 0;
    struct rowsrc s = {.src = src, .rows = rows, .cols = cols, .nr = rs_block(cols)};
    s.buf = malloc(s.nr * cols * sizeof *s.buf);
    int rc = s.buf ? per_cols(&s, o ? o->abs_thresh : 6.0, out) : -1;
    free(s.buf);
    return rc;
}

/* ---- histograms ---- */

void stats_hist_linear(const float *x, size_t n, double lo, double hi,
                       int nbins, uint64_t *counts)
{
    if (nbins <= 0)
        return;
    memset(counts, 0, (size_t)nbins * sizeof *counts);
    stats_hist_linear_add(x, n, lo, hi, nbins, counts);
}

void stats_hist_linear_add(const float *x, size_t n, double lo, double hi,
                           int nbins, uint64_t *counts)
{
    if (nbins <= 0)
        return;
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
    stats_hist_log2_add(x, n, emin, nbins, counts, &nb);
    if (below)
        *below = nb;
}

void stats_hist_log2_add(const float *x, size_t n, int emin, int nbins,
                         uint64_t *counts, uint64_t *below)
{
    uint64_t nb = 0;
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
        *below += nb;
}
