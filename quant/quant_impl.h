/* quant_impl: helpers shared by the quantizers inside quant/ (and their
 * tests).  Not part of the public API (quant/quant.h). */
#ifndef QLENS_QUANT_IMPL_H
#define QLENS_QUANT_IMPL_H

#include "analysis/qerr.h"
#include "quant/qgrid.h"
#include "quant/quant.h"

/* QERR_CANCEL when *ctl->cancel is set or progress(frac) returns nonzero. */
int qi_poll(const struct quant_ctl *ctl, double frac);
/* Option `name` of the spec's method (its default when absent). */
double qi_opt(const struct quant_spec *spec, const char *name);

/* ---- GPTQ engine (quant/gptq.c), shared by GPTQ and SpQR -------------- */

/* The inverse Hessian in the form GPTQ uses, for one layer:
 *   H = xtx with dead columns (H_ii = 0) set to H_ii = 1, optionally
 *   permuted (act order: decreasing H_ii), plus damp·mean(diag H)·I;
 *   hinv = U, upper triangular, Uᵀ U = H⁻¹ (row-major), float. */
struct gptq_hess {
    int cols;
    float *hinv;       /* (cols, cols) upper Cholesky factor of H⁻¹      */
    int *perm;         /* (cols) position j holds original column perm[j] */
    unsigned char *dead; /* (cols) original column had H_ii = 0           */
    double damp_used;  /* relative damping finally used (raised x10 when
                          the Cholesky fails)                            */
};
/* xtx (cols, cols) double.  Returns QERR_NUMERIC when H stays singular
 * even with damping raised 1000x, QERR_NOMEM. */
int gptq_hess_init(struct gptq_hess *h, const double *xtx, int cols,
                   double damp, int act_order, struct qerr *err);
void gptq_hess_free(struct gptq_hess *h);

/* Per-method callbacks of the column loop.  Columns are in permuted order. */
struct gptq_hooks {
    void *ud;
    /* group > 0: called when column c0 (c0 % group == 0) is reached, with
     * columns [c0, c0+n) fully error-updated; w points at column c0 of
     * the (rows, ld) working matrix. */
    int group;
    void (*group_start)(void *ud, const float *w, int ld, int c0, int n);
    /* Quantize column j: w (rows) current values -> q (rows) dequantized.
     * d = U_jj.  May keep a value (q = w) to make it an outlier. */
    void (*quant_col)(void *ud, int j, const float *w, float *q, float d);
};

/* Run GPTQ's column loop on w (rows, cols) (already permuted, dead columns
 * zeroed): on return w holds the dequantized result.  block: lazy-batch
 * width (128); plain = 1 runs the unblocked scalar reference (every
 * update applied at once to all later columns, no BLAS). */
int gptq_run(float *w, int rows, int cols, const struct gptq_hess *h,
             const struct gptq_hooks *hk, int block, int plain,
             const struct quant_ctl *ctl, struct qerr *err);

/* Copy W into a permuted working matrix with dead columns zeroed, and
 * back (out[:, perm[j]] = work[:, j]). */
void gptq_permute_in(const float *w, int rows, int cols,
                     const struct gptq_hess *h, float *work);
void gptq_permute_out(const float *work, int rows, int cols,
                      const struct gptq_hess *h, float *out);

/* GPTQ / SpQR with the plain engine (tests compare against them). */
int gptq_apply_ref(const struct quant_spec *, const float *, int, int,
                   const struct quant_calib *, float *, struct quant_side *,
                   struct quant_report *, const struct quant_ctl *,
                   struct qerr *);
int spqr_apply_ref(const struct quant_spec *, const float *, int, int,
                   const struct quant_calib *, float *, struct quant_side *,
                   struct quant_report *, const struct quant_ctl *,
                   struct qerr *);

/* ---- layer-output error pieces (quant/quant.c) ------------------------- */

/* Σ over rows of d_r H d_rᵀ for d (rows, cols) and H = xtx given as float
 * (cols, cols); per-row results in row_err (rows) when non-NULL. */
int qi_hform(const float *d, int rows, int cols, const float *hf,
             double *row_err, double *total);
/* Per-channel max |x| / mean |x| (cols) from the calibration statistics,
 * else from the sample x; returns 0, or -1 when neither is present. */
int qi_act_max(const struct quant_calib *c, int cols, float *out);
int qi_act_mean(const struct quant_calib *c, int cols, float *out);
/* Plain double loops, same result (tests compare). */
void qi_hform_ref(const float *d, int rows, int cols, const float *hf,
                  double *row_err, double *total);
/* AWQ with the plain error kernels. */
int awq_apply_ref(const struct quant_spec *, const float *, int, int,
                  const struct quant_calib *, float *, struct quant_side *,
                  struct quant_report *, const struct quant_ctl *,
                  struct qerr *);
/* xtx (double) -> float copy; NULL on allocation failure. */
float *qi_xtx_float(const double *xtx, int cols);

#endif
