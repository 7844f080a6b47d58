/* jobs: calibration, slow live quantization, whole-model runs (worker
 * thread side).  Every pass reads the FLOAT originals for calibration
 * (fwd_use_overrides(f, 0)); the whole-model run installs overrides,
 * evaluates with KL against the float model in the same pass, and clears
 * them again so the dashboard keeps showing the original weights. */
#include "ui/jobs.h"
#include "ui/jobs_plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/paths.h"
#include "src/pipeline.h"
#include "src/forward.h"
#include "src/mdiv.h"
#include "src/ppl.h"
#include "src/qrun.h"
#include "src/tokenizer.h"
#include "src/qclock.h"

void jobs_data_init(struct jobs_data *d, struct qmodel *m)
{
    memset(d, 0, sizeof *d);
    d->m = m;
    d->bos = -1;
    struct qerr err;
    pipe_pick_ctx(m, "n_ctx", -1, 0, &d->n_ctx, &err); /* min(512, model's): qlens quant's */
    /* Small models: the whole evaluation text, as llama.cpp does; large
     * ones a prefix so a run takes minutes, not hours (the chunk count is
     * stored with every run). */
    d->max_chunks = qmodel_param_count(m) > 20000000 ? 16 : 0;
    d->calib_chunks = 16;
}

void jobs_data_free(struct jobs_data *d)
{
    if (d->tok)
        tok_free(d->tok);
    free(d->calib);
    free(d->eval);
    d->tok = NULL;
    d->calib = d->eval = NULL;
}

void jobs_site_free(struct jobs_site_calib *s)
{
    free(s->xtx);
    free(s->mean_abs);
    free(s->max_abs);
    memset(s, 0, sizeof *s);
    s->site = -1;
}

void jobs_acts_free(struct jobs_acts *a)
{
    if (a->x)
        for (int i = 0; i < a->n_layers * 4; i++)
            free(a->x[i]);
    free(a->x);
    free(a->st);
    free(a->dim);
    memset(a, 0, sizeof *a);
}

int jobs_acts_index(const struct jobs_acts *a, const struct qtensor *qt)
{
    if (!a->have || !qt)
        return -1;
    int s = calib_site_of_role(qt->role);
    return s >= 0 && qt->layer >= 0 && qt->layer < a->n_layers ? qt->layer * 4 + s : -1;
}

static int load_tokens(struct jobs_data *d, const char *rel, int **ids, size_t *n, struct qerr *err)
{
    if (*ids)
        return 0;
    char path[4096];
    if (paths_shared_file(rel, path, sizeof path) < 0)
        return qerr_set(err, QERR_IO, "%s not found: set QLENS_SHARED to the folder holding data/",
                        rel);
    char *text = NULL;
    size_t len = 0;
    int rc = pipe_read_text(path, &text, &len, err);
    if (rc == 0)
        rc = pipe_tokenize(d->tok, path, text, len, ids, n, err);
    free(text);
    return rc;
}

static int load_data(struct jobs_data *d, int need_eval, struct qerr *err)
{
    if (!d->tok) {
        int rc = tok_load_for_model(&d->tok, d->m, err);
        if (rc < 0)
            return rc;
        d->bos = pipe_bos(d->tok); /* qlens quant's rule */
    }
    int rc = load_tokens(d, "data/tinystories-calib.txt", &d->calib, &d->n_calib, err);
    if (rc == 0 && need_eval) {
        rc = load_tokens(d, "data/tinystories-eval.txt", &d->eval, &d->n_eval, err);
        snprintf(d->eval_name, sizeof d->eval_name, "tinystories-eval");
    }
    return rc;
}

int jobs_data_load(struct jobs_data *d, struct qerr *err)
{
    return load_data(d, 0, err);
}

/* Run blocks 0..last_layer over calibration chunks with hooks; progress
 * covers [p0, p1) of the bar. */
static int calib_pass(struct jobs_data *d, struct fwd *f, const struct fwd_hooks *h, int last_layer,
                      int chunks, struct worker *w, double p0, double p1, struct qerr *err)
{
    int ctx = d->n_ctx;
    int have = (int)(d->n_calib / (size_t)ctx);
    if (chunks > have)
        chunks = have;
    if (chunks < 1)
        return qerr_set(err, QERR_ARG, "calibration text shorter than one %d-token chunk", ctx);
    int *toks = malloc((size_t)ctx * sizeof *toks);
    float *x = malloc((size_t)ctx * (size_t)d->m->cfg.dim * sizeof *x);
    int rc = toks && x ? 0 : qerr_set(err, QERR_NOMEM, "out of memory for calibration");
    for (int c = 0; c < chunks && rc == 0; c++) {
        memcpy(toks, d->calib + (size_t)c * ctx, (size_t)ctx * sizeof *toks);
        if (d->bos >= 0)
            toks[0] = d->bos;
        worker_phase(w, "calibration chunk", c, chunks);
        rc = fwd_embed(f, toks, ctx, x);
        for (int l = 0; l <= last_layer && rc == 0; l++)
            rc = fwd_block(f, l, x, ctx, h);
        if (rc < 0 && rc != QERR_CANCEL)
            qerr_set(err, rc, "%s", f->err.msg);
        if (worker_cancelled(w))
            rc = qerr_set(err, QERR_CANCEL, "cancelled");
        worker_progress(w, p0 + (p1 - p0) * (c + 1) / chunks);
    }
    free(toks);
    free(x);
    return rc;
}

/* A forward pass on the float weights and an empty accumulator set; on
 * success the caller frees both. */
static int calib_open(struct jobs_data *d, struct fwd *f, struct calib *c, struct qerr *err)
{
    int rc = load_data(d, 0, err);
    if (rc < 0 || (rc = fwd_init(f, d->m, d->n_ctx, err)) < 0)
        return rc;
    fwd_use_overrides(f, 0);
    if ((rc = calib_init(c, &d->m->cfg, err)) < 0)
        fwd_free(f);
    return rc;
}

/* XᵀX and per-channel |x| of one site (the current tensor's input). */
static int calib_site(struct jobs_ctx *j, struct worker *w, int layer, int site, struct qerr *err)
{
    struct jobs_site_calib *s = j->site;
    if (s->xtx && s->layer == layer && s->site == site)
        return 0;
    jobs_site_free(s);
    struct jobs_data *d = j->data;
    struct fwd f;
    struct calib c;
    int rc = calib_open(d, &f, &c, err);
    if (rc < 0)
        return rc;
    rc = calib_select(&c, layer, site, CALIB_HESSIAN | CALIB_CHANNEL);
    struct fwd_hooks h;
    calib_hooks(&c, &h);
    if (rc == 0)
        rc = calib_pass(d, &f, &h, layer, d->calib_chunks, w, 0, 0.5, err);
    struct calib_acc *a = calib_get(&c, layer, site);
    if (rc == 0 && a) {
        size_t dim = (size_t)a->dim;
        s->xtx = a->xtx;
        a->xtx = NULL; /* take ownership */
        s->max_abs = a->max_abs;
        a->max_abs = NULL;
        s->mean_abs = malloc(dim * sizeof *s->mean_abs);
        if (!s->mean_abs)
            rc = qerr_set(err, QERR_NOMEM, "out of memory");
        for (size_t i = 0; s->mean_abs && i < dim; i++)
            s->mean_abs[i] = a->n_rows ? (float)(a->sum_abs[i] / (double)a->n_rows) : 0;
        s->dim = a->dim;
        s->n_tokens = (long)a->n_rows;
        s->layer = layer;
        s->site = site;
    }
    if (rc < 0)
        jobs_site_free(s); /* never a half-filled cache entry */
    calib_free(&c);
    fwd_free(&f);
    return rc;
}

static int quant_progress(void *ud, double frac)
{
    struct worker *w = ud;
    worker_phase(w, "quantizing the tensor", 0, 0);
    worker_progress(w, 0.5 + 0.5 * frac);
    return worker_cancelled(w);
}

/* One tensor quantized on the worker.  Its floats are pinned for the
 * quantizer's call only (a copy the budget may free afterwards,
 * src/model.h), not during the calibration pass before it. */
static int job_quant(struct jobs_ctx *j, struct worker *w, struct qerr *err)
{
    struct qtensor *t = &j->data->m->tensors[j->ti];
    struct quant_calib qc;
    memset(&qc, 0, sizeof qc);
    const struct quant_calib *calib = NULL;
    if (vm_quant_needs_calib(&j->q)) {
        int site = calib_site_of_role(t->role);
        if (site < 0)
            return qerr_set(err, QERR_UNSUPP, "%s needs calibration inputs; %s has no captured input",
                            vm_quant_method(&j->q)->name, t->name);
        int rc = calib_site(j, w, t->layer, site, err);
        if (rc < 0)
            return rc;
        qc.xtx = j->site->xtx;
        qc.n_tokens = j->site->n_tokens;
        qc.act_mean_abs = j->site->mean_abs;
        qc.act_max_abs = j->site->max_abs;
        calib = &qc;
    }
    struct quant_ctl ctl;
    memset(&ctl, 0, sizeof ctl);
    ctl.progress = quant_progress;
    ctl.ud = w;
    const float *x = qtensor_f32_pin(t);
    int rc = vm_quant_apply(&j->q, j->ti, x, qtensor_rows(t), qtensor_cols(t), calib, &ctl);
    if (x)
        qtensor_f32_unpin(t);
    if (rc < 0)
        qerr_set(err, rc, "%s", j->q.msg);
    return rc;
}

/* Activation statistics of every site, plus the first chunk's inputs. */
struct capture {
    struct fwd_hooks inner;
    struct jobs_acts *a;
    int on;
};

static int capture_hook(void *ud, int layer, enum qrole role, float *x, int n, int in_dim)
{
    struct capture *cp = ud;
    int rc = cp->inner.linear_in ? cp->inner.linear_in(cp->inner.ud, layer, role, x, n, in_dim) : 0;
    int site = calib_site_of_role(role);
    if (rc < 0 || !cp->on || site < 0 || layer < 0 || layer >= cp->a->n_layers)
        return rc;
    int k = layer * 4 + site, rows = n < cp->a->rows ? n : cp->a->rows;
    if (!cp->a->x[k]) {
        cp->a->x[k] = malloc((size_t)rows * (size_t)in_dim * sizeof(float));
        if (!cp->a->x[k])
            return QERR_NOMEM;
        memcpy(cp->a->x[k], x, (size_t)rows * (size_t)in_dim * sizeof(float));
        cp->a->dim[k] = in_dim;
    }
    return 0;
}

static int job_calib(struct jobs_ctx *j, struct worker *w, struct qerr *err)
{
    struct jobs_data *d = j->data;
    struct jobs_acts *a = j->acts;
    int L = d->m->cfg.n_layers;
    struct fwd f;
    struct calib c;
    int rc = calib_open(d, &f, &c, err);
    if (rc < 0)
        return rc;
    a->n_layers = L;
    a->rows = d->n_ctx < 256 ? d->n_ctx : 256;
    a->st = calloc((size_t)L * 4, sizeof *a->st);
    a->x = calloc((size_t)L * 4, sizeof *a->x);
    a->dim = calloc((size_t)L * 4, sizeof *a->dim);
    if (!a->st || !a->x || !a->dim)
        rc = qerr_set(err, QERR_NOMEM, "out of memory");
    for (int s = CALIB_ATTN_IN; s <= CALIB_FFN_DOWN && rc == 0; s++)
        rc = calib_select(&c, -1, s, CALIB_STATS);
    struct capture cp;
    calib_hooks(&c, &cp.inner);
    cp.a = a;
    cp.on = 1;
    struct fwd_hooks h = {&cp, capture_hook, NULL};
    if (rc == 0)
        rc = calib_pass(d, &f, &h, L - 1, d->calib_chunks, w, 0, 1, err);
    for (int l = 0; l < L && rc == 0; l++)
        for (int s = 0; s < 4; s++)
            calib_acc_stats(calib_get(&c, l, s), &a->st[l * 4 + s]);
    /* a->have is set by the main thread once the job is joined */
    calib_free(&c);
    fwd_free(&f);
    return rc;
}

/* An importance matrix of every linear layer from the calibration chunks,
 * as `qlens imatrix` computes it (Σ x² per input channel, src/imatrix.h). */
static int job_imatrix(struct jobs_ctx *j, struct worker *w, struct qerr *err)
{
    struct jobs_data *d = j->data;
    struct fwd f;
    struct calib c;
    int rc = calib_open(d, &f, &c, err);
    if (rc < 0)
        return rc;
    for (int s = 0; s < CALIB_K && rc == 0; s++)
        if (calib_select(&c, -1, s, CALIB_CHANNEL) < 0)
            rc = qerr_set(err, c.err.code, "%s", c.err.msg);
    struct fwd_hooks h;
    calib_hooks(&c, &h);
    int have = (int)(d->n_calib / (size_t)d->n_ctx);
    int chunks = d->calib_chunks < have ? d->calib_chunks : have;
    if (rc == 0)
        rc = calib_pass(d, &f, &h, d->m->cfg.n_layers - 1, chunks, w, 0, 1, err);
    if (rc == 0 && (rc = qimatrix_from_calib(j->imx, &c, d->m, chunks, err)) == 0)
        snprintf(j->imx->dataset, sizeof j->imx->dataset, "tinystories-calib.txt");
    calib_free(&c);
    fwd_free(&f);
    return rc;
}

/* What the whole-model job's callbacks get (pipe_cb.ud). */
struct job_cb {
    struct worker *w;
    int n_layers;
};

/* The whole-model job spends the first half of the bar quantizing. */
static int ppl_progress(void *ud, int done, int n, double ppl)
{
    (void)ppl;
    struct worker *w = ((struct job_cb *)ud)->w;
    worker_phase(w, "evaluating chunk", done, n);
    double p0 = w->kind == JOB_APPLY_ALL ? 0.5 : 0;
    worker_progress(w, p0 + (1 - p0) * done / (n ? n : 1));
    return worker_cancelled(w);
}

static int qrun_progress(void *ud, int layer, int n_layers, const char *what)
{
    (void)what;
    struct worker *w = ((struct job_cb *)ud)->w;
    if (layer >= 0) /* the output side is done after the last block */
        worker_phase(w, "quantizing block", layer + 1, n_layers);
    worker_progress(w, 0.5 * (layer + 1) / (n_layers ? n_layers : 1));
    return worker_cancelled(w);
}

/* What begins (pipe_cb.phase): the phase with its count, and inside it
 * the block and linears being calibrated or quantized. */
static int pipe_phase(void *ud, const char *phase, const char *what)
{
    const struct job_cb *c = ud;
    struct worker *w = c->w;
    if (!strcmp(phase, "calibrating") || !strcmp(phase, "quantizing")) {
        if (strcmp(w->phase, "quantizing block")) /* before the first block is done */
            worker_phase(w, "quantizing block", 0, c->n_layers);
        worker_detail(w, "%s %s", phase, what);
    } else if (!strcmp(phase, "evaluating")) {
        worker_phase(w, "evaluating chunk", 0, 0);
    } else {
        worker_phase(w, phase, 0, 0);
    }
    return worker_cancelled(w);
}

void jobs_pipe_opts(const struct jobs_data *d, const struct quant_spec *spec, struct pipe_opts *o)
{
    pipe_opts_default(o);
    o->ctx = d->n_ctx;
    o->chunks = d->max_chunks > 0 ? d->max_chunks : -1;
    o->calib_chunks = d->calib_chunks;
    o->kl_cache_mib = 0; /* one configuration per job: nothing to reuse */
    o->need_calib = spec && spec->bits < 16 && spec->method->needs_calib;
}

/* Whole-model work through the pipeline qlens quant uses (src/pipeline.h):
 * same texts, BOS rule, overlap check, contexts and defaults. */
static int job_ppl(struct jobs_ctx *j, struct worker *w, struct qerr *err)
{
    struct jobs_data *d = j->data;
    double t0 = qclock_seconds();
    int rc = load_data(d, 0, err); /* the tokenizer */
    if (rc < 0)
        return rc;
    int all = j->kind == JOB_APPLY_ALL;
    struct pipe_opts po;
    jobs_pipe_opts(d, all ? &j->spec : NULL, &po);
    struct job_cb jc = {w, d->m->cfg.n_layers};
    struct pipe_cb cb = {.quant = qrun_progress, .eval = ppl_progress, .phase = pipe_phase, .ud = &jc};
    struct pipe_env e;
    if ((rc = pipe_setup_model(&e, d->m, d->tok, &po, &cb, err)) < 0)
        return rc;
    struct jobs_run *r = &j->run;
    r->size_mib = (double)qmodel_param_count(d->m) * 2.0 / (1024.0 * 1024.0);
    struct pipe_result res;
    memset(&res, 0, sizeof res);
    struct ppl_result *p = &res.ppl;
    if (!all) {
        snprintf(r->method, sizeof r->method, "float");
        snprintf(r->spec, sizeof r->spec, "float (F32 weights)");
        r->bits = 16;
        r->bpw = 16;
        rc = pipe_run_float(&e, &po, p, err);
    } else {
        rc = pipe_run(&e, &po, &j->spec, pipe_default_act_bits(&j->spec), 0, &res, err);
        r->bpw = qrun_bits_per_weight(&res.run);
        r->size_mib = qrun_size_mib(&res.run);
        snprintf(r->method, sizeof r->method, "%s", j->spec.method->name);
        quant_spec_format(&j->spec, r->spec, sizeof r->spec);
        r->bits = j->spec.bits;
        r->group = j->spec.group;
        r->sym = j->spec.sym;
    }
    if (rc == 0) {
        r->ppl = p->ppl;
        r->ppl_se = p->ppl_stderr;
        r->base_ppl = all ? p->base_ppl : p->ppl;
        r->kl = all ? p->kld.mean : 0;
        r->top1 = all ? p->top1 : 1;
        r->n_ctx = p->n_ctx;
        r->n_chunks = p->n_chunks;
    }
    pipe_result_free(&res);
    qmodel_clear_overrides(d->m); /* the dashboard shows the float weights */
    pipe_teardown(&e);
    r->seconds = qclock_seconds() - t0;
    if (rc < 0 && worker_cancelled(w))
        rc = qerr_set(err, QERR_CANCEL, "cancelled");
    return rc;
}

/* Bar: quantization 0-50 %, comparison 50-75 %, KL attribution 75-100 %. */
static int div_progress(void *ud, int done, int total)
{
    struct worker *w = ud;
    worker_phase(w, "comparing chunk", done, total);
    worker_progress(w, 0.5 + 0.25 * done / (total ? total : 1));
    return worker_cancelled(w);
}

static int kl_progress(void *ud, int done, int total)
{
    struct worker *w = ud;
    worker_phase(w, "KL without tensor", done, total);
    worker_progress(w, 0.75 + 0.25 * done / (total ? total : 1));
    return worker_cancelled(w);
}

/* The divergence of a finished run: its configuration (parsed back from
 * its label), context and chunk count, through the pipeline `qlens
 * divergence` uses; the first half of the bar is the quantization. */
static int job_div(struct jobs_ctx *j, struct worker *w, struct qerr *err)
{
    struct jobs_data *d = j->data;
    struct quant_spec spec;
    int act, kv, kv_ch;
    int rc = mdiv_parse_config(j->run.spec, &spec, &act, &kv, &kv_ch, err);
    if (rc < 0 || (rc = load_data(d, 0, err)) < 0)
        return rc;
    struct pipe_opts po;
    jobs_pipe_opts(d, &spec, &po);
    if (j->run.n_ctx > 0)
        po.ctx = j->run.n_ctx;
    if (j->run.n_chunks > 0)
        po.chunks = j->run.n_chunks;
    po.kv_axis_channel = kv_ch;
    po.out_err = 0;
    struct job_cb jc = {w, d->m->cfg.n_layers}; /* qrun_progress and pipe_phase take it */
    struct pipe_cb cb = {.quant = qrun_progress, .phase = pipe_phase, .ud = &jc};
    struct pipe_env e;
    if ((rc = pipe_setup_model(&e, d->m, d->tok, &po, &cb, err)) < 0)
        return rc;
    struct qrun run;
    memset(&run, 0, sizeof run);
    /* the KL attribution (one evaluation per tensor) on small models, as
     * their whole evaluation text is (jobs_data_init) */
    struct mdiv_opts mo = {
        .progress = div_progress, .progress_ud = w, .kl_progress = kl_progress,
        .kl_attrib = qmodel_param_count(d->m) <= 20000000, .kl_cache_mib = 512,
    };
    rc = mdiv_pipe_run(&e, &po, &spec, act, kv, &mo, &run, j->div, err);
    qrun_free(&run);
    qmodel_clear_overrides(d->m); /* the dashboard shows the float weights */
    pipe_teardown(&e);
    if (rc < 0 && worker_cancelled(w))
        rc = qerr_set(err, QERR_CANCEL, "cancelled");
    return rc;
}

int jobs_run(struct worker *w, void *arg)
{
    struct jobs_ctx *j = arg;
    switch (j->kind) {
    case JOB_QUANT: return job_quant(j, w, &w->err);
    case JOB_CALIB: return job_calib(j, w, &w->err);
    case JOB_IMATRIX: return job_imatrix(j, w, &w->err);
    case JOB_BASELINE:
    case JOB_APPLY_ALL: return job_ppl(j, w, &w->err);
    case JOB_SENS:
    case JOB_PLAN_EVAL: return jobs_plan_run(j, w, &w->err);
    case JOB_DIVERGENCE: return job_div(j, w, &w->err);
    default: return qerr_set(&w->err, QERR_ARG, "unknown job");
    }
}
