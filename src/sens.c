/* sens: per-tensor sensitivity (src/sens.h). */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The KL run of f (its overrides, and its own override slot) against the
 * float model: `workers` as ppl_opts.max_workers; progress/ud per chunk. */
static int eval_on(struct pipe_env *e, struct fwd *f, const struct pipe_opts *o, int workers,
                   int (*progress)(void *, int, int, double), void *ud,
                   struct ppl_cache *cache, struct ppl_result *r, struct qerr *err)
{
    struct ppl_opts po;
    memset(&po, 0, sizeof po);
    po.n_ctx = e->n_ctx;
    po.max_chunks = o->chunks > 0 ? (int)o->chunks : 0;
    po.bos = e->bos;
    po.cancel = e->cb.cancel;
    po.progress = progress; /* per chunk: a caller's cancel poll */
    po.progress_ud = ud;
    po.cache = cache && cache->logits && cache->filled ? cache : NULL;
    po.kl = 1;
    po.max_workers = workers;
    return ppl_run(f, e->eval_ids, e->n_eval, &po, r, err);
}

int sens_eval(struct pipe_env *e, const struct pipe_opts *o, struct ppl_result *r,
              struct qerr *err)
{
    return eval_on(e, &e->f, o, 0, e->cb.eval, e->cb.ud, &e->cache, r, err);
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

/* Where a cell is evaluated: a forward context whose own override slot
 * takes the cell's Ŵ (the model's shared slots stay untouched, so several
 * cells run at once), and how the KL pass may use threads. */
struct cell_eval {
    struct fwd *f;
    int workers;                 /* ppl_opts.max_workers                  */
    int (*progress)(void *, int, int, double);
    void *ud;
    struct ppl_cache cache;      /* a copy of the env's filled float-logit
                                    cache: the rows are shared read-only,
                                    the struct is the runner's (ppl_run
                                    marks the cache it was given filled) */
};

/* One (tensor, candidate): quantize, proxies, KL with Ŵ in ev's slot.
 * The result goes to *cell (the caller publishes it). */
static int run_cell(const struct sens *s, struct pipe_env *e, const struct pipe_opts *o,
                    struct calib *c, struct cell_eval *ev, int ti, int ci,
                    struct sens_cell *cell, struct qerr *err)
{
    const struct sens_tensor *t = &s->t[ti];
    struct quant_report rep;
    float *wq;
    memset(cell, 0, sizeof *cell);
    int rc = sens_quantize(e, c, t, &s->c[ci].spec, &wq, &rep, err);
    if (rc)
        return rc;
    if ((rc = proxies(e, c, t, wq, &rep, cell, err))) {
        free(wq);
        return rc;
    }
    fwd_set_override(ev->f, qmodel_get(e->mp, t->layer, t->role), wq);
    struct ppl_result r;
    rc = eval_on(e, ev->f, o, ev->workers, ev->progress, ev->ud, &ev->cache, &r, err);
    fwd_set_override(ev->f, NULL, NULL);
    free(wq);
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

/* The missing cells, `n_cells` at once.  Each runner claims the next
 * missing cell in (tensor, candidate) order under the lock, reports it
 * (progress and cancel: calls are serialized by the lock), runs it
 * outside the lock on its own forward context and publishes the result
 * under the lock, where the periodic cache save reads s->cell.  A cell's
 * numbers do not depend on which runner made it or when (ppl_run is
 * bit-identical for any number of chunk workers), so the result equals
 * the serial run's. */
struct cell_pool {
    struct sens *s;
    struct pipe_env *e;
    const struct pipe_opts *o;
    struct calib *c;
    const struct sens_ctl *ctl;
    struct cache_run *cr;
    pthread_mutex_t mu;
    size_t next;                 /* next cell index to look at            */
    atomic_int stop;             /* set on cancel or error: in-flight KL
                                    passes stop at their next chunk       */
    int rc;
    struct qerr err;
    double t0;
};

struct cell_runner {
    struct cell_pool *p;
    struct cell_eval ev;
    struct fwd f;                /* a runner's own context (parallel)     */
    int has_f, started;
};

static void pool_fail(struct cell_pool *p, int rc, const struct qerr *err)
{
    if (!p->rc) {
        p->rc = rc;
        p->err = *err;
    }
    atomic_store(&p->stop, 1);
}

/* Under the lock: the next missing cell (-1: none left, or stopped). */
static long pool_claim(struct cell_pool *p)
{
    struct sens *s = p->s;
    size_t total = (size_t)s->n_t * s->n_c;
    int stop = atomic_load(&p->stop);
    while (!stop && p->next < total && s->cell[p->next].done)
        p->next++; /* reused from the cache */
    if (stop || p->next >= total)
        return -1;
    long k = (long)p->next++;
    struct sens_progress pr = {SENS_PH_CELLS, s->n_reused + s->n_computed, (int)total,
                               (int)(k / s->n_c), (int)(k % s->n_c), NULL, NULL, -1};
    pr.tensor = s->t[pr.ti].name, pr.cand = s->c[pr.ci].label;
    if (s->n_computed)
        pr.eta = (qclock_seconds() - p->t0) / s->n_computed * (pr.total - pr.done);
    if (report(p->ctl, &pr) || (p->e->cb.cancel && *p->e->cb.cancel)) {
        struct qerr e = {0};
        qerr_set(&e, QERR_CANCEL, "interrupted");
        pool_fail(p, QERR_CANCEL, &e);
        return -1;
    }
    return k;
}

static void *pool_run(void *arg)
{
    struct cell_runner *r = arg;
    struct cell_pool *p = r->p;
    struct sens *s = p->s;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        long k = pool_claim(p);
        pthread_mutex_unlock(&p->mu);
        if (k < 0)
            break;
        struct sens_cell cell;
        struct qerr err = {0};
        int rc = run_cell(s, p->e, p->o, p->c, &r->ev, (int)(k / s->n_c), (int)(k % s->n_c),
                          &cell, &err);
        pthread_mutex_lock(&p->mu);
        if (rc) {
            pool_fail(p, rc, &err);
        } else {
            s->cell[k] = cell;
            s->n_computed++;
            if (p->cr->on && qclock_seconds() - p->cr->last_save > SENS_CACHE_SAVE_S)
                cache_save(s, p->cr);
        }
        pthread_mutex_unlock(&p->mu);
        if (rc)
            break;
    }
    return NULL;
}

/* A parallel runner's per-chunk poll: the pool's stop, then the caller's
 * eval callback (which must be thread-safe: it only polls a flag). */
static int runner_poll(void *ud, int done, int total, double ppl)
{
    struct cell_runner *r = ud;
    const struct pipe_env *e = r->p->e;
    return atomic_load(&r->p->stop) || (e->cb.eval && e->cb.eval(e->cb.ud, done, total, ppl));
}

/* Cells at once and KL workers per cell for `threads` threads (0: one per
 * CPU).  ctl->cell_threads forces the split; by default every thread runs
 * cells of its own (single-threaded passes), which bench_sens measured
 * faster than one cell at a time with two chunk workers (README). */
int sens_split(int threads, int cell_threads, int n_missing, int *cells, int *workers)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int t = threads > 0 ? threads : cpus > SENS_AUTO_THREADS ? SENS_AUTO_THREADS
                                  : cpus > 0 ? (int)cpus : 1;
    t = t > SENS_MAX_THREADS ? SENS_MAX_THREADS : t;
    int k = cell_threads > 0 ? cell_threads : t;
    k = k > t ? t : k;
    k = k > n_missing ? n_missing : k;
    k = k < 1 ? 1 : k;
    *cells = k;
    /* a lone cell keeps ppl's own two chunk workers when it has the
     * threads; parallel cells run one chunk at a time each (ppl's workers
     * would set OpenBLAS's process-wide thread count from several threads) */
    *workers = k == 1 ? (t >= 2 ? 0 : 1) : 1;
    return k;
}

static int n_missing(const struct sens *s)
{
    int n = 0;
    for (size_t i = 0; i < (size_t)s->n_t * s->n_c; i++)
        n += !s->cell[i].done;
    return n;
}

static int runner_init(struct cell_runner *r, struct cell_pool *p, int parallel,
                       struct qerr *err)
{
    memset(r, 0, sizeof *r);
    r->p = p;
    r->ev.workers = 1;
    r->ev.progress = runner_poll;
    r->ev.ud = r;
    r->ev.cache = p->e->cache; /* filled by now, or unused (logits NULL) */
    if (!parallel) {
        r->ev.f = &p->e->f;
        return 0;
    }
    int rc = fwd_init(&r->f, p->e->mp, p->e->f.max_tokens, err);
    if (rc)
        return rc;
    r->has_f = 1;
    r->f.blas_threads = 1; /* one core per runner */
    r->f.att_threads = 1;
    r->f.tile_threads = 1;
    r->ev.f = &r->f;
    return 0;
}

static int run_cells(struct sens *s, struct pipe_env *e, const struct pipe_opts *o,
                     struct calib *c, const struct sens_ctl *ctl, struct cache_run *cr,
                     struct qerr *err)
{
    int cells, workers;
    sens_split(ctl ? ctl->threads : 0, ctl ? ctl->cell_threads : 0, n_missing(s), &cells,
               &workers);
    s->cell_threads = cells;
    struct cell_pool p = {.s = s, .e = e, .o = o, .c = c, .ctl = ctl, .cr = cr};
    p.t0 = qclock_seconds();
    pthread_mutex_init(&p.mu, NULL);
    struct cell_runner *r = calloc((size_t)cells, sizeof *r);
    pthread_t *th = calloc((size_t)cells, sizeof *th);
    int rc = r && th ? 0 : qerr_set(err, QERR_NOMEM, "out of memory");
    int n_run = 0;
    for (int i = 0; i < cells && !rc; i++, n_run++)
        rc = runner_init(&r[i], &p, cells > 1, err);
    if (!rc && cells > 1 && fwd_prepare(&e->f) < 0)
        rc = qerr_set(err, QERR_NOMEM, "out of memory converting weights");
    if (!rc && cells == 1) {
        r[0].ev.workers = workers;
        r[0].ev.progress = e->cb.eval; /* the serial path, as before */
        r[0].ev.ud = e->cb.ud;
        pool_run(&r[0]);
    } else if (!rc) {
        /* OpenBLAS's thread count is process-wide: one for the whole pool,
         * so no runner's pass changes it */
        int prev = openblas_get_num_threads();
        openblas_set_num_threads(1);
        for (int i = 1; i < cells; i++) /* a runner not started: fewer at once */
            r[i].started = pthread_create(&th[i], NULL, pool_run, &r[i]) == 0;
        pool_run(&r[0]);
        for (int i = 1; i < cells; i++)
            if (r[i].started)
                pthread_join(th[i], NULL);
        openblas_set_num_threads(prev);
    }
    for (int i = 0; r && i < n_run; i++)
        if (r[i].has_f)
            fwd_free(&r[i].f);
    free(r), free(th);
    pthread_mutex_destroy(&p.mu);
    if (!rc && p.rc) {
        rc = p.rc;
        *err = p.err;
    }
    return rc;
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
