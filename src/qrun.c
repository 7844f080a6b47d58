/* qrun: whole-model quantization layer by layer (method in qrun.h). */
#include "src/qrun.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "quant/actquant.h"
#include "src/qclock.h"

/* A capture pass returns this from its hook once the wanted input has been
 * seen, so fwd_block stops there instead of computing the rest. */
#define QRUN_STOP (-1000)
#define N_SITES 4 /* CALIB_ATTN_IN .. CALIB_FFN_DOWN */

/* The linears that share one input, in the reference's order. */
struct qrun_step {
    int site;
    enum qrole roles[3];
    int n;
    const char *label;
};

static const struct qrun_step steps[N_SITES] = {
    {CALIB_ATTN_IN, {QR_ATTN_Q, QR_ATTN_K, QR_ATTN_V}, 3, "attn_q/k/v"},
    {CALIB_ATTN_OUT, {QR_ATTN_OUT}, 1, "attn_output"},
    {CALIB_FFN_IN, {QR_FFN_GATE, QR_FFN_UP}, 2, "ffn_gate/up"},
    {CALIB_FFN_DOWN, {QR_FFN_DOWN}, 1, "ffn_down"},
};

/* Working state of one qrun_quantize call. */
struct qrun_ctx {
    struct qrun *r;
    struct fwd *f;
    struct calib cal;
    float *h;             /* (n_chunks, ctx, dim) hidden states           */
    float *scratch;       /* (ctx, dim) one chunk being captured          */
    const int *tokens;
    struct qerr *err;
    float *wbuf;          /* a tensor's float original, reused (grows)    */
    size_t wbuf_n;
};

/* Hook state of a capture pass. */
struct capture {
    struct calib *c;
    int layer;
    unsigned mask;        /* sites captured (bit per site)               */
    int stop_site;        /* stop the block after this site, -1: never   */
    struct calib_acc *out_acc; /* classifier input (layer -1), or NULL    */
};

/* The method's calibration needs; with a plan, those of any planned spec. */
static int calib_needs(const struct qrun_opts *o, int n_layers)
{
    if (!o->spec_of)
        return o->spec.bits >= 16 ? 0 : o->spec.method->needs_calib;
    int f = 0;
    for (int l = 0; l < n_layers; l++)
        for (int s = 0; s < N_SITES; s++)
            for (int i = 0; i < steps[s].n; i++) {
                const struct quant_spec *sp = o->spec_of(o->spec_ud, l, steps[s].roles[i]);
                f |= sp && sp->bits < 16 ? sp->method->needs_calib : 0;
            }
    return f;
}

static int cancelled(const struct qrun_opts *o)
{
    return o->cancel && *o->cancel;
}

void qrun_opts_default(struct qrun_opts *o)
{
    memset(o, 0, sizeof *o);
    o->sequential = 1;
    o->out_err = 1;
    o->calib_ctx = 512;
    o->calib_chunks = 32;
    o->bos = -1;
    o->kv_group = -1;
    o->kv_axis = CALIB_PER_TOKEN;
}

/* ---- sizes ---- */

double qrun_bits_per_weight(const struct qrun *r)
{
    return r->n_quant > 0 ? r->quant_bits / (double)r->n_quant : 0.0;
}

double qrun_size_mib_float(const struct qrun *r)
{
    return (double)r->n_params * 2.0 / (1024.0 * 1024.0);
}

double qrun_size_mib(const struct qrun *r)
{
    double bits = r->quant_bits + 16.0 * (double)(r->n_params - r->n_quant);
    return bits / 8.0 / (1024.0 * 1024.0);
}

/* ---- bookkeeping ---- */

static int add_report(struct qrun *r, const struct qtensor *t, const struct quant_report *rep,
                      double seconds)
{
    struct qrun_tensor *nt = realloc(r->t, (size_t)(r->n_t + 1) * sizeof *nt);
    if (!nt)
        return QERR_NOMEM;
    r->t = nt;
    struct qrun_tensor *e = &r->t[r->n_t++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", t->name);
    e->layer = t->layer;
    e->role = t->role;
    e->rows = (int)qtensor_rows(t);
    e->cols = (int)qtensor_cols(t);
    e->rep = *rep;
    e->seconds = seconds;
    r->n_quant += t->nelem;
    r->quant_bits += rep->bits_per_weight * (double)t->nelem;
    return 0;
}

static int alloc_sites(struct qrun *r)
{
    int n = r->m->cfg.n_layers * N_SITES + 1;
    r->in_scale = calloc((size_t)n, sizeof *r->in_scale);
    r->fp_cols = calloc((size_t)n, sizeof *r->fp_cols);
    r->quantized = calloc((size_t)n, 1);
    return r->in_scale && r->fp_cols && r->quantized ? 0 : QERR_NOMEM;
}

void qrun_free(struct qrun *r)
{
    if (r->m && r->in_scale) {
        int n = r->m->cfg.n_layers * N_SITES + 1;
        for (int i = 0; i < n; i++) {
            free(r->in_scale[i]);
            free(r->fp_cols[i]);
        }
    }
    free(r->in_scale);
    free(r->fp_cols);
    free(r->quantized);
    free(r->t);
    memset(r, 0, sizeof *r);
}

/* ---- quantizing one step ---- */

/* The calibration of one site in quant_calib form; mean_abs is caller
 * storage of acc->dim floats. */
static void make_calib(const struct calib_acc *a, float *mean_abs, struct quant_calib *qc)
{
    memset(qc, 0, sizeof *qc);
    if (!a || !a->n_rows)
        return;
    qc->xtx = a->xtx;
    qc->n_tokens = (long)a->n_rows;
    qc->dim = a->dim; /* quant_apply checks it against the layer's columns */
    if (a->sum_abs && a->max_abs) {
        for (int j = 0; j < a->dim; j++)
            mean_abs[j] = (float)(a->sum_abs[j] / (double)a->n_rows);
        qc->act_mean_abs = mean_abs;
        qc->act_max_abs = a->max_abs;
    }
}

/* n floats for a big buffer, on transparent huge pages where the kernel
 * offers them on request (madvise mode): a quantized 1.1B model's floats
 * are 4.4 GB, a million 4 KB page faults otherwise (a fifth of RTN's
 * time).  Freed with free(). */
static float *big_floats(size_t n)
{
    void *p = NULL;
    size_t bytes = n * sizeof(float), huge = (size_t)2 << 20;
    if (bytes < huge)
        return malloc(bytes ? bytes : 1);
    if (posix_memalign(&p, huge, bytes))
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, (bytes + huge - 1) & ~(huge - 1), MADV_HUGEPAGE);
#endif
    return p;
}

/* The float original of t: in place when floats exist (F32 file, a copy
 * made elsewhere), else converted into q->wbuf, one buffer reused for
 * every tensor (no fresh pages, no float copy kept). */
static const float *orig_floats(struct qrun_ctx *q, struct qtensor *t)
{
    const float *w = qtensor_f32_direct(t, 0);
    if (w)
        return w;
    if (q->wbuf_n < (size_t)t->nelem) {
        free(q->wbuf);
        q->wbuf_n = 0;
        if (!(q->wbuf = big_floats((size_t)t->nelem)))
            return NULL;
        q->wbuf_n = (size_t)t->nelem;
    }
    return qtensor_read_range(t, 0, t->nelem, q->wbuf) ? NULL : q->wbuf;
}

/* Round-to-nearest is row by row (groups within a row): two threads
 * take half the rows each, with the same result as one (the report is
 * computed over the whole).  Not for per-tensor grids or out_err. */
struct rtn_half {
    const struct quant_spec *spec;
    const float *w;
    float *out;
    int rows, cols, rc;
    struct quant_report rep;
    struct qerr err;
};

static void *rtn_half_run(void *arg)
{
    struct rtn_half *h = arg;
    h->rc = quant_apply_ex(h->spec, h->w, h->rows, h->cols, NULL, h->out, NULL, &h->rep, NULL,
                           QUANT_NO_OUT_ERR, &h->err);
    return NULL;
}

static int rtn_split_ok(const struct qrun *r, const struct quant_calib *qc, int rows)
{
    return !strcmp(r->o.spec.method->name, "RTN") && r->o.spec.group >= 0 && !r->o.out_err &&
           !qc->importance && rows >= 64 && sysconf(_SC_NPROCESSORS_ONLN) >= 2;
}

static int rtn_two_threads(const struct quant_spec *spec, const float *w, int rows, int cols,
                           float *out, struct quant_report *rep, struct qerr *err)
{
    int top = rows / 2;
    struct rtn_half h[2] = {{.spec = spec, .w = w, .out = out, .rows = top, .cols = cols},
                            {.spec = spec, .w = w + (size_t)top * cols,
                             .out = out + (size_t)top * cols, .rows = rows - top, .cols = cols}};
    pthread_t th;
    int spawned = pthread_create(&th, NULL, rtn_half_run, &h[1]) == 0;
    rtn_half_run(&h[0]);
    if (spawned)
        pthread_join(th, NULL);
    else
        rtn_half_run(&h[1]);
    for (int i = 0; i < 2; i++)
        if (h[i].rc < 0) {
            *err = h[i].err;
            return h[i].rc;
        }
    quant_report_fill(w, out, (long)rows * cols, h[0].rep.bits_per_weight, rep);
    return 0;
}

/* Tensor t is quantized: tell the per-tensor observer (with the ETA). */
static int tensor_done(struct qrun_ctx *q, const struct qtensor *t)
{
    struct qrun *r = q->r;
    r->w_done += (double)t->nelem;
    if (!r->o.on_tensor)
        return 0;
    struct qrun_progress p = {t->name, r->n_t, r->n_todo, 0, 0, -1};
    p.frac = r->w_todo > 0 ? r->w_done / r->w_todo : 1.0;
    p.frac = p.frac > 1 ? 1 : p.frac;
    p.elapsed = qclock_seconds() - r->t_start;
    if (p.frac > 0)
        p.eta = p.elapsed * (1.0 - p.frac) / p.frac;
    if (r->o.on_tensor(r->o.progress_ud, &p))
        return qerr_set(q->err, QERR_CANCEL, "quantization cancelled");
    return 0;
}

/* Quantize one tensor from its float original and install Ŵ. */
static int quant_one(struct qrun_ctx *q, struct qtensor *t, const struct quant_spec *spec,
                     const struct quant_calib *qc, struct quant_side *side)
{
    struct qrun *r = q->r;
    int rows = (int)qtensor_rows(t), cols = (int)qtensor_cols(t);
    const float *w = orig_floats(q, t);
    float *out = big_floats((size_t)t->nelem);
    if (!w || !out) {
        free(out);
        return qerr_set(q->err, QERR_NOMEM, "%s: out of memory converting %s to float",
                        t->name, qdtype_name(t->dtype));
    }
    struct quant_report rep;
    struct quant_ctl ctl = {NULL, NULL, r->o.cancel};
    struct quant_calib qi = *qc; /* + this tensor's importance, if any */
    const struct qimatrix_entry *ie = r->o.imatrix ? qimatrix_find(r->o.imatrix, t->name) : NULL;
    if (ie && ie->n != cols) {
        free(out);
        return qerr_set(q->err, QERR_ARG, "imatrix entry %s: nval %lld but %s has %d columns",
                        ie->src_name, (long long)ie->n, t->name, cols);
    }
    qi.importance = ie ? ie->values : NULL;
    double t0 = qclock_seconds();
    int rc = spec == &r->o.spec && rtn_split_ok(r, &qi, rows)
                 ? rtn_two_threads(spec, w, rows, cols, out, &rep, q->err)
                 : quant_apply_ex(spec, w, rows, cols, &qi, out, side, &rep, &ctl,
                                  r->o.out_err ? 0 : QUANT_NO_OUT_ERR, q->err);
    double dt = qclock_seconds() - t0;
    r->quant_seconds += dt;
    if (rc < 0) {
        free(out);
        return qerr_prefix(q->err, "%s: ", t->name);
    }
    qtensor_set_override(t, out);
    if (add_report(r, t, &rep, dt) < 0)
        return qerr_set(q->err, QERR_NOMEM, "out of memory");
    return tensor_done(q, t);
}

/* Split a stacked result back into per-tensor overrides and reports. */
static int split_joint(struct qrun_ctx *q, struct qtensor **ts, int n, const float *w,
                       const float *out, const struct quant_report *rep,
                       const struct quant_calib *qc, double dt)
{
    int cols = (int)qtensor_cols(ts[0]), total = 0;
    for (int i = 0; i < n; i++)
        total += (int)qtensor_rows(ts[i]);
    for (int i = 0, row = 0; i < n; i++) {
        int rows = (int)qtensor_rows(ts[i]);
        size_t ne = (size_t)rows * cols, off = (size_t)row * cols;
        float *o = big_floats(ne);
        if (!o)
            return qerr_set(q->err, QERR_NOMEM, "%s: out of memory", ts[i]->name);
        memcpy(o, out + off, ne * sizeof(float));
        struct quant_report ri;
        quant_report_fill(w + off, o, (long)ne, rep->bits_per_weight, &ri);
        ri.n_outlier_features = rep->n_outlier_features;
        ri.chosen = rep->chosen;
        ri.outlier_frac = rep->outlier_frac;
        ri.n_outliers = (long)(rep->outlier_frac * (double)ne + 0.5);
        if (q->r->o.out_err && quant_out_err(w + off, o, rows, cols, qc, &ri.out_err) < 0) {
            free(o);
            return qerr_set(q->err, QERR_NOMEM, "%s: out of memory", ts[i]->name);
        }
        qtensor_set_override(ts[i], o);
        if (add_report(q->r, ts[i], &ri, dt * rows / total) < 0)
            return qerr_set(q->err, QERR_NOMEM, "out of memory");
        int rc = tensor_done(q, ts[i]);
        if (rc)
            return rc;
        row += rows;
    }
    return 0;
}

/* Linears sharing an input quantized as one stacked (sum rows, cols)
 * matrix, so they get one set of input scales / float features. */
static int quant_joint(struct qrun_ctx *q, struct qtensor **ts, int n,
                       const struct quant_calib *qc, struct quant_side *side)
{
    struct qrun *r = q->r;
    int cols = (int)qtensor_cols(ts[0]), total = 0;
    for (int i = 0; i < n; i++)
        total += (int)qtensor_rows(ts[i]);
    float *w = malloc((size_t)total * cols * sizeof(float));
    float *out = malloc((size_t)total * cols * sizeof(float));
    int rc = w && out ? 0 : qerr_set(q->err, QERR_NOMEM, "%s: out of memory", ts[0]->name);
    for (int i = 0, row = 0; i < n && !rc; i++) {
        const float *src = qtensor_f32_direct(ts[i], 0);
        float *dst = w + (size_t)row * cols;
        if (src)
            memcpy(dst, src, (size_t)ts[i]->nelem * sizeof(float));
        else if (qtensor_read_range(ts[i], 0, ts[i]->nelem, dst)) {
            rc = qerr_set(q->err, QERR_UNSUPP, "%s: cannot convert %s to float", ts[i]->name,
                          qdtype_name(ts[i]->dtype));
            break;
        }
        row += (int)qtensor_rows(ts[i]);
    }
    struct quant_report rep;
    struct quant_ctl ctl = {NULL, NULL, r->o.cancel};
    double t0 = qclock_seconds();
    /* out_err of the stack is not reported: split_joint computes each part's */
    if (!rc && (rc = quant_apply_ex(&r->o.spec, w, total, cols, qc, out, side, &rep, &ctl,
                                    QUANT_NO_OUT_ERR, q->err)) < 0)
        qerr_prefix(q->err, "%s (stacked with %d more): ", ts[0]->name, n - 1);
    double dt = qclock_seconds() - t0;
    r->quant_seconds += dt;
    if (!rc)
        rc = split_joint(q, ts, n, w, out, &rep, qc, dt);
    free(w);
    free(out);
    return rc;
}

/* Keep the method's per-input-channel side results for site idx. */
static void keep_side(struct qrun *r, int idx, struct quant_side *side)
{
    if (side->has_scale) {
        free(r->in_scale[idx]);
        r->in_scale[idx] = side->in_scale;
        side->in_scale = NULL;
    }
    if (side->has_fp_cols) {
        free(r->fp_cols[idx]);
        r->fp_cols[idx] = side->fp_cols;
        side->fp_cols = NULL;
    }
    r->quantized[idx] = 1;
}

/* Quantize the linears of `tensors` that read one input (site index idx of
 * the side tables), with calibration accumulator a (or NULL). */
static int quant_group(struct qrun_ctx *q, struct qtensor **ts, int n, int idx,
                       const struct calib_acc *a)
{
    struct qrun *r = q->r;
    int cols = (int)qtensor_cols(ts[0]);
    float *mean_abs = malloc((size_t)cols * sizeof(float));
    struct quant_side side = {.in_scale = malloc((size_t)cols * sizeof(float)),
                              .fp_cols = malloc((size_t)cols)};
    int rc = mean_abs && side.in_scale && side.fp_cols ? 0 : qerr_set(q->err, QERR_NOMEM, "out of memory");
    if (!rc && a && a->dim != cols) /* a broken invariant of the site tables */
        rc = qerr_set(q->err, QERR_ARG, "%s: calibration has %d channels, the layer %d",
                      ts[0]->name, a->dim, cols);
    struct quant_calib qc;
    make_calib(rc ? NULL : a, mean_abs, &qc);
    /* one factorized Hessian for the linears of this input (GPTQ) */
    qc.hcache = n > 1 && qc.xtx ? quant_hcache_new() : NULL;
    int joint = n > 1 && !r->o.spec_of && (r->o.spec.method->needs_calib & QUANT_CALIB_ACT);
    if (!rc && joint)
        rc = quant_joint(q, ts, n, &qc, &side);
    for (int i = 0; i < n && !rc && !joint; i++) {
        const struct quant_spec *sp = r->o.spec_of && ts[i]->layer >= 0
                                          ? r->o.spec_of(r->o.spec_ud, ts[i]->layer, ts[i]->role)
                                          : &r->o.spec;
        if (sp) /* NULL: the plan keeps this tensor float */
            rc = quant_one(q, ts[i], sp, &qc, n == 1 ? &side : NULL);
    }
    if (!rc)
        keep_side(r, idx, &side);
    quant_hcache_free(qc.hcache);
    free(side.in_scale);
    free(side.fp_cols);
    free(mean_abs);
    return rc;
}

static int quant_step(struct qrun_ctx *q, int layer, const struct qrun_step *st)
{
    struct qtensor *ts[3];
    for (int i = 0; i < st->n; i++) {
        ts[i] = qmodel_get(q->r->m, layer, st->roles[i]);
        if (!ts[i])
            return qerr_set(q->err, QERR_FORMAT, "model has no blk.%d.%s", layer,
                            qrole_name(st->roles[i]));
    }
    const struct calib_acc *a = calib_get(&q->cal, layer, st->site);
    const struct qrun_opts *o = &q->r->o;
    if (a && a->n_rows && o->on_calib && o->on_calib(o->on_calib_ud, layer, st->site, a))
        return qerr_set(q->err, QERR_CANCEL, "quantization cancelled");
    return quant_group(q, ts, st->n, layer * N_SITES + st->site, a && a->n_rows ? a : NULL);
}

/* ---- calibration passes ---- */

static int cap_linear(void *ud, int layer, enum qrole role, float *x, int n, int in_dim)
{
    struct capture *k = ud;
    if (layer < 0) { /* the classifier input: no need for the logits */
        if (role != QR_OUTPUT || !k->out_acc)
            return 0;
        int rc = calib_acc_add(k->c, k->out_acc, x, n, in_dim);
        return rc < 0 ? rc : QRUN_STOP;
    }
    int site = calib_site_of_role(role);
    if (layer != k->layer || site < 0 || !(k->mask & (1u << site)))
        return 0;
    int rc = calib_acc_add(k->c, calib_get(k->c, layer, site), x, n, in_dim);
    if (rc < 0)
        return rc;
    return site == k->stop_site ? QRUN_STOP : 0;
}

/* The message of a failed pass: the calibration's own, else the pass's. */
static int pass_error(struct qrun_ctx *q, int rc)
{
    if (rc == QERR_CANCEL)
        return qerr_set(q->err, QERR_CANCEL, "quantization cancelled");
    const struct qerr *e = q->cal.err.code ? &q->cal.err : &q->f->err;
    return qerr_set(q->err, rc, "%s", e->msg[0] ? e->msg : "forward pass failed");
}

/* Run block `layer` over every chunk (on a copy) and capture the inputs of
 * the sites in `mask`; stop each pass after `stop_site` (-1: never). */
static int capture_block(struct qrun_ctx *q, int layer, unsigned mask, int stop_site)
{
    struct qrun *r = q->r;
    for (int s = 0; s < N_SITES; s++)
        if ((mask & (1u << s)) && calib_select(&q->cal, layer, s, CALIB_HESSIAN | CALIB_CHANNEL) < 0)
            return qerr_set(q->err, q->cal.err.code, "%s", q->cal.err.msg);
    struct capture k = {&q->cal, layer, mask, stop_site, NULL};
    struct fwd_hooks h = {&k, cap_linear, NULL};
    size_t cd = (size_t)r->ctx * q->f->cfg.dim;
    double t0 = qclock_seconds();
    int rc = 0;
    for (int c = 0; c < r->n_chunks && !rc; c++) {
        if (cancelled(&r->o)) {
            rc = QERR_CANCEL;
            break;
        }
        memcpy(q->scratch, q->h + c * cd, cd * sizeof(float));
        rc = fwd_block(q->f, layer, q->scratch, r->ctx, &h);
        if (rc == QRUN_STOP) {
            rc = 0;
            qerr_clear(&q->f->err);
        }
    }
    r->calib_seconds += qclock_seconds() - t0;
    return rc < 0 ? pass_error(q, rc) : 0;
}

static void release_block(struct qrun_ctx *q, int layer)
{
    calib_select(&q->cal, layer, -1, 0);
}

/* H = block `layer` (with its installed overrides) applied to H. */
static int advance_block(struct qrun_ctx *q, int layer)
{
    struct qrun *r = q->r;
    size_t cd = (size_t)r->ctx * q->f->cfg.dim;
    double t0 = qclock_seconds();
    int rc = 0;
    for (int c = 0; c < r->n_chunks && !rc; c++)
        rc = cancelled(&r->o) ? QERR_CANCEL : fwd_block(q->f, layer, q->h + c * cd, r->ctx, NULL);
    r->calib_seconds += qclock_seconds() - t0;
    return rc < 0 ? pass_error(q, rc) : 0;
}

/* H = embeddings of the calibration chunks (first token set to BOS). */
static int embed_chunks(struct qrun_ctx *q)
{
    struct qrun *r = q->r;
    size_t cd = (size_t)r->ctx * q->f->cfg.dim;
    int *buf = malloc((size_t)r->ctx * sizeof(int));
    if (!buf)
        return qerr_set(q->err, QERR_NOMEM, "out of memory");
    double t0 = qclock_seconds();
    int rc = 0;
    for (int c = 0; c < r->n_chunks && !rc; c++) {
        memcpy(buf, q->tokens + (size_t)c * r->ctx, (size_t)r->ctx * sizeof(int));
        if (r->o.bos >= 0)
            buf[0] = r->o.bos;
        rc = fwd_embed(q->f, buf, r->ctx, q->h + c * cd);
    }
    free(buf);
    r->calib_seconds += qclock_seconds() - t0;
    return rc < 0 ? pass_error(q, rc) : 0;
}

/* ---- the layer loop ---- */

/* "blk.L.label", or the label alone outside the blocks. */
static void where_name(char *what, size_t n, int layer, const char *label)
{
    if (layer >= 0)
        snprintf(what, n, "blk.%d.%s", layer, label);
    else
        snprintf(what, n, "%s", label);
}

static int report_progress(struct qrun_ctx *q, int layer, const char *label)
{
    struct qrun *r = q->r;
    if (!r->o.progress)
        return 0;
    char what[96];
    where_name(what, sizeof what, layer, label);
    if (r->o.progress(r->o.progress_ud, layer, r->m->cfg.n_layers, what))
        return qerr_set(q->err, QERR_CANCEL, "quantization cancelled");
    return 0;
}

/* The piece of work beginning now (qrun_opts.on_phase). */
static int report_phase(struct qrun_ctx *q, const char *phase, int layer, const char *label)
{
    struct qrun *r = q->r;
    if (!r->o.on_phase)
        return 0;
    char what[96];
    where_name(what, sizeof what, layer, label);
    if (r->o.on_phase(r->o.progress_ud, phase, what))
        return qerr_set(q->err, QERR_CANCEL, "quantization cancelled");
    return 0;
}

/* The block-done observer (qrun_opts.on_block). */
static int block_done(struct qrun_ctx *q, int layer)
{
    const struct qrun_opts *o = &q->r->o;
    if (!o->on_block)
        return 0;
    int rc = o->on_block(o->on_block_ud, layer, q->err);
    return rc < 0 ? rc : 0;
}

/* One block with calibration: capture, quantize, advance. */
static int run_block(struct qrun_ctx *q, int layer)
{
    struct qrun *r = q->r;
    int rc = 0;
    if (!r->o.sequential && !(rc = report_phase(q, "calibrating", layer, "*")))
        rc = capture_block(q, layer, (1u << N_SITES) - 1, -1);
    for (int s = 0; s < N_SITES && !rc; s++) {
        if (r->o.sequential && !(rc = report_phase(q, "calibrating", layer, steps[s].label)))
            rc = capture_block(q, layer, 1u << steps[s].site, steps[s].site);
        if (!rc && !(rc = report_phase(q, "quantizing", layer, steps[s].label)))
            rc = quant_step(q, layer, &steps[s]);
        if (r->o.sequential)
            release_block(q, layer);
        if (!rc)
            rc = report_progress(q, layer, steps[s].label);
    }
    release_block(q, layer);
    if (!rc)
        rc = advance_block(q, layer);
    return rc ? rc : block_done(q, layer);
}

/* The tensor the classifier reads (token_embd when tied). */
static struct qtensor *classifier(struct qmodel *m)
{
    struct qtensor *t = m->cfg.tied_output ? NULL : qmodel_get(m, -1, QR_OUTPUT);
    return t ? t : qmodel_get(m, -1, QR_TOK_EMBD);
}

/* Capture the classifier input over H (after the last block) and quantize
 * the classifier. */
static int run_output(struct qrun_ctx *q, int with_calib)
{
    struct qrun *r = q->r;
    struct qtensor *t = classifier(r->m);
    int dim = q->f->cfg.dim;
    struct calib_acc acc = {.want = CALIB_HESSIAN | CALIB_CHANNEL, .dim = dim};
    int rc = 0;
    if (with_calib) {
        acc.xtx = calloc((size_t)dim * dim, sizeof(double));
        acc.sum_abs = calloc((size_t)dim, sizeof(double));
        acc.max_abs = calloc((size_t)dim, sizeof(float));
        if (!acc.xtx || !acc.sum_abs || !acc.max_abs)
            rc = qerr_set(q->err, QERR_NOMEM, "out of memory for the classifier calibration");
        if (!rc)
            rc = report_phase(q, "calibrating", -1, t->name);
        struct capture k = {&q->cal, -2, 0, -1, &acc};
        struct fwd_hooks h = {&k, cap_linear, NULL};
        size_t cd = (size_t)r->ctx * dim;
        double t0 = qclock_seconds();
        /* the hook stops each pass at the classifier's input, so no
         * (ctx, vocab) logits are computed or written */
        for (int c = 0; c < r->n_chunks && !rc; c++) {
            rc = cancelled(&r->o) ? QERR_CANCEL : fwd_final(q->f, q->h + c * cd, r->ctx, NULL, &h);
            if (rc == QRUN_STOP) {
                rc = 0;
                qerr_clear(&q->f->err);
            }
        }
        r->calib_seconds += qclock_seconds() - t0;
        if (rc < 0)
            rc = pass_error(q, rc);
    }
    if (!rc && with_calib && r->o.on_calib && r->o.on_calib(r->o.on_calib_ud, -1, -1, &acc))
        rc = qerr_set(q->err, QERR_CANCEL, "quantization cancelled");
    if (!rc)
        rc = report_phase(q, "quantizing", -1, t->name);
    if (!rc)
        rc = quant_group(q, &t, 1, r->m->cfg.n_layers * N_SITES, with_calib ? &acc : NULL);
    if (!rc)
        rc = report_progress(q, -1, t->name);
    free(acc.xtx);
    free(acc.sum_abs);
    free(acc.max_abs);
    return rc;
}

/* token_embd as a lookup table: RTN on the spec's grid (no calibration
 * exists for a lookup). */
static int run_embed(struct qrun_ctx *q)
{
    struct qrun *r = q->r;
    struct qtensor *t = qmodel_get(r->m, -1, QR_TOK_EMBD);
    struct quant_spec rtn;
    if (!t)
        return qerr_set(q->err, QERR_FORMAT, "model has no token_embd");
    /* a method without calibration (RTN, the ggml types) quantizes the
     * table itself, as llama-quantize does with token_embd */
    int rc = r->o.spec.method->needs_calib == QUANT_CALIB_NONE
                 ? (rtn = r->o.spec, 0)
                 : quant_spec_parse(&rtn, "rtn", r->o.spec.bits, r->o.spec.group, r->o.spec.sym,
                                    NULL, q->err);
    struct quant_calib none = {0};
    return rc < 0 ? rc : quant_one(q, t, &rtn, &none, NULL);
}

static int check_opts(struct qrun *r, struct fwd *f, size_t n_tokens, struct qerr *err)
{
    const struct qrun_opts *o = &r->o;
    if (!o->spec.method && !o->spec_of)
        return qerr_set(err, QERR_ARG, "quantization: no method");
    if (!calib_needs(o, f->m->cfg.n_layers))
        return 0;
    if (o->calib_ctx < 2 || o->calib_ctx > f->max_tokens)
        return qerr_set(err, QERR_ARG, "calibration context %d outside 2..%d", o->calib_ctx,
                        f->max_tokens);
    if (o->calib_chunks < 1)
        return qerr_set(err, QERR_ARG, "calibration needs at least one chunk");
    size_t avail = n_tokens / (size_t)o->calib_ctx;
    if (avail == 0)
        return qerr_set(err, QERR_FORMAT, "calibration text too short: %zu tokens, one chunk needs %d",
                        n_tokens, o->calib_ctx);
    r->ctx = o->calib_ctx;
    r->n_chunks = avail < (size_t)o->calib_chunks ? (int)avail : o->calib_chunks;
    return 0;
}

/* The tensors and weights a run will quantize (for qrun_progress). */
static void count_todo(struct qrun *r, int embed)
{
    struct qmodel *m = r->m;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int s = 0; s < N_SITES; s++)
            for (int i = 0; i < steps[s].n; i++) {
                const struct qtensor *t = qmodel_get(m, l, steps[s].roles[i]);
                r->n_todo++;
                r->w_todo += t ? (double)t->nelem : 0;
            }
    const struct qtensor *extra[2] = {r->o.quant_output ? classifier(m) : NULL,
                                      embed ? qmodel_get(m, -1, QR_TOK_EMBD) : NULL};
    for (int i = 0; i < 2; i++)
        if (extra[i]) {
            r->n_todo++;
            r->w_todo += (double)extra[i]->nelem;
        }
}

/* Methods without calibration: every linear on its own, no passes. */
static int run_no_calib(struct qrun_ctx *q)
{
    struct qrun *r = q->r;
    int rc = 0;
    for (int l = 0; l < r->m->cfg.n_layers && !rc; l++) {
        for (int s = 0; s < N_SITES && !rc; s++) {
            rc = report_phase(q, "quantizing", l, steps[s].label);
            if (!rc)
                rc = quant_step(q, l, &steps[s]);
            if (!rc)
                rc = report_progress(q, l, steps[s].label);
        }
        if (!rc)
            rc = block_done(q, l);
    }
    return rc;
}

static int run_with_calib(struct qrun_ctx *q)
{
    struct qrun *r = q->r;
    size_t cd = (size_t)r->ctx * q->f->cfg.dim;
    q->h = malloc((size_t)r->n_chunks * cd * sizeof(float));
    q->scratch = malloc(cd * sizeof(float));
    if (!q->h || !q->scratch)
        return qerr_set(q->err, QERR_NOMEM, "out of memory for %d calibration chunks of %d x %d",
                        r->n_chunks, r->ctx, q->f->cfg.dim);
    int rc = report_phase(q, "calibrating", -1, "token embeddings");
    if (!rc)
        rc = embed_chunks(q);
    for (int l = 0; l < r->m->cfg.n_layers && !rc; l++)
        rc = run_block(q, l);
    if (!rc && r->o.quant_output)
        rc = run_output(q, 1);
    return rc;
}

int qrun_quantize(struct qrun *r, struct fwd *f, const int *tokens, size_t n_tokens,
                  const struct qrun_opts *o, struct qerr *err)
{
    memset(r, 0, sizeof *r);
    r->m = f->m;
    r->o = *o;
    r->n_params = qmodel_param_count(f->m);
    double t0 = qclock_seconds();
    if (alloc_sites(r) < 0)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    int rc = check_opts(r, f, n_tokens, err);
    if (rc < 0)
        return rc;
    int nl = f->m->cfg.n_layers;
    if (!o->spec_of && o->spec.bits >= 16) { /* weights stay float: act/KV-only runs */
        memset(r->quantized, 1, (size_t)nl * N_SITES);
        return 0;
    }
    struct qrun_ctx q = {.r = r, .f = f, .tokens = tokens, .err = err};
    rc = calib_init(&q.cal, &f->m->cfg, err);
    int tied_out = o->quant_output && f->m->cfg.tied_output;
    count_todo(r, o->quant_embed && !tied_out);
    r->t_start = t0;
    fwd_use_overrides(f, 1);
    if (!rc && o->quant_embed && !tied_out)
        rc = run_embed(&q);
    if (!rc)
        rc = block_done(&q, -1);
    if (!rc && calib_needs(o, nl))
        rc = run_with_calib(&q);
    else if (!rc) {
        rc = run_no_calib(&q);
        if (!rc && o->quant_output)
            rc = run_output(&q, 0);
    }
    calib_free(&q.cal);
    free(q.h);
    free(q.scratch);
    free(q.wbuf);
    r->seconds = qclock_seconds() - t0;
    return rc;
}

/* ---- evaluation hooks: activation and KV fake quantization ---- */

/* One token's activation as a W8A8 kernel sees it: x' = s ⊙ Q(x / s) with
 * float-kept features excluded from the range and left as they were
 * (saved in keep, (dim), when fp is set). */
static int act_quant_row(const struct qrun *r, float *x, int dim, const float *s,
                         const unsigned char *fp, float *keep, struct qerr *err)
{
    for (int j = 0; j < dim; j++) {
        if (fp && fp[j]) {
            keep[j] = x[j];
            x[j] = 0.0f;
        } else if (s) {
            x[j] /= s[j];
        }
    }
    size_t g = (size_t)(r->o.act_group > 0 ? r->o.act_group : 0);
    int rc = actq_rows(x, 1, (size_t)dim, r->o.act_bits, g, 0, err);
    for (int j = 0; j < dim; j++) {
        if (fp && fp[j])
            x[j] = keep[j];
        else if (s)
            x[j] *= s[j];
    }
    return rc;
}

static int eval_linear(void *ud, int layer, enum qrole role, float *x, int n, int in_dim)
{
    struct qrun *r = ud;
    int nl = r->m->cfg.n_layers, site = calib_site_of_role(role);
    int idx = layer < 0 ? (role == QR_OUTPUT ? nl * N_SITES : -1)
                        : (site < 0 || layer >= nl ? -1 : layer * N_SITES + site);
    if (!r->o.act_bits || idx < 0 || !r->quantized[idx])
        return 0;
    struct qerr err = {0};
    /* scratch of this call only: the hooks may run on two threads at once */
    float *keep = r->fp_cols[idx] ? malloc((size_t)in_dim * sizeof(float)) : NULL;
    if (r->fp_cols[idx] && !keep)
        return QERR_NOMEM;
    int rc = 0;
    for (int t = 0; t < n && !rc; t++)
        if (act_quant_row(r, x + (size_t)t * in_dim, in_dim, r->in_scale[idx], r->fp_cols[idx],
                          keep, &err) < 0)
            rc = err.code ? err.code : QERR_ARG;
    free(keep);
    return rc;
}

static int kv_quant(struct qrun *r, float *x, int n, int kv_dim, int per_channel)
{
    struct qerr err;
    int g = r->o.kv_group;
    if (g < 0)
        g = per_channel ? 0 : r->m->cfg.head_dim;
    return per_channel ? actq_cols(x, (size_t)n, (size_t)kv_dim, r->o.kv_bits, (size_t)g, 1, &err)
                       : actq_rows(x, (size_t)n, (size_t)kv_dim, r->o.kv_bits, (size_t)g, 1, &err);
}

static int eval_kv(void *ud, int layer, float *k, float *v, int n, int kv_dim)
{
    struct qrun *r = ud;
    if (!r->o.kv_bits)
        return 0;
    int rc = kv_quant(r, k, n, kv_dim, r->o.kv_axis == CALIB_PER_CHANNEL);
    return rc < 0 ? rc : kv_quant(r, v, n, kv_dim, 0);
}

void qrun_eval_hooks(struct qrun *r, struct fwd_hooks *h)
{
    h->ud = r;
    h->linear_in = r->o.act_bits ? eval_linear : NULL;
    h->kv = r->o.kv_bits ? eval_kv : NULL;
}

/* ---- folding smoothing scales into the norms ---- */

/* t := t·diag(s) on the weights in use (override or original). */
static int scale_columns(struct qtensor *t, const float *s, struct qerr *err)
{
    int rows = (int)qtensor_rows(t), cols = (int)qtensor_cols(t);
    const float *w = qtensor_f32(t);
    float *o = malloc((size_t)t->nelem * sizeof(float));
    if (!w || !o) {
        free(o);
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", t->name);
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            o[(size_t)i * cols + j] = w[(size_t)i * cols + j] * s[j];
    qtensor_set_override(t, o);
    return 0;
}

/* norm weight /= s (from the original norm weights). */
static int divide_norm(struct qtensor *t, const float *s, struct qerr *err)
{
    const float *w = qtensor_f32_orig(t);
    float *o = malloc((size_t)t->nelem * sizeof(float));
    if (!w || !o) {
        free(o);
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", t->name);
    }
    for (int64_t j = 0; j < t->nelem; j++)
        o[j] = w[j] / s[j];
    qtensor_set_override(t, o);
    return 0;
}

int qrun_fold_scales(struct qrun *r, struct qerr *err)
{
    static const struct { int site; enum qrole norm; } sites[2] = {
        {CALIB_ATTN_IN, QR_ATTN_NORM}, {CALIB_FFN_IN, QR_FFN_NORM}};
    for (int l = 0; l < r->m->cfg.n_layers; l++)
        for (int k = 0; k < 2; k++) {
            const struct qrun_step *st = &steps[sites[k].site];
            int idx = l * N_SITES + st->site;
            float *s = r->in_scale ? r->in_scale[idx] : NULL;
            struct qtensor *nt = qmodel_get(r->m, l, sites[k].norm);
            if (!s)
                continue;
            if (!nt)
                return qerr_set(err, QERR_FORMAT, "model has no blk.%d.%s", l,
                                qrole_name(sites[k].norm));
            int rc = divide_norm(nt, s, err);
            for (int i = 0; i < st->n && !rc; i++) {
                struct qtensor *t = qmodel_get(r->m, l, st->roles[i]);
                rc = t ? scale_columns(t, s, err) : qerr_set(err, QERR_FORMAT, "missing linear");
            }
            if (rc < 0)
                return rc;
            free(s);
            r->in_scale[idx] = NULL; /* the activations are now x/s already */
        }
    return 0;
}

/* ---- calibration / evaluation text overlap ---- */

#define OV_BASE 1099511628211ULL

long qrun_text_overlap(const char *a, size_t na, const char *b, size_t nb, size_t win)
{
    if (win == 0 || na < win || nb < win)
        return -1;
    size_t nw = na - win + 1, cap = 1;
    while (cap < 2 * nw)
        cap <<= 1;
    uint64_t *hs = malloc(cap * sizeof *hs);
    size_t *at = malloc(cap * sizeof *at);
    if (!hs || !at) { /* fall back to "unknown": report no overlap found */
        free(hs);
        free(at);
        return -2;
    }
    memset(at, 0xff, cap * sizeof *at);
    uint64_t pw = 1, h = 0;
    for (size_t i = 0; i < win; i++)
        pw *= OV_BASE;
    for (size_t i = 0; i < na; i++) { /* rolling hash of every window of a */
        h = h * OV_BASE + (unsigned char)a[i];
        if (i >= win)
            h -= pw * (unsigned char)a[i - win];
        if (i + 1 < win)
            continue;
        size_t slot = (size_t)(h * 0x9E3779B97F4A7C15ULL >> 7) & (cap - 1), off = i + 1 - win;
        int dup = 0; /* repeated windows are stored once: chains stay short */
        for (; at[slot] != (size_t)-1 && !dup; slot = (slot + 1) & (cap - 1))
            dup = hs[slot] == h && !memcmp(a + at[slot], a + off, win);
        if (!dup) {
            hs[slot] = h;
            at[slot] = off;
        }
    }
    long found = -1;
    h = 0;
    for (size_t i = 0; i < nb && found < 0; i++) {
        h = h * OV_BASE + (unsigned char)b[i];
        if (i >= win)
            h -= pw * (unsigned char)b[i - win];
        if (i + 1 < win)
            continue;
        size_t slot = (size_t)(h * 0x9E3779B97F4A7C15ULL >> 7) & (cap - 1);
        for (; at[slot] != (size_t)-1 && found < 0; slot = (slot + 1) & (cap - 1))
            if (hs[slot] == h && !memcmp(a + at[slot], b + i + 1 - win, win))
                found = (long)(i + 1 - win);
    }
    free(hs);
    free(at);
    return found;
}
