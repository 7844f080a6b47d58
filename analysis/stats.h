/* stats: descriptive statistics of a float array (a tensor, a row, a
 * column, an activation channel).  Pure numerics: no I/O.
 *
 * Definitions (population moments, the same for weights and activations):
 *   n        number of finite values (NaN/Inf are counted in n_nonfinite
 *            and excluded from everything else)
 *   mean     sum x / n
 *   std      sqrt(m2), m2 = sum (x-mean)^2 / n          (population)
 *   skew     m3 / m2^1.5
 *   kurt     m4 / m2^2        Pearson kurtosis: 3 for a normal distribution
 *   exkurt   kurt - 3         excess (Fisher) kurtosis: 0 for a normal
 *   absmax   max |x|;  absmax_over_std = absmax / std
 *   frac_k3, frac_k6   fraction of values with |x - mean| > k*std, k = 3, 6
 *   frac_abs           fraction with |x| > opts.abs_thresh
 *            "> k*std" is tested as > k*std*(1 + STATS_KTOL): a value whose
 *            distance is exactly k std in exact arithmetic (a lone outlier
 *            among n = k^2 + 1 equal values sits at exactly k std) is then
 *            not counted, whatever rounding the moments went through.
 * A constant array has std 0; skew, kurt and absmax_over_std are then
 * reported as 0 (not NaN) and `degenerate` is set.  n == 0 gives all zeros.
 * All accumulation is in double. */
#ifndef QLENS_STATS_H
#define QLENS_STATS_H

#include <stddef.h>
#include <stdint.h>

#define STATS_KTOL 1e-12

struct stats_opts {
    double abs_thresh;    /* |x| > abs_thresh counted in frac_abs (default 6.0,
                             LLM.int8's outlier threshold)                */
};

struct stats {
    uint64_t n, n_nonfinite;
    double mean, std, min, max, absmax;
    double skew, kurt, exkurt, absmax_over_std;
    uint64_t n_k3, n_k6, n_abs;
    double frac_k3, frac_k6, frac_abs;
    double abs_thresh;
    int degenerate;       /* n < 2 or std == 0 */
};

void stats_opts_default(struct stats_opts *o);

/* Whole array.  `stride` lets a caller take a column (stride = n_cols). */
void stats_compute(const float *x, size_t n, const struct stats_opts *o,
                   struct stats *out);
void stats_compute_strided(const float *x, size_t n, size_t stride,
                           const struct stats_opts *o, struct stats *out);
/* The same statistics of n values that are never all in memory as floats
 * (an F16 or quantized tensor): the engine asks src->fetch for elements
 * [off, off+len), len <= STATS_SRC_MAX, and fetch converts them into buf
 * (STATS_SRC_MAX floats, owned by the engine) or returns a pointer of its
 * own valid until the next call.  Ranges come in order in the first pass,
 * then (second pass) any BLK-aligned sub-ranges again.  Bit-identical to
 * stats_compute on the converted array.  Returns 0, or -1 when memory
 * for the engine's scratch (a few floats per 64 values) runs out. */
#define STATS_SRC_MAX 4096
struct stats_src {
    const float *(*fetch)(void *ud, size_t off, size_t len, float *buf);
    void *ud;
};
int stats_compute_src(const struct stats_src *src, size_t n, const struct stats_opts *o,
                      struct stats *out);
/* Plain two-pass reference (tests compare the fast path against it). */
void stats_compute_ref(const float *x, size_t n, const struct stats_opts *o,
                       struct stats *out);

/* Per channel of a rows x cols row-major matrix: out[rows] for
 * STATS_ROWS (each output channel of a linear weight), out[cols] for
 * STATS_COLS (each input channel). */
enum stats_axis { STATS_ROWS = 0, STATS_COLS = 1 };
void stats_per_channel(const float *x, size_t rows, size_t cols,
                       enum stats_axis axis, const struct stats_opts *o,
                       struct stats *out);

/* Per-column statistics of a rows x cols matrix that is never all in
 * memory as floats: the engine streams it (twice, three times without
 * AVX-512) asking src->fetch for rows [r0, r0+nr), nr <=
 * stats_col_src_rows(cols), converted into buf (nr x cols floats, owned by
 * the engine) or a pointer of the source's own valid until the next call.
 * Rows come in order within a pass; a column whose mean lies far from its
 * first rows' (recomputed exactly on its own) costs one more pass.
 * Bit-identical to stats_per_channel(..., STATS_COLS, ...) on the
 * converted matrix.  Returns 0, or -1 when memory for the per-column
 * accumulators (a few doubles per column) runs out. */
struct stats_rows_src {
    const float *(*fetch)(void *ud, size_t r0, size_t nr, float *buf);
    void *ud;
};
size_t stats_col_src_rows(size_t cols);
int stats_per_col_src(const struct stats_rows_src *src, size_t rows, size_t cols,
                      const struct stats_opts *o, struct stats *out);

/* Histograms.  Linear: nbins equal bins over [lo, hi] (values outside are
 * clamped into the end bins; non-finite skipped).  Log-magnitude: bin b
 * counts finite values with floor(log2|x|) == emin + b (b in [0, nbins));
 * |x| below 2^emin (including 0) falls in `below`, above the top bin is
 * clamped into the last.  Both zero `counts` (and *below) first; `below`
 * may be NULL. */
struct stats_hist {
    int nbins;
    double lo, hi;        /* linear range, or 2^emin .. 2^(emin+nbins) */
    int emin;             /* log-magnitude histograms only            */
    uint64_t below;       /* log-magnitude: |x| < 2^emin               */
    uint64_t *counts;     /* nbins entries (caller owns)              */
};
void stats_hist_linear(const float *x, size_t n, double lo, double hi,
                       int nbins, uint64_t *counts);
void stats_hist_log2(const float *x, size_t n, int emin, int nbins,
                     uint64_t *counts, uint64_t *below);
/* The same without zeroing first: counts (and *below) accumulate, so a
 * tensor streamed in tiles gives the whole tensor's histogram. */
void stats_hist_linear_add(const float *x, size_t n, double lo, double hi,
                           int nbins, uint64_t *counts);
void stats_hist_log2_add(const float *x, size_t n, int emin, int nbins,
                         uint64_t *counts, uint64_t *below);

#endif
