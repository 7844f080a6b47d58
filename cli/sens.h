/* sens: per-tensor sensitivity.  For every quantizable linear of every
 * block and every candidate configuration, quantize ONLY that tensor (from
 * its float original, calibrated on float-model inputs) and measure the
 * damage against the float model on evaluation text:
 *   kl_mean, kl_p99, top1   KL(p_float || p_one-tensor-quantized) per
 *                           scored token (src/ppl.h), against the float
 *                           logits computed once (ppl_cache) when they fit
 *   out_err2                ‖(W-Ŵ)X‖²_F over the calibration tokens, from
 *                           the captured XᵀX (analysis/plan.h)
 *   imp_mse                 Σ (W-Ŵ)² mean(x²) per column (analysis/plan.h)
 *   mse                     Σ (W-Ŵ)² (unweighted, the naive proxy)
 *   bits                    the quantizer's bits/weight * rows * cols
 * Calibration is one float pass over the calibration chunks capturing XᵀX
 * and per-channel statistics at every block's four linear inputs: memory
 * Σ_layers (2 dim² + n_heads·head_dim² + hidden²) doubles.  Methods that
 * use calibration (GPTQ, AWQ, ...) thus calibrate on float inputs (as
 * `qlens quant --per-block` for the first block).
 *
 * The runner uses the environment of `qlens quant` (cli/cli_quant.h):
 * model, texts, forward pass, the float-logit cache. */
#ifndef QLENS_SENS_H
#define QLENS_SENS_H

#include "cli/cli_quant.h"

#define SENS_LABEL_MAX 64

struct sens_cand {
    char label[SENS_LABEL_MAX];  /* as given: "q4_k", "rtn:4:32"         */
    struct quant_spec spec;
};

struct sens_cell {
    double bits, bpw;
    double kl_mean, kl_p99, top1, ppl;
    double out_err2, imp_mse, mse;
    int done;
};

struct sens_tensor {
    char name[QM_NAME_MAX];
    int layer;
    enum qrole role;
    int rows, cols;
};

struct sens {
    struct sens_tensor *t;       /* (n_t)                                 */
    int n_t;
    struct sens_cand *c;         /* (n_c)                                 */
    int n_c;
    struct sens_cell *cell;      /* (n_t, n_c)                            */
    struct ppl_result base;      /* the float model on the eval chunks    */
    int calib_chunks, calib_ctx;
    double seconds_calib, seconds_float, seconds_cells;
};

/* "method[:bits[:group]]", group a size, "row" or "tensor"; ggml types
 * take no bits/group ("q4_k").  Errors name the candidate. */
int sens_parse_cand(const char *text, struct sens_cand *c, struct qerr *err);
/* Comma-separated list; *out malloc'd. */
int sens_parse_cands(const char *list, struct sens_cand **out, int *n, struct qerr *err);

/* progress(ud, done, total, tensor name, candidate label): nonzero cancels */
typedef int (*sens_progress_fn)(void *ud, int done, int total, const char *tensor,
                                const char *cand);

/* Run it (takes ownership of cands).  On cancel (QERR_CANCEL) the cells
 * finished so far have done = 1.  s is valid for sens_free either way. */
int sens_run(struct sens *s, struct pipe_env *e, const struct qcli_opts *o,
             struct sens_cand *cands, int n_cands, sens_progress_fn progress, void *ud,
             struct qerr *err);
void sens_free(struct sens *s);

/* Quantize tensor t with spec, calibrated from c (NULL = none): a malloc'd
 * Ŵ, and the report.  Shared with plan evaluation. */
struct calib;
int sens_quantize(struct pipe_env *e, struct calib *c, const struct sens_tensor *t,
                  const struct quant_spec *spec, float **out, struct quant_report *rep,
                  struct qerr *err);
/* One float pass over the calibration chunks capturing XᵀX and channel
 * statistics at every linear input (c initialised here). */
int sens_capture(struct pipe_env *e, const struct qcli_opts *o, struct calib *c, int *chunks,
                 struct qerr *err);
/* The quantizable tensors of the model (every block's linears). */
int sens_tensors(struct qmodel *m, struct sens_tensor **out, int *n, struct qerr *err);
/* KL run of the current overrides against the float model. */
int sens_eval(struct pipe_env *e, const struct qcli_opts *o, struct ppl_result *r,
              struct qerr *err);

#endif
