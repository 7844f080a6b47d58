/* report_runs: the report's quantization runs (a sweep / quant results
 * file or the dashboard's session file) and the perplexity / benchmark
 * correlation (results stores, filter + corr_compute as `qlens
 * correlate`).  Input that cannot be used becomes a "left out" note. */
#include <cjson/cJSON.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analysis/correlate.h"
#include "analysis/filter.h"
#include "analysis/results.h"
#include "cli/cli_results.h"
#include "cli/report_int.h"

int report_sec_runs(struct rdoc *d, const struct report_opts *o, const char *label);
int report_sec_corr(struct rdoc *d, const struct report_opts *o);

static const char *const method_color[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                           "#CC79A7", "#56B4E9", "#000000", "#999999"};

/* Jin et al. 2024 (arXiv 2402.16775), Table 3: average |Pearson r| between
 * perplexity and benchmark scores over their 3- and 4-bit GPTQ / SpQR Qwen
 * models.  The paper's number, quoted for comparison. */
#define JIN_TABLE3_MEAN_R 0.7895
#define JIN_TABLE3_WHERE "model=Qwen*,method=GPTQ|SpQR,bits=3..4"

struct run {
    const struct results_entry *e;
    char spec[160];
    char tag[96];         /* short label for plots: "GPTQ w4 g128" */
    double bpw, ppl, kl, top1, dppl;
    int is_float;
};

static double jnum(const cJSON *o, const char *k1, const char *k2)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k1);
    if (!cJSON_IsNumber(x) && k2)
        x = cJSON_GetObjectItemCaseSensitive(o, k2);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

/* The sweep writes bits_per_weight / kl_mean, the dashboard bpw / kl. */
static void run_from(const struct results_entry *e, const char *dataset, struct run *r)
{
    memset(r, 0, sizeof *r);
    r->e = e;
    cJSON *s = e->settings_json ? cJSON_Parse(e->settings_json) : NULL;
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(s, "spec");
    r->is_float = e->w_bits >= 16 && e->a_bits >= 16 && e->kv_bits >= 16;
    if (cJSON_IsString(spec))
        snprintf(r->spec, sizeof r->spec, "%s", spec->valuestring);
    else if (r->is_float)
        snprintf(r->spec, sizeof r->spec, "float");
    else
        snprintf(r->spec, sizeof r->spec, "%s w%d", e->method, e->w_bits);
    if (r->is_float)
        snprintf(r->tag, sizeof r->tag, "float");
    else
        snprintf(r->tag, sizeof r->tag, "%.24s w%d%s%.0d%s%.0d%s%.0d", e->method, e->w_bits,
                 e->group_size > 0 ? " g" : "", e->group_size > 0 ? e->group_size : 0,
                 e->a_bits < 16 ? " a" : "", e->a_bits < 16 ? e->a_bits : 0,
                 e->kv_bits < 16 ? " kv" : "", e->kv_bits < 16 ? e->kv_bits : 0);
    r->bpw = jnum(s, "bits_per_weight", "bpw");
    if (!isfinite(r->bpw))
        r->bpw = e->w_bits;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "plan"))) /* qlens plan / quant --plan */
        snprintf(r->tag, sizeof r->tag, "plan %.2f", r->bpw);
    r->kl = jnum(s, "kl_mean", "kl");
    r->top1 = jnum(s, "top1", NULL);
    r->dppl = jnum(s, "delta_ppl_pct", NULL);
    const struct results_ppl *p = results_entry_ppl(e, dataset);
    r->ppl = p ? p->value : NAN;
    cJSON_Delete(s);
}

/* The perplexity dataset most of the model's entries have. */
static const char *main_dataset(const struct results_store *s, const char *label)
{
    const char *best = NULL;
    int best_n = 0;
    for (int i = 0; i < s->n; i++)
        for (int k = 0; k < s->e[i].n_ppl; k++) {
            const char *ds = s->e[i].ppl[k].dataset;
            int n = 0;
            for (int j = 0; j < s->n; j++)
                n += !strcasecmp(s->e[j].model, label) && results_entry_ppl(&s->e[j], ds);
            if (n > best_n) {
                best = ds;
                best_n = n;
            }
        }
    return best;
}

static void runs_table(struct rdoc *d, const struct run *r, int n, const char *ds)
{
    char ph[96];
    snprintf(ph, sizeof ph, "PPL (%s)", ds);
    const char *head[] = {"configuration", "method", "bits/weight", ph, "ΔPPL", "KL mean",
                          "top-1"};
    doc_table(d, 7, head, "llrrrrr");
    for (int i = 0; i < n; i++) {
        char c[5][48];
        snprintf(c[0], sizeof c[0], "%.2f", r[i].bpw);
        snprintf(c[1], sizeof c[1], isfinite(r[i].ppl) ? "%.3f" : "–", r[i].ppl);
        snprintf(c[2], sizeof c[2], isfinite(r[i].dppl) ? "%+.1f%%" : "–", r[i].dppl);
        snprintf(c[3], sizeof c[3], isfinite(r[i].kl) ? "%.4f" : "–", r[i].kl);
        snprintf(c[4], sizeof c[4], isfinite(r[i].top1) ? "%.1f%%" : "–", 100 * r[i].top1);
        const char *row[7] = {r[i].spec, r[i].e->method, c[0], c[1], c[2], c[3], c[4]};
        doc_row(d, 7, row);
    }
    doc_table_end(d);
}

static int method_index(const struct run *r, int n, int i, const char **names, int *nn)
{
    for (int k = 0; k < *nn; k++)
        if (!strcasecmp(names[k], r[i].e->method))
            return k;
    if (*nn == 8)
        return 7;
    names[*nn] = r[i].e->method;
    return (*nn)++;
}

static int cmp_x(const void *a, const void *b)
{
    const double *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Size vs quality: y = PPL (kind 0) or KL mean (kind 1), both log. */
static void fig_pareto(struct rdoc *d, const struct run *r, int n, int kind, const char *ds,
                       double base_ppl)
{
    double *x = malloc(sizeof *x * (size_t)n * 4), *y = x + n, *fr = y + n;
    unsigned char *front = malloc((size_t)n + 1);
    struct svg_label *lab = calloc((size_t)n + 2, sizeof *lab);
    if (!x || !front || !lab) {
        free(x), free(front), free(lab);
        d->body.oom = 1;
        return;
    }
    for (int i = 0; i < n; i++) {
        y[i] = kind ? (r[i].kl > 0 ? r[i].kl : NAN) : r[i].ppl;
        x[i] = isfinite(y[i]) ? r[i].bpw : NAN; /* the axis spans what is drawn */
    }
    report_pareto(x, y, n, front);
    struct sbuf b;
    struct svg_plot p;
    char yl[128];
    sb_init(&b);
    svg_plot_init(&p, &b, 900, 420, 1);
    p.title = kind ? "Size vs KL divergence from the float model" : "Size vs perplexity";
    p.id = kind ? "runs-kl" : "runs-ppl";
    p.x.label = "bits per weight (quantized linears)";
    snprintf(yl, sizeof yl, kind ? "KL mean (nats per token)" : "perplexity on %s", ds);
    p.y.label = yl;
    p.y.log = 1;
    svg_axis_fit(&p.x, x, (size_t)n, 1, 0.05);
    svg_axis_fit(&p.y, y, (size_t)n, 1, 0.08);
    if (!kind)
        svg_axis_include(&p.y, base_ppl);
    svg_plot_begin(&p);
    if (!kind && isfinite(base_ppl)) {
        char bl[64];
        snprintf(bl, sizeof bl, "float baseline %.3f", base_ppl);
        svg_hline(&p, base_ppl, "#555", bl);
    }
    int nf = 0; /* the front, left to right */
    for (int i = 0; i < n; i++)
        if (front[i]) {
            fr[2 * nf] = x[i];
            fr[2 * nf + 1] = y[i];
            nf++;
        }
    qsort(fr, (size_t)nf, 2 * sizeof *fr, cmp_x);
    double *fx = malloc(sizeof *fx * (size_t)(2 * nf + 1)), *fy = fx ? fx + nf : NULL;
    for (int i = 0; fx && i < nf; i++)
        fx[i] = fr[2 * i], fy[i] = fr[2 * i + 1];
    if (fx)
        svg_line(&p, fx, fy, nf, "#bbb", 1);
    free(fx);
    const char *names[8];
    int nn = 0, shapes[8];
    for (int i = 0; i < n; i++) {
        if (!svg_ok(&p, x[i], y[i]))
            continue; /* no marker, no legend entry (float has no KL) */
        int k = method_index(r, n, i, names, &nn);
        shapes[k] = k % 4;
        svg_points(&p, x + i, y + i, 1, method_color[k], k % 4, front[i] ? 4.5 : 3.5);
    }
    /* labels: the front first (the runs worth reading), then the rest */
    int nl = 0;
    if (!kind && isfinite(base_ppl)) { /* svg_hline's label, as an obstacle */
        char bl[64];
        snprintf(bl, sizeof bl, "float baseline %.3f", base_ppl);
        double w = strlen(bl) * 11 * 0.6;
        lab[nl++] = (struct svg_label){.text = "", .fixed = 1, .bx = p.w - p.mr - 4 - w,
                                       .by = svg_py(&p, base_ppl) - 15, .bw = w, .bh = 13,
                                       .x = -100, .y = -100};
    }
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++)
            if (svg_ok(&p, x[i], y[i]) && front[i] == !pass)
                lab[nl++] = (struct svg_label){.x = svg_px(&p, x[i]), .y = svg_py(&p, y[i]), .text = r[i].tag};
    int fixed = nl && lab[0].fixed;
    int placed = svg_labels_place(lab, nl, p.ml, p.mt, p.w - p.mr, p.h - p.mb, 4.5, 10) - fixed;
    nl -= fixed; /* for the caption: labels of points only */
    svg_labels_draw(&b, lab, nl + fixed, 10);
    svg_legend(&p, names, method_color, shapes, nn);
    svg_plot_end(&p);
    char cap[512];
    snprintf(cap, sizeof cap,
             "%d runs; %s on a log scale.  Larger markers and the dashed grey line: the "
             "Pareto front (no other run is both smaller and better).  %d of %d labels "
             "shown (labels that would overlap are left out; the table lists every run).",
             n, kind ? "KL divergence" : "perplexity", placed, nl);
    free(x), free(front), free(lab);
    doc_fig(d, &b, cap);
}

int report_sec_runs(struct rdoc *d, const struct report_opts *o, const char *label)
{
    doc_h(d, 2, "runs", "Quantization runs");
    if (!o->runs) {
        doc_p(d, "No runs file was given (--runs FILE: a `qlens sweep --out` file, `qlens "
                 "results` store or the dashboard's session file).");
        return 0;
    }
    struct results_store s;
    struct qerr e = {0};
    results_store_init(&s);
    if (results_load(&s, o->runs, &e)) {
        doc_note(d, "the runs file could not be used: %s", e.msg);
        results_store_free(&s);
        return e.code == QERR_NOMEM ? e.code : 0;
    }
    struct run *r = malloc(sizeof *r * (size_t)(s.n + 1));
    int n = 0, other = 0;
    const char *ds = main_dataset(&s, label);
    char other_name[256] = "";
    for (int i = 0; r && i < s.n; i++) {
        if (strcasecmp(s.e[i].model, label)) {
            if (!other++)
                snprintf(other_name, sizeof other_name, "%s", s.e[i].model);
            continue;
        }
        run_from(&s.e[i], ds ? ds : "", &r[n]);
        n += isfinite(r[n].ppl);
    }
    int rc = r ? 0 : QERR_NOMEM;
    if (other)
        doc_note(d, "%d entr%s of %s for other models (e.g. %s) are not about %s.", other,
                 other == 1 ? "y" : "ies", o->runs, other_name, label);
    if (r && n < s.n - other)
        doc_note(d, "%d entr%s of %s for %s without a perplexity on %s.", s.n - other - n,
                 s.n - other - n == 1 ? "y" : "ies", o->runs, label, ds ? ds : "any dataset");
    if (r && !n)
        doc_note(d, "%s holds no run of %s with a perplexity: no table or plot.", o->runs, label);
    double base = NAN;
    for (int i = 0; i < n; i++)
        if (r[i].is_float && !isfinite(base))
            base = r[i].ppl;
    for (int i = 0; i < n; i++)
        if (isfinite(base))
            r[i].dppl = 100 * (r[i].ppl / base - 1);
    if (n) {
        doc_p(d, "%d run%s of %s from %s: perplexity on %s, its change from the float model "
                 "(ΔPPL), the KL divergence of the quantized next-token distribution from the "
                 "float one and top-1 agreement, as `qlens quant` measures them.  Bits per weight "
                 "count the scales, zero points and float outliers each method stores.",
              n, n == 1 ? "" : "s", label, o->runs, ds);
        runs_table(d, r, n, ds);
        fig_pareto(d, r, n, 0, ds, base);
        int any_kl = 0;
        for (int i = 0; i < n; i++)
            any_kl |= r[i].kl > 0;
        if (any_kl)
            fig_pareto(d, r, n, 1, ds, base);
    }
    free(r);
    results_store_free(&s);
    return rc;
}

/* ------------------------------------------------------------------ */
/* correlation                                                          */

struct corr_row {
    const char *name, *unit;
    int ok;
    struct corr_result c;
};

struct sel {
    const struct results_entry **e;
    double *x, *y;
    int n;
};

static int select_entries(const struct results_store *s, const struct filter *f, struct sel *o)
{
    o->e = malloc(sizeof *o->e * (size_t)(s->n + 1));
    o->x = malloc(sizeof *o->x * (size_t)(s->n + 1));
    o->y = malloc(sizeof *o->y * (size_t)(s->n + 1));
    o->n = 0;
    if (!o->e || !o->x || !o->y)
        return QERR_NOMEM;
    for (int i = 0; i < s->n; i++)
        if (filter_match(f, &s->e[i])) {
            o->e[o->n] = &s->e[i];
            o->x[o->n++] = results_entry_value(&s->e[i], "ppl_mean");
        }
    return 0;
}

static void sel_free(struct sel *s)
{
    free(s->e), free(s->x), free(s->y);
}

static void fill_y(struct sel *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        s->y[i] = results_entry_value(s->e[i], name);
}

/* One row per benchmark in the selection (first appearance order). */
static int corr_rows(struct sel *s, struct corr_row **out, int *k, double *mr, double *mrho)
{
    int n = 0, cap = 16;
    struct corr_row *v = malloc(sizeof *v * (size_t)cap);
    *k = 0;
    *mr = *mrho = 0;
    for (int i = 0; v && i < s->n; i++)
        for (int b = 0; b < s->e[i]->n_bench; b++) {
            const struct results_bench *be = &s->e[i]->bench[b];
            int seen = 0;
            for (int j = 0; j < n && !seen; j++)
                seen = !strcmp(v[j].name, be->name);
            if (seen)
                continue;
            if (n == cap) {
                struct corr_row *nv = realloc(v, sizeof *v * (size_t)(cap *= 2));
                if (!nv) {
                    free(v);
                    return QERR_NOMEM;
                }
                v = nv;
            }
            v[n] = (struct corr_row){be->name, be->unit, 0, {0}};
            fill_y(s, be->name);
            v[n].ok = corr_compute(s->x, s->y, (size_t)s->n, &v[n].c, NULL) == QERR_OK;
            if (v[n].ok) {
                (*k)++;
                *mr += fabs(v[n].c.r);
                *mrho += fabs(v[n].c.rho);
            }
            n++;
        }
    if (*k)
        *mr /= *k, *mrho /= *k;
    *out = v;
    return v ? n : QERR_NOMEM;
}

static void corr_table(struct rdoc *d, const struct corr_row *v, int n)
{
    static const char *const head[] = {"benchmark", "unit", "n", "Pearson r", "95% CI of r",
                                       "p", "Spearman ρ", "p(ρ)"};
    doc_table(d, 8, head, "llrrrrrr");
    for (int i = 0; i < n; i++) {
        char c[6][64];
        snprintf(c[0], sizeof c[0], "%zu", v[i].c.n);
        if (v[i].ok) {
            snprintf(c[1], sizeof c[1], "%.4f", v[i].c.r);
            snprintf(c[2], sizeof c[2], "[%.3f, %.3f]", v[i].c.r_lo, v[i].c.r_hi);
            snprintf(c[3], sizeof c[3], "%.2g", v[i].c.r_p);
            snprintf(c[4], sizeof c[4], "%.4f", v[i].c.rho);
            snprintf(c[5], sizeof c[5], "%.2g", v[i].c.rho_p);
        } else
            for (int k = 1; k < 6; k++)
                snprintf(c[k], sizeof c[k], "–");
        const char *row[8] = {v[i].name, v[i].unit, c[0], c[1], c[2], c[3], c[4], c[5]};
        doc_row(d, 8, row);
    }
    doc_table_end(d);
}

/* The least-squares line and its 95% confidence band for the mean
 * response: yhat +- t(0.975, n-2) s sqrt(1/n + (x - xbar)^2 / Sxx). */
static void fit_band(struct svg_plot *p, struct sel *s, const struct corr_result *c)
{
    double sse = 0, sxx = 0;
    int n = 0;
    for (int i = 0; i < s->n; i++)
        if (isfinite(s->x[i]) && isfinite(s->y[i])) {
            double e = s->y[i] - (c->intercept + c->slope * s->x[i]);
            sse += e * e;
            sxx += (s->x[i] - c->x_mean) * (s->x[i] - c->x_mean);
            n++;
        }
    if (n < 3 || !(sxx > 0))
        return;
    double sd = sqrt(sse / (n - 2)), t = gsl_cdf_tdist_Pinv(0.975, n - 2);
    enum { K = 60 };
    double xs[K], yl[K], yh[K], ym[K];
    for (int k = 0; k < K; k++) {
        double f = (double)k / (K - 1);
        xs[k] = p->x.log ? p->x.lo * pow(p->x.hi / p->x.lo, f) : p->x.lo + f * (p->x.hi - p->x.lo);
        ym[k] = c->intercept + c->slope * xs[k];
        double h = t * sd * sqrt(1.0 / n + (xs[k] - c->x_mean) * (xs[k] - c->x_mean) / sxx);
        yl[k] = ym[k] - h;
        yh[k] = ym[k] + h;
    }
    sb_puts(p->b, "<polygon fill=\"#0072B2\" fill-opacity=\"0.13\" stroke=\"none\" points=\"");
    for (int k = 0; k < K; k++)
        sb_printf(p->b, "%.1f,%.1f ", svg_px(p, xs[k]), svg_py(p, yh[k]));
    for (int k = K - 1; k >= 0; k--)
        sb_printf(p->b, "%.1f,%.1f ", svg_px(p, xs[k]), svg_py(p, yl[k]));
    sb_puts(p->b, "\"/>");
    svg_line(p, xs, ym, K, "#0072B2", 0);
}

static void fig_scatter(struct rdoc *d, struct sel *s, const struct corr_row *row, int idx)
{
    fill_y(s, row->name);
    struct sbuf b;
    struct svg_plot p;
    char yl[160], title[160], id[64];
    sb_init(&b);
    svg_plot_init(&p, &b, 452, 330, 0);
    p.mr = 14;
    snprintf(title, sizeof title, "%s vs perplexity", row->name);
    snprintf(yl, sizeof yl, "%s (%s)", row->name, row->unit);
    snprintf(id, sizeof id, "corr-%d", idx);
    p.title = title;
    p.id = id;
    p.x.label = "mean perplexity (ppl_mean)";
    p.y.label = yl;
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < s->n; i++)
        if (isfinite(s->x[i]) && isfinite(s->y[i]) && s->x[i] > 0)
            lo = fmin(lo, s->x[i]), hi = fmax(hi, s->x[i]);
    p.x.log = hi / lo > 10;
    svg_axis_fit(&p.x, s->x, (size_t)s->n, 1, 0.06);
    svg_axis_fit(&p.y, s->y, (size_t)s->n, 1, 0.1);
    svg_plot_begin(&p);
    fit_band(&p, s, &row->c);
    svg_points(&p, s->x, s->y, s->n, "#D55E00", 0, 3.5);
    struct svg_label *lab = calloc((size_t)s->n + 2, sizeof *lab);
    char (*txt)[96] = malloc(sizeof *txt * (size_t)(s->n + 1));
    char t[96];
    snprintf(t, sizeof t, "r = %.3f, ρ = %.3f, n = %zu", row->c.r, row->c.rho, row->c.n);
    int nl = 0, models = 0;
    double tw = (strlen(t) - 1) * 11 * 0.6; /* ρ is two bytes */
    if (lab) /* the r/rho line in the top right corner, as an obstacle */
        lab[nl++] = (struct svg_label){.text = "", .fixed = 1, .bx = p.w - p.mr - 6 - tw,
                                       .by = p.mt + 3, .bw = tw + 4, .bh = 14, .x = -100,
                                       .y = -100};
    for (int i = 0; i < s->n; i++)
        models += i == 0 || strcmp(s->e[i]->model, s->e[0]->model);
    for (int i = 0; lab && txt && i < s->n; i++)
        if (svg_ok(&p, s->x[i], s->y[i])) {
            snprintf(txt[nl], sizeof txt[nl], "%.40s%s%.24s w%d", models > 1 ? s->e[i]->model : "",
                     models > 1 ? " " : "", s->e[i]->method, s->e[i]->w_bits);
            lab[nl] = (struct svg_label){.x = svg_px(&p, s->x[i]), .y = svg_py(&p, s->y[i]), .text = txt[nl]};
            nl++;
        }
    svg_labels_place(lab, nl, p.ml, p.mt, p.w - p.mr, p.h - p.mb, 3.5, 9);
    svg_labels_draw(&b, lab, nl, 9);
    free(lab), free(txt);
    svg_text(&b, p.w - p.mr - 6, p.mt + 14, "end", 11, t);
    svg_plot_end(&p);
    char cap[400];
    snprintf(cap, sizeof cap,
             "%s against mean perplexity, %zu entries; line: least squares, band: its 95%% "
             "confidence interval (t with n-2 degrees of freedom)%s.",
             row->name, row->c.n, p.x.log ? "; perplexity on a log scale, so the line curves" : "");
    doc_fig(d, &b, cap);
}

/* Load each store on its own so one bad file is a note, not the end. */
static int load_stores(struct rdoc *d, const struct report_opts *o, struct results_store *s)
{
    struct qerr e = {0};
    results_store_init(s);
    if (!o->n_results) {
        if (cli_results_load_papers(s, &e))
            doc_note(d, "the bundled papers' data: %s", e.msg);
        return e.code == QERR_NOMEM ? e.code : 0;
    }
    for (int i = 0; i < o->n_results; i++) {
        struct results_store t;
        results_store_init(&t);
        char *one[1] = {o->results[i]};
        if (cli_results_load(&t, one, 1, &e) ||
            results_merge(s, &t, RESULTS_MERGE_STRICT, NULL, NULL, &e))
            doc_note(d, "results store %s: %s", o->results[i], e.msg);
        results_store_free(&t);
        if (e.code == QERR_NOMEM)
            return e.code;
        qerr_clear(&e);
    }
    return 0;
}

static int cmp_absr(const void *a, const void *b)
{
    const struct corr_row *x = a, *y = b;
    if (x->ok != y->ok)
        return y->ok - x->ok;
    double u = fabs(x->c.r), v = fabs(y->c.r);
    return (u < v) - (u > v);
}

/* Average |r| over the Table 3 selection of the bundled data. */
static int table3_mean(double *mr, double *mrho, int *k, int *n_entries)
{
    struct results_store s;
    struct filter f;
    struct sel sel = {0};
    struct corr_row *v = NULL;
    results_store_init(&s);
    int rc = cli_results_load_papers(&s, NULL);
    if (!rc)
        rc = filter_parse(&f, JIN_TABLE3_WHERE, NULL);
    if (!rc)
        rc = select_entries(&s, &f, &sel);
    int nr = rc ? rc : corr_rows(&sel, &v, k, mr, mrho);
    *n_entries = sel.n;
    free(v);
    sel_free(&sel);
    results_store_free(&s);
    return nr < 0 ? nr : 0;
}

static void jin_compare(struct rdoc *d, const char *where, int k, double mr, double mrho, int n)
{
    double t_mr = mr, t_mrho = mrho;
    int t_k = k, t_n = n;
    int same = where && !strcmp(where, JIN_TABLE3_WHERE);
    if (!same && table3_mean(&t_mr, &t_mrho, &t_k, &t_n)) {
        doc_note(d, "the bundled papers' data could not be loaded: no comparison with Jin et "
                    "al. Table 3.");
        return;
    }
    doc_h(d, 3, "jin", "Comparison with Jin et al. 2024, Table 3");
    static const char *const head[] = {"source", "selection", "entries", "benchmarks",
                                       "average |r|", "average |ρ|"};
    doc_table(d, 6, head, "llrrrr");
    char c[4][32];
    const char *r0[6] = {"Jin et al. 2024, Table 3 (paper)", "3- and 4-bit GPTQ and SpQR Qwen",
                         "12", "their set", "0.7895", "–"};
    doc_row(d, 6, r0);
    snprintf(c[0], sizeof c[0], "%d", t_n);
    snprintf(c[1], sizeof c[1], "%d", t_k);
    snprintf(c[2], sizeof c[2], "%.4f", t_mr);
    snprintf(c[3], sizeof c[3], "%.4f", t_mrho);
    const char *r1[6] = {"qlens on the bundled data", JIN_TABLE3_WHERE, c[0], c[1], c[2], c[3]};
    doc_row(d, 6, r1);
    doc_table_end(d);
    doc_p(d, "Same sign and a similar strength: higher perplexity goes with lower scores.  The "
             "average differs (%.4f vs %.4f) because it runs over every metric the paper's "
             "tables report and pools the three model sizes; the README's section "
             "\"Comparison with Jin et al. Table 3\" takes the difference apart.",
          t_mr, JIN_TABLE3_MEAN_R);
}

int report_sec_corr(struct rdoc *d, const struct report_opts *o)
{
    doc_h(d, 2, "corr", "Perplexity and benchmark scores");
    struct results_store s;
    int rc = load_stores(d, o, &s);
    const char *where = o->where ? o->where : o->n_results ? NULL : JIN_TABLE3_WHERE;
    struct filter f;
    struct qerr e = {0};
    struct sel sel = {0};
    struct corr_row *v = NULL;
    int n = 0, k = 0;
    double mr = 0, mrho = 0;
    if (!rc && filter_parse(&f, where, &e)) {
        doc_note(d, "correlation: the selection is not valid: %s", e.msg);
        where = NULL;
        filter_parse(&f, NULL, NULL);
    }
    if (!rc)
        rc = select_entries(&s, &f, &sel);
    if (!rc && (n = corr_rows(&sel, &v, &k, &mr, &mrho)) < 0)
        rc = n;
    if (!rc && !k)
        doc_note(d, "correlation: no benchmark has 3 or more selected entries with varying "
                    "perplexity and score (%d entries selected%s%s).",
                 sel.n, where ? " by " : "", where ? where : "");
    if (!rc && k) {
        doc_p(d, "Pearson r (two-sided p from the t distribution, 95%% CI by Fisher z) and "
                 "Spearman ρ between each entry's mean perplexity and each benchmark, over %d "
                 "entries%s%s, as `qlens correlate --all` computes them.  Average |r| over %d "
                 "benchmarks: %.4f (average |ρ|: %.4f).",
              sel.n, where ? " selected by " : "", where ? where : "", k, mr, mrho);
        corr_table(d, v, n);
        qsort(v, (size_t)n, sizeof *v, cmp_absr);
        for (int i = 0; i < n && i < 4 && v[i].ok; i++)
            fig_scatter(d, &sel, &v[i], i);
        jin_compare(d, where, k, mr, mrho, sel.n);
    }
    free(v);
    sel_free(&sel);
    results_store_free(&s);
    return rc;
}
