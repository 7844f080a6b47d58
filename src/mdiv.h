/* mdiv: layer-wise divergence of a quantized model from its float original
 * (`qlens divergence`, the dashboard's run drill-down).
 *
 * The float model (fwd_use_overrides(f, 0)) and the quantized one (the
 * overrides installed, plus the run's evaluation hooks: activation / KV
 * fake quantization) run side by side on the same chunks, the chunks
 * `qlens ppl` / `quant` evaluate (n_ctx tokens, BOS first, no cache across
 * chunks), block by block through fwd_embed / fwd_block / fwd_final (one
 * forward pass, src/forward.h; nothing forked).  Statistics cover the
 * scored positions of each chunk, first = n_ctx/2 .. n_ctx-2 (the
 * positions whose next token perplexity scores), so the KL mean below is
 * the KL mean `qlens quant` reports.
 *
 * Two ways of comparing (enum mdiv_mode):
 *   MDIV_ACC    accumulated: the quantized model runs on its own
 *               activations from the embedding on; the error of a row is
 *               everything that went wrong up to there (how it grows
 *               through the depth).
 *   MDIV_LOCAL  local: each quantized piece gets the FLOAT model's input;
 *               a block row is block_q(x_f) against block_f(x_f), a linear
 *               row A(X_f) Ŵᵀ against X_f Wᵀ (A = the activation fake
 *               quantization, identity for weight-only runs): the error
 *               entering there.  Block 0 and its q, k, v get the same
 *               input both ways (unless the embedding is quantized).
 *
 * Rows (in this order, per layer): the outputs y = x Wᵀ (before any bias)
 * of attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down,
 * then the residual stream x after the block; after the last layer one
 * row for the logits.  Per scored token t, with y_f the float and y_q the
 * quantized vector:
 *     rel_t = ‖y_q − y_f‖ / ‖y_f‖        (0 when both are 0, 1 when only
 *                                         y_f is 0)
 *     cos_t = <y_q, y_f> / (‖y_q‖ ‖y_f‖)  (1 when both are 0, 0 when one is)
 * reported as the mean over tokens, p99 and max of rel_t (ppl_dist_compute:
 * linear interpolation between sorted values), mean and min of cos_t, and
 * rel_all = ‖ΔY‖_F / ‖Y_f‖_F over all scored tokens.  Sums in double.
 * KL: per scored position KL(P_float ‖ P_quant) of the next-token
 * distributions of the accumulated model (ppl_kl), summarised as
 * `qlens ppl --kl` does, and top-1 agreement.
 *
 * Cost per chunk: three block passes (float, accumulated, local), the
 * linear outputs recomputed from the captured inputs (three products per
 * linear over the scored rows), three classifier passes.  Memory: the
 * per-token rel_t of every row and mode (rows × 2 × scored tokens floats)
 * plus a few (n_ctx, hidden) buffers. */
#ifndef QLENS_MDIV_H
#define QLENS_MDIV_H

#include <stddef.h>

#include "analysis/qerr.h"
#include "src/forward.h"
#include "src/model.h"
#include "src/ppl.h"
#include "src/pipeline.h"

enum mdiv_mode { MDIV_ACC = 0, MDIV_LOCAL = 1, MDIV__NMODES };
enum mdiv_kind { MDIV_LINEAR = 0, MDIV_BLOCK, MDIV_LOGITS };

#define MDIV_LINEARS 7      /* q, k, v, o, gate, up, down            */
#define MDIV_PER_LAYER 8    /* those + the block's residual stream   */

struct mdiv_stat {
    double rel_mean, rel_p99, rel_max;
    double rel_all;         /* ‖ΔY‖_F / ‖Y_f‖_F                       */
    double cos_mean, cos_min;
};

struct mdiv_row {
    char name[QM_NAME_MAX]; /* "blk.3.attn_q", "blk.3" (block), "logits" */
    int layer;              /* -1 for the logits                      */
    enum qrole role;        /* QR_OTHER for blocks and logits         */
    enum mdiv_kind kind;
    int quantized;          /* linear: an override is installed; block:
                               one of its linears; logits: the classifier */
    struct mdiv_stat s[MDIV__NMODES];
    /* KL attribution (mdiv_kl_attrib; NAN when not measured, linears
     * only): the KL mean of the model with THIS tensor's float weights
     * put back and every other tensor still quantized, and
     * kl_delta = KL(quantized model) - kl_without: the KL this tensor
     * adds on top of all the others (leave-one-out) */
    double kl_without, kl_delta;
};

struct mdiv_result {
    int n_layers, n_rows;   /* n_rows = n_layers * MDIV_PER_LAYER + 1  */
    struct mdiv_row *rows;  /* (n_rows)                                */
    int n_ctx, first, n_chunks;
    size_t n_scored;        /* tokens each statistic is over           */
    struct ppl_dist kld;    /* per-position KL, accumulated model       */
    double top1;            /* fraction with equal argmax              */
    double seconds;
    int kl_attrib;          /* kl_without / kl_delta were measured      */
    double kl_seconds;      /* time of that                             */
};

struct mdiv_opts {
    int n_ctx;              /* tokens per chunk, even, <= f->max_tokens */
    int max_chunks;         /* 0 = every whole chunk                    */
    int bos;                /* id put at the start of a chunk, <0 keep  */
    const struct fwd_hooks *hooks; /* the quantized model's evaluation
                               hooks (qrun_eval_hooks) or NULL         */
    /* after each chunk; non-zero return cancels (QERR_CANCEL) */
    int (*progress)(void *ud, int done, int total);
    void *progress_ud;
    volatile int *cancel;   /* checked between blocks                   */
    int hooks_mt;           /* hooks may run on two threads (ppl_opts)  */
    /* mdiv_pipe_run: also run mdiv_kl_attrib; keep the float logits for
     * it when they take at most kl_cache_mib MiB (else recompute) */
    int kl_attrib;
    long kl_cache_mib;
    /* mdiv_kl_attrib: after each tensor (done of total) */
    int (*kl_progress)(void *ud, int done, int total);
};

/* Row index of (layer, linear role) or of the block (role QR_OTHER), -1
 * when the role is not one of the seven. */
int mdiv_row_index(int layer, enum qrole role);
/* Run the comparison over tokens (a stream tokenized with BOS).  The model
 * of f must have its quantized overrides installed (none installed: every
 * error is 0 and every cosine 1).  Leaves f reading overrides.  r is valid
 * for mdiv_free either way. */
int mdiv_run(struct fwd *f, const int *tokens, size_t n_tokens, const struct mdiv_opts *o,
             struct mdiv_result *r, struct qerr *err);
void mdiv_free(struct mdiv_result *r);

/* Leave-one-out KL attribution on the chunks of o (its n_ctx, max_chunks,
 * bos, hooks): for every linear row with an override installed, evaluate
 * (ppl_run, KL mode) with that tensor's float weights put back and fill
 * kl_without / kl_delta; r must come from mdiv_run on the same model and
 * options.  Cost: one evaluation of the quantized model per quantized
 * linear (the float logits computed once when they fit in
 * o->kl_cache_mib).  The overrides are as before when it returns. */
int mdiv_kl_attrib(struct fwd *f, const int *tokens, size_t n_tokens, const struct mdiv_opts *o,
                   struct mdiv_result *r, struct qerr *err);
/* Indices of the linear rows by kl_delta, largest first (only when
 * r->kl_attrib); returns the count. */
int mdiv_rank_kl(const struct mdiv_result *r, int *idx, int cap);

/* The per-token measures of one pair of vectors (exposed for tests). */
void mdiv_pair(const float *yf, const float *yq, int d, double *rel, double *cos, double *e2,
               double *f2);

/* Indices of the linear rows, largest local rel_mean first (ties: depth
 * order): where the error enters.  idx gets at most cap entries; returns
 * the count. */
int mdiv_rank_linears(const struct mdiv_result *r, int *idx, int cap);

/* The whole job on a pipeline session (src/pipeline.h): quantize with spec
 * (+ act / kv bits) as `qlens quant` does (pipe_quantize), compare on the
 * session's evaluation chunks (its n_ctx, o->chunks, BOS), with
 * mo->kl_attrib the KL attribution too, remove the overrides.  mo gives
 * the callbacks and kl_attrib / kl_cache_mib (NULL: none; its n_ctx,
 * chunks, bos and hooks are the session's).  run gets the
 * quantization's reports (qrun_free it). */
int mdiv_pipe_run(struct pipe_env *e, const struct pipe_opts *o, const struct quant_spec *spec,
                  int act_bits, int kv_bits, const struct mdiv_opts *mo, struct qrun *run,
                  struct mdiv_result *r, struct qerr *err);

/* A configuration from its label (qcli_config_label / quant_spec_format
 * text, as the Runs view and the results store keep it): "GPTQ w2 g128 sym
 * damp=0.01", "q4_k", with " a8" / " kv4" / " kv4-channel" suffixes.  Without
 * an " aA" part act_bits is pipe_default_act_bits (what the dashboard ran).
 * "float ..." is refused (nothing to compare). */
int mdiv_parse_config(const char *label, struct quant_spec *spec, int *act_bits, int *kv_bits,
                      int *kv_channel, struct qerr *err);

#endif
