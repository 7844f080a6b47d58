/* plan: per-tensor damage proxies and a bits/weight budget solver.
 *
 * Proxies of the damage of replacing W (rows, cols) by Ŵ, Δ = W - Ŵ, on
 * calibration inputs X (n, cols) summarised by H = XᵀX (cols, cols):
 *   out_err2  = ‖Δ Xᵀ‖²_F = Σ_r δ_rᵀ H δ_r = trace(Δ H Δᵀ)
 *               (the squared layer-output error over every calibration
 *               token, absolute, not divided by n)
 *   imp_mse   = Σ_r Σ_c Δ_rc² imp_c with imp_c = H_cc / n = mean x_c²
 *               (the diagonal of H only: llama.cpp's importance-weighted
 *               quantization error, summed)
 *
 * The plan (multiple-choice knapsack): groups g = 0..G-1 (tensors), each
 * with choices k of cost c_gk (bits, >= 0) and damage d_gk; pick one
 * choice per group minimising Σ d under Σ c <= B.  Solved exactly over a
 * discretised budget.  With m_g = min_k c_gk (the cheapest plan costs
 * M = Σ m_g), the EXTRA costs e_gk = c_gk - m_g are rounded UP to whole
 * units u and the extra budget B - M DOWN: u_e = ceil(e / u),
 * U = floor((B - M) / u), then
 *   D[g][b] = min_k D[g-1][b - u_e(g,k)] + d_gk   (b = 0..U)
 * in O(U Σ_g K_g) time and U*G 16-bit choices.  Rounding up makes every
 * plan the DP returns feasible in real bits (and the cheapest plan always
 * fits); a plan of real cost <= B - G*u has rounded extra <= U, so the
 * DP's damage is at most the exact optimum at budget B - G*u (the
 * discretisation gap: the plan is as good as an exact solver given G*u
 * fewer bits; it may leave more bits unused when no better plan exists
 * between).  u <= 0 picks
 * u = max(1, (B - M) / PLAN_MAX_UNITS); u = 1 is exact for integer costs. */
#ifndef QLENS_PLAN_H
#define QLENS_PLAN_H

#include <stddef.h>

#include "analysis/qerr.h"

struct plan_choice {
    double cost;                 /* bits (>= 0, finite)                  */
    double damage;               /* predicted damage (finite)            */
};

struct plan_group {
    const struct plan_choice *c; /* (n)                                  */
    int n;                       /* >= 1                                 */
};

struct plan_result {
    double cost, damage;         /* Σ over the picked choices            */
    double unit;                 /* discretisation unit used (bits)      */
    double gap_bits;             /* G * unit: the gap bound above        */
    double min_cost, max_cost;   /* cheapest / richest plan's cost       */
};

/* Default when unit <= 0: budget / max_units, at least 1 bit. */
#define PLAN_MAX_UNITS 20000

/* Solve.  pick (n_groups) gets the choice index per group.  Errors
 * (QERR_ARG): no groups, a group without choices, a non-finite or
 * negative cost, a non-finite damage, budget below the cheapest plan
 * (message gives both).  A budget at or above the richest plan is not an
 * error here (every group may take any choice). */
int plan_solve(const struct plan_group *g, int n_groups, double budget, double unit,
               int *pick, struct plan_result *res, struct qerr *err);

/* Exhaustive reference (tests): every combination, real costs.  Returns 0
 * and fills pick/res (res->unit = 0), 1 when nothing fits, <0 on bad
 * input or more than max_combos combinations. */
int plan_brute(const struct plan_group *g, int n_groups, double budget, long max_combos,
               int *pick, struct plan_result *res, struct qerr *err);

/* trace(Δ H Δᵀ) (see above); plain double loops.  H (cols, cols) full
 * symmetric.  Returns 0, or QERR_ARG for NULL / bad shapes. */
int plan_out_err2(const float *w, const float *wq, int rows, int cols, const double *xtx,
                  double *out, struct qerr *err);
/* Σ Δ_rc² imp_c; imp (cols). */
double plan_imp_mse(const float *w, const float *wq, int rows, int cols, const double *imp);

#endif
