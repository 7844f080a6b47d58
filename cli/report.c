/* report: the sections of `qlens report` (see report.h).  Numbers come
 * from the shared computations; this file only selects, arranges and
 * plots them. */
#include "cli/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "analysis/results.h"
#include "analysis/stats.h"
#include "cli/cli.h"
#include "cli/cli_infer.h"
#include "src/model.h"
#include "src/qclock.h"
#include "cli/report_int.h"
#include "src/tstats.h"

/* The linear roles drawn as one series each in the per-layer charts. */
static const enum qrole lin_roles[] = {QR_ATTN_Q,  QR_ATTN_K,   QR_ATTN_V,  QR_ATTN_OUT,
                                       QR_FFN_GATE, QR_FFN_UP, QR_FFN_DOWN};
#define N_LIN ((int)(sizeof lin_roles / sizeof lin_roles[0]))

/* Eight colours that stay apart for colour-blind readers (Okabe-Ito). */
static const char *const series_color[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                           "#CC79A7", "#56B4E9", "#000000", "#999999"};

struct rctx {
    const struct report_opts *o;
    struct rdoc d;
    struct qmodel m;
    struct tstats ts;
    char label[256];      /* results_label of the model path */
};

void report_opts_default(struct report_opts *o)
{
    memset(o, 0, sizeof *o);
    o->ctx = -1;
    o->chunks = 8;
    o->top = 3;
    o->grid_bits = 4;
}

/* ------------------------------------------------------------------ */
/* numerics that belong to the report's pictures                        */

void report_pool_blocks(long rows, long cols, int max_w, int max_h, long *bh, long *bw)
{
    *bh = rows > max_h ? (rows + max_h - 1) / max_h : 1;
    *bw = cols > max_w ? (cols + max_w - 1) / max_w : 1;
}

void report_maxpool(const float *x, long rows, long cols, long bh, long bw, float *cells)
{
    long gh = (rows + bh - 1) / bh, gw = (cols + bw - 1) / bw;
    for (long i = 0; i < gh * gw; i++)
        cells[i] = 0;
    for (long r = 0; r < rows; r++) {
        float *c = cells + (r / bh) * gw;
        const float *row = x + r * cols;
        for (long j = 0; j < cols; j++) {
            float a = fabsf(row[j]);
            if (!(a == a) || a > 3.4e38f)
                a = INFINITY;
            if (a > c[j / bw])
                c[j / bw] = a;
        }
    }
}

void report_pareto(const double *x, const double *y, int n, unsigned char *front)
{
    for (int i = 0; i < n; i++) {
        front[i] = isfinite(x[i]) && isfinite(y[i]);
        for (int j = 0; j < n && front[i]; j++)
            if (j != i && isfinite(x[j]) && isfinite(y[j]) && x[j] <= x[i] && y[j] <= y[i] &&
                (x[j] < x[i] || y[j] < y[i]))
                front[i] = 0;
    }
}

/* ------------------------------------------------------------------ */
/* generic figures                                                      */

static void fmtd(char *buf, size_t n, const char *f, double v)
{
    if (isfinite(v))
        snprintf(buf, n, f, v);
    else
        snprintf(buf, n, "–");
}

/* A chart of nser series over layers 0..L-1 (y (nser, L), NAN = none);
 * a log y axis when every value is > 0 and they span more than 30x. */
static void fig_layers(struct rdoc *d, const char *id, const char *title, const char *ylabel,
                       const char *const *names, int nser, const double *y, int L,
                       const char *caption)
{
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < nser * L; i++)
        if (isfinite(y[i])) {
            lo = fmin(lo, y[i]);
            hi = fmax(hi, y[i]);
        }
    struct sbuf b;
    struct svg_plot p;
    sb_init(&b);
    svg_plot_init(&p, &b, 780, 300, 1);
    p.id = id;
    p.title = title;
    p.x = (struct svg_axis){.lo = -0.5, .hi = L - 0.5, .label = "layer (block index)", .ints = 1};
    p.y.label = ylabel;
    p.y.log = lo > 0 && hi / lo > 30;
    svg_axis_fit(&p.y, y, (size_t)nser * L, 1, 0.06);
    if (!p.y.log && p.y.lo < 0 && lo >= 0)
        p.y.lo = 0;
    svg_plot_begin(&p);
    double *x = malloc(sizeof *x * (size_t)(L > 0 ? L : 1));
    int shapes[8];
    for (int l = 0; x && l < L; l++)
        x[l] = l;
    for (int s = 0; x && s < nser; s++) {
        shapes[s] = s % 4;
        svg_line(&p, x, y + (size_t)s * L, L, series_color[s % 8], 0);
        svg_points(&p, x, y + (size_t)s * L, L, series_color[s % 8], s % 4, 3);
    }
    free(x);
    const char *cols[8];
    for (int s = 0; s < nser && s < 8; s++)
        cols[s] = series_color[s];
    svg_legend(&p, names, cols, shapes, nser < 8 ? nser : 8);
    svg_plot_end(&p);
    doc_fig(d, &b, caption);
}

/* ------------------------------------------------------------------ */
/* the model                                                            */

static void sec_model(struct rctx *r)
{
    struct rdoc *d = &r->d;
    const struct qconfig *c = &r->m.cfg;
    double bits = 0, n = 0;
    for (int i = 0; i < r->m.n_tensors; i++) {
        bits += 8.0 * (double)r->m.tensors[i].nbytes;
        n += (double)r->m.tensors[i].nelem;
    }
    doc_h(d, 2, "model", "The model");
    static const char *const head[] = {"property", "value"};
    doc_table(d, 2, head, "ll");
    char v[12][256];
    snprintf(v[0], sizeof v[0], "%s", r->m.path);
    snprintf(v[1], sizeof v[1], "%s, architecture %s", qformat_name(r->m.format), c->arch);
    snprintf(v[2], sizeof v[2], "dim %d, hidden %d, %d layers, %d heads (%d KV heads, head dim %d)",
             c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim);
    snprintf(v[3], sizeof v[3], "vocabulary %d, context %d, output %s", c->vocab_size, c->ctx_len,
             c->tied_output ? "tied to token_embd" : "separate");
    snprintf(v[4], sizeof v[4], "%lld in %d tensors", (long long)qmodel_param_count(&r->m),
             r->m.n_tensors);
    snprintf(v[5], sizeof v[5], "%.2f (file storage of all tensors / parameters)",
             n > 0 ? bits / n : 0.0);
    const char *k[] = {"file", "format", "shape", "vocabulary", "parameters", "bits/weight"};
    for (int i = 0; i < 6; i++) {
        const char *row[2] = {k[i], v[i]};
        doc_row(d, 2, row);
    }
    doc_table_end(d);
}

/* ------------------------------------------------------------------ */
/* weights                                                              */

/* y (N_LIN, L) of one statistic per linear role and layer. */
static void weight_series(const struct rctx *r, int what, double *y)
{
    int L = r->m.cfg.n_layers;
    for (int i = 0; i < N_LIN * L; i++)
        y[i] = NAN;
    for (int i = 0; i < r->ts.n; i++) {
        const struct qtensor *t = &r->m.tensors[r->ts.rows[i].tensor];
        const struct stats *st = &r->ts.rows[i].st;
        for (int k = 0; k < N_LIN; k++)
            if (t->role == lin_roles[k] && t->layer >= 0 && t->layer < L)
                y[k * L + t->layer] = what == 0 ? st->kurt
                                    : what == 1 ? st->absmax_over_std
                                                : 100.0 * st->frac_k6;
        }
}

static int cmp_outlier(const void *a, const void *b, void *ud)
{
    const struct tstats_row *x = a, *y = b;
    (void)ud;
    if (x->st.frac_k6 != y->st.frac_k6)
        return x->st.frac_k6 < y->st.frac_k6 ? 1 : -1;
    return (x->st.kurt < y->st.kurt) - (x->st.kurt > y->st.kurt);
}

/* Matrices (rows, cols > 1) sorted by outlier share, then kurtosis. */
static int ranked_tensors(const struct rctx *r, struct tstats_row **out)
{
    struct tstats_row *v = malloc(sizeof *v * (size_t)(r->ts.n + 1));
    int n = 0;
    for (int i = 0; v && i < r->ts.n; i++)
        if (r->ts.rows[i].rows > 1 && r->ts.rows[i].cols > 1)
            v[n++] = r->ts.rows[i];
    if (v)
        qsort_r(v, (size_t)n, sizeof *v, cmp_outlier, NULL);
    *out = v;
    return v ? n : -1;
}

static void top_table(struct rctx *r, const struct tstats_row *v, int n)
{
    struct rdoc *d = &r->d;
    static const char *const head[] = {"tensor", "shape", "std", "kurtosis", "AbsMax",
                                       "AbsMax/std", "beyond 6σ"};
    doc_table(d, 7, head, "llrrrrr");
    for (int i = 0; i < n && i < 10; i++) {
        struct qtensor *t = &r->m.tensors[v[i].tensor];
        char c[7][96];
        snprintf(c[0], sizeof c[0], "%s", t->name);
        qtensor_shape_str(t, " x ", c[1], sizeof c[1]);
        fmtd(c[2], sizeof c[2], "%.4g", v[i].st.std);
        fmtd(c[3], sizeof c[3], "%.2f", v[i].st.kurt);
        fmtd(c[4], sizeof c[4], "%.4g", v[i].st.absmax);
        fmtd(c[5], sizeof c[5], "%.1f", v[i].st.absmax_over_std);
        snprintf(c[6], sizeof c[6], "%.3f%%", 100 * v[i].st.frac_k6);
        const char *row[7] = {c[0], c[1], c[2], c[3], c[4], c[5], c[6]};
        doc_row(d, 7, row);
    }
    doc_table_end(d);
}

static int sec_weights(struct rctx *r, struct qerr *err)
{
    struct rdoc *d = &r->d;
    struct tstats_opts to;
    tstats_opts_default(&to);
    to.cancel = infer_cancel_flag();
    int rc = tstats_compute(&r->m, &to, &r->ts, err);
    if (rc)
        return rc;
    int L = r->m.cfg.n_layers;
    double *y = malloc(sizeof *y * (size_t)(N_LIN * (L > 0 ? L : 1)));
    if (!y)
        return qerr_set(err, QERR_NOMEM, "report: out of memory");
    const char *names[N_LIN];
    for (int k = 0; k < N_LIN; k++)
        names[k] = qrole_name(lin_roles[k]);
    doc_h(d, 2, "weights", "Weights: statistics per layer");
    doc_p(d, "Statistics of each linear weight matrix (definitions as `qlens stats`): Pearson "
             "kurtosis (3 for a normal distribution), AbsMax/std (how far the largest weight "
             "lies from the bulk, in standard deviations) and the share of weights farther "
             "than 6 standard deviations from the mean.  High values mark tensors that a "
             "uniform low-bit grid fits badly: its step is set by AbsMax, so the bulk falls "
             "into few levels.");
    static const char *const t[3] = {"Kurtosis of each weight matrix",
                                     "AbsMax / std of each weight matrix",
                                     "Outliers: weights beyond 6 σ"};
    static const char *const yl[3] = {"kurtosis (3 = normal)", "AbsMax / std",
                                      "weights beyond 6 σ (%)"};
    static const char *const ids[3] = {"w-kurt", "w-absmax", "w-outl"};
    for (int w = 0; w < 3; w++) {
        weight_series(r, w, y);
        char cap[256];
        snprintf(cap, sizeof cap, "%s by layer and role (%d layers).", t[w], L);
        fig_layers(d, ids[w], t[w], yl[w], names, N_LIN, y, L, cap);
    }
    free(y);
    struct tstats_row *v;
    int n = ranked_tensors(r, &v);
    if (n < 0)
        return qerr_set(err, QERR_NOMEM, "report: out of memory");
    doc_h(d, 3, "w-top", "The most outlier-heavy tensors");
    top_table(r, v, n);
    free(v);
    return 0;
}

/* ------------------------------------------------------------------ */
/* activations and K/V                                                  */

#include "src/calib.h"
#include "cli/commands.h"

static void sec_acts(struct rctx *r, struct qerr *err)
{
    struct rdoc *d = &r->d;
    const struct report_opts *o = r->o;
    doc_h(d, 2, "acts", "Activations and K/V cache: statistics per layer");
    if (!o->calib) {
        doc_p(d, "No calibration text was given (--calib TEXT), so activation and K/V "
                 "statistics are not part of this report.");
        return;
    }
    struct infer_model im;
    struct calib c;
    int n_ctx = 0, chunks = 0;
    memset(&c, 0, sizeof c);
    struct qerr e = {0};
    int rc = infer_open(&im, r->m.path, &e);
    if (!rc) {
        rc = acts_collect(&im, o->calib, o->ctx, 0, o->chunks, &c, &n_ctx, &chunks, &e);
        infer_close(&im);
    }
    if (rc) {
        if (rc == QERR_CANCEL || rc == QERR_NOMEM)
            *err = e;
        doc_note(d, "activation and K/V statistics: %s", e.msg);
        calib_free(&c);
        return;
    }
    int L = r->m.cfg.n_layers;
    double *y = malloc(sizeof *y * (size_t)(CALIB__NSITES * (L > 0 ? L : 1)));
    const char *names[CALIB__NSITES];
    for (int s = 0; s < CALIB__NSITES; s++)
        names[s] = calib_site_name(s);
    doc_p(d, "Over %d chunks of %d tokens of %s (the capture of `qlens acts`): every "
             "linear-layer input (attn_in feeds attn_q/k/v, attn_out feeds attn_output, ffn_in "
             "feeds ffn_gate/up, ffn_down feeds ffn_down) and the K (after RoPE) and V caches.",
          chunks, n_ctx, o->calib);
    static const char *const t[3] = {"Kurtosis of activations and K/V",
                                     "AbsMax / std of activations and K/V",
                                     "Activation outliers: |x| > 6"};
    static const char *const yl[3] = {"kurtosis (3 = normal)", "AbsMax / std",
                                      "values with |x| > 6 (%)"};
    static const char *const ids[3] = {"a-kurt", "a-absmax", "a-outl"};
    for (int w = 0; y && w < 3; w++) {
        for (int s = 0; s < CALIB__NSITES; s++)
            for (int l = 0; l < L; l++) {
                struct stats st;
                struct calib_acc *a = calib_get(&c, l, s);
                calib_acc_stats(a, &st);
                y[s * L + l] = !a || !a->n ? NAN
                             : w == 0      ? st.kurt
                             : w == 1      ? st.absmax_over_std
                                           : 100.0 * st.frac_abs;
            }
        char cap[256];
        snprintf(cap, sizeof cap, "%s by layer and site (%d tokens).", t[w], n_ctx * chunks);
        fig_layers(d, ids[w], t[w], yl[w], names, CALIB__NSITES, y, L, cap);
    }
    if (!y)
        qerr_set(err, QERR_NOMEM, "report: out of memory");
    free(y);
    calib_free(&c);
}

/* ------------------------------------------------------------------ */
/* outlier maps and histograms                                          */

#include "quant/qgrid.h"

static void fig_map(struct rctx *r, struct qtensor *t, const float *x, int64_t rows,
                    int64_t cols, const struct stats *st)
{
    long bh, bw;
    report_pool_blocks((long)rows, (long)cols, 190, 110, &bh, &bw);
    long gh = ((long)rows + bh - 1) / bh, gw = ((long)cols + bw - 1) / bw;
    float *cells = malloc(sizeof *cells * (size_t)(gh * gw));
    if (!cells) {
        r->d.body.oom = 1;
        return;
    }
    report_maxpool(x, (long)rows, (long)cols, bh, bw, cells);
    double lo = INFINITY, hi = 0;
    for (long i = 0; i < gh * gw; i++)
        if (cells[i] > 0 && isfinite(cells[i])) {
            lo = fmin(lo, cells[i]);
            hi = fmax(hi, cells[i]);
        }
    /* three decades below the largest cell: the outliers are the point,
     * and near-zero weights would otherwise stretch the scale */
    if (!(hi > 0))
        lo = 1, hi = 2;
    else if (!(hi > lo))
        lo = hi / 2;
    lo = fmax(lo, hi * 1e-3);
    struct sbuf b;
    struct svg_plot p;
    char title[192], xl[96], yl[96];
    sb_init(&b);
    svg_plot_init(&p, &b, 780, 380, 0);
    p.mr = 110;
    snprintf(title, sizeof title, "Outlier map of %s", t->name);
    snprintf(xl, sizeof xl, "input channel (column), %ld per cell", bw);
    snprintf(yl, sizeof yl, "output channel (row), %ld per cell", bh);
    p.title = title;
    p.x = (struct svg_axis){.lo = 0, .hi = (double)cols, .label = xl};
    p.y = (struct svg_axis){.lo = 0, .hi = (double)rows, .label = yl, .flip = 1};
    char id[128];
    snprintf(id, sizeof id, "map-%s", t->name);
    p.id = id;
    svg_plot_begin(&p);
    double W = p.w - p.ml - p.mr, H = p.h - p.mt - p.mb;
    svg_heatmap(&b, cells, (int)gw, (int)gh, p.ml, p.mt, W * bw / cols, H * bh / rows, W, H, lo, hi,
                32);
    svg_colorbar(&b, p.w - p.mr + 38, p.mt, 16, H, lo, hi, 32, "max |w| in cell (log colour)");
    svg_plot_end(&p);
    char cap[512];
    snprintf(cap, sizeof cap,
             "%s (%lld x %lld): each cell shows the largest |w| of its %ld x %ld block (max "
             "pooling, as the dashboard's outlier map, so no outlier is averaged away); colour "
             "on a log scale from %.3g (and below) to %.3g.  Kurtosis %.1f, AbsMax/std %.1f, %.3f%% of the "
             "weights beyond 6 σ.",
             t->name, (long long)rows, (long long)cols, bh, bw, lo, hi, st->kurt,
             st->absmax_over_std, 100 * st->frac_k6);
    free(cells);
    doc_fig(&r->d, &b, cap);
}

static void fig_hist(struct rctx *r, struct qtensor *t, const float *x, size_t n,
                     const struct stats *st)
{
    enum { NB = 121 };
    uint64_t counts[NB];
    double am = st->absmax > 0 ? st->absmax : 1;
    stats_hist_linear(x, n, -am, am, NB, counts);
    double xs[NB], ys[NB], maxc = 1;
    for (int i = 0; i < NB; i++) {
        xs[i] = -am + (i + 0.5) * (2 * am / NB);
        ys[i] = (double)counts[i];
        maxc = fmax(maxc, ys[i]);
    }
    struct sbuf b;
    struct svg_plot p;
    char title[192];
    sb_init(&b);
    svg_plot_init(&p, &b, 780, 300, 1);
    snprintf(title, sizeof title, "Histogram of %s with the %d-bit grid", t->name,
             r->o->grid_bits);
    p.title = title;
    p.x = (struct svg_axis){.lo = -am * 1.02, .hi = am * 1.02, .label = "weight value"};
    p.y = (struct svg_axis){.lo = 0.7, .hi = maxc * 1.6, .log = 1, .label = "weights per bin"};
    char id[128];
    snprintf(id, sizeof id, "hist-%s", t->name);
    p.id = id;
    svg_plot_begin(&p);
    /* the grid first, under the bars: one scale for the whole tensor */
    struct qgrid g;
    qgrid_from_range(&g, (float)st->min, (float)st->max, r->o->grid_bits, 1, 1);
    int nlev = (int)(g.qmax - g.qmin) + 1;
    if (nlev <= 64)
        for (float q = g.qmin; q <= g.qmax; q++)
            svg_vline(&p, g.scale * (q - g.zero), "#e8a0a0");
    double bwpx = (p.w - p.ml - p.mr) / (double)NB * (2 * am) / (2 * am * 1.02);
    double base = svg_py(&p, 0.7);
    for (int i = 0; i < NB; i++)
        if (counts[i]) {
            double px = svg_px(&p, xs[i]), py = svg_py(&p, ys[i]);
            sb_printf(&b, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                          "fill=\"#0072B2\"/>",
                      px - bwpx / 2, py, bwpx * 0.92, base - py);
        }
    double s6[2] = {st->mean - 6 * st->std, st->mean + 6 * st->std};
    for (int k = 0; k < 2; k++)
        if (fabs(s6[k]) < am)
            sb_printf(&b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#D55E00\" "
                          "stroke-dasharray=\"5,3\"/>",
                      svg_px(&p, s6[k]), p.mt, svg_px(&p, s6[k]), p.h - p.mb);
    char gl[64];
    snprintf(gl, sizeof gl, "%d-bit grid (%d levels)", r->o->grid_bits, nlev);
    const char *names[3] = {"weights", gl, "mean ± 6 σ"};
    const char *cols[3] = {"#0072B2", "#e8a0a0", "#D55E00"};
    const int shapes[3] = {1, 1, 1};
    svg_legend(&p, names, cols, shapes, 3);
    svg_plot_end(&p);
    char cap[512];
    snprintf(cap, sizeof cap,
             "%zu weights of %s in %d bins over ±AbsMax (%.3g); counts on a log scale so "
             "single outliers stay visible.  Pink lines: the levels of a %d-bit symmetric grid "
             "with one scale for the whole tensor (step %.3g%s): most weights share a few "
             "levels near 0 while the grid's range is spent on the tails.",
             n, t->name, NB, am, r->o->grid_bits, g.scale,
             nlev > 64 ? "; too many levels to draw" : "");
    doc_fig(&r->d, &b, cap);
}

static int sec_maps(struct rctx *r, struct qerr *err)
{
    struct rdoc *d = &r->d;
    struct tstats_row *v;
    int n = ranked_tensors(r, &v);
    if (n < 0)
        return qerr_set(err, QERR_NOMEM, "report: out of memory");
    doc_h(d, 2, "maps", "Outlier maps and histograms");
    doc_p(d, "The %d matrices with the largest share of weights beyond 6 σ (ties broken by "
             "kurtosis).",
          n < r->o->top ? n : r->o->top);
    for (int i = 0; i < n && i < r->o->top; i++) {
        struct qtensor *t = &r->m.tensors[v[i].tensor];
        /* pinned for the two figures, then left to the budgeted cache */
        const float *x = t->override ? t->override : qtensor_f32_pin(t);
        if (!x) {
            free(v);
            return qerr_set(err, QERR_NOMEM, "report: out of memory reading %s", t->name);
        }
        doc_h(d, 3, t->name, t->name);
        fig_map(r, t, x, v[i].rows, v[i].cols, &v[i].st);
        fig_hist(r, t, x, (size_t)t->nelem, &v[i].st);
        if (!t->override)
            qtensor_f32_unpin(t);
    }
    free(v);
    return 0;
}

/* the runs and the correlation live in report_runs.c */
int report_sec_runs(struct rdoc *d, const struct report_opts *o, const char *label);
int report_sec_corr(struct rdoc *d, const struct report_opts *o);

/* ------------------------------------------------------------------ */
/* how it was made                                                      */

static void sec_made(struct rctx *r, double seconds)
{
    struct rdoc *d = &r->d;
    const struct report_opts *o = r->o;
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
    doc_h(d, 2, "made", "How this report was made");
    doc_pre(d, o->cmdline ? o->cmdline : "qlens report");
    static const char *const head[] = {"", ""};
    doc_table(d, 2, head, "ll");
    char v[8][600];
    snprintf(v[0], sizeof v[0], "qlens %s", QLENS_VERSION);
    snprintf(v[1], sizeof v[1], "%s", date);
    snprintf(v[2], sizeof v[2], "%s", r->m.path);
    if (o->calib)
        snprintf(v[3], sizeof v[3], "%s (up to %ld chunks, ctx %s)", o->calib, o->chunks,
                 o->ctx > 0 ? "as given" : "min(512, model)");
    else
        snprintf(v[3], sizeof v[3], "none");
    snprintf(v[4], sizeof v[4], "%s", o->runs ? o->runs : "none");
    v[5][0] = 0;
    for (int i = 0; i < o->n_results; i++)
        snprintf(v[5] + strlen(v[5]), sizeof v[5] - strlen(v[5]), "%s%s", i ? ", " : "",
                 o->results[i]);
    if (!o->n_results)
        snprintf(v[5], sizeof v[5], "bundled papers' data (assets/results)");
    snprintf(v[6], sizeof v[6], "%.2f s (everything above)", seconds);
    const char *k[] = {"version",         "date",          "model", "calibration text",
                       "quantization runs", "results stores", "generation time"};
    for (int i = 0; i < 7; i++) {
        const char *row[2] = {k[i], v[i]};
        doc_row(d, 2, row);
    }
    doc_table_end(d);
}

/* ------------------------------------------------------------------ */

int report_write(const struct report_opts *o, struct report_notes *notes, struct qerr *err)
{
    struct rctx r;
    memset(&r, 0, sizeof r);
    r.o = o;
    if (notes)
        notes->n = 0;
    double t0 = qclock_seconds();
    int rc = cli_open_model(&r.m, o->model, err);
    if (rc)
        return rc;
    results_label(r.m.path, r.label, sizeof r.label);
    doc_init(&r.d, o->md, o->out, notes);
    sec_model(&r);
    rc = sec_weights(&r, err);
    if (!rc) {
        sec_acts(&r, err);
        rc = err->code;
    }
    if (!rc)
        rc = sec_maps(&r, err);
    if (!rc)
        rc = report_sec_runs(&r.d, o, r.label);
    if (!rc)
        rc = report_sec_corr(&r.d, o);
    if (!rc) {
        sec_made(&r, qclock_seconds() - t0);
        char title[300];
        snprintf(title, sizeof title, "qlens report: %s", r.label);
        rc = doc_write(&r.d, title, err);
    } else if (!err->code) {
        qerr_set(err, rc, "report: out of memory");
    }
    doc_free(&r.d);
    tstats_free(&r.ts);
    qmodel_close(&r.m);
    return rc;
}
