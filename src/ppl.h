/* ppl: perplexity and KL divergence over a token stream, as llama.cpp's
 * llama-perplexity computes them.
 *
 * Default (llama.cpp) mode, for a stream already tokenized with BOS:
 *   n_chunks = floor(n_tokens / n_ctx) (capped by max_chunks); chunk i is
 *   tokens [i*n_ctx, (i+1)*n_ctx) with its first token replaced by BOS,
 *   evaluated from position 0 with no cache across chunks; with
 *   first = n_ctx/2 the logits at positions first .. n_ctx-2 predict tokens
 *   first+1 .. n_ctx-1 (n_ctx-1-first scored tokens per chunk).
 * Full-window mode (full = 1): first = 0, every position scores the next
 * token (n_ctx-1 per chunk).
 *
 *   nll_t   = -log softmax(logits_t)[target_t]   (log-sum-exp in double)
 *   PPL     = exp(mean nll)
 *   stderr  = PPL * sqrt((mean nll² - mean nll²) / (N - 1))   (llama.cpp's
 *             "PPL = x +/- y": a delta-method standard error)
 *
 * KL mode (kl = 1): every chunk runs twice in the same process, once with
 * the float originals (fwd_use_overrides(f, 0): the baseline; or o->base,
 * another model) and once with the overrides and hooks (the candidate), and
 * for each scored position:
 *   KL_t    = sum_v p_base(v) (log p_base(v) - log p_cand(v))
 *   top-1   = argmax base == argmax candidate
 *   Δp_t    = p_cand(target) - p_base(target)
 * reported as llama.cpp --kl-divergence does: mean ± stderr, max, 99.9%,
 * 99%, 95%, 90%, median, 10%, 5%, 1%, min (linear interpolation between
 * sorted values), top-1 agreement ± stderr, mean Δp ± stderr and RMS Δp.
 * Memory is two (n_scored, vocab) buffers.  With kl_in the baseline is
 * read from a llama.cpp --kl-divergence-base file instead (klfile.h says
 * how its packed log-probabilities are scored); kl_out writes one. */
#ifndef QLENS_PPL_H
#define QLENS_PPL_H

#include <stddef.h>

#include "analysis/qerr.h"
#include "src/forward.h"

struct ppl_cache;
struct klfile;
struct klfile_out;

struct ppl_opts {
    int n_ctx;            /* tokens per chunk, even, >= 2, <= f->max_tokens */
    int max_chunks;       /* 0 = every whole chunk of the stream          */
    int full;             /* 1: score every position, not the second half */
    int kl;               /* 1: baseline vs candidate KL divergence       */
    int bos;              /* id put at the start of every chunk (< 0: keep) */
    const struct fwd_hooks *hooks; /* applied to the candidate pass       */
    int hooks_mt;         /* 1: the hooks may run on two threads at once
                             (then two chunks still run at a time)      */
    /* Called after each chunk with the running estimate; a non-zero return
     * cancels (QERR_CANCEL). */
    int (*progress)(void *ud, int chunks_done, int n_chunks, double ppl_so_far);
    void *progress_ud;
    volatile int *cancel; /* checked between chunks; non-zero cancels     */
    struct fwd *base;     /* KL mode: baseline from this context (another
                             model file with the same vocabulary, e.g. the
                             float original of a saved quantized model)
                             instead of f's float originals; NULL = f    */
    int max_workers;      /* 0 = auto: two chunks at a time, one per CPU,
                             each single-threaded (no base; no hooks
                             unless hooks_mt);
                             1 = one chunk at a time.  The result is the
                             same either way (bit for bit).             */
    struct ppl_cache *cache; /* baseline logits kept across runs (below);
                             NULL = none                                 */
    /* llama.cpp --kl-divergence-base files (src/klfile.h): */
    const struct klfile *kl_in; /* KL mode: the baseline is this file's
                             log-probabilities (no baseline pass; scored
                             by llama.cpp's formulas, klfile_score); the
                             run's n_ctx, vocabulary, chunks and tokens
                             must be the file's                          */
    struct klfile_out *kl_out; /* plain mode: store every chunk's packed
                             log-probabilities in this file (its n_ctx,
                             vocabulary and chunks are the run's)        */
    /* Candidate logits from the caller instead of the candidate forward
     * pass (a streamed evaluation, src/estream.h, whose hidden states
     * went through the blocks already): fill lc, (n_ctx - first, vocab),
     * for chunk c with the worker's context f; 0 or a negative QERR_*
     * code with the message in f->err.  Called on two threads at once
     * when the run has two workers.  NULL: fwd_chunk_from with hooks. */
    int (*cand)(void *ud, struct fwd *f, int c, int first, float *lc);
    void *cand_ud;
};

/* Baseline logits kept across KL runs on the same chunks: a sweep scores
 * many candidates against one float model, and the float forward pass of
 * every chunk would otherwise be repeated for each of them.
 *   empty (filled = 0): a run stores its baseline logits (KL mode: the
 *     baseline pass; plain mode: the evaluated model's logits, so the
 *     caller runs it on the float model) and sets filled when every
 *     chunk is done;
 *   filled: KL runs read the baseline from it and skip the baseline
 *     pass.  The stored rows are the raw logits the baseline pass
 *     produces, so KL, top-1 and Δp are bit-identical to recomputing.
 * Memory: n_chunks * (n_ctx - first) * vocab floats (every row the
 * forward pass writes for a chunk, scored or not). */
struct ppl_cache {
    const int *tokens;    /* the stream and options it was made for       */
    size_t n_tokens;
    int n_ctx, first, n_chunks, vocab, bos;
    size_t rows;          /* rows per chunk: n_ctx - first               */
    float *logits;        /* (n_chunks * rows, vocab) baseline logits     */
    int filled;
};

/* Bytes a cache for runs of o over n_tokens would take. */
size_t ppl_cache_bytes(const struct fwd *f, size_t n_tokens, const struct ppl_opts *o);
/* Prepare an empty cache for runs of o over tokens when it takes at most
 * budget bytes: returns 1 (allocated), 0 (too large or out of memory:
 * c->logits stays NULL and runs must recompute; pass o->cache = NULL). */
int ppl_cache_init(struct ppl_cache *c, const struct fwd *f, const int *tokens,
                   size_t n_tokens, const struct ppl_opts *o, size_t budget);
void ppl_cache_free(struct ppl_cache *c);

/* Summary of a sorted sample (KL or Δp). */
struct ppl_dist {
    double mean, stderr_mean, rms;
    double rms_stderr;    /* llama.cpp's: 0.5/rms * stderr of mean(v²)   */
    double min, p001, p01, p05, p10, p25, median, p75, p90, p95, p99, p999, max;
};

struct ppl_result {
    int n_ctx, n_chunks, first; /* first = scored positions start          */
    size_t n_scored;      /* tokens scored in total                       */
    double nll_mean;      /* mean negative log-likelihood (nats)          */
    double ppl, ppl_stderr;
    int kl;               /* the fields below are valid                   */
    double base_ppl, base_ppl_stderr, base_nll_mean;
    double ln_ppl_ratio;  /* mean nll cand - mean nll base = ln(PPL/PPLb) */
    struct ppl_dist kld;  /* per-token KL (nats)                          */
    struct ppl_dist dp;   /* per-token Δp of the correct token            */
    double top1, top1_stderr; /* fraction of positions with equal argmax  */
    /* llama.cpp's "Perplexity statistics" (nll_t, nllb_t per position):
     *   cov  = (mean(nll·nllb) - mean nll · mean nllb) / (N-1)
     *   cor  = cov / (se(nll) se(nllb))     (se: standard error of a mean)
     *   ln ratio ± sqrt(se(nll)² + se(nllb)² - 2 cov)
     *   PPL ratio = exp(ln ratio) ± ratio · that
     *   PPL diff = PPL - PPL_base ± sqrt(sePPL² + sePPLb² - 2 PPL PPLb cov) */
    double ln_ppl_ratio_stderr, ppl_ratio, ppl_ratio_stderr, ppl_diff, ppl_diff_stderr;
    double nll_cor;       /* Cor(ln PPL(Q), ln PPL(base))                 */
    int kl_file;          /* 1: the baseline came from a llama.cpp file   */
    double seconds;       /* wall time of the forward passes and scoring  */
};

/* How many chunks a stream of n_tokens gives (before max_chunks). */
int ppl_n_chunks(size_t n_tokens, int n_ctx);
/* Check options against the context and the stream; message says why. */
int ppl_check(const struct fwd *f, size_t n_tokens, const struct ppl_opts *o, struct qerr *err);
/* Run it.  f must have max_tokens >= n_ctx.  Leaves f with overrides on. */
int ppl_run(struct fwd *f, const int *tokens, size_t n_tokens, const struct ppl_opts *o,
            struct ppl_result *r, struct qerr *err);

/* ---- scoring kernels (exposed for tests) ---- */
/* log softmax(logits)[target] with log-sum-exp in double (llama.cpp's
 * log_softmax); *argmax gets the index of the largest logit. */
double ppl_logprob(const float *logits, int vocab, int target, int *argmax);
/* KL(p_base || p_cand) for one position; also p_base(target), p_cand(target)
 * and the argmaxes. */
double ppl_kl(const float *base, const float *cand, int vocab, int target, double *pb_t,
              double *pc_t, int *am_b, int *am_c);
/* Summary of n values (sorts v in place). */
void ppl_dist_compute(float *v, size_t n, struct ppl_dist *d);

#endif
