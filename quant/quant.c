/* quant: the registry, spec parsing, validation and the error report. */
#include "quant/quant.h"

#include <cblas.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "quant/quant_impl.h"

const struct quantizer *const quant_registry[] = {
    &quant_rtn, &quant_gptq, &quant_awq, &quant_spqr, &quant_llmint8,
    &quant_smoothquant,
    &quant_q4_0, &quant_q4_1, &quant_q5_0, &quant_q5_1, &quant_q8_0,
    &quant_q2_k, &quant_q3_k, &quant_q4_k, &quant_q5_k, &quant_q6_k,
    &quant_iq4_nl, &quant_iq4_xs, NULL,
};

int quant_count(void)
{
    int n = 0;
    while (quant_registry[n])
        n++;
    return n;
}

const struct quantizer *quant_find(const char *name)
{
    if (!name)
        return NULL;
    for (int i = 0; quant_registry[i]; i++)
        if (!strcasecmp(name, quant_registry[i]->name))
            return quant_registry[i];
    return NULL;
}

int quant_opt_index(const struct quantizer *q, const char *name)
{
    for (int i = 0; q && i < q->n_params; i++)
        if (!strcmp(q->params[i].name, name))
            return i;
    return -1;
}

double qi_opt(const struct quant_spec *spec, const char *name)
{
    int i = quant_opt_index(spec->method, name);
    return i < 0 ? 0.0 : spec->opt[i];
}

int qi_poll(const struct quant_ctl *ctl, double frac)
{
    if (!ctl)
        return 0;
    if (ctl->cancel && *ctl->cancel)
        return QERR_CANCEL;
    if (ctl->progress && ctl->progress(ctl->ud, frac))
        return QERR_CANCEL;
    return 0;
}

/* ---- spec ------------------------------------------------------------- */

static void list_names(char *buf, size_t n)
{
    buf[0] = '\0';
    for (int i = 0; quant_registry[i]; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s%s", i ? ", " : "", quant_registry[i]->name);
    }
}

static void list_params(const struct quantizer *q, char *buf, size_t n)
{
    buf[0] = '\0';
    for (int i = 0; i < q->n_params; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s%s", i ? ", " : "", q->params[i].name);
    }
    if (!q->n_params)
        snprintf(buf, n, "none");
}

/* One "name=value" item. */
static int parse_opt(struct quant_spec *spec, const char *item, size_t len,
                     struct qerr *err)
{
    const struct quantizer *q = spec->method;
    char buf[128], names[256];
    if (len >= sizeof buf)
        return qerr_set(err, QERR_ARG, "%s option too long: '%.40s...'", q->name, item);
    memcpy(buf, item, len);
    buf[len] = '\0';
    char *eq = strchr(buf, '=');
    if (!eq)
        return qerr_set(err, QERR_ARG, "%s option '%s': expected name=value", q->name, buf);
    *eq = '\0';
    int i = quant_opt_index(q, buf);
    if (i < 0) {
        list_params(q, names, sizeof names);
        return qerr_set(err, QERR_ARG, "%s has no option '%s' (options: %s)", q->name, buf, names);
    }
    const struct quant_param *p = &q->params[i];
    char *end;
    double v = strtod(eq + 1, &end);
    if (end == eq + 1 || *end || !isfinite(v))
        return qerr_set(err, QERR_ARG, "%s option %s: '%s' is not a number", q->name, p->name, eq + 1);
    if (v < p->min || v > p->max || (p->is_int && v != floor(v)))
        return qerr_set(err, QERR_ARG, "%s option %s=%g out of range: %s in [%g, %g]", q->name,
                        p->name, v, p->is_int ? "integer" : "value", p->min, p->max);
    spec->opt[i] = v;
    return 0;
}

int quant_spec_parse(struct quant_spec *spec, const char *method, int bits,
                     int group, int sym, const char *opts, struct qerr *err)
{
    char names[256];
    memset(spec, 0, sizeof *spec);
    const struct quantizer *q = quant_find(method);
    if (!q) {
        list_names(names, sizeof names);
        return qerr_set(err, QERR_ARG, "unknown quantization method '%s' (methods: %s)",
                        method ? method : "(null)", names);
    }
    spec->method = q;
    spec->bits = bits <= 0 ? q->def_bits : bits;
    spec->group = group == QUANT_GROUP_DEFAULT ? q->def_group : group;
    spec->sym = sym < 0 ? q->def_sym : !!sym;
    if (q->apply == ggml_method_apply) { /* the ggml type fixes its grid */
        spec->bits = q->def_bits;
        spec->group = q->def_group;
        spec->sym = q->def_sym;
    }
    if (spec->bits < 2 || spec->bits > 8)
        return qerr_set(err, QERR_ARG, "%s: bits %d out of range 2..8", q->name, spec->bits);
    if (spec->group < -1)
        return qerr_set(err, QERR_ARG,
                        "%s: group %d invalid (>0 group size, 0 per channel, -1 per tensor)",
                        q->name, spec->group);
    for (int i = 0; i < q->n_params; i++)
        spec->opt[i] = q->params[i].def;
    for (const char *s = opts; s && *s;) {
        size_t len = strcspn(s, ",");
        if (len && parse_opt(spec, s, len, err) < 0)
            return QERR_ARG;
        s += len;
        if (*s == ',')
            s++;
    }
    return 0;
}

void quant_spec_format(const struct quant_spec *spec, char *buf, int n)
{
    const struct quantizer *q = spec->method;
    char g[32];
    if (q && q->apply == ggml_method_apply) { /* "q4_k": the type says it all */
        snprintf(buf, n, "%s", q->name);
        return;
    }
    if (spec->group > 0)
        snprintf(g, sizeof g, "g%d", spec->group);
    else
        snprintf(g, sizeof g, "%s", spec->group == 0 ? "per-channel" : "per-tensor");
    int l = snprintf(buf, n, "%s w%d %s %s", q ? q->name : "?", spec->bits, g,
                     spec->sym ? "sym" : "asym");
    for (int i = 0; q && i < q->n_params && l >= 0 && l < n; i++)
        l += snprintf(buf + l, n - l, " %s=%g", q->params[i].name, spec->opt[i]);
}

/* ---- report ----------------------------------------------------------- */

void quant_report_fill(const float *w, const float *wq, long n,
                       double bits_per_weight, struct quant_report *rep)
{
    double sig = 0, e2 = 0, emax = 0;
    for (long i = 0; i < n; i++) {
        double d = (double)w[i] - wq[i];
        sig += (double)w[i] * w[i];
        e2 += d * d;
        emax = fabs(d) > emax ? fabs(d) : emax;
    }
    memset(rep, 0, sizeof *rep);
    rep->mse = n ? e2 / n : 0;
    rep->max_abs_err = emax;
    rep->rel_fro = sig > 0 ? sqrt(e2 / sig) : 0;
    if (e2 == 0)
        rep->sqnr_db = 300;   /* exact: a finite stand-in for +inf */
    else
        rep->sqnr_db = sig > 0 ? 10 * log10(sig / e2) : -300;
    rep->bits_per_weight = bits_per_weight;
    rep->out_err = -1;
}

double quant_grid_bpw(int bits, int group, int sym, int rows, int cols)
{
    double n = (double)rows * cols;
    double ngroups = group < 0 ? 1 : (double)rows * qgrid_ngroups(cols, group);
    return (n * bits + ngroups * (16 + (sym ? 0 : bits))) / n;
}

float *qi_xtx_float(const double *xtx, int cols)
{
    size_t n = (size_t)cols * cols;
    float *f = malloc(n * sizeof *f);
    if (f)
        for (size_t i = 0; i < n; i++)
            f[i] = (float)xtx[i];
    return f;
}

int qi_hform(const float *d, int rows, int cols, const float *hf,
             double *row_err, double *total)
{
    float *dh = malloc((size_t)rows * cols * sizeof *dh); /* (rows, cols) d·H */
    if (!dh)
        return QERR_NOMEM;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, cols, cols, 1.0f, d, cols,
                hf, cols, 0.0f, dh, cols);
    double tot = 0;
    for (long r = 0; r < rows; r++) {
        double s = 0;
        for (long c = 0; c < cols; c++)
            s += (double)dh[r * cols + c] * d[r * cols + c];
        if (row_err)
            row_err[r] = s;
        tot += s;
    }
    free(dh);
    *total = tot;
    return 0;
}

void qi_hform_ref(const float *d, int rows, int cols, const float *hf,
                  double *row_err, double *total)
{
    double tot = 0;
    for (long r = 0; r < rows; r++) {
        double s = 0;
        for (long i = 0; i < cols; i++)
            for (long j = 0; j < cols; j++)
                s += (double)d[r * cols + i] * hf[i * cols + j] * d[r * cols + j];
        if (row_err)
            row_err[r] = s;
        tot += s;
    }
    *total = tot;
}

/* ‖A Xᵀ‖_F² for A (rows, cols), X (n_x, cols). */
static int sample_sq(const float *a, int rows, int cols, const float *x, int n_x,
                     double *out)
{
    float *y = malloc((size_t)rows * n_x * sizeof *y);
    if (!y)
        return QERR_NOMEM;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n_x, cols, 1.0f, a, cols, x,
                cols, 0.0f, y, n_x);
    double s = 0;
    for (size_t i = 0; i < (size_t)rows * n_x; i++)
        s += (double)y[i] * y[i];
    free(y);
    *out = s;
    return 0;
}

int quant_out_err(const float *w, const float *wq, int rows, int cols,
                  const struct quant_calib *calib, double *out_err)
{
    *out_err = -1;
    if (!calib || (!calib->xtx && !(calib->x && calib->n_x > 0)))
        return 0;
    size_t n = (size_t)rows * cols;
    float *d = malloc(n * sizeof *d), *hf = NULL;
    int rc = QERR_NOMEM;
    double num = 0, den = 0;
    if (!d)
        return rc;
    for (size_t i = 0; i < n; i++)
        d[i] = w[i] - wq[i];
    if (calib->xtx) {
        hf = qi_xtx_float(calib->xtx, cols);
        rc = hf ? qi_hform(d, rows, cols, hf, NULL, &num) : QERR_NOMEM;
        if (rc == 0)
            rc = qi_hform(w, rows, cols, hf, NULL, &den);
    } else {
        rc = sample_sq(d, rows, cols, calib->x, calib->n_x, &num);
        if (rc == 0)
            rc = sample_sq(w, rows, cols, calib->x, calib->n_x, &den);
    }
    if (rc == 0)
        *out_err = den > 0 ? sqrt(fmax(num, 0) / den) : (num > 0 ? 1 : 0);
    free(d);
    free(hf);
    return rc;
}

static int act_stat(const struct quant_calib *c, int cols, const float *given, int mean,
                    float *out)
{
    if (given) {
        memcpy(out, given, cols * sizeof *out);
        return 0;
    }
    if (!c || !c->x || c->n_x <= 0)
        return -1;
    for (int j = 0; j < cols; j++)
        out[j] = 0;
    for (long t = 0; t < c->n_x; t++)
        for (int j = 0; j < cols; j++) {
            float a = fabsf(c->x[t * cols + j]);
            out[j] = mean ? out[j] + a / c->n_x : fmaxf(out[j], a);
        }
    return 0;
}

int qi_act_max(const struct quant_calib *c, int cols, float *out)
{
    return act_stat(c, cols, c ? c->act_max_abs : NULL, 0, out);
}

int qi_act_mean(const struct quant_calib *c, int cols, float *out)
{
    return act_stat(c, cols, c ? c->act_mean_abs : NULL, 1, out);
}

/* ---- validation and dispatch ------------------------------------------ */

/* Non-finite data is malformed input (QERR_FORMAT: the CLI's exit 1 for a
 * model with a NaN weight), not a bad argument. */
static int check_finite_f(const float *x, long n, int cols, const char *what,
                          struct qerr *err)
{
    for (long i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return qerr_set(err, QERR_FORMAT, "%s row %ld col %ld is %s", what, i / cols,
                            i % cols, isnan(x[i]) ? "NaN" : "infinite");
    return 0;
}

static int check_calib(const struct quantizer *q, const struct quant_calib *c, int cols,
                       struct qerr *err)
{
    int need = q->needs_calib;
    if (c && c->dim && c->dim != cols)
        return qerr_set(err, QERR_ARG, "%s: calibration has %d channels but the layer has %d inputs",
                        q->name, c->dim, cols);
    int has_h = c && c->xtx, has_x = c && c->x && c->n_x > 0;
    int has_act = c && (c->act_max_abs || c->act_mean_abs);
    if ((need & QUANT_CALIB_HESSIAN) && !has_h)
        return qerr_set(err, QERR_ARG, "%s needs calibration: xtx, the XᵀX of the layer inputs", q->name);
    if ((need & QUANT_CALIB_ACT) && !has_act && !has_x)
        return qerr_set(err, QERR_ARG, "%s needs calibration: per-channel activation statistics", q->name);
    if ((need & QUANT_CALIB_OUTERR) && !has_h && !has_x)
        return qerr_set(err, QERR_ARG, "%s needs calibration: xtx or a sample of layer inputs", q->name);
    if (has_h) {
        for (long i = 0; i < (long)cols * cols; i++)
            if (!isfinite(c->xtx[i]))
                return qerr_set(err, QERR_FORMAT, "calibration xtx row %ld col %ld is not finite",
                                i / cols, i % cols);
    }
    int rc = 0;
    if (c && c->act_max_abs)
        rc = check_finite_f(c->act_max_abs, cols, cols, "calibration act_max_abs", err);
    if (rc == 0 && c && c->act_mean_abs)
        rc = check_finite_f(c->act_mean_abs, cols, cols, "calibration act_mean_abs", err);
    if (rc == 0 && has_x)
        rc = check_finite_f(c->x, (long)c->n_x * cols, cols, "calibration sample x", err);
    return rc;
}

int quant_apply(const struct quant_spec *spec, const float *w, int rows,
                int cols, const struct quant_calib *calib, float *out,
                struct quant_side *side, struct quant_report *rep,
                const struct quant_ctl *ctl, struct qerr *err)
{
    return quant_apply_ex(spec, w, rows, cols, calib, out, side, rep, ctl, 0, err);
}

int quant_apply_ex(const struct quant_spec *spec, const float *w, int rows,
                   int cols, const struct quant_calib *calib, float *out,
                   struct quant_side *side, struct quant_report *rep,
                   const struct quant_ctl *ctl, unsigned flags, struct qerr *err)
{
    if (!spec || !spec->method || !w || !out)
        return qerr_set(err, QERR_ARG, "quant_apply: NULL spec, method, weights or output");
    const struct quantizer *q = spec->method;
    if (rows <= 0 || cols <= 0)
        return qerr_set(err, QERR_ARG, "%s: empty matrix (%d x %d)", q->name, rows, cols);
    if (spec->bits < 2 || spec->bits > 8)
        return qerr_set(err, QERR_ARG, "%s: bits %d out of range 2..8", q->name, spec->bits);
    if (spec->group < -1)
        return qerr_set(err, QERR_ARG, "%s: group %d invalid", q->name, spec->group);
    int rc = check_finite_f(w, (long)rows * cols, cols, "weight", err);
    if (rc == 0)
        rc = check_calib(q, calib, cols, err);
    if (rc < 0)
        return rc;
    if (side)
        side->has_scale = side->has_fp_cols = side->has_fp_weights = 0;
    struct quant_report mr;
    memset(&mr, 0, sizeof mr);
    rc = q->apply(spec, w, rows, cols, calib, out, side, &mr, ctl, err);
    if (rc < 0)
        return rc;
    for (int c = 0; side && c < cols; c++) {   /* documented neutral values */
        if (side->in_scale && !side->has_scale)
            side->in_scale[c] = 1.0f;
        if (side->fp_cols && !side->has_fp_cols)
            side->fp_cols[c] = 0;
    }
    if (!rep)
        return 0;
    quant_report_fill(w, out, (long)rows * cols, mr.bits_per_weight, rep);
    rep->n_outliers = mr.n_outliers;
    rep->outlier_frac = mr.outlier_frac;
    rep->n_outlier_features = mr.n_outlier_features;
    rep->chosen = mr.chosen;
    memcpy(rep->note, mr.note, sizeof rep->note);
    if (flags & QUANT_NO_OUT_ERR)
        return 0;
    rc = quant_out_err(w, out, rows, cols, calib, &rep->out_err);
    if (rc < 0)
        return qerr_set(err, rc, "%s: out of memory computing the output error", q->name);
    return 0;
}
