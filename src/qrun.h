/* qrun: whole-model quantization, layer by layer, as the GPTQ reference
 * (gptq/llama.py, "true sequential") does it.
 *
 *   H = token_embd[calibration chunks]           (n_chunks, ctx, dim)
 *   for each block L:
 *     for each step (the linears that share one input), in order
 *         1. attn_q, attn_k, attn_v   (input rmsnorm(x)*attn_norm)
 *         2. attn_output              (input attention output)
 *         3. ffn_gate, ffn_up         (input rmsnorm(x)*ffn_norm)
 *         4. ffn_down                 (input silu(gate)*up)
 *       run block L over every chunk of H, with the steps already done
 *       installed as overrides, and capture that step's input (XᵀX, mean
 *       and max |x| per channel: src/calib.h); the pass stops at the
 *       captured linear (nothing after it is needed)
 *       quantize each linear of the step from its FLOAT original with that
 *       calibration (quant/quant.h) and install Ŵ (qtensor_set_override)
 *     H = block L (quantized) applied to H
 * so every layer calibrates on the outputs of the already-quantized ones.
 * sequential = 0 captures the four inputs of a block in one float pass
 * instead (cheaper, "per block").  Memory: H plus one chunk of scratch,
 * plus one site's calibration ((in_dim)² doubles at most).
 *
 * Linears that share an input are quantized as ONE stacked matrix when the
 * method uses activation statistics (AWQ, SmoothQuant, LLM.int8), as the
 * AWQ and SmoothQuant references do, so q/k/v (and gate/up) get one set of
 * per-input-channel scales / float features; their reports are split back
 * per tensor.  Other methods quantize each matrix on its own.
 *
 * Activations and KV cache (W8A8, KV8/KV4) are fake-quantized during the
 * EVALUATION pass through qrun_eval_hooks: every input of a quantized
 * linear is quantized per token, symmetric, in groups of act_group
 * (0 = the whole row), the way a W8A8 kernel would see it:
 *     x' = s ⊙ Q_tok(x / s)  with the method's smoothing scales s (1 when
 * none), and LLM.int8's outlier features kept in float; K and V are
 * quantized asymmetrically per token (groups of kv_group, default
 * head_dim) or, with kv_axis = CALIB_PER_CHANNEL, K per channel over the
 * tokens of a chunk (groups of kv_group tokens, 0 = all) and V per token
 * (KIVI).  Calibration itself always sees float activations.
 *
 * Sizes: a quantized linear costs its report's bits_per_weight; every
 * other tensor is counted at 16 bits (an FP16 checkpoint), and so is the
 * float model, so size_mib compares like with like. */
#ifndef QLENS_QRUN_H
#define QLENS_QRUN_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/qerr.h"
#include "quant/quant.h"
#include "src/calib.h"
#include "src/imatrix.h"
#include "src/forward.h"
#include "src/model.h"

/* Where a whole-model quantization stands, after tensor `name`.  The
 * work is counted in weights (calibration passes and quantizers both grow
 * with a layer's size), so frac is the share of weights quantized and
 * eta = elapsed * (1 - frac) / frac: a linear extrapolation that is
 * rough for the first tensors and settles as blocks complete (every block
 * has the same shapes). */
struct qrun_progress {
    const char *name;            /* the tensor just quantized            */
    int done, total;             /* tensors quantized / to quantize      */
    double frac;                 /* weights quantized / to quantize      */
    double elapsed;              /* seconds since qrun_quantize started  */
    double eta;                  /* seconds left (estimate), -1 unknown  */
};

struct qrun_opts {
    struct quant_spec spec;      /* method, bits, group, sym, options    */
    int sequential;              /* 1 (default): recapture after each step;
                                    0: one capture per block             */
    int quant_output;            /* also quantize the classifier (token_embd
                                    when tied), calibrated on its input  */
    int quant_embed;             /* also quantize token_embd as a lookup
                                    table (RTN with the spec's grid)     */
    int out_err;                 /* 1 (default): each report's out_err,
                                    two (rows,cols)x(cols,cols) products
                                    per tensor; 0: left -1               */
    int calib_ctx;               /* tokens per calibration chunk         */
    int calib_chunks;            /* chunks used (<= what the stream has) */
    int bos;                     /* id put at the start of every chunk, <0 keep */
    /* llama.cpp importance matrix (src/imatrix.h) or NULL: each tensor's
     * entry goes to quant_calib.importance (the ggml-type methods use it;
     * a tensor without an entry gets none, as in llama-quantize) */
    const struct qimatrix *imatrix;
    /* a per-tensor plan (src/qplan.h) or NULL: each block linear is
     * quantized with spec_of(spec_ud, layer, role), NULL keeping it float;
     * `spec` is then only the fallback for token_embd / output (which a
     * plan run leaves float).  Linears sharing an input are never stacked
     * under a plan (their specs may differ). */
    const struct quant_spec *(*spec_of)(void *ud, int layer, enum qrole role);
    void *spec_ud;
    /* evaluation-time fake quantization (0 = off) */
    int act_bits, act_group;
    int kv_bits, kv_group;       /* kv_group < 0: default (head_dim / 0) */
    enum calib_axis kv_axis;
    /* observer: called with each captured calibration (layer -1, site
     * n/a = -1 for the classifier input) right before it is used; nonzero
     * return cancels.  For tests and views (e.g. Hessian statistics). */
    int (*on_calib)(void *ud, int layer, int site, const struct calib_acc *a);
    void *on_calib_ud;
    /* phase: called as each piece of work begins, with what it is
     * ("calibrating" = forward passes capturing a linear's input,
     * "quantizing" = the quantizer itself) and where ("blk.3.attn_q/k/v",
     * "output"); the counts come from progress.  Nonzero return cancels.
     * ud: progress_ud.  For the dashboard's jobs panel. */
    int (*on_phase)(void *ud, const char *phase, const char *what);
    /* progress: after each quantized step; nonzero return cancels */
    int (*progress)(void *ud, int layer, int n_layers, const char *what);
    void *progress_ud;
    /* per-tensor progress with an ETA (struct qrun_progress), after each
     * tensor is quantized; nonzero return cancels.  ud: progress_ud */
    int (*on_tensor)(void *ud, const struct qrun_progress *p);
    volatile int *cancel;
    /* block done: called once with layer -1 before the first block (the
     * token embedding is final: quantized already with quant_embed), then
     * after the linears of each block `layer` are quantized and installed
     * and the calibration states have gone through it.  Nothing in qrun
     * reads a finished block's overrides again, so a streamed evaluation
     * (src/estream.h) advances its own hidden states here and may free
     * them.  A negative return stops the run with that code, the message
     * in *err.  ud: on_block_ud */
    int (*on_block)(void *ud, int layer, struct qerr *err);
    void *on_block_ud;
};

/* Report of one quantized tensor. */
struct qrun_tensor {
    char name[QM_NAME_MAX];
    int layer;
    enum qrole role;
    int rows, cols;
    struct quant_report rep;
    double seconds;              /* quantization time (a stacked step's
                                    time is split by rows)               */
};

struct qrun {
    struct qmodel *m;
    struct qrun_opts o;
    struct qrun_tensor *t;       /* (n_t) in quantization order          */
    int n_t;
    /* per (layer, site) of CALIB_ATTN_IN..CALIB_FFN_DOWN, and the
     * classifier input at index n_layers*4: smoothing scales s and
     * float-kept features from the method (NULL when none) */
    float **in_scale;            /* (n_layers*4 + 1) -> (in_dim) or NULL */
    unsigned char **fp_cols;     /* (n_layers*4 + 1) -> (in_dim) or NULL */
    unsigned char *quantized;    /* (n_layers*4 + 1) the site's linears are
                                    quantized (act quant applies there)  */
    int n_chunks, ctx;           /* calibration actually used            */
    int64_t n_params;            /* all tensors                          */
    int64_t n_quant;             /* weights in quantized tensors         */
    double quant_bits;           /* Σ bits over quantized tensors        */
    double calib_seconds;        /* forward passes over calibration data */
    double quant_seconds;        /* quantizer apply() time               */
    double seconds;              /* whole qrun_quantize                  */
    /* progress bookkeeping (qrun_progress) */
    int n_todo;                  /* tensors to quantize                  */
    double w_todo, w_done;       /* weights to quantize / quantized      */
    double t_start;
};

/* Defaults: sequential, float embedding and classifier, calib_ctx 512,
 * calib_chunks 32, bos -1, no activation / KV quantization. */
void qrun_opts_default(struct qrun_opts *o);

/* Quantize every linear of m (installing overrides) with calibration
 * chunks cut from `tokens` (a stream already tokenized with BOS; chunk i
 * is tokens [i*ctx, (i+1)*ctx) with its first token set to o->bos when
 * >= 0).  f must be an fwd context on m with max_tokens >= o->calib_ctx.
 * Methods that need no calibration skip the capture passes.  On failure
 * or cancel (QERR_CANCEL) the overrides installed so far stay; call
 * qmodel_clear_overrides to undo.  r is valid for qrun_free either way. */
int qrun_quantize(struct qrun *r, struct fwd *f, const int *tokens, size_t n_tokens,
                  const struct qrun_opts *o, struct qerr *err);
void qrun_free(struct qrun *r);

/* Hooks that fake-quantize activations and K/V for the evaluation of the
 * quantized model (act_bits / kv_bits of the options; with both 0 every
 * callback is NULL).  ud is r.  They only read r, so two forward passes
 * may call them at the same time (ppl_opts.hooks_mt). */
void qrun_eval_hooks(struct qrun *r, struct fwd_hooks *h);

/* Mean bits per weight over the quantized tensors (0 when none). */
double qrun_bits_per_weight(const struct qrun *r);
/* Model size in MiB: float = every parameter at 16 bits; quantized =
 * quantized linears at their bits/weight, the rest at 16 bits. */
double qrun_size_mib_float(const struct qrun *r);
double qrun_size_mib(const struct qrun *r);

/* Fold the smoothing scales of the norm-fed sites (attn_q/k/v after
 * attn_norm, ffn_gate/up after ffn_norm) into the model, as a deployed
 * SmoothQuant / AWQ checkpoint stores them: norm weight /= s and
 * W := Ŵ·diag(s) (overrides), and those sites' scales become 1 for the
 * evaluation hooks.  The function the model computes is unchanged up to
 * float rounding; the activations a W8A8 kernel sees are then x/s. */
int qrun_fold_scales(struct qrun *r, struct qerr *err);

/* Do two texts share a window of `win` bytes?  Returns the offset in b of
 * the first shared window, -1 when none (calibration and evaluation text
 * must not overlap), -2 when out of memory.  Rabin-Karp: a hash set of the
 * windows of a, every hit verified byte for byte; O(na + nb). */
long qrun_text_overlap(const char *a, size_t na, const char *b, size_t nb, size_t win);

#endif
