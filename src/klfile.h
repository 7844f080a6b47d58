/* klfile: llama.cpp's `--kl-divergence-base` logits files, read and
 * written, and llama.cpp's KL scoring against them.
 *
 * llama-perplexity with --kl-divergence-base FILE (and no --kl-divergence)
 * stores the base model's next-token distributions of every scored
 * position; a later run of a quantized model with --kl-divergence reads
 * them instead of evaluating the base model again.  The layout (host byte
 * order, little-endian on every machine llama.cpp ships for):
 *
 *   offset 0   char[8]  "_logits_"
 *          8   int32    n_ctx           tokens per chunk
 *         12   int32    n_vocab
 *         16   int32    n_chunk
 *         20   int32    tokens[n_chunk * n_ctx]   the evaluated stream as
 *                       tokenized (the first token of a chunk is NOT yet
 *                       replaced by BOS; evaluation does that)
 *   then, chunk after chunk, rows = n_ctx - 1 - n_ctx/2 records (the
 *   positions n_ctx/2 .. n_ctx-2, each predicting the next token), each of
 *   nv = 2*((n_vocab+1)/2) + 4 uint16 words:
 *          float    scale           (words 0-1)
 *          float    min_log_prob    (words 2-3)
 *          uint16   q[n_vocab]      (+ one zero word when n_vocab is odd)
 *   with log p(v) = scale * q[v] + min_log_prob.
 *
 * Packing one row of logits x (llama.cpp's log_softmax with log_prob):
 *   mx = max x, lo = max(min x, mx - 16), lse = log sum_v exp(x_v - mx),
 *   scale = (mx - lo) / 65535, min_log_prob = lo - mx - lse,
 *   q[v] = round((x_v - lo) / scale) if x_v > lo else 0   (scale 0: all 0).
 * So a log-probability within 16 nats of the top is kept to +-scale/2
 * (<= 16/65535/2 = 1.22e-4 nats); anything lower reads as min_log_prob.
 *
 * Scoring one candidate row x against a base record (llama.cpp's KL pass):
 *   nll      = mx + lse - x[t]                    (t: the next token)
 *   nll_base = -(scale * q[t] + min_log_prob)
 *   KL       = sum over v with lb_v > -16 of exp(lb_v) * (lb_v - (x_v - mx - lse)),
 *              lb_v = scale * q[v] + min_log_prob  (the rest is dropped)
 *   Δp       = exp(-nll) - exp(-nll_base)
 *   same top = argmax x == argmax lb (first maximum of each)
 */
#ifndef QLENS_KLFILE_H
#define QLENS_KLFILE_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/afile.h"
#include "analysis/qerr.h"

#define KLFILE_MAGIC "_logits_"
#define KLFILE_HEADER 20 /* magic + n_ctx + n_vocab + n_chunk */

/* uint16 words per record of a vocabulary of n_vocab. */
int klfile_row_words(int n_vocab);
/* Records per chunk of n_ctx tokens: n_ctx - 1 - n_ctx/2. */
int klfile_rows(int n_ctx);

/* ---- reading ---- */
struct klfile {
    char path[1024];
    int fd;
    int n_ctx, n_vocab, n_chunk;
    int nv, rows;          /* words per record, records per chunk          */
    int *tokens;           /* (n_chunk * n_ctx) the evaluated stream       */
    long long data_off;    /* byte offset of chunk 0's first record        */
};

/* Open and check: magic, positive sizes, every token id < n_vocab, and a
 * file size exactly header + tokens + records (a truncated or padded file
 * is refused).  Errors name the file and the field. */
int klfile_open(struct klfile *k, const char *path, struct qerr *err);
void klfile_close(struct klfile *k);
/* Chunk c's records into buf (rows * nv words; safe from several threads
 * at once), each record's scale and min_log_prob checked (finite,
 * scale >= 0, min_log_prob <= 0). */
int klfile_read_chunk(const struct klfile *k, int c, uint16_t *buf, struct qerr *err);
/* The same check of a stream's context against the file: n_ctx, n_vocab,
 * chunks and the token ids; message names the file and the field. */
int klfile_check_run(const struct klfile *k, int n_ctx, int n_vocab, int n_chunks,
                     const int *tokens, struct qerr *err);

/* ---- writing ---- */
struct klfile_out {
    struct afile a;
    int n_ctx, n_vocab, n_chunk, nv, rows;
    long long data_off;
};

/* Create (atomically: nothing appears at path before klfile_commit) and
 * write the header and the tokens (n_chunk * n_ctx of them). */
int klfile_create(struct klfile_out *w, const char *path, int n_ctx, int n_vocab, int n_chunk,
                  const int *tokens, struct qerr *err);
/* Pack rows logit rows (rows, n_vocab) of chunk c into scratch (rows * nv
 * words) and write them at the chunk's place (chunks may come in any order,
 * from several threads). */
int klfile_write_chunk(struct klfile_out *w, int c, const float *logits, uint16_t *scratch,
                       struct qerr *err);
int klfile_commit(struct klfile_out *w, struct qerr *err);
void klfile_abort(struct klfile_out *w);

/* ---- kernels ---- */
/* Pack one row of n_vocab logits into nv words (padding word zeroed). */
void klfile_pack(const float *logits, int n_vocab, uint16_t *rec);
/* log p(v) of a record. */
float klfile_logprob(const uint16_t *rec, int v);

struct klfile_tok {
    double nll, nll_base; /* -log p_cand(t), -log p_base(t)               */
    double kld;           /* KL(base || cand) as above                     */
    double dp;            /* p_cand(t) - p_base(t)                         */
    int same_top;
};
/* Score candidate logits against a base record for next token t. */
void klfile_score(const float *logits, const uint16_t *rec, int n_vocab, int t,
                  struct klfile_tok *out);

#endif
