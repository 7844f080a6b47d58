/* estream: the evaluation of a quantized model streamed through the
 * quantization's block loop, so the quantized weights of the whole model
 * are never resident at once (issue 15: memory bounded by one block).
 *
 * llama-perplexity's chunks are independent, and a chunk's pass is
 * embed -> block 0 -> ... -> block n-1 -> final (src/forward.h).  So
 * instead of quantizing every block and then running whole passes:
 *
 *   H = token_embd[evaluation chunks]           (n_chunks, n_ctx, dim)
 *   for each block L, as soon as its linears are quantized:
 *       H = block L (quantized, evaluation hooks) applied to H
 *       (the caller then frees block L's float overrides)
 *   logits of chunk c = fwd_final(H[c] from position first)
 *   scored by ppl_run exactly as a whole pass is (ppl_opts.cand)
 *
 * Each step is the kernel the whole pass runs (fwd_embed, fwd_block,
 * fwd_final with the same hooks and thread settings: two single-threaded
 * contexts, one chunk each, as ppl_run's two workers), so PPL, KL and
 * top-1 are bit-identical to ppl_run after the whole model is quantized.
 * The float baseline of KL mode is unchanged: ppl_run's own float pass
 * (the originals are mapped, not overrides), its cache, or a llama.cpp
 * base file.
 *
 * Memory: H, n_chunks * n_ctx * dim floats, plus a second forward
 * context; estream_bytes says how much. */
#ifndef QLENS_ESTREAM_H
#define QLENS_ESTREAM_H

#include <stddef.h>

#include "analysis/qerr.h"
#include "src/forward.h"
#include "src/ppl.h"

struct estream {
    struct fwd *f;                /* the caller's context (overrides on)  */
    struct fwd f2;                /* the second worker's, when f2_ok      */
    int f2_ok;
    struct ppl_opts po;           /* the evaluation (copied; cand set)    */
    const int *tokens;
    size_t n_tokens;
    int n_chunks, n_ctx, dim;
    float *h;                     /* (n_chunks, n_ctx, dim) hidden states */
    int next_layer;               /* blocks applied so far                */
    double seconds;               /* wall time of embed + blocks          */
};

/* Bytes of the hidden states of an evaluation of o over n_tokens on a
 * model of configuration c (the second context is mem_fwd_bytes's). */
double estream_bytes(const struct qconfig *c, size_t n_tokens, const struct ppl_opts *o);

/* Check o as ppl_run does, allocate H and embed every chunk (first token
 * set to o->bos when >= 0) with the model's current token_embd (its
 * override when it has one).  f: max_tokens >= o->n_ctx. */
int estream_begin(struct estream *s, struct fwd *f, const int *tokens, size_t n_tokens,
                  const struct ppl_opts *o, struct qerr *err);
/* H = block `layer` applied to H, with o->hooks (layers in order, from 0). */
int estream_block(struct estream *s, int layer, struct qerr *err);
/* After the last block: the classifier on H and ppl_run's scoring
 * (KL against the float baseline when o->kl).  r->seconds includes the
 * block passes. */
int estream_finish(struct estream *s, struct ppl_result *r, struct qerr *err);
void estream_free(struct estream *s);

#endif
