/* quant: weight quantizers for one linear layer, behind one registry.
 *
 * Every method takes a float weight matrix W (rows, cols) = (out_features,
 * in_features), row-major as in src/model.h, and writes the DEQUANTIZED
 * matrix Ŵ (same shape) plus a report.  Pure numerics: no I/O, no printing,
 * errors through struct qerr (analysis/qerr.h).
 *
 * Grid conventions (quant/qgrid.h, shared by every method):
 *   asymmetric: 2^b levels over [min(w,0), max(w,0)] of the group,
 *       scale = (hi - lo) / (2^b - 1), zero = round(-lo / scale),
 *       q = clamp(rint(w / scale) + zero, 0, 2^b - 1), ŵ = scale (q - zero)
 *   symmetric: qmax = 2^(b-1) - 1, scale = absmax / qmax, no zero point,
 *       q = clamp(rint(w / scale), -qmax, qmax), ŵ = scale q
 *   rint() rounds half to even (as torch.round).  An all-zero group gives
 *   scale 1 and ŵ = 0 exactly.
 *
 * Groups run along the input dimension (a row of W): spec.group > 0 is the
 * group size (a size that does not divide cols leaves a shorter last
 * group), 0 is one group per output channel (row), -1 is one scale for the
 * whole tensor (SpQR, whose statistics are per row by construction, treats
 * -1 as 0).
 *
 * Equivalent-function rule (AWQ, SmoothQuant).  These methods quantize
 * W·diag(s) for per-input-channel scales s.  `out` is ALWAYS the matrix
 * that computes the same function as W on un-scaled inputs:
 *       Ŵ = Q(W·diag(s)) · diag(1/s)
 * so a weight-only evaluation just replaces W by Ŵ, nothing to fold.  The
 * scales are also returned in quant_side.in_scale for a runner that wants
 * to quantize activations the way a W8A8 kernel would: the kernel sees
 * x/s, so fake-quantize the activation as  x' = s ⊙ Qtok(x / s)  and then
 * Ŵ x' = Q(W·diag(s)) · Qtok(x / s), exactly the W8A8 product.  (Folding
 * 1/s into the previous RMSNorm weight or linear rows is the same thing
 * done ahead of time.)  LLM.int8 reports the outlier input features in
 * quant_side.fp_cols: their weight columns are left in float in `out`, and
 * a runner simulating the int8 matmul keeps those activation channels in
 * float and quantizes the rest per token.
 *
 * Calibration.  xtx is Σ_t x_t x_tᵀ over calibration tokens (NOT divided
 * by n, no factor 2): GPTQ and SpQR are invariant to its scale, damping is
 * relative to its mean diagonal.  It is double, full symmetric, exactly
 * what src/calib.h accumulates.
 *
 * Threads: no globals; the apply functions are reentrant.  They use BLAS
 * (OpenBLAS threads) and LAPACK for the big products. */
#ifndef QLENS_QUANT_H
#define QLENS_QUANT_H

#include "analysis/qerr.h"

#define QUANT_MAX_OPTS 8
#define QUANT_GROUP_DEFAULT (-2) /* quant_spec_parse: the method's default */

/* One numeric option of a method ("damp", "alpha", ...). */
struct quant_param {
    const char *name;
    const char *help;
    double def, min, max;
    int is_int;                  /* 1: integer or 0/1 switch             */
};

struct quantizer;

struct quant_spec {
    const struct quantizer *method;
    int bits;                    /* 2..8                                 */
    int group;                   /* >0 group size along a row; 0 per row;
                                    -1 per tensor                        */
    int sym;                     /* 1 symmetric, 0 asymmetric            */
    double opt[QUANT_MAX_OPTS];  /* values of method->params, same order */
};

/* What calibration provides for one linear layer; any field may be NULL. */
struct quant_calib {
    const double *xtx;           /* (cols, cols) Σ x xᵀ over tokens      */
    long n_tokens;               /* tokens summed in xtx / the stats     */
    const float *act_mean_abs;   /* (cols) mean |x| per input channel    */
    const float *act_max_abs;    /* (cols) max |x| per input channel     */
    const float *x;              /* (n_x, cols) a sample of real inputs  */
    int n_x;
    int dim;                     /* channels of the above when known; if
                                    nonzero it must equal cols (checked) */
    const float *importance;     /* (cols) per-column importance, llama.cpp's
                                    imatrix (mean x² over tokens): used by
                                    the ggml-type methods; NULL = none    */
};

/* Which calibration fields a method needs (bit mask in needs_calib). */
enum {
    QUANT_CALIB_NONE = 0,
    QUANT_CALIB_HESSIAN = 1,     /* xtx                                  */
    QUANT_CALIB_ACT = 2,         /* act_max_abs / act_mean_abs            */
    QUANT_CALIB_OUTERR = 4,      /* xtx or x: layer-output error search  */
};

/* Optional per-input-channel results (caller allocates cols entries for
 * any pointer it wants filled; NULL pointers are skipped).  has_* say
 * whether the method produced them. */
struct quant_side {
    float *in_scale;             /* (cols) s of the equivalent-function
                                    rule above; 1 when has_scale == 0    */
    unsigned char *fp_cols;      /* (cols) 1 = input feature kept float  */
    unsigned char *fp_weights;   /* (rows, cols) 1 = weight kept in float
                                    (SpQR's outliers), original order    */
    int has_scale, has_fp_cols, has_fp_weights;
};

/* Error and size of one quantized matrix.  Definitions (Δ = W - Ŵ):
 *   mse          Σ Δ² / n
 *   sqnr_db      10 log10(Σ W² / Σ Δ²); 300 when Δ = 0 (exact)
 *   max_abs_err  max |Δ|
 *   rel_fro      ‖Δ‖_F / ‖W‖_F (0 when W = 0)
 *   out_err      layer-output error ‖ΔX‖_F / ‖WX‖_F on calibration
 *                inputs: from xtx when given (all calibration tokens,
 *                sqrt(tr(Δ H Δᵀ) / tr(W H Wᵀ))), else from the sample x;
 *                -1 when no calibration was given
 *   bits_per_weight  storage of the quantized layer / (rows*cols): b bits
 *                per weight + 16 bits per scale + b bits per integer zero
 *                point (asymmetric) + method extras (SpQR: 3-bit
 *                first-level statistics, 4x16-bit second-level statistics,
 *                32 bits per outlier; LLM.int8: 16 bits per weight of a
 *                float column)
 *   n_outliers, outlier_frac   weights kept in float (SpQR) / rows*cols
 *   n_outlier_features         input features kept in float (LLM.int8) */
struct quant_report {
    double mse, sqnr_db, max_abs_err, rel_fro, bits_per_weight;
    long n_outliers;
    double outlier_frac;
    int n_outlier_features;
    double out_err;
    double chosen;               /* method's searched value: AWQ's best
                                    exponent a; else 0                   */
    char note[112];              /* what the user should know ("row length
                                    100 is not a multiple of q4_K's 256:
                                    stored as q5_0"), "" when nothing    */
};

/* Progress and cancellation.  progress may be NULL; returning nonzero from
 * it cancels.  *cancel (if non-NULL) is polled between column blocks.
 * A cancelled apply returns QERR_CANCEL. */
struct quant_ctl {
    int (*progress)(void *ud, double frac);
    void *ud;
    volatile int *cancel;
};

typedef int (*quant_apply_fn)(const struct quant_spec *spec,
                              const float *w,      /* (rows, cols)       */
                              int rows, int cols,
                              const struct quant_calib *calib, /* or NULL */
                              float *out,          /* (rows, cols) Ŵ     */
                              struct quant_side *side, /* or NULL        */
                              struct quant_report *rep, /* or NULL       */
                              const struct quant_ctl *ctl, /* or NULL    */
                              struct qerr *err);

struct quantizer {
    const char *name;            /* "RTN", "GPTQ", "AWQ", "SpQR",
                                    "LLM.int8", "SmoothQuant"            */
    const char *summary;         /* one line                             */
    const struct quant_param *params;
    int n_params;
    int needs_calib;             /* QUANT_CALIB_* mask (required fields) */
    int def_bits, def_group, def_sym;
    quant_apply_fn apply;        /* use quant_apply(), which validates   */
};

extern const struct quantizer *const quant_registry[]; /* NULL-terminated */
int quant_count(void);
/* Case-insensitive: "gptq", "llm.int8", "SmoothQuant"; NULL if unknown. */
const struct quantizer *quant_find(const char *name);

/* Fill a spec.  bits <= 0, group == QUANT_GROUP_DEFAULT, sym < 0 take the
 * method's defaults; opts is NULL/"" or "name=value,name=value" (names
 * from method->params, each checked against its range).  Errors
 * (QERR_ARG) name the bad method, option or value. */
int quant_spec_parse(struct quant_spec *spec, const char *method, int bits,
                     int group, int sym, const char *opts, struct qerr *err);
/* Index of option `name` in spec->method->params, or -1. */
int quant_opt_index(const struct quantizer *q, const char *name);
/* "GPTQ w4 g128 asym damp=0.01 act_order=0" (for results files). */
void quant_spec_format(const struct quant_spec *spec, char *buf, int n);

/* Validate and run spec->method->apply.  Checks (QERR_ARG): shapes, bits
 * 2..8, group >= -1, NaN/Inf in W or in calibration (the message names
 * the row and column), calibration the method requires.  Fills rep. */
int quant_apply(const struct quant_spec *spec, const float *w, int rows,
                int cols, const struct quant_calib *calib, float *out,
                struct quant_side *side, struct quant_report *rep,
                const struct quant_ctl *ctl, struct qerr *err);

/* quant_apply with flags: QUANT_NO_OUT_ERR skips the report's out_err
 * (left -1), which costs two (rows,cols)x(cols,cols) products when xtx is
 * given -- for live, repeated quantization of one tensor. */
enum { QUANT_NO_OUT_ERR = 1 };
int quant_apply_ex(const struct quant_spec *spec, const float *w, int rows,
                   int cols, const struct quant_calib *calib, float *out,
                   struct quant_side *side, struct quant_report *rep,
                   const struct quant_ctl *ctl, unsigned flags,
                   struct qerr *err);

/* The error part of a report (mse, sqnr, max_abs, rel_fro) of n values;
 * sets bits_per_weight, leaves the other fields zero and out_err -1. */
void quant_report_fill(const float *w, const float *wq, long n,
                       double bits_per_weight, struct quant_report *rep);
/* Relative layer-output error (see quant_report.out_err); -1 when calib
 * has neither xtx nor x.  Returns <0 (QERR_NOMEM) on allocation failure. */
int quant_out_err(const float *w, const float *wq, int rows, int cols,
                  const struct quant_calib *calib, double *out_err);

/* bits/weight of a plain grid (b bits + 16-bit scale + b-bit zero when
 * asymmetric, per group), the formula RTN/GPTQ/AWQ/SmoothQuant report. */
double quant_grid_bpw(int bits, int group, int sym, int rows, int cols);

/* The methods (registry apply functions).  They assume input already
 * validated by quant_apply and fill only the method-specific report
 * fields (bits_per_weight, n_outliers, outlier_frac, n_outlier_features,
 * chosen); quant_apply adds the error fields.  Call quant_apply. */
int rtn_apply(const struct quant_spec *, const float *, int, int,
              const struct quant_calib *, float *, struct quant_side *,
              struct quant_report *, const struct quant_ctl *, struct qerr *);
int gptq_apply(const struct quant_spec *, const float *, int, int,
               const struct quant_calib *, float *, struct quant_side *,
               struct quant_report *, const struct quant_ctl *, struct qerr *);
int awq_apply(const struct quant_spec *, const float *, int, int,
              const struct quant_calib *, float *, struct quant_side *,
              struct quant_report *, const struct quant_ctl *, struct qerr *);
int spqr_apply(const struct quant_spec *, const float *, int, int,
               const struct quant_calib *, float *, struct quant_side *,
               struct quant_report *, const struct quant_ctl *, struct qerr *);
int llmint8_apply(const struct quant_spec *, const float *, int, int,
                  const struct quant_calib *, float *, struct quant_side *,
                  struct quant_report *, const struct quant_ctl *,
                  struct qerr *);
int smoothquant_apply(const struct quant_spec *, const float *, int, int,
                      const struct quant_calib *, float *,
                      struct quant_side *, struct quant_report *,
                      const struct quant_ctl *, struct qerr *);

int ggml_method_apply(const struct quant_spec *, const float *, int, int,
                      const struct quant_calib *, float *, struct quant_side *,
                      struct quant_report *, const struct quant_ctl *, struct qerr *);

extern const struct quantizer quant_rtn, quant_gptq, quant_awq, quant_spqr,
    quant_llmint8, quant_smoothquant;
/* llama.cpp's types (quant/ggml_quant.c) */
extern const struct quantizer quant_q4_0, quant_q4_1, quant_q5_0, quant_q5_1, quant_q8_0,
    quant_q2_k, quant_q3_k, quant_q4_k, quant_q5_k, quant_q6_k, quant_iq4_nl, quant_iq4_xs;

#endif
