/* tdiff: error of one tensor against a reference, accumulated in pieces.
 *
 * `qlens diff` and the dashboard's --base columns compare a tensor W' of one
 * model (OTHER) with the same tensor W of another (BASE) without holding
 * either whole model in floats: values are fed in any number of chunks and
 * the sums are kept in double.  Definitions (Δ = W' - W, n values):
 *
 *   mse       Σ Δ² / n
 *   sqnr_db   10 log10(Σ W² / Σ Δ²); 300 when Δ = 0 (exact, a finite
 *             stand-in for +inf), -300 when W = 0 but Δ ≠ 0
 *   max_abs   max |Δ|
 *   rel_fro   ‖Δ‖_F / ‖W‖_F; 0 when Δ = 0, +inf when W = 0 but Δ ≠ 0
 *
 * These are the definitions of quant_report (quant/quant.h), so a diff of a
 * file with its source reads like the report of the quantizer that made it.
 * A NaN or Inf in either input is counted in n_nonfinite and left out of
 * the sums (so one bad value does not hide the error of the rest). */
#ifndef QLENS_TDIFF_H
#define QLENS_TDIFF_H

#include <stdint.h>

struct tdiff {
    double sse;          /* Σ Δ²                                  */
    double sig;          /* Σ W²                                  */
    double max_abs;      /* max |Δ|                               */
    int64_t n;           /* finite pairs summed                   */
    int64_t n_nonfinite; /* pairs with a NaN/Inf on either side   */
};

struct tdiff_metrics {
    double mse, sqnr_db, max_abs, rel_fro;
    int64_t n, n_nonfinite;
};

void tdiff_init(struct tdiff *d);
/* Add n pairs: base (n) is the reference W, other (n) the compared W'. */
void tdiff_add(struct tdiff *d, const float *base, const float *other, int64_t n);
/* Fold accumulator b into a (totals over several tensors). */
void tdiff_merge(struct tdiff *a, const struct tdiff *b);
void tdiff_finish(const struct tdiff *d, struct tdiff_metrics *m);

#endif
