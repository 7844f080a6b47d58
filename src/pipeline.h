/* pipeline: whole-model work, the one path shared by `qlens quant`,
 * `qlens sweep`, `qlens ppl` and the dashboard's jobs (ui/jobs.c):
 *
 *   model + tokenizer -> read the calibration and evaluation texts (UTF-8
 *   checked), refuse overlapping ones, tokenize with the BOS rule -> pick
 *   the context -> [quantize every linear layer (qrun)] -> perplexity /
 *   KL against the float model on the same chunks (ppl).
 *
 * No printing: progress goes to callbacks, which may also cancel.  The
 * rules here (BOS, context default, overlap check) are the ones every
 * front end uses, so a run in the dashboard equals `qlens quant` on the
 * same settings. */
#ifndef QLENS_PIPELINE_H
#define QLENS_PIPELINE_H

#include <stddef.h>

#include "analysis/qerr.h"
#include "quant/quant.h"
#include "src/forward.h"
#include "src/model.h"
#include "src/imatrix.h"
#include "src/klfile.h"
#include "src/ppl.h"
#include "src/qplan.h"
#include "src/qrun.h"

struct tokenizer;

/* Bytes of a window the calibration and evaluation texts may not share. */
#define PIPE_OVERLAP_WINDOW 200

/* ---- the rules, one copy each ---- */

/* Resolve the model (src/paths.h rules), open it and its tokenizer. */
int pipe_open(struct qmodel *m, struct tokenizer **tok, const char *model_arg, struct qerr *err);
/* The id llama.cpp puts at the start of each chunk and of a tokenized
 * text: BOS when the tokenizer adds BOS by default (GGUF add_bos_token;
 * SentencePiece: yes), else -1 (chunks keep their first token). */
int pipe_bos(const struct tokenizer *tok);
/* Whole file; errors name the file: cannot read, empty, invalid UTF-8 (with
 * the byte offset).  *buf is NUL-terminated and malloc'd. */
int pipe_read_text(const char *path, char **buf, size_t *len, struct qerr *err);
/* Byte offset of the first invalid UTF-8 sequence, or -1 when valid. */
long pipe_utf8_invalid_at(const char *s, size_t n);
/* Tokenize text with BOS by pipe_bos's rule; errors prefixed with path. */
int pipe_tokenize(const struct tokenizer *tok, const char *path, const char *text, size_t len,
                  int **ids, size_t *n, struct qerr *err);
/* The model's context (its config; 512 when it does not say). */
int pipe_model_ctx(const struct qmodel *m);
/* *n_ctx = given when >= 0, else min(512, the model's context); beyond the
 * model's context only with force (as llama.cpp allows), else QERR_ARG
 * naming option opt. */
int pipe_pick_ctx(const struct qmodel *m, const char *opt, long given, int force, int *n_ctx,
                  struct qerr *err);

/* Activation bits a method implies when none are given: 8 for the W8A8
 * methods (SmoothQuant, LLM.int8), else 0 (weights only). */
int pipe_default_act_bits(const struct quant_spec *spec);

/* ---- a quantize-and-evaluate session ---- */

/* Settings (-1 = default). */
struct pipe_opts {
    const char *calib, *eval;      /* texts; NULL: the shared folder's     */
    long ctx, chunks, calib_ctx, calib_chunks;
    long act_group, kv_group;
    int kv_axis_channel;
    int sequential;                /* 1: re-capture after each step (GPTQ) */
    int out_err;                   /* 1 (default): per-tensor layer-output
                                      error (qrun_opts.out_err)          */
    int quant_output, quant_embed, force_ctx, allow_overlap;
    int need_calib;                /* read the calibration text (0 for RTN
                                      and float-weight runs)              */
    long kl_cache_mib;             /* keep the float logits for KL runs
                                      when they fit (MiB; 0 = off)        */
    const char *imatrix;           /* llama.cpp importance matrix file for
                                      the ggml-type methods, or NULL      */
    const char *kl_base;           /* llama.cpp --kl-divergence-base file:
                                      the evaluation chunks (its tokens,
                                      n_ctx) and the KL baseline come from
                                      it, no float pass; an --eval text
                                      given must tokenize to its tokens */
    double mem_budget;             /* bytes a run may use (--mem-budget);
                                      0: what the machine has available   */
    int resident;                  /* 1 (--resident): pipe_run keeps every
                                      quantized tensor as a float override
                                      and evaluates whole passes after the
                                      last block (the model is left with
                                      them: --save-gguf); -1 (--stream):
                                      the evaluation is streamed through
                                      the block loop (src/estream.h) and
                                      each block's overrides are freed
                                      once it has gone through it; 0
                                      (default): whichever holds less
                                      (pipe_streams)                      */
};

/* Progress callbacks (NULL = none); a non-zero return cancels.  ud is
 * the env's cb_ud. */
struct pipe_cb {
    int (*quant)(void *ud, int layer, int n_layers, const char *what);
    /* after each quantized tensor, with the run's ETA (qrun_progress) */
    int (*tensor)(void *ud, const struct qrun_progress *p);
    int (*eval)(void *ud, int done, int total, double ppl);
    void *ud;
    volatile int *cancel;          /* polled too (SIGINT flag), or NULL    */
    /* what begins now: "reading texts", "tokenizing", then qrun's
     * "calibrating" / "quantizing" with where (qrun_opts.on_phase) and
     * "evaluating" before the perplexity pass; NULL = none */
    int (*phase)(void *ud, const char *phase, const char *what);
};

struct pipe_model {
    struct qmodel m;
    struct tokenizer *tok;
    int open;
};

struct pipe_env {
    struct pipe_model im;          /* opened by pipe_setup, or borrowed    */
    struct qmodel *mp;             /* the model used (&im.m or borrowed)   */
    int borrowed;
    const char *calib_path, *eval_path; /* NULL calib_path: none read      */
    char calib_buf[4096], eval_buf[4096];
    int *calib_ids, *eval_ids;
    size_t n_calib, n_eval;
    int n_ctx, calib_ctx;
    int bos;                       /* pipe_bos of the tokenizer            */
    struct fwd f;
    int f_ok;
    struct ppl_cache cache;        /* float logits of the evaluation chunks,
                                      filled by pipe_run_float            */
    double cache_missed_mib;       /* > 0: the float logits (this many MiB)
                                      did not fit in kl_cache_mib         */
    struct qimatrix imx;           /* opts.imatrix, checked against the model */
    int has_imx;
    struct klfile kl;              /* opts.kl_base, checked against the model */
    int has_kl;
    struct pipe_cb cb;
    const char *label;             /* a tag for the callbacks (a sweep's
                                      configuration), NULL = none         */
};

/* One configuration's outcome. */
struct pipe_result {
    struct qrun run;               /* reports, sizes, times              */
    struct ppl_result ppl;         /* kl = 1: base_* is the float model  */
    double eval_seconds;
};

void pipe_opts_default(struct pipe_opts *o);
/* Open the model (model_arg: src/paths.h rules), read and tokenize both
 * texts, check they do not overlap, pick the contexts, prepare the forward
 * pass.  cb may be NULL.  On failure the env is torn down already. */
int pipe_setup(struct pipe_env *e, const char *model_arg, const struct pipe_opts *o,
               const struct pipe_cb *cb, struct qerr *err);
/* The same on a model the caller already holds open (the dashboard's); m
 * and tok stay the caller's. */
int pipe_setup_model(struct pipe_env *e, struct qmodel *m, struct tokenizer *tok,
                     const struct pipe_opts *o, const struct pipe_cb *cb, struct qerr *err);
void pipe_teardown(struct pipe_env *e);

/* Quantize with spec (+ act/kv bits), evaluate against the float model
 * (KL mode).  Streamed (o->resident = 0, when the run allows it:
 * pipe_streams) the model is left with the overrides of the tensors
 * outside the blocks only (token_embd, output when quantized); resident,
 * with every override.  The numbers are the same either way. */
int pipe_run(struct pipe_env *e, const struct pipe_opts *o, const struct quant_spec *spec,
             int act_bits, int kv_bits, struct pipe_result *res, struct qerr *err);
/* The same with a per-tensor plan bound to this model (qplan_bind): each
 * block linear quantized with its planned candidate (float ones kept),
 * calibrated as pipe_run calibrates (o->sequential), no activation / KV
 * quantization.  The one path of `qlens quant --plan` and `qlens plan
 * --measure`. */
int pipe_run_plan(struct pipe_env *e, const struct pipe_opts *o, const struct qplan *plan,
                  struct pipe_result *res, struct qerr *err);
void pipe_result_free(struct pipe_result *res);
/* Is a run of spec (or a plan: spec = NULL) streamed?  Not with
 * o->resident = 1, nor when the weights stay float (nothing to stream),
 * nor when the classifier quantized at the end is the token embedding the
 * first block reads (tied output with quant_output); always with -1; with
 * 0 when the streamed run holds less: the evaluation's hidden states plus
 * one block's quantized floats against the whole model's (a small model
 * with a long text is smaller resident). */
int pipe_streams(const struct pipe_env *e, const struct pipe_opts *o,
                 const struct quant_spec *spec);
/* Will a run fit in memory (src/membudget.h)?  quantized: weights are
 * quantized (their floats held as overrides for the evaluation: one
 * block's at a time when streamed, unless o->resident, else all);
 * calibrated: the method captures calibration (hidden states, XᵀX);
 * kl_cache: the float logits are (or will be) kept (o->kl_cache_mib).
 * Checked by pipe_run / pipe_run_float themselves; a sweep calls it first
 * with its most demanding configuration.  QERR_UNSUPP with what the run
 * needs and which options lower it, before anything is computed. */
int pipe_check_memory(const struct pipe_env *e, const struct pipe_opts *o, int quantized,
                      int calibrated, int kl_cache, struct qerr *err);
/* Only the quantization of pipe_run: every linear quantized with spec
 * (overrides installed, left installed: the memory check counts the
 * whole quantized model), run filled (qrun_free it; act /
 * kv bits go to its evaluation hooks, qrun_eval_hooks).  For work that
 * evaluates the quantized model its own way (src/mdiv.h). */
int pipe_quantize(struct pipe_env *e, const struct pipe_opts *o, const struct quant_spec *spec,
                  int act_bits, int kv_bits, struct qrun *run, struct qerr *err);
/* Evaluate a model whose quantized overrides the caller makes block by
 * block (e.g. a llama-quantize mix, src/qmix.h), streamed as pipe_run
 * streams (src/estream.h): make(ud, -1) installs the tensors outside the
 * blocks (token_embd, output), then for each block make(ud, layer), the
 * evaluation goes through it and its overrides are freed.  KL mode
 * against the float model; the same numbers as installing every override
 * and pipe_eval_current.  Checks memory first (one block's floats, the
 * tensors outside the blocks counted as quantized). */
int pipe_eval_blocks(struct pipe_env *e, const struct pipe_opts *o,
                     int (*make)(void *ud, int layer, struct qerr *err), void *ud,
                     struct ppl_result *pr, struct qerr *err);
/* Evaluate the model as it stands (overrides installed by the caller, e.g.
 * a per-tensor ggml mix) against the float model, KL mode. */
int pipe_eval_current(struct pipe_env *e, const struct pipe_opts *o, struct ppl_result *pr,
                      struct qerr *err);
/* Float perplexity only (a baseline).  Also keeps the float logits for the
 * pipe_run calls that follow when they fit in o->kl_cache_mib, so those
 * skip the float forward pass (else sets e->cache_missed_mib). */
int pipe_run_float(struct pipe_env *e, const struct pipe_opts *o, struct ppl_result *pr,
                   struct qerr *err);

#endif
