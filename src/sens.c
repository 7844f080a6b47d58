/* sens: per-tensor sensitivity (src/sens.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/plan.h"
#include "src/calib.h"
#include "src/qclock.h"
#include "src/sens.h"
#include "src/sens_cache.h"

int sens_parse_cand(const char *text, struct sens_cand *c, struct qerr *err)
{
    memset(c, 0, sizeof *c);
    if (!text || !*text || strlen(text) >= SENS_LABEL_MAX)
        return qerr_set(err, QERR_ARG, "candidate '%s': want method[:bits[:group]]",
                        text ? text : "");
    snprintf(c->label, sizeof c->label, "%s", text);
    char buf[SENS_LABEL_MAX], *parts[3] = {buf, NULL, NULL};
    snprintf(buf, sizeof buf, "%s", text);
    for (int i = 1; i < 3; i++) {
        char *p = parts[i - 1] ? strchr(parts[i - 1], ':') : NULL;
        if (p) {
            *p = '\0';
            parts[i] = p + 1;
        }
    }
    long bits = -1, group = QUANT_GROUP_DEFAULT;
    char *end;
    if (parts[1]) {
        bits = strtol(parts[1], &end, 10);
        if (end == parts[1] || *end)
            return qerr_set(err, QERR_ARG, "candidate '%s': bits '%s' is not a number", text,
                            parts[1]);
    }
    if (parts[2] && !strcmp(parts[2], "row"))
        group = 0;
    else if (parts[2] && !strcmp(parts[2], "tensor"))
        group = -1;
    else if (parts[2]) {
        group = strtol(parts[2], &end, 10);
        if (end == parts[2] || *end || group < -1 || group > (1 << 24))
            return qerr_set(err, QERR_ARG, "candidate '%s': group '%s' (want a size, row or "
                            "tensor)", text, parts[2]);
    }
    int rc = quant_spec_parse(&c->spec, buf, (int)bits, (int)group, -1, NULL, err);
    return rc < 0 ? qerr_prefix(err, "candidate '%s': ", text) : 0;
}

void sens_cand_spec(const struct sens_cand *c, char *buf, size_t n)
{
    quant_spec_format(&c->spec, buf, (int)n);
}

int sens_parse_cands(const char *list, struct sens_cand **out, int *n, struct qerr *err)
{
    *out = NULL;
    *n = 0;
    size_t len = list ? strlen(list) : 0;
    char *dup = malloc(len + 1);
    struct sens_cand *c = calloc(len / 2 + 1, sizeof *c);
    if (!dup || !c) {
        free(dup), free(c);
        return qerr_set(err, QERR_NOMEM, "out of memory");
    }
    memcpy(dup, list ? list : "", len + 1);
    int k = 0, rc = 0;
    for (char *save = NULL, *tok = strtok_r(dup, ",", &save); tok && !rc;
         tok = strtok_r(NULL, ",", &save))
        rc = sens_parse_cand(tok, &c[k++], err);
    free(dup);
    if (!rc && k == 0)
        rc = qerr_set(err, QERR_ARG, "no candidates (want e.g. q4_k,q3_k,rtn:4:32)");
    if (rc) {
        free(c);
        return rc;
    }
    *out = c;
    *n = k;
    return 0;
}

int sens_tensors(struct qmodel *m, struct sens_tensor **out, int *n, struct qerr *err)
{
    static const enum qrole roles[] = {QR_ATTN_Q, QR_ATTN_K, QR_ATTN_V, QR_ATTN_OUT,
                                       QR_FFN_GATE, QR_FFN_UP, QR_FFN_DOWN};
    int nr = (int)(sizeof roles / sizeof roles[0]), k = 0;
    struct sens_tensor *t = calloc((size_t)m->cfg.n_layers * nr + 1, sizeof *t);
    if (!t)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int r = 0; r < nr; r++) {
            struct qtensor *q = qmodel_get(m, l, roles[r]);
            if (!q)
                continue;
            snprintf(t[k].name, sizeof t[k].name, "%s", q->name);
            t[k].layer = l;
            t[k].role = roles[r];
            t[k].rows = (int)qtensor_rows(q);
            t[k].cols = (int)qtensor_cols(q);
            k++;
        }
    *out = t;
    *n = k;
    return k ? 0 : qerr_set(err, QERR_UNSUPP, "%s: no quantizable linear tensors", m->path);
}

static int capture_chunks(struct pipe_env *e, int n, struct calib *c, struct qerr *err)
{
    struct fwd_hooks h;
    int ctx = e->calib_ctx, bos = e->bos, rc = 0;
    float *logits = malloc((size_t)e->mp->cfg.vocab_size * sizeof *logits);
    int *t = malloc((size_t)ctx * sizeof *t);
    if (!logits || !t)
        rc = qerr_set(err, QERR_NOMEM, "out of memory");
    calib_hooks(c, &h);
    for (int k = 0; k < n && !rc; k++) {
        memcpy(t, e->calib_ids + (size_t)k * ctx, (size_t)ctx * sizeof *t);
        if (bos >= 0)
            t[0] = bos;
        rc = fwd_chunk_from(&e->f, t, ctx, ctx - 1, logits, &h);
        if (rc)
            qerr_set(err, rc, "%s", c->err.msg[0] ? c->err.msg : e->f.err.msg);
        else if (e->cb.cancel && *e->cb.cancel)
            rc = qerr_set(err, QERR_CANCEL, "interrupted");
    }
    free(logits);
    free(t);
    return rc;
}

int sens_capture(struct pipe_env *e, const struct pipe_opts *o, struct calib *c, int *chunks,
                 struct qerr *err)
{
    memset(c, 0, sizeof *c);
    int n = (int)(e->n_calib / (size_t)e->calib_ctx);
    if (o->calib_chunks > 0 && n > o->calib_chunks)
        n = (int)o->calib_chunks;
    if (n < 1)
        return qerr_set(err, QERR_ARG, "%s: %zu tokens, fewer than one calibration chunk of %d",
                        e->calib_path, e->n_calib, e->calib_ctx);
    int rc = calib_init(c, &e->mp->cfg, err);
    for (int s = CALIB_ATTN_IN; !rc && s <= CALIB_FFN_DOWN; s++)
        if (calib_select(c, -1, s, CALIB_HESSIAN | CALIB_CHANNEL) < 0)
            rc = qerr_set(err, c->err.code, "%s", c->err.msg);
    qmodel_clear_overrides(e->mp);
    if (!rc)
        rc = capture_chunks(e, n, c, err);
    *chunks = n;
    return rc;
}

/* quant_calib of t's input site, with mean |x| (allocated into *mean). */
static void calib_for(struct pipe_env *e, struct calib *c, const struct sens_tensor *t,
                      struct quant_calib *qc, float *mean)
{
    memset(qc, 0, sizeof *qc);
    struct calib_acc *a = c ? calib_get(c, t->layer, calib_site_of_role(t->role)) : NULL;
    if (a && a->n_rows && a->xtx) {
        for (int i = 0; i < a->dim; i++)
            mean[i] = (float)(a->sum_abs[i] / (double)a->n_rows);
        qc->xtx = a->xtx;
        qc->n_tokens = (long)a->n_rows;
        qc->act_mean_abs = mean;
        qc->act_max_abs = a->max_abs;
        qc->dim = a->dim;
    }
    const struct qimatrix_entry *ie = e->has_imx ? qimatrix_find(&e->imx, t->name) : NULL;
    qc->importance = ie && ie->n == t->cols ? ie->values : NULL;
}

/* A slow quantizer's progress: the caller's quant callback may cancel. */
static int quant_poll(void *ud, double frac)
{
    const struct pipe_env *e = ud;
    (void)frac;
    return e->cb.quant && e->cb.quant(e->cb.ud, -1, 0, "one tensor");
}

int sens_quantize(struct pipe_env *e, struct calib *c, const struct sens_tensor *t,
                  const struct quant_spec *spec, float **out, struct quant_report *rep,
                  struct qerr *err)
{
    struct qtensor *q = qmodel_get(e->mp, t->layer, t->role);
    size_t n = (size_t)t->rows * t->cols;
    float *wq = malloc(n * sizeof *wq), *mean = malloc((size_t)t->cols * sizeof *mean);
    if (!q || !wq || !mean) {
        free(wq), free(mean);
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", t->name);
    }
    struct quant_calib qc;
    calib_for(e, c, t, &qc, mean);
    struct quant_ctl ctl = {quant_poll, e, e->cb.cancel};
    int rc = quant_apply_ex(spec, qtensor_f32_orig(q), t->rows, t->cols, &qc, wq, NULL, rep,
                            &ctl, QUANT_NO_OUT_ERR, err);
    free(mean);
    if (rc < 0) {
        free(wq);
        return qerr_prefix(err, "%s: ", t->name);
    }
    *out = wq;
    return 0;
}

int sens_eval(struct pipe_env *e, const struct pipe_opts *o, struct ppl_result *r,
              struct qerr *err)
{
    struct ppl_opts po;
    memset(&po, 0, sizeof po);
    po.n_ctx = e->n_ctx;
    po.max_chunks = o->chunks > 0 ? (int)o->chunks : 0;
    po.bos = e->bos;
    po.cancel = e->cb.cancel;
    po.progress = e->cb.eval; /* per chunk: a caller's cancel poll */
    po.progress_ud = e->cb.ud;
    po.cache = e->cache.logits && e->cache.filled ? &e->cache : NULL;
    po.kl = 1;
    return ppl_run(&e->f, e->eval_ids, e->n_eval, &po, r, err);
}

/* The proxies of one cell from Ŵ and the site's XᵀX. */
static int proxies(struct pipe_env *e, struct calib *c, const struct sens_tensor *t,
                   const float *wq, const struct quant_report *rep, struct sens_cell *cell,
                   struct qerr *err)
{
    struct qtensor *q = qmodel_get(e->mp, t->layer, t->role);
    const float *w = qtensor_f32_orig(q);
    struct calib_acc *a = calib_get(c, t->layer, calib_site_of_role(t->role));
    double n = (double)t->rows * t->cols;
    cell->bpw = rep->bits_per_weight;
    cell->bits = rep->bits_per_weight * n;
    cell->mse = rep->mse * n;
    if (!a || !a->xtx || !a->n_rows)
        return qerr_set(err, QERR_ARG, "%s: no calibration captured", t->name);
    double *imp = malloc((size_t)t->cols * sizeof *imp);
    if (!imp)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    for (int i = 0; i < t->cols; i++)
        imp[i] = a->sum_sq[i] / (double)a->n_rows;
    cell->imp_mse = plan_imp_mse(w, wq, t->rows, t->cols, imp);
    free(imp);
    return plan_out_err2(w, wq, t->rows, t->cols, a->xtx, &cell->out_err2, err);
}

/* One (tensor, candidate): quantize, proxies, install, KL, uninstall. */
static int run_cell(struct sens *s, struct pipe_env *e, const struct pipe_opts *o,
                    struct calib *c, int ti, int ci, struct qerr *err)
{
    const struct sens_tensor *t = &s->t[ti];
    struct sens_cell *cell = &s->cell[(size_t)ti * s->n_c + ci];
    struct quant_report rep;
    float *wq;
    int rc = sens_quantize(e, c, t, &s->c[ci].spec, &wq, &rep, err);
    if (rc)
        return rc;
    if ((rc = proxies(e, c, t, wq, &rep, cell, err))) {
        free(wq);
        return rc;
    }
    struct qtensor *q = qmodel_get(e->mp, t->layer, t->role);
    qtensor_set_override(q, wq); /* owns wq now */
    struct ppl_result r;
    rc = sens_eval(e, o, &r, err);
    qtensor_set_override(q, NULL);
    if (rc)
        return rc;
    cell->kl_mean = r.kld.mean;
    cell->kl_p99 = r.kld.p99;
    cell->top1 = r.top1;
    cell->ppl = r.ppl;
    cell->done = 1;
    return 0;
}

static int report(const struct sens_ctl *ctl, struct sens_progress *p)
{
    return ctl && ctl->progress && ctl->progress(ctl->ud, p);
}

/* The cache of this run (NULL members: off). */
struct cache_run {
    struct sens_ident id;
    int on;
    double last_save;
};

static void cache_save(struct sens *s, struct cache_run *cr)
{
    struct qerr err = {0};
    cr->last_save = qclock_seconds();
    if (cr->on && sens_cache_save(s, s->cache_path, &cr->id, &err)) {
        snprintf(s->cache_note, sizeof s->cache_note, "cannot write the sensitivity cache: %s",
                 err.msg);
        cr->on = 0;
    }
}

static int run_cells(struct sens *s, struct pipe_env *e, const struct pipe_opts *o,
                     struct calib *c, const struct sens_ctl *ctl, struct cache_run *cr,
                     struct qerr *err)
{
    struct sens_progress p = {SENS_PH_CELLS, 0, s->n_t * s->n_c, 0, 0, NULL, NULL, -1};
    double t0 = qclock_seconds();
    for (int ti = 0; ti < s->n_t; ti++)
        for (int ci = 0; ci < s->n_c; ci++, p.done++) {
            if (s->cell[(size_t)ti * s->n_c + ci].done)
                continue; /* reused */
            p.ti = ti, p.ci = ci;
            p.tensor = s->t[ti].name, p.cand = s->c[ci].label;
            p.eta = s->n_computed ? (qclock_seconds() - t0) / s->n_computed * (p.total - p.done)
                                  : -1;
            if (report(ctl, &p) || (e->cb.cancel && *e->cb.cancel))
                return qerr_set(err, QERR_CANCEL, "interrupted");
            int rc = run_cell(s, e, o, c, ti, ci, err);
            if (rc)
                return rc;
            s->n_computed++;
            if (cr->on && qclock_seconds() - cr->last_save > SENS_CACHE_SAVE_S)
                cache_save(s, cr);
        }
    return 0;
}

/* Find the cache file and take its cells; problems only leave a note. */
static void cache_open(struct sens *s, struct pipe_env *e, const struct pipe_opts *o,
                       const struct sens_ctl *ctl, struct cache_run *cr)
{
    struct qerr err = {0};
    s->cache_state = SENS_CACHE_OFF;
    if (!ctl || !ctl->use_cache)
        return;
    if (sens_cache_ident(e, o, &cr->id, &err) ||
        sens_cache_path(ctl->cache_dir, &cr->id, s->cache_path, sizeof s->cache_path, &err)) {
        snprintf(s->cache_note, sizeof s->cache_note, "sensitivity cache off: %s", err.msg);
        s->cache_path[0] = '\0';
        return;
    }
    cr->on = 1;
    cr->last_save = qclock_seconds();
    s->cache_state = sens_cache_load(s, s->cache_path, &cr->id, s->cache_note,
                                     sizeof s->cache_note);
}

static int all_done(const struct sens *s)
{
    for (size_t i = 0; i < (size_t)s->n_t * s->n_c; i++)
        if (!s->cell[i].done)
            return 0;
    return s->have_base;
}

/* Calibration capture, float pass (and logit cache), the missing cells. */
static int measure(struct sens *s, struct pipe_env *e, const struct pipe_opts *o,
                   const struct sens_ctl *ctl, struct cache_run *cr, struct qerr *err)
{
    struct calib c;
    memset(&c, 0, sizeof c);
    struct sens_progress p = {SENS_PH_CALIB, s->n_reused, s->n_t * s->n_c, 0, 0, NULL, NULL, -1};
    double t0 = qclock_seconds();
    int rc = report(ctl, &p) ? qerr_set(err, QERR_CANCEL, "interrupted")
                             : sens_capture(e, o, &c, &s->calib_chunks, err);
    s->calib_ctx = e->calib_ctx;
    double t1 = qclock_seconds();
    p.phase = SENS_PH_FLOAT;
    if (!rc && report(ctl, &p))
        rc = qerr_set(err, QERR_CANCEL, "interrupted");
    if (!rc && !(rc = pipe_run_float(e, o, &s->base, err)))
        s->have_base = 1;
    double t2 = qclock_seconds();
    if (!rc)
        rc = run_cells(s, e, o, &c, ctl, cr, err);
    s->seconds_calib = t1 - t0;
    s->seconds_float = t2 - t1;
    s->seconds_cells = qclock_seconds() - t2;
    calib_free(&c);
    qmodel_clear_overrides(e->mp);
    return rc;
}

int sens_run(struct sens *s, struct pipe_env *e, const struct pipe_opts *o,
             struct sens_cand *cands, int n_cands, const struct sens_ctl *ctl,
             struct qerr *err)
{
    memset(s, 0, sizeof *s);
    s->c = cands;
    s->n_c = n_cands;
    int rc = sens_tensors(e->mp, &s->t, &s->n_t, err);
    if (rc)
        return rc;
    if (!(s->cell = calloc((size_t)s->n_t * s->n_c, sizeof *s->cell)))
        return qerr_set(err, QERR_NOMEM, "out of memory");
    struct cache_run cr;
    memset(&cr, 0, sizeof cr);
    cache_open(s, e, o, ctl, &cr);
    if (all_done(s))
        return 0; /* every cell and the baseline from the cache */
    rc = measure(s, e, o, ctl, &cr, err);
    if (s->n_computed || s->cache_state == SENS_CACHE_STALE ||
        s->cache_state == SENS_CACHE_CORRUPT)
        cache_save(s, &cr);
    return rc;
}

void sens_free(struct sens *s)
{
    free(s->t);
    free(s->c);
    free(s->cell);
    free(s->x);
    memset(s, 0, sizeof *s);
}
