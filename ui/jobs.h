/* jobs: the long work of the dashboard, run on the worker thread
 * (ui/worker.h): calibration, live quantization of a slow method,
 * whole-model quantization + perplexity, the float baseline.  No curses.
 *
 * Each job takes a context allocated by the main thread and fills its
 * results there; the main thread reads them after worker_poll().  Only one
 * job runs at a time, so the shared token streams need no lock. */
#ifndef QLENS_UI_JOBS_H
#define QLENS_UI_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/stats.h"
#include "quant/quant.h"
#include "src/calib.h"
#include "src/imatrix.h"
#include "src/model.h"
#include "ui/vm_quant.h"
#include "ui/worker.h"

enum job_kind { JOB_NONE = 0, JOB_QUANT, JOB_CALIB, JOB_BASELINE, JOB_APPLY_ALL, JOB_IMATRIX,
                JOB_SENS, JOB_PLAN_EVAL, /* the Plan view (ui/jobs_plan.h) */
                JOB_DIVERGENCE };

/* Text and tokens (loaded on first use by a job). */
struct mdiv_result;

struct jobs_data {
    struct qmodel *m;
    struct tokenizer *tok;
    int bos;
    int *calib;  size_t n_calib;  /* tinystories-calib.txt with BOS */
    int *eval;   size_t n_eval;   /* tinystories-eval.txt with BOS  */
    char eval_name[64];           /* dataset name for the results   */
    int n_ctx;                    /* perplexity / calibration chunk  */
    int max_chunks;               /* 0 = all                          */
    int calib_chunks;
};

/* Calibration of one linear input site (GPTQ / AWQ / SpQR ... inputs). */
struct jobs_site_calib {
    int layer, site, dim;         /* site -1: none                    */
    double *xtx;                  /* (dim, dim)                       */
    float *mean_abs, *max_abs;    /* (dim)                            */
    long n_tokens;
};

/* Activation capture of the 'C' pass: per (layer, site) statistics and the
 * first tokens of one chunk as a (tokens, channels) matrix. */
struct jobs_acts {
    int n_layers;
    int have;                     /* a pass completed (set by the main
                                     thread after the job is joined)  */
    struct stats *st;             /* (n_layers * 4)                   */
    float **x;                    /* (n_layers * 4) -> (rows, dim)    */
    int *dim;                     /* (n_layers * 4)                   */
    int rows;                     /* tokens captured                  */
};

/* One finished perplexity run. */
struct jobs_run {
    char method[64];              /* "float" for the baseline          */
    char spec[160];               /* quant_spec_format text            */
    int bits, group, sym;
    double bpw;                   /* mean bits per quantized weight    */
    double size_mib;              /* qrun_size_mib (16-bit for float)  */
    double ppl, ppl_se;
    double base_ppl;              /* float PPL of the same pass (KL)   */
    double kl, top1;              /* mean KL (nats), top-1 agreement   */
    double seconds;
    int n_ctx, n_chunks;
    /* A bit plan (method "plan"; spec "plan B bpw (CANDIDATE xN, ...)",
     * as `qlens plan --out` names it) read from an entry another command
     * wrote (`qlens plan --measure --out SESSION`): ext_id is that entry's
     * id, the session keeps the entry as it is ("" = the dashboard's own
     * run, written back by it). */
    char ext_id[160];
};

struct jobs_ctx {
    enum job_kind kind;
    int owner;                    /* view that started it (ui/view.h)  */
    int quiet;                    /* started by itself: no "started"
                                     message over the user's last one  */
    struct jobs_data *data;
    /* JOB_QUANT */
    struct vm_quant q;            /* settings copy + result            */
    int ti;
    struct jobs_site_calib *site; /* cache owned by the caller         */
    /* JOB_CALIB */
    struct jobs_acts *acts;
    /* JOB_APPLY_ALL */
    struct quant_spec spec;
    /* JOB_BASELINE / JOB_APPLY_ALL: the result; JOB_DIVERGENCE: the run
     * whose configuration (spec), n_ctx and n_chunks are compared */
    struct jobs_run run;
    /* JOB_IMATRIX: filled by the job (qlens imatrix's pass over the
     * calibration chunks); allocated and freed by the caller */
    struct qimatrix *imx;
    /* JOB_SENS / JOB_PLAN_EVAL (owned by the view that started it) */
    struct jobs_plan *plan;
    /* JOB_DIVERGENCE: layer-wise float vs quantized (src/mdiv.h), owned
     * by the caller */
    struct mdiv_result *div;
};

void jobs_data_init(struct jobs_data *d, struct qmodel *m);
/* Job side: the tokenizer and the calibration tokens, once. */
int jobs_data_load(struct jobs_data *d, struct qerr *err);
void jobs_data_free(struct jobs_data *d);
void jobs_site_free(struct jobs_site_calib *s);
void jobs_acts_free(struct jobs_acts *a);
/* Index (layer * 4 + site) into a of the activations feeding tensor qt,
 * or -1 when there are none (not a linear layer, or no pass yet). */
int jobs_acts_index(const struct jobs_acts *a, const struct qtensor *qt);

/* The pipeline settings (src/pipeline.h) of the whole-model jobs: the
 * dashboard's context and chunk counts, qlens quant's defaults otherwise
 * (spec NULL: the float baseline). */
struct pipe_opts;
void jobs_pipe_opts(const struct jobs_data *d, const struct quant_spec *spec,
                    struct pipe_opts *o);

/* Worker entry point for every kind (arg is a struct jobs_ctx). */
int jobs_run(struct worker *w, void *arg);

#endif
