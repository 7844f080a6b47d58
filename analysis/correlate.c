/* correlate: Pearson / Spearman / Fisher-z CI / least squares over complete
 * pairs, with GSL doing the sums.  GSL's error handler is switched off so
 * that it returns status codes instead of aborting; every degenerate case is
 * caught before GSL sees it, so no NaN reaches the caller. */
#include "analysis/correlate.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_fit.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define Z_975 1.959963984540054 /* standard normal 97.5% quantile */

double corr_pearson_ref(const double *x, const double *y, size_t n)
{
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= n;
    my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxy / sqrt(sxx * syy);
}

double corr_p_value(double r, size_t n)
{
    if (n < 3 || !isfinite(r))
        return 1.0;
    if (fabs(r) >= 1.0)
        return 0.0;
    double df = (double)n - 2;
    double t = fabs(r) * sqrt(df / (1.0 - r * r));
    double p = 2.0 * gsl_cdf_tdist_Q(t, df);
    return p > 1.0 ? 1.0 : p;
}

struct vi {
    double v;
    size_t i;
};

static int cmp_vi(const void *a, const void *b)
{
    double x = ((const struct vi *)a)->v, y = ((const struct vi *)b)->v;
    return (x > y) - (x < y);
}

int corr_ranks(const double *v, size_t n, double *rank, struct qerr *err)
{
    struct vi *s = malloc(sizeof *s * (n ? n : 1));
    if (!s)
        return qerr_set(err, QERR_NOMEM, "out of memory ranking %zu values", n);
    for (size_t i = 0; i < n; i++)
        s[i] = (struct vi){v[i], i};
    qsort(s, n, sizeof *s, cmp_vi);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && s[j].v == s[i].v)
            j++;
        double avg = (double)(i + 1 + j) / 2.0; /* ranks i+1 .. j */
        for (size_t k = i; k < j; k++)
            rank[s[k].i] = avg;
        i = j;
    }
    free(s);
    return QERR_OK;
}

/* Exact two-sided permutation p of Spearman's rho for small n: the share
 * of the n! orderings of y's ranks whose |sum cx*cy| reaches the observed
 * one (the rank variances do not change under permutation, so the sum
 * ranks the orderings as rho does).  The t approximation is poor there:
 * n = 3 with rho = 1 has p = 1/3, not ~0. */
static double spearman_exact_p(const double *rx, const double *ry, size_t n)
{
    double cx[CORR_EXACT_MAX], cy[CORR_EXACT_MAX], m = (n + 1) / 2.0, obs = 0;
    for (size_t i = 0; i < n; i++) {
        cx[i] = rx[i] - m;
        cy[i] = ry[i] - m;
        obs += cx[i] * cy[i];
    }
    double tol = 1e-9 * (1 + fabs(obs));
    size_t c[CORR_EXACT_MAX] = {0}, hit = 0, total = 0;
    for (size_t i = 0;;) { /* Heap's algorithm: every ordering once */
        double sum = 0;
        for (size_t k = 0; k < n; k++)
            sum += cx[k] * cy[k];
        total++;
        hit += fabs(sum) >= fabs(obs) - tol;
        while (i < n && c[i] >= i) {
            c[i] = 0;
            i++;
        }
        if (i >= n)
            break;
        size_t j = (i % 2) ? c[i] : 0;
        double t = cy[j];
        cy[j] = cy[i];
        cy[i] = t;
        c[i]++;
        i = 1;
    }
    return (double)hit / (double)total;
}

static int is_constant(const double *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[0])
            return 0;
    return 1;
}

static double clamp1(double r)
{
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

static void fisher_ci(double r, size_t n, double *lo, double *hi)
{
    if (n <= 3) { /* standard error 1/sqrt(n-3) is infinite */
        *lo = -1;
        *hi = 1;
    } else if (fabs(r) >= 1) {
        *lo = *hi = r;
    } else {
        double z = atanh(r), se = 1.0 / sqrt((double)n - 3);
        *lo = tanh(z - Z_975 * se);
        *hi = tanh(z + Z_975 * se);
    }
}

/* Pairs without NAN into xs/ys; inf is an error, not "missing". */
static int compact(const double *x, const double *y, size_t n, double *xs,
                   double *ys, struct corr_result *o, struct qerr *err)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]) || isnan(y[i])) {
            o->n_missing++;
            continue;
        }
        if (!isfinite(x[i]) || !isfinite(y[i]))
            return qerr_set(err, QERR_NUMERIC, "value %zu is infinite (%s = %g)", i,
                            isfinite(x[i]) ? "y" : "x", isfinite(x[i]) ? y[i] : x[i]);
        xs[o->n] = x[i];
        ys[o->n] = y[i];
        o->n++;
    }
    if (o->n < 3)
        return qerr_set(err, QERR_NUMERIC,
                        "need at least 3 complete pairs, have %zu (%zu dropped for "
                        "missing values)", o->n, o->n_missing);
    if (is_constant(xs, o->n) || is_constant(ys, o->n))
        return qerr_set(err, QERR_NUMERIC, "%s is constant (every value is %g): "
                        "correlation undefined", is_constant(xs, o->n) ? "x" : "y",
                        is_constant(xs, o->n) ? xs[0] : ys[0]);
    return QERR_OK;
}

static int fill(const double *xs, const double *ys, double *rx, double *ry,
                struct corr_result *o, struct qerr *err)
{
    size_t n = o->n;
    o->r = clamp1(gsl_stats_correlation(xs, 1, ys, 1, n));
    if (corr_ranks(xs, n, rx, err) || corr_ranks(ys, n, ry, err))
        return err ? err->code : QERR_NOMEM;
    o->rho = clamp1(gsl_stats_correlation(rx, 1, ry, 1, n));
    double c0, c1, cov00, cov01, cov11, sumsq;
    int st = gsl_fit_linear(xs, 1, ys, 1, n, &c0, &c1, &cov00, &cov01, &cov11, &sumsq);
    if (st || !isfinite(o->r) || !isfinite(o->rho) || !isfinite(c0) || !isfinite(c1))
        return qerr_set(err, QERR_NUMERIC, "correlation failed numerically (%s)",
                        st ? gsl_strerror(st) : "values too large or too close");
    o->slope = c1;
    o->intercept = c0;
    o->x_mean = gsl_stats_mean(xs, 1, n);
    o->y_mean = gsl_stats_mean(ys, 1, n);
    o->r_p = corr_p_value(o->r, n);
    o->rho_p = n <= CORR_EXACT_MAX ? spearman_exact_p(rx, ry, n) : corr_p_value(o->rho, n);
    fisher_ci(o->r, n, &o->r_lo, &o->r_hi);
    return QERR_OK;
}

int corr_compute(const double *x, const double *y, size_t n,
                 struct corr_result *out, struct qerr *err)
{
    if (!out || (n && (!x || !y)))
        return qerr_set(err, QERR_ARG, "corr_compute: NULL argument");
    gsl_set_error_handler_off();
    memset(out, 0, sizeof *out);
    double *buf = malloc(sizeof *buf * 4 * (n ? n : 1));
    if (!buf)
        return qerr_set(err, QERR_NOMEM, "out of memory for %zu pairs", n);
    double *xs = buf, *ys = buf + n, *rx = buf + 2 * n, *ry = buf + 3 * n;
    int rc = compact(x, y, n, xs, ys, out, err);
    if (!rc)
        rc = fill(xs, ys, rx, ry, out, err);
    free(buf);
    if (rc) { /* keep only the counts: nothing NaN for a caller to print */
        size_t k = out->n, m = out->n_missing;
        memset(out, 0, sizeof *out);
        out->n = k;
        out->n_missing = m;
    }
    return rc;
}
