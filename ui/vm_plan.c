/* vm_plan: the Plan view's model (ui/vm_plan.h). */
#include "ui/vm_plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vm_plan_init(struct vm_plan *v)
{
    memset(v, 0, sizeof *v);
    v->budget = -1;
}

static void drop(struct vm_plan *v)
{
    if (v->have)
        sens_free(&v->s);
    free(v->ch);
    free(v->pick);
    free(v->uni);
    v->ch = NULL, v->pick = NULL, v->uni = NULL;
    v->have = v->solved = v->n_front = 0;
}

void vm_plan_free(struct vm_plan *v)
{
    drop(v);
    free(v->meas);
    memset(v, 0, sizeof *v);
}

const struct sens_cell *vm_plan_cell(const struct vm_plan *v, int ti, int ci)
{
    return &v->s.cell[(size_t)ti * v->s.n_c + ci];
}

/* Knapsack at `budget` bits/weight into pick; the predicted point. */
static int solve_at(const struct vm_plan *v, double bpw, int *pick, struct vm_plan_pt *pt,
                    struct qerr *err)
{
    int nt = v->s.n_t, nc = v->s.n_c;
    struct plan_group *g = calloc((size_t)nt, sizeof *g);
    if (!g)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    for (int i = 0; i < nt; i++)
        g[i] = (struct plan_group){v->ch + (size_t)i * nc, nc};
    struct plan_result r;
    double unit = v->unit;
    if (unit > 0 && (bpw - v->lo_bpw) * v->weights / unit > 4.0 * PLAN_MAX_UNITS)
        unit = 0; /* too fine for this budget: the solver's default */
    int rc = plan_solve(g, nt, bpw * v->weights, unit, pick, &r, err);
    free(g);
    if (rc)
        return rc;
    pt->bpw = r.cost / v->weights;
    pt->kl = 0;
    for (int i = 0; i < nt; i++)
        pt->kl += v->ch[(size_t)i * nc + pick[i]].damage;
    return 0;
}

static double gcd(double a, double b)
{
    while (b > 0.5) {
        double r = fmod(a, b);
        a = b, b = r;
    }
    return a;
}

/* The gcd of every cost's excess over its tensor's cheapest, when all are
 * whole numbers of bits (then a DP in that unit is exact); else 0. */
static double exact_unit(const struct vm_plan *v)
{
    int nt = v->s.n_t, nc = v->s.n_c;
    double u = 0;
    for (int i = 0; i < nt; i++) {
        double lo = INFINITY;
        for (int c = 0; c < nc; c++)
            lo = fmin(lo, v->ch[(size_t)i * nc + c].cost);
        for (int c = 0; c < nc; c++) {
            double e = v->ch[(size_t)i * nc + c].cost - lo, r = round(e);
            if (fabs(e - r) > 1e-6 * fmax(1, e))
                return 0;
            u = r > 0 ? gcd(fmax(u, r), fmin(u, r) > 0 ? fmin(u, r) : 0) : u;
        }
    }
    return u;
}

/* Costs, uniform points, the heat range and the predicted front. */
static void derive(struct vm_plan *v)
{
    int nt = v->s.n_t, nc = v->s.n_c;
    v->complete = 1;
    v->weights = v->lo_bpw = v->hi_bpw = 0;
    v->kl_lo = INFINITY, v->kl_hi = 0;
    memset(v->uni, 0, (size_t)nc * sizeof *v->uni);
    for (int i = 0; i < nt; i++) {
        double w = (double)v->s.t[i].rows * v->s.t[i].cols, lo = INFINITY, hi = 0;
        v->weights += w;
        for (int c = 0; c < nc; c++) {
            const struct sens_cell *cell = vm_plan_cell(v, i, c);
            struct plan_choice *ch = &v->ch[(size_t)i * nc + c];
            v->complete &= cell->done;
            ch->cost = cell->done ? cell->bits : 0;
            ch->damage = cell->done && isfinite(cell->kl_mean) ? cell->kl_mean : 0;
            lo = fmin(lo, ch->cost), hi = fmax(hi, ch->cost);
            v->uni[c].bpw += ch->cost, v->uni[c].kl += ch->damage;
            if (cell->done && cell->kl_mean > 0)
                v->kl_lo = fmin(v->kl_lo, cell->kl_mean), v->kl_hi = fmax(v->kl_hi, cell->kl_mean);
        }
        v->lo_bpw += lo, v->hi_bpw += hi;
    }
    if (v->weights > 0) {
        v->lo_bpw /= v->weights, v->hi_bpw /= v->weights;
        for (int c = 0; c < nc; c++)
            v->uni[c].bpw /= v->weights;
    }
    v->unit = v->complete ? exact_unit(v) : 0;
    v->n_front = 0;
    int *tmp = malloc((size_t)nt * sizeof *tmp);
    struct qerr err;
    for (int k = 0; tmp && v->complete && k < VM_PLAN_FRONT; k++) {
        double b = v->lo_bpw + (v->hi_bpw - v->lo_bpw) * k / (VM_PLAN_FRONT - 1);
        if (solve_at(v, k == VM_PLAN_FRONT - 1 ? v->hi_bpw * (1 + 1e-12) : b, tmp,
                     &v->front[v->n_front], &err) == 0)
            v->n_front++;
    }
    free(tmp);
}

int vm_plan_take(struct vm_plan *v, struct sens *s)
{
    double budget = v->budget;
    drop(v);
    v->s = *s;
    memset(s, 0, sizeof *s);
    v->have = 1;
    size_t n = (size_t)v->s.n_t * v->s.n_c;
    v->ch = calloc(n + 1, sizeof *v->ch);
    v->pick = calloc((size_t)v->s.n_t + 1, sizeof *v->pick);
    v->uni = calloc((size_t)v->s.n_c + 1, sizeof *v->uni);
    if (!v->ch || !v->pick || !v->uni)
        return -1;
    derive(v);
    v->budget = budget >= 0 ? budget : (v->lo_bpw + v->hi_bpw) / 2;
    if (v->row >= v->s.n_t)
        v->row = v->top = 0;
    if (v->col >= v->s.n_c)
        v->col = 0;
    v->meas_stale = 1;
    return vm_plan_solve(v);
}

int vm_plan_solve(struct vm_plan *v)
{
    v->solved = 0;
    if (!v->have)
        return 0;
    if (!v->complete) {
        snprintf(v->why, sizeof v->why, "the sensitivity is incomplete (cancelled): S measures "
                 "the missing cells");
        return 0;
    }
    if (v->budget < v->lo_bpw)
        v->budget = v->lo_bpw;
    if (v->budget > v->hi_bpw)
        v->budget = v->hi_bpw;
    struct qerr err = {0};
    int rc = solve_at(v, v->budget * (1 + 1e-12), v->pick, &v->plan, &err);
    if (rc < 0) {
        snprintf(v->why, sizeof v->why, "%s", err.msg);
        return rc == QERR_NOMEM ? -1 : 0;
    }
    v->solved = 1;
    return 0;
}

void vm_plan_step_budget(struct vm_plan *v, int steps)
{
    if (!v->have)
        return;
    /* from the grid of steps, so + then - returns to the same budget */
    double b = round(v->budget / VM_PLAN_STEP) * VM_PLAN_STEP + steps * VM_PLAN_STEP;
    if (b < v->lo_bpw && steps < 0)
        b = v->lo_bpw;
    if (b > v->hi_bpw && steps > 0)
        b = v->hi_bpw;
    v->budget = b;
    v->meas_stale = 1;
    vm_plan_solve(v);
}

void vm_plan_take_meas(struct vm_plan *v, struct jobs_plan_meas *m, int n)
{
    free(v->meas);
    v->meas = m;
    v->n_meas = n;
    v->meas_stale = 0;
}

int vm_plan_level(const struct vm_plan *v, double kl, int nlev)
{
    if (!(kl > 0) || !(v->kl_hi > v->kl_lo))
        return 0;
    double f = (log(kl) - log(v->kl_lo)) / (log(v->kl_hi) - log(v->kl_lo));
    int l = (int)lround(f * (nlev - 1));
    return l < 0 ? 0 : l >= nlev ? nlev - 1 : l;
}

struct vm_plan_pt vm_plan_cursor(const struct vm_plan *v)
{
    struct vm_plan_pt p = v->plan;
    if (!v->solved)
        return p;
    int nc = v->s.n_c, r = v->row;
    const struct plan_choice *was = &v->ch[(size_t)r * nc + v->pick[r]];
    const struct plan_choice *now = &v->ch[(size_t)r * nc + v->col];
    p.bpw += (now->cost - was->cost) / v->weights;
    p.kl += now->damage - was->damage;
    return p;
}

void vm_plan_move(struct vm_plan *v, int drow, int dcol, int page)
{
    if (!v->have)
        return;
    v->row += drow;
    v->col += dcol;
    if (v->row >= v->s.n_t)
        v->row = v->s.n_t - 1;
    if (v->row < 0)
        v->row = 0;
    if (v->col >= v->s.n_c)
        v->col = v->s.n_c - 1;
    if (v->col < 0)
        v->col = 0;
    if (page < 1)
        page = 1;
    if (v->row < v->top)
        v->top = v->row;
    if (v->row >= v->top + page)
        v->top = v->row - page + 1;
}
