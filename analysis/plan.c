/* plan: damage proxies and the multiple-choice knapsack (analysis/plan.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/plan.h"

static int check_groups(const struct plan_group *g, int n_groups, struct plan_result *res,
                        struct qerr *err)
{
    if (!g || n_groups < 1)
        return qerr_set(err, QERR_ARG, "plan: no tensors to plan");
    res->min_cost = res->max_cost = 0;
    for (int i = 0; i < n_groups; i++) {
        if (!g[i].c || g[i].n < 1 || g[i].n > INT16_MAX)
            return qerr_set(err, QERR_ARG, "plan: tensor %d has %d candidates", i, g[i].n);
        double lo = INFINITY, hi = -INFINITY;
        for (int k = 0; k < g[i].n; k++) {
            double c = g[i].c[k].cost, d = g[i].c[k].damage;
            if (!isfinite(c) || c < 0 || !isfinite(d))
                return qerr_set(err, QERR_ARG, "plan: tensor %d candidate %d: cost %g, damage "
                                "%g (want finite, cost >= 0)", i, k, c, d);
            lo = c < lo ? c : lo;
            hi = c > hi ? c : hi;
        }
        res->min_cost += lo;
        res->max_cost += hi;
    }
    return 0;
}

/* The DP over U units of EXTRA cost (cost above the group's cheapest
 * choice, base[g]); choice 0-extra always fits, so a plan always exists. */
static int dp_solve(const struct plan_group *g, int n_groups, const double *base, long U,
                    double unit, int *pick, struct qerr *err)
{
    size_t w = (size_t)U + 1;
    double *prev = malloc(w * sizeof *prev), *cur = malloc(w * sizeof *cur);
    int16_t *ch = malloc((size_t)n_groups * w * sizeof *ch); /* (G, U+1) choice */
    if (!prev || !cur || !ch) {
        free(prev), free(cur), free(ch);
        return qerr_set(err, QERR_NOMEM, "plan: out of memory (%ld budget units)", U);
    }
    for (size_t b = 0; b < w; b++)
        prev[b] = 0; /* no group yet: damage 0 within any budget */
    for (int i = 0; i < n_groups; i++) {
        int16_t *ci = ch + (size_t)i * w;
        for (size_t b = 0; b < w; b++) {
            cur[b] = INFINITY;
            ci[b] = -1;
        }
        for (int k = 0; k < g[i].n; k++) {
            double uc = ceil((g[i].c[k].cost - base[i]) / unit);
            if (uc > (double)U)
                continue;
            for (size_t b = (size_t)uc; b < w; b++) {
                double v = prev[b - (size_t)uc] + g[i].c[k].damage;
                if (v < cur[b]) {
                    cur[b] = v;
                    ci[b] = (int16_t)k;
                }
            }
        }
        double *t = prev;
        prev = cur;
        cur = t;
    }
    for (long i = n_groups - 1, b = U; i >= 0; i--) {
        int k = ch[(size_t)i * w + (size_t)b];
        pick[i] = k;
        b -= (long)ceil((g[i].c[k].cost - base[i]) / unit);
    }
    free(prev), free(cur), free(ch);
    return 0;
}

static void totals(const struct plan_group *g, int n_groups, const int *pick,
                   struct plan_result *res)
{
    res->cost = res->damage = 0;
    for (int i = 0; i < n_groups; i++) {
        res->cost += g[i].c[pick[i]].cost;
        res->damage += g[i].c[pick[i]].damage;
    }
}

int plan_solve(const struct plan_group *g, int n_groups, double budget, double unit,
               int *pick, struct plan_result *res, struct qerr *err)
{
    memset(res, 0, sizeof *res);
    int rc = check_groups(g, n_groups, res, err);
    if (rc)
        return rc;
    if (!isfinite(budget) || budget < res->min_cost)
        return qerr_set(err, QERR_ARG, "plan: budget %.0f bits is below the cheapest plan "
                        "(%.0f bits)", budget, res->min_cost);
    double *base = malloc((size_t)n_groups * sizeof *base);
    if (!base)
        return qerr_set(err, QERR_NOMEM, "plan: out of memory");
    for (int i = 0; i < n_groups; i++) {
        base[i] = g[i].c[0].cost;
        for (int k = 1; k < g[i].n; k++)
            base[i] = fmin(base[i], g[i].c[k].cost);
    }
    double extra = budget - res->min_cost;
    if (unit <= 0)
        unit = fmax(1.0, extra / PLAN_MAX_UNITS);
    rc = dp_solve(g, n_groups, base, (long)floor(extra / unit), unit, pick, err);
    free(base);
    if (rc)
        return rc;
    res->unit = unit;
    res->gap_bits = n_groups * unit;
    totals(g, n_groups, pick, res);
    return 0;
}

int plan_brute(const struct plan_group *g, int n_groups, double budget, long max_combos,
               int *pick, struct plan_result *res, struct qerr *err)
{
    memset(res, 0, sizeof *res);
    int rc = check_groups(g, n_groups, res, err);
    if (rc)
        return rc;
    double combos = 1;
    for (int i = 0; i < n_groups; i++)
        combos *= g[i].n;
    if (combos > (double)max_combos)
        return qerr_set(err, QERR_ARG, "plan_brute: %.0f combinations", combos);
    int *cur = calloc((size_t)n_groups, sizeof *cur);
    if (!cur)
        return qerr_set(err, QERR_NOMEM, "plan_brute: out of memory");
    double best = INFINITY;
    for (;;) {
        double c = 0, d = 0;
        for (int i = 0; i < n_groups; i++) {
            c += g[i].c[cur[i]].cost;
            d += g[i].c[cur[i]].damage;
        }
        if (c <= budget && d < best) {
            best = d;
            memcpy(pick, cur, (size_t)n_groups * sizeof *cur);
        }
        int i = 0; /* odometer */
        while (i < n_groups && ++cur[i] == g[i].n)
            cur[i++] = 0;
        if (i == n_groups)
            break;
    }
    free(cur);
    if (!isfinite(best))
        return 1;
    totals(g, n_groups, pick, res);
    return 0;
}

int plan_out_err2(const float *w, const float *wq, int rows, int cols, const double *xtx,
                  double *out, struct qerr *err)
{
    if (!w || !wq || !xtx || !out || rows < 1 || cols < 1)
        return qerr_set(err, QERR_ARG, "plan_out_err2: empty input");
    double *d = malloc((size_t)cols * sizeof *d);
    if (!d)
        return qerr_set(err, QERR_NOMEM, "plan_out_err2: out of memory");
    double s = 0;
    for (int r = 0; r < rows; r++) {
        const float *a = w + (size_t)r * cols, *b = wq + (size_t)r * cols;
        for (int c = 0; c < cols; c++)
            d[c] = (double)a[c] - (double)b[c];
        for (int i = 0; i < cols; i++) { /* δᵀHδ, H symmetric */
            if (d[i] == 0)
                continue;
            const double *h = xtx + (size_t)i * cols;
            double t = 0;
            for (int j = 0; j < cols; j++)
                t += h[j] * d[j];
            s += d[i] * t;
        }
    }
    free(d);
    *out = s;
    return 0;
}

double plan_imp_mse(const float *w, const float *wq, int rows, int cols, const double *imp)
{
    double s = 0;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            double d = (double)w[(size_t)r * cols + c] - (double)wq[(size_t)r * cols + c];
            s += d * d * imp[c];
        }
    return s;
}
