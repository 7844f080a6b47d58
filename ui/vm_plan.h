/* vm_plan: the Plan view's model (no curses): the measured sensitivity
 * table (src/sens.h), the bit plan for the current budget (the exact
 * knapsack of analysis/plan.h over the measured single-tensor KL, an
 * additive model), the predicted Pareto front, the uniform candidates,
 * the cursor's configuration (the plan with the cursor's tensor moved to
 * the cursor's candidate) and the measured points of the last
 * apply-and-evaluate job. */
#ifndef QLENS_UI_VM_PLAN_H
#define QLENS_UI_VM_PLAN_H

#include "analysis/plan.h"
#include "src/sens.h"
#include "ui/jobs_plan.h"

#define VM_PLAN_FRONT 24          /* budgets on the predicted front        */
#define VM_PLAN_STEP 0.125        /* budget step of one key (bits/weight)  */

struct vm_plan_pt {
    double bpw, kl;               /* bits per quantized weight, KL (nats)  */
};

struct vm_plan {
    struct sens s;                /* owned when have                        */
    int have;
    int complete;                 /* every cell measured                    */
    double weights;               /* Σ rows*cols over the tensors           */
    double unit;                  /* knapsack unit: the gcd of the extra
                                     costs when they are whole bits and it
                                     keeps the table small (then the plan
                                     is exact), else 0 (plan_solve's)     */
    struct plan_choice *ch;       /* (n_t, n_c): cost bits, damage KL       */
    double lo_bpw, hi_bpw;        /* the cheapest / richest plan            */
    double budget;                /* bits per weight asked for              */
    int *pick;                    /* (n_t) the plan, valid when solved      */
    int solved;
    char why[800];                /* why not solved                         */
    struct vm_plan_pt plan;       /* predicted: Σ KL of the picks           */
    struct vm_plan_pt *uni;       /* (n_c) predicted uniform points         */
    struct vm_plan_pt front[VM_PLAN_FRONT];
    int n_front;
    double kl_lo, kl_hi;          /* positive KL range of the cells (heat)  */
    int row, col, top;            /* cursor: tensor, candidate; first row   */
    struct jobs_plan_meas *meas;  /* (n_meas) measured, owned              */
    int n_meas;
    int meas_stale;               /* the plan changed since it was measured */
};

void vm_plan_init(struct vm_plan *v);
void vm_plan_free(struct vm_plan *v);
/* Take a sensitivity result (s is emptied); solves at the current budget
 * (first time: halfway between the cheapest and the richest plan).  <0 on
 * out of memory. */
int vm_plan_take(struct vm_plan *v, struct sens *s);
/* Solve at v->budget (clamped to [lo, hi]); fills pick/plan or why. */
int vm_plan_solve(struct vm_plan *v);
/* Change the budget by steps of VM_PLAN_STEP and solve again. */
void vm_plan_step_budget(struct vm_plan *v, int steps);
/* Take measured points (m is owned from here). */
void vm_plan_take_meas(struct vm_plan *v, struct jobs_plan_meas *m, int n);
/* Heat level 0..nlev-1 of a KL value (log scale over kl_lo..kl_hi). */
int vm_plan_level(const struct vm_plan *v, double kl, int nlev);
/* The cursor's configuration: the plan with tensor row on candidate col. */
struct vm_plan_pt vm_plan_cursor(const struct vm_plan *v);
/* Move the cursor (rows shown: page). */
void vm_plan_move(struct vm_plan *v, int drow, int dcol, int page);
/* The cell (tensor, candidate). */
const struct sens_cell *vm_plan_cell(const struct vm_plan *v, int ti, int ci);

#endif
