/* mdiv: layer-wise divergence, float vs quantized (see mdiv.h). */
#include "src/mdiv.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/calib.h"
#include "src/qclock.h"

static const enum qrole lin_roles[MDIV_LINEARS] = {
    QR_ATTN_Q, QR_ATTN_K, QR_ATTN_V, QR_ATTN_OUT, QR_FFN_GATE, QR_FFN_UP, QR_FFN_DOWN,
};

/* The four distinct linear inputs (calib.h sites) and the role the
 * forward pass's linear_in hook names each by. */
static const enum qrole slot_roles[4] = {QR_ATTN_Q, QR_ATTN_OUT, QR_FFN_GATE, QR_FFN_DOWN};

int mdiv_row_index(int layer, enum qrole role)
{
    if (role == QR_OTHER)
        return layer * MDIV_PER_LAYER + MDIV_LINEARS;
    for (int k = 0; k < MDIV_LINEARS; k++)
        if (lin_roles[k] == role)
            return layer * MDIV_PER_LAYER + k;
    return -1;
}

void mdiv_pair(const float *yf, const float *yq, int d, double *rel, double *cos, double *e2,
               double *f2)
{
    double ff = 0, qq = 0, fq = 0, ee = 0;
    for (int j = 0; j < d; j++) {
        double a = yf[j], b = yq[j], e = b - a;
        ff += a * a;
        qq += b * b;
        fq += a * b;
        ee += e * e;
    }
    *rel = ff > 0 ? sqrt(ee / ff) : ee > 0 ? 1.0 : 0.0;
    *cos = ff > 0 && qq > 0 ? fq / sqrt(ff * qq) : ff == 0 && qq == 0 ? 1.0 : 0.0;
    *e2 = ee;
    *f2 = ff;
}

/* ---- state of one run ---- */

struct acc {
    double cos_sum, cos_min, e2, f2;
    float *rel;             /* (n_scored) per-token rel_t */
};

struct cap {                /* linear_in hook: copy each input to a slot */
    const struct fwd_hooks *inner;
    float **slot;           /* (4) -> (n, in_dim)                          */
};

struct work {
    struct fwd *f;
    const struct mdiv_opts *o;
    struct mdiv_result *r;
    int n, first, rows, dim, max_in, max_out, vocab;
    int *toks;
    float *xf, *xq, *xl, *xin;  /* (n, dim) residual streams                */
    float *cap[2][4];           /* float / quantized linear inputs (n, in)  */
    int cap_dim[4];
    float *xa;                  /* (rows, max_in) A(X_f) of the local rows  */
    float *yf, *yq, *yl;        /* (rows, max_out) linear outputs           */
    float *lf, *lq, *ll;        /* (n - first, vocab) logits                */
    float *tile;                /* (tile_rows, max_in) converted weights    */
    int tile_rows;
    struct acc *acc;            /* (n_rows * 2)                             */
    size_t pos;                 /* scored tokens done                       */
    float *kl;                  /* (n_scored)                               */
    long top;
};

static int cap_lin(void *ud, int layer, enum qrole role, float *x, int n, int in)
{
    struct cap *c = ud;
    const struct fwd_hooks *h = c->inner;
    int rc = h && h->linear_in ? h->linear_in(h->ud, layer, role, x, n, in) : 0;
    for (int s = 0; s < 4 && rc >= 0 && layer >= 0; s++)
        if (slot_roles[s] == role) /* after the inner hook: what the matmul reads */
            memcpy(c->slot[s], x, (size_t)n * in * sizeof(float));
    return rc;
}

static int cap_kv(void *ud, int layer, float *k, float *v, int n, int kv_dim)
{
    const struct fwd_hooks *h = ((struct cap *)ud)->inner;
    return h && h->kv ? h->kv(h->ud, layer, k, v, n, kv_dim) : 0;
}

static void *fa(size_t nfloat)
{
    return malloc((nfloat ? nfloat : 1) * sizeof(float));
}

static int work_alloc(struct work *w)
{
    const struct qconfig *c = &w->f->cfg;
    int q_dim = w->f->q_dim, kv = w->f->kv_dim;
    w->dim = c->dim;
    w->vocab = c->vocab_size;
    w->cap_dim[0] = c->dim;
    w->cap_dim[1] = q_dim;
    w->cap_dim[2] = c->dim;
    w->cap_dim[3] = c->hidden_dim;
    w->max_in = c->dim > q_dim ? c->dim : q_dim;
    w->max_in = c->hidden_dim > w->max_in ? c->hidden_dim : w->max_in;
    w->max_out = w->max_in > kv ? w->max_in : kv;
    size_t n = (size_t)w->n, nd = n * c->dim, rows = (size_t)w->rows, nl = n - w->first;
    w->tile_rows = (1 << 20) / w->max_in > 0 ? (1 << 20) / w->max_in : 1;
    w->toks = malloc(n * sizeof *w->toks);
    w->xf = fa(nd), w->xq = fa(nd), w->xl = fa(nd), w->xin = fa(nd);
    for (int m = 0; m < 2; m++)
        for (int s = 0; s < 4; s++)
            w->cap[m][s] = fa(n * w->cap_dim[s]);
    w->xa = fa(rows * w->max_in);
    w->yf = fa(rows * w->max_out), w->yq = fa(rows * w->max_out), w->yl = fa(rows * w->max_out);
    w->lf = fa(nl * w->vocab), w->lq = fa(nl * w->vocab), w->ll = fa(nl * w->vocab);
    w->tile = fa((size_t)w->tile_rows * w->max_in);
    int ok = w->toks && w->xf && w->xq && w->xl && w->xin && w->xa && w->yf && w->yq && w->yl &&
             w->lf && w->lq && w->ll && w->tile;
    for (int m = 0; m < 2; m++)
        for (int s = 0; s < 4; s++)
            ok = ok && w->cap[m][s];
    return ok ? 0 : -1;
}

static void work_free(struct work *w)
{
    free(w->toks);
    free(w->xf), free(w->xq), free(w->xl), free(w->xin);
    for (int m = 0; m < 2; m++)
        for (int s = 0; s < 4; s++)
            free(w->cap[m][s]);
    free(w->xa), free(w->yf), free(w->yq), free(w->yl);
    free(w->lf), free(w->lq), free(w->ll), free(w->tile);
    if (w->acc)
        for (int i = 0; i < w->r->n_rows * MDIV__NMODES; i++)
            free(w->acc[i].rel);
    free(w->acc);
    free(w->kl);
}

/* Rows and their names; per-token buffers for n_scored tokens. */
static int rows_init(struct work *w, size_t n_scored)
{
    struct mdiv_result *r = w->r;
    r->n_layers = w->f->cfg.n_layers;
    r->n_rows = r->n_layers * MDIV_PER_LAYER + 1;
    r->rows = calloc((size_t)r->n_rows, sizeof *r->rows);
    w->acc = calloc((size_t)r->n_rows * MDIV__NMODES, sizeof *w->acc);
    w->kl = fa(n_scored);
    if (!r->rows || !w->acc || !w->kl)
        return -1;
    for (int i = 0; i < r->n_rows * MDIV__NMODES; i++) {
        w->acc[i].cos_min = 1;
        if (!(w->acc[i].rel = fa(n_scored)))
            return -1;
    }
    for (int l = 0; l < r->n_layers; l++) {
        const struct fwd_layer *L = &w->f->layers[l];
        struct qtensor *ts[MDIV_LINEARS] = {L->wq, L->wk, L->wv, L->wo, L->w1, L->w3, L->w2};
        struct mdiv_row *b = &r->rows[mdiv_row_index(l, QR_OTHER)];
        for (int k = 0; k < MDIV_LINEARS; k++) {
            struct mdiv_row *row = &r->rows[l * MDIV_PER_LAYER + k];
            snprintf(row->name, sizeof row->name, "%s", ts[k]->name);
            row->layer = l;
            row->role = lin_roles[k];
            row->kind = MDIV_LINEAR;
            row->quantized = ts[k]->override != NULL;
            b->quantized |= row->quantized;
        }
        snprintf(b->name, sizeof b->name, "blk.%d", l);
        b->layer = l;
        b->role = QR_OTHER;
        b->kind = MDIV_BLOCK;
    }
    struct mdiv_row *lg = &r->rows[r->n_rows - 1];
    snprintf(lg->name, sizeof lg->name, "logits");
    lg->layer = -1;
    lg->kind = MDIV_LOGITS;
    lg->quantized = w->f->output->override != NULL;
    for (int i = 0; i < r->n_rows; i++)
        r->rows[i].kl_without = r->rows[i].kl_delta = NAN;
    return 0;
}

/* Per-token measures of `rows` vector pairs (stride ld) into acc. */
static void acc_add(struct work *w, int row, int mode, const float *yf, const float *yq, int d,
                    size_t ld)
{
    struct acc *a = &w->acc[row * MDIV__NMODES + mode];
    for (int i = 0; i < w->rows; i++) {
        double rel, cos, e2, f2;
        mdiv_pair(yf + i * ld, yq + i * ld, d, &rel, &cos, &e2, &f2);
        a->rel[w->pos + i] = (float)rel;
        a->cos_sum += cos;
        a->cos_min = cos < a->cos_min ? cos : a->cos_min;
        a->e2 += e2;
        a->f2 += f2;
    }
}

/* y (rows, out) = x (rows, in) Wᵀ with the float (ov 0) or the installed
 * (ov 1) weights of t; types without a float copy are read in tiles. */
static int lin_out(struct work *w, struct qtensor *t, int ov, const float *x, int in, float *y)
{
    int out = (int)qtensor_rows(t);
    const float *W = qtensor_f32_direct(t, ov);
    if (W) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, w->rows, out, in, 1.0f, x, in, W,
                    in, 0.0f, y, out);
        return out;
    }
    for (int r0 = 0; r0 < out; r0 += w->tile_rows) {
        int nr = out - r0 < w->tile_rows ? out - r0 : w->tile_rows;
        if (qtensor_read_rows(t, r0, nr, w->tile))
            return -1;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, w->rows, nr, in, 1.0f, x, in,
                    w->tile, in, 0.0f, y + r0, out);
    }
    return out;
}

/* The seven linear rows of layer l from the captured inputs. */
static int linears(struct work *w, int l, struct qerr *err)
{
    const struct fwd_layer *L = &w->f->layers[l];
    struct qtensor *ts[MDIV_LINEARS] = {L->wq, L->wk, L->wv, L->wo, L->w1, L->w3, L->w2};
    static const int slot_of[MDIV_LINEARS] = {0, 0, 0, 1, 2, 2, 3};
    const struct fwd_hooks *h = w->o->hooks;
    int last = -1;
    for (int k = 0; k < MDIV_LINEARS; k++) {
        int s = slot_of[k], in = w->cap_dim[s];
        size_t off = (size_t)w->first * in;
        if (s != last) { /* A(X_f): the quantized linear on the float input */
            memcpy(w->xa, w->cap[0][s] + off, (size_t)w->rows * in * sizeof(float));
            int rc = h && h->linear_in ? h->linear_in(h->ud, l, slot_roles[s], w->xa, w->rows, in) : 0;
            if (rc < 0)
                return qerr_set(err, rc, "divergence: layer %d: activation hook failed", l);
            last = s;
        }
        int o1 = lin_out(w, ts[k], 0, w->cap[0][s] + off, in, w->yf);
        int o2 = lin_out(w, ts[k], 1, w->cap[1][s] + off, in, w->yq);
        int o3 = lin_out(w, ts[k], 1, w->xa, in, w->yl);
        if (o1 < 0 || o2 < 0 || o3 < 0)
            return qerr_set(err, QERR_UNSUPP, "divergence: cannot convert %s (%s) to float",
                            ts[k]->name, qdtype_name(ts[k]->dtype));
        acc_add(w, l * MDIV_PER_LAYER + k, MDIV_ACC, w->yf, w->yq, o1, (size_t)o1);
        acc_add(w, l * MDIV_PER_LAYER + k, MDIV_LOCAL, w->yf, w->yl, o1, (size_t)o1);
    }
    return 0;
}

static int fwd_fail(struct work *w, int rc, struct qerr *err)
{
    if (rc == QERR_CANCEL)
        return qerr_set(err, QERR_CANCEL, "cancelled");
    return qerr_set(err, rc, "%s", w->f->err.msg);
}

/* One block three ways: float, accumulated, local. */
static int block(struct work *w, int l, struct qerr *err)
{
    struct fwd *f = w->f;
    size_t nd = (size_t)w->n * w->dim;
    struct cap cf = {NULL, w->cap[0]}, cq = {w->o->hooks, w->cap[1]};
    struct fwd_hooks hf = {&cf, cap_lin, cap_kv}, hq = {&cq, cap_lin, cap_kv};
    memcpy(w->xin, w->xf, nd * sizeof(float));
    fwd_use_overrides(f, 0);
    int rc = fwd_block(f, l, w->xf, w->n, &hf);
    fwd_use_overrides(f, 1);
    if (!rc)
        rc = fwd_block(f, l, w->xq, w->n, &hq);
    memcpy(w->xl, w->xin, nd * sizeof(float));
    if (!rc)
        rc = fwd_block(f, l, w->xl, w->n, w->o->hooks);
    if (rc)
        return fwd_fail(w, rc, err);
    if ((rc = linears(w, l, err)))
        return rc;
    size_t off = (size_t)w->first * w->dim;
    int b = mdiv_row_index(l, QR_OTHER);
    acc_add(w, b, MDIV_ACC, w->xf + off, w->xq + off, w->dim, (size_t)w->dim);
    acc_add(w, b, MDIV_LOCAL, w->xf + off, w->xl + off, w->dim, (size_t)w->dim);
    return 0;
}

/* Classifier three ways, the logits row and the KL of each position. */
static int final(struct work *w, struct qerr *err)
{
    struct fwd *f = w->f;
    size_t off = (size_t)w->first * w->dim;
    int nl = w->n - w->first; /* as ppl: logits from `first` on, last unused */
    fwd_use_overrides(f, 0);
    int rc = fwd_final(f, w->xf + off, nl, w->lf, NULL);
    fwd_use_overrides(f, 1);
    if (!rc)
        rc = fwd_final(f, w->xq + off, nl, w->lq, w->o->hooks);
    if (!rc)
        rc = fwd_final(f, w->xf + off, nl, w->ll, w->o->hooks);
    if (rc)
        return fwd_fail(w, rc, err);
    int row = w->r->n_rows - 1;
    acc_add(w, row, MDIV_ACC, w->lf, w->lq, w->vocab, (size_t)w->vocab);
    acc_add(w, row, MDIV_LOCAL, w->lf, w->ll, w->vocab, (size_t)w->vocab);
    for (int i = 0; i < w->rows; i++) {
        double pb, pc;
        int ab, ac;
        size_t o = (size_t)i * w->vocab;
        w->kl[w->pos + i] = (float)ppl_kl(w->lf + o, w->lq + o, w->vocab,
                                          w->toks[w->first + i + 1], &pb, &pc, &ab, &ac);
        w->top += ab == ac;
    }
    return 0;
}

static int chunk(struct work *w, const int *tokens, struct qerr *err)
{
    struct fwd *f = w->f;
    memcpy(w->toks, tokens, (size_t)w->n * sizeof *w->toks);
    if (w->o->bos >= 0)
        w->toks[0] = w->o->bos;
    fwd_use_overrides(f, 0);
    int rc = fwd_embed(f, w->toks, w->n, w->xf);
    fwd_use_overrides(f, 1);
    if (!rc)
        rc = fwd_embed(f, w->toks, w->n, w->xq);
    if (rc)
        return fwd_fail(w, rc, err);
    for (int l = 0; l < f->cfg.n_layers; l++) {
        if (w->o->cancel && *w->o->cancel)
            return qerr_set(err, QERR_CANCEL, "cancelled");
        if ((rc = block(w, l, err)))
            return rc;
    }
    if ((rc = final(w, err)))
        return rc;
    w->pos += (size_t)w->rows;
    return 0;
}

static void finish(struct work *w)
{
    struct mdiv_result *r = w->r;
    size_t n = w->pos;
    for (int i = 0; i < r->n_rows; i++)
        for (int m = 0; m < MDIV__NMODES; m++) {
            struct acc *a = &w->acc[i * MDIV__NMODES + m];
            struct mdiv_stat *s = &r->rows[i].s[m];
            struct ppl_dist d;
            ppl_dist_compute(a->rel, n, &d);
            s->rel_mean = d.mean;
            s->rel_p99 = d.p99;
            s->rel_max = d.max;
            s->rel_all = a->f2 > 0 ? sqrt(a->e2 / a->f2) : a->e2 > 0 ? 1.0 : 0.0;
            s->cos_mean = n ? a->cos_sum / (double)n : 1.0;
            s->cos_min = a->cos_min;
        }
    ppl_dist_compute(w->kl, n, &r->kld);
    r->top1 = n ? (double)w->top / (double)n : 1.0;
    r->n_scored = n;
}

static int check(const struct fwd *f, size_t n_tokens, const struct mdiv_opts *o,
                 struct qerr *err)
{
    if (o->n_ctx < 4 || o->n_ctx % 2)
        return qerr_set(err, QERR_ARG, "divergence: context %d must be even and >= 4", o->n_ctx);
    if (o->n_ctx > f->max_tokens)
        return qerr_set(err, QERR_ARG, "divergence: context %d exceeds the forward pass's %d",
                        o->n_ctx, f->max_tokens);
    if (ppl_n_chunks(n_tokens, o->n_ctx) < 1)
        return qerr_set(err, QERR_ARG, "divergence: %zu tokens do not make one %d-token chunk",
                        n_tokens, o->n_ctx);
    return 0;
}

int mdiv_run(struct fwd *f, const int *tokens, size_t n_tokens, const struct mdiv_opts *o,
             struct mdiv_result *r, struct qerr *err)
{
    memset(r, 0, sizeof *r);
    int rc = check(f, n_tokens, o, err);
    if (rc)
        return rc;
    double t0 = qclock_seconds();
    struct work w;
    memset(&w, 0, sizeof w);
    w.f = f;
    w.o = o;
    w.r = r;
    w.n = o->n_ctx;
    w.first = o->n_ctx / 2;
    w.rows = w.n - 1 - w.first;
    int nc = ppl_n_chunks(n_tokens, o->n_ctx);
    if (o->max_chunks > 0 && o->max_chunks < nc)
        nc = o->max_chunks;
    r->n_ctx = w.n;
    r->first = w.first;
    r->n_chunks = nc;
    if (work_alloc(&w) < 0 || rows_init(&w, (size_t)nc * w.rows) < 0)
        rc = qerr_set(err, QERR_NOMEM, "divergence: out of memory for %d chunks of %d tokens",
                      nc, w.n);
    for (int c = 0; c < nc && !rc; c++) {
        rc = chunk(&w, tokens + (size_t)c * w.n, err);
        if (!rc && o->progress && o->progress(o->progress_ud, c + 1, nc))
            rc = qerr_set(err, QERR_CANCEL, "cancelled");
    }
    if (!rc)
        finish(&w);
    fwd_use_overrides(f, 1);
    work_free(&w);
    r->seconds = qclock_seconds() - t0;
    return rc;
}

void mdiv_free(struct mdiv_result *r)
{
    free(r->rows);
    memset(r, 0, sizeof *r);
}

int mdiv_rank_linears(const struct mdiv_result *r, int *idx, int cap)
{
    int n = 0;
    for (int i = 0; i < r->n_rows && n < cap; i++)
        if (r->rows[i].kind == MDIV_LINEAR)
            idx[n++] = i;
    for (int i = 1; i < n; i++) { /* insertion sort: stable, n is small */
        int v = idx[i], j = i;
        double key = r->rows[v].s[MDIV_LOCAL].rel_mean;
        while (j > 0 && r->rows[idx[j - 1]].s[MDIV_LOCAL].rel_mean < key) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
    return n;
}

/* ---- KL attribution ---- */

struct klp {                /* the tensor step, for ppl_run's progress */
    const struct mdiv_opts *o;
    int done, total;
};

/* Between chunks: the caller's kl_progress (same step) may cancel. */
static int kl_ppl_progress(void *ud, int done, int total, double ppl)
{
    (void)done, (void)total, (void)ppl;
    const struct klp *k = ud;
    return k->o->kl_progress ? k->o->kl_progress(k->o->progress_ud, k->done, k->total) : 0;
}

/* KL mean of the model as it stands against the float one. */
static int kl_mean(struct fwd *f, const int *tokens, size_t n_tokens, struct klp *k,
                   struct ppl_cache *cache, double *kl, struct qerr *err)
{
    const struct mdiv_opts *o = k->o;
    struct ppl_opts po = {
        .n_ctx = o->n_ctx, .max_chunks = o->max_chunks, .kl = 1, .bos = o->bos,
        .hooks = o->hooks, .hooks_mt = o->hooks_mt, .cancel = o->cancel,
        .progress = kl_ppl_progress, .progress_ud = k,
        .cache = cache && cache->logits ? cache : NULL,
    };
    struct ppl_result pr;
    int rc = ppl_run(f, tokens, n_tokens, &po, &pr, err);
    *kl = pr.kld.mean;
    return rc;
}

int mdiv_kl_attrib(struct fwd *f, const int *tokens, size_t n_tokens, const struct mdiv_opts *o,
                   struct mdiv_result *r, struct qerr *err)
{
    double t0 = qclock_seconds();
    struct ppl_cache cache;
    memset(&cache, 0, sizeof cache);
    struct ppl_opts co = {.n_ctx = o->n_ctx, .max_chunks = o->max_chunks, .kl = 1, .bos = o->bos};
    if (o->kl_cache_mib > 0)
        ppl_cache_init(&cache, f, tokens, n_tokens, &co, (size_t)o->kl_cache_mib << 20);
    struct klp k = {o, 0, 0};
    for (int i = 0; i < r->n_rows; i++)
        k.total += r->rows[i].kind == MDIV_LINEAR && r->rows[i].quantized;
    double full;
    int rc = kl_mean(f, tokens, n_tokens, &k, &cache, &full, err); /* fills the cache */
    for (int l = 0; l < r->n_layers && !rc; l++) {
        const struct fwd_layer *L = &f->layers[l];
        struct qtensor *ts[MDIV_LINEARS] = {L->wq, L->wk, L->wv, L->wo, L->w1, L->w3, L->w2};
        for (int t = 0; t < MDIV_LINEARS && !rc; t++) {
            struct mdiv_row *row = &r->rows[l * MDIV_PER_LAYER + t];
            if (!row->quantized || !ts[t]->override)
                continue;
            float *ov = ts[t]->override; /* put the float weights back, keep Ŵ */
            ts[t]->override = NULL;
            double kl;
            rc = kl_mean(f, tokens, n_tokens, &k, &cache, &kl, err);
            ts[t]->override = ov;
            row->kl_without = kl;
            row->kl_delta = full - kl;
            k.done++;
            if (!rc && o->kl_progress && o->kl_progress(o->progress_ud, k.done, k.total))
                rc = qerr_set(err, QERR_CANCEL, "cancelled");
        }
    }
    ppl_cache_free(&cache);
    r->kl_attrib = !rc;
    r->kl_seconds = qclock_seconds() - t0;
    return rc;
}

int mdiv_rank_kl(const struct mdiv_result *r, int *idx, int cap)
{
    int n = 0;
    for (int i = 0; r->kl_attrib && i < r->n_rows && n < cap; i++)
        if (r->rows[i].kind == MDIV_LINEAR && !isnan(r->rows[i].kl_delta))
            idx[n++] = i;
    for (int i = 1; i < n; i++) {
        int v = idx[i], j = i;
        while (j > 0 && r->rows[idx[j - 1]].kl_delta < r->rows[v].kl_delta) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
    return n;
}

/* ---- on a pipeline session ---- */

int mdiv_pipe_run(struct pipe_env *e, const struct pipe_opts *o, const struct quant_spec *spec,
                  int act_bits, int kv_bits, const struct mdiv_opts *mo, struct qrun *run,
                  struct mdiv_result *r, struct qerr *err)
{
    memset(r, 0, sizeof *r);
    int rc = pipe_quantize(e, o, spec, act_bits, kv_bits, run, err);
    if (!rc) {
        struct fwd_hooks h;
        qrun_eval_hooks(run, &h);
        struct mdiv_opts m;
        memset(&m, 0, sizeof m);
        if (mo)
            m = *mo;
        m.n_ctx = e->n_ctx;
        m.max_chunks = o->chunks > 0 ? (int)o->chunks : 0;
        m.bos = e->bos;
        m.hooks = h.linear_in || h.kv ? &h : NULL;
        m.hooks_mt = 1; /* qrun's hooks only read the run */
        if (!m.cancel)
            m.cancel = e->cb.cancel;
        rc = mdiv_run(&e->f, e->eval_ids, e->n_eval, &m, r, err);
        if (!rc && m.kl_attrib)
            rc = mdiv_kl_attrib(&e->f, e->eval_ids, e->n_eval, &m, r, err);
    }
    qmodel_clear_overrides(e->mp);
    return rc;
}

/* One word of a label after the method; returns 0, or -1 when unknown. */
static int label_word(const char *wd, int *bits, int *group, int *sym, char *opts, size_t cap,
                      int *act, int *kv, int *kv_ch)
{
    char *end;
    long v;
    if (!strcmp(wd, "sym") || !strcmp(wd, "asym")) {
        *sym = !strcmp(wd, "sym");
        return 0;
    }
    if (!strcmp(wd, "per-channel") || !strcmp(wd, "per-tensor")) {
        *group = !strcmp(wd, "per-channel") ? 0 : -1;
        return 0;
    }
    if (strchr(wd, '=')) {
        size_t l = strlen(opts);
        snprintf(opts + l, cap - l, "%s%s", l ? "," : "", wd);
        return 0;
    }
    int k = !strncmp(wd, "kv", 2) ? 2 : (wd[0] == 'w' || wd[0] == 'g' || wd[0] == 'a') ? 1 : 0;
    v = k ? strtol(wd + k, &end, 10) : 0;
    if (k && end != wd + k && v > 0 && v <= 1 << 24) {
        if (k == 2 && (!*end || !strcmp(end, "-channel"))) {
            *kv = (int)v;
            *kv_ch = *end != '\0';
            return 0;
        }
        if (!*end) {
            int *dst = wd[0] == 'w' ? bits : wd[0] == 'g' ? group : act;
            *dst = (int)v;
            return 0;
        }
    }
    return -1;
}

int mdiv_parse_config(const char *label, struct quant_spec *spec, int *act_bits, int *kv_bits,
                      int *kv_channel, struct qerr *err)
{
    char buf[512], method[64] = "", opts[256] = "";
    snprintf(buf, sizeof buf, "%s", label ? label : "");
    int bits = -1, group = QUANT_GROUP_DEFAULT, sym = -1, act = -1;
    *kv_bits = 0;
    *kv_channel = 0;
    char *save = NULL;
    for (char *wd = strtok_r(buf, " \t", &save); wd; wd = strtok_r(NULL, " \t", &save)) {
        if (!method[0]) {
            snprintf(method, sizeof method, "%s", wd);
            if (!strcmp(wd, "float"))
                return qerr_set(err, QERR_ARG, "'%s' is the float model: there is nothing "
                                "to compare it with", label);
            continue;
        }
        if (label_word(wd, &bits, &group, &sym, opts, sizeof opts, &act, kv_bits, kv_channel) < 0)
            return qerr_set(err, QERR_ARG, "configuration '%s': cannot read '%s'", label, wd);
    }
    if (!method[0])
        return qerr_set(err, QERR_ARG, "empty configuration");
    int rc = quant_spec_parse(spec, method, bits, group, sym, opts, err);
    if (rc < 0)
        return rc;
    *act_bits = act >= 0 ? act : pipe_default_act_bits(spec);
    return 0;
}
