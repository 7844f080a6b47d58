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
 * Core, not CLI: the runner works on a pipeline environment
 * (src/pipeline.h: model, texts, forward pass, the float-logit cache) and
 * its pipe_opts, reports progress through a callback and polls the
 * environment's cancel flag (e->cb.cancel), so `qlens sensitivity` and the
 * dashboard's worker thread run the same code. */
#ifndef QLENS_SENS_H
#define QLENS_SENS_H

#include "src/pipeline.h"

#include <limits.h>

#define SENS_LABEL_MAX 64
#define SENS_SPEC_MAX 256

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

/* A cached cell of a candidate this run does not have (src/sens_cache.h):
 * kept so the cache file keeps it. */
struct sens_xcell {
    char tensor[QM_NAME_MAX];
    char spec[SENS_SPEC_MAX];
    struct sens_cell v;
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
    int have_base;               /* base filled (run or cache)            */
    int cell_threads;            /* cells measured at once (sens_split)   */
    /* the cache (src/sens_cache.h) */
    int cache_state;             /* enum sens_cache_state                 */
    int n_reused, n_computed;    /* cells taken from it / measured now    */
    char cache_path[PATH_MAX];   /* the file ("" when off)                */
    char cache_note[PATH_MAX + 256]; /* a warning for the user, or ""     */
    struct sens_xcell *x;        /* (n_x) other candidates' cached cells  */
    int n_x;
};

/* The candidate's full spec (quant_spec_format), the cache's key. */
void sens_cand_spec(const struct sens_cand *c, char *buf, size_t n);
/* "method[:bits[:group]]", group a size, "row" or "tensor"; ggml types
 * take no bits/group ("q4_k").  Errors name the candidate. */
int sens_parse_cand(const char *text, struct sens_cand *c, struct qerr *err);
/* Comma-separated list; *out malloc'd. */
int sens_parse_cands(const char *list, struct sens_cand **out, int *n, struct qerr *err);

/* What the runner is doing, for a progress line or bar. */
enum sens_phase {
    SENS_PH_CALIB,               /* the float calibration capture         */
    SENS_PH_FLOAT,               /* the float evaluation (logit cache)    */
    SENS_PH_CELLS                /* one (tensor, candidate) cell          */
};

struct sens_progress {
    enum sens_phase phase;
    int done, total;             /* cells finished (computed or reused) /
                                    n_t * n_c                             */
    int ti, ci;                  /* the cell about to run (SENS_PH_CELLS) */
    const char *tensor, *cand;   /* its names                             */
    double eta;                  /* seconds left from the mean time of the
                                    cells computed so far; < 0 unknown    */
};

/* Nonzero return cancels (as *e->cb.cancel does). */
typedef int (*sens_progress_fn)(void *ud, const struct sens_progress *p);

struct sens_ctl {
    sens_progress_fn progress;   /* NULL: none                            */
    void *ud;
    int use_cache;               /* reuse and keep cells (src/sens_cache.h) */
    const char *cache_dir;       /* NULL: paths_cache_dir()               */
    int threads;                 /* threads for the cells; 0 = one per CPU */
    int cell_threads;            /* cells at once; 0 = sens_split's choice */
};

/* Cells are measured in parallel: `threads` (0 = one per CPU, at most
 * SENS_AUTO_THREADS; given, at most SENS_MAX_THREADS) split into *cells cells at once, each KL pass with
 * ppl_opts.max_workers = *workers.  cell_threads > 0 forces the number of
 * cells at once (1: one cell at a time, the KL pass using ppl's two chunk
 * workers when there are two threads).  Each extra cell at once costs one
 * forward context, its logit buffers and one float copy of the tensor
 * being measured.  The result is the same for any split, bit for bit.
 * Returns *cells. */
#define SENS_MAX_THREADS 64
#define SENS_AUTO_THREADS 8  /* each runner holds two (n_ctx/2, vocab) logit
                                buffers: 256 MiB at a 128K vocabulary     */
int sens_split(int threads, int cell_threads, int n_missing, int *cells, int *workers);

/* Run it (takes ownership of cands).  ctl may be NULL (no progress, no
 * cache).  With ctl->use_cache, cells found in the cache are reused (when
 * all are, neither the calibration nor the float pass runs) and every
 * finished cell is written back, also on cancel and errors, and every
 * SENS_CACHE_SAVE_S seconds meanwhile; a cache problem never fails the
 * run, it leaves a message in s->cache_note.  On cancel (QERR_CANCEL) the
 * cells finished so far have done = 1.  s is valid for sens_free either
 * way. */
#define SENS_CACHE_SAVE_S 15.0
int sens_run(struct sens *s, struct pipe_env *e, const struct pipe_opts *o,
             struct sens_cand *cands, int n_cands, const struct sens_ctl *ctl,
             struct qerr *err);
void sens_free(struct sens *s);

/* Quantize tensor t with spec, calibrated from c (NULL = none): a malloc'd
 * Ŵ, and the report.  Shared with plan evaluation.  A slow quantizer's
 * progress calls e->cb.quant(ud, -1, 0, ...) (non-zero cancels). */
struct calib;
int sens_quantize(struct pipe_env *e, struct calib *c, const struct sens_tensor *t,
                  const struct quant_spec *spec, float **out, struct quant_report *rep,
                  struct qerr *err);
/* One float pass over the calibration chunks capturing XᵀX and channel
 * statistics at every linear input (c initialised here). */
int sens_capture(struct pipe_env *e, const struct pipe_opts *o, struct calib *c, int *chunks,
                 struct qerr *err);
/* The quantizable tensors of the model (every block's linears). */
int sens_tensors(struct qmodel *m, struct sens_tensor **out, int *n, struct qerr *err);
/* KL run of the current overrides against the float model (the float
 * logits from the cache when pipe_run_float filled it).  Calls e->cb.eval
 * after each chunk (a non-zero return cancels): the dashboard's job polls
 * its cancel flag there, so a cell on a big model stops within a chunk. */
int sens_eval(struct pipe_env *e, const struct pipe_opts *o, struct ppl_result *r,
              struct qerr *err);

#endif
