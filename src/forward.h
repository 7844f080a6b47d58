/* forward: the Llama-family forward pass over a whole chunk of tokens.
 *
 * Semantics are llama2.c's run.c (the reference for stories260K), batched:
 *   x = token_embd[tok]                                   (n, dim)
 *   per block:  xb = rmsnorm(x) * attn_norm
 *               q,k,v = xb Wqᵀ, xb Wkᵀ, xb Wvᵀ (+ bias, Qwen2); RoPE on q,k
 *               causal softmax(q kᵀ / sqrt(head_dim)) v, GQA: head h reads
 *               kv head h / (n_heads / n_kv_heads)
 *               x += attn Woᵀ
 *               xb = rmsnorm(x) * ffn_norm
 *               x += (silu(xb W1ᵀ) * (xb W3ᵀ)) W2ᵀ
 *   logits = rmsnorm(x) * output_norm  Woutᵀ   (Wout = token_embd when tied)
 * with the family features of struct qconfig where a model has them:
 *   x = token_embd[tok] * embd_scale                   (Gemma: sqrt(dim))
 *   q, k: per-head rmsnorm * attn_q_norm / attn_k_norm before RoPE (Qwen3,
 *         Gemma 3); RoPE angles divided by rope_div (llama3 / linear
 *         scaling) on global layers, theta_local on local ones (Gemma 3)
 *   scores * attn_scale (query_pre_attn_scalar^-1/2), then
 *         attn_softcap * tanh(scores / attn_softcap) (Gemma 2), keys
 *         limited to the sliding window on local layers
 *   x += rmsnorm(attn Woᵀ) * post_attention_norm        (Gemma 2/3)
 *   ffn: gelu_tanh(xb W1ᵀ) * (xb W3ᵀ) (GeGLU, Gemma), its output through
 *        post_ffw_norm before the residual add (Gemma 2/3)
 *   logits = final_softcap * tanh(logits / final_softcap) (Gemma 2)
 * A chunk always starts at position 0 with causal attention inside the
 * chunk and no cache across chunks (llama-perplexity semantics).
 *
 * Every projection, the attention scores QKᵀ and the weighted sum of V are
 * cblas_sgemm calls over the whole chunk; K/V are read in place by all
 * query heads of a group (no per-head copies).
 *
 * Weights: fwd_use_overrides(f, 1) (the default) reads qtensor_f32() (a
 * quantized override when one is installed); fwd_use_overrides(f, 0) reads
 * qtensor_f32_orig(), the float original.  One process can therefore run the
 * float baseline and the quantized candidate side by side (KL divergence
 * without writing logits to disk).  Weights are looked up at every call,
 * so overrides installed between calls take effect at once.
 *
 * Memory: fwd_init allocates scratch for max_tokens once (sizes on each
 * field below); nothing else is allocated during a pass.  A runner that
 * streams a model layer by layer keeps its own (n, dim) residual buffer per
 * calibration chunk and calls fwd_embed, fwd_block(layer) for one layer at a
 * time, and fwd_final.
 *
 * Threads: a struct fwd belongs to one thread at a time.  Small models run
 * OpenBLAS single-threaded during a pass (blas_threads = 1); large models
 * let OpenBLAS thread the projections and split attention heads over two
 * threads of their own (att_threads = 2).  Perplexity over several chunks
 * instead runs two single-threaded contexts side by side, one chunk each
 * (src/ppl.c): no synchronization inside a chunk at all.
 *
 * Errors: functions return 0 or a negative QERR_* code; the message is in
 * f->err.  A hook returning a negative value aborts the pass with that
 * code (use QERR_CANCEL for cancellation). */
#ifndef QLENS_FORWARD_H
#define QLENS_FORWARD_H

#include "analysis/qerr.h"
#include "src/model.h"

/* Observation / modification points of one pass.  Any callback may be NULL.
 *
 * linear_in: called with the input of every linear layer before its matmul,
 * once per distinct input:
 *   role QR_ATTN_Q    x = rmsnorm(x)*attn_norm, (n, dim); it also feeds
 *                     attn_k and attn_v (one call for the three)
 *   role QR_ATTN_OUT  x = attention output, (n, n_heads*head_dim)
 *   role QR_FFN_GATE  x = rmsnorm(x)*ffn_norm, (n, dim); also feeds ffn_up
 *   role QR_FFN_DOWN  x = silu(gate)*up, (n, hidden_dim)
 *   role QR_OUTPUT    x = rmsnorm(x)*output_norm, (n, dim), layer -1
 *                     (only rows that fwd_final computes logits for)
 * x is row-major (n, in_dim) and may be modified in place (fake-quant): the
 * matmul reads what the hook leaves.
 *
 * kv: called per block after the K and V projections (+bias) and RoPE on K,
 * before attention; k and v are (n, kv_dim) row-major, kv_dim =
 * n_kv_heads*head_dim, modifiable in place (KV-cache fake quant). */
struct fwd_hooks {
    void *ud;
    int (*linear_in)(void *ud, int layer, enum qrole role, float *x /* (n, in_dim) */,
                     int n, int in_dim);
    int (*kv)(void *ud, int layer, float *k /* (n, kv_dim) */, float *v /* (n, kv_dim) */,
              int n, int kv_dim);
};

/* Per-layer weights (tensor pointers; floats fetched per call). */
struct fwd_layer {
    struct qtensor *attn_norm, *wq, *wk, *wv, *wo, *bq, *bk, *bv;
    struct qtensor *ffn_norm, *w1, *w2, *w3;
    struct qtensor *q_norm, *k_norm;      /* (head_dim) or NULL            */
    struct qtensor *post_attn, *post_ffn; /* (dim) or NULL (Gemma 2/3)     */
    int local;            /* sliding window + local RoPE on this layer     */
};

struct fwd {
    struct qmodel *m;
    struct qconfig cfg;
    int max_tokens;
    int use_overrides;    /* 1: qtensor_f32 (default), 0: qtensor_f32_orig */
    int q_dim, kv_dim;    /* n_heads*head_dim, n_kv_heads*head_dim        */
    int blas_threads;     /* OpenBLAS threads during a pass: 1 for small
                             models (thread hand-off dominates), 0 = leave
                             OpenBLAS's setting; may be changed by callers */
    struct fwd_layer *layers; /* (n_layers)                              */
    struct qtensor *tok_embd, *out_norm, *output; /* output = tok_embd when tied */
    /* scratch, sized once for max_tokens = T */
    float *x;             /* (T, dim)      residual stream of fwd_chunk   */
    float *xb;            /* (T, max(dim, q_dim)) normed input / attn out  */
    float *q;             /* (T, q_dim)                                   */
    float *k, *v;         /* (T, kv_dim)                                  */
    float *att;           /* (min(T,64), T) scores of one head, one block  */
    float *att2;          /* the same for the second attention thread      */
    int att_threads;      /* 2: heads split over two threads (default for
                             large models; needs att2, allocated when the
                             machine has two CPUs)                        */
    float *hb, *hb2;      /* (T, hidden_dim)                              */
    float *rope_cos, *rope_sin; /* (T, head_dim/2) angle tables, global layers */
    float *rope_cos_l, *rope_sin_l; /* the same for local layers (own theta,
                             no scaling); equal to the global ones when
                             no layer differs                             */
    float *tmp;           /* (T, dim) block output before its post-norm,
                             allocated only for Gemma 2/3                 */
    float *wtile;         /* (tile_rows, max in_dim) converted weight rows */
    float *wtile2;        /* the same for the second tile thread, or NULL */
    int tile_rows;        /* rows of a weight tile (4 MB of floats)       */
    int tile_threads;     /* 2: a tiled product's output rows are split
                             over two threads, each converting its own
                             tiles and multiplying them single-threaded,
                             so one converts while the other multiplies
                             (set with att_threads: large models, two
                             CPUs, OpenBLAS threaded); 1: one thread      */
    int use_gemm16;       /* 1 (default where built, for models of 1M
                             weights per block or more): F16/BF16 matrices
                             are multiplied in place by gemm16 (src/
                             gemm16.h: converted inside the product, no
                             tile) for chunks of FWD_GEMM16_MIN_N tokens
                             or more; 0: tiles and sgemm, as other types  */
    volatile int *cancel; /* optional: non-zero stops fwd_chunk / fwd_step
                             between blocks with QERR_CANCEL              */
    /* This context's own override of one tensor (fwd_set_override): with
     * use_overrides, ovr_t reads ovr_w instead of the model's weights, so
     * several contexts on one model each evaluate a different quantized
     * tensor at once (the sensitivity cells, src/sens.c) without touching
     * the model's shared override slots. */
    const struct qtensor *ovr_t;
    const float *ovr_w;   /* (rows, cols) of ovr_t; the caller's memory  */
    struct qerr err;      /* message of the last failure                  */
};

/* Prepare a context for chunks of up to max_tokens tokens (1 ..
 * cfg.ctx_len is typical, larger is allowed).  Checks that every tensor the
 * pass needs exists with the right shape. */
int fwd_init(struct fwd *f, struct qmodel *m, int max_tokens, struct qerr *err);
void fwd_free(struct fwd *f);
/* Convert every weight the pass reads (originals and overrides) to float
 * now, so several threads may then run passes on the same model, each with
 * its own struct fwd, without racing on the lazy conversion.  <0: no memory. */
int fwd_prepare(struct fwd *f);
/* 1: read overrides (quantized weights) when set; 0: float originals. */
void fwd_use_overrides(struct fwd *f, int on);
/* Tensor t reads w (its rows x cols floats, kept by the caller until it is
 * replaced) in this context only, ahead of any model override; t NULL
 * removes it.  Contexts made for the same pass (ppl's chunk workers) copy
 * it. */
void fwd_set_override(struct fwd *f, const struct qtensor *t, const float *w);

/* x (n, dim) = token_embd rows of tokens[0..n).  Token ids outside the
 * vocabulary are an error (QERR_ARG). */
int fwd_embed(struct fwd *f, const int *tokens, int n, float *x /* (n, dim) */);
/* One transformer block in place on x (n, dim), positions 0..n-1. */
int fwd_block(struct fwd *f, int layer, float *x /* (n, dim) in/out */, int n,
              const struct fwd_hooks *hooks);
/* logits (n, vocab) = classifier(rmsnorm(x)).  x is not modified. */
int fwd_final(struct fwd *f, const float *x /* (n, dim) */, int n,
              float *logits /* (n, vocab) */, const struct fwd_hooks *hooks);
/* The whole pass: embed, every block, final.  Uses f->x as the residual. */
int fwd_chunk(struct fwd *f, const int *tokens, int n, float *logits /* (n, vocab) */,
              const struct fwd_hooks *hooks);
/* As fwd_chunk, but logits only for positions [from, n): logits is
 * (n-from, vocab).  Perplexity scores only the second half of a chunk. */
int fwd_chunk_from(struct fwd *f, const int *tokens, int n, int from,
                   float *logits /* (n-from, vocab) */, const struct fwd_hooks *hooks);

/* Incremental decoding (generation): a KV cache of max_tokens positions.
 * fwd_step runs n new tokens at positions pos .. pos+n-1 (causal over the
 * cache and themselves), appends their K/V, advances pos, and writes the
 * logits of the last one.  Equal to fwd_chunk over the whole prefix. */
struct fwd_cache {
    int pos, cap;         /* tokens cached, capacity (= f->max_tokens)    */
    float *k, *v;         /* (n_layers, cap, kv_dim)                      */
};
int fwd_cache_init(struct fwd_cache *c, const struct fwd *f, struct qerr *err);
void fwd_cache_free(struct fwd_cache *c);
int fwd_step(struct fwd *f, struct fwd_cache *c, const int *tokens, int n,
             float *logits /* (vocab) */, const struct fwd_hooks *hooks);

/* Plain per-token reference (src/forward_ref.c): llama2.c's run.c with a
 * KV cache, one token at a time, scalar loops, no BLAS, no hooks.  logits
 * (n, vocab) for positions 0..n-1.  Reads qtensor_f32() weights when
 * use_overrides, else the originals. */
int fwd_ref_chunk(struct qmodel *m, const int *tokens, int n, int use_overrides,
                  float *logits /* (n, vocab) */, struct qerr *err);

/* Floating-point operations of one chunk of n tokens with logits for
 * n_logits positions (2 per multiply-add; attention counted causally). */
double fwd_flops(const struct qconfig *c, int n, int n_logits);

#endif
